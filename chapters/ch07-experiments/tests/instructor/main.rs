//! Instructor-only tests for chapter 7: the adding problem's generator on the
//! shortest lengths and many sequences, and the last-step loss on another shape.

use ch00_foundations::gradcheck::assert_gradient;
use ch00_foundations::rng::{seeded_rng, uniform_array};
use ch07_experiments::losses::last_step_squared_error;
use ch07_experiments::tasks::adding_batch;
use ndarray::{Array1, Array3, s};

#[test]
fn ex7_1_the_marks_fall_in_both_halves_on_every_length() {
    let mut rng = seeded_rng(701);
    for t in [2, 5, 64] {
        let a = adding_batch(t, 400, &mut rng);
        let mut seen_first = vec![false; t / 2];
        for (b, &(first, second)) in a.marks.iter().enumerate() {
            assert!(first < t / 2 && second >= t / 2 && second < t);
            seen_first[first] = true;
            let marked = a.x.slice(s![.., b, 1]);
            assert_eq!(marked.sum(), 2.0);
            assert_eq!(a.target[b], a.x[[first, b, 0]] + a.x[[second, b, 0]]);
        }
        assert!(
            seen_first.iter().all(|&s| s),
            "T={t}: a first-half step is never marked"
        );
    }
}

#[test]
fn ex7_2_the_last_step_loss_on_another_shape() {
    let mut rng = seeded_rng(702);
    let z: Array3<f64> = uniform_array((9, 5, 1), -2.0, 2.0, &mut rng);
    let target: Array1<f64> = uniform_array(5, 0.0, 2.0, &mut rng);
    let (loss, d) = last_step_squared_error(z.view(), target.view());
    let want: f64 = (0..5).map(|b| (z[[8, b, 0]] - target[b]).powi(2)).sum();
    assert!((loss - want).abs() < 1e-13);
    assert_gradient("logits", &z, &d, |z| {
        last_step_squared_error(z.view(), target.view()).0
    });
}
