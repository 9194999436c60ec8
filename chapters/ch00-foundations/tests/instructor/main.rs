//! Instructor-only tests for chapter 0 (left out of the student edition;
//! `rnnbook grade` runs them): other points, other shapes, edge cases.

use ch00_foundations::activations::{
    dsigmoid_from_output, dtanh_from_output, sigmoid,
};
use ch00_foundations::gradcheck::central_difference;
use ch00_foundations::softmax::log_softmax_row;
use ndarray::{Array1, Array3, IxDyn, array};

#[test]
fn ex0_1_dsigmoid_matches_a_fine_difference_everywhere() {
    for k in -40..=40 {
        let x = f64::from(k) * 0.25;
        let fd = (sigmoid(x + 1e-6) - sigmoid(x - 1e-6)) / 2e-6;
        let d = dsigmoid_from_output(sigmoid(x));
        assert!((d - fd).abs() < 1e-8, "x = {x}: {d} vs {fd}");
    }
    assert_eq!(dsigmoid_from_output(0.0), 0.0);
    assert_eq!(dsigmoid_from_output(1.0), 0.0);
}

#[test]
fn ex0_2_dtanh_matches_a_fine_difference_everywhere() {
    for k in -40..=40 {
        let x = f64::from(k) * 0.2;
        let fd = ((x + 1e-6).tanh() - (x - 1e-6).tanh()) / 2e-6;
        let d = dtanh_from_output(x.tanh());
        assert!((d - fd).abs() < 1e-8, "x = {x}: {d} vs {fd}");
    }
    assert_eq!(dtanh_from_output(1.0), 0.0);
    assert_eq!(dtanh_from_output(-1.0), 0.0);
}

#[test]
fn ex0_3_central_difference_on_a_cubic_in_3d_restores_theta() {
    let mut theta = Array3::from_shape_fn((2, 3, 2), |(a, b, c)| {
        0.3 * a as f64 - 0.2 * b as f64 + 0.1 * c as f64
    });
    let before = theta.clone();
    let mut loss = |t: &Array3<f64>| t.mapv(|v| v * v * v).sum();
    for (idx, &v) in before.indexed_iter() {
        let (a, b, c) = idx;
        let d = central_difference(
            &mut theta,
            &ndarray::Dim([a, b, c]),
            1e-5,
            &mut loss,
        );
        assert!(
            (d - 3.0 * v * v).abs() < 1e-8,
            "{idx:?}: {d} vs {}",
            3.0 * v * v
        );
        assert_eq!(theta, before, "theta must be restored exactly");
    }
    let mut dyn_theta = before.clone().into_dyn();
    let mut dyn_loss = |t: &ndarray::ArrayD<f64>| t.sum();
    let d =
        central_difference(&mut dyn_theta, &IxDyn(&[1, 2, 1]), 1e-4, &mut dyn_loss);
    assert!((d - 1.0).abs() < 1e-9);
}

#[test]
fn ex0_4_log_softmax_is_shift_invariant_and_stable() {
    let z = array![3.0, -1.0, 0.5, 2.0];
    let base = log_softmax_row(z.view());
    for shift in [-800.0, 0.0, 800.0] {
        let shifted: Array1<f64> = z.mapv(|v| v + shift);
        let l = log_softmax_row(shifted.view());
        for (a, b) in l.iter().zip(&base) {
            assert!((a - b).abs() < 1e-12, "shift {shift}: {a} vs {b}");
        }
    }
    let total: f64 = base.mapv(f64::exp).sum();
    assert!((total - 1.0).abs() < 1e-14);
    let one = log_softmax_row(array![42.0].view());
    assert_eq!(one[0], 0.0);
}
