//! Where the reset gate sits is a different function; which side of the update gate
//! is called `z` is only a relabeling. Both claims of the chapter, as tests.

use ch00_foundations::activations::sigmoid;
use ch00_foundations::notation::{GRU_N, GRU_R, GRU_Z, gate_rows};
use ch00_foundations::rng::{seeded_rng, uniform_array};
use ch00_foundations::tolerance::assert_arrays_close;
use ndarray::{Array2, Array3, ArrayView2, s};

use crate::cell::{GruParams, GruVariant, forward};

/// Largest `|a − b|` over all entries.
fn max_abs_diff(a: &Array3<f64>, b: &Array3<f64>) -> f64 {
    (a - b).iter().fold(0.0f64, |m, d| m.max(d.abs()))
}

/// One step of the reset-before GRU written the way the source posts write it:
/// `z = σ(W_z [h, x])`, `r = σ(W_r [h, x])`, `h̃ = tanh(W [r ⊙ h, x])`,
/// `h' = (1 − z) ⊙ h + z ⊙ h̃`, with our tensors and biases. An independent oracle:
/// it shares no code with `cell.rs`. Shapes: `x_t: [B, I]`, `h: [B, H]` → `[B, H]`.
fn source_labelled_step(
    p: &GruParams,
    x_t: ArrayView2<f64>,
    h: &Array2<f64>,
) -> Array2<f64> {
    let hs = p.hidden_size();
    let pre = |q: usize, h_in: &Array2<f64>| {
        let rows = gate_rows(q, hs);
        x_t.dot(&p.weight_ih.slice(s![rows.clone(), ..]).t())
            + p.bias_ih.slice(s![rows.clone()])
            + h_in.dot(&p.weight_hh.slice(s![rows.clone(), ..]).t())
            + p.bias_hh.slice(s![rows])
    };
    let r = pre(GRU_R, h).mapv(sigmoid);
    let z = pre(GRU_Z, h).mapv(sigmoid);
    let h_tilde = pre(GRU_N, &(&r * h)).mapv(f64::tanh);
    &(1.0 - &z) * h + &z * &h_tilde
}

/// A random GRU, inputs `[T, B, I]` and a random `h0: [B, H]`.
fn case(
    seed: u64,
    (t, b, i, h): (usize, usize, usize, usize),
) -> (GruParams, Array3<f64>, Array2<f64>) {
    let mut rng = seeded_rng(seed);
    let p = GruParams::init(i, h, &mut rng);
    let x = uniform_array((t, b, i), -1.0, 1.0, &mut rng);
    let h0 = uniform_array((b, h), -0.8, 0.8, &mut rng);
    (p, x, h0)
}

/// The source posts' update `h' = (1 − z) h + z h̃` is ours with `z' = 1 − z`. Since
/// `1 − σ(a) = σ(−a)`, negating the four z blocks of the parameters turns one into
/// the other: the same set of functions, only the name `z` sits on the other side.
#[test]
fn the_source_posts_update_is_ours_with_the_z_rows_negated() {
    let (p, x, h0) = case(70, (8, 2, 3, 4));
    let z = gate_rows(GRU_Z, 4);
    let mut negated = p.clone();
    negated
        .weight_ih
        .slice_mut(s![z.clone(), ..])
        .mapv_inplace(|w| -w);
    negated
        .weight_hh
        .slice_mut(s![z.clone(), ..])
        .mapv_inplace(|w| -w);
    negated
        .bias_ih
        .slice_mut(s![z.clone()])
        .mapv_inplace(|b| -b);
    negated.bias_hh.slice_mut(s![z]).mapv_inplace(|b| -b);

    let mut h = h0.clone();
    let mut y_source = Array3::zeros((8, 2, 4));
    for (t, x_t) in x.outer_iter().enumerate() {
        h = source_labelled_step(&p, x_t, &h);
        y_source.slice_mut(s![t, .., ..]).assign(&h);
    }
    let (y_ours, _, _) = forward(&negated, GruVariant::ResetBefore, x.view(), &h0);
    // σ(−a) and 1 − σ(a) round differently in the last bit; nothing else differs.
    assert_arrays_close("y", &y_ours, &y_source, 1e-14, 1e-14);
    // Without the negation the same numbers are a different GRU: the labels matter
    // when weights move from one convention to the other.
    let (y_plain, _, _) = forward(&p, GruVariant::ResetBefore, x.view(), &h0);
    assert!(max_abs_diff(&y_plain, &y_source) > 1e-2);
}

/// The two candidates differ by `r ⊙ (h W_hnᵀ) − (r ⊙ h) W_hnᵀ + (r − 1) ⊙ b_hn`: a
/// diagonal matrix (`diag(r)`) on either side of `W_hn`, and `b_hn` inside or
/// outside the reset. So they agree exactly when `W_hn` is diagonal and `b_hn = 0`,
/// whatever the state, and differ as soon as either condition fails.
#[test]
fn the_variants_differ_by_where_r_meets_w_hn_and_b_hn() {
    let (p, x, h0) = case(71, (5, 2, 3, 4));
    let n = gate_rows(GRU_N, 4);
    let mut diagonal = p.clone();
    for i in 0..4 {
        for j in 0..4 {
            if i != j {
                diagonal.weight_hh[[n.start + i, j]] = 0.0;
            }
        }
    }
    let mut diagonal_no_bias = diagonal.clone();
    diagonal_no_bias.bias_hh.slice_mut(s![n.clone()]).fill(0.0);
    let mut full_no_bias = p.clone();
    full_no_bias.bias_hh.slice_mut(s![n]).fill(0.0);

    let delta = |q: &GruParams| {
        let (a, _, _) = forward(q, GruVariant::ResetAfter, x.view(), &h0);
        let (b, _, _) = forward(q, GruVariant::ResetBefore, x.view(), &h0);
        max_abs_diff(&a, &b)
    };
    // r·(w·h) against w·(r·h): equal up to the rounding of one product.
    assert!(delta(&diagonal_no_bias) < 1e-15);
    assert!(delta(&diagonal) > 1e-3, "b_hn inside vs outside r");
    assert!(delta(&full_no_bias) > 1e-3, "diag(r) W_hn vs W_hn diag(r)");
    assert!(delta(&p) > 1e-3);
}

/// With `H = 1` every `W_hn` is diagonal, so only `b_hn` can tell the variants
/// apart.
#[test]
fn with_one_unit_only_b_hn_separates_the_variants() {
    let (mut p, x, h0) = case(72, (6, 3, 2, 1));
    let delta = |q: &GruParams| {
        let (a, _, _) = forward(q, GruVariant::ResetAfter, x.view(), &h0);
        let (b, _, _) = forward(q, GruVariant::ResetBefore, x.view(), &h0);
        max_abs_diff(&a, &b)
    };
    assert!(delta(&p) > 1e-3);
    p.bias_hh[2] = 0.0; // b_hn
    assert!(delta(&p) < 1e-15);
}

/// PyTorch stores two bias vectors, `6H` numbers, but where two biases are only ever
/// added, one of them is redundant. Moving `b_hr`, `b_hz` into `b_ir`, `b_iz`
/// changes neither variant. Moving `b_hn` into `b_in` changes nothing in
/// reset-before, but changes reset-after, where `r` scales `b_hn` alone. So
/// reset-after uses `4H` of its bias numbers, reset-before `3H`.
#[test]
fn which_biases_are_redundant_depends_on_the_variant() {
    let (p, x, h0) = case(77, (6, 2, 3, 4));
    let merge = |rows: std::ops::Range<usize>| {
        let mut q = p.clone();
        let moved = q.bias_hh.slice(s![rows.clone()]).to_owned();
        q.bias_ih
            .slice_mut(s![rows.clone()])
            .scaled_add(1.0, &moved);
        q.bias_hh.slice_mut(s![rows]).fill(0.0);
        q
    };
    let (rz, n) = (0..8, gate_rows(GRU_N, 4));
    for v in [GruVariant::ResetAfter, GruVariant::ResetBefore] {
        let (y, _, _) = forward(&p, v, x.view(), &h0);
        let (y_rz, _, _) = forward(&merge(rz.clone()), v, x.view(), &h0);
        assert!(max_abs_diff(&y, &y_rz) < 1e-15, "{v:?}: r, z biases");
        let (y_n, _, _) = forward(&merge(n.clone()), v, x.view(), &h0);
        let d = max_abs_diff(&y, &y_n);
        match v {
            GruVariant::ResetBefore => assert!(d < 1e-15, "b_hn is redundant: {d}"),
            GruVariant::ResetAfter => {
                assert!(d > 1e-3, "b_hn is not redundant: {d}")
            }
        }
    }
}
