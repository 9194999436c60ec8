//! Walking over every tensor of a set of parameters or gradients, by name.
//!
//! An optimizer step, a gradient norm or a clipping rule treats all tensors alike.
//! Rather than writing each of them once per model, a model lists its tensors once,
//! here, in a fixed order.

use ndarray::{ArrayViewD, ArrayViewMutD};

/// A fixed, ordered list of named `f64` tensors.
///
/// `Params` and `Grads` structs implement it with the same names in the same order,
/// so the k-th tensor of a gradient belongs to the k-th tensor of the parameters.
pub trait Tensors {
    /// Every tensor, read-only, with its name (e.g. `"weight_hh"`).
    fn tensors(&self) -> Vec<(&'static str, ArrayViewD<'_, f64>)>;
    /// Every tensor, writable, in the same order as [`Tensors::tensors`].
    fn tensors_mut(&mut self) -> Vec<(&'static str, ArrayViewMutD<'_, f64>)>;

    /// Total number of scalars.
    fn num_scalars(&self) -> usize {
        self.tensors().iter().map(|(_, t)| t.len()).sum()
    }
}

/// Implements [`Tensors`] for a struct whose fields are all `f64` arrays, listing
/// them in the given order under their field names:
///
/// ```ignore
/// ch00_foundations::impl_tensors!(RnnGrads { dweight_ih, dweight_hh, dbias_ih, dbias_hh });
/// // A generic struct names its parameters first:
/// ch00_foundations::impl_tensors!(impl<const G: usize> LayerParams<G> { weight_ih, weight_hh });
/// ```
#[macro_export]
macro_rules! impl_tensors {
    (@impl [$($gen:tt)*] $ty:ty { $($field:ident),+ }) => {
        impl<$($gen)*> $crate::tensors::Tensors for $ty {
            fn tensors(&self) -> Vec<(&'static str, ndarray::ArrayViewD<'_, f64>)> {
                vec![$((stringify!($field), self.$field.view().into_dyn())),+]
            }

            fn tensors_mut(&mut self) -> Vec<(&'static str, ndarray::ArrayViewMutD<'_, f64>)> {
                vec![$((stringify!($field), self.$field.view_mut().into_dyn())),+]
            }
        }
    };
    (impl<const $g:ident: usize> $ty:ty { $($field:ident),+ $(,)? }) => {
        $crate::impl_tensors!(@impl [const $g: usize] $ty { $($field),+ });
    };
    ($ty:ty { $($field:ident),+ $(,)? }) => {
        $crate::impl_tensors!(@impl [] $ty { $($field),+ });
    };
}
