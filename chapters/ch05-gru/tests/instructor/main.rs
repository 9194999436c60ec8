//! Instructor-only tests for chapter 5: every PyTorch GRU fixture (both variants),
//! and the one-step Jacobian on other shapes.

use std::path::PathBuf;

use ch00_foundations::fixture::{Cell as FixtureCell, load};
use ch00_foundations::tolerance::{FIXTURE_ATOL, FIXTURE_RTOL, assert_arrays_close};
use ch05_gru::{GruParams, GruVariant, backward, forward};
use ndarray::Array2;

#[test]
fn ex5_1_backward_matches_every_pytorch_gru_fixture_of_both_variants() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures");
    for prefix in ["gru", "gru_cho"] {
        for k in ["tiny", "rect", "long", "saturated", "zero_state"] {
            let f = load(&dir.join(format!("{prefix}_{k}.json"))).unwrap();
            let v = match f.cell {
                FixtureCell::Gru => GruVariant::ResetAfter,
                FixtureCell::GruCho => GruVariant::ResetBefore,
                other => panic!("{prefix}_{k}: {other:?}"),
            };
            let p = GruParams {
                weight_ih: f.params.weight_ih.clone(),
                weight_hh: f.params.weight_hh.clone(),
                bias_ih: f.params.bias_ih.clone(),
                bias_hh: f.params.bias_hh.clone(),
            };
            let (_, _, caches) = forward(&p, v, f.x.view(), &f.h0);
            let dh_n = f
                .grad_h_n
                .clone()
                .unwrap_or_else(|| Array2::zeros(f.h0.raw_dim()));
            let (g, dx, dh0) = backward(&p, v, &caches, f.grad_y.view(), &dh_n);
            let (a, r) = (FIXTURE_ATOL, FIXTURE_RTOL);
            let n = format!("{prefix}_{k}");
            assert_arrays_close(
                &format!("{n}: dW_ih"),
                &g.dweight_ih,
                &f.grads.weight_ih,
                a,
                r,
            );
            assert_arrays_close(
                &format!("{n}: dW_hh"),
                &g.dweight_hh,
                &f.grads.weight_hh,
                a,
                r,
            );
            assert_arrays_close(
                &format!("{n}: db_ih"),
                &g.dbias_ih,
                &f.grads.bias_ih,
                a,
                r,
            );
            assert_arrays_close(
                &format!("{n}: db_hh"),
                &g.dbias_hh,
                &f.grads.bias_hh,
                a,
                r,
            );
            assert_arrays_close(&format!("{n}: dx"), &dx, &f.grad_x, a, r);
            assert_arrays_close(&format!("{n}: dh0"), &dh0, &f.grad_h0, a, r);
        }
    }
}

/// `∂h_t/∂h_{t-1}` of both variants on `I = 5, H = 3` and `I = 1, H = 6`, with
/// large weights: against central differences of the cell's step, and its
/// transpose times `δh_t` against the backward step's `δh_{t-1}`.
#[test]
fn ex5_2_the_jacobian_matches_finite_differences_on_another_shape() {
    use ch00_foundations::rng::{seeded_rng, uniform_array};
    use ch00_foundations::tolerance::GRAD_CHECK_EPS;
    use ch02_bptt::driver::Cell;
    use ch05_gru::jacobian::dh_dh_prev;
    use ch05_gru::{Gru, GruCho, GruGrads};
    use ndarray::{Array1, Axis};

    let step = |p: &GruParams, v, x: &Array1<f64>, h: &Array1<f64>| {
        let (x, h) = (
            x.view().insert_axis(Axis(0)),
            h.clone().insert_axis(Axis(0)),
        );
        let mut g = GruGrads::zeros_like(p);
        let dh = Array2::from_elem(h.raw_dim(), 1.0);
        let (h1, dh_prev) = match v {
            GruVariant::ResetAfter => {
                let (h1, k) = Gru::step(p, x, &h);
                (h1, Gru::step_backward(p, &k, &dh, &mut g).1)
            }
            GruVariant::ResetBefore => {
                let (h1, k) = GruCho::step(p, x, &h);
                (h1, GruCho::step_backward(p, &k, &dh, &mut g).1)
            }
        };
        (h1.row(0).to_owned(), dh_prev.row(0).to_owned())
    };
    for (seed, is, hs, scale) in [(80, 5, 3, 3.0), (81, 1, 6, 1.5)] {
        let mut rng = seeded_rng(seed);
        let mut p = GruParams::init(is, hs, &mut rng);
        p.weight_hh *= scale;
        p.bias_hh *= scale;
        let x: Array1<f64> = uniform_array(is, -1.0, 1.0, &mut rng);
        let h: Array1<f64> = uniform_array(hs, -0.9, 0.9, &mut rng);
        for v in [GruVariant::ResetAfter, GruVariant::ResetBefore] {
            let jac = dh_dh_prev(&p, v, x.view(), h.view());
            assert_eq!(jac.dim(), (hs, hs));
            let mut numeric = Array2::zeros((hs, hs));
            for j in 0..hs {
                let (mut up, mut down) = (h.clone(), h.clone());
                up[j] += GRAD_CHECK_EPS;
                down[j] -= GRAD_CHECK_EPS;
                let col = (step(&p, v, &x, &up).0 - step(&p, v, &x, &down).0)
                    / (2.0 * GRAD_CHECK_EPS);
                numeric.column_mut(j).assign(&col);
            }
            let n = format!("{v:?} I={is} H={hs}");
            assert_arrays_close(&n, &jac, &numeric, 1e-9, 1e-7);
            // δh_t = 1: δh_{t-1} is the sum of the Jacobian's rows
            let dh_prev = step(&p, v, &x, &h).1;
            assert_arrays_close(&n, &jac.sum_axis(Axis(0)), &dh_prev, 1e-14, 1e-12);
        }
    }
}
