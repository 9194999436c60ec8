//! Chapter 1: a vanilla RNN.
//!
//! - [`cell`]: the recurrent cell
//!   `h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)` in PyTorch's layout, run
//!   over a time-major batch `[T, B, I]`;
//! - [`model`]: a character language model: the RNN, an output layer to logits, and
//!   the summed cross-entropy over every step and sequence;
//! - [`sample`]: drawing text from the model with a temperature;
//! - [`data`]: a character vocabulary, one-hot inputs and training windows;
//! - [`params`]: a uniform view of every tensor of a parameter (or gradient) set,
//!   which the optimizer and the clipping of later chapters walk over.

pub mod cell;
pub mod data;
pub mod model;
pub mod params;
pub mod sample;

pub use cell::{RnnCache, RnnParams, cell_forward, forward};
pub use model::{CharRnn, ModelCache, OutputLayer, model_forward, sequence_loss};
