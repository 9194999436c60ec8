//! The table `rnnbook bench` prints without `--json`.

use ch06_fused::results::BenchRow;

/// The table printed without `--json`: one block per combination.
pub fn table(rows: &[BenchRow]) -> String {
    let mut s = String::new();
    let mut naive = None;
    for r in rows {
        if r.implementation == "naive" {
            naive = Some(r.fwd_bwd_ms);
            s.push_str(&format!(
                "\n{} T={} B={} I={} H={}; median of repeats (min–max)\n",
                r.cell, r.seq_len, r.batch, r.input_size, r.hidden_size
            ));
            s.push_str(
                "impl   dtype threads    fwd ms   fwd+bwd ms  (min–max)          GFLOP/s  vs naive\n",
            );
        }
        let note = if r.implementation == "gemm" {
            "(one GEMM of the forward's flops, 1 thread; ×3 for fwd+bwd)".to_string()
        } else {
            naive.map_or(String::new(), |n| format!("{:.2}×", n / r.fwd_bwd_ms))
        };
        s.push_str(&format!(
            "{:<6} {:<5} {:>7} {:9.1} {:12.1}  ({:7.1}–{:7.1})  {:8.1}  {}\n",
            r.implementation,
            r.dtype,
            r.threads,
            r.fwd_ms,
            r.fwd_bwd_ms,
            r.fwd_bwd_range_ms[0],
            r.fwd_bwd_range_ms[1],
            r.gflops,
            note
        ));
    }
    s.trim_start().to_string()
}
