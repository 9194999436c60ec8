//! Every numerical tolerance of the book, as a named constant, and helpers that
//! compare arrays against them.
//!
//! A test never writes a bare `1e-7`: it names one of these constants, whose
//! documentation says where the value comes from. Changing a tolerance is then one
//! visible edit.
//!
//! Two ways of comparing appear in the book:
//! - gradient checks use the relative error of [`crate::gradcheck::rel_error`], with
//!   the floor [`REL_ERROR_FLOOR`], against [`GRAD_CHECK_RTOL`];
//! - values against a reference (PyTorch fixtures, the f64 version of a fused f32
//!   kernel) use the element-wise rule of `numpy.allclose` / `torch.allclose`:
//!   `|actual - expected| <= atol + rtol * |expected|`, see [`compare_arrays`].

use ndarray::{ArrayBase, Data, Dimension, IntoDimension};
use std::fmt;

// ANCHOR: tolerances
/// Step `ε` of the central differences in gradient checks (f64).
///
/// Central differences have truncation error about `ε² |L'''| / 6` and round-off
/// error about `ε_mach |L| / ε`, with `ε_mach ≈ 2.2e-16`. Their sum is smallest near
/// `ε = ∛ε_mach ≈ 6e-6` when `L` and its third derivative are of similar size; on
/// the chapter's figure the error at `1e-6` is `1e-9`, near the flat bottom of the
/// V. We take `1e-6`, a little below the optimum, on purpose. Going from `1e-5` to
/// `1e-6` multiplies the round-off part by 10 but divides the truncation part by
/// 100. Round-off is bounded and predictable; truncation grows with the curvature of
/// the loss, which saturating units and gate products make large. The survey
/// (`cargo run -p ch00-foundations --example tolerance_survey`) shows both sides:
/// with moderate weights `1e-5` is the more accurate step (round-off dominates);
/// with large weights `1e-6` wins on some tensors, by up to a factor 12 (truncation
/// dominates there). With `1e-6` the worst error in the survey is `1.4e-6`.
pub const GRAD_CHECK_EPS: f64 = 1e-6;

/// Largest relative error ([`crate::gradcheck::rel_error`]) a gradient check
/// accepts.
///
/// Measured by `cargo run -p ch00-foundations --example tolerance_survey`: on a tanh
/// recurrence (`B = 2`, `I = 3`, `H = 4`; every parameter, `x` and `h0`) central
/// differences with [`GRAD_CHECK_EPS`] are within `3e-9` for `T = 5`, and at worst
/// `1.4e-6` for `T = 30` with weights from `U(-3, 3)`: the round-off of a loss grows
/// with the number of terms it sums. A wrong derivative is off by `1e-3` to `1` (a
/// sign error gives exactly `1`, a 1% error in one entry about `5e-3`). `1e-5` keeps
/// a factor of 7 above the worst correct case and a factor of 100 below the mildest
/// mistake.
pub const GRAD_CHECK_RTOL: f64 = 1e-5;

/// Floor of the denominator of the relative error `|a - n| / max(|a| + |n|, floor)`.
///
/// Without it, two tiny numbers (say `1e-13` and `3e-13`, both round-off noise
/// around a true zero) would have relative error `0.5` and fail the check. With it,
/// entries with `|a| + |n|` below the floor are judged by their absolute error: they
/// pass when `|a - n| <= GRAD_CHECK_RTOL * REL_ERROR_FLOOR = 1e-8`. That is above
/// the round-off noise of central differences on the losses of this book, and far
/// below any real mistake. The floor cannot be much smaller: with `1e-4`, the
/// survey's worst case (an input entry of size `5e-5`) reaches a relative error of
/// `1.4e-5` and fails.
pub const REL_ERROR_FLOOR: f64 = 1e-3;

/// Absolute tolerance against PyTorch f64 fixtures.
///
/// Both sides compute the same f64 formulas, differing only in the order of
/// summation inside matrix products (about `1e-16` relative each) accumulated over a
/// few time steps and a few hundred operations: disagreements of `1e-14` to `1e-13`.
/// `1e-10` leaves a wide margin while still catching any formula difference (a wrong
/// gate order or a misplaced bias moves values by `1e-3` or more).
pub const FIXTURE_ATOL: f64 = 1e-10;

/// Relative tolerance against PyTorch f64 fixtures; see [`FIXTURE_ATOL`].
pub const FIXTURE_RTOL: f64 = 1e-10;

/// Relative tolerance between a fused f32 kernel and the f64 teaching code.
///
/// f32 has `ε_mach ≈ 1.2e-7`; a dot product over `I + H` terms and a recurrence over
/// `T` steps grow that to about `1e-6`..`1e-5` relative. `1e-4` accepts that and
/// rejects a wrong formula.
pub const F32_VS_F64_RTOL: f64 = 1e-4;

/// Absolute tolerance between a fused f32 kernel and the f64 code, for entries near
/// zero where a relative tolerance means nothing; see [`F32_VS_F64_RTOL`].
pub const F32_VS_F64_ATOL: f64 = 1e-5;
// ANCHOR_END: tolerances

/// The shapes of two arrays that should have matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShapeMismatch {
    /// Shape of the array being checked.
    pub actual: Vec<usize>,
    /// Shape of the reference array.
    pub expected: Vec<usize>,
}

impl fmt::Display for ShapeMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "shape mismatch: actual {:?}, expected {:?}",
            self.actual, self.expected
        )
    }
}

impl std::error::Error for ShapeMismatch {}

/// Result of comparing two arrays of the same shape entry by entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// Shape of both arrays.
    pub shape: Vec<usize>,
    /// Number of entries compared.
    pub entries: usize,
    /// Absolute tolerance used.
    pub atol: f64,
    /// Relative tolerance used.
    pub rtol: f64,
    /// Largest `|actual - expected|` (infinite if any entry is NaN or they differ in
    /// an infinity).
    pub max_abs: f64,
    /// Largest `|actual - expected| / |expected|` over entries with `expected != 0`
    /// (entries where `expected == 0` show up in `max_abs` only).
    pub max_rel: f64,
    /// Index of the entry furthest outside (or closest to the edge of) the
    /// tolerance, i.e. with the largest
    /// `|actual - expected| / (atol + rtol |expected|)`. Empty if there are no
    /// entries.
    pub worst_index: Vec<usize>,
    /// `actual` at `worst_index`.
    pub actual_at_worst: f64,
    /// `expected` at `worst_index`.
    pub expected_at_worst: f64,
    /// Number of entries outside the tolerance.
    pub failures: usize,
}

impl Comparison {
    /// Whether every entry satisfies
    /// `|actual - expected| <= atol + rtol |expected|`.
    pub fn is_within(&self) -> bool {
        self.failures == 0
    }
}

impl fmt::Display for Comparison {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} entries, max abs error {:.3e}, max rel error {:.3e}, {} outside atol {:.0e} + rtol {:.0e}",
            self.entries,
            self.max_abs,
            self.max_rel,
            self.failures,
            self.atol,
            self.rtol
        )?;
        if !self.worst_index.is_empty() {
            write!(
                f,
                "; worst at {:?}: actual {:e}, expected {:e}",
                self.worst_index, self.actual_at_worst, self.expected_at_worst
            )?;
        }
        Ok(())
    }
}

/// How far `actual` is outside the tolerance band around `expected`, as a multiple
/// of the band's half-width `atol + rtol |expected|`: `<= 1` means within. Exact
/// equality (including equal infinities) is `0`; a NaN is infinitely far.
fn excess_ratio(actual: f64, expected: f64, atol: f64, rtol: f64) -> f64 {
    if actual == expected {
        return 0.0;
    }
    let diff = (actual - expected).abs();
    let band = atol + rtol * expected.abs();
    if diff.is_nan() {
        f64::INFINITY
    } else if band > 0.0 {
        diff / band
    } else {
        f64::INFINITY
    }
}

/// Compares `actual` with `expected` entry by entry, without panicking.
///
/// Shapes: both arrays have the same shape (any dimension `D`), otherwise
/// `Err(ShapeMismatch)`. An entry passes when `|actual - expected| <= atol + rtol
/// |expected|` (the `allclose` rule); NaN never passes.
pub fn compare_arrays<D: Dimension>(
    actual: &ArrayBase<impl Data<Elem = f64>, D>,
    expected: &ArrayBase<impl Data<Elem = f64>, D>,
    atol: f64,
    rtol: f64,
) -> Result<Comparison, ShapeMismatch> {
    if actual.shape() != expected.shape() {
        return Err(ShapeMismatch {
            actual: actual.shape().to_vec(),
            expected: expected.shape().to_vec(),
        });
    }
    let mut cmp = Comparison {
        shape: actual.shape().to_vec(),
        entries: actual.len(),
        atol,
        rtol,
        max_abs: 0.0,
        max_rel: 0.0,
        worst_index: Vec::new(),
        actual_at_worst: f64::NAN,
        expected_at_worst: f64::NAN,
        failures: 0,
    };
    let mut worst_ratio = f64::NEG_INFINITY;
    // `indexed_iter` and `iter` both walk the arrays in logical (row-major) order
    for ((index, &a), &e) in actual.indexed_iter().zip(expected.iter()) {
        let diff = if a == e { 0.0 } else { (a - e).abs() };
        let diff = if diff.is_nan() { f64::INFINITY } else { diff };
        cmp.max_abs = cmp.max_abs.max(diff);
        if e != 0.0 {
            cmp.max_rel = cmp.max_rel.max(diff / e.abs());
        }
        let ratio = excess_ratio(a, e, atol, rtol);
        if ratio > 1.0 {
            cmp.failures += 1;
        }
        if ratio > worst_ratio {
            worst_ratio = ratio;
            cmp.worst_index = index.into_dimension().slice().to_vec();
            cmp.actual_at_worst = a;
            cmp.expected_at_worst = e;
        }
    }
    Ok(cmp)
}

/// Asserts that `actual` matches `expected` within `atol + rtol |expected|`
/// everywhere, and returns the comparison.
///
/// Shapes: both arrays have the same shape (any dimension `D`).
///
/// # Panics
/// With a message naming the tensor `name` and either both shapes, or the number of
/// bad entries and the worst index with both values.
#[track_caller]
pub fn assert_arrays_close<D: Dimension>(
    name: &str,
    actual: &ArrayBase<impl Data<Elem = f64>, D>,
    expected: &ArrayBase<impl Data<Elem = f64>, D>,
    atol: f64,
    rtol: f64,
) -> Comparison {
    match compare_arrays(actual, expected, atol, rtol) {
        Err(mismatch) => panic!("`{name}`: {mismatch}"),
        Ok(cmp) if !cmp.is_within() => panic!(
            "`{name}` differs from the reference in {} of {} entries; worst at index {:?}: \
             actual {:e}, expected {:e} (atol {:e}, rtol {:e}; max abs error {:.3e})",
            cmp.failures,
            cmp.entries,
            cmp.worst_index,
            cmp.actual_at_worst,
            cmp.expected_at_worst,
            atol,
            rtol,
            cmp.max_abs
        ),
        Ok(cmp) => cmp,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array3, array};

    #[test]
    fn identical_arrays_pass_even_with_zero_tolerance() {
        let a = array![[1.0, -2.0], [f64::INFINITY, 0.0]];
        let cmp = assert_arrays_close("a", &a, &a.view(), 0.0, 0.0);
        assert_eq!(cmp.max_abs, 0.0);
        assert_eq!(cmp.failures, 0);
    }

    #[test]
    fn comparison_reports_the_worst_entry() {
        let expected =
            Array3::from_shape_fn((2, 3, 4), |(i, j, k)| (i + j + k) as f64 + 1.0);
        let mut actual = expected.clone();
        actual[[1, 2, 0]] += 1e-3;
        actual[[0, 1, 3]] += 1e-12;
        let cmp =
            compare_arrays(&actual, &expected, FIXTURE_ATOL, FIXTURE_RTOL).unwrap();
        assert!(!cmp.is_within());
        assert_eq!(cmp.failures, 1);
        assert_eq!(cmp.worst_index, vec![1, 2, 0]);
        assert_eq!(cmp.expected_at_worst, 4.0);
        assert!((cmp.max_abs - 1e-3).abs() < 1e-12);
        assert!((cmp.max_rel - 2.5e-4).abs() < 1e-12);
        assert_eq!(cmp.entries, 24);
    }

    #[test]
    fn tolerance_rule_is_atol_plus_rtol_times_expected() {
        let expected = array![100.0, 0.0];
        // 100 * 1e-4 + 1e-5 = 0.01001 allowed at the first entry; 1e-5 at the second
        let ok = array![100.0 + 0.01, 0.9e-5];
        let bad = array![100.0 + 0.0101, 0.0];
        assert!(
            compare_arrays(&ok, &expected, F32_VS_F64_ATOL, F32_VS_F64_RTOL)
                .unwrap()
                .is_within()
        );
        let cmp = compare_arrays(&bad, &expected, F32_VS_F64_ATOL, F32_VS_F64_RTOL)
            .unwrap();
        assert_eq!((cmp.failures, cmp.worst_index.clone()), (1, vec![0]));
    }

    #[test]
    fn nan_never_passes() {
        let cmp =
            compare_arrays(&array![1.0, f64::NAN], &array![1.0, 2.0], 1.0, 1.0)
                .unwrap();
        assert!(!cmp.is_within());
        assert_eq!(cmp.worst_index, vec![1]);
        assert_eq!(cmp.max_abs, f64::INFINITY);
    }

    #[test]
    fn shape_mismatch_is_an_error_not_a_panic() {
        let err =
            compare_arrays(&array![[1.0, 2.0]], &array![[1.0], [2.0]], 0.0, 0.0);
        assert_eq!(
            err,
            Err(ShapeMismatch {
                actual: vec![1, 2],
                expected: vec![2, 1]
            })
        );
        assert_eq!(
            err.unwrap_err().to_string(),
            "shape mismatch: actual [1, 2], expected [2, 1]"
        );
    }

    #[test]
    #[should_panic(
        expected = "`h_n` differs from the reference in 1 of 4 entries; worst at index [1, 0]"
    )]
    fn assert_names_tensor_and_worst_index() {
        let expected = array![[0.1, 0.2], [0.3, 0.4]];
        let mut actual = expected.clone();
        actual[[1, 0]] = 0.31;
        assert_arrays_close("h_n", &actual, &expected, FIXTURE_ATOL, FIXTURE_RTOL);
    }

    #[test]
    #[should_panic(expected = "`y`: shape mismatch: actual [2, 3], expected [3, 2]")]
    fn assert_reports_shape_mismatch() {
        let a = ndarray::Array2::<f64>::zeros((2, 3));
        let b = ndarray::Array2::<f64>::zeros((3, 2));
        assert_arrays_close("y", &a, &b, 0.0, 0.0);
    }

    #[test]
    fn empty_arrays_compare_equal() {
        let a = ndarray::Array2::<f64>::zeros((0, 3));
        let cmp = compare_arrays(&a, &a, 0.0, 0.0).unwrap();
        assert!(cmp.is_within());
        assert!(cmp.worst_index.is_empty());
    }
}
