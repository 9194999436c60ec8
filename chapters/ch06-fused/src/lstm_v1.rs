//! LSTM v1, f32: the work of chapter 4 regrouped into a few large matrix products.
//!
//! Layout: `x: [T, B, I]` is read as one `[T·B, I]` matrix. Gate pre-activations for all steps
//! live in one `[T·B, 4H]` buffer (blocks i, f, g, o, as PyTorch), filled by
//! `X · W_ihᵀ + (b_ih + b_hh)` once; each step then adds `h_{t-1} · W_hhᵀ` into its `[B, 4H]`
//! rows. The backward pass stores `dgates` for all steps in the same shape, so
//! `dW_ih = dGatesᵀ · X`, `dW_hh = dGatesᵀ · H_prev` and `dx = dGates · W_ih` are single GEMMs.

use ch04_lstm::LstmParams;
use ndarray::linalg::general_mat_mul;
use ndarray::{Array1, Array2, Array3, ArrayView3, Axis, s};

/// LSTM weights in `f32`, PyTorch layout, with the two biases summed (they only act together).
#[derive(Debug, Clone)]
pub struct LstmF32 {
    /// `[4H, I]`.
    pub weight_ih: Array2<f32>,
    /// `[4H, H]`.
    pub weight_hh: Array2<f32>,
    /// `b_ih + b_hh`: `[4H]`.
    pub bias: Array1<f32>,
}

impl LstmF32 {
    /// Rounds chapter 4's `f64` parameters to `f32`.
    pub fn from_f64(p: &LstmParams) -> Self {
        LstmF32 {
            weight_ih: p.weight_ih.mapv(|v| v as f32),
            weight_hh: p.weight_hh.mapv(|v| v as f32),
            bias: (&p.bias_ih + &p.bias_hh).mapv(|v| v as f32),
        }
    }

    /// `H`.
    pub fn hidden_size(&self) -> usize {
        self.weight_hh.ncols()
    }
}

/// Gradients; `dbias` is the gradient of each of `b_ih` and `b_hh` (they are equal).
#[derive(Debug, Clone)]
pub struct LstmF32Grads {
    /// `[4H, I]`.
    pub dweight_ih: Array2<f32>,
    /// `[4H, H]`.
    pub dweight_hh: Array2<f32>,
    /// `[4H]`.
    pub dbias: Array1<f32>,
}

/// What the backward pass needs: activated gates, cell states, and every `h_{t-1}`.
#[derive(Debug, Clone)]
pub struct LstmF32Cache {
    /// `x` as `[T·B, I]`.
    x: Array2<f32>,
    /// Activated gates `[T·B, 4H]`.
    gates: Array2<f32>,
    /// `c_0 … c_T`: `[T+1, B, H]`.
    c: Array3<f32>,
    /// `h_0 … h_{T-1}` as `[T·B, H]` (the inputs of `W_hh`).
    h_prev: Array2<f32>,
}

fn sigmoid(x: f32) -> f32 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// Forward over a sequence. Shapes: `x: [T, B, I]`, `h0`, `c0: [B, H]` →
/// `(y: [T, B, H], h_n, c_n, cache)`.
pub fn forward(
    p: &LstmF32,
    x: ArrayView3<f32>,
    h0: &Array2<f32>,
    c0: &Array2<f32>,
) -> (Array3<f32>, Array2<f32>, Array2<f32>, LstmF32Cache) {
    let (t_len, b, i) = x.dim();
    let h = p.hidden_size();
    let x2 = x.to_shape((t_len * b, i)).expect("[T·B, I]").to_owned();
    // All steps' input projections in one GEMM: [T·B, I] · [I, 4H].
    let mut gates = Array2::from_shape_fn((t_len * b, 4 * h), |(_, j)| p.bias[j]);
    general_mat_mul(1.0, &x2, &p.weight_ih.t(), 1.0, &mut gates);
    let mut c = Array3::zeros((t_len + 1, b, h));
    c.index_axis_mut(Axis(0), 0).assign(c0);
    let mut h_prev = Array2::zeros((t_len * b, h));
    let mut y = Array3::zeros((t_len, b, h));
    let mut h_t = h0.clone();
    for t in 0..t_len {
        let rows = t * b..(t + 1) * b;
        h_prev.slice_mut(s![rows.clone(), ..]).assign(&h_t);
        let mut g = gates.slice_mut(s![rows, ..]);
        general_mat_mul(1.0, &h_t, &p.weight_hh.t(), 1.0, &mut g); // += h_{t-1} · W_hhᵀ
        let (c_prev, mut c_next) = {
            let (a, bb) = c.view_mut().split_at(Axis(0), t + 1);
            (
                a.index_axis_move(Axis(0), t),
                bb.index_axis_move(Axis(0), 0),
            )
        };
        // Fused gate math, one pass over [B, H]: activate, update c, produce h.
        for r in 0..b {
            let mut g_row = g.row_mut(r);
            let row = g_row.as_slice_mut().expect("gate rows are contiguous");
            let (gi, rest) = row.split_at_mut(h);
            let (gf, rest) = rest.split_at_mut(h);
            let (gg, go) = rest.split_at_mut(h);
            for j in 0..h {
                gi[j] = sigmoid(gi[j]);
                gf[j] = sigmoid(gf[j]);
                gg[j] = gg[j].tanh();
                go[j] = sigmoid(go[j]);
                let c = gf[j] * c_prev[[r, j]] + gi[j] * gg[j]; // c_t = f⊙c_{t-1} + i⊙g
                c_next[[r, j]] = c;
                h_t[[r, j]] = go[j] * c.tanh(); //               h_t = o⊙tanh(c_t)
            }
        }
        y.index_axis_mut(Axis(0), t).assign(&h_t);
    }
    let c_n = c.index_axis(Axis(0), t_len).to_owned();
    let cache = LstmF32Cache {
        x: x2,
        gates,
        c,
        h_prev,
    };
    (y, h_t, c_n, cache)
}

/// Backward over the cached sequence. Shapes: `dy: [T, B, H]`, `dh_n`, `dc_n: [B, H]` →
/// `(grads, dx: [T, B, I], dh0, dc0)`.
pub fn backward(
    p: &LstmF32,
    cache: &LstmF32Cache,
    dy: ArrayView3<f32>,
    dh_n: &Array2<f32>,
    dc_n: &Array2<f32>,
) -> (LstmF32Grads, Array3<f32>, Array2<f32>, Array2<f32>) {
    let (t_len, b, h) = dy.dim();
    let i = cache.x.ncols();
    let mut dgates = Array2::zeros((t_len * b, 4 * h));
    let mut dh = dh_n.clone();
    let mut dc = dc_n.clone();
    for t in (0..t_len).rev() {
        let rows = t * b..(t + 1) * b;
        dh += &dy.index_axis(Axis(0), t);
        let gates = cache.gates.slice(s![rows.clone(), ..]);
        let c_prev = cache.c.index_axis(Axis(0), t);
        let c_t = cache.c.index_axis(Axis(0), t + 1);
        let mut dg = dgates.slice_mut(s![rows, ..]);
        // Fused: dc collects the h path and the carousel; then the four gate pre-activations.
        for r in 0..b {
            let g_row = gates.row(r);
            let g_row = g_row.as_slice().expect("gate rows are contiguous");
            let mut dg_row = dg.row_mut(r);
            let d_row = dg_row.as_slice_mut().expect("contiguous");
            for j in 0..h {
                let (i_, f, g, o) = (g_row[j], g_row[h + j], g_row[2 * h + j], g_row[3 * h + j]);
                let tc = c_t[[r, j]].tanh();
                let dh_rj = dh[[r, j]];
                let dct = dc[[r, j]] + dh_rj * o * (1.0 - tc * tc);
                d_row[j] = dct * g * i_ * (1.0 - i_);
                d_row[h + j] = dct * c_prev[[r, j]] * f * (1.0 - f);
                d_row[2 * h + j] = dct * i_ * (1.0 - g * g);
                d_row[3 * h + j] = dh_rj * tc * o * (1.0 - o);
                dc[[r, j]] = dct * f; // to c_{t-1}
            }
        }
        // dh_{t-1} = dgates_t · W_hh: [B, 4H] · [4H, H].
        general_mat_mul(1.0, &dg, &p.weight_hh, 0.0, &mut dh);
    }
    // The weight gradients for all steps at once.
    let mut dweight_ih = Array2::zeros((4 * h, i));
    general_mat_mul(1.0, &dgates.t(), &cache.x, 0.0, &mut dweight_ih);
    let mut dweight_hh = Array2::zeros((4 * h, h));
    general_mat_mul(1.0, &dgates.t(), &cache.h_prev, 0.0, &mut dweight_hh);
    let dbias = dgates.sum_axis(Axis(0));
    let mut dx2 = Array2::zeros((t_len * b, i));
    general_mat_mul(1.0, &dgates, &p.weight_ih, 0.0, &mut dx2);
    let dx = dx2.into_shape_with_order((t_len, b, i)).expect("[T, B, I]");
    (
        LstmF32Grads {
            dweight_ih,
            dweight_hh,
            dbias,
        },
        dx,
        dh,
        dc,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use ch00_foundations::rng::{seeded_rng, uniform_array};
    use ch00_foundations::tolerance::{F32_VS_F64_ATOL, F32_VS_F64_RTOL, assert_arrays_close};
    use ch04_lstm::LstmState;

    fn f32s<D: ndarray::Dimension>(a: &ndarray::Array<f64, D>) -> ndarray::Array<f32, D> {
        a.mapv(|v| v as f32)
    }

    fn f64s<D: ndarray::Dimension>(a: &ndarray::Array<f32, D>) -> ndarray::Array<f64, D> {
        a.mapv(f64::from)
    }

    /// v1 in f32 against chapter 4 in f64, on every output and every gradient.
    fn check(seed: u64, (t, b, i, h): (usize, usize, usize, usize)) {
        let mut rng = seeded_rng(seed);
        let p64 = LstmParams::init(i, h, &mut rng);
        let x: Array3<f64> = uniform_array((t, b, i), -1.0, 1.0, &mut rng);
        let s0 = LstmState {
            h: uniform_array((b, h), -0.5, 0.5, &mut rng),
            c: uniform_array((b, h), -1.0, 1.0, &mut rng),
        };
        let dy: Array3<f64> = uniform_array((t, b, h), -1.0, 1.0, &mut rng);
        let ds = LstmState {
            h: uniform_array((b, h), -1.0, 1.0, &mut rng),
            c: uniform_array((b, h), -1.0, 1.0, &mut rng),
        };

        let (y64, s64, caches) = ch04_lstm::forward(&p64, x.view(), &s0);
        let (g64, dx64, ds0_64) = ch04_lstm::backward(&p64, &caches, dy.view(), &ds);

        let p = LstmF32::from_f64(&p64);
        let (y, h_n, c_n, cache) = forward(&p, f32s(&x).view(), &f32s(&s0.h), &f32s(&s0.c));
        let (g, dx, dh0, dc0) = backward(&p, &cache, f32s(&dy).view(), &f32s(&ds.h), &f32s(&ds.c));
        let (atol, rtol) = (F32_VS_F64_ATOL, F32_VS_F64_RTOL);
        assert_arrays_close("y", &f64s(&y), &y64, atol, rtol);
        assert_arrays_close("h_n", &f64s(&h_n), &s64.h, atol, rtol);
        assert_arrays_close("c_n", &f64s(&c_n), &s64.c, atol, rtol);
        assert_arrays_close(
            "dweight_ih",
            &f64s(&g.dweight_ih),
            &g64.dweight_ih,
            atol,
            rtol,
        );
        assert_arrays_close(
            "dweight_hh",
            &f64s(&g.dweight_hh),
            &g64.dweight_hh,
            atol,
            rtol,
        );
        assert_arrays_close("dbias", &f64s(&g.dbias), &g64.dbias_ih, atol, rtol);
        assert_arrays_close("dx", &f64s(&dx), &dx64, atol, rtol);
        assert_arrays_close("dh0", &f64s(&dh0), &ds0_64.h, atol, rtol);
        assert_arrays_close("dc0", &f64s(&dc0), &ds0_64.c, atol, rtol);
    }

    #[test]
    fn v1_matches_chapter_4_in_f32_tolerance() {
        check(70, (5, 3, 4, 6));
        check(71, (1, 1, 1, 1));
        check(72, (20, 4, 16, 8));
    }
}
