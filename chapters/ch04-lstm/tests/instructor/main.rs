//! Instructor-only tests for chapter 4: every PyTorch `nn.LSTM` fixture, the
//! TensorFlow conversion by hand, the Jacobian against finite differences on another
//! cell, chapter 2's walk back with the LSTM cell, and the peephole step's gradients
//! on another shape.

use std::path::PathBuf;

use ch00_foundations::fixture::load;
use ch00_foundations::rng::{seeded_rng, uniform_array};
use ch00_foundations::tolerance::{FIXTURE_ATOL, FIXTURE_RTOL, assert_arrays_close};
use ch02_bptt::driver::{Cell, backward_seq, forward_seq, state_grads_by_distance};
use ch02_bptt::problem::Problem;
use ch04_lstm::frameworks::TfBasicLstm;
use ch04_lstm::jacobian::dc_dc_prev;
use ch04_lstm::peephole::{
    PeepholeGrads, Peepholes, peephole_step, peephole_step_backward,
};
use ch04_lstm::{Lstm, LstmGrads, LstmParams, LstmState, backward, forward};
use ndarray::{Array1, Array2, Array3, array};

#[test]
fn ex4_1_backward_matches_every_pytorch_lstm_fixture() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures");
    for k in [
        "tiny",
        "rect",
        "long",
        "saturated",
        "zero_state",
        "forget_bias",
    ] {
        let f = load(&dir.join(format!("lstm_{k}.json"))).unwrap();
        let p = LstmParams {
            weight_ih: f.params.weight_ih.clone(),
            weight_hh: f.params.weight_hh.clone(),
            bias_ih: f.params.bias_ih.clone(),
            bias_hh: f.params.bias_hh.clone(),
        };
        let s0 = LstmState {
            h: f.h0.clone(),
            c: f.c0.clone().unwrap(),
        };
        let (_, _, caches) = forward(&p, f.x.view(), &s0);
        let zeros = || Array2::zeros(f.h0.raw_dim());
        let ds_n = LstmState {
            h: f.grad_h_n.clone().unwrap_or_else(zeros),
            c: f.grad_c_n.clone().unwrap_or_else(zeros),
        };
        let (g, dx, ds0) = backward(&p, &caches, f.grad_y.view(), &ds_n);
        let (a, r) = (FIXTURE_ATOL, FIXTURE_RTOL);
        assert_arrays_close(
            &format!("{k}: dW_ih"),
            &g.dweight_ih,
            &f.grads.weight_ih,
            a,
            r,
        );
        assert_arrays_close(
            &format!("{k}: dW_hh"),
            &g.dweight_hh,
            &f.grads.weight_hh,
            a,
            r,
        );
        assert_arrays_close(
            &format!("{k}: db_ih"),
            &g.dbias_ih,
            &f.grads.bias_ih,
            a,
            r,
        );
        assert_arrays_close(
            &format!("{k}: db_hh"),
            &g.dbias_hh,
            &f.grads.bias_hh,
            a,
            r,
        );
        assert_arrays_close(&format!("{k}: dx"), &dx, &f.grad_x, a, r);
        assert_arrays_close(&format!("{k}: dh0"), &ds0.h, &f.grad_h0, a, r);
        assert_arrays_close(
            &format!("{k}: dc0"),
            &ds0.c,
            f.grad_c0.as_ref().unwrap(),
            a,
            r,
        );
    }
}

#[test]
fn ex4_2_one_unit_by_hand() {
    // I = 1, H = 1: kernel rows [x; h], columns TF's i, j, f, o.
    let t = TfBasicLstm {
        kernel: array![[1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0]],
        bias: array![0.1, 0.2, 0.3, 0.4],
        forget_bias: 1.0,
    };
    let p = t.to_pytorch();
    // PyTorch's rows: i, f, g, o.
    assert_eq!(p.weight_ih, array![[1.0], [3.0], [2.0], [4.0]]);
    assert_eq!(p.weight_hh, array![[5.0], [7.0], [6.0], [8.0]]);
    let b: Array1<f64> = &p.bias_ih + &p.bias_hh;
    for (got, want) in b.iter().zip([0.1, 1.3, 0.2, 0.4]) {
        assert!((got - want).abs() < 1e-15, "{b}");
    }
}

#[test]
fn ex4_3_the_jacobian_matches_finite_differences_on_another_cell() {
    let mut rng = seeded_rng(404);
    let (i, h) = (3, 6);
    let p = LstmParams::init(i, h, &mut rng);
    let x: Array1<f64> = uniform_array(i, -1.0, 1.0, &mut rng);
    let o_prev: Array1<f64> = uniform_array(h, 0.1, 0.9, &mut rng);
    let c_prev: Array1<f64> = uniform_array(h, -1.5, 1.5, &mut rng);
    let jac = dc_dc_prev(&p, x.view(), o_prev.view(), c_prev.view());
    let c_t = |c: &Array1<f64>| {
        let prev = LstmState {
            h: (&o_prev * &c.mapv(f64::tanh)).insert_axis(ndarray::Axis(0)),
            c: c.clone().insert_axis(ndarray::Axis(0)),
        };
        let x2 = x.clone().insert_axis(ndarray::Axis(0));
        Lstm::step(&p, x2.view(), &prev).0.c.row(0).to_owned()
    };
    let eps = 1e-6;
    let mut numeric = Array2::zeros((h, h));
    for j in 0..h {
        let (mut up, mut down) = (c_prev.clone(), c_prev.clone());
        up[j] += eps;
        down[j] -= eps;
        numeric
            .column_mut(j)
            .assign(&((c_t(&up) - c_t(&down)) / (2.0 * eps)));
    }
    assert_arrays_close("dc_t/dc_prev", &jac, &numeric, 1e-8, 1e-6);
}

#[test]
fn ex4_1_the_walk_back_with_the_lstm_ends_at_backward_seq() {
    let (t, b, h) = (7, 2, 4);
    let mut rng = seeded_rng(505);
    let pr = Problem::<4>::random(&mut rng, (t, b, 3, h), 1.0, 0.5);
    let p = pr.p;
    let x = pr.x;
    let s0 = LstmState {
        h: pr.h0,
        c: uniform_array((b, h), -1.0, 1.0, &mut rng),
    };
    let ds = LstmState {
        h: pr.dh_n,
        c: uniform_array((b, h), -1.0, 1.0, &mut rng),
    };
    let (_, _, caches) = forward_seq::<Lstm>(&p, x.view(), &s0);
    let walk = state_grads_by_distance::<Lstm>(&p, &caches, &ds);
    assert_eq!(walk.len(), t + 1);
    let (_, _, ds0) =
        backward_seq::<Lstm>(&p, &caches, Array3::zeros((t, b, h)).view(), &ds);
    assert_arrays_close("dh0", &walk[t].h, &ds0.h, 1e-13, 1e-12);
    assert_arrays_close("dc0", &walk[t].c, &ds0.c, 1e-13, 1e-12);
}

/// One peephole step, `L = Σ h_t ⊙ gh + Σ c_t ⊙ gc`, on `B = 3`, `I = 2`, `H = 5`
/// with large peepholes: every gradient against central differences.
#[test]
fn ex4_4_the_peephole_gradients_pass_the_check_on_another_shape() {
    use ch00_foundations::gradcheck::{assert_every_gradient, assert_gradient};
    for (seed, peep) in [(90, 1.0), (91, 4.0)] {
        let mut rng = seeded_rng(seed);
        let (b, is, hs) = (3, 2, 5);
        let p = LstmParams::init(is, hs, &mut rng);
        let mut w = Peepholes::init(hs, &mut rng);
        w.p_i *= peep;
        w.p_f *= -peep;
        w.p_o *= peep;
        let x: Array2<f64> = uniform_array((b, is), -1.0, 1.0, &mut rng);
        let s0 = LstmState {
            h: uniform_array((b, hs), -0.9, 0.9, &mut rng),
            c: uniform_array((b, hs), -2.0, 2.0, &mut rng),
        };
        let dnext = LstmState {
            h: uniform_array((b, hs), -1.0, 1.0, &mut rng),
            c: uniform_array((b, hs), -1.0, 1.0, &mut rng),
        };
        let loss =
            |p: &LstmParams, w: &Peepholes, x: &Array2<f64>, s: &LstmState| {
                let (next, _) = peephole_step(p, w, x.view(), s);
                (&next.h * &dnext.h).sum() + (&next.c * &dnext.c).sum()
            };
        let (_, cache) = peephole_step(&p, &w, x.view(), &s0);
        let mut g = LstmGrads::zeros_like(&p);
        let mut dw = PeepholeGrads::zeros_like(&w);
        let (dx, ds0) =
            peephole_step_backward(&p, &w, &cache, &dnext, &mut g, &mut dw);
        assert_every_gradient(&p, &g, |p| loss(p, &w, &x, &s0));
        assert_every_gradient(&w, &dw, |w| loss(&p, w, &x, &s0));
        assert_gradient("x", &x, &dx, |x| loss(&p, &w, x, &s0));
        assert_gradient("h_prev", &s0.h, &ds0.h, |h| {
            let s = LstmState {
                h: h.clone(),
                c: s0.c.clone(),
            };
            loss(&p, &w, &x, &s)
        });
        assert_gradient("c_prev", &s0.c, &ds0.c, |c| {
            let s = LstmState {
                h: s0.h.clone(),
                c: c.clone(),
            };
            loss(&p, &w, &x, &s)
        });
    }
}
