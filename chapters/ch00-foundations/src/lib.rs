//! # Chapter 0: Foundations
//!
//! The small tools that every later chapter of *Recurrent Networks from Scratch, in
//! Rust* stands on. Everything here computes in `f64`.
//!
//! - [`notation`]: the shape letters `T, B, I, H, V, G`, the time-major layout, and
//!   the PyTorch gate order (LSTM `i, f, g, o`; GRU `r, z, n`) with
//!   [`notation::gate_rows`].
//! - [`activations`]: `sigmoid` and `tanh`, and their derivatives written in terms
//!   of their outputs.
//! - [`softmax`]: row-wise `softmax`, `log_softmax` and `cross_entropy` for logits
//!   `[B, V]`.
//! - [`files`]: writing a file atomically, so that no reader ever sees half of it.
//! - [`gradcheck`]: a central finite-difference gradient checker for arrays of any
//!   shape, and the data behind the chapter's error-versus-step-size figure.
//! - [`rng`]: seeded, portable random numbers and PyTorch's uniform initialisation.
//! - [`tensors`]: every tensor of a parameter (or gradient) set by name, in a fixed
//!   order, which gradient checks, optimizers and clipping walk over.
//! - [`tolerance`]: every tolerance of the book as a named constant, plus array
//!   comparison helpers.
//!
//! The example `tolerance_survey`
//! (`cargo run -p ch00-foundations --example tolerance_survey`) measures the
//! accuracy of central differences on a small recurrence; it backs the values of the
//! gradient-check tolerances.
//!
//! Lines `// BEGIN SOLUTION ex N.M: hint` and `// END SOLUTION` mark exercise N.M:
//! the student edition replaces the lines between them with `todo!("ex N.M: hint")`.
//! Lines `// ANCHOR: name` and `// ANCHOR_END: name` mark the code that the book
//! includes.

pub mod activations;
pub mod files;
pub mod fixture;
pub mod gradcheck;
pub mod notation;
pub mod rng;
pub mod softmax;
pub mod tensors;
pub mod tolerance;
