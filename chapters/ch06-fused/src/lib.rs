//! Chapter 6: fast f32 kernels, each version checked against the f64 chapters before it is timed.
//!
//! - [`lstm_v1`]: the LSTM of chapter 4 in `f32`, restructured: one GEMM for every step's input
//!   projection, one GEMM per step for the recurrent part into a preallocated buffer, the gate
//!   math fused into one pass, and the weight gradients as three large GEMMs after the time loop.
//!
//! This chapter is being written: later versions, the GRU and `rnnbook bench` come next.

pub mod lstm_v1;
