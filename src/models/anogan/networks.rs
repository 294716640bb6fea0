//! AnoGAN's networks: the DCGAN or MLP generator and discriminator, built for images or tables.

use super::AnoganConfig;
use crate::nn::bigan::{DenseBlockConfig, DenseStack, DiscriminatorStyle, stack_width};
use crate::nn::init::component_rng;
use crate::nn::mlp::Activation;
use crate::nn::{
    DcganDecoder, DcganDecoderConfig, DcganEncoder, DcganEncoderConfig, Mlp, MlpConfig,
};
use crate::nn::dense::forward_batch_invariant;
use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use rand_chacha::ChaCha8Rng;

/// MLP discriminator for tables: LeakyReLU(0.2) blocks with dropout (the last one's output is f)
/// and a linear logit.
#[derive(Module, Debug)]
pub struct DenseDiscriminator {
    trunk: DenseStack,
    logit: Linear,
}

/// The generator: DCGAN decoder or MLP.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum Generator {
    /// `[B, nz, 1, 1] → image`.
    Conv(DcganDecoder),
    /// `[B, latent] → row`.
    Dense(Mlp),
}

/// The discriminator: DCGAN encoder with one output, or MLP.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum Discriminator {
    /// DCGAN encoder; f = its 4×4 feature map.
    Conv(DcganEncoder),
    /// MLP; f = its last hidden layer.
    Dense(DenseDiscriminator),
}

/// Both networks, saved together.
#[derive(Module, Debug)]
pub struct AnoganNets {
    pub(super) generator: Generator,
    pub(super) discriminator: Discriminator,
}

impl AnoganNets {
    /// The DCGAN generator and discriminator of `config` for images of `channels` channels
    /// (not yet initialised).
    pub(super) fn for_images(config: &AnoganConfig, channels: usize, device: &Device) -> Self {
        let generator = DcganDecoderConfig {
            image_size: config.image_size,
            channels,
            base_width: config.base_width,
            latent_dim: config.latent_dim,
        };
        let discriminator = DcganEncoderConfig {
            image_size: config.image_size,
            channels,
            base_width: config.base_width,
            latent_dim: 1,
        };
        AnoganNets {
            generator: Generator::Conv(generator.init(device)),
            discriminator: Discriminator::Conv(discriminator.init(device)),
        }
    }

    /// The MLP generator and discriminator of `config` for rows of `features` values (not yet
    /// initialised).
    pub(super) fn for_table(
        config: &AnoganConfig,
        features: usize,
        seed: u64,
        device: &Device,
    ) -> Self {
        let generator = MlpConfig {
            widths: vec![config.table_latent_dim, 64, 128, features],
            activation: Activation::Relu,
        };
        let style = DiscriminatorStyle {
            slope: 0.2,
            spectral: false,
        };
        let blocks: Vec<DenseBlockConfig> = config
            .table_discriminator
            .iter()
            .map(|&width| DenseBlockConfig {
                width,
                batch_norm: false,
                dropout: config.table_dropout,
            })
            .collect();
        // No spectral normalisation here, so the stack draws nothing from this stream.
        let mut unused = component_rng(seed, 3);
        AnoganNets {
            generator: Generator::Dense(generator.init(device)),
            discriminator: Discriminator::Dense(DenseDiscriminator {
                trunk: DenseStack::new(features, &blocks, style, device, &mut unused),
                logit: LinearConfig::new(stack_width(features, &blocks), 1).init(device),
            }),
        }
    }
}

impl Generator {
    /// G(z) as flattened samples `[B, D]`.
    pub(super) fn generate(&self, z: Tensor<2>, image: Option<[usize; 3]>) -> Tensor<2> {
        let [b, n] = z.dims();
        match (self, image) {
            (Generator::Conv(g), Some([c, h, w])) => {
                g.forward(z.reshape([b, n, 1, 1])).reshape([b, c * h * w])
            }
            (Generator::Dense(g), _) => g.forward(z),
            (Generator::Conv(_), None) => unreachable!("conv generator without an image shape"),
        }
    }
}

impl Discriminator {
    /// (f(x) flattened `[B, F]`, logits `[B, 1]`); `rng` draws dropout masks while training.
    pub(super) fn discriminate(
        &self,
        x: Tensor<2>,
        image: Option<[usize; 3]>,
        mut rng: Option<&mut ChaCha8Rng>,
    ) -> (Tensor<2>, Tensor<2>) {
        let b = x.dims()[0];
        match (self, image) {
            (Discriminator::Conv(d), Some([c, h, w])) => {
                let f = d.features(x.reshape([b, c, h, w]));
                let logits = d.head(f.clone()).reshape([b, 1]);
                (f.reshape([b as i32, -1]), logits)
            }
            (Discriminator::Dense(d), _) => {
                let f = d.trunk.forward(x, &mut rng);
                let logits = forward_batch_invariant(&d.logit, f.clone());
                (f, logits)
            }
            (Discriminator::Conv(_), None) => unreachable!("conv discriminator without an image"),
        }
    }
}
