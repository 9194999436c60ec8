//! Row helpers shared by the LSTM and the GRU kernels: a gate row cut into its
//! blocks, ndarray rows as plain slices (so the element-wise loops see
//! non-overlapping slices and vectorize), bias rows broadcast, and column sums
//! accumulated in `f64`.

use ndarray::{Array1, Array2, ArrayView1, ArrayViewMut1};

/// Splits a gate row of `K·H` entries into its `K` blocks of `H`.
pub fn blocks<const K: usize>(row: &mut [f32]) -> [&mut [f32]; K] {
    let h = row.len() / K;
    let mut out = row.chunks_exact_mut(h);
    std::array::from_fn(|_| out.next().expect("K blocks"))
}

/// A contiguous row as a slice.
pub fn sl<'a>(a: ArrayView1<'a, f32>) -> &'a [f32] {
    a.to_slice().expect("contiguous rows")
}

/// A contiguous mutable row as a slice.
pub fn sl_mut<'a>(a: ArrayViewMut1<'a, f32>) -> &'a mut [f32] {
    a.into_slice().expect("contiguous rows")
}

/// A standard-layout matrix's elements, row after row.
pub fn flat(a: &Array2<f32>) -> &[f32] {
    a.as_slice().expect("standard layout")
}

/// A standard-layout matrix's elements, row after row, mutable.
pub fn flat_mut(a: &mut Array2<f32>) -> &mut [f32] {
    a.as_slice_mut().expect("standard layout")
}

/// From `h_all: [(T+1)·B, H]` (`h_0 … h_T`, one block of `B` rows each):
/// `y = h_1 … h_T` as `[T, B, H]`, and `h_T`.
pub fn outputs(
    h_all: &Array2<f32>,
    t_len: usize,
    b: usize,
) -> (ndarray::Array3<f32>, Array2<f32>) {
    let h = h_all.ncols();
    let y = h_all
        .slice(ndarray::s![b.., ..])
        .to_shape((t_len, b, h))
        .expect("[T, B, H]")
        .into_owned();
    (y, h_all.slice(ndarray::s![t_len * b.., ..]).to_owned())
}

/// `[rows, cols]` with every row equal to `bias`.
pub fn broadcast_rows(rows: usize, bias: &Array1<f32>) -> Array2<f32> {
    Array2::from_shape_fn((rows, bias.len()), |(_, j)| bias[j])
}

// ANCHOR: sum_rows
/// Column sums of `a: [R, C]`, accumulated in `f64`. The bias gradient is the one
/// sum over all `T·B` rows: added in order in `f32`, 3200 terms lose about three
/// digits (an error up to `R·2⁻²⁴·Σ|a|`), more than the `f32` tolerance allows; in
/// `f64` the cost is a millisecond.
pub fn sum_rows(a: &Array2<f32>) -> Array1<f32> {
    let mut acc = vec![0.0f64; a.ncols()];
    for row in a.rows() {
        for (s, &v) in acc.iter_mut().zip(row) {
            *s += f64::from(v);
        }
    }
    acc.into_iter().map(|v| v as f32).collect()
}
// ANCHOR_END: sum_rows
