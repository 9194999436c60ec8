//! Instructor-only tests for chapter 1: the forward pass against every PyTorch
//! `nn.RNN` fixture, and sampling edge cases.

use std::path::PathBuf;

use ch00_foundations::fixture::{AnyFixture, Cell, load_any};
use ch00_foundations::rng::seeded_rng;
use ch00_foundations::tolerance::{FIXTURE_ATOL, FIXTURE_RTOL, assert_arrays_close};
use ch01_rnn::sample::sample_index;
use ch01_rnn::{RnnParams, forward};
use ndarray::array;

fn fixtures(prefix: &str) -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name().unwrap().to_string_lossy().starts_with(prefix)
                && p.extension().is_some_and(|e| e == "json")
        })
        .collect();
    v.sort();
    assert!(!v.is_empty(), "no {prefix} fixtures in {}", dir.display());
    v
}

#[test]
fn ex1_1_forward_matches_every_pytorch_rnn_fixture() {
    for path in fixtures("rnn_tanh") {
        // the stacked files (`_l2`, `_bi`) are chapter 8's
        let AnyFixture::Single(f) = load_any(&path).unwrap() else {
            continue;
        };
        assert_eq!(f.cell, Cell::RnnTanh);
        let p = RnnParams {
            weight_ih: f.params.weight_ih.clone(),
            weight_hh: f.params.weight_hh.clone(),
            bias_ih: f.params.bias_ih.clone(),
            bias_hh: f.params.bias_hh.clone(),
        };
        let (y, h_n, _) = forward(&p, f.x.view(), f.h0.view());
        let name = path.display().to_string();
        assert_arrays_close(
            &format!("{name}: y"),
            &y,
            &f.y,
            FIXTURE_ATOL,
            FIXTURE_RTOL,
        );
        assert_arrays_close(
            &format!("{name}: h_n"),
            &h_n,
            &f.h_n,
            FIXTURE_ATOL,
            FIXTURE_RTOL,
        );
    }
}

#[test]
fn ex1_2_sampling_follows_the_tempered_softmax_on_another_seed() {
    let logits = array![0.0, 1.0, 2.0];
    let mut rng = seeded_rng(2024);
    let n = 60_000;
    let mut counts = [0usize; 3];
    for _ in 0..n {
        counts[sample_index(logits.view(), 2.0, &mut rng)] += 1;
    }
    let w: Vec<f64> = logits.iter().map(|z| (z / 2.0f64).exp()).collect();
    let total: f64 = w.iter().sum();
    for k in 0..3 {
        let expected = w[k] / total;
        let got = counts[k] as f64 / n as f64;
        assert!(
            (got - expected).abs() < 0.01,
            "index {k}: {got} vs {expected}"
        );
    }
    // Huge logits must not overflow.
    let big = array![1000.0, 999.0];
    let mut rng = seeded_rng(1);
    let ones = (0..2000)
        .filter(|_| sample_index(big.view(), 1.0, &mut rng) == 1)
        .count();
    assert!((400..700).contains(&ones), "{ones}");
}

#[test]
#[should_panic(expected = "must be positive")]
fn ex1_2_a_nan_temperature_is_refused() {
    let mut rng = seeded_rng(1);
    sample_index(array![0.0, 1.0].view(), f64::NAN, &mut rng);
}
