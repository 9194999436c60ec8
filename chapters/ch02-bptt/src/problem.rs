//! Random problems for gradient checks and tests, drawn the same way everywhere: a
//! layer with PyTorch's initialisation, an input sequence, an initial state and the
//! upstream gradients.

use ch00_foundations::rng::uniform_array;
use ch01_rnn::cell::LayerParams;
use ndarray::{Array2, Array3};
use rand::Rng;

/// A random problem for a layer with `G` gate blocks. Shapes: `x: [T, B, I]`,
/// `h0: [B, H]`, `dy: [T, B, H]`, `dh_n: [B, H]`.
#[derive(Debug, Clone)]
pub struct Problem<const G: usize> {
    /// The parameters.
    pub p: LayerParams<G>,
    /// The input, from `U(−1, 1)`.
    pub x: Array3<f64>,
    /// The initial state, from `U(−h0_bound, h0_bound)`.
    pub h0: Array2<f64>,
    /// The gradient reaching the outputs, from `U(−1, 1)`.
    pub dy: Array3<f64>,
    /// The gradient reaching the final state, from `U(−1, 1)`.
    pub dh_n: Array2<f64>,
}

impl<const G: usize> Problem<G> {
    /// Draws, in this order: the parameters (PyTorch's initialisation, both weight
    /// matrices times `scale`, so that large values saturate the gates), `x`, `h0`,
    /// `dy`, `dh_n`. Anything else a test needs (an LSTM's `c0`) it draws from `rng`
    /// afterwards.
    pub fn random<R: Rng + ?Sized>(
        rng: &mut R,
        (t, b, i, h): (usize, usize, usize, usize),
        scale: f64,
        h0_bound: f64,
    ) -> Self {
        let mut p = LayerParams::init(i, h, rng);
        p.weight_ih *= scale;
        p.weight_hh *= scale;
        Problem {
            p,
            x: uniform_array((t, b, i), -1.0, 1.0, rng),
            h0: uniform_array((b, h), -h0_bound, h0_bound, rng),
            dy: uniform_array((t, b, h), -1.0, 1.0, rng),
            dh_n: uniform_array((b, h), -1.0, 1.0, rng),
        }
    }
}
