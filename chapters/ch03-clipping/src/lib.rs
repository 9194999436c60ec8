//! Chapter 3: exploding and vanishing gradients, and gradient clipping.
//!
//! - [`dynamics`]: `‖∂L/∂h_t‖` against the distance `T − t`, measured with chapter
//!   2's backward pass, for RNNs whose `W_hh` has a chosen spectral radius, with
//!   tanh linear or saturated;
//! - [`clip`]: clipping by value (element-wise) and by global norm (Pascanu et al.,
//!   2013), over every tensor of a gradient at once, refusing non-finite gradients;
//! - [`experiment`]: the delayed echo trained with and without clipping, and its
//!   committed CSV;
//! - [`seeds`]: the same experiment over seeds 1 to 8, as running means of the loss,
//!   and its committed CSV;
//! - [`train`]: training any cell's character model one window at a time (truncated
//!   BPTT, the mean loss per character, clipping, Adam), and [`train_log`], the log
//!   of such a run.

pub mod clip;
pub mod dynamics;
pub mod experiment;
pub mod seeds;
pub mod train;
pub mod train_log;

pub use clip::{
    ClipReport, NonFiniteGradient, clip_by_global_norm, clip_by_value, global_norm,
};
