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

mod pytorch;
mod table;

use anyhow::{Context, Result, bail, ensure};
use ch06_fused::results::BenchRow;
use ch06_fused::runners::{CellKind, Runner, Shape, check, runners};
use ndarray::Array2;

pub use table::table;

/// What to run: every combination of the listed sizes (`rnnbook bench`'s options).
#[derive(Debug, Clone, clap::Args)]
pub struct BenchOptions {
    /// The cell: lstm or gru (reset-after).
    #[arg(long, default_value = "lstm")]
    pub cell: String,
    /// T; a comma-separated list runs each value.
    #[arg(long, default_value = "100", value_delimiter = ',')]
    pub seq_len: Vec<usize>,
    /// B; a list runs each value.
    #[arg(long, default_value = "32", value_delimiter = ',')]
    pub batch: Vec<usize>,
    /// I; a list runs each value.
    #[arg(
        long = "input",
        value_name = "INPUT",
        default_value = "256",
        value_delimiter = ','
    )]
    pub input_size: Vec<usize>,
    /// H; a list runs each value.
    #[arg(
        long = "hidden",
        value_name = "HIDDEN",
        default_value = "256",
        value_delimiter = ','
    )]
    pub hidden_size: Vec<usize>,
    /// Threads for v3 (the other implementations use one); a list runs each value.
    #[arg(long, default_value = "1", value_delimiter = ',')]
    pub threads: Vec<usize>,
    /// Timed runs per measurement, after one warm-up; the median is reported.
    #[arg(long, default_value_t = 5)]
    pub repeats: usize,
    /// Print only a JSON array on stdout.
    #[arg(long)]
    pub json: bool,
    /// Also time PyTorch on the same workload (runs bench/torch_lstm.py; needs torch).
    #[arg(long)]
    pub pytorch: bool,
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
    // Check every implementation, time them and the GEMM in rounds, then PyTorch if asked.
    let checks = runners(cell, ch06_fused::runners::Shape::tiny(), 1).len();
    let steps_per = checks + o.repeats + usize::from(o.pytorch);
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
            let used = pool.install(|| r.threads()); // asked inside the pool it runs in
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
            rows.push(pytorch::time_pytorch(o, cell, shape, threads)?);
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

/// `rnnbook bench`: runs [`run`] with a progress bar on stderr, then prints the table, or with
/// `--json` only the rows.
pub fn command(opts: &BenchOptions) -> Result<()> {
    let pb = crate::progress::ticking_bar("{bar:30} {pos}/{len} [{elapsed}] {msg}", 1);
    let rows = run(opts, |done, total, msg| {
        pb.set_length(total as u64);
        pb.set_position(done as u64);
        pb.set_message(msg.to_string());
    });
    pb.finish_and_clear();
    let rows = rows?;
    if opts.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        print!("{}", table(&rows));
    }
    Ok(())
}
