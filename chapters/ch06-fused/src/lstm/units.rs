//! v7 of the LSTM: v6, and for a batch too small to split, the units split instead.
//!
//! v6 gives each thread a block of batch rows. At `B = 1` there is one row, so v6 is
//! v5 on one thread. v7 gives each thread a block of *units* instead: thread `k`
//! computes the gates, `c_t` and `h_t` of units `J_k` for the whole batch, and reads
//! only the rows of `weight_hh` that produce them (`1/threads` of the weights, which
//! may then fit in its core's L2 where the whole matrix did not). The price is one
//! exchange per step: step `t` needs all of `h_{t-1}`, so every thread waits for the
//! others' parts of it. The backward pass is split the same way: thread `k` computes
//! `dh_{t-1}` for its units, which needs every thread's `dgates_t`.
//!
//! Each part of `h_t` (and of `dgates_t`) is written once by its thread, into its
//! own [`OnceLock`], and only read after that: the threads share no buffer that any
//! of them writes, and no `unsafe` is needed. A thread that needs a part spins until
//! it is there (a few microseconds of work per step at `B = 1` leave no time to
//! sleep and be woken), and yields its CPU after a short spin, in case the thread it
//! waits for shares it. The weight gradients and `dx` run on all threads inside the
//! `gemm` crate; the input projection, small at these batches, on one (the pool's
//! threads, woken for it, would still be spinning when the time loop starts, and
//! compete with it).
//!
//! The parts are whole backward panels (`4·L` units), so that each thread's forward
//! unit blocks and backward panels are its own; with `H ≤ 4·L` there is one part and
//! v7 is v5.

use std::marker::PhantomData;
use std::ops::Range;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use ndarray::{Array2, Array3, ArrayView3, s};

use super::packed::{
    Buffers, G, NV_BACK, PackedCache, tile_row_forward, tile_start, weight_grads,
};
use super::{
    LstmF32, LstmF32Grads, LstmState, Packed, check_backward, check_forward,
    row_backward,
};
use crate::kernel::Kernel;
use crate::matmul::{Gemm, MatMul};
use crate::rows::flat;
use crate::simd::{MAX_TILE, Simd, pack_cols, pack_gates, row_tiles};
use crate::threads::{Split, SplitCache, batch_chunks};

/// v7 on SIMD path `S`: [`Split`] of v5 when every thread gets at least
/// [`MIN_ROWS_PER_THREAD`] batch rows, the units split otherwise, over as many
/// threads as get `MIN_UNITS` units each. [`super::V7`] picks `S`; the tests set
/// `MIN_UNITS` to 1 to run the units split on small shapes.
pub struct Units<S, const MIN_UNITS: usize = MIN_UNITS_PER_THREAD>(PhantomData<S>);

/// Below this many batch rows per thread, v7 splits the units instead of the batch.
/// Measured on two threads (AMD EPYC Zen 5, AVX-512, T = 400, H = 256, fwd + bwd):
/// at B = 2 both splits took about the same time (16.5 ms by units, 17.8 by rows),
/// at B = 4 the rows' was faster (26.0 against 29.1 ms), at B = 8 more so (40.5
/// against 47.2).
pub const MIN_ROWS_PER_THREAD: usize = 1;

/// The units split needs at least this many units per thread to pay for its
/// exchanges: at B = 1, T = 400 on two threads (same machine) it took 4.0 ms against
/// v5's 3.4 at H = 128 (64 units each), and 9.1 against 14.7 at H = 256, 39.7
/// against 67.1 at H = 512.
pub const MIN_UNITS_PER_THREAD: usize = 128;

/// v7's cache: v6's, or v5's buffers filled by the threads together.
pub enum UnitsCache {
    /// The batch was split (v6).
    Batch(SplitCache<PackedCache>),
    /// The units were split.
    Units(Box<PackedCache>),
}

// ANCHOR: units_split
/// The units `0..h` in at most `threads` contiguous parts of whole backward panels
/// (`NV_BACK · lanes` units), as even as possible.
pub fn unit_parts(h: usize, lanes: usize, threads: usize) -> Vec<Range<usize>> {
    let nb = NV_BACK * lanes;
    batch_chunks(h.div_ceil(nb), threads)
        .into_iter()
        .map(|p| p.start * nb..(p.end * nb).min(h))
        .collect()
}

/// The parts v7 splits the units into for a batch of `b` rows in the current rayon
/// pool, or `None` to split the batch.
fn units_split(
    h: usize,
    lanes: usize,
    b: usize,
    min_units: usize,
) -> Option<Vec<Range<usize>>> {
    let threads = rayon::current_num_threads();
    let parts = unit_parts(h, lanes, threads.min(h / min_units.max(1)));
    (b < threads * MIN_ROWS_PER_THREAD && parts.len() > 1).then_some(parts)
}
// ANCHOR_END: units_split

impl<S: Simd, const MIN_UNITS: usize> Kernel for Units<S, MIN_UNITS> {
    type Params = LstmF32;
    type State = LstmState;
    type Grads = LstmF32Grads;
    type Cache = UnitsCache;
    const PARALLEL: bool = true;

    fn forward(
        p: &LstmF32,
        x: ArrayView3<f32>,
        s0: &LstmState,
    ) -> (Array3<f32>, LstmState, UnitsCache) {
        match units_split(p.hidden_size(), S::LANES, x.dim().1, MIN_UNITS) {
            None => {
                let (y, s_n, cache) = Split::<Packed<S>>::forward(p, x, s0);
                (y, s_n, UnitsCache::Batch(cache))
            }
            Some(parts) => {
                let (y, s_n, cache) = forward_units::<S>(p, x, s0, &parts);
                (y, s_n, UnitsCache::Units(Box::new(cache)))
            }
        }
    }

    fn backward(
        p: &LstmF32,
        cache: &UnitsCache,
        dy: ArrayView3<f32>,
        ds_n: &LstmState,
    ) -> (LstmF32Grads, Array3<f32>, LstmState) {
        match cache {
            UnitsCache::Batch(c) => Split::<Packed<S>>::backward(p, c, dy, ds_n),
            UnitsCache::Units(c) => {
                // The cache is v5's, so any split of the units reads it; one thread
                // is v5's loop.
                let (h, b) = (p.hidden_size(), dy.dim().1);
                let parts = units_split(h, S::LANES, b, MIN_UNITS)
                    .unwrap_or_else(|| std::iter::once(0..h).collect());
                backward_units::<S>(p, c, dy, ds_n, &parts)
            }
        }
    }
}

// ANCHOR: exchange
/// A part of a step's `h_t` or `dgates_t`, set once by the thread that owns it.
type Slot = OnceLock<Vec<f32>>;

/// Waits until `slot` is set; panics if another thread of the same pass panicked
/// (which would never set it). After 64 spins it yields its CPU at every try: if the
/// two threads share one CPU, a long spin only delays the other (measured: 4096
/// spins before yielding took a forward pass from 1.9 to 13.8 ms when the threads
/// met on one CPU; 64 took it to 2.5).
fn wait<'a>(slot: &'a Slot, failed: &AtomicBool) -> &'a [f32] {
    let mut spins = 0u32;
    loop {
        if let Some(v) = slot.get() {
            return v;
        }
        assert!(
            !failed.load(Ordering::Acquire),
            "another thread of this pass panicked"
        );
        if spins < 1 << 6 {
            spins += 1;
            std::hint::spin_loop();
        } else {
            std::thread::yield_now();
        }
    }
}

/// Sets `failed` if its thread unwinds, so that the others stop waiting.
struct OnPanic<'a>(&'a AtomicBool);

impl Drop for OnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.store(true, Ordering::Release);
        }
    }
}

/// `f(k)` for every part `k`, each on its own thread (part 0 on this one), all at
/// once: they wait for each other, so they must all run, which a task pool does not
/// promise.
fn on_threads<R: Send>(
    parts: usize,
    failed: &AtomicBool,
    f: impl Fn(usize) -> R + Sync,
) -> Vec<R> {
    let run = |k| {
        let _guard = OnPanic(failed);
        f(k)
    };
    std::thread::scope(|sc| {
        let others: Vec<_> = (1..parts).map(|k| sc.spawn(move || run(k))).collect();
        let mut out = vec![run(0)];
        for t in others {
            match t.join() {
                Ok(r) => out.push(r),
                Err(e) => std::panic::resume_unwind(e),
            }
        }
        out
    })
}

// ANCHOR_END: exchange

/// Columns `r` of `a: [B, H]`, row after row.
fn columns(a: &Array2<f32>, r: &Range<usize>) -> Vec<f32> {
    a.slice(s![.., r.clone()]).iter().copied().collect()
}

// ANCHOR: forward_units
/// What every thread of the forward pass reads.
struct Forward<'a> {
    h: usize,
    b: usize,
    t_len: usize,
    parts: &'a [Range<usize>],
    /// `weight_hh` packed by [`pack_gates`].
    w: &'a [f32],
    bias: &'a [f32],
    /// Every step's input side, `[T·B, 4H]`.
    x_side: &'a [f32],
    c0: &'a Array2<f32>,
    /// `h_t` of part `k` (`[B, |J_k|]`) in slot `t·parts + k`; `h_0`'s are set
    /// before.
    hs: &'a [Slot],
    failed: &'a AtomicBool,
}

/// One thread's units over the whole sequence.
struct PartForward {
    /// Activated gates, `[T·B, 4·|J_k|]` (blocks i, f, g, o of the part's units).
    gates: Vec<f32>,
    /// `c_0 … c_T` of the part, `[(T+1)·B, |J_k|]`.
    c: Vec<f32>,
    /// `tanh(c_1) … tanh(c_T)` of the part, `[T·B, |J_k|]`.
    tanh_c: Vec<f32>,
}

fn part_forward<S: Simd>(f: &Forward<'_>, k: usize) -> PartForward {
    let (h, b, np) = (f.h, f.b, f.parts.len());
    let (ja, n) = (f.parts[k].start, f.parts[k].len());
    let (l, nr, mr) = (S::LANES, G * S::LANES, S::mr(G));
    let mut gates = vec![0.0; f.t_len * b * G * n];
    let mut c = columns(f.c0, &f.parts[k]);
    c.resize((f.t_len + 1) * b * n, 0.0);
    let mut tanh_c = vec![0.0; f.t_len * b * n];
    let mut tile = [0.0f32; MAX_TILE];
    // ANCHOR: step_units
    for t in 0..f.t_len {
        let prev: Vec<&[f32]> =
            (0..np).map(|j| wait(&f.hs[t * np + j], f.failed)).collect();
        let mut h_new = vec![0.0; b * n];
        let x_side = &f.x_side[t * b * G * h..][..b * G * h];
        let (c_done, c_todo) = c.split_at_mut((t + 1) * b * n);
        let c_prev = &c_done[t * b * n..];
        for u in ja / l..(ja + n).div_ceil(l) {
            let panel = &f.w[u * h * nr..][..h * nr];
            let (j0, nu) = (u * l, l.min(h - u * l)); // units j0 … j0+nu−1
            let jl = j0 - ja; // … at jl in the part
            for (r0, m) in row_tiles(b, mr) {
                let acc = &mut tile[..m * nr];
                tile_start(acc, l, &x_side[r0 * G * h..], f.bias, (j0, nu));
                // += h_{t-1} · W_hhᵀ, one part of h_{t-1} (rows of the panel) at a
                // time.
                for (j, hp) in prev.iter().enumerate() {
                    let (pj, nj) = (f.parts[j].start, f.parts[j].len());
                    S::tile::<G>(m, nj, &hp[r0 * nj..], nj, &panel[pj * nr..], acc);
                }
                for r in 0..m {
                    let (rr, row) = (r0 + r, &mut acc[r * nr..][..nr]);
                    let at = rr * n + jl;
                    tile_row_forward(
                        row,
                        l,
                        &c_prev[at..][..nu],
                        (
                            &mut c_todo[at..][..nu],
                            &mut tanh_c[t * b * n + at..][..nu],
                        ),
                        &mut h_new[at..][..nu],
                        (&mut gates[(t * b + rr) * G * n..][..G * n], jl),
                    );
                }
            }
        }
        f.hs[(t + 1) * np + k]
            .set(h_new)
            .expect("each part of h_t is set once");
    }
    // ANCHOR_END: step_units
    PartForward { gates, c, tanh_c }
}

fn forward_units<S: Simd>(
    p: &LstmF32,
    x: ArrayView3<f32>,
    s0: &LstmState,
    parts: &[Range<usize>],
) -> (Array3<f32>, LstmState, PackedCache) {
    check_forward(p, x, s0);
    let (t_len, b, i) = x.dim();
    let (h, np) = (p.hidden_size(), parts.len());
    let Buffers {
        mut xh,
        mut gates,
        mut c,
        mut tanh_c,
        bias,
    } = Buffers::new(p, x, s0, Gemm::mat_mul);
    let w = pack_gates(p.weight_hh.view(), G, S::LANES); // once per sequence
    let hs: Vec<Slot> = (0..(t_len + 1) * np).map(|_| OnceLock::new()).collect();
    for (k, r) in parts.iter().enumerate() {
        hs[k].set(columns(&s0.h, r)).expect("a new slot");
    }
    let failed = AtomicBool::new(false);
    let f = Forward {
        h,
        b,
        t_len,
        parts,
        w: &w,
        bias: &bias,
        x_side: flat(&gates),
        c0: &s0.c,
        hs: &hs,
        failed: &failed,
    };
    let outs = on_threads(np, &failed, |k| S::run(|| part_forward::<S>(&f, k)));
    // Every part into v5's buffers, so that the cache is v5's.
    for (k, (r, o)) in parts.iter().zip(outs).enumerate() {
        let n = r.len();
        let og =
            Array2::from_shape_vec((t_len * b, G * n), o.gates).expect("[T·B, 4n]");
        for g in 0..G {
            let cols = g * h + r.start..g * h + r.end;
            gates
                .slice_mut(s![.., cols])
                .assign(&og.slice(s![.., g * n..(g + 1) * n]));
        }
        let oc =
            Array2::from_shape_vec(((t_len + 1) * b, n), o.c).expect("[(T+1)·B, n]");
        c.slice_mut(s![.., r.clone()]).assign(&oc);
        let ot = Array2::from_shape_vec((t_len * b, n), o.tanh_c).expect("[T·B, n]");
        tanh_c.slice_mut(s![.., r.clone()]).assign(&ot);
        for t in 1..=t_len {
            let part = hs[t * np + k].get().expect("every step was done");
            let part =
                ndarray::ArrayView2::from_shape((b, n), part).expect("[B, n]");
            xh.slice_mut(s![t * b..(t + 1) * b, i + r.start..i + r.end])
                .assign(&part);
        }
    }
    PackedCache {
        xh,
        gates,
        c,
        tanh_c,
    }
    .outputs(b)
}
// ANCHOR_END: forward_units

/// What every thread of the backward pass reads.
struct Backward<'a> {
    h: usize,
    b: usize,
    t_len: usize,
    parts: &'a [Range<usize>],
    /// `weight_hh` packed by [`pack_cols`].
    w: &'a [f32],
    cache: &'a PackedCache,
    /// `dy` as `[T·B, H]`.
    dy: &'a [f32],
    ds_n: &'a LstmState,
    /// `dgates_t` of part `k` (`[B, 4·|J_k|]`, blocks i, f, g, o) in slot
    /// `t·parts + k`.
    dgs: &'a [Slot],
    failed: &'a AtomicBool,
}

/// The four gate blocks of `|J_k|` units in a row of `4·|J_k|`.
fn four(row: &mut [f32]) -> [&mut [f32]; 4] {
    crate::rows::blocks::<4>(row)
}

/// One thread's units over the whole sequence, backward: its parts of `dgates_t` go
/// to the slots; its parts of `dh_0` and `dc_0` come back.
fn part_backward<S: Simd>(f: &Backward<'_>, k: usize) -> (Vec<f32>, Vec<f32>) {
    let (h, b, np, bh) = (f.h, f.b, f.parts.len(), f.b * f.h);
    let (ja, n) = (f.parts[k].start, f.parts[k].len());
    let (nb, mr) = (NV_BACK * S::LANES, S::mr(NV_BACK));
    let (g_all, cs, tc) = (
        flat(&f.cache.gates),
        flat(&f.cache.c),
        flat(&f.cache.tanh_c),
    );
    let mut dc = columns(&f.ds_n.c, &f.parts[k]);
    // The last step has no product before it: dh = dh_n + dy_{T-1}.
    let last = f.t_len - 1;
    let mut dg = vec![0.0; b * G * n];
    for rr in 0..b {
        let at = rr * h + ja;
        let dh: Vec<f32> = (0..n)
            .map(|q| f.ds_n.h[[rr, ja + q]] + f.dy[last * bh + at + q])
            .collect();
        let gr = &g_all[(last * b + rr) * G * h..][..G * h];
        let [dgi, dgf, dgg, dgo] = four(&mut dg[rr * G * n..][..G * n]);
        row_backward(
            std::array::from_fn(|q| &gr[q * h + ja..][..n]),
            &cs[last * bh + at..][..n],
            &tc[last * bh + at..][..n],
            &dh,
            &mut dc[rr * n..][..n],
            dgi,
            dgf,
            dgg,
            dgo,
        );
    }
    f.dgs[last * np + k].set(dg).expect("set once");
    let mut dh0 = vec![0.0; b * n];
    let mut tile = [0.0f32; MAX_TILE];
    for t in (0..f.t_len).rev() {
        let now: Vec<&[f32]> = (0..np)
            .map(|j| wait(&f.dgs[t * np + j], f.failed))
            .collect();
        let mut dg_prev = vec![0.0; if t > 0 { b * G * n } else { 0 }];
        for pnl in ja / nb..(ja + n).div_ceil(nb) {
            let panel = &f.w[pnl * G * h * nb..][..G * h * nb];
            let (j0, nu) = (pnl * nb, nb.min(h - pnl * nb));
            let jl = j0 - ja;
            for (r0, m) in row_tiles(b, mr) {
                let acc = &mut tile[..m * nb];
                acc.fill(0.0);
                // dh_{t-1} = dgates_t · W_hh: each part's four gate blocks are rows
                // of the panel.
                for (j, dgj) in now.iter().enumerate() {
                    let (pj, nj) = (f.parts[j].start, f.parts[j].len());
                    for g in 0..G {
                        let a = &dgj[r0 * G * nj + g * nj..];
                        S::tile::<NV_BACK>(
                            m,
                            nj,
                            a,
                            G * nj,
                            &panel[(g * h + pj) * nb..],
                            acc,
                        );
                    }
                }
                for r in 0..m {
                    let (rr, dh) = (r0 + r, &mut acc[r * nb..][..nu]);
                    if t == 0 {
                        dh0[rr * n + jl..][..nu].copy_from_slice(dh);
                        continue;
                    }
                    let at = (t - 1) * bh + rr * h + j0;
                    for (d, &y) in dh.iter_mut().zip(&f.dy[at..][..nu]) {
                        *d += y; // the gradient from the output y_{t-1}
                    }
                    let gr = &g_all[((t - 1) * b + rr) * G * h..][..G * h];
                    let [dgi, dgf, dgg, dgo] =
                        four(&mut dg_prev[rr * G * n..][..G * n]);
                    row_backward(
                        std::array::from_fn(|q| &gr[q * h + j0..][..nu]),
                        &cs[at..][..nu],
                        &tc[at..][..nu],
                        dh,
                        &mut dc[rr * n + jl..][..nu],
                        &mut dgi[jl..][..nu],
                        &mut dgf[jl..][..nu],
                        &mut dgg[jl..][..nu],
                        &mut dgo[jl..][..nu],
                    );
                }
            }
        }
        if t > 0 {
            f.dgs[(t - 1) * np + k].set(dg_prev).expect("set once");
        }
    }
    (dh0, dc)
}

fn backward_units<S: Simd>(
    p: &LstmF32,
    cache: &PackedCache,
    dy: ArrayView3<f32>,
    ds_n: &LstmState,
    parts: &[Range<usize>],
) -> (LstmF32Grads, Array3<f32>, LstmState) {
    check_backward(cache.gates.nrows(), dy, ds_n);
    let (t_len, b, h) = dy.dim();
    let np = parts.len();
    let w = pack_cols(p.weight_hh.view(), NV_BACK * S::LANES); // once per sequence
    let dy_std = dy.as_standard_layout();
    let dgs: Vec<Slot> = (0..t_len * np).map(|_| OnceLock::new()).collect();
    let failed = AtomicBool::new(false);
    let f = Backward {
        h,
        b,
        t_len,
        parts,
        w: &w,
        cache,
        dy: dy_std.as_slice().expect("standard layout"),
        ds_n,
        dgs: &dgs,
        failed: &failed,
    };
    let outs = on_threads(np, &failed, |k| S::run(|| part_backward::<S>(&f, k)));
    let mut dgates = Array2::zeros((t_len * b, G * h));
    let (mut dh0, mut dc0) = (Array2::zeros((b, h)), Array2::zeros((b, h)));
    for (k, (r, (dh0_k, dc_k))) in parts.iter().zip(outs).enumerate() {
        let n = r.len();
        for t in 0..t_len {
            let part = dgs[t * np + k].get().expect("every step was done");
            let part =
                ndarray::ArrayView2::from_shape((b, G * n), part).expect("[B, 4n]");
            for g in 0..G {
                dgates
                    .slice_mut(s![
                        t * b..(t + 1) * b,
                        g * h + r.start..g * h + r.end
                    ])
                    .assign(&part.slice(s![.., g * n..(g + 1) * n]));
            }
        }
        let dh0_k = Array2::from_shape_vec((b, n), dh0_k).expect("[B, n]");
        dh0.slice_mut(s![.., r.clone()]).assign(&dh0_k);
        let dc_k = Array2::from_shape_vec((b, n), dc_k).expect("[B, n]");
        dc0.slice_mut(s![.., r.clone()]).assign(&dc_k);
    }
    let (grads, dx) = weight_grads(p, cache, &dgates, (t_len, b), Gemm::mat_mul_par);
    (grads, dx, LstmState { h: dh0, c: dc0 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_are_whole_panels_covering_the_units_once() {
        assert_eq!(unit_parts(256, 16, 2), vec![0..128, 128..256]);
        assert_eq!(unit_parts(100, 16, 2), vec![0..64, 64..100]);
        assert_eq!(unit_parts(64, 16, 2), vec![0..64]);
        assert_eq!(unit_parts(300, 8, 3), vec![0..96, 96..192, 192..300]);
        assert_eq!(unit_parts(1, 16, 4), vec![0..1]);
    }
}
