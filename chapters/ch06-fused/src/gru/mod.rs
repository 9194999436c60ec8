//! The reset-after GRU (`torch.nn.GRU`, chapter 5's [`ch05_gru::Gru`]) in `f32`,
//! built like [`crate::lstm`]: one GEMM for every step's input side, one GEMM per
//! step for the hidden side, the gate math fused in one pass, the weight gradients
//! as large GEMMs after the loop.
//!
//! The GRU needs two gate buffers where the LSTM needed one, because the reset gate
//! multiplies the hidden side of the candidate,
//! `n = tanh(a_n + r ⊙ (h W_hnᵀ + b_hn))`, before it meets the input side. So
//! `gi = X W_ihᵀ + b_ih` (all steps, `[T·B, 3H]`, blocks r, z, n) and
//! `gh = h_{t-1} W_hhᵀ + b_hh` (per step, kept for all steps) stay apart. Generic
//! over the activations `A` like the LSTM, in the same three versions: [`V1`]
//! ([`Libm`]), [`V2`] ([`Fast`]) and [`V3`] (v2 split over threads).

use std::marker::PhantomData;

use ch00_foundations::notation::GRU_GATES;
use ndarray::{Array2, Array3, ArrayView2, ArrayView3, ArrayViewMut2, Axis, s};

use crate::act::{Act, Fast, Libm};
use crate::kernel::Kernel;
use crate::layer::{LayerF32, LayerF32Grads};
use crate::matmul::{Gemm, MatMul, Ndarray};
use crate::rows::{blocks, broadcast_rows, outputs, sl, sl_mut, sum_rows};
use crate::threads::Split;

mod packed;
pub use packed::Packed;

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

/// GRU weights in `f32`, PyTorch layout (blocks r, z, n).
pub type GruF32 = LayerF32<GRU_GATES>;
/// Their gradients.
pub type GruF32Grads = LayerF32Grads<GRU_GATES>;

/// What the backward pass needs.
#[derive(Debug, Clone)]
pub struct GruF32Cache {
    /// `x` as `[T·B, I]`.
    x: Array2<f32>,
    /// Activated gates `r, z, n`: `[T·B, 3H]`.
    gates: Array2<f32>,
    /// `gh = h_{t-1} W_hhᵀ + b_hh` for every step: `[T·B, 3H]` (its n block is what
    /// `r` scales).
    gh: Array2<f32>,
    /// `h_0 … h_T` as `[(T+1)·B, H]`.
    h_all: Array2<f32>,
}

// ANCHOR: row_forward
/// One row of one step. `ar, az, an`: the input side `x W_ihᵀ + b_ih` of r, z, n,
/// replaced by the activated gates; `ghr, ghz, ghn`: the hidden side
/// `h W_hhᵀ + b_hh`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn row_forward<A: Act>(
    ar: &mut [f32],
    az: &mut [f32],
    an: &mut [f32],
    ghr: &[f32],
    ghz: &[f32],
    ghn: &[f32],
    h_prev: &[f32],
    h_t: &mut [f32],
) {
    let h = h_t.len();
    let (ar, az, an) = (&mut ar[..h], &mut az[..h], &mut an[..h]);
    let (ghr, ghz, ghn, h_prev) = (&ghr[..h], &ghz[..h], &ghn[..h], &h_prev[..h]);
    for j in 0..h {
        let r = A::sigmoid(ar[j] + ghr[j]);
        let z = A::sigmoid(az[j] + ghz[j]);
        let n = A::tanh(an[j] + r * ghn[j]); // reset after W_hn
        (ar[j], az[j], an[j]) = (r, z, n);
        h_t[j] = (1.0 - z) * n + z * h_prev[j]; // h_t = (1 − z)⊙n + z⊙h_{t-1}
    }
}
// ANCHOR_END: row_forward

// ANCHOR: row_backward
/// One row of one step backward. Reads the gates `[r | z | n]`, the hidden side's n
/// block `ghn = h W_hnᵀ + b_hn`, `h_{t-1}` and `dh` (total gradient at `h_t`).
/// Writes the gradients at the input side's pre-activations (`di*`), at the hidden
/// side's (`dh*`: the same, except `n`'s is scaled by `r`), and the direct part of
/// `dh_{t-1}`, `dh⊙z`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn row_backward(
    [r, z, n]: [&[f32]; 3],
    ghn: &[f32],
    h_prev: &[f32],
    dh: &[f32],
    dir: &mut [f32],
    diz: &mut [f32],
    din: &mut [f32],
    dhr: &mut [f32],
    dhz: &mut [f32],
    dhn: &mut [f32],
    dh_prev: &mut [f32],
) {
    let h = dh.len();
    let (r, z, n) = (&r[..h], &z[..h], &n[..h]);
    let (ghn, h_prev, dh_prev) = (&ghn[..h], &h_prev[..h], &mut dh_prev[..h]);
    let (dir, diz, din) = (&mut dir[..h], &mut diz[..h], &mut din[..h]);
    let (dhr, dhz, dhn) = (&mut dhr[..h], &mut dhz[..h], &mut dhn[..h]);
    for j in 0..h {
        let (rj, zj, nj) = (r[j], z[j], n[j]);
        // h_t = n + z⊙(h_{t-1} − n)
        let dz = dh[j] * (h_prev[j] - nj) * zj * (1.0 - zj);
        let dn = dh[j] * (1.0 - zj) * (1.0 - nj * nj);
        // n_pre ∋ r⊙(W_hn h + b_hn)
        let dr = dn * ghn[j] * rj * (1.0 - rj);
        (dir[j], diz[j], din[j]) = (dr, dz, dn);
        (dhr[j], dhz[j], dhn[j]) = (dr, dz, dn * rj);
        dh_prev[j] = dh[j] * zj;
    }
}
// ANCHOR_END: row_backward

/// One step's gate math over the batch. Shapes: `gi`, `gh: [B, 3H]`, `h_prev`,
/// `h_t: [B, H]`.
#[inline(always)]
fn gates_forward<A: Act>(
    mut gi: ArrayViewMut2<f32>,
    gh: ArrayView2<f32>,
    h_prev: ArrayView2<f32>,
    mut h_t: ArrayViewMut2<f32>,
) {
    let h = h_t.ncols();
    for k in 0..h_t.nrows() {
        let [ar, az, an] = blocks::<3>(sl_mut(gi.row_mut(k)));
        let g = sl(gh.row(k));
        let (ghr, ghz, ghn) = (&g[..h], &g[h..2 * h], &g[2 * h..]);
        row_forward::<A>(
            ar,
            az,
            an,
            ghr,
            ghz,
            ghn,
            sl(h_prev.row(k)),
            sl_mut(h_t.row_mut(k)),
        );
    }
}

/// One step's gate gradients over the batch: `dgi`, `dgh: [B, 3H]`,
/// `dh_prev = dh⊙z: [B, H]`.
#[inline(always)]
fn gates_backward(
    gates: ArrayView2<f32>,
    gh: ArrayView2<f32>,
    h_prev: ArrayView2<f32>,
    dh: ArrayView2<f32>,
    mut dgi: ArrayViewMut2<f32>,
    mut dgh: ArrayViewMut2<f32>,
    mut dh_prev: ArrayViewMut2<f32>,
) {
    let h = dh.ncols();
    for k in 0..dh.nrows() {
        let [dir, diz, din] = blocks::<3>(sl_mut(dgi.row_mut(k)));
        let [dhr, dhz, dhn] = blocks::<3>(sl_mut(dgh.row_mut(k)));
        let g = sl(gates.row(k));
        row_backward(
            [&g[..h], &g[h..2 * h], &g[2 * h..]],
            &sl(gh.row(k))[2 * h..],
            sl(h_prev.row(k)),
            sl(dh.row(k)),
            dir,
            diz,
            din,
            dhr,
            dhz,
            dhn,
            sl_mut(dh_prev.row_mut(k)),
        );
    }
}

/// The fused GRU kernel with activations `A`: [`V1`] and [`V2`]. The state is
/// `h: [B, H]`.
pub struct Fused<A, M = Ndarray>(PhantomData<(A, M)>);

impl<A: Act, M: MatMul> Kernel for Fused<A, M> {
    type Params = GruF32;
    type State = Array2<f32>;
    type Grads = GruF32Grads;
    type Cache = GruF32Cache;

    // ANCHOR: forward
    /// Forward over a sequence. Shapes: `x: [T, B, I]`, `h0: [B, H]` →
    /// `(y: [T, B, H], h_n, cache)`.
    fn forward(
        p: &GruF32,
        x: ArrayView3<f32>,
        h0: &Array2<f32>,
    ) -> (Array3<f32>, Array2<f32>, GruF32Cache) {
        check_forward(p, x, h0);
        let (t_len, b, _) = x.dim();
        let h = p.hidden_size();
        // X W_ihᵀ + b_ih, all steps; becomes r, z, n
        let (x2, mut gates) = input_side::<M>(p, x);
        let mut gh = broadcast_rows(t_len * b, &p.bias_hh);
        let mut h_all = Array2::zeros(((t_len + 1) * b, h));
        h_all.slice_mut(s![0..b, ..]).assign(h0);
        for t in 0..t_len {
            let (now, next) = (t * b..(t + 1) * b, (t + 1) * b..(t + 2) * b);
            let (h_prev, mut h_t) =
                h_all.multi_slice_mut((s![now.clone(), ..], s![next, ..]));
            let mut gh_t = gh.slice_mut(s![now.clone(), ..]);
            M::mat_mul(
                1.0,
                &h_prev.view(),
                &p.weight_hh.t(),
                1.0,
                &mut gh_t.view_mut(),
            ); // += h_{t-1} W_hhᵀ
            let gi_t = gates.slice_mut(s![now, ..]);
            A::block(|| {
                gates_forward::<A>(gi_t, gh_t.view(), h_prev.view(), h_t.view_mut())
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
    // ANCHOR_END: forward

    // ANCHOR: backward
    /// Backward over the cached sequence. Shapes: `dy: [T, B, H]`, `dh_n: [B, H]` →
    /// `(grads, dx: [T, B, I], dh0)`.
    fn backward(
        p: &GruF32,
        cache: &GruF32Cache,
        dy: ArrayView3<f32>,
        dh_n: &Array2<f32>,
    ) -> (GruF32Grads, Array3<f32>, Array2<f32>) {
        check_backward(cache, dy, dh_n);
        let (t_len, b, h) = dy.dim();
        // at X W_ihᵀ + b_ih, every step
        let mut dgi = Array2::zeros((t_len * b, 3 * h));
        // at h W_hhᵀ + b_hh, every step
        let mut dgh = Array2::zeros((t_len * b, 3 * h));
        let mut dh = dh_n.clone();
        let mut dh_prev = Array2::zeros((b, h));
        for t in (0..t_len).rev() {
            let now = t * b..(t + 1) * b;
            dh += &dy.index_axis(Axis(0), t);
            let dgi_t = dgi.slice_mut(s![now.clone(), ..]);
            let mut dgh_t = dgh.slice_mut(s![now.clone(), ..]);
            A::block(|| {
                gates_backward(
                    cache.gates.slice(s![now.clone(), ..]),
                    cache.gh.slice(s![now.clone(), ..]),
                    cache.h_all.slice(s![now, ..]),
                    dh.view(),
                    dgi_t,
                    dgh_t.view_mut(),
                    dh_prev.view_mut(),
                )
            });
            M::mat_mul(
                1.0,
                &dgh_t.view(),
                &p.weight_hh.view(),
                1.0,
                &mut dh_prev.view_mut(),
            ); // += dgh_t · W_hh
            std::mem::swap(&mut dh, &mut dh_prev);
        }
        let (grads, dx) = weight_grads::<M>(p, cache, &dgi, &dgh);
        (grads, dx, dh)
    }
    // ANCHOR_END: backward
}

/// The shapes `forward` needs, checked with messages that name them.
fn check_forward(p: &GruF32, x: ArrayView3<f32>, h0: &Array2<f32>) {
    let (_, b, i) = x.dim();
    assert_eq!(
        i,
        p.weight_ih.ncols(),
        "x is [T, B, I] but weight_ih expects I = {}",
        p.weight_ih.ncols()
    );
    assert_eq!(h0.dim(), (b, p.hidden_size()), "h0 must be [B, H]");
}

/// The shapes `backward` needs.
fn check_backward(cache: &GruF32Cache, dy: ArrayView3<f32>, dh_n: &Array2<f32>) {
    let (t_len, b, h) = dy.dim();
    assert_eq!(
        cache.gates.nrows(),
        t_len * b,
        "dy must be [T, B, H] as in the forward pass"
    );
    assert_eq!(dh_n.dim(), (b, h), "dh_n must be [B, H]");
}

/// `x` as `[T·B, I]` and the input side of every step, `X W_ihᵀ + b_ih`, in one
/// GEMM.
fn input_side<M: MatMul>(
    p: &GruF32,
    x: ArrayView3<f32>,
) -> (Array2<f32>, Array2<f32>) {
    let (t_len, b, i) = x.dim();
    let x2 = x.to_shape((t_len * b, i)).expect("[T·B, I]").into_owned();
    let mut gates = broadcast_rows(t_len * b, &p.bias_ih);
    M::mat_mul(
        1.0,
        &x2.view(),
        &p.weight_ih.t(),
        1.0,
        &mut gates.view_mut(),
    );
    (x2, gates)
}

/// The weight gradients for all steps at once, and `dx`, from every step's gradients
/// at the input side (`dgi`) and at the hidden side (`dgh`), both `[T·B, 3H]`.
fn weight_grads<M: MatMul>(
    p: &GruF32,
    cache: &GruF32Cache,
    dgi: &Array2<f32>,
    dgh: &Array2<f32>,
) -> (GruF32Grads, Array3<f32>) {
    let (rows, h) = (dgi.nrows(), p.hidden_size());
    let (i, b) = (cache.x.ncols(), cache.h_all.nrows() - rows);
    let h_prev = cache.h_all.slice(s![..rows, ..]);
    let mut dweight_ih = Array2::zeros((3 * h, i));
    M::mat_mul(
        1.0,
        &dgi.t(),
        &cache.x.view(),
        0.0,
        &mut dweight_ih.view_mut(),
    ); // dGIᵀ · X
    let mut dweight_hh = Array2::zeros((3 * h, h));
    M::mat_mul(
        1.0,
        &dgh.t(),
        &h_prev.view(),
        0.0,
        &mut dweight_hh.view_mut(),
    ); // dGHᵀ · H_prev
    let mut dx = Array2::zeros((rows, i));
    M::mat_mul(
        1.0,
        &dgi.view(),
        &p.weight_ih.view(),
        0.0,
        &mut dx.view_mut(),
    ); // dGI · W_ih
    let dx = dx
        .into_shape_with_order((rows / b, b, i))
        .expect("[T, B, I]");
    let grads = GruF32Grads {
        dweight_ih,
        dweight_hh,
        dbias_ih: sum_rows(dgi),
        dbias_hh: sum_rows(dgh),
    };
    (grads, dx)
}
