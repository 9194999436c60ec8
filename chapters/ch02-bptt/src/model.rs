//! The character model's gradients: full BPTT, and truncated BPTT over windows of
//! `k` steps.

use ch01_rnn::model::{CharRnn, OutputLayer, model_forward, sequence_loss};
use std::marker::PhantomData;

use ch01_rnn::params::Tensors;
use ndarray::{
    Array1, Array2, Array3, ArrayView2, ArrayView3, ArrayViewD, ArrayViewMutD, Axis,
    s,
};
use serde::{Deserialize, Serialize};

use ch01_rnn::cell::RnnParams;

use crate::backward::{RnnGrads, backward};
use crate::driver::{Cell, RecurrentState, Rnn, backward_seq, forward_seq};

/// Gradients of the loss with respect to [`OutputLayer`].
#[derive(Debug, Clone, PartialEq)]
pub struct OutputGrads {
    /// `dL/dW_hy`: `[V, H]`.
    pub dweight_hy: Array2<f64>,
    /// `dL/db_y`: `[V]`.
    pub dbias_y: Array1<f64>,
}

/// Gradients of the loss with respect to a whole character model: chapter 1's
/// [`CharRnn`] by default, or any recurrent layer `G` under the same output layer
/// ([`SeqModel`]).
#[derive(Debug, Clone, PartialEq)]
pub struct ModelGrads<G = RnnGrads> {
    /// The recurrent layer's gradients.
    pub rnn: G,
    /// The output layer's gradients.
    pub out: OutputGrads,
}

impl ModelGrads {
    /// Zeros shaped like `model`.
    pub fn zeros_like(model: &CharRnn) -> Self {
        ModelGrads {
            rnn: RnnGrads::zeros_like(&model.rnn),
            out: OutputGrads {
                dweight_hy: Array2::zeros(model.out.weight_hy.raw_dim()),
                dbias_y: Array1::zeros(model.out.bias_y.raw_dim()),
            },
        }
    }
}

impl<G: Tensors> ModelGrads<G> {
    /// `self += other`, tensor by tensor.
    pub fn accumulate(&mut self, other: &ModelGrads<G>) {
        for ((_, mut a), (_, b)) in
            self.tensors_mut().into_iter().zip(other.tensors())
        {
            a += &b;
        }
    }
}

impl<G: Tensors> Tensors for ModelGrads<G> {
    fn tensors(&self) -> Vec<(&'static str, ArrayViewD<'_, f64>)> {
        let mut all = self.rnn.tensors();
        all.push(("dweight_hy", self.out.dweight_hy.view().into_dyn()));
        all.push(("dbias_y", self.out.dbias_y.view().into_dyn()));
        all
    }

    fn tensors_mut(&mut self) -> Vec<(&'static str, ArrayViewMutD<'_, f64>)> {
        let mut all = self.rnn.tensors_mut();
        all.push(("dweight_hy", self.out.dweight_hy.view_mut().into_dyn()));
        all.push(("dbias_y", self.out.dbias_y.view_mut().into_dyn()));
        all
    }
}

// ANCHOR: output_backward
/// Backward of `logits = y W_hyᵀ + b_y`.
///
/// Shapes: `y: [T, B, H]`, `dlogits: [T, B, V]` → `(grads, dy: [T, B, H])`.
pub fn output_backward(
    out: &OutputLayer,
    y: ArrayView3<f64>,
    dlogits: ArrayView3<f64>,
) -> (OutputGrads, Array3<f64>) {
    let (t, b, h) = y.dim();
    let v = out.bias_y.len();
    let y2 = y.to_shape((t * b, h)).expect("[T·B, H]");
    let d2 = dlogits.to_shape((t * b, v)).expect("[T·B, V]");
    let grads = OutputGrads {
        dweight_hy: d2.t().dot(&y2),
        dbias_y: d2.sum_axis(Axis(0)),
    };
    let dy = d2
        .dot(&out.weight_hy)
        .into_shape_with_order((t, b, h))
        .expect("[T, B, H]");
    (grads, dy)
}
// ANCHOR_END: output_backward

// ANCHOR: loss_and_grads
/// Full BPTT: the summed loss over the whole sequence and its exact gradient.
///
/// Shapes: `x: [T, B, V]` (one-hot), `targets: [T, B]`, `h0: [B, H]` →
/// `(loss, grads, dh0: [B, H], h_n: [B, H])`.
pub fn loss_and_grads(
    model: &CharRnn,
    x: ArrayView3<f64>,
    targets: ArrayView2<usize>,
    h0: ArrayView2<f64>,
) -> (f64, ModelGrads, Array2<f64>, Array2<f64>) {
    let (logits, h_n, cache) = model_forward(model, x, h0);
    let (loss, dlogits) = sequence_loss(logits.view(), targets);
    let (out_grads, dy) =
        output_backward(&model.out, cache.rnn.h.view(), dlogits.view());
    let dh_n = Array2::zeros(h_n.raw_dim()); // the loss does not read h_n directly
    let (rnn_grads, _dx, dh0) =
        backward(&model.rnn, &cache.rnn, dy.view(), dh_n.view());
    (
        loss,
        ModelGrads {
            rnn: rnn_grads,
            out: out_grads,
        },
        dh0,
        h_n,
    )
}
// ANCHOR_END: loss_and_grads

/// A character model with any recurrent layer: a [`Cell`]'s parameters under chapter
/// 1's [`OutputLayer`]. Its tensors are the cell's, then the output layer's, so that
/// [`ModelGrads`] lines up with them for an optimizer.
pub trait SeqModel: Tensors {
    /// The recurrent cell.
    type Cell: Cell;
    /// The recurrent layer's parameters.
    fn recurrent(&self) -> &<Self::Cell as Cell>::Params;
    /// The output layer: `logits_t = h_t W_hyᵀ + b_y`.
    fn output(&self) -> &OutputLayer;
    /// `H`.
    fn hidden_size(&self) -> usize {
        self.output().weight_hy.ncols()
    }
}

/// Any cell `C` under chapter 1's output layer: the LSTM's or the GRU's character
/// model, or a model whose output is one number (a regression).
#[derive(Serialize, Deserialize)]
#[serde(bound(
    serialize = "C::Params: Serialize",
    deserialize = "C::Params: Deserialize<'de>"
))]
pub struct CellModel<C: Cell> {
    /// The recurrent layer.
    pub cell: C::Params,
    /// The output layer: `[V, H]` and `[V]`.
    pub out: OutputLayer,
    #[serde(skip)]
    kind: PhantomData<C>,
}

impl<C: Cell> CellModel<C> {
    /// A model from its two layers.
    pub fn new(cell: C::Params, out: OutputLayer) -> Self {
        CellModel {
            cell,
            out,
            kind: PhantomData,
        }
    }
}

// By hand: a derive would ask the cell's marker type, not its parameters, to be
// `Clone`.
impl<C: Cell<Params: Clone>> Clone for CellModel<C> {
    fn clone(&self) -> Self {
        CellModel::new(self.cell.clone(), self.out.clone())
    }
}

impl<C: Cell<Params: PartialEq>> PartialEq for CellModel<C> {
    fn eq(&self, other: &Self) -> bool {
        self.cell == other.cell && self.out == other.out
    }
}

impl<C: Cell<Params: std::fmt::Debug>> std::fmt::Debug for CellModel<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CellModel")
            .field("cell", &self.cell)
            .field("out", &self.out)
            .finish()
    }
}

impl<C: Cell<Params: Tensors>> Tensors for CellModel<C> {
    fn tensors(&self) -> Vec<(&'static str, ArrayViewD<'_, f64>)> {
        let mut all = self.cell.tensors();
        all.extend(self.out.tensors());
        all
    }

    fn tensors_mut(&mut self) -> Vec<(&'static str, ArrayViewMutD<'_, f64>)> {
        let mut all = self.cell.tensors_mut();
        all.extend(self.out.tensors_mut());
        all
    }
}

impl<C: Cell<Params: Tensors>> SeqModel for CellModel<C> {
    type Cell = C;
    fn recurrent(&self) -> &C::Params {
        &self.cell
    }
    fn output(&self) -> &OutputLayer {
        &self.out
    }
}

/// The state of `M`'s cell, e.g. `h: [B, H]` for the RNN.
pub type StateOf<M> = <<M as SeqModel>::Cell as Cell>::State;
/// The gradients of a whole [`SeqModel`]: its cell's, then its output layer's.
pub type GradsOf<M> = ModelGrads<<<M as SeqModel>::Cell as Cell>::Grads>;

impl SeqModel for CharRnn {
    type Cell = Rnn;
    fn recurrent(&self) -> &RnnParams {
        &self.rnn
    }
    fn output(&self) -> &OutputLayer {
        &self.out
    }
}

/// The logits of any [`SeqModel`] and its final state. Shapes: `x: [T, B, I]`, state
/// parts `[B, H]` →
/// `(logits: [T, B, V], final state, per-step caches, y: [T, B, H])`.
#[allow(clippy::type_complexity)]
pub fn seq_forward<M: SeqModel>(
    model: &M,
    x: ArrayView3<f64>,
    s0: &StateOf<M>,
) -> (
    Array3<f64>,
    StateOf<M>,
    Vec<<M::Cell as Cell>::StepCache>,
    Array3<f64>,
) {
    let (y, s_n, caches) = forward_seq::<M::Cell>(model.recurrent(), x, s0);
    let logits = model.output().forward(y.view());
    (logits, s_n, caches, y)
}

// ANCHOR: seq_loss_and_grads
/// [`loss_and_grads`] for any [`SeqModel`], through chapter 2's generic loop: the
/// summed loss over the sequence, its gradient, and the final state (which the loss
/// does not read).
///
/// Shapes: `x: [T, B, I]`, `targets: [T, B]`, state parts `[B, H]`. For chapter 1's
/// [`CharRnn`] it gives [`loss_and_grads`]'s numbers bit for bit.
pub fn seq_loss_and_grads<M: SeqModel>(
    model: &M,
    x: ArrayView3<f64>,
    targets: ArrayView2<usize>,
    s0: &StateOf<M>,
) -> (f64, GradsOf<M>, StateOf<M>) {
    seq_loss_and_grads_with(model, x, s0, |logits| sequence_loss(logits, targets))
}

/// [`seq_loss_and_grads`] with any loss of the output layer's values: `loss(logits)`
/// returns the loss and its gradient `dL/dlogits` (both shaped `[T, B, V]`), e.g. a
/// regression on the last step only.
pub fn seq_loss_and_grads_with<M: SeqModel>(
    model: &M,
    x: ArrayView3<f64>,
    s0: &StateOf<M>,
    loss: impl FnOnce(ArrayView3<f64>) -> (f64, Array3<f64>),
) -> (f64, GradsOf<M>, StateOf<M>) {
    let (logits, s_n, caches, y) = seq_forward(model, x, s0);
    let (loss, dlogits) = loss(logits.view());
    let (out, dy) = output_backward(model.output(), y.view(), dlogits.view());
    let (batch, hidden) = (x.dim().1, model.hidden_size());
    // the loss does not read the final state
    let ds_n = StateOf::<M>::zeros(batch, hidden);
    let (rnn, _dx, _ds0) =
        backward_seq::<M::Cell>(model.recurrent(), &caches, dy.view(), &ds_n);
    (loss, ModelGrads { rnn, out }, s_n)
}
// ANCHOR_END: seq_loss_and_grads

// ANCHOR: truncated
/// Truncated BPTT: the sequence is cut into windows of `k` steps. The hidden state
/// flows across windows in the forward pass, but gradients stop at each window's
/// start.
///
/// Shapes as in [`loss_and_grads`]; returns `(loss, grads, h_n)`. The loss is the
/// same as full BPTT's; the gradient ignores every path that crosses a window
/// boundary. With `k ≥ T` it is exactly full BPTT.
///
/// # Panics
/// If `k == 0`.
pub fn truncated_loss_and_grads(
    model: &CharRnn,
    x: ArrayView3<f64>,
    targets: ArrayView2<usize>,
    h0: ArrayView2<f64>,
    k: usize,
) -> (f64, ModelGrads, Array2<f64>) {
    assert!(k > 0, "truncated BPTT needs a window of at least one step");
    let seq_len = x.dim().0;
    let mut grads = ModelGrads::zeros_like(model);
    let mut loss = 0.0;
    let mut h = h0.to_owned();
    for start in (0..seq_len).step_by(k) {
        let end = (start + k).min(seq_len);
        let (window_loss, window_grads, _dh_start, h_end) = loss_and_grads(
            model,
            x.slice(s![start..end, .., ..]),
            targets.slice(s![start..end, ..]),
            h.view(),
        );
        loss += window_loss;
        grads.accumulate(&window_grads);
        // carried forward as a constant: no gradient flows back into the last window
        h = h_end;
    }
    (loss, grads, h)
}
// ANCHOR_END: truncated

#[cfg(test)]
mod tests {
    use super::*;
    use ch00_foundations::gradcheck::{assert_every_gradient, assert_gradient};
    use ch00_foundations::rng::{seeded_rng, uniform_array};
    use ch01_rnn::data::one_hot;

    struct Case {
        model: CharRnn,
        x: Array3<f64>,
        targets: Array2<usize>,
        h0: Array2<f64>,
    }

    fn case(seed: u64, t: usize, b: usize, v: usize, h: usize) -> Case {
        let mut rng = seeded_rng(seed);
        let model = CharRnn::init(v, h, &mut rng);
        let idx = uniform_array::<_, _, _>((t + 1, b), 0.0, v as f64, &mut rng)
            .mapv(|u: f64| u as usize);
        Case {
            model,
            x: one_hot(idx.slice(s![..t, ..]), v),
            targets: idx.slice(s![1.., ..]).to_owned(),
            h0: uniform_array((b, h), -0.5, 0.5, &mut rng),
        }
    }

    fn loss_of(model: &CharRnn, c: &Case) -> f64 {
        let (logits, _, _) = model_forward(model, c.x.view(), c.h0.view());
        sequence_loss(logits.view(), c.targets.view()).0
    }

    #[test]
    fn every_model_gradient_passes_the_check() {
        let c = case(20, 7, 2, 5, 4);
        let (loss, g, dh0, _) =
            loss_and_grads(&c.model, c.x.view(), c.targets.view(), c.h0.view());
        assert!((loss - loss_of(&c.model, &c)).abs() < 1e-12);
        let m = &c.model;
        assert_every_gradient(m, &g, |q| loss_of(q, &c));
        assert_gradient("h0", &c.h0, &dh0, |h0| {
            let (logits, _, _) = model_forward(m, c.x.view(), h0.view());
            sequence_loss(logits.view(), c.targets.view()).0
        });
    }

    /// The generic model loss (any cell through chapter 2's loop) is the
    /// hand-written one, to the last bit, for chapter 1's RNN.
    #[test]
    fn the_generic_model_loss_is_the_hand_written_one_for_the_rnn() {
        let c = case(22, 6, 2, 5, 4);
        let (loss, g, _, h_n) =
            loss_and_grads(&c.model, c.x.view(), c.targets.view(), c.h0.view());
        let (loss2, g2, h_n2) =
            seq_loss_and_grads(&c.model, c.x.view(), c.targets.view(), &c.h0);
        assert_eq!(loss.to_bits(), loss2.to_bits());
        assert_eq!(g, g2);
        assert_eq!(h_n, h_n2);
    }

    #[test]
    fn truncation_with_a_window_as_long_as_the_sequence_is_full_bptt_exactly() {
        let c = case(21, 9, 3, 6, 5);
        let (loss, full, _, h_n) =
            loss_and_grads(&c.model, c.x.view(), c.targets.view(), c.h0.view());
        for k in [9, 10, 1000] {
            let (tl, tg, th) = truncated_loss_and_grads(
                &c.model,
                c.x.view(),
                c.targets.view(),
                c.h0.view(),
                k,
            );
            assert_eq!(tl, loss, "k = {k}");
            assert_eq!(tg, full, "k = {k}: gradients differ");
            assert_eq!(th, h_n);
        }
    }

    #[test]
    fn shorter_windows_keep_the_loss_but_change_the_recurrent_gradient() {
        let c = case(22, 12, 2, 5, 4);
        let (loss, full, _, h_n) =
            loss_and_grads(&c.model, c.x.view(), c.targets.view(), c.h0.view());
        let (tl, tg, th) = truncated_loss_and_grads(
            &c.model,
            c.x.view(),
            c.targets.view(),
            c.h0.view(),
            3,
        );
        assert!(
            (tl - loss).abs() < 1e-12 * loss.abs(),
            "the forward pass must not change"
        );
        assert_eq!(th, h_n);
        // The output layer sees each step's own state: its gradient does not depend
        // on truncation.
        assert!(
            (&tg.out.dweight_hy - &full.out.dweight_hy)
                .mapv(f64::abs)
                .sum()
                < 1e-12
        );
        // The recurrent weights lose the long paths.
        assert!(
            (&tg.rnn.dweight_hh - &full.rnn.dweight_hh)
                .mapv(f64::abs)
                .sum()
                > 1e-6
        );
    }

    #[test]
    fn truncated_gradient_is_the_sum_of_independent_window_gradients() {
        // Window by window, with h carried as a constant, equals calling
        // loss_and_grads per window.
        let c = case(23, 6, 2, 4, 3);
        let (_, tg, _) = truncated_loss_and_grads(
            &c.model,
            c.x.view(),
            c.targets.view(),
            c.h0.view(),
            4,
        );
        let (_, g1, _, h4) = loss_and_grads(
            &c.model,
            c.x.slice(s![..4, .., ..]),
            c.targets.slice(s![..4, ..]),
            c.h0.view(),
        );
        let (_, g2, _, _) = loss_and_grads(
            &c.model,
            c.x.slice(s![4.., .., ..]),
            c.targets.slice(s![4.., ..]),
            h4.view(),
        );
        let mut sum = g1;
        sum.accumulate(&g2);
        assert_eq!(tg, sum);
    }

    /// The source posts write the step loss as −s^t + log Σ_k e^{s^t_k}, without the
    /// target's index on the first s^t. Read literally that is a vector with one
    /// entry per class; only its entry at the target is the loss. Logits (1, 2, 3),
    /// target 0 (chapter 2's example).
    #[test]
    fn the_step_loss_needs_the_targets_index() {
        let logits = Array3::from_shape_vec((1, 1, 3), vec![1.0, 2.0, 3.0]).unwrap();
        let (loss, dlogits) =
            sequence_loss(logits.view(), ndarray::array![[0usize]].view());
        let log_sum = (1f64.exp() + 2f64.exp() + 3f64.exp()).ln();
        assert!((log_sum - 3.407_606).abs() < 5e-7);
        let without_index = logits.mapv(|s| -s + log_sum); // one number per class
        for (k, want) in [2.407_606, 1.407_606, 0.407_606].into_iter().enumerate() {
            assert!((without_index[[0, 0, k]] - want).abs() < 5e-7, "class {k}");
        }
        assert!((loss - without_index[[0, 0, 0]]).abs() < 1e-14);
        assert!((loss - 2.407_606).abs() < 5e-7);
        // Its gradient is softmax − onehot at the target.
        for (k, want) in [-0.909_969_4, 0.244_728_5, 0.665_241_0]
            .into_iter()
            .enumerate()
        {
            assert!((dlogits[[0, 0, k]] - want).abs() < 5e-7, "class {k}");
        }
    }

    /// How much each window length changes the gradient (chapter 2's table): the
    /// relative difference `‖truncated − full‖ / ‖full‖` of `dweight_hh`,
    /// `dweight_ih` and `dweight_hy` on the problem of
    /// `shorter_windows_keep_the_loss_but_change_the_recurrent_gradient`.
    #[test]
    fn truncation_changes_the_input_and_recurrent_gradients_by_these_amounts() {
        let c = case(22, 12, 2, 5, 4);
        let (_, full, _, _) =
            loss_and_grads(&c.model, c.x.view(), c.targets.view(), c.h0.view());
        let norm = |a: &Array2<f64>| a.mapv(|v| v * v).sum().sqrt();
        let rel = |a: &Array2<f64>, b: &Array2<f64>| norm(&(a - b)) / norm(b);
        // (k, dweight_hh, dweight_ih), to 3 digits as printed in the book
        let table = [
            (1, 0.166, 0.233),
            (2, 0.174, 0.252),
            (3, 0.200, 0.145),
            (4, 0.090, 0.142),
            (6, 0.132, 0.078),
            (12, 0.0, 0.0),
        ];
        for (k, hh, ih) in table {
            let (_, tg, _) = truncated_loss_and_grads(
                &c.model,
                c.x.view(),
                c.targets.view(),
                c.h0.view(),
                k,
            );
            let r_hh = rel(&tg.rnn.dweight_hh, &full.rnn.dweight_hh);
            let r_ih = rel(&tg.rnn.dweight_ih, &full.rnn.dweight_ih);
            assert!((r_hh - hh).abs() < 5e-4, "k = {k}: dweight_hh {r_hh}");
            assert!((r_ih - ih).abs() < 5e-4, "k = {k}: dweight_ih {r_ih}");
            assert!(rel(&tg.out.dweight_hy, &full.out.dweight_hy) < 1e-14);
        }
    }
}
