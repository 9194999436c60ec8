//! The look every figure shares: one palette, one font, one size, the axes and the legend.
//!
//! Colours are the Okabe–Ito palette, chosen to stay apart for readers with the common
//! colour-vision deficiencies; the greys are for references and annotations.

use anyhow::{Result, anyhow};
use plotters::chart::MeshStyle;
use plotters::coord::Shift;
use plotters::coord::ranged1d::{Ranged, ValueFormatter};
use plotters::prelude::Cartesian2d;
use plotters::prelude::*;

/// Width of a one-panel figure, in pixels.
pub(crate) const WIDTH: u32 = 760;
/// Height of a one-panel figure, in pixels.
pub(crate) const HEIGHT: u32 = 460;
/// The one font family.
pub(crate) const FONT: &str = "sans-serif";

/// The main series.
pub(crate) const BLUE: RGBColor = RGBColor(0, 114, 178);
/// The series compared with the main one (or the reference a curve should reach).
pub(crate) const ORANGE: RGBColor = RGBColor(213, 94, 0);
/// A third series.
pub(crate) const GREEN: RGBColor = RGBColor(0, 158, 115);
/// A lighter companion of [`BLUE`].
pub(crate) const SKY: RGBColor = RGBColor(86, 180, 233);
/// A darker companion of [`BLUE`], for a third shade of one series.
pub(crate) const NAVY: RGBColor = RGBColor(0, 55, 100);
/// A fourth series.
pub(crate) const PURPLE: RGBColor = RGBColor(204, 121, 167);
/// Baselines, references and labels.
pub(crate) const GREY: RGBColor = RGBColor(90, 90, 90);
/// A lighter grey for a reference line among several series.
pub(crate) const MID_GREY: RGBColor = RGBColor(110, 110, 110);
/// The lightest grey, for a reference bar.
pub(crate) const LIGHT_GREY: RGBColor = RGBColor(190, 190, 190);

/// Text sizes of a chart's axes: tick labels and axis descriptions.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AxisText {
    /// Tick labels.
    pub labels: u32,
    /// Axis descriptions.
    pub desc: u32,
}

/// A one-panel figure's axis text.
pub(crate) const AXIS_TEXT: AxisText = AxisText {
    labels: 14,
    desc: 16,
};
/// A panel of a figure with several panels.
pub(crate) const PANEL_AXIS_TEXT: AxisText = AxisText {
    labels: 13,
    desc: 14,
};

/// The book's axes on any chart: `mesh.book_style(AXIS_TEXT)` sets the text sizes and hides
/// the light grid lines.
pub(crate) trait BookMesh {
    /// Applies the book's axis style.
    fn book_style(&mut self, text: AxisText) -> &mut Self;
}

impl<X: Ranged, Y: Ranged, DB: DrawingBackend> BookMesh for MeshStyle<'_, '_, X, Y, DB> {
    fn book_style(&mut self, text: AxisText) -> &mut Self {
        self.label_style((FONT, text.labels))
            .axis_desc_style((FONT, text.desc))
            .light_line_style(WHITE.mix(0.0))
    }
}

/// A one-panel figure's axes, the book's way: the descriptions, the tick formats and
/// [`AXIS_TEXT`].
pub(crate) fn draw_axes<'a, DB, X, Y>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<X, Y>>,
    (x_desc, y_desc): (&str, &str),
    x_fmt: &dyn Fn(&X::ValueType) -> String,
    y_fmt: &dyn Fn(&Y::ValueType) -> String,
) -> Result<()>
where
    DB: DrawingBackend + 'a,
    X: Ranged + ValueFormatter<X::ValueType>,
    Y: Ranged + ValueFormatter<Y::ValueType>,
{
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .x_label_formatter(x_fmt)
        .y_label_formatter(y_fmt)
        .book_style(AXIS_TEXT)
        .draw()
        .map_err(plot_err)
}

/// A tick label for an axis plotted as `log₂ x`: `2^v` where `v` is whole, else nothing.
pub(crate) fn pow2_label(v: &f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{}", 2f64.powf(v.round()) as u64)
    } else {
        String::new()
    }
}

/// A one-panel figure ([`WIDTH`] × [`HEIGHT`]) on a white ground, as SVG text.
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

/// A plotters error as an `anyhow` error.
pub(crate) fn plot_err<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow!("plotters: {e:?}")
}
