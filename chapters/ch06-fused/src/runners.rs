//! Every implementation of a cell behind one interface, on one fixed problem, so
//! that the tests and `rnnbook bench` check and time exactly the same calls.
//!
//! A problem is a random LSTM or GRU (PyTorch's initialisation), input
//! `x: [T, B, I]`, initial states and the upstream gradients `dy: [T, B, H]`, `dh_n`
//! (and `dc_n`), drawn in `f64` from a seed. `naive` is the chapter 4/5 code on them
//! in `f64`; the fast versions get the same numbers rounded to `f32`. [`check`]
//! compares a version's outputs and every gradient with `naive`'s.
//!
//! There is one runner per kind: [`Naive`] runs any chapter 2 [`Cell`] through the
//! generic loop, [`Fast`] runs any chapter 6 [`Kernel`]; both name their tensors the
//! same way, so that the check can hold them side by side.

use ch00_foundations::rng::{seeded_rng, uniform_array};
use ch00_foundations::tolerance::{
    F32_VS_F64_ATOL, F32_VS_F64_RTOL, compare_arrays,
};
use ch02_bptt::backward::LayerGrads;
use ch02_bptt::driver::{Cell, backward_seq, forward_seq};
use ch04_lstm::LstmParams;
use ch05_gru::GruParams;
use ndarray::{Array, Array2, Array3, ArrayD, Dimension};

use crate::gru::{self, GruF32};
use crate::kernel::Kernel;
use crate::layer::LayerF32Grads;
use crate::lstm::{self, LstmF32};
use crate::simd::{Avx2, Avx512, Path, Portable};

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
    /// GEMM flops of one forward pass, `2·T·B·(I+H)·G·H`; forward + backward is
    /// three times it.
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
    /// Threads it uses when called inside the current rayon pool.
    fn threads(&self) -> usize;
    /// One forward pass (results dropped).
    fn forward(&self);
    /// One forward and backward pass (results dropped).
    fn forward_backward(&self);
    /// `y`, the final state(s), every parameter gradient, `dx` and the initial state
    /// gradients.
    fn outputs(&self) -> Named;
}

/// A tensor in `f64` for the comparison (an `f32` one is widened exactly).
pub trait Widen {
    /// `self` as `f64`, any dimension.
    fn widen(self) -> ArrayD<f64>;
}

impl<D: Dimension> Widen for Array<f64, D> {
    fn widen(self) -> ArrayD<f64> {
        self.into_dyn()
    }
}

impl<D: Dimension> Widen for Array<f32, D> {
    fn widen(self) -> ArrayD<f64> {
        self.mapv(f64::from).into_dyn()
    }
}

/// A state's parts by name: `h` and `c` for the LSTM, `h` for the GRU. `names` are
/// the names of `h` and `c` (e.g. `h_n`, `c_n`).
pub trait NamedState {
    /// The parts, named.
    fn named(self, names: [&'static str; 2]) -> Named;
}

impl NamedState for ch04_lstm::LstmState {
    fn named(self, [h, c]: [&'static str; 2]) -> Named {
        vec![(h, self.h.widen()), (c, self.c.widen())]
    }
}

impl NamedState for lstm::LstmState {
    fn named(self, [h, c]: [&'static str; 2]) -> Named {
        vec![(h, self.h.widen()), (c, self.c.widen())]
    }
}

impl<T> NamedState for Array2<T>
where
    Array2<T>: Widen,
{
    fn named(self, [h, _]: [&'static str; 2]) -> Named {
        vec![(h, self.widen())]
    }
}

/// Parameter gradients by name, as the chapters name them (`dweight_ih`, …,
/// `dbias_hh`).
pub trait NamedGrads {
    /// The gradients, named.
    fn named(self) -> Named;
}

impl<const G: usize> NamedGrads for LayerGrads<G> {
    fn named(self) -> Named {
        vec![
            ("dweight_ih", self.dweight_ih.widen()),
            ("dweight_hh", self.dweight_hh.widen()),
            ("dbias_ih", self.dbias_ih.widen()),
            ("dbias_hh", self.dbias_hh.widen()),
        ]
    }
}

impl<const G: usize> NamedGrads for LayerF32Grads<G> {
    fn named(self) -> Named {
        let widen = |a: Array2<f32>| a.mapv(f64::from);
        let (b_ih, b_hh) =
            (self.dbias_ih.mapv(f64::from), self.dbias_hh.mapv(f64::from));
        LayerGrads::<G> {
            dweight_ih: widen(self.dweight_ih),
            dweight_hh: widen(self.dweight_hh),
            dbias_ih: b_ih,
            dbias_hh: b_hh,
        }
        .named()
    }
}

/// Every tensor of one forward and backward run, in the order [`check`] compares
/// them.
fn named_run<S: NamedState, G: NamedGrads>(
    y: impl Widen,
    s_n: S,
    grads: G,
    dx: impl Widen,
    ds0: S,
) -> Named {
    let mut out = vec![("y", y.widen())];
    out.extend(s_n.named(["h_n", "c_n"]));
    out.extend(grads.named());
    out.push(("dx", dx.widen()));
    out.extend(ds0.named(["dh0", "dc0"]));
    out
}

/// A problem's inputs for one precision: `x`, the initial state, `dy` and the final
/// state's gradient.
#[derive(Clone)]
struct Problem<T, S> {
    x: Array3<T>,
    s0: S,
    dy: Array3<T>,
    ds_n: S,
}

/// The chapter's `f64` code through chapter 2's generic loop.
pub struct Naive<C: Cell> {
    p: C::Params,
    d: Problem<f64, C::State>,
}

impl<C> Runner for Naive<C>
where
    C: Cell<State: NamedState + Sync, Grads: NamedGrads, Params: Sync>,
{
    fn name(&self) -> &'static str {
        "naive"
    }
    fn dtype(&self) -> &'static str {
        "f64"
    }
    fn threads(&self) -> usize {
        1
    }
    fn forward(&self) {
        std::hint::black_box(forward_seq::<C>(&self.p, self.d.x.view(), &self.d.s0));
    }
    fn forward_backward(&self) {
        let (_, _, caches) = forward_seq::<C>(&self.p, self.d.x.view(), &self.d.s0);
        let out =
            backward_seq::<C>(&self.p, &caches, self.d.dy.view(), &self.d.ds_n);
        std::hint::black_box(out);
    }
    fn outputs(&self) -> Named {
        let (y, s_n, caches) =
            forward_seq::<C>(&self.p, self.d.x.view(), &self.d.s0);
        let (g, dx, ds0) =
            backward_seq::<C>(&self.p, &caches, self.d.dy.view(), &self.d.ds_n);
        named_run(y, s_n, g, dx, ds0)
    }
}

/// A chapter 6 version, in `f32`.
pub struct Fast<K: Kernel> {
    name: &'static str,
    p: K::Params,
    d: Problem<f32, K::State>,
}

impl<K: Kernel> Fast<K> {
    /// Forward, then backward:
    /// `(y, final state, grads, dx, initial state gradient)`.
    fn run(&self) -> RunOf<K> {
        let d = &self.d;
        let (y, s_n, cache) = K::forward(&self.p, d.x.view(), &d.s0);
        let (g, dx, ds0) = K::backward(&self.p, &cache, d.dy.view(), &d.ds_n);
        (y, s_n, g, dx, ds0)
    }
}

/// What one forward and backward run of `K` returns.
type RunOf<K> = (
    Array3<f32>,
    <K as Kernel>::State,
    <K as Kernel>::Grads,
    Array3<f32>,
    <K as Kernel>::State,
);

impl<K> Runner for Fast<K>
where
    K: Kernel<State: NamedState, Grads: NamedGrads> + Sync,
{
    fn name(&self) -> &'static str {
        self.name
    }
    fn dtype(&self) -> &'static str {
        "f32"
    }
    fn threads(&self) -> usize {
        if K::PARALLEL {
            rayon::current_num_threads()
        } else {
            1
        }
    }
    fn forward(&self) {
        std::hint::black_box(K::forward(&self.p, self.d.x.view(), &self.d.s0));
    }
    fn forward_backward(&self) {
        std::hint::black_box(self.run());
    }
    fn outputs(&self) -> Named {
        let (y, s_n, g, dx, ds0) = self.run();
        named_run(y, s_n, g, dx, ds0)
    }
}

fn down<D: Dimension>(a: &Array<f64, D>) -> Array<f32, D> {
    a.mapv(|v| v as f32)
}

// ANCHOR: runners
/// `naive` (the chapter's `f64` code), then `v1` … `v6` (and the LSTM's `v7`), all
/// on the same random problem.
pub fn runners(cell: CellKind, shape: Shape, seed: u64) -> Vec<Box<dyn Runner>> {
    build(cell, shape, seed, Set::Versions)
}

/// `naive`, then v5's kernel on every SIMD path this CPU supports (`v5-avx512`,
/// `v5-avx2`, `v5-portable`), on the same problem as [`runners`].
pub fn path_runners(
    cell: CellKind,
    shape: Shape,
    seed: u64,
) -> Vec<Box<dyn Runner>> {
    build(cell, shape, seed, Set::Paths)
}

/// `naive`, then the LSTM's v7 on every SIMD path this CPU supports (`v7-avx512`,
/// `v7-avx2`, `v7-portable`), splitting the units from one unit per thread on (so
/// that small shapes take that path too), on the same problem as [`runners`]. The
/// GRU has no v7: just `naive`.
pub fn v7_path_runners(
    cell: CellKind,
    shape: Shape,
    seed: u64,
) -> Vec<Box<dyn Runner>> {
    build(cell, shape, seed, Set::UnitPaths)
}

/// Which implementations [`build`] makes.
#[derive(Clone, Copy)]
enum Set {
    Versions,
    Paths,
    UnitPaths,
}

fn build(cell: CellKind, shape: Shape, seed: u64, set: Set) -> Vec<Box<dyn Runner>> {
    let (i, h) = (shape.input_size, shape.hidden_size);
    let mut rng = seeded_rng(seed);
    match cell {
        CellKind::Lstm => {
            let p = LstmParams::init(i, h, &mut rng);
            let d = random_data(shape, &mut rng);
            let state = |h: &Array2<f64>, c: &Array2<f64>| ch04_lstm::LstmState {
                h: h.clone(),
                c: c.clone(),
            };
            let naive = Problem {
                x: d.x.clone(),
                s0: state(&d.h0, &d.c0),
                dy: d.dy.clone(),
                ds_n: state(&d.dh_n, &d.dc_n),
            };
            let fast = Problem {
                x: down(&naive.x),
                s0: lstm::LstmState::from_f64(&naive.s0),
                dy: down(&naive.dy),
                ds_n: lstm::LstmState::from_f64(&naive.ds_n),
            };
            let p32 = LstmF32::from_f64(&p);
            let naive: Box<dyn Runner> =
                Box::new(Naive::<ch04_lstm::Lstm> { p, d: naive });
            match set {
                Set::Versions => {
                    let v7 = self::fast::<lstm::V7>("v7", &p32, &fast);
                    let mut out = versions::<
                        lstm::V1,
                        lstm::V2,
                        lstm::V3,
                        lstm::V4,
                        lstm::V5,
                        lstm::V6,
                    >(naive, p32, fast);
                    out.push(v7);
                    out
                }
                Set::Paths => {
                    paths::<
                        lstm::Packed<Avx512>,
                        lstm::Packed<Avx2>,
                        lstm::Packed<Portable>,
                    >(
                        naive, p32, fast, ["v5-avx512", "v5-avx2", "v5-portable"]
                    )
                }
                Set::UnitPaths => {
                    paths::<
                        lstm::Units<Avx512, 1>,
                        lstm::Units<Avx2, 1>,
                        lstm::Units<Portable, 1>,
                    >(
                        naive, p32, fast, ["v7-avx512", "v7-avx2", "v7-portable"]
                    )
                }
            }
        }
        CellKind::Gru => {
            let p = GruParams::init(i, h, &mut rng);
            let d = random_data(shape, &mut rng);
            let fast = Problem {
                x: down(&d.x),
                s0: down(&d.h0),
                dy: down(&d.dy),
                ds_n: down(&d.dh_n),
            };
            let naive = Problem {
                x: d.x,
                s0: d.h0,
                dy: d.dy,
                ds_n: d.dh_n,
            };
            let p32 = GruF32::from_f64(&p);
            let naive: Box<dyn Runner> =
                Box::new(Naive::<ch05_gru::Gru> { p, d: naive });
            match set {
                Set::Versions => {
                    versions::<gru::V1, gru::V2, gru::V3, gru::V4, gru::V5, gru::V6>(
                        naive, p32, fast,
                    )
                }
                Set::Paths => {
                    paths::<
                        gru::Packed<Avx512>,
                        gru::Packed<Avx2>,
                        gru::Packed<Portable>,
                    >(
                        naive, p32, fast, ["v5-avx512", "v5-avx2", "v5-portable"]
                    )
                }
                Set::UnitPaths => vec![naive],
            }
        }
    }
}

/// `naive`, then the six fast versions of one cell on the same `f32` problem.
fn versions<V1, V2, V3, V4, V5, V6>(
    naive: Box<dyn Runner>,
    p: V1::Params,
    d: Problem<f32, V1::State>,
) -> Vec<Box<dyn Runner>>
where
    V1: Kernel<State: NamedState + Clone, Grads: NamedGrads, Params: Clone>
        + Sync
        + 'static,
    V2: Kernel<Params = V1::Params, State = V1::State, Grads = V1::Grads>
        + Sync
        + 'static,
    V3: Kernel<Params = V1::Params, State = V1::State, Grads = V1::Grads>
        + Sync
        + 'static,
    V4: Kernel<Params = V1::Params, State = V1::State, Grads = V1::Grads>
        + Sync
        + 'static,
    V5: Kernel<Params = V1::Params, State = V1::State, Grads = V1::Grads>
        + Sync
        + 'static,
    V6: Kernel<Params = V1::Params, State = V1::State, Grads = V1::Grads>
        + Sync
        + 'static,
{
    vec![
        naive,
        fast::<V1>("v1", &p, &d),
        fast::<V2>("v2", &p, &d),
        fast::<V3>("v3", &p, &d),
        fast::<V4>("v4", &p, &d),
        fast::<V5>("v5", &p, &d),
        fast::<V6>("v6", &p, &d),
    ]
}

/// `naive`, then one kernel per supported SIMD path, with the paths' `names`.
fn paths<A512, A2, P>(
    naive: Box<dyn Runner>,
    p: P::Params,
    d: Problem<f32, P::State>,
    names: [&'static str; 3],
) -> Vec<Box<dyn Runner>>
where
    P: Kernel<State: NamedState + Clone, Grads: NamedGrads, Params: Clone>
        + Sync
        + 'static,
    A512: Kernel<Params = P::Params, State = P::State, Grads = P::Grads>
        + Sync
        + 'static,
    A2: Kernel<Params = P::Params, State = P::State, Grads = P::Grads>
        + Sync
        + 'static,
{
    let mut out = vec![naive];
    if Path::Avx512.is_supported() {
        out.push(fast::<A512>(names[0], &p, &d));
    }
    if Path::Avx2.is_supported() {
        out.push(fast::<A2>(names[1], &p, &d));
    }
    out.push(fast::<P>(names[2], &p, &d));
    out
}

/// One fast version on a copy of the problem.
fn fast<K>(
    name: &'static str,
    p: &K::Params,
    d: &Problem<f32, K::State>,
) -> Box<dyn Runner>
where
    K: Kernel<State: NamedState + Clone, Grads: NamedGrads, Params: Clone>
        + Sync
        + 'static,
{
    Box::new(Fast::<K> {
        name,
        p: p.clone(),
        d: d.clone(),
    })
}
// ANCHOR_END: runners

/// The numbers [`runners`] gives the `f32` versions, by name, flattened in row-major
/// order: `x`, `h0`, `c0`, `dy`, `dh_n`, `dc_n` (the last two states only matter for
/// the LSTM), then `weight_ih`, `weight_hh`, `bias_ih`, `bias_hh` in PyTorch's
/// layout. For running another library (PyTorch, in `rnnbook bench --pytorch`) on
/// exactly the same problem.
pub fn inputs_f32(
    cell: CellKind,
    shape: Shape,
    seed: u64,
) -> Vec<(&'static str, Vec<f32>)> {
    let (i, h) = (shape.input_size, shape.hidden_size);
    let mut rng = seeded_rng(seed);
    let flat = |a: ArrayD<f64>| a.iter().map(|&v| v as f32).collect::<Vec<f32>>();
    let params: [ArrayD<f64>; 4] = match cell {
        CellKind::Lstm => {
            let p = LstmParams::init(i, h, &mut rng);
            [
                p.weight_ih.into_dyn(),
                p.weight_hh.into_dyn(),
                p.bias_ih.into_dyn(),
                p.bias_hh.into_dyn(),
            ]
        }
        CellKind::Gru => {
            let p = GruParams::init(i, h, &mut rng);
            [
                p.weight_ih.into_dyn(),
                p.weight_hh.into_dyn(),
                p.bias_ih.into_dyn(),
                p.bias_hh.into_dyn(),
            ]
        }
    };
    // drawn after the parameters, as in `runners`
    let d = random_data(shape, &mut rng);
    let [w_ih, w_hh, b_ih, b_hh] = params;
    vec![
        ("x", flat(d.x.into_dyn())),
        ("h0", flat(d.h0.into_dyn())),
        ("c0", flat(d.c0.into_dyn())),
        ("dy", flat(d.dy.into_dyn())),
        ("dh_n", flat(d.dh_n.into_dyn())),
        ("dc_n", flat(d.dc_n.into_dyn())),
        ("weight_ih", flat(w_ih)),
        ("weight_hh", flat(w_hh)),
        ("bias_ih", flat(b_ih)),
        ("bias_hh", flat(b_hh)),
    ]
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
/// `|got − want| ≤ 1e-5·s + 1e-4·|want|`, where `s = max(1, max |want|)` is the
/// tensor's scale. The error names the tensor and the worst entry.
///
/// The scale is there because a weight gradient is a sum over all `T·B` rows. Its
/// rounding error in `f32` is proportional to the size of the terms summed, not to
/// the result, so an entry where thousands of terms cancel to nearly zero carries an
/// error set by its large neighbours.
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
