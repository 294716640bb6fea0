//! ALOCC's networks: the refiner R, the classifier D and their layers.

use crate::nn::dense::forward_batch_invariant;
use burn::nn::conv::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::{leaky_relu, relu};

fn norm(channels: usize, device: &Device) -> BatchNorm {
    BatchNormConfig::new(channels)
        .with_epsilon(1e-6)
        .with_momentum(0.1)
        .init(device)
}

fn conv5(cin: usize, cout: usize, device: &Device) -> Conv2d {
    Conv2dConfig::new([cin, cout], [5, 5])
        .with_stride([2, 2])
        .with_padding(PaddingConfig2d::Explicit(2, 2, 2, 2))
        .init(device)
}

fn deconv5(cin: usize, cout: usize, device: &Device) -> ConvTranspose2d {
    ConvTranspose2dConfig::new([cin, cout], [5, 5])
        .with_stride([2, 2])
        .with_padding([2, 2])
        .with_padding_out([1, 1])
        .init(device)
}

/// A stride-2 5×5 convolution with BatchNorm.
#[derive(Module, Debug)]
pub struct ConvNorm {
    conv: Conv2d,
    norm: BatchNorm,
}

/// A stride-2 5×5 transposed convolution with BatchNorm.
#[derive(Module, Debug)]
pub struct DeconvNorm {
    conv: ConvTranspose2d,
    norm: BatchNorm,
}

/// R: the denoising encoder-decoder.
#[derive(Module, Debug)]
pub struct Refiner {
    encoder: Vec<ConvNorm>,
    decoder: Vec<DeconvNorm>,
    out: ConvTranspose2d,
}

impl Refiner {
    pub(super) fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let mut h = x;
        for b in &self.encoder {
            h = leaky_relu(b.norm.forward(b.conv.forward(h)), 0.2);
        }
        for b in &self.decoder {
            h = relu(b.norm.forward(b.conv.forward(h)));
        }
        self.out.forward(h).tanh()
    }
}

/// D: the one-class classifier.
#[derive(Module, Debug)]
pub struct Classifier {
    first: Conv2d,
    rest: Vec<ConvNorm>,
    logit: Linear,
}

impl Classifier {
    /// Logits `[B, 1]`.
    pub(super) fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let b = x.dims()[0];
        let mut h = leaky_relu(self.first.forward(x), 0.2);
        for l in &self.rest {
            h = leaky_relu(l.norm.forward(l.conv.forward(h)), 0.2);
        }
        forward_batch_invariant(&self.logit, h.reshape([b as i32, -1]))
    }
}

/// Both networks, saved together.
#[derive(Module, Debug)]
pub struct AloccNets {
    pub(super) refiner: Refiner,
    pub(super) classifier: Classifier,
}

impl AloccNets {
    /// R and D of the official code for 32×32 images of `channels` channels (not yet
    /// initialised).
    pub(super) fn new(channels: usize, dev: &Device) -> Self {
        let cn = |cin, cout| ConvNorm {
            conv: conv5(cin, cout, dev),
            norm: norm(cout, dev),
        };
        let dn = |cin, cout| DeconvNorm {
            conv: deconv5(cin, cout, dev),
            norm: norm(cout, dev),
        };
        AloccNets {
            refiner: Refiner {
                encoder: vec![cn(channels, 32), cn(32, 64), cn(64, 128)],
                decoder: vec![dn(128, 32), dn(32, 16)],
                out: deconv5(16, channels, dev),
            },
            classifier: Classifier {
                first: conv5(channels, 16, dev),
                rest: vec![cn(16, 32), cn(32, 64), cn(64, 128)],
                logit: LinearConfig::new(128 * 2 * 2, 1).init(dev),
            },
        }
    }
}
