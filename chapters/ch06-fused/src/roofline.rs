//! The machine's two ceilings, measured: how many `f32` fused multiply-adds one core
//! can issue per second on each SIMD path (the compute roof), and how fast one core
//! can read memory that sits in its L2 cache and memory that does not (the bandwidth
//! roofs).
//!
//! A kernel that does `F` flops while moving `Q` bytes has arithmetic intensity
//! `F / Q`; it cannot run faster than `min(peak, intensity × bandwidth)`.
//! `rnnbook bench` prints both ceilings and each implementation as a fraction of the
//! compute roof; chapter 6's roofline figure draws them.

use std::hint::black_box;
use std::time::Instant;

use crate::runners::{CellKind, Shape};
use crate::simd::Path;

// ANCHOR: peak
/// One core's `f32` FMA throughput on `path`, in GFLOP/s (an FMA is two flops):
/// `CHAINS` independent accumulators (enough to hide the FMA latency on either
/// pipe), each updated `reps` times, registers only: no load or store inside the
/// loop.
pub fn fma_peak_gflops(path: Path, reps: usize) -> f64 {
    let start = Instant::now();
    let lanes_flops = match path {
        #[cfg(target_arch = "x86_64")]
        Path::Avx512 if path.is_supported() => {
            // SAFETY: the CPU has AVX-512F.
            black_box(unsafe { x86::fma_loop_avx512(reps) });
            16
        }
        #[cfg(target_arch = "x86_64")]
        Path::Avx2 if path.is_supported() => {
            // SAFETY: the CPU has AVX2 and FMA.
            black_box(unsafe { x86::fma_loop_avx2(reps) });
            8
        }
        _ => {
            black_box(portable_fma_loop(reps));
            8
        }
    };
    let secs = start.elapsed().as_secs_f64();
    (2 * CHAINS * lanes_flops * reps) as f64 / secs / 1e9
}
// ANCHOR_END: peak

/// Independent FMA chains per loop iteration.
const CHAINS: usize = 12;

/// The portable loop: 12 chains of 8 lanes in plain arrays (`mul_add`, which is a
/// real FMA only when the compiler may use one; without it this measures what
/// portable code gets).
fn portable_fma_loop(reps: usize) -> f32 {
    let (a, b) = (black_box(0.999_f32), black_box(1e-4_f32));
    let mut acc = [[1.0f32; 8]; CHAINS];
    for _ in 0..reps {
        for chain in &mut acc {
            for v in chain.iter_mut() {
                *v = *v * a + b;
            }
        }
    }
    acc.iter().flatten().sum()
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::CHAINS;
    use std::arch::x86_64::*;

    /// # Safety
    /// The CPU has AVX-512F.
    #[target_feature(enable = "avx512f")]
    #[allow(clippy::needless_range_loop)]
    pub unsafe fn fma_loop_avx512(reps: usize) -> f32 {
        let (a, b) = (_mm512_set1_ps(0.999), _mm512_set1_ps(1e-4));
        let mut acc = [_mm512_set1_ps(1.0); CHAINS];
        for _ in 0..reps {
            for j in 0..CHAINS {
                acc[j] = _mm512_fmadd_ps(acc[j], a, b);
            }
        }
        let mut s = _mm512_setzero_ps();
        for v in acc {
            s = _mm512_add_ps(s, v);
        }
        _mm512_reduce_add_ps(s)
    }

    /// # Safety
    /// The CPU has AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    #[allow(clippy::needless_range_loop)]
    pub unsafe fn fma_loop_avx2(reps: usize) -> f32 {
        let (a, b) = (_mm256_set1_ps(0.999), _mm256_set1_ps(1e-4));
        let mut acc = [_mm256_set1_ps(1.0); CHAINS];
        for _ in 0..reps {
            for j in 0..CHAINS {
                acc[j] = _mm256_fmadd_ps(acc[j], a, b);
            }
        }
        let mut s = _mm256_setzero_ps();
        for v in acc {
            s = _mm256_add_ps(s, v);
        }
        let mut out = [0.0f32; 8];
        // SAFETY: `out` holds 8 floats.
        unsafe { _mm256_storeu_ps(out.as_mut_ptr(), s) };
        out.iter().sum()
    }
}

// ANCHOR: bandwidth
/// One core's read bandwidth in GB/s over a buffer of `bytes` (rounded down to whole
/// 64-byte lines), read `passes` times: a sum with 16 independent accumulators,
/// compiled for the best path, so that the loop is bound by the loads and not by the
/// adds. A buffer of 512 KiB stays in an L2 cache of 1 MiB or more (Zen 4 and 5,
/// recent Xeons); one of 256 MiB comes from memory.
pub fn read_bandwidth_gbs(bytes: usize, passes: usize) -> f64 {
    let n = (bytes / 64).max(1) * 16;
    let data: Vec<f32> = (0..n).map(|i| (i % 7) as f32).collect();
    black_box(sum16(&data)); // touch every page once before timing
    let start = Instant::now();
    for _ in 0..passes {
        black_box(sum16(black_box(&data)));
    }
    let secs = start.elapsed().as_secs_f64();
    (n * 4 * passes) as f64 / secs / 1e9
}
// ANCHOR_END: bandwidth

/// Sum of 16-float lines into 16 lanes, compiled for AVX-512 where the CPU has it.
fn sum16(data: &[f32]) -> f32 {
    let body = || {
        let mut acc = [[0.0f32; 16]; 4];
        for quad in data.chunks_exact(64) {
            for (k, line) in quad.chunks_exact(16).enumerate() {
                for (a, &v) in acc[k].iter_mut().zip(line) {
                    *a += v;
                }
            }
        }
        acc.iter().flatten().sum::<f32>()
    };
    use crate::simd::{Avx512, Simd};
    Avx512::run(body)
}

// ANCHOR: intensity
/// The arithmetic intensity of one forward + backward pass over a sequence, in flop
/// per byte, by a simple model of the bytes that must move: `weight_hh` is read at
/// every step, forward and backward (`2·T·G·H²` numbers: between steps nothing else
/// can be done with it), and the sequence's activations once each way (`x`, `y`,
/// their gradients, and the gate buffer written forward and read backward:
/// `2·T·B·(I + H + G·H)`); every number is 4 bytes. The flops are the GEMM flops of
/// [`crate::runners::Shape::forward_flops`], three times. With the batch `B` the
/// flops grow and the weights' bytes do not: at `B = 1` (about 1.5 flop per byte for
/// `T = 100`, `I = H = 256`) bandwidth is the ceiling, and the time loop alone, a
/// matrix-vector product, does 0.5 flop per byte; from a few tens of rows up, the
/// FMA units are.
pub fn sequence_intensity(cell: CellKind, shape: Shape) -> f64 {
    let Shape {
        seq_len: t,
        batch: b,
        input_size: i,
        hidden_size: h,
    } = shape;
    let g = cell.gates();
    let numbers = 2 * t * g * h * h + 2 * t * b * (i + h + g * h);
    3.0 * shape.forward_flops(cell) / (4 * numbers) as f64
}
// ANCHOR_END: intensity

/// The machine's ceilings as `rnnbook bench` measures and reports them.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Ceilings {
    /// The SIMD paths the kernels can take here, best first.
    pub paths: Vec<String>,
    /// One core's measured FMA peak on each of `paths`, GFLOP/s.
    pub fma_peak_gflops: Vec<f64>,
    /// One core's read bandwidth from a 512 KiB buffer (in L2 on most CPUs since
    /// 2020), GB/s.
    pub l2_read_gbs: f64,
    /// One core's read bandwidth from a 256 MiB buffer (from memory), GB/s.
    pub memory_read_gbs: f64,
}

impl Ceilings {
    /// Measures them (well under a second of work, plus a warm-up per path).
    pub fn measure() -> Ceilings {
        let paths = Path::supported();
        let fma_peak_gflops = paths
            .iter()
            .map(|&p| {
                fma_peak_gflops(p, 2_000_000); // warm-up: the clock rises under load
                (0..3)
                    .map(|_| fma_peak_gflops(p, 20_000_000))
                    .fold(0.0, f64::max)
            })
            .collect();
        Ceilings {
            paths: paths.iter().map(|p| p.name().to_string()).collect(),
            fma_peak_gflops,
            l2_read_gbs: read_bandwidth_gbs(512 << 10, 4000),
            memory_read_gbs: read_bandwidth_gbs(256 << 20, 8),
        }
    }

    /// The one-core FMA peak of the best path (the one v5 and v6 take).
    pub fn peak(&self) -> f64 {
        self.fma_peak_gflops[0]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ceilings_are_finite_and_positive() {
        // Not a timing assertion (machines are noisy): only that every loop runs and
        // counts.
        let peaks: Vec<f64> = Path::supported()
            .iter()
            .map(|&p| fma_peak_gflops(p, 200_000))
            .collect();
        assert!(peaks.iter().all(|&g| g.is_finite() && g > 0.0), "{peaks:?}");
        assert!(read_bandwidth_gbs(1 << 16, 10) > 0.0);
    }

    #[test]
    fn intensity_follows_its_model() {
        let s = |b| Shape {
            seq_len: 100,
            batch: b,
            input_size: 256,
            hidden_size: 256,
        };
        // B = 1: 3·2·100·1·512·1024 flops over 4·(2·100·4·256² + 2·100·1·(256 + 256
        // + 1024)) bytes.
        let want =
            3.0 * 2.0 * 100.0 * 512.0 * 1024.0 / (4.0 * (52_428_800.0 + 307_200.0));
        assert!((sequence_intensity(CellKind::Lstm, s(1)) - want).abs() < 1e-9);
        // More rows, more flops per byte; the GRU has fewer gates but the same ratio
        // at B = 1.
        assert!(
            sequence_intensity(CellKind::Lstm, s(32))
                > 20.0 * sequence_intensity(CellKind::Lstm, s(1))
        );
        assert!(sequence_intensity(CellKind::Gru, s(32)) > 0.0);
    }
}
