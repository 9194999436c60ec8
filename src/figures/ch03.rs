//! Chapter 3's figures: gradient norms against distance, and the clipping experiment.

use std::path::Path;

use anyhow::{Result, bail, ensure};
use ch03_clipping::experiment::{self, Row};
use plotters::prelude::*;

use super::Figure;
use super::style::{
    AXIS_TEXT, BLUE, BookMesh, FONT, GREEN, MID_GREY, ORANGE, PANEL_AXIS_TEXT, draw_legend,
    plot_err, svg_document,
};

/// Chapter 3's figures.
pub fn figures() -> Vec<Figure> {
    vec![
        Figure {
            file: "ch03-gradient-norms.svg",
            draw: gradient_norms,
        },
        Figure {
            file: "ch03-clipping-experiment.svg",
            draw: clipping_experiment,
        },
    ]
}

fn rho_colour(rho: f64) -> RGBColor {
    if rho < 0.95 {
        BLUE
    } else if rho < 1.05 {
        GREEN
    } else {
        ORANGE
    }
}

/// Chapter 3 (a): `‖∂L/∂h_t‖` against the distance `T − t`, three spectral radii, two regimes.
fn gradient_norms() -> Result<String> {
    use ch03_clipping::dynamics::{FIGURE_SEQ_LEN, Regime, figure_curves};

    // The y axis is log10 of the norm on a linear scale, so every label can be placed exactly.
    let curves = figure_curves();
    let all = curves.iter().flat_map(|c| c.norms.iter().copied());
    let (lo, hi) = all.fold((1.0f64, 1.0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if !(lo > 0.0 && hi.is_finite()) {
        bail!("gradient norms out of range: {lo} … {hi}");
    }
    let (y_min, y_max) = (lo.log10().floor() - 1.0, hi.log10().ceil() + 1.0);

    svg_document(|root| {
        let mut chart = ChartBuilder::on(root)
            .caption(
                "Gradient norm ‖∂L/∂h_t‖ against distance T − t, for spectral radius ρ of W_hh",
                (FONT, 19),
            )
            .margin(16)
            .x_label_area_size(48)
            .y_label_area_size(72)
            .build_cartesian_2d(0.0..FIGURE_SEQ_LEN as f64, y_min..y_max)
            .map_err(plot_err)?;
        chart
            .configure_mesh()
            .x_desc("distance k = T − t (steps back from the loss)")
            .y_desc("‖∂L/∂h_t‖ (log scale)")
            .x_label_formatter(&|v| format!("{v:.0}"))
            .y_labels((y_max - y_min) as usize + 1)
            .y_label_formatter(&|v| {
                let e = v.round() as i32;
                if e % 4 == 0 && (v - v.round()).abs() < 1e-9 {
                    format!("1e{e}")
                } else {
                    String::new()
                }
            })
            .book_style(AXIS_TEXT)
            .draw()
            .map_err(plot_err)?;
        for c in &curves {
            let colour = rho_colour(c.rho);
            let points: Vec<(f64, f64)> = c
                .norms
                .iter()
                .enumerate()
                .map(|(k, &n)| (k as f64, n.log10()))
                .collect();
            let style = colour.stroke_width(2);
            match c.regime {
                Regime::Linear => chart
                    .draw_series(LineSeries::new(points, style))
                    .map_err(plot_err)?
                    .label(format!("ρ = {}, tanh nearly linear", c.rho))
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], style)),
                Regime::Saturated => chart
                    .draw_series(DashedLineSeries::new(points, 7, 5, style))
                    .map_err(plot_err)?
                    .label(format!("ρ = {}, tanh saturated", c.rho))
                    .legend(move |(x, y)| {
                        EmptyElement::at((x, y))
                            + PathElement::new(vec![(0, 0), (9, 0)], style)
                            + PathElement::new(vec![(15, 0), (24, 0)], style)
                    }),
            };
        }
        draw_legend(&mut chart, SeriesLabelPosition::LowerLeft, 14)?;
        Ok(())
    })
}

/// Reads the committed CSV with its owner, chapter 3's [`experiment`] module.
fn read_experiment(path: &Path) -> Result<Vec<Row>> {
    let rows = experiment::read_csv(path).map_err(anyhow::Error::msg)?;
    ensure!(!rows.is_empty(), "{}: no data rows", path.display());
    Ok(rows)
}

/// The finite points of one column, up to where the run stopped.
fn column(rows: &[Row], field: fn(&Row) -> Option<f64>) -> Vec<(f64, f64)> {
    rows.iter()
        .map_while(|r| field(r).map(|y| (r.step as f64, y)))
        .filter(|(_, y)| y.is_finite() && *y > 0.0)
        .collect()
}

/// Chapter 3 (b): loss and gradient norm of the unclipped and the clipped run.
fn clipping_experiment() -> Result<String> {
    let rows = read_experiment(&experiment::committed_csv_path())?;
    let steps = rows.last().map_or(1, |r| r.step + 1) as f64;
    let (loss_u, loss_c, norm_u, norm_c) = (
        column(&rows, |r| r.loss_unclipped),
        column(&rows, |r| r.loss_clipped),
        column(&rows, |r| r.grad_norm_unclipped),
        column(&rows, |r| r.grad_norm_clipped),
    );
    let range = |cols: [&Vec<(f64, f64)>; 2]| {
        let ys = cols.iter().flat_map(|c| c.iter().map(|p| p.1));
        let (lo, hi) = ys.fold((f64::INFINITY, 0.0f64), |(lo, hi), y| {
            (lo.min(y), hi.max(y))
        });
        (
            10f64.powf(lo.log10().floor()),
            10f64.powf(hi.log10().ceil()),
        )
    };
    let (loss_lo, loss_hi) = range([&loss_u, &loss_c]);
    let (norm_lo, norm_hi) = range([&norm_u, &norm_c]);

    svg_document(|root| {
        let (top, bottom) = root.split_vertically(230);
        let panels = [
            (
                top,
                "Loss per character (log scale)",
                (loss_lo, loss_hi),
                [&loss_u, &loss_c],
            ),
            (
                bottom,
                "Gradient norm before clipping (log scale)",
                (norm_lo, norm_hi),
                [&norm_u, &norm_c],
            ),
        ];
        for (i, (area, y_desc, (lo, hi), [unclipped, clipped])) in panels.into_iter().enumerate() {
            let mut builder = ChartBuilder::on(&area);
            builder
                .margin(10)
                .x_label_area_size(if i == 1 { 44 } else { 8 })
                .y_label_area_size(72);
            if i == 0 {
                builder.caption(
                    "Plain SGD (lr 1) on the delayed echo: unclipped vs clipped to norm 1",
                    (FONT, 19),
                );
            }
            let mut chart = builder
                .build_cartesian_2d(0.0..steps, (lo..hi).log_scale())
                .map_err(plot_err)?;
            let mut mesh = chart.configure_mesh();
            mesh.y_desc(y_desc)
                .x_label_formatter(&|v| format!("{v:.0}"))
                .y_label_formatter(&|v| format!("{v:.0e}"))
                .book_style(PANEL_AXIS_TEXT);
            if i == 1 {
                mesh.x_desc("training step");
            } else {
                mesh.x_label_formatter(&|_| String::new());
            }
            mesh.draw().map_err(plot_err)?;
            for (data, colour, name) in [
                (unclipped, ORANGE, "unclipped"),
                (clipped, BLUE, "clipped by global norm"),
            ] {
                let drawn = chart
                    .draw_series(LineSeries::new(
                        data.iter().copied(),
                        colour.stroke_width(1),
                    ))
                    .map_err(plot_err)?;
                if i == 0 {
                    // One legend for both panels: the colours mean the same in each.
                    drawn.label(name).legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 24, y)], colour.stroke_width(2))
                    });
                }
            }
            let (level, text) = if i == 0 {
                (
                    5.0 / 6.0 * 8f64.ln(),
                    "1.733: blanks right, no memory".to_string(),
                )
            } else {
                (1.0, "threshold max_norm = 1".to_string())
            };
            chart
                .draw_series(DashedLineSeries::new(
                    [(0.0, level), (steps, level)],
                    6,
                    4,
                    MID_GREY.stroke_width(1),
                ))
                .map_err(plot_err)?
                .label(text)
                .legend(|(x, y)| {
                    PathElement::new(vec![(x, y), (x + 24, y)], MID_GREY.stroke_width(1))
                });
            draw_legend(
                &mut chart,
                if i == 0 {
                    SeriesLabelPosition::LowerLeft
                } else {
                    SeriesLabelPosition::UpperLeft
                },
                13,
            )?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_experiment_file_is_named() {
        let e = read_experiment(Path::new("/nonexistent/clipping_experiment.csv")).unwrap_err();
        let msg = format!("{e:#}");
        assert!(
            msg.contains("clipping_experiment.csv") && msg.contains("--example"),
            "{msg}"
        );
    }

    #[test]
    fn the_committed_experiment_parses() {
        let rows = read_experiment(&experiment::committed_csv_path()).unwrap();
        assert!(rows.len() > 100);
        assert_eq!(rows[0].step, 0);
        assert!(column(&rows, |r| r.loss_clipped).len() == rows.len());
    }
}
