//! The book's figures, drawn by code into SVG files under `book/src/figures/`.
//!
//! Each figure is computed from the chapters' crates (or from data committed in the repo) every
//! time the book is built; none is drawn by hand and none retrains a model.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use ch00_foundations::files::write_atomic;

/// One figure: the file it is written to and the function that draws it.
pub struct Figure {
    /// File name under the figures folder, e.g. `ch00-gradcheck-eps.svg`; a `.md` file is a
    /// generated table that a page includes.
    pub file: &'static str,
    /// Draws the whole figure and returns the SVG (or Markdown) text.
    pub draw: fn() -> Result<String>,
}

mod ch00;
mod ch01;
mod ch02;
mod ch03;
mod ch04;
mod ch05;
mod ch06;
mod ch07;
mod ch08;
mod diagram;
mod style;

/// Every figure of the book, in chapter order. Each chapter's figures live in `chNN.rs`.
pub fn all() -> Vec<Figure> {
    [
        ch00::figures(),
        ch01::figures(),
        ch02::figures(),
        ch03::figures(),
        ch04::figures(),
        ch05::figures(),
        ch06::figures(),
        ch07::figures(),
        ch08::figures(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// `rnnbook figures`: draws every figure into `BOOK/src/figures/` with a progress bar; returns
/// how many.
pub fn command(book: &Path, drawing: Drawing) -> Result<usize> {
    let start = std::time::Instant::now();
    let out = book.join("src").join("figures");
    let pb = crate::progress::bar("{bar:30} {pos}/{len} figures  {msg}", all().len() as u64);
    let written = render_all(&out, drawing, |name| {
        pb.set_message(name.to_string());
        pb.inc(1);
    });
    pb.finish_and_clear();
    let written = written?;
    eprintln!(
        "figures: {} drawn into {} in {:.2} s",
        written.len(),
        out.display(),
        start.elapsed().as_secs_f64()
    );
    Ok(written.len())
}

/// What to do with a figure whose code is not written yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drawing {
    /// Draw every figure; any failure is an error (the instructor's tree).
    Everything,
    /// A figure whose code reaches an exercise's `todo!()` keeps the copy already on disk (a
    /// student edition, which ships the instructor's figures); the build goes on.
    KeepWhatIsUnsolved,
}

/// Draw every figure into `out_dir`, each file written atomically; calls `progress` after each.
pub fn render_all(
    out_dir: &Path,
    drawing: Drawing,
    mut progress: impl FnMut(&str),
) -> Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    for fig in all() {
        let path = out_dir.join(fig.file);
        let drawn = match drawing {
            Drawing::KeepWhatIsUnsolved => draw_or_keep(&fig, &path)?,
            Drawing::Everything => {
                Some((fig.draw)().with_context(|| format!("drawing figure {}", fig.file))?)
            }
        };
        if let Some(svg) = drawn {
            write_atomic(&path, svg.as_bytes())?;
        }
        progress(fig.file);
        written.push(path);
    }
    Ok(written)
}

/// Runs `draw`, catching the panic of an unsolved exercise's `todo!()`: `Err(message)`.
fn draw_catching_todo(draw: fn() -> Result<String>) -> std::result::Result<Result<String>, String> {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {})); // the todo!() message is reported by the caller
    let result = std::panic::catch_unwind(draw);
    std::panic::set_hook(hook);
    result.map_err(|payload| {
        payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default()
    })
}

/// Draws `fig`, or, when its code panics (an unsolved exercise), keeps the file already at
/// `path` (`None`); an error if there is none.
fn draw_or_keep(fig: &Figure, path: &Path) -> Result<Option<String>> {
    match draw_catching_todo(fig.draw) {
        Ok(svg) => Ok(Some(
            svg.with_context(|| format!("drawing figure {}", fig.file))?,
        )),
        Err(why) => {
            anyhow::ensure!(
                path.exists(),
                "figure {} needs code that is not written yet ({why}), and no copy was shipped",
                fig.file
            );
            eprintln!("figure {}: kept the shipped copy ({why})", fig.file);
            Ok(None)
        }
    }
}

/// For figure tests: the figure drawn, or `None` when its code reaches an exercise that is not
/// solved yet (in a student edition; its test then has nothing to check).
#[cfg(test)]
pub(crate) fn drawn_unless_unsolved(draw: fn() -> Result<String>) -> Option<String> {
    match draw_catching_todo(draw) {
        Ok(svg) => Some(svg.unwrap()),
        Err(why) if why.contains("not yet implemented") => None,
        Err(why) => panic!("{why}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_figure_draws_a_complete_svg() {
        for fig in all().into_iter().filter(|f| f.file.ends_with(".svg")) {
            let Some(svg) = drawn_unless_unsolved(fig.draw) else {
                continue; // a student edition's figure waits for its exercise
            };
            assert!(svg.starts_with("<svg"), "{}", fig.file);
            assert!(svg.trim_end().ends_with("</svg>"), "{}", fig.file);
            assert!(
                svg.contains("<polyline") || svg.contains("<path"),
                "{} has no lines",
                fig.file
            );
        }
    }

    #[test]
    fn figure_names_are_unique_and_chapter_prefixed() {
        let mut names: Vec<_> = all().iter().map(|f| f.file).collect();
        assert!(
            names
                .iter()
                .all(|n| n.starts_with("ch") && (n.ends_with(".svg") || n.ends_with(".md")))
        );
        names.sort();
        names.dedup();
        assert_eq!(names.len(), all().len());
    }
}
