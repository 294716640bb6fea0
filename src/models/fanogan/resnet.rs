//! The residual networks of the WGAN-GP 64×64 code (Gulrajani et al. 2017, `gan_64x64.py`)
//! that f-AnoGAN uses: the "good" generator and the critic / encoder trunk.
//!
//! - Residual block: `shortcut(x) + conv₂(relu(norm₂(conv₁(relu(norm₁(x))))))`, 3×3 convolutions
//!   (the first without bias), a 1×1 shortcut convolution; `up` blocks upsample (nearest, as the
//!   code's depth-to-space of copies) before conv₁ and the shortcut, `down` blocks mean-pool after
//!   conv₂ and before the shortcut.
//! - Generator: `Linear(z → 8·d·4·4)`, four up blocks 8d → 8d → 4d → 2d → d, BatchNorm, ReLU,
//!   3×3 convolution to the image channels, tanh (4×4 → 64×64).
//! - Trunk: 3×3 convolution to d, four down blocks d → 2d → 4d → 8d → 8d (64×64 → 4×4), flattened
//!   to 8d·4·4 features. The critic normalises with a layer norm over (C, H, W) (batch
//!   statistics would break the per-sample gradient penalty), the encoder with BatchNorm.

use crate::nn::spectral::Conv2dLayer;
use crate::nn::dense::forward_batch_invariant;
use burn::module::Param;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::relu;
use rand_chacha::ChaCha8Rng;

/// Layer norm over (C, H, W) per sample with a scale and offset per channel (the WGAN-GP code's
/// `Layernorm([1, 2, 3])`).
#[derive(Module, Debug)]
pub struct ChannelLayerNorm {
    gamma: Param<Tensor<1>>,
    beta: Param<Tensor<1>>,
}

impl ChannelLayerNorm {
    fn new(channels: usize, device: &Device) -> Self {
        ChannelLayerNorm {
            gamma: Param::from_tensor(Tensor::ones([channels], device)),
            beta: Param::from_tensor(Tensor::zeros([channels], device)),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let [b, c, h, w] = x.dims();
        let flat = x.reshape([b, c * h * w]);
        let mean = flat.clone().mean_dim(1);
        let centred = flat - mean;
        let var = centred.clone().powi_scalar(2).mean_dim(1);
        let normed = (centred / var.add_scalar(1e-5).sqrt()).reshape([b, c, h, w]);
        normed * self.gamma.val().reshape([1, c, 1, 1]) + self.beta.val().reshape([1, c, 1, 1])
    }
}

/// Which normalisation a network uses.
#[derive(Module, Debug)]
pub enum Norm {
    /// Per-sample layer norm (the critic).
    Layer(ChannelLayerNorm),
    /// BatchNorm (generator and encoder).
    Batch(BatchNorm),
}

impl Norm {
    fn new(channels: usize, layer: bool, device: &Device) -> Self {
        if layer {
            Norm::Layer(ChannelLayerNorm::new(channels, device))
        } else {
            Norm::Batch(BatchNormConfig::new(channels).init(device))
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        match self {
            Norm::Layer(n) => n.forward(x),
            Norm::Batch(n) => n.forward(x),
        }
    }
}

fn conv(cin: usize, cout: usize, k: usize, bias: bool, device: &Device) -> Conv2d {
    let p = k / 2;
    Conv2dConfig::new([cin, cout], [k, k])
        .with_padding(PaddingConfig2d::Explicit(p, p, p, p))
        .with_bias(bias)
        .init(device)
}

/// Nearest-neighbour ×2 upsampling.
/// `c`, spectrally normalised when a generator for the power iteration's start is given.
fn layer(c: Conv2d, spectral: &mut Option<&mut ChaCha8Rng>) -> Conv2dLayer {
    match spectral.as_deref_mut() {
        Some(rng) => Conv2dLayer::new(c, true, rng),
        None => Conv2dLayer::Plain(c),
    }
}

fn upsample(x: Tensor<4>) -> Tensor<4> {
    let [b, c, h, w] = x.dims();
    x.reshape([b, c, h, 1, w, 1])
        .expand([b, c, h, 2, w, 2])
        .reshape([b, c, 2 * h, 2 * w])
}

/// 2×2 mean pooling.
fn mean_pool(x: Tensor<4>) -> Tensor<4> {
    let [b, c, h, w] = x.dims();
    x.reshape([b, c, h / 2, 2, w / 2, 2])
        .mean_dim(5)
        .mean_dim(3)
        .reshape([b, c, h / 2, w / 2])
}

/// Up or down residual block.
#[derive(Module, Debug)]
pub struct ResidualBlock {
    norm_1: Norm,
    conv_1: Conv2dLayer,
    norm_2: Norm,
    conv_2: Conv2dLayer,
    shortcut: Conv2dLayer,
    up: bool,
}

impl ResidualBlock {
    fn new(
        [cin, cout]: [usize; 2],
        up: bool,
        layer_norm: bool,
        spectral: &mut Option<&mut ChaCha8Rng>,
        device: &Device,
    ) -> Self {
        // Up: conv₁ changes the width (cin → cout); down: conv₂ does (cin → cout).
        let mid = if up { cout } else { cin };
        ResidualBlock {
            norm_1: Norm::new(cin, layer_norm, device),
            conv_1: layer(conv(cin, mid, 3, false, device), spectral),
            norm_2: Norm::new(mid, layer_norm, device),
            conv_2: layer(conv(mid, cout, 3, true, device), spectral),
            shortcut: layer(conv(cin, cout, 1, true, device), spectral),
            up,
        }
    }

    fn forward(&self, x: Tensor<4>, training: bool) -> Tensor<4> {
        let t = training;
        let h = relu(self.norm_1.forward(x.clone()));
        if self.up {
            let h = self.conv_1.forward(upsample(h), t);
            let h = self.conv_2.forward(relu(self.norm_2.forward(h)), t);
            self.shortcut.forward(upsample(x), t) + h
        } else {
            let h = self.conv_1.forward(h, t);
            let h = mean_pool(self.conv_2.forward(relu(self.norm_2.forward(h)), t));
            self.shortcut.forward(mean_pool(x), t) + h
        }
    }
}

/// The WGAN-GP "good" generator, `[B, z] → [B, C, 64, 64]`.
#[derive(Module, Debug)]
pub struct ResnetGenerator {
    project: Linear,
    blocks: Vec<ResidualBlock>,
    norm: BatchNorm,
    out: Conv2d,
    width: usize,
}

impl ResnetGenerator {
    /// Base width `d`, latent size `z`, output channels `channels`.
    pub fn new(latent: usize, width: usize, channels: usize, device: &Device) -> Self {
        let widths = [8 * width, 8 * width, 4 * width, 2 * width, width];
        ResnetGenerator {
            project: LinearConfig::new(latent, 8 * width * 16).init(device),
            blocks: widths
                .windows(2)
                .map(|w| ResidualBlock::new([w[0], w[1]], true, false, &mut None, device))
                .collect(),
            norm: BatchNormConfig::new(width).init(device),
            out: conv(width, channels, 3, true, device),
            width,
        }
    }

    /// G(z), 64×64.
    pub fn forward(&self, z: Tensor<2>) -> Tensor<4> {
        let b = z.dims()[0];
        let mut h = forward_batch_invariant(&self.project, z).reshape([b, 8 * self.width, 4, 4]);
        for block in &self.blocks {
            h = block.forward(h, false);
        }
        self.out.forward(relu(self.norm.forward(h))).tanh()
    }
}

/// The critic / encoder trunk, `[B, C, 64, 64] → [B, 8d·4·4]`.
#[derive(Module, Debug)]
pub struct ResnetTrunk {
    first: Conv2dLayer,
    blocks: Vec<ResidualBlock>,
}

impl ResnetTrunk {
    /// Base width `d`; layer norm (critic) or BatchNorm (encoder).
    pub fn new(
        channels: usize,
        width: usize,
        layer_norm: bool,
        mut spectral: Option<&mut ChaCha8Rng>,
        device: &Device,
    ) -> Self {
        let widths = [width, 2 * width, 4 * width, 8 * width, 8 * width];
        ResnetTrunk {
            first: layer(conv(channels, width, 3, true, device), &mut spectral),
            blocks: widths
                .windows(2)
                .map(|w| ResidualBlock::new([w[0], w[1]], false, layer_norm, &mut spectral, device))
                .collect(),
        }
    }

    /// Flattened 4×4 features.
    pub fn forward(&self, x: Tensor<4>, training: bool) -> Tensor<2> {
        let b = x.dims()[0];
        let mut h = self.first.forward(x, training);
        for block in &self.blocks {
            h = block.forward(h, training);
        }
        h.reshape([b as i32, -1])
    }

    /// Width of the flattened features for base width `d`.
    pub fn features(width: usize) -> usize {
        8 * width * 16
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_are_those_of_the_64x64_code() {
        let device = Device::flex();
        let g = ResnetGenerator::new(16, 4, 1, &device);
        let x = g.forward(Tensor::zeros([2, 16], &device));
        assert_eq!(x.dims(), [2, 1, 64, 64]);
        let t = ResnetTrunk::new(1, 4, true, None, &device);
        assert_eq!(
            t.forward(x.clone(), false).dims(),
            [2, ResnetTrunk::features(4)]
        );
        let mut rng = <ChaCha8Rng as rand::SeedableRng>::seed_from_u64(0);
        let spectral = ResnetTrunk::new(1, 4, true, Some(&mut rng), &device);
        assert_eq!(
            spectral.forward(x, true).dims(),
            [2, ResnetTrunk::features(4)]
        );
    }
}
