//! f-AnoGAN's networks: the critic, the encoder and the three networks saved together.

use super::resnet::{ResnetGenerator, ResnetTrunk};
use crate::nn::spectral::LinearLayer;
use crate::nn::dense::forward_batch_invariant;
use burn::nn::Linear;
use burn::prelude::*;

/// The critic: trunk (its features are f) and a linear output.
#[derive(Module, Debug)]
pub struct Critic {
    pub(super) trunk: ResnetTrunk,
    pub(super) out: LinearLayer,
}

impl Critic {
    pub(super) fn features(&self, x: Tensor<4>) -> Tensor<2> {
        self.trunk.forward(x, false)
    }

    pub(super) fn forward(&self, x: Tensor<4>) -> Tensor<1> {
        let b = x.dims()[0];
        self.out.forward(self.features(x), false).reshape([b])
    }

    /// As [`Critic::forward`], advancing spectral normalisation's power iteration (once per
    /// critic step, on the real batch).
    pub(super) fn forward_training(&self, x: Tensor<4>) -> Tensor<1> {
        let b = x.dims()[0];
        self.out
            .forward(self.trunk.forward(x, true), true)
            .reshape([b])
    }
}

/// The encoder: trunk with BatchNorm, linear, tanh.
#[derive(Module, Debug)]
pub struct Encoder {
    pub(super) trunk: ResnetTrunk,
    pub(super) out: Linear,
}

impl Encoder {
    pub(super) fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        forward_batch_invariant(&self.out, self.trunk.forward(x, false)).tanh()
    }
}

/// All three networks, saved together.
#[derive(Module, Debug)]
pub struct FanoganNets {
    pub(super) generator: ResnetGenerator,
    pub(super) critic: Critic,
    pub(super) encoder: Encoder,
}
