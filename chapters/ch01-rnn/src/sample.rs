//! Drawing text from the model, one character at a time.

use ndarray::{Array2, ArrayView1, Axis};
use rand::{Rng, RngExt};

use crate::cell::cell_forward;
use crate::model::CharRnn;

// ANCHOR: sample_index
/// Draws an index from `softmax(logits / temperature)`.
///
/// Shapes: `logits: [V]`. A temperature below 1 sharpens the distribution (towards
/// the most likely character), above 1 flattens it (towards uniform).
///
/// # Panics
/// If `temperature` is not a positive finite number.
pub fn sample_index<R: Rng + ?Sized>(
    logits: ArrayView1<f64>,
    temperature: f64,
    rng: &mut R,
) -> usize {
    // BEGIN SOLUTION ex 1.2: refuse a bad argument, then draw from softmax(logits /
    //   T)
    assert!(
        temperature.is_finite() && temperature > 0.0,
        "temperature must be positive, got {temperature}"
    );
    let max = logits.fold(f64::NEG_INFINITY, |m, &z| m.max(z));
    // Unnormalised, in [0, 1] (0 where a weight underflows); the largest is exactly
    // 1.
    let weights = logits.mapv(|z| ((z - max) / temperature).exp());
    let mut u = rng.random_range(0.0..weights.sum());
    for (i, &w) in weights.iter().enumerate() {
        if u < w {
            return i;
        }
        u -= w;
    }
    weights.len() - 1 // only reached through rounding in the subtraction
    // END SOLUTION
}
// ANCHOR_END: sample_index

// ANCHOR: sample
/// Generates `n` characters: feeds `start`, draws the next character, feeds it back.
///
/// Shapes: `h0: [1, H]`. Returns the `n` drawn indices (without `start`).
pub fn sample<R: Rng + ?Sized>(
    model: &CharRnn,
    h0: Array2<f64>,
    start: usize,
    n: usize,
    temperature: f64,
    rng: &mut R,
) -> Vec<usize> {
    let v = model.vocab_size();
    assert!(
        start < v,
        "sample: start index {start} is not below V = {v}"
    );
    let mut h = h0;
    let mut current = start;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let mut x = Array2::zeros((1, v));
        x[[0, current]] = 1.0;
        h = cell_forward(&model.rnn, x.view(), h.view());
        let logits = h.dot(&model.out.weight_hy.t()) + &model.out.bias_y;
        current = sample_index(logits.index_axis(Axis(0), 0), temperature, rng);
        out.push(current);
    }
    out
}
// ANCHOR_END: sample

#[cfg(test)]
mod tests {
    use super::*;
    use ch00_foundations::rng::seeded_rng;
    use ndarray::array;

    #[test]
    fn low_temperature_picks_the_largest_logit() {
        let mut rng = seeded_rng(0);
        let logits = array![0.0, 2.0, 1.0];
        for _ in 0..100 {
            assert_eq!(sample_index(logits.view(), 0.01, &mut rng), 1);
        }
    }

    #[test]
    fn frequencies_follow_the_softmax() {
        let mut rng = seeded_rng(1);
        // probabilities 1/4, 1/4, 1/2
        let logits = array![0.0, 1.0f64.ln(), 2.0f64.ln()];
        let mut counts = [0usize; 3];
        let n = 40_000;
        for _ in 0..n {
            counts[sample_index(logits.view(), 1.0, &mut rng)] += 1;
        }
        let freq: Vec<f64> = counts.iter().map(|&c| c as f64 / n as f64).collect();
        for (f, p) in freq.iter().zip([0.25, 0.25, 0.5]) {
            assert!((f - p).abs() < 0.01, "frequencies {freq:?}");
        }
    }

    #[test]
    fn high_temperature_flattens() {
        let mut rng = seeded_rng(2);
        let logits = array![0.0, 3.0];
        let n = 20_000;
        let ones = (0..n)
            .filter(|_| sample_index(logits.view(), 100.0, &mut rng) == 1)
            .count();
        assert!((ones as f64 / n as f64 - 0.5).abs() < 0.02);
    }

    #[test]
    fn sampling_is_reproducible_with_a_seed() {
        let model = CharRnn::init(6, 8, &mut seeded_rng(3));
        let a = sample(
            &model,
            Array2::zeros((1, 8)),
            0,
            50,
            1.0,
            &mut seeded_rng(9),
        );
        let b = sample(
            &model,
            Array2::zeros((1, 8)),
            0,
            50,
            1.0,
            &mut seeded_rng(9),
        );
        assert_eq!(a, b);
        assert_eq!(a.len(), 50);
        assert!(a.iter().all(|&i| i < 6));
    }

    #[test]
    #[should_panic(expected = "temperature must be positive")]
    fn zero_temperature_is_refused() {
        sample_index(array![1.0].view(), 0.0, &mut seeded_rng(0));
    }
}
