//! The table `rnnbook bench` prints without `--json`.

use ch06_fused::results::{BenchMachine, BenchReport, BenchRow};

/// The machine's lines of the table: CPU, SIMD paths, the measured ceilings, PyTorch.
pub fn machine_lines(m: &BenchMachine) -> String {
    let c = &m.ceilings;
    let peaks: Vec<String> = c
        .paths
        .iter()
        .zip(&c.fma_peak_gflops)
        .map(|(p, g)| format!("{g:.0} ({p})"))
        .collect();
    let mut s = format!(
        "machine: {}, {} logical CPUs; SIMD paths {} (v5 to v7 take {})\n\
         one core: FMA peak GFLOP/s {}; read bandwidth {:.0} GB/s from 512 KiB (L2), {:.0} GB/s from 256 MiB (memory)\n",
        m.cpu,
        m.logical_cpus,
        c.paths.join(", "),
        c.paths[0],
        peaks.join(", "),
        c.l2_read_gbs,
        c.memory_read_gbs
    );
    if let Some(t) = m.torch_cells.first() {
        let ran: Vec<String> = m
            .torch_cells
            .iter()
            .map(|c| format!("{} {}", c.cell, if c.onednn_ran { "yes" } else { "no" }))
            .collect();
        s.push_str(&format!(
            "PyTorch {}, CPU capability {}, oneDNN available: {}; oneDNN's RNN kernel ran: {}\n",
            t.torch,
            t.capability,
            t.onednn_available,
            ran.join(", ")
        ));
    }
    s
}

/// One block of rows: the same cell and shape, each implementation once.
fn blocks(rows: &[BenchRow]) -> Vec<&[BenchRow]> {
    let key = |r: &BenchRow| {
        (
            r.cell.clone(),
            r.seq_len,
            r.batch,
            r.input_size,
            r.hidden_size,
        )
    };
    let mut out = Vec::new();
    let mut start = 0;
    for k in 1..=rows.len() {
        let ends = k == rows.len()
            || key(&rows[k]) != key(&rows[start])
            || rows[start..k]
                .iter()
                .any(|r| r.implementation == rows[k].implementation);
        if ends {
            out.push(&rows[start..k]);
            start = k;
        }
    }
    out
}

/// The table printed without `--json`: the machine, then one block per combination, each row
/// with its share of the FMA peak (of the threads it used) and its speed against the chapter
/// code and against PyTorch when they were timed in the same rounds.
pub fn table(report: &BenchReport) -> String {
    let mut s = machine_lines(&report.machine);
    let peak = report.machine.ceilings.peak();
    for block in blocks(&report.rows) {
        let r0 = &block[0];
        let time_of = |name: &str| {
            block
                .iter()
                .find(|r| r.implementation == name)
                .map(|r| r.fwd_bwd_ms)
        };
        let (naive, torch) = (time_of("naive"), time_of("pytorch"));
        let threads = block.iter().map(|r| r.threads).max().unwrap_or(1);
        s.push_str(&format!(
            "\n{} T={} B={} I={} H={}, {threads} thread(s) at most; median of repeats (min–max)\n",
            r0.cell, r0.seq_len, r0.batch, r0.input_size, r0.hidden_size
        ));
        s.push_str(
            "impl     dtype threads    fwd ms   fwd+bwd ms  (min–max)          GFLOP/s  % peak  vs naive  vs PyTorch\n",
        );
        for r in block {
            let ratio = |base: Option<f64>| {
                base.map_or("-".to_string(), |b| format!("{:.2}×", b / r.fwd_bwd_ms))
            };
            let (vs_naive, vs_torch) = if r.implementation == "gemm" {
                ("-".to_string(), "-".to_string())
            } else {
                (ratio(naive), ratio(torch))
            };
            s.push_str(&format!(
                "{:<8} {:<5} {:>7} {:9.1} {:12.1}  ({:7.1}–{:7.1})  {:8.1}  {:5.0}%  {:>8}  {:>10}\n",
                r.implementation,
                r.dtype,
                r.threads,
                r.fwd_ms,
                r.fwd_bwd_ms,
                r.fwd_bwd_range_ms[0],
                r.fwd_bwd_range_ms[1],
                r.gflops,
                100.0 * r.gflops / (peak * r.threads as f64),
                vs_naive,
                vs_torch,
            ));
        }
        if block.iter().any(|r| r.implementation == "gemm") {
            s.push_str(
                "gemm: one gemm-crate GEMM [T·B, I+H]·[I+H, G·H] with the forward's flops, 1 thread \
                 (fwd+bwd = 3×): a ceiling for kernels built from that GEMM at this shape, not a roofline\n",
            );
        }
    }
    s
}
