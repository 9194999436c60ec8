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
    /// File name under the figures folder, e.g. `ch00-gradcheck-eps.svg`.
    pub file: &'static str,
    /// Draws the whole figure and returns the SVG text.
    pub draw: fn() -> Result<String>,
}

mod ch00;
mod ch01;
mod ch02;
mod ch03;
mod ch04;
mod ch05;

/// Every figure of the book, in chapter order. Each chapter's figures live in `chNN.rs`.
pub fn all() -> Vec<Figure> {
    [
        ch00::figures(),
        ch01::figures(),
        ch02::figures(),
        ch03::figures(),
        ch04::figures(),
        ch05::figures(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// Draw every figure into `out_dir`, each file written atomically; calls `progress` after each.
pub fn render_all(out_dir: &Path, mut progress: impl FnMut(&str)) -> Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    for fig in all() {
        let svg = (fig.draw)().with_context(|| format!("drawing figure {}", fig.file))?;
        let path = out_dir.join(fig.file);
        write_atomic(&path, svg.as_bytes())?;
        progress(fig.file);
        written.push(path);
    }
    Ok(written)
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
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
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
        for fig in all() {
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
                .all(|n| n.starts_with("ch") && n.ends_with(".svg"))
        );
        names.sort();
        names.dedup();
        assert_eq!(names.len(), all().len());
    }
}
