//! Chapter 4's figures: the source post's gradient errors, and how far back gradients reach.

use anyhow::Result;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::Figure;
use super::style::{
    AXIS_TEXT, BLUE, BookMesh, FONT, GREEN, ORANGE, draw_axes, draw_legend, plot_err, svg_document,
};

/// Chapter 4's figures.
pub fn figures() -> Vec<Figure> {
    vec![
        Figure {
            file: "ch04-source-port-errors.svg",
            draw: source_port_errors,
        },
        Figure {
            file: "ch04-gradient-flow.svg",
            draw: gradient_flow,
        },
    ]
}

/// Chapter 4: per-block relative gradient error of the source post's backward, as printed and
/// with every bug fixed (log scale).
fn source_port_errors() -> Result<String> {
    use ch00_foundations::tolerance::GRAD_CHECK_RTOL;
    use ch04_lstm::errata::source_port_errors;

    let errors = source_port_errors();
    // Four gate blocks per family, a gap between families: x positions 0–3, 5–8, 10–13, 15.
    let x_of = |k: usize| (k + k / 4) as f64;
    let families = [
        ("weight_ih", 1.5),
        ("weight_hh", 6.5),
        ("bias_ih, bias_hh", 11.5),
        ("h0", 15.0),
    ];
    let (y_min, y_max) = (1e-11, 10.0);
    let floor = |v: f64| v.max(y_min);

    svg_document(|whole| {
        // The chart on top, a legend strip below it (the bars leave no room inside).
        let (root, legend) = whole.split_vertically(super::style::HEIGHT - 44);
        let root = &root;
        let mut chart = ChartBuilder::on(root)
            .caption(
                "Source post's LSTM backward: gradient-check error per block",
                (FONT, 22),
            )
            .margin(16)
            .x_label_area_size(58)
            .y_label_area_size(72)
            .build_cartesian_2d(-0.8f64..15.8f64, (y_min..y_max).log_scale())
            .map_err(plot_err)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .disable_x_axis()
            .y_desc("max relative error")
            .y_label_formatter(&|v| format!("{v:.0e}"))
            .book_style(AXIS_TEXT)
            .draw()
            .map_err(plot_err)?;

        let tol = GRAD_CHECK_RTOL;
        chart
            .draw_series(LineSeries::new(
                [(-0.8, tol), (15.8, tol)],
                BLACK.mix(0.6).stroke_width(1),
            ))
            .map_err(plot_err)?;

        let bar = |x: f64, value: f64, color: RGBColor| {
            Rectangle::new([(x, y_min), (x + 0.36, floor(value))], color.filled())
        };
        chart
            .draw_series(
                errors
                    .iter()
                    .enumerate()
                    .map(|(k, e)| bar(x_of(k) - 0.38, e.as_printed, ORANGE)),
            )
            .map_err(plot_err)?;
        chart
            .draw_series(
                errors
                    .iter()
                    .enumerate()
                    .map(|(k, e)| bar(x_of(k) + 0.02, e.fixed, BLUE)),
            )
            .map_err(plot_err)?;

        // Gate letters under each pair, family names under each group.
        let gate_style = TextStyle::from((FONT, 14)).pos(Pos::new(HPos::Center, VPos::Top));
        let family_style = TextStyle::from((FONT, 15)).pos(Pos::new(HPos::Center, VPos::Top));
        for (k, e) in errors.iter().enumerate() {
            let label = e
                .name
                .split_once('[')
                .map(|(_, g)| g.trim_end_matches(']'))
                .unwrap_or("");
            let (px, py) = chart.backend_coord(&(x_of(k), y_min));
            root.draw(&Text::new(
                label.to_string(),
                (px, py + 6),
                gate_style.clone(),
            ))
            .map_err(plot_err)?;
        }
        for (name, x) in families {
            let (px, py) = chart.backend_coord(&(x, y_min));
            root.draw(&Text::new(name, (px, py + 26), family_style.clone()))
                .map_err(plot_err)?;
        }
        let text = TextStyle::from((FONT, 14)).pos(Pos::new(HPos::Left, VPos::Center));
        let y = 18;
        let mut x = 110;
        for (color, name) in [
            (ORANGE, "as printed (all four bugs)"),
            (BLUE, "every bug fixed"),
        ] {
            legend
                .draw(&Rectangle::new(
                    [(x, y - 7), (x + 22, y + 7)],
                    color.filled(),
                ))
                .map_err(plot_err)?;
            legend
                .draw(&Text::new(name, (x + 30, y), text.clone()))
                .map_err(plot_err)?;
            x += 230;
        }
        legend
            .draw(&PathElement::new(
                vec![(x, y), (x + 22, y)],
                BLACK.mix(0.6).stroke_width(1),
            ))
            .map_err(plot_err)?;
        legend
            .draw(&Text::new(
                format!("tolerance {tol:.0e}"),
                (x + 30, y),
                text,
            ))
            .map_err(plot_err)?;
        Ok(())
    })
}

/// Chapter 4: `‖∂L/∂h_t‖` and `‖∂L/∂c_t‖` against the distance `T − t`, for chapter 1's RNN and
/// the LSTM with forget bias +0 and +3, on the same sequence, loss on `h_T` only.
fn gradient_flow() -> Result<String> {
    use ch04_lstm::flow::{FIGURE_FLOW, gradient_flow};

    let flow = gradient_flow(FIGURE_FLOW, &[0.0, 3.0]);
    let points = |v: &[f64]| -> Vec<(f64, f64)> {
        v.iter()
            .enumerate()
            .map(|(k, &y)| (k as f64, y.max(1e-17)))
            .collect()
    };
    let x_max = (FIGURE_FLOW.seq_len - 1) as f64;
    let mut series = vec![(
        points(&flow.rnn_dh),
        GREEN,
        true,
        "RNN  ‖∂L/∂h_t‖".to_string(),
    )];
    for (lstm, colour) in flow.lstm.iter().zip([BLUE, ORANGE]) {
        let bias = format!("LSTM, forget bias +{}", lstm.forget_bias);
        let dc = format!("{bias} (mean f = {:.2})  ‖∂L/∂c_t‖", lstm.mean_forget);
        series.push((points(&lstm.dc), colour, true, dc));
        series.push((
            points(&lstm.dh),
            colour,
            false,
            format!("{bias}  ‖∂L/∂h_t‖"),
        ));
    }

    svg_document(|root| {
        let mut chart = ChartBuilder::on(root)
            .caption(
                "How far back the gradient of h_T reaches (T = 60, H = 16)",
                (FONT, 22),
            )
            .margin(16)
            .x_label_area_size(48)
            .y_label_area_size(72)
            .build_cartesian_2d(0f64..x_max, (1e-17..3.0).log_scale())
            .map_err(plot_err)?;
        draw_axes(
            &mut chart,
            ("distance T − t (steps back from the loss)", "gradient norm"),
            &|v| format!("{v:.0}"),
            &|v| format!("{v:.0e}"),
        )?;
        for (data, color, solid, name) in series {
            let style = if solid {
                color.stroke_width(3)
            } else {
                color.mix(0.8).stroke_width(1)
            };
            chart
                .draw_series(LineSeries::new(data.iter().copied(), style))
                .map_err(plot_err)?
                .label(name)
                .legend(move |(x, y)| {
                    let s = if solid {
                        color.stroke_width(3)
                    } else {
                        color.mix(0.8).stroke_width(1)
                    };
                    PathElement::new(vec![(x, y), (x + 20, y)], s)
                });
            if !solid {
                chart
                    .draw_series(
                        data.iter()
                            .step_by(3)
                            .map(|&p| Circle::new(p, 3, color.filled())),
                    )
                    .map_err(plot_err)?;
            }
        }
        draw_legend(&mut chart, SeriesLabelPosition::LowerLeft, 13)?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::figures::drawn_unless_unsolved;

    #[test]
    fn the_errata_bars_and_the_flow_curves_are_all_there() {
        if let Some(bars) = drawn_unless_unsolved(source_port_errors) {
            assert!(bars.matches("<rect").count() >= 26, "13 pairs of bars");
            assert!(bars.contains("weight_hh") && bars.contains("h0"));
        }
        if let Some(flow) = drawn_unless_unsolved(gradient_flow) {
            assert!(flow.matches("<polyline").count() >= 5, "five curves");
        }
    }
}
