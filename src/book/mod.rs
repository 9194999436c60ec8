//! Building the book: mdBook in-process, KaTeX at build time, and the checks mdBook does not make.
//!
//! mdBook logs some failures and carries on (a missing include file), and says nothing at all about
//! others (a wrong anchor gives an empty listing; a KaTeX error keeps the raw `$…$`). A published
//! book must not ship either, so [`build_book`] wraps the build:
//!
//! 1. the config is read strictly (a type error in `[preprocessor.katex]` is an error, not a reset
//!    to defaults);
//! 2. every `{{#include}}` is resolved before building: its file must exist and its anchor must be
//!    opened and closed in that file;
//! 3. KaTeX runs in our own preprocessor, which turns every parse error into a build error naming
//!    the chapter and the formula;
//! 4. every exercise's solution in a listing is folded behind a "Show the solution" toggle (in a
//!    student edition's book: replaced by its `todo!`; see [`solutions`]), after mdBook's `links`
//!    has included the code;
//! 5. every listing is captioned with its file and anchor and no listing line is wider than the
//!    page (see [`listings`]); every figure is numbered and captioned (see [`figure_captions`]);
//! 6. every warning or error that mdBook logs while building fails the build;
//! 7. the output is scanned: every local link, image, script and stylesheet (and each `url()` in a
//!    stylesheet) must resolve, a `#fragment` must name an `id` in its target page, and no page may
//!    load anything from another host.
//!
//! The book is built into a staging folder and moved into place only when every check passes, so a
//! failed build leaves the last good book untouched.

pub mod figure_captions;
mod includes;
mod links;
pub mod listings;
mod log;
mod math;
pub mod solutions;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result, bail};
use mdbook_driver::MDBook;
use mdbook_driver::config::Config;

pub use log::init_logging;

use crate::figures::{self, Drawing};

/// `rnnbook build`'s options.
#[derive(Debug, Clone, clap::Args)]
pub struct BuildOptions {
    /// The book folder (with book.toml).
    #[arg(long, default_value_os_t = crate::default_book_dir())]
    pub book: PathBuf,
    /// Build with the figures already on disk instead of drawing them again.
    #[arg(long)]
    pub no_figures: bool,
}

impl Default for BuildOptions {
    fn default() -> Self {
        BuildOptions {
            book: crate::default_book_dir(),
            no_figures: false,
        }
    }
}

/// How figures are drawn in this tree: a student edition keeps the shipped copy of a figure
/// whose exercise is not solved yet.
pub fn drawing_here() -> Drawing {
    if crate::classroom::is_student_edition(&crate::repo_root()) {
        Drawing::KeepWhatIsUnsolved
    } else {
        Drawing::Everything
    }
}

/// `rnnbook build` (and `rnnbook` alone): draws the figures, builds and checks the book, and
/// prints where it is.
pub fn command(o: &BuildOptions) -> Result<()> {
    if !o.no_figures {
        figures::command(&o.book, drawing_here())?;
    }
    let start = std::time::Instant::now();
    let pb = crate::progress::spinner("building the book (mdBook + KaTeX) and checking links");
    let report = build_book(&o.book);
    pb.finish_and_clear();
    let report = report?;
    let solutions = if report.solutions_stripped > 0 {
        format!("{} solutions stripped", report.solutions_stripped)
    } else {
        format!("{} solutions folded", report.solutions_folded)
    };
    eprintln!(
        "book: {} pages, {} formulas, {} includes, {solutions}, {} local links checked in {:.2} s",
        report.pages,
        report.formulas,
        report.includes,
        report.links_checked,
        start.elapsed().as_secs_f64()
    );
    println!("The book is at {}", report.index_html.display());
    println!(
        "Open it in a browser, e.g. xdg-open {}",
        report.index_html.display()
    );
    Ok(())
}

/// What a successful build produced.
#[derive(Debug)]
pub struct BuildReport {
    /// `…/build/index.html`.
    pub index_html: PathBuf,
    /// HTML pages written.
    pub pages: usize,
    /// Formulas rendered by KaTeX.
    pub formulas: usize,
    /// `{{#include}}` directives resolved.
    pub includes: usize,
    /// Solution regions folded behind a toggle in the listings.
    pub solutions_folded: usize,
    /// In a student edition's book, solution bodies that a page itself held, replaced by their
    /// `todo!` (the included code is stripped already).
    pub solutions_stripped: usize,
    /// Local links, images, scripts and stylesheets checked in the output.
    pub links_checked: usize,
}

/// Build the book whose `book.toml` is in `book_dir` into `book_dir/<build-dir>`.
///
/// Fails, with every problem listed, on: a config error, a missing include file or anchor, a KaTeX
/// error, a warning or error logged by mdBook, a broken local link or fragment, or a remote
/// resource in the output. On failure the previous build is left as it was.
pub fn build_book(book_dir: &Path) -> Result<BuildReport> {
    build_book_into(book_dir, None)
}

/// Like [`build_book`], but writes the HTML into `out_dir` when given (instead of the
/// `build-dir` of book.toml).
pub fn build_book_into(book_dir: &Path, out_dir: Option<&Path>) -> Result<BuildReport> {
    let book_dir = std::path::absolute(book_dir)
        .with_context(|| format!("cannot resolve the book folder {}", book_dir.display()))?;
    let toml = book_dir.join("book.toml");
    if !toml.is_file() {
        bail!("no book here: {} does not exist", toml.display());
    }
    // `load_with_config` skips mdBook's MDBOOK_* environment overrides, which could silently turn
    // the CDN stylesheet back on.
    let mut config =
        Config::from_disk(&toml).with_context(|| format!("cannot read {}", toml.display()))?;
    for name in [
        listings::CAPTIONS,
        listings::WIDTHS,
        figure_captions::NAME,
        solutions::NAME,
    ] {
        if config.contains_key(&format!("preprocessor.{name}")) {
            bail!(
                "book.toml: remove [preprocessor.{name}]; the builder runs its own, in its place"
            );
        }
    }
    // Captions are written while a listing is still an `{{#include}}`, so before `links`.
    config
        .set(
            format!("preprocessor.{}.before", listings::CAPTIONS),
            ["links"],
        )
        .context("ordering the listing captions before the includes")?;
    let final_dir = match out_dir {
        Some(dir) => {
            std::path::absolute(dir).with_context(|| format!("cannot resolve {}", dir.display()))?
        }
        None => book_dir.join(&config.build.build_dir),
    };
    let staging = staging_dir_for(&final_dir);
    remove_dir_if_present(&staging)?;

    let formulas;
    let includes;
    let solutions_folded;
    let solutions_stripped;
    {
        let _serial = build_lock();
        let logged = log::LogCapture::start();
        let mut md = MDBook::load_with_config(&book_dir, config)
            .with_context(|| format!("cannot load the book at {}", book_dir.display()))?;
        math::check_katex_config(&md.config, &book_dir)?;
        includes = includes::check_includes(&md)?;
        md.config.build.build_dir = staging.clone();
        let katex = math::StrictKatex::default();
        let counter = katex.formulas.clone();
        md.with_preprocessor(katex);
        let sources = Arc::new(Mutex::new(BTreeSet::new()));
        md.with_preprocessor(listings::Captions {
            root: book_dir.parent().unwrap_or(&book_dir).to_path_buf(),
            sources: sources.clone(),
        });
        // A name that book.toml does not know is appended, so it runs last: after `links` has
        // included the code (and after KaTeX, which leaves code blocks alone).
        md.with_preprocessor(listings::Widths);
        md.with_preprocessor(figure_captions::Captions);
        // A student edition's book strips what its pages still hold (its code is stripped).
        let in_edition = book_dir
            .parent()
            .is_some_and(crate::classroom::is_student_edition);
        let mode = if in_edition {
            solutions::Mode::Strip
        } else {
            solutions::Mode::Fold
        };
        let hide = solutions::HideSolutions::new(mode);
        let hidden = hide.hidden.clone();
        md.with_preprocessor(hide);
        let result = md.build();
        let problems = logged.finish();
        if let Err(err) = result {
            let _ = remove_dir_if_present(&staging);
            return Err(err.context(format!(
                "building the book at {} failed",
                book_dir.display()
            )));
        }
        if !problems.is_empty() {
            let _ = remove_dir_if_present(&staging);
            bail!(
                "mdBook reported {} problem(s) while building {}:\n  {}",
                problems.len(),
                book_dir.display(),
                problems.join("\n  ")
            );
        }
        let sources = std::mem::take(&mut *sources.lock().expect("source list poisoned"));
        if let Err(err) = listings::write_source_pages(&staging, &sources) {
            let _ = remove_dir_if_present(&staging);
            return Err(err.context("writing the pages of the included files"));
        }
        formulas = *counter.lock().expect("formula counter poisoned");
        let n = *hidden.lock().expect("solution counter poisoned");
        (solutions_folded, solutions_stripped) = match mode {
            solutions::Mode::Fold => (n, 0),
            solutions::Mode::Strip => (0, n),
        };
    }

    let scan = match links::check_output(&staging) {
        Ok(scan) => scan,
        Err(err) => {
            let _ = remove_dir_if_present(&staging);
            return Err(err);
        }
    };
    replace_dir(&staging, &final_dir)?;
    Ok(BuildReport {
        index_html: final_dir.join("index.html"),
        pages: scan.pages,
        formulas,
        includes,
        solutions_folded,
        solutions_stripped,
        links_checked: scan.links,
    })
}

/// `…/build` is staged in `…/.build-staging`, next to it (a rename never crosses file systems).
fn staging_dir_for(final_dir: &Path) -> PathBuf {
    let name = final_dir
        .file_name()
        .map_or_else(|| "book".into(), |n| n.to_string_lossy().into_owned());
    final_dir.with_file_name(format!(".{name}-staging"))
}

/// Builds share one process-wide log capture, so they run one at a time.
fn build_lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn remove_dir_if_present(dir: &Path) -> Result<()> {
    match std::fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("cannot remove {}", dir.display())),
    }
}

/// Move the finished `staging` folder to `dest`, replacing what was there.
fn replace_dir(staging: &Path, dest: &Path) -> Result<()> {
    let old = staging.with_extension("old");
    remove_dir_if_present(&old)?;
    if dest.exists() {
        std::fs::rename(dest, &old)
            .with_context(|| format!("cannot move the previous build {} aside", dest.display()))?;
    }
    std::fs::rename(staging, dest)
        .with_context(|| format!("cannot move the new build into {}", dest.display()))?;
    remove_dir_if_present(&old)
}
