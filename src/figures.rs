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

/// Every figure of the book, in chapter order.
pub fn all() -> Vec<Figure> {
    vec![Figure {
        file: "ch00-gradcheck-eps.svg",
        draw: gradcheck_eps,
    }]
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

const WIDTH: u32 = 760;
const HEIGHT: u32 = 460;
const FONT: &str = "sans-serif";

/// Series colours, chosen to stay apart for readers with the common colour-vision deficiencies
/// (Okabe–Ito palette).
const BLUE: RGBColor = RGBColor(0, 114, 178);
const ORANGE: RGBColor = RGBColor(213, 94, 0);

fn svg_document(
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

fn plot_err<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow!("plotters: {e:?}")
}

/// Chapter 0: relative error of forward and central differences against the step size ε.
fn gradcheck_eps() -> Result<String> {
    use ch00_foundations::gradcheck::gradcheck_error_vs_eps;

    let eps: Vec<f64> = (2..=24).map(|k| 10f64.powf(-(k as f64) / 2.0)).collect();
    let points = gradcheck_error_vs_eps(&eps);
    let floor = 1e-17;
    let forward: Vec<(f64, f64)> = points
        .iter()
        .map(|p| (p.eps, p.forward_rel_error.max(floor)))
        .collect();
    let central: Vec<(f64, f64)> = points
        .iter()
        .map(|p| (p.eps, p.central_rel_error.max(floor)))
        .collect();
    let y_max = forward
        .iter()
        .chain(&central)
        .map(|p| p.1)
        .fold(1e-3, f64::max)
        * 10.0;
    let y_min = forward
        .iter()
        .chain(&central)
        .map(|p| p.1)
        .fold(1.0, f64::min)
        / 10.0;

    svg_document(|root| {
        let mut chart = ChartBuilder::on(root)
            .caption("Gradient check: relative error vs step size ε", (FONT, 22))
            .margin(16)
            .x_label_area_size(48)
            .y_label_area_size(72)
            .build_cartesian_2d(
                (eps[eps.len() - 1]..eps[0]).log_scale(),
                (y_min..y_max).log_scale(),
            )
            .map_err(plot_err)?;
        chart
            .configure_mesh()
            .x_desc("step size ε")
            .y_desc("max relative error")
            .x_label_formatter(&|v| format!("{v:.0e}"))
            .y_label_formatter(&|v| format!("{v:.0e}"))
            .label_style((FONT, 14))
            .axis_desc_style((FONT, 16))
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(plot_err)?;
        for (data, color, name) in [
            (&forward, BLUE, "forward difference (f(w+ε) − f(w)) / ε"),
            (
                &central,
                ORANGE,
                "central difference (f(w+ε) − f(w−ε)) / 2ε",
            ),
        ] {
            chart
                .draw_series(LineSeries::new(data.iter().copied(), color.stroke_width(2)))
                .map_err(plot_err)?
                .label(name)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                });
            chart
                .draw_series(data.iter().map(|&p| Circle::new(p, 3, color.filled())))
                .map_err(plot_err)?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperMiddle)
            .label_font((FONT, 14))
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK.mix(0.3))
            .draw()
            .map_err(plot_err)?;
        Ok(())
    })
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
