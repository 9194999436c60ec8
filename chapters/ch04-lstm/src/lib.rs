//! Chapter 4: the LSTM.
//!
//! - [`cell`]: parameters in PyTorch's layout (gate rows i, f, g, o), one step
//!   forward and its mirror step backward, plugged into chapter 2's loop over time
//!   ([`ch02_bptt::driver`]) for whole sequences.
//! - [`source_port`]: the source post's LSTM backward, ported with its bugs (each
//!   one a switch), and [`errata`]: the gradient checks that show each bug and each
//!   fix.
//! - [`flow`]: how far back a gradient reaches, in the LSTM and in chapter 1's RNN.
//! - [`frameworks`]: Keras's and TensorFlow's LSTM layouts, moved into PyTorch's,
//!   and their parameter counts.
//! - [`jacobian`]: `∂c_t/∂c_{t-1}`, the derivative the other source posts get wrong.
//! - [`peephole`]: the peephole LSTM, whose gates also see the cell state, and its
//!   backward step.

pub mod cell;
pub mod errata;
pub mod flow;
pub mod frameworks;
pub mod jacobian;
pub mod peephole;
pub mod source_port;

pub use cell::{Lstm, LstmGrads, LstmParams, LstmState, backward, forward};
