//! One training run: a cell, a task, a seed. Every cell trains through the same step
//! (chapter 3's `train_step_with`, over chapter 2's generic loop), with Adam and
//! clipping by global norm.
//!
//! A run is reproducible and resumable: the initial parameters come from `seed`, and
//! step `k` trains on batch `k` drawn from `stream_rng(seed, k)`, so a run stopped
//! after `K` steps and continued from its saved [`Run`] reaches the same parameters
//! as an uninterrupted one.

use ch00_foundations::notation::{LSTM_F, LSTM_I, gate_rows};
use ch00_foundations::rng::{seeded_rng, stream_rng};
use ch01_rnn::cell::LayerParams;
use ch01_rnn::model::OutputLayer;
use ch02_bptt::adam::Adam;
use ch02_bptt::driver::{Cell, RecurrentState, Rnn};
use ch02_bptt::model::{CellModel, SeqModel, seq_forward};
use ch03_clipping::train::{StepError, StepStats, train_step_with, update};
use ch04_lstm::Lstm;
use ch05_gru::{Gru, GruCho};
use ndarray::s;
use rand::RngExt;
use serde::{Deserialize, Serialize};

use crate::fused::MaybeFused;
use crate::task::{Batch, Task};

/// The book's cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CellKind {
    /// Chapter 1's RNN.
    Rnn,
    /// Chapter 4's LSTM.
    Lstm,
    /// Chapter 5's reset-after GRU (`nn.GRU`).
    Gru,
    /// Chapter 5's reset-before GRU (Cho et al. 2014).
    GruCho,
}

impl CellKind {
    /// All four, in the chapters' order.
    pub const ALL: [CellKind; 4] = [
        CellKind::Rnn,
        CellKind::Lstm,
        CellKind::Gru,
        CellKind::GruCho,
    ];

    /// `rnn`, `lstm`, `gru` or `gru-cho`.
    pub fn name(self) -> &'static str {
        match self {
            CellKind::Rnn => "rnn",
            CellKind::Lstm => "lstm",
            CellKind::Gru => "gru",
            CellKind::GruCho => "gru-cho",
        }
    }

    /// Whether chapter 6 has a fused `f32` kernel for it ([`crate::fused`]).
    pub fn has_fused_kernel(self) -> bool {
        match self {
            CellKind::Rnn => Rnn::HAS_KERNEL,
            CellKind::Lstm => Lstm::HAS_KERNEL,
            CellKind::Gru => Gru::HAS_KERNEL,
            CellKind::GruCho => GruCho::HAS_KERNEL,
        }
    }

    /// The cell called `name`, if any.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.name() == name)
    }
}

/// The settings of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunConfig {
    /// `H`.
    pub hidden: usize,
    /// Sequences per batch.
    pub batch: usize,
    /// Updates in all.
    pub steps: u64,
    /// Adam's step size.
    pub lr: f64,
    /// The cap on the gradient's global norm.
    pub clip: f64,
    /// Seed of the parameters and the batches.
    pub seed: u64,
    /// Measure the test metric every this many steps (and at the end).
    pub eval_every: u64,
    /// Sequences in the fixed test batch.
    pub test_size: usize,
    /// Added to the LSTM's forget-gate `bias_ih` after PyTorch's initialisation
    /// (other cells ignore it).
    pub forget_bias: f64,
    /// The LSTM's chrono initialisation with this `T_max` ([`chrono_init`]), instead
    /// of PyTorch's gate biases; other cells ignore it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chrono: Option<f64>,
    /// Run the recurrent layer through chapter 6's fused `f32` kernel (the LSTM and
    /// the GRU have one; see [`crate::fused`]), instead of the chapters' `f64` code.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub fused: bool,
}

/// The random stream the chrono initialisation draws from: not the parameters'
/// (stream 0), so every other weight is the same as without it, and not a training
/// batch's.
const CHRONO_STREAM: u64 = u64::MAX - 1;

// ANCHOR: chrono_init
/// The chrono initialisation of Tallec & Ollivier (2018) on an LSTM layer of `H`
/// units: each unit's forget-gate bias is `log u` with `u ~ U(1, T_max − 1)`, its
/// input-gate bias `−log u`. A forget gate `f = σ(log u) = u / (1 + u)` keeps its
/// cell for about `1 / (1 − f) = 1 + u` steps, so the units start out remembering
/// over time scales spread from 2 to `T_max` steps instead of all forgetting half of
/// their cell at every step. The biases are PyTorch's two vectors, so the value goes
/// into `bias_ih` and the rows of `bias_hh` are set to 0.
///
/// # Panics
/// If `t_max ≤ 2` (no time scale above 1 step to draw from), or the layer is not an
/// LSTM's (`G ≠ 4`).
pub fn chrono_init<const G: usize, R: rand::Rng + ?Sized>(
    cell: &mut LayerParams<G>,
    t_max: f64,
    rng: &mut R,
) {
    assert!(
        G == 4,
        "the chrono initialisation is for an LSTM's four gate blocks, got {G}"
    );
    assert!(
        t_max > 2.0,
        "the chrono initialisation needs T_max > 2, got {t_max}"
    );
    let h = cell.weight_hh.ncols();
    for unit in 0..h {
        let b = rng.random_range(1.0..t_max - 1.0_f64).ln();
        let (f, i) = (
            gate_rows(LSTM_F, h).start + unit,
            gate_rows(LSTM_I, h).start + unit,
        );
        cell.bias_ih[f] = b;
        cell.bias_ih[i] = -b;
        cell.bias_hh[f] = 0.0;
        cell.bias_hh[i] = 0.0;
    }
}
// ANCHOR_END: chrono_init

/// One point of a learning curve.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CurvePoint {
    /// Updates made.
    pub step: u64,
    /// The mean training loss over the steps since the last point.
    pub train_loss: f64,
    /// The task's metric on the fixed test batch.
    pub metric: f64,
}

/// A run in progress: everything needed to continue it exactly.
#[derive(Serialize, Deserialize)]
#[serde(bound(
    serialize = "C::Params: Serialize",
    deserialize = "C::Params: Deserialize<'de>"
))]
pub struct Run<C: Cell> {
    /// The model.
    pub model: CellModel<C>,
    /// Adam, with its moments.
    pub adam: Adam,
    /// Updates made.
    pub step: u64,
    /// The learning curve so far.
    pub curve: Vec<CurvePoint>,
    /// Training losses since the last curve point: their sum and count.
    pub pending: (f64, u64),
}

/// The test batch of a run: drawn from the seed's last stream, which no training
/// step uses.
pub fn test_batch(task: &dyn Task, cfg: &RunConfig) -> Batch {
    task.batch(cfg.test_size, &mut stream_rng(cfg.seed, u64::MAX))
}

impl<C: MaybeFused<Params: ch01_rnn::params::Tensors>> Run<C> {
    /// A fresh run: PyTorch's initialisation from `cfg.seed`, the cell's layer then
    /// the output layer.
    ///
    /// # Panics
    /// If `cfg.fused` and the cell has no fused kernel (the command line refuses it
    /// first).
    pub fn new<const G: usize>(
        task: &dyn Task,
        cfg: &RunConfig,
        lstm_forget_rows: bool,
    ) -> Self
    where
        C: Cell<Params = LayerParams<G>>,
    {
        assert!(
            !cfg.fused || C::HAS_KERNEL,
            "this cell has no fused kernel: only the LSTM and the reset-after GRU do"
        );
        let mut rng = seeded_rng(cfg.seed);
        let mut cell =
            LayerParams::<G>::init(task.input_size(), cfg.hidden, &mut rng);
        if lstm_forget_rows && cfg.forget_bias != 0.0 {
            cell.bias_ih
                .slice_mut(s![gate_rows(LSTM_F, cfg.hidden)])
                .mapv_inplace(|b| b + cfg.forget_bias);
        }
        let out = OutputLayer::init(cfg.hidden, task.output_size(), &mut rng);
        if let (true, Some(t_max)) = (lstm_forget_rows, cfg.chrono) {
            chrono_init(&mut cell, t_max, &mut stream_rng(cfg.seed, CHRONO_STREAM));
        }
        let model = CellModel::new(cell, out);
        let adam = Adam::new(cfg.lr, &model);
        Run {
            model,
            adam,
            step: 0,
            curve: Vec::new(),
            pending: (0.0, 0),
        }
    }

    /// The curve, with a last point at the current step if the curve does not end
    /// there.
    pub fn curve_to_end(&self, task: &dyn Task, test: &Batch) -> Vec<CurvePoint> {
        let mut curve = self.curve.clone();
        if curve.last().is_none_or(|p| p.step != self.step) && self.pending.1 > 0 {
            curve.push(CurvePoint {
                step: self.step,
                train_loss: self.pending.0 / self.pending.1 as f64,
                metric: task.metric(test, self.outputs(test).view()),
            });
        }
        curve
    }

    /// The outputs of the model on `batch`, from the zero state: `[T, B, V]`.
    pub fn outputs(&self, batch: &Batch) -> ndarray::Array3<f64> {
        let (_, b, _) = batch.x.dim();
        let s0 = C::State::zeros(b, self.model.hidden_size());
        seq_forward(&self.model, batch.x.view(), &s0).0
    }

    /// One update on batch `step + 1` (drawn from its own stream); every batch
    /// starts from the zero state. Every `eval_every` steps a curve point on `test`
    /// (a point at the end of a run is [`Run::curve_to_end`]'s, so that stopping
    /// early leaves no point behind).
    ///
    /// # Errors
    /// A non-finite loss, gradient or parameter (chapter 3's [`StepError`]).
    pub fn advance(
        &mut self,
        task: &dyn Task,
        cfg: &RunConfig,
        test: &Batch,
    ) -> Result<StepStats, StepError> {
        let step = self.step + 1;
        let batch = task.batch(cfg.batch, &mut stream_rng(cfg.seed, step));
        let mut state = C::State::zeros(cfg.batch, cfg.hidden);
        let per = task.scored(&batch);
        let loss = |logits: ndarray::ArrayView3<f64>| task.loss(&batch, logits);
        let stats = match cfg.fused {
            false => train_step_with(
                &mut self.model,
                &mut self.adam,
                &mut state,
                (batch.x.view(), loss, per),
                cfg.clip,
                step,
            )?,
            true => {
                let (loss, grads) =
                    C::fused_loss_and_grads(&self.model, batch.x.view(), loss)
                        .expect("Run::new checked that the cell has a kernel");
                update(
                    &mut self.model,
                    &mut self.adam,
                    (loss, grads, per),
                    cfg.clip,
                    step,
                )?
            }
        };
        self.step = step;
        self.pending.0 += stats.loss_per_char;
        self.pending.1 += 1;
        if step.is_multiple_of(cfg.eval_every) {
            let metric = task.metric(test, self.outputs(test).view());
            self.curve.push(CurvePoint {
                step,
                train_loss: self.pending.0 / self.pending.1 as f64,
                metric,
            });
            self.pending = (0.0, 0);
        }
        Ok(stats)
    }
}

/// What [`run_cell`] reports.
#[derive(Debug, Clone, PartialEq)]
pub struct RunOutcome {
    /// The learning curve.
    pub curve: Vec<CurvePoint>,
    /// The last test metric.
    pub final_metric: f64,
    /// The trained LSTM, for an LSTM run (the chapter draws its gates).
    pub lstm: Option<CellModel<Lstm>>,
}

/// Trains `cell` on `task` for `cfg.steps` steps from scratch;
/// `progress(step, loss)` after each.
///
/// # Errors
/// A non-finite value (the step and the tensor are named).
pub fn run_cell(
    cell: CellKind,
    task: &dyn Task,
    cfg: &RunConfig,
    mut progress: impl FnMut(u64, f64),
) -> Result<RunOutcome, StepError> {
    let test = test_batch(task, cfg);
    let mut run = AnyRun::new(cell, task, cfg);
    while run.step() < cfg.steps {
        let stats = run.advance(task, cfg, &test)?;
        progress(run.step(), stats.loss_per_char);
    }
    let curve = run.curve_to_end(task, &test);
    let final_metric = curve.last().map_or(f64::NAN, |p| p.metric);
    Ok(RunOutcome {
        curve,
        final_metric,
        lstm: run.lstm().cloned(),
    })
}

/// A run of any of the four cells, for code that picks the cell at run time (the
/// command line, the study). Its JSON names the cell.
#[derive(Serialize, Deserialize)]
#[serde(tag = "cell", rename_all = "kebab-case")]
pub enum AnyRun {
    /// Chapter 1's RNN.
    Rnn(Run<Rnn>),
    /// The LSTM.
    Lstm(Run<Lstm>),
    /// The reset-after GRU.
    Gru(Run<Gru>),
    /// The reset-before GRU.
    GruCho(Run<GruCho>),
}

/// `$body` with `$run` bound to the inner run, whatever the cell.
macro_rules! on_run {
    ($any:expr, $run:ident => $body:expr) => {
        match $any {
            AnyRun::Rnn($run) => $body,
            AnyRun::Lstm($run) => $body,
            AnyRun::Gru($run) => $body,
            AnyRun::GruCho($run) => $body,
        }
    };
}

impl AnyRun {
    /// A fresh run of `cell` (the forget bias applies to the LSTM only).
    pub fn new(cell: CellKind, task: &dyn Task, cfg: &RunConfig) -> Self {
        match cell {
            CellKind::Rnn => AnyRun::Rnn(Run::new(task, cfg, false)),
            CellKind::Lstm => AnyRun::Lstm(Run::new(task, cfg, true)),
            CellKind::Gru => AnyRun::Gru(Run::new(task, cfg, false)),
            CellKind::GruCho => AnyRun::GruCho(Run::new(task, cfg, false)),
        }
    }

    /// The cell.
    pub fn cell(&self) -> CellKind {
        match self {
            AnyRun::Rnn(_) => CellKind::Rnn,
            AnyRun::Lstm(_) => CellKind::Lstm,
            AnyRun::Gru(_) => CellKind::Gru,
            AnyRun::GruCho(_) => CellKind::GruCho,
        }
    }

    /// Updates made.
    pub fn step(&self) -> u64 {
        on_run!(self, r => r.step)
    }

    /// The learning curve so far.
    pub fn curve(&self) -> &[CurvePoint] {
        on_run!(self, r => &r.curve)
    }

    /// See [`Run::curve_to_end`].
    pub fn curve_to_end(&self, task: &dyn Task, test: &Batch) -> Vec<CurvePoint> {
        on_run!(self, r => r.curve_to_end(task, test))
    }

    /// One update (see [`Run::advance`]).
    ///
    /// # Errors
    /// A non-finite value.
    pub fn advance(
        &mut self,
        task: &dyn Task,
        cfg: &RunConfig,
        test: &Batch,
    ) -> Result<StepStats, StepError> {
        on_run!(self, r => r.advance(task, cfg, test))
    }

    /// The LSTM's parameters, if this is an LSTM run (the chapter draws its gates).
    pub fn lstm(&self) -> Option<&CellModel<Lstm>> {
        match self {
            AnyRun::Lstm(r) => Some(&r.model),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::Adding;

    fn cfg() -> RunConfig {
        RunConfig {
            hidden: 5,
            batch: 3,
            steps: 6,
            lr: 1e-2,
            clip: 1.0,
            seed: 11,
            eval_every: 2,
            test_size: 4,
            forget_bias: 1.0,
            chrono: None,
            fused: false,
        }
    }

    /// Six steps in one go, or three, a save and a load, then three more: the same
    /// run, bit for bit (the JSON holds every f64 exactly).
    fn resumes_exactly<C, const G: usize>(lstm: bool)
    where
        C: MaybeFused<Params = LayerParams<G>>,
    {
        let task = Adding { seq_len: 7 };
        let cfg = cfg();
        let test = test_batch(&task, &cfg);
        let mut straight = Run::<C>::new(&task, &cfg, lstm);
        for _ in 0..6 {
            straight.advance(&task, &cfg, &test).unwrap();
        }
        let mut first = Run::<C>::new(&task, &cfg, lstm);
        for _ in 0..3 {
            first.advance(&task, &cfg, &test).unwrap();
        }
        let saved = serde_json::to_string(&first).unwrap();
        let mut resumed: Run<C> = serde_json::from_str(&saved).unwrap();
        for _ in 0..3 {
            resumed.advance(&task, &cfg, &test).unwrap();
        }
        assert_eq!(
            serde_json::to_string(&resumed).unwrap(),
            serde_json::to_string(&straight).unwrap()
        );
        assert_eq!(straight.curve.len(), 3);
        assert_eq!(straight.curve_to_end(&task, &test).len(), 3);
    }

    #[test]
    fn every_cell_resumes_bit_for_bit() {
        resumes_exactly::<Rnn, 1>(false);
        resumes_exactly::<Lstm, 4>(true);
        resumes_exactly::<Gru, 3>(false);
        resumes_exactly::<GruCho, 3>(false);
    }

    #[test]
    fn the_forget_bias_moves_only_the_lstms_forget_rows() {
        let task = Adding { seq_len: 4 };
        let mut c = cfg();
        let with = Run::<Lstm>::new(&task, &c, true);
        c.forget_bias = 0.0;
        let without = Run::<Lstm>::new(&task, &c, true);
        let diff = &with.model.cell.bias_ih - &without.model.cell.bias_ih;
        let rows = gate_rows(LSTM_F, 5);
        for (k, &d) in diff.iter().enumerate() {
            let want = if rows.contains(&k) { 1.0 } else { 0.0 };
            assert!((d - want).abs() < 1e-12, "row {k}: {d}");
        }
    }

    #[test]
    fn chrono_spreads_the_forget_time_scales_from_2_to_t_max_and_touches_nothing_else()
     {
        let task = Adding { seq_len: 4 };
        let c = RunConfig {
            hidden: 200,
            forget_bias: 0.0,
            ..cfg()
        };
        let plain = Run::<Lstm>::new(&task, &c, true);
        let t_max = 40.0;
        let chrono = Run::<Lstm>::new(
            &task,
            &RunConfig {
                chrono: Some(t_max),
                ..c.clone()
            },
            true,
        );
        let (p, q) = (&plain.model.cell, &chrono.model.cell);
        let (f_rows, i_rows) = (gate_rows(LSTM_F, 200), gate_rows(LSTM_I, 200));
        let mut scales = Vec::new();
        for k in 0..p.bias_ih.len() {
            if f_rows.contains(&k) {
                let f = 1.0 / (1.0 + (-(q.bias_ih[k] + q.bias_hh[k])).exp());
                scales.push(1.0 / (1.0 - f));
                assert_eq!(q.bias_hh[k], 0.0);
            } else if i_rows.contains(&k) {
                let unit = k - i_rows.start;
                assert_eq!(q.bias_ih[k], -q.bias_ih[f_rows.start + unit]);
                assert_eq!(q.bias_hh[k], 0.0);
            } else {
                assert_eq!(
                    (q.bias_ih[k], q.bias_hh[k]),
                    (p.bias_ih[k], p.bias_hh[k])
                );
            }
        }
        // Every unit keeps its cell for 1 + u steps, u uniform on (1, T_max − 1).
        assert!(
            scales.iter().all(|&t| (2.0..t_max).contains(&t)),
            "{scales:?}"
        );
        let mean = scales.iter().sum::<f64>() / scales.len() as f64;
        assert!(
            (mean - (1.0 + t_max / 2.0)).abs() < 2.0,
            "mean time scale {mean}"
        );
        // The weights and the output layer are PyTorch's, as without chrono.
        assert_eq!(p.weight_ih, q.weight_ih);
        assert_eq!(p.weight_hh, q.weight_hh);
        assert_eq!(plain.model.out, chrono.model.out);
        // Other cells ignore it.
        let gru = |chrono| {
            Run::<Gru>::new(
                &task,
                &RunConfig {
                    chrono,
                    ..c.clone()
                },
                false,
            )
            .model
            .cell
        };
        assert_eq!(gru(None), gru(Some(t_max)));
    }

    #[test]
    fn names_round_trip() {
        for c in CellKind::ALL {
            assert_eq!(CellKind::parse(c.name()), Some(c));
        }
        assert_eq!(CellKind::parse("transformer"), None);
    }
}
