//! Character-level language modelling with every cell, measured on text it never
//! trained on.
//!
//! The text is cut into a training part and a held-out part ([`split_text`]); the
//! vocabulary is the whole text's (a character is a symbol, not something learned).
//! Training is chapter 3's `train_step` on windows of the training part, the state
//! carried from window to window, as in `rnnbook train rnn`. Every `eval_every`
//! steps the model reads the whole held-out part the same way, and its loss is
//! reported in bits per character.

use ch00_foundations::rng::{seeded_rng, stream_rng};
use ch01_rnn::cell::LayerParams;
use ch01_rnn::data::Vocab;
use ch01_rnn::model::OutputLayer;
use ch01_rnn::params::Tensors;
use ch01_rnn::sample::sample_index;
use ch02_bptt::adam::Adam;
use ch02_bptt::driver::{Cell, RecurrentState, Rnn};
use ch02_bptt::model::{CellModel, SeqModel};
use ch03_clipping::train::{
    Batches, StepError, StepStats, text_loss_per_char, train_step,
};
use ch04_lstm::Lstm;
use ch05_gru::{Gru, GruCho};
use ndarray::{Array2, Axis};
use serde::{Deserialize, Serialize};

use crate::run::CellKind;
use crate::tasks::{TextSplit, bits_per_char, split_text, unigram_loss_per_char};

/// The settings of a text run (the hidden size is per cell, for an equal parameter
/// budget).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextConfig {
    /// `H`.
    pub hidden: usize,
    /// Characters per stream per update.
    pub seq_len: usize,
    /// Streams.
    pub batch: usize,
    /// Updates.
    pub steps: u64,
    /// Adam's step size.
    pub lr: f64,
    /// The cap on the gradient's global norm (of the mean loss per character).
    pub clip: f64,
    /// Seed of the parameters and the sample.
    pub seed: u64,
    /// Measure the held-out loss every this many steps (and at the end).
    pub eval_every: u64,
    /// The fraction of the text held out.
    pub held_out: f64,
}

/// One point of a text run's curve.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TextPoint {
    /// Updates made.
    pub step: u64,
    /// The mean training loss since the last point, in bits per character.
    pub train_bits: f64,
    /// The held-out loss, in bits per character.
    pub test_bits: f64,
}

/// What a text run reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextOutcome {
    /// Trainable scalars.
    pub parameters: usize,
    /// The learning curve.
    pub curve: Vec<TextPoint>,
    /// The held-out bits per character at the end.
    pub final_test_bits: f64,
    /// Bits per character of guessing uniformly over the vocabulary: `log₂ V`.
    pub uniform_bits: f64,
    /// Bits per character of the training text's character frequencies, on the
    /// held-out part.
    pub unigram_bits: f64,
    /// A sample of the trained model, starting from the held-out part's first
    /// character.
    pub sample: String,
}

/// The text's two parts as training windows, with one vocabulary: the training
/// part's windows and the held-out part's.
///
/// # Errors
/// A part too short for one window of `cfg.seq_len + 1` characters in each of
/// `cfg.batch` streams.
pub fn parts(
    split: &TextSplit,
    cfg: &TextConfig,
) -> Result<(Batches, Batches), String> {
    let all = format!("{}{}", split.train, split.test);
    let vocab = Vocab::from_text(&all);
    let train =
        Batches::with_vocab(&split.train, vocab.clone(), cfg.batch, cfg.seq_len)
            .map_err(|e| format!("the training part: {e}"))?;
    let test = Batches::with_vocab(&split.test, vocab, cfg.batch, cfg.seq_len)
        .map_err(|e| format!("the held-out part: {e}"))?;
    Ok((train, test))
}

/// A character model in training: everything needed to continue it exactly. Step `k`
/// trains on window `k − 1` of the training part's streams, the state carried from
/// window to window and reset at the start of each pass.
#[derive(Serialize, Deserialize)]
#[serde(bound(
    serialize = "C::Params: Serialize, C::State: Serialize",
    deserialize = "C::Params: Deserialize<'de>, C::State: Deserialize<'de>"
))]
pub struct TextRun<C: Cell> {
    /// The model.
    pub model: CellModel<C>,
    /// Adam, with its moments.
    pub adam: Adam,
    /// Updates made.
    pub step: u64,
    /// The state carried into the next window.
    pub state: C::State,
    /// The learning curve so far.
    pub curve: Vec<TextPoint>,
    /// Training losses (nats per character) since the last curve point: their sum
    /// and count.
    pub pending: (f64, u64),
}

impl<C: Cell<Params: Tensors>> TextRun<C> {
    /// A fresh run for a vocabulary of `v` characters: PyTorch's initialisation from
    /// `cfg.seed`, the cell's layer then the output layer.
    pub fn new<const G: usize>(v: usize, cfg: &TextConfig) -> Self
    where
        C: Cell<Params = LayerParams<G>>,
    {
        let mut rng = seeded_rng(cfg.seed);
        let cell = LayerParams::<G>::init(v, cfg.hidden, &mut rng);
        let out = OutputLayer::init(cfg.hidden, v, &mut rng);
        let model = CellModel::<C>::new(cell, out);
        let adam = Adam::new(cfg.lr, &model);
        TextRun {
            model,
            adam,
            step: 0,
            state: C::State::zeros(cfg.batch, cfg.hidden),
            curve: Vec::new(),
            pending: (0.0, 0),
        }
    }

    /// One update (chapter 3's `train_step`); every `cfg.eval_every` steps a curve
    /// point with the held-out loss on `test`. A point at the end of a run is
    /// [`TextRun::curve_to_end`]'s.
    ///
    /// # Errors
    /// A non-finite loss, gradient or parameter (chapter 3's [`StepError`]).
    pub fn advance(
        &mut self,
        train: &Batches,
        test: &Batches,
        cfg: &TextConfig,
    ) -> Result<StepStats, StepError> {
        let (x, targets, starts_pass) = train.window_data(self.step);
        if starts_pass {
            self.state = C::State::zeros(cfg.batch, cfg.hidden);
        }
        let step = self.step + 1;
        let stats = train_step(
            &mut self.model,
            &mut self.adam,
            &mut self.state,
            x.view(),
            targets,
            cfg.clip,
            step,
        )?;
        self.step = step;
        self.pending.0 += stats.loss_per_char;
        self.pending.1 += 1;
        if step.is_multiple_of(cfg.eval_every) {
            self.curve.push(self.point(test));
            self.pending = (0.0, 0);
        }
        Ok(stats)
    }

    fn point(&self, test: &Batches) -> TextPoint {
        TextPoint {
            step: self.step,
            train_bits: bits_per_char(self.pending.0 / self.pending.1 as f64),
            test_bits: bits_per_char(text_loss_per_char(&self.model, test)),
        }
    }

    /// The curve, with a last point at the current step if the curve does not end
    /// there.
    pub fn curve_to_end(&self, test: &Batches) -> Vec<TextPoint> {
        let mut curve = self.curve.clone();
        if self.pending.1 > 0 {
            curve.push(self.point(test));
        }
        curve
    }

    /// What the run reports now: its curve to the end, and a sample of 300
    /// characters at temperature 0.8 from the held-out part's first character (drawn
    /// from the seed's last stream).
    pub fn outcome(
        &self,
        split: &TextSplit,
        test: &Batches,
        cfg: &TextConfig,
    ) -> TextOutcome {
        let curve = self.curve_to_end(test);
        let final_test_bits = curve.last().map_or(f64::NAN, |p| p.test_bits);
        let v = test.vocab.len();
        let start = test.inputs[[0, 0]];
        let drawn = sample_model(
            &self.model,
            start,
            300,
            0.8,
            &mut stream_rng(cfg.seed, u64::MAX),
        );
        TextOutcome {
            parameters: self.model.num_scalars(),
            curve,
            final_test_bits,
            uniform_bits: (v as f64).log2(),
            unigram_bits: bits_per_char(unigram_loss_per_char(split)),
            sample: format!(
                "{}{}",
                test.vocab.decode(&[start]),
                test.vocab.decode(&drawn)
            ),
        }
    }
}

/// A character model of any of the four cells in training, for the command line and
/// the study.
#[derive(Serialize, Deserialize)]
#[serde(tag = "cell", rename_all = "kebab-case")]
pub enum AnyTextRun {
    /// Chapter 1's RNN.
    Rnn(TextRun<Rnn>),
    /// Chapter 4's LSTM.
    Lstm(TextRun<Lstm>),
    /// Chapter 5's reset-after GRU.
    Gru(TextRun<Gru>),
    /// Chapter 5's reset-before GRU.
    GruCho(TextRun<GruCho>),
}

/// `$body` with `$r` bound to the [`TextRun`] inside, whatever its cell.
macro_rules! each_text_run {
    ($run:expr, $r:ident => $body:expr) => {
        match $run {
            AnyTextRun::Rnn($r) => $body,
            AnyTextRun::Lstm($r) => $body,
            AnyTextRun::Gru($r) => $body,
            AnyTextRun::GruCho($r) => $body,
        }
    };
}

impl AnyTextRun {
    /// A fresh run of `cell` for a vocabulary of `v` characters.
    pub fn new(cell: CellKind, v: usize, cfg: &TextConfig) -> Self {
        match cell {
            CellKind::Rnn => AnyTextRun::Rnn(TextRun::new::<1>(v, cfg)),
            CellKind::Lstm => AnyTextRun::Lstm(TextRun::new::<4>(v, cfg)),
            CellKind::Gru => AnyTextRun::Gru(TextRun::new::<3>(v, cfg)),
            CellKind::GruCho => AnyTextRun::GruCho(TextRun::new::<3>(v, cfg)),
        }
    }

    /// Which cell.
    pub fn cell(&self) -> CellKind {
        match self {
            AnyTextRun::Rnn(_) => CellKind::Rnn,
            AnyTextRun::Lstm(_) => CellKind::Lstm,
            AnyTextRun::Gru(_) => CellKind::Gru,
            AnyTextRun::GruCho(_) => CellKind::GruCho,
        }
    }

    /// Updates made.
    pub fn step(&self) -> u64 {
        each_text_run!(self, r => r.step)
    }

    /// The learning curve so far.
    pub fn curve(&self) -> &[TextPoint] {
        each_text_run!(self, r => &r.curve)
    }

    /// [`TextRun::advance`].
    ///
    /// # Errors
    /// A non-finite value.
    pub fn advance(
        &mut self,
        train: &Batches,
        test: &Batches,
        cfg: &TextConfig,
    ) -> Result<StepStats, StepError> {
        each_text_run!(self, r => r.advance(train, test, cfg))
    }

    /// [`TextRun::outcome`].
    pub fn outcome(
        &self,
        split: &TextSplit,
        test: &Batches,
        cfg: &TextConfig,
    ) -> TextOutcome {
        each_text_run!(self, r => r.outcome(split, test, cfg))
    }
}

/// `len` characters drawn from `model` after `start`, one step at a time from the
/// zero state, each from `softmax(logits / temperature)` (chapter 1's
/// `sample_index`).
pub fn sample_model<C: Cell<Params: Tensors>>(
    model: &CellModel<C>,
    start: usize,
    len: usize,
    temperature: f64,
    rng: &mut impl rand::Rng,
) -> Vec<usize> {
    let v = model.out.bias_y.len();
    let mut state = C::State::zeros(1, model.hidden_size());
    let mut current = start;
    let mut out = Vec::with_capacity(len);
    for _ in 0..len {
        let mut x = Array2::zeros((1, v));
        x[[0, current]] = 1.0;
        state = C::step(model.recurrent(), x.view(), &state).0;
        let logits = model.out.forward(state.h().view().insert_axis(Axis(0)));
        current =
            sample_index(logits.slice(ndarray::s![0, 0, ..]), temperature, rng);
        out.push(current);
    }
    out
}

/// Trains `cell` on `text`; see the module's documentation. `progress(step)` after
/// each update.
///
/// # Errors
/// A text too short for the split or the windows, or a non-finite value while
/// training.
pub fn run_text(
    cell: CellKind,
    text: &str,
    cfg: &TextConfig,
    mut progress: impl FnMut(u64),
) -> Result<TextOutcome, String> {
    let split = split_text(text, cfg.held_out)?;
    let (train, test) = parts(&split, cfg)?;
    let mut run = AnyTextRun::new(cell, train.vocab.len(), cfg);
    while run.step() < cfg.steps {
        run.advance(&train, &test, cfg)
            .map_err(|e: StepError| e.to_string())?;
        progress(run.step());
    }
    Ok(run.outcome(&split, &test, cfg))
}

/// The hidden size of each cell that gives about `budget` trainable scalars for a
/// vocabulary of `v` characters: the largest `H` with
/// `G·H(V + H + 2) + V(H + 1) ≤ budget`.
pub fn hidden_for_budget(cell: CellKind, v: usize, budget: usize) -> usize {
    let g = match cell {
        CellKind::Rnn => 1,
        CellKind::Lstm => 4,
        CellKind::Gru | CellKind::GruCho => 3,
    };
    let count = |h: usize| g * h * (v + h + 2) + v * (h + 1);
    (1..)
        .take_while(|&h| count(h) <= budget)
        .last()
        .unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_run_learns_and_reports_held_out_bits() {
        let text = "the cat sat on the mat. the dog sat on the log. ".repeat(30);
        let cfg = TextConfig {
            hidden: 16,
            seq_len: 8,
            batch: 4,
            steps: 60,
            lr: 1e-2,
            clip: 5.0,
            seed: 3,
            eval_every: 30,
            held_out: 0.1,
        };
        for cell in CellKind::ALL {
            let out = run_text(cell, &text, &cfg, |_| {}).unwrap();
            assert_eq!(out.curve.len(), 2, "{}", cell.name());
            assert!(
                out.final_test_bits < out.uniform_bits,
                "{}: {out:?}",
                cell.name()
            );
            assert_eq!(out.sample.chars().count(), 301);
        }
    }

    #[test]
    fn every_cells_character_model_resumes_bit_for_bit() {
        let text = "abcabd abcabe, abcabf. ".repeat(20);
        let cfg = TextConfig {
            hidden: 6,
            seq_len: 10,
            batch: 4,
            steps: 14,
            lr: 1e-2,
            clip: 5.0,
            seed: 4,
            eval_every: 4,
            held_out: 0.2,
        };
        let split = split_text(&text, cfg.held_out).unwrap();
        let (train, test) = parts(&split, &cfg).unwrap();
        // 14 steps cross a pass over the streams (the state is reset there) and end
        // between two curve points.
        assert!(train.windows() < 14 && !14u64.is_multiple_of(cfg.eval_every));
        let v = train.vocab.len();
        for cell in CellKind::ALL {
            let mut straight = AnyTextRun::new(cell, v, &cfg);
            for _ in 0..14 {
                straight.advance(&train, &test, &cfg).unwrap();
            }
            let mut first = AnyTextRun::new(cell, v, &cfg);
            for _ in 0..6 {
                first.advance(&train, &test, &cfg).unwrap();
            }
            let saved = serde_json::to_string(&first).unwrap();
            let mut resumed: AnyTextRun = serde_json::from_str(&saved).unwrap();
            assert_eq!(resumed.cell(), cell);
            for _ in 0..8 {
                resumed.advance(&train, &test, &cfg).unwrap();
            }
            assert_eq!(
                serde_json::to_string(&resumed).unwrap(),
                serde_json::to_string(&straight).unwrap(),
                "{}",
                cell.name()
            );
            let outcome = straight.outcome(&split, &test, &cfg);
            assert_eq!(outcome.curve.len(), 4, "3 points, and one at the end");
            assert_eq!(outcome, resumed.outcome(&split, &test, &cfg));
        }
    }

    #[test]
    fn the_budget_picks_the_largest_hidden_size_that_fits() {
        let v = 101;
        for cell in CellKind::ALL {
            let h = hidden_for_budget(cell, v, 42_000);
            let g =
                [1, 4, 3, 3][CellKind::ALL.iter().position(|&c| c == cell).unwrap()];
            let count = |h: usize| g * h * (v + h + 2) + v * (h + 1);
            assert!(
                count(h) <= 42_000 && count(h + 1) > 42_000,
                "{}",
                cell.name()
            );
        }
        // 41 681 scalars
        assert_eq!(hidden_for_budget(CellKind::Rnn, 101, 42_000), 126);
    }
}
