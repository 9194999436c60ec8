//! Chapter 6: fast `f32` LSTM and GRU kernels, each version checked against the `f64` chapters
//! before it is timed.
//!
//! - [`lstm_v1`]: chapter 4's LSTM regrouped: one GEMM for every step's input projection, one
//!   GEMM per step for the recurrent part into a preallocated buffer, the gate math fused into
//!   one pass over contiguous rows, the weight gradients as three large GEMMs after the loop.
//! - [`lstm_v2`]: the same code with branchless activations ([`act::Fast`]) in loops compiled
//!   for AVX2 + FMA.
//! - [`lstm_v3`]: v2 on every thread, one block of the batch each ([`threads`]).
//! - [`gru`]: chapter 5's reset-after GRU through the same three versions.
//! - [`runners`]: every version behind one interface, for the tests and `rnnbook bench`.
//! - [`results`]: the benchmark's rows and the committed data file the figures are drawn from.

pub mod act;
pub mod gru;
pub mod lstm_v1;
pub mod lstm_v2;
pub mod lstm_v3;
pub mod results;
pub mod runners;
pub mod threads;
