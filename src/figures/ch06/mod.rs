//! Chapter 6's figures and results table, drawn from the committed benchmark data
//! (`chapters/ch06-fused/data/bench.json`, written by `bench/sweep.py`): the versions at the
//! default shape, the scaling and the heat map from the grids of `rnnbook bench --sweep`, and
//! the roofline from the ceilings the benchmark measured. The build never benchmarks: timings
//! belong to the machine that measured them, which the file records.

use anyhow::{Result, bail, ensure};
use plotters::coord::Shift;
use plotters::prelude::*;

use super::Figure;
use super::style::{
    AxisText, BLUE, BookMesh, FONT, GREEN, GREY, LIGHT_GREY, NAVY, ORANGE, PANEL_AXIS_TEXT, PURPLE,
    SKY, draw_legend, plot_err, pow2_label, svg_document_sized,
};
use ch06_fused::results::{BenchFile, BenchRow};

mod dataflow;
mod heatmap;
mod roofline;
mod table;

/// Chapter 6's figures, and the results table the page includes.
pub fn figures() -> Vec<Figure> {
    vec![
        Figure {
            file: "ch06-dataflow.svg",
            draw: dataflow::dataflow,
        },
        Figure {
            file: "ch06-versions.svg",
            draw: versions,
        },
        Figure {
            file: "ch06-scaling.svg",
            draw: scaling,
        },
        Figure {
            file: "ch06-roofline.svg",
            draw: roofline::roofline,
        },
        Figure {
            file: "ch06-heatmap.svg",
            draw: heatmap::heatmap,
        },
        Figure {
            file: "ch06-results.md",
            draw: table::results_table,
        },
    ]
}

/// Ours on `threads` threads, in the rows of one cell: v5 on one; on more, v7 where the data
/// has it (the LSTM's best, which splits the units when the batch is too small to split), else
/// v6 (the GRU's).
pub(super) fn ours_on(rows: &[&BenchRow], threads: usize) -> &'static str {
    if threads == 1 {
        "v5"
    } else if rows.iter().any(|r| r.implementation == "v7") {
        "v7"
    } else {
        "v6"
    }
}

pub(super) fn find<'a>(
    rows: &[&'a BenchRow],
    implementation: &str,
    threads: usize,
) -> Result<&'a BenchRow> {
    match rows
        .iter()
        .find(|r| r.implementation == implementation && r.threads == threads)
    {
        Some(r) => Ok(r),
        None => bail!("the benchmark data has no {implementation} row with {threads} thread(s)"),
    }
}

pub(super) fn load() -> Result<BenchFile> {
    Ok(BenchFile::read(&BenchFile::committed_path())?)
}

/// The bars of one cell's panel: label, time, colour.
fn bars(rows: &[&BenchRow]) -> Result<Vec<(String, f64, RGBColor)>> {
    let ours = |name: &str, threads| find(rows, name, threads).map(|r| r.fwd_bwd_ms);
    Ok([
        ("naive (f64)".into(), ours("naive", 1)?, GREY),
        ("v1".into(), ours("v1", 1)?, SKY),
        ("v2".into(), ours("v2", 1)?, SKY),
        ("v4 (gemm crate)".into(), ours("v4", 1)?, BLUE),
        ("v5 (packed, fused)".into(), ours("v5", 1)?, NAVY),
        ("PyTorch, 1 thread".into(), ours("pytorch", 1)?, ORANGE),
        ("v3, 2 threads".into(), ours("v3", 2)?, GREEN),
        ("v6, 2 threads".into(), ours("v6", 2)?, GREEN),
    ]
    .into_iter()
    .chain(
        find(rows, "v7", 2)
            .ok()
            .map(|r| ("v7, 2 threads".into(), r.fwd_bwd_ms, GREEN)),
    )
    .chain([
        ("PyTorch, 2 threads".into(), ours("pytorch", 2)?, PURPLE),
        ("one GEMM ×3, 1 thr.".into(), ours("gemm", 1)?, LIGHT_GREY),
    ])
    .collect())
}

/// Forward + backward time of each implementation at the default shape, LSTM and GRU.
fn versions() -> Result<String> {
    let data = load()?;
    let panels = [
        (
            "LSTM",
            bars(&data.run("lstm-default")?.rows.iter().collect::<Vec<_>>())?,
        ),
        (
            "GRU",
            bars(&data.run("gru-default")?.rows.iter().collect::<Vec<_>>())?,
        ),
    ];
    svg_document_sized((900, 500), |root| {
        let root = root
            .titled(
                "Forward + backward, T=100 B=32 I=H=256 (median; lower is better)",
                (FONT, 19),
            )
            .map_err(plot_err)?;
        for (area, (cell, bars)) in root.split_evenly((1, 2)).iter().zip(panels) {
            bar_panel(area, cell, &bars)?;
        }
        Ok(())
    })
}

fn bar_panel(
    area: &DrawingArea<SVGBackend<'_>, Shift>,
    cell: &str,
    bars: &[(String, f64, RGBColor)],
) -> Result<()> {
    let n = bars.len();
    // Room on the right of the longest bar for its label.
    let x_max = bars.iter().map(|b| b.1).fold(0.0, f64::max) * 1.9;
    let mut chart = ChartBuilder::on(area)
        .caption(cell, (FONT, 16))
        .margin(10)
        .x_label_area_size(36)
        .y_label_area_size(10)
        .build_cartesian_2d(0.0..x_max, 0.0..n as f64)
        .map_err(plot_err)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .disable_y_axis()
        .x_desc("ms")
        .x_labels(6)
        .x_label_formatter(&|v| format!("{v:.0}"))
        .book_style(PANEL_AXIS_TEXT)
        .draw()
        .map_err(plot_err)?;
    let left_centre = plotters::style::text_anchor::Pos::new(
        plotters::style::text_anchor::HPos::Left,
        plotters::style::text_anchor::VPos::Center,
    );
    for (k, (name, ms, colour)) in bars.iter().enumerate() {
        let y = (n - k) as f64; // the first bar on top
        chart
            .draw_series([Rectangle::new(
                [(0.0, y - 0.85), (*ms, y - 0.15)],
                colour.filled(),
            )])
            .map_err(plot_err)?;
        chart
            .draw_series([Text::new(
                format!("{name}: {ms:.0} ms"),
                (*ms + x_max * 0.012, y - 0.5),
                TextStyle::from((FONT, 13).into_font()).pos(left_centre),
            )])
            .map_err(plot_err)?;
    }
    Ok(())
}

/// A drawn line: legend name, colour, points.
type Line<'a> = (&'a str, RGBColor, Vec<(f64, f64)>);

/// A panel of the scaling figure: title, x axis name, lines, log axes.
type Panel<'a> = (&'a str, &'a str, Vec<Line<'a>>, bool);

/// One line of the scaling and roofline figures.
struct Series {
    name: &'static str,
    implementation: &'static str,
    threads: usize,
    colour: RGBColor,
}

impl Series {
    const fn new(
        name: &'static str,
        implementation: &'static str,
        threads: usize,
        colour: RGBColor,
    ) -> Self {
        Series {
            name,
            implementation,
            threads,
            colour,
        }
    }
}

const V5: Series = Series::new("v5, 1 thread", "v5", 1, NAVY);
const V7_2: Series = Series::new("v7, 2 threads", "v7", 2, GREEN);
const TORCH_1: Series = Series::new("PyTorch, 1 thread", "pytorch", 1, ORANGE);
const TORCH_2: Series = Series::new("PyTorch, 2 threads", "pytorch", 2, PURPLE);

/// `(x, y)` points of one series, sorted by `x`.
fn points(
    rows: &[&BenchRow],
    s: &Series,
    x: impl Fn(&BenchRow) -> f64,
    y: impl Fn(&BenchRow) -> f64,
) -> Result<Vec<(f64, f64)>> {
    let mut p: Vec<(f64, f64)> = rows
        .iter()
        .filter(|r| r.implementation == s.implementation && r.threads == s.threads)
        .map(|r| (x(r), y(r)))
        .collect();
    p.sort_by(|a, b| a.0.total_cmp(&b.0));
    // A one-thread version is timed in every thread count's round of a shape: keep the first.
    p.dedup_by(|b, a| a.0 == b.0);
    ensure!(
        p.len() >= 2,
        "the benchmark data has {} point(s) for {}; a line needs 2",
        p.len(),
        s.name
    );
    Ok(p)
}

/// Forward + backward time of the LSTM against `T` (linear axes), `H = I` and `B` (log–log),
/// each through the default shape (T=100, B=32, I=H=256), from the grid.
fn scaling() -> Result<String> {
    let data = load()?;
    let grid = data.rows_of("lstm-grid");
    let through = |t: Option<usize>, b: Option<usize>, h: Option<usize>| -> Vec<&BenchRow> {
        grid.iter()
            .copied()
            .filter(|r| {
                r.seq_len == t.unwrap_or(r.seq_len)
                    && r.batch == b.unwrap_or(r.batch)
                    && r.hidden_size == h.unwrap_or(r.hidden_size)
            })
            .collect()
    };
    let (t_rows, h_rows, b_rows) = (
        through(None, Some(32), Some(256)),
        through(Some(100), Some(32), None),
        through(Some(100), None, Some(256)),
    );
    let series = [&V5, &TORCH_1, &V7_2, &TORCH_2];
    let ms = |r: &BenchRow| r.fwd_bwd_ms;
    let lines = |rows: &[&BenchRow], x: fn(&BenchRow) -> f64| -> Result<Vec<Line<'static>>> {
        series
            .iter()
            .map(|s| Ok((s.name, s.colour, points(rows, s, x, ms)?)))
            .collect()
    };
    let panels: [Panel<'_>; 3] = [
        (
            "against T (B=32, I=H=256)",
            "T",
            lines(&t_rows, |r| r.seq_len as f64)?,
            false,
        ),
        (
            "against H = I (T=100, B=32)",
            "H = I (log)",
            lines(&h_rows, |r| r.hidden_size as f64)?,
            true,
        ),
        (
            "against B (T=100, I=H=256)",
            "B (log)",
            lines(&b_rows, |r| r.batch as f64)?,
            true,
        ),
    ];
    svg_document_sized((1000, 420), |root| {
        let root = root
            .titled("LSTM forward + backward time (ms, median)", (FONT, 19))
            .map_err(plot_err)?;
        for (i, (area, (title, x_desc, series, log))) in
            root.split_evenly((1, 3)).iter().zip(panels).enumerate()
        {
            line_panel(area, title, x_desc, &series, log, i == 0)?;
        }
        Ok(())
    })
}

fn line_panel(
    area: &DrawingArea<SVGBackend<'_>, Shift>,
    title: &str,
    x_desc: &str,
    series: &[Line<'_>],
    log: bool,
    legend: bool,
) -> Result<()> {
    // On the log panels x is plotted as log₂ x, so that every measured size gets its own tick.
    let series: Vec<Line<'_>> = series
        .iter()
        .map(|(n, c, pts)| {
            let pts = pts
                .iter()
                .map(|&(x, y)| (if log { x.log2() } else { x }, y))
                .collect();
            (*n, *c, pts)
        })
        .collect();
    let all = series.iter().flat_map(|s| s.2.iter());
    let (x_lo, x_hi, y_lo, y_hi) = all.fold(
        (f64::INFINITY, f64::NEG_INFINITY, f64::INFINITY, 0.0f64),
        |(a, b, c, d), &(x, y)| (a.min(x), b.max(x), c.min(y), d.max(y)),
    );
    let mut builder = ChartBuilder::on(area);
    builder
        .caption(title, (FONT, 14))
        .margin(8)
        .x_label_area_size(40)
        .y_label_area_size(48);
    let plain = |v: &f64| format!("{v:.0}");
    let x_fmt: &dyn Fn(&f64) -> String = if log { &pow2_label } else { &plain };
    macro_rules! draw {
        ($chart:expr, $x_labels:expr) => {{
            let mut chart = $chart;
            chart
                .configure_mesh()
                .x_desc(x_desc)
                .x_labels($x_labels)
                .y_labels(8)
                .x_label_formatter(x_fmt)
                .y_label_formatter(&|v| format!("{v:.0}"))
                .book_style(AxisText {
                    labels: 12,
                    desc: 13,
                })
                .draw()
                .map_err(plot_err)?;
            for (name, colour, pts) in &series {
                let stroke = colour.stroke_width(2);
                chart
                    .draw_series(LineSeries::new(pts.clone(), stroke))
                    .map_err(plot_err)?
                    .label(*name)
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], stroke));
                chart
                    .draw_series(pts.iter().map(|&p| Circle::new(p, 3, colour.filled())))
                    .map_err(plot_err)?;
            }
            if legend {
                draw_legend(&mut chart, SeriesLabelPosition::UpperLeft, 11)?;
            }
        }};
    }
    if log {
        let ticks = (x_hi - x_lo).round() as usize + 1;
        draw!(
            builder
                .build_cartesian_2d(x_lo - 0.3..x_hi + 0.3, (y_lo / 1.5..y_hi * 3.0).log_scale())
                .map_err(plot_err)?,
            ticks
        );
    } else {
        draw!(
            builder
                .build_cartesian_2d(0.0..x_hi * 1.05, 0.0..y_hi * 1.1)
                .map_err(plot_err)?,
            6
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_committed_data_parses_and_every_figure_draws() {
        let data = load().unwrap();
        for name in ["lstm-default", "gru-default", "lstm-grid", "gru-grid"] {
            assert!(data.run(name).is_ok(), "{name}");
        }
        assert!(data.machine.ceilings.is_some());
        for draw in [versions, scaling, roofline::roofline, heatmap::heatmap] {
            let svg = draw().unwrap();
            assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        }
        let table = table::results_table().unwrap();
        assert!(table.contains(&data.machine.cpu));
        assert!(table.contains("| v5 | 1 |") && table.contains("| PyTorch | 2 |"));
    }

    #[test]
    fn the_page_names_the_machine_of_the_data() {
        let data = load().unwrap();
        let page =
            std::fs::read_to_string(crate::repo_root().join("book/src/ch06-fused.md")).unwrap();
        assert!(page.contains("{{#include figures/ch06-results.md}}"));
        assert!(
            page.contains(&data.machine.cpu),
            "the page should name {}",
            data.machine.cpu
        );
    }
}
