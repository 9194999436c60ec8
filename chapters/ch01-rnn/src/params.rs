//! Walking over every tensor of a set of parameters or gradients, by name: chapter
//! 0's [`Tensors`], which chapter 1's parameter structs are the first to implement.

pub use ch00_foundations::impl_tensors;
pub use ch00_foundations::tensors::Tensors;
