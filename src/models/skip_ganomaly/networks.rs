//! Skip-GANomaly's networks: the feature discriminator and both networks saved together.

use super::SkipGanomalyConfig;
use super::unet::Unet;
use crate::nn::{DcganEncoder, DcganEncoderConfig};
use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::prelude::*;

/// DCGAN trunk to a 100-d feature, then a 3×3 convolution to a logit.
#[derive(Module, Debug)]
pub struct FeatureDiscriminator {
    trunk: DcganEncoder,
    classifier: Conv2d,
}

impl FeatureDiscriminator {
    /// (features `[B, nz, 1, 1]`, logits `[B, 1, 1, 1]`).
    pub fn forward(&self, x: Tensor<4>) -> (Tensor<4>, Tensor<4>) {
        let features = self.trunk.forward(x);
        let logits = self.classifier.forward(features.clone());
        (features, logits)
    }
}

/// Both networks, saved together.
#[derive(Module, Debug)]
pub struct SkipGanomalyNets {
    pub(super) generator: Unet,
    pub(super) discriminator: FeatureDiscriminator,
}

/// The discriminator of `config` for images of `channels` channels (not yet initialised).
pub(super) fn discriminator(
    config: &SkipGanomalyConfig,
    channels: usize,
    device: &Device,
) -> FeatureDiscriminator {
    FeatureDiscriminator {
        trunk: DcganEncoderConfig {
            image_size: config.image_size,
            channels,
            base_width: config.base_width,
            latent_dim: config.latent_dim,
        }
        .init(device),
        classifier: Conv2dConfig::new([config.latent_dim, 1], [3, 3])
            .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
            .init(device),
    }
}
