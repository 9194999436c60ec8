//! The clipping experiment: the same model trained twice with plain SGD, once
//! without clipping and once with [`clip_by_global_norm`], on a task that needs
//! memory.
//!
//! The task is a delayed echo. Each sequence is `T` random symbols; the target at
//! step `t` is the symbol read `D` steps earlier, and a blank for the first `D`
//! steps. A model that solves it must carry each symbol across `D` steps, which is
//! what makes `W_hh` grow and the gradient explode.

use std::fmt::Write as _;
use std::path::Path;

use ch00_foundations::files::write_atomic;
use ch00_foundations::rng::{seeded_rng, uniform_array};
use ch01_rnn::data::one_hot;
use ch01_rnn::model::CharRnn;
use ch01_rnn::params::Tensors;
use ch02_bptt::model::loss_and_grads;
use ndarray::{Array2, Array3};

use crate::clip::{clip_by_global_norm, global_norm};

/// The settings of one experiment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ExperimentConfig {
    /// Seed of the initial weights and of every batch.
    pub seed: u64,
    /// Number of distinct symbols; the vocabulary is these plus a blank,
    /// `V = symbols + 1`.
    pub symbols: usize,
    /// The delay `D` of the echo.
    pub delay: usize,
    /// Sequence length `T`.
    pub seq_len: usize,
    /// Sequences per batch `B`.
    pub batch: usize,
    /// Hidden size `H`.
    pub hidden: usize,
    /// SGD's learning rate (the same for both runs).
    pub lr: f64,
    /// The clipped run's threshold on the global norm of the gradient.
    pub max_norm: f64,
    /// Number of SGD steps.
    pub steps: usize,
}

// ANCHOR: config
/// The experiment of the chapter's figure.
pub const EXPERIMENT: ExperimentConfig = ExperimentConfig {
    seed: 1,
    symbols: 8,
    delay: 5,
    seq_len: 30,
    batch: 16,
    hidden: 32,
    lr: 1.0,
    max_norm: 1.0,
    steps: 1500,
};
// ANCHOR_END: config

/// One training step of both runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Row {
    /// Steps taken before this one (0 for the initial weights).
    pub step: usize,
    /// Mean loss per character of the unclipped run; `None` once that run has
    /// stopped.
    pub loss_unclipped: Option<f64>,
    /// Mean loss per character of the clipped run.
    pub loss_clipped: Option<f64>,
    /// Global norm of the unclipped run's gradient (before its update).
    pub grad_norm_unclipped: Option<f64>,
    /// Global norm of the clipped run's gradient, before clipping.
    pub grad_norm_clipped: Option<f64>,
}

/// One batch of the delayed echo: `(x: [T, B, V] one-hot, targets: [T, B])`.
///
/// Symbols are `0 … symbols − 1`; the blank is `symbols`.
pub fn echo_batch<R: rand::Rng + ?Sized>(
    config: &ExperimentConfig,
    rng: &mut R,
) -> (Array3<f64>, Array2<usize>) {
    let (t, b, blank) = (config.seq_len, config.batch, config.symbols);
    let draws: Array2<f64> = uniform_array((t, b), 0.0, config.symbols as f64, rng);
    let inputs = draws.mapv(|u| u as usize);
    let targets = Array2::from_shape_fn((t, b), |(ti, bi)| {
        if ti >= config.delay {
            inputs[[ti - config.delay, bi]]
        } else {
            blank
        }
    });
    (one_hot(inputs.view(), config.symbols + 1), targets)
}

// ANCHOR: sgd_step
/// Plain SGD: `θ ← θ − lr · g`, tensor by tensor.
///
/// # Panics
/// If `grads` does not list tensors of the same shapes, in the same order, as
/// `params`.
pub fn sgd_step(params: &mut impl Tensors, grads: &impl Tensors, lr: f64) {
    let (mut ps, gs) = (params.tensors_mut(), grads.tensors());
    assert_eq!(ps.len(), gs.len(), "SGD: parameters and gradients differ");
    for ((name, p), (_, g)) in ps.iter_mut().zip(gs) {
        assert_eq!(
            p.shape(),
            g.shape(),
            "SGD: gradient of `{name}` has the wrong shape"
        );
        p.scaled_add(-lr, &g);
    }
}
// ANCHOR_END: sgd_step

// ANCHOR: run_step
/// One run's state: the model, its threshold, and whether it is still going.
struct Run {
    model: CharRnn,
    max_norm: f64,
    stopped: bool,
}

impl Run {
    /// The mean loss on the batch and the gradient's norm before clipping; then
    /// clips and updates. Stops the run (and returns non-finite values) on a
    /// non-finite loss or gradient.
    fn step(
        &mut self,
        x: &Array3<f64>,
        targets: &Array2<usize>,
        lr: f64,
    ) -> (f64, f64) {
        let (t, b, _) = x.dim();
        let h0 = Array2::zeros((b, self.model.hidden_size()));
        let (loss, mut grads, _, _) =
            loss_and_grads(&self.model, x.view(), targets.view(), h0.view());
        let per_char = 1.0 / (t * b) as f64;
        for (_, mut g) in grads.tensors_mut() {
            g *= per_char; // the gradient of the mean loss
        }
        let loss = loss * per_char;
        match clip_by_global_norm(&mut grads, self.max_norm) {
            Ok(report) if loss.is_finite() => {
                sgd_step(&mut self.model, &grads, lr);
                (loss, report.norm_before)
            }
            Ok(report) => {
                self.stopped = true; // a NaN or infinite loss: nothing to learn from
                (loss, report.norm_before)
            }
            Err(_non_finite) => {
                // refuse to step with a NaN or infinite gradient
                self.stopped = true;
                (loss, global_norm(&grads))
            }
        }
    }
}
// ANCHOR_END: run_step

/// Runs both trainings for `steps` steps (usually `config.steps`), from
/// PyTorch-style initial weights drawn with `config.seed`. See [`train_both`].
pub fn run_experiment(config: &ExperimentConfig, steps: usize) -> Vec<Row> {
    let mut rng = seeded_rng(config.seed);
    let model = CharRnn::init(config.symbols + 1, config.hidden, &mut rng);
    train_both(config, model, &mut rng, steps)
}

// ANCHOR: train_both
/// Trains two copies of `model` for `steps` steps with plain SGD, on the same
/// batches drawn from `rng`: one unclipped, one clipped to `config.max_norm`.
/// Returns one [`Row`] per step.
///
/// The unclipped run is clipping with an infinite threshold: it never rescales, but
/// it still refuses a non-finite gradient. A run that meets a NaN or infinite loss
/// or gradient records it and stops; its later fields are `None`.
pub fn train_both<R: rand::Rng + ?Sized>(
    config: &ExperimentConfig,
    model: CharRnn,
    rng: &mut R,
    steps: usize,
) -> Vec<Row> {
    let mut runs = [
        Run {
            model: model.clone(),
            max_norm: f64::INFINITY,
            stopped: false,
        },
        Run {
            model,
            max_norm: config.max_norm,
            stopped: false,
        },
    ];
    let mut rows = Vec::with_capacity(steps);
    for step in 0..steps {
        let (x, targets) = echo_batch(config, rng);
        let mut out = [(None, None); 2];
        for (run, o) in runs.iter_mut().zip(&mut out) {
            if !run.stopped {
                let (loss, norm) = run.step(&x, &targets, config.lr);
                *o = (Some(loss), Some(norm));
            }
        }
        rows.push(Row {
            step,
            loss_unclipped: out[0].0,
            loss_clipped: out[1].0,
            grad_norm_unclipped: out[0].1,
            grad_norm_clipped: out[1].1,
        });
    }
    rows
}
// ANCHOR_END: train_both

/// What one run of an experiment did, in numbers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RunSummary {
    /// Mean loss over the first 100 steps.
    pub first_100: f64,
    /// The lowest mean loss over 100 consecutive steps, and the first step of that
    /// window.
    pub best_100: (f64, usize),
    /// Mean loss over the last 100 steps the run took.
    pub last_100: f64,
    /// The largest gradient norm (before clipping) and its step.
    pub max_grad_norm: (f64, usize),
    /// Steps whose gradient norm exceeded `max_norm` (so the clipped run rescaled
    /// it).
    pub steps_above: usize,
    /// Steps the run took before it stopped (all of them if it never stopped).
    pub steps_taken: usize,
    /// Whether the run stopped on a non-finite loss or gradient.
    pub stopped: bool,
}

/// Summarizes one run's columns: `loss` and `grad_norm` (per step, `None` once
/// stopped), with the threshold `max_norm` for [`RunSummary::steps_above`].
///
/// # Panics
/// If the run took fewer than 100 steps.
pub fn summarize(
    loss: &[Option<f64>],
    grad_norm: &[Option<f64>],
    max_norm: f64,
) -> RunSummary {
    let taken: Vec<f64> = loss.iter().map_while(|v| *v).collect();
    let norms: Vec<f64> = grad_norm.iter().map_while(|v| *v).collect();
    let n = taken.len();
    assert!(n >= 100, "summarize: only {n} steps, need 100");
    let mean = |w: &[f64]| w.iter().sum::<f64>() / w.len() as f64;
    let best_100 = taken
        .windows(100)
        .enumerate()
        .map(|(i, w)| (mean(w), i))
        .fold((f64::INFINITY, 0), |b, c| if c.0 < b.0 { c } else { b });
    let max_grad_norm = norms
        .iter()
        .enumerate()
        .fold((0.0, 0), |b, (i, &g)| if g > b.0 { (g, i) } else { b });
    RunSummary {
        first_100: mean(&taken[..100]),
        best_100,
        last_100: mean(&taken[n - 100..]),
        max_grad_norm,
        steps_above: norms.iter().filter(|&&g| g > max_norm).count(),
        steps_taken: n,
        stopped: n < loss.len() || taken.iter().any(|v| !v.is_finite()),
    }
}

/// [`summarize`] for both runs of `rows`: `(unclipped, clipped)`.
pub fn summarize_rows(rows: &[Row], max_norm: f64) -> (RunSummary, RunSummary) {
    let col = |f: fn(&Row) -> Option<f64>| rows.iter().map(f).collect::<Vec<_>>();
    (
        summarize(
            &col(|r| r.loss_unclipped),
            &col(|r| r.grad_norm_unclipped),
            max_norm,
        ),
        summarize(
            &col(|r| r.loss_clipped),
            &col(|r| r.grad_norm_clipped),
            max_norm,
        ),
    )
}

/// The CSV header.
pub const CSV_HEADER: &str =
    "step,loss_unclipped,loss_clipped,grad_norm_unclipped,grad_norm_clipped";

/// One field of an experiment CSV: empty for a stopped run, `nan`, `inf`, `-inf`,
/// or the shortest text that reads back to the same `f64`.
pub(crate) fn format_value(v: Option<f64>) -> String {
    match v {
        None => String::new(), // the run had stopped
        Some(v) if v.is_nan() => "nan".into(),
        Some(v) if v == f64::INFINITY => "inf".into(),
        Some(v) if v == f64::NEG_INFINITY => "-inf".into(),
        Some(v) => format!("{v:e}"), // shortest text that reads back to the same f64
    }
}

/// Reads what [`format_value`] wrote.
pub(crate) fn parse_value(s: &str) -> Result<Option<f64>, String> {
    if s.is_empty() {
        Ok(None)
    } else {
        s.parse::<f64>()
            .map(Some)
            .map_err(|_| format!("`{s}` is not a number"))
    }
}

/// The rows as CSV text: a header line, then one line per row. A stopped run's
/// fields are empty; NaN and infinities are written `nan`, `inf`, `-inf`.
pub fn to_csv(rows: &[Row]) -> String {
    let mut out = String::from(CSV_HEADER);
    out.push('\n');
    for r in rows {
        let fields = [
            r.loss_unclipped,
            r.loss_clipped,
            r.grad_norm_unclipped,
            r.grad_norm_clipped,
        ]
        .map(format_value);
        writeln!(out, "{},{}", r.step, fields.join(","))
            .expect("writing to a String");
    }
    out
}

/// A malformed experiment CSV: which line and why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct CsvError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// Reads what [`to_csv`] wrote.
///
/// # Errors
/// A wrong header, a wrong number of fields, or a field that is not a number, with
/// its line.
pub fn from_csv(text: &str) -> Result<Vec<Row>, CsvError> {
    let mut lines = text.lines().enumerate();
    match lines.next() {
        Some((_, h)) if h.trim() == CSV_HEADER => {}
        _ => {
            return Err(CsvError {
                line: 1,
                message: format!("expected the header `{CSV_HEADER}`"),
            });
        }
    }
    let mut rows = Vec::new();
    for (i, line) in lines {
        let err = |message: String| CsvError {
            line: i + 1,
            message,
        };
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        if fields.len() != 5 {
            return Err(err(format!("expected 5 fields, found {}", fields.len())));
        }
        let step = fields[0].parse().map_err(|_| {
            err(format!("step `{}` is not a whole number", fields[0]))
        })?;
        let value = |s: &str| parse_value(s).map_err(err);
        rows.push(Row {
            step,
            loss_unclipped: value(fields[1])?,
            loss_clipped: value(fields[2])?,
            grad_norm_unclipped: value(fields[3])?,
            grad_norm_clipped: value(fields[4])?,
        });
    }
    Ok(rows)
}

/// Writes `rows` to `path` atomically (chapter 0's [`write_atomic`]): a reader never
/// sees half a file.
///
/// # Errors
/// Any I/O error, with the path.
pub fn write_csv_atomic(rows: &[Row], path: &Path) -> std::io::Result<()> {
    write_atomic(path, to_csv(rows).as_bytes())
}

/// Reads the experiment's CSV at `path`.
///
/// # Errors
/// A file that cannot be read (the message says how to make it) or is not what
/// [`to_csv`] writes (the message names the file and the line).
pub fn read_csv(path: &Path) -> Result<Vec<Row>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        format!(
            "cannot read {} ({e}); make it with `cargo run --release -p ch03-clipping --example \
             clipping_experiment`",
            path.display()
        )
    })?;
    from_csv(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// The committed data: `chapters/ch03-clipping/data/clipping_experiment.csv`.
pub fn committed_csv_path() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/clipping_experiment.csv")
}

/// How far a value recomputed now may be from the committed one. On the machine
/// that wrote the file they are bit-identical. Another CPU may pick another
/// matrix-multiply kernel (FMA or not, another blocking), which rounds differently
/// in the last bits; any change to the code or the settings moves the values by far
/// more than this.
#[cfg(test)]
pub(crate) const REPRODUCE_RTOL: f64 = 1e-12;

/// Whether a recomputed value `a` reproduces the committed `b`: both absent, both
/// NaN, or within [`REPRODUCE_RTOL`].
#[cfg(test)]
pub(crate) fn reproduces(a: Option<f64>, b: Option<f64>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) if a.is_nan() || b.is_nan() => a.is_nan() && b.is_nan(),
        (Some(a), Some(b)) => a == b || (a - b).abs() <= REPRODUCE_RTOL * b.abs(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ch02_bptt::model::ModelGrads;

    fn committed_rows() -> Vec<Row> {
        let path = committed_csv_path();
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        from_csv(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    #[test]
    fn the_runner_reproduces_the_first_rows_of_the_committed_csv() {
        let committed = committed_rows();
        assert_eq!(committed.len(), EXPERIMENT.steps);
        let rows = run_experiment(&EXPERIMENT, 6);
        for (r, c) in rows.iter().zip(&committed) {
            assert_eq!(r.step, c.step);
            for (name, a, b) in [
                ("loss_unclipped", r.loss_unclipped, c.loss_unclipped),
                ("loss_clipped", r.loss_clipped, c.loss_clipped),
                (
                    "grad_norm_unclipped",
                    r.grad_norm_unclipped,
                    c.grad_norm_unclipped,
                ),
                (
                    "grad_norm_clipped",
                    r.grad_norm_clipped,
                    c.grad_norm_clipped,
                ),
            ] {
                assert!(
                    reproduces(a, b),
                    "step {}: {name} is {a:?} now but {b:?} in the committed CSV; rerun the example",
                    r.step
                );
            }
        }
    }

    /// The numbers the chapter quotes from the committed run.
    #[test]
    fn the_committed_run_shows_what_the_chapter_says() {
        let rows = committed_rows();
        let (unclipped, clipped) = summarize_rows(&rows, EXPERIMENT.max_norm);
        // Both start near ln 9 ≈ 2.2 and learn at first.
        assert!(unclipped.best_100.0 < 1.0 && unclipped.best_100.1 < 500);
        // The unclipped run meets gradients thousands of times the threshold and
        // ends worse than a model that remembers nothing (1.733).
        assert!(unclipped.max_grad_norm.0 > 1e3);
        assert!(unclipped.last_100 > 2.5);
        // The clipped run meets large gradients too, but solves the task.
        assert!(clipped.max_grad_norm.0 > 10.0 && clipped.steps_above > 100);
        assert!(clipped.last_100 < 0.05);
        assert!(!unclipped.stopped && !clipped.stopped);
    }

    #[test]
    fn a_nan_stops_both_runs_and_is_written_as_nan() {
        let config = ExperimentConfig {
            seq_len: 8,
            batch: 2,
            hidden: 4,
            ..EXPERIMENT
        };
        let mut rng = seeded_rng(1);
        let mut model = CharRnn::init(config.symbols + 1, config.hidden, &mut rng);
        model.rnn.weight_hh[[0, 1]] = f64::NAN;
        let rows = train_both(&config, model, &mut rng, 3);
        assert!(rows[0].loss_unclipped.unwrap().is_nan());
        assert!(rows[0].grad_norm_unclipped.unwrap().is_nan());
        assert!(rows[0].grad_norm_clipped.unwrap().is_nan());
        assert_eq!(rows[1].loss_unclipped, None, "the run must stop");
        assert_eq!(rows[2].loss_clipped, None, "the run must stop");
        let csv = to_csv(&rows);
        assert_eq!(csv.lines().nth(1), Some("0,nan,nan,nan,nan"));
        assert_eq!(csv.lines().nth(2), Some("1,,,,"));
        let back = from_csv(&csv).unwrap();
        assert!(
            back[0].loss_clipped.unwrap().is_nan()
                && back[2].grad_norm_clipped.is_none()
        );
    }

    #[test]
    fn an_infinite_gradient_entry_stops_the_run() {
        let mut run = Run {
            model: CharRnn::init(3, 2, &mut seeded_rng(2)),
            max_norm: 1.0,
            stopped: false,
        };
        // logits inf: the loss is NaN or inf
        run.model.out.bias_y[0] = f64::INFINITY;
        let x = ch01_rnn::data::one_hot(ndarray::array![[0usize], [1]].view(), 3);
        let before = run.model.clone();
        let (loss, _) = run.step(&x, &ndarray::array![[1usize], [2]], 0.1);
        assert!(!loss.is_finite() && run.stopped);
        assert_eq!(
            format!("{:?}", run.model),
            format!("{before:?}"),
            "no update"
        );
    }

    #[test]
    fn csv_round_trips_and_names_bad_lines() {
        let rows = vec![
            Row {
                step: 0,
                loss_unclipped: Some(2.5),
                loss_clipped: Some(1e-300),
                grad_norm_unclipped: Some(f64::INFINITY),
                grad_norm_clipped: Some(0.1 + 0.2),
            },
            Row {
                step: 1,
                loss_unclipped: None,
                loss_clipped: Some(-0.0),
                grad_norm_unclipped: None,
                grad_norm_clipped: Some(f64::MAX),
            },
        ];
        let text = to_csv(&rows);
        assert!(text.contains(",inf,"), "{text}");
        assert_eq!(from_csv(&text).unwrap(), rows);
        let bad = format!("{CSV_HEADER}\n0,1,2,3,4\n1,1,x,3,4\n");
        assert_eq!(from_csv(&bad).unwrap_err().line, 3);
        assert!(from_csv("step,loss\n").is_err());
        let short = format!("{CSV_HEADER}\n0,1,2\n");
        assert!(from_csv(&short).unwrap_err().message.contains("5 fields"));
    }

    #[test]
    fn write_csv_atomic_replaces_the_file_and_leaves_no_temporary() {
        let dir =
            std::env::temp_dir().join(format!("ch03-csv-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("out.csv");
        let rows = run_experiment(
            &ExperimentConfig {
                seq_len: 6,
                batch: 1,
                hidden: 3,
                ..EXPERIMENT
            },
            2,
        );
        write_csv_atomic(&rows, &path).unwrap();
        write_csv_atomic(&rows[..1], &path).unwrap();
        assert_eq!(
            from_csv(&std::fs::read_to_string(&path).unwrap()).unwrap(),
            rows[..1]
        );
        let names: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
        assert_eq!(names.len(), 1, "a temporary file was left behind");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn echo_targets_are_the_inputs_delayed() {
        let (x, targets) = echo_batch(&EXPERIMENT, &mut seeded_rng(3));
        let (t, b, v) = x.dim();
        assert_eq!((t, b, v), (30, 16, 9));
        for ti in 0..t {
            for bi in 0..b {
                let input = (0..v).find(|&i| x[[ti, bi, i]] == 1.0).unwrap();
                assert!(input < 8, "the blank is never an input");
                if ti + 5 < t {
                    assert_eq!(targets[[ti + 5, bi]], input);
                }
            }
        }
        assert!(targets.slice(ndarray::s![..5, ..]).iter().all(|&c| c == 8));
    }

    #[test]
    fn sgd_moves_each_parameter_against_its_gradient() {
        let mut model = CharRnn::init(3, 2, &mut seeded_rng(4));
        let before = model.clone();
        let mut g = ModelGrads::zeros_like(&model);
        g.rnn.dweight_hh[[1, 0]] = 2.0;
        g.out.dbias_y[2] = -1.0;
        sgd_step(&mut model, &g, 0.5);
        assert_eq!(
            model.rnn.weight_hh[[1, 0]],
            before.rnn.weight_hh[[1, 0]] - 1.0
        );
        assert_eq!(model.out.bias_y[2], before.out.bias_y[2] + 0.5);
        assert_eq!(model.rnn.weight_ih, before.rnn.weight_ih);
    }
}
