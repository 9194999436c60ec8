//! Chapter 6's results table, as Markdown, from the committed benchmark data.

use anyhow::{Context, Result};
use ch06_fused::results::{BenchFile, BenchRow};

use super::heatmap::speedups;
use super::{find, load};

/// The page's results table, as Markdown, from the data: the machine and its ceilings, the
/// default shape for both cells, and a summary of the grid.
pub(super) fn results_table() -> Result<String> {
    results_table_from(&load()?)
}

fn machine_paragraph(data: &BenchFile) -> Result<String> {
    let m = &data.machine;
    let c = m
        .ceilings
        .as_ref()
        .context("the benchmark data has no measured ceilings (rerun bench/sweep.py)")?;
    let peaks: Vec<String> = c
        .paths
        .iter()
        .zip(&c.fma_peak_gflops)
        .map(|(p, g)| format!("{g:.0} GFLOP/s ({p})"))
        .collect();
    let torch: Vec<String> = m
        .torch_cells
        .iter()
        .map(|t| {
            format!(
                "{}: {}",
                t.cell.to_uppercase(),
                if t.onednn_ran {
                    "oneDNN's RNN kernel"
                } else {
                    "PyTorch's own kernels (no oneDNN RNN)"
                }
            )
        })
        .collect();
    let capability = m.torch_cells.first().map_or("?", |t| t.capability.as_str());
    Ok(format!(
        "Measured on {} ({} logical CPUs; SIMD paths {}, v5 to v7 on {}), {}, PyTorch {} (CPU \
         capability {capability}; {}), on {} at commit `{}`. One core's measured ceilings: FMA \
         peak {}; read bandwidth {:.0} GB/s from a 512 KiB buffer (L2), {:.0} GB/s from 256 MiB \
         (memory).\n",
        m.cpu,
        m.logical_cpus,
        c.paths.join(", "),
        c.paths[0],
        m.rustc,
        m.torch,
        torch.join("; "),
        m.date,
        m.commit,
        peaks.join(", "),
        c.l2_read_gbs,
        c.memory_read_gbs,
    ))
}

/// The median of sorted speed-ups (the mean of the middle two for an even count).
fn median(sorted: &[super::heatmap::Speedup]) -> f64 {
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2].1
    } else {
        (sorted[n / 2 - 1].1 + sorted[n / 2].1) / 2.0
    }
}

fn results_table_from(data: &BenchFile) -> Result<String> {
    let mut s = machine_paragraph(data)?;
    let peak = data.machine.ceilings.as_ref().map_or(1.0, |c| c.peak());
    for (run_name, cell) in [("lstm-default", "LSTM"), ("gru-default", "GRU")] {
        let run = data.run(run_name)?;
        s.push_str(&format!(
            "\n**{cell}**, T=100, B=32, I=H=256, `{}`:\n\n\
             | implementation | threads | forward ms | forward + backward ms (min–max) | GFLOP/s | % of FMA peak | × naive | × PyTorch, same threads |\n\
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
            for r in rows.iter().filter(|r| threads == 1 || r.threads > 1) {
                let torch = find(rows, "pytorch", r.threads)
                    .map(|t| format!("{:.2}", t.fwd_bwd_ms / r.fwd_bwd_ms))
                    .unwrap_or_default();
                let name = match r.implementation.as_str() {
                    "naive" => format!(
                        "naive (chapter {}, f64)",
                        if cell == "LSTM" { 4 } else { 5 }
                    ),
                    "gemm" => "one GEMM (×3)".to_string(),
                    "pytorch" => "PyTorch".to_string(),
                    other => other.to_string(),
                };
                s.push_str(&format!(
                    "| {name} | {} | {:.1} | {:.1} ({:.1}–{:.1}) | {:.1} | {:.0} % | {:.2} | {} |\n",
                    r.threads,
                    r.fwd_ms,
                    r.fwd_bwd_ms,
                    r.fwd_bwd_range_ms[0],
                    r.fwd_bwd_range_ms[1],
                    r.gflops,
                    100.0 * r.gflops / (peak * r.threads as f64),
                    naive / r.fwd_bwd_ms,
                    if r.implementation == "gemm" { String::new() } else { torch },
                ));
            }
        }
    }
    s.push_str(
        "\nThe \"one GEMM\" row times one single-threaded `gemm`-crate GEMM \
         `[T·B, I+H] · [I+H, G·H]` with the forward pass's flops (its forward + backward column is \
         3× that): a ceiling for kernels built from that GEMM at this shape, not a roofline. \
         GFLOP/s count GEMM flops only (forward 2·T·B·(I+H)·G·H, forward + backward 3×); \
         \"% of FMA peak\" divides by the threads used and by one core's measured peak. The \
         2-thread rows come from a second round of the same command, whose own naive row they are \
         compared with. PyTorch ran in the same rounds, on the same numbers, with gradients on in \
         its forward. \"× PyTorch\" above 1 means faster than PyTorch.\n",
    );
    s.push_str("\n**The grid** (`rnnbook bench --sweep`: T ∈ {25, 100, 400}, B ∈ {1, 8, 32, 128}, H = I ∈ {128, 256, 512}), PyTorch's time ÷ ours:\n\n| cell | threads | ours | cells | slowest | median | fastest | cells where PyTorch is faster |\n|---|---:|---|---:|---:|---:|---:|---|\n");
    for (run_name, cell) in [("lstm-grid", "LSTM"), ("gru-grid", "GRU")] {
        let rows = data.rows_of(run_name);
        for threads in [1, 2] {
            let mut sp = speedups(&rows, threads)?;
            sp.sort_by(|a, b| a.1.total_cmp(&b.1));
            let slower: Vec<String> = sp
                .iter()
                .filter(|(_, r)| *r < 1.0)
                .map(|((t, b, h), r)| format!("T={t} B={b} H={h} ({r:.2})"))
                .collect();
            s.push_str(&format!(
                "| {cell} | {threads} | {} | {} | {:.2} | {:.2} | {:.2} | {} |\n",
                super::ours_on(&rows, threads),
                sp.len(),
                sp[0].1,
                median(&sp),
                sp[sp.len() - 1].1,
                if slower.is_empty() {
                    "none".to_string()
                } else {
                    slower.join(", ")
                },
            ));
        }
    }
    Ok(s)
}
