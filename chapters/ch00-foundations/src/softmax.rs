//! Row-wise softmax, log-softmax and cross-entropy for logits `[B, V]`.
//!
//! Each row of `logits` holds the `V` unnormalised scores of one example in the
//! batch. Everything is computed through the log-sum-exp with the row maximum
//! subtracted first, so logits of size `±1000` give finite, accurate results:
//!
//! `log_softmax(z)_k = (z_k - m) - ln Σ_j e^(z_j - m)`, with `m = max_j z_j`.
//!
//! Every exponent `z_j - m` is at most `0`, so no `e^(...)` overflows, and the
//! largest term of the sum is exactly `1`, so the sum is at least `1` and its
//! logarithm never sees `0`. The logits must be finite (an infinite or NaN logit
//! gives NaN).

use ndarray::{Array1, Array2, ArrayView1, ArrayView2};

// ANCHOR: log_softmax
/// Log-softmax of one row of logits: `z_k - logsumexp(z)`.
///
/// Shapes: `z: [V]` in, `[V]` out. Stable for large positive or negative logits.
pub fn log_softmax_row(z: ArrayView1<f64>) -> Array1<f64> {
    // BEGIN SOLUTION ex 0.4: subtract the largest z before exponentiating
    let m = z.fold(f64::NEG_INFINITY, |m, &v| m.max(v));
    let log_sum = z.mapv(|v| (v - m).exp()).sum().ln(); // ln Σ e^(z_j - m), >= 0
    z.mapv(|v| (v - m) - log_sum)
    // END SOLUTION
}

/// Row-wise log-softmax.
///
/// Shapes: `logits: [B, V]` in, `[B, V]` out; row `b` is
/// `log_softmax_row(logits[b])`.
pub fn log_softmax(logits: ArrayView2<f64>) -> Array2<f64> {
    let mut out = Array2::zeros(logits.raw_dim());
    for (z, mut row) in logits.outer_iter().zip(out.outer_iter_mut()) {
        row.assign(&log_softmax_row(z));
    }
    out
}
// ANCHOR_END: log_softmax

/// Row-wise softmax: each row is a probability vector.
///
/// Shapes: `logits: [B, V]` in, `[B, V]` out, each row summing to 1.
///
/// Computed as `exp(log_softmax(logits))`, so it shares the stable path above;
/// entries of a very unlikely class underflow to `0.0` instead of producing NaN.
pub fn softmax(logits: ArrayView2<f64>) -> Array2<f64> {
    log_softmax(logits).mapv_into(f64::exp)
}

// ANCHOR: cross_entropy
/// Cross-entropy of a batch, and its gradient with respect to the logits.
///
/// Shapes: `logits: [B, V]`, `targets: [B]` (class indices in `0..V`). Returns
/// `(loss, dlogits)` with `loss` a scalar and `dlogits: [B, V]`.
///
/// `loss = -Σ_b log_softmax(logits)[b, targets[b]]` is the **sum** over the batch,
/// not the mean. Later chapters add this loss over time steps and batch rows and
/// divide once, where the caller knows what it is averaging over; summing here keeps
/// every gradient a plain sum too. `dlogits = softmax(logits) - onehot(targets)` is
/// the exact gradient of that sum.
///
/// # Panics
/// If `targets.len() != B` or a target is `>= V`: both are programmer errors.
pub fn cross_entropy(
    logits: ArrayView2<f64>,
    targets: &[usize],
) -> (f64, Array2<f64>) {
    let (batch, vocab) = logits.dim();
    assert_eq!(
        targets.len(),
        batch,
        "cross_entropy: targets has length {} but logits has B = {batch} rows",
        targets.len()
    );
    let logp = log_softmax(logits);
    let mut loss = 0.0;
    let mut dlogits = logp.mapv(f64::exp); // softmax
    for (b, &target) in targets.iter().enumerate() {
        assert!(
            target < vocab,
            "cross_entropy: targets[{b}] = {target} is not a class index \
             below V = {vocab}"
        );
        loss -= logp[[b, target]];
        dlogits[[b, target]] -= 1.0; // softmax - onehot
    }
    (loss, dlogits)
}
// ANCHOR_END: cross_entropy

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gradcheck::check_gradient;
    use crate::tolerance::{GRAD_CHECK_EPS, GRAD_CHECK_RTOL, assert_arrays_close};
    use approx::assert_abs_diff_eq;
    use ndarray::{Axis, array};

    fn naive_log_softmax(logits: ArrayView2<f64>) -> Array2<f64> {
        let e = logits.mapv(f64::exp);
        let sums = e.sum_axis(Axis(1)).insert_axis(Axis(1));
        (&e / &sums).mapv(f64::ln)
    }

    fn example_logits() -> Array2<f64> {
        array![
            [0.2, -1.3, 2.1, 0.0],
            [1.5, 1.4, -0.7, 3.0],
            [-2.0, 0.6, 0.1, -0.4]
        ]
    }

    #[test]
    fn softmax_rows_sum_to_one_and_are_positive() {
        let p = softmax(example_logits().view());
        for s in p.sum_axis(Axis(1)) {
            assert_abs_diff_eq!(s, 1.0, epsilon = 1e-15);
        }
        assert!(p.iter().all(|&v| v > 0.0 && v < 1.0));
        // softmax is invariant under adding a constant to a row
        let shifted = softmax((example_logits() + 100.0).view());
        assert_arrays_close("shifted softmax", &shifted, &p, 1e-15, 1e-12);
    }

    #[test]
    fn log_softmax_matches_naive_formula_on_small_logits() {
        let z = example_logits();
        assert_arrays_close(
            "log_softmax",
            &log_softmax(z.view()),
            &naive_log_softmax(z.view()),
            1e-14,
            1e-14,
        );
    }

    #[test]
    fn log_softmax_is_stable_at_plus_minus_1000() {
        let z = array![[1000.0, -1000.0, 0.0], [-1000.0, -1000.0, -1000.0]];
        // the naive formula breaks: e^1000 = inf
        assert!(naive_log_softmax(z.view()).iter().any(|v| !v.is_finite()));
        let logp = log_softmax(z.view());
        assert!(logp.iter().all(|v| v.is_finite()), "{logp}");
        // row 0: the 1000 dominates completely; row 1: uniform over 3 classes
        let third = -(3.0_f64.ln());
        let expected = array![[0.0, -2000.0, -1000.0], [third, third, third]];
        assert_arrays_close("log_softmax(±1000)", &logp, &expected, 1e-12, 1e-15);
        let p = softmax(z.view());
        assert!(p.iter().all(|v| v.is_finite()));
        assert_eq!(p[[0, 0]], 1.0);
    }

    #[test]
    fn cross_entropy_hand_example() {
        // logits [1, 2, 3], target class 0. p = [e, e^2, e^3] / (e + e^2 + e^3)
        // loss = -ln p_0 = ln(1 + e + e^2) = ln(11.107337927...) = 2.407605964...
        let e = std::f64::consts::E;
        let (loss, dlogits) = cross_entropy(array![[1.0, 2.0, 3.0]].view(), &[0]);
        assert_abs_diff_eq!(loss, 2.407_605_964_444_38, epsilon = 1e-14);
        assert_abs_diff_eq!(loss, (1.0 + e + e * e).ln(), epsilon = 1e-14);
        let denom = 1.0 + e + e * e;
        let expected = array![[1.0 / denom - 1.0, e / denom, e * e / denom]];
        assert_arrays_close("dlogits", &dlogits, &expected, 1e-15, 1e-14);
        // p_0 = 0.0900305731..., so dlogits[0] = p_0 - 1
        assert_abs_diff_eq!(
            dlogits[[0, 0]],
            0.090_030_573_170_380_5 - 1.0,
            epsilon = 1e-14
        );
    }

    #[test]
    fn cross_entropy_sums_over_the_batch() {
        let z = example_logits();
        let targets = [2, 3, 1];
        let (total, _) = cross_entropy(z.view(), &targets);
        let per_row: f64 = (0..3)
            .map(|b| {
                cross_entropy(z.slice(ndarray::s![b..b + 1, ..]), &targets[b..b + 1])
                    .0
            })
            .sum();
        assert_abs_diff_eq!(total, per_row, epsilon = 1e-14);
    }

    #[test]
    fn cross_entropy_gradient_passes_the_checker() {
        let z = example_logits();
        let targets = [2, 0, 1];
        let (_, dlogits) = cross_entropy(z.view(), &targets);
        // each row of dlogits sums to 0 (probabilities sum to 1, the one-hot too)
        for s in dlogits.sum_axis(Axis(1)) {
            assert_abs_diff_eq!(s, 0.0, epsilon = 1e-15);
        }
        let report = check_gradient("logits", &z, &dlogits, GRAD_CHECK_EPS, |z| {
            cross_entropy(z.view(), &targets).0
        });
        report.assert_within(GRAD_CHECK_RTOL);
    }

    #[test]
    fn cross_entropy_is_finite_for_extreme_logits() {
        let z = array![[1000.0, -1000.0], [-1000.0, 1000.0]];
        let (loss, dlogits) = cross_entropy(z.view(), &[0, 0]);
        assert_abs_diff_eq!(loss, 2000.0, epsilon = 1e-9);
        assert_eq!(dlogits, array![[0.0, 0.0], [-1.0, 1.0]]);
    }

    #[test]
    #[should_panic(expected = "targets has length 1 but logits has B = 3 rows")]
    fn cross_entropy_rejects_wrong_number_of_targets() {
        let _ = cross_entropy(example_logits().view(), &[0]);
    }

    #[test]
    #[should_panic(expected = "targets[1] = 4 is not a class index below V = 4")]
    fn cross_entropy_rejects_out_of_range_target() {
        let _ = cross_entropy(example_logits().view(), &[0, 4, 1]);
    }
}
