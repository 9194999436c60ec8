//! v4's machinery: the SIMD paths, chosen at run time, the one register-blocked
//! micro-kernel each path implements, and the packing of `weight_hh` that the
//! micro-kernel reads.
//!
//! A *path* is a vector width and the instructions that go with it: AVX-512 (16
//! `f32` per register, 32 registers), AVX2 + FMA (8 per register, 16 registers), and
//! portable code that any CPU runs (plain loops, vectorized by the compiler as far
//! as the baseline target allows). [`Path::detect`] picks the best one this CPU has;
//! the kernels are generic over a [`Simd`] type, so every path is compiled into the
//! binary and the tests run each one the CPU supports.
//!
//! The micro-kernel computes a *tile* of a matrix product: `m ≤ MR` rows by `NV`
//! vectors of columns, `acc[r][j] += Σ_k a[r][k] · b[k][j]`, with every one of the
//! `m·NV` accumulators in a register for the whole `k` loop. Per step of `k` it
//! loads `NV` vectors of `b`, broadcasts `m` numbers of `a`, and issues `m·NV` fused
//! multiply-adds: with `MR = 6, NV = 4` on AVX-512, 24 FMAs for 4 loads and 6
//! broadcasts, enough to keep both FMA pipes busy.

use ndarray::ArrayView2;

/// The largest tile any path uses, in `f32`: `MR · NV · lanes` ≤ 8 · 4 · 16.
pub const MAX_TILE: usize = 512;

/// A SIMD path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Path {
    /// AVX-512F: 16 lanes, 32 vector registers.
    Avx512,
    /// AVX2 with FMA: 8 lanes, 16 vector registers.
    Avx2,
    /// Plain Rust, any CPU.
    Portable,
}

impl Path {
    /// Every path, best first.
    pub const ALL: [Path; 3] = [Path::Avx512, Path::Avx2, Path::Portable];

    /// Whether this CPU can run the path.
    pub fn is_supported(self) -> bool {
        match self {
            #[cfg(target_arch = "x86_64")]
            Path::Avx512 => std::is_x86_feature_detected!("avx512f"),
            #[cfg(target_arch = "x86_64")]
            Path::Avx2 => crate::act::avx2_fma(),
            #[cfg(not(target_arch = "x86_64"))]
            Path::Avx512 | Path::Avx2 => false,
            Path::Portable => true,
        }
    }

    /// The best path this CPU supports (the standard library caches the CPU check).
    pub fn detect() -> Path {
        Path::supported()[0]
    }

    /// The paths this CPU supports, best first (always ends with
    /// [`Path::Portable`]).
    pub fn supported() -> Vec<Path> {
        Path::ALL.into_iter().filter(|p| p.is_supported()).collect()
    }

    /// `avx512`, `avx2` or `portable`.
    pub fn name(self) -> &'static str {
        match self {
            Path::Avx512 => "avx512",
            Path::Avx2 => "avx2",
            Path::Portable => "portable",
        }
    }
}

// ANCHOR: simd
/// One SIMD path: its width, its tile height, its micro-kernel, and a way to run
/// code compiled for its instructions.
pub trait Simd: Send + Sync + 'static {
    /// The path.
    const PATH: Path;
    /// `f32` per vector register.
    const LANES: usize;

    /// Rows per tile when a row holds `nv` vectors of accumulators (registers
    /// permitting).
    fn mr(nv: usize) -> usize;

    /// The micro-kernel: `acc[r·NR + j] += Σ_{q<k} a[r·lda + q] · b[q·NR + j]` for
    /// `r < m`, `j < NR = NV·LANES`. `b` is a packed panel (`k` rows of `NR`,
    /// contiguous).
    ///
    /// # Panics
    /// If `m` is 0 or above `mr(NV)`, or a slice is too short for the sizes given.
    fn tile<const NV: usize>(
        m: usize,
        k: usize,
        a: &[f32],
        lda: usize,
        b: &[f32],
        acc: &mut [f32],
    );

    /// Runs `f` inside a function compiled for the path's instructions, so that
    /// `f`'s inlined element-wise loops use them too.
    fn run<R>(f: impl FnOnce() -> R) -> R;
}
// ANCHOR_END: simd

/// Cuts `b` batch rows into the fewest tiles of at most `mr` rows, as even as
/// possible, as `(first row, rows)`: 32 rows at `mr = 6` are 5, 5, 6, 5, 5, 6, not
/// five 6s and a 2 (a tile of 2 rows runs at half the speed of one of 5: it loads as
/// much of `b` for fewer FMAs).
pub fn row_tiles(b: usize, mr: usize) -> impl Iterator<Item = (usize, usize)> {
    let n = b.div_ceil(mr.max(1));
    (0..n).map(move |k| (k * b / n, (k + 1) * b / n - k * b / n))
}

/// The checks every path's `tile` makes before it reads through raw pointers.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn check_tile(
    m: usize,
    mr: usize,
    k: usize,
    a: &[f32],
    lda: usize,
    b: &[f32],
    acc: &[f32],
    nr: usize,
) {
    assert!((1..=mr).contains(&m), "tile of {m} rows, at most {mr}");
    assert!(
        k == 0 || (a.len() >= (m - 1) * lda + k && lda >= k),
        "a too short"
    );
    assert!(b.len() >= k * nr, "b too short");
    assert!(acc.len() >= m * nr, "acc too short");
}

// ANCHOR: portable
/// The portable path: the micro-kernel as plain loops (the reference the others must
/// match).
pub struct Portable;

impl Simd for Portable {
    const PATH: Path = Path::Portable;
    const LANES: usize = 8;

    fn mr(_nv: usize) -> usize {
        4
    }

    fn tile<const NV: usize>(
        m: usize,
        k: usize,
        a: &[f32],
        lda: usize,
        b: &[f32],
        acc: &mut [f32],
    ) {
        let nr = NV * Self::LANES;
        check_tile(m, Self::mr(NV), k, a, lda, b, acc, nr);
        for r in 0..m {
            let c = &mut acc[r * nr..(r + 1) * nr];
            for q in 0..k {
                let (x, bq) = (a[r * lda + q], &b[q * nr..(q + 1) * nr]);
                for (c, &w) in c.iter_mut().zip(bq) {
                    *c += x * w;
                }
            }
        }
    }

    fn run<R>(f: impl FnOnce() -> R) -> R {
        f()
    }
}
// ANCHOR_END: portable

/// Calls `$kernel::<MR, NV>` for the `MR` equal to `$m` (1 to 8), so that every tile
/// height, the last partial one included, gets its own fully unrolled code.
#[cfg(target_arch = "x86_64")]
macro_rules! by_rows {
    ($m:expr, $nv:ident, $kernel:ident($($arg:expr),*)) => {
        match $m {
            1 => $kernel::<1, $nv>($($arg),*),
            2 => $kernel::<2, $nv>($($arg),*),
            3 => $kernel::<3, $nv>($($arg),*),
            4 => $kernel::<4, $nv>($($arg),*),
            5 => $kernel::<5, $nv>($($arg),*),
            6 => $kernel::<6, $nv>($($arg),*),
            7 => $kernel::<7, $nv>($($arg),*),
            8 => $kernel::<8, $nv>($($arg),*),
            _ => unreachable!("checked by check_tile"),
        }
    };
}

/// The AVX-512 path.
pub struct Avx512;

/// The AVX2 + FMA path.
pub struct Avx2;

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    // ANCHOR: avx512_tile
    /// `MR × NV` accumulators of 16 lanes stay in registers for the whole `k` loop;
    /// each step of `k` loads `NV` vectors of the packed panel and broadcasts one
    /// number of each row of `a`.
    ///
    /// # Safety
    /// The CPU has AVX-512F; `a`, `b`, `acc` hold what [`super::check_tile`] checks.
    #[target_feature(enable = "avx512f")]
    #[allow(clippy::needless_range_loop)]
    pub unsafe fn tile_avx512<const MR: usize, const NV: usize>(
        k: usize,
        a: *const f32,
        lda: usize,
        b: *const f32,
        acc: *mut f32,
    ) {
        const L: usize = 16;
        // SAFETY (all pointer reads and writes): within the lengths the caller
        // checked.
        unsafe {
            let mut c = [[_mm512_setzero_ps(); NV]; MR];
            for r in 0..MR {
                for v in 0..NV {
                    c[r][v] = _mm512_loadu_ps(acc.add((r * NV + v) * L));
                }
            }
            for q in 0..k {
                let bq = b.add(q * NV * L);
                let mut w = [_mm512_setzero_ps(); NV];
                for v in 0..NV {
                    w[v] = _mm512_loadu_ps(bq.add(v * L));
                }
                for r in 0..MR {
                    let x = _mm512_set1_ps(*a.add(r * lda + q));
                    for v in 0..NV {
                        c[r][v] = _mm512_fmadd_ps(x, w[v], c[r][v]);
                    }
                }
            }
            for r in 0..MR {
                for v in 0..NV {
                    _mm512_storeu_ps(acc.add((r * NV + v) * L), c[r][v]);
                }
            }
        }
    }
    // ANCHOR_END: avx512_tile

    /// The same micro-kernel with 8 lanes (AVX2 registers, FMA instructions).
    ///
    /// # Safety
    /// The CPU has AVX2 and FMA; `a`, `b`, `acc` hold what [`super::check_tile`]
    /// checks.
    #[target_feature(enable = "avx2,fma")]
    #[allow(clippy::needless_range_loop)]
    pub unsafe fn tile_avx2<const MR: usize, const NV: usize>(
        k: usize,
        a: *const f32,
        lda: usize,
        b: *const f32,
        acc: *mut f32,
    ) {
        const L: usize = 8;
        // SAFETY (all pointer reads and writes): within the lengths the caller
        // checked.
        unsafe {
            let mut c = [[_mm256_setzero_ps(); NV]; MR];
            for r in 0..MR {
                for v in 0..NV {
                    c[r][v] = _mm256_loadu_ps(acc.add((r * NV + v) * L));
                }
            }
            for q in 0..k {
                let bq = b.add(q * NV * L);
                let mut w = [_mm256_setzero_ps(); NV];
                for v in 0..NV {
                    w[v] = _mm256_loadu_ps(bq.add(v * L));
                }
                for r in 0..MR {
                    let x = _mm256_set1_ps(*a.add(r * lda + q));
                    for v in 0..NV {
                        c[r][v] = _mm256_fmadd_ps(x, w[v], c[r][v]);
                    }
                }
            }
            for r in 0..MR {
                for v in 0..NV {
                    _mm256_storeu_ps(acc.add((r * NV + v) * L), c[r][v]);
                }
            }
        }
    }

    /// Runs `f` compiled for AVX-512F (and AVX2 + FMA, which every AVX-512 CPU has).
    ///
    /// # Safety
    /// The CPU has those features.
    #[target_feature(enable = "avx512f,avx2,fma")]
    pub unsafe fn with_avx512<R>(f: impl FnOnce() -> R) -> R {
        f()
    }

    /// Runs `f` compiled for AVX2 + FMA.
    ///
    /// # Safety
    /// The CPU has those features.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn with_avx2<R>(f: impl FnOnce() -> R) -> R {
        f()
    }
}

impl Simd for Avx512 {
    const PATH: Path = Path::Avx512;
    const LANES: usize = 16;

    /// 24 accumulators (of 32 registers) at 3 or 4 vectors per row, the rest for `b`
    /// and `a`.
    fn mr(nv: usize) -> usize {
        (24 / nv).clamp(1, 8)
    }

    #[cfg(target_arch = "x86_64")]
    fn tile<const NV: usize>(
        m: usize,
        k: usize,
        a: &[f32],
        lda: usize,
        b: &[f32],
        acc: &mut [f32],
    ) {
        assert!(Path::Avx512.is_supported(), "this CPU has no AVX-512F");
        check_tile(m, Self::mr(NV), k, a, lda, b, acc, NV * Self::LANES);
        let (a, b, acc) = (a.as_ptr(), b.as_ptr(), acc.as_mut_ptr());
        use x86::tile_avx512;
        // SAFETY: the CPU has AVX-512F and the lengths were checked just above.
        unsafe { by_rows!(m, NV, tile_avx512(k, a, lda, b, acc)) }
    }

    #[cfg(not(target_arch = "x86_64"))]
    fn tile<const NV: usize>(
        _: usize,
        _: usize,
        _: &[f32],
        _: usize,
        _: &[f32],
        _: &mut [f32],
    ) {
        panic!("AVX-512 exists on x86-64 only")
    }

    fn run<R>(f: impl FnOnce() -> R) -> R {
        #[cfg(target_arch = "x86_64")]
        if Path::Avx512.is_supported() {
            // SAFETY: the CPU was just checked to have AVX-512F (and so AVX2 and
            // FMA).
            return unsafe { x86::with_avx512(f) };
        }
        f()
    }
}

impl Simd for Avx2 {
    const PATH: Path = Path::Avx2;
    const LANES: usize = 8;

    /// 12 accumulators (of 16 registers) at 3 or 4 vectors per row.
    fn mr(nv: usize) -> usize {
        (12 / nv).clamp(1, 8)
    }

    #[cfg(target_arch = "x86_64")]
    fn tile<const NV: usize>(
        m: usize,
        k: usize,
        a: &[f32],
        lda: usize,
        b: &[f32],
        acc: &mut [f32],
    ) {
        assert!(Path::Avx2.is_supported(), "this CPU has no AVX2 + FMA");
        check_tile(m, Self::mr(NV), k, a, lda, b, acc, NV * Self::LANES);
        let (a, b, acc) = (a.as_ptr(), b.as_ptr(), acc.as_mut_ptr());
        use x86::tile_avx2;
        // SAFETY: the CPU has AVX2 and FMA and the lengths were checked just above.
        unsafe { by_rows!(m, NV, tile_avx2(k, a, lda, b, acc)) }
    }

    #[cfg(not(target_arch = "x86_64"))]
    fn tile<const NV: usize>(
        _: usize,
        _: usize,
        _: &[f32],
        _: usize,
        _: &[f32],
        _: &mut [f32],
    ) {
        panic!("AVX2 exists on x86-64 only")
    }

    fn run<R>(f: impl FnOnce() -> R) -> R {
        #[cfg(target_arch = "x86_64")]
        if Path::Avx2.is_supported() {
            // SAFETY: the CPU was just checked to have AVX2 and FMA.
            return unsafe { x86::with_avx2(f) };
        }
        f()
    }
}

// ANCHOR: best
/// `$v`: a [`Kernel`](crate::kernel::Kernel) that runs `$packed::<S>` for the best
/// path `S` this CPU has ([`Path::detect`]), so that one binary is fast on every
/// machine.
macro_rules! on_best_path {
    ($(#[$doc:meta])* $v:ident = $packed:ident) => {
        $(#[$doc])*
        pub struct $v;

        impl $crate::kernel::Kernel for $v {
            type Params =
                <$packed<$crate::simd::Portable> as $crate::kernel::Kernel>::Params;
            type State =
                <$packed<$crate::simd::Portable> as $crate::kernel::Kernel>::State;
            type Grads =
                <$packed<$crate::simd::Portable> as $crate::kernel::Kernel>::Grads;
            type Cache =
                <$packed<$crate::simd::Portable> as $crate::kernel::Kernel>::Cache;
            const PARALLEL: bool = <$packed<$crate::simd::Portable>
                as $crate::kernel::Kernel>::PARALLEL;

            fn forward(
                p: &Self::Params,
                x: ndarray::ArrayView3<f32>,
                s0: &Self::State,
            ) -> (ndarray::Array3<f32>, Self::State, Self::Cache) {
                use $crate::simd::{Avx2, Avx512, Path, Portable};
                match Path::detect() {
                    Path::Avx512 => $packed::<Avx512>::forward(p, x, s0),
                    Path::Avx2 => $packed::<Avx2>::forward(p, x, s0),
                    Path::Portable => $packed::<Portable>::forward(p, x, s0),
                }
            }

            fn backward(
                p: &Self::Params,
                cache: &Self::Cache,
                dy: ndarray::ArrayView3<f32>,
                ds_n: &Self::State,
            ) -> (Self::Grads, ndarray::Array3<f32>, Self::State) {
                use $crate::simd::{Avx2, Avx512, Path, Portable};
                match Path::detect() {
                    Path::Avx512 => $packed::<Avx512>::backward(p, cache, dy, ds_n),
                    Path::Avx2 => $packed::<Avx2>::backward(p, cache, dy, ds_n),
                    Path::Portable => {
                        $packed::<Portable>::backward(p, cache, dy, ds_n)
                    }
                }
            }
        }
    };
}
pub(crate) use on_best_path;
// ANCHOR_END: best

// ANCHOR: pack
/// Packs `w: [G·H, K]` (PyTorch's layout: `G` gate blocks of `H` rows) for the
/// forward micro-kernel: unit block `u` holds units `u·L … u·L+L−1` of every gate,
/// as `K` rows of `G·L` (`[gate 0's L units | gate 1's | …]`), blocks one after the
/// other, the last one padded with zeros. A tile over unit block `u` then produces
/// all `G` gates of the same `L` units, which is what the gate math of those units
/// needs.
pub fn pack_gates(w: ArrayView2<f32>, gates: usize, lanes: usize) -> Vec<f32> {
    let (gh, k) = w.dim();
    let h = gh / gates;
    let nr = gates * lanes;
    let blocks = h.div_ceil(lanes);
    let mut out = vec![0.0; blocks * k * nr];
    for u in 0..blocks {
        for q in 0..k {
            let row = &mut out[(u * k + q) * nr..][..nr];
            for g in 0..gates {
                for l in 0..lanes.min(h - u * lanes) {
                    row[g * lanes + l] = w[[g * h + u * lanes + l, q]];
                }
            }
        }
    }
    out
}

/// Packs `w: [K, N]` into column panels of `nr`: panel `p` holds columns
/// `p·nr … p·nr+nr−1` as `K` rows of `nr`, the last panel padded with zeros. For the
/// backward product `dgates · W_hh`.
pub fn pack_cols(w: ArrayView2<f32>, nr: usize) -> Vec<f32> {
    let (k, n) = w.dim();
    let panels = n.div_ceil(nr);
    let mut out = vec![0.0; panels * k * nr];
    for p in 0..panels {
        for q in 0..k {
            let row = &mut out[(p * k + q) * nr..][..nr];
            for j in 0..nr.min(n - p * nr) {
                row[j] = w[[q, p * nr + j]];
            }
        }
    }
    out
}
// ANCHOR_END: pack

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    /// A path's tile against a plain `f64` product, for every tile height, at `NV`
    /// vectors a row.
    fn check_path<S: Simd, const NV: usize>() {
        let nr = NV * S::LANES;
        let (k, lda) = (37, 41);
        let a: Vec<f32> = (0..8 * lda)
            .map(|v| ((v * 7 % 13) as f32 - 6.0) / 8.0)
            .collect();
        let b: Vec<f32> = (0..k * nr)
            .map(|v| ((v * 5 % 11) as f32 - 5.0) / 4.0)
            .collect();
        for m in 1..=S::mr(NV) {
            let mut acc: Vec<f32> = (0..m * nr).map(|v| v as f32).collect();
            S::tile::<NV>(m, k, &a, lda, &b, &mut acc);
            for r in 0..m {
                for j in 0..nr {
                    let want = (r * nr + j) as f64
                        + (0..k)
                            .map(|q| {
                                f64::from(a[r * lda + q]) * f64::from(b[q * nr + j])
                            })
                            .sum::<f64>();
                    let got = f64::from(acc[r * nr + j]);
                    assert!(
                        (got - want).abs() <= 1e-4 * want.abs().max(1.0),
                        "{:?} m={m} r={r} j={j}: {got} vs {want}",
                        S::PATH
                    );
                }
            }
        }
    }

    #[test]
    fn every_supported_path_computes_the_tile_product() {
        // Three vectors per row (the GRU's forward), four (the LSTM's, and every
        // backward).
        check_path::<Portable, 3>();
        check_path::<Portable, 4>();
        if Path::Avx2.is_supported() {
            check_path::<Avx2, 3>();
            check_path::<Avx2, 4>();
        }
        if Path::Avx512.is_supported() {
            check_path::<Avx512, 3>();
            check_path::<Avx512, 4>();
        }
        assert_eq!(*Path::supported().last().unwrap(), Path::Portable);
        eprintln!("paths on this CPU: {:?}", Path::supported());
    }

    #[test]
    fn row_tiles_cover_the_batch_evenly_within_the_tile_height() {
        for b in 0..40 {
            for mr in 1..9 {
                let t: Vec<_> = row_tiles(b, mr).collect();
                assert_eq!(t.len(), b.div_ceil(mr));
                assert_eq!(t.iter().map(|&(_, m)| m).sum::<usize>(), b);
                assert!(t.windows(2).all(|w| w[0].0 + w[0].1 == w[1].0));
                assert!(t.iter().all(|&(_, m)| (1..=mr).contains(&m)));
                let (lo, hi) =
                    (t.iter().map(|x| x.1).min(), t.iter().map(|x| x.1).max());
                assert!(hi.unwrap_or(0) - lo.unwrap_or(0) <= 1);
            }
        }
        assert_eq!(
            row_tiles(32, 6).map(|t| t.1).collect::<Vec<_>>(),
            [5, 5, 6, 5, 5, 6]
        );
    }

    #[test]
    #[should_panic(expected = "tile of 5 rows, at most 4")]
    fn a_tile_taller_than_the_path_allows_is_refused() {
        let mut acc = vec![0.0; 5 * 8];
        Portable::tile::<1>(5, 1, &[0.0; 5], 1, &[0.0; 8], &mut acc);
    }

    #[test]
    fn packing_puts_every_weight_where_the_tile_reads_it() {
        let (g, h, k, lanes) = (3, 5, 4, 4);
        let w =
            Array2::from_shape_fn((g * h, k), |(r, c)| (r * 10 + c) as f32 + 1.0);
        let p = pack_gates(w.view(), g, lanes);
        assert_eq!(p.len(), 2 * k * g * lanes); // 5 units → 2 blocks of 4
        for u in 0..2 {
            for q in 0..k {
                for gate in 0..g {
                    for l in 0..lanes {
                        let unit = u * lanes + l;
                        let want = if unit < h {
                            w[[gate * h + unit, q]]
                        } else {
                            0.0
                        };
                        assert_eq!(
                            p[(u * k + q) * g * lanes + gate * lanes + l],
                            want
                        );
                    }
                }
            }
        }
        // [K = 4, N = 15], in panels of 6: 3 panels, the last with 3 columns
        let wt = w.t();
        let c = pack_cols(wt, 6);
        assert_eq!(c.len(), 3 * k * 6);
        for pnl in 0..3 {
            for q in 0..k {
                for j in 0..6 {
                    let col = pnl * 6 + j;
                    let want = if col < g * h { wt[[q, col]] } else { 0.0 };
                    assert_eq!(c[(pnl * k + q) * 6 + j], want);
                }
            }
        }
    }
}
