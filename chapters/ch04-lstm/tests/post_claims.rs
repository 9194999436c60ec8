//! Two claims of the source posts about the LSTM's update, run on the book's LSTM
//! step (chapter 4, "What the other source posts get wrong").
//!
//! The cell here has no weights, and its biases open the input and forget gates wide
//! (+1000, so `σ` is exactly 1 in `f64`), set the candidate to `tanh(1000) = 1`, and
//! leave the output gate at `σ(0) = 1/2`. From `c_0 = 0`, each step adds 1 to the
//! cell state.

use ch02_bptt::driver::Cell;
use ch04_lstm::{Lstm, LstmParams, LstmState};
use ndarray::{Array1, Array2};

/// Runs the open-gate cell for `steps` steps from zero: `(c_T, h_T, i_T + f_T)` of
/// its one unit.
fn open_gates(steps: usize) -> (f64, f64, f64) {
    let p = LstmParams {
        weight_ih: Array2::zeros((4, 1)),
        weight_hh: Array2::zeros((4, 1)),
        // rows i, f, g, o
        bias_ih: Array1::from(vec![1000.0, 1000.0, 1000.0, 0.0]),
        bias_hh: Array1::zeros(4),
    };
    let x = Array2::zeros((1, 1));
    let mut state = LstmState::zeros(1, 1);
    let mut weights = 0.0;
    for _ in 0..steps {
        let (next, cache) = Lstm::step(&p, x.view(), &state);
        weights = cache.gates[[0, 0]] + cache.gates[[0, 1]]; // i + f
        state = next;
    }
    (state.c[[0, 0]], state.h[[0, 0]], weights)
}

/// Post 1 calls the update, with an open gate, a weighted average of the old and the
/// new information. The input and forget gates are two gates, not one weight and its
/// complement: here both are 1, their weights add up to 2, and after 1000 steps
/// `c = 1000`. A weighted average of `c_{t-1}` and `g_t = 1` (weights adding up to
/// 1) could never leave `[0, 1]` from `c_0 = 0`.
#[test]
fn with_both_gates_open_the_update_is_a_sum_not_an_average() {
    let (c, _, weights) = open_gates(1000);
    assert_eq!(weights, 2.0);
    assert_eq!(c, 1000.0);
}

/// One sentence of post 2 makes the new hidden state the output gate times the new
/// cell state. The cell squashes the cell state first, `h_t = o_t ⊙ tanh(c_t)`, so
/// `h` stays in `(-1, 1)`: here `h = 0.5` while `o ⊙ c = 500`.
#[test]
fn the_hidden_state_is_the_output_gate_times_tanh_of_c_not_times_c() {
    let (c, h, _) = open_gates(1000);
    assert_eq!(h, 0.5);
    assert_eq!(0.5 * c, 500.0);
}
