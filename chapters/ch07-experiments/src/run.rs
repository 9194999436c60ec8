//! One training run: a cell, a task, a seed. Every cell trains through the same step (chapter
//! 3's `train_step_with`, over chapter 2's generic loop), with Adam and clipping by global norm.
//!
//! A run is reproducible and resumable: the initial parameters come from `seed`, and step `k`
//! trains on batch `k` drawn from `stream_rng(seed, k)`, so a run stopped after `K` steps and
//! continued from its saved [`Run`] reaches the same parameters as an uninterrupted one.

use ch00_foundations::notation::{LSTM_F, gate_rows};
use ch00_foundations::rng::{seeded_rng, stream_rng};
use ch01_rnn::cell::LayerParams;
use ch01_rnn::model::OutputLayer;
use ch02_bptt::adam::Adam;
use ch02_bptt::driver::{Cell, RecurrentState, Rnn};
use ch02_bptt::model::{CellModel, SeqModel, seq_forward};
use ch03_clipping::train::{StepError, StepStats, train_step_with};
use ch04_lstm::Lstm;
use ch05_gru::{Gru, GruCho};
use ndarray::s;
use serde::{Deserialize, Serialize};

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
    /// Added to the LSTM's forget-gate `bias_ih` after PyTorch's initialisation (other cells
    /// ignore it).
    pub forget_bias: f64,
}

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

/// The test batch of a run: drawn from the seed's last stream, which no training step uses.
pub fn test_batch(task: &dyn Task, cfg: &RunConfig) -> Batch {
    task.batch(cfg.test_size, &mut stream_rng(cfg.seed, u64::MAX))
}

impl<C: Cell<Params: ch01_rnn::params::Tensors>> Run<C> {
    /// A fresh run: PyTorch's initialisation from `cfg.seed`, the cell's layer then the output
    /// layer.
    pub fn new<const G: usize>(task: &dyn Task, cfg: &RunConfig, lstm_forget_rows: bool) -> Self
    where
        C: Cell<Params = LayerParams<G>>,
    {
        let mut rng = seeded_rng(cfg.seed);
        let mut cell = LayerParams::<G>::init(task.input_size(), cfg.hidden, &mut rng);
        if lstm_forget_rows && cfg.forget_bias != 0.0 {
            cell.bias_ih
                .slice_mut(s![gate_rows(LSTM_F, cfg.hidden)])
                .mapv_inplace(|b| b + cfg.forget_bias);
        }
        let out = OutputLayer::init(cfg.hidden, task.output_size(), &mut rng);
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

    /// The curve, with a last point at the current step if the curve does not end there.
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

    /// One update on batch `step + 1` (drawn from its own stream); every batch starts from the
    /// zero state. Every `eval_every` steps a curve point on `test` (a point at the end of a
    /// run is [`Run::curve_to_end`]'s, so that stopping early leaves no point behind).
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
        let stats = train_step_with(
            &mut self.model,
            &mut self.adam,
            &mut state,
            (batch.x.view(), loss, per),
            cfg.clip,
            step,
        )?;
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

/// Trains `cell` on `task` for `cfg.steps` steps from scratch; `progress(step, loss)` after each.
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

/// A run of any of the four cells, for code that picks the cell at run time (the command line,
/// the study). Its JSON names the cell.
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
        }
    }

    /// Six steps in one go, or three, a save and a load, then three more: the same run, bit for
    /// bit (the JSON holds every f64 exactly).
    fn resumes_exactly<C, const G: usize>(lstm: bool)
    where
        C: Cell<Params = LayerParams<G>>,
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
    fn names_round_trip() {
        for c in CellKind::ALL {
            assert_eq!(CellKind::parse(c.name()), Some(c));
        }
        assert_eq!(CellKind::parse("transformer"), None);
    }
}
