//! v5 of the LSTM: `weight_hh` packed once per sequence, and a per-step kernel that
//! computes the recurrent product tile by tile in registers and applies the gate
//! math to each tile as soon as it is done (the epilogue fused into the product), on
//! the best SIMD path of the CPU.
//!
//! In v2 every step calls a library GEMM, `[B, H] · [H, 4H]`, which packs
//! `weight_hh` into its own layout *every step* (T times per sequence) and writes
//! the `[B, 4H]` pre-activations to the gate buffer, which the gate loop then reads
//! back. Here:
//!
//! - [`pack_gates`] lays `weight_hh` out once per sequence so that one tile produces
//!   all four gates of the same `L` units:
//!   `[unit block][k][i | f | g | o, L lanes each]`;
//! - a tile of `MR` batch rows × those `4L` gate columns is accumulated in registers
//!   ([`Simd::tile`]), starting from the input side already in the gate buffer;
//! - the tile's gate math (chapter 6's own [`row_forward`]) runs on it while it is
//!   in L1, and only the activated gates the backward pass needs are written out.
//!
//! The backward pass does the same with `dh_{t-1} = dgates_t · W_hh`: `weight_hh`
//! packed once in column panels ([`pack_cols`]), and each tile of `dh_{t-1}` goes
//! straight into step `t−1`'s [`row_backward`] for its units. With `B ≤ MR` (3 on
//! AVX2, 6 on AVX-512) a step is one row of tiles: a matrix-vector product streaming
//! the packed weights from cache, which is the small-batch path.

use std::marker::PhantomData;

use ndarray::{Array2, Array3, ArrayView2, ArrayView3, ArrayViewMut2, Axis, s};

use super::{
    LstmF32, LstmF32Grads, LstmState, check_backward, check_forward, row_backward,
    row_forward,
};
use crate::act::Fast;
use crate::kernel::Kernel;
use crate::matmul::{Gemm, MatMul};
use crate::rows::{flat as slice, flat_mut as slice_mut, sum_rows};
use crate::simd::{MAX_TILE, Simd, pack_cols, pack_gates, row_tiles};

/// The LSTM with `weight_hh` packed once and the gate math fused into the per-step
/// product, on SIMD path `S`. [`super::V5`] picks `S` at run time.
pub struct Packed<S>(PhantomData<S>);

/// Gate blocks: i, f, g, o.
pub(super) const G: usize = 4;
/// Vectors per tile row in the backward product (`4·L` units of `dh_{t-1}` per
/// tile).
pub(super) const NV_BACK: usize = 4;

// ANCHOR: step_forward
/// One forward step: `gates_t: [B, 4H]` holds `x_t W_ihᵀ` and receives the activated
/// gates; `bias` is `b_ih + b_hh`, added as each tile starts; `c_prev: [B, H]`;
/// `c_next`, `tanh_c: [B, H]` receive `c_t` and `tanh(c_t)`. `h_prev` and `h_next`
/// are rows of `ld` numbers whose first `H` are `h_{t-1}` and `h_t` (they live
/// inside the `[x | h]` buffer). `w` is `weight_hh` packed by [`pack_gates`] for
/// `S::LANES`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn step_forward<S: Simd>(
    (h, ld): (usize, usize),
    w: &[f32],
    bias: &[f32],
    gates_t: &mut [f32],
    h_prev: &[f32],
    c_prev: &[f32],
    c_next: &mut [f32],
    tanh_c: &mut [f32],
    h_next: &mut [f32],
) {
    let (l, b) = (S::LANES, c_prev.len() / h);
    let (nr, mr) = (G * l, S::mr(G));
    let mut tile = [0.0f32; MAX_TILE];
    // Panels outside, row tiles inside: each panel of packed weights comes from L2
    // (or L3) once per step and is reused from L1 by every row tile.
    for (u, panel) in w.chunks_exact(h * nr).enumerate() {
        for (r0, m) in row_tiles(b, mr) {
            let (j0, n) = (u * l, l.min(h - u * l)); // units j0 … j0+n−1
            let acc = &mut tile[..m * nr];
            // x side and biases
            tile_start(acc, l, &gates_t[r0 * G * h..], bias, (j0, n));
            // += h_{t-1} · W_hhᵀ
            S::tile::<G>(m, h, &h_prev[r0 * ld..], ld, panel, acc);
            for r in 0..m {
                let (rr, row) = (r0 + r, &mut acc[r * nr..][..nr]);
                let at = rr * h + j0;
                // the activated gates, for backward
                let out = &mut gates_t[rr * G * h..][..G * h];
                tile_row_forward(
                    row,
                    l,
                    &c_prev[at..][..n],
                    (&mut c_next[at..][..n], &mut tanh_c[at..][..n]),
                    &mut h_next[rr * ld + j0..][..n],
                    (out, j0),
                );
            }
        }
    }
}

/// Starts a tile of `acc.len() / (4·l)` rows: row `r`'s gate `g` gets the input side
/// `x_side[r·4H + g·H + j0 ..][..n]` plus `bias[g·H + j0 ..][..n]`, then zeros to
/// `l` lanes (`H = bias.len() / 4`).
#[inline(always)]
pub(super) fn tile_start(
    acc: &mut [f32],
    l: usize,
    x_side: &[f32],
    bias: &[f32],
    (j0, n): (usize, usize),
) {
    let h = bias.len() / G;
    for (r, acc_row) in acc.chunks_exact_mut(G * l).enumerate() {
        let row = &x_side[r * G * h..][..G * h];
        for (g, dst) in acc_row.chunks_exact_mut(l).enumerate() {
            let (xs, bs) = (&row[g * h + j0..][..n], &bias[g * h + j0..][..n]);
            for ((d, &a), &b) in dst.iter_mut().zip(xs).zip(bs) {
                *d = a + b;
            }
            dst[n..].fill(0.0);
        }
    }
}

/// The gate math on one finished tile row (`4·l` pre-activations, `n` units in use):
/// [`row_forward`] into `c_t`, `tanh(c_t)` and `h_t`, then the activated gates
/// copied to `out[g·stride + j ..]` for gate `g` (`stride = out.len() / 4`).
#[inline(always)]
pub(super) fn tile_row_forward(
    row: &mut [f32],
    l: usize,
    c_prev: &[f32],
    (c_next, tanh_c): (&mut [f32], &mut [f32]),
    h_next: &mut [f32],
    (out, j): (&mut [f32], usize),
) {
    let n = c_prev.len();
    let (gi, rest) = row.split_at_mut(l);
    let (gf, rest) = rest.split_at_mut(l);
    let (gg, go) = rest.split_at_mut(l);
    row_forward::<Fast>(gi, gf, gg, go, c_prev, c_next, tanh_c, h_next);
    let stride = out.len() / G;
    for (g, gate) in [&*gi, &*gf, &*gg, &*go].into_iter().enumerate() {
        out[g * stride + j..][..n].copy_from_slice(&gate[..n]);
    }
}
// ANCHOR_END: step_forward

// ANCHOR: step_backward
/// One backward product, fused with the step before it: `dh_{t-1} = dgates_t · W_hh`
/// tile by tile (`w` is `weight_hh` packed by [`pack_cols`]); each tile, plus
/// `dy_{t-1}`, goes straight into step `t−1`'s [`row_backward`] for its units, which
/// writes `dgates_{t-1}` and moves `dc` to `c_{t-2}`. Without a step before
/// (`prev = None`), the tile is `dh0`, written to `dh0`.
#[inline(always)]
fn step_backward<S: Simd>(
    h: usize,
    w: &[f32],
    dgates_t: &[f32],
    mut prev: Option<PrevStep<'_>>,
    dc: &mut [f32],
    dh0: &mut [f32],
) {
    let (l, b) = (S::LANES, dc.len() / h);
    let (nr, mr) = (NV_BACK * l, S::mr(NV_BACK));
    let mut tile = [0.0f32; MAX_TILE];
    for (pnl, panel) in w.chunks_exact(G * h * nr).enumerate() {
        for (r0, m) in row_tiles(b, mr) {
            let (j0, n) = (pnl * nr, nr.min(h - pnl * nr));
            let acc = &mut tile[..m * nr];
            acc.fill(0.0);
            S::tile::<NV_BACK>(m, G * h, &dgates_t[r0 * G * h..], G * h, panel, acc);
            for r in 0..m {
                let (rr, dh) = (r0 + r, &mut acc[r * nr..][..n]);
                let at = rr * h + j0;
                let Some(p) = prev.as_mut() else {
                    dh0[at..][..n].copy_from_slice(dh);
                    continue;
                };
                for (d, &y) in dh.iter_mut().zip(&p.dy[at..][..n]) {
                    *d += y; // the gradient from the output y_{t-1}
                }
                let g = &p.gates[rr * G * h..][..G * h];
                let dg = &mut p.dgates[rr * G * h..][..G * h];
                let (dgi, rest) = dg.split_at_mut(h);
                let (dgf, rest) = rest.split_at_mut(h);
                let (dgg, dgo) = rest.split_at_mut(h);
                row_backward(
                    std::array::from_fn(|k| &g[k * h + j0..][..n]),
                    &p.c_prev[at..][..n],
                    &p.tanh_c[at..][..n],
                    dh,
                    &mut dc[at..][..n],
                    &mut dgi[j0..][..n],
                    &mut dgf[j0..][..n],
                    &mut dgg[j0..][..n],
                    &mut dgo[j0..][..n],
                );
            }
        }
    }
}

/// What step `t−1`'s gate gradients need, all `[B, ·]` rows of that step.
struct PrevStep<'a> {
    gates: &'a [f32],
    c_prev: &'a [f32],
    tanh_c: &'a [f32],
    dy: &'a [f32],
    dgates: &'a mut [f32],
}
// ANCHOR_END: step_backward

/// What v5's backward pass needs. Unlike v1–v4, `x_t` and `h_{t-1}` sit side by side
/// in one `[x | h]` buffer, so that `dW_ih` and `dW_hh` come out of one GEMM,
/// `dGatesᵀ · [X | H_prev]`.
#[derive(Debug, Clone)]
pub struct PackedCache {
    /// `[T·B + B, I + H]`: row block `t` is `[x_t | h_{t-1}]`; the last block holds
    /// `h_T`.
    pub(super) xh: Array2<f32>,
    /// Activated gates `[T·B, 4H]`.
    pub(super) gates: Array2<f32>,
    /// `c_0 … c_T` as `[(T+1)·B, H]`.
    pub(super) c: Array2<f32>,
    /// `tanh(c_1) … tanh(c_T)` as `[T·B, H]`.
    pub(super) tanh_c: Array2<f32>,
}

impl<S: Simd> Kernel for Packed<S> {
    type Params = LstmF32;
    type State = LstmState;
    type Grads = LstmF32Grads;
    type Cache = PackedCache;

    // ANCHOR: forward
    fn forward(
        p: &LstmF32,
        x: ArrayView3<f32>,
        s0: &LstmState,
    ) -> (Array3<f32>, LstmState, PackedCache) {
        check_forward(p, x, s0);
        let (t_len, b, i) = x.dim();
        let (h, ld) = (p.hidden_size(), i + p.hidden_size());
        let Buffers {
            mut xh,
            mut gates,
            mut c,
            mut tanh_c,
            bias,
        } = Buffers::new(p, x, s0, Gemm::mat_mul);
        let w = pack_gates(p.weight_hh.view(), G, S::LANES); // once per sequence
        {
            let (c_all, xhs) = (slice_mut(&mut c), slice_mut(&mut xh));
            let (g_all, tc_all) = (slice_mut(&mut gates), slice_mut(&mut tanh_c));
            let bh = b * h;
            S::run(|| {
                for t in 0..t_len {
                    let (done, todo) = xhs.split_at_mut((t + 1) * b * ld);
                    let (c_done, c_todo) = c_all.split_at_mut((t + 1) * bh);
                    step_forward::<S>(
                        (h, ld),
                        &w,
                        &bias,
                        &mut g_all[t * G * bh..][..G * bh],
                        &done[t * b * ld + i..],
                        &c_done[t * bh..],
                        &mut c_todo[..bh],
                        &mut tc_all[t * bh..][..bh],
                        &mut todo[i..],
                    );
                }
            });
        }
        PackedCache {
            xh,
            gates,
            c,
            tanh_c,
        }
        .outputs(b)
    }
    // ANCHOR_END: forward

    // ANCHOR: backward
    fn backward(
        p: &LstmF32,
        cache: &PackedCache,
        dy: ArrayView3<f32>,
        ds_n: &LstmState,
    ) -> (LstmF32Grads, Array3<f32>, LstmState) {
        check_backward(cache.gates.nrows(), dy, ds_n);
        let (t_len, b, h) = dy.dim();
        let bh = b * h;
        // once per sequence
        let w = pack_cols(p.weight_hh.view(), NV_BACK * S::LANES);
        let mut dgates = Array2::zeros((t_len * b, G * h));
        let mut dc = ds_n.c.clone();
        let mut dh0 = Array2::zeros((b, h));
        // The last step has no product before it: dh = dh_n + dy_{T-1}, row by row.
        let mut dh = ds_n.h.clone();
        dh += &dy.index_axis(Axis(0), t_len - 1);
        let dy = dy.as_standard_layout();
        let dy = dy.as_slice().expect("standard layout");
        let (g, cs, tc) =
            (slice(&cache.gates), slice(&cache.c), slice(&cache.tanh_c));
        {
            let (dg_all, dc_s) = (slice_mut(&mut dgates), slice_mut(&mut dc));
            let (dh_s, dh0_s) = (slice(&dh), slice_mut(&mut dh0));
            S::run(|| {
                let last = (t_len - 1) * bh;
                for r in 0..b {
                    let (gr, dgr) = (&g[(last + r * h) * G..][..G * h], r * G * h);
                    let dgt = &mut dg_all[last * G + dgr..][..G * h];
                    let (dgi, rest) = dgt.split_at_mut(h);
                    let (dgf, rest) = rest.split_at_mut(h);
                    let (dgg, dgo) = rest.split_at_mut(h);
                    let at = r * h;
                    row_backward(
                        [&gr[..h], &gr[h..2 * h], &gr[2 * h..3 * h], &gr[3 * h..]],
                        &cs[last + at..][..h],
                        &tc[last + at..][..h],
                        &dh_s[at..][..h],
                        &mut dc_s[at..][..h],
                        dgi,
                        dgf,
                        dgg,
                        dgo,
                    );
                }
                for t in (0..t_len).rev() {
                    // dgates_t is done; step t−1's is written from the tiles of
                    // dh_{t-1}.
                    let (before, now) = dg_all.split_at_mut(t * G * bh);
                    let dgates_t = &now[..G * bh];
                    let prev = (t > 0).then(|| PrevStep {
                        gates: &g[(t - 1) * G * bh..][..G * bh],
                        c_prev: &cs[(t - 1) * bh..][..bh],
                        tanh_c: &tc[(t - 1) * bh..][..bh],
                        dy: &dy[(t - 1) * bh..][..bh],
                        dgates: &mut before[(t - 1) * G * bh..],
                    });
                    step_backward::<S>(h, &w, dgates_t, prev, dc_s, dh0_s);
                }
            });
        }
        let (grads, dx) = weight_grads(p, cache, &dgates, (t_len, b), Gemm::mat_mul);
        (grads, dx, LstmState { h: dh0, c: dc })
    }
    // ANCHOR_END: backward
}

/// A matrix product `c ← α·a·b + β·c` (one of [`Gemm`]'s).
pub(super) type Product = fn(
    f32,
    &ArrayView2<'_, f32>,
    &ArrayView2<'_, f32>,
    f32,
    &mut ArrayViewMut2<'_, f32>,
);

/// v5's (and v7's) buffers before the time loop: `[x | h]` with `x` and `h_0` in
/// place, every step's input side `x_t W_ihᵀ` in `gates`, `c_0` in `c`, and
/// `b_ih + b_hh`.
pub(super) struct Buffers {
    pub xh: Array2<f32>,
    pub gates: Array2<f32>,
    pub c: Array2<f32>,
    pub tanh_c: Array2<f32>,
    pub bias: Vec<f32>,
}

impl Buffers {
    pub fn new(
        p: &LstmF32,
        x: ArrayView3<f32>,
        s0: &LstmState,
        mm: Product,
    ) -> Buffers {
        let (t_len, b, i) = x.dim();
        let (h, ld) = (p.hidden_size(), i + p.hidden_size());
        let mut xh = Array2::zeros(((t_len + 1) * b, ld));
        let xs = x.to_shape((t_len * b, i)).expect("[T·B, I]");
        xh.slice_mut(s![..t_len * b, ..i]).assign(&xs);
        xh.slice_mut(s![..b, i..]).assign(&s0.h);
        let mut gates = Array2::zeros((t_len * b, G * h));
        let x_part = xh.slice(s![..t_len * b, ..i]);
        mm(1.0, &x_part, &p.weight_ih.t(), 0.0, &mut gates.view_mut());
        let mut c = Array2::zeros(((t_len + 1) * b, h));
        c.slice_mut(s![0..b, ..]).assign(&s0.c);
        Buffers {
            xh,
            gates,
            c,
            tanh_c: Array2::zeros((t_len * b, h)),
            bias: (&p.bias_ih + &p.bias_hh).to_vec(),
        }
    }
}

impl PackedCache {
    /// `y`, the final state and the cache itself, from the filled buffers (`b` rows
    /// a step).
    pub(super) fn outputs(self, b: usize) -> (Array3<f32>, LstmState, PackedCache) {
        let (rows, h) = self.c.dim();
        let (t_len, i) = (rows / b - 1, self.xh.ncols() - h);
        let hs = self.xh.slice(s![b.., i..]);
        let y = hs.to_shape((t_len, b, h)).expect("[T, B, H]").into_owned();
        let h_n = self.xh.slice(s![t_len * b.., i..]).to_owned();
        let c_n = self.c.slice(s![t_len * b.., ..]).to_owned();
        (y, LstmState { h: h_n, c: c_n }, self)
    }
}

/// The weight gradients and `dx` from every step's `dgates: [T·B, 4H]`, by `mm`.
pub(super) fn weight_grads(
    p: &LstmF32,
    cache: &PackedCache,
    dgates: &Array2<f32>,
    (t_len, b): (usize, usize),
    mm: Product,
) -> (LstmF32Grads, Array3<f32>) {
    let h = cache.c.ncols();
    // Both weight gradients in one GEMM: dGatesᵀ · [X | H_prev] = [dW_ih | dW_hh].
    let i = cache.xh.ncols() - h;
    let mut dw = Array2::zeros((G * h, i + h));
    let xh = cache.xh.slice(s![..t_len * b, ..]);
    mm(1.0, &dgates.t(), &xh, 0.0, &mut dw.view_mut());
    let mut dx = Array2::zeros((t_len * b, i));
    mm(
        1.0,
        &dgates.view(),
        &p.weight_ih.view(),
        0.0,
        &mut dx.view_mut(),
    );
    let dbias = sum_rows(dgates); // the gradient of each of b_ih and b_hh
    let grads = LstmF32Grads {
        dweight_ih: dw.slice(s![.., ..i]).to_owned(),
        dweight_hh: dw.slice(s![.., i..]).to_owned(),
        dbias_ih: dbias.clone(),
        dbias_hh: dbias,
    };
    let dx = dx.into_shape_with_order((t_len, b, i)).expect("[T, B, I]");
    (grads, dx)
}
