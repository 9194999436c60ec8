//! The GRU cell, both variants, forward and backward, in PyTorch's layout.
//!
//! With `a_i = x_t W_ihᵀ + b_ih` and `a_h = h_{t-1} W_hhᵀ + b_hh` (both `[B, 3H]`,
//! blocks r, z, n):
//!
//! ```text
//! r = σ(a_i[r] + a_h[r])        z = σ(a_i[z] + a_h[z])
//! reset-after  (nn.GRU):  n = tanh(a_i[n] + r ⊙ (h_{t-1} W_hnᵀ + b_hn))
//! reset-before (Cho):     n = tanh(a_i[n] + (r ⊙ h_{t-1}) W_hnᵀ + b_hn)
//! h_t = (1 − z) ⊙ n + z ⊙ h_{t-1}
//! ```

use ch00_foundations::activations::{
    dsigmoid_from_output, dtanh_from_output, sigmoid,
};
use ch00_foundations::notation::{GRU_GATES, GRU_N, GRU_R, GRU_Z, gate_rows};
use ch01_rnn::cell::LayerParams;
use ch02_bptt::backward::LayerGrads;
use ch02_bptt::driver::{Cell, backward_seq, forward_seq};
use ndarray::{Array2, Array3, ArrayView2, ArrayView3, Axis, s};

/// The parameters of one GRU layer, as `nn.GRU`: chapter 1's layer with three gate
/// blocks stacked along the rows, r, z, n. `weight_ih: [3H, I]`,
/// `weight_hh: [3H, H]`, the biases `[3H]`; PyTorch's initialisation draws every
/// entry from `U(-1/√H, 1/√H)`.
pub type GruParams = LayerParams<GRU_GATES>;

/// Gradients of [`GruParams`], field by field (chapter 2's layer gradients).
pub type GruGrads = LayerGrads<GRU_GATES>;

/// Which GRU: where the reset gate acts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GruVariant {
    /// `n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))`: `torch.nn.GRU`, cuDNN.
    ResetAfter,
    /// `n = tanh(W_in x + b_in + W_hn (r ⊙ h) + b_hn)`: Cho et al. (2014).
    ResetBefore,
}

/// What one step's backward needs.
#[derive(Debug, Clone)]
pub struct GruStepCache {
    x_t: Array2<f64>,
    h_prev: Array2<f64>,
    /// Gate activations `[B, 3H]`, blocks r, z, n.
    gates: Array2<f64>,
    /// Reset-after: `h_{t-1} W_hnᵀ + b_hn`. Reset-before: `r ⊙ h_{t-1}`. `[B, H]`.
    hn_input: Array2<f64>,
}

// ANCHOR: step
/// One GRU step of either variant. Shapes: `x_t: [B, I]`, `h_prev: [B, H]` →
/// `h_t: [B, H]`.
fn gru_step(
    p: &GruParams,
    v: GruVariant,
    x_t: ArrayView2<f64>,
    h_prev: &Array2<f64>,
) -> (Array2<f64>, GruStepCache) {
    let hs = p.hidden_size();
    let (rz, n) = (0..2 * hs, gate_rows(GRU_N, hs));
    let a_i = x_t.dot(&p.weight_ih.t()) + &p.bias_ih; // [B, 3H]
    let w_hn = p.weight_hh.slice(s![n.clone(), ..]);
    let mut gates = a_i.clone();
    // r and z: the previous state enters the same way in both variants
    gates
        .slice_mut(s![.., rz.clone()])
        .scaled_add(1.0, &h_prev.dot(&p.weight_hh.slice(s![rz.clone(), ..]).t()));
    gates
        .slice_mut(s![.., rz.clone()])
        .scaled_add(1.0, &p.bias_hh.slice(s![rz]));
    gates.slice_mut(s![.., 0..2 * hs]).mapv_inplace(sigmoid);
    let r = gates.slice(s![.., gate_rows(GRU_R, hs)]).to_owned();
    let hn_input = match v {
        // W_hn h + b_hn
        GruVariant::ResetAfter => {
            h_prev.dot(&w_hn.t()) + p.bias_hh.slice(s![n.clone()])
        }
        // r ⊙ h
        GruVariant::ResetBefore => &r * h_prev,
    };
    let n_pre = match v {
        GruVariant::ResetAfter => &a_i.slice(s![.., n.clone()]) + &(&r * &hn_input),
        GruVariant::ResetBefore => {
            &a_i.slice(s![.., n.clone()])
                + &hn_input.dot(&w_hn.t())
                + p.bias_hh.slice(s![n.clone()])
        }
    };
    gates.slice_mut(s![.., n]).assign(&n_pre.mapv(f64::tanh));
    let z = gates.slice(s![.., gate_rows(GRU_Z, hs)]);
    let n_t = gates.slice(s![.., gate_rows(GRU_N, hs)]);
    let h = &(1.0 - &z) * &n_t + &z * h_prev; // h_t = (1 − z) ⊙ n + z ⊙ h_{t-1}
    let cache = GruStepCache {
        x_t: x_t.to_owned(),
        h_prev: h_prev.clone(),
        gates: gates.clone(),
        hn_input,
    };
    (h, cache)
}
// ANCHOR_END: step

// ANCHOR: step_backward
/// One GRU step backward, either variant: adds into `g`, returns `(dx_t, dh_prev)`.
fn gru_step_backward(
    p: &GruParams,
    v: GruVariant,
    cache: &GruStepCache,
    dh: &Array2<f64>,
    grads: &mut GruGrads,
) -> (Array2<f64>, Array2<f64>) {
    let hs = p.hidden_size();
    let gate = |q| cache.gates.slice(s![.., gate_rows(q, hs)]);
    let (r, z, n) = (gate(GRU_R), gate(GRU_Z), gate(GRU_N));
    let n_rows = gate_rows(GRU_N, hs);
    let w_hn = p.weight_hh.slice(s![n_rows.clone(), ..]);
    // BEGIN SOLUTION ex 5.1: dz, the candidate gradient, dr by variant, then both
    //   sides of the parameters
    let mut dh_prev = dh * &z; // through z ⊙ h_{t-1}
    // h_t = n + z ⊙ (h_{t-1} − n)
    let dz = dh * &(&cache.h_prev - &n);
    // at n's pre-activation
    let dan = &(dh * &(1.0 - &z)) * &n.mapv(dtanh_from_output);
    let dr = match v {
        // n_pre ∋ r ⊙ (W_hn h + b_hn)
        GruVariant::ResetAfter => &dan * &cache.hn_input,
        // n_pre ∋ (r ⊙ h) W_hnᵀ
        GruVariant::ResetBefore => &dan.dot(&w_hn) * &cache.h_prev,
    };
    // gradient at a_i = x W_ihᵀ + b_ih
    let mut da_i = Array2::zeros(cache.gates.raw_dim());
    da_i.slice_mut(s![.., gate_rows(GRU_R, hs)])
        .assign(&(&dr * &r.mapv(dsigmoid_from_output)));
    da_i.slice_mut(s![.., gate_rows(GRU_Z, hs)])
        .assign(&(&dz * &z.mapv(dsigmoid_from_output)));
    da_i.slice_mut(s![.., n_rows.clone()]).assign(&dan);
    grads.dweight_ih += &da_i.t().dot(&cache.x_t);
    grads.dbias_ih += &da_i.sum_axis(Axis(0));
    // The r and z rows of the hidden side get the same gradient as the input side.
    let da_rz = da_i.slice(s![.., 0..2 * hs]);
    grads
        .dweight_hh
        .slice_mut(s![0..2 * hs, ..])
        .scaled_add(1.0, &da_rz.t().dot(&cache.h_prev));
    grads
        .dbias_hh
        .slice_mut(s![0..2 * hs])
        .scaled_add(1.0, &da_rz.sum_axis(Axis(0)));
    dh_prev += &da_rz.dot(&p.weight_hh.slice(s![0..2 * hs, ..]));
    // The n rows of the hidden side differ by variant.
    let da_hn = match v {
        GruVariant::ResetAfter => &dan * &r, // at W_hn h + b_hn
        GruVariant::ResetBefore => dan.clone(), // at (r ⊙ h) W_hnᵀ + b_hn
    };
    grads
        .dweight_hh
        .slice_mut(s![n_rows.clone(), ..])
        .scaled_add(1.0, &da_hn.t().dot(cache.hn_input_or_h(v)));
    grads
        .dbias_hh
        .slice_mut(s![n_rows])
        .scaled_add(1.0, &da_hn.sum_axis(Axis(0)));
    // gradient at W_hn's input: h (after) or r ⊙ h (before)
    let d_hn_in = da_hn.dot(&w_hn);
    match v {
        GruVariant::ResetAfter => dh_prev += &d_hn_in,
        GruVariant::ResetBefore => dh_prev += &(&d_hn_in * &r),
    }
    (da_i.dot(&p.weight_ih), dh_prev)
    // END SOLUTION
}
// ANCHOR_END: step_backward

impl GruStepCache {
    /// The gate activations `[B, 3H]`, blocks r, z, n (after σ or tanh).
    pub fn gates(&self) -> ArrayView2<'_, f64> {
        self.gates.view()
    }

    /// The input of `W_hn`: `h_{t-1}` (reset-after) or `r ⊙ h_{t-1}` (reset-before).
    fn hn_input_or_h(&self, v: GruVariant) -> &Array2<f64> {
        match v {
            GruVariant::ResetAfter => &self.h_prev,
            GruVariant::ResetBefore => &self.hn_input,
        }
    }
}

macro_rules! gru_cell {
    ($name:ident, $variant:expr, $doc:literal) => {
        #[doc = $doc]
        pub struct $name;

        impl Cell for $name {
            type Params = GruParams;
            type Grads = GruGrads;
            type State = Array2<f64>;
            type StepCache = GruStepCache;

            fn step(
                p: &GruParams,
                x_t: ArrayView2<f64>,
                h: &Array2<f64>,
            ) -> (Array2<f64>, GruStepCache) {
                gru_step(p, $variant, x_t, h)
            }

            fn step_backward(
                p: &GruParams,
                k: &GruStepCache,
                dh: &Array2<f64>,
                g: &mut GruGrads,
            ) -> (Array2<f64>, Array2<f64>) {
                gru_step_backward(p, $variant, k, dh, g)
            }
        }
    };
}
gru_cell!(
    Gru,
    GruVariant::ResetAfter,
    "The reset-after GRU (`torch.nn.GRU`, cuDNN) as a chapter-2 [`Cell`]."
);
gru_cell!(
    GruCho,
    GruVariant::ResetBefore,
    "The reset-before GRU (Cho et al. 2014) as a chapter-2 [`Cell`]."
);

/// Either GRU over a sequence. Shapes: `x: [T, B, I]`, `h0: [B, H]` →
/// `(y: [T, B, H], h_n: [B, H], caches)`.
pub fn forward(
    p: &GruParams,
    v: GruVariant,
    x: ArrayView3<f64>,
    h0: &Array2<f64>,
) -> (Array3<f64>, Array2<f64>, Vec<GruStepCache>) {
    assert_eq!(
        x.dim().2,
        p.weight_ih.ncols(),
        "x is [T, B, I] but weight_ih expects I = {}",
        p.weight_ih.ncols()
    );
    match v {
        GruVariant::ResetAfter => forward_seq::<Gru>(p, x, h0),
        GruVariant::ResetBefore => forward_seq::<GruCho>(p, x, h0),
    }
}

/// BPTT through either GRU. Shapes: `dy: [T, B, H]`, `dh_n: [B, H]` →
/// `(grads, dx: [T, B, I], dh0: [B, H])`.
pub fn backward(
    p: &GruParams,
    v: GruVariant,
    caches: &[GruStepCache],
    dy: ArrayView3<f64>,
    dh_n: &Array2<f64>,
) -> (GruGrads, Array3<f64>, Array2<f64>) {
    match v {
        GruVariant::ResetAfter => backward_seq::<Gru>(p, caches, dy, dh_n),
        GruVariant::ResetBefore => backward_seq::<GruCho>(p, caches, dy, dh_n),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ch00_foundations::gradcheck::{assert_every_gradient, assert_gradient};
    use ch00_foundations::rng::seeded_rng;
    use ch00_foundations::tolerance::assert_arrays_close;
    use ch02_bptt::problem::Problem;

    const BOTH: [GruVariant; 2] = [GruVariant::ResetAfter, GruVariant::ResetBefore];

    type Case = Problem<GRU_GATES>;

    fn case(seed: u64, shape: (usize, usize, usize, usize), scale: f64) -> Case {
        Problem::random(&mut seeded_rng(seed), shape, scale, 0.8)
    }

    fn probe(
        p: &GruParams,
        v: GruVariant,
        x: &Array3<f64>,
        h0: &Array2<f64>,
        c: &Case,
    ) -> f64 {
        let (y, h_n, _) = forward(p, v, x.view(), h0);
        (&y * &c.dy).sum() + (&h_n * &c.dh_n).sum()
    }

    fn check_all(c: &Case, v: GruVariant) {
        let (_, _, caches) = forward(&c.p, v, c.x.view(), &c.h0);
        let (g, dx, dh0) = backward(&c.p, v, &caches, c.dy.view(), &c.dh_n);
        let (p, x, h0) = (&c.p, &c.x, &c.h0);
        assert_every_gradient(p, &g, |q| probe(q, v, x, h0, c));
        assert_gradient("x", x, &dx, |x| probe(p, v, x, h0, c));
        assert_gradient("h0", h0, &dh0, |h| probe(p, v, x, h, c));
    }

    #[test]
    fn every_gradient_of_both_variants_passes_the_check() {
        for v in BOTH {
            check_all(&case(60, (5, 3, 4, 3), 1.0), v);
            check_all(&case(61, (1, 1, 1, 1), 1.0), v);
            check_all(&case(62, (3, 2, 2, 5), 4.0), v);
            check_all(&case(63, (25, 2, 3, 4), 1.0), v);
        }
    }

    /// Forcing r ≡ 1 and z ≡ 0 (σ(±1000) is exactly 1 or 0 in f64) turns either GRU
    /// into chapter 1's RNN with the n rows as its weights; the gradients of those
    /// rows are chapter 2's.
    #[test]
    fn with_r_1_and_z_0_a_gru_is_the_vanilla_rnn() {
        let c = case(64, (6, 2, 3, 4), 1.0);
        let h = 4;
        let mut p = c.p.clone();
        p.bias_ih.slice_mut(s![gate_rows(GRU_R, h)]).fill(1000.0);
        p.bias_ih.slice_mut(s![gate_rows(GRU_Z, h)]).fill(-1000.0);
        let n = gate_rows(GRU_N, h);
        let rnn = ch01_rnn::cell::RnnParams {
            weight_ih: p.weight_ih.slice(s![n.clone(), ..]).to_owned(),
            weight_hh: p.weight_hh.slice(s![n.clone(), ..]).to_owned(),
            bias_ih: p.bias_ih.slice(s![n.clone()]).to_owned(),
            bias_hh: p.bias_hh.slice(s![n.clone()]).to_owned(),
        };
        let (y_rnn, _, cache) =
            ch01_rnn::cell::forward(&rnn, c.x.view(), c.h0.view());
        let (g_rnn, dx_rnn, dh0_rnn) =
            ch02_bptt::backward(&rnn, &cache, c.dy.view(), c.dh_n.view());
        for v in BOTH {
            let (y, _, caches) = forward(&p, v, c.x.view(), &c.h0);
            // Same function; only the order of floating-point additions differs.
            assert_arrays_close("y", &y, &y_rnn, 1e-14, 1e-14);
            let (g, dx, dh0) = backward(&p, v, &caches, c.dy.view(), &c.dh_n);
            assert_arrays_close(
                "dweight_ih[n]",
                &g.dweight_ih.slice(s![n.clone(), ..]),
                &g_rnn.dweight_ih,
                1e-13,
                1e-13,
            );
            assert_arrays_close(
                "dweight_hh[n]",
                &g.dweight_hh.slice(s![n.clone(), ..]),
                &g_rnn.dweight_hh,
                1e-13,
                1e-13,
            );
            assert_arrays_close(
                "dbias_hh[n]",
                &g.dbias_hh.slice(s![n.clone()]),
                &g_rnn.dbias_hh,
                1e-13,
                1e-13,
            );
            assert_arrays_close("dx", &dx, &dx_rnn, 1e-13, 1e-13);
            assert_arrays_close("dh0", &dh0, &dh0_rnn, 1e-13, 1e-13);
            // Saturated gates pass no gradient to their own rows.
            assert!(
                g.dweight_ih
                    .slice(s![0..2 * h, ..])
                    .iter()
                    .all(|&d| d == 0.0)
            );
        }
    }

    /// The two variants are the same function when the previous state is zero (r
    /// then multiplies a zero either way; b_hn is outside r only in reset-before —
    /// so also zero b_hn).
    #[test]
    fn the_variants_agree_from_a_zero_state_with_zero_b_hn_and_differ_otherwise() {
        let c = case(65, (1, 2, 3, 4), 1.0);
        let mut p = c.p.clone();
        p.bias_hh.slice_mut(s![gate_rows(GRU_N, 4)]).fill(0.0);
        let zero = Array2::zeros((2, 4));
        let (ya, _, _) = forward(&p, GruVariant::ResetAfter, c.x.view(), &zero);
        let (yb, _, _) = forward(&p, GruVariant::ResetBefore, c.x.view(), &zero);
        assert_eq!(ya, yb);
        let (ya, _, _) = forward(&c.p, GruVariant::ResetAfter, c.x.view(), &c.h0);
        let (yb, _, _) = forward(&c.p, GruVariant::ResetBefore, c.x.view(), &c.h0);
        let diff = (&ya - &yb).mapv(f64::abs).fold(0.0f64, |m, &d| m.max(d));
        assert!(
            diff > 1e-3,
            "the variants should differ from a non-zero state, max |Δy| = {diff}"
        );
    }

    #[test]
    fn pytorch_counts_3_times_ih_plus_hh_plus_two_biases() {
        let p = GruParams::init(7, 5, &mut seeded_rng(0));
        assert_eq!(p.num_scalars(), 3 * (7 * 5 + 5 * 5 + 2 * 5));
    }
}
