//! Chapter 1's figure: the RNN unrolled over four time steps.

use anyhow::Result;
use plotters::prelude::*;

use super::Figure;
use super::diagram::{arrow, chip, sub, text, text_left};
use super::style::{BLUE, GREY, HEIGHT, ORANGE, WIDTH, plot_err, svg_document};

/// Chapter 1's figures.
pub fn figures() -> Vec<Figure> {
    vec![Figure {
        file: "ch01-unrolled.svg",
        draw: unrolled,
    }]
}

/// Number of steps drawn.
const STEPS: i32 = 4;
/// Left edge of the first cell and distance from one cell to the next.
const X0: i32 = 112;
const PITCH: i32 = 158;
/// Cell boxes.
const CELL_W: i32 = 104;
const CELL_TOP: i32 = 214;
const CELL_BOTTOM: i32 = 308;
/// Output-layer boxes.
const OUT_W: i32 = 84;
const OUT_TOP: i32 = 112;
const OUT_BOTTOM: i32 = 150;

/// Chapter 1: the cell repeated for t = 1..4, sharing one set of parameters.
fn unrolled() -> Result<String> {
    svg_document(|root| {
        text(
            root,
            "The RNN unrolled over T = 4 steps: the same weights at every step",
            (WIDTH as i32 / 2, 24),
            20,
            BLACK,
        )?;
        let cell_mid = (CELL_TOP + CELL_BOTTOM) / 2;
        for k in 0..STEPS {
            let t = k + 1;
            let left = X0 + k * PITCH;
            let cx = left + CELL_W / 2;

            // The output layer and the logits above it.
            text(root, &format!("logits{}", sub(t)), (cx, 64), 16, BLACK)?;
            arrow(root, (cx, OUT_TOP), (cx, 76), GREY)?;
            root.draw(&Rectangle::new(
                [(cx - OUT_W / 2, OUT_TOP), (cx + OUT_W / 2, OUT_BOTTOM)],
                ORANGE.mix(0.12).filled(),
            ))
            .map_err(plot_err)?;
            root.draw(&Rectangle::new(
                [(cx - OUT_W / 2, OUT_TOP), (cx + OUT_W / 2, OUT_BOTTOM)],
                ORANGE.stroke_width(2),
            ))
            .map_err(plot_err)?;
            chip(
                root,
                "W_hy, b_y",
                (cx, (OUT_TOP + OUT_BOTTOM) / 2),
                72,
                ORANGE,
            )?;

            // y_t = h_t goes up into the output layer.
            arrow(root, (cx, CELL_TOP), (cx, OUT_BOTTOM), GREY)?;
            text_left(
                root,
                &format!("y{} = h{}", sub(t), sub(t)),
                (cx + 7, (CELL_TOP + OUT_BOTTOM) / 2),
                15,
                GREY,
            )?;

            // The cell, with the three shared parameter tags inside.
            root.draw(&Rectangle::new(
                [(left, CELL_TOP), (left + CELL_W, CELL_BOTTOM)],
                BLUE.mix(0.10).filled(),
            ))
            .map_err(plot_err)?;
            root.draw(&Rectangle::new(
                [(left, CELL_TOP), (left + CELL_W, CELL_BOTTOM)],
                BLUE.stroke_width(2),
            ))
            .map_err(plot_err)?;
            text(root, "tanh", (cx, CELL_TOP + 16), 15, BLACK)?;
            chip(root, "W_ih", (cx - 24, CELL_TOP + 42), 44, BLUE)?;
            chip(root, "W_hh", (cx + 24, CELL_TOP + 42), 44, BLUE)?;
            chip(root, "b_ih, b_hh", (cx, CELL_TOP + 72), 92, BLUE)?;

            // x_t comes in from below.
            arrow(root, (cx, 372), (cx, CELL_BOTTOM), GREY)?;
            text(root, &format!("x{}", sub(t)), (cx, 388), 18, BLACK)?;
            text(root, &format!("t = {t}"), (cx, 414), 14, GREY)?;

            // h_t goes right, to the next cell (or out as h_n).
            let from = (left + CELL_W, cell_mid);
            let to = (left + PITCH, cell_mid);
            arrow(root, from, to, BLACK)?;
            let label = if t == STEPS {
                format!("h{} = h_n", sub(t))
            } else {
                format!("h{}", sub(t))
            };
            let label_x = if t == STEPS {
                left + CELL_W + 4
            } else {
                (from.0 + to.0) / 2
            };
            if t == STEPS {
                text_left(root, &label, (label_x, cell_mid - 14), 16, BLACK)?;
            } else {
                text(root, &label, (label_x, cell_mid - 14), 16, BLACK)?;
            }
        }
        // h_0 comes in from the left.
        arrow(root, (40, cell_mid), (X0, cell_mid), BLACK)?;
        text(root, "h₀", (62, cell_mid - 14), 16, BLACK)?;

        // Legend.
        let y = HEIGHT as i32 - 22;
        root.draw(&Rectangle::new([(40, y - 7), (54, y + 7)], BLUE.filled()))
            .map_err(plot_err)?;
        text_left(
            root,
            "one set of RNN parameters, used by every cell",
            (60, y),
            14,
            BLACK,
        )?;
        root.draw(&Rectangle::new(
            [(418, y - 7), (432, y + 7)],
            ORANGE.filled(),
        ))
        .map_err(plot_err)?;
        text_left(
            root,
            "one output layer, used at every step",
            (438, y),
            14,
            BLACK,
        )?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::figures::diagram::labels;

    #[test]
    fn the_unrolled_graph_draws_four_cells_with_shared_parameters() {
        let svg = unrolled().unwrap();
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        let labels = labels(&svg);
        let count = |s: &str| labels.iter().filter(|l| l.as_str() == s).count();
        for t in 1..=STEPS {
            assert_eq!(count(&format!("x{}", sub(t))), 1, "x_{t} in {labels:?}");
            assert_eq!(count(&format!("logits{}", sub(t))), 1, "logits_{t}");
            assert_eq!(count(&format!("t = {t}")), 1);
        }
        // Every cell carries the same parameter tags, and every output box the same layer.
        for tag in ["tanh", "W_ih", "W_hh", "b_ih, b_hh", "W_hy, b_y"] {
            assert_eq!(count(tag), STEPS as usize, "{tag} in {labels:?}");
        }
        for state in ["h₀", "h₁", "h₂", "h₃", "h₄ = h_n"] {
            assert_eq!(count(state), 1, "{state} in {labels:?}");
        }
        // Four cells and four output boxes, each drawn as a fill and an outline, plus the legend
        // and the parameter tags: every box is a <rect>.
        assert!(svg.matches("<rect").count() >= 4 * 4 + 4 * 3 + 2);
    }
}
