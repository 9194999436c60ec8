//! Chapter 6: fast `f32` LSTM and GRU kernels, each version checked against the
//! `f64` chapters before it is timed.
//!
//! - [`kernel`]: the one interface of every version, [`kernel::Kernel`]: a whole
//!   sequence forward and back, like chapter 2's loop, with a state struct per cell.
//! - [`lstm`]: chapter 4's LSTM regrouped: one GEMM for every step's input
//!   projection, one GEMM per step for the recurrent part into a preallocated
//!   buffer, the gate math fused into one pass over contiguous rows, the weight
//!   gradients as three large GEMMs after the loop. `lstm::V1` uses the standard
//!   library's activations; `lstm::V2` the same code with branchless activations
//!   ([`act::Fast`]) in loops compiled for AVX2 + FMA; `lstm::V3` is v2 on every
//!   thread, one block of the batch each ([`threads::Split`]). `lstm::V4` is v2 with
//!   every matrix product by the `gemm` crate ([`matmul`]); `lstm::V5` packs
//!   `weight_hh` once per sequence and fuses the gate math into a register-blocked
//!   per-step product written with `std::arch` intrinsics, on the best SIMD path of
//!   the CPU ([`simd`], `lstm::Packed`); `lstm::V6` is v5 on every thread.
//! - [`gru`]: chapter 5's reset-after GRU through the same six versions, `gru::V1` …
//!   `gru::V6`.
//! - [`matmul`]: the matrix product behind one interface, from two libraries.
//! - [`simd`]: the SIMD paths, chosen at run time, their micro-kernel, and the
//!   packing it reads.
//! - [`layer`]: one layer's `f32` weights and gradients, for both cells.
//! - [`rows`]: the row helpers both cells' kernels use.
//! - [`runners`]: every version behind one interface, for the tests and
//!   `rnnbook bench`.
//! - [`results`]: the benchmark's rows and the committed data file the figures are
//!   drawn from.

pub mod act;
pub mod gru;
pub mod kernel;
pub mod layer;
pub mod lstm;
pub mod matmul;
pub mod results;
pub mod roofline;
pub mod rows;
pub mod runners;
pub mod simd;
pub mod threads;
