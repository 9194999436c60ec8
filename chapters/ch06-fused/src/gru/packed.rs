//! v5 of the GRU, built like the LSTM's ([`crate::lstm::Packed`]): `weight_hh`
//! packed once per sequence, each tile of the hidden side `h_{t-1} W_hhᵀ + b_hh`
//! (all three gates of `L` units) accumulated in registers and handed at once to the
//! gate math of those units, on the best SIMD path. The hidden side is still written
//! out (its `n` block is what `r` scales, and the backward pass needs it); the
//! pre-activations of `r, z, n` are not.
//!
//! Backward, `dh_{t-1} = dh_t ⊙ z_t + dgh_t · W_hh`: each tile starts from the
//! direct part `dh_t ⊙ z_t`, accumulates the product, and goes straight into step
//! `t−1`'s [`row_backward`].

use std::marker::PhantomData;

use ndarray::{Array2, Array3, ArrayView3, Axis, s};

use super::{
    GruF32, GruF32Cache, GruF32Grads, check_backward, check_forward, input_side,
    row_backward, row_forward, weight_grads,
};
use crate::act::Fast;
use crate::kernel::Kernel;
use crate::matmul::Gemm;
use crate::rows::{flat as slice, flat_mut as slice_mut, outputs};
use crate::simd::{MAX_TILE, Simd, pack_cols, pack_gates, row_tiles};

/// The GRU with `weight_hh` packed once and the gate math fused into the per-step
/// product, on SIMD path `S`. [`super::V5`] picks `S` at run time.
pub struct Packed<S>(PhantomData<S>);

/// Gate blocks: r, z, n.
const G: usize = 3;
/// Vectors per tile row in the backward product.
const NV_BACK: usize = 4;

/// Three mutable blocks of `H` from a gate row of `3H`, each cut to units
/// `j0 … j0+n−1`.
fn units_mut(row: &mut [f32], h: usize, j0: usize, n: usize) -> [&mut [f32]; 3] {
    let (a, rest) = row.split_at_mut(h);
    let (b, c) = rest.split_at_mut(h);
    [&mut a[j0..][..n], &mut b[j0..][..n], &mut c[j0..][..n]]
}

/// One forward step: `gates_t: [B, 3H]` holds the input side and receives the
/// activated gates, `gh_t: [B, 3H]` receives the hidden side, `h_next` receives
/// `h_t`.
#[inline(always)]
fn step_forward<S: Simd>(
    h: usize,
    w: &[f32],
    bias_hh: &[f32],
    gates_t: &mut [f32],
    gh_t: &mut [f32],
    h_prev: &[f32],
    h_next: &mut [f32],
) {
    let (l, b) = (S::LANES, h_prev.len() / h);
    let (nr, mr) = (G * l, S::mr(G));
    let mut tile = [0.0f32; MAX_TILE];
    // Panels outside, row tiles inside: each panel of packed weights comes from L2
    // (or L3) once per step and is reused from L1 by every row tile.
    for (u, panel) in w.chunks_exact(h * nr).enumerate() {
        for (r0, m) in row_tiles(b, mr) {
            let (j0, n) = (u * l, l.min(h - u * l));
            let acc = &mut tile[..m * nr];
            for r in 0..m {
                for g in 0..G {
                    let dst = &mut acc[r * nr + g * l..][..l];
                    dst[..n].copy_from_slice(&bias_hh[g * h + j0..][..n]); // b_hh
                    dst[n..].fill(0.0);
                }
            }
            // += h_{t-1} · W_hhᵀ
            S::tile::<G>(m, h, &h_prev[r0 * h..], h, panel, acc);
            for r in 0..m {
                let (rr, row) = (r0 + r, &acc[r * nr..][..nr]);
                let ghs: [&[f32]; G] = std::array::from_fn(|g| &row[g * l..][..n]);
                for (g, side) in
                    units_mut(&mut gh_t[rr * G * h..][..G * h], h, j0, n)
                        .into_iter()
                        .enumerate()
                {
                    side.copy_from_slice(ghs[g]); // kept for backward
                }
                let [ar, az, an] =
                    units_mut(&mut gates_t[rr * G * h..][..G * h], h, j0, n);
                let at = rr * h + j0;
                row_forward::<Fast>(
                    ar,
                    az,
                    an,
                    ghs[0],
                    ghs[1],
                    ghs[2],
                    &h_prev[at..][..n],
                    &mut h_next[at..][..n],
                );
            }
        }
    }
}

/// What step `t−1`'s gate gradients need, all `[B, ·]` rows of that step.
struct PrevStep<'a> {
    gates: &'a [f32],
    gh: &'a [f32],
    h_prev: &'a [f32],
    dy: &'a [f32],
    dgi: &'a mut [f32],
    dgh: &'a mut [f32],
}

/// `dh_{t-1} = direct + dgh_t · W_hh` tile by tile, each tile (plus `dy_{t-1}`)
/// straight into step `t−1`'s gate gradients, which replace `direct` by
/// `dh_{t-1} ⊙ z_{t-1}`. Without a step before, the tiles are `dh0`.
#[inline(always)]
fn step_backward<S: Simd>(
    h: usize,
    w: &[f32],
    dgh_t: &[f32],
    mut prev: Option<PrevStep<'_>>,
    direct: &mut [f32],
    dh0: &mut [f32],
) {
    let (l, b) = (S::LANES, direct.len() / h);
    let (nr, mr) = (NV_BACK * l, S::mr(NV_BACK));
    let mut tile = [0.0f32; MAX_TILE];
    for (pnl, panel) in w.chunks_exact(G * h * nr).enumerate() {
        for (r0, m) in row_tiles(b, mr) {
            let (j0, n) = (pnl * nr, nr.min(h - pnl * nr));
            let acc = &mut tile[..m * nr];
            for r in 0..m {
                let dst = &mut acc[r * nr..][..nr];
                // dh_t ⊙ z_t
                dst[..n].copy_from_slice(&direct[(r0 + r) * h + j0..][..n]);
                dst[n..].fill(0.0);
            }
            S::tile::<NV_BACK>(m, G * h, &dgh_t[r0 * G * h..], G * h, panel, acc);
            for r in 0..m {
                let (rr, dh) = (r0 + r, &mut acc[r * nr..][..n]);
                let at = rr * h + j0;
                let Some(p) = prev.as_mut() else {
                    dh0[at..][..n].copy_from_slice(dh);
                    continue;
                };
                for (d, &y) in dh.iter_mut().zip(&p.dy[at..][..n]) {
                    *d += y;
                }
                let g = &p.gates[rr * G * h..][..G * h];
                let [dir, diz, din] =
                    units_mut(&mut p.dgi[rr * G * h..][..G * h], h, j0, n);
                let [dhr, dhz, dhn] =
                    units_mut(&mut p.dgh[rr * G * h..][..G * h], h, j0, n);
                row_backward(
                    std::array::from_fn(|k| &g[k * h + j0..][..n]),
                    &p.gh[rr * G * h + 2 * h + j0..][..n],
                    &p.h_prev[at..][..n],
                    dh,
                    dir,
                    diz,
                    din,
                    dhr,
                    dhz,
                    dhn,
                    &mut direct[at..][..n],
                );
            }
        }
    }
}

impl<S: Simd> Kernel for Packed<S> {
    type Params = GruF32;
    type State = Array2<f32>;
    type Grads = GruF32Grads;
    type Cache = GruF32Cache;

    fn forward(
        p: &GruF32,
        x: ArrayView3<f32>,
        h0: &Array2<f32>,
    ) -> (Array3<f32>, Array2<f32>, GruF32Cache) {
        check_forward(p, x, h0);
        let (t_len, b, _) = x.dim();
        let h = p.hidden_size();
        let (x2, mut gates) = input_side::<Gemm>(p, x);
        let w = pack_gates(p.weight_hh.view(), G, S::LANES); // once per sequence
        let mut gh = Array2::zeros((t_len * b, G * h));
        let mut h_all = Array2::zeros(((t_len + 1) * b, h));
        h_all.slice_mut(s![0..b, ..]).assign(h0);
        {
            let bias = p.bias_hh.as_slice().expect("contiguous");
            let (g_all, gh_all) = (slice_mut(&mut gates), slice_mut(&mut gh));
            let hs = slice_mut(&mut h_all);
            let bh = b * h;
            S::run(|| {
                for t in 0..t_len {
                    let (done, todo) = hs.split_at_mut((t + 1) * bh);
                    step_forward::<S>(
                        h,
                        &w,
                        bias,
                        &mut g_all[t * G * bh..][..G * bh],
                        &mut gh_all[t * G * bh..][..G * bh],
                        &done[t * bh..],
                        &mut todo[..bh],
                    );
                }
            });
        }
        let (y, h_n) = outputs(&h_all, t_len, b);
        let cache = GruF32Cache {
            x: x2,
            gates,
            gh,
            h_all,
        };
        (y, h_n, cache)
    }

    fn backward(
        p: &GruF32,
        cache: &GruF32Cache,
        dy: ArrayView3<f32>,
        dh_n: &Array2<f32>,
    ) -> (GruF32Grads, Array3<f32>, Array2<f32>) {
        check_backward(cache, dy, dh_n);
        let (t_len, b, h) = dy.dim();
        let bh = b * h;
        // once per sequence
        let w = pack_cols(p.weight_hh.view(), NV_BACK * S::LANES);
        let mut dgi = Array2::zeros((t_len * b, G * h));
        let mut dgh = Array2::zeros((t_len * b, G * h));
        let mut direct = Array2::zeros((b, h));
        let mut dh0 = Array2::zeros((b, h));
        let mut dh = dh_n.clone();
        dh += &dy.index_axis(Axis(0), t_len - 1);
        let dy = dy.as_standard_layout();
        let dy = dy.as_slice().expect("standard layout");
        let (g, gh, hs) =
            (slice(&cache.gates), slice(&cache.gh), slice(&cache.h_all));
        {
            let (dgi_all, dgh_all) = (slice_mut(&mut dgi), slice_mut(&mut dgh));
            let (direct, dh0_s, dh_s) =
                (slice_mut(&mut direct), slice_mut(&mut dh0), slice(&dh));
            S::run(|| {
                // the last step, row by row: no product before it
                let last = (t_len - 1) * bh;
                for r in 0..b {
                    let (row, at) = ((last + r * h) * G, r * h);
                    let gr = &g[row..][..G * h];
                    let [dir, diz, din] =
                        units_mut(&mut dgi_all[row..][..G * h], h, 0, h);
                    let [dhr, dhz, dhn] =
                        units_mut(&mut dgh_all[row..][..G * h], h, 0, h);
                    row_backward(
                        [&gr[..h], &gr[h..2 * h], &gr[2 * h..]],
                        &gh[row + 2 * h..][..h],
                        &hs[last + at..][..h],
                        &dh_s[at..][..h],
                        dir,
                        diz,
                        din,
                        dhr,
                        dhz,
                        dhn,
                        &mut direct[at..][..h],
                    );
                }
                for t in (0..t_len).rev() {
                    let (dgi_before, _) = dgi_all.split_at_mut(t * G * bh);
                    let (dgh_before, now) = dgh_all.split_at_mut(t * G * bh);
                    let prev = (t > 0).then(|| PrevStep {
                        gates: &g[(t - 1) * G * bh..][..G * bh],
                        gh: &gh[(t - 1) * G * bh..][..G * bh],
                        h_prev: &hs[(t - 1) * bh..][..bh],
                        dy: &dy[(t - 1) * bh..][..bh],
                        dgi: &mut dgi_before[(t - 1) * G * bh..],
                        dgh: &mut dgh_before[(t - 1) * G * bh..],
                    });
                    step_backward::<S>(h, &w, &now[..G * bh], prev, direct, dh0_s);
                }
            });
        }
        let (grads, dx) = weight_grads::<Gemm>(p, cache, &dgi, &dgh);
        (grads, dx, dh0)
    }
}
