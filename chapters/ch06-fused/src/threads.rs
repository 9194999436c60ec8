//! v3's one idea: the `B` sequences of a batch never meet in the forward or the backward pass
//! (only the weight gradients sum over them), so a batch splits into one contiguous block of
//! rows per thread with no synchronisation inside the time loop. Each thread runs v2 on its
//! block; the weight gradients of the blocks are added at the end.
//!
//! The threads are those of the current rayon pool: `rnnbook bench --threads N` runs inside a
//! pool of `N`.

use std::ops::Range;

use ndarray::{Array2, Array3, ArrayView3, Axis, concatenate, s};
use rayon::prelude::*;

// ANCHOR: split
/// Splits `0..b` into at most `parts` contiguous, non-empty ranges of nearly equal size.
pub fn batch_chunks(b: usize, parts: usize) -> Vec<Range<usize>> {
    // BEGIN SOLUTION ex 6.3: at most parts ranges, none empty, sizes differing by at most one
    let parts = parts.clamp(1, b.max(1));
    (0..parts)
        .map(|k| k * b / parts..(k + 1) * b / parts)
        .collect()
    // END SOLUTION
}

/// `f` on every item, in parallel on the current rayon pool; results in order.
pub fn par_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    items.par_iter().map(&f).collect()
}
// ANCHOR_END: split

/// Batch rows `r` of `[T, B, X]`, copied into a contiguous `[T, |r|, X]`.
pub fn batch_rows(a: ArrayView3<f32>, r: &Range<usize>) -> Array3<f32> {
    a.slice(s![.., r.clone(), ..])
        .as_standard_layout()
        .into_owned()
}

/// Joins `[T, B_k, X]` blocks along the batch axis.
pub fn join_batch(parts: &[Array3<f32>]) -> Array3<f32> {
    let views: Vec<_> = parts.iter().map(|a| a.view()).collect();
    concatenate(Axis(1), &views).expect("blocks agree on T and X")
}

/// Joins `[B_k, H]` blocks along the batch axis.
pub fn join_rows(parts: &[Array2<f32>]) -> Array2<f32> {
    let views: Vec<_> = parts.iter().map(|a| a.view()).collect();
    concatenate(Axis(0), &views).expect("blocks agree on H")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_cover_the_batch_once_in_order() {
        for b in 1..20 {
            for parts in 1..6 {
                let c = batch_chunks(b, parts);
                assert_eq!(c.len(), parts.min(b));
                assert_eq!(c[0].start, 0);
                assert_eq!(c.last().unwrap().end, b);
                assert!(c.windows(2).all(|w| w[0].end == w[1].start));
                assert!(c.iter().all(|r| !r.is_empty()));
                let (lo, hi) = (
                    c.iter().map(|r| r.len()).min(),
                    c.iter().map(|r| r.len()).max(),
                );
                assert!(hi.unwrap() - lo.unwrap() <= 1, "b={b} parts={parts}: {c:?}");
            }
        }
        assert_eq!(batch_chunks(5, 0), vec![0..5]);
    }
}
