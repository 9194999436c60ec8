//! Seeded random numbers and PyTorch's uniform initialisation.
//!
//! Every random draw in the book comes from a generator made by [`seeded_rng`] with
//! a fixed seed, so that every test, figure and training run is the same on every
//! machine.
//!
//! Why `ChaCha8Rng` and not `rand::rngs::StdRng`? `StdRng` is documented as *not
//! portable*: a later `rand` release may swap its algorithm, and then every seeded
//! test would change its numbers. `ChaCha8Rng` is a named algorithm (the ChaCha
//! stream cipher with 8 rounds) whose output stream for a given seed is fixed,
//! checked against reference vectors, and the same on every platform. Eight rounds
//! are plenty for simulation and faster than the 12 or 20 that cryptography asks
//! for.

use ndarray::{Array, Dimension, IntoDimension};
use rand::{Rng, RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

// ANCHOR: seeded_rng
/// A reproducible random number generator for `seed`.
///
/// The same seed gives the same stream of numbers on every platform and every run.
pub fn seeded_rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}
// ANCHOR_END: seeded_rng

/// Stream `stream` of the generator for `seed`: ChaCha's independent streams, so
/// that step `k` of a training run can draw its batch from `stream_rng(seed, k)` and
/// a resumed run draws the same batches as an uninterrupted one.
pub fn stream_rng(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut rng = seeded_rng(seed);
    rng.set_stream(stream);
    rng
}

/// An array of the given shape filled with draws from the uniform distribution on
/// `[low, high)`.
///
/// Shapes: `shape` is anything that converts to a dimension (`5`, `(4, 3)`,
/// `[2, 3, 4]`, `IxDyn(&[..])`); the result has that shape in standard (row-major)
/// layout. Values are drawn in row-major order, so `uniform_array((2, 3), ..)` and
/// `uniform_array(6, ..)` see the same numbers.
///
/// # Panics
/// If `low >= high` or either bound is not finite.
pub fn uniform_array<Sh, D, R>(
    shape: Sh,
    low: f64,
    high: f64,
    rng: &mut R,
) -> Array<f64, D>
where
    Sh: IntoDimension<Dim = D>,
    D: Dimension,
    R: Rng + ?Sized,
{
    assert!(
        low.is_finite() && high.is_finite() && low < high,
        "uniform_array: need finite low < high, got [{low}, {high})"
    );
    Array::from_shape_simple_fn(shape.into_dimension(), || {
        rng.random_range(low..high)
    })
}

// ANCHOR: init_uniform_pytorch
/// PyTorch's default initialisation for `nn.RNN`, `nn.LSTM` and `nn.GRU`: every
/// weight and bias drawn from `U(-k, k)` with `k = 1 / sqrt(H)`.
///
/// Shapes: `shape` as in [`uniform_array`], typically `[G*H, I]`, `[G*H, H]` or
/// `[G*H]`; `hidden_size` is `H` (not the number of rows `G*H`).
///
/// # Panics
/// If `hidden_size == 0`.
pub fn init_uniform_pytorch<Sh, D, R>(
    shape: Sh,
    hidden_size: usize,
    rng: &mut R,
) -> Array<f64, D>
where
    Sh: IntoDimension<Dim = D>,
    D: Dimension,
    R: Rng + ?Sized,
{
    assert!(
        hidden_size > 0,
        "init_uniform_pytorch: hidden_size must be positive"
    );
    let k = 1.0 / (hidden_size as f64).sqrt();
    uniform_array(shape, -k, k, rng)
}
// ANCHOR_END: init_uniform_pytorch

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array1, Array2, Array3, Ix2};

    #[test]
    fn same_seed_gives_the_same_array() {
        let a: Array3<f64> =
            uniform_array((2, 3, 4), -1.0, 1.0, &mut seeded_rng(42));
        let b: Array3<f64> =
            uniform_array((2, 3, 4), -1.0, 1.0, &mut seeded_rng(42));
        assert_eq!(a, b);
    }

    #[test]
    fn different_seeds_give_different_arrays() {
        let a: Array2<f64> = uniform_array((4, 3), -1.0, 1.0, &mut seeded_rng(1));
        let b: Array2<f64> = uniform_array((4, 3), -1.0, 1.0, &mut seeded_rng(2));
        assert!(a.iter().zip(&b).all(|(x, y)| x != y), "{a}\n{b}");
    }

    #[test]
    fn consecutive_draws_differ() {
        let mut rng = seeded_rng(7);
        let a: Array1<f64> = uniform_array(8, 0.0, 1.0, &mut rng);
        let b: Array1<f64> = uniform_array(8, 0.0, 1.0, &mut rng);
        assert_ne!(a, b);
    }

    #[test]
    fn values_are_drawn_in_row_major_order() {
        let flat: Array1<f64> = uniform_array(6, 0.0, 1.0, &mut seeded_rng(3));
        let grid: Array2<f64> = uniform_array((2, 3), 0.0, 1.0, &mut seeded_rng(3));
        assert_eq!(grid.into_shape_with_order(6).unwrap(), flat);
    }

    #[test]
    fn uniform_array_respects_bounds_and_spreads_out() {
        let a: Array1<f64> = uniform_array(10_000, 2.0, 5.0, &mut seeded_rng(0));
        assert!(a.iter().all(|&v| (2.0..5.0).contains(&v)));
        let mean = a.mean().unwrap();
        assert!((mean - 3.5).abs() < 0.05, "mean {mean}");
        let (lo, hi) =
            a.fold((f64::MAX, f64::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
        assert!(lo < 2.01 && hi > 4.99, "range [{lo}, {hi}]");
    }

    #[test]
    fn pytorch_init_bounds_for_an_lstm() {
        let (h, i) = (16, 5);
        let k = 1.0 / (h as f64).sqrt(); // 0.25
        let mut rng = seeded_rng(0);
        let w_ih: Array<f64, Ix2> = init_uniform_pytorch((4 * h, i), h, &mut rng);
        let w_hh: Array2<f64> = init_uniform_pytorch((4 * h, h), h, &mut rng);
        let b: Array1<f64> = init_uniform_pytorch(4 * h, h, &mut rng);
        assert_eq!(w_ih.dim(), (64, 5));
        assert_eq!(w_hh.dim(), (64, 16));
        for w in w_ih.iter().chain(&w_hh).chain(&b) {
            assert!(w.abs() <= k, "{w} outside [-{k}, {k}]");
        }
        // the bound is H-based, not row-based: values reach close to ±k
        let max = w_hh.fold(0.0_f64, |m, &v| m.max(v.abs()));
        assert!(max > 0.9 * k, "max |w| = {max}");
    }

    #[test]
    #[should_panic(expected = "need finite low < high")]
    fn uniform_array_rejects_empty_range() {
        let _: Array1<f64> = uniform_array(3, 1.0, 1.0, &mut seeded_rng(0));
    }
}
