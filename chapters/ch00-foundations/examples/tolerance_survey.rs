//! How accurate are central differences on a loss like the ones later chapters
//! check? This survey backs the values of `GRAD_CHECK_EPS`, `GRAD_CHECK_RTOL` and
//! `REL_ERROR_FLOOR`.
//!
//! Run with `cargo run -p ch00-foundations --example tolerance_survey`.
//!
//! The loss is a vanilla tanh recurrence,
//! `h_t = tanh(x_t W_ih^T + h_{t-1} W_hh^T + b)` with outputs `y_t = h_t`, read out
//! as `L = Σ y ⊙ g` with a fixed random `g: [T, B, H]` (the loss of the book's
//! PyTorch fixtures). No backward pass is needed: the reference gradient is a
//! Richardson extrapolation of central differences with steps `h, 2h, 4h`
//! (`h = 5e-4`). Its truncation error is `O(h⁶)` and its round-off is hundreds of
//! times smaller than at `GRAD_CHECK_EPS`; other values of `h` (from `2e-4` to
//! `1e-3`) hardly change the table.
//!
//! For every tensor the survey prints the largest relative error ([`rel_error`]) of
//! central differences with step `GRAD_CHECK_EPS` and with `1e-5`, and what the
//! first would be with a floor of `1e-4` instead of `REL_ERROR_FLOOR`.

use ch00_foundations::gradcheck::{Difference, numeric_gradient, rel_error};
use ch00_foundations::rng::{seeded_rng, uniform_array};
use ch00_foundations::tolerance::{
    GRAD_CHECK_EPS, GRAD_CHECK_RTOL, REL_ERROR_FLOOR,
};
use ndarray::{Array, Array1, Array2, Array3, Dimension, s};

/// Smallest step of the Richardson extrapolation.
const REFERENCE_STEP: f64 = 5e-4;

/// A smaller floor, to show why `REL_ERROR_FLOOR` is not smaller.
const SMALLER_FLOOR: f64 = 1e-4;

/// The recurrence's tensors. Shapes: `weight_ih [H, I]`, `weight_hh [H, H]`,
/// `bias [H]`, `x [T, B, I]`, `h0 [B, H]`, `g [T, B, H]`.
#[derive(Clone)]
struct Problem {
    weight_ih: Array2<f64>,
    weight_hh: Array2<f64>,
    bias: Array1<f64>,
    x: Array3<f64>,
    h0: Array2<f64>,
    g: Array3<f64>,
}

impl Problem {
    /// `B = 2`, `I = 3`, `H = 4`; weights and bias from `U(-scale, scale)`, the rest
    /// from `U(-1, 1)`.
    fn new(seq_len: usize, scale: f64) -> Self {
        let (batch, input, hidden) = (2, 3, 4);
        let mut rng = seeded_rng(5);
        Problem {
            weight_ih: uniform_array((hidden, input), -scale, scale, &mut rng),
            weight_hh: uniform_array((hidden, hidden), -scale, scale, &mut rng),
            bias: uniform_array(hidden, -scale, scale, &mut rng),
            x: uniform_array((seq_len, batch, input), -1.0, 1.0, &mut rng),
            h0: uniform_array((batch, hidden), -1.0, 1.0, &mut rng),
            g: uniform_array((seq_len, batch, hidden), -1.0, 1.0, &mut rng),
        }
    }

    /// `L = Σ y ⊙ g` with `y: [T, B, H]`.
    fn loss(&self) -> f64 {
        let mut y = Array3::zeros(self.g.raw_dim());
        let mut h = self.h0.clone();
        for (t, x_t) in self.x.outer_iter().enumerate() {
            let a = x_t.dot(&self.weight_ih.t())
                + h.dot(&self.weight_hh.t())
                + &self.bias;
            h = a.mapv(f64::tanh);
            y.slice_mut(s![t, .., ..]).assign(&h);
        }
        (&y * &self.g).sum()
    }
}

/// Largest relative error of `numeric` against `reference` with the given floor.
fn max_rel_error<D: Dimension>(
    numeric: &Array<f64, D>,
    reference: &Array<f64, D>,
    floor: f64,
) -> f64 {
    numeric.iter().zip(reference).fold(0.0_f64, |m, (&n, &r)| {
        m.max((r - n).abs() / (r.abs() + n.abs()).max(floor))
    })
}

/// Prints one row of the table and returns the error at `GRAD_CHECK_EPS`.
fn survey<D: Dimension>(
    name: &str,
    param: &Array<f64, D>,
    mut loss: impl FnMut(&Array<f64, D>) -> f64,
) -> f64 {
    let h = REFERENCE_STEP;
    let mut central =
        |eps| numeric_gradient(param, eps, Difference::Central, &mut loss);
    let (d_h, d_2h, d_4h) = (central(h), central(2.0 * h), central(4.0 * h));
    // D(h) = L' + c2 h² + c4 h⁴ + ...: cancel the h² terms, then the h⁴ terms
    let r_h = (4.0 * &d_h - &d_2h) / 3.0;
    let r_2h = (4.0 * &d_2h - &d_4h) / 3.0;
    let reference = (16.0 * &r_h - &r_2h) / 15.0;

    let at_book_eps = central(GRAD_CHECK_EPS);
    let at_1e5 = central(1e-5);
    let book = at_book_eps
        .iter()
        .zip(&reference)
        .fold(0.0_f64, |m, (&n, &r)| m.max(rel_error(r, n)));
    let smallest = reference.iter().fold(f64::INFINITY, |m, v| m.min(v.abs()));
    println!(
        "  {name:<9} {smallest:>10.1e} {book:>12.1e} {:>12.1e} {:>18.1e}",
        max_rel_error(&at_1e5, &reference, REL_ERROR_FLOOR),
        max_rel_error(&at_book_eps, &reference, SMALLER_FLOOR),
    );
    book
}

fn main() {
    println!(
        "Central differences on L = Σ y ⊙ g of a tanh recurrence (B = 2, I = 3, H = 4).\n\
         Largest relative error per tensor; floor {REL_ERROR_FLOOR:.0e} unless stated."
    );
    let mut worst = 0.0_f64;
    for (seq_len, scale) in [(5, 1.0), (30, 1.0), (30, 3.0), (100, 1.0)] {
        let p = Problem::new(seq_len, scale);
        println!(
            "\nT = {seq_len}, weights from U(-{scale}, {scale}), L = {:.3}",
            p.loss()
        );
        println!(
            "  {:<9} {:>10} {:>12} {:>12} {:>18}",
            "tensor",
            "min |grad|",
            format!("eps {GRAD_CHECK_EPS:.0e}"),
            "eps 1e-5",
            format!("eps {GRAD_CHECK_EPS:.0e}, floor {SMALLER_FLOOR:.0e}")
        );
        let errors = [
            survey("weight_ih", &p.weight_ih, |w| {
                let mut q = p.clone();
                q.weight_ih = w.clone();
                q.loss()
            }),
            survey("weight_hh", &p.weight_hh, |w| {
                let mut q = p.clone();
                q.weight_hh = w.clone();
                q.loss()
            }),
            survey("bias", &p.bias, |b| {
                let mut q = p.clone();
                q.bias = b.clone();
                q.loss()
            }),
            survey("x", &p.x, |x| {
                let mut q = p.clone();
                q.x = x.clone();
                q.loss()
            }),
            survey("h0", &p.h0, |h| {
                let mut q = p.clone();
                q.h0 = h.clone();
                q.loss()
            }),
        ];
        worst = errors.into_iter().fold(worst, f64::max);
    }
    println!(
        "\nWorst at GRAD_CHECK_EPS = {GRAD_CHECK_EPS:.0e}: {worst:.1e}; \
         GRAD_CHECK_RTOL = {GRAD_CHECK_RTOL:.0e} is {:.0} times larger.",
        GRAD_CHECK_RTOL / worst
    );
}
