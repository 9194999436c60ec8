//! Vanishing and exploding gradients, measured with chapter 2's backward pass.
//!
//! The loss reads only the last state, `L = dy · h_T`. Its gradient at an earlier
//! state is
//!
//! ```text
//! ∂L/∂h_t = dy · ∂h_T/∂h_t,   ∂h_T/∂h_t = diag(1 − h_T²) W_hh · … · diag(1 − h_{t+1}²) W_hh
//! ```
//!
//! a product of `k = T − t` factors. This module builds RNNs whose `W_hh` has a
//! chosen spectral radius `ρ`, runs them in two regimes (tanh nearly linear, or
//! saturated), and measures `‖∂L/∂h_t‖` against the distance `k` with
//! [`ch02_bptt::backward()`].
//!
//! The module uses no other part of this crate, so the book's builder can compile it
//! as it is to draw the chapter's figure.

use ch00_foundations::rng::{seeded_rng, uniform_array};
use ch01_rnn::cell::{RnnCache, RnnParams, forward};
use ch02_bptt::backward::backward;
use ndarray::{Array2, Array3, ArrayView2, ArrayView3, Axis, s};

/// Hidden size `H` of the RNNs in the measurements.
pub const DYNAMICS_HIDDEN: usize = 32;
/// Input size `I` of the RNNs in the measurements.
pub const DYNAMICS_INPUT: usize = 8;
/// The spectral radii drawn in the chapter's figure: below, at and above 1.
pub const FIGURE_RHOS: [f64; 3] = [0.8, 1.0, 1.2];
/// Sequence length `T` of the chapter's figure: distances `k = 0 … T`.
pub const FIGURE_SEQ_LEN: usize = 60;
/// Seed of the weights and inputs of the figure (the same for every `ρ` and both
/// regimes).
pub const FIGURE_SEED: u64 = 3;
/// Input scale of the linear regime: entries of `x` lie in `[−s, s]`, so every
/// `|h| ≪ 1`.
pub const LINEAR_INPUT_SCALE: f64 = 1e-6;
/// Input scale of the saturated regime: with these inputs about one `h` in five has
/// `|h| > 0.95`, and the mean slope `1 − h²` is about 0.49 (see
/// `examples/gradient_norms.rs`).
pub const SATURATED_INPUT_SCALE: f64 = 8.0;

/// How hard the inputs drive the tanh.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Regime {
    /// Tiny inputs, zero biases, `h_0 = 0`: every `|h| ≪ 1`, so
    /// `tanh' = 1 − h² ≈ 1`.
    Linear,
    /// Large inputs and PyTorch's random biases: many `|h|` near 1, so many
    /// `1 − h² ≪ 1`.
    Saturated,
}

// ANCHOR: symmetric_eigenvalues
/// The eigenvalues of a **symmetric** matrix, in ascending order, by Jacobi's
/// method.
///
/// Each rotation zeroes one off-diagonal pair; sweeps over every pair repeat until
/// the matrix is diagonal to rounding, and the diagonal is then the spectrum. A few
/// sweeps suffice for `H = 32`. Shapes: `w: [H, H]` → `H` eigenvalues.
///
/// # Panics
/// If `w` is not square and symmetric (a programmer error).
pub fn symmetric_eigenvalues(w: ArrayView2<f64>) -> Vec<f64> {
    let n = w.nrows();
    assert_eq!(w.dim(), (n, n), "symmetric_eigenvalues: W must be square");
    assert!(
        w.indexed_iter().all(|((i, j), &v)| v == w[[j, i]]),
        "symmetric_eigenvalues: W must be symmetric"
    );
    // row-major: a[i * n + j] = W[i, j]
    let mut a: Vec<f64> = w.iter().copied().collect();
    let total: f64 = a.iter().map(|v| v * v).sum();
    let mut last_off = f64::INFINITY;
    loop {
        let off: f64 = (0..n * n)
            .filter(|ij| ij / n != ij % n)
            .map(|ij| a[ij] * a[ij])
            .sum();
        // Done when the off-diagonal part is rounding noise, or has stopped
        // shrinking.
        if off <= f64::EPSILON * f64::EPSILON * total || off >= last_off {
            break;
        }
        last_off = off;
        for p in 0..n {
            for q in p + 1..n {
                let apq = a[p * n + q];
                if apq == 0.0 {
                    continue;
                }
                // The rotation in the (p, q) plane with tan φ = t makes a[p, q]
                // zero.
                let theta = (a[q * n + q] - a[p * n + p]) / (2.0 * apq);
                let t =
                    theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..n {
                    let (akp, akq) = (a[k * n + p], a[k * n + q]); // columns p and q
                    a[k * n + p] = c * akp - s * akq;
                    a[k * n + q] = s * akp + c * akq;
                }
                for k in 0..n {
                    let (apk, aqk) = (a[p * n + k], a[q * n + k]); // rows p and q
                    a[p * n + k] = c * apk - s * aqk;
                    a[q * n + k] = s * apk + c * aqk;
                }
            }
        }
    }
    let mut eigenvalues: Vec<f64> = (0..n).map(|i| a[i * n + i]).collect();
    eigenvalues.sort_by(f64::total_cmp);
    eigenvalues
}
// ANCHOR_END: symmetric_eigenvalues

// ANCHOR: spectral_radius
/// The spectral radius `max |λ|` of a symmetric matrix. For a symmetric matrix it is
/// also the spectral norm `‖W‖ = max ‖W v‖ / ‖v‖`. Shapes: `w: [H, H]`.
pub fn spectral_radius_symmetric(w: ArrayView2<f64>) -> f64 {
    symmetric_eigenvalues(w)
        .into_iter()
        .fold(0.0, |m, l| m.max(l.abs()))
}
// ANCHOR_END: spectral_radius

// ANCHOR: symmetric_with_radius
/// `W_hh` made symmetric, `(A + Aᵀ)/2`, then rescaled to spectral radius `rho`.
///
/// A symmetric matrix has real eigenvalues and orthogonal eigenvectors, so its
/// spectral radius equals its spectral norm: `ρ` is both the long-run growth rate of
/// `W^k` and the bound `‖W^k v‖ ≤ ρ^k ‖v‖`. Shapes: `a: [H, H]` → `[H, H]`.
pub fn symmetric_with_radius(a: ArrayView2<f64>, rho: f64) -> Array2<f64> {
    let sym = (&a + &a.t()) * 0.5;
    let radius = spectral_radius_symmetric(sym.view());
    sym * (rho / radius)
}
// ANCHOR_END: symmetric_with_radius

/// One measurement: an RNN, an input sequence, and the loss's gradient at the last
/// state.
#[derive(Debug, Clone)]
pub struct DynamicsCase {
    /// The RNN, with a symmetric `W_hh` of spectral radius `ρ`.
    pub params: RnnParams,
    /// Inputs `x: [T, 1, I]`.
    pub x: Array3<f64>,
    /// Initial state `h_0: [1, H]`.
    pub h0: Array2<f64>,
    /// `dy = ∂L/∂h_T: [1, H]`, a random unit vector.
    pub dy_last: Array2<f64>,
}

/// Builds the RNN and inputs for spectral radius `rho` in `regime`, with `seq_len`
/// steps.
///
/// The same `seed` gives the same weight directions, inputs and `dy` for every
/// `rho`: only the scale of `W_hh` changes. Shapes: `x: [T, 1, I]`, `h0: [1, H]`,
/// `dy_last: [1, H]` with `H = DYNAMICS_HIDDEN`, `I = DYNAMICS_INPUT`.
pub fn dynamics_case(
    rho: f64,
    regime: Regime,
    seq_len: usize,
    seed: u64,
) -> DynamicsCase {
    let (h, i) = (DYNAMICS_HIDDEN, DYNAMICS_INPUT);
    let mut rng = seeded_rng(seed);
    let mut params = RnnParams::init(i, h, &mut rng);
    // PyTorch's, reshaped
    params.weight_hh = symmetric_with_radius(params.weight_hh.view(), rho);
    let unit_x: Array3<f64> = uniform_array((seq_len, 1, i), -1.0, 1.0, &mut rng);
    let mut dy_last: Array2<f64> = uniform_array((1, h), -1.0, 1.0, &mut rng);
    dy_last /= dy_last.mapv(|v| v * v).sum().sqrt();
    let x = match regime {
        Regime::Linear => {
            params.bias_ih.fill(0.0);
            params.bias_hh.fill(0.0);
            unit_x * LINEAR_INPUT_SCALE
        }
        Regime::Saturated => unit_x * SATURATED_INPUT_SCALE,
    };
    DynamicsCase {
        params,
        x,
        h0: Array2::zeros((1, h)),
        dy_last,
    }
}

// ANCHOR: grad_norms_by_distance
/// `‖∂L/∂h_t‖` for `L = dy_last · h_T`, indexed by the distance `k = T − t`
/// (`k = 0 … T`).
///
/// Chapter 2's [`backward`] is called once per step, on a one-step cache, from the
/// last step to the first: each call takes `∂L/∂h_{t+1}` as that step's `dy` and
/// returns `∂L/∂h_t` as its `dh0`. Chained this way it computes exactly what one
/// call over the whole sequence computes (with `dy` zero except at the last step),
/// but hands over every intermediate gradient. Shapes: `x: [T, B, I]`, `h0: [B, H]`,
/// `dy_last: [B, H]` → `T + 1` norms (Frobenius over the batch).
pub fn grad_norms_by_distance(
    p: &RnnParams,
    x: ArrayView3<f64>,
    h0: ArrayView2<f64>,
    dy_last: ArrayView2<f64>,
) -> Vec<f64> {
    // BEGIN SOLUTION ex 3.3: one forward pass, then walk back one step at a time and
    //   record each norm
    let (_, _, cache) = forward(p, x, h0);
    let norm = |a: &Array2<f64>| a.mapv(|v| v * v).sum().sqrt();
    let mut dh = dy_last.to_owned(); // k = 0: ∂L/∂h_T = dy
    let mut norms = vec![norm(&dh)];
    let no_dh_n = Array2::zeros(dh.raw_dim());
    for t in (0..x.dim().0).rev() {
        let step = RnnCache {
            x: cache.x.slice(s![t..t + 1, .., ..]).to_owned(),
            h0: cache.h_prev(t).to_owned(), // h_t, the state before step t
            h: cache.h.slice(s![t..t + 1, .., ..]).to_owned(), // h_{t+1}
        };
        let dy = dh.clone().insert_axis(Axis(0)); // [1, B, H]
        dh = backward(p, &step, dy.view(), no_dh_n.view()).2; // ∂L/∂h_t
        norms.push(norm(&dh));
    }
    norms
    // END SOLUTION
}
// ANCHOR_END: grad_norms_by_distance

/// The measurement of one [`DynamicsCase`]: norms by distance and what the tanh did.
#[derive(Debug, Clone)]
pub struct NormCurve {
    /// The spectral radius of `W_hh`.
    pub rho: f64,
    /// The regime of the inputs.
    pub regime: Regime,
    /// `‖∂L/∂h_t‖` at distance `k = T − t`, for `k = 0 … T`.
    pub norms: Vec<f64>,
    /// Mean of `1 − h²` over every unit and step of the forward pass.
    pub mean_dtanh: f64,
    /// Largest `|h|` over every unit and step.
    pub max_abs_h: f64,
    /// Fraction of units and steps with `1 − h² < 0.1`, i.e. `|h| > 0.95`:
    /// saturated.
    pub frac_saturated: f64,
}

/// Measures the curve of [`dynamics_case`]`(rho, regime, seq_len, seed)`.
pub fn norm_curve(rho: f64, regime: Regime, seq_len: usize, seed: u64) -> NormCurve {
    let c = dynamics_case(rho, regime, seq_len, seed);
    let norms =
        grad_norms_by_distance(&c.params, c.x.view(), c.h0.view(), c.dy_last.view());
    let (y, _, _) = forward(&c.params, c.x.view(), c.h0.view());
    NormCurve {
        rho,
        regime,
        norms,
        mean_dtanh: y.mapv(|h| 1.0 - h * h).mean().unwrap_or(1.0),
        max_abs_h: y.iter().fold(0.0f64, |m, &h| m.max(h.abs())),
        frac_saturated: y.iter().filter(|&&h| 1.0 - h * h < 0.1).count() as f64
            / y.len() as f64,
    }
}

/// Every curve of the chapter's figure: each of [`FIGURE_RHOS`] in the linear
/// regime, then each in the saturated regime.
pub fn figure_curves() -> Vec<NormCurve> {
    [Regime::Linear, Regime::Saturated]
        .into_iter()
        .flat_map(|regime| {
            FIGURE_RHOS
                .map(|rho| norm_curve(rho, regime, FIGURE_SEQ_LEN, FIGURE_SEED))
        })
        .collect()
}

// ANCHOR: fitted_rate
/// The factor per step of a geometric fit `norms[k] ≈ c · r^k` over `k ∈ from..=to`:
/// `r` is `exp` of the least-squares slope of `ln norms[k]` against `k`.
///
/// # Panics
/// If the range has fewer than two points, runs past `norms`, or holds a norm that
/// is not positive and finite.
pub fn fitted_rate(norms: &[f64], from: usize, to: usize) -> f64 {
    assert!(
        from < to && to < norms.len(),
        "fitted_rate: bad range {from}..={to}"
    );
    let pts: Vec<(f64, f64)> = (from..=to)
        .map(|k| {
            let n = norms[k];
            assert!(n > 0.0 && n.is_finite(), "fitted_rate: norm {n} at k = {k}");
            (k as f64, n.ln())
        })
        .collect();
    let m = pts.len() as f64;
    let (mk, ml) = pts
        .iter()
        .fold((0.0, 0.0), |(a, b), &(k, l)| (a + k / m, b + l / m));
    let cov: f64 = pts.iter().map(|&(k, l)| (k - mk) * (l - ml)).sum();
    let var: f64 = pts.iter().map(|&(k, _)| (k - mk) * (k - mk)).sum();
    (cov / var).exp()
}
// ANCHOR_END: fitted_rate

/// The bound `‖∂L/∂h_t‖ ≤ ‖dy‖ · Π_s (γ_s ‖W_hh‖)` for every distance, where `γ_s`
/// is the largest `1 − h²` of step `s` over units and batch rows, and `‖W_hh‖` is
/// the spectral norm (given as `w_norm`). Shapes as in [`grad_norms_by_distance`];
/// returns `T + 1` bounds.
pub fn norm_bounds(
    p: &RnnParams,
    x: ArrayView3<f64>,
    h0: ArrayView2<f64>,
    dy_last: ArrayView2<f64>,
    w_norm: f64,
) -> Vec<f64> {
    let (y, _, _) = forward(p, x, h0);
    let mut bound = dy_last.mapv(|v| v * v).sum().sqrt();
    let mut bounds = vec![bound];
    for h_s in y.outer_iter().rev() {
        let gamma = h_s.iter().fold(0.0f64, |m, &h| m.max(1.0 - h * h));
        bound *= gamma * w_norm;
        bounds.push(bound);
    }
    bounds
}
