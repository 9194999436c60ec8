//! `rnnbook check`: run the book's implementation on PyTorch fixtures and compare every tensor.

use std::path::PathBuf;
use std::process::ExitCode;

use ch00_foundations::tolerance::{Comparison, FIXTURE_ATOL, FIXTURE_RTOL, compare_arrays};
use ch01_rnn::cell::LayerParams;
use ch02_bptt::backward::LayerGrads;
use ndarray::{Array2, Array3, ArrayBase, Data, Dimension};

use crate::fixture::{Cell, Fixture};

/// `rnnbook check FILE...`: checks every file and prints every tensor's errors. Exit code 0 when
/// all are within tolerance, 1 when a tensor is not, 2 when a file cannot be read.
pub fn command(files: &[PathBuf]) -> ExitCode {
    use std::fmt::Write as _;
    let mut worst = 0u8;
    let mut out = String::new();
    writeln!(
        out,
        "tolerance: |actual - expected| <= {FIXTURE_ATOL:e} + {FIXTURE_RTOL:e} * |expected|"
    )
    .expect("writing to a String");
    for path in files {
        let fixture = match crate::fixture::load(path) {
            Ok(f) => f,
            Err(e) => {
                flush_stdout(&mut out);
                eprintln!("error: {e}");
                worst = worst.max(2);
                continue;
            }
        };
        let result = check_fixture(&fixture);
        let verdict = if result.passed() { "ok" } else { "FAILED" };
        writeln!(
            out,
            "{} ({}, T={} B={} I={} H={}): {verdict}",
            path.display(),
            fixture.cell.name(),
            fixture.seq_len,
            fixture.batch,
            fixture.input_size,
            fixture.hidden_size
        )
        .expect("writing to a String");
        for t in &result.tensors {
            let c = &t.comparison;
            let mark = if c.is_within() { "ok" } else { "FAILED" };
            writeln!(
                out,
                "  {:<16} max abs {:9.3e}  max rel {:9.3e}  {mark}",
                t.name, c.max_abs, c.max_rel
            )
            .expect("writing to a String");
            if !c.is_within() {
                writeln!(out, "    {c}").expect("writing to a String");
            }
        }
        if !result.passed() {
            worst = worst.max(1);
        }
        if !flush_stdout(&mut out) {
            break; // the reader went away (e.g. `| head`): stop quietly
        }
    }
    flush_stdout(&mut out);
    ExitCode::from(worst)
}

/// Writes `buf` to stdout and clears it; false if stdout is closed (a broken pipe).
fn flush_stdout(buf: &mut String) -> bool {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    let ok = stdout
        .write_all(buf.as_bytes())
        .and_then(|()| stdout.flush())
        .is_ok();
    buf.clear();
    ok
}

/// One tensor's comparison.
#[derive(Debug, Clone)]
pub struct TensorCheck {
    /// The tensor, as named in the fixture (`y`, `h_n`, `grads.weight_hh`, …).
    pub name: &'static str,
    /// Errors of the book's value against the fixture's.
    pub comparison: Comparison,
}

/// The result of checking one fixture.
#[derive(Debug, Clone)]
pub struct FixtureCheck {
    /// Every compared tensor, outputs first, then gradients.
    pub tensors: Vec<TensorCheck>,
}

impl FixtureCheck {
    /// True when every tensor is within `FIXTURE_ATOL + FIXTURE_RTOL·|expected|`.
    pub fn passed(&self) -> bool {
        self.tensors.iter().all(|t| t.comparison.is_within())
    }
}

fn compare<S1, S2, D>(
    out: &mut Vec<TensorCheck>,
    name: &'static str,
    actual: &ArrayBase<S1, D>,
    expected: &ArrayBase<S2, D>,
) where
    S1: Data<Elem = f64>,
    S2: Data<Elem = f64>,
    D: Dimension,
{
    let comparison = compare_arrays(actual, expected, FIXTURE_ATOL, FIXTURE_RTOL)
        .expect("fixture shapes were validated when the file was read");
    out.push(TensorCheck { name, comparison });
}

/// Runs the book's forward and backward on the fixture's inputs and compares every tensor.
pub fn check_fixture(f: &Fixture) -> FixtureCheck {
    match f.cell {
        Cell::RnnTanh => check_rnn_tanh(f),
        Cell::Lstm => check_lstm(f),
        Cell::Gru => check_gru(f, ch05_gru::GruVariant::ResetAfter),
        Cell::GruCho => check_gru(f, ch05_gru::GruVariant::ResetBefore),
    }
}

/// Every cell's parameters are chapter 1's layer: PyTorch's four tensors from the fixture.
fn layer_from_fixture<const G: usize>(f: &Fixture) -> LayerParams<G> {
    LayerParams {
        weight_ih: f.params.weight_ih.clone(),
        weight_hh: f.params.weight_hh.clone(),
        bias_ih: f.params.bias_ih.clone(),
        bias_hh: f.params.bias_hh.clone(),
    }
}

/// A fixture's optional upstream gradient, zeros when absent.
fn or_zeros(f: &Fixture, grad: &Option<Array2<f64>>) -> Array2<f64> {
    grad.clone()
        .unwrap_or_else(|| Array2::zeros(f.h0.raw_dim()))
}

/// What one forward and backward run of a cell gave; `c` parts only for the LSTM.
struct Run<const G: usize> {
    y: Array3<f64>,
    h_n: Array2<f64>,
    c_n: Option<Array2<f64>>,
    grads: LayerGrads<G>,
    dx: Array3<f64>,
    dh0: Array2<f64>,
    dc0: Option<Array2<f64>>,
}

impl<const G: usize> Run<G> {
    /// The run of a cell whose state is `h` alone (the LSTM adds its `c` parts).
    fn of_h(
        (y, h_n): (Array3<f64>, Array2<f64>),
        (grads, dx, dh0): (LayerGrads<G>, Array3<f64>, Array2<f64>),
    ) -> Self {
        let (c_n, dc0) = (None, None);
        Run {
            y,
            h_n,
            c_n,
            grads,
            dx,
            dh0,
            dc0,
        }
    }
}

/// Every tensor of `run` against the fixture: outputs first, then gradients.
fn compare_run<const G: usize>(f: &Fixture, run: Run<G>) -> FixtureCheck {
    let known = "checked when the file was read";
    let mut t = Vec::new();
    compare(&mut t, "y", &run.y, &f.y);
    compare(&mut t, "h_n", &run.h_n, &f.h_n);
    if let Some(c_n) = &run.c_n {
        compare(&mut t, "c_n", c_n, f.c_n.as_ref().expect(known));
    }
    let g = &run.grads;
    compare(&mut t, "grads.weight_ih", &g.dweight_ih, &f.grads.weight_ih);
    compare(&mut t, "grads.weight_hh", &g.dweight_hh, &f.grads.weight_hh);
    compare(&mut t, "grads.bias_ih", &g.dbias_ih, &f.grads.bias_ih);
    compare(&mut t, "grads.bias_hh", &g.dbias_hh, &f.grads.bias_hh);
    compare(&mut t, "grads.x", &run.dx, &f.grad_x);
    compare(&mut t, "grads.h0", &run.dh0, &f.grad_h0);
    if let Some(dc0) = &run.dc0 {
        compare(&mut t, "grads.c0", dc0, f.grad_c0.as_ref().expect(known));
    }
    FixtureCheck { tensors: t }
}

/// Chapter 2's hand-written backward (exercise 2.1), not the generic loop.
fn check_rnn_tanh(f: &Fixture) -> FixtureCheck {
    let p = layer_from_fixture(f);
    let (y, h_n, cache) = ch02_bptt::forward(&p, f.x.view(), f.h0.view());
    let dh_n = or_zeros(f, &f.grad_h_n);
    let back = ch02_bptt::backward(&p, &cache, f.grad_y.view(), dh_n.view());
    compare_run(f, Run::of_h((y, h_n), back))
}

fn check_lstm(f: &Fixture) -> FixtureCheck {
    use ch04_lstm::LstmState;
    let p = layer_from_fixture(f);
    let c0 =
        f.c0.clone()
            .expect("an lstm fixture has c0 (checked when read)");
    let s0 = LstmState {
        h: f.h0.clone(),
        c: c0,
    };
    let (y, s_n, caches) = ch04_lstm::forward(&p, f.x.view(), &s0);
    let ds_n = LstmState {
        h: or_zeros(f, &f.grad_h_n),
        c: or_zeros(f, &f.grad_c_n),
    };
    let (grads, dx, ds0) = ch04_lstm::backward(&p, &caches, f.grad_y.view(), &ds_n);
    let mut run = Run::of_h((y, s_n.h), (grads, dx, ds0.h));
    (run.c_n, run.dc0) = (Some(s_n.c), Some(ds0.c));
    compare_run(f, run)
}

fn check_gru(f: &Fixture, variant: ch05_gru::GruVariant) -> FixtureCheck {
    let p = layer_from_fixture(f);
    let (y, h_n, caches) = ch05_gru::forward(&p, variant, f.x.view(), &f.h0);
    let dh_n = or_zeros(f, &f.grad_h_n);
    let back = ch05_gru::backward(&p, variant, &caches, f.grad_y.view(), &dh_n);
    compare_run(f, Run::of_h((y, h_n), back))
}
