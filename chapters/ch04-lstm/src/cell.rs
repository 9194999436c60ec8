//! The LSTM cell, forward and backward, in PyTorch's layout.
//!
//! With `a = x_t W_ihᵀ + b_ih + h_{t-1} W_hhᵀ + b_hh` (`[B, 4H]`, gate blocks i, f,
//! g, o):
//!
//! ```text
//! i = σ(a_i)   f = σ(a_f)   g = tanh(a_g)   o = σ(a_o)
//! c_t = f ⊙ c_{t-1} + i ⊙ g
//! h_t = o ⊙ tanh(c_t)
//! ```

use ch00_foundations::activations::{
    dsigmoid_from_output, dtanh_from_output, sigmoid,
};
use ch00_foundations::notation::{
    LSTM_F, LSTM_G, LSTM_GATES, LSTM_I, LSTM_O, gate_rows,
};
use ch01_rnn::cell::LayerParams;
use ch02_bptt::backward::LayerGrads;
use ch02_bptt::driver::{Cell, RecurrentState, backward_seq, forward_seq};
use ndarray::{Array2, Array3, ArrayView2, ArrayView3, Axis, s};

// ANCHOR: params
/// The parameters of one LSTM layer, as `nn.LSTM`: chapter 1's layer with four gate
/// blocks stacked along the rows, i, f, g, o. `weight_ih: [4H, I]`,
/// `weight_hh: [4H, H]`, the biases `[4H]`; PyTorch's initialisation draws every
/// entry from `U(-1/√H, 1/√H)`.
pub type LstmParams = LayerParams<LSTM_GATES>;
// ANCHOR_END: params

/// Gradients of [`LstmParams`], field by field (chapter 2's layer gradients).
pub type LstmGrads = LayerGrads<LSTM_GATES>;

/// The LSTM's state: hidden `h` and cell `c`, both `[B, H]`. Its gradient has the
/// same shape.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LstmState {
    /// `h`: `[B, H]`.
    pub h: Array2<f64>,
    /// `c`: `[B, H]`.
    pub c: Array2<f64>,
}

impl LstmState {
    /// Zeros: `[B, H]` each.
    pub fn zeros(batch: usize, hidden: usize) -> Self {
        LstmState {
            h: Array2::zeros((batch, hidden)),
            c: Array2::zeros((batch, hidden)),
        }
    }
}

impl RecurrentState for LstmState {
    fn zeros(batch: usize, hidden: usize) -> Self {
        LstmState::zeros(batch, hidden)
    }

    fn h(&self) -> &Array2<f64> {
        &self.h
    }

    fn h_mut(&mut self) -> &mut Array2<f64> {
        &mut self.h
    }
}

/// What one step's backward needs.
#[derive(Debug, Clone)]
pub struct LstmStepCache {
    /// `x_t`: `[B, I]`.
    pub x_t: Array2<f64>,
    /// `h_{t-1}`, `c_{t-1}`: `[B, H]`.
    pub prev: LstmState,
    /// Gate activations `[B, 4H]`, blocks i, f, g, o (after σ or tanh).
    pub gates: Array2<f64>,
    /// `tanh(c_t)`: `[B, H]`.
    pub tanh_c: Array2<f64>,
}

/// The LSTM as a chapter-2 [`Cell`].
pub struct Lstm;

impl Cell for Lstm {
    type Params = LstmParams;
    type Grads = LstmGrads;
    type State = LstmState;
    type StepCache = LstmStepCache;

    // ANCHOR: step
    fn step(
        p: &LstmParams,
        x_t: ArrayView2<f64>,
        prev: &LstmState,
    ) -> (LstmState, LstmStepCache) {
        let hs = p.hidden_size();
        // a = x_t W_ihᵀ + b_ih + h_{t-1} W_hhᵀ + b_hh: [B, 4H], then each block
        // activated
        let mut gates = x_t.dot(&p.weight_ih.t()) + &p.bias_ih;
        gates += &prev.h.dot(&p.weight_hh.t());
        gates += &p.bias_hh;
        for (k, act) in [
            (LSTM_I, sigmoid as fn(f64) -> f64),
            (LSTM_F, sigmoid),
            (LSTM_G, f64::tanh),
            (LSTM_O, sigmoid),
        ] {
            gates.slice_mut(s![.., gate_rows(k, hs)]).mapv_inplace(act);
        }
        let gate = |k| gates.slice(s![.., gate_rows(k, hs)]);
        let (i, f, g, o) = (gate(LSTM_I), gate(LSTM_F), gate(LSTM_G), gate(LSTM_O));
        let c = &f * &prev.c + &i * &g; // c_t = f ⊙ c_{t-1} + i ⊙ g
        let tanh_c = c.mapv(f64::tanh);
        let h = &o * &tanh_c; // h_t = o ⊙ tanh(c_t)
        let cache = LstmStepCache {
            x_t: x_t.to_owned(),
            prev: prev.clone(),
            // moved, not copied: the activated gates are what the backward step
            // reads
            gates,
            tanh_c,
        };
        (LstmState { h, c }, cache)
    }
    // ANCHOR_END: step

    // ANCHOR: step_backward
    fn step_backward(
        p: &LstmParams,
        cache: &LstmStepCache,
        dnext: &LstmState,
        grads: &mut LstmGrads,
    ) -> (Array2<f64>, LstmState) {
        let hs = p.hidden_size();
        let gate = |k| cache.gates.slice(s![.., gate_rows(k, hs)]);
        let (i, f, g, o) = (gate(LSTM_I), gate(LSTM_F), gate(LSTM_G), gate(LSTM_O));
        let (x_t, h_prev, c_prev, tanh_c) =
            (&cache.x_t, &cache.prev.h, &cache.prev.c, &cache.tanh_c);
        // BEGIN SOLUTION ex 4.1: dc from both paths, the four gate gradients, then
        //   the parameter and input gradients
        let dh = &dnext.h;
        // δc_t = δc_next + δh ⊙ o ⊙ (1 − tanh² c_t): the carousel, and the path
        // through h_t
        let dc = &dnext.c + &(dh * &o * &tanh_c.mapv(dtanh_from_output));
        let da_i = &dc * &g * &i.mapv(dsigmoid_from_output); // δc ⊙ g ⊙ i(1 − i)
        // δc ⊙ c_{t-1} ⊙ f(1 − f)
        let da_f = &dc * c_prev * &f.mapv(dsigmoid_from_output);
        let da_g = &dc * &i * &g.mapv(dtanh_from_output); // δc ⊙ i ⊙ (1 − g²)
        // δh ⊙ tanh(c_t) ⊙ o(1 − o)
        let da_o = dh * tanh_c * &o.mapv(dsigmoid_from_output);
        // δa = [δa_i, δa_f, δa_g, δa_o]
        let mut da = Array2::zeros(cache.gates.raw_dim());
        for (k, da_k) in [
            (LSTM_I, da_i),
            (LSTM_F, da_f),
            (LSTM_G, da_g),
            (LSTM_O, da_o),
        ] {
            da.slice_mut(s![.., gate_rows(k, hs)]).assign(&da_k);
        }
        grads.dweight_ih += &da.t().dot(x_t); // δW_ih += δaᵀ x_t
        grads.dweight_hh += &da.t().dot(h_prev); // δW_hh += δaᵀ h_{t-1}
        let db = da.sum_axis(Axis(0));
        grads.dbias_ih += &db;
        grads.dbias_hh += &db;
        let dprev = LstmState {
            h: da.dot(&p.weight_hh), // δh_{t-1} = δa W_hh
            c: &dc * &f,             // δc_{t-1} = δc ⊙ f
        };
        (da.dot(&p.weight_ih), dprev) // δx_t = δa W_ih
        // END SOLUTION
    }
    // ANCHOR_END: step_backward
}

// ANCHOR: sequence
/// The LSTM over a sequence. Shapes: `x: [T, B, I]`, `s0` = (`h0`, `c0`) each
/// `[B, H]` → `(y: [T, B, H], (h_n, c_n), caches)`.
pub fn forward(
    p: &LstmParams,
    x: ArrayView3<f64>,
    s0: &LstmState,
) -> (Array3<f64>, LstmState, Vec<LstmStepCache>) {
    assert_eq!(
        x.dim().2,
        p.weight_ih.ncols(),
        "x is [T, B, I] but weight_ih expects I = {}",
        p.weight_ih.ncols()
    );
    forward_seq::<Lstm>(p, x, s0)
}

/// BPTT through the LSTM, carrying `dh` and `dc`. Shapes: `dy: [T, B, H]`, `ds_n` =
/// (`dh_n`, `dc_n`) → `(grads, dx: [T, B, I], (dh0, dc0))`.
pub fn backward(
    p: &LstmParams,
    caches: &[LstmStepCache],
    dy: ArrayView3<f64>,
    ds_n: &LstmState,
) -> (LstmGrads, Array3<f64>, LstmState) {
    backward_seq::<Lstm>(p, caches, dy, ds_n)
}
// ANCHOR_END: sequence

#[cfg(test)]
mod tests {
    use super::*;
    use ch00_foundations::gradcheck::{assert_every_gradient, assert_gradient};
    use ch00_foundations::rng::{seeded_rng, uniform_array};
    use ch02_bptt::problem::Problem;

    struct Case {
        p: LstmParams,
        x: Array3<f64>,
        s0: LstmState,
        gy: Array3<f64>,
        gs: LstmState,
    }

    /// Chapter 2's random problem, with `c0` and the gradient at `c_n` drawn after
    /// it.
    fn case(seed: u64, shape: (usize, usize, usize, usize), scale: f64) -> Case {
        let mut rng = seeded_rng(seed);
        let pr = Problem::<LSTM_GATES>::random(&mut rng, shape, scale, 0.5);
        let bh = pr.h0.raw_dim();
        let (c0, gc) = (
            uniform_array(bh, -1.0, 1.0, &mut rng),
            uniform_array(bh, -1.0, 1.0, &mut rng),
        );
        Case {
            p: pr.p,
            x: pr.x,
            s0: LstmState { h: pr.h0, c: c0 },
            gy: pr.dy,
            gs: LstmState { h: pr.dh_n, c: gc },
        }
    }

    /// `L = Σ y⊙gy + Σ h_n⊙gh + Σ c_n⊙gc`.
    fn probe(p: &LstmParams, x: &Array3<f64>, s0: &LstmState, c: &Case) -> f64 {
        let (y, s_n, _) = forward(p, x.view(), s0);
        (&y * &c.gy).sum() + (&s_n.h * &c.gs.h).sum() + (&s_n.c * &c.gs.c).sum()
    }

    fn check_all(c: &Case) {
        let (_, _, caches) = forward(&c.p, c.x.view(), &c.s0);
        let (g, dx, ds0) = backward(&c.p, &caches, c.gy.view(), &c.gs);
        let (p, x, s0) = (&c.p, &c.x, &c.s0);
        assert_every_gradient(p, &g, |q| probe(q, x, s0, c));
        assert_gradient("x", x, &dx, |x| probe(p, x, s0, c));
        assert_gradient("h0", &s0.h, &ds0.h, |h| {
            probe(
                p,
                x,
                &LstmState {
                    h: h.clone(),
                    c: s0.c.clone(),
                },
                c,
            )
        });
        assert_gradient("c0", &s0.c, &ds0.c, |cc| {
            probe(
                p,
                x,
                &LstmState {
                    h: s0.h.clone(),
                    c: cc.clone(),
                },
                c,
            )
        });
    }

    #[test]
    fn every_gradient_passes_the_check() {
        check_all(&case(50, (5, 3, 4, 3), 1.0));
    }

    #[test]
    fn gradients_pass_for_one_step_one_sequence_one_unit() {
        check_all(&case(51, (1, 1, 1, 1), 1.0));
        check_all(&case(52, (1, 2, 3, 2), 1.0));
        check_all(&case(53, (4, 1, 2, 5), 1.0));
    }

    #[test]
    fn gradients_pass_with_saturated_gates_and_a_long_sequence() {
        check_all(&case(54, (4, 2, 3, 3), 5.0));
        check_all(&case(55, (30, 2, 3, 4), 1.0));
    }

    /// With the input gate shut (i ≡ 0) and the forget gate open (f ≡ 1), the cell
    /// state is a perfect memory: c is carried unchanged, and its gradient flows
    /// back unchanged.
    #[test]
    fn a_shut_input_gate_and_open_forget_gate_carry_c_and_its_gradient_unchanged() {
        let mut c = case(56, (6, 2, 3, 4), 1.0);
        let h = 4;
        // σ(−1000) is exactly 0.0 and σ(1000) exactly 1.0 in f64.
        c.p.bias_ih
            .slice_mut(s![gate_rows(LSTM_I, h)])
            .fill(-1000.0);
        c.p.bias_ih.slice_mut(s![gate_rows(LSTM_F, h)]).fill(1000.0);
        let (_, s_n, caches) = forward(&c.p, c.x.view(), &c.s0);
        assert_eq!(s_n.c, c.s0.c, "c must be carried unchanged");
        for k in &caches {
            assert_eq!(k.prev.c, c.s0.c);
        }
        // Only c_n feeds the loss: dc0 must equal dc_n exactly.
        let zero_y = Array3::zeros(c.gy.raw_dim());
        let ds_n = LstmState {
            h: Array2::zeros((2, h)),
            c: c.gs.c.clone(),
        };
        let (_, _, ds0) = backward(&c.p, &caches, zero_y.view(), &ds_n);
        assert_eq!(
            ds0.c, c.gs.c,
            "the gradient of c must pass through unchanged"
        );
    }

    #[test]
    fn a_batch_of_b_equals_b_separate_runs() {
        let c = case(57, (5, 3, 2, 3), 1.0);
        let (y, s_n, _) = forward(&c.p, c.x.view(), &c.s0);
        for b in 0..3 {
            let s0 = LstmState {
                h: c.s0.h.slice(s![b..b + 1, ..]).to_owned(),
                c: c.s0.c.slice(s![b..b + 1, ..]).to_owned(),
            };
            let (yb, sb, _) = forward(&c.p, c.x.slice(s![.., b..b + 1, ..]), &s0);
            assert_eq!(yb, y.slice(s![.., b..b + 1, ..]));
            assert_eq!(sb.c, s_n.c.slice(s![b..b + 1, ..]));
        }
    }

    #[test]
    fn pytorch_counts_4_times_ih_plus_hh_plus_two_biases() {
        let p = LstmParams::init(7, 5, &mut seeded_rng(0));
        assert_eq!(p.num_scalars(), 4 * (7 * 5 + 5 * 5 + 2 * 5));
    }

    /// Chapter 3's clipping works on LSTM gradients unchanged (it only needs
    /// `Tensors`).
    #[test]
    fn chapter_3_clipping_applies_to_lstm_gradients() {
        let c = case(58, (5, 2, 3, 4), 3.0);
        let (_, _, caches) = forward(&c.p, c.x.view(), &c.s0);
        let (mut g, _, _) = backward(&c.p, &caches, c.gy.view(), &c.gs);
        let norm = ch03_clipping::global_norm(&g);
        let report = ch03_clipping::clip_by_global_norm(&mut g, norm / 2.0).unwrap();
        assert!((ch03_clipping::global_norm(&g) - norm / 2.0).abs() < 1e-12);
        assert_eq!(report.norm_before, norm);
    }
}
