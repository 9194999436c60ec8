//! A first side-by-side timing of chapter 4's f64 LSTM and v1 (f32), forward + backward, at the
//! benchmark shape (T=100, B=32, I=H=256). The real benchmark will be `rnnbook bench`.
//!
//! `cargo run --release -p ch06-fused --example time_lstm`

use std::time::Instant;

use ch00_foundations::rng::{seeded_rng, uniform_array};
use ch04_lstm::{LstmParams, LstmState};
use ch06_fused::lstm_v1;
use ndarray::{Array2, Array3};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let (t, b, i, h) = (100, 32, 256, 256);
    let mut rng = seeded_rng(1);
    let p64 = LstmParams::init(i, h, &mut rng);
    let x: Array3<f64> = uniform_array((t, b, i), -1.0, 1.0, &mut rng);
    let dy: Array3<f64> = uniform_array((t, b, h), -1.0, 1.0, &mut rng);
    let s0 = LstmState::zeros(b, h);
    let p = lstm_v1::LstmF32::from_f64(&p64);
    let (x32, dy32) = (x.mapv(|v| v as f32), dy.mapv(|v| v as f32));
    let z32 = Array2::<f32>::zeros((b, h));
    let reps = 5;
    let mut naive = Vec::new();
    let mut v1 = Vec::new();
    for _ in 0..reps {
        let start = Instant::now();
        let (_, _, caches) = ch04_lstm::forward(&p64, x.view(), &s0);
        let _ = ch04_lstm::backward(&p64, &caches, dy.view(), &s0);
        naive.push(start.elapsed().as_secs_f64() * 1e3);
        let start = Instant::now();
        let (_, _, _, cache) = lstm_v1::forward(&p, x32.view(), &z32, &z32);
        let _ = lstm_v1::backward(&p, &cache, dy32.view(), &z32, &z32);
        v1.push(start.elapsed().as_secs_f64() * 1e3);
    }
    let flops = 3.0 * 2.0 * (t * b * (i + h) * 4 * h) as f64;
    for (name, ms) in [("chapter 4 (f64)", median(naive)), ("v1 (f32)", median(v1))] {
        println!(
            "{name:16} fwd+bwd median of {reps}: {ms:8.1} ms  {:6.1} GFLOP/s",
            flops / ms / 1e6
        );
    }
}
