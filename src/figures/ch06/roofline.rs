//! The roofline: attainable GFLOP/s against arithmetic intensity, with the ceilings the
//! benchmark measured on the machine of the data (one core's FMA peak per SIMD path, its L2 and
//! memory read bandwidth), and the LSTM's and GRU's forward + backward at each batch size of the
//! grid (T=100, I=H=256, one thread) as points, ours and PyTorch's.

use anyhow::{Context, Result};
use plotters::prelude::*;

use super::{TORCH_1, V5, load, points};
use crate::figures::style::{
    BookMesh, FONT, GREY, MID_GREY, PANEL_AXIS_TEXT, draw_legend, plot_err, pow2_label,
    svg_document_sized,
};
use ch06_fused::results::BenchRow;
use ch06_fused::roofline::sequence_intensity;
use ch06_fused::runners::{CellKind, Shape};

fn shape_of(r: &BenchRow) -> Shape {
    Shape {
        seq_len: r.seq_len,
        batch: r.batch,
        input_size: r.input_size,
        hidden_size: r.hidden_size,
    }
}

/// The figure.
pub(super) fn roofline() -> Result<String> {
    let data = load()?;
    let c = data
        .machine
        .ceilings
        .clone()
        .context("the benchmark data has no measured ceilings (rerun bench/sweep.py)")?;
    let mut series = Vec::new();
    for (cell, kind, run) in [
        ("LSTM", CellKind::Lstm, "lstm-grid"),
        ("GRU", CellKind::Gru, "gru-grid"),
    ] {
        let rows: Vec<&BenchRow> = data
            .rows_of(run)
            .into_iter()
            .filter(|r| r.seq_len == 100 && r.hidden_size == 256)
            .collect();
        for (s, marker) in [(&V5, 0), (&TORCH_1, 1)] {
            let pts = points(
                &rows,
                s,
                |r| sequence_intensity(kind, shape_of(r)).log2(),
                |r| r.gflops,
            )?;
            let name = format!("{cell}: {}", s.name);
            let colour = s
                .colour
                .mix(if kind == CellKind::Lstm { 1.0 } else { 0.45 });
            series.push((name, colour, pts, kind, marker));
        }
    }
    let peak = c.peak();
    let (x_lo, x_hi) = (-1.0, 8.0); // 0.5 … 256 flop/byte
    let (y_lo, y_hi) = (8.0, peak * 2.0);
    svg_document_sized((820, 500), |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(
                "Roofline: forward + backward, T=100, I=H=256, B = 1, 8, 32, 128 (one core)",
                (FONT, 16),
            )
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size(60)
            .build_cartesian_2d(x_lo..x_hi, (y_lo..y_hi).log_scale())
            .map_err(plot_err)?;
        chart
            .configure_mesh()
            .x_desc("arithmetic intensity, flop per byte (log)")
            .y_desc("GFLOP/s (log)")
            .x_labels(10)
            .x_label_formatter(&|v: &f64| {
                if *v < 0.0 {
                    if (v - v.round()).abs() < 1e-9 {
                        format!("{}", 2f64.powf(*v))
                    } else {
                        String::new()
                    }
                } else {
                    pow2_label(v)
                }
            })
            .y_label_formatter(&|v| format!("{v:.0}"))
            .book_style(PANEL_AXIS_TEXT)
            .draw()
            .map_err(plot_err)?;
        let xs: Vec<f64> = (0..=90)
            .map(|k| x_lo + (x_hi - x_lo) * f64::from(k) / 90.0)
            .collect();
        let roof = |bw: f64, top: f64| -> Vec<(f64, f64)> {
            xs.iter()
                .map(|&x| (x, (bw * 2f64.powf(x)).min(top)))
                .collect()
        };
        let black = BLACK.stroke_width(2);
        chart
            .draw_series(LineSeries::new(roof(c.l2_read_gbs, peak), black))
            .map_err(plot_err)?
            .label(format!(
                "roof: {peak:.0} GFLOP/s ({}) and L2 {:.0} GB/s",
                c.paths[0], c.l2_read_gbs
            ))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], black));
        let dashed = MID_GREY.stroke_width(2);
        chart
            .draw_series(DashedLineSeries::new(
                roof(c.memory_read_gbs, peak),
                6,
                4,
                dashed,
            ))
            .map_err(plot_err)?
            .label(format!("memory {:.0} GB/s", c.memory_read_gbs))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], dashed));
        if let (Some(p), Some(g)) = (c.paths.get(1), c.fma_peak_gflops.get(1)) {
            let thin = GREY.mix(0.7).stroke_width(1);
            let g = *g;
            chart
                .draw_series(DashedLineSeries::new(
                    xs.iter().map(|&x| (x, g)).collect::<Vec<_>>(),
                    3,
                    4,
                    thin,
                ))
                .map_err(plot_err)?
                .label(format!("{g:.0} GFLOP/s ({p})"))
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], thin));
        }
        for (name, colour, pts, kind, marker) in &series {
            let stroke = colour.stroke_width(if *kind == CellKind::Lstm { 2 } else { 1 });
            chart
                .draw_series(LineSeries::new(pts.clone(), stroke))
                .map_err(plot_err)?
                .label(name.as_str())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], stroke));
            let colour = *colour;
            if *marker == 0 {
                chart
                    .draw_series(pts.iter().map(|&p| Circle::new(p, 4, colour.filled())))
                    .map_err(plot_err)?;
            } else {
                chart
                    .draw_series(
                        pts.iter()
                            .map(|&p| TriangleMarker::new(p, 5, colour.filled())),
                    )
                    .map_err(plot_err)?;
            }
        }
        draw_legend(&mut chart, SeriesLabelPosition::LowerRight, 12)
    })
}
