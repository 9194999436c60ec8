//! The matrix product behind one interface, two libraries: [`Ndarray`] (ndarray's
//! `general_mat_mul`, which calls `matrixmultiply`) for v1 to v3, and [`Gemm`] (the
//! `gemm` crate, compiled with its AVX-512 kernels and choosing its kernel at run
//! time) from v4 on. Swapping one for the other is v4's one change.

use ndarray::linalg::general_mat_mul;
use ndarray::{ArrayView2, ArrayViewMut2};

// ANCHOR: matmul
/// `c ← α·a·b + β·c`, in `f32`, single-threaded; any strides (a transposed view is
/// free).
pub trait MatMul {
    /// The library's name, for the page and the bench.
    const NAME: &'static str;

    /// `c ← α·a·b + β·c` with `a: [m, k]`, `b: [k, n]`, `c: [m, n]`.
    ///
    /// # Panics
    /// If the shapes do not fit.
    fn mat_mul(
        alpha: f32,
        a: &ArrayView2<f32>,
        b: &ArrayView2<f32>,
        beta: f32,
        c: &mut ArrayViewMut2<f32>,
    );
}
// ANCHOR_END: matmul

/// ndarray's `general_mat_mul` (`matrixmultiply`, AVX-512 kernels on since v4's
/// chapter).
pub struct Ndarray;

impl MatMul for Ndarray {
    const NAME: &'static str = "matrixmultiply";

    fn mat_mul(
        alpha: f32,
        a: &ArrayView2<f32>,
        b: &ArrayView2<f32>,
        beta: f32,
        c: &mut ArrayViewMut2<f32>,
    ) {
        general_mat_mul(alpha, a, b, beta, c);
    }
}

/// The `gemm` crate.
pub struct Gemm;

impl MatMul for Gemm {
    const NAME: &'static str = "gemm";

    fn mat_mul(
        alpha: f32,
        a: &ArrayView2<f32>,
        b: &ArrayView2<f32>,
        beta: f32,
        c: &mut ArrayViewMut2<f32>,
    ) {
        gemm_with(gemm::Parallelism::None, alpha, a, b, beta, c);
    }
}

impl Gemm {
    /// [`MatMul::mat_mul`] spread over the threads of the current rayon pool by the
    /// `gemm` crate itself (v7, for batches too small to split).
    pub fn mat_mul_par(
        alpha: f32,
        a: &ArrayView2<f32>,
        b: &ArrayView2<f32>,
        beta: f32,
        c: &mut ArrayViewMut2<f32>,
    ) {
        let par = match rayon::current_num_threads() {
            0 | 1 => gemm::Parallelism::None,
            n => gemm::Parallelism::Rayon(n),
        };
        gemm_with(par, alpha, a, b, beta, c);
    }
}

fn gemm_with(
    par: gemm::Parallelism,
    alpha: f32,
    a: &ArrayView2<f32>,
    b: &ArrayView2<f32>,
    beta: f32,
    c: &mut ArrayViewMut2<f32>,
) {
    let ((m, k), (k2, n)) = (a.dim(), b.dim());
    assert!(
        k == k2 && c.dim() == (m, n),
        "mat_mul: [{m}, {k}] · [{k2}, {n}] into {:?}",
        c.dim()
    );
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        c.map_inplace(|v| *v *= beta);
        return;
    }
    let (sa, sb) = (a.strides(), b.strides());
    let sc = [c.strides()[0], c.strides()[1]];
    // SAFETY: the three views are valid for their shapes and strides; `c` is
    // borrowed mutably, so it overlaps neither `a` nor `b`. `gemm` computes dst ←
    // α·dst + β·lhs·rhs (its α and β are the other way round from BLAS).
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c.as_mut_ptr(),
            sc[1],
            sc[0],
            beta != 0.0,
            a.as_ptr(),
            sa[1],
            sa[0],
            b.as_ptr(),
            sb[1],
            sb[0],
            beta,
            alpha,
            false,
            false,
            false,
            par,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    #[test]
    fn both_libraries_agree_on_any_strides_alpha_and_beta() {
        let a =
            Array2::from_shape_fn((7, 5), |(i, j)| (i * 5 + j) as f32 * 0.1 - 1.0);
        let b = Array2::from_shape_fn((9, 5), |(i, j)| (i as f32 - j as f32) * 0.2);
        let c0 = Array2::from_shape_fn((7, 9), |(i, j)| (i + j) as f32);
        for (alpha, beta) in [(1.0, 0.0), (1.0, 1.0), (-0.5, 2.0)] {
            let (mut c1, mut c2) = (c0.clone(), c0.clone());
            Ndarray::mat_mul(alpha, &a.view(), &b.t(), beta, &mut c1.view_mut());
            Gemm::mat_mul(alpha, &a.view(), &b.t(), beta, &mut c2.view_mut());
            let mut c4 = c0.clone();
            rayon::ThreadPoolBuilder::new()
                .num_threads(2)
                .build()
                .unwrap()
                .install(|| {
                    Gemm::mat_mul_par(
                        alpha,
                        &a.view(),
                        &b.t(),
                        beta,
                        &mut c4.view_mut(),
                    )
                });
            for (x, y) in c1.iter().zip(&c4) {
                assert!((x - y).abs() < 1e-5, "{x} vs {y} on two threads");
            }
            for (x, y) in c1.iter().zip(&c2) {
                assert!((x - y).abs() < 1e-5, "{x} vs {y} at α={alpha}, β={beta}");
            }
            // A transposed destination, too.
            let mut c3 = c0.t().to_owned();
            let mut c3t = c3.view_mut().reversed_axes();
            Gemm::mat_mul(alpha, &a.view(), &b.t(), beta, &mut c3t);
            for (x, y) in c1.iter().zip(c3t.iter()) {
                assert!((x - y).abs() < 1e-5);
            }
        }
    }

    #[test]
    #[should_panic(expected = "mat_mul: [7, 5] · [4, 9]")]
    fn shapes_that_do_not_fit_are_refused() {
        let (a, b) = (Array2::<f32>::zeros((7, 5)), Array2::<f32>::zeros((4, 9)));
        Gemm::mat_mul(
            1.0,
            &a.view(),
            &b.view(),
            0.0,
            &mut Array2::zeros((7, 9)).view_mut(),
        );
    }
}
