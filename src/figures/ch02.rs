//! Chapter 2's figures: the loss curve of the committed training run.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, ensure};
use plotters::prelude::*;

use super::Figure;
use super::diagram::{
    Area, NODE_R, arrow, chip, frame, labelled_box, node, path_arrow, sub, text, text_left,
};
use super::style::{
    BLUE, FONT, GREEN, GREY, ORANGE, SKY, draw_axes, draw_legend, plot_err, svg_document,
    svg_document_sized,
};
use ch03_clipping::train_log::TrainLog;

/// Chapter 2's figures.
pub fn figures() -> Vec<Figure> {
    vec![
        Figure {
            file: "ch02-train-loss.svg",
            draw: train_loss,
        },
        Figure {
            file: "ch02-bptt-paths.svg",
            draw: bptt_paths,
        },
    ]
}

/// The committed log of `rnnbook train rnn` (made once, by the command in `train-rnn.json` next
/// to it; the figure only reads it).
pub fn train_log_path() -> PathBuf {
    crate::repo_root()
        .join("chapters")
        .join("ch02-bptt")
        .join("data")
        .join("train-rnn.csv")
}

fn train_loss() -> Result<String> {
    train_loss_from(&train_log_path())
}

/// Steps on each side of a point in the figure's running mean.
const SMOOTH_HALF_WIDTH: usize = 25;

/// The mean of `points[i - k ..= i + k]`, the window shrinking symmetrically at the ends, so the
/// curve does not lag behind the data as the log's causal (exponential) average does.
fn centered_mean(points: &[(f64, f64)], k: usize) -> Vec<(f64, f64)> {
    let mut prefix = vec![0.0];
    for p in points {
        prefix.push(prefix.last().copied().unwrap_or(0.0) + p.1);
    }
    (0..points.len())
        .map(|i| {
            let half = k.min(i).min(points.len() - 1 - i);
            let (lo, hi) = (i - half, i + half + 1);
            (points[i].0, (prefix[hi] - prefix[lo]) / (hi - lo) as f64)
        })
        .collect()
}

/// Loss per character against the step, raw and smoothed, with `ln V` (uniform guessing).
pub(crate) fn train_loss_from(path: &Path) -> Result<String> {
    let log = TrainLog::read(path)?;
    let v = log.vocab_size().with_context(|| {
        format!(
            "the training log {}: its `#` comment line has no `vocab_size=V`",
            path.display()
        )
    })?;
    ensure!(
        v > 0,
        "the training log {}: vocab_size is 0",
        path.display()
    );
    ensure!(
        log.rows.len() >= 2,
        "the training log {} has {} rows; a curve needs at least 2",
        path.display(),
        log.rows.len()
    );
    let uniform = (v as f64).ln();
    let raw: Vec<(f64, f64)> = log
        .rows
        .iter()
        .map(|r| (r.step as f64, r.loss_per_char))
        .collect();
    let smooth = centered_mean(&raw, SMOOTH_HALF_WIDTH);
    let x_max = raw.last().map_or(1.0, |p| p.0);
    let y_max = raw.iter().map(|p| p.1).fold(uniform, f64::max) * 1.08;
    let x_desc = match (log.meta("seq_len"), log.meta("batch")) {
        (Some(t), Some(b)) => {
            format!("training step (each: a window of {t} characters in each of {b} streams)")
        }
        _ => "training step".to_string(),
    };

    svg_document(|root| {
        let mut chart = ChartBuilder::on(root)
            .caption(
                format!("Training the character RNN: loss per character (V = {v})"),
                (FONT, 22),
            )
            .margin(16)
            .x_label_area_size(48)
            .y_label_area_size(64)
            .build_cartesian_2d(0.0..x_max, 0.0..y_max)
            .map_err(plot_err)?;
        draw_axes(
            &mut chart,
            (x_desc.as_str(), "loss per character (nats)"),
            &|x| format!("{x:.0}"),
            &|y| format!("{y:.1}"),
        )?;
        chart
            .draw_series(LineSeries::new(
                raw.iter().copied(),
                SKY.mix(0.8).stroke_width(1),
            ))
            .map_err(plot_err)?
            .label("loss of each step's window")
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], SKY.stroke_width(2)));
        chart
            .draw_series(LineSeries::new(
                smooth.iter().copied(),
                BLUE.stroke_width(3),
            ))
            .map_err(plot_err)?
            .label(format!(
                "running mean ({} steps, centred)",
                2 * SMOOTH_HALF_WIDTH + 1
            ))
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLUE.stroke_width(3)));
        chart
            .draw_series(DashedLineSeries::new(
                [(0.0, uniform), (x_max, uniform)],
                8,
                5,
                ORANGE.stroke_width(2),
            ))
            .map_err(plot_err)?
            .label(format!("uniform guessing: ln V = ln {v} ≈ {uniform:.2}"))
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], ORANGE.stroke_width(2)));
        draw_legend(&mut chart, SeriesLabelPosition::MiddleRight, 14)?;
        Ok(())
    })
}

/// The BPTT diagram: steps drawn, the left edge of the first cell, and from one cell to the next.
const STEPS: i32 = 4;
const X0: i32 = 110;
const PITCH: i32 = 210;
/// Cell boxes.
const CELL_W: i32 = 150;
const CELL_TOP: i32 = 110;
const CELL_BOTTOM: i32 = 300;
/// Height of the `+` where the two paths into `h_t` meet, and of `da`.
const SUM_Y: i32 = CELL_TOP + 34;
const DA_Y: i32 = CELL_TOP + 146;
/// The box where every step's contribution to the parameter gradients is added.
const ACC_TOP: i32 = 350;
const ACC_BOTTOM: i32 = 430;

/// Chapter 2: the backward pass over the unrolled RNN, steps t = T … 1: `dy_t` from each
/// output, `dh_next` from the step after, through tanh' into `da`, and `da` added into the
/// gradients of the shared weights.
fn bptt_paths() -> Result<String> {
    let width = X0 + STEPS * PITCH - (PITCH - CELL_W) + 70;
    svg_document_sized((width as u32, 470), |root| {
        text(
            root,
            "Backpropagation through time: the gradient runs back from t = T to t = 1",
            (width / 2, 24),
            20,
            BLACK,
        )?;
        for k in 0..STEPS {
            bptt_step(root, k + 1)?;
        }
        // dh_n enters the last step from the right; dh_0 leaves the first on the left.
        let last_cx = X0 + (STEPS - 1) * PITCH + CELL_W / 2;
        arrow(root, (width - 10, SUM_Y), (last_cx + NODE_R, SUM_Y), BLACK)?;
        text(root, "dh_n", (width - 34, SUM_Y - 14), 15, BLACK)?;
        let gap_x = X0 - (PITCH - CELL_W) / 2;
        path_arrow(
            root,
            &[(gap_x, DA_Y - 11), (gap_x, SUM_Y), (14, SUM_Y)],
            BLACK,
        )?;
        text(root, "dh₀", (34, SUM_Y - 14), 15, BLACK)?;

        // Every step adds into the same three gradients.
        let right = X0 + (STEPS - 1) * PITCH + CELL_W;
        frame(root, (X0, ACC_TOP), (right, ACC_BOTTOM), GREEN, 0.10)?;
        let third = (right - X0) / 3;
        for (j, (math, code)) in [
            ("dW_ih += daᵀ xₜ", "dweight_ih"),
            ("dW_hh += daᵀ hₜ₋₁", "dweight_hh"),
            ("db_ih, db_hh += Σ_b da", "dbias_ih, dbias_hh"),
        ]
        .into_iter()
        .enumerate()
        {
            let cx = X0 + third * j as i32 + third / 2;
            text(root, math, (cx, ACC_TOP + 30), 16, BLACK)?;
            text(root, code, (cx, ACC_TOP + 56), 14, GREY)?;
        }
        text(
            root,
            "one set of gradients for the shared weights: each step adds its term (+=)",
            (width / 2, ACC_BOTTOM + 22),
            14,
            GREY,
        )?;
        Ok(())
    })
}

/// One step of [`bptt_paths`], `t` from 1.
fn bptt_step(root: &Area<'_>, t: i32) -> Result<()> {
    let left = X0 + (t - 1) * PITCH;
    let cx = left + CELL_W / 2;
    frame(
        root,
        (left, CELL_TOP),
        (left + CELL_W, CELL_BOTTOM),
        BLUE,
        0.10,
    )?;
    text_left(
        root,
        &format!("t = {t}"),
        (left + 6, CELL_TOP + 14),
        13,
        GREY,
    )?;

    // dy_t comes down from the output layer into the sum.
    text(root, &format!("dy{}", sub(t)), (cx, 62), 17, ORANGE)?;
    arrow(root, (cx, 74), (cx, SUM_Y - NODE_R), ORANGE)?;
    node(root, "+", (cx, SUM_Y))?;
    if t < STEPS {
        // What step t + 1 sent back, entering from the right.
        text(root, "dh_next", (cx + 44, SUM_Y - 15), 13, BLACK)?;
    }

    // dh, through tanh', is da.
    let tanh_y = SUM_Y + 52;
    arrow(root, (cx, SUM_Y + NODE_R), (cx, tanh_y - 11), BLACK)?;
    text_left(root, "dh", (cx + 7, SUM_Y + 26), 14, BLACK)?;
    labelled_box(
        root,
        &format!("⊙ (1 − h{}²)", sub(t)),
        (cx, tanh_y),
        (112, 24),
        GREY,
        15,
    )?;
    text_left(root, "tanh′", (cx + 7, tanh_y + 25), 13, GREY)?;
    arrow(root, (cx, tanh_y + 12), (cx, DA_Y - 12), BLACK)?;
    labelled_box(root, "da", (cx, DA_Y), (40, 24), BLACK, 15)?;

    // da · W_hh goes back to the step before, as its dh_next.
    let gap_x = left - (PITCH - CELL_W) / 2;
    arrow(root, (cx - 20, DA_Y), (gap_x + 23, DA_Y), BLACK)?;
    chip(root, "W_hh", (gap_x, DA_Y), 46, BLUE)?;
    if t > 1 {
        let prev_cx = cx - PITCH;
        path_arrow(
            root,
            &[
                (gap_x, DA_Y - 11),
                (gap_x, SUM_Y),
                (prev_cx + NODE_R, SUM_Y),
            ],
            BLACK,
        )?;
    }

    // da is added into the parameter gradients.
    arrow(root, (cx, DA_Y + 12), (cx, ACC_TOP), GREEN)?;
    text_left(root, "+=", (cx + 7, (CELL_BOTTOM + ACC_TOP) / 2), 15, GREEN)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bptt_diagram_shows_both_paths_and_the_sums() {
        use crate::figures::diagram::labels;
        let svg = bptt_paths().unwrap();
        let labels = labels(&svg);
        let count = |s: &str| labels.iter().filter(|l| l.as_str() == s).count();
        for t in 1..=STEPS {
            assert_eq!(count(&format!("dy{}", sub(t))), 1, "dy_{t} in {labels:?}");
            assert_eq!(count(&format!("⊙ (1 − h{}²)", sub(t))), 1);
        }
        assert_eq!(count("dh_next"), STEPS as usize - 1);
        assert_eq!(count("W_hh"), STEPS as usize);
        assert_eq!(count("da"), STEPS as usize);
        assert_eq!(count("+="), STEPS as usize);
        for s in [
            "dh_n",
            "dh₀",
            "dW_ih += daᵀ xₜ",
            "dW_hh += daᵀ hₜ₋₁",
            "dweight_hh",
        ] {
            assert_eq!(count(s), 1, "{s} in {labels:?}");
        }
    }

    #[test]
    fn the_centred_mean_shrinks_its_window_at_the_ends() {
        let pts: Vec<(f64, f64)> = (0..6).map(|i| (i as f64, (i * i) as f64)).collect();
        let m = centered_mean(&pts, 2);
        let ys: Vec<f64> = m.iter().map(|p| p.1).collect();
        // ends: themselves; next: 3-point means; middle: 5-point means
        assert_eq!(ys, [0.0, 5.0 / 3.0, 6.0, 11.0, 50.0 / 3.0, 25.0]);
    }

    #[test]
    fn the_loss_curve_draws_from_the_committed_log() {
        let svg = train_loss().unwrap();
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert!(
            svg.contains("uniform guessing"),
            "no ln V line in the legend"
        );
        assert!(svg.contains("<polyline") || svg.contains("<path"));
    }

    #[test]
    fn a_missing_or_malformed_log_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.csv");
        let e = format!("{:#}", train_loss_from(&missing).unwrap_err());
        assert!(e.contains("nope.csv"), "{e}");

        let cases = [
            ("no-header.csv", "# vocab_size=10\n1,2.0,2.0,1.0\n"),
            (
                "bad-number.csv",
                "# vocab_size=10\nstep,loss_per_char,smoothed_loss_per_char,grad_norm\n1,x,2,1\n",
            ),
            (
                "no-vocab.csv",
                "# hidden_size=8\nstep,loss_per_char,smoothed_loss_per_char,grad_norm\n1,2,2,1\n2,1,1,1\n",
            ),
            (
                "one-row.csv",
                "# vocab_size=10\nstep,loss_per_char,smoothed_loss_per_char,grad_norm\n1,2,2,1\n",
            ),
            ("empty.csv", ""),
        ];
        for (name, text) in cases {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            let e = format!("{:#}", train_loss_from(&path).unwrap_err());
            assert!(e.contains(name), "{name}: {e}");
        }
    }
}
