//! Chapter 6's results table, as Markdown, from the committed benchmark data.

use anyhow::Result;
use ch06_fused::results::{BenchFile, BenchRow};

use super::{find, load};

/// The page's results table, as Markdown, from the data: the default shape, both cells.
pub(super) fn results_table() -> Result<String> {
    results_table_from(&load()?)
}

fn results_table_from(data: &BenchFile) -> Result<String> {
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
