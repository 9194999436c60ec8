//! Chapter 5's figures: the GRU cell in both variants, and how far back a gradient reaches in
//! the RNN, the LSTM and both GRUs.

use anyhow::{Result, bail};
use plotters::coord::Shift;
use plotters::prelude::*;

use super::Figure;
use super::diagram::{
    Area, NODE_R, arrow, chip, dot, frame, labelled_box, line, node, path_arrow, text, text_left,
};
use super::style::{
    BLUE, BookMesh, FONT, GREEN, GREY, LIGHT_GREY, ORANGE, PANEL_AXIS_TEXT, PURPLE, SKY,
    draw_legend, plot_err, svg_document, svg_document_sized,
};

/// Chapter 5's figures.
pub fn figures() -> Vec<Figure> {
    vec![
        Figure {
            file: "ch05-gru-cell.svg",
            draw: gru_cell,
        },
        Figure {
            file: "ch05-gradient-norms.svg",
            draw: gradient_norms,
        },
    ]
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

/// Width of one panel of [`gru_cell`].
const PANEL_W: i32 = 470;
/// Heights of the state line along the top and of the candidate's row.
const STATE_Y: i32 = 116;
const CAND_Y: i32 = 262;

/// Chapter 5: one GRU step in each variant. Everything is the same but the order in which the
/// reset gate and `W_hn` meet the old state on the candidate's row.
fn gru_cell() -> Result<String> {
    let (width, height) = (2 * PANEL_W, 500);
    svg_document_sized((width as u32, height as u32), |root| {
        text(
            root,
            "One GRU step, two variants: where the reset gate r meets hₜ₋₁",
            (width / 2, 24),
            20,
            BLACK,
        )?;
        gru_panel(root, 0, GruPanel::ResetAfter)?;
        line(root, &[(PANEL_W, 50), (PANEL_W, 450)], LIGHT_GREY)?;
        gru_panel(root, PANEL_W, GruPanel::ResetBefore)?;
        text(
            root,
            "in both: r = σ(xₜ W_irᵀ + b_ir + hₜ₋₁ W_hrᵀ + b_hr), z likewise; \
             hₜ = (1 − z) ⊙ n + z ⊙ hₜ₋₁",
            (width / 2, 478),
            14,
            GREY,
        )?;
        Ok(())
    })
}

/// The variant a panel of [`gru_cell`] draws.
#[derive(Clone, Copy, PartialEq)]
enum GruPanel {
    ResetAfter,
    ResetBefore,
}

/// One panel of [`gru_cell`], its left edge at `ox`.
fn gru_panel(root: &Area<'_>, ox: i32, v: GruPanel) -> Result<()> {
    let x = |dx: i32| ox + dx;
    let (title, equation) = match v {
        GruPanel::ResetAfter => (
            "reset-after: nn.GRU, cuDNN",
            "n = tanh(xₜ W_inᵀ + b_in + r ⊙ (hₜ₋₁ W_hnᵀ + b_hn))",
        ),
        GruPanel::ResetBefore => (
            "reset-before: Cho et al. 2014",
            "n = tanh(xₜ W_inᵀ + b_in + (r ⊙ hₜ₋₁) W_hnᵀ + b_hn)",
        ),
    };
    text(root, title, (x(PANEL_W / 2), 62), 17, BLACK)?;
    frame(root, (x(60), 84), (x(440), 380), BLUE, 0.05)?;

    // The state line: h_{t-1} → ⊙ z → + (1 − z) ⊙ n → h_t.
    let (x_keep, x_mix) = (300, 410);
    text(root, "hₜ₋₁", (x(34), STATE_Y - 16), 16, BLACK)?;
    arrow(root, (x(14), STATE_Y), (x(x_keep - NODE_R), STATE_Y), BLACK)?;
    node(root, "⊙", (x(x_keep), STATE_Y))?;
    chip(root, "z", (x(x_keep), STATE_Y + 40), 26, GREEN)?;
    arrow(
        root,
        (x(x_keep), STATE_Y + 29),
        (x(x_keep), STATE_Y + NODE_R),
        GREEN,
    )?;
    arrow(
        root,
        (x(x_keep + NODE_R), STATE_Y),
        (x(x_mix - NODE_R), STATE_Y),
        BLACK,
    )?;
    node(root, "+", (x(x_mix), STATE_Y))?;
    arrow(
        root,
        (x(x_mix + NODE_R), STATE_Y),
        (x(PANEL_W - 8), STATE_Y),
        BLACK,
    )?;
    text(root, "hₜ", (x(448), STATE_Y - 16), 16, BLACK)?;
    let new_y = STATE_Y + 80;
    node(root, "⊙", (x(x_mix), new_y))?;
    chip(root, "1 − z", (x(x_mix - 58), new_y), 50, GREEN)?;
    arrow(
        root,
        (x(x_mix - 33), new_y),
        (x(x_mix - NODE_R), new_y),
        GREEN,
    )?;
    arrow(
        root,
        (x(x_mix), new_y - NODE_R),
        (x(x_mix), STATE_Y + NODE_R),
        BLACK,
    )?;

    // The candidate's row: h_{t-1} comes down, meets r and W_hn (in the variant's order), then
    // the input side is added and tanh gives n.
    let (x_sum, x_tanh) = (300, 360);
    dot(root, (x(34), STATE_Y), BLACK)?;
    let (x_reset, w_box, w_label) = match v {
        GruPanel::ResetAfter => (245, (140, 156), "hₜ₋₁ W_hnᵀ + b_hn"),
        GruPanel::ResetBefore => (85, (190, 140), "(·) W_hnᵀ + b_hn"),
    };
    let (w_cx, w_w) = w_box;
    let first = match v {
        GruPanel::ResetAfter => w_cx - w_w / 2,
        GruPanel::ResetBefore => x_reset - NODE_R,
    };
    path_arrow(
        root,
        &[(x(34), STATE_Y), (x(34), CAND_Y), (x(first), CAND_Y)],
        BLACK,
    )?;
    labelled_box(root, w_label, (x(w_cx), CAND_Y), (w_w, 30), ORANGE, 14)?;
    node(root, "⊙", (x(x_reset), CAND_Y))?;
    chip(root, "r", (x(x_reset), CAND_Y + 42), 26, ORANGE)?;
    arrow(
        root,
        (x(x_reset), CAND_Y + 31),
        (x(x_reset), CAND_Y + NODE_R),
        ORANGE,
    )?;
    let (into_sum_from, between) = match v {
        GruPanel::ResetAfter => (x_reset + NODE_R, (w_cx + w_w / 2, x_reset - NODE_R)),
        GruPanel::ResetBefore => (w_cx + w_w / 2, (x_reset + NODE_R, w_cx - w_w / 2)),
    };
    arrow(root, (x(between.0), CAND_Y), (x(between.1), CAND_Y), BLACK)?;
    arrow(
        root,
        (x(into_sum_from), CAND_Y),
        (x(x_sum - NODE_R), CAND_Y),
        BLACK,
    )?;
    node(root, "+", (x(x_sum), CAND_Y))?;
    labelled_box(
        root,
        "xₜ W_inᵀ + b_in",
        (x(x_sum), 345),
        (140, 26),
        GREY,
        14,
    )?;
    arrow(root, (x(x_sum), 332), (x(x_sum), CAND_Y + NODE_R), BLACK)?;
    arrow(root, (x(x_sum), 404), (x(x_sum), 358), BLACK)?;
    text_left(root, "xₜ", (x(x_sum + 8), 398), 16, BLACK)?;
    arrow(
        root,
        (x(x_sum + NODE_R), CAND_Y),
        (x(x_tanh - 26), CAND_Y),
        BLACK,
    )?;
    labelled_box(root, "tanh", (x(x_tanh), CAND_Y), (52, 26), GREY, 15)?;
    path_arrow(
        root,
        &[
            (x(x_tanh + 26), CAND_Y),
            (x(x_mix), CAND_Y),
            (x(x_mix), new_y + NODE_R),
        ],
        BLACK,
    )?;
    text_left(root, "n", (x(x_mix + 7), 236), 16, BLACK)?;

    text(root, equation, (x(PANEL_W / 2), 436), 14, BLACK)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gru_diagram_puts_r_on_each_side_of_w_hn() {
        let svg = gru_cell().unwrap();
        let labels = crate::figures::diagram::labels(&svg);
        let count = |s: &str| labels.iter().filter(|l| l.as_str() == s).count();
        for s in [
            "reset-after: nn.GRU, cuDNN",
            "reset-before: Cho et al. 2014",
            "n = tanh(xₜ W_inᵀ + b_in + r ⊙ (hₜ₋₁ W_hnᵀ + b_hn))",
            "n = tanh(xₜ W_inᵀ + b_in + (r ⊙ hₜ₋₁) W_hnᵀ + b_hn)",
            "hₜ₋₁ W_hnᵀ + b_hn",
            "(·) W_hnᵀ + b_hn",
        ] {
            assert_eq!(count(s), 1, "{s} in {labels:?}");
        }
        for s in [
            "r",
            "z",
            "1 − z",
            "tanh",
            "xₜ W_inᵀ + b_in",
            "hₜ₋₁",
            "hₜ",
            "n",
        ] {
            assert_eq!(count(s), 2, "{s} once per panel in {labels:?}");
        }
        assert!(
            labels
                .iter()
                .any(|l| l.contains("hₜ = (1 − z) ⊙ n + z ⊙ hₜ₋₁"))
        );
    }

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
