//! EGBAD's networks: its KDD99 (dense) and MNIST (convolutional) families behind one set of enums.

use super::EgbadConfig;
use super::conv::{MnistEncoder, MnistGenerator, MnistJointDiscriminator};
use crate::nn::bigan::{DenseBlockConfig, DiscriminatorOutput, DiscriminatorStyle};
use crate::nn::mlp::Activation;
use crate::nn::{JointDiscriminator, JointDiscriminatorConfig, Mlp, MlpConfig};
use burn::prelude::*;
use rand_chacha::ChaCha8Rng;

/// EGBAD's encoder for tables or 28×28 grey images, on flattened samples.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum EgbadEncoder {
    /// Tables.
    Dense(Mlp),
    /// 28×28 grey images.
    Mnist(MnistEncoder),
}

impl EgbadEncoder {
    /// `[B, D] → [B, latent]`.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        match self {
            EgbadEncoder::Dense(n) => n.forward(x),
            EgbadEncoder::Mnist(n) => n.forward(x),
        }
    }
}

/// EGBAD's generator (the same two families as [`EgbadEncoder`]).
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum EgbadGenerator {
    /// Tables.
    Dense(Mlp),
    /// 28×28 grey images.
    Mnist(MnistGenerator),
}

impl EgbadGenerator {
    /// `[B, latent] → [B, D]`.
    pub fn forward(&self, z: Tensor<2>) -> Tensor<2> {
        match self {
            EgbadGenerator::Dense(n) => n.forward(z),
            EgbadGenerator::Mnist(n) => n.forward(z),
        }
    }
}

/// EGBAD's joint discriminator D(x, z) (the same two families as [`EgbadEncoder`]).
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum EgbadJointDiscriminator {
    /// Tables.
    Dense(JointDiscriminator),
    /// 28×28 grey images.
    Mnist(MnistJointDiscriminator),
}

impl EgbadJointDiscriminator {
    /// One pass; `rng` draws dropout masks while training, `None` evaluates.
    pub fn forward(
        &self,
        x: Tensor<2>,
        z: Tensor<2>,
        rng: Option<&mut ChaCha8Rng>,
    ) -> DiscriminatorOutput {
        match self {
            EgbadJointDiscriminator::Dense(n) => n.forward(x, z, rng),
            EgbadJointDiscriminator::Mnist(n) => n.forward(x, z, rng),
        }
    }
}

/// Encoder, generator and joint discriminator.
#[derive(Module, Debug)]
pub struct EgbadNets {
    pub(super) encoder: EgbadEncoder,
    pub(super) generator: EgbadGenerator,
    pub(super) discriminator: EgbadJointDiscriminator,
}

impl EgbadNets {
    /// The KDD99 networks for rows of `features` columns, latent `config.latent_dim`; `rng` goes
    /// to the joint discriminator's construction.
    pub fn for_table(
        config: &EgbadConfig,
        features: usize,
        device: &Device,
        rng: &mut ChaCha8Rng,
    ) -> Self {
        let latent = config.latent_dim;
        let widths = |first: usize, hidden: &[usize], last: usize| {
            let mut w = vec![first];
            w.extend(hidden);
            w.push(last);
            w
        };
        let encoder = MlpConfig {
            widths: widths(features, &config.encoder_hidden, latent),
            activation: Activation::LeakyRelu(config.slope),
        };
        let generator = MlpConfig {
            widths: widths(latent, &config.generator_hidden, features),
            activation: Activation::Relu,
        };
        let branch = DenseBlockConfig {
            width: config.discriminator_width,
            batch_norm: false,
            dropout: config.dropout,
        };
        let discriminator = JointDiscriminatorConfig {
            input: features,
            latent,
            x_branch: branch,
            z_branch: branch,
            joint: branch,
            style: DiscriminatorStyle {
                slope: config.slope,
                spectral: false,
            },
        };
        EgbadNets {
            encoder: EgbadEncoder::Dense(encoder.init(device)),
            generator: EgbadGenerator::Dense(generator.init(device)),
            discriminator: EgbadJointDiscriminator::Dense(discriminator.init(device, rng)),
        }
    }

    /// The MNIST networks for 28×28 grey images, latent `config.image_latent_dim`.
    pub fn for_mnist(config: &EgbadConfig, device: &Device, rng: &mut ChaCha8Rng) -> Self {
        let latent = config.image_latent_dim;
        EgbadNets {
            encoder: EgbadEncoder::Mnist(MnistEncoder::new(latent, config.slope, device)),
            generator: EgbadGenerator::Mnist(MnistGenerator::new(latent, device)),
            discriminator: EgbadJointDiscriminator::Mnist(MnistJointDiscriminator::new(
                latent,
                config.slope,
                config.image_dropout,
                device,
                rng,
            )),
        }
    }
}
