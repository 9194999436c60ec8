//! The classroom edition: solution regions, `rnnbook student-edition` and `rnnbook grade`.
//!
//! A solution region is a run of lines in a chapter's Rust source:
//!
//! ```text
//! // BEGIN SOLUTION ex 4.1: one short hint, no braces
//! …the instructor's code…
//! // END SOLUTION
//! ```
//!
//! The student edition keeps the two marker lines and puts `todo!("ex 4.1: <hint>")` between
//! them. A region whose id is `solution-only` is not an exercise: it hides code that would give
//! an exercise away, and the grader always uses the instructor's version of it.
//!
//! Grading never trusts anything of a submission but the insides of its regions: each submission
//! is graded in a fresh copy of the instructor's tree (with the instructor-only tests), into which
//! the submission's region bodies are spliced. Deleted or edited tests therefore change nothing.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result, bail, ensure};
use serde::{Deserialize, Serialize};

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
    /// The hint after the colon.
    pub hint: String,
    /// 0-based line of the `BEGIN` marker.
    pub begin: usize,
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
                end: n,
                indent: line[..line.len() - trimmed.len()].to_string(),
            });
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
        out.extend(lines[next..=r.begin].iter().map(|l| l.to_string()));
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
            let body = lines[r.begin + 1..r.end]
                .iter()
                .map(|l| l.to_string())
                .collect();
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
        out.extend(lines[next..=r.begin].iter().map(|l| l.to_string()));
        if r.id == SOLUTION_ONLY {
            out.extend(lines[r.begin + 1..r.end].iter().map(|l| l.to_string()));
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

/// `classroom/exercises.toml`: what is graded, and the paths the student edition leaves out.
#[derive(Debug, Clone, Deserialize)]
pub struct ClassroomConfig {
    /// Paths (files or folders, relative to the repository) the student edition leaves out.
    pub instructor_only: Vec<String>,
    /// The exercises.
    #[serde(rename = "exercise")]
    pub exercises: Vec<Exercise>,
}

/// One graded exercise.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Exercise {
    /// `4.1`.
    pub id: String,
    /// The package whose tests grade it, e.g. `ch04-lstm`.
    pub package: String,
    /// The file that holds its region, relative to the repository.
    pub file: String,
    /// Points for passing every test.
    pub points: f64,
    /// Test names (as `cargo test -p PACKAGE -- --exact NAME` runs them), visible and
    /// instructor-only.
    pub tests: Vec<String>,
}

/// The configuration file, relative to the repository.
pub const CONFIG: &str = "classroom/exercises.toml";

/// Reads and checks the classroom configuration of the tree at `root`.
pub fn read_config(root: &Path) -> Result<ClassroomConfig> {
    let path = root.join(CONFIG);
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("reading the classroom configuration {}", path.display()))?;
    let c: ClassroomConfig = toml::from_str(&text)
        .with_context(|| format!("the classroom configuration {}", path.display()))?;
    let mut ids: Vec<&str> = c.exercises.iter().map(|e| e.id.as_str()).collect();
    ids.sort();
    let n = ids.len();
    ids.dedup();
    ensure!(
        ids.len() == n,
        "{}: an exercise id appears twice",
        path.display()
    );
    for e in &c.exercises {
        ensure!(
            e.points >= 0.0 && e.points.is_finite(),
            "{}: ex {} has points {}",
            path.display(),
            e.id,
            e.points
        );
        ensure!(
            !e.tests.is_empty(),
            "{}: ex {} lists no tests",
            path.display(),
            e.id
        );
        let file = root.join(&e.file);
        let text = std::fs::read_to_string(&file)
            .with_context(|| format!("{}: ex {} names {}", path.display(), e.id, e.file))?;
        ensure!(
            region_bodies(&text, &e.file)?.contains_key(&e.id),
            "{}: ex {} has no region in {}",
            path.display(),
            e.id,
            e.file
        );
    }
    Ok(c)
}

/// Whether `rel` (a path relative to the repository, `/`-separated) is left out of both
/// editions' copies: build output, version control, CI.
fn always_skipped(rel: &str) -> bool {
    let first = rel.split('/').next().unwrap_or("");
    matches!(first, "target" | ".git")
        || rel == "book/build"
        || rel.starts_with("book/build/")
        || rel.starts_with("book/.build-staging")
        || rel.ends_with(".tmp")
}

fn is_under(rel: &str, prefix: &str) -> bool {
    let prefix = prefix.trim_end_matches('/');
    rel == prefix || rel.starts_with(&format!("{prefix}/"))
}

/// Every file of the tree at `root` that a copy takes, as relative `/`-separated paths, sorted.
pub fn tree_files(root: &Path, leave_out: &[String]) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut it = walkdir::WalkDir::new(root).sort_by_file_name().into_iter();
    while let Some(entry) = it.next() {
        let entry = entry.with_context(|| format!("walking {}", root.display()))?;
        let rel = entry
            .path()
            .strip_prefix(root)
            .expect("under root")
            .to_string_lossy()
            .replace('\\', "/");
        if rel.is_empty() {
            continue;
        }
        if always_skipped(&rel) || leave_out.iter().any(|p| is_under(&rel, p)) {
            if entry.file_type().is_dir() {
                it.skip_current_dir();
            }
            continue;
        }
        if entry.file_type().is_file() {
            out.push(rel);
        }
    }
    Ok(out)
}

/// Copies `files` from `from` to `to`, passing each `.rs` file's text through `edit`.
fn copy_tree(
    from: &Path,
    to: &Path,
    files: &[String],
    mut edit: impl FnMut(&str, String) -> Result<String>,
) -> Result<()> {
    for rel in files {
        let src = from.join(rel);
        let dst = to.join(rel);
        if let Some(parent) = dst.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        if rel.ends_with(".rs") {
            let text = std::fs::read_to_string(&src)
                .with_context(|| format!("reading {}", src.display()))?;
            std::fs::write(&dst, edit(rel, text)?)
                .with_context(|| format!("writing {}", dst.display()))?;
        } else {
            std::fs::copy(&src, &dst)
                .with_context(|| format!("copying {} to {}", src.display(), dst.display()))?;
        }
    }
    Ok(())
}

/// The marker file that tells a tree it is a student edition.
pub const STUDENT_MARKER: &str = "STUDENT_EDITION.md";

/// Whether the tree at `root` is a student edition.
pub fn is_student_edition(root: &Path) -> bool {
    root.join(STUDENT_MARKER).exists()
}

/// What `student-edition` did.
#[derive(Debug)]
pub struct EditionReport {
    /// Files written.
    pub files: usize,
    /// Exercise regions replaced by `todo!`.
    pub exercises: usize,
    /// Solution-only regions replaced.
    pub solution_only: usize,
}

/// Writes the student edition of the tree at `root` into `out`, which must be empty or absent
/// (or is emptied first when `force`). The crates' `lib.rs` files get `#![allow(unused)]`, so
/// that the bindings a `todo!` leaves unused do not warn.
pub fn student_edition(
    root: &Path,
    out: &Path,
    force: bool,
    only: Option<&str>,
) -> Result<EditionReport> {
    let config = read_config(root)?;
    if let Some(id) = only {
        ensure!(
            config.exercises.iter().any(|e| e.id == id),
            "--only {id}: no such exercise in {CONFIG}"
        );
    }
    if out.exists() {
        let non_empty = std::fs::read_dir(out)
            .with_context(|| format!("reading {}", out.display()))?
            .next()
            .is_some();
        if non_empty {
            ensure!(
                force,
                "{} is not empty; pass --force to replace its contents",
                out.display()
            );
            ensure!(
                out.join(STUDENT_MARKER).exists() || out.join("Cargo.toml").exists(),
                "{} is not empty and does not look like a student edition; refusing to delete it",
                out.display()
            );
            std::fs::remove_dir_all(out).with_context(|| format!("emptying {}", out.display()))?;
        }
    }
    // `--only`: a copy with every test, where only that exercise is a `todo!`.
    let leave_out = if only.is_some() {
        Vec::new()
    } else {
        config.instructor_only.clone()
    };
    let files = tree_files(root, &leave_out)?;
    let (mut exercises, mut solution_only) = (0, 0);
    // Build in a sibling staging folder, then rename: no half-written edition.
    let parent = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    let staging = tempfile::Builder::new()
        .prefix(".student-edition-")
        .tempdir_in(parent)
        .with_context(|| format!("creating a staging folder in {}", parent.display()))?;
    copy_tree(root, staging.path(), &files, |rel, text| {
        let regions = parse_regions(&text, rel)?;
        for r in &regions {
            match only {
                Some(id) if r.id != id => {}
                _ if r.id == SOLUTION_ONLY => solution_only += 1,
                _ => exercises += 1,
            }
        }
        let mut s = match only {
            None => strip_solutions(&text, rel)?,
            Some(id) => strip_one(&text, rel, id)?,
        };
        if rel.ends_with("src/lib.rs") && rel.starts_with("chapters/") {
            s = format!(
                "// Student edition: bindings that a `todo!()` leaves unused must not warn.\n#![allow(unused, unreachable_code)]\n{s}"
            );
        }
        Ok(s)
    })?;
    std::fs::write(staging.path().join(STUDENT_MARKER), STUDENT_README)
        .context("writing the student edition's marker file")?;
    let staged = staging.keep();
    if out.exists() {
        std::fs::remove_dir(out).with_context(|| format!("replacing {}", out.display()))?;
    }
    std::fs::rename(&staged, out)
        .with_context(|| format!("moving the student edition to {}", out.display()))?;
    Ok(EditionReport {
        files: files.len() + 1,
        exercises,
        solution_only,
    })
}

const STUDENT_README: &str = "# Student edition\n\n\
This is the student edition of *Recurrent Networks from Scratch, in Rust*. Each exercise is a\n\
`todo!(\"ex N.M: hint\")` between the lines `// BEGIN SOLUTION ex N.M` and `// END SOLUTION`.\n\
Write your solution between those two lines and nowhere else: grading takes only what is between\n\
them (a `use` line or a helper `fn` may go inside the region too). Keep the two marker lines.\n\n\
- `cargo test -p ch04-lstm` runs a chapter's visible tests; an exercise's tests fail with its\n\
  `todo!` message until you solve it. The chapter pages list each exercise's tests.\n\
- `cargo run --release` builds the book into `book/build/`. Figures that need an exercise you\n\
  have not solved yet keep the copy shipped with this edition.\n";

/// The tests, in `cargo test` order, that a run's output reports, with their outcome.
pub fn parse_test_output(stdout: &str) -> BTreeMap<String, bool> {
    let mut out = BTreeMap::new();
    for line in stdout.lines() {
        let Some(rest) = line.strip_prefix("test ") else {
            continue;
        };
        if let Some((name, outcome)) = rest.rsplit_once(" ... ") {
            let name = name.strip_suffix(" - should panic").unwrap_or(name);
            match outcome.trim() {
                "ok" => {
                    out.insert(name.to_string(), true);
                }
                o if o.starts_with("FAILED") => {
                    out.insert(name.to_string(), false);
                }
                _ => {}
            }
        }
    }
    out
}

/// The first line of the first panic message in a test run's output, if any.
pub fn first_panic(stdout: &str) -> Option<String> {
    let mut lines = stdout.lines();
    while let Some(l) = lines.next() {
        if l.contains("panicked at") {
            let msg = lines.next().unwrap_or("").trim();
            return Some(msg.chars().take(200).collect());
        }
    }
    None
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

    #[test]
    fn test_output_is_read_line_by_line() {
        let out = "running 4 tests\ntest a::b ... ok\ntest c ... FAILED\ntest d ... ignored\ntest e - should panic ... FAILED\n\nfailures:\n\n---- c stdout ----\n\nthread 'c' panicked at src/x.rs:3:5:\nnot yet implemented: ex 1.2: add one\n";
        let r = parse_test_output(out);
        assert_eq!(r.get("a::b"), Some(&true));
        assert_eq!(r.get("c"), Some(&false));
        assert_eq!(r.get("d"), None);
        assert_eq!(
            r.get("e"),
            Some(&false),
            "the should-panic suffix is not part of the name"
        );
        assert_eq!(
            first_panic(out).unwrap(),
            "not yet implemented: ex 1.2: add one"
        );
    }
}
