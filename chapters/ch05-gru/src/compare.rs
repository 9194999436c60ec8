//! The RNN, the LSTM and both GRUs side by side: how far back a gradient reaches,
//! and what a step costs.
//!
//! The loss reads only the last state, `L = dy · h_T`. Its gradient at an earlier
//! state `h_t` is what the backward pass carries back over the distance `k = T − t`.
//! Chapter 2's [`state_grads_by_distance`] measures it with each cell's own
//! `step_backward` (the [`Cell`] trait), so the numbers come from the same code that
//! the gradient checks and the PyTorch fixtures test.
//!
//! [`cost_table`] counts each cell's parameters and the multiply-adds of its matrix
//! products.

use ch00_foundations::notation::{GRU_GATES, GRU_Z, LSTM_F, LSTM_GATES, gate_rows};
use ch00_foundations::rng::{seeded_rng, uniform_array};
use ch01_rnn::cell::RnnParams;
use ch02_bptt::driver::{Cell, Rnn, forward_seq, state_grads_by_distance};
use ch04_lstm::{Lstm, LstmParams, LstmState};
use ndarray::{Array2, Array3, ArrayView3, s};

use crate::cell::{Gru, GruCho, GruParams};

/// Hidden size `H` of every cell in the comparison.
pub const COMPARE_HIDDEN: usize = 32;
/// Input size `I` of every cell in the comparison.
pub const COMPARE_INPUT: usize = 8;
/// Sequence length `T` of the chapter's figure: distances `k = 0 … T`.
pub const FIGURE_SEQ_LEN: usize = 60;
/// Seed of the inputs, of `dy` and of every cell's weights.
pub const FIGURE_SEED: u64 = 5;
/// The "remember" bias of the figure's second panel: added to the LSTM's forget-gate
/// bias and to the GRU's update-gate bias, so that `f ≈ z ≈ σ(3) ≈ 0.95` at the
/// start.
pub const REMEMBER_BIAS: f64 = 3.0;

// ANCHOR: state_grads_of_sequence
/// Chapter 2's [`state_grads_by_distance`] after running `C` forward from `s0` over
/// `x`: entry `k` is `dL/d(state)` `k` steps before the end, for a loss that reads
/// only the final state. Shapes: `x: [T, B, I]`, state parts `[B, H]` → `T + 1`
/// states.
pub fn state_grads_of_sequence<C: Cell>(
    p: &C::Params,
    x: ArrayView3<f64>,
    s0: &C::State,
    ds_last: &C::State,
) -> Vec<C::State> {
    let (_, _, caches) = forward_seq::<C>(p, x, s0);
    state_grads_by_distance::<C>(p, &caches, ds_last)
}
// ANCHOR_END: state_grads_of_sequence

/// The Frobenius norm `‖a‖` of a `[B, H]` block.
pub fn norm(a: &Array2<f64>) -> f64 {
    a.iter().map(|v| v * v).sum::<f64>().sqrt()
}

/// The factor per step by which a norm shrinks (below 1) or grows (above 1) between
/// the distances `from` and `to`: `(norms[to] / norms[from])^(1 / (to − from))`, the
/// geometric mean.
///
/// # Panics
/// If `from >= to`, `to` is out of range, or either norm is not positive and finite.
pub fn factor_per_step(norms: &[f64], from: usize, to: usize) -> f64 {
    assert!(
        from < to && to < norms.len(),
        "factor_per_step: bad range {from}..{to} for {} norms",
        norms.len()
    );
    let (a, b) = (norms[from], norms[to]);
    assert!(
        a > 0.0 && a.is_finite() && b > 0.0 && b.is_finite(),
        "factor_per_step: norms {a} and {b} must be positive and finite"
    );
    (b / a).powf(1.0 / (to - from) as f64)
}

/// `‖∂L/∂h_t‖` (and `‖∂L/∂c_t‖` for the LSTM) against the distance `k = T − t`,
/// `k = 0 … T`, for the four cells on the same inputs and the same `dy`.
#[derive(Debug, Clone, PartialEq)]
pub struct NormCurves {
    /// The bias added to the LSTM's `f` rows and the GRU's `z` rows (0 = PyTorch's
    /// init).
    pub remember_bias: f64,
    /// Chapter 1's RNN: `‖∂L/∂h_t‖`.
    pub rnn: Vec<f64>,
    /// The LSTM: `‖∂L/∂h_t‖`.
    pub lstm_h: Vec<f64>,
    /// The LSTM: `‖∂L/∂c_t‖` (0 at `k = 0`: the loss reads only `h_T`).
    pub lstm_c: Vec<f64>,
    /// The reset-after GRU (`nn.GRU`): `‖∂L/∂h_t‖`.
    pub gru: Vec<f64>,
    /// The reset-before GRU (Cho et al.): `‖∂L/∂h_t‖`.
    pub gru_cho: Vec<f64>,
}

// ANCHOR: gradient_norm_curves
/// Measures [`NormCurves`] for `T = seq_len` steps with `H = hidden`, `I = input`,
/// batch 1.
///
/// One seeded generator draws, in this order, the inputs `x: [T, 1, I]` from
/// `U(−1, 1)`, a unit vector `dy: [1, H]`, then PyTorch-initialised RNN, LSTM and
/// GRU parameters; both GRUs share theirs. Every cell starts from a zero state.
/// `remember_bias` is added to `bias_ih` in the LSTM's forget-gate rows and in the
/// GRU's update-gate rows (the RNN has no such knob).
pub fn gradient_norm_curves(
    seq_len: usize,
    hidden: usize,
    input: usize,
    seed: u64,
    remember_bias: f64,
) -> NormCurves {
    let mut rng = seeded_rng(seed);
    let x: Array3<f64> = uniform_array((seq_len, 1, input), -1.0, 1.0, &mut rng);
    let mut dy: Array2<f64> = uniform_array((1, hidden), -1.0, 1.0, &mut rng);
    dy /= norm(&dy);
    let rnn = RnnParams::init(input, hidden, &mut rng);
    let mut lstm = LstmParams::init(input, hidden, &mut rng);
    let mut gru = GruParams::init(input, hidden, &mut rng);
    lstm.bias_ih
        .slice_mut(s![gate_rows(LSTM_F, hidden)])
        .mapv_inplace(|b| b + remember_bias);
    gru.bias_ih
        .slice_mut(s![gate_rows(GRU_Z, hidden)])
        .mapv_inplace(|b| b + remember_bias);

    let h0 = Array2::zeros((1, hidden));
    let norms =
        |states: Vec<Array2<f64>>| states.iter().map(norm).collect::<Vec<_>>();
    let lstm_states = state_grads_of_sequence::<Lstm>(
        &lstm,
        x.view(),
        &LstmState::zeros(1, hidden),
        &LstmState {
            h: dy.clone(),
            c: Array2::zeros((1, hidden)),
        },
    );
    NormCurves {
        remember_bias,
        rnn: norms(state_grads_of_sequence::<Rnn>(&rnn, x.view(), &h0, &dy)),
        lstm_h: lstm_states.iter().map(|s| norm(&s.h)).collect(),
        lstm_c: lstm_states.iter().map(|s| norm(&s.c)).collect(),
        gru: norms(state_grads_of_sequence::<Gru>(&gru, x.view(), &h0, &dy)),
        gru_cho: norms(state_grads_of_sequence::<GruCho>(&gru, x.view(), &h0, &dy)),
    }
}
// ANCHOR_END: gradient_norm_curves

/// The two settings of the chapter's figure: PyTorch's initialisation, and the same
/// weights with [`REMEMBER_BIAS`] on the LSTM's `f` and the GRU's `z`.
pub fn figure_curves() -> [NormCurves; 2] {
    [0.0, REMEMBER_BIAS].map(|b| {
        gradient_norm_curves(
            FIGURE_SEQ_LEN,
            COMPARE_HIDDEN,
            COMPARE_INPUT,
            FIGURE_SEED,
            b,
        )
    })
}

/// What one cell costs at equal `I`, `H` and `B`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CellCost {
    /// The cell's name as the book writes it.
    pub cell: &'static str,
    /// `G`, the gate blocks stacked in the weights: 1 (RNN), 4 (LSTM), 3 (GRU).
    pub gates: usize,
    /// Parameters, PyTorch's way with two bias vectors: `G(IH + H² + 2H)`.
    pub scalars: usize,
    /// Floating-point operations of the matrix products of one step forward:
    /// `2 · B · (I + H) · G · H` (a multiply and an add per weight entry and batch
    /// row).
    pub gemm_flops_per_step: usize,
    /// Matrix products with `W_hh` that one step must do one after the other: 1,
    /// except for the reset-before GRU, which needs `r` before it can multiply
    /// `r ⊙ h` by `W_hn`.
    pub dependent_hidden_gemms: usize,
}

// ANCHOR: cost_table
/// Parameter counts and matrix-product flops per step of the RNN, the LSTM and both
/// GRUs, at equal input size `I`, hidden size `H` and batch `B`, in that order.
pub fn cost_table(input: usize, hidden: usize, batch: usize) -> [CellCost; 4] {
    let row = |cell, gates: usize, dependent_hidden_gemms| CellCost {
        cell,
        gates,
        scalars: gates * (input * hidden + hidden * hidden + 2 * hidden),
        gemm_flops_per_step: 2 * batch * (input + hidden) * gates * hidden,
        dependent_hidden_gemms,
    };
    [
        row("RNN", 1, 1),
        row("LSTM", LSTM_GATES, 1),
        row("GRU, reset-after", GRU_GATES, 1),
        row("GRU, reset-before", GRU_GATES, 2),
    ]
}
// ANCHOR_END: cost_table

#[cfg(test)]
mod tests {
    use super::*;
    use ch02_bptt::driver::backward_seq;

    /// The walk back is chapter 2's `backward_seq`: its `dh0` for `dy` at the last
    /// step only is the walk's last entry, bit for bit, for every cell.
    #[test]
    fn the_walk_back_ends_where_backward_seq_ends() {
        let (t, i, h) = (7, 3, 4);
        let mut rng = seeded_rng(50);
        let x: Array3<f64> = uniform_array((t, 2, i), -1.0, 1.0, &mut rng);
        let dy_last: Array2<f64> = uniform_array((2, h), -1.0, 1.0, &mut rng);
        let mut dy = Array3::zeros((t, 2, h));
        dy.slice_mut(s![t - 1, .., ..]).assign(&dy_last);
        let h0: Array2<f64> = uniform_array((2, h), -0.5, 0.5, &mut rng);
        let zero = Array2::zeros((2, h));

        let rnn = RnnParams::init(i, h, &mut rng);
        let walk = state_grads_of_sequence::<Rnn>(&rnn, x.view(), &h0, &dy_last);
        let (_, _, caches) = forward_seq::<Rnn>(&rnn, x.view(), &h0);
        let (_, _, dh0) = backward_seq::<Rnn>(&rnn, &caches, dy.view(), &zero);
        assert_eq!(walk.len(), t + 1);
        assert_eq!(walk[0], dy_last);
        assert_eq!(walk[t], dh0);

        let gru = GruParams::init(i, h, &mut rng);
        for walk_and_dh0 in [
            {
                let walk =
                    state_grads_of_sequence::<Gru>(&gru, x.view(), &h0, &dy_last);
                let (_, _, c) = forward_seq::<Gru>(&gru, x.view(), &h0);
                (
                    walk[t].clone(),
                    backward_seq::<Gru>(&gru, &c, dy.view(), &zero).2,
                )
            },
            {
                let walk =
                    state_grads_of_sequence::<GruCho>(&gru, x.view(), &h0, &dy_last);
                let (_, _, c) = forward_seq::<GruCho>(&gru, x.view(), &h0);
                (
                    walk[t].clone(),
                    backward_seq::<GruCho>(&gru, &c, dy.view(), &zero).2,
                )
            },
        ] {
            assert_eq!(walk_and_dh0.0, walk_and_dh0.1);
        }

        let lstm = LstmParams::init(i, h, &mut rng);
        let s0 = LstmState {
            h: h0.clone(),
            c: uniform_array((2, h), -0.5, 0.5, &mut rng),
        };
        let ds_last = LstmState {
            h: dy_last.clone(),
            c: zero.clone(),
        };
        let walk = state_grads_of_sequence::<Lstm>(&lstm, x.view(), &s0, &ds_last);
        let (_, _, c) = forward_seq::<Lstm>(&lstm, x.view(), &s0);
        let (_, _, ds0) =
            backward_seq::<Lstm>(&lstm, &c, dy.view(), &LstmState::zeros(2, h));
        assert_eq!(walk[t], ds0);
    }

    /// Every intermediate entry is the `dh0` of `backward_seq` run on the suffix of
    /// the sequence that starts there (the other way to measure the same thing).
    #[test]
    fn every_entry_is_backward_seq_on_the_suffix() {
        let (t, i, h) = (6, 2, 3);
        let mut rng = seeded_rng(51);
        let x: Array3<f64> = uniform_array((t, 1, i), -1.0, 1.0, &mut rng);
        let dy_last: Array2<f64> = uniform_array((1, h), -1.0, 1.0, &mut rng);
        let gru = GruParams::init(i, h, &mut rng);
        let h0 = Array2::zeros((1, h));
        let walk = state_grads_of_sequence::<Gru>(&gru, x.view(), &h0, &dy_last);
        let (y, _, _) = forward_seq::<Gru>(&gru, x.view(), &h0);
        for (k, walked) in walk.iter().enumerate().skip(1) {
            let start = t - k;
            let h_start = if start == 0 {
                h0.clone()
            } else {
                y.slice(s![start - 1, .., ..]).to_owned()
            };
            let suffix = x.slice(s![start.., .., ..]);
            let (_, _, caches) = forward_seq::<Gru>(&gru, suffix, &h_start);
            let mut dy = Array3::zeros((k, 1, h));
            dy.slice_mut(s![k - 1, .., ..]).assign(&dy_last);
            let (_, _, dh) = backward_seq::<Gru>(
                &gru,
                &caches,
                dy.view(),
                &Array2::zeros((1, h)),
            );
            assert_eq!(walked, &dh, "distance {k}");
        }
    }

    #[test]
    fn the_curves_are_reproducible_positive_and_start_at_one() {
        let [a, b] = figure_curves();
        assert_eq!([a.clone(), b.clone()], figure_curves());
        for c in [&a, &b] {
            for (name, norms) in [
                ("rnn", &c.rnn),
                ("lstm_h", &c.lstm_h),
                ("gru", &c.gru),
                ("gru_cho", &c.gru_cho),
            ] {
                assert_eq!(norms.len(), FIGURE_SEQ_LEN + 1, "{name}");
                assert!((norms[0] - 1.0).abs() < 1e-15, "{name}: ‖dy‖ = 1");
                assert!(
                    norms.iter().all(|&n| n > 0.0 && n.is_finite()),
                    "{name}: {norms:?}"
                );
            }
            assert_eq!(c.lstm_c[0], 0.0, "the loss does not read c_T");
            assert!(c.lstm_c[1..].iter().all(|&n| n > 0.0 && n.is_finite()));
        }
    }

    /// At PyTorch's initialisation every gate sits near σ(0) = 1/2, so every cell
    /// forgets geometrically; the RNN forgets fastest. With the remember bias the
    /// gated cells keep the gradient alive over the whole sequence; the RNN's curve
    /// does not change.
    #[test]
    fn the_rnn_forgets_fastest_and_the_remember_bias_rescues_only_the_gated_cells() {
        let [init, remember] = figure_curves();
        let k = FIGURE_SEQ_LEN;
        let rate = |n: &[f64]| factor_per_step(n, 5, 25);
        let rnn = rate(&init.rnn);
        for (name, other) in [
            ("lstm_h", &init.lstm_h),
            ("gru", &init.gru),
            ("gru_cho", &init.gru_cho),
        ] {
            assert!(rnn < rate(other), "{name}: RNN {rnn} vs {}", rate(other));
            assert!(rate(other) < 0.9, "{name} at init still forgets");
            assert!(init.rnn[k] < other[k], "{name} at k = {k}");
        }
        assert!(rnn < 0.6, "the RNN shrinks by about half per step: {rnn}");
        assert_eq!(init.rnn, remember.rnn);
        for (name, before, after) in [
            ("lstm_h", &init.lstm_h, &remember.lstm_h),
            ("lstm_c", &init.lstm_c, &remember.lstm_c),
            ("gru", &init.gru, &remember.gru),
            ("gru_cho", &init.gru_cho, &remember.gru_cho),
        ] {
            assert!(rate(after) > 0.9, "{name}: {}", rate(after));
            assert!(after[k] > 1e6 * before[k], "{name}");
        }
    }

    /// Not one lucky seed: on eight other seeds the RNN still forgets fastest at
    /// PyTorch's init, and with the remember bias the GRU's factor per step is close
    /// to its update gate, `σ(3) ≈ 0.953`, since `∂h_t/∂h_{t-1}` is `z` plus terms
    /// scaled by `1 − z ≈ 0.05`.
    #[test]
    fn the_ordering_holds_on_other_seeds_and_the_gru_keeps_about_z_per_step() {
        let rate = |n: &[f64]| factor_per_step(n, 5, 25);
        for seed in 0..8 {
            let c =
                gradient_norm_curves(40, COMPARE_HIDDEN, COMPARE_INPUT, seed, 0.0);
            for other in [&c.lstm_h, &c.lstm_c, &c.gru, &c.gru_cho] {
                assert!(rate(&c.rnn) < rate(other), "seed {seed}");
            }
            let c = gradient_norm_curves(
                40,
                COMPARE_HIDDEN,
                COMPARE_INPUT,
                seed,
                REMEMBER_BIAS,
            );
            for gru in [&c.gru, &c.gru_cho] {
                let z = ch00_foundations::activations::sigmoid(REMEMBER_BIAS);
                assert!((rate(gru) - z).abs() < 0.015, "seed {seed}: {}", rate(gru));
            }
        }
    }

    #[test]
    fn factor_per_step_of_a_geometric_sequence_is_its_ratio() {
        let norms: Vec<f64> = (0..10).map(|k| 3.0 * 0.5f64.powi(k)).collect();
        assert!((factor_per_step(&norms, 2, 9) - 0.5).abs() < 1e-15);
    }

    #[test]
    #[should_panic(expected = "positive and finite")]
    fn factor_per_step_rejects_a_zero_norm() {
        factor_per_step(&[0.0, 1.0], 0, 1);
    }

    /// The table's counts are the real structs' `num_scalars`, and its flops are two
    /// per weight entry and batch row, read off the real weight shapes.
    #[test]
    fn the_cost_table_matches_the_real_parameter_structs() {
        for (i, h, b) in [(8, 32, 1), (5, 3, 2), (256, 256, 32)] {
            let mut rng = seeded_rng(52);
            let rnn = RnnParams::init(i, h, &mut rng);
            let lstm = LstmParams::init(i, h, &mut rng);
            let gru = GruParams::init(i, h, &mut rng);
            let real = [
                (rnn.num_scalars(), rnn.weight_ih.len() + rnn.weight_hh.len()),
                (
                    lstm.num_scalars(),
                    lstm.weight_ih.len() + lstm.weight_hh.len(),
                ),
                (gru.num_scalars(), gru.weight_ih.len() + gru.weight_hh.len()),
                (gru.num_scalars(), gru.weight_ih.len() + gru.weight_hh.len()),
            ];
            for (row, (scalars, weights)) in cost_table(i, h, b).iter().zip(real) {
                assert_eq!(row.scalars, scalars, "{}", row.cell);
                assert_eq!(row.gemm_flops_per_step, 2 * b * weights, "{}", row.cell);
            }
        }
    }

    /// The numbers the chapter prints for the benchmark's shape, I = H = 256, B =
    /// 32.
    #[test]
    fn the_cost_table_at_the_benchmark_shape() {
        let t = cost_table(256, 256, 32);
        let scalars: Vec<_> = t.iter().map(|r| r.scalars).collect();
        let flops: Vec<_> = t.iter().map(|r| r.gemm_flops_per_step).collect();
        assert_eq!(scalars, [131_584, 526_336, 394_752, 394_752]);
        assert_eq!(flops, [8_388_608, 33_554_432, 25_165_824, 25_165_824]);
        assert_eq!(t.map(|r| r.dependent_hidden_gemms), [1, 1, 1, 2]);
        // A GRU costs 3/4 of an LSTM, in parameters and in flops.
        assert_eq!(4 * t[2].scalars, 3 * t[1].scalars);
    }
}
