//! Chapter 3's figures: gradient norms against distance, and the clipping experiment
//! (one seed in detail, and the spread over seeds).

use std::path::Path;

use anyhow::{Result, bail, ensure};
use ch03_clipping::experiment::{self, Row};
use ch03_clipping::seeds::{self, SeedCurves};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::Figure;
use super::style::{
    AXIS_TEXT, BLUE, BookMesh, FONT, GREEN, MID_GREY, ORANGE, PANEL_AXIS_TEXT, WIDTH, draw_legend,
    plot_err, svg_document, svg_document_sized,
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

/// Reads the committed sweep over seeds with its owner, chapter 3's [`seeds`] module.
fn read_seeds(path: &Path) -> Result<Vec<SeedCurves>> {
    let curves = seeds::read_csv(path).map_err(anyhow::Error::msg)?;
    ensure!(!curves.is_empty(), "{}: no data rows", path.display());
    Ok(curves)
}

/// The points of one curve: `(step, value)`.
type Curve = Vec<(f64, f64)>;

/// One run's sampled running means, up to where the run stopped.
fn seed_points(steps: &[usize], means: &[Option<f64>]) -> Curve {
    steps
        .iter()
        .zip(means)
        .map_while(|(&s, m)| m.map(|y| (s as f64, y)))
        .filter(|(_, y)| y.is_finite() && *y > 0.0)
        .collect()
}

/// Powers of ten around the positive values of some curves.
fn log_range<'a>(curves: impl IntoIterator<Item = &'a Vec<(f64, f64)>>) -> (f64, f64) {
    let ys = curves.into_iter().flat_map(|c| c.iter().map(|p| p.1));
    let (lo, hi) = ys.fold((f64::INFINITY, 0.0f64), |(lo, hi), y| {
        (lo.min(y), hi.max(y))
    });
    (
        10f64.powf(lo.log10().floor()),
        10f64.powf(hi.log10().ceil()),
    )
}

/// The loss of a model that gets the blanks right and remembers nothing,
/// `(T − D)/T · ln(symbols)`: 1.733 for the delayed echo.
fn memoryless() -> f64 {
    let c = experiment::EXPERIMENT;
    (c.seq_len - c.delay) as f64 / c.seq_len as f64 * (c.symbols as f64).ln()
}

/// Chapter 3 (b): loss and gradient norm of the unclipped and the clipped run of seed
/// 1, then the running mean of the loss of both runs for every seed of the sweep.
fn clipping_experiment() -> Result<String> {
    let rows = read_experiment(&experiment::committed_csv_path())?;
    let sweep = read_seeds(&seeds::committed_csv_path())?;
    let steps = rows.last().map_or(1, |r| r.step + 1) as f64;
    let (loss_u, loss_c, norm_u, norm_c) = (
        column(&rows, |r| r.loss_unclipped),
        column(&rows, |r| r.loss_clipped),
        column(&rows, |r| r.grad_norm_unclipped),
        column(&rows, |r| r.grad_norm_clipped),
    );
    // (seed, unclipped, clipped), seed 1 last so that it is drawn on top.
    let mut spread: Vec<(u64, Curve, Curve)> = sweep
        .iter()
        .map(|c| {
            (
                c.seed,
                seed_points(&c.steps, &c.unclipped),
                seed_points(&c.steps, &c.clipped),
            )
        })
        .collect();
    spread.sort_by_key(|(seed, ..)| *seed == experiment::EXPERIMENT.seed);
    let bold_seed = experiment::EXPERIMENT.seed;
    ensure!(
        spread.last().is_some_and(|s| s.0 == bold_seed),
        "the sweep has no seed {bold_seed}"
    );
    let others = {
        let mut o: Vec<u64> = spread
            .iter()
            .map(|s| s.0)
            .filter(|&s| s != bold_seed)
            .collect();
        o.sort_unstable();
        match (o.first(), o.last()) {
            (Some(a), Some(b)) if a != b => format!("seeds {a}–{b}"),
            (Some(a), _) => format!("seed {a}"),
            _ => "no other seed".to_string(),
        }
    };
    let (loss_lo, loss_hi) = log_range(
        [&loss_u, &loss_c]
            .into_iter()
            .chain(spread.iter().flat_map(|(_, u, c)| [u, c])),
    );
    let (norm_lo, norm_hi) = log_range([&norm_u, &norm_c]);

    svg_document_sized((WIDTH, 700), |root| {
        let (top, rest) = root.split_vertically(240);
        let (middle, bottom) = rest.split_vertically(200);
        let panels = [
            (
                top,
                "Loss per character (log scale)",
                (loss_lo, loss_hi),
                [&loss_u, &loss_c],
            ),
            (
                middle,
                "Gradient norm before clipping",
                (norm_lo, norm_hi),
                [&norm_u, &norm_c],
            ),
        ];
        for (i, (area, y_desc, (lo, hi), [unclipped, clipped])) in panels.into_iter().enumerate() {
            let mut builder = ChartBuilder::on(&area);
            builder
                .margin(10)
                .x_label_area_size(8)
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
            chart
                .configure_mesh()
                .y_desc(y_desc)
                .x_label_formatter(&|_| String::new())
                .y_label_formatter(&|v| format!("{v:.0e}"))
                .book_style(PANEL_AXIS_TEXT)
                .draw()
                .map_err(plot_err)?;
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
                (memoryless(), "1.733: blanks right, no memory")
            } else {
                (1.0, "threshold max_norm = 1")
            };
            reference_line(&mut chart, steps, level, text)?;
            panel_label(
                &mut chart,
                (steps, hi),
                format!("seed {bold_seed}, every step"),
            )?;
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

        // The spread over seeds: every seed thin, the seed above bold.
        let mut chart = ChartBuilder::on(&bottom)
            .margin(10)
            .x_label_area_size(44)
            .y_label_area_size(72)
            .build_cartesian_2d(0.0..steps, (loss_lo..loss_hi).log_scale())
            .map_err(plot_err)?;
        chart
            .configure_mesh()
            .x_desc("training step")
            .y_desc("100-step mean loss")
            .x_label_formatter(&|v| format!("{v:.0}"))
            .y_label_formatter(&|v| format!("{v:.0e}"))
            .book_style(PANEL_AXIS_TEXT)
            .draw()
            .map_err(plot_err)?;
        for (seed, unclipped, clipped) in &spread {
            let width = if *seed == bold_seed { 3 } else { 1 };
            for (data, colour) in [(unclipped, ORANGE), (clipped, BLUE)] {
                let style = if *seed == bold_seed {
                    colour.stroke_width(width)
                } else {
                    colour.mix(0.6).stroke_width(width)
                };
                chart
                    .draw_series(LineSeries::new(data.iter().copied(), style))
                    .map_err(plot_err)?;
            }
        }
        for (colour, name) in [(ORANGE, "unclipped"), (BLUE, "clipped")] {
            chart
                .draw_series(std::iter::empty::<PathElement<(f64, f64)>>())
                .map_err(plot_err)?
                .label(format!("{name}: seed {bold_seed} bold, {others} thin"))
                .legend(move |(x, y)| {
                    EmptyElement::at((x, y))
                        + PathElement::new(vec![(0, 0), (10, 0)], colour.stroke_width(3))
                        + PathElement::new(vec![(14, 0), (24, 0)], colour.mix(0.6).stroke_width(1))
                });
        }
        reference_line(
            &mut chart,
            steps,
            memoryless(),
            "1.733: blanks right, no memory",
        )?;
        panel_label(
            &mut chart,
            (steps, loss_hi),
            format!("seed {bold_seed} and {others}, mean of the last 100 steps"),
        )?;
        draw_legend(&mut chart, SeriesLabelPosition::LowerLeft, 13)?;
        Ok(())
    })
}

type LogChart<'a, 'b> = ChartContext<
    'a,
    SVGBackend<'b>,
    Cartesian2d<
        plotters::coord::types::RangedCoordf64,
        plotters::coord::combinators::LogCoord<f64>,
    >,
>;

/// A dashed grey line across the panel at `level`, with its legend entry.
fn reference_line(chart: &mut LogChart<'_, '_>, steps: f64, level: f64, text: &str) -> Result<()> {
    chart
        .draw_series(DashedLineSeries::new(
            [(0.0, level), (steps, level)],
            6,
            4,
            MID_GREY.stroke_width(1),
        ))
        .map_err(plot_err)?
        .label(text)
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], MID_GREY.stroke_width(1)));
    Ok(())
}

/// What a panel shows, at its top right corner `corner` (in data coordinates).
fn panel_label(chart: &mut LogChart<'_, '_>, corner: (f64, f64), text: String) -> Result<()> {
    let style = TextStyle::from((FONT, 14).into_font()).pos(Pos::new(HPos::Right, VPos::Top));
    chart
        .draw_series(std::iter::once(
            EmptyElement::at(corner) + Text::new(text, (-8, 6), style),
        ))
        .map_err(plot_err)?;
    Ok(())
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

    #[test]
    fn the_committed_sweep_parses_and_a_missing_one_is_named() {
        let curves = read_seeds(&seeds::committed_csv_path()).unwrap();
        assert_eq!(curves.len(), seeds::SEEDS.len());
        let c = &curves[0];
        assert_eq!(seed_points(&c.steps, &c.clipped).len(), c.steps.len());
        let e = read_seeds(Path::new("/nonexistent/clipping_seeds.csv")).unwrap_err();
        assert!(format!("{e:#}").contains("--sweep"), "{e:#}");
        assert!((memoryless() - 1.733).abs() < 5e-4);
    }
}
