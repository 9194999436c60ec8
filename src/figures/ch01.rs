//! Chapter 1's figures.

use super::Figure;

/// Chapter 1's figures.
pub fn figures() -> Vec<Figure> {
    vec![]
}
