//! `rnnbook bench`: time the chapter code, the fast versions and PyTorch on the same work.
//!
//! For every combination of the sizes asked for, every implementation of chapter 6's
//! [`runners`](ch06_fused::runners) that is timed is first checked against the chapter's `f64`
//! code on the benchmark's own inputs (outputs, final states and every gradient, within the
//! `f32` tolerance); only then is it timed. Times are the median of `repeats` rounds after one
//! warm-up; in each round every implementation, PyTorch included (`--pytorch`: a worker process
//! that stays up and times one call when asked, on the same numbers), runs once, so that a slow
//! spell of a noisy machine hits all of them alike. GFLOP/s count the GEMM flops only: forward
//! `2·T·B·(I+H)·G·H`, forward + backward three times that. The `gemm` row is one library GEMM,
//! `[T·B, I+H] · [I+H, G·H]`, with the forward's flop count, by the `gemm` crate v4–v6 use: a
//! ceiling for kernels built from that GEMM at that shape, not a roofline. The machine's real
//! ceilings (one core's FMA peak per SIMD path, its L2 and memory read bandwidth) are measured
//! first ([`ch06_fused::roofline`]) and every row is reported as a fraction of the peak.

use std::path::PathBuf;
use std::time::Instant;

mod out_file;
mod pytorch;
mod table;

use anyhow::{Context, Result, bail, ensure};
use ch06_fused::matmul::{Gemm, MatMul};
use ch06_fused::results::{BenchMachine, BenchReport, BenchRow, Ceilings, TorchCell};
use ch06_fused::runners::{CellKind, Runner, Shape, check, runners};
use ndarray::Array2;

pub use out_file::{BENCH_OUT_FORMAT, CellName, Measured, OutFile, OutSettings};
pub use table::table;

/// The seed of the benchmark's problem (parameters and data).
const SEED: u64 = 1;

/// The grid of `--sweep`: T, B and H (with I = H).
pub const SWEEP_SEQ_LEN: [usize; 3] = [25, 100, 400];
/// B of the grid.
pub const SWEEP_BATCH: [usize; 4] = [1, 8, 32, 128];
/// H (= I) of the grid.
pub const SWEEP_HIDDEN: [usize; 3] = [128, 256, 512];

/// What to run: every combination of the listed sizes (`rnnbook bench`'s options).
#[derive(Debug, Clone, clap::Args)]
pub struct BenchOptions {
    /// The cell: lstm or gru (reset-after); `lstm,gru` runs both. [default: lstm; with --sweep: lstm,gru]
    #[arg(long, value_delimiter = ',')]
    pub cell: Vec<String>,
    /// T; a comma-separated list runs each value. [default: 100; with --sweep: 25,100,400]
    #[arg(long, value_delimiter = ',')]
    pub seq_len: Vec<usize>,
    /// B; a list runs each value. [default: 32; with --sweep: 1,8,32,128]
    #[arg(long, value_delimiter = ',')]
    pub batch: Vec<usize>,
    /// I; a list runs each value. [default: 256; with --sweep: equal to H]
    #[arg(long = "input", value_name = "INPUT", value_delimiter = ',')]
    pub input_size: Vec<usize>,
    /// H; a list runs each value. [default: 256; with --sweep: 128,256,512]
    #[arg(long = "hidden", value_name = "HIDDEN", value_delimiter = ',')]
    pub hidden_size: Vec<usize>,
    /// Threads for v3 and v6 (the other versions use one; PyTorch gets as many); a list runs
    /// each value. [default: 1; with --sweep: 1,2]
    #[arg(long, value_delimiter = ',')]
    pub threads: Vec<usize>,
    /// The implementations to time, of naive, v1 … v7 (v7: the LSTM only) and gemm (each is
    /// still checked against the chapter code first). [default: all; with --sweep: v5,v6,v7]
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
    /// Timed rounds per measurement, after one warm-up; the median is reported.
    /// [default: 5; with --sweep: 3]
    #[arg(long)]
    pub repeats: Option<usize>,
    /// The grid behind chapter 6's heat map: both cells, T ∈ {25, 100, 400}, B ∈ {1, 8, 32, 128},
    /// H = I ∈ {128, 256, 512}, 1 and 2 threads, v5 and v6 (with --pytorch, PyTorch too). Any
    /// list given on the command line replaces the grid's (to run a subset).
    #[arg(long)]
    pub sweep: bool,
    /// Print only JSON on stdout: `{"machine": …, "rows": […]}`.
    #[arg(long)]
    pub json: bool,
    /// Also time PyTorch, in the same rounds on the same numbers (runs bench/torch_worker.py;
    /// needs torch and numpy).
    #[arg(long)]
    pub pytorch: bool,
    /// Also write the report to FILE (JSON), atomically after every measured cell, shape and
    /// thread count, so that a run stopped or killed keeps what it measured.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Continue the --out file: measure only what it does not hold yet. It must come from this
    /// machine and the same options.
    #[arg(long, requires = "out")]
    pub resume: bool,
}

/// The options resolved: the lists to run, with the defaults (or the grid) filled in.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// Cells, in order.
    pub cells: Vec<CellKind>,
    /// Shapes, in order (T, then B, then I, then H vary slowest to fastest).
    pub shapes: Vec<Shape>,
    /// Thread counts.
    pub threads: Vec<usize>,
    /// Implementations to time; `None`: all.
    pub only: Option<Vec<String>>,
    /// Timed rounds.
    pub repeats: usize,
}

/// Every name `--only` accepts.
const IMPLEMENTATIONS: [&str; 9] = ["naive", "v1", "v2", "v3", "v4", "v5", "v6", "v7", "gemm"];

fn or<T: Clone>(given: &[T], default: &[T]) -> Vec<T> {
    if given.is_empty() {
        default.to_vec()
    } else {
        given.to_vec()
    }
}

/// Checks the options and fills in the defaults (or the grid of `--sweep`).
pub fn plan(o: &BenchOptions) -> Result<Plan> {
    let sweep = o.sweep;
    let cells = or(
        &o.cell,
        if sweep {
            &["lstm", "gru"][..]
        } else {
            &["lstm"][..]
        }
        .iter()
        .map(|s| s.to_string())
        .collect::<Vec<_>>()
        .as_slice(),
    );
    let cells = cells
        .iter()
        .map(|c| {
            CellKind::parse(c).with_context(|| format!("--cell {c}: expected `lstm` or `gru`"))
        })
        .collect::<Result<Vec<_>>>()?;
    let repeats = o.repeats.unwrap_or(if sweep { 3 } else { 5 });
    ensure!(repeats > 0, "--repeats must be at least 1");
    let seq_len = or(&o.seq_len, if sweep { &SWEEP_SEQ_LEN[..] } else { &[100] });
    let batch = or(&o.batch, if sweep { &SWEEP_BATCH[..] } else { &[32] });
    let hidden = or(
        &o.hidden_size,
        if sweep { &SWEEP_HIDDEN[..] } else { &[256] },
    );
    let input = if sweep && o.input_size.is_empty() {
        vec![]
    } else {
        or(&o.input_size, &[256])
    };
    let threads = or(&o.threads, if sweep { &[1, 2][..] } else { &[1] });
    for (name, list) in [
        ("--seq-len", &seq_len),
        ("--batch", &batch),
        ("--input", &input),
        ("--hidden", &hidden),
        ("--threads", &threads),
    ] {
        if let Some(v) = list.iter().find(|&&v| v == 0) {
            bail!("{name} {v}: every value must be at least 1");
        }
    }
    ensure!(threads.iter().all(|&n| n <= 256), "--threads: at most 256");
    let only = if o.only.is_empty() {
        sweep.then(|| ["v5", "v6", "v7"].map(String::from).to_vec())
    } else {
        for name in &o.only {
            ensure!(
                IMPLEMENTATIONS.contains(&name.as_str()),
                "--only {name}: expected some of {}",
                IMPLEMENTATIONS.join(", ")
            );
        }
        Some(o.only.clone())
    };
    let mut shapes = Vec::new();
    for &seq_len in &seq_len {
        for &batch in &batch {
            for &hidden_size in &hidden {
                let inputs = if input.is_empty() {
                    vec![hidden_size]
                } else {
                    input.clone()
                };
                for input_size in inputs {
                    shapes.push(Shape {
                        seq_len,
                        batch,
                        input_size,
                        hidden_size,
                    });
                }
            }
        }
    }
    Ok(Plan {
        cells,
        shapes,
        threads,
        only,
        repeats,
    })
}

impl Plan {
    /// Whether `name` is timed.
    pub fn times(&self, name: &str) -> bool {
        self.only
            .as_ref()
            .is_none_or(|o| o.iter().any(|n| n == name))
    }
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

/// Runs the benchmark. `progress(done, total, what)` is told each step.
///
/// With `o.out`, the report so far is saved there after every measured cell, shape and thread
/// count, and `saved(k, n)` is told (`k` of `n` measured); with `o.resume`, what that file holds
/// is kept and not measured again.
///
/// # Errors
/// Bad options or a `--out` file that cannot be continued ([`BadInput`](crate::exit::BadInput)),
/// an implementation that disagrees with the chapter code, PyTorch failing, a file that cannot
/// be written.
pub fn run(
    o: &BenchOptions,
    mut progress: impl FnMut(usize, usize, &str),
    mut saved: impl FnMut(usize, usize),
) -> Result<BenchReport> {
    let plan = plan(o).map_err(crate::exit::bad_input)?;
    let settings = OutSettings::of(&plan, o.pytorch);
    let here = (
        crate::experiments::cpu_model(),
        std::thread::available_parallelism().map_or(1, |n| n.get()),
    );
    let mut file = match (&o.out, o.resume) {
        (Some(path), true) => {
            let f = OutFile::read(path).map_err(crate::exit::bad_input)?;
            if let Some(why) = f.mismatch((&here.0, here.1), &settings) {
                return Err(crate::exit::bad_input(anyhow::anyhow!(
                    "cannot resume: the bench file {} {why}",
                    path.display()
                )));
            }
            Some(f)
        }
        (Some(path), false) if path.exists() => {
            return Err(crate::exit::bad_input(anyhow::anyhow!(
                "{} already exists; pass --resume to continue it, or another --out",
                path.display()
            )));
        }
        _ => None,
    };
    let units = plan.cells.len() * plan.shapes.len() * plan.threads.len();
    let per_shape =
        1 + plan.threads.len() * (IMPLEMENTATIONS.len() + plan.repeats + usize::from(o.pytorch));
    let total = 1 + plan.cells.len() * plan.shapes.len() * per_shape;
    let mut done = 0;
    let ceilings = match &file {
        Some(f) => f.machine.ceilings.clone(),
        None => {
            progress(done, total, "measuring the machine's ceilings");
            Ceilings::measure()
        }
    };
    done += 1;
    let mut measured: Vec<Measured> = file.as_ref().map_or(vec![], |f| f.measured.clone());
    let mut worker = if o.pytorch {
        Some(pytorch::Worker::start()?)
    } else {
        None
    };
    let mut torch_cells: Vec<TorchCell> = file
        .as_ref()
        .map_or(vec![], |f| f.machine.torch_cells.clone());
    let mut rows = file.as_ref().map_or(vec![], |f| f.rows.clone());
    let machine_now = |ceilings: &Ceilings, torch_cells: &[TorchCell]| BenchMachine {
        cpu: here.0.clone(),
        logical_cpus: here.1,
        ceilings: ceilings.clone(),
        torch_cells: torch_cells.to_vec(),
    };
    for &cell in &plan.cells {
        for &shape in &plan.shapes {
            let what = format!(
                "{} T={} B={} I={} H={}",
                cell.name(),
                shape.seq_len,
                shape.batch,
                shape.input_size,
                shape.hidden_size
            );
            let unit = |threads| Measured {
                cell: cell.into(),
                shape: [
                    shape.seq_len,
                    shape.batch,
                    shape.input_size,
                    shape.hidden_size,
                ],
                threads,
            };
            let per_threads = IMPLEMENTATIONS.len() + plan.repeats + usize::from(o.pytorch);
            if plan.threads.iter().all(|&n| measured.contains(&unit(n))) {
                done += 1 + plan.threads.len() * per_threads; // all in the file already
                continue;
            }
            let rs = runners(cell, shape, SEED);
            progress(done, total, &format!("{what}: naive (reference outputs)"));
            let want = rs[0].outputs();
            done += 1;
            let timed: Vec<&dyn Runner> = rs
                .iter()
                .map(|r| r.as_ref())
                .filter(|r| plan.times(r.name()))
                .collect();
            if let Some(only) = &plan.only
                && !(timed.iter().any(|r| r.name() != "naive") || only.iter().any(|n| n == "gemm"))
            {
                return Err(crate::exit::bad_input(anyhow::anyhow!(
                    "--only {}: the {} has none of these (it has {})",
                    only.join(","),
                    cell.name(),
                    rs.iter().map(|r| r.name()).collect::<Vec<_>>().join(", ")
                )));
            }
            for &threads in &plan.threads {
                if measured.contains(&unit(threads)) {
                    done += per_threads;
                    continue;
                }
                let label = format!("{what} threads={threads}");
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .with_context(|| format!("starting {threads} threads"))?;
                // Check every timed version against the chapter code before anything is timed.
                for r in timed.iter().filter(|r| r.name() != "naive") {
                    progress(done, total, &format!("{label}: checking {}", r.name()));
                    let got = pool.install(|| r.outputs());
                    if let Err(e) = check(&got, &want) {
                        bail!(
                            "{label}: {} disagrees with the chapter code on {e}; not timing it",
                            r.name()
                        );
                    }
                }
                done += IMPLEMENTATIONS.len();
                let torch = match worker.as_mut() {
                    Some(w) => {
                        progress(done, total, &format!("{label}: PyTorch setup"));
                        let info = w.setup(cell, shape, SEED, threads)?;
                        if !torch_cells.iter().any(|c| c.cell == cell.name()) {
                            torch_cells.push(TorchCell {
                                cell: cell.name().to_string(),
                                torch: info.torch.clone(),
                                capability: info.capability.clone(),
                                onednn_available: info.onednn_available,
                                onednn_ran: info.onednn_ran,
                            });
                        }
                        done += 1;
                        Some((w, info.threads))
                    }
                    None => None,
                };
                let torch_threads = torch.as_ref().map(|t| t.1);
                let gemm = plan.times("gemm").then(|| GemmProblem::new(cell, shape));
                let t = time_rounds(plan.repeats, &timed, gemm, torch.map(|t| t.0), &pool, |k| {
                    let what = format!("{label}: timing, round {}/{}", k + 1, plan.repeats);
                    progress(done + k, total, &what);
                })?;
                done += plan.repeats;
                let flops = shape.forward_flops(cell);
                for (r, (fwd, all)) in timed.iter().zip(t.runners) {
                    let used = pool.install(|| r.threads()); // asked inside the pool it runs in
                    rows.push(timed_row(
                        cell,
                        shape,
                        r.name(),
                        r.dtype(),
                        used,
                        &fwd,
                        &all,
                        flops,
                    ));
                }
                if let Some(g) = t.gemm {
                    rows.push(BenchRow {
                        fwd_ms: g.median,
                        fwd_bwd_ms: 3.0 * g.median,
                        fwd_bwd_range_ms: [3.0 * g.min, 3.0 * g.max],
                        gflops: flops / g.median / 1e6,
                        ..row(cell, shape, "gemm", "f32", 1)
                    });
                }
                if let (Some((fwd, all)), Some(n)) = (t.torch, torch_threads) {
                    rows.push(timed_row(
                        cell, shape, "pytorch", "f32", n, &fwd, &all, flops,
                    ));
                }
                measured.push(unit(threads));
                if let Some(path) = &o.out {
                    let f = OutFile {
                        format: BENCH_OUT_FORMAT.to_string(),
                        settings: settings.clone(),
                        machine: machine_now(&ceilings, &torch_cells),
                        complete: measured.len() == units,
                        measured: measured.clone(),
                        rows: rows.clone(),
                    };
                    f.save(path)?;
                    file = Some(f);
                    saved(measured.len(), units);
                }
            }
        }
    }
    progress(total, total, "done");
    let machine = machine_now(&ceilings, &torch_cells);
    // A resumed run whose file was already complete, or whose last unit was measured before a
    // kill stopped it from saying so, still ends with a complete file.
    if let (Some(path), Some(f)) = (&o.out, &file)
        && !f.complete
    {
        let f = OutFile {
            complete: true,
            machine: machine.clone(),
            rows: rows.clone(),
            measured: measured.clone(),
            ..f.clone()
        };
        f.save(path)?;
    }
    Ok(BenchReport { machine, rows })
}

/// A row from its forward and forward + backward timings.
#[allow(clippy::too_many_arguments)]
fn timed_row(
    cell: CellKind,
    shape: Shape,
    name: &str,
    dtype: &str,
    threads: usize,
    fwd: &Timing,
    all: &Timing,
    forward_flops: f64,
) -> BenchRow {
    BenchRow {
        fwd_ms: fwd.median,
        fwd_bwd_ms: all.median,
        fwd_bwd_range_ms: [all.min, all.max],
        gflops: 3.0 * forward_flops / all.median / 1e6,
        ..row(cell, shape, name, dtype, threads)
    }
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

/// The `gemm` row's problem: one single-threaded `f32` GEMM with the forward's flop count,
/// `[T·B, I+H] · [I+H, G·H]`, by the library v4–v6 use.
struct GemmProblem {
    a: Array2<f32>,
    w: Array2<f32>,
    out: Array2<f32>,
}

impl GemmProblem {
    fn new(cell: CellKind, shape: Shape) -> Self {
        let (m, k, n) = (
            shape.seq_len * shape.batch,
            shape.input_size + shape.hidden_size,
            cell.gates() * shape.hidden_size,
        );
        GemmProblem {
            a: Array2::from_elem((m, k), 0.5),
            w: Array2::from_elem((k, n), 0.25),
            out: Array2::zeros((m, n)),
        }
    }

    fn run(&mut self) {
        Gemm::mat_mul(
            1.0,
            &self.a.view(),
            &self.w.view(),
            0.0,
            &mut self.out.view_mut(),
        );
        std::hint::black_box(&self.out);
    }
}

struct Timed {
    /// `(forward, forward + backward)` of each runner.
    runners: Vec<(Timing, Timing)>,
    /// The `gemm` row's GEMM.
    gemm: Option<Timing>,
    /// PyTorch's `(forward, forward + backward)`.
    torch: Option<(Timing, Timing)>,
}

/// Times every runner, the GEMM and PyTorch side by side: one warm-up of each, then `repeats`
/// rounds in which each is timed once. Our times are taken inside the pool (its hand-off is
/// not counted), PyTorch's inside its process (the pipe is not counted).
fn time_rounds(
    repeats: usize,
    rs: &[&dyn Runner],
    mut gemm: Option<GemmProblem>,
    mut torch: Option<&mut pytorch::Worker>,
    pool: &rayon::ThreadPool,
    mut round: impl FnMut(usize),
) -> Result<Timed> {
    let fwd_of = |r: &dyn Runner| pool.install(|| elapsed_ms(|| r.forward()));
    let all_of = |r: &dyn Runner| pool.install(|| elapsed_ms(|| r.forward_backward()));
    for r in rs {
        fwd_of(*r); // warm-up
        all_of(*r);
    }
    if let Some(g) = gemm.as_mut() {
        g.run();
    }
    if let Some(w) = torch.as_deref_mut() {
        w.time("fwd")?;
        w.time("fwd_bwd")?;
    }
    let mut fwd = vec![Vec::new(); rs.len()];
    let mut all = vec![Vec::new(); rs.len()];
    let (mut g, mut tf, mut ta) = (Vec::new(), Vec::new(), Vec::new());
    for k in 0..repeats {
        round(k);
        for (j, r) in rs.iter().enumerate() {
            fwd[j].push(fwd_of(*r));
            all[j].push(all_of(*r));
        }
        if let Some(p) = gemm.as_mut() {
            g.push(elapsed_ms(|| p.run()));
        }
        if let Some(w) = torch.as_deref_mut() {
            tf.push(w.time("fwd")?);
            ta.push(w.time("fwd_bwd")?);
        }
    }
    Ok(Timed {
        runners: fwd
            .into_iter()
            .map(summarize)
            .zip(all.into_iter().map(summarize))
            .collect(),
        gemm: (!g.is_empty()).then(|| summarize(g)),
        torch: (!ta.is_empty()).then(|| (summarize(tf), summarize(ta))),
    })
}

/// `rnnbook bench`: runs [`run`] with a progress bar on stderr, then prints the table, or with
/// `--json` only the rows.
pub fn command(opts: &BenchOptions) -> Result<()> {
    let pb = crate::progress::ticking_bar("{bar:30} {pos}/{len} [{elapsed}] {msg}", 1);
    let rows = run(
        opts,
        |done, total, msg| {
            pb.set_length(total as u64);
            pb.set_position(done as u64);
            pb.set_message(msg.to_string());
        },
        // Where the bar is not drawn (stderr is not a terminal), a line per saved unit.
        |k, n| {
            if pb.is_hidden()
                && let Some(path) = &opts.out
            {
                eprintln!("saved: {k}/{n} measured to {}", path.display());
            }
        },
    );
    pb.finish_and_clear();
    let report = rows?;
    if opts.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", table(&report));
    }
    Ok(())
}
