//! LSTM v3: v2 on every thread of the current rayon pool, one block of batch rows each
//! (see [`crate::threads`]). With one thread it is v2 plus two copies.

use std::ops::Range;

use ndarray::{Array2, Array3, ArrayView3, s};

use crate::lstm_v1::{LstmF32, LstmF32Cache, LstmF32Grads};
use crate::lstm_v2;
use crate::threads::{batch_chunks, batch_rows, join_batch, join_rows, par_map};

/// Each block's rows and v2 cache.
#[derive(Debug, Clone)]
pub struct LstmV3Cache {
    parts: Vec<(Range<usize>, LstmF32Cache)>,
}

// ANCHOR: v3
/// v3 forward. Shapes as [`crate::lstm_v1::forward`].
pub fn forward(
    p: &LstmF32,
    x: ArrayView3<f32>,
    h0: &Array2<f32>,
    c0: &Array2<f32>,
) -> (Array3<f32>, Array2<f32>, Array2<f32>, LstmV3Cache) {
    let chunks = batch_chunks(x.dim().1, rayon::current_num_threads());
    let outs = par_map(&chunks, |r| {
        let rows = s![r.clone(), ..];
        let (h0, c0) = (h0.slice(rows).to_owned(), c0.slice(rows).to_owned());
        lstm_v2::forward(p, batch_rows(x, r).view(), &h0, &c0)
    });
    let (mut y, mut h_n, mut c_n, mut parts) = (vec![], vec![], vec![], vec![]);
    for (r, (y_k, h_k, c_k, cache)) in chunks.into_iter().zip(outs) {
        y.push(y_k);
        h_n.push(h_k);
        c_n.push(c_k);
        parts.push((r, cache));
    }
    let cache = LstmV3Cache { parts };
    (join_batch(&y), join_rows(&h_n), join_rows(&c_n), cache)
}

/// v3 backward: each block's backward on its thread, then the blocks' weight gradients summed.
pub fn backward(
    p: &LstmF32,
    cache: &LstmV3Cache,
    dy: ArrayView3<f32>,
    dh_n: &Array2<f32>,
    dc_n: &Array2<f32>,
) -> (LstmF32Grads, Array3<f32>, Array2<f32>, Array2<f32>) {
    let outs = par_map(&cache.parts, |(r, c)| {
        let rows = s![r.clone(), ..];
        let (dh_n, dc_n) = (dh_n.slice(rows).to_owned(), dc_n.slice(rows).to_owned());
        lstm_v2::backward(p, c, batch_rows(dy, r).view(), &dh_n, &dc_n)
    });
    let (mut dx, mut dh0, mut dc0) = (vec![], vec![], vec![]);
    let mut sum: Option<LstmF32Grads> = None;
    for (g, dx_k, dh_k, dc_k) in outs {
        dx.push(dx_k);
        dh0.push(dh_k);
        dc0.push(dc_k);
        match &mut sum {
            None => sum = Some(g),
            Some(s) => {
                s.dweight_ih += &g.dweight_ih;
                s.dweight_hh += &g.dweight_hh;
                s.dbias += &g.dbias;
            }
        }
    }
    let grads = sum.expect("at least one block");
    (grads, join_batch(&dx), join_rows(&dh0), join_rows(&dc0))
}
// ANCHOR_END: v3
