//! `rnnbook`: the builder and command-line tool of *Recurrent Networks from Scratch, in Rust*.
//!
//! The chapters live in their own crates under `chapters/`; this crate holds one folder per job:
//!
//! - [`book`]: `rnnbook build`, the book in-process with its include, KaTeX and link checks;
//! - [`figures`]: drawing every figure from the chapters' code and committed data;
//! - [`check`]: `rnnbook check`, the book's cells against PyTorch fixtures;
//! - [`train`]: `rnnbook train`, files, progress and checkpoints around chapter 3's training step;
//! - [`bench`]: `rnnbook bench`, chapter 6's kernels timed side by side (and PyTorch);
//! - [`experiments`]: `rnnbook experiments`, chapter 7's study of every cell on every task;
//! - [`classroom`]: `rnnbook student-edition` and `rnnbook grade`;
//! - [`progress`]: the progress bars they share; [`exit`]: the exit code of an error.

pub mod bench;
pub mod book;
pub mod check;
pub mod classroom;
pub mod exit;
pub mod experiments;
pub mod figures;
/// The fixture reader lives in chapter 0, so that chapter tests can read fixtures too.
pub use ch00_foundations::fixture;
pub mod progress;
pub mod train;

use std::path::PathBuf;

/// The repository root (where this crate's `Cargo.toml` is), so the tool works from any folder.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `book/` in the repository.
pub fn default_book_dir() -> PathBuf {
    repo_root().join("book")
}
