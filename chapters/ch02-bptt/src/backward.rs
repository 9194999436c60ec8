//! The backward pass of the vanilla RNN through time.
//!
//! Forward (chapter 1), for `t = 1 … T`:
//!
//! ```text
//! a_t = x_t W_ihᵀ + b_ih + h_{t-1} W_hhᵀ + b_hh        [B, H]
//! h_t = tanh(a_t)
//! ```
//!
//! Backward, for `t = T … 1`, with `dh` the total gradient reaching `h_t` (from the
//! output at step `t` and from step `t + 1`):
//!
//! ```text
//! da_t     = dh ⊙ (1 − h_t²)
//! dW_ih   += da_tᵀ x_t          dW_hh += da_tᵀ h_{t-1}
//! db_ih   += Σ_b da_t           db_hh += Σ_b da_t
//! dx_t     = da_t W_ih          dh_{t-1} = dy_{t-1} + da_t W_hh
//! ```

use ch00_foundations::activations::dtanh_from_output;
use ch01_rnn::cell::{LayerParams, RnnCache, RnnParams};
use ndarray::{Array1, Array2, Array3, ArrayView2, ArrayView3, Axis};

// ANCHOR: grads
/// Gradients of the loss with respect to chapter 1's [`LayerParams`], field by
/// field: `d` and the parameter's name, the same shapes. Chapters 4 and 5 use it
/// with their gate counts.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerGrads<const G: usize> {
    /// `dL/dW_ih`: `[G·H, I]`.
    pub dweight_ih: Array2<f64>,
    /// `dL/dW_hh`: `[G·H, H]`.
    pub dweight_hh: Array2<f64>,
    /// `dL/db_ih`: `[G·H]`.
    pub dbias_ih: Array1<f64>,
    /// `dL/db_hh`: `[G·H]`.
    pub dbias_hh: Array1<f64>,
}

/// Gradients of [`RnnParams`].
pub type RnnGrads = LayerGrads<1>;
// ANCHOR_END: grads

impl<const G: usize> LayerGrads<G> {
    /// Zeros shaped like `p`.
    pub fn zeros_like(p: &LayerParams<G>) -> Self {
        LayerGrads {
            dweight_ih: Array2::zeros(p.weight_ih.raw_dim()),
            dweight_hh: Array2::zeros(p.weight_hh.raw_dim()),
            dbias_ih: Array1::zeros(p.bias_ih.raw_dim()),
            dbias_hh: Array1::zeros(p.bias_hh.raw_dim()),
        }
    }
}

ch00_foundations::impl_tensors!(impl<const G: usize> LayerGrads<G> {
    dweight_ih,
    dweight_hh,
    dbias_ih,
    dbias_hh
});

// ANCHOR: backward
/// Backpropagation through time over the whole cached sequence.
///
/// Shapes: `dy: [T, B, H]` (`dL/dy`, from the layer above), `dh_n: [B, H]`
/// (`dL/dh_n`, e.g. from a later window; zeros if the final state is not used) →
/// `(grads, dx: [T, B, I], dh0: [B, H])`.
pub fn backward(
    p: &RnnParams,
    cache: &RnnCache,
    dy: ArrayView3<f64>,
    dh_n: ArrayView2<f64>,
) -> (RnnGrads, Array3<f64>, Array2<f64>) {
    let (seq_len, _, _) = cache.x.dim();
    assert_eq!(
        dy.dim(),
        cache.h.dim(),
        "dy must be [T, B, H] like the forward output"
    );
    assert_eq!(dh_n.dim(), cache.h0.dim(), "dh_n must be [B, H]");
    let mut grads = RnnGrads::zeros_like(p);
    let mut dx = Array3::zeros(cache.x.raw_dim());
    let mut dh_next = dh_n.to_owned(); // gradient reaching h_t from step t + 1
    for t in (0..seq_len).rev() {
        // BEGIN SOLUTION ex 2.1: both paths into h_t, through tanh, then add this
        //   step to every gradient
        let h_t = cache.h.index_axis(Axis(0), t);
        let dh = &dy.index_axis(Axis(0), t) + &dh_next; // both paths into h_t
        let da = &dh * &h_t.mapv(dtanh_from_output); // through tanh: ⊙ (1 − h_t²)
        // da_tᵀ x_t
        grads.dweight_ih += &da.t().dot(&cache.x.index_axis(Axis(0), t));
        grads.dweight_hh += &da.t().dot(&cache.h_prev(t)); // da_tᵀ h_{t-1}
        let db = da.sum_axis(Axis(0)); // Σ over the batch
        grads.dbias_ih += &db;
        grads.dbias_hh += &db;
        dx.index_axis_mut(Axis(0), t).assign(&da.dot(&p.weight_ih)); // da_t W_ih
        dh_next = da.dot(&p.weight_hh); // da_t W_hh, to h_{t-1}
        // END SOLUTION
    }
    (grads, dx, dh_next)
}
// ANCHOR_END: backward

#[cfg(test)]
mod tests {
    use super::*;
    use crate::problem::Problem;
    use approx::assert_abs_diff_eq;
    use ch00_foundations::gradcheck::{assert_every_gradient, assert_gradient};
    use ch00_foundations::rng::seeded_rng;
    use ch01_rnn::cell::forward;
    use ndarray::{Array, array};

    /// `L = Σ y ⊙ gy + Σ h_n ⊙ gh` with fixed random `gy`, `gh`: every output
    /// matters.
    fn probe_loss(
        p: &RnnParams,
        x: &Array3<f64>,
        h0: &Array2<f64>,
        gy: &Array3<f64>,
        gh: &Array2<f64>,
    ) -> f64 {
        let (y, h_n, _) = forward(p, x.view(), h0.view());
        (&y * gy).sum() + (&h_n * gh).sum()
    }

    type Case = Problem<1>;

    fn case(seed: u64, t: usize, b: usize, i: usize, h: usize, scale: f64) -> Case {
        Problem::random(&mut seeded_rng(seed), (t, b, i, h), scale, 0.5)
    }

    fn check_all(c: &Case) {
        let (_, _, cache) = forward(&c.p, c.x.view(), c.h0.view());
        let (g, dx, dh0) = backward(&c.p, &cache, c.dy.view(), c.dh_n.view());
        let Problem {
            p,
            x,
            h0,
            dy: gy,
            dh_n: gh,
        } = c;
        assert_every_gradient(p, &g, |q| probe_loss(q, x, h0, gy, gh));
        assert_gradient("x", x, &dx, |x| probe_loss(p, x, h0, gy, gh));
        assert_gradient("h0", h0, &dh0, |h0| probe_loss(p, x, h0, gy, gh));
    }

    #[test]
    fn every_gradient_passes_the_check() {
        check_all(&case(10, 6, 3, 4, 5, 1.0));
    }

    #[test]
    fn gradients_pass_with_non_square_weights_and_one_step() {
        check_all(&case(11, 1, 1, 7, 2, 1.0));
        check_all(&case(12, 1, 1, 1, 1, 1.0));
    }

    #[test]
    fn gradients_pass_in_saturation_and_over_long_sequences() {
        check_all(&case(13, 5, 2, 3, 3, 6.0));
        check_all(&case(14, 40, 2, 3, 4, 1.0));
    }

    /// The 1×1, T=1 case by hand: h = tanh(w_ih x + b_ih + w_hh h0 + b_hh), L = g·h.
    #[test]
    fn one_unit_one_step_by_hand() {
        let p = RnnParams {
            weight_ih: array![[0.5]],
            weight_hh: array![[-1.0]],
            bias_ih: array![0.1],
            bias_hh: array![0.2],
        };
        let x = Array::from_elem((1, 1, 1), 1.0);
        let h0 = array![[0.5]];
        let (_, _, cache) = forward(&p, x.view(), h0.view());
        let (g, dx, dh0) = backward(
            &p,
            &cache,
            Array::from_elem((1, 1, 1), 2.0).view(),
            Array2::zeros((1, 1)).view(),
        );
        let h = 0.3f64.tanh();
        let da = 2.0 * (1.0 - h * h);
        assert_abs_diff_eq!(g.dweight_ih[[0, 0]], da * 1.0, epsilon = 1e-15);
        assert_abs_diff_eq!(g.dweight_hh[[0, 0]], da * 0.5, epsilon = 1e-15);
        assert_abs_diff_eq!(g.dbias_ih[0], da, epsilon = 1e-15);
        assert_abs_diff_eq!(g.dbias_hh[0], da, epsilon = 1e-15);
        assert_abs_diff_eq!(dx[[0, 0, 0]], da * 0.5, epsilon = 1e-15);
        assert_abs_diff_eq!(dh0[[0, 0]], -da, epsilon = 1e-15); // w_hh = −1
    }

    /// The source post on RNN theory puts diag(1 − h²) on the wrong side of W_hhᵀ.
    /// With a non-diagonal W_hh and unequal h the two orders differ, and only ours
    /// passes the check.
    #[test]
    fn the_source_posts_order_of_factors_gives_a_different_gradient() {
        let c = case(15, 2, 1, 2, 3, 1.0);
        let (_, _, cache) = forward(&c.p, c.x.view(), c.h0.view());
        // Only the last output matters: dy_1 = g, so dh_1 = g; we want the gradient
        // at h after step 0.
        let g = c.dy.index_axis(Axis(0), 1).to_owned(); // [1, H]
        let h1 = cache.h.index_axis(Axis(0), 1).to_owned();
        let d1 = h1.mapv(dtanh_from_output);
        // correct: ∇h_0 = W_hhᵀ diag(1 − h_1²) g   (as a row: (g ⊙ d1) W_hh)
        let correct = (&g * &d1).dot(&c.p.weight_hh);
        // source post: diag(1 − h_1²) W_hhᵀ g       (as a row: (g W_hh) ⊙ d1)
        let swapped = &g.dot(&c.p.weight_hh) * &d1;
        let numeric = ch00_foundations::gradcheck::numeric_gradient(
            &cache.h.index_axis(Axis(0), 0).to_owned(),
            1e-6,
            ch00_foundations::gradcheck::Difference::Central,
            |h_after_0| {
                let x1 = c.x.index_axis(Axis(0), 1);
                let h1 = ch01_rnn::cell::cell_forward(&c.p, x1, h_after_0.view());
                (&h1 * &g).sum()
            },
        );
        let err = |a: &Array2<f64>| {
            (a - &numeric).mapv(f64::abs).fold(0.0f64, |m, &v| m.max(v))
        };
        assert!(
            err(&correct) < 1e-8,
            "correct order error {}",
            err(&correct)
        );
        assert!(
            err(&swapped) > 1e-3,
            "swapped order error {} should be large",
            err(&swapped)
        );
    }

    /// The book's small example of the source posts' order of factors (chapter 2,
    /// "What the source posts got wrong"): H = 2, h_1 = (0, 0.6), so 1 − h_1² = (1,
    /// 0.64), and W_hh = [[0, 1], [2, 0]], L = h_1 · (1, 1). The gradient at h_0 is
    /// W_hhᵀ diag(1 − h_1²) g = (1.28, 1); the swapped order diag(1 − h_1²) W_hhᵀ g
    /// gives (2, 0.64).
    #[test]
    fn the_source_posts_order_of_factors_on_the_books_small_example() {
        let p = RnnParams {
            // a_1 = (0, ln 2), so h_1 = (0, 3/5)
            weight_ih: array![[0.0], [2f64.ln()]],
            weight_hh: array![[0.0, 1.0], [2.0, 0.0]],
            bias_ih: array![0.0, 0.0],
            bias_hh: array![0.0, 0.0],
        };
        let x = Array::from_elem((1, 1, 1), 1.0);
        let h0 = array![[0.0, 0.0]];
        let g = array![[1.0, 1.0]];
        let (y, _, cache) = forward(&p, x.view(), h0.view());
        assert_abs_diff_eq!(y[[0, 0, 0]], 0.0, epsilon = 1e-15);
        assert_abs_diff_eq!(y[[0, 0, 1]], 0.6, epsilon = 1e-15);
        let dy = g.clone().into_shape_with_order((1, 1, 2)).unwrap();
        let (_, _, dh0) =
            backward(&p, &cache, dy.view(), Array2::zeros((1, 2)).view());
        // The book's order: W_hhᵀ diag(1 − h_1²) g.
        assert_abs_diff_eq!(dh0, array![[1.28, 1.0]], epsilon = 1e-12);
        // The source posts' order: diag(1 − h_1²) W_hhᵀ g (as rows: (g W_hh) ⊙ (1 −
        // h_1²)).
        let d1 = cache.h.index_axis(Axis(0), 0).mapv(dtanh_from_output);
        let swapped = &g.dot(&p.weight_hh) * &d1;
        assert_abs_diff_eq!(swapped, array![[2.0, 0.64]], epsilon = 1e-12);
        // Central differences side with the book.
        let numeric = ch00_foundations::gradcheck::numeric_gradient(
            &h0,
            1e-6,
            ch00_foundations::gradcheck::Difference::Central,
            |h0| probe_loss(&p, &x, h0, &dy, &Array2::zeros((1, 2))),
        );
        assert_abs_diff_eq!(numeric, array![[1.28, 1.0]], epsilon = 1e-8);
    }

    /// The book's T = 1 hand example with the numbers printed in chapter 2.
    #[test]
    fn one_unit_one_step_by_hand_in_numbers() {
        let p = RnnParams {
            weight_ih: array![[0.5]],
            weight_hh: array![[-1.0]],
            bias_ih: array![0.1],
            bias_hh: array![0.2],
        };
        let (_, _, cache) = forward(
            &p,
            Array::from_elem((1, 1, 1), 1.0).view(),
            array![[0.5]].view(),
        );
        let (g, dx, dh0) = backward(
            &p,
            &cache,
            Array::from_elem((1, 1, 1), 2.0).view(),
            Array2::zeros((1, 1)).view(),
        );
        assert_abs_diff_eq!(g.dweight_ih[[0, 0]], 1.830_274, epsilon = 5e-7);
        assert_abs_diff_eq!(g.dweight_hh[[0, 0]], 0.915_137, epsilon = 5e-7);
        assert_abs_diff_eq!(g.dbias_ih[0], 1.830_274, epsilon = 5e-7);
        assert_abs_diff_eq!(dx[[0, 0, 0]], 0.915_137, epsilon = 5e-7);
        assert_abs_diff_eq!(dh0[[0, 0]], -1.830_274, epsilon = 5e-7);
    }
}
