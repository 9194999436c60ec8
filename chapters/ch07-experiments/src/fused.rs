//! Training through chapter 6's fused `f32` kernels, where a cell has one (the LSTM
//! and the reset-after GRU): the recurrent layer forward and backward in `f32`, the
//! output layer, the task's loss, Adam and the parameters in `f64`. The `f64`
//! parameters are the master copy, rounded to `f32` at every step; the kernel's
//! `f32` gradients are widened back.
//!
//! The test below holds the two paths side by side: the same first steps, loss and
//! every gradient, within chapter 6's tolerance.

use ch01_rnn::cell::LayerParams;
use ch02_bptt::backward::LayerGrads;
use ch02_bptt::driver::{Cell, Rnn};
use ch02_bptt::model::{CellModel, ModelGrads, output_backward};
use ch04_lstm::Lstm;
use ch05_gru::{Gru, GruCho};
use ch06_fused::kernel::Kernel;
use ch06_fused::layer::{LayerF32, LayerF32Grads};
use ch06_fused::{gru, lstm};
use ndarray::{Array2, Array3, ArrayView3};

/// The zero state of a kernel, `[B, H]` in every part.
pub trait ZeroState {
    /// Zeros.
    fn zeros(batch: usize, hidden: usize) -> Self;
}

impl ZeroState for Array2<f32> {
    fn zeros(batch: usize, hidden: usize) -> Self {
        Array2::zeros((batch, hidden))
    }
}

impl ZeroState for lstm::LstmState {
    fn zeros(batch: usize, hidden: usize) -> Self {
        lstm::LstmState {
            h: Array2::zeros((batch, hidden)),
            c: Array2::zeros((batch, hidden)),
        }
    }
}

// ANCHOR: kernel_loss_and_grads
/// The loss and gradient of chapter 2's `seq_loss_and_grads_with`, from the zero
/// state, with the recurrent layer run by kernel `K` in `f32`. Shapes:
/// `x: [T, B, I]`; `loss(logits)` gives the summed loss and `dL/dlogits`, both over
/// `[T, B, V]`.
pub fn kernel_loss_and_grads<K, const G: usize>(
    cell: &LayerParams<G>,
    out: &ch01_rnn::model::OutputLayer,
    x: ArrayView3<f64>,
    loss: impl FnOnce(ArrayView3<f64>) -> (f64, Array3<f64>),
) -> (f64, ModelGrads<LayerGrads<G>>)
where
    K: Kernel<Params = LayerF32<G>, Grads = LayerF32Grads<G>>,
    K::State: ZeroState,
{
    let (_, b, _) = x.dim();
    let h = cell.weight_hh.ncols();
    let p = LayerF32::from_f64(cell);
    let (y, _, cache) =
        K::forward(&p, x.mapv(|v| v as f32).view(), &K::State::zeros(b, h));
    let y = y.mapv(f64::from);
    let (loss, dlogits) = loss(out.forward(y.view()).view());
    let (out_grads, dy) = output_backward(out, y.view(), dlogits.view());
    // The loss does not read the final state: its gradient is zero.
    let (g, _dx, _ds0) = K::backward(
        &p,
        &cache,
        dy.mapv(|v| v as f32).view(),
        &K::State::zeros(b, h),
    );
    let widen = |a: &Array2<f32>| a.mapv(f64::from);
    let rnn = LayerGrads {
        dweight_ih: widen(&g.dweight_ih),
        dweight_hh: widen(&g.dweight_hh),
        dbias_ih: g.dbias_ih.mapv(f64::from),
        dbias_hh: g.dbias_hh.mapv(f64::from),
    };
    (
        loss,
        ModelGrads {
            rnn,
            out: out_grads,
        },
    )
}
// ANCHOR_END: kernel_loss_and_grads

/// A cell that may have a fused kernel.
pub trait MaybeFused: Cell + Sized {
    /// Whether it has one.
    const HAS_KERNEL: bool;

    /// The loss and gradient through the cell's fused kernel, or `None` if it has
    /// none.
    fn fused_loss_and_grads(
        model: &CellModel<Self>,
        x: ArrayView3<f64>,
        loss: impl FnOnce(ArrayView3<f64>) -> (f64, Array3<f64>),
    ) -> Option<(f64, ModelGrads<Self::Grads>)>;
}

/// `MaybeFused` for a cell: with chapter 6's kernel `$kernel` over `$g` gate blocks,
/// or none.
macro_rules! maybe_fused {
    ($cell:ty, $kernel:ty, $g:literal) => {
        impl MaybeFused for $cell {
            const HAS_KERNEL: bool = true;

            fn fused_loss_and_grads(
                model: &CellModel<Self>,
                x: ArrayView3<f64>,
                loss: impl FnOnce(ArrayView3<f64>) -> (f64, Array3<f64>),
            ) -> Option<(f64, ModelGrads<Self::Grads>)> {
                Some(kernel_loss_and_grads::<$kernel, $g>(
                    &model.cell,
                    &model.out,
                    x,
                    loss,
                ))
            }
        }
    };
    ($cell:ty) => {
        impl MaybeFused for $cell {
            const HAS_KERNEL: bool = false;

            fn fused_loss_and_grads(
                _: &CellModel<Self>,
                _: ArrayView3<f64>,
                _: impl FnOnce(ArrayView3<f64>) -> (f64, Array3<f64>),
            ) -> Option<(f64, ModelGrads<Self::Grads>)> {
                None
            }
        }
    };
}

maybe_fused!(Lstm, lstm::V5, 4);
maybe_fused!(Gru, gru::V5, 3);
maybe_fused!(Rnn);
maybe_fused!(GruCho);

#[cfg(test)]
mod tests {
    use super::*;
    use ch00_foundations::rng::{seeded_rng, stream_rng};
    use ch00_foundations::tolerance::{
        F32_VS_F64_ATOL, F32_VS_F64_RTOL, compare_arrays,
    };
    use ch01_rnn::model::OutputLayer;
    use ch01_rnn::params::Tensors;
    use ch02_bptt::driver::RecurrentState;
    use ch02_bptt::model::seq_loss_and_grads_with;

    use crate::run::{Run, RunConfig, test_batch};
    use crate::task::{Adding, Task};
    use crate::tasks::CopyTask;

    /// Every tensor of `a` against `b`'s, with chapter 6's tolerance; the worst of
    /// them.
    fn assert_close(what: &str, a: &impl Tensors, b: &impl Tensors) -> (f64, f64) {
        let mut worst = (0.0f64, 0.0f64);
        for ((name, x), (_, y)) in a.tensors().into_iter().zip(b.tensors()) {
            let c =
                compare_arrays(&x, &y, F32_VS_F64_ATOL, F32_VS_F64_RTOL).unwrap();
            assert_eq!(c.failures, 0, "{what}: {name}: {c:?}");
            worst = (worst.0.max(c.max_abs), worst.1.max(c.max_rel));
        }
        worst
    }

    /// One step's loss and every gradient, through the kernel and through chapter
    /// 2's loop.
    fn first_gradient_agrees<C, const G: usize>(task: &dyn Task)
    where
        C: MaybeFused<Params = LayerParams<G>, Grads = LayerGrads<G>>,
    {
        let mut rng = seeded_rng(5);
        let cell = LayerParams::<G>::init(task.input_size(), 16, &mut rng);
        let out = OutputLayer::init(16, task.output_size(), &mut rng);
        let model = CellModel::<C>::new(cell, out);
        let batch = task.batch(8, &mut stream_rng(5, 1));
        let loss = |l: ArrayView3<f64>| task.loss(&batch, l);
        let s0 = C::State::zeros(8, 16);
        let (want_loss, want, _) =
            seq_loss_and_grads_with(&model, batch.x.view(), &s0, loss);
        let (got_loss, got) =
            C::fused_loss_and_grads(&model, batch.x.view(), loss).expect("a kernel");
        assert!(
            (got_loss - want_loss).abs() <= F32_VS_F64_RTOL * want_loss.abs(),
            "{}: loss {got_loss} against {want_loss}",
            task.name()
        );
        assert_close(task.name(), &got, &want);
    }

    #[test]
    fn the_fused_kernels_give_the_chapters_loss_and_every_gradient_within_chapter_6s_tolerance()
     {
        let copy = CopyTask {
            symbols: 8,
            recall: 3,
            delay: 10,
        };
        for task in [&Adding { seq_len: 30 } as &dyn Task, &copy] {
            first_gradient_agrees::<Lstm, 4>(task);
            first_gradient_agrees::<Gru, 3>(task);
        }
    }

    /// The same run, five steps, through the kernel and through the chapter code.
    fn first_steps_agree<C, const G: usize>(lstm: bool) -> (f64, f64)
    where
        C: MaybeFused<Params = LayerParams<G>, Grads = LayerGrads<G>>,
    {
        let task = Adding { seq_len: 30 };
        let cfg = RunConfig {
            hidden: 16,
            batch: 8,
            steps: 5,
            lr: 1e-2,
            clip: 1.0,
            seed: 9,
            eval_every: 5,
            test_size: 20,
            forget_bias: 0.0,
            chrono: None,
            fused: false,
        };
        let fused_cfg = RunConfig {
            fused: true,
            ..cfg.clone()
        };
        let test = test_batch(&task, &cfg);
        let mut chapters = Run::<C>::new(&task, &cfg, lstm);
        let mut fused = Run::<C>::new(&task, &fused_cfg, lstm);
        for step in 1..=5 {
            let a = chapters.advance(&task, &cfg, &test).unwrap();
            let b = fused.advance(&task, &fused_cfg, &test).unwrap();
            let rel = (a.loss_per_char - b.loss_per_char).abs() / a.loss_per_char;
            assert!(
                rel <= F32_VS_F64_RTOL,
                "step {step}: loss {a:?} against {b:?}"
            );
        }
        assert_close("after 5 steps", &fused.model, &chapters.model)
    }

    #[test]
    fn the_first_five_steps_through_the_fused_kernels_match_the_chapter_code() {
        let lstm = first_steps_agree::<Lstm, 4>(true);
        let gru = first_steps_agree::<Gru, 3>(false);
        eprintln!(
            "largest parameter differences (abs, rel): lstm {lstm:?}, gru {gru:?}"
        );
    }
}
