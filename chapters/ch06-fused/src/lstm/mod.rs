//! The LSTM in `f32`: chapter 4's work regrouped into a few large matrix products,
//! in three versions behind chapter 6's [`Kernel`] interface.
//!
//! Layout: `x: [T, B, I]` is read as one `[T·B, I]` matrix. Gate pre-activations for
//! all steps live in one `[T·B, 4H]` buffer (blocks i, f, g, o, as PyTorch), filled
//! by `X · W_ihᵀ + (b_ih + b_hh)` once; each step then adds `h_{t-1} · W_hhᵀ` into
//! its `[B, 4H]` rows. The backward pass stores `dgates` for all steps in the same
//! shape, so `dW_ih = dGatesᵀ · X`, `dW_hh = dGatesᵀ · H_prev` and
//! `dx = dGates · W_ih` are single GEMMs.
//!
//! - [`V1`]: that kernel ([`Fused`]) with the standard library's activations;
//! - [`V2`]: the same code with branchless activations ([`Fast`]) in loops compiled
//!   for AVX2 + FMA, an absolute error below 4e-7 per activation
//!   ([`crate::act::FAST_TANH_MAX_ABS_ERR`]);
//! - [`V3`]: v2 on every thread, one block of the batch each ([`Split`]).

use std::marker::PhantomData;
use std::ops::Range;

use ch00_foundations::notation::LSTM_GATES;
use ndarray::{Array2, Array3, ArrayView2, ArrayView3, ArrayViewMut2, Axis, s};

use crate::act::{Act, Fast, Libm};
use crate::kernel::{BatchRows, Kernel};
use crate::layer::{LayerF32, LayerF32Grads};
use crate::matmul::{Gemm, MatMul, Ndarray};
use crate::rows::{blocks, broadcast_rows, outputs, sl, sl_mut, sum_rows};
use crate::threads::Split;

mod packed;
mod units;
pub use packed::Packed;
pub use units::{MIN_ROWS_PER_THREAD, Units, UnitsCache, unit_parts};

// ANCHOR: versions
/// v1: the fused kernel with the standard library's activations.
pub type V1 = Fused<Libm>;
/// v2: the same code with [`Fast`] activations, its element-wise blocks compiled for
/// AVX2 + FMA.
pub type V2 = Fused<Fast>;
/// v3: v2 on every thread of the current rayon pool, one block of batch rows each.
pub type V3 = Split<V2>;
/// v4: v2 with every matrix product by the `gemm` crate instead of `matrixmultiply`.
pub type V4 = Fused<Fast, Gemm>;
crate::simd::on_best_path! {
    /// v5: `weight_hh` packed once per sequence, the gate math fused into the
    /// per-step product, on the best SIMD path of this CPU ([`Packed`]); the large
    /// products as v4's.
    V5 = Packed
}
/// v6: v5 on every thread of the current rayon pool, one block of batch rows each.
pub type V6 = Split<V5>;
crate::simd::on_best_path! {
    /// v7: v6, but a batch with fewer rows than threads is split by units instead,
    /// one block of units per thread with an exchange of `h_t` at every step
    /// ([`Units`]).
    V7 = Units
}
// ANCHOR_END: versions

/// LSTM weights in `f32`, PyTorch layout (blocks i, f, g, o).
pub type LstmF32 = LayerF32<LSTM_GATES>;
/// Their gradients.
pub type LstmF32Grads = LayerF32Grads<LSTM_GATES>;

/// The LSTM's state in `f32`, as chapter 4's: hidden `h` and cell `c`, both
/// `[B, H]`. Its gradient has the same type.
#[derive(Debug, Clone, PartialEq)]
pub struct LstmState {
    /// `h`: `[B, H]`.
    pub h: Array2<f32>,
    /// `c`: `[B, H]`.
    pub c: Array2<f32>,
}

impl LstmState {
    /// Chapter 4's `f64` state rounded to `f32`.
    pub fn from_f64(s: &ch04_lstm::LstmState) -> Self {
        LstmState {
            h: s.h.mapv(|v| v as f32),
            c: s.c.mapv(|v| v as f32),
        }
    }
}

impl BatchRows for LstmState {
    fn rows(&self, r: &Range<usize>) -> Self {
        LstmState {
            h: self.h.rows(r),
            c: self.c.rows(r),
        }
    }

    fn join(parts: &[Self]) -> Self {
        let (h, c): (Vec<_>, Vec<_>) =
            parts.iter().map(|s| (s.h.clone(), s.c.clone())).unzip();
        LstmState {
            h: Array2::join(&h),
            c: Array2::join(&c),
        }
    }
}

/// What the backward pass needs: activated gates, `tanh(c_t)`, cell states, and
/// every `h_{t-1}`.
#[derive(Debug, Clone)]
pub struct LstmF32Cache {
    /// `x` as `[T·B, I]`.
    x: Array2<f32>,
    /// Activated gates `[T·B, 4H]`.
    gates: Array2<f32>,
    /// `c_0 … c_T` as `[(T+1)·B, H]`.
    c: Array2<f32>,
    /// `tanh(c_1) … tanh(c_T)` as `[T·B, H]`.
    tanh_c: Array2<f32>,
    /// `h_0 … h_T` as `[(T+1)·B, H]`; the first `T·B` rows are the inputs of `W_hh`.
    h_all: Array2<f32>,
}

// ANCHOR: row_forward
/// One row of one step: `pre` holds the pre-activations `[i | f | g | o]` (4·H) and
/// receives the activated gates; `c_t = f⊙c_{t-1} + i⊙g`, `h_t = o⊙tanh(c_t)`. The
/// slices arrive as separate arguments, so the compiler knows they do not overlap
/// and can vectorize the loop.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn row_forward<A: Act>(
    gi: &mut [f32],
    gf: &mut [f32],
    gg: &mut [f32],
    go: &mut [f32],
    c_prev: &[f32],
    c_next: &mut [f32],
    tanh_c: &mut [f32],
    h_t: &mut [f32],
) {
    // BEGIN SOLUTION ex 6.1: activate the four blocks in place, then c_t, tanh(c_t)
    //   and h_t
    let h = h_t.len();
    let (gi, gf, gg, go) = (&mut gi[..h], &mut gf[..h], &mut gg[..h], &mut go[..h]);
    let (c_prev, c_next, tanh_c) =
        (&c_prev[..h], &mut c_next[..h], &mut tanh_c[..h]);
    for j in 0..h {
        let (i, f, g, o) = (
            A::sigmoid(gi[j]),
            A::sigmoid(gf[j]),
            A::tanh(gg[j]),
            A::sigmoid(go[j]),
        );
        let c = f * c_prev[j] + i * g; // c_t = f⊙c_{t-1} + i⊙g
        let t = A::tanh(c);
        (gi[j], gf[j], gg[j], go[j]) = (i, f, g, o);
        (c_next[j], tanh_c[j], h_t[j]) = (c, t, o * t); // h_t = o⊙tanh(c_t)
    }
    // END SOLUTION
}
// ANCHOR_END: row_forward

// ANCHOR: row_backward
/// One row of one step backward. Reads the activated gates `gi, gf, gg, go`,
/// `c_{t-1}`, `tanh(c_t)` and `dh` (the total gradient at `h_t`); `dc` comes in at
/// `c_t` and leaves at `c_{t-1}`; `dgi … dgo` receive the gradients at the four
/// pre-activations. Any run of units works: a whole row (v1, v2) or a tile's units
/// (v4).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn row_backward(
    [gi, gf, gg, go]: [&[f32]; 4],
    c_prev: &[f32],
    tanh_c: &[f32],
    dh: &[f32],
    dc: &mut [f32],
    dgi: &mut [f32],
    dgf: &mut [f32],
    dgg: &mut [f32],
    dgo: &mut [f32],
) {
    let h = dh.len();
    let (gi, gf, gg, go) = (&gi[..h], &gf[..h], &gg[..h], &go[..h]);
    let (c_prev, tanh_c, dc) = (&c_prev[..h], &tanh_c[..h], &mut dc[..h]);
    let (dgi, dgf, dgg, dgo) =
        (&mut dgi[..h], &mut dgf[..h], &mut dgg[..h], &mut dgo[..h]);
    for j in 0..h {
        let (i, f, g, o, tc) = (gi[j], gf[j], gg[j], go[j], tanh_c[j]);
        let dct = dc[j] + dh[j] * o * (1.0 - tc * tc); // carousel + the h path
        dgi[j] = dct * g * i * (1.0 - i);
        dgf[j] = dct * c_prev[j] * f * (1.0 - f);
        dgg[j] = dct * i * (1.0 - g * g);
        dgo[j] = dh[j] * tc * o * (1.0 - o);
        dc[j] = dct * f; // to c_{t-1}
    }
}
// ANCHOR_END: row_backward

// ANCHOR: gates_forward
/// One step's fused gate math over the batch. Shapes: `gates: [B, 4H]`, the rest
/// `[B, H]`.
#[inline(always)]
fn gates_forward<A: Act>(
    mut gates: ArrayViewMut2<f32>,
    c_prev: ArrayView2<f32>,
    mut c_next: ArrayViewMut2<f32>,
    mut tanh_c: ArrayViewMut2<f32>,
    mut h_t: ArrayViewMut2<f32>,
) {
    for r in 0..h_t.nrows() {
        let [gi, gf, gg, go] = blocks::<4>(sl_mut(gates.row_mut(r)));
        row_forward::<A>(
            gi,
            gf,
            gg,
            go,
            sl(c_prev.row(r)),
            sl_mut(c_next.row_mut(r)),
            sl_mut(tanh_c.row_mut(r)),
            sl_mut(h_t.row_mut(r)),
        );
    }
}
// ANCHOR_END: gates_forward

// ANCHOR: gates_backward
/// One step's gate gradients over the batch: `dgates: [B, 4H]`; `dc` is replaced by
/// the gradient at `c_{t-1}`.
#[inline(always)]
fn gates_backward(
    gates: ArrayView2<f32>,
    c_prev: ArrayView2<f32>,
    tanh_c: ArrayView2<f32>,
    dh: ArrayView2<f32>,
    mut dc: ArrayViewMut2<f32>,
    mut dgates: ArrayViewMut2<f32>,
) {
    let h = dh.ncols();
    for r in 0..dh.nrows() {
        let [dgi, dgf, dgg, dgo] = blocks::<4>(sl_mut(dgates.row_mut(r)));
        let g = sl(gates.row(r));
        row_backward(
            [&g[..h], &g[h..2 * h], &g[2 * h..3 * h], &g[3 * h..]],
            sl(c_prev.row(r)),
            sl(tanh_c.row(r)),
            sl(dh.row(r)),
            sl_mut(dc.row_mut(r)),
            dgi,
            dgf,
            dgg,
            dgo,
        );
    }
}
// ANCHOR_END: gates_backward

/// The fused LSTM kernel with activations `A`: [`V1`] and [`V2`].
pub struct Fused<A, M = Ndarray>(PhantomData<(A, M)>);

impl<A: Act, M: MatMul> Kernel for Fused<A, M> {
    type Params = LstmF32;
    type State = LstmState;
    type Grads = LstmF32Grads;
    type Cache = LstmF32Cache;

    // ANCHOR: forward
    /// Forward over a sequence. Shapes: `x: [T, B, I]`, `s0` parts `[B, H]` →
    /// `(y: [T, B, H], (h_n, c_n), cache)`.
    fn forward(
        p: &LstmF32,
        x: ArrayView3<f32>,
        s0: &LstmState,
    ) -> (Array3<f32>, LstmState, LstmF32Cache) {
        let (h0, c0) = (&s0.h, &s0.c);
        let (t_len, b, _) = x.dim();
        let h = p.hidden_size();
        check_forward(p, x, s0);
        let (x2, mut gates) = input_side::<M>(p, x);
        let mut c = Array2::zeros(((t_len + 1) * b, h));
        c.slice_mut(s![0..b, ..]).assign(c0);
        let mut tanh_c = Array2::zeros((t_len * b, h));
        // h_0 … h_T, one block of B rows each
        let mut h_all = Array2::zeros(((t_len + 1) * b, h));
        h_all.slice_mut(s![0..b, ..]).assign(h0);
        for t in 0..t_len {
            let (now, next) = (t * b..(t + 1) * b, (t + 1) * b..(t + 2) * b);
            let (h_prev, mut h_t) =
                h_all.multi_slice_mut((s![now.clone(), ..], s![next.clone(), ..]));
            let mut g = gates.slice_mut(s![now.clone(), ..]);
            M::mat_mul(
                1.0,
                &h_prev.view(),
                &p.weight_hh.t(),
                1.0,
                &mut g.view_mut(),
            ); // += h_{t-1} · W_hhᵀ
            let (c_prev, c_next) =
                c.multi_slice_mut((s![now.clone(), ..], s![next, ..]));
            let tc = tanh_c.slice_mut(s![now, ..]);
            A::block(|| {
                gates_forward::<A>(g, c_prev.view(), c_next, tc, h_t.view_mut())
            });
        }
        let (y, h_n) = outputs(&h_all, t_len, b);
        let c_n = c.slice(s![t_len * b.., ..]).to_owned();
        let cache = LstmF32Cache {
            x: x2,
            gates,
            c,
            tanh_c,
            h_all,
        };
        (y, LstmState { h: h_n, c: c_n }, cache)
    }
    // ANCHOR_END: forward

    // ANCHOR: backward
    /// Backward over the cached sequence (of `A`, only the compilation of the blocks
    /// matters here: the derivatives come from the cached outputs). Shapes:
    /// `dy: [T, B, H]`, `ds_n` parts `[B, H]` →
    /// `(grads, dx: [T, B, I], (dh0, dc0))`.
    fn backward(
        p: &LstmF32,
        cache: &LstmF32Cache,
        dy: ArrayView3<f32>,
        ds_n: &LstmState,
    ) -> (LstmF32Grads, Array3<f32>, LstmState) {
        let (dh_n, dc_n) = (&ds_n.h, &ds_n.c);
        let (t_len, b, h) = dy.dim();
        check_backward(cache.gates.nrows(), dy, ds_n);
        // every step's dgates, kept for the GEMMs
        let mut dgates = Array2::zeros((t_len * b, 4 * h));
        let mut dh = dh_n.clone();
        let mut dc = dc_n.clone();
        for t in (0..t_len).rev() {
            let now = t * b..(t + 1) * b;
            // from the output y_t and from step t+1
            dh += &dy.index_axis(Axis(0), t);
            let mut dg = dgates.slice_mut(s![now.clone(), ..]);
            A::block(|| {
                gates_backward(
                    cache.gates.slice(s![now.clone(), ..]),
                    cache.c.slice(s![now.clone(), ..]),
                    cache.tanh_c.slice(s![now, ..]),
                    dh.view(),
                    dc.view_mut(),
                    dg.view_mut(),
                )
            });
            M::mat_mul(
                1.0,
                &dg.view(),
                &p.weight_hh.view(),
                0.0,
                &mut dh.view_mut(),
            ); // dh_{t-1} = dgates_t · W_hh
        }
        let (grads, dx) = weight_grads::<M>(p, cache, &dgates);
        (grads, dx, LstmState { h: dh, c: dc })
    }
    // ANCHOR_END: backward
}

/// The shapes `forward` needs, checked with messages that name them.
fn check_forward(p: &LstmF32, x: ArrayView3<f32>, s0: &LstmState) {
    let (_, b, i) = x.dim();
    let h = p.hidden_size();
    assert_eq!(
        i,
        p.weight_ih.ncols(),
        "x is [T, B, I] but weight_ih expects I = {}",
        p.weight_ih.ncols()
    );
    assert_eq!(
        (s0.h.dim(), s0.c.dim()),
        ((b, h), (b, h)),
        "h0 and c0 must be [B, H]"
    );
}

/// The shapes `backward` needs.
/// `rows`: the forward pass's `T·B` (the rows of its gate buffer).
fn check_backward(rows: usize, dy: ArrayView3<f32>, ds_n: &LstmState) {
    let (t_len, b, h) = dy.dim();
    assert_eq!(
        rows,
        t_len * b,
        "dy must be [T, B, H] as in the forward pass"
    );
    assert_eq!(
        (ds_n.h.dim(), ds_n.c.dim()),
        ((b, h), (b, h)),
        "dh_n and dc_n must be [B, H]"
    );
}

// ANCHOR: input_side
/// `x` as `[T·B, I]`, and every step's input projection in one GEMM,
/// `[T·B, I] · [I, 4H]`, onto the two biases (which only act together): the gate
/// pre-activations but for `h_{t-1} W_hhᵀ`.
fn input_side<M: MatMul>(
    p: &LstmF32,
    x: ArrayView3<f32>,
) -> (Array2<f32>, Array2<f32>) {
    let (t_len, b, i) = x.dim();
    let x2 = x.to_shape((t_len * b, i)).expect("[T·B, I]").into_owned();
    let mut gates = broadcast_rows(t_len * b, &(&p.bias_ih + &p.bias_hh));
    M::mat_mul(
        1.0,
        &x2.view(),
        &p.weight_ih.t(),
        1.0,
        &mut gates.view_mut(),
    );
    (x2, gates)
}
// ANCHOR_END: input_side

// ANCHOR: weight_grads
/// The weight gradients for all steps at once, and `dx`, from every step's
/// `dgates: [T·B, 4H]`.
fn weight_grads<M: MatMul>(
    p: &LstmF32,
    cache: &LstmF32Cache,
    dgates: &Array2<f32>,
) -> (LstmF32Grads, Array3<f32>) {
    let (rows, h) = (dgates.nrows(), p.hidden_size());
    let (i, b) = (cache.x.ncols(), cache.h_all.nrows() - rows);
    let h_prev = cache.h_all.slice(s![..rows, ..]);
    let mut dweight_ih = Array2::zeros((4 * h, i));
    M::mat_mul(
        1.0,
        &dgates.t(),
        &cache.x.view(),
        0.0,
        &mut dweight_ih.view_mut(),
    ); // dGatesᵀ · X
    let mut dweight_hh = Array2::zeros((4 * h, h));
    M::mat_mul(
        1.0,
        &dgates.t(),
        &h_prev.view(),
        0.0,
        &mut dweight_hh.view_mut(),
    ); // dGatesᵀ · H_prev
    let dbias = sum_rows(dgates); // the gradient of each of b_ih and b_hh
    let mut dx = Array2::zeros((rows, i));
    M::mat_mul(
        1.0,
        &dgates.view(),
        &p.weight_ih.view(),
        0.0,
        &mut dx.view_mut(),
    ); // dGates · W_ih
    let dx = dx
        .into_shape_with_order((rows / b, b, i))
        .expect("[T, B, I]");
    let grads = LstmF32Grads {
        dweight_ih,
        dweight_hh,
        dbias_ih: dbias.clone(),
        dbias_hh: dbias,
    };
    (grads, dx)
}
// ANCHOR_END: weight_grads
