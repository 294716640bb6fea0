//! The 256 8-bit levels of pixels scaled to `[−1, 1]` (`--scaling minus-one-to-one`,
//! `x/127.5 − 1`): what a likelihood of the 8-bit image is over (the VAE's discretised
//! logistic decoder, PixelCNN's softmax).

use burn::prelude::*;

/// The level index `round(127.5·(x + 1))` of each value, clamped to `0..=255`, as floats.
pub fn level_indices<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    (x + 1.0).mul_scalar(127.5).round().clamp(0.0, 255.0)
}

/// The values of level indices on `[−1, 1]`.
pub fn from_level_indices<const D: usize>(levels: Tensor<D>) -> Tensor<D> {
    levels / 127.5 - 1.0
}

/// Each value moved to its nearest level (values past either end to the end).
pub fn on_levels<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    from_level_indices(level_indices(x))
}
