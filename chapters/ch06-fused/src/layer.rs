//! One layer's weights and their gradients in `f32`, for both cells: chapter 1's
//! [`LayerParams`] with `G` gate blocks, rounded.

use ch01_rnn::cell::LayerParams;
use ndarray::{Array1, Array2};

use crate::kernel::AddGrads;

/// A layer's weights in `f32`, PyTorch's layout: `G` gate blocks stacked along the
/// rows.
#[derive(Debug, Clone)]
pub struct LayerF32<const G: usize> {
    /// `[G·H, I]`.
    pub weight_ih: Array2<f32>,
    /// `[G·H, H]`.
    pub weight_hh: Array2<f32>,
    /// `[G·H]`.
    pub bias_ih: Array1<f32>,
    /// `[G·H]`.
    pub bias_hh: Array1<f32>,
}

impl<const G: usize> LayerF32<G> {
    /// Rounds the chapters' `f64` parameters to `f32`.
    pub fn from_f64(p: &LayerParams<G>) -> Self {
        LayerF32 {
            weight_ih: p.weight_ih.mapv(|v| v as f32),
            weight_hh: p.weight_hh.mapv(|v| v as f32),
            bias_ih: p.bias_ih.mapv(|v| v as f32),
            bias_hh: p.bias_hh.mapv(|v| v as f32),
        }
    }

    /// `H`.
    pub fn hidden_size(&self) -> usize {
        self.weight_hh.ncols()
    }
}

/// The gradients of a [`LayerF32`], field by field.
#[derive(Debug, Clone)]
pub struct LayerF32Grads<const G: usize> {
    /// `[G·H, I]`.
    pub dweight_ih: Array2<f32>,
    /// `[G·H, H]`.
    pub dweight_hh: Array2<f32>,
    /// `[G·H]`.
    pub dbias_ih: Array1<f32>,
    /// `[G·H]`.
    pub dbias_hh: Array1<f32>,
}

impl<const G: usize> AddGrads for LayerF32Grads<G> {
    fn add(&mut self, other: &Self) {
        self.dweight_ih += &other.dweight_ih;
        self.dweight_hh += &other.dweight_hh;
        self.dbias_ih += &other.dbias_ih;
        self.dbias_hh += &other.dbias_hh;
    }
}
