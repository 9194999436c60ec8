//! Chapter 4's figures: the source post's gradient errors, and how far back gradients reach.

use anyhow::Result;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::Figure;
use super::diagram::{
    Area, NODE_R, arrow, dot, frame, node, path_arrow, text, text_left, text_right,
};
use super::style::{
    AXIS_TEXT, BLUE, BookMesh, FONT, GREEN, GREY, ORANGE, PURPLE, draw_axes, draw_legend, plot_err,
    svg_document, svg_document_sized,
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
        Figure {
            file: "ch04-lstm-cell.svg",
            draw: lstm_cell,
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

/// The LSTM diagram: the carousel's height, and where the gate boxes sit.
const CAROUSEL_Y: i32 = 104;
const GATE_Y: i32 = 268;
/// The pre-activation box.
const PRE_TOP: i32 = 338;
const PRE_BOTTOM: i32 = 378;

/// A gate box of [`lstm_cell`]: its equation, the rows of `weight_ih`/`weight_hh` it uses.
fn gate_box(root: &Area<'_>, cx: i32, eq: &str, rows: &str, color: RGBColor) -> Result<()> {
    frame(
        root,
        (cx - 54, GATE_Y - 24),
        (cx + 54, GATE_Y + 24),
        color,
        0.12,
    )?;
    text(root, eq, (cx, GATE_Y - 8), 16, BLACK)?;
    text(root, rows, (cx, GATE_Y + 12), 12, GREY)?;
    // Its pre-activation block comes up from the box below.
    arrow(root, (cx, PRE_TOP), (cx, GATE_Y + 24), BLACK)
}

/// Chapter 4: one LSTM step. `x_t` and `h_{t-1}` give the four pre-activation blocks; each gate
/// applies its activation; the cell state runs along the top, `⊙ f` then `+ i ⊙ g`; `h_t` is
/// `o ⊙ tanh(c_t)`.
fn lstm_cell() -> Result<String> {
    let (width, height) = (820, 500);
    svg_document_sized((width as u32, height as u32), |root| {
        text(
            root,
            "One LSTM step: four gate blocks, and the cell state along the top",
            (width / 2, 24),
            20,
            BLACK,
        )?;
        let (left, right) = (150, 730);
        frame(root, (left, 62), (right, 400), BLUE, 0.06)?;

        // x-positions: gates f, i, g, o; the nodes above them.
        let (xf, xi, xg, xo) = (250, 370, 510, 630);
        let (x_plus, x_tanh) = (440, 690);
        let (mul_y, out_y) = (184, 206);

        // The carousel: c_{t-1} → ⊙ f → + i⊙g → c_t.
        text(root, "cₜ₋₁", (40, CAROUSEL_Y - 16), 17, BLACK)?;
        arrow(root, (20, CAROUSEL_Y), (xf - NODE_R, CAROUSEL_Y), BLACK)?;
        node(root, "⊙", (xf, CAROUSEL_Y))?;
        arrow(
            root,
            (xf + NODE_R, CAROUSEL_Y),
            (x_plus - NODE_R, CAROUSEL_Y),
            BLACK,
        )?;
        node(root, "+", (x_plus, CAROUSEL_Y))?;
        arrow(
            root,
            (x_plus + NODE_R, CAROUSEL_Y),
            (width - 16, CAROUSEL_Y),
            BLACK,
        )?;
        text(root, "cₜ", (width - 40, CAROUSEL_Y - 16), 17, BLACK)?;
        text(
            root,
            "the carousel: cₜ = f ⊙ cₜ₋₁ + i ⊙ g",
            ((xf + x_plus) / 2 + 20, 80),
            14,
            GREY,
        )?;

        // f scales the old cell state; i ⊙ g is added to it.
        arrow(root, (xf, GATE_Y - 24), (xf, CAROUSEL_Y + NODE_R), BLACK)?;
        text_left(root, "f", (xf + 7, 200), 15, BLACK)?;
        node(root, "⊙", (x_plus, mul_y))?;
        path_arrow(
            root,
            &[(xi, GATE_Y - 24), (xi, mul_y), (x_plus - NODE_R, mul_y)],
            BLACK,
        )?;
        text_left(root, "i", (xi + 7, 214), 15, BLACK)?;
        path_arrow(
            root,
            &[(xg, GATE_Y - 24), (xg, mul_y), (x_plus + NODE_R, mul_y)],
            BLACK,
        )?;
        text_left(root, "g", (xg + 7, 214), 15, BLACK)?;
        arrow(
            root,
            (x_plus, mul_y - NODE_R),
            (x_plus, CAROUSEL_Y + NODE_R),
            BLACK,
        )?;
        text_left(root, "i ⊙ g", (x_plus + 7, 144), 14, BLACK)?;

        // h_t = o ⊙ tanh(c_t).
        dot(root, (x_tanh, CAROUSEL_Y), BLACK)?;
        arrow(root, (x_tanh, CAROUSEL_Y), (x_tanh, 134), BLACK)?;
        frame(root, (x_tanh - 26, 134), (x_tanh + 26, 158), GREY, 0.10)?;
        text(root, "tanh", (x_tanh, 146), 15, BLACK)?;
        arrow(root, (x_tanh, 158), (x_tanh, out_y - NODE_R), BLACK)?;
        node(root, "⊙", (x_tanh, out_y))?;
        path_arrow(
            root,
            &[(xo, GATE_Y - 24), (xo, out_y), (x_tanh - NODE_R, out_y)],
            BLACK,
        )?;
        text_left(root, "o", (xo + 7, 232), 15, BLACK)?;
        arrow(root, (x_tanh + NODE_R, out_y), (width - 16, out_y), BLACK)?;
        text_right(root, "hₜ = yₜ", (width - 14, out_y - 16), 17, BLACK)?;

        // The gates: columns of a, i.e. row blocks of weight_ih and weight_hh, in order i, f, g, o.
        gate_box(root, xf, "f = σ(a_f)", "rows H..2H", GREEN)?;
        gate_box(root, xi, "i = σ(a_i)", "rows 0..H", GREEN)?;
        gate_box(root, xg, "g = tanh(a_g)", "rows 2H..3H", PURPLE)?;
        gate_box(root, xo, "o = σ(a_o)", "rows 3H..4H", GREEN)?;

        // The pre-activations of all four blocks, one product each side.
        frame(root, (190, PRE_TOP), (690, PRE_BOTTOM), ORANGE, 0.12)?;
        text(
            root,
            "a = xₜ W_ihᵀ + b_ih + hₜ₋₁ W_hhᵀ + b_hh",
            (420, (PRE_TOP + PRE_BOTTOM) / 2),
            16,
            BLACK,
        )?;
        text_right(root, "[B, 4H]", (682, (PRE_TOP + PRE_BOTTOM) / 2), 14, GREY)?;
        text(root, "hₜ₋₁", (40, 344), 17, BLACK)?;
        arrow(root, (20, 358), (190, 358), BLACK)?;
        arrow(root, (300, 450), (300, PRE_BOTTOM), BLACK)?;
        text_left(root, "xₜ", (308, 440), 17, BLACK)?;
        text(
            root,
            "σ: sigmoid; ⊙: entry by entry; column blocks i, f, g, o of a = row blocks of \
             weight_ih, weight_hh",
            (width / 2, 478),
            13,
            GREY,
        )?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::figures::drawn_unless_unsolved;

    #[test]
    fn the_lstm_cell_diagram_names_every_gate_and_the_carousel() {
        let svg = lstm_cell().unwrap();
        let labels = crate::figures::diagram::labels(&svg);
        for s in [
            "i = σ(a_i)",
            "f = σ(a_f)",
            "g = tanh(a_g)",
            "o = σ(a_o)",
            "rows 0..H",
            "rows 3H..4H",
            "cₜ₋₁",
            "cₜ",
            "hₜ₋₁",
            "xₜ",
            "hₜ = yₜ",
            "the carousel: cₜ = f ⊙ cₜ₋₁ + i ⊙ g",
            "a = xₜ W_ihᵀ + b_ih + hₜ₋₁ W_hhᵀ + b_hh",
            "[B, 4H]",
        ] {
            assert!(labels.iter().any(|l| l == s), "{s} in {labels:?}");
        }
        assert_eq!(labels.iter().filter(|l| *l == "⊙").count(), 3);
    }

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
