//! The committed measurement of grading a class (instructor-only): `classroom/scale-report.json`,
//! written by `python3 classroom/class_of_30.py`. The test does not time anything; it checks that
//! the report is whole and that the grades in it are right: every student has a row, full marks
//! only on exercises the student solved, and the student who solved everything has full marks on
//! everything.

use std::collections::BTreeSet;
use std::path::PathBuf;

use rnnbook::classroom::read_config;

#[test]
fn the_class_measurement_is_whole_and_its_grades_are_right() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let path = root.join("classroom/scale-report.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run python3 classroom/class_of_30.py)",
            path.display()
        )
    });
    let r: serde_json::Value = serde_json::from_str(&text).unwrap();
    let config = read_config(&root).unwrap();
    let all: BTreeSet<&str> = config.exercises.iter().map(|e| e.id.as_str()).collect();
    let n = r["submissions"].as_u64().unwrap();
    assert!(n >= 30, "a class of {n}");
    let seconds = r["seconds"].as_f64().unwrap();
    let each = r["seconds_per_submission"].as_f64().unwrap();
    assert!(
        (seconds / n as f64 - each).abs() < 0.06,
        "{seconds} s / {n} != {each} s"
    );
    assert!(r["jobs"].as_u64().unwrap() >= 1);
    for key in ["cpu", "cpus", "kernel"] {
        assert!(
            !r["machine"][key].is_null(),
            "the report names no machine {key}"
        );
    }
    let students = r["students"].as_object().unwrap();
    assert_eq!(students.len() as u64, n);
    let mut partial = 0;
    for (name, s) in students {
        let solved: BTreeSet<&str> = s["solved"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        let full: BTreeSet<&str> = s["full_marks_on"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert!(
            full.is_subset(&solved),
            "{name}: full marks on an unsolved exercise"
        );
        assert!(solved.is_subset(&all), "{name}: unknown exercise");
        if solved == all {
            assert_eq!(full, all, "{name} solved everything");
        } else {
            partial += 1;
        }
    }
    assert!(
        partial > 0,
        "every student solved everything: nothing told apart"
    );
    assert!(
        partial < students.len(),
        "no student solved all {} exercises (rerun python3 classroom/class_of_30.py)",
        all.len()
    );
}
