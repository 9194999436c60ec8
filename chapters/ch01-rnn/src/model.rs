//! A character language model: the RNN, an output layer, and the loss.
//!
//! At each step the model reads one character (one-hot, so `I = V`) and predicts the
//! next:
//!
//! ```text
//! h_t      = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)
//! logits_t = W_hy h_t + b_y
//! L        = Σ_t Σ_b −log softmax(logits_t[b])[target_t[b]]
//! ```

use ch00_foundations::rng::init_uniform_pytorch;
use ch00_foundations::softmax::cross_entropy;
use ndarray::{
    Array1, Array2, Array3, ArrayView2, ArrayView3, ArrayViewD, ArrayViewMutD, Axis,
};
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::cell::{RnnCache, RnnParams, forward};
use crate::params::Tensors;

// ANCHOR: output_layer
/// The output layer from the hidden state to one logit per character (like
/// `nn.Linear(H, V)`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputLayer {
    /// `W_hy`: `[V, H]`.
    pub weight_hy: Array2<f64>,
    /// `b_y`: `[V]`.
    pub bias_y: Array1<f64>,
}
// ANCHOR_END: output_layer

impl OutputLayer {
    /// `nn.Linear`'s initialisation: `U(-1/√H, 1/√H)`.
    pub fn init<R: Rng + ?Sized>(
        hidden_size: usize,
        vocab_size: usize,
        rng: &mut R,
    ) -> Self {
        OutputLayer {
            weight_hy: init_uniform_pytorch(
                (vocab_size, hidden_size),
                hidden_size,
                rng,
            ),
            bias_y: init_uniform_pytorch(vocab_size, hidden_size, rng),
        }
    }

    /// All zeros (the shape of a gradient).
    pub fn zeros(hidden_size: usize, vocab_size: usize) -> Self {
        OutputLayer {
            weight_hy: Array2::zeros((vocab_size, hidden_size)),
            bias_y: Array1::zeros(vocab_size),
        }
    }

    // ANCHOR: output_forward
    /// `logits = y W_hyᵀ + b_y`, step by step.
    ///
    /// Shapes: `y: [T, B, H]` → `[T, B, V]`.
    pub fn forward(&self, y: ArrayView3<f64>) -> Array3<f64> {
        let (t, b, h) = y.dim();
        let flat = y.to_shape((t * b, h)).expect("[T, B, H] → [T·B, H]");
        let logits = flat.dot(&self.weight_hy.t()) + &self.bias_y;
        logits
            .into_shape_with_order((t, b, self.bias_y.len()))
            .expect("[T·B, V] → [T, B, V]")
    }
    // ANCHOR_END: output_forward
}

ch00_foundations::impl_tensors!(OutputLayer { weight_hy, bias_y });

/// The whole character model: an RNN with `I = V` and its output layer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CharRnn {
    /// The recurrent layer.
    pub rnn: RnnParams,
    /// The output layer.
    pub out: OutputLayer,
}

impl CharRnn {
    /// A freshly initialised model for `vocab_size` characters and `hidden_size`
    /// units.
    pub fn init<R: Rng + ?Sized>(
        vocab_size: usize,
        hidden_size: usize,
        rng: &mut R,
    ) -> Self {
        let rnn = RnnParams::init(vocab_size, hidden_size, rng);
        let out = OutputLayer::init(hidden_size, vocab_size, rng);
        CharRnn { rnn, out }
    }

    /// All zeros (the shape of a gradient).
    pub fn zeros(vocab_size: usize, hidden_size: usize) -> Self {
        CharRnn {
            rnn: RnnParams::zeros(vocab_size, hidden_size),
            out: OutputLayer::zeros(hidden_size, vocab_size),
        }
    }

    /// `V`.
    pub fn vocab_size(&self) -> usize {
        self.out.bias_y.len()
    }

    /// `H`.
    pub fn hidden_size(&self) -> usize {
        self.rnn.hidden_size()
    }
}

impl Tensors for CharRnn {
    fn tensors(&self) -> Vec<(&'static str, ArrayViewD<'_, f64>)> {
        let mut all = self.rnn.tensors();
        all.extend(self.out.tensors());
        all
    }

    fn tensors_mut(&mut self) -> Vec<(&'static str, ArrayViewMutD<'_, f64>)> {
        let mut all = self.rnn.tensors_mut();
        all.extend(self.out.tensors_mut());
        all
    }
}

/// What the model's backward pass needs.
#[derive(Debug, Clone)]
pub struct ModelCache {
    /// The RNN's cache (inputs and states).
    pub rnn: RnnCache,
    /// The logits: `[T, B, V]`.
    pub logits: Array3<f64>,
}

// ANCHOR: model_forward
/// The model's forward pass.
///
/// Shapes: `x: [T, B, V]` (one-hot characters), `h0: [B, H]` →
/// `(logits: [T, B, V], h_n: [B, H], cache)`.
pub fn model_forward(
    model: &CharRnn,
    x: ArrayView3<f64>,
    h0: ArrayView2<f64>,
) -> (Array3<f64>, Array2<f64>, ModelCache) {
    let (y, h_n, rnn) = forward(&model.rnn, x, h0);
    let logits = model.out.forward(y.view());
    (logits.clone(), h_n, ModelCache { rnn, logits })
}
// ANCHOR_END: model_forward

// ANCHOR: sequence_loss
/// Cross-entropy summed over every step and every sequence, and its gradient.
///
/// Shapes: `logits: [T, B, V]`, `targets: [T, B]` (character indices) →
/// `(loss, dlogits: [T, B, V])`. Divide by `T·B` for the mean loss per character.
pub fn sequence_loss(
    logits: ArrayView3<f64>,
    targets: ArrayView2<usize>,
) -> (f64, Array3<f64>) {
    assert_eq!(
        targets.dim(),
        (logits.dim().0, logits.dim().1),
        "targets must be [T, B] like logits' first two axes"
    );
    let mut dlogits = Array3::zeros(logits.raw_dim());
    let mut loss = 0.0;
    for (t, (logits_t, mut dlogits_t)) in logits
        .outer_iter()
        .zip(dlogits.outer_iter_mut())
        .enumerate()
    {
        let targets_t: Vec<usize> = targets.index_axis(Axis(0), t).to_vec();
        let (loss_t, d) = cross_entropy(logits_t, &targets_t);
        loss += loss_t;
        dlogits_t.assign(&d);
    }
    (loss, dlogits)
}
// ANCHOR_END: sequence_loss

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::one_hot;
    use approx::assert_abs_diff_eq;
    use ch00_foundations::rng::seeded_rng;
    use ndarray::array;

    #[test]
    fn an_untrained_model_is_close_to_uniform() {
        // Small initial weights give nearly equal logits, so the loss per character
        // is near ln V.
        let mut rng = seeded_rng(5);
        let v = 20;
        let model = CharRnn::init(v, 64, &mut rng);
        let idx =
            ndarray::Array2::from_shape_fn((30, 4), |(t, b)| (t * 7 + b * 3) % v);
        let x = one_hot(idx.view(), v);
        let targets = idx.mapv(|i| (i + 1) % v);
        let (logits, _, _) =
            model_forward(&model, x.view(), Array2::zeros((4, 64)).view());
        let (loss, _) = sequence_loss(logits.view(), targets.view());
        let per_char = loss / (30.0 * 4.0);
        assert!(
            (per_char - (v as f64).ln()).abs() < 0.3,
            "loss per character {per_char} vs ln V {}",
            (v as f64).ln()
        );
    }

    #[test]
    fn sequence_loss_sums_the_steps() {
        let logits =
            Array3::from_shape_vec((2, 1, 3), vec![1.0, 2.0, 3.0, 0.0, 0.0, 0.0])
                .unwrap();
        let targets = array![[0usize], [2]];
        let (loss, dlogits) = sequence_loss(logits.view(), targets.view());
        // step 0 as in chapter 0's hand example; step 1: uniform over 3 → ln 3
        let step0 = (1.0 + 1f64.exp() + 2f64.exp()).ln();
        assert_abs_diff_eq!(loss, step0 + 3f64.ln(), epsilon = 1e-14);
        assert_abs_diff_eq!(dlogits[[1, 0, 2]], 1.0 / 3.0 - 1.0, epsilon = 1e-15);
    }

    #[test]
    fn tensors_are_listed_in_a_fixed_order_with_names() {
        let model = CharRnn::zeros(5, 3);
        let names: Vec<_> = model.tensors().into_iter().map(|(n, _)| n).collect();
        assert_eq!(
            names,
            [
                "weight_ih",
                "weight_hh",
                "bias_ih",
                "bias_hh",
                "weight_hy",
                "bias_y"
            ]
        );
        assert_eq!(model.num_scalars(), 3 * 5 + 3 * 3 + 3 + 3 + 5 * 3 + 5);
    }
}
