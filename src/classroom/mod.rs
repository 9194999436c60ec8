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
//!
//! - [`regions`]: finding, stripping and splicing the solution regions;
//! - [`config`]: `classroom/exercises.toml`, the exercises, their tests and points;
//! - [`edition`]: `rnnbook student-edition`, which [`leaks`] keeps free of answers;
//! - [`grade`]: `rnnbook grade`, with [`runner`] (child processes with time limits) and
//!   [`report`] (CSV and totals).

pub mod audit;
pub mod config;
pub mod edition;
pub mod grade;
pub mod leaks;
pub mod platforms;
pub mod regions;
pub mod report;
pub mod runner;
pub mod sandbox;
pub mod verdict;

pub use config::{CONFIG, ClassroomConfig, Exercise, is_instructor_test, read_config};
pub use edition::{EditionReport, STUDENT_MARKER, is_student_edition, student_edition, tree_files};
pub use regions::{
    BEGIN, END, Region, SOLUTION_ONLY, hint_continuation, parse_regions, region_bodies, splice,
    strip_one, strip_solutions,
};
pub use runner::{first_panic, parse_test_output};
