//! The character model's gradients: full BPTT, and truncated BPTT over windows of `k` steps.

use ch01_rnn::model::{CharRnn, OutputLayer, model_forward, sequence_loss};
use ch01_rnn::params::Tensors;
use ndarray::{Array1, Array2, Array3, ArrayView2, ArrayView3, ArrayViewD, ArrayViewMutD, Axis, s};

use crate::backward::{RnnGrads, backward};

/// Gradients of the loss with respect to [`OutputLayer`].
#[derive(Debug, Clone, PartialEq)]
pub struct OutputGrads {
    /// `dL/dW_hy`: `[V, H]`.
    pub dweight_hy: Array2<f64>,
    /// `dL/db_y`: `[V]`.
    pub dbias_y: Array1<f64>,
}

/// Gradients of the loss with respect to the whole [`CharRnn`].
#[derive(Debug, Clone, PartialEq)]
pub struct ModelGrads {
    /// The recurrent layer's gradients.
    pub rnn: RnnGrads,
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

    /// `self += other`, tensor by tensor.
    pub fn accumulate(&mut self, other: &ModelGrads) {
        for ((_, mut a), (_, b)) in self.tensors_mut().into_iter().zip(other.tensors()) {
            a += &b;
        }
    }
}

impl Tensors for ModelGrads {
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
    let (out_grads, dy) = output_backward(&model.out, cache.rnn.h.view(), dlogits.view());
    let dh_n = Array2::zeros(h_n.raw_dim()); // the loss does not read h_n directly
    let (rnn_grads, _dx, dh0) = backward(&model.rnn, &cache.rnn, dy.view(), dh_n.view());
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

// ANCHOR: truncated
/// Truncated BPTT: the sequence is cut into windows of `k` steps. The hidden state flows across
/// windows in the forward pass, but gradients stop at each window's start.
///
/// Shapes as in [`loss_and_grads`]; returns `(loss, grads, h_n)`. The loss is the same as full
/// BPTT's; the gradient ignores every path that crosses a window boundary. With `k ≥ T` it
/// is exactly full BPTT.
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
        h = h_end; // carried forward as a constant: no gradient flows back into the last window
    }
    (loss, grads, h)
}
// ANCHOR_END: truncated

#[cfg(test)]
mod tests {
    use super::*;
    use ch00_foundations::gradcheck::assert_gradient;
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
        let idx =
            uniform_array::<_, _, _>((t + 1, b), 0.0, v as f64, &mut rng).mapv(|u: f64| u as usize);
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
        let (loss, g, dh0, _) = loss_and_grads(&c.model, c.x.view(), c.targets.view(), c.h0.view());
        assert!((loss - loss_of(&c.model, &c)).abs() < 1e-12);
        let m = &c.model;
        let with = |f: &dyn Fn(&mut CharRnn)| {
            let mut m2 = m.clone();
            f(&mut m2);
            loss_of(&m2, &c)
        };
        assert_gradient("weight_hy", &m.out.weight_hy, &g.out.dweight_hy, |w| {
            with(&|m2| m2.out.weight_hy = w.clone())
        });
        assert_gradient("bias_y", &m.out.bias_y, &g.out.dbias_y, |b| {
            with(&|m2| m2.out.bias_y = b.clone())
        });
        assert_gradient("weight_ih", &m.rnn.weight_ih, &g.rnn.dweight_ih, |w| {
            with(&|m2| m2.rnn.weight_ih = w.clone())
        });
        assert_gradient("weight_hh", &m.rnn.weight_hh, &g.rnn.dweight_hh, |w| {
            with(&|m2| m2.rnn.weight_hh = w.clone())
        });
        assert_gradient("bias_ih", &m.rnn.bias_ih, &g.rnn.dbias_ih, |b| {
            with(&|m2| m2.rnn.bias_ih = b.clone())
        });
        assert_gradient("bias_hh", &m.rnn.bias_hh, &g.rnn.dbias_hh, |b| {
            with(&|m2| m2.rnn.bias_hh = b.clone())
        });
        assert_gradient("h0", &c.h0, &dh0, |h0| {
            let (logits, _, _) = model_forward(m, c.x.view(), h0.view());
            sequence_loss(logits.view(), c.targets.view()).0
        });
    }

    #[test]
    fn truncation_with_a_window_as_long_as_the_sequence_is_full_bptt_exactly() {
        let c = case(21, 9, 3, 6, 5);
        let (loss, full, _, h_n) =
            loss_and_grads(&c.model, c.x.view(), c.targets.view(), c.h0.view());
        for k in [9, 10, 1000] {
            let (tl, tg, th) =
                truncated_loss_and_grads(&c.model, c.x.view(), c.targets.view(), c.h0.view(), k);
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
        let (tl, tg, th) =
            truncated_loss_and_grads(&c.model, c.x.view(), c.targets.view(), c.h0.view(), 3);
        assert!(
            (tl - loss).abs() < 1e-12 * loss.abs(),
            "the forward pass must not change"
        );
        assert_eq!(th, h_n);
        // The output layer sees each step's own state: its gradient does not depend on truncation.
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
        // Window by window, with h carried as a constant, equals calling loss_and_grads per window.
        let c = case(23, 6, 2, 4, 3);
        let (_, tg, _) =
            truncated_loss_and_grads(&c.model, c.x.view(), c.targets.view(), c.h0.view(), 4);
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

    /// The source posts write the step loss as −s^t + log Σ_k e^{s^t_k}, without the target's
    /// index on the first s^t. Read literally that is a vector with one entry per class; only
    /// its entry at the target is the loss. Logits (1, 2, 3), target 0 (chapter 2's example).
    #[test]
    fn the_step_loss_needs_the_targets_index() {
        let logits = Array3::from_shape_vec((1, 1, 3), vec![1.0, 2.0, 3.0]).unwrap();
        let (loss, dlogits) = sequence_loss(logits.view(), ndarray::array![[0usize]].view());
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

    /// How much each window length changes the gradient (chapter 2's table): the relative
    /// difference `‖truncated − full‖ / ‖full‖` of `dweight_hh`, `dweight_ih` and `dweight_hy`
    /// on the problem of `shorter_windows_keep_the_loss_but_change_the_recurrent_gradient`.
    #[test]
    fn truncation_changes_the_input_and_recurrent_gradients_by_these_amounts() {
        let c = case(22, 12, 2, 5, 4);
        let (_, full, _, _) = loss_and_grads(&c.model, c.x.view(), c.targets.view(), c.h0.view());
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
            let (_, tg, _) =
                truncated_loss_and_grads(&c.model, c.x.view(), c.targets.view(), c.h0.view(), k);
            let r_hh = rel(&tg.rnn.dweight_hh, &full.rnn.dweight_hh);
            let r_ih = rel(&tg.rnn.dweight_ih, &full.rnn.dweight_ih);
            assert!((r_hh - hh).abs() < 5e-4, "k = {k}: dweight_hh {r_hh}");
            assert!((r_ih - ih).abs() < 5e-4, "k = {k}: dweight_ih {r_ih}");
            assert!(rel(&tg.out.dweight_hy, &full.out.dweight_hy) < 1e-14);
        }
    }
}
