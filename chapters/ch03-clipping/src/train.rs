//! Training a character model: the text cut into windows, and one update step.
//!
//! Every piece comes from the chapters: the vocabulary and streams from chapter 1,
//! the loss and its gradient through chapter 2's generic loop (so any
//! [`Cell`](ch02_bptt::driver::Cell) can be trained), Adam from chapter 2, and
//! clipping by global norm from this chapter. The `rnnbook train` command only adds
//! files, progress and checkpoints around [`train_step`].

use ch01_rnn::data::{Vocab, one_hot, streams};
use ch01_rnn::model::sequence_loss;
use ch01_rnn::params::Tensors;
use ch02_bptt::adam::Adam;
use ch02_bptt::driver::RecurrentState;
use ch02_bptt::model::{
    GradsOf, SeqModel, StateOf, seq_forward, seq_loss_and_grads_with,
};
use ndarray::{Array2, Array3, ArrayView2, ArrayView3, s};

use crate::clip::{NonFiniteGradient, clip_by_global_norm, first_non_finite};

/// A text cut into `B` streams (chapter 1's [`streams`]), read `seq_len` steps at a
/// time.
#[derive(Debug, Clone)]
pub struct Batches {
    /// The vocabulary (the text's sorted characters).
    pub vocab: Vocab,
    /// Input characters: `[N, B]`, one column per stream.
    pub inputs: Array2<usize>,
    /// Target characters (the next ones): `[N, B]`.
    pub targets: Array2<usize>,
    /// Steps per window.
    pub seq_len: usize,
    /// The first character of the text, where samples start.
    pub first: usize,
}

/// A text too short to train on.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error(
    "the text has {chars} characters, too few for --batch {batch}: each of the {batch} streams \
     needs at least one character and the one after it ({needed} characters in all)",
    needed = batch + 1
)]
pub struct TextTooShort {
    /// Characters in the text.
    pub chars: usize,
    /// Streams asked for.
    pub batch: usize,
}

impl Batches {
    /// Cuts `text` into `batch` streams, read `seq_len` steps at a time.
    ///
    /// # Errors
    /// If the text is too short to give every stream at least one character and its
    /// successor.
    ///
    /// # Panics
    /// If `batch` or `seq_len` is 0 (the options refuse both).
    pub fn new(
        text: &str,
        batch: usize,
        seq_len: usize,
    ) -> Result<Self, TextTooShort> {
        Self::with_vocab(text, Vocab::from_text(text), batch, seq_len)
    }

    /// [`Batches::new`] with a given vocabulary, which must cover the text (a
    /// held-out part of a text is read with the whole text's vocabulary).
    ///
    /// # Errors
    /// As [`Batches::new`].
    ///
    /// # Panics
    /// If `batch` or `seq_len` is 0, or `vocab` lacks a character of `text`.
    pub fn with_vocab(
        text: &str,
        vocab: Vocab,
        batch: usize,
        seq_len: usize,
    ) -> Result<Self, TextTooShort> {
        assert!(
            batch > 0 && seq_len > 0,
            "batch and seq_len must be positive"
        );
        let encoded = vocab.encode(text).expect("the vocabulary covers the text");
        let (inputs, targets) = streams(&encoded, batch);
        if inputs.nrows() == 0 {
            return Err(TextTooShort {
                chars: encoded.len(),
                batch,
            });
        }
        Ok(Batches {
            vocab,
            inputs,
            targets,
            seq_len,
            first: encoded[0],
        })
    }

    /// `W`: windows per pass over the streams (the last one may be shorter).
    pub fn windows(&self) -> u64 {
        self.inputs.nrows().div_ceil(self.seq_len) as u64
    }

    /// Rows `start..end` of the streams read at `step` (0-based): window
    /// `step mod W`.
    pub fn window(&self, step: u64) -> (usize, usize) {
        let w = (step % self.windows()) as usize;
        let start = w * self.seq_len;
        (start, (start + self.seq_len).min(self.inputs.nrows()))
    }

    /// The window read at `step`: one-hot inputs `x: [T, B, V]` and targets
    /// `[T, B]`. A window that starts a pass (`start == 0`) should start from the
    /// zero state.
    pub fn window_data(
        &self,
        step: u64,
    ) -> (Array3<f64>, ArrayView2<'_, usize>, bool) {
        let (start, end) = self.window(step);
        let x = one_hot(self.inputs.slice(s![start..end, ..]), self.vocab.len());
        (x, self.targets.slice(s![start..end, ..]), start == 0)
    }
}

/// What one update measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepStats {
    /// The window's summed loss divided by its characters (or by the `per` of
    /// [`train_step_with`]).
    pub loss_per_char: f64,
    /// The global norm of the gradient of the loss per character, before clipping.
    pub grad_norm: f64,
}

/// Why an update was refused: a value that is not finite, with the step it happened
/// at.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StepError {
    /// A gradient entry is NaN or infinite.
    #[error("step {step}: {gradient} (loss per character {loss_per_char})")]
    Gradient {
        /// The number the update would have had (1-based).
        step: u64,
        /// The entry.
        gradient: NonFiniteGradient,
        /// The window's loss per character.
        loss_per_char: f64,
    },
    /// The loss is NaN or infinite while every gradient is finite.
    #[error("step {step}: the loss is {loss_per_char} (the gradients were finite)")]
    Loss {
        /// The number the update would have had.
        step: u64,
        /// The loss per character.
        loss_per_char: f64,
    },
    /// Adam's update overflowed a parameter.
    #[error(
        "step {step}: Adam's update made the parameter {tensor}{index:?} non-finite"
    )]
    Parameter {
        /// The number of the update.
        step: u64,
        /// The parameter's name.
        tensor: &'static str,
        /// The entry.
        index: Vec<usize>,
    },
}

// ANCHOR: train_step
/// One update on one window, for any [`SeqModel`]: forward and backward over the
/// window from `state` (which flows in from the last window; the gradient stops at
/// the window's start), the gradient divided by the window's characters (so it is
/// that of the mean loss per character), clipped to the global norm `clip`, then
/// Adam. `state` moves on to the window's final state. Shapes: `x: [T, B, I]`,
/// `targets: [T, B]`. `step` is the update's number (1-based), for errors.
///
/// # Errors
/// A NaN or infinite loss, gradient entry or parameter. The model, Adam and `state`
/// are then left unchanged, except for a non-finite parameter (the update itself
/// overflowed), so the caller must not save them.
pub fn train_step<M: SeqModel>(
    model: &mut M,
    adam: &mut Adam,
    state: &mut StateOf<M>,
    x: ArrayView3<f64>,
    targets: ArrayView2<usize>,
    clip: f64,
    step: u64,
) -> Result<StepStats, StepError> {
    let chars = (x.dim().0 * x.dim().1) as f64;
    let loss = |logits: ArrayView3<f64>| sequence_loss(logits, targets);
    train_step_with(model, adam, state, (x, loss, chars), clip, step)
}

/// [`train_step`] with any loss of the output layer's values: `loss(logits)` gives
/// the loss and `dL/dlogits` (`[T, B, V]`), and both the loss and the gradient are
/// divided by `per` (the characters of a window, or the sequences of a batch) before
/// clipping.
///
/// # Errors
/// As [`train_step`].
pub fn train_step_with<M: SeqModel>(
    model: &mut M,
    adam: &mut Adam,
    state: &mut StateOf<M>,
    (x, loss, per): (
        ArrayView3<f64>,
        impl FnOnce(ArrayView3<f64>) -> (f64, Array3<f64>),
        f64,
    ),
    clip: f64,
    step: u64,
) -> Result<StepStats, StepError> {
    let (loss, grads, s_n) = seq_loss_and_grads_with(model, x, state, loss);
    let stats = update(model, adam, (loss, grads, per), clip, step)?;
    *state = s_n;
    Ok(stats)
}

/// The update of [`train_step_with`] from a loss and gradient however they were
/// computed (e.g. by chapter 6's `f32` kernels): both divided by `per`, the gradient
/// clipped to the global norm `clip`, then Adam, every value checked.
///
/// # Errors
/// As [`train_step`].
pub fn update<M: SeqModel>(
    model: &mut M,
    adam: &mut Adam,
    (loss, mut grads, per): (f64, GradsOf<M>, f64),
    clip: f64,
    step: u64,
) -> Result<StepStats, StepError> {
    let loss_per_char = loss / per;
    // The loss is a sum; train on the mean, so that `clip` caps the gradient of the
    // mean loss whatever the window and batch sizes.
    for (_, mut g) in grads.tensors_mut() {
        g /= per;
    }
    let report = clip_by_global_norm(&mut grads, clip).map_err(|gradient| {
        StepError::Gradient {
            step,
            gradient,
            loss_per_char,
        }
    })?;
    if !loss_per_char.is_finite() {
        return Err(StepError::Loss {
            step,
            loss_per_char,
        });
    }
    adam.update(model, &grads);
    if let Some(bad) = first_non_finite(model) {
        return Err(StepError::Parameter {
            step,
            tensor: bad.tensor,
            index: bad.index,
        });
    }
    Ok(StepStats {
        loss_per_char,
        grad_norm: report.norm_before,
    })
}
// ANCHOR_END: train_step

/// The loss per character over one whole pass of the streams, with the state carried
/// from window to window as in training (no update).
pub fn text_loss_per_char<M: SeqModel>(model: &M, batches: &Batches) -> f64 {
    let mut state = StateOf::<M>::zeros(batches.inputs.ncols(), model.hidden_size());
    let mut loss = 0.0;
    for w in 0..batches.windows() {
        let (x, targets, _) = batches.window_data(w);
        let (logits, s_n, _, _) = seq_forward(model, x.view(), &state);
        loss += sequence_loss(logits.view(), targets).0;
        state = s_n;
    }
    loss / batches.inputs.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use ch00_foundations::rng::seeded_rng;
    use ch01_rnn::model::CharRnn;

    const TEXT: &str = "abcabcabdabcabcabd, abcabc abd.\n";

    #[test]
    fn windows_cover_the_streams_and_wrap_around() {
        let b = Batches::new(TEXT, 3, 4).unwrap();
        let n = b.inputs.nrows();
        assert_eq!(b.windows(), n.div_ceil(4) as u64);
        let (first, last) = (b.window(0), b.window(b.windows() - 1));
        assert_eq!(first, (0, 4));
        assert_eq!(last.1, n);
        assert_eq!(b.window(b.windows()), first, "step W reads window 0 again");
        let (x, t, starts) = b.window_data(0);
        assert!(starts);
        assert_eq!(x.dim(), (4, 3, b.vocab.len()));
        assert_eq!(t.dim(), (4, 3));
    }

    #[test]
    fn a_text_too_short_for_the_batch_is_refused_by_size() {
        let e = Batches::new("ab", 3, 4).unwrap_err();
        assert_eq!(e, TextTooShort { chars: 2, batch: 3 });
        assert!(e.to_string().contains("--batch 3"), "{e}");
    }

    /// A step lowers the loss of its own window, and carries the state on.
    #[test]
    fn a_step_lowers_the_loss_of_its_window() {
        let b = Batches::new(TEXT, 2, 6).unwrap();
        let mut model = CharRnn::init(b.vocab.len(), 8, &mut seeded_rng(3));
        let mut adam = Adam::new(0.05, &model);
        let (x, t, _) = b.window_data(0);
        let h0 = Array2::zeros((2, 8));
        let mut h = h0.clone();
        let first =
            train_step(&mut model, &mut adam, &mut h, x.view(), t, 5.0, 1).unwrap();
        assert_ne!(h, h0);
        let mut later = first;
        for step in 2..=20 {
            let mut h = h0.clone();
            later =
                train_step(&mut model, &mut adam, &mut h, x.view(), t, 5.0, step)
                    .unwrap();
        }
        assert!(
            later.loss_per_char < 0.8 * first.loss_per_char,
            "{first:?} {later:?}"
        );
    }

    #[test]
    fn a_non_finite_input_is_an_error_naming_the_step_and_leaves_the_state() {
        let b = Batches::new(TEXT, 2, 6).unwrap();
        let mut model = CharRnn::init(b.vocab.len(), 8, &mut seeded_rng(3));
        let before = model.clone();
        let mut adam = Adam::new(0.05, &model);
        let (mut x, t, _) = b.window_data(0);
        x[[0, 0, 0]] = f64::NAN;
        let mut h = Array2::zeros((2, 8));
        let e = train_step(&mut model, &mut adam, &mut h, x.view(), t, 5.0, 7)
            .unwrap_err();
        assert!(e.to_string().starts_with("step 7: "), "{e}");
        assert_eq!(model, before);
        assert_eq!(h, Array2::<f64>::zeros((2, 8)));
    }
}
