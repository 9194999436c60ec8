//! Chapter 2's figures: the loss curve of the committed training run.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, ensure};
use plotters::prelude::*;

use super::Figure;
use super::style::{BLUE, FONT, ORANGE, SKY, draw_axes, draw_legend, plot_err, svg_document};
use ch03_clipping::train_log::TrainLog;

/// Chapter 2's figures.
pub fn figures() -> Vec<Figure> {
    vec![Figure {
        file: "ch02-train-loss.svg",
        draw: train_loss,
    }]
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

#[cfg(test)]
mod tests {
    use super::*;

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
