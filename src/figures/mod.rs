//! The book's figures, drawn by code into SVG files under `book/src/figures/`.
//!
//! Each figure is computed from the chapters' crates (or from data committed in the repo) every
//! time the book is built; none is drawn by hand and none retrains a model.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow};
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::fsutil::write_atomic;

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
pub mod ch06;

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
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// Draw every figure into `out_dir`, each file written atomically; calls `progress` after each.
///
/// In a student edition (see [`crate::classroom`]) a figure whose code reaches an exercise's
/// `todo!()` keeps the copy shipped with the edition, and the build goes on.
pub fn render_all(out_dir: &Path, mut progress: impl FnMut(&str)) -> Result<Vec<PathBuf>> {
    let student = crate::classroom::is_student_edition(&crate::repo_root());
    let mut written = Vec::new();
    for fig in all() {
        let path = out_dir.join(fig.file);
        let drawn = if student {
            draw_or_keep(&fig, &path)?
        } else {
            Some((fig.draw)().with_context(|| format!("drawing figure {}", fig.file))?)
        };
        if let Some(svg) = drawn {
            write_atomic(&path, svg.as_bytes())?;
        }
        progress(fig.file);
        written.push(path);
    }
    Ok(written)
}

/// Draws `fig`, or, when its code panics (an unsolved exercise), keeps the file already at
/// `path` (`None`); an error if there is none.
fn draw_or_keep(fig: &Figure, path: &Path) -> Result<Option<String>> {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {})); // the todo!() message is reported below instead
    let result = std::panic::catch_unwind(fig.draw);
    std::panic::set_hook(hook);
    match result {
        Ok(svg) => Ok(Some(
            svg.with_context(|| format!("drawing figure {}", fig.file))?,
        )),
        Err(payload) => {
            let why = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
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

/// Whether this tree is a student edition, whose figures may need exercises not yet solved
/// (their tests then have nothing to check).
#[cfg(test)]
pub(crate) fn student_edition_tree() -> bool {
    crate::classroom::is_student_edition(&crate::repo_root())
}

pub(crate) const WIDTH: u32 = 760;
pub(crate) const HEIGHT: u32 = 460;
pub(crate) const FONT: &str = "sans-serif";

/// Series colours, chosen to stay apart for readers with the common colour-vision deficiencies
/// (Okabe–Ito palette).
pub(crate) const BLUE: RGBColor = RGBColor(0, 114, 178);
pub(crate) const ORANGE: RGBColor = RGBColor(213, 94, 0);

pub(crate) fn svg_document(
    draw: impl FnOnce(&DrawingArea<SVGBackend<'_>, Shift>) -> Result<()>,
) -> Result<String> {
    svg_document_sized((WIDTH, HEIGHT), draw)
}

/// [`svg_document`] with another size, for figures with several panels side by side.
pub(crate) fn svg_document_sized(
    size: (u32, u32),
    draw: impl FnOnce(&DrawingArea<SVGBackend<'_>, Shift>) -> Result<()>,
) -> Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        root.fill(&WHITE).map_err(plot_err)?;
        draw(&root)?;
        root.present().map_err(plot_err)?;
    }
    Ok(svg)
}

/// The book's legend style: a framed, nearly opaque box at `position`.
pub(crate) fn draw_legend<'a, DB, CT>(
    chart: &mut ChartContext<'a, DB, CT>,
    position: SeriesLabelPosition,
    font_size: u32,
) -> Result<()>
where
    DB: DrawingBackend + 'a,
    CT: plotters::coord::CoordTranslate,
{
    chart
        .configure_series_labels()
        .position(position)
        .label_font((FONT, font_size))
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK.mix(0.3))
        .draw()
        .map_err(plot_err)
}

pub(crate) fn plot_err<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow!("plotters: {e:?}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_figure_draws_a_complete_svg() {
        if crate::figures::student_edition_tree() {
            return; // a student edition's figures wait for its exercises
        }
        for fig in all().into_iter().filter(|f| f.file.ends_with(".svg")) {
            let svg = (fig.draw)().unwrap();
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
