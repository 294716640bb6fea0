//! OCGAN's networks, as the official MXNet code (`PramuPerera/OCGAN`, `models.py`) builds them:
//! 5×5 stride-2 convolutions without padding, so that an image of side `4·2^(depth+1) − 3`
//! (13, 29, 61, …) comes down to 1 × 1 in `depth + 1` of them and a 1 × 1 latent code goes back
//! up in as many transposed ones.

use crate::nn::dropout::dropout_while_training;
use crate::nn::mlp::{Activation, Mlp, MlpConfig};
use burn::nn::conv::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::{leaky_relu, relu};
use rand_chacha::ChaCha8Rng;

/// The image side that `depth + 1` unpadded 5×5 stride-2 convolutions bring down to 1 × 1
/// (`s ↦ (s − 5)/2 + 1`, inverted from 1): 13, 29, 61, 125, …; `None` past the largest side
/// a model may take.
pub fn side_for_depth(depth: usize) -> Option<usize> {
    // Bounded before shifting: a shift by 62 or 63 gives 0, not an overflow.
    if !(1..=16).contains(&depth) {
        return None;
    }
    let side = (4usize << (depth + 1)) - 3;
    (side <= crate::validate::MAX_IMAGE_SIDE).then_some(side)
}

/// MXNet's BatchNorm with `momentum=0.1` keeps 0.1 of the running statistics per step, i.e.
/// burn's momentum 0.9; ε is MXNet's 1e-5.
fn norm(channels: usize, device: &Device) -> BatchNorm {
    BatchNormConfig::new(channels)
        .with_momentum(0.9)
        .with_epsilon(1e-5)
        .init(device)
}

fn conv5(cin: usize, cout: usize, bias: bool, device: &Device) -> Conv2d {
    Conv2dConfig::new([cin, cout], [5, 5])
        .with_stride([2, 2])
        .with_padding(PaddingConfig2d::Valid)
        .with_bias(bias)
        .init(device)
}

fn deconv5(cin: usize, cout: usize, bias: bool, device: &Device) -> ConvTranspose2d {
    ConvTranspose2dConfig::new([cin, cout], [5, 5])
        .with_stride([2, 2])
        .with_bias(bias)
        .init(device)
}

/// A bias-free 5×5 stride-2 convolution with BatchNorm.
#[derive(Module, Debug)]
pub struct ConvNorm {
    conv: Conv2d,
    norm: BatchNorm,
}

impl ConvNorm {
    fn new(cin: usize, cout: usize, device: &Device) -> Self {
        ConvNorm {
            conv: conv5(cin, cout, false, device),
            norm: norm(cout, device),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        leaky_relu(self.norm.forward(self.conv.forward(x)), 0.2)
    }
}

/// A bias-free 5×5 stride-2 transposed convolution with BatchNorm.
#[derive(Module, Debug)]
pub struct DeconvNorm {
    conv: ConvTranspose2d,
    norm: BatchNorm,
}

impl DeconvNorm {
    fn new(cin: usize, cout: usize, device: &Device) -> Self {
        DeconvNorm {
            conv: deconv5(cin, cout, false, device),
            norm: norm(cout, device),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.norm.forward(self.conv.forward(x))
    }
}

/// The encoder: `x [B, C, s, s] → l [B, d]` in (−1, 1)^d. A convolution to `w` channels
/// (LeakyReLU 0.2), `depth − 1` doubling ones with BatchNorm, one to `d` channels at 1 × 1,
/// tanh (the paper's bounded latent space).
#[derive(Module, Debug)]
pub struct Encoder {
    first: Conv2d,
    middle: Vec<ConvNorm>,
    last: Conv2d,
}

impl Encoder {
    fn new(channels: usize, width: usize, depth: usize, latent: usize, device: &Device) -> Self {
        Encoder {
            first: conv5(channels, width, true, device),
            middle: (1..depth)
                .map(|n| ConvNorm::new(width << (n - 1), width << n, device))
                .collect(),
            last: conv5(width << (depth - 1), latent, false, device),
        }
    }

    /// `[B, C, s, s] → [B, d]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let b = x.dims()[0];
        let mut h = leaky_relu(self.first.forward(x), 0.2);
        for block in &self.middle {
            h = block.forward(h);
        }
        self.last.forward(h).tanh().reshape([b as i32, -1])
    }
}

/// The decoder: `l [B, d] → x̂ [B, C, s, s]` in (−1, 1). Transposed convolutions halving the
/// channels from `w·2^(depth−1)` to `w` (BatchNorm, ReLU; dropout 0.5 after the third when it
/// exists, as the code), one to the image channels, tanh.
#[derive(Module, Debug)]
pub struct Decoder {
    first: DeconvNorm,
    middle: Vec<DeconvNorm>,
    last: ConvTranspose2d,
    dropout: f64,
}

impl Decoder {
    fn new(
        channels: usize,
        width: usize,
        depth: usize,
        latent: usize,
        dropout: f64,
        device: &Device,
    ) -> Self {
        Decoder {
            first: DeconvNorm::new(latent, width << (depth - 1), device),
            middle: (1..depth)
                .map(|n| DeconvNorm::new(width << (depth - n), width << (depth - n - 1), device))
                .collect(),
            last: deconv5(width, channels, true, device),
            dropout,
        }
    }

    /// `[B, d] → [B, C, s, s]`; dropout only while training (`rng` given).
    pub fn forward(&self, l: Tensor<2>, mut rng: Option<&mut ChaCha8Rng>) -> Tensor<4> {
        let [b, d] = l.dims();
        let mut h = relu(self.first.forward(l.reshape([b, d, 1, 1])));
        for (i, block) in self.middle.iter().enumerate() {
            h = block.forward(h);
            // The code's `if n == 2` on its middle layers, counted from 1.
            if i == 1 {
                h = dropout_while_training(h, self.dropout, &mut rng);
            }
            h = relu(h);
        }
        self.last.forward(h).tanh()
    }
}

/// The code's PatchGAN-style discriminator, used as the visual discriminator (width 12) and
/// as the classifier (width 64): a convolution to `w` channels (LeakyReLU 0.2), `depth − 1`
/// with BatchNorm to `w·min(2^n, 8)`, one to a single logit at 1 × 1.
#[derive(Module, Debug)]
pub struct ConvDiscriminator {
    first: Conv2d,
    middle: Vec<ConvNorm>,
    last: Conv2d,
}

impl ConvDiscriminator {
    fn new(channels: usize, width: usize, depth: usize, device: &Device) -> Self {
        let wide = |n: usize| width * (1usize << n.min(3));
        ConvDiscriminator {
            first: conv5(channels, width, true, device),
            middle: (1..depth)
                .map(|n| ConvNorm::new(wide(n - 1), wide(n), device))
                .collect(),
            last: conv5(wide(depth - 1), 1, true, device),
        }
    }

    /// Logits `[B, 1]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let b = x.dims()[0];
        let mut h = leaky_relu(self.first.forward(x), 0.2);
        for block in &self.middle {
            h = block.forward(h);
        }
        self.last.forward(h).reshape([b, 1])
    }
}

/// Every network, saved together.
#[derive(Module, Debug)]
pub struct OcganNets {
    pub(super) encoder: Encoder,
    pub(super) decoder: Decoder,
    /// D_v: real images against images decoded from uniform latent samples.
    pub(super) visual: ConvDiscriminator,
    /// D_l: uniform latent samples against encoded images; logits `[B, 1]`.
    pub(super) latent: Mlp,
    /// C: reconstructions of real images against images decoded from uniform samples.
    pub(super) classifier: ConvDiscriminator,
}

/// The sizes [`OcganNets::new`] takes.
pub(super) struct Sizes {
    pub channels: usize,
    pub depth: usize,
    pub latent: usize,
    pub base_width: usize,
    pub discriminator_width: usize,
    pub decoder_dropout: f64,
}

impl OcganNets {
    /// The networks for images of `channels` channels and side [`side_for_depth`]`(depth)`
    /// (not yet initialised).
    pub(super) fn new(s: &Sizes, device: &Device) -> Self {
        OcganNets {
            encoder: Encoder::new(s.channels, s.base_width, s.depth, s.latent, device),
            decoder: Decoder::new(
                s.channels,
                s.base_width,
                s.depth,
                s.latent,
                s.decoder_dropout,
                device,
            ),
            visual: ConvDiscriminator::new(s.channels, s.discriminator_width, s.depth, device),
            latent: MlpConfig {
                widths: vec![s.latent, 128, 64, 32, 1],
                activation: Activation::Relu,
            }
            .init(device),
            classifier: ConvDiscriminator::new(s.channels, s.base_width, s.depth, device),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sides_come_down_to_one_pixel() {
        assert_eq!(side_for_depth(0), None);
        assert_eq!(side_for_depth(1), Some(13));
        assert_eq!(side_for_depth(2), Some(29));
        assert_eq!(side_for_depth(3), Some(61));
        assert_eq!(side_for_depth(9), Some(4093));
        assert_eq!(side_for_depth(10), None);
        assert_eq!(side_for_depth(61), None);
        assert_eq!(side_for_depth(62), None);
        assert_eq!(side_for_depth(usize::MAX), None);
    }

    /// The official depth-3 networks: 61 → 29 → 13 → 5 → 1 and back, the code's channels.
    #[test]
    fn official_networks_have_the_codes_shapes() {
        let device = Device::flex();
        let nets = OcganNets::new(
            &Sizes {
                channels: 1,
                depth: 3,
                latent: 16,
                base_width: 64,
                discriminator_width: 12,
                decoder_dropout: 0.5,
            },
            &device,
        );
        let x = Tensor::<4>::zeros([2, 1, 61, 61], &device);
        let l = nets.encoder.forward(x.clone());
        assert_eq!(l.dims(), [2, 16]);
        assert_eq!(nets.decoder.forward(l.clone(), None).dims(), [2, 1, 61, 61]);
        assert_eq!(nets.visual.forward(x.clone()).dims(), [2, 1]);
        assert_eq!(nets.classifier.forward(x).dims(), [2, 1]);
        assert_eq!(nets.latent.forward(l).dims(), [2, 1]);
        let channels = |d: &ConvDiscriminator| -> Vec<usize> {
            let mut c = vec![d.first.weight.dims()[0]];
            c.extend(d.middle.iter().map(|m| m.conv.weight.dims()[0]));
            c.push(d.last.weight.dims()[0]);
            c
        };
        assert_eq!(channels(&nets.visual), [12, 24, 48, 1]);
        assert_eq!(channels(&nets.classifier), [64, 128, 256, 1]);
        let mut enc = vec![nets.encoder.first.weight.dims()[0]];
        enc.extend(nets.encoder.middle.iter().map(|m| m.conv.weight.dims()[0]));
        enc.push(nets.encoder.last.weight.dims()[0]);
        assert_eq!(enc, [64, 128, 256, 16]);
        // ConvTranspose2d weights are [in, out, k, k].
        let mut dec = vec![nets.decoder.first.conv.weight.dims()[1]];
        dec.extend(nets.decoder.middle.iter().map(|m| m.conv.weight.dims()[1]));
        dec.push(nets.decoder.last.weight.dims()[1]);
        assert_eq!(dec, [256, 128, 64, 1]);
    }
}
