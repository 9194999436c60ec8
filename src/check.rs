//! `rnnbook check`: run the book's implementation on PyTorch fixtures and compare every tensor.
//!
//! A single-layer fixture runs chapters 2, 4 and 5's cells; a stacked or bidirectional one runs
//! chapter 8's network of them ([`ch08_beyond::stack`]).

use std::borrow::Cow;
use std::path::PathBuf;
use std::process::ExitCode;

use ch00_foundations::tolerance::{Comparison, FIXTURE_ATOL, FIXTURE_RTOL, compare_arrays};
use ch01_rnn::cell::LayerParams;
use ch02_bptt::backward::LayerGrads;
use ch08_beyond::{Dropout, Layer, stack_backward, stack_forward};
use ndarray::{Array2, Array3, ArrayBase, Axis, Data, Dimension};

use crate::fixture::{AnyFixture, Cell, Fixture, LayerTensors, StackedFixture, param_suffix};

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
        let fixture = match crate::fixture::load_any(path) {
            Ok(f) => f,
            Err(e) => {
                flush_stdout(&mut out);
                eprintln!("error: {e}");
                worst = worst.max(2);
                continue;
            }
        };
        let result = check_any(&fixture);
        let verdict = if result.passed() { "ok" } else { "FAILED" };
        let (sizes, layers) = match &fixture {
            AnyFixture::Single(f) => ((f.seq_len, f.batch, f.input_size, f.hidden_size), None),
            AnyFixture::Stacked(f) => (
                (f.seq_len, f.batch, f.input_size, f.hidden_size),
                Some((f.num_layers, f.directions())),
            ),
        };
        let layers = layers.map_or(String::new(), |(l, d)| format!(" L={l} D={d}"));
        writeln!(
            out,
            "{} ({},{layers} T={} B={} I={} H={}): {verdict}",
            path.display(),
            fixture.cell().name(),
            sizes.0,
            sizes.1,
            sizes.2,
            sizes.3
        )
        .expect("writing to a String");
        let width = result
            .tensors
            .iter()
            .map(|t| t.name.chars().count())
            .max()
            .unwrap_or(0);
        for t in &result.tensors {
            let c = &t.comparison;
            let mark = if c.is_within() { "ok" } else { "FAILED" };
            writeln!(
                out,
                "  {:<width$} max abs {:9.3e}  max rel {:9.3e}  {mark}",
                t.name,
                c.max_abs,
                c.max_rel,
                width = width.max(16)
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
    /// The tensor, as named in the fixture (`y`, `h_n`, `grads.weight_hh`,
    /// `grads.weight_hh_l1_reverse`, …).
    pub name: Cow<'static, str>,
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
    name: impl Into<Cow<'static, str>>,
    actual: &ArrayBase<S1, D>,
    expected: &ArrayBase<S2, D>,
) where
    S1: Data<Elem = f64>,
    S2: Data<Elem = f64>,
    D: Dimension,
{
    let comparison = compare_arrays(actual, expected, FIXTURE_ATOL, FIXTURE_RTOL)
        .expect("fixture shapes were validated when the file was read");
    out.push(TensorCheck {
        name: name.into(),
        comparison,
    });
}

/// Checks a fixture of either format: [`check_fixture`] or [`check_stacked`].
pub fn check_any(f: &AnyFixture) -> FixtureCheck {
    match f {
        AnyFixture::Single(f) => check_fixture(f),
        AnyFixture::Stacked(f) => check_stacked(f),
    }
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

/// Runs chapter 8's stacked network on a stacked or bidirectional fixture, without dropout, and
/// compares every tensor: `y`, `h_n` (`c_n`), every layer's and direction's four parameter
/// gradients (`grads.weight_ih_l0`, …, `grads.bias_hh_l1_reverse`), then `grads.x`, `grads.h0`
/// (`grads.c0`).
pub fn check_stacked(f: &StackedFixture) -> FixtureCheck {
    match f.cell {
        Cell::RnnTanh => check_stack::<ch02_bptt::driver::Rnn, 1>(f),
        Cell::Lstm => check_stack::<ch04_lstm::Lstm, 4>(f),
        Cell::Gru => check_stack::<ch05_gru::Gru, 3>(f),
        // The reader refuses a stacked gru_cho (PyTorch has none); were one read, it is
        // checked as what it says it is.
        Cell::GruCho => check_stack::<ch05_gru::GruCho, 3>(f),
    }
}

/// A state built from, and read back into, a fixture's `h` and `c` parts.
trait FixtureState: Sized {
    /// From `h: [B, H]` and, for the LSTM, `c: [B, H]` (zeros when the fixture has none).
    fn from_parts(h: Array2<f64>, c: Array2<f64>) -> Self;
    /// `h: [B, H]`.
    fn h_part(&self) -> &Array2<f64>;
    /// `c: [B, H]`, for the LSTM.
    fn c_part(&self) -> Option<&Array2<f64>>;
}

impl FixtureState for Array2<f64> {
    fn from_parts(h: Array2<f64>, _c: Array2<f64>) -> Self {
        h
    }
    fn h_part(&self) -> &Array2<f64> {
        self
    }
    fn c_part(&self) -> Option<&Array2<f64>> {
        None
    }
}

impl FixtureState for ch04_lstm::LstmState {
    fn from_parts(h: Array2<f64>, c: Array2<f64>) -> Self {
        ch04_lstm::LstmState { h, c }
    }
    fn h_part(&self) -> &Array2<f64> {
        &self.h
    }
    fn c_part(&self) -> Option<&Array2<f64>> {
        Some(&self.c)
    }
}

/// Entry `k` of `[L·D, B, H]` states, or zeros `[B, H]` when the fixture has none.
fn state_part(states: Option<&Array3<f64>>, k: usize, f: &StackedFixture) -> Array2<f64> {
    states.map_or_else(
        || Array2::zeros((f.batch, f.hidden_size)),
        |s| s.index_axis(Axis(0), k).to_owned(),
    )
}

/// `L·D` states from the fixture's `[L·D, B, H]` `h` and `c` parts.
fn states_of<S: FixtureState>(
    f: &StackedFixture,
    h: Option<&Array3<f64>>,
    c: Option<&Array3<f64>>,
) -> Vec<S> {
    (0..f.num_layers * f.directions())
        .map(|k| S::from_parts(state_part(h, k, f), state_part(c, k, f)))
        .collect()
}

/// One part of `L·D` states stacked into `[L·D, B, H]`.
fn stacked_part(parts: Vec<&Array2<f64>>) -> Array3<f64> {
    let views: Vec<_> = parts.iter().map(|p| p.view()).collect();
    ndarray::stack(Axis(0), &views).expect("L·D ≥ 1 states, each [B, H]")
}

fn check_stack<C, const G: usize>(f: &StackedFixture) -> FixtureCheck
where
    C: ch02_bptt::driver::Cell<Params = LayerParams<G>, Grads = LayerGrads<G>>,
    C::State: FixtureState,
{
    let d = f.directions();
    let params = |t: &LayerTensors| LayerParams::<G> {
        weight_ih: t.weight_ih.clone(),
        weight_hh: t.weight_hh.clone(),
        bias_ih: t.bias_ih.clone(),
        bias_hh: t.bias_hh.clone(),
    };
    let layers: Vec<Layer<LayerParams<G>>> = f
        .params
        .chunks(d)
        .map(|dirs| Layer {
            forward: params(&dirs[0]),
            reverse: dirs.get(1).map(params),
        })
        .collect();
    let s0: Vec<C::State> = states_of(f, Some(&f.h0), f.c0.as_ref());
    let (y, s_n, cache) = stack_forward::<C>(&layers, f.x.view(), &s0, &Dropout::none());
    let ds_n: Vec<C::State> = states_of(f, f.grad_h_n.as_ref(), f.grad_c_n.as_ref());
    let (grads, dx, ds0) = stack_backward::<C>(&layers, &cache, f.grad_y.view(), &ds_n);

    let known = "checked when the file was read";
    let mut t = Vec::new();
    compare(&mut t, "y", &y, &f.y);
    compare(
        &mut t,
        "h_n",
        &stacked_part(s_n.iter().map(|s| s.h_part()).collect()),
        &f.h_n,
    );
    if let Some(c_n) = s_n.iter().map(|s| s.c_part()).collect::<Option<Vec<_>>>() {
        compare(
            &mut t,
            "c_n",
            &stacked_part(c_n),
            f.c_n.as_ref().expect(known),
        );
    }
    for (l, layer) in grads.iter().enumerate() {
        for dir in 0..d {
            let (Some(g), Some(want)) = (layer.direction(dir), f.grads.get(l * d + dir)) else {
                continue; // every layer has D directions (checked when read)
            };
            let s = param_suffix(l, dir);
            compare(
                &mut t,
                format!("grads.weight_ih{s}"),
                &g.dweight_ih,
                &want.weight_ih,
            );
            compare(
                &mut t,
                format!("grads.weight_hh{s}"),
                &g.dweight_hh,
                &want.weight_hh,
            );
            compare(
                &mut t,
                format!("grads.bias_ih{s}"),
                &g.dbias_ih,
                &want.bias_ih,
            );
            compare(
                &mut t,
                format!("grads.bias_hh{s}"),
                &g.dbias_hh,
                &want.bias_hh,
            );
        }
    }
    compare(&mut t, "grads.x", &dx, &f.grad_x);
    compare(
        &mut t,
        "grads.h0",
        &stacked_part(ds0.iter().map(|s| s.h_part()).collect()),
        &f.grad_h0,
    );
    if let Some(dc0) = ds0.iter().map(|s| s.c_part()).collect::<Option<Vec<_>>>() {
        compare(
            &mut t,
            "grads.c0",
            &stacked_part(dc0),
            f.grad_c0.as_ref().expect(known),
        );
    }
    FixtureCheck { tensors: t }
}
