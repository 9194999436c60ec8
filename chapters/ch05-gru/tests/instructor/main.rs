//! Instructor-only tests for chapter 5: every PyTorch GRU fixture (both variants).

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
