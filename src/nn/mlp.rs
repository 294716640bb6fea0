//! A multi-layer perceptron: linear layers with an activation between them and none after the
//! last, the fully connected counterpart of the DCGAN blocks for tables.

use super::dense::forward_batch_invariant;
use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::{leaky_relu, relu};
use serde::{Deserialize, Serialize};

/// The hidden activation of an [`Mlp`].
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Activation {
    /// max(0, x).
    Relu,
    /// LeakyReLU with the given negative slope.
    LeakyRelu(f64),
}

/// Layer widths of an MLP, input first, output last.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MlpConfig {
    /// `[input, hidden…, output]`.
    pub widths: Vec<usize>,
    /// Activation between layers.
    pub activation: Activation,
}

/// A multi-layer perceptron `[B, in] → [B, out]`.
#[derive(Module, Debug)]
pub struct Mlp {
    layers: Vec<Linear>,
    negative_slope: f64,
}

impl MlpConfig {
    /// Build the MLP on `device`.
    pub fn init(&self, device: &Device) -> Mlp {
        let layers = self
            .widths
            .windows(2)
            .map(|w| LinearConfig::new(w[0], w[1]).init(device))
            .collect();
        let negative_slope = match self.activation {
            Activation::Relu => 0.0,
            Activation::LeakyRelu(s) => s,
        };
        Mlp {
            layers,
            negative_slope,
        }
    }
}

impl Mlp {
    /// `[B, in] → [B, out]`, no activation after the last layer.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let last = self.layers.len() - 1;
        let mut h = x;
        for (i, layer) in self.layers.iter().enumerate() {
            h = forward_batch_invariant(layer, h);
            if i < last {
                h = if self.negative_slope == 0.0 {
                    relu(h)
                } else {
                    leaky_relu(h, self.negative_slope)
                };
            }
        }
        h
    }
}
