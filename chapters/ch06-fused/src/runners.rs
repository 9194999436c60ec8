//! Every implementation of a cell behind one interface, on one fixed problem, so that the tests
//! and `rnnbook bench` check and time exactly the same calls.
//!
//! A problem is a random LSTM or GRU (PyTorch's initialisation), input `x: [T, B, I]`, initial
//! states and the upstream gradients `dy: [T, B, H]`, `dh_n` (and `dc_n`), drawn in `f64` from a
//! seed. `naive` is the chapter 4/5 code on them in `f64`; the fast versions get the same numbers
//! rounded to `f32`. [`check`] compares a version's outputs and every gradient with `naive`'s.

use ch00_foundations::rng::{seeded_rng, uniform_array};
use ch00_foundations::tolerance::{F32_VS_F64_ATOL, F32_VS_F64_RTOL, compare_arrays};
use ch04_lstm::{LstmParams, LstmState};
use ch05_gru::{GruParams, GruVariant};
use ndarray::{Array, Array2, Array3, ArrayD, ArrayView3, Dimension};

use crate::gru::{self, GruF32, GruF32Grads};
use crate::lstm_v1::{self, LstmF32, LstmF32Grads};
use crate::{lstm_v2, lstm_v3};

/// Named tensors (outputs, then gradients) in `f64`.
pub type Named = Vec<(&'static str, ArrayD<f64>)>;

/// The cells with fast versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CellKind {
    /// Chapter 4's LSTM (4 gates).
    Lstm,
    /// Chapter 5's reset-after GRU (3 gates).
    Gru,
}

impl CellKind {
    /// `lstm` or `gru`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "lstm" => Some(CellKind::Lstm),
            "gru" => Some(CellKind::Gru),
            _ => None,
        }
    }

    /// `lstm` or `gru`.
    pub fn name(self) -> &'static str {
        match self {
            CellKind::Lstm => "lstm",
            CellKind::Gru => "gru",
        }
    }

    /// `G`: gate blocks in the weights.
    pub fn gates(self) -> usize {
        match self {
            CellKind::Lstm => 4,
            CellKind::Gru => 3,
        }
    }
}

/// `T, B, I, H`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    /// `T`.
    pub seq_len: usize,
    /// `B`.
    pub batch: usize,
    /// `I`.
    pub input_size: usize,
    /// `H`.
    pub hidden_size: usize,
}

impl Shape {
    /// GEMM flops of one forward pass, `2·T·B·(I+H)·G·H`; forward + backward is three times it.
    pub fn forward_flops(&self, cell: CellKind) -> f64 {
        let Shape {
            seq_len: t,
            batch: b,
            input_size: i,
            hidden_size: h,
        } = *self;
        2.0 * (t * b * (i + h) * cell.gates() * h) as f64
    }
}

/// One implementation, ready to run on its problem.
pub trait Runner: Sync {
    /// `naive`, `v1`, `v2`, `v3`.
    fn name(&self) -> &'static str;
    /// `f64` or `f32`.
    fn dtype(&self) -> &'static str;
    /// One forward pass (results dropped).
    fn forward(&self);
    /// One forward and backward pass (results dropped).
    fn forward_backward(&self);
    /// `y`, the final state(s), every parameter gradient, `dx` and the initial state gradients.
    fn outputs(&self) -> Named;
}

fn named<D: Dimension>(name: &'static str, a: Array<f64, D>) -> (&'static str, ArrayD<f64>) {
    (name, a.into_dyn())
}

fn up<D: Dimension>(name: &'static str, a: Array<f32, D>) -> (&'static str, ArrayD<f64>) {
    named(name, a.mapv(f64::from))
}

fn down<D: Dimension>(a: &Array<f64, D>) -> Array<f32, D> {
    a.mapv(|v| v as f32)
}

/// The problem's data in `f64`; `c0`/`dc_n` only matter for the LSTM.
struct Data64 {
    x: Array3<f64>,
    h0: Array2<f64>,
    c0: Array2<f64>,
    dy: Array3<f64>,
    dh_n: Array2<f64>,
    dc_n: Array2<f64>,
}

/// The same data rounded to `f32`.
struct Data32 {
    x: Array3<f32>,
    h0: Array2<f32>,
    c0: Array2<f32>,
    dy: Array3<f32>,
    dh_n: Array2<f32>,
    dc_n: Array2<f32>,
}

impl Data64 {
    fn f32(&self) -> Data32 {
        Data32 {
            x: down(&self.x),
            h0: down(&self.h0),
            c0: down(&self.c0),
            dy: down(&self.dy),
            dh_n: down(&self.dh_n),
            dc_n: down(&self.dc_n),
        }
    }
}

struct LstmNaive {
    p: LstmParams,
    d: Data64,
    s0: LstmState,
    ds_n: LstmState,
}

impl Runner for LstmNaive {
    fn name(&self) -> &'static str {
        "naive"
    }
    fn dtype(&self) -> &'static str {
        "f64"
    }
    fn forward(&self) {
        std::hint::black_box(ch04_lstm::forward(&self.p, self.d.x.view(), &self.s0));
    }
    fn forward_backward(&self) {
        let (_, _, caches) = ch04_lstm::forward(&self.p, self.d.x.view(), &self.s0);
        let out = ch04_lstm::backward(&self.p, &caches, self.d.dy.view(), &self.ds_n);
        std::hint::black_box(out);
    }
    fn outputs(&self) -> Named {
        let (y, s_n, caches) = ch04_lstm::forward(&self.p, self.d.x.view(), &self.s0);
        let (g, dx, ds0) = ch04_lstm::backward(&self.p, &caches, self.d.dy.view(), &self.ds_n);
        vec![
            named("y", y),
            named("h_n", s_n.h),
            named("c_n", s_n.c),
            named("dweight_ih", g.dweight_ih),
            named("dweight_hh", g.dweight_hh),
            named("dbias", g.dbias_ih), // = dbias_hh; the f32 versions sum the two biases
            named("dx", dx),
            named("dh0", ds0.h),
            named("dc0", ds0.c),
        ]
    }
}

type LstmOut<C> = (Array3<f32>, Array2<f32>, Array2<f32>, C);
type LstmBack = (LstmF32Grads, Array3<f32>, Array2<f32>, Array2<f32>);
type LstmFwdFn<C> = fn(&LstmF32, ArrayView3<f32>, &Array2<f32>, &Array2<f32>) -> LstmOut<C>;
type LstmBwdFn<C> = fn(&LstmF32, &C, ArrayView3<f32>, &Array2<f32>, &Array2<f32>) -> LstmBack;

/// An `f32` LSTM version given by its two functions.
struct LstmFast<C> {
    name: &'static str,
    p: LstmF32,
    d: Data32,
    fwd: LstmFwdFn<C>,
    bwd: LstmBwdFn<C>,
}

impl<C: Sync> LstmFast<C> {
    fn run(&self) -> (LstmOut<C>, LstmBack) {
        let d = &self.d;
        let out = (self.fwd)(&self.p, d.x.view(), &d.h0, &d.c0);
        let back = (self.bwd)(&self.p, &out.3, d.dy.view(), &d.dh_n, &d.dc_n);
        (out, back)
    }
}

impl<C: Sync> Runner for LstmFast<C> {
    fn name(&self) -> &'static str {
        self.name
    }
    fn dtype(&self) -> &'static str {
        "f32"
    }
    fn forward(&self) {
        std::hint::black_box((self.fwd)(&self.p, self.d.x.view(), &self.d.h0, &self.d.c0));
    }
    fn forward_backward(&self) {
        std::hint::black_box(self.run());
    }
    fn outputs(&self) -> Named {
        let ((y, h_n, c_n, _), (g, dx, dh0, dc0)) = self.run();
        vec![
            up("y", y),
            up("h_n", h_n),
            up("c_n", c_n),
            up("dweight_ih", g.dweight_ih),
            up("dweight_hh", g.dweight_hh),
            up("dbias", g.dbias),
            up("dx", dx),
            up("dh0", dh0),
            up("dc0", dc0),
        ]
    }
}

struct GruNaive {
    p: GruParams,
    d: Data64,
}

impl Runner for GruNaive {
    fn name(&self) -> &'static str {
        "naive"
    }
    fn dtype(&self) -> &'static str {
        "f64"
    }
    fn forward(&self) {
        let v = GruVariant::ResetAfter;
        std::hint::black_box(ch05_gru::forward(&self.p, v, self.d.x.view(), &self.d.h0));
    }
    fn forward_backward(&self) {
        let v = GruVariant::ResetAfter;
        let (_, _, caches) = ch05_gru::forward(&self.p, v, self.d.x.view(), &self.d.h0);
        let out = ch05_gru::backward(&self.p, v, &caches, self.d.dy.view(), &self.d.dh_n);
        std::hint::black_box(out);
    }
    fn outputs(&self) -> Named {
        let v = GruVariant::ResetAfter;
        let (y, h_n, caches) = ch05_gru::forward(&self.p, v, self.d.x.view(), &self.d.h0);
        let (g, dx, dh0) = ch05_gru::backward(&self.p, v, &caches, self.d.dy.view(), &self.d.dh_n);
        vec![
            named("y", y),
            named("h_n", h_n),
            named("dweight_ih", g.dweight_ih),
            named("dweight_hh", g.dweight_hh),
            named("dbias_ih", g.dbias_ih),
            named("dbias_hh", g.dbias_hh),
            named("dx", dx),
            named("dh0", dh0),
        ]
    }
}

type GruOut<C> = (Array3<f32>, Array2<f32>, C);
type GruBack = (GruF32Grads, Array3<f32>, Array2<f32>);
type GruFwdFn<C> = fn(&GruF32, ArrayView3<f32>, &Array2<f32>) -> GruOut<C>;
type GruBwdFn<C> = fn(&GruF32, &C, ArrayView3<f32>, &Array2<f32>) -> GruBack;

/// An `f32` GRU version given by its two functions.
struct GruFast<C> {
    name: &'static str,
    p: GruF32,
    d: Data32,
    fwd: GruFwdFn<C>,
    bwd: GruBwdFn<C>,
}

impl<C: Sync> GruFast<C> {
    fn run(&self) -> (GruOut<C>, GruBack) {
        let out = (self.fwd)(&self.p, self.d.x.view(), &self.d.h0);
        let back = (self.bwd)(&self.p, &out.2, self.d.dy.view(), &self.d.dh_n);
        (out, back)
    }
}

impl<C: Sync> Runner for GruFast<C> {
    fn name(&self) -> &'static str {
        self.name
    }
    fn dtype(&self) -> &'static str {
        "f32"
    }
    fn forward(&self) {
        std::hint::black_box((self.fwd)(&self.p, self.d.x.view(), &self.d.h0));
    }
    fn forward_backward(&self) {
        std::hint::black_box(self.run());
    }
    fn outputs(&self) -> Named {
        let ((y, h_n, _), (g, dx, dh0)) = self.run();
        vec![
            up("y", y),
            up("h_n", h_n),
            up("dweight_ih", g.dweight_ih),
            up("dweight_hh", g.dweight_hh),
            up("dbias_ih", g.dbias_ih),
            up("dbias_hh", g.dbias_hh),
            up("dx", dx),
            up("dh0", dh0),
        ]
    }
}

// ANCHOR: runners
/// `naive` (the chapter's `f64` code), then `v1`, `v2`, `v3`, all on the same random problem.
pub fn runners(cell: CellKind, shape: Shape, seed: u64) -> Vec<Box<dyn Runner>> {
    let (i, h) = (shape.input_size, shape.hidden_size);
    let mut rng = seeded_rng(seed);
    match cell {
        CellKind::Lstm => {
            let p = LstmParams::init(i, h, &mut rng);
            let d = random_data(shape, &mut rng);
            let p32 = LstmF32::from_f64(&p);
            let versions: Vec<Box<dyn Runner>> = vec![
                Box::new(LstmFast {
                    name: "v1",
                    p: p32.clone(),
                    d: d.f32(),
                    fwd: lstm_v1::forward,
                    bwd: lstm_v1::backward,
                }),
                Box::new(LstmFast {
                    name: "v2",
                    p: p32.clone(),
                    d: d.f32(),
                    fwd: lstm_v2::forward,
                    bwd: lstm_v2::backward,
                }),
                Box::new(LstmFast {
                    name: "v3",
                    p: p32,
                    d: d.f32(),
                    fwd: lstm_v3::forward,
                    bwd: lstm_v3::backward,
                }),
            ];
            let s0 = LstmState {
                h: d.h0.clone(),
                c: d.c0.clone(),
            };
            let ds_n = LstmState {
                h: d.dh_n.clone(),
                c: d.dc_n.clone(),
            };
            let naive: Box<dyn Runner> = Box::new(LstmNaive { p, d, s0, ds_n });
            std::iter::once(naive).chain(versions).collect()
        }
        CellKind::Gru => {
            let p = GruParams::init(i, h, &mut rng);
            let d = random_data(shape, &mut rng);
            let p32 = GruF32::from_f64(&p);
            let versions: Vec<Box<dyn Runner>> = vec![
                Box::new(GruFast {
                    name: "v1",
                    p: p32.clone(),
                    d: d.f32(),
                    fwd: gru::forward,
                    bwd: gru::backward,
                }),
                Box::new(GruFast {
                    name: "v2",
                    p: p32.clone(),
                    d: d.f32(),
                    fwd: gru::forward_v2,
                    bwd: gru::backward_v2,
                }),
                Box::new(GruFast {
                    name: "v3",
                    p: p32,
                    d: d.f32(),
                    fwd: gru::forward_v3,
                    bwd: gru::backward_v3,
                }),
            ];
            let naive: Box<dyn Runner> = Box::new(GruNaive { p, d });
            std::iter::once(naive).chain(versions).collect()
        }
    }
}
// ANCHOR_END: runners

fn random_data(shape: Shape, rng: &mut impl rand::Rng) -> Data64 {
    let Shape {
        seq_len: t,
        batch: b,
        input_size: i,
        hidden_size: h,
    } = shape;
    Data64 {
        x: uniform_array((t, b, i), -1.0, 1.0, rng),
        h0: uniform_array((b, h), -0.5, 0.5, rng),
        c0: uniform_array((b, h), -1.0, 1.0, rng),
        dy: uniform_array((t, b, h), -1.0, 1.0, rng),
        dh_n: uniform_array((b, h), -1.0, 1.0, rng),
        dc_n: uniform_array((b, h), -1.0, 1.0, rng),
    }
}

// ANCHOR: check
/// Compares every tensor of `got` with `want`: entry by entry,
/// `|got − want| ≤ 1e-5·s + 1e-4·|want|`, where `s = max(1, max |want|)` is the tensor's scale.
/// The error names the tensor and the worst entry.
///
/// The scale is there because a weight gradient is a sum over all `T·B` rows. Its rounding error
/// in `f32` is proportional to the size of the terms summed, not to the result, so an entry where
/// thousands of terms cancel to nearly zero carries an error set by its large neighbours.
pub fn check(got: &Named, want: &Named) -> Result<(), String> {
    if got.len() != want.len() {
        return Err(format!("{} tensors, expected {}", got.len(), want.len()));
    }
    for ((name, a), (want_name, e)) in got.iter().zip(want) {
        if name != want_name {
            return Err(format!("tensor {name} where {want_name} was expected"));
        }
        let scale = e.iter().fold(1.0f64, |m, v| m.max(v.abs()));
        let c = compare_arrays(a, e, F32_VS_F64_ATOL * scale, F32_VS_F64_RTOL)
            .map_err(|err| format!("{name}: {err}"))?;
        if !c.is_within() {
            return Err(format!("{name}: {c}"));
        }
    }
    Ok(())
}
// ANCHOR_END: check
