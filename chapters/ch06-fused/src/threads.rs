//! v3's one idea: the `B` sequences of a batch never meet in the forward or the
//! backward pass (only the weight gradients sum over them), so a batch splits into
//! one contiguous block of rows per thread with no synchronisation inside the time
//! loop. Each thread runs a single-threaded version on its block; the weight
//! gradients of the blocks are added at the end. [`Split`] does this once, for any
//! [`Kernel`]: `lstm::V3` and `gru::V3` are both `Split<V2>`.
//!
//! The threads are those of the current rayon pool: `rnnbook bench --threads N` runs
//! inside a pool of `N`.

use std::marker::PhantomData;
use std::ops::Range;

use ndarray::{Array3, ArrayView3, Axis, concatenate, s};
use rayon::prelude::*;

use crate::kernel::{AddGrads, BatchRows, Kernel};

// ANCHOR: split
/// Splits `0..b` into at most `parts` contiguous, non-empty ranges of nearly equal
/// size.
pub fn batch_chunks(b: usize, parts: usize) -> Vec<Range<usize>> {
    // BEGIN SOLUTION ex 6.3: at most parts ranges, none empty, sizes differing by at
    //   most one
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

// ANCHOR: v3
/// `K` on every thread of the current rayon pool, one block of batch rows each.
pub struct Split<K>(PhantomData<K>);

/// Each block's rows and `K`'s cache for them.
pub struct SplitCache<C> {
    parts: Vec<(Range<usize>, C)>,
}

impl<K: Kernel> Kernel for Split<K> {
    type Params = K::Params;
    type State = K::State;
    type Grads = K::Grads;
    type Cache = SplitCache<K::Cache>;
    const PARALLEL: bool = true;

    fn forward(
        p: &K::Params,
        x: ArrayView3<f32>,
        s0: &K::State,
    ) -> (Array3<f32>, K::State, Self::Cache) {
        let chunks = batch_chunks(x.dim().1, rayon::current_num_threads());
        let outs = par_map(&chunks, |r| {
            K::forward(p, batch_rows(x, r).view(), &s0.rows(r))
        });
        let (mut y, mut s_n, mut parts) = (vec![], vec![], vec![]);
        for (r, (y_k, s_k, cache)) in chunks.into_iter().zip(outs) {
            y.push(y_k);
            s_n.push(s_k);
            parts.push((r, cache));
        }
        (join_batch(&y), K::State::join(&s_n), SplitCache { parts })
    }

    /// Each block's backward on its thread, then the blocks' weight gradients
    /// summed.
    fn backward(
        p: &K::Params,
        cache: &Self::Cache,
        dy: ArrayView3<f32>,
        ds_n: &K::State,
    ) -> (K::Grads, Array3<f32>, K::State) {
        let outs = par_map(&cache.parts, |(r, c)| {
            K::backward(p, c, batch_rows(dy, r).view(), &ds_n.rows(r))
        });
        let (mut dx, mut ds0) = (vec![], vec![]);
        let mut sum: Option<K::Grads> = None;
        for (g, dx_k, ds_k) in outs {
            dx.push(dx_k);
            ds0.push(ds_k);
            match &mut sum {
                None => sum = Some(g),
                Some(s) => s.add(&g),
            }
        }
        let grads = sum.expect("at least one block");
        (grads, join_batch(&dx), K::State::join(&ds0))
    }
}
// ANCHOR_END: v3

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
                assert!(
                    hi.unwrap() - lo.unwrap() <= 1,
                    "b={b} parts={parts}: {c:?}"
                );
            }
        }
        assert_eq!(batch_chunks(5, 0), vec![0..5]);
    }
}
