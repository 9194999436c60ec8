//! Instructor-only tests for chapter 2: BPTT against every PyTorch `nn.RNN` fixture,
//! and the walk back from the final state on another shape.

use std::path::PathBuf;

use ch00_foundations::fixture::load;
use ch00_foundations::rng::seeded_rng;
use ch00_foundations::tolerance::{FIXTURE_ATOL, FIXTURE_RTOL, assert_arrays_close};
use ch01_rnn::RnnParams;
use ch02_bptt::driver::{Rnn, backward_seq, forward_seq, state_grads_by_distance};
use ch02_bptt::problem::Problem;
use ch02_bptt::{backward, forward};
use ndarray::{Array2, Array3};

#[test]
fn ex2_1_backward_matches_every_pytorch_rnn_fixture() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures");
    let mut n = 0;
    for k in ["tiny", "rect", "long", "saturated", "zero_state"] {
        let path = dir.join(format!("rnn_tanh_{k}.json"));
        let f = load(&path).unwrap();
        let p = RnnParams {
            weight_ih: f.params.weight_ih.clone(),
            weight_hh: f.params.weight_hh.clone(),
            bias_ih: f.params.bias_ih.clone(),
            bias_hh: f.params.bias_hh.clone(),
        };
        let (_, _, cache) = forward(&p, f.x.view(), f.h0.view());
        let dh_n = f
            .grad_h_n
            .clone()
            .unwrap_or_else(|| Array2::zeros(f.h0.raw_dim()));
        let (g, dx, dh0) = backward(&p, &cache, f.grad_y.view(), dh_n.view());
        let close =
            |what: &str, a: &ndarray::ArrayD<f64>, e: &ndarray::ArrayD<f64>| {
                assert_arrays_close(
                    &format!("{k}: {what}"),
                    a,
                    e,
                    FIXTURE_ATOL,
                    FIXTURE_RTOL,
                )
            };
        close(
            "dW_ih",
            &g.dweight_ih.into_dyn(),
            &f.grads.weight_ih.clone().into_dyn(),
        );
        close(
            "dW_hh",
            &g.dweight_hh.into_dyn(),
            &f.grads.weight_hh.clone().into_dyn(),
        );
        close(
            "db_ih",
            &g.dbias_ih.into_dyn(),
            &f.grads.bias_ih.clone().into_dyn(),
        );
        close(
            "db_hh",
            &g.dbias_hh.into_dyn(),
            &f.grads.bias_hh.clone().into_dyn(),
        );
        close("dx", &dx.into_dyn(), &f.grad_x.clone().into_dyn());
        close("dh0", &dh0.into_dyn(), &f.grad_h0.clone().into_dyn());
        n += 1;
    }
    assert_eq!(n, 5);
}

#[test]
fn ex2_2_the_walk_back_on_another_shape_and_seed() {
    let (t, b, h) = (9, 4, 3);
    let Problem {
        p, x, h0, dh_n: ds, ..
    } = Problem::<1>::random(&mut seeded_rng(202), (t, b, 5, h), 1.0, 0.5);
    let (_, _, caches) = forward_seq::<Rnn>(&p, x.view(), &h0);
    let walk = state_grads_by_distance::<Rnn>(&p, &caches, &ds);
    assert_eq!(walk.len(), t + 1);
    assert_eq!(walk[0], ds);
    for k in 1..=t {
        // The gradient k steps back is backward_seq over the last k cached steps.
        let tail = &caches[t - k..];
        let (_, _, dh) =
            backward_seq::<Rnn>(&p, tail, Array3::zeros((k, b, h)).view(), &ds);
        assert_arrays_close("dh", &walk[k], &dh, 1e-15, 1e-14);
    }
}
