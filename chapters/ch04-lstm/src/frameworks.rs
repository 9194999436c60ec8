//! The LSTM in Keras's and TensorFlow 1's layouts, moved into PyTorch's, and the
//! parameter counts of each.
//!
//! All three compute the same cell, but they store it differently:
//!
//! | | weights | gate order | biases |
//! |---|---|---|---|
//! | PyTorch `nn.LSTM` | `weight_ih [4H, I]`, `weight_hh [4H, H]` | i, f, g, o | two, `[4H]` each |
//! | Keras `LSTM` | `kernel [I, 4H]`, `recurrent_kernel [H, 4H]` | i, f, c, o | one, `[4H]` |
//! | TF 1 `BasicLSTMCell` | one `kernel [I + H, 4H]` over `[x, h]` | i, j, f, o | one, `[4H]`, plus a constant `forget_bias` |
//!
//! Keras's `c` and TF's `j` are PyTorch's `g`, the candidate. TF's constant
//! `forget_bias` (default 1.0) is added to the forget gate's pre-activation at every
//! step; it is not a parameter.

use ch00_foundations::notation::{
    LSTM_F, LSTM_G, LSTM_GATES, LSTM_I, LSTM_O, gate_rows,
};
use ndarray::{Array1, Array2, s};

use crate::cell::LstmParams;

// ANCHOR: counts
/// Scalars in Keras's `LSTM(H)` on inputs of size `I`: `4(IH + H² + H)`, one bias.
pub fn keras_lstm_num_params(input_size: usize, hidden_size: usize) -> usize {
    let (i, h) = (input_size, hidden_size);
    4 * (i * h + h * h + h)
}

/// Scalars in PyTorch's `nn.LSTM(I, H)`: `4(IH + H² + 2H)`, two biases.
pub fn pytorch_lstm_num_params(input_size: usize, hidden_size: usize) -> usize {
    let (i, h) = (input_size, hidden_size);
    4 * (i * h + h * h + 2 * h)
}
// ANCHOR_END: counts

/// Keras's LSTM weights (`tf.keras.layers.LSTM`): columns in gate order i, f, c, o.
#[derive(Debug, Clone, PartialEq)]
pub struct KerasLstm {
    /// `kernel`: `[I, 4H]`.
    pub kernel: Array2<f64>,
    /// `recurrent_kernel`: `[H, 4H]`.
    pub recurrent_kernel: Array2<f64>,
    /// `bias`: `[4H]`.
    pub bias: Array1<f64>,
}

impl KerasLstm {
    /// Number of scalars stored.
    pub fn num_scalars(&self) -> usize {
        self.kernel.len() + self.recurrent_kernel.len() + self.bias.len()
    }

    /// The same cell in PyTorch's layout. The gate order i, f, c, o is PyTorch's i,
    /// f, g, o, so only the kernels are transposed. Keras's one bias becomes
    /// `bias_ih`; `bias_hh` is zero.
    pub fn to_pytorch(&self) -> LstmParams {
        LstmParams {
            weight_ih: self.kernel.t().to_owned(),
            weight_hh: self.recurrent_kernel.t().to_owned(),
            bias_ih: self.bias.clone(),
            bias_hh: Array1::zeros(self.bias.len()),
        }
    }

    /// The same cell in Keras's layout: PyTorch's two biases only ever appear as
    /// their sum.
    pub fn from_pytorch(p: &LstmParams) -> Self {
        KerasLstm {
            kernel: p.weight_ih.t().to_owned(),
            recurrent_kernel: p.weight_hh.t().to_owned(),
            bias: &p.bias_ih + &p.bias_hh,
        }
    }
}

/// TensorFlow 1's `BasicLSTMCell` weights: one kernel over the concatenation
/// `[x, h]`, columns in gate order i, j, f, o (j is the candidate), and the constant
/// `forget_bias`.
#[derive(Debug, Clone, PartialEq)]
pub struct TfBasicLstm {
    /// `kernel`: `[I + H, 4H]`; rows `0..I` multiply `x`, rows `I..I + H` multiply
    /// `h`.
    pub kernel: Array2<f64>,
    /// `bias`: `[4H]`.
    pub bias: Array1<f64>,
    /// Added to the forget gate's pre-activation (TF's default is 1.0).
    pub forget_bias: f64,
}

// ANCHOR: tf_to_pytorch
impl TfBasicLstm {
    /// The same cell in PyTorch's layout: the gate blocks i, j, f, o move to
    /// PyTorch's rows i, g, f, o; the kernel is split at row `I` and transposed; the
    /// constant forget bias is folded into `bias_ih`'s forget rows; `bias_hh` is
    /// zero.
    pub fn to_pytorch(&self) -> LstmParams {
        // BEGIN SOLUTION ex 4.2: TF column blocks i, j, f, o go to PyTorch row
        //   blocks, transposed, with the forget bias added
        let hs = self.bias.len() / LSTM_GATES;
        let is = self.kernel.nrows() - hs;
        let mut p = LstmParams {
            weight_ih: Array2::zeros((LSTM_GATES * hs, is)),
            weight_hh: Array2::zeros((LSTM_GATES * hs, hs)),
            bias_ih: Array1::zeros(LSTM_GATES * hs),
            bias_hh: Array1::zeros(LSTM_GATES * hs),
        };
        // TF's column block k (order i, j, f, o) goes to PyTorch's gate row block
        // `to`.
        for (k, to) in [LSTM_I, LSTM_G, LSTM_F, LSTM_O].into_iter().enumerate() {
            let cols = k * hs..(k + 1) * hs;
            let rows = gate_rows(to, hs);
            let block = self.kernel.slice(s![.., cols.clone()]);
            p.weight_ih
                .slice_mut(s![rows.clone(), ..])
                .assign(&block.slice(s![..is, ..]).t());
            p.weight_hh
                .slice_mut(s![rows.clone(), ..])
                .assign(&block.slice(s![is.., ..]).t());
            p.bias_ih
                .slice_mut(s![rows])
                .assign(&self.bias.slice(s![cols]));
        }
        p.bias_ih
            .slice_mut(s![gate_rows(LSTM_F, hs)])
            .mapv_inplace(|b| b + self.forget_bias);
        p
        // END SOLUTION
    }
}
// ANCHOR_END: tf_to_pytorch

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cell::{Lstm, LstmState};
    use ch00_foundations::activations::sigmoid;
    use ch00_foundations::rng::{seeded_rng, uniform_array};
    use ch00_foundations::tolerance::assert_arrays_close;
    use ch02_bptt::driver::Cell;
    use ndarray::concatenate;
    use ndarray::{ArrayView2, Axis};

    /// Keras's LSTM step, from its documented equations: `z = x K + h R + b`, split
    /// into i, f, c, o; the recurrent activation (sigmoid) on i, f, o; tanh on c and
    /// on the new state.
    fn keras_step(
        k: &KerasLstm,
        x: ArrayView2<f64>,
        h: &Array2<f64>,
        c: &Array2<f64>,
    ) -> (Array2<f64>, Array2<f64>) {
        let hs = k.recurrent_kernel.nrows();
        let z = x.dot(&k.kernel) + h.dot(&k.recurrent_kernel) + &k.bias;
        let block = |n: usize| z.slice(s![.., n * hs..(n + 1) * hs]).to_owned();
        let (i, f, cc, o) = (
            block(0).mapv(sigmoid),
            block(1).mapv(sigmoid),
            block(2).mapv(f64::tanh),
            block(3).mapv(sigmoid),
        );
        let c_new = &f * c + &i * &cc;
        let h_new = &o * &c_new.mapv(f64::tanh);
        (h_new, c_new)
    }

    /// TF 1's `BasicLSTMCell` step, from its documented equations: `[x, h] K + b`
    /// split into i, j, f, o; `c' = c σ(f + forget_bias) + σ(i) tanh(j)`;
    /// `h' = tanh(c') σ(o)`.
    fn tf_basic_step(
        t: &TfBasicLstm,
        x: ArrayView2<f64>,
        h: &Array2<f64>,
        c: &Array2<f64>,
    ) -> (Array2<f64>, Array2<f64>) {
        let hs = t.bias.len() / 4;
        let xh = concatenate(Axis(1), &[x, h.view()]).unwrap();
        let z = xh.dot(&t.kernel) + &t.bias;
        let block = |n: usize| z.slice(s![.., n * hs..(n + 1) * hs]).to_owned();
        let (i, j, f, o) = (block(0), block(1), block(2), block(3));
        let c_new = c * &(f + t.forget_bias).mapv(sigmoid)
            + &i.mapv(sigmoid) * &j.mapv(f64::tanh);
        let h_new = c_new.mapv(f64::tanh) * &o.mapv(sigmoid);
        (h_new, c_new)
    }

    fn state(seed: u64, b: usize, hs: usize) -> LstmState {
        let mut rng = seeded_rng(seed);
        LstmState {
            h: uniform_array((b, hs), -0.5, 0.5, &mut rng),
            c: uniform_array((b, hs), -1.0, 1.0, &mut rng),
        }
    }

    #[test]
    fn keras_counts_one_bias_and_pytorch_two() {
        for (is, hs) in [(1, 1), (3, 2), (7, 5), (128, 256)] {
            let mut rng = seeded_rng(90);
            let p = LstmParams::init(is, hs, &mut rng);
            let k = KerasLstm::from_pytorch(&p);
            assert_eq!(k.num_scalars(), keras_lstm_num_params(is, hs));
            assert_eq!(p.num_scalars(), pytorch_lstm_num_params(is, hs));
            assert_eq!(p.num_scalars() - k.num_scalars(), 4 * hs);
            let t = TfBasicLstm {
                kernel: Array2::zeros((is + hs, 4 * hs)),
                bias: Array1::zeros(4 * hs),
                forget_bias: 1.0,
            };
            assert_eq!(t.kernel.len() + t.bias.len(), keras_lstm_num_params(is, hs));
        }
        assert_eq!(keras_lstm_num_params(3, 2), 4 * (6 + 4 + 2));
        assert_eq!(pytorch_lstm_num_params(3, 2), 4 * (6 + 4 + 4));
    }

    #[test]
    fn a_keras_lstm_moved_to_pytorchs_layout_is_the_same_function() {
        let mut rng = seeded_rng(91);
        let (b, is, hs) = (3, 4, 5);
        let k = KerasLstm {
            kernel: uniform_array((is, 4 * hs), -0.5, 0.5, &mut rng),
            recurrent_kernel: uniform_array((hs, 4 * hs), -0.5, 0.5, &mut rng),
            bias: uniform_array(4 * hs, -0.5, 0.5, &mut rng),
        };
        let x: Array2<f64> = uniform_array((b, is), -1.0, 1.0, &mut rng);
        let s0 = state(92, b, hs);
        let (h_k, c_k) = keras_step(&k, x.view(), &s0.h, &s0.c);
        let (s1, _) = Lstm::step(&k.to_pytorch(), x.view(), &s0);
        assert_arrays_close("h", &s1.h, &h_k, 1e-15, 1e-14);
        assert_arrays_close("c", &s1.c, &c_k, 1e-15, 1e-14);
    }

    /// Keras's `unit_forget_bias` puts ones at columns `H..2H`, the forget gate in
    /// i, f, c, o (not "forget, input, …" as a comment in source post 000 lists
    /// them); moved to PyTorch, they land on the forget rows.
    #[test]
    fn kerass_unit_forget_bias_lands_on_pytorchs_forget_rows() {
        let hs = 3;
        let mut bias = Array1::zeros(4 * hs);
        bias.slice_mut(s![hs..2 * hs]).fill(1.0);
        let k = KerasLstm {
            kernel: Array2::zeros((2, 4 * hs)),
            recurrent_kernel: Array2::zeros((hs, 4 * hs)),
            bias,
        };
        let p = k.to_pytorch();
        for gate in [LSTM_I, LSTM_F, LSTM_G, LSTM_O] {
            let want = if gate == LSTM_F { 1.0 } else { 0.0 };
            assert!(
                p.bias_ih
                    .slice(s![gate_rows(gate, hs)])
                    .iter()
                    .all(|&v| v == want)
            );
        }
    }

    /// PyTorch's second bias adds no freedom: any split of the same sum is the same
    /// function, and the round trip through Keras's layout keeps the function.
    #[test]
    fn pytorchs_two_biases_act_only_through_their_sum() {
        let mut rng = seeded_rng(93);
        let (b, is, hs) = (2, 3, 4);
        let p = LstmParams::init(is, hs, &mut rng);
        let shift: Array1<f64> = uniform_array(4 * hs, -1.0, 1.0, &mut rng);
        let q = LstmParams {
            bias_ih: &p.bias_ih + &shift,
            bias_hh: &p.bias_hh - &shift,
            ..p.clone()
        };
        let back = KerasLstm::from_pytorch(&p).to_pytorch();
        let x: Array2<f64> = uniform_array((b, is), -1.0, 1.0, &mut rng);
        let s0 = state(94, b, hs);
        let (want, _) = Lstm::step(&p, x.view(), &s0);
        for other in [&q, &back] {
            let (got, _) = Lstm::step(other, x.view(), &s0);
            assert_arrays_close("h", &got.h, &want.h, 1e-15, 1e-14);
            assert_arrays_close("c", &got.c, &want.c, 1e-15, 1e-14);
        }
    }

    #[test]
    fn a_tf_basic_lstm_cell_moved_to_pytorchs_layout_is_the_same_function() {
        let mut rng = seeded_rng(95);
        let (b, is, hs) = (3, 2, 4);
        for forget_bias in [0.0, 1.0, 3.0] {
            let t = TfBasicLstm {
                kernel: uniform_array((is + hs, 4 * hs), -0.5, 0.5, &mut rng),
                bias: uniform_array(4 * hs, -0.5, 0.5, &mut rng),
                forget_bias,
            };
            let x: Array2<f64> = uniform_array((b, is), -1.0, 1.0, &mut rng);
            let s0 = state(96, b, hs);
            let (h_t, c_t) = tf_basic_step(&t, x.view(), &s0.h, &s0.c);
            let (s1, _) = Lstm::step(&t.to_pytorch(), x.view(), &s0);
            assert_arrays_close("h", &s1.h, &h_t, 1e-15, 1e-14);
            assert_arrays_close("c", &s1.c, &c_t, 1e-15, 1e-14);
        }
    }

    /// Read TF's kernel as if its order were PyTorch's (i, f, g, o), or drop the
    /// forget bias, and you get another function.
    #[test]
    fn reading_tfs_gate_order_as_pytorchs_gives_another_function() {
        let mut rng = seeded_rng(97);
        let (b, is, hs) = (2, 3, 3);
        let t = TfBasicLstm {
            kernel: uniform_array((is + hs, 4 * hs), -1.0, 1.0, &mut rng),
            bias: uniform_array(4 * hs, -1.0, 1.0, &mut rng),
            forget_bias: 1.0,
        };
        let naive = LstmParams {
            weight_ih: t.kernel.slice(s![..is, ..]).t().to_owned(),
            weight_hh: t.kernel.slice(s![is.., ..]).t().to_owned(),
            bias_ih: t.bias.clone(),
            bias_hh: Array1::zeros(4 * hs),
        };
        let mut no_forget_bias = t.clone();
        no_forget_bias.forget_bias = 0.0;
        let x: Array2<f64> = uniform_array((b, is), -1.0, 1.0, &mut rng);
        let s0 = state(98, b, hs);
        let (want, _) = Lstm::step(&t.to_pytorch(), x.view(), &s0);
        for wrong in [naive, no_forget_bias.to_pytorch()] {
            let (got, _) = Lstm::step(&wrong, x.view(), &s0);
            let diff = (&got.c - &want.c)
                .mapv(f64::abs)
                .fold(0.0, |a: f64, &b| a.max(b));
            assert!(diff > 1e-2, "{diff}");
        }
    }
}
