//! Chapter 5's figure: how far back a gradient reaches in the RNN, the LSTM and both GRUs.

use anyhow::{Result, bail};
use plotters::coord::Shift;
use plotters::prelude::*;

use super::Figure;
use super::style::{
    BLUE, BookMesh, FONT, GREY, ORANGE, PANEL_AXIS_TEXT, PURPLE, SKY, draw_legend, plot_err,
    svg_document,
};

/// Chapter 5's figures.
pub fn figures() -> Vec<Figure> {
    vec![Figure {
        file: "ch05-gradient-norms.svg",
        draw: gradient_norms,
    }]
}

/// How a series is drawn.
#[derive(Clone, Copy)]
enum Line {
    Solid,
    Dashed,
}

/// `‖∂L/∂state‖` against the distance `T − t` for the four cells, at PyTorch's initialisation
/// (left) and with the remember bias on the LSTM's `f` and the GRU's `z` (right).
fn gradient_norms() -> Result<String> {
    use ch05_gru::compare::{FIGURE_SEQ_LEN, REMEMBER_BIAS, figure_curves};

    let panels = figure_curves();
    let (mut lo, mut hi) = (f64::INFINITY, 0.0f64);
    for c in &panels {
        for n in [&c.rnn, &c.lstm_h, &c.gru, &c.gru_cho]
            .into_iter()
            .chain([&c.lstm_c[1..].to_vec()])
        {
            for &v in n.iter() {
                if !(v > 0.0 && v.is_finite()) {
                    bail!("gradient norm {v} cannot go on a log scale");
                }
                (lo, hi) = (lo.min(v), hi.max(v));
            }
        }
    }
    let (y_min, y_max) = (
        10f64.powf(lo.log10().floor()),
        10f64.powf(hi.log10().ceil() + 0.5),
    );

    svg_document(|root| {
        let root = root
            .titled(
                "Gradient norm against distance T − t: RNN, LSTM and GRU (H = 32)",
                (FONT, 19),
            )
            .map_err(plot_err)?;
        let halves = root.split_evenly((1, 2));
        let titles = [
            "PyTorch init: every gate near 1/2".to_string(),
            format!("bias +{REMEMBER_BIAS} on f (LSTM) and z (GRU)"),
        ];
        for (i, ((area, c), title)) in halves.iter().zip(&panels).zip(titles).enumerate() {
            panel(area, c, &title, i == 0, (y_min, y_max), FIGURE_SEQ_LEN)?;
        }
        Ok(())
    })
}

fn panel(
    area: &DrawingArea<SVGBackend<'_>, Shift>,
    c: &ch05_gru::compare::NormCurves,
    title: &str,
    legend: bool,
    (y_min, y_max): (f64, f64),
    seq_len: usize,
) -> Result<()> {
    let mut chart = ChartBuilder::on(area)
        .caption(title, (FONT, 15))
        .margin(10)
        .x_label_area_size(42)
        .y_label_area_size(if legend { 62 } else { 40 })
        .build_cartesian_2d(0.0..seq_len as f64, (y_min..y_max).log_scale())
        .map_err(plot_err)?;
    let mut mesh = chart.configure_mesh();
    mesh.x_desc("distance k = T − t")
        .x_labels(7)
        .x_label_formatter(&|v| format!("{v:.0}"))
        .y_labels(9)
        .book_style(PANEL_AXIS_TEXT);
    if legend {
        mesh.y_desc("gradient norm (log scale)")
            .y_label_formatter(&|v| format!("{v:.0e}"));
    } else {
        mesh.y_label_formatter(&|_| String::new());
    }
    mesh.draw().map_err(plot_err)?;

    let series: [(&str, &[f64], usize, RGBColor, Line); 5] = [
        ("RNN ‖∂L/∂h‖", &c.rnn, 0, GREY, Line::Solid),
        ("LSTM ‖∂L/∂h‖", &c.lstm_h, 0, BLUE, Line::Solid),
        ("LSTM ‖∂L/∂c‖", &c.lstm_c, 1, SKY, Line::Dashed),
        ("GRU reset-after ‖∂L/∂h‖", &c.gru, 0, ORANGE, Line::Solid),
        (
            "GRU reset-before ‖∂L/∂h‖",
            &c.gru_cho,
            0,
            PURPLE,
            Line::Dashed,
        ),
    ];
    for (name, norms, from, colour, line) in series {
        let points: Vec<(f64, f64)> = norms
            .iter()
            .enumerate()
            .skip(from) // ‖∂L/∂c_T‖ = 0: the loss reads only h_T
            .map(|(k, &n)| (k as f64, n))
            .collect();
        let style = colour.stroke_width(2);
        match line {
            Line::Solid => chart
                .draw_series(LineSeries::new(points, style))
                .map_err(plot_err)?
                .label(name)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 22, y)], style)),
            Line::Dashed => chart
                .draw_series(DashedLineSeries::new(points, 6, 4, style))
                .map_err(plot_err)?
                .label(name)
                .legend(move |(x, y)| {
                    EmptyElement::at((x, y))
                        + PathElement::new(vec![(0, 0), (8, 0)], style)
                        + PathElement::new(vec![(14, 0), (22, 0)], style)
                }),
        };
    }
    if legend {
        draw_legend(&mut chart, SeriesLabelPosition::LowerLeft, 12)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gradient_norm_figure_draws_every_series_in_both_panels() {
        let Some(svg) = crate::figures::drawn_unless_unsolved(gradient_norms) else {
            return; // a student edition's figure waits for its exercises
        };
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        for name in ["RNN", "LSTM", "GRU reset-after", "GRU reset-before"] {
            assert!(svg.contains(name), "legend lacks {name}");
        }
        // Five series per panel; the dashed ones are drawn as many short segments.
        assert!(svg.matches("<polyline").count() >= 10);
    }
}
