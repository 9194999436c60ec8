//! Tests behind the chapter's corrections of the source posts' LSTM/GRU explainer.
//! Each runs the book's real cells (chapter 4's LSTM, this chapter's GRU) where the
//! claim is a computation.

use ch00_foundations::activations::sigmoid;
use ch00_foundations::notation::{GRU_Z, gate_rows};
use ch00_foundations::rng::{seeded_rng, uniform_array};
use ch00_foundations::tolerance::assert_arrays_close;
use ch02_bptt::driver::{Cell, forward_seq};
use ch02_bptt::problem::Problem;
use ch04_lstm::{Lstm, LstmParams, LstmState};
use ndarray::{Array1, Array2, Array3, Axis, array, concatenate, s};

use crate::cell::{Gru, GruParams};

/// The sigmoid is the logistic function. It is tanh shifted and rescaled,
/// `σ(x) = (1 + tanh(x/2)) / 2`, but it is not itself a hyperbolic function, and the
/// differences are the ones a gate needs: values in (0, 1), `σ(0) = 1/2`, and
/// `σ(−x) = 1 − σ(x)` where tanh is odd.
#[test]
fn sigmoid_is_a_shifted_and_scaled_tanh_with_other_values() {
    for k in -400..=400 {
        let x = k as f64 / 20.0;
        let via_tanh = 0.5 * (1.0 + (0.5 * x).tanh());
        assert!((sigmoid(x) - via_tanh).abs() < 1e-15, "x = {x}");
        assert!((sigmoid(-x) - (1.0 - sigmoid(x))).abs() < 1e-15);
        assert_eq!((-x).tanh(), -x.tanh());
        assert!((0.0..=1.0).contains(&sigmoid(x)));
    }
    assert_eq!(sigmoid(0.0), 0.5);
    assert_eq!(0.0f64.tanh(), 0.0);
}

/// A gate multiplies entry by entry: `f ⊙ c` keeps unit 0, drops unit 1 and keeps
/// unit 2. A dot product `f · c` is one number per sequence, with the units summed
/// together.
#[test]
fn a_gate_multiplies_element_wise_a_dot_product_sums_the_units() {
    let f = array![1.0, 0.0, 1.0];
    let c = array![2.0, 5.0, -1.0];
    assert_eq!(&f * &c, array![2.0, 0.0, -1.0]);
    assert_eq!(f.dot(&c), 1.0);
}

/// The real GRU step gates each unit on its own: with `z = 1` on units 0 and 2
/// (σ(1000) is exactly 1) those units keep `h_{t-1}` exactly, while units 1 and 3
/// (`z = 0`) take the candidate, the same as when every `z` is 0.
#[test]
fn the_gru_update_gate_acts_unit_by_unit() {
    let mut rng = seeded_rng(73);
    let mut p = GruParams::init(3, 4, &mut rng);
    let x: Array3<f64> = uniform_array((1, 2, 3), -1.0, 1.0, &mut rng);
    let h0: Array2<f64> = uniform_array((2, 4), -0.8, 0.8, &mut rng);
    let z = gate_rows(GRU_Z, 4);
    let mut z_bias = Array1::from(vec![1000.0, -1000.0, 1000.0, -1000.0]);
    p.bias_ih.slice_mut(s![z.clone()]).assign(&z_bias);
    let (mixed, _) = Gru::step(&p, x.index_axis(Axis(0), 0), &h0);
    z_bias.fill(-1000.0);
    p.bias_ih.slice_mut(s![z]).assign(&z_bias);
    let (all_new, _) = Gru::step(&p, x.index_axis(Axis(0), 0), &h0);
    for unit in [0, 2] {
        assert_eq!(mixed.column(unit), h0.column(unit));
        assert_ne!(all_new.column(unit), h0.column(unit));
    }
    for unit in [1, 3] {
        assert_eq!(mixed.column(unit), all_new.column(unit));
    }
}

/// The source posts' loop unpacks the cell's `(h, c)` into `(ct, ht)`. After the
/// first step the variable called `ht` holds the cell state, and from the second
/// step on the cell reads `c` as `h` and `h` as `c`: a different recurrence.
#[test]
fn swapping_c_and_h_in_the_loop_changes_the_recurrence() {
    let (t, b, h) = (6, 2, 4);
    let Problem { p, x, .. } =
        Problem::<4>::random(&mut seeded_rng(74), (t, b, 3, h), 1.0, 0.5);
    let s0 = LstmState::zeros(b, h);

    // ANCHOR: swapped_loop
    // The source posts' loop, on chapter 4's real step.
    let (mut ct, mut ht) = (s0.c.clone(), s0.h.clone());
    let mut named_ht = Vec::new();
    let mut named_ct = Vec::new();
    for x_t in x.outer_iter() {
        let (next, _) = Lstm::step(&p, x_t, &LstmState { h: ht, c: ct });
        // the cell returns (h, c); the loop names them (c, h)
        (ct, ht) = (next.h, next.c);
        named_ht.push(ht.clone());
        named_ct.push(ct.clone());
    }
    // ANCHOR_END: swapped_loop

    // The right loop: forward_seq, with every state's c kept from its steps.
    let (y, _, caches) = forward_seq::<Lstm>(&p, x.view(), &s0);
    let mut states = Vec::new();
    let mut s = s0.clone();
    for x_t in x.outer_iter() {
        s = Lstm::step(&p, x_t, &s).0;
        states.push(s.clone());
    }
    assert_eq!(caches.len(), t);
    // Step 1 starts from zeros, so it computes the right values under the wrong
    // names.
    assert_eq!(named_ct[0], y.index_axis(Axis(0), 0));
    assert_eq!(named_ht[0], states[0].c);
    // From step 2 on the swapped loop feeds c where h belongs: the states differ.
    for (k, named) in named_ct.iter().enumerate().skip(1) {
        let d = (named - &y.index_axis(Axis(0), k))
            .iter()
            .fold(0.0f64, |m, v| m.max(v.abs()));
        assert!(d > 1e-3, "step {}: max |Δh| = {d}", k + 1);
    }
}

/// One matrix on the concatenation `[x, h]` is exactly our two matrices
/// `W_ih x + W_hh h` (PyTorch's split layout): concatenating is what the equations
/// mean.
#[test]
fn one_matrix_on_the_concatenation_is_w_ih_x_plus_w_hh_h() {
    let mut rng = seeded_rng(75);
    let (b, i, h) = (2, 5, 3);
    let p = LstmParams::init(i, h, &mut rng);
    let x_t: Array2<f64> = uniform_array((b, i), -1.0, 1.0, &mut rng);
    let s = LstmState {
        h: uniform_array((b, h), -0.8, 0.8, &mut rng),
        c: uniform_array((b, h), -1.0, 1.0, &mut rng),
    };
    let concatenated = LstmParams {
        weight_ih: concatenate![Axis(1), p.weight_ih, p.weight_hh], // [4H, I + H]
        weight_hh: Array2::zeros((4 * h, h)),
        ..p.clone()
    };
    let xh = concatenate![Axis(1), x_t, s.h]; // [B, I + H]
    let no_h = LstmState {
        h: Array2::zeros((b, h)),
        c: s.c.clone(),
    };
    let (via_concat, _) = Lstm::step(&concatenated, xh.view(), &no_h);
    let (ours, _) = Lstm::step(&p, x_t.view(), &s);
    assert_arrays_close("h", &via_concat.h, &ours.h, 1e-15, 1e-14);
    assert_arrays_close("c", &via_concat.c, &ours.c, 1e-15, 1e-14);
}

/// Adding instead, `W (h + x)`, is the special case `W_ih = W_hh = W`: a tied cell
/// that cannot tell its input from its state (swap them and nothing changes), which
/// the real cell can.
#[test]
fn adding_h_and_x_ties_w_ih_to_w_hh_and_cannot_tell_them_apart() {
    let mut rng = seeded_rng(76);
    let (b, h) = (2, 3);
    let p = LstmParams::init(h, h, &mut rng); // the sum needs I = H
    let a: Array2<f64> = uniform_array((b, h), -1.0, 1.0, &mut rng);
    let e: Array2<f64> = uniform_array((b, h), -1.0, 1.0, &mut rng);
    let c: Array2<f64> = uniform_array((b, h), -1.0, 1.0, &mut rng);
    let state = |h: &Array2<f64>| LstmState {
        h: h.clone(),
        c: c.clone(),
    };
    let added = LstmParams {
        weight_hh: Array2::zeros((4 * h, h)),
        ..p.clone()
    };
    let tied = LstmParams {
        weight_hh: p.weight_ih.clone(),
        ..p.clone()
    };
    let (sum_cell, _) =
        Lstm::step(&added, (&a + &e).view(), &state(&Array2::zeros((b, h))));
    let (tied_cell, _) = Lstm::step(&tied, a.view(), &state(&e));
    assert_arrays_close("h", &sum_cell.h, &tied_cell.h, 1e-15, 1e-14);
    // x = a, h = e against x = e, h = a.
    let (swapped, _) = Lstm::step(&tied, e.view(), &state(&a));
    assert_arrays_close("h", &swapped.h, &tied_cell.h, 1e-15, 1e-14);
    let (real, _) = Lstm::step(&p, a.view(), &state(&e));
    let (real_swapped, _) = Lstm::step(&p, e.view(), &state(&a));
    let d = (&real.h - &real_swapped.h)
        .iter()
        .fold(0.0f64, |m, v| m.max(v.abs()));
    assert!(d > 1e-2, "the real cell tells x from h: max |Δh| = {d}");
}

/// With `I ≠ H` the sum `h + x` is not even defined, while the concatenation is
/// `[B, I + H]`.
#[test]
#[should_panic(expected = "incompatible shapes")]
fn adding_h_and_x_of_different_sizes_is_undefined() {
    let h: Array2<f64> = Array2::zeros((1, 3));
    let x: Array2<f64> = Array2::zeros((1, 5));
    assert_eq!(concatenate![Axis(1), x, h].dim(), (1, 8));
    let _ = &h + &x;
}
