//! Activations in `f32`, two ways, and the switch that compiles the element-wise
//! loops for AVX2.
//!
//! [`Libm`] calls the standard library's `exp` and `tanh`: accurate to an ulp or so,
//! but each is an opaque call, so a loop over them runs one element at a time.
//! [`Fast`] builds both from a branchless `exp` (range reduction to `|r| ≤ ln2/2`, a
//! degree-6 polynomial, the exponent put back with integer bit operations) that the
//! compiler turns into 8-wide AVX2 code. Its error bound is measured against `f64`
//! by the tests below and stated in [`FAST_SIGMOID_MAX_ABS_ERR`] and
//! [`FAST_TANH_MAX_ABS_ERR`].

// ANCHOR: act
/// The activations a kernel uses, and how its element-wise blocks are compiled.
pub trait Act {
    /// `σ(x) = 1 / (1 + e^{-x})`.
    fn sigmoid(x: f32) -> f32;
    /// `tanh(x)`.
    fn tanh(x: f32) -> f32;
    /// Runs one element-wise block (a closure over whole rows). The default just
    /// calls it.
    #[inline(always)]
    fn block<R>(f: impl FnOnce() -> R) -> R {
        f()
    }
}

/// The standard library's `exp` and `tanh`, in plain x86-64 code (v1).
pub struct Libm;

impl Act for Libm {
    #[inline(always)]
    fn sigmoid(x: f32) -> f32 {
        1.0 / (1.0 + (-x).exp())
    }

    #[inline(always)]
    fn tanh(x: f32) -> f32 {
        x.tanh()
    }
}

/// Branchless polynomial activations; blocks compiled for AVX2 + FMA when the CPU
/// has them (v2).
pub struct Fast;

impl Act for Fast {
    #[inline(always)]
    fn sigmoid(x: f32) -> f32 {
        1.0 / (1.0 + fast_exp(-x))
    }

    /// `tanh(x) = 2σ(2x) − 1`: one `exp`, no branch.
    #[inline(always)]
    fn tanh(x: f32) -> f32 {
        2.0 / (1.0 + fast_exp(-2.0 * x)) - 1.0
    }

    #[inline(always)]
    fn block<R>(f: impl FnOnce() -> R) -> R {
        #[cfg(target_arch = "x86_64")]
        if avx2_fma() {
            // SAFETY: the CPU was just checked to have AVX2 and FMA.
            return unsafe { with_avx2_fma(f) };
        }
        f()
    }
}
// ANCHOR_END: act

// ANCHOR: fast_exp
/// `e^x` in `f32` without a branch or a table. Inputs are clamped to `[-87, 88]`,
/// where the result is a normal `f32` (so `σ` and `tanh` saturate correctly); NaN
/// stays NaN.
#[inline(always)]
pub fn fast_exp(x: f32) -> f32 {
    const LOG2_E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_359_4; // ln 2 split in two so that n·LN2_HI is exact
    const LN2_LO: f32 = -2.121_944_4e-4;
    const SHIFT: f32 = 12_582_912.0; // 1.5·2²³: adding it rounds to an integer
    // BEGIN SOLUTION ex 6.2: clamp, write x = n ln2 + r, a polynomial for e^r, and
    //   2^n from its bits
    let x = x.clamp(-87.0, 88.0);
    // the low bits of t now hold n = round(x / ln 2)
    let t = x * LOG2_E + SHIFT;
    let n = t - SHIFT;
    let r = (x - n * LN2_HI) - n * LN2_LO; // x = n·ln 2 + r, |r| ≤ ln2/2
    // e^r by its Taylor polynomial of degree 6 (Horner): error ≤ r⁷/7! ≈ 1.2e-7
    // relative.
    let p = 1.0
        + r * (1.0
            + r * (1.0 / 2.0
                + r * (1.0 / 6.0
                    + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0))))));
    let n_int = t.to_bits().wrapping_sub(SHIFT.to_bits()) as i32;
    // 2ⁿ built from its exponent bits
    let two_to_n = f32::from_bits(((n_int + 127) << 23) as u32);
    p * two_to_n
    // END SOLUTION
}
// ANCHOR_END: fast_exp

/// Largest `|Fast::sigmoid(x) − σ(x)|` over the test grid, with a margin (measured:
/// see tests).
pub const FAST_SIGMOID_MAX_ABS_ERR: f64 = 2e-7;
/// Largest `|Fast::tanh(x) − tanh(x)|` over the test grid, with a margin (measured:
/// see tests).
pub const FAST_TANH_MAX_ABS_ERR: f64 = 4e-7;

/// Whether this CPU has AVX2 and FMA (checked once, then cached by the standard
/// library).
#[cfg(target_arch = "x86_64")]
pub fn avx2_fma() -> bool {
    std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
}

/// Not on x86-64: the portable code runs.
#[cfg(not(target_arch = "x86_64"))]
pub fn avx2_fma() -> bool {
    false
}

/// Calls `f` inside a function compiled for AVX2 + FMA, so that `f`, inlined here,
/// is too.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn with_avx2_fma<R>(f: impl FnOnce() -> R) -> R {
    f()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A dense grid over where the gates live, plus the saturated tails.
    fn grid() -> impl Iterator<Item = f32> {
        (-400_000..=400_000).map(|k| k as f32 * 5e-5) // [-20, 20], step 5e-5
    }

    fn max_err(f: impl Fn(f32) -> f32, exact: impl Fn(f64) -> f64) -> f64 {
        grid()
            .map(|x| (f64::from(f(x)) - exact(f64::from(x))).abs())
            .fold(0.0, f64::max)
    }

    fn sigmoid64(x: f64) -> f64 {
        1.0 / (1.0 + (-x).exp())
    }

    #[test]
    fn fast_sigmoid_and_tanh_are_within_their_stated_bounds() {
        let s = max_err(Fast::sigmoid, sigmoid64);
        let t = max_err(Fast::tanh, f64::tanh);
        let (ls, lt) = (
            max_err(Libm::sigmoid, sigmoid64),
            max_err(Libm::tanh, f64::tanh),
        );
        eprintln!(
            "max abs error: fast sigmoid {s:.2e}, tanh {t:.2e}; libm sigmoid {ls:.2e}, tanh {lt:.2e}"
        );
        assert!(
            s <= FAST_SIGMOID_MAX_ABS_ERR,
            "fast sigmoid max abs error {s:e}"
        );
        assert!(t <= FAST_TANH_MAX_ABS_ERR, "fast tanh max abs error {t:e}");
        // And the bounds are not loose: the measured errors are within 4× of them.
        assert!(
            s > FAST_SIGMOID_MAX_ABS_ERR / 4.0 && t > FAST_TANH_MAX_ABS_ERR / 4.0
        );
    }

    /// The largest relative error of `tanh` against `f64` on `[a, 10a]`.
    fn max_rel_err_tanh(tanh: impl Fn(f32) -> f32, a: f32) -> f64 {
        (0..=1000)
            .map(|k| a * (1.0 + 9.0 * k as f32 / 1000.0))
            .map(|x| {
                let exact = f64::from(x).tanh();
                (f64::from(tanh(x)) - exact).abs() / exact
            })
            .fold(0.0, f64::max)
    }

    /// `2σ(2x) − 1` cancels near 0: its absolute error stays about an ulp of 1/2,
    /// so its *relative* error grows as `x` shrinks, to 100 % below about 1e-7,
    /// where it returns 0. The standard library's stays near one ulp.
    #[test]
    fn fast_tanh_loses_relative_accuracy_near_zero() {
        let fast: Vec<f64> = [1e-1, 1e-3, 1e-5]
            .iter()
            .map(|&a| max_rel_err_tanh(Fast::tanh, a))
            .collect();
        let libm = max_rel_err_tanh(Libm::tanh, 1e-5);
        eprintln!(
            "fast tanh max relative error on [a, 10a]: a = 1e-1 {:.1e}, 1e-3 {:.1e}, \
             1e-5 {:.1e}; libm at 1e-5 {libm:.1e}",
            fast[0], fast[1], fast[2]
        );
        assert!(
            fast[0] < 5e-6 && fast[1] > 10.0 * fast[0] && fast[2] > 10.0 * fast[1]
        );
        assert!(fast[2] > 1e-3 && libm < 2e-7, "{fast:?} {libm:e}");
        assert_eq!(Fast::tanh(1e-9), 0.0);
    }

    #[test]
    fn fast_exp_is_accurate_relative_to_f64_over_its_range() {
        let worst = (-870_000..=880_000)
            .map(|k| k as f32 * 1e-4)
            .map(|x| {
                let exact = f64::from(x).exp();
                (f64::from(fast_exp(x)) - exact).abs() / exact
            })
            .fold(0.0, f64::max);
        assert!(worst < 5e-7, "fast_exp max relative error {worst:e}");
    }

    /// Keras's old default gate activation, which post 000 mentions:
    /// `clip(0.2x + 0.5, 0, 1)`.
    fn hard_sigmoid(x: f32) -> f32 {
        (0.2 * x + 0.5).clamp(0.0, 1.0)
    }

    #[test]
    fn hard_sigmoid_is_another_function() {
        // Its largest distance from σ is about 0.076 (near |x| = 2.5, where it is
        // already 0 or 1): five orders of magnitude above the f32 tolerance, so not
        // an approximation of σ at all.
        let e = max_err(hard_sigmoid, sigmoid64);
        eprintln!("hard_sigmoid max abs error {e:.4}");
        assert!((0.07..0.08).contains(&e), "{e}");
    }

    #[test]
    fn saturation_infinities_and_nan() {
        for (x, s) in [
            (-1e30, 0.0),
            (1e30, 1.0),
            (f32::NEG_INFINITY, 0.0),
            (f32::INFINITY, 1.0),
        ] {
            assert!((Fast::sigmoid(x) - s).abs() < 1e-30, "sigmoid({x})");
            assert!((Fast::tanh(x) - (2.0 * s - 1.0)).abs() < 1e-7, "tanh({x})");
        }
        assert!(Fast::sigmoid(f32::NAN).is_nan());
        assert!(Fast::tanh(f32::NAN).is_nan());
        assert_eq!(Fast::tanh(0.0), 0.0);
    }

    #[test]
    fn the_avx2_block_gives_the_same_bits_as_the_portable_code() {
        // No fused multiply-add is formed without being asked for, so both
        // compilations round alike.
        let xs: Vec<f32> = grid().step_by(97).collect();
        let portable: Vec<f32> = xs
            .iter()
            .map(|&x| Fast::tanh(x) + Fast::sigmoid(x))
            .collect();
        let blocked: Vec<f32> = Fast::block(|| {
            xs.iter()
                .map(|&x| Fast::tanh(x) + Fast::sigmoid(x))
                .collect()
        });
        assert_eq!(portable, blocked);
    }
}
