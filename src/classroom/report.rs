//! The grades as CSV and as a summary per student.

use std::collections::BTreeMap;

use super::grade::GradeRow;

/// The grades as CSV.
pub fn to_csv(rows: &[GradeRow]) -> String {
    let mut s = String::from("student,exercise,passed,total,points,max_points,error\n");
    for r in rows {
        s.push_str(&format!(
            "{},{},{},{},{},{},{}\n",
            csv_field(&r.student),
            csv_field(&r.exercise),
            r.passed,
            r.total,
            r.points,
            r.max_points,
            csv_field(&r.error)
        ));
    }
    s
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\"").replace(['\n', '\r'], " "))
    } else {
        s.to_string()
    }
}

/// Total points per student, for the terminal.
pub fn summary(rows: &[GradeRow]) -> String {
    let mut per: BTreeMap<&str, (f64, f64, usize)> = BTreeMap::new();
    for r in rows {
        let e = per.entry(&r.student).or_default();
        e.0 += r.points;
        e.1 += r.max_points;
        e.2 += usize::from(r.passed == r.total && r.total > 0);
    }
    let n = rows
        .iter()
        .map(|r| &r.exercise)
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    let mut s = format!(
        "{:<24} {:>8} {:>8}  exercises complete\n",
        "student", "points", "of"
    );
    for (student, (p, max, full)) in per {
        s.push_str(&format!("{student:<24} {p:>8.2} {max:>8.2}  {full}/{n}\n"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_what_needs_quoting() {
        let r = GradeRow {
            student: "ann".into(),
            exercise: "1.1".into(),
            passed: 1,
            total: 2,
            points: 2.5,
            max_points: 5.0,
            error: "a, \"b\"\nc".into(),
        };
        assert_eq!(
            to_csv(&[r]),
            "student,exercise,passed,total,points,max_points,error\nann,1.1,1,2,2.5,5,\"a, \"\"b\"\" c\"\n"
        );
    }
}
