//! Characters as numbers: a vocabulary, one-hot inputs, and training windows.

use std::collections::BTreeMap;

use ndarray::{Array2, Array3, ArrayView2};
use serde::{Deserialize, Serialize};

/// The characters of a text, sorted, each with its index `0..V`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vocab {
    chars: Vec<char>,
    #[serde(skip)]
    index: BTreeMap<char, usize>,
}

impl Vocab {
    /// Every distinct character of `text`, in sorted order (so the same text gives
    /// the same vocabulary on every machine).
    pub fn from_text(text: &str) -> Self {
        let mut chars: Vec<char> = text.chars().collect();
        chars.sort_unstable();
        chars.dedup();
        Self::from_chars(chars)
    }

    /// A vocabulary with these characters in this order (as saved in a checkpoint).
    pub fn from_chars(chars: Vec<char>) -> Self {
        let index = chars.iter().enumerate().map(|(i, &c)| (c, i)).collect();
        Vocab { chars, index }
    }

    /// `V`.
    pub fn len(&self) -> usize {
        self.chars.len()
    }

    /// True for a vocabulary with no characters.
    pub fn is_empty(&self) -> bool {
        self.chars.is_empty()
    }

    /// The characters, by index.
    pub fn chars(&self) -> &[char] {
        &self.chars
    }

    /// The index of `c`, if it is in the vocabulary.
    pub fn index_of(&self, c: char) -> Option<usize> {
        if self.index.is_empty() && !self.chars.is_empty() {
            // Deserialized: the map was skipped; fall back to a search.
            return self.chars.iter().position(|&x| x == c);
        }
        self.index.get(&c).copied()
    }

    /// `text` as indices; `None` if a character is not in the vocabulary.
    pub fn encode(&self, text: &str) -> Option<Vec<usize>> {
        text.chars().map(|c| self.index_of(c)).collect()
    }

    /// Indices back to text.
    ///
    /// # Panics
    /// If an index is `>= V`.
    pub fn decode(&self, indices: &[usize]) -> String {
        indices.iter().map(|&i| self.chars[i]).collect()
    }
}

/// One-hot encoding.
///
/// Shapes: `indices: [T, B]` (each `< vocab_size`) → `[T, B, V]`.
pub fn one_hot(indices: ArrayView2<usize>, vocab_size: usize) -> Array3<f64> {
    let (t, b) = indices.dim();
    let mut x = Array3::zeros((t, b, vocab_size));
    for ((ti, bi), &i) in indices.indexed_iter() {
        assert!(
            i < vocab_size,
            "one_hot: index {i} at [{ti}, {bi}] is not below V = {vocab_size}"
        );
        x[[ti, bi, i]] = 1.0;
    }
    x
}

/// Cuts `encoded` into `batch` equal streams, one per sequence of the batch, laid
/// side by side; training then walks down the streams `seq_len` steps at a time,
/// carrying each stream's hidden state from one window to the next.
///
/// Returns `(inputs, targets)`, both `[N, batch]` with `N = (len − 1) / batch`;
/// `targets` is the text shifted by one character. Characters that do not fill a
/// whole row are dropped.
pub fn streams(encoded: &[usize], batch: usize) -> (Array2<usize>, Array2<usize>) {
    assert!(batch > 0, "streams: batch must be positive");
    let n = encoded.len().saturating_sub(1) / batch;
    let inputs = Array2::from_shape_fn((n, batch), |(t, b)| encoded[b * n + t]);
    let targets = Array2::from_shape_fn((n, batch), |(t, b)| encoded[b * n + t + 1]);
    (inputs, targets)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn vocab_round_trips_and_is_sorted() {
        let v = Vocab::from_text("hello, world");
        assert_eq!(v.chars(), [' ', ',', 'd', 'e', 'h', 'l', 'o', 'r', 'w']);
        let enc = v.encode("hello").unwrap();
        assert_eq!(v.decode(&enc), "hello");
        assert_eq!(v.encode("xyz"), None);
    }

    #[test]
    fn one_hot_places_a_single_one() {
        let x = one_hot(array![[2usize, 0]].view(), 3);
        assert_eq!(x.dim(), (1, 2, 3));
        assert_eq!(x.sum(), 2.0);
        assert_eq!(x[[0, 0, 2]], 1.0);
        assert_eq!(x[[0, 1, 0]], 1.0);
    }

    #[test]
    fn streams_shift_targets_by_one() {
        let enc: Vec<usize> = (0..11).collect();
        let (inp, tgt) = streams(&enc, 2);
        assert_eq!(inp, array![[0, 5], [1, 6], [2, 7], [3, 8], [4, 9]]);
        assert_eq!(tgt, array![[1, 6], [2, 7], [3, 8], [4, 9], [5, 10]]);
    }
}
