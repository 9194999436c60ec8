//! Chapter 5: the GRU, in its two published variants.
//!
//! - [`cell`]: parameters in PyTorch's layout (gate rows r, z, n), and two cells on
//!   chapter 2's loop over time: [`Gru`] (reset-after, as `torch.nn.GRU` and cuDNN)
//!   and [`GruCho`] (reset-before, as Cho et al. 2014).
//! - [`compare`]: the RNN, the LSTM and both GRUs on the same sequence: the
//!   gradient's norm against the distance it travels back, and a
//!   parameter-count/compute table at equal `H`.
//! - [`jacobian`]: `∂h_t/∂h_{t-1}` of one step of either GRU, the matrix whose
//!   transpose the backward step applies.

pub mod cell;
pub mod compare;
#[cfg(test)]
mod errata;
pub mod jacobian;
#[cfg(test)]
mod variants;

pub use cell::{Gru, GruCho, GruGrads, GruParams, GruVariant, backward, forward};
