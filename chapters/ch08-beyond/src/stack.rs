//! Stacked and bidirectional networks, for any chapter-2 [`Cell`].
//!
//! A network of `L` layers feeds layer `l`'s outputs to layer `l + 1` as its
//! inputs. A bidirectional layer runs two cells of its own over the same inputs,
//! one from `t = 0` forwards, one from `t = T - 1` backwards, and concatenates
//! their outputs along the feature axis: forward ‖ reverse. `D` is the number of
//! directions (1 or 2), so every layer's output is `[T, B, D·H]`, and layer
//! `l > 0` has input size `D·H`.
//!
//! The layout is PyTorch's: states and their gradients are listed layer by layer,
//! direction within, so entry `l·D + d` belongs to layer `l`, direction `d`
//! (0 forward, 1 reverse). That is the order of `h_n` in `nn.RNN`, `nn.LSTM` and
//! `nn.GRU`; the reverse parameters are PyTorch's `*_reverse` tensors.
//!
//! Dropout, if any, is applied to the outputs of every layer but the last,
//! between layers only and never on the recurrent path (Zaremba et al. 2014), as
//! `nn.LSTM(dropout = p)` does.

use ch00_foundations::rng::{stream_rng, uniform_array};
use ch02_bptt::driver::{Cell, RecurrentState, backward_seq, forward_seq};
use ndarray::{Array3, ArrayView3, Axis, s};

// ANCHOR: layer
/// One layer's parameters (or gradients): the forward direction's, and the
/// reverse direction's if the layer is bidirectional.
#[derive(Debug, Clone, PartialEq)]
pub struct Layer<P> {
    /// The direction that reads `x_0, x_1, …` (PyTorch's `weight_ih_l{l}`, …).
    pub forward: P,
    /// The direction that reads `x_{T-1}, x_{T-2}, …` (`weight_ih_l{l}_reverse`,
    /// …), or `None` for a one-directional layer.
    pub reverse: Option<P>,
}
// ANCHOR_END: layer

impl<P> Layer<P> {
    /// `D`: 1, or 2 for a bidirectional layer.
    pub fn directions(&self) -> usize {
        1 + usize::from(self.reverse.is_some())
    }

    /// The parameters of direction `d` (0 forward, 1 reverse).
    pub fn direction(&self, d: usize) -> Option<&P> {
        match d {
            0 => Some(&self.forward),
            1 => self.reverse.as_ref(),
            _ => None,
        }
    }

    /// Mutable parameters of direction `d` (0 forward, 1 reverse).
    pub fn direction_mut(&mut self, d: usize) -> Option<&mut P> {
        match d {
            0 => Some(&mut self.forward),
            1 => self.reverse.as_mut(),
            _ => None,
        }
    }
}

// ANCHOR: dropout
/// Dropout between layers: each output of a layer below the top is kept with
/// probability `1 - p` and scaled by `1 / (1 - p)` (inverted dropout, so the
/// expected input of the next layer is unchanged), or set to zero.
///
/// The mask after layer `l` is drawn from stream `l` of the seed: the same seed
/// gives the same masks, and the backward pass reuses the forward's masks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Dropout {
    p: f64,
    seed: u64,
}
// ANCHOR_END: dropout

impl Dropout {
    /// No dropout (evaluation, or `p = 0`).
    pub fn none() -> Self {
        Dropout { p: 0.0, seed: 0 }
    }

    /// Drops each entry with probability `p`, masks drawn from `seed`.
    ///
    /// # Panics
    /// If `p` is not in `[0, 1)`.
    pub fn new(p: f64, seed: u64) -> Self {
        assert!(
            (0.0..1.0).contains(&p),
            "dropout probability must be in [0, 1), got {p}"
        );
        Dropout { p, seed }
    }

    /// The probability of dropping an entry.
    pub fn p(&self) -> f64 {
        self.p
    }

    /// The mask after layer `layer`, shaped `dim`: entries `0` or `1 / (1 - p)`;
    /// `None` when `p = 0`, so that no dropout multiplies nothing.
    pub fn mask(
        &self,
        layer: usize,
        dim: (usize, usize, usize),
    ) -> Option<Array3<f64>> {
        if self.p == 0.0 {
            return None;
        }
        let mut rng = stream_rng(self.seed, layer as u64);
        let keep = 1.0 / (1.0 - self.p);
        let u: Array3<f64> = uniform_array(dim, 0.0, 1.0, &mut rng);
        Some(u.mapv(|u| if u < self.p { 0.0 } else { keep }))
    }
}

/// What [`stack_backward`] needs from [`stack_forward`].
pub struct StackCache<C: Cell> {
    layers: Vec<Layer<Vec<C::StepCache>>>,
    /// The dropout mask after each layer but the last (`None`: no dropout).
    masks: Vec<Option<Array3<f64>>>,
    input_size: usize,
}

impl<C: Cell> StackCache<C> {
    /// The dropout mask applied to layer `l`'s outputs, `[T, B, D·H]`, if any.
    pub fn mask(&self, l: usize) -> Option<&Array3<f64>> {
        self.masks.get(l).and_then(Option::as_ref)
    }
}

/// A sequence read backwards in time: `[T, B, ·]` with step `t` moved to
/// `T - 1 - t`.
fn reversed(a: ArrayView3<f64>) -> ArrayView3<f64> {
    a.slice_move(s![..;-1, .., ..])
}

/// Checks the shapes [`stack_forward`] and [`stack_backward`] rely on; returns `D`.
fn directions_of<P>(layers: &[Layer<P>], states: usize, what: &str) -> usize {
    assert!(!layers.is_empty(), "a network has at least one layer");
    let d = layers[0].directions();
    assert!(
        layers.iter().all(|layer| layer.directions() == d),
        "every layer must have the same number of directions"
    );
    assert_eq!(
        states,
        layers.len() * d,
        "{what} must list one state per layer and direction (L·D = {})",
        layers.len() * d
    );
    d
}

// ANCHOR: stack_forward
/// Runs the network over a sequence. Shapes: `x: [T, B, I]`, `s0` lists `L·D`
/// states with `[B, H]` parts (layer by layer, direction within) →
/// `(y: [T, B, D·H], s_n: L·D states, cache)`. `y` is the top layer's output,
/// without dropout.
///
/// # Panics
/// If `T = 0`, if `s0` does not hold `L·D` states, or if the layers disagree on `D`.
pub fn stack_forward<C: Cell>(
    layers: &[Layer<C::Params>],
    x: ArrayView3<f64>,
    s0: &[C::State],
    dropout: &Dropout,
) -> (Array3<f64>, Vec<C::State>, StackCache<C>) {
    let d = directions_of(layers, s0.len(), "s0");
    assert!(x.dim().0 > 0, "a sequence has at least one step");
    let mut input = x.to_owned();
    let mut s_n = Vec::with_capacity(s0.len());
    let mut caches = Vec::with_capacity(layers.len());
    let mut masks = Vec::with_capacity(layers.len() - 1);
    for (l, layer) in layers.iter().enumerate() {
        // the forward direction reads x_0 … x_{T-1}
        let (y_fwd, s_fwd, c_fwd) =
            forward_seq::<C>(&layer.forward, input.view(), &s0[l * d]);
        s_n.push(s_fwd);
        let mut outputs = vec![y_fwd];
        // the reverse direction reads x_{T-1} … x_0; its outputs are put back in
        // time order, so that y_t of both directions sits at step t
        let c_rev = layer.reverse.as_ref().map(|p| {
            let (y_rev, s_rev, c_rev) =
                forward_seq::<C>(p, reversed(input.view()), &s0[l * d + 1]);
            s_n.push(s_rev);
            outputs.push(reversed(y_rev.view()).to_owned());
            c_rev
        });
        caches.push(Layer {
            forward: c_fwd,
            reverse: c_rev,
        });
        let views: Vec<_> = outputs.iter().map(|y| y.view()).collect();
        input = ndarray::concatenate(Axis(2), &views)
            .expect("both directions are [T, B, H]");
        if l + 1 < layers.len() {
            let mask = dropout.mask(l, input.dim());
            if let Some(m) = &mask {
                input *= m;
            }
            masks.push(mask);
        }
    }
    let cache = StackCache {
        layers: caches,
        masks,
        input_size: x.dim().2,
    };
    (input, s_n, cache)
}
// ANCHOR_END: stack_forward

/// What [`stack_backward`] returns: the gradients of every layer (bottom first),
/// `dx: [T, B, I]`, and `ds0`, the `L·D` initial-state gradients.
pub type StackGradients<C> = (
    Vec<Layer<<C as Cell>::Grads>>,
    Array3<f64>,
    Vec<<C as Cell>::State>,
);

// ANCHOR: stack_backward
/// Backpropagation through the network. Shapes: `dy: [T, B, D·H]` (the gradient
/// at the top layer's output), `ds_n`: `L·D` states → `(grads` layer by layer,
/// `dx: [T, B, I]`, `ds0`: `L·D` states`)`.
///
/// The layers are walked from the top down. Each layer's `dx` is the gradient at
/// the outputs of the layer below: it goes down through that layer's dropout mask,
/// the same mask the forward drew.
///
/// # Panics
/// If `ds_n` does not hold `L·D` states, or `cache` is not from these layers.
pub fn stack_backward<C: Cell>(
    layers: &[Layer<C::Params>],
    cache: &StackCache<C>,
    dy: ArrayView3<f64>,
    ds_n: &[C::State],
) -> StackGradients<C> {
    let d = directions_of(layers, ds_n.len(), "ds_n");
    assert_eq!(
        cache.layers.len(),
        layers.len(),
        "the cache is of another network"
    );
    let mut grads = Vec::with_capacity(layers.len());
    let mut ds0 = Vec::with_capacity(ds_n.len());
    let mut d_out = dy.to_owned(); // dL/d(this layer's outputs): [T, B, D·H]
    for (l, (layer, cache_l)) in layers.iter().zip(&cache.layers).enumerate().rev() {
        let states = &ds_n[l * d..(l + 1) * d];
        let (g, mut dx, ds0_l) =
            layer_backward::<C>(layer, cache_l, d_out.view(), states);
        if l > 0
            && let Some(mask) = cache.mask(l - 1)
        {
            dx *= mask; // the layer below's outputs were dropped out by this mask
        }
        grads.push(g);
        ds0.push(ds0_l);
        d_out = dx;
    }
    grads.reverse();
    ds0.reverse();
    debug_assert_eq!(d_out.dim().2, cache.input_size);
    (grads, d_out, ds0.into_iter().flatten().collect())
}
// ANCHOR_END: stack_backward

// ANCHOR: layer_backward
/// One layer's backward, either direction or both. Shapes: `d_out: [T, B, D·H]`
/// (the gradient at the layer's outputs), `ds_n`: the layer's `D` final-state
/// gradients → `(grads, dx: [T, B, I], ds0: D states)`, where `dx` is the gradient
/// at the layer's inputs.
pub fn layer_backward<C: Cell>(
    layer: &Layer<C::Params>,
    caches: &Layer<Vec<C::StepCache>>,
    d_out: ArrayView3<f64>,
    ds_n: &[C::State],
) -> (Layer<C::Grads>, Array3<f64>, Vec<C::State>) {
    let h = d_out.dim().2 / layer.directions();
    // the forward direction's share of the output gradient: features 0..H
    let dy_fwd = d_out.slice(s![.., .., ..h]);
    let (g_fwd, mut dx, ds_fwd) =
        backward_seq::<C>(&layer.forward, &caches.forward, dy_fwd, &ds_n[0]);
    let mut ds0 = vec![ds_fwd];
    // the reverse direction's, features H..2H, walked in its own time order; both
    // directions read the same inputs, so their dx add up
    let g_rev = layer.reverse.as_ref().map(|p| {
        let steps = caches
            .reverse
            .as_ref()
            .expect("a reverse layer cached its steps");
        let dy_rev = reversed(d_out.slice(s![.., .., h..]));
        let (g_rev, dx_rev, ds_rev) = backward_seq::<C>(p, steps, dy_rev, &ds_n[1]);
        dx += &reversed(dx_rev.view());
        ds0.push(ds_rev);
        g_rev
    });
    let grads = Layer {
        forward: g_fwd,
        reverse: g_rev,
    };
    (grads, dx, ds0)
}
// ANCHOR_END: layer_backward

/// The zero state of every layer and direction: `L·D` states with `[B, H]` parts.
pub fn zero_states<S: RecurrentState>(
    states: usize,
    batch: usize,
    hidden: usize,
) -> Vec<S> {
    (0..states).map(|_| S::zeros(batch, hidden)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ch00_foundations::gradcheck::{assert_every_gradient, assert_gradient};
    use ch00_foundations::rng::seeded_rng;
    use ch01_rnn::cell::LayerParams;
    use ch02_bptt::backward::LayerGrads;
    use ch02_bptt::driver::Rnn;
    use ch04_lstm::Lstm;
    use ch05_gru::{Gru, GruCho};
    use ndarray::Array2;

    /// A cell whose parameters and gradients are chapter 1's and 2's layer types.
    trait Layered<const G: usize>:
        Cell<Params = LayerParams<G>, Grads = LayerGrads<G>>
    {
    }
    impl<const G: usize, C: Cell<Params = LayerParams<G>, Grads = LayerGrads<G>>>
        Layered<G> for C
    {
    }

    /// `L` layers of `D` directions on inputs of size `I`, hidden size `H`, drawn
    /// from `seed`.
    fn network<const G: usize>(
        (i, h, l, d): (usize, usize, usize, usize),
        seed: u64,
    ) -> Vec<Layer<LayerParams<G>>> {
        let mut rng = seeded_rng(seed);
        (0..l)
            .map(|k| {
                let input = if k == 0 { i } else { d * h };
                let forward = LayerParams::init(input, h, &mut rng);
                let reverse =
                    (d == 2).then(|| LayerParams::init(input, h, &mut rng));
                Layer { forward, reverse }
            })
            .collect()
    }

    /// `x: [T, B, I]` and `L·D` initial states with every part non-zero.
    fn inputs<S: RecurrentState>(
        (t, b, i, h): (usize, usize, usize, usize),
        states: usize,
        seed: u64,
    ) -> (Array3<f64>, Vec<S>) {
        let mut rng = seeded_rng(seed);
        let x = uniform_array((t, b, i), -1.0, 1.0, &mut rng);
        let s0 = (0..states)
            .map(|_| {
                let mut s = S::zeros(b, h);
                s.h_mut()
                    .assign(&uniform_array((b, h), -0.5, 0.5, &mut rng));
                s
            })
            .collect();
        (x, s0)
    }

    const T: usize = 5;
    const B: usize = 2;
    const I: usize = 3;
    const H: usize = 4;

    fn two_layers_equal_two_single_layer_calls<const G: usize, C: Layered<G>>() {
        let layers = network::<G>((I, H, 2, 1), 1);
        let (x, s0) = inputs::<C::State>((T, B, I, H), 2, 2);
        let (y, s_n, cache) =
            stack_forward::<C>(&layers, x.view(), &s0, &Dropout::none());
        let (y0, s0_n, c0) = forward_seq::<C>(&layers[0].forward, x.view(), &s0[0]);
        let (y1, s1_n, c1) = forward_seq::<C>(&layers[1].forward, y0.view(), &s0[1]);
        assert_eq!(y, y1);
        assert_eq!(s_n[0].h(), s0_n.h());
        assert_eq!(s_n[1].h(), s1_n.h());

        let dy = uniform_array((T, B, H), -1.0, 1.0, &mut seeded_rng(3));
        let ds_n = zero_states::<C::State>(2, B, H);
        let (grads, dx, ds0) =
            stack_backward::<C>(&layers, &cache, dy.view(), &ds_n);
        // by hand: the top layer's dx is the gradient at the bottom layer's outputs
        let (g1, dy0, ds1) =
            backward_seq::<C>(&layers[1].forward, &c1, dy.view(), &ds_n[1]);
        let (g0, dx0, ds0_0) =
            backward_seq::<C>(&layers[0].forward, &c0, dy0.view(), &ds_n[0]);
        assert_eq!(grads[1].forward, g1);
        assert_eq!(grads[0].forward, g0);
        assert_eq!(dx, dx0);
        assert_eq!(ds0[1].h(), ds1.h());
        assert_eq!(ds0[0].h(), ds0_0.h());
    }

    #[test]
    fn a_two_layer_stack_equals_two_single_layer_calls() {
        two_layers_equal_two_single_layer_calls::<1, Rnn>();
        two_layers_equal_two_single_layer_calls::<4, Lstm>();
        two_layers_equal_two_single_layer_calls::<3, Gru>();
        two_layers_equal_two_single_layer_calls::<3, GruCho>();
    }

    fn reverse_is_forward_on_reversed_time<const G: usize, C: Layered<G>>() {
        let layers = network::<G>((I, H, 1, 2), 4);
        let (x, s0) = inputs::<C::State>((T, B, I, H), 2, 5);
        let (y, s_n, _) =
            stack_forward::<C>(&layers, x.view(), &s0, &Dropout::none());
        assert_eq!(y.dim(), (T, B, 2 * H));
        let rev = layers[0].reverse.as_ref().unwrap();
        let x_rev = reversed(x.view()).to_owned();
        let (y_rev, s_rev, _) = forward_seq::<C>(rev, x_rev.view(), &s0[1]);
        for t in 0..T {
            // output t of the reverse direction is what it wrote after reading
            // x_{T-1} … x_t
            assert_eq!(y.slice(s![t, .., H..]), y_rev.slice(s![T - 1 - t, .., ..]));
        }
        // its final state is the one after reading x_0
        assert_eq!(s_n[1].h(), s_rev.h());
        // and the forward half is the forward direction alone
        let (y_fwd, _, _) = forward_seq::<C>(&layers[0].forward, x.view(), &s0[0]);
        assert_eq!(y.slice(s![.., .., ..H]), y_fwd);
    }

    #[test]
    fn the_reverse_direction_equals_the_forward_direction_on_the_reversed_sequence()
    {
        reverse_is_forward_on_reversed_time::<1, Rnn>();
        reverse_is_forward_on_reversed_time::<4, Lstm>();
        reverse_is_forward_on_reversed_time::<3, Gru>();
    }

    #[test]
    fn dropout_with_p_zero_is_no_dropout_bit_for_bit() {
        let layers = network::<4>((I, H, 3, 2), 6);
        let (x, s0) = inputs::<<Lstm as Cell>::State>((T, B, I, H), 6, 7);
        let dy = uniform_array((T, B, 2 * H), -1.0, 1.0, &mut seeded_rng(8));
        let ds_n = zero_states(6, B, H);
        let run = |dropout: Dropout| {
            let (y, s_n, cache) =
                stack_forward::<Lstm>(&layers, x.view(), &s0, &dropout);
            assert!(cache.masks.iter().all(Option::is_none));
            let back = stack_backward::<Lstm>(&layers, &cache, dy.view(), &ds_n);
            (y, s_n, back)
        };
        assert_eq!(run(Dropout::none()), run(Dropout::new(0.0, 99)));
    }

    #[test]
    fn masks_are_seeded_scaled_and_drop_about_p() {
        let dim = (50, 20, 40);
        let d = Dropout::new(0.25, 11);
        let m = d.mask(0, dim).unwrap();
        assert_eq!(Some(&m), d.mask(0, dim).as_ref(), "same seed, same mask");
        assert_ne!(
            Some(&m),
            d.mask(1, dim).as_ref(),
            "each layer its own stream"
        );
        assert_ne!(Some(&m), Dropout::new(0.25, 12).mask(0, dim).as_ref());
        assert!(m.iter().all(|&v| v == 0.0 || v == 1.0 / 0.75));
        let dropped =
            m.iter().filter(|&&v| v == 0.0).count() as f64 / m.len() as f64;
        // 40,000 draws: the standard error of the fraction is 0.0022
        assert!((dropped - 0.25).abs() < 0.01, "dropped {dropped}");
        // inverted dropout keeps the mean
        assert!((m.mean().unwrap() - 1.0).abs() < 0.02);
    }

    #[test]
    #[should_panic(expected = "dropout probability must be in [0, 1)")]
    fn dropout_of_one_is_refused() {
        Dropout::new(1.0, 0);
    }

    #[test]
    #[should_panic(
        expected = "s0 must list one state per layer and direction (L·D = 4)"
    )]
    fn too_few_initial_states_are_named() {
        let layers = network::<1>((I, H, 2, 2), 0);
        let (x, s0) = inputs::<Array2<f64>>((T, B, I, H), 3, 0);
        stack_forward::<Rnn>(&layers, x.view(), &s0, &Dropout::none());
    }

    /// Every parameter of every layer and direction, the inputs and the initial
    /// states against central differences of `L = Σ w_y ⊙ y + Σ_k w_k ⊙ h_n[k]`.
    fn gradients_match_central_differences<const G: usize, C: Layered<G>>(
        (l, d): (usize, usize),
        dropout: Dropout,
    ) {
        let (i, h) = (3, 2); // I ≠ H, and layer 1's input D·H ≠ I
        let layers = network::<G>((i, h, l, d), 20);
        let (x, s0) = inputs::<C::State>((4, B, i, h), l * d, 21);
        let mut rng = seeded_rng(22);
        let w_y = uniform_array((4, B, d * h), -1.0, 1.0, &mut rng);
        let w_h: Vec<C::State> = (0..l * d)
            .map(|_| {
                let mut s = C::State::zeros(B, h);
                s.h_mut()
                    .assign(&uniform_array((B, h), -1.0, 1.0, &mut rng));
                s
            })
            .collect();
        let loss =
            |layers: &[Layer<LayerParams<G>>], x: &Array3<f64>, s0: &[C::State]| {
                let (y, s_n, _) = stack_forward::<C>(layers, x.view(), s0, &dropout);
                (&y * &w_y).sum()
                    + s_n
                        .iter()
                        .zip(&w_h)
                        .map(|(s, w)| (s.h() * w.h()).sum())
                        .sum::<f64>()
            };
        let (_, _, cache) = stack_forward::<C>(&layers, x.view(), &s0, &dropout);
        if dropout.p() > 0.0 && l > 1 {
            assert!(cache.mask(0).unwrap().iter().any(|&v| v == 0.0));
        }
        let (grads, dx, ds0) =
            stack_backward::<C>(&layers, &cache, w_y.view(), &w_h);
        for k in 0..l {
            for dir in 0..d {
                let g = grads[k].direction(dir).unwrap();
                let p = layers[k].direction(dir).unwrap();
                assert_every_gradient(p, g, |moved| {
                    let mut net = layers.clone();
                    *net[k].direction_mut(dir).unwrap() = moved.clone();
                    loss(&net, &x, &s0)
                });
            }
        }
        assert_gradient("x", &x, &dx, |x| loss(&layers, x, &s0));
        for k in 0..l * d {
            assert_gradient(&format!("h0[{k}]"), s0[k].h(), ds0[k].h(), |h| {
                let mut s = s0.to_vec();
                s[k].h_mut().assign(h);
                loss(&layers, &x, &s)
            });
        }
    }

    #[test]
    fn every_gradient_of_a_two_layer_bidirectional_network_matches_central_differences()
     {
        let none = Dropout::none();
        gradients_match_central_differences::<1, Rnn>((2, 2), none);
        gradients_match_central_differences::<4, Lstm>((2, 2), none);
        gradients_match_central_differences::<3, Gru>((2, 2), none);
        gradients_match_central_differences::<3, GruCho>((2, 2), none);
    }

    #[test]
    fn with_dropout_the_backward_pass_uses_the_forwards_masks() {
        // central differences rerun the forward, which redraws the seeded masks:
        // they agree with the backward only if it used the same ones
        let dropout = Dropout::new(0.4, 5);
        gradients_match_central_differences::<1, Rnn>((3, 1), dropout);
        gradients_match_central_differences::<4, Lstm>((2, 2), dropout);
        gradients_match_central_differences::<3, Gru>((3, 2), dropout);
    }

    #[test]
    fn the_lstm_cell_state_gradient_reaches_c0_of_every_layer() {
        use ch04_lstm::LstmState;
        let layers = network::<4>((3, 2, 2, 2), 30);
        let (x, mut s0) = inputs::<LstmState>((4, B, 3, 2), 4, 31);
        let mut rng = seeded_rng(32);
        for s in &mut s0 {
            s.c = uniform_array((B, 2), -1.0, 1.0, &mut rng);
        }
        let w_c: Vec<Array2<f64>> = (0..4)
            .map(|_| uniform_array((B, 2), -1.0, 1.0, &mut rng))
            .collect();
        let loss = |s0: &[LstmState]| {
            let (_, s_n, _) =
                stack_forward::<Lstm>(&layers, x.view(), s0, &Dropout::none());
            s_n.iter()
                .zip(&w_c)
                .map(|(s, w)| (&s.c * w).sum())
                .sum::<f64>()
        };
        let (y, _, cache) =
            stack_forward::<Lstm>(&layers, x.view(), &s0, &Dropout::none());
        let ds_n: Vec<LstmState> = w_c
            .iter()
            .map(|w| LstmState {
                h: Array2::zeros((B, 2)),
                c: w.clone(),
            })
            .collect();
        let dy = Array3::zeros(y.raw_dim());
        let (_, _, ds0) = stack_backward::<Lstm>(&layers, &cache, dy.view(), &ds_n);
        for k in 0..4 {
            assert_gradient(&format!("c0[{k}]"), &s0[k].c, &ds0[k].c, |c| {
                let mut s = s0.clone();
                s[k].c.assign(c);
                loss(&s)
            });
        }
    }
}
