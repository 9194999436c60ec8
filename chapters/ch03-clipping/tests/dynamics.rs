//! Tests of `dynamics`: the spectral radius, the chained backward pass, and what the
//! measured gradient norms do in the linear and the saturated regime.

use ch00_foundations::rng::{seeded_rng, uniform_array};
use ch01_rnn::cell::forward;
use ch02_bptt::backward::backward;
use ch03_clipping::dynamics::{
    DYNAMICS_HIDDEN, FIGURE_RHOS, FIGURE_SEED, FIGURE_SEQ_LEN, Regime,
    dynamics_case, figure_curves, fitted_rate, grad_norms_by_distance, norm_bounds,
    norm_curve, spectral_radius_symmetric, symmetric_eigenvalues,
    symmetric_with_radius,
};
use ndarray::{Array1, Array2, Array3, Axis, s};

/// `Q diag(λ) Qᵀ` with `Q = I − 2uuᵀ/‖u‖²`, a symmetric orthogonal matrix: its
/// eigenvalues are λ.
fn with_eigenvalues(lambda: &[f64], seed: u64) -> Array2<f64> {
    let n = lambda.len();
    let u: Array1<f64> = uniform_array(n, -1.0, 1.0, &mut seeded_rng(seed));
    let q = Array2::eye(n)
        - &(u
            .view()
            .insert_axis(Axis(1))
            .dot(&u.view().insert_axis(Axis(0)))
            * (2.0 / u.dot(&u)));
    let w = q
        .dot(&Array2::from_diag(&Array1::from(lambda.to_vec())))
        .dot(&q.t());
    (&w + &w.t()) * 0.5 // exactly symmetric despite rounding
}

#[test]
fn jacobi_finds_the_eigenvalues_of_a_known_matrix() {
    let lambda = [-1.3, -0.5, 0.0, 0.25, 0.25, 0.9, 1.1];
    let w = with_eigenvalues(&lambda, 1);
    let found = symmetric_eigenvalues(w.view());
    for (f, l) in found.iter().zip(lambda) {
        assert!(
            (f - l).abs() < 1e-13,
            "found {found:?}, expected {lambda:?}"
        );
    }
    // The radius is the largest |λ|, here a negative eigenvalue.
    assert!((spectral_radius_symmetric(w.view()) - 1.3).abs() < 1e-13);
    assert_eq!(spectral_radius_symmetric(Array2::zeros((3, 3)).view()), 0.0);
}

#[test]
#[should_panic(expected = "must be symmetric")]
fn a_non_symmetric_matrix_is_refused() {
    spectral_radius_symmetric(ndarray::array![[1.0, 2.0], [0.0, 1.0]].view());
}

#[test]
fn the_rescaled_weight_has_the_requested_radius_and_norm() {
    let mut rng = seeded_rng(2);
    let a: Array2<f64> =
        uniform_array((DYNAMICS_HIDDEN, DYNAMICS_HIDDEN), -0.2, 0.2, &mut rng);
    for rho in [0.5, 0.8, 1.0, 1.2] {
        let w = symmetric_with_radius(a.view(), rho);
        assert_eq!(w, w.t(), "must be exactly symmetric");
        assert!((spectral_radius_symmetric(w.view()) - rho).abs() < 1e-12);
        // Symmetric: the spectral norm is the radius, so no vector grows by more
        // than ρ.
        for _ in 0..20 {
            let v: Array1<f64> = uniform_array(DYNAMICS_HIDDEN, -1.0, 1.0, &mut rng);
            let wv = w.dot(&v);
            assert!(wv.dot(&wv).sqrt() <= rho * v.dot(&v).sqrt() * (1.0 + 1e-12));
        }
    }
}

#[test]
fn fitted_rate_recovers_a_geometric_sequence() {
    let norms: Vec<f64> = (0..30).map(|k| 3.0 * 0.7f64.powi(k)).collect();
    assert!((fitted_rate(&norms, 0, 29) - 0.7).abs() < 1e-12);
    assert!((fitted_rate(&norms, 5, 9) - 0.7).abs() < 1e-12);
}

/// The chained one-step calls hand over the same gradients as single calls of
/// chapter 2's `backward` over each whole tail `h_t … h_T` with `dy` only at the
/// last step.
#[test]
fn chained_one_step_backward_equals_chapter_2s_backward_over_each_tail() {
    for regime in [Regime::Linear, Regime::Saturated] {
        let c = dynamics_case(1.2, regime, 12, 5);
        let norms = grad_norms_by_distance(
            &c.params,
            c.x.view(),
            c.h0.view(),
            c.dy_last.view(),
        );
        assert_eq!(norms.len(), 13);
        let seq_len = 12;
        for t in 0..seq_len {
            let x_tail = c.x.slice(s![t.., .., ..]);
            let (_, _, cache) =
                forward(&c.params, c.x.slice(s![..t, .., ..]), c.h0.view());
            let h_t = if t == 0 {
                c.h0.clone()
            } else {
                cache.h.index_axis(Axis(0), t - 1).to_owned()
            };
            let (_, _, tail) = forward(&c.params, x_tail, h_t.view());
            let mut dy = Array3::zeros(tail.h.raw_dim());
            dy.index_axis_mut(Axis(0), seq_len - t - 1)
                .assign(&c.dy_last);
            let zero = Array2::zeros(c.dy_last.raw_dim());
            let (_, _, dh_t) = backward(&c.params, &tail, dy.view(), zero.view());
            let norm = dh_t.mapv(|v| v * v).sum().sqrt();
            assert_eq!(norms[seq_len - t], norm, "{regime:?}, t = {t}");
        }
    }
}

/// With `|h| ≪ 1` the tanh is the identity to first order, and
/// `∂L/∂h_t = dy W_hh^k`.
#[test]
fn in_the_linear_regime_the_gradient_is_dy_times_a_matrix_power() {
    for rho in FIGURE_RHOS {
        let c = dynamics_case(rho, Regime::Linear, FIGURE_SEQ_LEN, FIGURE_SEED);
        let norms = grad_norms_by_distance(
            &c.params,
            c.x.view(),
            c.h0.view(),
            c.dy_last.view(),
        );
        let mut v = c.dy_last.clone();
        for (k, &n) in norms.iter().enumerate() {
            let expected = v.mapv(|a| a * a).sum().sqrt();
            assert!(
                (n / expected - 1.0).abs() < 1e-4,
                "rho {rho}, k = {k}: {n} vs ‖dy W^k‖ = {expected}"
            );
            v = v.dot(&c.params.weight_hh);
        }
    }
}

/// For symmetric `W_hh`, `ln ‖dy W^k‖` is convex in `k` with slope rising to `ln ρ`:
/// a fitted rate is at most `ρ`, and close to it once the other eigen-directions
/// have died out.
#[test]
fn in_the_linear_regime_the_norm_changes_by_rho_per_step() {
    for curve in figure_curves()
        .into_iter()
        .filter(|c| c.regime == Regime::Linear)
    {
        let rate = fitted_rate(&curve.norms, 10, FIGURE_SEQ_LEN);
        let rho = curve.rho;
        assert!(rate <= rho * (1.0 + 1e-9), "rho {rho}: fitted rate {rate}");
        assert!(
            (rate / rho - 1.0).abs() < 0.015,
            "rho {rho}: fitted rate {rate}"
        );
        assert!(curve.max_abs_h < 1e-2 && curve.mean_dtanh > 1.0 - 1e-5);
    }
    let at_60 =
        |rho: f64| norm_curve(rho, Regime::Linear, 60, FIGURE_SEED).norms[60];
    assert!(at_60(0.8) < 1e-5, "vanishes below 1");
    assert!(
        (0.1..1.0).contains(&at_60(1.0)),
        "neither vanishes nor explodes at 1"
    );
    assert!(at_60(1.2) > 1e3, "explodes above 1");
}

#[test]
fn the_norm_bound_holds_in_both_regimes() {
    for regime in [Regime::Linear, Regime::Saturated] {
        for rho in FIGURE_RHOS {
            let c = dynamics_case(rho, regime, FIGURE_SEQ_LEN, FIGURE_SEED);
            let norms = grad_norms_by_distance(
                &c.params,
                c.x.view(),
                c.h0.view(),
                c.dy_last.view(),
            );
            let w_norm = spectral_radius_symmetric(c.params.weight_hh.view());
            let bounds = norm_bounds(
                &c.params,
                c.x.view(),
                c.h0.view(),
                c.dy_last.view(),
                w_norm,
            );
            for (k, (n, b)) in norms.iter().zip(&bounds).enumerate() {
                assert!(
                    *n <= b * (1.0 + 1e-10),
                    "{regime:?}, rho {rho}, k = {k}: {n} > {b}"
                );
            }
        }
    }
}

#[test]
fn saturation_makes_the_gradient_vanish_even_above_one() {
    let curves = figure_curves();
    for sat in curves.iter().filter(|c| c.regime == Regime::Saturated) {
        let lin = curves
            .iter()
            .find(|c| c.regime == Regime::Linear && c.rho == sat.rho)
            .unwrap();
        assert!(sat.mean_dtanh < 0.6 && sat.frac_saturated > 0.1, "{sat:?}");
        let rate = fitted_rate(&sat.norms, 10, FIGURE_SEQ_LEN);
        assert!(rate < 0.75, "rho {}: saturated rate {rate}", sat.rho);
        for k in 1..=FIGURE_SEQ_LEN {
            assert!(sat.norms[k] < lin.norms[k], "rho {}, k = {k}", sat.rho);
        }
    }
    let at_1_2 = norm_curve(1.2, Regime::Saturated, FIGURE_SEQ_LEN, FIGURE_SEED);
    assert!(at_1_2.norms[FIGURE_SEQ_LEN] < 1e-10);
}

/// A matrix that is not symmetric (not even normal) can amplify for a while although
/// its spectral radius is below 1: the radius sets the long-run rate, the norm
/// bounds each step.
#[test]
fn a_non_normal_weight_with_radius_one_half_amplifies_before_it_decays() {
    let p = ch01_rnn::cell::RnnParams {
        weight_ih: ndarray::array![[1.0], [1.0]],
        weight_hh: ndarray::array![[0.5, 10.0], [0.0, 0.5]], // eigenvalues 0.5, 0.5
        bias_ih: ndarray::array![0.0, 0.0],
        bias_hh: ndarray::array![0.0, 0.0],
    };
    let x = Array3::from_elem((30, 1, 1), 1e-12); // |h| ≪ 1: the linear regime
    let dy = ndarray::array![[1.0, 0.0]];
    let norms = grad_norms_by_distance(
        &p,
        x.view(),
        Array2::zeros((1, 2)).view(),
        dy.view(),
    );
    // dy W^k = (0.5^k, 10 k 0.5^(k−1)): 10.01 at k = 1, 10.003 at k = 2, 7.5 at k =
    // 3.
    assert!(
        norms[1] > 10.0 && norms[2] > 10.0 && norms[3] > 7.0,
        "{:?}",
        &norms[..4]
    );
    assert!(norms[30] < 1e-6);
    let rate = fitted_rate(&norms, 20, 30);
    assert!(rate > 0.5 && rate < 0.55, "long-run rate {rate}");
}
