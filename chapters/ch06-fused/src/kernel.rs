//! The one interface of every fast version: a [`Kernel`] runs a whole sequence
//! forward and back, like chapter 2's `forward_seq` and `backward_seq`, in `f32`.
//!
//! A version of a cell is a type: `lstm::V1`, `lstm::V2`, `lstm::V3`, and the same
//! three names for the GRU (`gru::V1`, …). The tests, the runners and
//! `rnnbook bench` call them all through this trait, and v3
//! ([`crate::threads::Split`]) is written once for both cells on top of it.

use std::ops::Range;

use ndarray::{Array2, Array3, ArrayView3, Axis, concatenate, s};

// ANCHOR: kernel
/// One fast version of a recurrent cell over a whole sequence, in `f32`.
///
/// Shapes: `x: [T, B, I]`, state parts `[B, H]`, `y: [T, B, H]`. `backward` mirrors
/// `forward`: `dy` and `ds_n` (the gradient at the final state) go in, the parameter
/// gradients, `dx` and the gradient at the initial state come out.
pub trait Kernel {
    /// The weights, in `f32` (PyTorch's layout).
    type Params: Sync;
    /// The recurrent state: `h`, or `h` and `c`. Its gradient has the same type.
    type State: BatchRows + Send + Sync;
    /// The parameter gradients.
    type Grads: AddGrads + Send;
    /// What `backward` needs from `forward`.
    type Cache: Send + Sync;
    /// Whether the version spreads its work over the threads of the current rayon
    /// pool.
    const PARALLEL: bool = false;

    /// The sequence forward → `(y, final state, cache)`.
    fn forward(
        p: &Self::Params,
        x: ArrayView3<f32>,
        s0: &Self::State,
    ) -> (Array3<f32>, Self::State, Self::Cache);

    /// The sequence backward →
    /// `(grads, dx: [T, B, I], gradient at the initial state)`.
    fn backward(
        p: &Self::Params,
        cache: &Self::Cache,
        dy: ArrayView3<f32>,
        ds_n: &Self::State,
    ) -> (Self::Grads, Array3<f32>, Self::State);
}
// ANCHOR_END: kernel

/// A state whose batch rows can be cut out and joined again.
pub trait BatchRows: Sized {
    /// Batch rows `r`, as a new contiguous value.
    fn rows(&self, r: &Range<usize>) -> Self;
    /// The parts joined along the batch axis, in order.
    fn join(parts: &[Self]) -> Self;
}

impl BatchRows for Array2<f32> {
    fn rows(&self, r: &Range<usize>) -> Self {
        self.slice(s![r.clone(), ..]).to_owned()
    }

    fn join(parts: &[Self]) -> Self {
        let views: Vec<_> = parts.iter().map(|a| a.view()).collect();
        concatenate(Axis(0), &views).expect("blocks agree on H")
    }
}

/// Gradients that add up: the weight gradients of the batch's blocks sum to the
/// batch's.
pub trait AddGrads {
    /// `self += other`, tensor by tensor.
    fn add(&mut self, other: &Self);
}
