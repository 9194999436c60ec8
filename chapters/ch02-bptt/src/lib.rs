//! Chapter 2: backpropagation through time.
//!
//! - [`backward`]: the RNN's backward pass, mirrored on chapter 1's [`forward`]
//!   (which it reuses);
//! - [`model`]: the character model's loss and gradients, with full or truncated
//!   BPTT;
//! - [`problem`]: random problems (a layer, inputs, upstream gradients) for the
//!   gradient checks;
//! - [`adam`]: the Adam optimizer over any [`Tensors`](ch01_rnn::params::Tensors).

pub mod adam;
pub mod backward;
pub mod driver;
pub mod model;
pub mod problem;

pub use backward::{RnnGrads, backward};
pub use ch01_rnn::cell::forward;
pub use model::{
    ModelGrads, OutputGrads, SeqModel, loss_and_grads, seq_loss_and_grads,
    truncated_loss_and_grads,
};
