//! Chapter 3's figures.

use super::Figure;

/// Chapter 3's figures.
pub fn figures() -> Vec<Figure> {
    vec![]
}
