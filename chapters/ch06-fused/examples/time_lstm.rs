//! Where the time of the LSTM forward goes, at the benchmark shape: the activations
//! alone (fast in a portable loop, fast in an AVX2 block, the standard library's),
//! then v1, v2, v2's code with no activations at all, and the GEMMs alone (the input
//! projection plus T per-step products), and the GEMMs of the concatenated form
//! `[x_t, h_{t-1}] · [W_ih | W_hh]ᵀ` (one product per step, as in TensorFlow's
//! `BasicLSTMCell`).
//!
//! `cargo run --release -p ch06-fused --example time_lstm`

use std::time::Instant;

use ch00_foundations::rng::{seeded_rng, uniform_array};
use ch04_lstm::LstmParams;
use ch06_fused::act::{Act, Fast};
use ch06_fused::kernel::Kernel;
use ch06_fused::lstm::{Fused, LstmF32, LstmState, V1, V2};
use ndarray::linalg::general_mat_mul;
use ndarray::{Array2, Array3, s};

/// No activations: what the forward costs without them.
struct Identity;
impl Act for Identity {
    fn sigmoid(x: f32) -> f32 {
        x
    }
    fn tanh(x: f32) -> f32 {
        x
    }
    fn block<R>(f: impl FnOnce() -> R) -> R {
        Fast::block(f)
    }
}

fn median_ms(mut f: impl FnMut()) -> f64 {
    f();
    let mut v: Vec<f64> = (0..7)
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    v.sort_by(f64::total_cmp);
    v[3]
}

fn main() {
    probe();
    let (t, b, i, h) = (100, 32, 256, 256);
    let mut rng = seeded_rng(1);
    let p = LstmF32::from_f64(&LstmParams::init(i, h, &mut rng));
    let x: Array3<f32> =
        uniform_array((t, b, i), -1.0, 1.0, &mut rng).mapv(|v: f64| v as f32);
    let z = Array2::<f32>::zeros((b, h));
    let s0 = LstmState {
        h: z.clone(),
        c: z.clone(),
    };
    let v1 = median_ms(|| drop(V1::forward(&p, x.view(), &s0)));
    let v2 = median_ms(|| drop(V2::forward(&p, x.view(), &s0)));
    let none = median_ms(|| drop(Fused::<Identity>::forward(&p, x.view(), &s0)));
    let x2 = x.to_shape((t * b, i)).unwrap().into_owned();
    let mut gates = Array2::<f32>::zeros((t * b, 4 * h));
    let hs = Array2::<f32>::from_elem((b, h), 0.1);
    let input =
        median_ms(|| general_mat_mul(1.0, &x2, &p.weight_ih.t(), 1.0, &mut gates));
    let steps = median_ms(|| {
        for k in 0..t {
            let mut g = gates.slice_mut(s![k * b..(k + 1) * b, ..]);
            general_mat_mul(1.0, &hs, &p.weight_hh.t(), 1.0, &mut g);
        }
    });
    println!(
        "forward, ms (median of 7): v1 {v1:.1}, v2 {v2:.1}, no activations {none:.1}"
    );
    println!(
        "GEMMs alone: input projection {input:.1} + {t} steps {steps:.1} = {:.1}",
        input + steps
    );
    // The concatenated form of post 001: [x_t, h_{t-1}] · [W_ih | W_hh]ᵀ, one GEMM
    // per step.
    let w_cat = ndarray::concatenate(
        ndarray::Axis(1),
        &[p.weight_ih.view(), p.weight_hh.view()],
    )
    .expect("both have 4H rows");
    let xh = Array2::<f32>::from_elem((b, i + h), 0.1);
    let concat = median_ms(|| {
        for k in 0..t {
            let mut g = gates.slice_mut(s![k * b..(k + 1) * b, ..]);
            general_mat_mul(1.0, &xh, &w_cat.t(), 1.0, &mut g);
        }
    });
    println!(
        "GEMMs of the concatenated form: {t} steps of [x_t, h_(t-1)] · W_catᵀ {concat:.1}"
    );
}

/// The activations alone, on 4.1 M values (as many as one forward pass evaluates).
fn probe() {
    let mut v = vec![0.5f32; 4_096_000];
    let a = median_ms(|| v.iter_mut().for_each(|x| *x = Fast::sigmoid(*x)));
    let b = median_ms(|| {
        Fast::block(|| v.iter_mut().for_each(|x| *x = Fast::sigmoid(*x)))
    });
    let c = median_ms(|| {
        v.iter_mut()
            .for_each(|x| *x = ch06_fused::act::Libm::sigmoid(*x))
    });
    println!(
        "4.1M sigmoids: fast portable {a:.1} ms, fast in block {b:.1} ms, libm {c:.1} ms"
    );
}
