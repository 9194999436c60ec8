//! Chapter 8: beyond one layer.
//!
//! - [`stack`]: layers stacked on top of each other, each layer either one
//!   direction or both, with dropout between layers. Any chapter-2
//!   [`Cell`](ch02_bptt::driver::Cell) (the RNN, the LSTM, either GRU) can be
//!   stacked, and the parameters are laid out as in PyTorch's `nn.RNN`,
//!   `nn.LSTM` and `nn.GRU` with `num_layers` and `bidirectional`.
//! - [`reach`]: which inputs each output of a bidirectional layer depends on.

pub mod reach;
pub mod stack;

pub use stack::{
    Dropout, Layer, StackCache, layer_backward, stack_backward, stack_forward,
};
