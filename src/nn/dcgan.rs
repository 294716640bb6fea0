//! The DCGAN encoder and decoder (Radford et al. 2016) in the shape GANomaly's `networks.py`
//! builds them: 4×4 kernels, stride 2, widths doubling (encoder) or halving (decoder) between
//! the input size and a 4×4 map, no biases, BatchNorm everywhere but the first encoder layer and
//! the last decoder layer. Used by GANomaly (two encoders, decoder, discriminator trunk) and the
//! convolutional autoencoder.

use burn::nn::conv::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::{leaky_relu, relu};
use serde::{Deserialize, Serialize};

/// LeakyReLU slope of the DCGAN encoder.
const SLOPE: f64 = 0.2;

/// Shape of a DCGAN encoder.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DcganEncoderConfig {
    /// Input side (a power of two, at least 8).
    pub image_size: usize,
    /// Input channels.
    pub channels: usize,
    /// Width of the first layer (`ndf`); doubles at each halving of the map.
    pub base_width: usize,
    /// Output channels of the final 4×4 convolution (`nz`; 1 for a discriminator).
    pub latent_dim: usize,
}

/// One strided convolution, BatchNorm and LeakyReLU step of the encoder pyramid.
#[derive(Module, Debug)]
pub struct DownBlock {
    conv: Conv2d,
    norm: BatchNorm,
}

/// DCGAN encoder: `[B, C, S, S] → [B, latent, 1, 1]`, with the 4×4 feature map before the final
/// convolution available as [`DcganEncoder::features`] (GANomaly's discriminator features).
#[derive(Module, Debug)]
pub struct DcganEncoder {
    first: Conv2d,
    pyramid: Vec<DownBlock>,
    last: Conv2d,
}

fn down_conv(cin: usize, cout: usize, device: &Device) -> Conv2d {
    Conv2dConfig::new([cin, cout], [4, 4])
        .with_stride([2, 2])
        .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
        .with_bias(false)
        .init(device)
}

/// Check that `size` is a power of two of at least 8 (the DCGAN pyramid's requirement).
pub fn check_image_size(size: usize) -> crate::Result<()> {
    anyhow::ensure!(
        size >= 8 && size.is_power_of_two(),
        "DCGAN networks need a square input whose side is a power of two ≥ 8, got {size}; resize the images (e.g. --image-size 32)"
    );
    Ok(())
}

impl DcganEncoderConfig {
    /// Build the encoder on `device`.
    pub fn init(&self, device: &Device) -> DcganEncoder {
        let first = down_conv(self.channels, self.base_width, device);
        let mut width = self.base_width;
        let mut size = self.image_size / 2;
        let mut pyramid = Vec::new();
        while size > 4 {
            pyramid.push(DownBlock {
                conv: down_conv(width, width * 2, device),
                norm: BatchNormConfig::new(width * 2).init(device),
            });
            width *= 2;
            size /= 2;
        }
        let last = Conv2dConfig::new([width, self.latent_dim], [4, 4])
            .with_bias(false)
            .init(device);
        DcganEncoder {
            first,
            pyramid,
            last,
        }
    }

    /// Channels of the 4×4 feature map.
    pub fn feature_channels(&self) -> usize {
        self.base_width * (self.image_size / 8)
    }
}

impl DcganEncoder {
    /// The 4×4 feature map before the final convolution.
    pub fn features(&self, x: Tensor<4>) -> Tensor<4> {
        let mut h = leaky_relu(self.first.forward(x), SLOPE);
        for block in &self.pyramid {
            h = leaky_relu(block.norm.forward(block.conv.forward(h)), SLOPE);
        }
        h
    }

    /// The final convolution applied to a feature map from [`DcganEncoder::features`].
    pub fn head(&self, features: Tensor<4>) -> Tensor<4> {
        self.last.forward(features)
    }

    /// `[B, C, S, S] → [B, latent, 1, 1]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.head(self.features(x))
    }
}

/// Shape of a DCGAN decoder (the encoder's mirror).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DcganDecoderConfig {
    /// Output side (a power of two, at least 8).
    pub image_size: usize,
    /// Output channels.
    pub channels: usize,
    /// Width of the last hidden layer (`ngf`).
    pub base_width: usize,
    /// Input latent channels (`nz`).
    pub latent_dim: usize,
}

/// One transposed convolution, BatchNorm and ReLU step of the decoder.
#[derive(Module, Debug)]
pub struct UpBlock {
    conv: ConvTranspose2d,
    norm: BatchNorm,
}

/// DCGAN decoder: `[B, latent, 1, 1] → [B, C, S, S]` with a tanh output.
#[derive(Module, Debug)]
pub struct DcganDecoder {
    pyramid: Vec<UpBlock>,
    last: ConvTranspose2d,
}

impl DcganDecoderConfig {
    /// Build the decoder on `device`.
    pub fn init(&self, device: &Device) -> DcganDecoder {
        let mut width = self.base_width * (self.image_size / 8);
        let mut pyramid = vec![UpBlock {
            conv: ConvTranspose2dConfig::new([self.latent_dim, width], [4, 4])
                .with_bias(false)
                .init(device),
            norm: BatchNormConfig::new(width).init(device),
        }];
        let mut size = 4;
        while size < self.image_size / 2 {
            pyramid.push(UpBlock {
                conv: ConvTranspose2dConfig::new([width, width / 2], [4, 4])
                    .with_stride([2, 2])
                    .with_padding([1, 1])
                    .with_bias(false)
                    .init(device),
                norm: BatchNormConfig::new(width / 2).init(device),
            });
            width /= 2;
            size *= 2;
        }
        let last = ConvTranspose2dConfig::new([width, self.channels], [4, 4])
            .with_stride([2, 2])
            .with_padding([1, 1])
            .with_bias(false)
            .init(device);
        DcganDecoder { pyramid, last }
    }
}

impl DcganDecoder {
    /// `[B, latent, 1, 1] → [B, C, S, S]`.
    pub fn forward(&self, z: Tensor<4>) -> Tensor<4> {
        self.forward_unbounded(z).tanh()
    }

    /// The output before its tanh: for a decoder whose channels are not all pixels (a
    /// likelihood's scale beside its location).
    pub fn forward_unbounded(&self, z: Tensor<4>) -> Tensor<4> {
        let mut h = z;
        for block in &self.pyramid {
            h = relu(block.norm.forward(block.conv.forward(h)));
        }
        self.last.forward(h)
    }
}

/// A DCGAN encoder followed by a DCGAN decoder: image → `[nz, 1, 1]` → image. The
/// convolutional autoencoder baseline and both of ADAE's autoencoders.
#[derive(Module, Debug)]
pub struct DcganAutoencoder {
    /// Image → `[nz, 1, 1]`.
    pub encoder: DcganEncoder,
    /// `[nz, 1, 1]` → image.
    pub decoder: DcganDecoder,
}

impl DcganAutoencoder {
    /// Build both halves for `[channels, size, size]` images with latent `nz`.
    pub fn new(
        image_size: usize,
        channels: usize,
        base_width: usize,
        latent_dim: usize,
        device: &Device,
    ) -> Self {
        DcganAutoencoder {
            encoder: DcganEncoderConfig {
                image_size,
                channels,
                base_width,
                latent_dim,
            }
            .init(device),
            decoder: DcganDecoderConfig {
                image_size,
                channels,
                base_width,
                latent_dim,
            }
            .init(device),
        }
    }

    /// Reconstruct `[B, C, S, S]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.decoder.forward(self.encoder.forward(x))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_match_ganomaly_32() {
        let device = Device::flex();
        let enc = DcganEncoderConfig {
            image_size: 32,
            channels: 3,
            base_width: 64,
            latent_dim: 100,
        };
        assert_eq!(enc.feature_channels(), 256);
        let e = enc.init(&device);
        let x = Tensor::<4>::zeros([2, 3, 32, 32], &device);
        assert_eq!(e.features(x.clone()).dims(), [2, 256, 4, 4]);
        let z = e.forward(x);
        assert_eq!(z.dims(), [2, 100, 1, 1]);
        let d = DcganDecoderConfig {
            image_size: 32,
            channels: 3,
            base_width: 64,
            latent_dim: 100,
        }
        .init(&device);
        assert_eq!(d.forward(z).dims(), [2, 3, 32, 32]);
    }
}
