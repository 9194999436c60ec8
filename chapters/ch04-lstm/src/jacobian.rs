//! `∂c_t/∂c_{t-1}`: how the cell state at one step depends on the one before, along
//! every path.
//!
//! `c_{t-1}` reaches `c_t` directly (through `f_t ⊙ c_{t-1}`, the carousel), and
//! through `h_{t-1} = o_{t-1} ⊙ tanh(c_{t-1})`, which feeds all four gates of step
//! t. With `W_f`, `W_i`, `W_g` the gate blocks of `weight_hh` (`[H, H]` each), `a_·`
//! the pre-activations of step t, and `diag(v)` the diagonal matrix of a vector:
//!
//! ```text
//! ∂c_t/∂c_{t-1} = diag(f_t)
//!     + [diag(c_{t-1} ⊙ σ'(a_f)) W_f + diag(g_t ⊙ σ'(a_i)) W_i + diag(i_t ⊙ tanh'(a_g)) W_g]
//!       · diag(o_{t-1} ⊙ tanh'(c_{t-1}))
//! ```
//!
//! The last factor is `∂h_{t-1}/∂c_{t-1}`: the first derivative of tanh, not the
//! second. (The output gate of step t does not touch `c_t`.)

use ch00_foundations::activations::{dsigmoid_from_output, dtanh_from_output};
use ch00_foundations::notation::{LSTM_F, LSTM_G, LSTM_I, gate_rows};
use ch02_bptt::driver::Cell;
use ndarray::{Array1, Array2, ArrayView1, Axis, s};

use crate::cell::{Lstm, LstmParams, LstmState};

// ANCHOR: dc_dc_prev
/// `∂c_t/∂c_{t-1}` for one sequence, `[H, H]` (row r: unit r of `c_t`). Shapes:
/// `x_t: [I]`, the previous step's output gate `o_prev: [H]` and cell state
/// `c_prev: [H]`; the previous hidden state is `o_prev ⊙ tanh(c_prev)`.
pub fn dc_dc_prev(
    p: &LstmParams,
    x_t: ArrayView1<f64>,
    o_prev: ArrayView1<f64>,
    c_prev: ArrayView1<f64>,
) -> Array2<f64> {
    // ∂h_{t-1}/∂c_{t-1} is diagonal: o_{t-1} ⊙ tanh'(c_{t-1}).
    let tanh_c = c_prev.mapv(f64::tanh);
    let dh_dc = &o_prev * &tanh_c.mapv(dtanh_from_output);
    dc_dc_prev_given(p, x_t, o_prev, c_prev, dh_dc.view())
}
// ANCHOR_END: dc_dc_prev

/// [`dc_dc_prev`] with a given diagonal of `∂h_{t-1}/∂c_{t-1}` (`dh_dc: [H]`), to
/// try a wrong one.
pub fn dc_dc_prev_given(
    p: &LstmParams,
    x_t: ArrayView1<f64>,
    o_prev: ArrayView1<f64>,
    c_prev: ArrayView1<f64>,
    dh_dc: ArrayView1<f64>,
) -> Array2<f64> {
    // BEGIN SOLUTION ex 4.3: diag(f) plus the path through h_prev, from one step of
    //   the cell
    let hs = p.hidden_size();
    let prev = LstmState {
        h: (&o_prev * &c_prev.mapv(f64::tanh)).insert_axis(Axis(0)),
        c: c_prev.to_owned().insert_axis(Axis(0)),
    };
    let (_, cache) = Lstm::step(p, x_t.insert_axis(Axis(0)), &prev);
    let gate = |k| cache.gates.slice(s![0, gate_rows(k, hs)]).to_owned();
    let (i, f, g) = (gate(LSTM_I), gate(LSTM_F), gate(LSTM_G));
    let w = |k| p.weight_hh.slice(s![gate_rows(k, hs), ..]);
    let rows = |v: Array1<f64>| v.insert_axis(Axis(1)); // scales row r by v_r
    let through_h = &rows(&c_prev * &f.mapv(dsigmoid_from_output)) * &w(LSTM_F)
        + &rows(&g * &i.mapv(dsigmoid_from_output)) * &w(LSTM_I)
        + &rows(&i * &g.mapv(dtanh_from_output)) * &w(LSTM_G);
    // scales column j by dh_dc_j
    let mut jac = through_h * dh_dc.insert_axis(Axis(0));
    jac.diag_mut().zip_mut_with(&f, |d, &fr| *d += fr); // the carousel: diag(f_t)
    jac
    // END SOLUTION
}

#[cfg(test)]
mod tests {
    use super::*;
    use ch00_foundations::rng::{seeded_rng, uniform_array};
    use ch00_foundations::tolerance::assert_arrays_close;

    struct Point {
        p: LstmParams,
        x_t: Array1<f64>,
        o_prev: Array1<f64>,
        c_prev: Array1<f64>,
    }

    fn point(seed: u64) -> Point {
        let mut rng = seeded_rng(seed);
        let (is, hs) = (3, 4);
        let mut p = LstmParams::init(is, hs, &mut rng);
        p.weight_hh *= 2.0;
        Point {
            p,
            x_t: uniform_array(is, -1.0, 1.0, &mut rng),
            o_prev: uniform_array(hs, 0.2, 0.9, &mut rng),
            c_prev: uniform_array(hs, -1.5, 1.5, &mut rng),
        }
    }

    /// `c_t` as a function of `c_{t-1}`, with `h_{t-1} = o_{t-1} ⊙ tanh(c_{t-1})`.
    fn c_next(q: &Point, c_prev: &Array1<f64>) -> Array1<f64> {
        let prev = LstmState {
            h: (&q.o_prev * &c_prev.mapv(f64::tanh)).insert_axis(Axis(0)),
            c: c_prev.clone().insert_axis(Axis(0)),
        };
        let (next, _) = Lstm::step(&q.p, q.x_t.view().insert_axis(Axis(0)), &prev);
        next.c.row(0).to_owned()
    }

    /// Central differences, column by column.
    fn numeric_jacobian(q: &Point) -> Array2<f64> {
        let hs = q.c_prev.len();
        let eps = ch00_foundations::tolerance::GRAD_CHECK_EPS;
        let mut jac = Array2::zeros((hs, hs));
        for j in 0..hs {
            let (mut up, mut down) = (q.c_prev.clone(), q.c_prev.clone());
            up[j] += eps;
            down[j] -= eps;
            let col = (c_next(q, &up) - c_next(q, &down)) / (2.0 * eps);
            jac.column_mut(j).assign(&col);
        }
        jac
    }

    #[test]
    fn the_jacobian_matches_central_differences() {
        for seed in 100..103 {
            let q = point(seed);
            let jac =
                dc_dc_prev(&q.p, q.x_t.view(), q.o_prev.view(), q.c_prev.view());
            assert_arrays_close(
                "dc/dc_prev",
                &jac,
                &numeric_jacobian(&q),
                1e-9,
                1e-7,
            );
        }
    }

    /// Source post 003 writes `∂h_{t-1}/∂c_{t-1}` with tanh'' where tanh' belongs.
    /// That Jacobian is far from the true one.
    #[test]
    fn with_the_second_derivative_of_tanh_the_jacobian_is_wrong() {
        let q = point(100);
        let t = q.c_prev.mapv(f64::tanh);
        let tanh_second = t.mapv(|t| -2.0 * t * (1.0 - t * t));
        let wrong = dc_dc_prev_given(
            &q.p,
            q.x_t.view(),
            q.o_prev.view(),
            q.c_prev.view(),
            (&q.o_prev * &tanh_second).view(),
        );
        let diff = (&wrong - &numeric_jacobian(&q))
            .mapv(f64::abs)
            .fold(0.0, |a: f64, &b| a.max(b));
        assert!(diff > 1e-2, "{diff}");
    }

    /// Without recurrent weights only the carousel is left:
    /// `∂c_t/∂c_{t-1} = diag(f_t)`.
    #[test]
    fn without_recurrent_weights_the_jacobian_is_the_forget_gate() {
        let mut q = point(101);
        q.p.weight_hh.fill(0.0);
        let jac = dc_dc_prev(&q.p, q.x_t.view(), q.o_prev.view(), q.c_prev.view());
        let prev = LstmState {
            h: Array2::zeros((1, 4)),
            c: q.c_prev.clone().insert_axis(Axis(0)),
        };
        let (_, cache) = Lstm::step(&q.p, q.x_t.view().insert_axis(Axis(0)), &prev);
        let f = cache.gates.slice(s![0, gate_rows(LSTM_F, 4)]).to_owned();
        assert_eq!(jac, Array2::from_diag(&f));
    }
}
