//! `rnnbook bench`: time the chapter code and the fused versions on the same work.
//!
//! Every implementation is first checked against chapter 4's f64 reference on the benchmark's own
//! inputs (outputs and every gradient, within the f32 tolerance); only then is it timed. Times are
//! the median of `repeats` runs after one warm-up run, with min and max kept. GFLOP/s count the
//! GEMM flops only: forward `2·T·B·(I+H)·G·H`, forward + backward three times that.

use std::time::Instant;

use anyhow::{Result, bail, ensure};
use ch00_foundations::rng::{seeded_rng, uniform_array};
use ch00_foundations::tolerance::{F32_VS_F64_ATOL, F32_VS_F64_RTOL, compare_arrays};
use ch04_lstm::{LstmParams, LstmState};
use ch06_fused::lstm_v1;
use ndarray::{Array2, Array3};
use serde::Serialize;

/// What to run.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// `lstm` (the only cell benchmarked so far).
    pub cell: String,
    /// `T`.
    pub seq_len: usize,
    /// `B`.
    pub batch: usize,
    /// `I`.
    pub input_size: usize,
    /// `H`.
    pub hidden_size: usize,
    /// Threads (only 1 so far).
    pub threads: usize,
    /// Timed runs per measurement (after one warm-up).
    pub repeats: usize,
}

/// One implementation's timings; the JSON row of `--json`.
#[derive(Debug, Clone, Serialize)]
pub struct BenchRow {
    /// `lstm`.
    pub cell: String,
    /// `naive` (the chapter code), `v1`, …, or `gemm` (the roofline reference).
    #[serde(rename = "impl")]
    pub implementation: String,
    /// `f64` or `f32`.
    pub dtype: String,
    /// `T`.
    pub seq_len: usize,
    /// `B`.
    pub batch: usize,
    /// `I`.
    pub input_size: usize,
    /// `H`.
    pub hidden_size: usize,
    /// Threads used.
    pub threads: usize,
    /// Median forward time (for `gemm`: one GEMM of the forward's flop count).
    pub fwd_ms: f64,
    /// Median forward + backward time.
    pub fwd_bwd_ms: f64,
    /// `[min, max]` of the forward + backward runs.
    pub fwd_bwd_range_ms: [f64; 2],
    /// GEMM GFLOP/s of the forward + backward run.
    pub gflops: f64,
}

struct Timing {
    median: f64,
    min: f64,
    max: f64,
}

fn time_ms(repeats: usize, mut f: impl FnMut()) -> Timing {
    f(); // warm-up
    let mut ms: Vec<f64> = (0..repeats)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    ms.sort_by(f64::total_cmp);
    Timing {
        median: ms[ms.len() / 2],
        min: ms[0],
        max: ms[ms.len() - 1],
    }
}

/// Forward GEMM flops: `2·T·B·(I+H)·G·H`.
pub fn forward_flops(o: &BenchOptions, gates: usize) -> f64 {
    2.0 * (o.seq_len * o.batch * (o.input_size + o.hidden_size) * gates * o.hidden_size) as f64
}

/// Runs the benchmark; `progress` is told what is being timed.
pub fn run(o: &BenchOptions, mut progress: impl FnMut(&str)) -> Result<Vec<BenchRow>> {
    if o.cell != "lstm" {
        bail!(
            "--cell {}: only `lstm` is benchmarked so far (the fused GRU is not written yet)",
            o.cell
        );
    }
    if o.threads != 1 {
        bail!(
            "--threads {}: only 1 thread is implemented so far",
            o.threads
        );
    }
    ensure!(o.repeats > 0, "--repeats must be at least 1");
    ensure!(
        o.seq_len > 0 && o.batch > 0 && o.input_size > 0 && o.hidden_size > 0,
        "every size must be positive"
    );
    let (t, b, i, h) = (o.seq_len, o.batch, o.input_size, o.hidden_size);
    let mut rng = seeded_rng(1);
    let p64 = LstmParams::init(i, h, &mut rng);
    let x: Array3<f64> = uniform_array((t, b, i), -1.0, 1.0, &mut rng);
    let dy: Array3<f64> = uniform_array((t, b, h), -1.0, 1.0, &mut rng);
    let s0 = LstmState::zeros(b, h);
    let p = lstm_v1::LstmF32::from_f64(&p64);
    let (x32, dy32) = (x.mapv(|v| v as f32), dy.mapv(|v| v as f32));
    let z32 = Array2::<f32>::zeros((b, h));

    progress("checking v1 against chapter 4 (f64)");
    let (y64, _, caches) = ch04_lstm::forward(&p64, x.view(), &s0);
    let (g64, dx64, ds0) = ch04_lstm::backward(&p64, &caches, dy.view(), &s0);
    let (y, _, _, cache) = lstm_v1::forward(&p, x32.view(), &z32, &z32);
    let (g, dx, dh0, dc0) = lstm_v1::backward(&p, &cache, dy32.view(), &z32, &z32);
    for (name, actual, expected) in [
        ("y", y.mapv(f64::from).into_dyn(), y64.into_dyn()),
        ("dx", dx.mapv(f64::from).into_dyn(), dx64.into_dyn()),
        (
            "dweight_hh",
            g.dweight_hh.mapv(f64::from).into_dyn(),
            g64.dweight_hh.into_dyn(),
        ),
        (
            "dweight_ih",
            g.dweight_ih.mapv(f64::from).into_dyn(),
            g64.dweight_ih.into_dyn(),
        ),
        (
            "dbias",
            g.dbias.mapv(f64::from).into_dyn(),
            g64.dbias_ih.into_dyn(),
        ),
        ("dh0", dh0.mapv(f64::from).into_dyn(), ds0.h.into_dyn()),
        ("dc0", dc0.mapv(f64::from).into_dyn(), ds0.c.into_dyn()),
    ] {
        let c = compare_arrays(&actual, &expected, F32_VS_F64_ATOL, F32_VS_F64_RTOL)?;
        ensure!(
            c.is_within(),
            "v1 disagrees with chapter 4 on {name}: {c}; not timing it"
        );
    }

    let fwd_flops = forward_flops(o, 4);
    let row = |name: &str, dtype: &str, fwd: Timing, all: Timing| BenchRow {
        cell: o.cell.clone(),
        implementation: name.to_string(),
        dtype: dtype.to_string(),
        seq_len: t,
        batch: b,
        input_size: i,
        hidden_size: h,
        threads: o.threads,
        fwd_ms: fwd.median,
        fwd_bwd_ms: all.median,
        fwd_bwd_range_ms: [all.min, all.max],
        gflops: 3.0 * fwd_flops / all.median / 1e6,
    };
    let mut rows = Vec::new();

    progress("timing naive (chapter 4, f64)");
    let fwd = time_ms(o.repeats, || {
        std::hint::black_box(ch04_lstm::forward(&p64, x.view(), &s0));
    });
    let all = time_ms(o.repeats, || {
        let (_, _, c) = ch04_lstm::forward(&p64, x.view(), &s0);
        std::hint::black_box(ch04_lstm::backward(&p64, &c, dy.view(), &s0));
    });
    rows.push(row("naive", "f64", fwd, all));

    progress("timing v1 (f32)");
    let fwd = time_ms(o.repeats, || {
        std::hint::black_box(lstm_v1::forward(&p, x32.view(), &z32, &z32));
    });
    let all = time_ms(o.repeats, || {
        let (_, _, _, c) = lstm_v1::forward(&p, x32.view(), &z32, &z32);
        std::hint::black_box(lstm_v1::backward(&p, &c, dy32.view(), &z32, &z32));
    });
    rows.push(row("v1", "f32", fwd, all));

    // The roofline reference: one f32 GEMM with the forward's flop count,
    // [T·B, I+H] · [I+H, 4H], with the GEMM routine the kernels use.
    progress("timing the GEMM roofline");
    let a = Array2::<f32>::from_elem((t * b, i + h), 0.5);
    let w = Array2::<f32>::from_elem((i + h, 4 * h), 0.25);
    let mut out = Array2::<f32>::zeros((t * b, 4 * h));
    let gemm = time_ms(o.repeats, || {
        ndarray::linalg::general_mat_mul(1.0, &a, &w, 0.0, &mut out);
        std::hint::black_box(&out);
    });
    let mut r = row(
        "gemm",
        "f32",
        Timing {
            median: gemm.median,
            min: gemm.min,
            max: gemm.max,
        },
        Timing {
            median: 3.0 * gemm.median,
            min: 3.0 * gemm.min,
            max: 3.0 * gemm.max,
        },
    );
    r.gflops = fwd_flops / gemm.median / 1e6;
    rows.push(r);
    Ok(rows)
}

/// The table printed without `--json`.
pub fn table(rows: &[BenchRow]) -> String {
    let mut s = String::new();
    if let Some(r) = rows.first() {
        s.push_str(&format!(
            "{} T={} B={} I={} H={}, {} thread(s); median of repeats (min–max)\n",
            r.cell, r.seq_len, r.batch, r.input_size, r.hidden_size, r.threads
        ));
    }
    let naive = rows
        .iter()
        .find(|r| r.implementation == "naive")
        .map(|r| r.fwd_bwd_ms);
    s.push_str("impl   dtype    fwd ms   fwd+bwd ms  (min–max)          GFLOP/s  vs naive\n");
    for r in rows {
        let speedup = naive.map_or(String::new(), |n| format!("{:.2}×", n / r.fwd_bwd_ms));
        s.push_str(&format!(
            "{:<6} {:<5} {:9.1} {:12.1}  ({:7.1}–{:7.1})  {:8.1}  {}\n",
            r.implementation,
            r.dtype,
            r.fwd_ms,
            r.fwd_bwd_ms,
            r.fwd_bwd_range_ms[0],
            r.fwd_bwd_range_ms[1],
            r.gflops,
            if r.implementation == "gemm" {
                "(one GEMM of the forward's flops; ×3 for fwd+bwd)".to_string()
            } else {
                speedup
            }
        ));
    }
    s
}
