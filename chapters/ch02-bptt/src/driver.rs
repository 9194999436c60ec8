//! The loop over time, written once for any recurrent cell.
//!
//! [`backward`](crate::backward::backward) walks the RNN backwards step by step.
//! Nothing in that walk depends on what happens inside a step: the step takes the
//! gradient reaching its output state, adds its share to the parameter gradients,
//! and hands a gradient to the previous state. A cell that says how to do one step
//! forward and one step back ([`Cell`]) gets the whole sequence for free from
//! [`forward_seq`] and [`backward_seq`]. Chapters 4 and 5 plug the LSTM and the GRU
//! into the same loop.

use ch01_rnn::cell::{LayerParams, RnnParams, cell_forward};
use ch01_rnn::params::Tensors;
use ndarray::{Array2, Array3, ArrayView2, ArrayView3, Axis};

use crate::backward::{LayerGrads, RnnGrads};

/// A recurrent state: one or more `[B, H]` parts, of which `h` is the step's output
/// `y_t`.
pub trait RecurrentState: Clone {
    /// The zero state, every part `[B, H]`. Sequences start here, and it is the
    /// gradient of a loss that does not read the final state.
    fn zeros(batch: usize, hidden: usize) -> Self;
    /// The hidden state `h`: `[B, H]`.
    fn h(&self) -> &Array2<f64>;
    /// Mutable `h`, to add the output gradient `dy_t` to a state gradient.
    fn h_mut(&mut self) -> &mut Array2<f64>;
}

/// The RNN's and the GRU's state is `h` alone.
impl RecurrentState for Array2<f64> {
    fn zeros(batch: usize, hidden: usize) -> Self {
        Array2::zeros((batch, hidden))
    }

    fn h(&self) -> &Array2<f64> {
        self
    }

    fn h_mut(&mut self) -> &mut Array2<f64> {
        self
    }
}

/// Gradients that start as zeros shaped like their parameters `P`.
pub trait ZerosLike<P> {
    /// Zeros shaped like `p`.
    fn zeros_like(p: &P) -> Self;
}

impl<const G: usize> ZerosLike<LayerParams<G>> for LayerGrads<G> {
    fn zeros_like(p: &LayerParams<G>) -> Self {
        LayerGrads::zeros_like(p)
    }
}

/// One recurrent cell: a step forward and its mirror step backward.
pub trait Cell {
    /// The parameters (PyTorch layout).
    type Params;
    /// Their gradients, mirrored field by field.
    type Grads: Tensors + ZerosLike<Self::Params>;
    /// The recurrent state (`h`, or `h` and `c`); its gradient has the same type.
    type State: RecurrentState;
    /// What one step's backward needs from its forward.
    type StepCache;

    /// Zero gradients shaped like `p`.
    fn zero_grads(p: &Self::Params) -> Self::Grads {
        Self::Grads::zeros_like(p)
    }
    /// One step forward. Shapes: `x_t: [B, I]`, state `[B, H]` parts → next state.
    fn step(
        p: &Self::Params,
        x_t: ArrayView2<f64>,
        state: &Self::State,
    ) -> (Self::State, Self::StepCache);
    /// One step backward: `dnext` is `dL/d(next state)`; adds this step's parameter
    /// gradients into `grads` (`+=`) and returns
    /// `(dx_t: [B, I], dL/d(previous state))`.
    fn step_backward(
        p: &Self::Params,
        cache: &Self::StepCache,
        dnext: &Self::State,
        grads: &mut Self::Grads,
    ) -> (Array2<f64>, Self::State);
}

// ANCHOR: forward_seq
/// Runs `C` over a sequence. Shapes: `x: [T, B, I]`, `s0` parts `[B, H]` →
/// `(y: [T, B, H], final state, per-step caches)`.
pub fn forward_seq<C: Cell>(
    p: &C::Params,
    x: ArrayView3<f64>,
    s0: &C::State,
) -> (Array3<f64>, C::State, Vec<C::StepCache>) {
    let (seq_len, batch, _) = x.dim();
    let hidden = s0.h().ncols();
    let mut y = Array3::zeros((seq_len, batch, hidden));
    let mut caches = Vec::with_capacity(seq_len);
    let mut state = s0.clone();
    for (t, x_t) in x.outer_iter().enumerate() {
        let (next, cache) = C::step(p, x_t, &state);
        y.index_axis_mut(Axis(0), t).assign(next.h());
        caches.push(cache);
        state = next;
    }
    (y, state, caches)
}
// ANCHOR_END: forward_seq

// ANCHOR: backward_seq
/// Backpropagation through time for any [`Cell`]. Shapes: `dy: [T, B, H]`, `ds_n` =
/// `dL/d(final state)` → `(grads, dx: [T, B, I], dL/d(initial state))`.
pub fn backward_seq<C: Cell>(
    p: &C::Params,
    caches: &[C::StepCache],
    dy: ArrayView3<f64>,
    ds_n: &C::State,
) -> (C::Grads, Array3<f64>, C::State) {
    assert_eq!(
        caches.len(),
        dy.dim().0,
        "dy must have one step per cached step"
    );
    let mut grads = C::zero_grads(p);
    let mut dx_steps = Vec::with_capacity(caches.len());
    let mut ds = ds_n.clone(); // gradient reaching the state after the current step
    for (t, cache) in caches.iter().enumerate().rev() {
        *ds.h_mut() += &dy.index_axis(Axis(0), t); // h_t is also the output y_t
        let (dx_t, ds_prev) = C::step_backward(p, cache, &ds, &mut grads);
        dx_steps.push(dx_t);
        ds = ds_prev;
    }
    dx_steps.reverse();
    let views: Vec<_> = dx_steps.iter().map(|d| d.view()).collect();
    let dx = if views.is_empty() {
        Array3::zeros((0, dy.dim().1, 0))
    } else {
        ndarray::stack(Axis(0), &views).expect("every dx_t is [B, I]")
    };
    (grads, dx, ds)
}
// ANCHOR_END: backward_seq

// ANCHOR: state_grads_by_distance
/// `dL/d(state)` at every state of a cached sequence, for a loss that reads only the
/// final state: how far back a gradient reaches.
///
/// Walks back one `C::step_backward` at a time from `ds_last = dL/d(final state)`,
/// with no output gradients on the way. Entry `k` is the gradient at the state `k`
/// steps before the end: entry 0 is `ds_last` itself, entry `T` the gradient at the
/// initial state. The parameter gradients that the steps accumulate are dropped.
/// Shapes: state parts `[B, H]` → `T + 1` states, for the `T` caches of
/// [`forward_seq`].
pub fn state_grads_by_distance<C: Cell>(
    p: &C::Params,
    caches: &[C::StepCache],
    ds_last: &C::State,
) -> Vec<C::State> {
    // BEGIN SOLUTION ex 2.2: walk back one step_backward at a time from ds_last,
    //   keeping the gradient at every state
    let mut grads = C::zero_grads(p);
    let mut by_distance = Vec::with_capacity(caches.len() + 1);
    by_distance.push(ds_last.clone());
    for cache in caches.iter().rev() {
        let current = by_distance.last().expect("starts with ds_last");
        let (_, ds_prev) = C::step_backward(p, cache, current, &mut grads);
        by_distance.push(ds_prev);
    }
    by_distance
    // END SOLUTION
}
// ANCHOR_END: state_grads_by_distance

/// Chapter 1's RNN as a [`Cell`]: the state is `h`.
pub struct Rnn;

/// What one RNN step keeps: its input, the previous state and the new state.
pub struct RnnStepCache {
    x_t: Array2<f64>,
    h_prev: Array2<f64>,
    h: Array2<f64>,
}

impl Cell for Rnn {
    type Params = RnnParams;
    type Grads = RnnGrads;
    type State = Array2<f64>;
    type StepCache = RnnStepCache;

    fn step(
        p: &RnnParams,
        x_t: ArrayView2<f64>,
        h_prev: &Array2<f64>,
    ) -> (Array2<f64>, RnnStepCache) {
        let h = cell_forward(p, x_t, h_prev.view());
        let cache = RnnStepCache {
            x_t: x_t.to_owned(),
            h_prev: h_prev.clone(),
            h: h.clone(),
        };
        (h, cache)
    }

    fn step_backward(
        p: &RnnParams,
        c: &RnnStepCache,
        dh: &Array2<f64>,
        g: &mut RnnGrads,
    ) -> (Array2<f64>, Array2<f64>) {
        let da = dh * &c.h.mapv(ch00_foundations::activations::dtanh_from_output);
        g.dweight_ih += &da.t().dot(&c.x_t);
        g.dweight_hh += &da.t().dot(&c.h_prev);
        let db = da.sum_axis(Axis(0));
        g.dbias_ih += &db;
        g.dbias_hh += &db;
        (da.dot(&p.weight_ih), da.dot(&p.weight_hh))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ch00_foundations::rng::{seeded_rng, uniform_array};

    /// The generic loop with the RNN step is chapter 2's hand-written backward, to
    /// the last bit.
    #[test]
    fn the_generic_loop_with_the_rnn_cell_is_chapter_2s_backward() {
        let mut rng = seeded_rng(40);
        let p = RnnParams::init(3, 4, &mut rng);
        let x: Array3<f64> = uniform_array((6, 2, 3), -1.0, 1.0, &mut rng);
        let h0: Array2<f64> = uniform_array((2, 4), -0.5, 0.5, &mut rng);
        let dy: Array3<f64> = uniform_array((6, 2, 4), -1.0, 1.0, &mut rng);
        let dh_n: Array2<f64> = uniform_array((2, 4), -1.0, 1.0, &mut rng);

        let (y_ref, h_n_ref, cache) =
            ch01_rnn::cell::forward(&p, x.view(), h0.view());
        let (g_ref, dx_ref, dh0_ref) =
            crate::backward::backward(&p, &cache, dy.view(), dh_n.view());

        let (y, h_n, caches) = forward_seq::<Rnn>(&p, x.view(), &h0);
        let (g, dx, dh0) = backward_seq::<Rnn>(&p, &caches, dy.view(), &dh_n);
        assert_eq!(y, y_ref);
        assert_eq!(h_n, h_n_ref);
        assert_eq!(g, g_ref);
        assert_eq!(dx, dx_ref);
        assert_eq!(dh0, dh0_ref);
    }

    /// The walk's last entry is the initial-state gradient of `backward_seq` when
    /// the only output gradient is at the last step, bit for bit; its first entry is
    /// that gradient.
    #[test]
    fn the_walk_back_from_the_end_arrives_where_backward_seq_does() {
        let mut rng = seeded_rng(41);
        let (t, b) = (5, 3);
        let p = RnnParams::init(2, 4, &mut rng);
        let x: Array3<f64> = uniform_array((t, b, 2), -1.0, 1.0, &mut rng);
        let h0: Array2<f64> = uniform_array((b, 4), -0.5, 0.5, &mut rng);
        let ds_last: Array2<f64> = uniform_array((b, 4), -1.0, 1.0, &mut rng);
        let (_, _, caches) = forward_seq::<Rnn>(&p, x.view(), &h0);
        let walk = state_grads_by_distance::<Rnn>(&p, &caches, &ds_last);
        assert_eq!(walk.len(), t + 1);
        assert_eq!(walk[0], ds_last);
        let no_outputs = Array3::zeros((t, b, 4));
        let (_, _, dh0) =
            backward_seq::<Rnn>(&p, &caches, no_outputs.view(), &ds_last);
        assert_eq!(walk[t], dh0);
    }

    /// Entry `k` is what `backward_seq` gives at the start of the last `k` steps
    /// alone.
    #[test]
    fn each_entry_is_the_gradient_at_the_start_of_the_last_k_steps() {
        let mut rng = seeded_rng(42);
        let t = 6;
        let p = RnnParams::init(3, 2, &mut rng);
        let x: Array3<f64> = uniform_array((t, 1, 3), -1.0, 1.0, &mut rng);
        let ds_last: Array2<f64> = uniform_array((1, 2), -1.0, 1.0, &mut rng);
        let h0 = Array2::zeros((1, 2));
        let (y, _, caches) = forward_seq::<Rnn>(&p, x.view(), &h0);
        let walk = state_grads_by_distance::<Rnn>(&p, &caches, &ds_last);
        for (k, walked) in walk.iter().enumerate().skip(1) {
            let start = t - k;
            let h_start = if start == 0 {
                h0.clone()
            } else {
                y.index_axis(Axis(0), start - 1).to_owned()
            };
            let (_, _, tail) = forward_seq::<Rnn>(
                &p,
                x.slice(ndarray::s![start.., .., ..]),
                &h_start,
            );
            let (_, _, dh) = backward_seq::<Rnn>(
                &p,
                &tail,
                Array3::zeros((k, 1, 2)).view(),
                &ds_last,
            );
            assert_eq!(walked, &dh, "distance {k}");
        }
    }
}
