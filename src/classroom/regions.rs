//! Solution regions: the lines between `// BEGIN SOLUTION ex N.M: hint` and `// END SOLUTION`.
//!
//! A hint too long for one line (listings are at most 85 characters wide) goes on in the comment
//! lines right after the marker that start `//` and two or more spaces:
//!
//! ```text
//! // BEGIN SOLUTION ex 2.2: walk back one step at a time,
//! //   keeping the gradient at every state
//! ```

use std::collections::BTreeMap;

use anyhow::{Context, Result, bail, ensure};

/// The line that opens a region.
pub const BEGIN: &str = "// BEGIN SOLUTION";
/// The line that closes a region.
pub const END: &str = "// END SOLUTION";
/// The id of regions that are not exercises.
pub const SOLUTION_ONLY: &str = "solution-only";

/// One solution region of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Region {
    /// `4.1`, or [`SOLUTION_ONLY`].
    pub id: String,
    /// The hint after the colon, with its continuation lines joined by spaces.
    pub hint: String,
    /// 0-based line of the `BEGIN` marker.
    pub begin: usize,
    /// 0-based line of the first line of the body: after the marker and the hint's
    /// continuation lines.
    pub body: usize,
    /// 0-based line of the `END` marker.
    pub end: usize,
    /// The marker's indentation.
    pub indent: String,
}

/// Finds the regions of `text`; `what` names the file in errors.
pub fn parse_regions(text: &str, what: &str) -> Result<Vec<Region>> {
    let mut out = Vec::new();
    let mut open: Option<Region> = None;
    for (n, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if let Some(rest) = trimmed.strip_prefix(BEGIN) {
            ensure!(
                open.is_none(),
                "{what}:{}: a solution region opens inside another",
                n + 1
            );
            let (id, hint) = parse_header(rest)
                .with_context(|| format!("{what}:{}: `{}`", n + 1, line.trim()))?;
            open = Some(Region {
                id,
                hint,
                begin: n,
                body: n + 1,
                end: n,
                indent: line[..line.len() - trimmed.len()].to_string(),
            });
        } else if let Some(more) = open
            .as_ref()
            .filter(|r| r.body == n)
            .and_then(|_| hint_continuation(trimmed))
        {
            let r = open.as_mut().expect("open");
            ensure!(
                !more.contains(['{', '}', '"', '\\']),
                "{what}:{}: the hint may not contain braces, quotes or backslashes",
                n + 1
            );
            r.hint = format!("{} {more}", r.hint);
            r.body = n + 1;
        } else if trimmed.starts_with(END) {
            let Some(mut r) = open.take() else {
                bail!("{what}:{}: `{END}` without a region open", n + 1);
            };
            r.end = n;
            out.push(r);
        }
    }
    if let Some(r) = open {
        bail!("{what}:{}: region ex {} is never closed", r.begin + 1, r.id);
    }
    Ok(out)
}

/// `//   more` (a comment with two or more spaces after the slashes) → `more`.
pub fn hint_continuation(trimmed: &str) -> Option<&str> {
    let rest = trimmed.strip_prefix("//  ")?;
    let more = rest.trim();
    (!more.is_empty() && !rest.starts_with('/')).then_some(more)
}

/// ` ex 4.1: hint` → `("4.1", "hint")`; ` solution-only: why` → `("solution-only", "why")`.
fn parse_header(rest: &str) -> Result<(String, String)> {
    let rest = rest.trim();
    let (head, hint) = rest
        .split_once(':')
        .context("expected `ex N.M: hint` or `solution-only: reason` after the marker")?;
    let id = match head.trim().strip_prefix("ex ") {
        Some(id) => {
            let id = id.trim();
            let ok = id.split('.').count() == 2
                && id
                    .split('.')
                    .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()));
            ensure!(ok, "exercise id `{id}` is not of the form N.M");
            id.to_string()
        }
        None if head.trim() == SOLUTION_ONLY => SOLUTION_ONLY.to_string(),
        None => bail!("expected `ex N.M` or `{SOLUTION_ONLY}` before the colon"),
    };
    let hint = hint.trim().to_string();
    ensure!(!hint.is_empty(), "the hint is empty");
    ensure!(
        !hint.contains(['{', '}', '"', '\\']),
        "the hint may not contain braces, quotes or backslashes"
    );
    Ok((id, hint))
}

/// The student's version of `text`: every region's body replaced by a `todo!` with its hint.
pub fn strip_solutions(text: &str, what: &str) -> Result<String> {
    let regions = parse_regions(text, what)?;
    let lines: Vec<&str> = text.lines().collect();
    let mut out: Vec<String> = Vec::with_capacity(lines.len());
    let mut next = 0;
    for r in &regions {
        out.extend(lines[next..r.body].iter().map(|l| l.to_string()));
        let label = if r.id == SOLUTION_ONLY {
            format!("{}: {}", SOLUTION_ONLY, r.hint)
        } else {
            format!("ex {}: {}", r.id, r.hint)
        };
        out.push(format!("{}todo!(\"{label}\")", r.indent));
        next = r.end;
    }
    out.extend(lines[next..].iter().map(|l| l.to_string()));
    let mut s = out.join("\n");
    if text.ends_with('\n') {
        s.push('\n');
    }
    Ok(s)
}

/// `text` with only exercise `id`'s region stripped (for mapping tests to exercises).
pub fn strip_one(text: &str, what: &str, id: &str) -> Result<String> {
    let bodies: BTreeMap<String, Vec<String>> = region_bodies(text, what)?
        .into_iter()
        .filter(|(k, _)| k != id)
        .collect();
    Ok(splice(text, what, &bodies)?.0.replace(
        &format!("ex {id}: this region is missing from the submission"),
        &format!("ex {id}: stripped"),
    ))
}

/// The insides (lines strictly between the markers) of every exercise region, by id.
pub fn region_bodies(text: &str, what: &str) -> Result<BTreeMap<String, Vec<String>>> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = BTreeMap::new();
    for r in parse_regions(text, what)? {
        if r.id != SOLUTION_ONLY {
            let body = lines[r.body..r.end].iter().map(|l| l.to_string()).collect();
            ensure!(
                out.insert(r.id.clone(), body).is_none(),
                "{what}: two regions for ex {}",
                r.id
            );
        }
    }
    Ok(out)
}

/// `instructor` with the body of each exercise region replaced by `student[id]`, or by a
/// `todo!` naming the problem where the submission lacks that region.
pub fn splice(
    instructor: &str,
    what: &str,
    student: &BTreeMap<String, Vec<String>>,
) -> Result<(String, Vec<String>)> {
    let regions = parse_regions(instructor, what)?;
    let lines: Vec<&str> = instructor.lines().collect();
    let mut out: Vec<String> = Vec::with_capacity(lines.len());
    let mut missing = Vec::new();
    let mut next = 0;
    for r in &regions {
        out.extend(lines[next..r.body].iter().map(|l| l.to_string()));
        if r.id == SOLUTION_ONLY {
            out.extend(lines[r.body..r.end].iter().map(|l| l.to_string()));
        } else if let Some(body) = student.get(&r.id) {
            out.extend(body.iter().cloned());
        } else {
            missing.push(r.id.clone());
            out.push(format!(
                "{}todo!(\"ex {}: this region is missing from the submission\")",
                r.indent, r.id
            ));
        }
        next = r.end;
    }
    out.extend(lines[next..].iter().map(|l| l.to_string()));
    let mut s = out.join("\n");
    if instructor.ends_with('\n') {
        s.push('\n');
    }
    Ok((s, missing))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "fn a() -> u32 {\n    // BEGIN SOLUTION ex 1.2: add one\n    let x = 1;\n    x + 1\n    // END SOLUTION\n}\n";

    #[test]
    fn a_region_becomes_a_todo_with_its_hint_between_the_kept_markers() {
        let s = strip_solutions(SAMPLE, "a.rs").unwrap();
        assert_eq!(
            s,
            "fn a() -> u32 {\n    // BEGIN SOLUTION ex 1.2: add one\n    todo!(\"ex 1.2: add one\")\n    // END SOLUTION\n}\n"
        );
        assert!(!s.contains("x + 1"));
    }

    #[test]
    fn a_long_hint_goes_on_in_indented_comment_lines_that_stay_above_the_body() {
        let text = "fn a() -> u32 {\n    // BEGIN SOLUTION ex 1.2: add one\n    //   to one\n    \
                    //   again\n    // a comment of the solution\n    1 + 1\n    // END SOLUTION\n}\n";
        let r = &parse_regions(text, "a.rs").unwrap()[0];
        assert_eq!(r.hint, "add one to one again");
        assert_eq!((r.begin, r.body, r.end), (1, 4, 6));
        let s = strip_solutions(text, "a.rs").unwrap();
        assert!(s.contains("//   again\n    todo!(\"ex 1.2: add one to one again\")\n"));
        assert!(!s.contains("a comment of the solution"));
        let bodies = region_bodies(text, "a.rs").unwrap();
        assert_eq!(
            bodies["1.2"],
            ["    // a comment of the solution", "    1 + 1"]
        );
        // Only right after the marker: a later indented comment is the body's.
        let later = text
            .replace("    //   to one\n    //   again\n", "")
            .replace("solution\n", "solution\n    //   indented\n");
        let r = &parse_regions(&later, "a.rs").unwrap()[0];
        assert_eq!((r.hint.as_str(), r.body), ("add one", 2));
        let quoted = text.replace("again", "\"again\"");
        let err = format!("{:#}", parse_regions(&quoted, "a.rs").unwrap_err());
        assert!(err.contains("a.rs:4") && err.contains("quotes"), "{err}");
    }

    #[test]
    fn splicing_takes_only_the_students_region_bodies() {
        let student = SAMPLE
            .replace("x + 1", "x + 2")
            .replace("fn a()", "fn hacked()");
        let bodies = region_bodies(&student, "a.rs").unwrap();
        let (s, missing) = splice(SAMPLE, "a.rs", &bodies).unwrap();
        assert!(missing.is_empty());
        assert!(s.contains("x + 2") && s.contains("fn a()") && !s.contains("hacked"));
        let (s, missing) = splice(SAMPLE, "a.rs", &BTreeMap::new()).unwrap();
        assert_eq!(missing, ["1.2"]);
        assert!(s.contains("missing from the submission"));
    }

    #[test]
    fn malformed_regions_are_named_with_file_and_line() {
        for (text, needle) in [
            (
                "// BEGIN SOLUTION ex 1.2: a\n// BEGIN SOLUTION ex 1.3: b\n",
                "a.rs:2",
            ),
            ("// END SOLUTION\n", "a.rs:1"),
            ("// BEGIN SOLUTION ex 1.2: a\n", "never closed"),
            ("// BEGIN SOLUTION ex one: a\n// END SOLUTION\n", "N.M"),
            (
                "// BEGIN SOLUTION ex 1.2: a {x}\n// END SOLUTION\n",
                "braces",
            ),
            ("// BEGIN SOLUTION\n// END SOLUTION\n", "a.rs:1"),
        ] {
            let err = format!("{:#}", parse_regions(text, "a.rs").unwrap_err());
            assert!(err.contains(needle), "{text:?}: {err}");
        }
    }
}
