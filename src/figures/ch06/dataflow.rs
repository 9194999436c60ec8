//! The data flow of v1's LSTM forward pass (`lstm::Fused::forward`): one GEMM for every step's
//! input side into the gate buffer, then per step a GEMM of `h_{t-1}` against `weight_hh` added
//! into the step's rows, and one fused pass for the activations and the state update.

use anyhow::Result;
use plotters::prelude::*;

use crate::figures::diagram::{
    Area, arrow, frame, labelled_box, line, path_arrow, text, text_left, text_right,
};
use crate::figures::style::{BLUE, GREEN, GREY, LIGHT_GREY, ORANGE, svg_document_sized};

/// Width and height of the figure.
const W: i32 = 940;
const H: i32 = 540;
/// The gate buffer's columns and the state buffer's.
const GATES_X: (i32, i32) = (380, 620);
const H_ALL_X: (i32, i32) = (40, 150);
/// Top of both buffers.
const BUF_TOP: i32 = 160;

/// A buffer drawn as a column of bands of rows: `(label, height, tint)` from the top.
fn bands(
    root: &Area<'_>,
    (x0, x1): (i32, i32),
    rows: &[(&str, i32, Option<RGBColor>)],
) -> Result<()> {
    let mut y = BUF_TOP;
    for &(label, height, tint) in rows {
        let color = tint.unwrap_or(GREY);
        let alpha = if tint.is_some() { 0.18 } else { 0.05 };
        root.draw(&Rectangle::new(
            [(x0, y), (x1, y + height)],
            color.mix(alpha).filled(),
        ))
        .map_err(crate::figures::style::plot_err)?;
        line(root, &[(x0, y + height), (x1, y + height)], LIGHT_GREY)?;
        text(root, label, ((x0 + x1) / 2, y + height / 2), 14, BLACK)?;
        y += height;
    }
    root.draw(&Rectangle::new(
        [(x0, BUF_TOP), (x1, y)],
        GREY.stroke_width(2),
    ))
    .map_err(crate::figures::style::plot_err)
}

/// Chapter 6: what v1's forward pass computes, buffer by buffer.
pub(super) fn dataflow() -> Result<String> {
    svg_document_sized((W as u32, H as u32), |root| {
        text(
            root,
            "v1's LSTM forward: one GEMM for all inputs, then per step a GEMM and one fused pass",
            (W / 2, 24),
            19,
            BLACK,
        )?;
        // Step t's rows of the gate buffer, and of h_all the state it reads and the one it writes.
        let step_mid = BUF_TOP + 35 + 35 + 45 + 20;

        // ① Every step's input side, once.
        labelled_box(root, "X = x as [T·B, I]", (135, 82), (190, 40), GREY, 15)?;
        frame(root, (290, 56), (730, 108), BLUE, 0.10)?;
        text(
            root,
            "① one GEMM, before the loop: X · W_ihᵀ + (b_ih + b_hh)",
            (510, 74),
            15,
            BLACK,
        )?;
        text(
            root,
            "[T·B, I] · [I, 4H], onto the summed bias broadcast to every row",
            (510, 95),
            12,
            GREY,
        )?;
        arrow(root, (230, 82), (290, 82), BLACK)?;
        arrow(root, (500, 108), (500, BUF_TOP - 22), BLACK)?;

        // The gate buffer: column blocks i, f, g, o; one band of B rows per step.
        let quarter = (GATES_X.1 - GATES_X.0) / 4;
        for (k, gate) in ["i", "f", "g", "o"].into_iter().enumerate() {
            let x0 = GATES_X.0 + quarter * k as i32;
            frame(
                root,
                (x0, BUF_TOP - 22),
                (x0 + quarter, BUF_TOP),
                ORANGE,
                0.15,
            )?;
            text(root, gate, (x0 + quarter / 2, BUF_TOP - 11), 14, BLACK)?;
        }
        text_right(
            root,
            "gates: [T·B, 4H]",
            (GATES_X.0 - 8, BUF_TOP - 11),
            15,
            BLACK,
        )?;
        bands(
            root,
            GATES_X,
            &[
                ("t = 1", 35, None),
                ("t = 2", 35, None),
                ("⋮", 45, None),
                ("step t: rows (t − 1)·B .. t·B", 40, Some(ORANGE)),
                ("⋮", 35, None),
                ("t = T", 35, None),
            ],
        )?;
        text(
            root,
            "each band: B rows, [B, 4H]",
            ((GATES_X.0 + GATES_X.1) / 2, BUF_TOP + 225 + 18),
            12,
            GREY,
        )?;

        // The states h_0 … h_T, one band of B rows each.
        text(root, "h_all: [(T+1)·B, H]", (95, BUF_TOP - 11), 15, BLACK)?;
        bands(
            root,
            H_ALL_X,
            &[
                ("h₀", 35, None),
                ("h₁", 35, None),
                ("⋮", 45, None),
                ("hₜ₋₁", 40, Some(BLUE)),
                ("hₜ", 35, Some(GREEN)),
                ("⋮", 35, None),
                ("h_T", 35, None),
            ],
        )?;

        // ② Per step: h_{t-1} W_hhᵀ added into the step's rows.
        frame(root, (190, step_mid - 34), (330, step_mid + 34), BLUE, 0.10)?;
        text(root, "② GEMM per step", (260, step_mid - 18), 14, BLACK)?;
        text(root, "hₜ₋₁ · W_hhᵀ", (260, step_mid + 2), 15, BLACK)?;
        text(root, "[B, H] · [H, 4H]", (260, step_mid + 21), 12, GREY)?;
        arrow(root, (H_ALL_X.1, step_mid), (190, step_mid), BLACK)?;
        arrow(root, (330, step_mid), (GATES_X.0, step_mid), BLACK)?;
        text(root, "+=", (355, step_mid - 12), 15, BLACK)?;

        // ③ Per step: one pass over the step's rows.
        let (fx0, fx1) = (680, 910);
        frame(
            root,
            (fx0, step_mid - 72),
            (fx1, step_mid + 62),
            GREEN,
            0.10,
        )?;
        let fcx = (fx0 + fx1) / 2;
        for (k, (s, size, color)) in [
            ("③ one fused pass per step", 14, BLACK),
            ("i, f, o = σ(·), g = tanh(·)", 14, BLACK),
            ("cₜ = f ⊙ cₜ₋₁ + i ⊙ g", 14, BLACK),
            ("hₜ = o ⊙ tanh(cₜ)", 14, BLACK),
            ("gates_forward, row by row", 12, GREY),
        ]
        .into_iter()
        .enumerate()
        {
            text(root, s, (fcx, step_mid - 52 + 25 * k as i32), size, color)?;
        }
        arrow(root, (GATES_X.1, step_mid - 8), (fx0, step_mid - 8), BLACK)?;
        arrow(root, (fx0, step_mid + 8), (GATES_X.1, step_mid + 8), BLACK)?;
        text(root, "Aₜ", (650, step_mid - 20), 14, BLACK)?;
        text(root, "in place", (650, step_mid + 21), 12, GREY)?;

        // It writes c_t and tanh(c_t) ...
        let (gy0, gy1) = (step_mid + 100, step_mid + 160);
        frame(root, (fx0, gy0), (fx1, gy1), GREY, 0.05)?;
        text_left(
            root,
            "c: [(T+1)·B, H], reads cₜ₋₁",
            (fx0 + 10, gy0 + 17),
            13,
            BLACK,
        )?;
        text_left(root, "tanh_c: [T·B, H]", (fx0 + 10, gy0 + 42), 13, BLACK)?;
        arrow(root, (fcx + 40, step_mid + 62), (fcx + 40, gy0), BLACK)?;
        text_left(root, "cₜ, tanh(cₜ)", (fcx + 47, step_mid + 81), 13, BLACK)?;

        // ... and h_t into the next band of h_all, the next step's h_{t-1}.
        let back_y = H - 66;
        let h_t_mid = step_mid + 20 + 18;
        path_arrow(
            root,
            &[
                (fx0, step_mid + 44),
                (650, step_mid + 44),
                (650, back_y),
                (170, back_y),
                (170, h_t_mid),
                (H_ALL_X.1, h_t_mid),
            ],
            GREEN,
        )?;
        text(
            root,
            "hₜ: the next step's hₜ₋₁",
            (420, back_y - 12),
            14,
            GREEN,
        )?;

        text(
            root,
            "kept for backward: X, gates (activated), c, tanh_c, h_all;  y = rows B.. of h_all \
             as [T, B, H]",
            (W / 2, H - 22),
            13,
            GREY,
        )?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::figures::diagram::labels;

    #[test]
    fn the_data_flow_names_every_buffer_and_both_gemms() {
        let labels = labels(&dataflow().unwrap());
        for s in [
            "X = x as [T·B, I]",
            "① one GEMM, before the loop: X · W_ihᵀ + (b_ih + b_hh)",
            "gates: [T·B, 4H]",
            "step t: rows (t − 1)·B .. t·B",
            "h_all: [(T+1)·B, H]",
            "hₜ₋₁ · W_hhᵀ",
            "[B, H] · [H, 4H]",
            "+=",
            "cₜ = f ⊙ cₜ₋₁ + i ⊙ g",
            "hₜ = o ⊙ tanh(cₜ)",
            "tanh_c: [T·B, H]",
        ] {
            assert!(labels.iter().any(|l| l == s), "{s} in {labels:?}");
        }
        for gate in ["i", "f", "g", "o"] {
            assert!(labels.iter().any(|l| l == gate), "gate block {gate}");
        }
    }
}
