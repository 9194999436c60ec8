//! Adam (Kingma & Ba, 2015), over any set of [`Tensors`].

use ch01_rnn::params::Tensors;
use ndarray::ArrayD;
use serde::{Deserialize, Serialize};

/// Adam's settings and its running moments, one pair of moment tensors per parameter
/// tensor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Adam {
    /// Step size `α`.
    pub lr: f64,
    /// Decay of the first moment, `β₁`.
    pub beta1: f64,
    /// Decay of the second moment, `β₂`.
    pub beta2: f64,
    /// `ε` in the denominator.
    pub eps: f64,
    /// Steps taken so far.
    pub step: u64,
    m: Vec<ArrayD<f64>>,
    v: Vec<ArrayD<f64>>,
}

impl Adam {
    /// Adam with the usual `β₁ = 0.9`, `β₂ = 0.999`, `ε = 1e-8`, for parameters
    /// shaped like `params`.
    pub fn new(lr: f64, params: &impl Tensors) -> Self {
        let zeros: Vec<ArrayD<f64>> = params
            .tensors()
            .iter()
            .map(|(_, t)| ArrayD::zeros(t.raw_dim()))
            .collect();
        Adam {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            step: 0,
            m: zeros.clone(),
            v: zeros,
        }
    }

    // ANCHOR: adam_step
    /// One update: `θ ← θ − α m̂ / (√v̂ + ε)`, with bias-corrected moments `m̂`,
    /// `v̂`.
    ///
    /// # Panics
    /// If `grads` does not list tensors of the same shapes, in the same order, as
    /// `params`.
    pub fn update(&mut self, params: &mut impl Tensors, grads: &impl Tensors) {
        self.step += 1;
        let t = self.step as i32;
        let (b1, b2) = (self.beta1, self.beta2);
        let (c1, c2) = (1.0 - b1.powi(t), 1.0 - b2.powi(t));
        let (mut ps, gs) = (params.tensors_mut(), grads.tensors());
        assert_eq!(
            ps.len(),
            gs.len(),
            "Adam: parameters and gradients list different numbers of tensors"
        );
        for (k, ((name, p), (_, g))) in ps.iter_mut().zip(gs).enumerate() {
            assert_eq!(
                p.shape(),
                g.shape(),
                "Adam: gradient of `{name}` has the wrong shape"
            );
            let (m, v) = (&mut self.m[k], &mut self.v[k]);
            ndarray::Zip::from(p)
                .and(&g)
                .and(m)
                .and(v)
                .for_each(|p, &g, m, v| {
                    *m = b1 * *m + (1.0 - b1) * g;
                    *v = b2 * *v + (1.0 - b2) * g * g;
                    *p -= self.lr * (*m / c1) / ((*v / c2).sqrt() + self.eps);
                });
        }
    }
    // ANCHOR_END: adam_step
}

#[cfg(test)]
mod tests {
    use super::*;
    use ch01_rnn::cell::RnnParams;

    #[test]
    fn the_first_step_moves_each_entry_by_about_lr_against_its_gradient_sign() {
        let mut p = RnnParams::zeros(2, 2);
        let mut g = RnnParams::zeros(2, 2);
        g.weight_hh[[0, 1]] = 3.0;
        g.bias_ih[1] = -0.01;
        let mut adam = Adam::new(0.1, &p);
        adam.update(&mut p, &g);
        assert!((p.weight_hh[[0, 1]] + 0.1).abs() < 1e-6);
        assert!((p.bias_ih[1] - 0.1).abs() < 1e-4);
        assert_eq!(
            p.weight_ih[[0, 0]],
            0.0,
            "a zero gradient does not move a parameter"
        );
    }

    #[test]
    fn adam_minimises_a_quadratic() {
        // L = Σ (θ − 1)², gradient 2(θ − 1).
        let mut p = RnnParams::zeros(3, 2);
        let mut adam = Adam::new(0.05, &p);
        for _ in 0..2000 {
            let mut g = p.clone();
            for (_, mut t) in g.tensors_mut() {
                t.mapv_inplace(|v| 2.0 * (v - 1.0));
            }
            adam.update(&mut p, &g);
        }
        for (name, t) in p.tensors() {
            assert!(
                t.iter().all(|&v| (v - 1.0).abs() < 1e-3),
                "{name} did not converge: {t}"
            );
        }
    }
}
