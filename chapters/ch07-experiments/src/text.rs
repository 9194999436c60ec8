//! Character-level language modelling with every cell, measured on text it never trained on.
//!
//! The text is cut into a training part and a held-out part ([`split_text`]); the vocabulary is
//! the whole text's (a character is a symbol, not something learned). Training is chapter 3's
//! `train_step` on windows of the training part, the state carried from window to window, as
//! in `rnnbook train rnn`. Every `eval_every` steps the model reads the whole held-out part the
//! same way, and its loss is reported in bits per character.

use ch00_foundations::rng::{seeded_rng, stream_rng};
use ch01_rnn::cell::LayerParams;
use ch01_rnn::data::Vocab;
use ch01_rnn::model::OutputLayer;
use ch01_rnn::params::Tensors;
use ch01_rnn::sample::sample_index;
use ch02_bptt::adam::Adam;
use ch02_bptt::driver::{Cell, RecurrentState, Rnn};
use ch02_bptt::model::{CellModel, SeqModel};
use ch03_clipping::train::{Batches, StepError, text_loss_per_char, train_step};
use ch04_lstm::Lstm;
use ch05_gru::{Gru, GruCho};
use ndarray::{Array2, Axis};
use serde::{Deserialize, Serialize};

use crate::run::CellKind;
use crate::tasks::{TextSplit, bits_per_char, split_text, unigram_loss_per_char};

/// The settings of a text run (the hidden size is per cell, for an equal parameter budget).
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
    /// Bits per character of the training text's character frequencies, on the held-out part.
    pub unigram_bits: f64,
    /// A sample of the trained model, starting from the held-out part's first character.
    pub sample: String,
}

/// The text's two parts as training windows, with one vocabulary.
fn parts(split: &TextSplit, cfg: &TextConfig) -> Result<(Batches, Batches), String> {
    let all = format!("{}{}", split.train, split.test);
    let vocab = Vocab::from_text(&all);
    let train = Batches::with_vocab(&split.train, vocab.clone(), cfg.batch, cfg.seq_len)
        .map_err(|e| format!("the training part: {e}"))?;
    let test = Batches::with_vocab(&split.test, vocab, cfg.batch, cfg.seq_len)
        .map_err(|e| format!("the held-out part: {e}"))?;
    Ok((train, test))
}

/// A character model of cell `C` trained on `text` as `cfg` says; `progress(step)` after each.
fn train_text<C, const G: usize>(
    text: &str,
    cfg: &TextConfig,
    mut progress: impl FnMut(u64),
) -> Result<TextOutcome, String>
where
    C: Cell<Params = LayerParams<G>>,
{
    let split = split_text(text, cfg.held_out)?;
    let (train, test) = parts(&split, cfg)?;
    let v = train.vocab.len();
    let mut rng = seeded_rng(cfg.seed);
    let cell = LayerParams::<G>::init(v, cfg.hidden, &mut rng);
    let out = OutputLayer::init(cfg.hidden, v, &mut rng);
    let mut model = CellModel::<C>::new(cell, out);
    let mut adam = Adam::new(cfg.lr, &model);
    let mut state = C::State::zeros(cfg.batch, cfg.hidden);
    let (mut curve, mut pending) = (Vec::new(), (0.0, 0u64));
    for step in 1..=cfg.steps {
        let (x, targets, starts_pass) = train.window_data(step - 1);
        if starts_pass {
            state = C::State::zeros(cfg.batch, cfg.hidden);
        }
        let stats = train_step(
            &mut model,
            &mut adam,
            &mut state,
            x.view(),
            targets,
            cfg.clip,
            step,
        )
        .map_err(|e: StepError| e.to_string())?;
        pending.0 += stats.loss_per_char;
        pending.1 += 1;
        if step.is_multiple_of(cfg.eval_every) || step == cfg.steps {
            curve.push(TextPoint {
                step,
                train_bits: bits_per_char(pending.0 / pending.1 as f64),
                test_bits: bits_per_char(text_loss_per_char(&model, &test)),
            });
            pending = (0.0, 0);
        }
        progress(step);
    }
    let final_test_bits = curve.last().map_or(f64::NAN, |p| p.test_bits);
    let start = test.inputs[[0, 0]];
    let drawn = sample_model(&model, start, 300, 0.8, &mut stream_rng(cfg.seed, u64::MAX));
    Ok(TextOutcome {
        parameters: model.num_scalars(),
        curve,
        final_test_bits,
        uniform_bits: (v as f64).log2(),
        unigram_bits: bits_per_char(unigram_loss_per_char(&split)),
        sample: format!(
            "{}{}",
            train.vocab.decode(&[start]),
            train.vocab.decode(&drawn)
        ),
    })
}

/// `len` characters drawn from `model` after `start`, one step at a time from the zero state,
/// each from `softmax(logits / temperature)` (chapter 1's `sample_index`).
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
        current = sample_index(logits.slice(ndarray::s![0, 0, ..]), temperature, rng);
        out.push(current);
    }
    out
}

/// Trains `cell` on `text`; see the module's documentation.
///
/// # Errors
/// A text too short for the split or the windows, or a non-finite value while training.
pub fn run_text(
    cell: CellKind,
    text: &str,
    cfg: &TextConfig,
    progress: impl FnMut(u64),
) -> Result<TextOutcome, String> {
    match cell {
        CellKind::Rnn => train_text::<Rnn, 1>(text, cfg, progress),
        CellKind::Lstm => train_text::<Lstm, 4>(text, cfg, progress),
        CellKind::Gru => train_text::<Gru, 3>(text, cfg, progress),
        CellKind::GruCho => train_text::<GruCho, 3>(text, cfg, progress),
    }
}

/// The hidden size of each cell that gives about `budget` trainable scalars for a vocabulary of
/// `v` characters: the largest `H` with `G·H(V + H + 2) + V(H + 1) ≤ budget`.
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
    fn the_budget_picks_the_largest_hidden_size_that_fits() {
        let v = 101;
        for cell in CellKind::ALL {
            let h = hidden_for_budget(cell, v, 42_000);
            let g = [1, 4, 3, 3][CellKind::ALL.iter().position(|&c| c == cell).unwrap()];
            let count = |h: usize| g * h * (v + h + 2) + v * (h + 1);
            assert!(
                count(h) <= 42_000 && count(h + 1) > 42_000,
                "{}",
                cell.name()
            );
        }
        assert_eq!(hidden_for_budget(CellKind::Rnn, 101, 42_000), 126); // 41 681 scalars
    }
}
