//! Finite-difference gradient checking for arrays of any shape.
//!
//! A backward pass is a long hand-derived formula, and a wrong one still returns
//! numbers of the right shape. The checker compares it, entry by entry, with a
//! numerical derivative of the loss:
//!
//! - forward difference: `(L(θ + ε e_k) - L(θ)) / ε`, error `ε L''/2 + O(ε²)`;
//! - central difference: `(L(θ + ε e_k) - L(θ - ε e_k)) / (2ε)`, error
//!   `ε² L'''/6 + O(ε⁴)`.
//!
//! Both also suffer round-off: each loss is exact only to about `ε_mach |L|`, and
//! dividing by `ε` magnifies that to about `ε_mach |L| / ε`. The total error is
//! therefore V-shaped in `ε`, smallest near `√ε_mach ≈ 1.5e-8` (forward) and
//! `∛ε_mach ≈ 6e-6` (central); [`gradcheck_error_vs_eps`] measures that V for the
//! chapter's figure.
//!
//! Later chapters call [`check_gradient`] (or [`assert_gradient`]) on every
//! parameter, on the input `x` and on the initial state `h0`, with a closure that
//! rebuilds the loss from a perturbed copy of that one tensor.

use crate::rng::{seeded_rng, uniform_array};
use crate::tensors::Tensors;
use crate::tolerance::{GRAD_CHECK_EPS, GRAD_CHECK_RTOL, REL_ERROR_FLOOR};
use ndarray::{
    Array, Array1, Array2, ArrayBase, Data, Dimension, IntoDimension, Zip,
};
use std::fmt;

/// Which finite difference to take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Difference {
    /// `(L(θ + ε) - L(θ)) / ε`: one extra evaluation, error of order `ε`.
    Forward,
    /// `(L(θ + ε) - L(θ - ε)) / (2ε)`: error of order `ε²`. The one to use.
    Central,
}

// ANCHOR: central_difference
/// Central difference of `loss` with respect to the single entry `theta[index]`:
/// `(L(θ + ε e_k) - L(θ - ε e_k)) / (2ε)`.
///
/// Shapes: `theta` has any shape `D` and `index` is a valid index into it. `theta`
/// is modified during the call and restored **exactly** (the original value is
/// written back, rather than `ε` subtracted, which could leave a rounding residue).
pub fn central_difference<D, F>(
    theta: &mut Array<f64, D>,
    index: &D,
    eps: f64,
    loss: &mut F,
) -> f64
where
    D: Dimension,
    F: FnMut(&Array<f64, D>) -> f64,
{
    // BEGIN SOLUTION ex 0.3: move theta at index by plus and minus eps, restore it,
    //   and divide by 2 eps
    let original = theta[index.clone()];
    theta[index.clone()] = original + eps;
    let loss_plus = loss(theta);
    theta[index.clone()] = original - eps;
    let loss_minus = loss(theta);
    theta[index.clone()] = original;
    (loss_plus - loss_minus) / (2.0 * eps)
    // END SOLUTION
}
// ANCHOR_END: central_difference

// ANCHOR: forward_difference
/// Forward difference of `loss` with respect to `theta[index]`:
/// `(L(θ + ε e_k) - L(θ)) / ε`.
///
/// Shapes and restoring as in [`central_difference`]. Only used to show why the
/// central difference is better.
pub fn forward_difference<D, F>(
    theta: &mut Array<f64, D>,
    index: &D,
    eps: f64,
    loss: &mut F,
) -> f64
where
    D: Dimension,
    F: FnMut(&Array<f64, D>) -> f64,
{
    let original = theta[index.clone()];
    let loss_at = loss(theta);
    theta[index.clone()] = original + eps;
    let loss_plus = loss(theta);
    theta[index.clone()] = original;
    (loss_plus - loss_at) / eps
}
// ANCHOR_END: forward_difference

/// Numerical gradient of `loss` at `param`, one entry at a time.
///
/// Shapes: `param` has any shape `D`; the result has the same shape. `loss` is
/// called twice per entry, with a copy of `param` in which that one entry is moved
/// by `eps` (and, for [`Difference::Central`], by `-eps`).
pub fn numeric_gradient<S, D, F>(
    param: &ArrayBase<S, D>,
    eps: f64,
    difference: Difference,
    mut loss: F,
) -> Array<f64, D>
where
    S: Data<Elem = f64>,
    D: Dimension,
    F: FnMut(&Array<f64, D>) -> f64,
{
    let mut theta = param.to_owned();
    let mut grad = Array::zeros(param.raw_dim());
    for pattern in ndarray::indices(param.raw_dim()) {
        let index = pattern.into_dimension();
        grad[index.clone()] = match difference {
            Difference::Central => {
                central_difference(&mut theta, &index, eps, &mut loss)
            }
            Difference::Forward => {
                forward_difference(&mut theta, &index, eps, &mut loss)
            }
        };
    }
    grad
}

// ANCHOR: rel_error
/// Relative error between an analytic and a numeric derivative:
/// `|a - n| / max(|a| + |n|, REL_ERROR_FLOOR)`.
///
/// Shapes: scalars. The result is in `[0, 1]` (exactly `1` when the signs differ or
/// one of them is `0`, provided `|a| + |n|` is at least the floor), and infinite if
/// either is NaN. The floor keeps two tiny numbers, which are mostly round-off
/// noise, from producing a large relative error; see [`REL_ERROR_FLOOR`].
pub fn rel_error(analytic: f64, numeric: f64) -> f64 {
    let diff = (analytic - numeric).abs();
    if diff.is_nan() {
        return f64::INFINITY;
    }
    diff / (analytic.abs() + numeric.abs()).max(REL_ERROR_FLOOR)
}
// ANCHOR_END: rel_error

/// The outcome of a gradient check of one tensor.
#[derive(Debug, Clone, PartialEq)]
pub struct GradCheckReport {
    /// Name of the tensor checked, for messages (`"weight_hh"`, `"x"`, ...).
    pub name: String,
    /// Shape of the tensor.
    pub shape: Vec<usize>,
    /// Step used by the finite differences.
    pub eps: f64,
    /// Number of entries compared.
    pub entries_checked: usize,
    /// Largest [`rel_error`] over all entries.
    pub max_rel_error: f64,
    /// Largest `|analytic - numeric|` over all entries.
    pub max_abs_error: f64,
    /// Index of the entry with the largest relative error (empty for an empty
    /// tensor).
    pub worst_index: Vec<usize>,
    /// Analytic derivative at `worst_index`.
    pub analytic_at_worst: f64,
    /// Numeric derivative at `worst_index`.
    pub numeric_at_worst: f64,
}

impl GradCheckReport {
    /// Builds the report from two gradients of the same shape.
    ///
    /// Shapes: `analytic` and `numeric` have the same shape `D`.
    ///
    /// # Panics
    /// If the shapes differ.
    pub fn from_gradients<D: Dimension>(
        name: &str,
        eps: f64,
        analytic: &ArrayBase<impl Data<Elem = f64>, D>,
        numeric: &ArrayBase<impl Data<Elem = f64>, D>,
    ) -> Self {
        assert_eq!(
            analytic.shape(),
            numeric.shape(),
            "gradient check of `{name}`: analytic and numeric gradients have different shapes"
        );
        let mut report = GradCheckReport {
            name: name.to_string(),
            shape: analytic.shape().to_vec(),
            eps,
            entries_checked: analytic.len(),
            max_rel_error: 0.0,
            max_abs_error: 0.0,
            worst_index: Vec::new(),
            analytic_at_worst: f64::NAN,
            numeric_at_worst: f64::NAN,
        };
        let mut worst = f64::NEG_INFINITY;
        // `indexed_iter` and `iter` both walk the arrays in logical (row-major)
        // order
        for ((index, &a), &n) in analytic.indexed_iter().zip(numeric.iter()) {
            let abs = (a - n).abs();
            let abs = if abs.is_nan() { f64::INFINITY } else { abs };
            report.max_abs_error = report.max_abs_error.max(abs);
            let rel = rel_error(a, n);
            if rel > worst {
                worst = rel;
                report.max_rel_error = rel;
                report.worst_index = index.into_dimension().slice().to_vec();
                report.analytic_at_worst = a;
                report.numeric_at_worst = n;
            }
        }
        report
    }

    /// Whether every entry's relative error is at most `rtol`.
    pub fn passes(&self, rtol: f64) -> bool {
        self.max_rel_error <= rtol
    }

    /// Panics unless every entry's relative error is at most `rtol`.
    ///
    /// # Panics
    /// With a message naming the tensor, the worst index, and both derivatives
    /// there.
    #[track_caller]
    pub fn assert_within(&self, rtol: f64) {
        assert!(
            self.passes(rtol),
            "gradient check failed for `{}`: max relative error {:.3e} > {:.0e} at index {:?}: \
             analytic {:e}, numeric {:e} (shape {:?}, eps {:e})",
            self.name,
            self.max_rel_error,
            rtol,
            self.worst_index,
            self.analytic_at_worst,
            self.numeric_at_worst,
            self.shape,
            self.eps
        );
    }
}

impl fmt::Display for GradCheckReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "gradcheck `{}` {:?}: {} entries, max rel error {:.3e}, max abs error {:.3e}",
            self.name,
            self.shape,
            self.entries_checked,
            self.max_rel_error,
            self.max_abs_error
        )?;
        if !self.worst_index.is_empty() {
            write!(
                f,
                ", worst at {:?} (analytic {:e}, numeric {:e})",
                self.worst_index, self.analytic_at_worst, self.numeric_at_worst
            )?;
        }
        Ok(())
    }
}

// ANCHOR: check_gradient
/// Checks an analytic gradient against central differences of `loss`.
///
/// Shapes: `param` and `analytic` have the same shape `D` (any dimension);
/// `analytic` is `dL/dparam`. `loss` receives a copy of `param` with one entry
/// perturbed and returns the scalar loss.
///
/// # Panics
/// If `param` and `analytic` have different shapes.
pub fn check_gradient<D: Dimension, F>(
    name: &str,
    param: &ArrayBase<impl Data<Elem = f64>, D>,
    analytic: &ArrayBase<impl Data<Elem = f64>, D>,
    eps: f64,
    loss: F,
) -> GradCheckReport
where
    F: FnMut(&Array<f64, D>) -> f64,
{
    assert_eq!(
        param.shape(),
        analytic.shape(),
        "gradient check of `{name}`: the gradient's shape differs from the \
         parameter's"
    );
    let numeric = numeric_gradient(param, eps, Difference::Central, loss);
    GradCheckReport::from_gradients(name, eps, analytic, &numeric)
}
// ANCHOR_END: check_gradient

/// [`check_gradient`] with the book's [`GRAD_CHECK_EPS`], asserting
/// [`GRAD_CHECK_RTOL`]. Returns the report (for printing) when the check passes.
///
/// Shapes: as in [`check_gradient`].
///
/// # Panics
/// If the check fails (see [`GradCheckReport::assert_within`]) or the shapes differ.
#[track_caller]
pub fn assert_gradient<D: Dimension, F>(
    name: &str,
    param: &ArrayBase<impl Data<Elem = f64>, D>,
    analytic: &ArrayBase<impl Data<Elem = f64>, D>,
    loss: F,
) -> GradCheckReport
where
    F: FnMut(&Array<f64, D>) -> f64,
{
    let report = check_gradient(name, param, analytic, GRAD_CHECK_EPS, loss);
    report.assert_within(GRAD_CHECK_RTOL);
    report
}

/// [`assert_gradient`] on every tensor of a parameter set: tensor `k` of `params` is
/// moved in a copy of the whole set, and its numeric gradient is compared with
/// tensor `k` of `grads`. Returns one report per tensor, in order.
///
/// Shapes: `params` and `grads` list the same shapes in the same order, and each
/// gradient is named `d` + its parameter's name (`weight_hh` ↔ `dweight_hh`), as the
/// book's `Grads` structs are. `loss` computes the scalar loss from a whole
/// parameter set.
///
/// # Panics
/// If a check fails, or the two lists do not line up by number, name or shape.
#[track_caller]
pub fn assert_every_gradient<P: Tensors + Clone>(
    params: &P,
    grads: &impl Tensors,
    mut loss: impl FnMut(&P) -> f64,
) -> Vec<GradCheckReport> {
    let (ps, gs) = (params.tensors(), grads.tensors());
    assert_eq!(
        ps.len(),
        gs.len(),
        "{} parameters but {} gradients",
        ps.len(),
        gs.len()
    );
    let mut reports = Vec::with_capacity(ps.len());
    for (k, ((name, param), (gname, analytic))) in ps.iter().zip(&gs).enumerate() {
        assert_eq!(
            *gname,
            format!("d{name}"),
            "tensor {k}: the gradient of `{name}` is listed as `{gname}`"
        );
        let report =
            check_gradient(name, param, analytic, GRAD_CHECK_EPS, |theta| {
                let mut moved = params.clone();
                moved.tensors_mut()[k].1.assign(theta);
                loss(&moved)
            });
        report.assert_within(GRAD_CHECK_RTOL);
        reports.push(report);
    }
    reports
}

/// One point of the error-versus-step-size figure.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EpsPoint {
    /// The finite-difference step `ε`.
    pub eps: f64,
    /// Largest [`rel_error`] of forward differences against the exact gradient.
    pub forward_rel_error: f64,
    /// Largest [`rel_error`] of central differences against the exact gradient.
    pub central_rel_error: f64,
}

/// Seed of the small test problem behind the figure.
pub const FIGURE_SEED: u64 = 0;

// ANCHOR: figure_problem
/// The figure's test problem: `L(W) = Σ_j g_j tanh((W x)_j)` with `W: [4, 3]`,
/// `x: [3]`, `g: [4]`, all drawn from `U(-1, 1)` with [`FIGURE_SEED`]. Its exact
/// gradient is `dW = outer(g ⊙ (1 - tanh²(W x)), x)`.
struct TanhLayer {
    w: Array2<f64>,
    x: Array1<f64>,
    g: Array1<f64>,
}

impl TanhLayer {
    fn new() -> Self {
        let mut rng = seeded_rng(FIGURE_SEED);
        let w = uniform_array((4, 3), -1.0, 1.0, &mut rng);
        let x = uniform_array(3, -1.0, 1.0, &mut rng);
        let g = uniform_array(4, -1.0, 1.0, &mut rng);
        TanhLayer { w, x, g }
    }

    fn loss(&self, w: &Array2<f64>) -> f64 {
        w.dot(&self.x).mapv(f64::tanh).dot(&self.g)
    }

    fn gradient(&self) -> Array2<f64> {
        let t = self.w.dot(&self.x).mapv(f64::tanh);
        let delta = &self.g * &t.mapv(|t| 1.0 - t * t); // dL/d(Wx)
        let delta = delta.insert_axis(ndarray::Axis(1)); // [4, 1]
        let x = self.x.view().insert_axis(ndarray::Axis(0)); // [1, 3]
        delta.dot(&x)
    }
}
// ANCHOR_END: figure_problem

/// Largest relative error of forward and of central differences, for each step in
/// `eps_values`, on the fixed test problem described in the source (a 4×3 tanh
/// layer).
///
/// Shapes: one [`EpsPoint`] per entry of `eps_values`, in the same order. A pure
/// function: the same input always gives the same output.
pub fn gradcheck_error_vs_eps(eps_values: &[f64]) -> Vec<EpsPoint> {
    let problem = TanhLayer::new();
    let exact = problem.gradient();
    let max_error = |numeric: &Array2<f64>| {
        Zip::from(&exact)
            .and(numeric)
            .fold(0.0_f64, |m, &a, &n| m.max(rel_error(a, n)))
    };
    eps_values
        .iter()
        .map(|&eps| {
            let forward =
                numeric_gradient(&problem.w, eps, Difference::Forward, |w| {
                    problem.loss(w)
                });
            let central =
                numeric_gradient(&problem.w, eps, Difference::Central, |w| {
                    problem.loss(w)
                });
            EpsPoint {
                eps,
                forward_rel_error: max_error(&forward),
                central_rel_error: max_error(&central),
            }
        })
        .collect()
}

/// Steps for the figure: `10^(-k/per_decade)` for `k` from
/// `per_decade * first_decade` to `per_decade * last_decade`, e.g.
/// `eps_grid(1, 12, 4)` gives 45 steps from `1e-1` down to `1e-12`, four per decade.
///
/// Shapes: `per_decade * (last_decade - first_decade) + 1` values, decreasing.
pub fn eps_grid(first_decade: u32, last_decade: u32, per_decade: u32) -> Vec<f64> {
    assert!(
        per_decade > 0 && first_decade <= last_decade,
        "eps_grid: need per_decade > 0 and first_decade <= last_decade"
    );
    (per_decade * first_decade..=per_decade * last_decade)
        .map(|k| 10f64.powf(-(k as f64) / per_decade as f64))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array3, array};

    /// A smooth loss on a 3-D tensor with a known gradient:
    /// `L(θ) = Σ c ⊙ sin(θ) + 0.5 Σ θ²`, so `dL/dθ = c ⊙ cos(θ) + θ`.
    fn cube() -> (Array3<f64>, Array3<f64>) {
        let mut rng = seeded_rng(11);
        let theta = uniform_array((2, 3, 4), -2.0, 2.0, &mut rng);
        let c = uniform_array((2, 3, 4), -1.0, 1.0, &mut rng);
        (theta, c)
    }

    fn cube_loss(c: &Array3<f64>, theta: &Array3<f64>) -> f64 {
        (c * &theta.mapv(f64::sin)).sum() + 0.5 * theta.mapv(|v| v * v).sum()
    }

    fn cube_grad(c: &Array3<f64>, theta: &Array3<f64>) -> Array3<f64> {
        c * &theta.mapv(f64::cos) + theta
    }

    #[test]
    fn rel_error_hand_values() {
        assert_eq!(rel_error(1.0, 1.0), 0.0);
        assert_eq!(rel_error(1.0, -1.0), 1.0); // sign error
        assert_eq!(rel_error(2.0, 0.0), 1.0); // missing term
        assert!((rel_error(1.0, 1.1) - 0.1 / 2.1).abs() < 1e-15);
        // two tiny numbers: judged against the floor, not against each other
        let tiny = rel_error(1e-13, 3e-13);
        assert!((tiny - 2e-13 / REL_ERROR_FLOOR).abs() < 1e-20, "{tiny}");
        assert!(tiny < GRAD_CHECK_RTOL);
        assert_eq!(rel_error(f64::NAN, 1.0), f64::INFINITY);
    }

    #[test]
    fn checker_passes_a_correct_gradient_on_a_3d_tensor() {
        let (theta, c) = cube();
        let report = check_gradient(
            "theta",
            &theta,
            &cube_grad(&c, &theta),
            GRAD_CHECK_EPS,
            |t| cube_loss(&c, t),
        );
        assert_eq!(report.entries_checked, 24);
        assert_eq!(report.shape, vec![2, 3, 4]);
        assert!(report.max_rel_error < 1e-7, "{report}");
        report.assert_within(GRAD_CHECK_RTOL);
    }

    #[test]
    fn assert_gradient_uses_the_book_tolerances() {
        let (theta, c) = cube();
        let report =
            assert_gradient("theta", &theta.view(), &cube_grad(&c, &theta), |t| {
                cube_loss(&c, t)
            });
        assert_eq!(report.eps, GRAD_CHECK_EPS);
    }

    #[test]
    fn checker_perturbs_one_entry_at_a_time_and_restores_it() {
        let (theta, c) = cube();
        let mut calls = 0;
        let _ = check_gradient(
            "theta",
            &theta,
            &cube_grad(&c, &theta),
            GRAD_CHECK_EPS,
            |t| {
                calls += 1;
                let changed = t.iter().zip(&theta).filter(|(a, b)| a != b).count();
                assert_eq!(changed, 1, "exactly one entry must be perturbed");
                cube_loss(&c, t)
            },
        );
        assert_eq!(calls, 2 * theta.len());
        // and numeric_gradient leaves its own copy as it found it
        let mut copy = theta.clone();
        let mut loss = |t: &Array3<f64>| cube_loss(&c, t);
        for pattern in ndarray::indices(theta.raw_dim()) {
            let _ = central_difference(
                &mut copy,
                &pattern.into_dimension(),
                1e-3,
                &mut loss,
            );
        }
        assert_eq!(copy, theta);
    }

    #[test]
    fn checker_flags_the_one_corrupted_entry() {
        let (theta, c) = cube();
        let mut wrong = cube_grad(&c, &theta);
        wrong[[1, 2, 3]] *= 1.01; // off by 1% in a single entry
        let report = check_gradient("theta", &theta, &wrong, GRAD_CHECK_EPS, |t| {
            cube_loss(&c, t)
        });
        assert_eq!(report.worst_index, vec![1, 2, 3]);
        assert!(report.max_rel_error > 1e-3, "{report}");
        assert!(!report.passes(GRAD_CHECK_RTOL));
        assert_eq!(report.analytic_at_worst, wrong[[1, 2, 3]]);
    }

    #[test]
    #[should_panic(
        expected = "gradient check failed for `theta`: max relative error"
    )]
    fn assert_within_panics_on_a_sign_error() {
        let (theta, c) = cube();
        let wrong = -cube_grad(&c, &theta);
        check_gradient("theta", &theta, &wrong, GRAD_CHECK_EPS, |t| {
            cube_loss(&c, t)
        })
        .assert_within(GRAD_CHECK_RTOL);
    }

    #[test]
    #[should_panic(expected = "at index [0, 2, 1]: analytic")]
    fn assert_within_names_the_worst_index() {
        let (theta, c) = cube();
        let mut wrong = cube_grad(&c, &theta);
        wrong[[0, 2, 1]] += 1e-3;
        check_gradient("theta", &theta, &wrong, GRAD_CHECK_EPS, |t| {
            cube_loss(&c, t)
        })
        .assert_within(GRAD_CHECK_RTOL);
    }

    #[test]
    fn dtanh_of_the_input_is_caught_on_a_tanh_layer() {
        // dW with the classic slip 1 - (Wx)^2 instead of 1 - tanh(Wx)^2
        let p = TanhLayer::new();
        let z = p.w.dot(&p.x);
        let delta = (&p.g * &z.mapv(|z| 1.0 - z * z)).insert_axis(ndarray::Axis(1));
        let wrong = delta.dot(&p.x.view().insert_axis(ndarray::Axis(0)));
        let report =
            check_gradient("W", &p.w, &wrong, GRAD_CHECK_EPS, |w| p.loss(w));
        assert!(!report.passes(GRAD_CHECK_RTOL), "{report}");
        assert!(report.max_rel_error > 1e-3, "{report}");
        // while the right formula passes
        let right =
            check_gradient("W", &p.w, &p.gradient(), GRAD_CHECK_EPS, |w| p.loss(w));
        right.assert_within(GRAD_CHECK_RTOL);
    }

    #[test]
    fn report_display_mentions_name_and_worst_entry() {
        let a = array![[1.0, 2.0]];
        let n = array![[1.0, 2.5]];
        let text =
            GradCheckReport::from_gradients("bias_hh", 1e-6, &a, &n).to_string();
        assert!(text.contains("`bias_hh`"), "{text}");
        assert!(text.contains("worst at [0, 1]"), "{text}");
    }

    #[test]
    fn forward_and_central_differences_on_a_parabola() {
        // L(θ) = θ², L'(1) = 2. Forward: 2 + ε exactly in real arithmetic; central:
        // exactly 2.
        let mut theta = array![1.0];
        let mut loss = |t: &Array1<f64>| t[0] * t[0];
        let fwd =
            forward_difference(&mut theta, &ndarray::Dim([0]), 0.125, &mut loss);
        let cen =
            central_difference(&mut theta, &ndarray::Dim([0]), 0.125, &mut loss);
        assert_eq!(fwd, 2.125);
        assert_eq!(cen, 2.0);
        assert_eq!(theta, array![1.0]);
    }

    #[test]
    fn eps_grid_spacing() {
        let grid = eps_grid(1, 12, 4);
        assert_eq!(grid.len(), 45);
        assert_eq!(grid[0], 0.1);
        assert!((grid[44] - 1e-12).abs() < 1e-26);
        assert!(grid.windows(2).all(|w| w[1] < w[0]));
    }

    /// Index of the smallest value.
    fn argmin(values: &[f64]) -> usize {
        (0..values.len())
            .min_by(|&a, &b| values[a].total_cmp(&values[b]))
            .unwrap()
    }

    /// Slope of `log10(error)` against `log10(eps)` between two points.
    fn slope(a: &EpsPoint, b: &EpsPoint, error: fn(&EpsPoint) -> f64) -> f64 {
        (error(a).log10() - error(b).log10()) / (a.eps.log10() - b.eps.log10())
    }

    #[test]
    fn error_vs_eps_has_the_classic_v_shape() {
        let points = gradcheck_error_vs_eps(&eps_grid(1, 12, 4));
        assert_eq!(points.len(), 45);
        let fwd: Vec<f64> = points.iter().map(|p| p.forward_rel_error).collect();
        let cen: Vec<f64> = points.iter().map(|p| p.central_rel_error).collect();
        let (best_fwd, best_cen) = (argmin(&fwd), argmin(&cen));

        // Central differences reach far lower than forward differences
        // (measured: 2.9e-11 against 1.2e-8).
        assert!(cen[best_cen] < 1e-9, "central best {:e}", cen[best_cen]);
        assert!(fwd[best_fwd] > 3e-9, "forward best {:e}", fwd[best_fwd]);
        assert!(fwd[best_fwd] > 100.0 * cen[best_cen]);

        // Both errors grow at both ends of the range, by orders of magnitude.
        for (name, err, best) in
            [("forward", &fwd, best_fwd), ("central", &cen, best_cen)]
        {
            let (first, last) = (err[0], err[err.len() - 1]);
            assert!(first > 1e3 * err[best], "{name}: left end {first:e}");
            assert!(last > 1e3 * err[best], "{name}: right end {last:e}");
        }

        // The central optimum sits at a larger step: near the cube root of machine
        // epsilon (6e-6) rather than its square root (1.5e-8). Measured: 1e-5 and
        // 1.8e-7.
        let (eps_fwd, eps_cen) = (points[best_fwd].eps, points[best_cen].eps);
        assert!(eps_cen > 10.0 * eps_fwd, "{eps_cen:e} vs {eps_fwd:e}");
        assert!((1e-7..=1e-3).contains(&eps_cen), "{eps_cen:e}");
        assert!((1e-10..=1e-6).contains(&eps_fwd), "{eps_fwd:e}");

        // Right arm (truncation): slope 1 for forward, 2 for central, from 1e-1 to
        // 1e-4.
        let (p1, p4) = (&points[0], &points[12]);
        assert_eq!((p1.eps, p4.eps.log10().round()), (0.1, -4.0));
        let s_fwd = slope(p1, p4, |p| p.forward_rel_error);
        let s_cen = slope(p1, p4, |p| p.central_rel_error);
        assert!(
            (0.9..=1.1).contains(&s_fwd),
            "forward truncation slope {s_fwd}"
        );
        assert!(
            (1.9..=2.1).contains(&s_cen),
            "central truncation slope {s_cen}"
        );

        // Left arm (round-off): slope -1 for both, from 1e-9 to 1e-12 (noisier).
        let (p9, p12) = (&points[32], &points[44]);
        assert_eq!(p9.eps.log10().round(), -9.0);
        for s in [
            slope(p9, p12, |p| p.forward_rel_error),
            slope(p9, p12, |p| p.central_rel_error),
        ] {
            assert!((-1.4..=-0.6).contains(&s), "round-off slope {s}");
        }
    }

    #[test]
    fn error_vs_eps_is_a_pure_function_and_agrees_with_the_book_step() {
        let a = gradcheck_error_vs_eps(&[1e-3, GRAD_CHECK_EPS]);
        let b = gradcheck_error_vs_eps(&[1e-3, GRAD_CHECK_EPS]);
        assert_eq!(a, b);
        assert_eq!(a[1].eps, GRAD_CHECK_EPS);
        // at the book's step, central differences are well inside the tolerance
        assert!(
            a[1].central_rel_error < GRAD_CHECK_RTOL / 100.0,
            "{:?}",
            a[1]
        );
    }

    /// Two tensors and their gradients, for [`assert_every_gradient`].
    #[derive(Clone)]
    struct Pair {
        w: Array2<f64>,
        b: Array1<f64>,
    }
    crate::impl_tensors!(Pair { w, b });
    struct PairGrads {
        dw: Array2<f64>,
        db: Array1<f64>,
    }
    crate::impl_tensors!(PairGrads { dw, db });

    /// `L = Σ sin(w) · 2 + Σ b³`.
    fn pair_loss(p: &Pair) -> f64 {
        p.w.mapv(f64::sin).sum() * 2.0 + p.b.mapv(|v| v.powi(3)).sum()
    }

    fn pair() -> (Pair, PairGrads) {
        let p = Pair {
            w: array![[0.1, -0.7], [1.3, 0.4]],
            b: array![0.5, -1.5, 2.0],
        };
        let g = PairGrads {
            dw: p.w.mapv(|v| 2.0 * v.cos()),
            db: p.b.mapv(|v| 3.0 * v * v),
        };
        (p, g)
    }

    #[test]
    fn every_gradient_of_a_parameter_set_is_checked_in_order() {
        let (p, g) = pair();
        let reports = assert_every_gradient(&p, &g, pair_loss);
        let names: Vec<_> = reports
            .iter()
            .map(|r| (r.name.as_str(), r.entries_checked))
            .collect();
        assert_eq!(names, [("w", 4), ("b", 3)]);
    }

    #[test]
    #[should_panic(expected = "gradient check failed for `b`")]
    fn a_wrong_entry_in_the_second_tensor_fails_the_check() {
        let (p, mut g) = pair();
        g.db[2] += 0.1;
        assert_every_gradient(&p, &g, pair_loss);
    }
}
