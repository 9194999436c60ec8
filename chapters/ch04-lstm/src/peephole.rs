//! The peephole LSTM (Gers & Schmidhuber 2000; Gers, Schraudolph & Schmidhuber
//! 2002): the gates also see the cell state, each unit its own, through diagonal
//! weights `p_i`, `p_f`, `p_o` (`[H]` each). The input and forget gates see
//! `c_{t-1}`; the output gate sees the new `c_t`. With `a` the plain LSTM's
//! pre-activations ([`crate::cell`]):
//!
//! ```text
//! i = σ(a_i + p_i ⊙ c_{t-1})   f = σ(a_f + p_f ⊙ c_{t-1})   g = tanh(a_g)
//! c_t = f ⊙ c_{t-1} + i ⊙ g
//! o = σ(a_o + p_o ⊙ c_t)
//! h_t = o ⊙ tanh(c_t)
//! ```
//!
//! Its backward step (exercise 4.4) is the plain one with the terms that the
//! peepholes add.

use ch00_foundations::activations::{
    dsigmoid_from_output, dtanh_from_output, sigmoid,
};
use ch00_foundations::notation::{LSTM_F, LSTM_G, LSTM_I, LSTM_O, gate_rows};
use ch00_foundations::rng::init_uniform_pytorch;
use ch02_bptt::driver::Cell;
use ndarray::{Array1, Array2, ArrayView2, Axis, s};
use rand::Rng;

use crate::cell::{Lstm, LstmGrads, LstmParams, LstmState, LstmStepCache};

/// The peephole weights: `p_i`, `p_f`, `p_o`, `[H]` each.
#[derive(Debug, Clone, PartialEq)]
pub struct Peepholes {
    /// Input gate's view of `c_{t-1}`.
    pub p_i: Array1<f64>,
    /// Forget gate's view of `c_{t-1}`.
    pub p_f: Array1<f64>,
    /// Output gate's view of `c_t`.
    pub p_o: Array1<f64>,
}

ch00_foundations::impl_tensors!(Peepholes { p_i, p_f, p_o });

impl Peepholes {
    /// Every entry from `U(-1/√H, 1/√H)`, as the other weights.
    pub fn init<R: Rng + ?Sized>(hidden_size: usize, rng: &mut R) -> Self {
        let h = hidden_size;
        Peepholes {
            p_i: init_uniform_pytorch(h, h, rng),
            p_f: init_uniform_pytorch(h, h, rng),
            p_o: init_uniform_pytorch(h, h, rng),
        }
    }
}

/// Gradients of [`Peepholes`]: `[H]` each.
#[derive(Debug, Clone, PartialEq)]
pub struct PeepholeGrads {
    /// `δp_i`.
    pub dp_i: Array1<f64>,
    /// `δp_f`.
    pub dp_f: Array1<f64>,
    /// `δp_o`.
    pub dp_o: Array1<f64>,
}

ch00_foundations::impl_tensors!(PeepholeGrads { dp_i, dp_f, dp_o });

impl PeepholeGrads {
    /// Zeros shaped like `w`.
    pub fn zeros_like(w: &Peepholes) -> Self {
        PeepholeGrads {
            dp_i: Array1::zeros(w.p_i.raw_dim()),
            dp_f: Array1::zeros(w.p_f.raw_dim()),
            dp_o: Array1::zeros(w.p_o.raw_dim()),
        }
    }
}

/// What one peephole step's backward needs: the plain step's cache (with the
/// peephole gates) and `c_t` (`[B, H]`), which `o` saw.
#[derive(Debug, Clone)]
pub struct PeepholeStepCache {
    /// `x_t`, `h_{t-1}`, `c_{t-1}`, the activated gates and `tanh(c_t)`.
    pub lstm: LstmStepCache,
    /// `c_t`: `[B, H]`.
    pub c: Array2<f64>,
}

// ANCHOR: peephole_step
/// One peephole LSTM step. Shapes: `x_t: [B, I]`, `prev` = (`h_{t-1}`, `c_{t-1}`)
/// each `[B, H]` → (`h_t`, `c_t`) and the cache.
pub fn peephole_step(
    p: &LstmParams,
    w: &Peepholes,
    x_t: ArrayView2<f64>,
    prev: &LstmState,
) -> (LstmState, PeepholeStepCache) {
    let hs = p.hidden_size();
    let mut gates = x_t.dot(&p.weight_ih.t()) + &p.bias_ih;
    gates += &prev.h.dot(&p.weight_hh.t());
    gates += &p.bias_hh;
    // i and f see c_{t-1}
    for (k, peep) in [(LSTM_I, &w.p_i), (LSTM_F, &w.p_f)] {
        let mut a = gates.slice_mut(s![.., gate_rows(k, hs)]);
        a += &(&prev.c * peep);
        a.mapv_inplace(sigmoid);
    }
    gates
        .slice_mut(s![.., gate_rows(LSTM_G, hs)])
        .mapv_inplace(f64::tanh);
    let gate = |k| gates.slice(s![.., gate_rows(k, hs)]);
    let c = &gate(LSTM_F) * &prev.c + &gate(LSTM_I) * &gate(LSTM_G);
    // o sees c_t
    let mut a_o = gates.slice_mut(s![.., gate_rows(LSTM_O, hs)]);
    a_o += &(&c * &w.p_o);
    a_o.mapv_inplace(sigmoid);
    let tanh_c = c.mapv(f64::tanh);
    let h = &gates.slice(s![.., gate_rows(LSTM_O, hs)]) * &tanh_c;
    let lstm = LstmStepCache {
        x_t: x_t.to_owned(),
        prev: prev.clone(),
        gates,
        tanh_c,
    };
    let cache = PeepholeStepCache { lstm, c: c.clone() };
    (LstmState { h, c }, cache)
}
// ANCHOR_END: peephole_step

// ANCHOR: peephole_step_backward
/// One peephole step backward: adds this step's gradients into `grads` (the
/// weights and biases, as [`Lstm::step_backward`]) and `dw` (the peepholes), and
/// returns `δx_t: [B, I]` and the gradient of the previous state. `dnext` =
/// (`δh_t`, `δc_t` from the step after), each `[B, H]`.
pub fn peephole_step_backward(
    p: &LstmParams,
    w: &Peepholes,
    cache: &PeepholeStepCache,
    dnext: &LstmState,
    grads: &mut LstmGrads,
    dw: &mut PeepholeGrads,
) -> (Array2<f64>, LstmState) {
    let hs = p.hidden_size();
    let gate = |k| cache.lstm.gates.slice(s![.., gate_rows(k, hs)]);
    let (i, f, g, o) = (gate(LSTM_I), gate(LSTM_F), gate(LSTM_G), gate(LSTM_O));
    let (dh, c_prev, tanh_c) = (&dnext.h, &cache.lstm.prev.c, &cache.lstm.tanh_c);
    // BEGIN SOLUTION ex 4.4: the output peephole adds to δc_t before the plain
    //   step backward, the input and forget peepholes to the previous δc after it
    // δa_o = δh ⊙ tanh(c_t) ⊙ o(1 − o), and o saw c_t: δc_t gains δa_o ⊙ p_o
    let da_o = dh * tanh_c * &o.mapv(dsigmoid_from_output);
    let with_o = LstmState {
        h: dh.clone(),
        c: &dnext.c + &(&da_o * &w.p_o),
    };
    let (dx, mut dprev) = Lstm::step_backward(p, &cache.lstm, &with_o, grads);
    // δc_t from all its paths, to reach the pre-activations of i and f
    let dc_t = &with_o.c + &(dh * &o * &tanh_c.mapv(dtanh_from_output));
    let da_i = &dc_t * &g * &i.mapv(dsigmoid_from_output);
    let da_f = &dc_t * c_prev * &f.mapv(dsigmoid_from_output);
    dw.dp_i += &(&da_i * c_prev).sum_axis(Axis(0));
    dw.dp_f += &(&da_f * c_prev).sum_axis(Axis(0));
    dw.dp_o += &(&da_o * &cache.c).sum_axis(Axis(0));
    // δc_{t-1} = δc_t ⊙ f + δa_i ⊙ p_i + δa_f ⊙ p_f
    dprev.c += &(&da_i * &w.p_i + &da_f * &w.p_f);
    (dx, dprev)
    // END SOLUTION
}
// ANCHOR_END: peephole_step_backward

#[cfg(test)]
mod tests {
    use super::*;
    use ch00_foundations::gradcheck::{assert_every_gradient, assert_gradient};
    use ch00_foundations::rng::{seeded_rng, uniform_array};
    use ndarray::Array3;

    /// A short sequence through peephole steps, with the loss's weights.
    struct Case {
        p: LstmParams,
        w: Peepholes,
        x: Array3<f64>,
        s0: LstmState,
        gh: Array3<f64>,
        gc: Array2<f64>,
    }

    /// `x: [T, B, I]`, states `[B, H]`; peepholes scaled by `peep` so that their
    /// terms are not small.
    fn case(
        seed: u64,
        (t, b, is, hs): (usize, usize, usize, usize),
        peep: f64,
    ) -> Case {
        let mut rng = seeded_rng(seed);
        let p = LstmParams::init(is, hs, &mut rng);
        let mut w = Peepholes::init(hs, &mut rng);
        for v in [&mut w.p_i, &mut w.p_f, &mut w.p_o] {
            *v *= peep;
        }
        Case {
            p,
            w,
            x: uniform_array((t, b, is), -1.0, 1.0, &mut rng),
            s0: LstmState {
                h: uniform_array((b, hs), -0.8, 0.8, &mut rng),
                c: uniform_array((b, hs), -1.5, 1.5, &mut rng),
            },
            gh: uniform_array((t, b, hs), -1.0, 1.0, &mut rng),
            gc: uniform_array((b, hs), -1.0, 1.0, &mut rng),
        }
    }

    /// `L = Σ_t Σ h_t ⊙ gh_t + Σ c_T ⊙ gc`.
    fn loss(
        q: &Case,
        p: &LstmParams,
        w: &Peepholes,
        x: &Array3<f64>,
        s0: &LstmState,
    ) -> f64 {
        let mut s = s0.clone();
        let mut l = 0.0;
        for (x_t, gh) in x.outer_iter().zip(q.gh.outer_iter()) {
            s = peephole_step(p, w, x_t, &s).0;
            l += (&s.h * &gh).sum();
        }
        l + (&s.c * &q.gc).sum()
    }

    /// Forward through the sequence, then back one peephole step at a time.
    fn gradients(q: &Case) -> (LstmGrads, PeepholeGrads, Array3<f64>, LstmState) {
        let mut s = q.s0.clone();
        let mut caches = Vec::new();
        for x_t in q.x.outer_iter() {
            let (next, k) = peephole_step(&q.p, &q.w, x_t, &s);
            caches.push(k);
            s = next;
        }
        let (mut g, mut dw) =
            (LstmGrads::zeros_like(&q.p), PeepholeGrads::zeros_like(&q.w));
        let mut dx = Array3::zeros(q.x.raw_dim());
        let mut ds = LstmState {
            h: Array2::zeros(q.gc.raw_dim()),
            c: q.gc.clone(),
        };
        for (t, k) in caches.iter().enumerate().rev() {
            ds.h += &q.gh.index_axis(Axis(0), t);
            let (dx_t, prev) =
                peephole_step_backward(&q.p, &q.w, k, &ds, &mut g, &mut dw);
            dx.index_axis_mut(Axis(0), t).assign(&dx_t);
            ds = prev;
        }
        (g, dw, dx, ds)
    }

    fn check(q: &Case) {
        let (g, dw, dx, ds0) = gradients(q);
        let (p, w, x, s0) = (&q.p, &q.w, &q.x, &q.s0);
        assert_every_gradient(p, &g, |p| loss(q, p, w, x, s0));
        assert_every_gradient(w, &dw, |w| loss(q, p, w, x, s0));
        assert_gradient("x", x, &dx, |x| loss(q, p, w, x, s0));
        assert_gradient("h0", &s0.h, &ds0.h, |h| {
            let s = LstmState {
                h: h.clone(),
                c: s0.c.clone(),
            };
            loss(q, p, w, x, &s)
        });
        assert_gradient("c0", &s0.c, &ds0.c, |c| {
            let s = LstmState {
                h: s0.h.clone(),
                c: c.clone(),
            };
            loss(q, p, w, x, &s)
        });
    }

    #[test]
    fn every_gradient_of_the_peephole_lstm_passes_the_check() {
        check(&case(40, (1, 1, 1, 1), 1.0));
        check(&case(41, (1, 2, 3, 4), 3.0));
        check(&case(42, (4, 2, 3, 5), 2.0));
    }

    /// With zero peepholes the cell is chapter 4's LSTM, and so is its backward
    /// step, bit for bit.
    #[test]
    fn with_zero_peepholes_it_is_the_plain_lstm() {
        let mut q = case(43, (1, 2, 3, 4), 1.0);
        for v in [&mut q.w.p_i, &mut q.w.p_f, &mut q.w.p_o] {
            v.fill(0.0);
        }
        let x_t = q.x.index_axis(Axis(0), 0);
        let (s, k) = peephole_step(&q.p, &q.w, x_t, &q.s0);
        let (s_plain, k_plain) = Lstm::step(&q.p, x_t, &q.s0);
        assert_eq!(s, s_plain);
        let dnext = LstmState {
            h: q.gh.index_axis(Axis(0), 0).to_owned(),
            c: q.gc.clone(),
        };
        let mut g = LstmGrads::zeros_like(&q.p);
        let mut dw = PeepholeGrads::zeros_like(&q.w);
        let (dx, ds) =
            peephole_step_backward(&q.p, &q.w, &k, &dnext, &mut g, &mut dw);
        let mut g_plain = LstmGrads::zeros_like(&q.p);
        let (dx_plain, ds_plain) =
            Lstm::step_backward(&q.p, &k_plain, &dnext, &mut g_plain);
        assert_eq!((dx, ds), (dx_plain, ds_plain));
        assert_eq!(g.dweight_hh, g_plain.dweight_hh);
        // The peepholes still get a gradient: moving them would change the loss.
        assert!(dw.dp_o.iter().all(|d| d.abs() > 0.0), "{:?}", dw.dp_o);
    }

    /// Chapter 4's backward step run on a peephole step's cache misses the extra
    /// terms: its `δc_{t-1}` is off, and with `o`'s peephole so is `δh_{t-1}`.
    #[test]
    fn the_plain_backward_step_misses_the_peepholes_terms() {
        let q = case(44, (1, 2, 3, 4), 3.0);
        let (_, k) = peephole_step(&q.p, &q.w, q.x.index_axis(Axis(0), 0), &q.s0);
        let dnext = LstmState {
            h: q.gh.index_axis(Axis(0), 0).to_owned(),
            c: q.gc.clone(),
        };
        let mut g = LstmGrads::zeros_like(&q.p);
        let mut dw = PeepholeGrads::zeros_like(&q.w);
        let (_, ds) =
            peephole_step_backward(&q.p, &q.w, &k, &dnext, &mut g, &mut dw);
        let (_, ds_plain) = Lstm::step_backward(&q.p, &k.lstm, &dnext, &mut g);
        let off = |a: &Array2<f64>, b: &Array2<f64>| {
            (a - b).mapv(f64::abs).fold(0.0, |m: f64, &d| m.max(d))
        };
        assert!(
            off(&ds.c, &ds_plain.c) > 1e-2,
            "{}",
            off(&ds.c, &ds_plain.c)
        );
        assert!(
            off(&ds.h, &ds_plain.h) > 1e-3,
            "{}",
            off(&ds.h, &ds_plain.h)
        );
    }
}
