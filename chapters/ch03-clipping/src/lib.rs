//! Chapter 3: exploding and vanishing gradients, and gradient clipping.
//!
//! - [`clip`]: clipping by value (element-wise) and by global norm (Pascanu et al., 2013), over
//!   every tensor of a gradient at once, refusing non-finite gradients.

pub mod clip;

pub use clip::{ClipReport, NonFiniteGradient, clip_by_global_norm, clip_by_value, global_norm};
