//! Chapter 4: the LSTM.
//!
//! - [`cell`]: parameters in PyTorch's layout (gate rows i, f, g, o), one step forward and its
//!   mirror step backward, plugged into chapter 2's loop over time
//!   ([`ch02_bptt::driver`]) for whole sequences.

pub mod cell;

pub use cell::{Lstm, LstmGrads, LstmParams, LstmState, backward, forward};
