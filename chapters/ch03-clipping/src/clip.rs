//! Gradient clipping over all tensors of a gradient at once.

use ch01_rnn::params::Tensors;

/// A gradient entry that is NaN or infinite: training has already gone wrong, and
/// clipping it would hide that (a NaN norm makes every scale NaN; an infinite one
/// scales everything to 0).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("non-finite gradient: {tensor}{index:?} = {value}")]
pub struct NonFiniteGradient {
    /// The tensor's name, e.g. `dweight_hh`.
    pub tensor: &'static str,
    /// The entry's index.
    pub index: Vec<usize>,
    /// The value (NaN or ±∞).
    pub value: f64,
}

/// What a clipping call did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClipReport {
    /// The global L2 norm before clipping.
    pub norm_before: f64,
    /// The factor every entry was multiplied by (1 when nothing was clipped).
    pub scale: f64,
}

/// The first entry of `grads` (or of any tensors) that is NaN or infinite.
pub(crate) fn first_non_finite(grads: &impl Tensors) -> Option<NonFiniteGradient> {
    grads.tensors().into_iter().find_map(|(name, t)| {
        t.indexed_iter()
            .find(|(_, v)| !v.is_finite())
            .map(|(i, &v)| NonFiniteGradient {
                tensor: name,
                index: ndarray::Dimension::slice(&i).to_vec(),
                value: v,
            })
    })
}

// ANCHOR: global_norm
/// The L2 norm of all entries of all tensors together: `√(Σ_k ‖g_k‖²)`.
///
/// It is computed as `m · √(Σ (g/m)²)` with `m` the largest `|g|`, so no square
/// overflows (an entry of `1e160` squared is `inf` in `f64`) or underflows to zero.
/// NaN anywhere gives NaN; an infinite entry gives `inf`.
pub fn global_norm(grads: &impl Tensors) -> f64 {
    // BEGIN SOLUTION ex 3.1: the L2 norm of every entry of every tensor, scaled so
    //   it cannot overflow
    let tensors = grads.tensors();
    let entries = || tensors.iter().flat_map(|(_, t)| t.iter().copied());
    let largest = entries().fold(0.0f64, |m, v| {
        if m.is_nan() || v.is_nan() {
            f64::NAN
        } else {
            m.max(v.abs())
        }
    });
    if largest.is_nan() || largest == 0.0 || largest.is_infinite() {
        return largest;
    }
    // each term ≤ 1
    let scaled_sum: f64 = entries().map(|v| (v / largest).powi(2)).sum();
    largest * scaled_sum.sqrt()
    // END SOLUTION
}
// ANCHOR_END: global_norm

// ANCHOR: clip_by_global_norm
/// If the global norm exceeds `max_norm`, scales every tensor by `max_norm / norm`:
/// the direction of the whole gradient is kept and only its length is capped. With
/// `max_norm = f64::INFINITY` it never rescales but still refuses a non-finite
/// gradient.
///
/// # Errors
/// A NaN or infinite entry, named; the gradient is left untouched.
///
/// # Panics
/// If `max_norm` is not positive.
pub fn clip_by_global_norm(
    grads: &mut impl Tensors,
    max_norm: f64,
) -> Result<ClipReport, NonFiniteGradient> {
    // BEGIN SOLUTION ex 3.2: refuse non-finite gradients, then scale every tensor by
    //   max_norm / norm if the norm is larger
    assert!(max_norm > 0.0, "max_norm must be positive, got {max_norm}");
    if let Some(bad) = first_non_finite(grads) {
        return Err(bad);
    }
    let norm = global_norm(grads);
    let scale = if norm > max_norm {
        max_norm / norm // g ← g · max_norm / ‖g‖
    } else {
        1.0
    };
    if scale < 1.0 {
        for (_, mut t) in grads.tensors_mut() {
            t *= scale;
        }
    }
    Ok(ClipReport {
        norm_before: norm,
        scale,
    })
    // END SOLUTION
}
// ANCHOR_END: clip_by_global_norm

// ANCHOR: clip_by_value
/// Clamps every entry to `[-limit, limit]`. Returns how many entries were changed.
///
/// Unlike [`clip_by_global_norm`], this changes the gradient's direction whenever it
/// clips.
///
/// # Errors
/// A NaN or infinite entry, named; the gradient is left untouched.
///
/// # Panics
/// If `limit` is not positive.
pub fn clip_by_value(
    grads: &mut impl Tensors,
    limit: f64,
) -> Result<usize, NonFiniteGradient> {
    assert!(limit > 0.0, "limit must be positive, got {limit}");
    if let Some(bad) = first_non_finite(grads) {
        return Err(bad);
    }
    let mut clipped = 0;
    for (_, mut t) in grads.tensors_mut() {
        t.mapv_inplace(|v| {
            if v.abs() > limit {
                clipped += 1;
                v.clamp(-limit, limit)
            } else {
                v
            }
        });
    }
    Ok(clipped)
}
// ANCHOR_END: clip_by_value

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_abs_diff_eq;
    use ch00_foundations::rng::seeded_rng;
    use ch01_rnn::data::one_hot;
    use ch01_rnn::model::CharRnn;
    use ch02_bptt::model::{ModelGrads, loss_and_grads};
    use ndarray::{Array2, s};

    fn some_grads() -> ModelGrads {
        let mut rng = seeded_rng(30);
        let model = CharRnn::init(5, 4, &mut rng);
        let idx = Array2::from_shape_fn((9, 2), |(t, b)| (3 * t + b) % 5);
        let x = one_hot(idx.slice(s![..8, ..]), 5);
        let targets = idx.slice(s![1.., ..]).to_owned();
        loss_and_grads(
            &model,
            x.view(),
            targets.view(),
            Array2::zeros((2, 4)).view(),
        )
        .1
    }

    fn flat(g: &ModelGrads) -> Vec<f64> {
        g.tensors()
            .iter()
            .flat_map(|(_, t)| t.iter().copied().collect::<Vec<_>>())
            .collect()
    }

    #[test]
    fn global_norm_clipping_caps_the_norm_and_keeps_the_direction() {
        let before = some_grads();
        let norm = global_norm(&before);
        let mut g = before.clone();
        let report = clip_by_global_norm(&mut g, norm / 4.0).unwrap();
        assert_abs_diff_eq!(report.norm_before, norm, epsilon = 1e-15);
        assert_abs_diff_eq!(global_norm(&g), norm / 4.0, epsilon = 1e-12);
        // Same direction: every entry scaled by the same positive factor.
        for (a, b) in flat(&g).iter().zip(flat(&before)) {
            assert_abs_diff_eq!(*a, b * report.scale, epsilon = 1e-15);
        }
        assert!(report.scale > 0.0 && report.scale < 1.0);
    }

    #[test]
    fn global_norm_neither_overflows_nor_underflows() {
        let mut g = some_grads();
        let norm = global_norm(&g);
        for scale in [1e200, 1e-200] {
            let mut big = g.clone();
            for (_, mut t) in big.tensors_mut() {
                t *= scale;
            }
            // Squaring 1e200-sized entries gives inf, and 1e-200-sized ones give 0.
            assert!(
                (global_norm(&big) / (norm * scale) - 1.0).abs() < 1e-14,
                "scale {scale}"
            );
            let report = clip_by_global_norm(&mut big, norm).unwrap();
            assert!(report.scale.is_finite() && report.scale > 0.0);
        }
        g.rnn.dweight_hh[[1, 1]] = f64::NAN;
        assert!(global_norm(&g).is_nan());
        g.rnn.dweight_hh[[1, 1]] = f64::NEG_INFINITY;
        assert_eq!(global_norm(&g), f64::INFINITY);
        assert_eq!(
            global_norm(&ModelGrads::zeros_like(&CharRnn::zeros(3, 2))),
            0.0
        );
    }

    #[test]
    fn an_infinite_threshold_never_rescales_but_still_refuses_nan() {
        let before = some_grads();
        let mut g = before.clone();
        let report = clip_by_global_norm(&mut g, f64::INFINITY).unwrap();
        assert_eq!(
            (report.scale, report.norm_before),
            (1.0, global_norm(&before))
        );
        assert_eq!(g, before);
        g.out.dbias_y[0] = f64::NAN;
        let e = clip_by_global_norm(&mut g, f64::INFINITY).unwrap_err();
        assert_eq!(e.tensor, "dbias_y");
    }

    #[test]
    fn a_huge_threshold_is_the_identity_on_chapter_2s_gradients() {
        let before = some_grads();
        let mut g = before.clone();
        assert_eq!(clip_by_global_norm(&mut g, 1e12).unwrap().scale, 1.0);
        assert_eq!(g, before);
        assert_eq!(clip_by_value(&mut g, 1e12).unwrap(), 0);
        assert_eq!(g, before);
    }

    #[test]
    fn value_clipping_clamps_entries_and_can_turn_the_direction() {
        let mut g = some_grads();
        g.rnn.dweight_hh.fill(0.0);
        g.rnn.dweight_hh[[0, 0]] = 10.0;
        g.rnn.dweight_hh[[0, 1]] = 0.5;
        let n = clip_by_value(&mut g, 1.0).unwrap();
        assert!(n >= 1);
        assert_eq!(g.rnn.dweight_hh[[0, 0]], 1.0);
        assert_eq!(g.rnn.dweight_hh[[0, 1]], 0.5); // ratio 20:1 became 2:1
        assert!(flat(&g).iter().all(|v| v.abs() <= 1.0));
    }

    /// One source post writes value clipping as `g_i` if `g_i ≤ v`, else
    /// `sign(g_i) · v`: without the absolute value, a large negative entry passes
    /// unclipped.
    #[test]
    fn value_clipping_clamps_large_negative_entries_too() {
        let mut g = some_grads();
        g.rnn.dbias_ih[0] = -10.0;
        g.rnn.dbias_ih[1] = 10.0;
        let posts_rule =
            |v: f64, limit: f64| if v <= limit { v } else { v.signum() * limit };
        assert_eq!(posts_rule(-10.0, 1.0), -10.0); // left as it is
        clip_by_value(&mut g, 1.0).unwrap();
        assert_eq!((g.rnn.dbias_ih[0], g.rnn.dbias_ih[1]), (-1.0, 1.0));
    }

    #[test]
    fn a_non_finite_gradient_is_named_and_left_untouched() {
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let mut g = some_grads();
            g.rnn.dbias_hh[2] = bad;
            let copy = g.clone();
            let e = clip_by_global_norm(&mut g, 1.0).unwrap_err();
            assert_eq!((e.tensor, e.index.as_slice()), ("dbias_hh", &[2usize][..]));
            assert!(e.to_string().contains("dbias_hh[2]"), "{e}");
            assert_eq!(
                format!("{g:?}"),
                format!("{copy:?}"),
                "must not modify on error"
            );
            assert!(clip_by_value(&mut g, 1.0).is_err());
        }
    }
}
