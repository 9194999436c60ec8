//! Shape letters, the time-major layout, and the PyTorch gate layout.
//!
//! Every shape in the book is written with the same letters:
//!
//! | letter | meaning |
//! |---|---|
//! | `T` | sequence length (number of time steps) |
//! | `B` | batch size (independent sequences processed together) |
//! | `I` | input size (features per time step) |
//! | `H` | hidden size (units in the recurrent state) |
//! | `V` | vocabulary size (classes of a softmax output) |
//! | `G` | number of gates stacked in one weight matrix (RNN 1, LSTM 4, GRU 3) |
//!
//! Sequences are **time-major**: an input batch is `x: [T, B, I]`, so `x[t]` is the
//! contiguous `[B, I]` slab the cell consumes at step `t`. Hidden states are
//! `[B, H]` and the stacked outputs are `y: [T, B, H]`. This is PyTorch's default
//! (`batch_first=False`).
//!
//! Parameters use PyTorch's names and layout, so that weights and reference fixtures
//! move across without transposes:
//!
//! | name | shape |
//! |---|---|
//! | `weight_ih` | `[G*H, I]` |
//! | `weight_hh` | `[G*H, H]` |
//! | `bias_ih` | `[G*H]` |
//! | `bias_hh` | `[G*H]` |
//!
//! The `G` gates are stacked along the rows, each gate taking `H` consecutive rows:
//! LSTM in the order `i, f, g, o` and GRU in the order `r, z, n`. [`gate_rows`]
//! gives the rows of one gate.

use std::ops::Range;

/// Number of stacked gates in a vanilla (Elman) RNN: just the candidate state.
pub const RNN_GATES: usize = 1;
/// Number of stacked gates in an LSTM: input `i`, forget `f`, cell candidate `g`,
/// output `o`.
pub const LSTM_GATES: usize = 4;
/// Number of stacked gates in a GRU: reset `r`, update `z`, new state candidate `n`.
pub const GRU_GATES: usize = 3;

/// LSTM input gate `i`: the first block of `H` rows.
pub const LSTM_I: usize = 0;
/// LSTM forget gate `f`: the second block of `H` rows.
pub const LSTM_F: usize = 1;
/// LSTM cell candidate `g` (a `tanh`, not a sigmoid): the third block of `H` rows.
pub const LSTM_G: usize = 2;
/// LSTM output gate `o`: the fourth block of `H` rows.
pub const LSTM_O: usize = 3;
/// LSTM gate names in row order, for messages and tables.
pub const LSTM_GATE_NAMES: [&str; LSTM_GATES] = ["i", "f", "g", "o"];

/// GRU reset gate `r`: the first block of `H` rows.
pub const GRU_R: usize = 0;
/// GRU update gate `z`: the second block of `H` rows.
pub const GRU_Z: usize = 1;
/// GRU new state candidate `n`: the third block of `H` rows.
pub const GRU_N: usize = 2;
/// GRU gate names in row order, for messages and tables.
pub const GRU_GATE_NAMES: [&str; GRU_GATES] = ["r", "z", "n"];

// ANCHOR: gate_rows
/// Rows of gate number `gate` in a stacked parameter.
///
/// Shapes: the result indexes axis 0 of `weight_ih [G*H, I]`, `weight_hh [G*H, H]`,
/// `bias_ih [G*H]` and `bias_hh [G*H]`, and axis 1 of the pre-activations
/// `[B, G*H]`. The range has length `hidden_size` (`H`).
///
/// ```
/// use ch00_foundations::notation::{gate_rows, LSTM_F};
/// assert_eq!(gate_rows(LSTM_F, 3), 3..6);
/// ```
pub fn gate_rows(gate: usize, hidden_size: usize) -> Range<usize> {
    gate * hidden_size..(gate + 1) * hidden_size
}
// ANCHOR_END: gate_rows

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lstm_gate_rows_for_hidden_size_3() {
        let h = 3;
        assert_eq!(gate_rows(LSTM_I, h), 0..3);
        assert_eq!(gate_rows(LSTM_F, h), 3..6);
        assert_eq!(gate_rows(LSTM_G, h), 6..9);
        assert_eq!(gate_rows(LSTM_O, h), 9..12);
        assert_eq!(gate_rows(LSTM_GATES - 1, h).end, LSTM_GATES * h);
    }

    #[test]
    fn gru_gate_rows_for_hidden_size_4() {
        let h = 4;
        assert_eq!(gate_rows(GRU_R, h), 0..4);
        assert_eq!(gate_rows(GRU_Z, h), 4..8);
        assert_eq!(gate_rows(GRU_N, h), 8..12);
        assert_eq!(gate_rows(GRU_GATES - 1, h).end, GRU_GATES * h);
    }

    #[test]
    fn rnn_has_one_block_covering_all_rows() {
        assert_eq!(gate_rows(0, 5), 0..5);
        assert_eq!(RNN_GATES, 1);
    }

    #[test]
    fn gate_blocks_tile_the_rows_without_gaps() {
        for (g, h) in [(LSTM_GATES, 7), (GRU_GATES, 2)] {
            let mut next = 0;
            for gate in 0..g {
                let rows = gate_rows(gate, h);
                assert_eq!(rows.start, next);
                assert_eq!(rows.len(), h);
                next = rows.end;
            }
            assert_eq!(next, g * h);
        }
    }

    #[test]
    fn gate_names_follow_pytorch_order() {
        assert_eq!(LSTM_GATE_NAMES[LSTM_I], "i");
        assert_eq!(LSTM_GATE_NAMES[LSTM_F], "f");
        assert_eq!(LSTM_GATE_NAMES[LSTM_G], "g");
        assert_eq!(LSTM_GATE_NAMES[LSTM_O], "o");
        assert_eq!(GRU_GATE_NAMES[GRU_R], "r");
        assert_eq!(GRU_GATE_NAMES[GRU_Z], "z");
        assert_eq!(GRU_GATE_NAMES[GRU_N], "n");
    }
}
