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
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use serde::Serialize;

use super::config::{ClassroomConfig, Exercise, read_config};
use super::edition::tree_files;
use super::regions::{region_bodies, splice};
use super::report::{summary, to_csv};
use super::runner::{build_tests, run_exercise};
use ch00_foundations::files::write_atomic;

/// Options of `rnnbook grade`.
#[derive(Debug, Clone, clap::Args)]
pub struct GradeOptions {
    /// The folder of submissions, one subfolder per student.
    pub submissions: PathBuf,
    /// The CSV to write; a JSON with the same rows is written next to it (`.json`).
    #[arg(long, default_value = "grades.csv")]
    pub out: PathBuf,
    /// Time limit in seconds for one exercise's tests.
    #[arg(long = "timeout", value_name = "SECONDS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub timeout_secs: u64,
    /// Time limit in seconds for building one chapter's tests.
    #[arg(long = "build-timeout", value_name = "SECONDS", default_value_t = 900,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub build_timeout_secs: u64,
    /// Cargo's target folder for grading, shared by all submissions so that unchanged crates
    /// are not rebuilt (default: `rnnbook-grade-target` in the temporary folder).
    #[arg(long)]
    pub target_dir: Option<PathBuf>,
}

impl GradeOptions {
    /// The time limit of one exercise's tests.
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_secs)
    }

    /// The time limit of building one package's tests.
    pub fn build_timeout(&self) -> Duration {
        Duration::from_secs(self.build_timeout_secs)
    }

    /// Cargo's target folder for grading.
    pub fn target_dir(&self) -> PathBuf {
        self.target_dir
            .clone()
            .unwrap_or_else(|| std::env::temp_dir().join("rnnbook-grade-target"))
    }
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
        let (passed, error) = run_exercise(work.path(), &built, ex, o.timeout());
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

/// `rnnbook grade`: grades every submission with a progress bar, writes the CSV and the JSON
/// (atomically) and prints the totals.
pub fn command(o: &GradeOptions) -> Result<()> {
    let pb = crate::progress::ticking_bar("{bar:30} {pos}/{len} [{elapsed}] {msg}", 1);
    let rows = grade_all(
        &crate::repo_root(),
        &o.submissions,
        o,
        |done, total, msg| {
            pb.set_length(total as u64);
            pb.set_position(done as u64);
            pb.set_message(msg.to_string());
        },
    );
    pb.finish_and_clear();
    let rows = rows?;
    let json_path = o.out.with_extension("json");
    write_atomic(&o.out, to_csv(&rows).as_bytes())?;
    write_atomic(&json_path, serde_json::to_string_pretty(&rows)?.as_bytes())?;
    print!("{}", summary(&rows));
    println!("wrote {} and {}", o.out.display(), json_path.display());
    Ok(())
}
