//! Chapter 2's figures.

use super::Figure;

/// Chapter 2's figures.
pub fn figures() -> Vec<Figure> {
    vec![]
}
