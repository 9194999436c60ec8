//! `∂h_t/∂h_{t-1}`: how one step of either GRU moves its output when the previous
//! state moves, along every path.
//!
//! `h_{t-1}` reaches `h_t = (1 − z) ⊙ n + z ⊙ h_{t-1}` directly (the `z ⊙ h_{t-1}`
//! term), through the update gate `z`, and through the candidate `n`, whose
//! pre-activation sees `h_{t-1}` both through `W_hn` and through the reset gate `r`.
//! Exercise 5.2 derives it for both variants; the backward step applies its
//! transpose to `δh_t`: `δh_{t-1} = (∂h_t/∂h_{t-1})ᵀ δh_t`.

use ch00_foundations::activations::{dsigmoid_from_output, dtanh_from_output};
use ch00_foundations::notation::{GRU_N, GRU_R, GRU_Z, gate_rows};
use ch02_bptt::driver::Cell;
use ndarray::{Array1, Array2, ArrayView1, Axis, s};

use crate::cell::{Gru, GruCho, GruParams, GruVariant};

// ANCHOR: dh_dh_prev
/// `∂h_t/∂h_{t-1}` of one step of the GRU `v` for one sequence, `[H, H]` (row k:
/// unit k of `h_t`; column j: unit j of `h_{t-1}`). Shapes: `x_t: [I]`,
/// `h_prev: [H]`.
pub fn dh_dh_prev(
    p: &GruParams,
    v: GruVariant,
    x_t: ArrayView1<f64>,
    h_prev: ArrayView1<f64>,
) -> Array2<f64> {
    // BEGIN SOLUTION ex 5.2: diag(z), the path through z, and the path through n,
    //   whose reset gate sits after W_hn or before it
    let hs = p.hidden_size();
    let (x, h) = (
        x_t.insert_axis(Axis(0)),
        h_prev.to_owned().insert_axis(Axis(0)),
    );
    let (_, cache) = match v {
        GruVariant::ResetAfter => Gru::step(p, x, &h),
        GruVariant::ResetBefore => GruCho::step(p, x, &h),
    };
    let gate = |q| cache.gates().slice(s![0, gate_rows(q, hs)]).to_owned();
    let (r, z, n) = (gate(GRU_R), gate(GRU_Z), gate(GRU_N));
    let w = |q| p.weight_hh.slice(s![gate_rows(q, hs), ..]);
    let rows = |d: Array1<f64>| d.insert_axis(Axis(1)); // diag(d) M: row k times d_k
    let dr = rows(r.mapv(dsigmoid_from_output)) * w(GRU_R); // ∂r/∂h_{t-1}
    let dz = rows(z.mapv(dsigmoid_from_output)) * w(GRU_Z); // ∂z/∂h_{t-1}
    // M = ∂(n's pre-activation)/∂h_{t-1}
    let m = match v {
        // r ⊙ g: diag(r) W_hn + diag(g) ∂r/∂h_{t-1}
        GruVariant::ResetAfter => {
            let g =
                w(GRU_N).dot(&h_prev) + p.bias_hh.slice(s![gate_rows(GRU_N, hs)]);
            rows(r.clone()) * w(GRU_N) + rows(g) * &dr
        }
        // W_hn (r ⊙ h_{t-1}): W_hn [diag(r) + diag(h_{t-1}) ∂r/∂h_{t-1}]
        GruVariant::ResetBefore => {
            w(GRU_N).dot(&(Array2::from_diag(&r) + rows(h_prev.to_owned()) * &dr))
        }
    };
    // h_t = n + z ⊙ (h_{t-1} − n)
    let mut jac =
        rows((1.0 - &z) * n.mapv(dtanh_from_output)) * m + rows(&h_prev - &n) * dz;
    jac.diag_mut().scaled_add(1.0, &z); // the direct path: diag(z)
    jac
    // END SOLUTION
}
// ANCHOR_END: dh_dh_prev

#[cfg(test)]
mod tests {
    use super::*;
    use ch00_foundations::rng::{seeded_rng, uniform_array};
    use ch00_foundations::tolerance::{GRAD_CHECK_EPS, assert_arrays_close};
    use ch02_bptt::backward::LayerGrads;

    const BOTH: [GruVariant; 2] = [GruVariant::ResetAfter, GruVariant::ResetBefore];

    struct Point {
        p: GruParams,
        x_t: Array1<f64>,
        h_prev: Array1<f64>,
    }

    /// `I = 3`, `H = 4`: non-square input weights, recurrent weights doubled so that
    /// the paths through the gates are not small.
    fn point(seed: u64) -> Point {
        let mut rng = seeded_rng(seed);
        let (is, hs) = (3, 4);
        let mut p = GruParams::init(is, hs, &mut rng);
        p.weight_hh *= 2.0;
        p.bias_hh *= 2.0;
        Point {
            p,
            x_t: uniform_array(is, -1.0, 1.0, &mut rng),
            h_prev: uniform_array(hs, -0.9, 0.9, &mut rng),
        }
    }

    /// One step of the chapter's cell, for one sequence: `h_t` from `h_{t-1}`.
    fn h_next(q: &Point, v: GruVariant, h_prev: &Array1<f64>) -> Array1<f64> {
        let x = q.x_t.view().insert_axis(Axis(0));
        let h0 = h_prev.clone().insert_axis(Axis(0));
        let (h1, _) = match v {
            GruVariant::ResetAfter => Gru::step(&q.p, x, &h0),
            GruVariant::ResetBefore => GruCho::step(&q.p, x, &h0),
        };
        h1.row(0).to_owned()
    }

    /// Central differences, one column per unit of `h_{t-1}`.
    fn numeric_jacobian(q: &Point, v: GruVariant) -> Array2<f64> {
        let hs = q.h_prev.len();
        let mut jac = Array2::zeros((hs, hs));
        for j in 0..hs {
            let (mut up, mut down) = (q.h_prev.clone(), q.h_prev.clone());
            up[j] += GRAD_CHECK_EPS;
            down[j] -= GRAD_CHECK_EPS;
            let col =
                (h_next(q, v, &up) - h_next(q, v, &down)) / (2.0 * GRAD_CHECK_EPS);
            jac.column_mut(j).assign(&col);
        }
        jac
    }

    #[test]
    fn the_jacobian_of_both_variants_matches_central_differences() {
        for seed in 70..73 {
            let q = point(seed);
            for v in BOTH {
                let jac = dh_dh_prev(&q.p, v, q.x_t.view(), q.h_prev.view());
                assert_arrays_close(
                    &format!("{v:?}: dh/dh_prev"),
                    &jac,
                    &numeric_jacobian(&q, v),
                    1e-9,
                    1e-7,
                );
            }
        }
    }

    /// The backward step is the Jacobian's transpose applied to `δh_t`: exercise
    /// 5.1's `dh_prev` and the derivative agree to rounding.
    #[test]
    fn its_transpose_times_dh_is_the_backward_steps_dh_prev() {
        for seed in 73..76 {
            let q = point(seed);
            let mut rng = seeded_rng(seed + 100);
            let dh: Array1<f64> = uniform_array(4, -1.0, 1.0, &mut rng);
            for v in BOTH {
                let x = q.x_t.view().insert_axis(Axis(0));
                let h0 = q.h_prev.clone().insert_axis(Axis(0));
                let dh = dh.clone().insert_axis(Axis(0));
                let mut grads = LayerGrads::zeros_like(&q.p);
                let (_, dh_prev) = match v {
                    GruVariant::ResetAfter => {
                        let (_, k) = Gru::step(&q.p, x, &h0);
                        Gru::step_backward(&q.p, &k, &dh, &mut grads)
                    }
                    GruVariant::ResetBefore => {
                        let (_, k) = GruCho::step(&q.p, x, &h0);
                        GruCho::step_backward(&q.p, &k, &dh, &mut grads)
                    }
                };
                let jac = dh_dh_prev(&q.p, v, q.x_t.view(), q.h_prev.view());
                assert_arrays_close(
                    &format!("{v:?}: J^T dh"),
                    &dh.row(0).dot(&jac),
                    &dh_prev.row(0),
                    1e-14,
                    1e-12,
                );
            }
        }
    }

    /// Without recurrent weights only the direct path is left:
    /// `∂h_t/∂h_{t-1} = diag(z)`.
    #[test]
    fn without_recurrent_weights_the_jacobian_is_the_update_gate() {
        let mut q = point(76);
        q.p.weight_hh.fill(0.0);
        for v in BOTH {
            let jac = dh_dh_prev(&q.p, v, q.x_t.view(), q.h_prev.view());
            let h0 = q.h_prev.clone().insert_axis(Axis(0));
            let (_, k) = Gru::step(&q.p, q.x_t.view().insert_axis(Axis(0)), &h0);
            let z = k.gates().slice(s![0, gate_rows(GRU_Z, 4)]).to_owned();
            assert_eq!(jac, Array2::from_diag(&z), "{v:?}");
        }
    }
}
