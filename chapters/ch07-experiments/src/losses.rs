//! The tasks' losses on the output layer's values, each with its gradient, in the
//! form chapter 3's `train_step_with` takes: `logits: [T, B, V]` in,
//! `(summed loss, dL/dlogits)` out.

use ch00_foundations::softmax::cross_entropy;
use ndarray::{Array2, Array3, ArrayView1, ArrayView2, ArrayView3, Axis, s};

// ANCHOR: last_step_squared_error
/// The adding problem's loss: the output is read once, at the last step (`V = 1`),
/// and compared with the target: `L = Σ_b (z_T,b − target_b)²`. Only the last step
/// gets a gradient, `2 (z_T − target)`. Shapes: `logits: [T, B, 1]`, `target: [B]`.
pub fn last_step_squared_error(
    logits: ArrayView3<f64>,
    target: ArrayView1<f64>,
) -> (f64, Array3<f64>) {
    let (t, b, v) = logits.dim();
    assert!(
        t > 0 && v == 1,
        "the regression reads one value at the last step"
    );
    assert_eq!(target.len(), b, "one target per sequence");
    // BEGIN SOLUTION ex 7.2: the error at the last step, its squares summed, twice
    //   the error as the gradient there and zero elsewhere
    let err = &logits.slice(s![t - 1, .., 0]) - &target;
    let mut d = Array3::zeros(logits.raw_dim());
    d.slice_mut(s![t - 1, .., 0]).assign(&(&err * 2.0));
    (err.mapv(|e| e * e).sum(), d)
    // END SOLUTION
}
// ANCHOR_END: last_step_squared_error

/// Cross-entropy summed over the steps and sequences where `mask` is true, and its
/// gradient (zero elsewhere): the loss of strings of different lengths padded to one
/// batch. Shapes: `logits: [T, B, V]`, `targets`, `mask: [T, B]`.
pub fn masked_cross_entropy(
    logits: ArrayView3<f64>,
    targets: ArrayView2<usize>,
    mask: ArrayView2<bool>,
) -> (f64, Array3<f64>) {
    assert_eq!(
        targets.dim(),
        mask.dim(),
        "targets and mask must both be [T, B]"
    );
    let mut d = Array3::zeros(logits.raw_dim());
    let mut loss = 0.0;
    for (t, logits_t) in logits.outer_iter().enumerate() {
        let rows: Vec<usize> =
            (0..targets.ncols()).filter(|&b| mask[[t, b]]).collect();
        if rows.is_empty() {
            continue;
        }
        let picked = logits_t.select(Axis(0), &rows);
        let tgt: Vec<usize> = rows.iter().map(|&b| targets[[t, b]]).collect();
        let (l, dl) = cross_entropy(picked.view(), &tgt);
        loss += l;
        for (k, &b) in rows.iter().enumerate() {
            d.slice_mut(s![t, b, ..]).assign(&dl.row(k));
        }
    }
    (loss, d)
}

/// The most likely symbol at every step: `argmax` over `V`. Shapes: `[T, B, V]` →
/// `[T, B]`.
pub fn argmax(logits: ArrayView3<f64>) -> Array2<usize> {
    logits.map_axis(Axis(2), |row| {
        row.iter()
            .enumerate()
            .fold((0, f64::NEG_INFINITY), |best, (k, &v)| {
                if v > best.1 { (k, v) } else { best }
            })
            .0
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ch00_foundations::gradcheck::assert_gradient;
    use ch00_foundations::rng::{seeded_rng, uniform_array};
    use ndarray::{Array1, array};

    #[test]
    fn the_squared_error_reads_only_the_last_step_and_its_gradient_checks() {
        let mut rng = seeded_rng(1);
        let z: Array3<f64> = uniform_array((4, 3, 1), -1.0, 1.0, &mut rng);
        let target: Array1<f64> = uniform_array(3, 0.0, 2.0, &mut rng);
        let (loss, d) = last_step_squared_error(z.view(), target.view());
        let err = &z.slice(s![3, .., 0]) - &target;
        assert!((loss - err.mapv(|e| e * e).sum()).abs() < 1e-15);
        assert!(d.slice(s![..3, .., ..]).iter().all(|&v| v == 0.0));
        assert_gradient("logits", &z, &d, |z| {
            last_step_squared_error(z.view(), target.view()).0
        });
    }

    #[test]
    fn the_masked_cross_entropy_skips_padding_and_its_gradient_checks() {
        let mut rng = seeded_rng(2);
        let z: Array3<f64> = uniform_array((3, 2, 4), -2.0, 2.0, &mut rng);
        let targets = array![[1, 3], [0, 2], [2, 0]];
        let mask = array![[true, true], [true, false], [false, false]];
        let (loss, d) = masked_cross_entropy(z.view(), targets.view(), mask.view());
        assert!(d.slice(s![1, 1, ..]).iter().all(|&v| v == 0.0));
        assert!(d.slice(s![2, .., ..]).iter().all(|&v| v == 0.0));
        let all = Array2::from_elem((3, 2), true);
        let (full, _) = masked_cross_entropy(z.view(), targets.view(), all.view());
        assert!(loss < full);
        assert_gradient("logits", &z, &d, |z| {
            masked_cross_entropy(z.view(), targets.view(), mask.view()).0
        });
    }

    #[test]
    fn argmax_picks_the_largest_and_the_first_of_ties() {
        let z =
            Array3::from_shape_vec((1, 2, 3), vec![0.1, 0.7, 0.2, 1.0, 1.0, 0.0])
                .unwrap();
        assert_eq!(argmax(z.view()), array![[1, 0]]);
    }
}
