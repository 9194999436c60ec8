//! The speed-up over PyTorch on the grid of `rnnbook bench --sweep`, as a heat map: one panel
//! per cell and thread count, B across, (T, H = I) down, each cell PyTorch's time over ours.

use anyhow::{Result, bail};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::load;
use crate::figures::style::{BLUE, FONT, ORANGE, plot_err, svg_document_sized};
use ch06_fused::results::BenchRow;

/// `(T, H)` rows and `B` columns of the grid, in the order the panels draw them.
fn axes(rows: &[&BenchRow]) -> (Vec<(usize, usize)>, Vec<usize>) {
    let mut th: Vec<(usize, usize)> = rows.iter().map(|r| (r.seq_len, r.hidden_size)).collect();
    let mut b: Vec<usize> = rows.iter().map(|r| r.batch).collect();
    th.sort_unstable();
    th.dedup();
    b.sort_unstable();
    b.dedup();
    (th, b)
}

/// One cell of the grid: `(T, B, H)` and PyTorch's time over ours.
pub(super) type Speedup = ((usize, usize, usize), f64);

/// PyTorch's forward + backward time over ours ([`super::ours_on`]), per grid cell,
/// each against the PyTorch row of the same round of measurements (the rows of one shape and
/// thread count come together, PyTorch's last).
pub(super) fn speedups(rows: &[&BenchRow], threads: usize) -> Result<Vec<Speedup>> {
    let ours = super::ours_on(rows, threads);
    let shape = |r: &BenchRow| (r.seq_len, r.batch, r.hidden_size);
    let mut out = Vec::new();
    for (k, t) in rows.iter().enumerate() {
        if t.implementation != "pytorch" || t.threads != threads {
            continue;
        }
        let Some(r) = rows[..k]
            .iter()
            .rev()
            .take_while(|r| r.implementation != "pytorch")
            .find(|r| r.implementation == ours && shape(r) == shape(t))
        else {
            let (tt, b, h) = shape(t);
            bail!(
                "the grid has no {ours} row beside PyTorch's at T={tt} B={b} H={h}, {threads} thread(s)"
            );
        };
        out.push((shape(t), t.fwd_bwd_ms / r.fwd_bwd_ms));
    }
    if out.is_empty() {
        bail!("the grid has no PyTorch rows on {threads} thread(s)");
    }
    Ok(out)
}

/// A colour for a speed-up: white at 1, blue above (ours faster), orange below, saturating at
/// 4× either way on a log scale.
fn colour(ratio: f64) -> RGBColor {
    let t = (ratio.log2().abs() / 2.0).min(1.0);
    let base = if ratio >= 1.0 { BLUE } else { ORANGE };
    let mix = |c: u8| (255.0 + (f64::from(c) - 255.0) * t).round() as u8;
    RGBColor(mix(base.0), mix(base.1), mix(base.2))
}

fn panel(
    area: &DrawingArea<SVGBackend<'_>, Shift>,
    title: &str,
    rows: &[&BenchRow],
    threads: usize,
) -> Result<()> {
    let (th, bs) = axes(rows);
    let cells = speedups(rows, threads)?;
    let mut chart = ChartBuilder::on(area)
        .caption(title, (FONT, 15))
        .margin(6)
        .x_label_area_size(34)
        .y_label_area_size(92)
        .build_cartesian_2d(0.0..bs.len() as f64, 0.0..th.len() as f64)
        .map_err(plot_err)?;
    let th_labels = th.clone();
    let b_labels = bs.clone();
    chart
        .configure_mesh()
        .disable_mesh()
        .x_labels(bs.len() * 2 + 1)
        .y_labels(th.len() * 2 + 1)
        .x_label_formatter(&move |v| {
            let k = v - 0.5;
            if (k - k.round()).abs() < 1e-6 && k >= 0.0 {
                b_labels
                    .get(k.round() as usize)
                    .map_or(String::new(), |b| format!("B={b}"))
            } else {
                String::new()
            }
        })
        .y_label_formatter(&move |v| {
            let k = v - 0.5;
            if (k - k.round()).abs() < 1e-6 && k >= 0.0 {
                th_labels
                    .get(th_labels.len().saturating_sub(1 + k.round() as usize))
                    .map_or(String::new(), |(t, h)| format!("T={t} H={h}"))
            } else {
                String::new()
            }
        })
        .label_style((FONT, 12))
        .draw()
        .map_err(plot_err)?;
    let centre = Pos::new(HPos::Center, VPos::Center);
    for ((t, b, h), ratio) in cells {
        let x = bs.iter().position(|&v| v == b).expect("axis") as f64;
        let y = (th.len() - 1 - th.iter().position(|&v| v == (t, h)).expect("axis")) as f64;
        chart
            .draw_series([Rectangle::new(
                [(x, y), (x + 1.0, y + 1.0)],
                colour(ratio).filled(),
            )])
            .map_err(plot_err)?;
        chart
            .draw_series([Rectangle::new(
                [(x, y), (x + 1.0, y + 1.0)],
                WHITE.stroke_width(1),
            )])
            .map_err(plot_err)?;
        let weight = if ratio < 1.0 {
            FontStyle::Bold
        } else {
            FontStyle::Normal
        };
        chart
            .draw_series([Text::new(
                format!("{ratio:.2}"),
                (x + 0.5, y + 0.5),
                TextStyle::from((FONT, 12, weight).into_font()).pos(centre),
            )])
            .map_err(plot_err)?;
    }
    Ok(())
}

/// The figure: LSTM and GRU, 1 and 2 threads.
pub(super) fn heatmap() -> Result<String> {
    let data = load()?;
    let lstm = data.rows_of("lstm-grid");
    let gru = data.rows_of("gru-grid");
    svg_document_sized((1000, 760), |root| {
        let root = root
            .titled(
                "Speed-up over PyTorch, forward + backward (PyTorch's time ÷ ours; bold: PyTorch faster)",
                (FONT, 17),
            )
            .map_err(plot_err)?;
        let areas = root.split_evenly((2, 2));
        let panels = [
            ("LSTM, 1 thread: v5", &lstm, 1),
            ("LSTM, 2 threads: v7", &lstm, 2),
            ("GRU, 1 thread: v5", &gru, 1),
            ("GRU, 2 threads: v6", &gru, 2),
        ];
        for (area, (title, rows, threads)) in areas.iter().zip(panels) {
            panel(area, title, rows, threads)?;
        }
        Ok(())
    })
}
