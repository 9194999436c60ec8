//! What each output of a bidirectional layer can see: the size of the gradient of
//! one output `y_t` with respect to every input `x_s`, for each direction.
//!
//! The forward direction's `y_t` depends on `x_0 … x_t` only, the reverse
//! direction's on `x_t … x_{T-1}` only: their `∂y_t/∂x_s` is exactly zero on the
//! other side of `t`. Together, every output reads the whole sequence.

use ch00_foundations::rng::{seeded_rng, uniform_array};
use ch02_bptt::driver::Cell;
use ch04_lstm::{Lstm, LstmParams};
use ndarray::{Array1, Array3, Axis, s};

use crate::stack::{Dropout, Layer, stack_backward, stack_forward};

/// The figure's sequence length `T`.
pub const REACH_SEQ_LEN: usize = 24;
/// The step `t` whose outputs are differentiated.
pub const REACH_STEP: usize = 12;
/// The figure's hidden size `H` (input size 8, batch 1, PyTorch's initialisation).
pub const REACH_HIDDEN: usize = 16;

/// `‖∂(Σ y_t[half])/∂x_s‖` for every `s`, for the forward half (features `0..H`)
/// and the reverse half (`H..2H`) of a bidirectional LSTM layer's output `y_t`.
#[derive(Debug, Clone, PartialEq)]
pub struct Reach {
    /// Forward direction, one entry per input step `s`.
    pub forward: Array1<f64>,
    /// Reverse direction, one entry per input step `s`.
    pub reverse: Array1<f64>,
}

// ANCHOR: input_reach
/// [`Reach`] of a bidirectional LSTM layer at PyTorch's initialisation (seed 8),
/// for step `t` of a random sequence of length `seq_len`.
pub fn input_reach(seq_len: usize, t: usize, hidden: usize) -> Reach {
    let (input, batch) = (8, 1);
    let mut rng = seeded_rng(8);
    let layer = Layer {
        forward: LstmParams::init(input, hidden, &mut rng),
        reverse: Some(LstmParams::init(input, hidden, &mut rng)),
    };
    let layers = [layer];
    let x = uniform_array((seq_len, batch, input), -1.0, 1.0, &mut rng);
    let s0 = vec![<Lstm as Cell>::State::zeros(batch, hidden); 2];
    let (y, _, cache) =
        stack_forward::<Lstm>(&layers, x.view(), &s0, &Dropout::none());
    // a loss that reads one half of y_t: dL/dy is 1 there and 0 elsewhere
    let half = |features: std::ops::Range<usize>| {
        let mut dy = Array3::zeros(y.raw_dim());
        dy.slice_mut(s![t, .., features]).fill(1.0);
        let (_, dx, _) = stack_backward::<Lstm>(&layers, &cache, dy.view(), &s0);
        dx.map_axis(Axis(2), |v| v.dot(&v))
            .sum_axis(Axis(1))
            .mapv(f64::sqrt)
    };
    Reach {
        forward: half(0..hidden),
        reverse: half(hidden..2 * hidden),
    }
}
// ANCHOR_END: input_reach

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_direction_sees_only_its_side_of_t_and_both_see_everything() {
        let r = input_reach(REACH_SEQ_LEN, REACH_STEP, REACH_HIDDEN);
        for s in 0..REACH_SEQ_LEN {
            assert_eq!(r.forward[s] == 0.0, s > REACH_STEP, "forward at s = {s}");
            assert_eq!(r.reverse[s] == 0.0, s < REACH_STEP, "reverse at s = {s}");
        }
        // the nearest input matters most, and the reach fades with distance
        assert!(r.forward[REACH_STEP] > 10.0 * r.forward[0]);
        assert!(r.reverse[REACH_STEP] > 10.0 * r.reverse[REACH_SEQ_LEN - 1]);
    }
}
