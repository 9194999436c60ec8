//! How far back a gradient reaches: `‖∂L/∂h_t‖` and `‖∂L/∂c_t‖` against the distance
//! `T − t`, for the LSTM and for chapter 1's RNN on the same sequence.
//!
//! The loss only looks at the last hidden state, `L = Σ h_T ⊙ g` with `‖g‖ = 1`, so
//! every gradient at an earlier step has travelled back through the recurrence. Both
//! cells run on chapter 2's generic loop ([`ch02_bptt::driver`]), whose
//! [`state_grads_by_distance`] walks it backwards and keeps the gradient that
//! reaches each state.

use ch00_foundations::activations::dtanh_from_output;
use ch00_foundations::notation::{LSTM_F, LSTM_I, LSTM_O, gate_rows};
use ch00_foundations::rng::{seeded_rng, uniform_array};
use ch01_rnn::cell::RnnParams;
use ch02_bptt::driver::{Cell, Rnn, forward_seq, state_grads_by_distance};
use ndarray::{Array2, Array3, s};

use crate::cell::{Lstm, LstmParams, LstmState};

/// Frobenius norm.
fn norm(a: &Array2<f64>) -> f64 {
    a.iter().map(|v| v * v).sum::<f64>().sqrt()
}

/// The setting of a gradient-flow experiment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FlowConfig {
    /// `T`.
    pub seq_len: usize,
    /// `I`.
    pub input_size: usize,
    /// `H`.
    pub hidden_size: usize,
    /// Seed of the parameters, the inputs and `g`.
    pub seed: u64,
}

/// The chapter's figure: T = 60, I = 4, H = 16, seed 80.
pub const FIGURE_FLOW: FlowConfig = FlowConfig {
    seq_len: 60,
    input_size: 4,
    hidden_size: 16,
    seed: 80,
};

/// The norms of one LSTM, entry `k` at distance `k = T − t` (`k = 0..T`, so
/// `t = T..1`).
#[derive(Debug, Clone, PartialEq)]
pub struct LstmFlow {
    /// Added to the forget gate's `bias_ih` rows after PyTorch's initialisation.
    pub forget_bias: f64,
    /// `‖∂L/∂h_t‖`.
    pub dh: Vec<f64>,
    /// `‖∂L/∂c_t‖`, the whole derivative: through `h_t` and through `c_{t+1}`.
    pub dc: Vec<f64>,
    /// `‖∂L/∂c_t‖` through `h_t` alone: `‖∂L/∂h_t ⊙ o_t ⊙ tanh'(c_t)‖`.
    pub dc_from_h: Vec<f64>,
    /// Mean over units of `o_t ⊙ tanh'(c_t)`, the factor from `h_t` to `c_t`.
    pub h_to_c: Vec<f64>,
    /// Mean forget gate over all steps and units.
    pub mean_forget: f64,
}

/// The norms of the RNN and of one LSTM per forget bias, all on the same inputs and
/// `g`.
#[derive(Debug, Clone, PartialEq)]
pub struct GradientFlow {
    /// The RNN's `‖∂L/∂h_t‖`, entry `k` at distance `k` (`k = 0..T`).
    pub rnn_dh: Vec<f64>,
    /// One entry per forget bias, in the order asked for.
    pub lstm: Vec<LstmFlow>,
}

// ANCHOR: gradient_flow
/// Runs the RNN and LSTMs (PyTorch's initialisation, forget-gate bias raised by each
/// of `forget_biases`) on one sequence `x: [T, 1, I]` from `U(-1, 1)`, zero initial
/// state, with `L = Σ h_T ⊙ g` for a random unit vector `g`, and returns the
/// gradient norms at each distance.
pub fn gradient_flow(cfg: FlowConfig, forget_biases: &[f64]) -> GradientFlow {
    let FlowConfig {
        seq_len,
        input_size: is,
        hidden_size: hs,
        seed,
    } = cfg;
    let mut rng = seeded_rng(seed);
    let x: Array3<f64> = uniform_array((seq_len, 1, is), -1.0, 1.0, &mut rng);
    let mut g: Array2<f64> = uniform_array((1, hs), -1.0, 1.0, &mut rng);
    g /= norm(&g);
    let rnn = RnnParams::init(is, hs, &mut rng);
    let lstm = LstmParams::init(is, hs, &mut rng);

    let (_, _, caches) = forward_seq::<Rnn>(&rnn, x.view(), &Array2::zeros((1, hs)));
    let rnn_dh = state_grads_by_distance::<Rnn>(&rnn, &caches, &g)[..seq_len]
        .iter()
        .map(norm)
        .collect();

    let lstm = forget_biases
        .iter()
        .map(|&b| {
            let mut p = lstm.clone();
            p.bias_ih
                .slice_mut(s![gate_rows(LSTM_F, hs)])
                .mapv_inplace(|v| v + b);
            let s0 = LstmState::zeros(1, hs);
            let (_, _, caches) = forward_seq::<Lstm>(&p, x.view(), &s0);
            let ds_n = LstmState {
                h: g.clone(),
                c: Array2::zeros((1, hs)),
            };
            let states = state_grads_by_distance::<Lstm>(&p, &caches, &ds_n);
            let (mut dh, mut dc) = (Vec::new(), Vec::new());
            let (mut dc_from_h, mut h_to_c) = (Vec::new(), Vec::new());
            for k in 0..seq_len {
                let ds = &states[k];
                let cache = &caches[seq_len - 1 - k]; // step t = T − k
                let o = cache.gates.slice(s![.., gate_rows(LSTM_O, hs)]);
                // ∂L/∂c_t = (from c_{t+1}) + (from h_t = o ⊙ tanh(c_t))
                let factor = &o * &cache.tanh_c.mapv(dtanh_from_output);
                let from_h = &ds.h * &factor;
                dh.push(norm(&ds.h));
                dc.push(norm(&(&ds.c + &from_h)));
                dc_from_h.push(norm(&from_h));
                h_to_c.push(factor.mean().unwrap());
            }
            let mean_forget = caches
                .iter()
                .map(|k| {
                    k.gates.slice(s![.., gate_rows(LSTM_F, hs)]).mean().unwrap()
                })
                .sum::<f64>()
                / seq_len as f64;
            LstmFlow {
                forget_bias: b,
                dh,
                dc,
                dc_from_h,
                h_to_c,
                mean_forget,
            }
        })
        .collect();
    GradientFlow { rnn_dh, lstm }
}
// ANCHOR_END: gradient_flow

/// With the input gate shut and no weights, the forget gate alone carries the cell
/// state: `∂L/∂c_0 = σ(b)^T ∂L/∂c_T`. Returns `‖∂L/∂c_0‖ / ‖∂L/∂c_T‖`, computed by
/// the LSTM's backward (H = 3, I = 1), for forget-gate bias `b` and `T = steps`.
pub fn carried_fraction(forget_bias: f64, steps: usize) -> f64 {
    let (is, hs) = (1, 3);
    let mut p = LstmParams {
        weight_ih: Array2::zeros((4 * hs, is)),
        weight_hh: Array2::zeros((4 * hs, hs)),
        bias_ih: ndarray::Array1::zeros(4 * hs),
        bias_hh: ndarray::Array1::zeros(4 * hs),
    };
    p.bias_ih.slice_mut(s![gate_rows(LSTM_I, hs)]).fill(-1000.0); // i = 0 exactly
    p.bias_ih
        .slice_mut(s![gate_rows(LSTM_F, hs)])
        .fill(forget_bias);
    let x = Array3::zeros((steps, 1, is));
    let s0 = LstmState {
        h: Array2::zeros((1, hs)),
        c: Array2::ones((1, hs)),
    };
    let (_, _, caches) = forward_seq::<Lstm>(&p, x.view(), &s0);
    let ds_n = LstmState {
        h: Array2::zeros((1, hs)),
        c: Array2::ones((1, hs)),
    };
    let states = state_grads_by_distance::<Lstm>(&p, &caches, &ds_n);
    norm(&states[steps].c) / norm(&ds_n.c)
}

/// The cell state of an LSTM whose input and forget gates are wide open and whose
/// candidate is `+1` (biases ±1000, no weights): `c_t = c_{t-1} + 1`, so
/// `c_T = c_0 + T` without bound. Returns `c_t` of its one unit for `t = 1..=steps`,
/// from `c_0 = 0`.
pub fn open_gate_cell_state(steps: usize) -> Vec<f64> {
    let p = LstmParams {
        weight_ih: Array2::zeros((4, 1)),
        weight_hh: Array2::zeros((4, 1)),
        // i, f, g, o
        bias_ih: ndarray::Array1::from(vec![1000.0, 1000.0, 1000.0, 0.0]),
        bias_hh: ndarray::Array1::zeros(4),
    };
    let x = Array2::zeros((1, 1));
    let mut state = LstmState::zeros(1, 1);
    (0..steps)
        .map(|_| {
            state = Lstm::step(&p, x.view(), &state).0;
            state.c[[0, 0]]
        })
        .collect()
}

/// `‖∂L/∂h_0‖` of an LSTM whose recurrent weights are PyTorch's initialisation times
/// `recurrent_scale`, for `L = Σ h_T ⊙ g` with a random unit `g`, zero initial state
/// and inputs from `U(-1, 1)` (parameters, then `x`, then `g` drawn from
/// `cfg.seed`). With large recurrent weights the gradient grows as it goes back: the
/// gates' bound of 1 does not stop it.
pub fn lstm_dh0_norm(cfg: FlowConfig, recurrent_scale: f64) -> f64 {
    let mut rng = seeded_rng(cfg.seed);
    let mut p = LstmParams::init(cfg.input_size, cfg.hidden_size, &mut rng);
    p.weight_hh *= recurrent_scale;
    let x: Array3<f64> =
        uniform_array((cfg.seq_len, 1, cfg.input_size), -1.0, 1.0, &mut rng);
    let mut g: Array2<f64> =
        uniform_array((1, cfg.hidden_size), -1.0, 1.0, &mut rng);
    g /= norm(&g);
    let s0 = LstmState::zeros(1, cfg.hidden_size);
    let (_, _, caches) = forward_seq::<Lstm>(&p, x.view(), &s0);
    let ds_n = LstmState {
        h: g,
        c: Array2::zeros((1, cfg.hidden_size)),
    };
    norm(&state_grads_by_distance::<Lstm>(&p, &caches, &ds_n)[cfg.seq_len].h)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ch00_foundations::activations::sigmoid;

    #[test]
    fn state_gradients_end_with_the_backward_passs_initial_state_gradient() {
        let mut rng = seeded_rng(81);
        let p = LstmParams::init(3, 4, &mut rng);
        let x: Array3<f64> = uniform_array((7, 2, 3), -1.0, 1.0, &mut rng);
        let s0 = LstmState {
            h: uniform_array((2, 4), -0.5, 0.5, &mut rng),
            c: uniform_array((2, 4), -1.0, 1.0, &mut rng),
        };
        let ds_n = LstmState {
            h: uniform_array((2, 4), -1.0, 1.0, &mut rng),
            c: uniform_array((2, 4), -1.0, 1.0, &mut rng),
        };
        let (_, _, caches) = forward_seq::<Lstm>(&p, x.view(), &s0);
        let states = state_grads_by_distance::<Lstm>(&p, &caches, &ds_n);
        assert_eq!(states.len(), 8);
        let (_, _, ds0) = crate::cell::backward(
            &p,
            &caches,
            Array3::zeros((7, 2, 4)).view(),
            &ds_n,
        );
        assert_eq!(states[7], ds0);
    }

    /// The figure's claim: at distance 59 the RNN's gradient has vanished, the
    /// LSTM's with forget bias +3 has not, and the default LSTM sits in between.
    #[test]
    fn an_open_forget_gate_carries_the_gradient_far_further_than_the_rnn() {
        let flow = gradient_flow(FIGURE_FLOW, &[0.0, 3.0]);
        let last = FIGURE_FLOW.seq_len - 1;
        let (rnn, lstm0, lstm3) = (&flow.rnn_dh, &flow.lstm[0], &flow.lstm[1]);
        assert_eq!(rnn.len(), 60);
        assert!((rnn[0] - 1.0).abs() < 1e-12 && (lstm3.dh[0] - 1.0).abs() < 1e-12);
        assert!(rnn[last] < 1e-15, "rnn {}", rnn[last]);
        assert!(lstm0.dc[last] < 1e-10, "lstm0 {}", lstm0.dc[last]);
        assert!(lstm3.dc[last] > 1e-3, "lstm3 {}", lstm3.dc[last]);
        assert!(lstm3.dc[last] > 1e10 * rnn[last]);
        assert!(lstm3.mean_forget > 0.9 && lstm0.mean_forget < 0.6);
    }

    /// The figure's late rise: with forget bias +3 both curves rise again over the
    /// last ten steps back, because the cell state starts at zero. Where `c` is
    /// small, `o ⊙ tanh'(c)` is large and more of `∂L/∂h_t` passes into `c_t`.
    #[test]
    fn near_the_start_a_small_cell_state_lets_more_gradient_into_c() {
        let flow = gradient_flow(FIGURE_FLOW, &[3.0]);
        let l = &flow.lstm[0];
        let last = FIGURE_FLOW.seq_len - 1;
        let low = (0..=last)
            .min_by(|&a, &b| l.dc[a].total_cmp(&l.dc[b]))
            .unwrap();
        assert!((45..last).contains(&low), "lowest dc at distance {low}");
        assert!(
            l.dc[last] > 1.2 * l.dc[low],
            "{} vs {}",
            l.dc[last],
            l.dc[low]
        );
        assert!(
            l.dh[last] > 1.2 * l.dh[low],
            "{} vs {}",
            l.dh[last],
            l.dh[low]
        );
        // The factor from h to c: about 0.2 far from the start, more than twice that
        // at its first step.
        for k in 0..=25 {
            assert!(
                (0.18..0.23).contains(&l.h_to_c[k]),
                "k = {k}: {}",
                l.h_to_c[k]
            );
        }
        assert!(l.h_to_c[last] > 0.45, "{}", l.h_to_c[last]);
        assert!(l.dc_from_h[last] > 1.5 * l.dc_from_h[low]);
    }

    /// Source post 000 says a forget bias of +1 makes the factors "no longer below
    /// 1". They stay below 1: the bias moves σ's input, not its output. It slows the
    /// decay; it never stops it.
    #[test]
    fn a_forget_bias_slows_the_decay_but_never_stops_it() {
        for b in [0.0, 1.0, 3.0] {
            let got = carried_fraction(b, 20);
            let want = sigmoid(b).powi(20);
            assert!(
                (got - want).abs() <= 1e-12 * want,
                "b = {b}: {got} vs {want}"
            );
            assert!(sigmoid(b) < 1.0);
        }
        assert!((carried_fraction(0.0, 20) - 9.5367e-7).abs() < 1e-10);
        assert!((carried_fraction(1.0, 20) - 1.9013e-3).abs() < 1e-7);
        assert!((carried_fraction(3.0, 20) - 0.37842).abs() < 1e-5);
    }

    /// Nothing bounds the cell state (source post 001 argues only about the
    /// gradient). With the gates open it grows by the candidate at every step:
    /// `c_T = T`, exactly, without bound.
    #[test]
    fn with_open_gates_the_cell_state_grows_without_bound() {
        let c = open_gate_cell_state(1000);
        assert_eq!(c.len(), 1000);
        for (t, &v) in c.iter().enumerate() {
            assert_eq!(v, (t + 1) as f64);
        }
    }

    /// Source post 001 also says that since a gate never exceeds 1, the gradient
    /// cannot explode. The gates bound the carousel, not the path through `h` and
    /// `W_hh`: with recurrent weights 16 times PyTorch's, the gradient 50 steps back
    /// is thousands of times larger than at the end.
    #[test]
    fn lstm_gradients_can_still_explode() {
        let cfg = FlowConfig {
            seq_len: 50,
            input_size: 4,
            hidden_size: 16,
            seed: 0,
        };
        assert!(lstm_dh0_norm(cfg, 1.0) < 1e-9);
        let big = lstm_dh0_norm(cfg, 16.0);
        assert!(big > 1e2, "{big}");
    }
}
