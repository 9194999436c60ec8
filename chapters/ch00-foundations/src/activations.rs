//! The two squashing functions of recurrent cells, and their derivatives.
//!
//! `sigmoid` maps to `(0, 1)` and drives the gates; `tanh` maps to `(-1, 1)` and
//! produces candidate states. The derivatives take the function's **output**, not
//! its input:
//!
//! - `sigmoid'(x) = s (1 - s)` where `s = sigmoid(x)`,
//! - `tanh'(x) = 1 - t^2` where `t = tanh(x)`.
//!
//! The backward pass of a cell keeps the forward outputs in its cache anyway (the
//! gate values are needed for the products of the chain rule), so writing the
//! derivative in terms of the output costs one multiply and no extra `exp`. It also
//! means the cache need not hold the pre-activations. Passing the input by mistake
//! (`1 - x^2`) is a classic bug that the gradient checker of [`crate::gradcheck`]
//! catches; the tests below show it.
//!
//! Scalar functions work on `f64`; the `_array` versions apply them element-wise to
//! an `ndarray` array of any dimension and return a new array of the same shape.

use ndarray::{Array, ArrayBase, Data, Dimension};

// ANCHOR: sigmoid
/// Logistic sigmoid `1 / (1 + e^(-x))`, computed without overflow for any `x`.
///
/// Shapes: scalar in, scalar out, in `(0, 1)` for finite `x` (it rounds to exactly
/// `0.0` or `1.0` once `|x|` is large enough).
///
/// Only `e^(-|x|)` is ever evaluated, which lies in `[0, 1]` (it underflows to 0
/// beyond `|x| ≈ 745`): for `x >= 0` we use `1 / (1 + e^(-x))`, for `x < 0` the
/// equal form `e^x / (1 + e^x)`. Neither branch exponentiates a large positive
/// number, so `sigmoid(±1000.0)` is exactly `1.0` / `0.0`. (The form
/// `e^x / (1 + e^x)` alone gives `inf / inf = NaN` at `x = 1000`; the form
/// `1 / (1 + e^(-x))` alone overflows to `1 / inf` at `x = -1000`, which IEEE
/// arithmetic happens to round to the right answer `0`.)
pub fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp(); // e^x, in (0, 1)
        e / (1.0 + e)
    }
}
// ANCHOR_END: sigmoid

// ANCHOR: dsigmoid
/// Derivative of the sigmoid, given its **output** `s = sigmoid(x)`: `s (1 - s)`.
///
/// Shapes: scalar in, scalar out, in `[0, 0.25]` for `s` in `[0, 1]`.
pub fn dsigmoid_from_output(s: f64) -> f64 {
    // BEGIN SOLUTION ex 0.1: the derivative of the sigmoid from its output s
    s * (1.0 - s)
    // END SOLUTION
}
// ANCHOR_END: dsigmoid

// ANCHOR: tanh
/// Hyperbolic tangent. `f64::tanh` is accurate and saturates to exactly `±1.0` for
/// large `|x|`, unlike the textbook quotient `(e^x - e^(-x)) / (e^x + e^(-x))`,
/// which is `inf / inf = NaN` at `x = 1000`.
///
/// Shapes: scalar in, scalar out, in `[-1, 1]`.
pub fn tanh(x: f64) -> f64 {
    x.tanh()
}
// ANCHOR_END: tanh

// ANCHOR: dtanh
/// Derivative of `tanh`, given its **output** `t = tanh(x)`: `1 - t^2`.
///
/// Shapes: scalar in, scalar out, in `[0, 1]` for `t` in `[-1, 1]`.
pub fn dtanh_from_output(t: f64) -> f64 {
    // BEGIN SOLUTION ex 0.2: the derivative of tanh from its output t
    1.0 - t * t
    // END SOLUTION
}
// ANCHOR_END: dtanh

/// [`sigmoid`] applied element-wise.
///
/// Shapes: any `D`; the output has the shape of `x`.
pub fn sigmoid_array<S, D>(x: &ArrayBase<S, D>) -> Array<f64, D>
where
    S: Data<Elem = f64>,
    D: Dimension,
{
    x.mapv(sigmoid)
}

/// [`dsigmoid_from_output`] applied element-wise to sigmoid outputs `s`.
///
/// Shapes: any `D`; the output has the shape of `s`.
pub fn dsigmoid_from_output_array<S, D>(s: &ArrayBase<S, D>) -> Array<f64, D>
where
    S: Data<Elem = f64>,
    D: Dimension,
{
    s.mapv(dsigmoid_from_output)
}

/// [`tanh`] applied element-wise.
///
/// Shapes: any `D`; the output has the shape of `x`.
pub fn tanh_array<S, D>(x: &ArrayBase<S, D>) -> Array<f64, D>
where
    S: Data<Elem = f64>,
    D: Dimension,
{
    x.mapv(tanh)
}

/// [`dtanh_from_output`] applied element-wise to tanh outputs `t`.
///
/// Shapes: any `D`; the output has the shape of `t`.
pub fn dtanh_from_output_array<S, D>(t: &ArrayBase<S, D>) -> Array<f64, D>
where
    S: Data<Elem = f64>,
    D: Dimension,
{
    t.mapv(dtanh_from_output)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gradcheck::check_gradient;
    use crate::tolerance::{GRAD_CHECK_EPS, GRAD_CHECK_RTOL, assert_arrays_close};
    use approx::assert_abs_diff_eq;
    use ndarray::{Array1, array};

    /// Points spread over the interesting part of both functions, avoiding exact
    /// symmetry.
    fn sample_points() -> Array1<f64> {
        array![-4.0, -1.7, -0.6, -0.05, 0.0, 0.3, 0.9, 2.2, 5.0]
    }

    /// Distinct weights, so that `L = Σ c_k f(x_k)` has a gradient that differs per
    /// entry.
    fn weights(n: usize) -> Array1<f64> {
        Array1::from_shape_fn(n, |k| 0.5 + 0.25 * k as f64)
    }

    #[test]
    fn sigmoid_hand_values() {
        assert_eq!(sigmoid(0.0), 0.5);
        // sigmoid(ln 3) = 3 / 4
        assert_abs_diff_eq!(sigmoid(3.0_f64.ln()), 0.75, epsilon = 1e-15);
        assert_abs_diff_eq!(sigmoid(-(3.0_f64.ln())), 0.25, epsilon = 1e-15);
        // symmetry: sigmoid(-x) = 1 - sigmoid(x)
        for x in sample_points() {
            assert_abs_diff_eq!(sigmoid(-x), 1.0 - sigmoid(x), epsilon = 1e-15);
        }
    }

    #[test]
    fn sigmoid_is_stable_at_large_magnitudes() {
        for x in [
            -1000.0,
            -745.0,
            -50.0,
            50.0,
            745.0,
            1000.0,
            f64::MAX,
            f64::MIN,
        ] {
            let s = sigmoid(x);
            assert!(
                s.is_finite() && (0.0..=1.0).contains(&s),
                "sigmoid({x}) = {s}"
            );
        }
        assert_eq!(sigmoid(1000.0), 1.0);
        assert_eq!(sigmoid(-1000.0), 0.0);
        // the one-branch form e^x / (1 + e^x) is what breaks
        let e = 1000.0_f64.exp();
        assert!((e / (1.0 + e)).is_nan());
        // far in the left tail the result is tiny but still accurate: sigmoid(-30) ≈
        // e^-30
        let rel = (sigmoid(-30.0) - (-30.0_f64).exp()).abs() / (-30.0_f64).exp();
        assert!(rel < 1e-12, "relative error {rel}");
    }

    #[test]
    fn tanh_hand_values_and_derivatives() {
        assert_eq!(tanh(0.0), 0.0);
        assert_eq!(tanh(1000.0), 1.0);
        assert_eq!(tanh(-1000.0), -1.0);
        // the textbook quotient is inf / inf at x = 1000
        let naive = |x: f64| (x.exp() - (-x).exp()) / (x.exp() + (-x).exp());
        assert!(naive(1000.0).is_nan());
        // tanh'(0) = 1, and tanh' vanishes where tanh saturates
        assert_eq!(dtanh_from_output(tanh(0.0)), 1.0);
        assert_eq!(dtanh_from_output(1.0), 0.0);
        assert_eq!(dtanh_from_output(-1.0), 0.0);
        // tanh(ln 2) = 3/5, so tanh'(ln 2) = 1 - 9/25 = 16/25
        assert_abs_diff_eq!(tanh(2.0_f64.ln()), 0.6, epsilon = 1e-15);
        assert_abs_diff_eq!(
            dtanh_from_output(tanh(2.0_f64.ln())),
            0.64,
            epsilon = 1e-15
        );
        // in terms of the output: t = 0.5 gives 0.75
        assert_eq!(dtanh_from_output(0.5), 0.75);
    }

    #[test]
    fn dsigmoid_hand_values() {
        assert_eq!(dsigmoid_from_output(sigmoid(0.0)), 0.25);
        assert_eq!(dsigmoid_from_output(0.75), 0.1875);
        assert_eq!(dsigmoid_from_output(0.0), 0.0);
        assert_eq!(dsigmoid_from_output(1.0), 0.0);
    }

    #[test]
    fn array_versions_match_scalars_on_any_dimension() {
        let x = Array::from_shape_fn((2, 3, 2), |(i, j, k)| {
            -3.0 + 0.5 * i as f64 + 0.7 * j as f64 + 0.3 * k as f64
        });
        let s = sigmoid_array(&x);
        let t = tanh_array(&x.view());
        assert_eq!(s.shape(), x.shape());
        assert_arrays_close("sigmoid_array", &s, &x.mapv(sigmoid), 0.0, 0.0);
        assert_arrays_close("tanh_array", &t, &x.mapv(f64::tanh), 0.0, 0.0);
        assert_arrays_close(
            "dsigmoid_from_output_array",
            &dsigmoid_from_output_array(&s),
            &s.mapv(|v| v * (1.0 - v)),
            0.0,
            0.0,
        );
        assert_arrays_close(
            "dtanh_from_output_array",
            &dtanh_from_output_array(&t),
            &t.mapv(|v| 1.0 - v * v),
            0.0,
            0.0,
        );
    }

    #[test]
    fn dsigmoid_agrees_with_central_differences() {
        let x = sample_points();
        let c = weights(x.len());
        // L(x) = Σ c_k sigmoid(x_k), so dL/dx_k = c_k sigmoid'(x_k)
        let analytic = &c * &dsigmoid_from_output_array(&sigmoid_array(&x));
        let report = check_gradient("x", &x, &analytic, GRAD_CHECK_EPS, |x| {
            (&c * &sigmoid_array(x)).sum()
        });
        report.assert_within(GRAD_CHECK_RTOL);
    }

    #[test]
    fn dtanh_agrees_with_central_differences() {
        let x = sample_points();
        let c = weights(x.len());
        let analytic = &c * &dtanh_from_output_array(&tanh_array(&x));
        let report = check_gradient("x", &x, &analytic, GRAD_CHECK_EPS, |x| {
            (&c * &tanh_array(x)).sum()
        });
        report.assert_within(GRAD_CHECK_RTOL);
    }

    #[test]
    fn derivative_from_input_instead_of_output_is_caught() {
        // The classic slip: 1 - x^2 with the *input* x instead of the output
        // tanh(x).
        let x = sample_points();
        let c = weights(x.len());
        let wrong = &c * &x.mapv(dtanh_from_output);
        let report = check_gradient("x", &x, &wrong, GRAD_CHECK_EPS, |x| {
            (&c * &tanh_array(x)).sum()
        });
        assert!(
            report.max_rel_error > 1e-2,
            "the wrong derivative should be far off: {report}"
        );
        assert!(!report.passes(GRAD_CHECK_RTOL));
    }
}
