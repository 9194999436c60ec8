//! The vanilla RNN cell and its forward pass over a sequence.
//!
//! ```text
//! h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)
//! ```
//!
//! With a batch, `x_t` is `[B, I]` and `h_t` is `[B, H]`, one row per sequence, so
//! the products are `x_t W_ihᵀ` and `h_{t-1} W_hhᵀ`.

use ch00_foundations::rng::init_uniform_pytorch;
use ndarray::{Array1, Array2, Array3, ArrayView2, ArrayView3, Axis, s};
use rand::Rng;
use serde::{Deserialize, Serialize};

// ANCHOR: params
/// The parameters of one recurrent layer in PyTorch's names and layout, with `G`
/// gate blocks stacked along the rows: the RNN of this chapter has one, the GRU of
/// chapter 5 three (r, z, n), the LSTM of chapter 4 four (i, f, g, o). Shapes:
/// `weight_ih: [G·H, I]`, `weight_hh: [G·H, H]`, `bias_ih`, `bias_hh: [G·H]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerParams<const G: usize> {
    /// `W_ih`: `[G·H, I]`.
    pub weight_ih: Array2<f64>,
    /// `W_hh`: `[G·H, H]`.
    pub weight_hh: Array2<f64>,
    /// `b_ih`: `[G·H]`.
    pub bias_ih: Array1<f64>,
    /// `b_hh`: `[G·H]`.
    pub bias_hh: Array1<f64>,
}

/// The parameters of one RNN layer (`nn.RNN`, `tanh`): a single block,
/// `weight_hh: [H, H]`.
pub type RnnParams = LayerParams<1>;
// ANCHOR_END: params

impl<const G: usize> LayerParams<G> {
    /// PyTorch's initialisation: every entry from `U(-1/√H, 1/√H)`.
    pub fn init<R: Rng + ?Sized>(
        input_size: usize,
        hidden_size: usize,
        rng: &mut R,
    ) -> Self {
        let (g, h) = (G * hidden_size, hidden_size);
        LayerParams {
            weight_ih: init_uniform_pytorch((g, input_size), h, rng),
            weight_hh: init_uniform_pytorch((g, h), h, rng),
            bias_ih: init_uniform_pytorch(g, h, rng),
            bias_hh: init_uniform_pytorch(g, h, rng),
        }
    }

    /// All zeros (the shape of a gradient of these parameters).
    pub fn zeros(input_size: usize, hidden_size: usize) -> Self {
        let (g, h) = (G * hidden_size, hidden_size);
        LayerParams {
            weight_ih: Array2::zeros((g, input_size)),
            weight_hh: Array2::zeros((g, h)),
            bias_ih: Array1::zeros(g),
            bias_hh: Array1::zeros(g),
        }
    }

    /// `I`.
    pub fn input_size(&self) -> usize {
        self.weight_ih.ncols()
    }

    /// `H`.
    pub fn hidden_size(&self) -> usize {
        self.weight_hh.ncols()
    }

    /// Number of scalars: `G(IH + H² + 2H)`, with PyTorch's two bias vectors.
    pub fn num_scalars(&self) -> usize {
        self.weight_ih.len()
            + self.weight_hh.len()
            + self.bias_ih.len()
            + self.bias_hh.len()
    }

    /// Panics with a clear message unless the four tensors have consistent shapes.
    pub fn assert_consistent(&self) {
        let h = self.hidden_size();
        let g = G * h;
        assert_eq!(
            self.weight_hh.dim(),
            (g, h),
            "weight_hh must be [G·H, H], G = {G}"
        );
        assert_eq!(
            self.weight_ih.nrows(),
            g,
            "weight_ih must be [G·H, I] with G·H = {g}"
        );
        assert_eq!(
            self.bias_ih.len(),
            g,
            "bias_ih must be [G·H] with G·H = {g}"
        );
        assert_eq!(
            self.bias_hh.len(),
            g,
            "bias_hh must be [G·H] with G·H = {g}"
        );
    }
}

ch00_foundations::impl_tensors!(impl<const G: usize> LayerParams<G> {
    weight_ih,
    weight_hh,
    bias_ih,
    bias_hh
});

// ANCHOR: cell_forward
/// One step: `h_t = tanh(x_t W_ihᵀ + b_ih + h_{t-1} W_hhᵀ + b_hh)`.
///
/// Shapes: `x_t: [B, I]`, `h_prev: [B, H]` → `h_t: [B, H]`.
pub fn cell_forward(
    p: &RnnParams,
    x_t: ArrayView2<f64>,
    h_prev: ArrayView2<f64>,
) -> Array2<f64> {
    // BEGIN SOLUTION ex 1.1: h_t = tanh(x_t W_ih^T + b_ih + h_prev W_hh^T + b_hh)
    let mut a = x_t.dot(&p.weight_ih.t()) + &p.bias_ih; // x_t W_ihᵀ + b_ih
    a += &h_prev.dot(&p.weight_hh.t()); // + h_{t-1} W_hhᵀ
    a += &p.bias_hh; // + b_hh
    a.mapv_inplace(f64::tanh);
    a
    // END SOLUTION
}
// ANCHOR_END: cell_forward

// ANCHOR: cache
/// What the backward pass needs from the forward pass.
#[derive(Debug, Clone)]
pub struct RnnCache {
    /// The inputs `x`: `[T, B, I]`.
    pub x: Array3<f64>,
    /// The initial state `h_0`: `[B, H]`.
    pub h0: Array2<f64>,
    /// Every state `h_1 … h_T`: `[T, B, H]` (`h[t]` is the state after step `t`,
    /// i.e. `y[t]`).
    pub h: Array3<f64>,
}
// ANCHOR_END: cache

impl RnnCache {
    /// The state before step `t` (`h_0` for `t = 0`): `[B, H]`.
    pub fn h_prev(&self, t: usize) -> ArrayView2<'_, f64> {
        if t == 0 {
            self.h0.view()
        } else {
            self.h.index_axis(Axis(0), t - 1)
        }
    }
}

// ANCHOR: forward
/// Runs the cell over a whole sequence, from `h0`.
///
/// Shapes: `x: [T, B, I]`, `h0: [B, H]` → `(y: [T, B, H], h_n: [B, H], cache)`,
/// where `y[t] = h_{t+1}` is the state after step `t` and `h_n = y[T-1]` (or `h0`
/// when `T = 0`).
///
/// # Panics
/// If the shapes do not agree with `p` (a programmer error: user data is checked
/// before).
pub fn forward(
    p: &RnnParams,
    x: ArrayView3<f64>,
    h0: ArrayView2<f64>,
) -> (Array3<f64>, Array2<f64>, RnnCache) {
    let (seq_len, batch, input) = x.dim();
    let hidden = p.hidden_size();
    assert_eq!(
        input,
        p.input_size(),
        "x is [T, B, I] with I = {input}, but weight_ih expects I = {}",
        p.input_size()
    );
    assert_eq!(
        h0.dim(),
        (batch, hidden),
        "h0 must be [B, H] = [{batch}, {hidden}]"
    );
    let mut y = Array3::zeros((seq_len, batch, hidden));
    let mut h = h0.to_owned();
    for t in 0..seq_len {
        h = cell_forward(p, x.index_axis(Axis(0), t), h.view());
        y.slice_mut(s![t, .., ..]).assign(&h);
    }
    let cache = RnnCache {
        x: x.to_owned(),
        h0: h0.to_owned(),
        h: y.clone(),
    };
    (y, h, cache)
}
// ANCHOR_END: forward

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_abs_diff_eq;
    use ch00_foundations::rng::seeded_rng;
    use ndarray::{Array, array};

    /// The 1×1 case worked by hand in the book.
    #[test]
    fn one_unit_two_steps_by_hand() {
        let p = RnnParams {
            weight_ih: array![[0.5]],
            weight_hh: array![[-1.0]],
            bias_ih: array![0.1],
            bias_hh: array![0.2],
        };
        let x = Array::from_shape_vec((2, 1, 1), vec![1.0, 2.0]).unwrap();
        let h0 = array![[0.5]];
        let (y, h_n, _) = forward(&p, x.view(), h0.view());
        // h1 = tanh(0.5·1 + 0.1 − 1·0.5 + 0.2) = tanh(0.3)
        let h1 = 0.3f64.tanh();
        assert_abs_diff_eq!(y[[0, 0, 0]], h1, epsilon = 1e-15);
        assert_abs_diff_eq!(h1, 0.291_312_612_451_590_7, epsilon = 1e-15);
        // h2 = tanh(0.5·2 + 0.1 − h1 + 0.2) = tanh(1.3 − h1)
        let h2 = (1.3 - h1).tanh();
        assert_abs_diff_eq!(y[[1, 0, 0]], h2, epsilon = 1e-15);
        assert_abs_diff_eq!(h2, 0.765_218_564_600_382_6, epsilon = 1e-15);
        assert_eq!(h_n[[0, 0]], y[[1, 0, 0]]);
    }

    #[test]
    fn shapes_follow_the_conventions() {
        let mut rng = seeded_rng(1);
        let p = RnnParams::init(5, 3, &mut rng);
        let x = Array3::zeros((7, 2, 5));
        let (y, h_n, cache) = forward(&p, x.view(), Array2::zeros((2, 3)).view());
        assert_eq!(y.dim(), (7, 2, 3));
        assert_eq!(h_n.dim(), (2, 3));
        assert_eq!(cache.h.dim(), (7, 2, 3));
        assert_eq!(cache.h_prev(0).dim(), (2, 3));
    }

    #[test]
    fn a_batch_of_b_equals_b_separate_runs() {
        let mut rng = seeded_rng(2);
        let p = RnnParams::init(4, 3, &mut rng);
        let x: Array3<f64> =
            ch00_foundations::rng::uniform_array((6, 3, 4), -1.0, 1.0, &mut rng);
        let h0: Array2<f64> =
            ch00_foundations::rng::uniform_array((3, 3), -0.5, 0.5, &mut rng);
        let (y, h_n, _) = forward(&p, x.view(), h0.view());
        for b in 0..3 {
            let xb = x.slice(s![.., b..b + 1, ..]);
            let hb = h0.slice(s![b..b + 1, ..]);
            let (yb, hnb, _) = forward(&p, xb, hb);
            assert_eq!(
                yb,
                y.slice(s![.., b..b + 1, ..]),
                "sequence {b} differs when run alone"
            );
            assert_eq!(hnb, h_n.slice(s![b..b + 1, ..]));
        }
    }

    #[test]
    fn one_step_is_one_cell_call() {
        let mut rng = seeded_rng(3);
        let p = RnnParams::init(2, 4, &mut rng);
        let x: Array3<f64> =
            ch00_foundations::rng::uniform_array((1, 2, 2), -1.0, 1.0, &mut rng);
        let h0 = Array2::from_elem((2, 4), 0.25);
        let (y, h_n, _) = forward(&p, x.view(), h0.view());
        let h1 = cell_forward(&p, x.index_axis(Axis(0), 0), h0.view());
        assert_eq!(y.index_axis(Axis(0), 0), h1);
        assert_eq!(h_n, h1);
    }

    #[test]
    fn zero_steps_return_the_initial_state() {
        let p = RnnParams::zeros(2, 3);
        let h0 = Array2::from_elem((1, 3), 0.7);
        let (y, h_n, _) = forward(&p, Array3::zeros((0, 1, 2)).view(), h0.view());
        assert_eq!(y.len(), 0);
        assert_eq!(h_n, h0);
    }

    #[test]
    #[should_panic(expected = "weight_ih expects I")]
    fn a_wrong_input_size_is_named() {
        let p = RnnParams::zeros(2, 3);
        forward(
            &p,
            Array3::zeros((1, 1, 5)).view(),
            Array2::zeros((1, 3)).view(),
        );
    }
}
