//! `rnnbook`: the builder and command-line tool of *Recurrent Networks from Scratch, in Rust*.
//!
//! The chapters live in their own crates under `chapters/`; this crate draws the figures from them
//! ([`figures`]) and builds the book ([`book`]).

pub mod bench;
pub mod book;
pub mod check;
pub mod classroom;
pub mod figures;
/// The fixture reader lives in chapter 0, so that chapter tests can read fixtures too.
pub use ch00_foundations::fixture;
pub mod fsutil;
pub mod grade;
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
