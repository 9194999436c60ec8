//! `rnnbook grade`: grade every submission against the full test set, in a fresh copy each.
//!
//! For each subdirectory of the submissions folder (one student's copy of the student edition):
//!
//! 1. copy the instructor's tree (with the instructor-only tests) into a fresh folder;
//! 2. splice in the bodies of the submission's solution regions, and nothing else of it;
//! 3. build the tests of each chapter package that has exercises (offline, with a time limit);
//!    a package that does not compile gives 0 to its exercises, with the first compiler error;
//! 4. run each exercise's tests with a time limit; a test that is missing, fails, panics or is
//!    still running at the limit counts as not passed.
//!
//! Points per exercise are `points × passed / total`, from `classroom/exercises.toml`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use serde::Serialize;

use crate::classroom::{
    ClassroomConfig, Exercise, first_panic, parse_test_output, read_config, region_bodies, splice,
    tree_files,
};

/// Options of `rnnbook grade`.
#[derive(Debug, Clone)]
pub struct GradeOptions {
    /// Time limit for one exercise's tests.
    pub timeout: Duration,
    /// Time limit for building one package's tests.
    pub build_timeout: Duration,
    /// Cargo's target folder, shared by all submissions so that unchanged crates are not rebuilt.
    pub target_dir: PathBuf,
}

/// One line of the grades: one student, one exercise.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct GradeRow {
    /// The submission's folder name.
    pub student: String,
    /// `4.1`.
    pub exercise: String,
    /// Tests passed.
    pub passed: usize,
    /// Tests run for this exercise.
    pub total: usize,
    /// `points × passed / total`.
    pub points: f64,
    /// The exercise's maximum.
    pub max_points: f64,
    /// Why not full marks: the compiler's first error, a timeout, the first panic; empty if none.
    pub error: String,
}

/// Grades every subdirectory of `submissions` against the instructor tree at `root`.
/// `progress(done, total, message)` is told each step.
pub fn grade_all(
    root: &Path,
    submissions: &Path,
    o: &GradeOptions,
    mut progress: impl FnMut(usize, usize, &str),
) -> Result<Vec<GradeRow>> {
    let config = read_config(root)?;
    let mut students: Vec<PathBuf> = std::fs::read_dir(submissions)
        .with_context(|| format!("reading the submissions folder {}", submissions.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    students.sort();
    ensure!(
        !students.is_empty(),
        "the submissions folder {} has no subfolders (one per student)",
        submissions.display()
    );
    let packages = packages_of(&config);
    let per_student = packages.len() + config.exercises.len();
    let total = students.len() * per_student;
    let mut rows = Vec::new();
    for (k, dir) in students.iter().enumerate() {
        let student = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut step = |j: usize, what: &str| {
            progress(k * per_student + j, total, &format!("{student}: {what}"));
        };
        rows.extend(grade_one(root, &config, dir, &student, o, &mut step)?);
    }
    progress(total, total, "done");
    Ok(rows)
}

fn packages_of(c: &ClassroomConfig) -> Vec<String> {
    let mut p: Vec<String> = c
        .exercises
        .iter()
        .flat_map(|e| tests_by_package(e).into_keys())
        .collect();
    p.sort();
    p.dedup();
    p
}

/// An exercise's tests by package: a name `package/test` belongs to `package`, any other to
/// the exercise's own package.
pub fn tests_by_package(e: &Exercise) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for t in &e.tests {
        let (pkg, name) = match t.split_once('/') {
            Some((pkg, name)) => (pkg.to_string(), name.to_string()),
            None => (e.package.clone(), t.clone()),
        };
        out.entry(pkg).or_default().push(name);
    }
    out
}

/// Grades one submission in a fresh copy of the instructor's tree.
fn grade_one(
    root: &Path,
    config: &ClassroomConfig,
    submission: &Path,
    student: &str,
    o: &GradeOptions,
    step: &mut impl FnMut(usize, &str),
) -> Result<Vec<GradeRow>> {
    let work = tempfile::Builder::new()
        .prefix("rnnbook-grade-")
        .tempdir()
        .context("creating a folder to grade in")?;
    let files = tree_files(root, &[])?;
    // Splice the submission's region bodies into the instructor's files.
    let mut missing: BTreeMap<String, String> = BTreeMap::new();
    for rel in &files {
        let src = root.join(rel);
        let dst = work.path().join(rel);
        if let Some(parent) = dst.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let has_exercise = config.exercises.iter().any(|e| &e.file == rel);
        if !has_exercise {
            std::fs::copy(&src, &dst).with_context(|| format!("copying {}", src.display()))?;
            continue;
        }
        let instructor = std::fs::read_to_string(&src)?;
        let theirs = submission.join(rel);
        let bodies = match std::fs::read_to_string(&theirs) {
            Ok(text) => region_bodies(&text, rel).unwrap_or_else(|e| {
                for ex in config.exercises.iter().filter(|x| &x.file == rel) {
                    missing.insert(ex.id.clone(), format!("{e:#}"));
                }
                BTreeMap::new()
            }),
            Err(_) => BTreeMap::new(),
        };
        let (text, absent) = splice(&instructor, rel, &bodies)?;
        for id in absent {
            missing.entry(id).or_insert_with(|| {
                format!("no region for this exercise in the submission's {rel}")
            });
        }
        std::fs::write(&dst, text)?;
    }

    // Build each package's tests; remember its test executables or its first error.
    let mut built: BTreeMap<String, Result<Vec<PathBuf>, String>> = BTreeMap::new();
    for (j, pkg) in packages_of(config).iter().enumerate() {
        step(j, &format!("building {pkg}"));
        built.insert(pkg.clone(), build_tests(work.path(), pkg, o));
    }
    let offset = built.len();
    let mut rows = Vec::new();
    for (j, ex) in config.exercises.iter().enumerate() {
        step(offset + j, &format!("ex {}", ex.id));
        let mut row = GradeRow {
            student: student.to_string(),
            exercise: ex.id.clone(),
            passed: 0,
            total: ex.tests.len(),
            points: 0.0,
            max_points: ex.points,
            error: String::new(),
        };
        let (passed, error) = run_exercise(work.path(), &built, ex, o.timeout);
        row.passed = passed;
        row.error = error;
        if let Some(why) = missing.get(&ex.id) {
            row.error = if row.error.is_empty() {
                why.clone()
            } else {
                format!("{why}; {}", row.error)
            };
        }
        row.points = if row.total == 0 {
            0.0
        } else {
            (ex.points * row.passed as f64 / row.total as f64 * 100.0).round() / 100.0
        };
        rows.push(row);
    }
    Ok(rows)
}

/// Runs `cmd` until it exits or `limit` passes (then kills it); `(exited in time, stdout, stderr)`.
fn run_limited(mut cmd: Command, limit: Duration) -> Result<(bool, String, String)> {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting a process")?;
    // Read the pipes on threads, so that a chatty child cannot block on a full pipe.
    let mut out = child.stdout.take().expect("piped");
    let mut err = child.stderr.take().expect("piped");
    let t_out = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut out, &mut s).ok();
        s
    });
    let t_err = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut err, &mut s).ok();
        s
    });
    let start = Instant::now();
    let in_time = loop {
        if child.try_wait()?.is_some() {
            break true;
        }
        if start.elapsed() >= limit {
            child.kill().ok();
            child.wait().ok();
            break false;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stdout = t_out.join().unwrap_or_default();
    let stderr = t_err.join().unwrap_or_default();
    Ok((in_time, stdout, stderr))
}

/// `cargo test -p PKG --no-run`, offline, in `work`: the test executables, or the first error.
fn build_tests(work: &Path, pkg: &str, o: &GradeOptions) -> Result<Vec<PathBuf>, String> {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(work)
        .args([
            "test",
            "--offline",
            "--no-run",
            "--message-format=json",
            "-p",
            pkg,
        ])
        .env("CARGO_TARGET_DIR", &o.target_dir)
        .env("CARGO_TERM_COLOR", "never");
    let (in_time, stdout, stderr) =
        run_limited(cmd, o.build_timeout).map_err(|e| format!("{e:#}"))?;
    if !in_time {
        return Err(format!(
            "the build took longer than {} s",
            o.build_timeout.as_secs()
        ));
    }
    let mut exes = Vec::new();
    let mut first_error = None;
    for line in stdout.lines() {
        let Ok(msg) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        match msg["reason"].as_str() {
            Some("compiler-message")
                if msg["message"]["level"] == "error" && first_error.is_none() =>
            {
                let rendered = msg["message"]["rendered"].as_str().unwrap_or("");
                let text: Vec<&str> = rendered.lines().take(6).collect();
                first_error = Some(text.join(" | "));
            }
            Some("compiler-artifact") => {
                let ours = msg["package_id"].as_str().is_some_and(|id| {
                    id.contains(&format!("#{pkg}@")) || id.contains(&format!("/{pkg}#"))
                });
                if let Some(exe) = msg["executable"].as_str()
                    && ours
                    && msg["profile"]["test"] == true
                {
                    exes.push(PathBuf::from(exe));
                }
            }
            _ => {}
        }
    }
    if let Some(e) = first_error {
        return Err(e);
    }
    if exes.is_empty() {
        let tail: Vec<&str> = stderr.lines().rev().take(4).collect();
        return Err(format!(
            "cargo built no test executable: {}",
            tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
        ));
    }
    Ok(exes)
}

/// Runs the exercise's tests in every executable of their packages, within `limit` in all;
/// `(passed, error summary)`. Tests of a package that did not compile count as not passed.
fn run_exercise(
    work: &Path,
    built: &BTreeMap<String, Result<Vec<PathBuf>, String>>,
    ex: &Exercise,
    limit: Duration,
) -> (usize, String) {
    let start = Instant::now();
    let mut results: BTreeMap<(String, String), bool> = BTreeMap::new();
    let mut error = String::new();
    'packages: for (pkg, names) in tests_by_package(ex) {
        let exes = match built.get(&pkg) {
            Some(Ok(exes)) => exes,
            Some(Err(e)) => {
                if error.is_empty() {
                    error = format!("{pkg} does not compile: {e}");
                }
                continue;
            }
            None => continue,
        };
        for exe in exes {
            let left = limit.saturating_sub(start.elapsed());
            if left.is_zero() {
                error = format!("timed out after {} s", limit.as_secs());
                break 'packages;
            }
            let mut cmd = Command::new(exe);
            cmd.current_dir(work.join("chapters").join(&pkg))
                .arg("--exact")
                .args(&names)
                .env("RUST_BACKTRACE", "0");
            match run_limited(cmd, left) {
                Ok((in_time, stdout, _)) => {
                    for (name, ok) in parse_test_output(&stdout) {
                        results
                            .entry((pkg.clone(), name))
                            .and_modify(|v| *v |= ok)
                            .or_insert(ok);
                    }
                    if error.is_empty()
                        && let Some(p) = first_panic(&stdout)
                    {
                        error = p;
                    }
                    if !in_time {
                        error = format!("timed out after {} s", limit.as_secs());
                        break 'packages;
                    }
                }
                Err(e) => {
                    error = format!("{e:#}");
                    break 'packages;
                }
            }
        }
    }
    let wanted: Vec<(String, String)> = tests_by_package(ex)
        .into_iter()
        .flat_map(|(pkg, names)| names.into_iter().map(move |n| (pkg.clone(), n)))
        .collect();
    let passed = wanted
        .iter()
        .filter(|k| results.get(*k) == Some(&true))
        .count();
    let not_run: Vec<&(String, String)> = wanted
        .iter()
        .filter(|k| !results.contains_key(*k))
        .collect();
    if error.is_empty() && !not_run.is_empty() {
        error = format!(
            "{} test(s) did not run, e.g. {}",
            not_run.len(),
            not_run[0].1
        );
    }
    (passed, error)
}

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
