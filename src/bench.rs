//! `rnnbook bench`: time the chapter code and the fused versions on the same work.
//!
//! For every combination of the sizes asked for, every implementation of chapter 6's
//! [`runners`](ch06_fused::runners) is first checked against the chapter's `f64` code on the
//! benchmark's own inputs (outputs, final states and every gradient, within the `f32` tolerance);
//! only then is it timed. Times are the median of `repeats` runs after one warm-up run, with min
//! and max kept. GFLOP/s count the GEMM flops only: forward `2·T·B·(I+H)·G·H`, forward + backward
//! three times that. The last row of each combination is the roofline: one single-threaded `f32`
//! GEMM `[T·B, I+H] · [I+H, G·H]` with the forward's flop count, by the same GEMM routine.

use std::time::Instant;

use anyhow::{Context, Result, bail, ensure};
use ch06_fused::runners::{CellKind, Runner, Shape, check, runners};
use ndarray::Array2;
use serde::{Deserialize, Serialize};

/// What to run: every combination of the listed sizes.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// `lstm` or `gru`.
    pub cell: String,
    /// `T` values.
    pub seq_len: Vec<usize>,
    /// `B` values.
    pub batch: Vec<usize>,
    /// `I` values.
    pub input_size: Vec<usize>,
    /// `H` values.
    pub hidden_size: Vec<usize>,
    /// Thread counts for v3 (the other implementations are single-threaded).
    pub threads: Vec<usize>,
    /// Timed runs per measurement (after one warm-up).
    pub repeats: usize,
    /// Also time PyTorch's `nn.LSTM` / `nn.GRU` by running `bench/torch_lstm.py`.
    pub pytorch: bool,
}

impl BenchOptions {
    /// The default workload: LSTM, T=100, B=32, I=H=256, one thread, 5 repeats.
    pub fn default_lstm() -> Self {
        BenchOptions {
            cell: "lstm".into(),
            seq_len: vec![100],
            batch: vec![32],
            input_size: vec![256],
            hidden_size: vec![256],
            threads: vec![1],
            repeats: 5,
            pytorch: false,
        }
    }
}

/// One implementation's timings; the JSON row of `--json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BenchRow {
    /// `lstm` or `gru`.
    pub cell: String,
    /// `naive` (the chapter code), `v1`, `v2`, `v3`, or `gemm` (the roofline reference).
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
    /// Threads this implementation used.
    pub threads: usize,
    /// Median forward time (for `gemm`: one GEMM of the forward's flop count).
    pub fwd_ms: f64,
    /// Median forward + backward time (for `gemm`: three times `fwd_ms`).
    pub fwd_bwd_ms: f64,
    /// `[min, max]` of the forward + backward runs.
    pub fwd_bwd_range_ms: [f64; 2],
    /// GEMM GFLOP/s of the forward + backward run (for `gemm`: of the one GEMM).
    pub gflops: f64,
}

struct Timing {
    median: f64,
    min: f64,
    max: f64,
}

fn summarize(mut ms: Vec<f64>) -> Timing {
    ms.sort_by(f64::total_cmp);
    Timing {
        median: ms[ms.len() / 2],
        min: ms[0],
        max: ms[ms.len() - 1],
    }
}

fn elapsed_ms(f: impl FnOnce()) -> f64 {
    let start = Instant::now();
    f();
    start.elapsed().as_secs_f64() * 1e3
}

/// Every `(shape, threads)` combination, in the order the lists give.
pub fn combinations(o: &BenchOptions) -> Vec<(Shape, usize)> {
    let mut out = Vec::new();
    for &seq_len in &o.seq_len {
        for &batch in &o.batch {
            for &input_size in &o.input_size {
                for &hidden_size in &o.hidden_size {
                    for &threads in &o.threads {
                        let shape = Shape {
                            seq_len,
                            batch,
                            input_size,
                            hidden_size,
                        };
                        out.push((shape, threads));
                    }
                }
            }
        }
    }
    out
}

/// Checks the options; returns the cell.
pub fn validate(o: &BenchOptions) -> Result<CellKind> {
    let Some(cell) = CellKind::parse(&o.cell) else {
        bail!("--cell {}: expected `lstm` or `gru`", o.cell);
    };
    ensure!(o.repeats > 0, "--repeats must be at least 1");
    for (name, list) in [
        ("--seq-len", &o.seq_len),
        ("--batch", &o.batch),
        ("--input", &o.input_size),
        ("--hidden", &o.hidden_size),
        ("--threads", &o.threads),
    ] {
        ensure!(!list.is_empty(), "{name} needs at least one value");
        ensure!(
            list.iter().all(|&v| v > 0),
            "{name}: every value must be positive"
        );
    }
    ensure!(
        o.threads.iter().all(|&n| n <= 256),
        "--threads: at most 256"
    );
    Ok(cell)
}

/// Runs the benchmark. `progress(done, total, what)` is told each step.
pub fn run(
    o: &BenchOptions,
    mut progress: impl FnMut(usize, usize, &str),
) -> Result<Vec<BenchRow>> {
    let cell = validate(o)?;
    let combos = combinations(o);
    // Check 4 implementations, time them and the GEMM in rounds, then PyTorch if asked.
    let steps_per = 4 + o.repeats + usize::from(o.pytorch);
    let total = combos.len() * steps_per;
    let mut done = 0;
    let mut rows = Vec::new();
    for (shape, threads) in combos {
        let label = format!(
            "{} T={} B={} I={} H={} threads={threads}",
            cell.name(),
            shape.seq_len,
            shape.batch,
            shape.input_size,
            shape.hidden_size
        );
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .with_context(|| format!("starting {threads} threads"))?;
        let rs = runners(cell, shape, 1);
        // Check every version against the chapter code before anything is timed.
        progress(done, total, &format!("{label}: naive (reference outputs)"));
        let want = rs[0].outputs();
        done += 1;
        for r in &rs[1..] {
            progress(done, total, &format!("{label}: checking {}", r.name()));
            let got = pool.install(|| r.outputs());
            if let Err(e) = check(&got, &want) {
                bail!(
                    "{label}: {} disagrees with the chapter code on {e}; not timing it",
                    r.name()
                );
            }
            done += 1;
        }
        let timed = time_rounds(o, cell, shape, &rs, &pool, |k| {
            let what = format!("{label}: timing, round {}/{}", k + 1, o.repeats);
            progress(done + k, total, &what);
        });
        done += o.repeats;
        for (r, (fwd, all)) in rs.iter().zip(timed.runners) {
            let used = if r.name() == "v3" { threads } else { 1 }; // only v3 uses the pool
            rows.push(BenchRow {
                fwd_ms: fwd.median,
                fwd_bwd_ms: all.median,
                fwd_bwd_range_ms: [all.min, all.max],
                gflops: 3.0 * shape.forward_flops(cell) / all.median / 1e6,
                ..row(cell, shape, r.name(), r.dtype(), used)
            });
        }
        let g = timed.gemm;
        rows.push(BenchRow {
            fwd_ms: g.median,
            fwd_bwd_ms: 3.0 * g.median,
            fwd_bwd_range_ms: [3.0 * g.min, 3.0 * g.max],
            gflops: shape.forward_flops(cell) / g.median / 1e6,
            ..row(cell, shape, "gemm", "f32", 1)
        });
        if o.pytorch {
            progress(done, total, &format!("{label}: timing PyTorch"));
            rows.push(time_pytorch(o, cell, shape, threads)?);
            done += 1;
        }
    }
    progress(total, total, "done");
    Ok(rows)
}

fn row(cell: CellKind, shape: Shape, name: &str, dtype: &str, threads: usize) -> BenchRow {
    BenchRow {
        cell: cell.name().to_string(),
        implementation: name.to_string(),
        dtype: dtype.to_string(),
        seq_len: shape.seq_len,
        batch: shape.batch,
        input_size: shape.input_size,
        hidden_size: shape.hidden_size,
        threads,
        fwd_ms: 0.0,
        fwd_bwd_ms: 0.0,
        fwd_bwd_range_ms: [0.0, 0.0],
        gflops: 0.0,
    }
}

struct Timed {
    /// `(forward, forward + backward)` of each runner.
    runners: Vec<(Timing, Timing)>,
    /// The roofline GEMM.
    gemm: Timing,
}

/// Times every runner and the roofline GEMM side by side: one warm-up of each, then `repeats`
/// rounds in which each is timed once, so that a slow spell of a noisy machine hits all of them
/// alike. Times are taken inside the pool, so its hand-off is not counted. The roofline is one single-threaded `f32` GEMM with the forward's flop count,
/// `[T·B, I+H] · [I+H, G·H]`, by the routine the kernels call (ndarray's `general_mat_mul`).
fn time_rounds(
    o: &BenchOptions,
    cell: CellKind,
    shape: Shape,
    rs: &[Box<dyn Runner>],
    pool: &rayon::ThreadPool,
    mut round: impl FnMut(usize),
) -> Timed {
    let (m, k, n) = (
        shape.seq_len * shape.batch,
        shape.input_size + shape.hidden_size,
        cell.gates() * shape.hidden_size,
    );
    let a = Array2::<f32>::from_elem((m, k), 0.5);
    let w = Array2::<f32>::from_elem((k, n), 0.25);
    let mut out = Array2::<f32>::zeros((m, n));
    let mut gemm = || {
        ndarray::linalg::general_mat_mul(1.0, &a, &w, 0.0, &mut out);
        std::hint::black_box(&out);
    };
    // Every call runs on the pool (only v3 uses more than one of its threads).
    let fwd_of = |r: &dyn Runner| pool.install(|| elapsed_ms(|| r.forward()));
    let all_of = |r: &dyn Runner| pool.install(|| elapsed_ms(|| r.forward_backward()));
    for r in rs {
        fwd_of(r.as_ref()); // warm-up
        all_of(r.as_ref());
    }
    gemm();
    let mut fwd = vec![Vec::new(); rs.len()];
    let mut all = vec![Vec::new(); rs.len()];
    let mut g = Vec::new();
    for k in 0..o.repeats {
        round(k);
        for (j, r) in rs.iter().enumerate() {
            fwd[j].push(fwd_of(r.as_ref()));
            all[j].push(all_of(r.as_ref()));
        }
        g.push(elapsed_ms(&mut gemm));
    }
    Timed {
        runners: fwd
            .into_iter()
            .map(summarize)
            .zip(all.into_iter().map(summarize))
            .collect(),
        gemm: summarize(g),
    }
}

/// Runs `bench/torch_lstm.py` (with `$RNNBOOK_PYTHON`, else `python3`) on the same workload and
/// thread count, right after the Rust implementations; its JSON row.
fn time_pytorch(
    o: &BenchOptions,
    cell: CellKind,
    shape: Shape,
    threads: usize,
) -> Result<BenchRow> {
    let script = crate::repo_root().join("bench").join("torch_lstm.py");
    let python = std::env::var("RNNBOOK_PYTHON").unwrap_or_else(|_| "python3".to_string());
    let args = [
        ("--cell", cell.name().to_string()),
        ("--seq-len", shape.seq_len.to_string()),
        ("--batch", shape.batch.to_string()),
        ("--input", shape.input_size.to_string()),
        ("--hidden", shape.hidden_size.to_string()),
        ("--threads", threads.to_string()),
        ("--repeats", o.repeats.to_string()),
    ];
    let out = std::process::Command::new(&python)
        .arg(&script)
        .args(args.iter().flat_map(|(k, v)| [k.to_string(), v.clone()]))
        .arg("--json")
        .output()
        .with_context(|| format!("--pytorch: could not run `{python} {}`", script.display()))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(3).collect();
        bail!(
            "--pytorch: `{python} {}` failed ({}); is PyTorch installed (`pip install torch`)? {}",
            script.display(),
            out.status,
            tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
        );
    }
    serde_json::from_slice(&out.stdout).with_context(|| {
        format!(
            "--pytorch: {} printed something other than one JSON row",
            script.display()
        )
    })
}

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
