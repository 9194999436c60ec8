//! Chapter 6's figures and results table, drawn from the committed benchmark data
//! (`chapters/ch06-fused/data/bench.json`, written by `bench/sweep.py`). The build never
//! benchmarks: timings belong to the machine that measured them, which the file records.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail, ensure};
use plotters::coord::Shift;
use plotters::prelude::*;
use serde::Deserialize;

use super::{BLUE, FONT, Figure, ORANGE, draw_legend, plot_err, svg_document_sized};
use crate::bench::BenchRow;

const GREY: RGBColor = RGBColor(90, 90, 90);
const SKY: RGBColor = RGBColor(86, 180, 233);
const GREEN: RGBColor = RGBColor(0, 158, 115);
const PURPLE: RGBColor = RGBColor(204, 121, 167);
const LIGHT_GREY: RGBColor = RGBColor(190, 190, 190);

/// Chapter 6's figures, and the results table the page includes.
pub fn figures() -> Vec<Figure> {
    vec![
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
            draw: roofline,
        },
        Figure {
            file: "ch06-results.md",
            draw: results_table,
        },
    ]
}

/// What `bench/sweep.py` writes.
#[derive(Debug, Deserialize)]
pub struct BenchFile {
    /// Where and with what the numbers were measured.
    pub machine: Machine,
    /// One entry per `rnnbook bench` invocation.
    pub runs: Vec<Run>,
}

/// The measuring machine.
#[derive(Debug, Deserialize)]
pub struct Machine {
    /// CPU model name.
    pub cpu: String,
    /// Logical CPUs.
    pub logical_cpus: usize,
    /// Of `avx2`, `fma`, `avx512f`: those the CPU has.
    pub simd: Vec<String>,
    /// `rustc --version`.
    pub rustc: String,
    /// PyTorch's version.
    pub torch: String,
    /// Day of the measurement.
    pub date: String,
    /// The repository's commit.
    pub commit: String,
}

/// One `rnnbook bench --json` invocation.
#[derive(Debug, Deserialize)]
pub struct Run {
    /// E.g. `lstm-default`.
    pub name: String,
    /// The command line.
    pub command: String,
    /// Its JSON rows.
    pub rows: Vec<BenchRow>,
}

/// The committed benchmark data.
pub fn bench_data_path() -> PathBuf {
    crate::repo_root()
        .join("chapters")
        .join("ch06-fused")
        .join("data")
        .join("bench.json")
}

/// Reads and checks the benchmark data; errors name the file and what is wrong.
pub fn read_bench(path: &Path) -> Result<BenchFile> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the benchmark data {}", path.display()))?;
    let file: BenchFile = serde_json::from_str(&text).with_context(|| {
        format!(
            "the benchmark data {} is not in the form bench/sweep.py writes",
            path.display()
        )
    })?;
    for run in &file.runs {
        ensure!(
            !run.rows.is_empty(),
            "the benchmark data {}: run {} has no rows",
            path.display(),
            run.name
        );
        for r in &run.rows {
            ensure!(
                [r.fwd_ms, r.fwd_bwd_ms, r.gflops]
                    .iter()
                    .all(|v| v.is_finite() && *v > 0.0),
                "the benchmark data {}: run {}, {} has a time or rate that is not a positive number",
                path.display(),
                run.name,
                r.implementation
            );
        }
    }
    Ok(file)
}

impl BenchFile {
    fn run(&self, name: &str) -> Result<&Run> {
        match self.runs.iter().find(|r| r.name == name) {
            Some(r) => Ok(r),
            None => bail!("the benchmark data has no run named {name}"),
        }
    }

    /// Rows of every run whose name starts with `prefix`.
    fn rows_of(&self, prefix: &str) -> Vec<&BenchRow> {
        self.runs
            .iter()
            .filter(|r| r.name.starts_with(prefix))
            .flat_map(|r| &r.rows)
            .collect()
    }
}

fn find<'a>(rows: &[&'a BenchRow], implementation: &str, threads: usize) -> Result<&'a BenchRow> {
    match rows
        .iter()
        .find(|r| r.implementation == implementation && r.threads == threads)
    {
        Some(r) => Ok(r),
        None => bail!("the benchmark data has no {implementation} row with {threads} thread(s)"),
    }
}

fn load() -> Result<BenchFile> {
    read_bench(&bench_data_path())
}

/// The bars of one cell's panel: label, time, colour.
fn bars(rows: &[&BenchRow]) -> Result<Vec<(String, f64, RGBColor)>> {
    let ours = |name: &str, threads| find(rows, name, threads).map(|r| r.fwd_bwd_ms);
    Ok(vec![
        ("naive (f64)".into(), ours("naive", 1)?, GREY),
        ("v1".into(), ours("v1", 1)?, SKY),
        ("v2".into(), ours("v2", 1)?, BLUE),
        ("PyTorch, 1 thread".into(), ours("pytorch", 1)?, ORANGE),
        ("v3, 2 threads".into(), ours("v3", 2)?, GREEN),
        ("PyTorch, 2 threads".into(), ours("pytorch", 2)?, PURPLE),
        ("GEMM roofline, 1 thr.".into(), ours("gemm", 1)?, LIGHT_GREY),
    ])
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
    svg_document_sized((900, 420), |root| {
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
        .label_style((FONT, 13))
        .axis_desc_style((FONT, 14))
        .light_line_style(WHITE.mix(0.0))
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

const NAIVE: Series = Series {
    name: "naive (f64)",
    implementation: "naive",
    threads: 1,
    colour: GREY,
};
const V1: Series = Series {
    name: "v1",
    implementation: "v1",
    threads: 1,
    colour: SKY,
};
const V2: Series = Series {
    name: "v2",
    implementation: "v2",
    threads: 1,
    colour: BLUE,
};
const V3_2: Series = Series {
    name: "v3, 2 threads",
    implementation: "v3",
    threads: 2,
    colour: GREEN,
};
const TORCH_1: Series = Series {
    name: "PyTorch, 1 thread",
    implementation: "pytorch",
    threads: 1,
    colour: ORANGE,
};
const TORCH_2: Series = Series {
    name: "PyTorch, 2 threads",
    implementation: "pytorch",
    threads: 2,
    colour: PURPLE,
};

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
    ensure!(
        p.len() >= 2,
        "the benchmark data has {} point(s) for {}; a line needs 2",
        p.len(),
        s.name
    );
    Ok(p)
}

/// Forward + backward time against `T` (linear axes), `H = I` and `B` (log–log).
fn scaling() -> Result<String> {
    let data = load()?;
    let t_rows = data.rows_of("lstm-seq-len");
    let h_rows = data.rows_of("lstm-hidden-");
    let b_rows = data.rows_of("lstm-batch");
    let one = [&NAIVE, &V1, &V2, &TORCH_1];
    let b_series = [&NAIVE, &V2, &V3_2, &TORCH_1, &TORCH_2];
    let ms = |r: &BenchRow| r.fwd_bwd_ms;
    let panels: [Panel<'_>; 3] = [
        (
            "against T (B=32, I=H=256)",
            "T",
            one.iter()
                .map(|s| {
                    Ok((
                        s.name,
                        s.colour,
                        points(&t_rows, s, |r| r.seq_len as f64, ms)?,
                    ))
                })
                .collect::<Result<_>>()?,
            false,
        ),
        (
            "against H = I (T=100, B=32)",
            "H = I (log)",
            one.iter()
                .map(|s| {
                    Ok((
                        s.name,
                        s.colour,
                        points(&h_rows, s, |r| r.hidden_size as f64, ms)?,
                    ))
                })
                .collect::<Result<_>>()?,
            true,
        ),
        (
            "against B (T=100, I=H=256)",
            "B (log)",
            b_series
                .iter()
                .map(|s| {
                    Ok((
                        s.name,
                        s.colour,
                        points(&b_rows, s, |r| r.batch as f64, ms)?,
                    ))
                })
                .collect::<Result<_>>()?,
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
            line_panel(area, title, x_desc, &series, log, i != 1)?;
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
    let pow2 = |v: &f64| {
        if (v - v.round()).abs() < 1e-9 {
            format!("{}", 2f64.powf(v.round()) as u64)
        } else {
            String::new()
        }
    };
    let plain = |v: &f64| format!("{v:.0}");
    let x_fmt: &dyn Fn(&f64) -> String = if log { &pow2 } else { &plain };
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
                .label_style((FONT, 12))
                .axis_desc_style((FONT, 13))
                .light_line_style(WHITE.mix(0.0))
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

/// GEMM GFLOP/s of each implementation against `H = I`, under the single-core GEMM line.
fn roofline() -> Result<String> {
    let data = load()?;
    let rows = data.rows_of("lstm-hidden-");
    let h = |r: &BenchRow| (r.hidden_size as f64).log2();
    let rate = |r: &BenchRow| r.gflops;
    let gemm = points(
        &rows,
        &Series {
            name: "GEMM roofline",
            implementation: "gemm",
            threads: 1,
            colour: GREY,
        },
        h,
        rate,
    )?;
    let series: Vec<Line<'_>> = [&NAIVE, &V1, &V2, &TORCH_1]
        .iter()
        .map(|s| Ok((s.name, s.colour, points(&rows, s, h, rate)?)))
        .collect::<Result<_>>()?;
    let y_max = gemm.iter().map(|p| p.1).fold(0.0, f64::max) * 1.7;
    let (x_lo, x_hi) = (gemm[0].0 - 0.3, gemm[gemm.len() - 1].0 + 0.3);
    let ticks = gemm.len();
    svg_document_sized((760, 440), |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(
                "LSTM forward + backward: GEMM GFLOP/s against the one-thread GEMM (T=100, B=32)",
                (FONT, 16),
            )
            .margin(12)
            .x_label_area_size(42)
            .y_label_area_size(56)
            .build_cartesian_2d(x_lo..x_hi, 0.0..y_max)
            .map_err(plot_err)?;
        chart
            .configure_mesh()
            .x_desc("H = I (log)")
            .y_desc("GFLOP/s (GEMM flops only)")
            .y_label_formatter(&|v| format!("{v:.0}"))
            .x_labels(ticks)
            .x_label_formatter(&|v| {
                if (v - v.round()).abs() < 1e-9 {
                    format!("{}", 2f64.powf(v.round()) as u64)
                } else {
                    String::new()
                }
            })
            .label_style((FONT, 13))
            .axis_desc_style((FONT, 14))
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(plot_err)?;
        let dashed = GREY.stroke_width(2);
        chart
            .draw_series(DashedLineSeries::new(gemm.clone(), 8, 5, dashed))
            .map_err(plot_err)?
            .label("single-core f32 GEMM (roofline)")
            .legend(move |(x, y)| {
                EmptyElement::at((x, y))
                    + PathElement::new(vec![(0, 0), (8, 0)], dashed)
                    + PathElement::new(vec![(13, 0), (21, 0)], dashed)
            });
        let sixty: Vec<(f64, f64)> = gemm.iter().map(|&(x, y)| (x, 0.6 * y)).collect();
        let thin = GREY.mix(0.6).stroke_width(1);
        chart
            .draw_series(DashedLineSeries::new(sixty, 3, 4, thin))
            .map_err(plot_err)?
            .label("60 % of the roofline")
            .legend(move |(x, y)| {
                EmptyElement::at((x, y))
                    + PathElement::new(vec![(0, 0), (4, 0)], thin)
                    + PathElement::new(vec![(8, 0), (12, 0)], thin)
                    + PathElement::new(vec![(16, 0), (20, 0)], thin)
            });
        for (name, colour, pts) in series {
            let stroke = colour.stroke_width(2);
            chart
                .draw_series(LineSeries::new(pts.clone(), stroke))
                .map_err(plot_err)?
                .label(name)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], stroke));
            chart
                .draw_series(pts.iter().map(|&p| Circle::new(p, 3, colour.filled())))
                .map_err(plot_err)?;
        }
        draw_legend(&mut chart, SeriesLabelPosition::UpperLeft, 12)
    })
}

/// The page's results table, as Markdown, from the data: the default shape, both cells.
fn results_table() -> Result<String> {
    results_table_from(&load()?)
}

pub(crate) fn results_table_from(data: &BenchFile) -> Result<String> {
    let m = &data.machine;
    let mut s = format!(
        "Measured on {} ({} logical CPUs; {}), {}, PyTorch {}, on {} at commit `{}`.\n",
        m.cpu,
        m.logical_cpus,
        if m.simd.is_empty() {
            "no AVX2".to_string()
        } else {
            m.simd.join(", ")
        },
        m.rustc,
        m.torch,
        m.date,
        m.commit
    );
    for (run_name, cell) in [("lstm-default", "LSTM"), ("gru-default", "GRU")] {
        let run = data.run(run_name)?;
        s.push_str(&format!(
            "\n**{cell}**, T=100, B=32, I=H=256, `{}`:\n\n\
             | implementation | threads | forward ms | forward + backward ms (min–max) | GFLOP/s | % of 1-thread GEMM | × naive | × PyTorch, same threads |\n\
             |---|---:|---:|---:|---:|---:|---:|---:|\n",
            run.command
        ));
        // One combination per `naive` row; from a multi-thread combination only the rows that
        // used the threads are new, so only those are listed.
        let mut combos: Vec<Vec<&BenchRow>> = Vec::new();
        for r in &run.rows {
            if r.implementation == "naive" || combos.is_empty() {
                combos.push(Vec::new());
            }
            combos.last_mut().expect("pushed").push(r);
        }
        for rows in &combos {
            let threads = rows.iter().map(|r| r.threads).max().unwrap_or(1);
            let naive = find(rows, "naive", 1)?.fwd_bwd_ms;
            let gemm = find(rows, "gemm", 1)?.gflops;
            for r in rows.iter().filter(|r| threads == 1 || r.threads > 1) {
                let torch = find(rows, "pytorch", r.threads)
                    .map(|t| format!("{:.2}", t.fwd_bwd_ms / r.fwd_bwd_ms))
                    .unwrap_or_default();
                let name = match r.implementation.as_str() {
                    "naive" => format!(
                        "naive (chapter {}, f64)",
                        if cell == "LSTM" { 4 } else { 5 }
                    ),
                    "gemm" => "GEMM roofline".to_string(),
                    "pytorch" => "PyTorch".to_string(),
                    other => other.to_string(),
                };
                let per_core = r.gflops / r.threads as f64;
                s.push_str(&format!(
                    "| {name} | {} | {:.1} | {:.1} ({:.1}–{:.1}) | {:.1} | {:.0} % | {:.2} | {} |\n",
                    r.threads,
                    r.fwd_ms,
                    r.fwd_bwd_ms,
                    r.fwd_bwd_range_ms[0],
                    r.fwd_bwd_range_ms[1],
                    r.gflops,
                    100.0 * per_core / gemm,
                    naive / r.fwd_bwd_ms,
                    if r.implementation == "gemm" { String::new() } else { torch },
                ));
            }
        }
    }
    s.push_str(
        "\nThe GEMM roofline row times one single-threaded GEMM with the forward pass's flops \
         (its forward + backward column is 3× that). \
         GFLOP/s count GEMM flops only (forward 2·T·B·(I+H)·G·H, forward + backward 3×); \
         \"% of 1-thread GEMM\" divides by the number of threads. The 2-thread rows come from a \
         second round of the same command, whose own naive and GEMM rows they are compared with. \
         \"× PyTorch\" above 1 means faster than PyTorch.\n",
    );
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_committed_data_parses_and_every_figure_draws() {
        let data = load().unwrap();
        for name in ["lstm-default", "gru-default", "lstm-seq-len", "lstm-batch"] {
            assert!(data.run(name).is_ok(), "{name}");
        }
        for draw in [versions, scaling, roofline] {
            let svg = draw().unwrap();
            assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        }
        let table = results_table().unwrap();
        assert!(table.contains(&data.machine.cpu));
        assert!(table.contains("| v2 | 1 |") && table.contains("| PyTorch | 2 |"));
    }

    #[test]
    fn a_missing_or_broken_data_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("bench.json");
        let err = format!("{:#}", read_bench(&missing).unwrap_err());
        assert!(err.contains("bench.json"), "{err}");
        std::fs::write(&missing, "{\"machine\": 3}").unwrap();
        let err = format!("{:#}", read_bench(&missing).unwrap_err());
        assert!(
            err.contains("bench.json") && err.contains("sweep.py"),
            "{err}"
        );
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
