//! Chapter 5: the GRU, in its two published variants.
//!
//! - [`cell`]: parameters in PyTorch's layout (gate rows r, z, n), and two cells on chapter 2's
//!   loop over time: [`Gru`] (reset-after, as `torch.nn.GRU` and cuDNN) and [`GruCho`]
//!   (reset-before, as Cho et al. 2014).

pub mod cell;

pub use cell::{Gru, GruCho, GruGrads, GruParams, GruVariant, backward, forward};
