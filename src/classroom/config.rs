//! `classroom/exercises.toml`: the exercises, their regions, tests and points, and what the
//! student edition leaves out.

use std::path::Path;

use anyhow::{Context, Result, ensure};
use serde::{Deserialize, Serialize};

use super::regions::region_bodies;

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

/// Whether a test name is one of the instructor-only tests (in `chapters/*/tests/instructor/`,
/// named `exN_M_…`), which the student edition does not have.
pub fn is_instructor_test(name: &str) -> bool {
    name.strip_prefix("ex")
        .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
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
