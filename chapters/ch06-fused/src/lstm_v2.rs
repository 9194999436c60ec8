//! LSTM v2: v1's code with [`Fast`] activations, its element-wise blocks compiled for AVX2 + FMA.
//!
//! Nothing else changes: the GEMMs, the buffers and the loop are v1's ([`lstm_v1::forward_with`]).
//! What changes is that the gate loops, which called `exp` and `tanh` one element at a time,
//! now run eight lanes at once, with an absolute error below 4e-7 per activation
//! ([`crate::act::FAST_TANH_MAX_ABS_ERR`]).

use ndarray::{Array2, Array3, ArrayView3};

use crate::act::Fast;
use crate::lstm_v1::{self, LstmF32, LstmF32Cache, LstmF32Grads};

// ANCHOR: v2
/// v2 forward. Shapes as [`lstm_v1::forward`].
pub fn forward(
    p: &LstmF32,
    x: ArrayView3<f32>,
    h0: &Array2<f32>,
    c0: &Array2<f32>,
) -> (Array3<f32>, Array2<f32>, Array2<f32>, LstmF32Cache) {
    lstm_v1::forward_with::<Fast>(p, x, h0, c0)
}

/// v2 backward. Shapes as [`lstm_v1::backward`].
pub fn backward(
    p: &LstmF32,
    cache: &LstmF32Cache,
    dy: ArrayView3<f32>,
    dh_n: &Array2<f32>,
    dc_n: &Array2<f32>,
) -> (LstmF32Grads, Array3<f32>, Array2<f32>, Array2<f32>) {
    lstm_v1::backward_with::<Fast>(p, cache, dy, dh_n, dc_n)
}
// ANCHOR_END: v2
