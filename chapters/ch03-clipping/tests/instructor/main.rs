//! Instructor-only tests for chapter 3: norms at the edges of `f64`, clipping on
//! other thresholds, and the walk back on another RNN.

use ch00_foundations::rng::seeded_rng;
use ch00_foundations::tolerance::assert_arrays_close;
use ch02_bptt::problem::Problem;
use ch02_bptt::{RnnGrads, backward, forward};
use ch03_clipping::clip::{clip_by_global_norm, global_norm};
use ch03_clipping::dynamics::grad_norms_by_distance;
use ndarray::{Array2, Array3, array};

fn grads(a: f64, b: f64, c: f64) -> RnnGrads {
    RnnGrads {
        dweight_ih: array![[a]],
        dweight_hh: array![[b]],
        dbias_ih: array![c],
        dbias_hh: array![0.0],
    }
}

#[test]
fn ex3_1_global_norm_at_ordinary_huge_and_tiny_scales() {
    assert!((global_norm(&grads(3.0, 4.0, 12.0)) - 13.0).abs() < 1e-12);
    let huge = global_norm(&grads(3e200, 4e200, 12e200));
    assert!((huge / 13e200 - 1.0).abs() < 1e-12, "{huge}");
    let tiny = global_norm(&grads(3e-200, 4e-200, 12e-200));
    assert!((tiny / 13e-200 - 1.0).abs() < 1e-12, "{tiny}");
    assert_eq!(global_norm(&grads(0.0, 0.0, 0.0)), 0.0);
    assert!(global_norm(&grads(1.0, f64::NAN, 0.0)).is_nan());
}

#[test]
fn ex3_2_clipping_on_another_threshold() {
    let mut g = grads(3.0, 4.0, 12.0);
    let r = clip_by_global_norm(&mut g, 0.5).unwrap();
    assert!((r.norm_before - 13.0).abs() < 1e-12);
    assert!((r.scale - 0.5 / 13.0).abs() < 1e-15);
    assert!((global_norm(&g) - 0.5).abs() < 1e-12);
    assert!(
        (g.dweight_ih[[0, 0]] / g.dweight_hh[[0, 0]] - 0.75).abs() < 1e-12,
        "direction kept"
    );
    let mut small = grads(0.1, 0.2, 0.2);
    let r = clip_by_global_norm(&mut small, 1.0).unwrap();
    assert_eq!(r.scale, 1.0);
    assert_eq!(small.dweight_hh[[0, 0]], 0.2);
    let mut bad = grads(1.0, f64::NEG_INFINITY, 0.0);
    let e = clip_by_global_norm(&mut bad, 1.0).unwrap_err();
    assert_eq!(e.tensor, "dweight_hh");
    assert_eq!(bad.dweight_ih[[0, 0]], 1.0, "untouched");
}

#[test]
fn ex3_3_the_walk_back_ends_at_chapter_2s_dh0_on_another_rnn() {
    let (t, b, h) = (9, 2, 5);
    let Problem {
        p,
        x,
        h0,
        dh_n: dy_last,
        ..
    } = Problem::<1>::random(&mut seeded_rng(303), (t, b, 3, h), 1.0, 0.5);
    let norms = grad_norms_by_distance(&p, x.view(), h0.view(), dy_last.view());
    assert_eq!(norms.len(), t + 1);
    let norm = |a: &Array2<f64>| a.mapv(|v| v * v).sum().sqrt();
    assert!((norms[0] - norm(&dy_last)).abs() < 1e-14);
    let (_, _, cache) = forward(&p, x.view(), h0.view());
    let mut dy = Array3::zeros((t, b, h));
    dy.index_axis_mut(ndarray::Axis(0), t - 1).assign(&dy_last);
    let (_, _, dh0) = backward(&p, &cache, dy.view(), Array2::zeros((b, h)).view());
    assert_arrays_close(
        "‖dh0‖",
        &ndarray::arr0(norms[t]),
        &ndarray::arr0(norm(&dh0)),
        1e-12,
        1e-12,
    );
}
