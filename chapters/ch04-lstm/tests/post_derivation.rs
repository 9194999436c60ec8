//! Post 4's own derivation of the LSTM backward, equation by equation, against the
//! true gradient (chapter 4, "Three wrong equations in the derivation").
//!
//! The post derives the error `δ_k = ∂E/∂h_k` in three steps, and each is wrong:
//!
//! - (a) its recursion sends the error back through `h` alone,
//!   `δ_{t-1}ᵀ = δ_tᵀ ∂h_t/∂h_{t-1}`, with no path through the cell state;
//! - (b) it expands `δ_tᵀ ∂h_t/∂h_{t-1}` into three terms (o, f, i) and drops the
//!   candidate's;
//! - (c) it writes the error `t - k` steps back as a product over the steps of
//!   one-step sums.
//!
//! Every derivative here is written out from the gate values of the forward pass, in
//! the post's column form, so these tests use no exercise's solution and pass in the
//! student edition too. The true gradient is checked against central differences of
//! the loss `L = Σ h_T ⊙ g`, computed with the cell's forward.

use ch00_foundations::gradcheck::rel_error;
use ch00_foundations::tolerance::{GRAD_CHECK_EPS, GRAD_CHECK_RTOL};
use ch04_lstm::LstmState;
use ch04_lstm::errata::PortCase;
use ch04_lstm::source_port::{self, SourceParams, SourceTrace};
use ndarray::{Array1, Array2, Axis, s};

/// One step's Jacobians of the state `(h_j, c_j)` with respect to
/// `(h_{j-1}, c_{j-1})`, per sequence, in column form (row r is unit r of the
/// output).
struct StepJacobians {
    /// `∂h_j/∂h_{j-1}` with `c_{j-1}` held fixed: `[H, H]`. It includes the path
    /// through `c_j`.
    dh_dh: Array2<f64>,
    /// `∂h_j/∂c_{j-1} = diag(o_j ⊙ (1 - tanh² c_j) ⊙ f_j)`: its diagonal, `[H]`.
    dh_dc: Array1<f64>,
    /// `∂c_j/∂h_{j-1}`, through the gates f, i and (if kept) the candidate:
    /// `[H, H]`.
    dc_dh: Array2<f64>,
    /// `∂c_j/∂c_{j-1} = diag(f_j)`, the carousel: its diagonal, `[H]`.
    dc_dc: Array1<f64>,
}

fn col(v: &Array2<f64>) -> Array1<f64> {
    v.column(0).to_owned()
}

/// `diag(v) W`: scales row r of `w` by `v_r`.
fn rows(v: Array1<f64>, w: &Array2<f64>) -> Array2<f64> {
    w * &v.insert_axis(Axis(1))
}

/// The Jacobians of step `j` (`1..=T`). With `candidate = false`, the candidate's
/// path from `h_{j-1}` (through `W_ch`) is left out, as in the post's three-term
/// expansion.
fn jacobians(
    p: &SourceParams,
    tr: &SourceTrace,
    j: usize,
    candidate: bool,
) -> StepJacobians {
    let (i, f, o, g) = (col(&tr.i[j]), col(&tr.f[j]), col(&tr.o[j]), col(&tr.ct[j]));
    let (c, c_prev) = (col(&tr.c[j]), col(&tr.c[j - 1]));
    let tc = c.mapv(f64::tanh);
    let dtc = tc.mapv(|t| 1.0 - t * t); // tanh'(c_j)
    let ds = |s: &Array1<f64>| s.mapv(|s| s * (1.0 - s)); // σ' from the gate's value
    let mut dc_dh = rows(&c_prev * &ds(&f), &p.f.wh) + rows(&g * &ds(&i), &p.i.wh);
    if candidate {
        dc_dh += &rows(&i * &g.mapv(|g| 1.0 - g * g), &p.c.wh);
    }
    let dh_dh = rows(&tc * &ds(&o), &p.o.wh) + rows(&o * &dtc, &dc_dh);
    StepJacobians {
        dh_dh,
        dh_dc: &o * &dtc * &f,
        dc_dh,
        dc_dc: f,
    }
}

/// How the error is sent back.
#[derive(Debug, Clone, Copy)]
struct Recursion {
    /// Carry `δc` back along the cell state (false: the post's
    /// `δ_{t-1}ᵀ = δ_tᵀ ∂h_t/∂h_{t-1}`).
    carry_c: bool,
    /// Keep the candidate's term (false: the post's three-term expansion).
    candidate: bool,
}

const TRUE: Recursion = Recursion {
    carry_c: true,
    candidate: true,
};
/// (a) alone: through `h` only, all four gate terms.
const H_ONLY: Recursion = Recursion {
    carry_c: false,
    candidate: true,
};
/// (b) alone: the cell-state path kept, the candidate's term dropped.
const NO_CANDIDATE: Recursion = Recursion {
    carry_c: true,
    candidate: false,
};

struct Walk {
    /// `δh_k = ∂L/∂h_k` for `k = 0..=T` (index k), `[H]` each.
    dh: Vec<Array1<f64>>,
    /// `δc_0`, the carried error of `c_0` (zero when it is not carried).
    dc0: Array1<f64>,
}

/// Walks back from `δh_T = g`, `δc_T = 0` with the given recursion.
fn walk(case: &PortCase, rec: Recursion) -> Walk {
    let sp = SourceParams::from_lstm(&case.params);
    let tr = source_port::forward(&sp, case.x.view(), &case.s0);
    let steps = tr.steps();
    let mut dh = vec![Array1::zeros(0); steps + 1];
    dh[steps] = case.dh_last.row(0).to_owned();
    let mut dc = Array1::zeros(dh[steps].len());
    for j in (1..=steps).rev() {
        let jac = jacobians(&sp, &tr, j, rec.candidate);
        let mut prev = jac.dh_dh.t().dot(&dh[j]);
        if rec.carry_c {
            prev += &jac.dc_dh.t().dot(&dc);
            dc = &jac.dh_dc * &dh[j] + &jac.dc_dc * &dc;
        }
        dh[j - 1] = prev;
    }
    Walk { dh, dc0: dc }
}

/// Central differences of `L = Σ h_T ⊙ g` with respect to `h_0` and `c_0`.
fn numeric_state_grads(case: &PortCase) -> (Array1<f64>, Array1<f64>) {
    let hs = case.s0.h.ncols();
    let diff = |which: usize, u: usize| {
        let at = |delta: f64| {
            let mut s0: LstmState = case.s0.clone();
            let a = if which == 0 { &mut s0.h } else { &mut s0.c };
            a[[0, u]] += delta;
            case.loss(&case.params, &s0)
        };
        (at(GRAD_CHECK_EPS) - at(-GRAD_CHECK_EPS)) / (2.0 * GRAD_CHECK_EPS)
    };
    (
        (0..hs).map(|u| diff(0, u)).collect(),
        (0..hs).map(|u| diff(1, u)).collect(),
    )
}

fn norm(a: &Array1<f64>) -> f64 {
    a.dot(a).sqrt()
}

/// `‖a - b‖ / ‖b‖`.
fn rel_norm(a: &Array1<f64>, b: &Array1<f64>) -> f64 {
    norm(&(a - b)) / norm(b)
}

/// The largest relative error (chapter 0's `rel_error`) of `a` against `b`.
fn max_rel(a: &Array1<f64>, b: &Array1<f64>) -> f64 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| rel_error(x, y))
        .fold(0.0, f64::max)
}

/// The walk with every term is the true gradient: it agrees with central differences
/// at `h_0` and `c_0` on the chapter's case and on two others.
#[test]
fn the_state_recursion_with_both_paths_is_the_true_gradient() {
    for case in [
        PortCase::standard(),
        PortCase::random(80, 8, 2, 5),
        PortCase::random(81, 3, 4, 1),
    ] {
        let w = walk(&case, TRUE);
        let (num_h, num_c) = numeric_state_grads(&case);
        assert!(max_rel(&w.dh[0], &num_h) < GRAD_CHECK_RTOL, "{}", w.dh[0]);
        assert!(max_rel(&w.dc0, &num_c) < GRAD_CHECK_RTOL, "{}", w.dc0);
    }
}

/// (a) The post's recursion `δ_{t-1}ᵀ = δ_tᵀ ∂h_t/∂h_{t-1}` has no path through the
/// cell state. One step back it is still exact: at the last step there is no later
/// cell state to carry from. From two steps back it is wrong: on the chapter's case
/// (T = 6) its `δh_4` has norm 1.03e-2 against the true 2.76e-2, and its `δh_0` is
/// about 4100 times too small (norm 2.6e-7 against 1.09e-3): without the carousel
/// the gradient dies. It is what the post's code computes (bug 4 of the chapter's
/// errata table).
#[test]
fn a_the_recursion_through_h_alone_is_exact_one_step_back_and_wrong_from_two() {
    let case = PortCase::standard();
    let steps = case.x.dim().0;
    let (truth, h_only) = (walk(&case, TRUE), walk(&case, H_ONLY));
    assert_eq!(h_only.dh[steps - 1], truth.dh[steps - 1]);
    assert!(rel_norm(&h_only.dh[steps - 2], &truth.dh[steps - 2]) > 0.5);
    let (t2, a2) = (norm(&truth.dh[steps - 2]), norm(&h_only.dh[steps - 2]));
    assert!(
        (t2 - 2.76e-2).abs() < 1e-4 && (a2 - 1.03e-2).abs() < 1e-4,
        "{t2} {a2}"
    );
    let (t0, a0) = (norm(&truth.dh[0]), norm(&h_only.dh[0]));
    assert!((t0 - 1.089e-3).abs() < 1e-6, "{t0}");
    assert!((a0 - 2.640e-7).abs() < 1e-10, "{a0}");
    assert!((t0 / a0 - 4125.0).abs() < 5.0, "{}", t0 / a0);
}

/// (b) The post expands `δ_tᵀ ∂h_t/∂h_{t-1}` into the paths through o, f and i, and
/// drops the candidate's (through `W_ch`). Dropped alone, with the cell-state path
/// kept, the error is wrong from the first step back: on the chapter's case
/// `‖δh_5 - δh_5^true‖` is 0.71 of `‖δh_5^true‖`, and at `h_0` it is 1.52 of it.
#[test]
fn b_dropping_the_candidates_term_changes_the_gradient() {
    let case = PortCase::standard();
    let steps = case.x.dim().0;
    let (truth, three) = (walk(&case, TRUE), walk(&case, NO_CANDIDATE));
    let err = |k: usize| rel_norm(&three.dh[k], &truth.dh[k]);
    assert!((err(steps - 1) - 0.711).abs() < 5e-4, "{}", err(steps - 1));
    assert!((err(0) - 1.524).abs() < 5e-4, "{}", err(0));
}

/// (c) The post writes `δ_k` as a product over the steps of the one-step sums
/// `δ_{o,j}ᵀ W_oh + δ_{f,j}ᵀ W_fh + δ_{i,j}ᵀ W_ih + δ_{c̃,j}ᵀ W_ch`. Each sum is a
/// row `[1, H]` (the error it sends one step back), so for H > 1 the product is not
/// defined. With one unit it is a product of numbers, and still wrong. On a one-unit
/// case with T = 3 the true `δh_0` is 2.22e-3 and the product -1.10e-5: the wrong
/// sign, 200 times too small. A gradient is linear in the error at the end; a
/// product of T factors, each linear in it, scales with its T-th power. Doubling `g`
/// doubles the true `δh_0`, exactly, and multiplies the product by 2³ = 8.
#[test]
fn c_a_product_of_one_step_sums_is_not_the_error_k_steps_back() {
    let mut case = PortCase::random(81, 3, 4, 1);
    let product = |case: &PortCase| {
        // With the post's own error terms (through h), the sum at step j is
        // δh_{j-1}.
        let w = walk(case, H_ONLY);
        w.dh[..3].iter().map(|d| d[0]).product::<f64>()
    };
    let (d0, p0) = (walk(&case, TRUE).dh[0][0], product(&case));
    assert!((d0 - 2.218e-3).abs() < 1e-6, "{d0}");
    assert!((p0 + 1.101e-5).abs() < 1e-8, "{p0}");
    case.dh_last *= 2.0;
    assert_eq!(walk(&case, TRUE).dh[0][0], 2.0 * d0);
    assert_eq!(product(&case), 8.0 * p0);
}

/// (c), what is right: the Jacobians multiply and the error appears once,
/// `[δh_0ᵀ, δc_0ᵀ] = [δh_Tᵀ, δc_Tᵀ] J_T J_{T-1} ⋯ J_1`, with `J_j` the `[2H, 2H]`
/// Jacobian of the state `(h_j, c_j)` with respect to `(h_{j-1}, c_{j-1})`. The
/// product of the six Jacobians of the chapter's case gives the true gradient of
/// `h_0` and `c_0`.
#[test]
fn c_the_product_of_the_state_jacobians_gives_the_true_gradient() {
    let case = PortCase::standard();
    let sp = SourceParams::from_lstm(&case.params);
    let tr = source_port::forward(&sp, case.x.view(), &case.s0);
    let hs = case.s0.h.ncols();
    let block = |jac: &StepJacobians| {
        let mut m = Array2::zeros((2 * hs, 2 * hs));
        m.slice_mut(s![..hs, ..hs]).assign(&jac.dh_dh);
        m.slice_mut(s![..hs, hs..])
            .assign(&Array2::from_diag(&jac.dh_dc));
        m.slice_mut(s![hs.., ..hs]).assign(&jac.dc_dh);
        m.slice_mut(s![hs.., hs..])
            .assign(&Array2::from_diag(&jac.dc_dc));
        m
    };
    // J_T ⋯ J_1, the Jacobian of (h_T, c_T) with respect to (h_0, c_0).
    let mut chain: Array2<f64> = Array2::eye(2 * hs);
    for j in 1..=tr.steps() {
        chain = block(&jacobians(&sp, &tr, j, true)).dot(&chain);
    }
    let mut end = Array1::zeros(2 * hs);
    end.slice_mut(s![..hs]).assign(&case.dh_last.row(0)); // [δh_T, δc_T = 0]
    let start = chain.t().dot(&end);
    let (num_h, num_c) = numeric_state_grads(&case);
    assert!(max_rel(&start.slice(s![..hs]).to_owned(), &num_h) < GRAD_CHECK_RTOL);
    assert!(max_rel(&start.slice(s![hs..]).to_owned(), &num_c) < GRAD_CHECK_RTOL);
}
