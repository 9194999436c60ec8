//! The source post's LSTM backward, ported to Rust **with its bugs**, to show them.
//!
//! Never train with this module. It exists so that tests (and the chapter's errata
//! figure) can show what each bug of the source post `004_….txt` does, and that each
//! fix is needed. The post is a NumPy class with one column vector per sample and
//! four separate gates, each with a recurrent matrix, an input matrix and one bias.
//! This port keeps that shape of the code:
//!
//! | post | here | PyTorch rows |
//! |---|---|---|
//! | forget gate `W_fh`, `W_fx`, `b_f` | `f.wh`, `f.wx`, `f.b` | `gate_rows(LSTM_F, H)` |
//! | input gate `W_ih`, `W_ix`, `b_i` | `i.wh`, `i.wx`, `i.b` | `gate_rows(LSTM_I, H)` |
//! | candidate `W_ch`, `W_cx`, `b_c` | `c.wh`, `c.wx`, `c.b` | `gate_rows(LSTM_G, H)` |
//! | output gate `W_oh`, `W_ox`, `b_o` | `o.wh`, `o.wx`, `o.b` | `gate_rows(LSTM_O, H)` |
//!
//! Careful with the names: the post's `W_ih` is the *input gate's recurrent* matrix,
//! a block of PyTorch's `weight_hh`, not PyTorch's `weight_ih`.
//!
//! The post has one bias per gate; PyTorch has two (`bias_ih` and `bias_hh`), which
//! only ever appear as their sum. So the post's `b` is `bias_ih + bias_hh` of that
//! gate's rows, and `∂L/∂b = ∂L/∂bias_ih = ∂L/∂bias_hh`: the port's bias gradient is
//! the gradient of both.
//!
//! Each numeric bug is a switch in [`Bugs`]. [`Bugs::AS_PRINTED`] reproduces the
//! post; [`Bugs::NONE`] is a correct LSTM backward (equal to [`crate::cell`]'s). The
//! post's update step, which reads gradient attributes that its gradient code never
//! sets, is modelled by [`apply_update`] with the table [`UPDATE_AS_PRINTED`].

use ch00_foundations::activations::{
    dsigmoid_from_output, dtanh_from_output, sigmoid,
};
use ch00_foundations::notation::{
    LSTM_F, LSTM_G, LSTM_GATES, LSTM_I, LSTM_O, gate_rows,
};
use ndarray::{Array1, Array2, ArrayView2, ArrayView3, Axis, s};
use std::fmt;

use crate::cell::{LstmGrads, LstmParams, LstmState};

/// The four numeric bugs of the post's backward, numbered as in the chapter's errata
/// table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Bug {
    /// 1. The input gate's bias gradient sums the forget gate's error term.
    BiasITakesDeltaF = 1,
    /// 2. The output gate's bias gradient sums the forget gate's error term too.
    BiasOTakesDeltaF = 2,
    /// 3. The input-weight gradients use only the last step's error and input.
    InputWeightsLastStepOnly = 3,
    /// 4. The cell-state error is not carried back through time (no
    ///    `δc_{t+1} ⊙ f_{t+1}`).
    NoCellCarry = 4,
}

impl Bug {
    /// All four, in the table's order.
    pub const ALL: [Bug; 4] = [
        Bug::BiasITakesDeltaF,
        Bug::BiasOTakesDeltaF,
        Bug::InputWeightsLastStepOnly,
        Bug::NoCellCarry,
    ];
}

/// Which of the four bugs are switched on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bugs {
    /// [`Bug::BiasITakesDeltaF`].
    pub bias_i_takes_delta_f: bool,
    /// [`Bug::BiasOTakesDeltaF`].
    pub bias_o_takes_delta_f: bool,
    /// [`Bug::InputWeightsLastStepOnly`].
    pub input_weights_last_step_only: bool,
    /// [`Bug::NoCellCarry`].
    pub no_cell_carry: bool,
}

impl Bugs {
    /// The post as printed: every bug on.
    pub const AS_PRINTED: Bugs = Bugs {
        bias_i_takes_delta_f: true,
        bias_o_takes_delta_f: true,
        input_weights_last_step_only: true,
        no_cell_carry: true,
    };
    /// Every bug fixed.
    pub const NONE: Bugs = Bugs {
        bias_i_takes_delta_f: false,
        bias_o_takes_delta_f: false,
        input_weights_last_step_only: false,
        no_cell_carry: false,
    };

    /// Only `bug` switched on.
    pub fn only(bug: Bug) -> Bugs {
        Bugs::NONE.with(bug, true)
    }

    /// A copy with `bug` switched on or off.
    pub fn with(mut self, bug: Bug, on: bool) -> Bugs {
        match bug {
            Bug::BiasITakesDeltaF => self.bias_i_takes_delta_f = on,
            Bug::BiasOTakesDeltaF => self.bias_o_takes_delta_f = on,
            Bug::InputWeightsLastStepOnly => self.input_weights_last_step_only = on,
            Bug::NoCellCarry => self.no_cell_carry = on,
        }
        self
    }
}

/// One gate's parameters as the post stores them (column vectors).
#[derive(Debug, Clone, PartialEq)]
pub struct GateParams {
    /// Recurrent matrix (post: `W_?h`): `[H, H]`.
    pub wh: Array2<f64>,
    /// Input matrix (post: `W_?x`): `[H, I]`.
    pub wx: Array2<f64>,
    /// The gate's one bias (post: `b_?`): `[H, 1]`.
    pub b: Array2<f64>,
}

/// The post's twelve parameter arrays: gates f, i, o and the candidate c.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceParams {
    /// Forget gate.
    pub f: GateParams,
    /// Input gate.
    pub i: GateParams,
    /// Output gate.
    pub o: GateParams,
    /// Candidate (the post's `c̃`, PyTorch's `g`).
    pub c: GateParams,
}

impl SourceParams {
    /// Cuts PyTorch's stacked layout into the post's per-gate arrays. The post's one
    /// bias is `bias_ih + bias_hh`.
    pub fn from_lstm(p: &LstmParams) -> Self {
        let hs = p.hidden_size();
        let gate = |k: usize| {
            let r = gate_rows(k, hs);
            let b =
                &p.bias_ih.slice(s![r.clone()]) + &p.bias_hh.slice(s![r.clone()]);
            GateParams {
                wh: p.weight_hh.slice(s![r.clone(), ..]).to_owned(),
                wx: p.weight_ih.slice(s![r, ..]).to_owned(),
                b: b.insert_axis(Axis(1)),
            }
        };
        SourceParams {
            f: gate(LSTM_F),
            i: gate(LSTM_I),
            o: gate(LSTM_O),
            c: gate(LSTM_G),
        }
    }

    fn get_mut(&mut self, which: SourceTensor) -> &mut Array2<f64> {
        use SourceTensor::*;
        match which {
            Wfh => &mut self.f.wh,
            Wfx => &mut self.f.wx,
            Bf => &mut self.f.b,
            Wih => &mut self.i.wh,
            Wix => &mut self.i.wx,
            Bi => &mut self.i.b,
            Woh => &mut self.o.wh,
            Wox => &mut self.o.wx,
            Bo => &mut self.o.b,
            Wch => &mut self.c.wh,
            Wcx => &mut self.c.wx,
            Bc => &mut self.c.b,
        }
    }
}

/// Everything the post's forward keeps, one list per quantity. As in the post, index
/// `k` of a list is step `k` (`1..=T`) and index 0 holds the initial state (zeros
/// for the gates).
#[derive(Debug, Clone)]
pub struct SourceTrace {
    /// The inputs `x_k`, `[I, 1]` each, for `k = 1..=T` at index `k - 1`. (The post
    /// keeps no list of inputs; its backward is handed one input. A fix for bug 3
    /// needs them all.)
    pub xs: Vec<Array2<f64>>,
    /// Input gate `i_k`: `[H, 1]`.
    pub i: Vec<Array2<f64>>,
    /// Forget gate `f_k`.
    pub f: Vec<Array2<f64>>,
    /// Output gate `o_k`.
    pub o: Vec<Array2<f64>>,
    /// Candidate `c̃_k` (PyTorch's `g`).
    pub ct: Vec<Array2<f64>>,
    /// Cell state `c_k` (`c_0` at index 0).
    pub c: Vec<Array2<f64>>,
    /// Hidden state `h_k` (`h_0` at index 0).
    pub h: Vec<Array2<f64>>,
}

impl SourceTrace {
    /// `T`.
    pub fn steps(&self) -> usize {
        self.xs.len()
    }
}

/// The post's forward, one sample. Shapes: `x: [T, 1, I]` (our layout, batch of
/// one), `s0` = (`h0`, `c0`) each `[1, H]` → the trace, in column vectors.
///
/// # Panics
/// If the batch is not 1: the post handles one column vector at a time.
pub fn forward(p: &SourceParams, x: ArrayView3<f64>, s0: &LstmState) -> SourceTrace {
    assert_eq!(x.dim().1, 1, "the post's code runs one sample at a time");
    let col = |v: ArrayView2<f64>| v.t().to_owned(); // [1, n] → [n, 1]
    let hs = p.f.wh.nrows();
    let zero = Array2::zeros((hs, 1));
    let mut tr = SourceTrace {
        xs: Vec::new(),
        i: vec![zero.clone()],
        f: vec![zero.clone()],
        o: vec![zero.clone()],
        ct: vec![zero],
        c: vec![col(s0.c.view())],
        h: vec![col(s0.h.view())],
    };
    for x_t in x.outer_iter() {
        let x_k = col(x_t);
        let h_prev = tr.h.last().expect("h_0 is always there");
        // net = W_?h h_{k-1} + W_?x x_k + b_?, then the gate's activation
        let gate = |g: &GateParams, act: fn(f64) -> f64| {
            (g.wh.dot(h_prev) + g.wx.dot(&x_k) + &g.b).mapv(act)
        };
        let (fg, ig, og, ct) = (
            gate(&p.f, sigmoid),
            gate(&p.i, sigmoid),
            gate(&p.o, sigmoid),
            gate(&p.c, f64::tanh),
        );
        let c = &fg * tr.c.last().expect("c_0 is always there") + &ig * &ct;
        let h = &og * &c.mapv(f64::tanh);
        tr.xs.push(x_k);
        tr.i.push(ig);
        tr.f.push(fg);
        tr.o.push(og);
        tr.ct.push(ct);
        tr.c.push(c);
        tr.h.push(h);
    }
    tr
}

/// One gate's gradients, shaped like [`GateParams`].
#[derive(Debug, Clone, PartialEq)]
pub struct GateGrads {
    /// `∂L/∂W_?h`: `[H, H]`.
    pub wh: Array2<f64>,
    /// `∂L/∂W_?x`: `[H, I]`.
    pub wx: Array2<f64>,
    /// `∂L/∂b_?`: `[H, 1]`.
    pub b: Array2<f64>,
}

impl GateGrads {
    fn zeros(hs: usize, is: usize) -> Self {
        GateGrads {
            wh: Array2::zeros((hs, hs)),
            wx: Array2::zeros((hs, is)),
            b: Array2::zeros((hs, 1)),
        }
    }
}

/// What the post's backward produces: the twelve gradients and the error reaching
/// `h_0`.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceGrads {
    /// Forget gate.
    pub f: GateGrads,
    /// Input gate.
    pub i: GateGrads,
    /// Output gate.
    pub o: GateGrads,
    /// Candidate.
    pub c: GateGrads,
    /// `∂L/∂h_0` (the post's error list at index 0): `[H, 1]`.
    pub dh0: Array2<f64>,
}

impl SourceGrads {
    /// Stacks the gradients back into PyTorch's layout: `(grads, dh0: [1, H])`. The
    /// post's one bias gradient goes to both `dbias_ih` and `dbias_hh`.
    pub fn to_lstm(&self) -> (LstmGrads, Array2<f64>) {
        let hs = self.f.wh.nrows();
        let is = self.f.wx.ncols();
        let mut g = LstmGrads {
            dweight_ih: Array2::zeros((LSTM_GATES * hs, is)),
            dweight_hh: Array2::zeros((LSTM_GATES * hs, hs)),
            dbias_ih: Array1::zeros(LSTM_GATES * hs),
            dbias_hh: Array1::zeros(LSTM_GATES * hs),
        };
        for (k, gate) in [
            (LSTM_I, &self.i),
            (LSTM_F, &self.f),
            (LSTM_G, &self.c),
            (LSTM_O, &self.o),
        ] {
            let r = gate_rows(k, hs);
            g.dweight_ih.slice_mut(s![r.clone(), ..]).assign(&gate.wx);
            g.dweight_hh.slice_mut(s![r.clone(), ..]).assign(&gate.wh);
            g.dbias_ih
                .slice_mut(s![r.clone()])
                .assign(&gate.b.column(0));
            g.dbias_hh.slice_mut(s![r]).assign(&gate.b.column(0));
        }
        (g, self.dh0.t().to_owned())
    }

    /// The gradient array the post's gradient code stores under attribute `name`
    /// (`Wfh_grad`, `bf_grad`, …), or `None` if that code never sets such an
    /// attribute.
    pub fn attribute(&self, name: &str) -> Option<&Array2<f64>> {
        let (gate, part) = match name.strip_suffix("_grad")?.as_bytes() {
            [b'W', g, b'h'] => (*g, 'h'),
            [b'W', g, b'x'] => (*g, 'x'),
            [b'b', g] => (*g, 'b'),
            _ => return None,
        };
        let g = match gate {
            b'f' => &self.f,
            b'i' => &self.i,
            b'o' => &self.o,
            b'c' => &self.c,
            _ => return None,
        };
        Some(match part {
            'h' => &g.wh,
            'x' => &g.wx,
            _ => &g.b,
        })
    }
}

// ANCHOR: port_backward
/// The post's backward, bugs switchable. Shapes: `x` is the one input the caller
/// hands over, `[I, 1]` (the post's own check passes the last step's), `delta_h` is
/// `∂L/∂h_T`, `[H, 1]`. The post's loss may depend on `h_T` only: there is no error
/// for the other outputs or `c_T`.
pub fn backward(
    p: &SourceParams,
    tr: &SourceTrace,
    x: ArrayView2<f64>,
    delta_h: ArrayView2<f64>,
    bugs: Bugs,
) -> SourceGrads {
    let steps = tr.steps();
    let (hs, is) = p.f.wx.dim();
    let zeros = vec![Array2::<f64>::zeros((hs, 1)); steps + 1];
    // Post, error pass: one list per error term, index k = step k; the error of h_T
    // comes in.
    let (mut d_h, mut d_o, mut d_i, mut d_f, mut d_ct) = (
        zeros.clone(),
        zeros.clone(),
        zeros.clone(),
        zeros.clone(),
        zeros,
    );
    d_h[steps] = delta_h.to_owned();
    // δc_{k+1}, only used when bug 4 is fixed
    let mut dc_next = Array2::zeros((hs, 1));
    for k in (1..=steps).rev() {
        let (ig, og, fg, ct) = (&tr.i[k], &tr.o[k], &tr.f[k], &tr.ct[k]);
        let tanh_c = tr.c[k].mapv(f64::tanh);
        let dh = &d_h[k];
        let delta_o = dh * &tanh_c * &og.mapv(dsigmoid_from_output);
        // The error reaching c_k. Post: from h_k alone.
        let mut dc = dh * og * &tanh_c.mapv(dtanh_from_output);
        if !bugs.no_cell_carry && k < steps {
            // fix 4: the carousel term δc_{k+1} ⊙ f_{k+1}
            dc += &(&dc_next * &tr.f[k + 1]);
        }
        let delta_f = &dc * &tr.c[k - 1] * &fg.mapv(dsigmoid_from_output);
        let delta_i = &dc * ct * &ig.mapv(dsigmoid_from_output);
        let delta_ct = &dc * ig * &ct.mapv(dtanh_from_output);
        // Post: the error of h_{k-1} collects all four gates through their recurrent
        // matrices.
        d_h[k - 1] = p.o.wh.t().dot(&delta_o)
            + p.i.wh.t().dot(&delta_i)
            + p.f.wh.t().dot(&delta_f)
            + p.c.wh.t().dot(&delta_ct);
        (d_o[k], d_i[k], d_f[k], d_ct[k]) = (delta_o, delta_i, delta_f, delta_ct);
        dc_next = dc;
    }

    // Post, gradient pass: sum the recurrent and bias gradients over the steps.
    let mut g = SourceGrads {
        f: GateGrads::zeros(hs, is),
        i: GateGrads::zeros(hs, is),
        o: GateGrads::zeros(hs, is),
        c: GateGrads::zeros(hs, is),
        dh0: d_h[0].clone(),
    };
    for t in (1..=steps).rev() {
        let h_prev = tr.h[t - 1].t();
        g.f.wh += &d_f[t].dot(&h_prev);
        g.f.b += &d_f[t];
        g.i.wh += &d_i[t].dot(&h_prev);
        // Post: the input gate's bias gradient adds the forget gate's δ (bug 1).
        g.i.b += if bugs.bias_i_takes_delta_f {
            &d_f[t]
        } else {
            &d_i[t]
        };
        g.o.wh += &d_o[t].dot(&h_prev);
        // Post: the output gate's bias gradient adds the forget gate's δ too (bug
        // 2).
        g.o.b += if bugs.bias_o_takes_delta_f {
            &d_f[t]
        } else {
            &d_o[t]
        };
        g.c.wh += &d_ct[t].dot(&h_prev);
        g.c.b += &d_ct[t];
    }
    if bugs.input_weights_last_step_only {
        // Post: the input gradients are δ_T xᵀ with the one input handed in (bug 3).
        let x_t = x.t();
        g.f.wx = d_f[steps].dot(&x_t);
        g.i.wx = d_i[steps].dot(&x_t);
        g.o.wx = d_o[steps].dot(&x_t);
        g.c.wx = d_ct[steps].dot(&x_t);
    } else {
        for t in 1..=steps {
            let x_t = tr.xs[t - 1].t(); // fix 3: Σ_t δ_t x_tᵀ
            g.f.wx += &d_f[t].dot(&x_t);
            g.i.wx += &d_i[t].dot(&x_t);
            g.o.wx += &d_o[t].dot(&x_t);
            g.c.wx += &d_ct[t].dot(&x_t);
        }
    }
    g
}
// ANCHOR_END: port_backward

/// One of the post's twelve parameter arrays, named as the post names its
/// attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceTensor {
    /// Forget gate, recurrent.
    Wfh,
    /// Forget gate, input.
    Wfx,
    /// Forget gate, bias.
    Bf,
    /// Input gate, recurrent.
    Wih,
    /// Input gate, input.
    Wix,
    /// Input gate, bias.
    Bi,
    /// Output gate, recurrent.
    Woh,
    /// Output gate, input.
    Wox,
    /// Output gate, bias.
    Bo,
    /// Candidate, recurrent.
    Wch,
    /// Candidate, input.
    Wcx,
    /// Candidate, bias.
    Bc,
}

/// Which gradient attribute each line of the post's update step reads, in the post's
/// order. Six of the twelve names are never set by its gradient code, and the input
/// gate's input matrix reads the same name as its recurrent matrix.
pub const UPDATE_AS_PRINTED: [(SourceTensor, &str); 12] = [
    (SourceTensor::Wfh, "Whf_grad"),
    (SourceTensor::Wfx, "Whx_grad"),
    (SourceTensor::Bf, "bf_grad"),
    (SourceTensor::Wih, "Whi_grad"),
    (SourceTensor::Wix, "Whi_grad"),
    (SourceTensor::Bi, "bi_grad"),
    (SourceTensor::Woh, "Wof_grad"),
    (SourceTensor::Wox, "Wox_grad"),
    (SourceTensor::Bo, "bo_grad"),
    (SourceTensor::Wch, "Wcf_grad"),
    (SourceTensor::Wcx, "Wcx_grad"),
    (SourceTensor::Bc, "bc_grad"),
];

/// The intended update: each array reads its own gradient.
pub const UPDATE_INTENDED: [(SourceTensor, &str); 12] = [
    (SourceTensor::Wfh, "Wfh_grad"),
    (SourceTensor::Wfx, "Wfx_grad"),
    (SourceTensor::Bf, "bf_grad"),
    (SourceTensor::Wih, "Wih_grad"),
    (SourceTensor::Wix, "Wix_grad"),
    (SourceTensor::Bi, "bi_grad"),
    (SourceTensor::Woh, "Woh_grad"),
    (SourceTensor::Wox, "Wox_grad"),
    (SourceTensor::Bo, "bo_grad"),
    (SourceTensor::Wch, "Wch_grad"),
    (SourceTensor::Wcx, "Wcx_grad"),
    (SourceTensor::Bc, "bc_grad"),
];

/// Why an update line fails, as Python and NumPy would fail it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpdateError {
    /// Python's `AttributeError`: the gradient code never set this attribute.
    MissingAttribute(String),
    /// NumPy cannot broadcast the gradient's shape into the parameter's in `-=`.
    ShapeMismatch {
        /// The array being updated.
        param: SourceTensor,
        /// The attribute read.
        grad: String,
        /// Its shape.
        param_shape: Vec<usize>,
        /// The gradient's shape.
        grad_shape: Vec<usize>,
    },
}

impl fmt::Display for UpdateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UpdateError::MissingAttribute(n) => write!(f, "no attribute `{n}`"),
            UpdateError::ShapeMismatch {
                param,
                grad,
                param_shape,
                grad_shape,
            } => write!(
                f,
                "cannot subtract `{grad}` {grad_shape:?} from {param:?} {param_shape:?}"
            ),
        }
    }
}

/// Runs an update step line by line: `param -= lr * grads.<attribute>` for each
/// `(param, attribute)` of `reads`. Like Python, it stops at the first failing line;
/// earlier lines have already changed `p`. A gradient whose shape broadcasts into
/// the parameter's (NumPy's rule for in-place operations: each axis equal or 1) is
/// applied broadcast, as NumPy would.
pub fn apply_update(
    p: &mut SourceParams,
    grads: &SourceGrads,
    lr: f64,
    reads: &[(SourceTensor, &str)],
) -> Result<(), UpdateError> {
    for &(which, name) in reads {
        let g = grads
            .attribute(name)
            .ok_or_else(|| UpdateError::MissingAttribute(name.to_string()))?;
        let param = p.get_mut(which);
        let fits = param.ndim() == g.ndim()
            && param
                .shape()
                .iter()
                .zip(g.shape())
                .all(|(&a, &b)| a == b || b == 1);
        if !fits {
            return Err(UpdateError::ShapeMismatch {
                param: which,
                grad: name.to_string(),
                param_shape: param.shape().to_vec(),
                grad_shape: g.shape().to_vec(),
            });
        }
        let step = g.broadcast(param.raw_dim()).expect("checked above");
        param.scaled_add(-lr, &step);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cell::{backward as cell_backward, forward as cell_forward};
    use ch00_foundations::rng::{seeded_rng, uniform_array};
    use ch00_foundations::tolerance::assert_arrays_close;
    use ndarray::Array3;

    fn case(
        seed: u64,
        steps: usize,
        is: usize,
        hs: usize,
    ) -> (LstmParams, Array3<f64>, LstmState) {
        let mut rng = seeded_rng(seed);
        let p = LstmParams::init(is, hs, &mut rng);
        let x = uniform_array((steps, 1, is), -1.0, 1.0, &mut rng);
        let s0 = LstmState {
            h: uniform_array((1, hs), -0.5, 0.5, &mut rng),
            c: uniform_array((1, hs), -1.0, 1.0, &mut rng),
        };
        (p, x, s0)
    }

    #[test]
    fn the_posts_forward_with_split_gates_is_our_forward() {
        let (p, x, s0) = case(60, 5, 3, 4);
        let (y, s_n, _) = cell_forward(&p, x.view(), &s0);
        let tr = forward(&SourceParams::from_lstm(&p), x.view(), &s0);
        for t in 0..5 {
            let h = tr.h[t + 1].t();
            assert_arrays_close("h_t", &h, &y.slice(s![t, .., ..]), 1e-15, 1e-14);
        }
        assert_arrays_close("c_T", &tr.c[5].t(), &s_n.c, 1e-15, 1e-14);
    }

    /// With every bug fixed, the port is a correct LSTM backward: it equals the
    /// cell's.
    #[test]
    fn the_port_with_every_bug_fixed_equals_the_cells_backward() {
        let (p, x, s0) = case(61, 6, 3, 4);
        let gh: Array2<f64> = uniform_array((1, 4), -1.0, 1.0, &mut seeded_rng(1));
        let (_, _, caches) = cell_forward(&p, x.view(), &s0);
        let ds_n = LstmState {
            h: gh.clone(),
            c: Array2::zeros((1, 4)),
        };
        let (want, _, ds0) =
            cell_backward(&p, &caches, Array3::zeros((6, 1, 4)).view(), &ds_n);
        let sp = SourceParams::from_lstm(&p);
        let tr = forward(&sp, x.view(), &s0);
        let got = backward(&sp, &tr, tr.xs[5].view(), gh.t(), Bugs::NONE);
        let (g, dh0) = got.to_lstm();
        let tol = 1e-13;
        assert_arrays_close("dweight_ih", &g.dweight_ih, &want.dweight_ih, tol, tol);
        assert_arrays_close("dweight_hh", &g.dweight_hh, &want.dweight_hh, tol, tol);
        assert_arrays_close("dbias_ih", &g.dbias_ih, &want.dbias_ih, tol, tol);
        assert_arrays_close("dbias_hh", &g.dbias_hh, &want.dbias_hh, tol, tol);
        assert_arrays_close("dh0", &dh0, &ds0.h, tol, tol);
    }

    #[test]
    fn attributes_are_the_names_the_posts_gradient_code_sets() {
        let (p, x, s0) = case(62, 2, 3, 2);
        let sp = SourceParams::from_lstm(&p);
        let tr = forward(&sp, x.view(), &s0);
        let g = backward(
            &sp,
            &tr,
            tr.xs[1].view(),
            Array2::ones((2, 1)).view(),
            Bugs::NONE,
        );
        assert_eq!(g.attribute("Wfh_grad"), Some(&g.f.wh));
        assert_eq!(g.attribute("Wix_grad"), Some(&g.i.wx));
        assert_eq!(g.attribute("bc_grad"), Some(&g.c.b));
        assert_eq!(g.attribute("Woh_grad").map(|a| a.dim()), Some((2, 2)));
        for (_, name) in UPDATE_INTENDED {
            assert!(g.attribute(name).is_some(), "{name}");
        }
        assert_eq!(g.attribute("Whf_grad"), None);
        assert_eq!(g.attribute("bf"), None);
    }

    fn grads_for(is: usize, hs: usize) -> (SourceParams, SourceGrads) {
        let (p, x, s0) = case(63, 3, is, hs);
        let sp = SourceParams::from_lstm(&p);
        let tr = forward(&sp, x.view(), &s0);
        let gh = Array2::ones((hs, 1));
        let g = backward(&sp, &tr, tr.xs[2].view(), gh.view(), Bugs::NONE);
        (sp, g)
    }

    /// Bug 6: the update step reads gradients by names its gradient code never sets.
    /// Python stops at the first line, with nothing updated.
    #[test]
    fn the_update_step_as_printed_reads_six_names_that_do_not_exist() {
        let (sp, g) = grads_for(3, 4);
        let missing: Vec<&str> = UPDATE_AS_PRINTED
            .iter()
            .map(|&(_, n)| n)
            .filter(|n| g.attribute(n).is_none())
            .collect();
        assert_eq!(
            missing,
            [
                "Whf_grad", "Whx_grad", "Whi_grad", "Whi_grad", "Wof_grad",
                "Wcf_grad"
            ]
        );
        let mut p = sp.clone();
        let err = apply_update(&mut p, &g, 0.1, &UPDATE_AS_PRINTED).unwrap_err();
        assert_eq!(err, UpdateError::MissingAttribute("Whf_grad".into()));
        assert_eq!(p, sp, "the first line fails, so nothing changes");
    }

    /// Bug 6, second half: the input gate's input matrix reads the same name as its
    /// recurrent matrix. Spell that name as the gradient code does, and `W_ix` is
    /// moved along `W_ih`'s gradient: a shape error when I ≠ H, and a silent wrong
    /// step when I = H.
    #[test]
    fn respelled_the_update_would_move_w_ix_along_the_gradient_of_w_ih() {
        let same_name: Vec<SourceTensor> = UPDATE_AS_PRINTED
            .iter()
            .filter(|&&(_, n)| n == "Whi_grad")
            .map(|&(t, _)| t)
            .collect();
        assert_eq!(same_name, [SourceTensor::Wih, SourceTensor::Wix]);
        let respelled: Vec<(SourceTensor, &str)> = UPDATE_INTENDED
            .iter()
            .map(|&(t, n)| {
                if t == SourceTensor::Wix {
                    (t, "Wih_grad")
                } else {
                    (t, n)
                }
            })
            .collect();

        let (sp, g) = grads_for(3, 4); // I ≠ H
        let mut p = sp.clone();
        let err = apply_update(&mut p, &g, 0.1, &respelled).unwrap_err();
        assert!(
            matches!(&err, UpdateError::ShapeMismatch { param: SourceTensor::Wix, grad_shape, .. }
                if grad_shape == &vec![4, 4]),
            "{err}"
        );

        let (sp, g) = grads_for(4, 4); // I = H: it runs
        let mut p = sp.clone();
        apply_update(&mut p, &g, 0.1, &respelled).unwrap();
        assert_eq!(p.i.wx, &sp.i.wx - &(0.1 * &g.i.wh));
        assert_ne!(p.i.wx, &sp.i.wx - &(0.1 * &g.i.wx));
    }

    /// The intended update is plain gradient descent, the same step in either
    /// layout.
    #[test]
    fn the_intended_update_is_gradient_descent_in_our_layout_too() {
        let (p, x, s0) = case(64, 3, 3, 4);
        let sp = SourceParams::from_lstm(&p);
        let tr = forward(&sp, x.view(), &s0);
        let g = backward(
            &sp,
            &tr,
            tr.xs[2].view(),
            Array2::ones((4, 1)).view(),
            Bugs::NONE,
        );
        let mut stepped = sp.clone();
        apply_update(&mut stepped, &g, 0.1, &UPDATE_INTENDED).unwrap();
        let (lg, _) = g.to_lstm();
        // The post's bias is bias_ih + bias_hh. For the sum to take the post's step,
        // each takes half of it: plain descent on both PyTorch biases moves their
        // sum twice as far.
        let q = LstmParams {
            weight_ih: &p.weight_ih - &(0.1 * &lg.dweight_ih),
            weight_hh: &p.weight_hh - &(0.1 * &lg.dweight_hh),
            bias_ih: &p.bias_ih - &(0.05 * &lg.dbias_ih),
            bias_hh: &p.bias_hh - &(0.05 * &lg.dbias_hh),
        };
        let want = SourceParams::from_lstm(&q);
        for (a, b) in [
            (&stepped.f.wh, &want.f.wh),
            (&stepped.i.wx, &want.i.wx),
            (&stepped.o.b, &want.o.b),
            (&stepped.c.wx, &want.c.wx),
        ] {
            assert_arrays_close("stepped", a, b, 1e-15, 1e-14);
        }
    }
}
