//! ALAD's networks: its tabular (dense) and CIFAR-10 (convolutional) families behind one set of enums.

use super::cifar::{CifarEncoder, CifarGenerator, CifarJointDiscriminator, CifarPairDiscriminator};
use super::{AladConfig, AladNetworks};
use crate::nn::bigan::{DenseBlockConfig, DiscriminatorOutput, DiscriminatorStyle};
use crate::nn::mlp::Activation;
use crate::nn::{
    JointDiscriminator, JointDiscriminatorConfig, Mlp, MlpConfig, PairDiscriminator,
    PairDiscriminatorConfig,
};
use burn::prelude::*;
use rand_chacha::ChaCha8Rng;

/// ALAD's encoder for tables or 32×32 colour images, on flattened samples.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum AladEncoder {
    /// Tables.
    Dense(Mlp),
    /// 32×32 colour images.
    Cifar(CifarEncoder),
}

impl AladEncoder {
    /// `[B, D] → [B, latent]`; `training` advances spectral normalisation.
    pub fn forward(&self, x: Tensor<2>, training: bool) -> Tensor<2> {
        match self {
            AladEncoder::Dense(n) => n.forward(x),
            AladEncoder::Cifar(n) => n.forward(x, training),
        }
    }
}

/// ALAD's generator (the same two families as [`AladEncoder`]).
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum AladGenerator {
    /// Tables.
    Dense(Mlp),
    /// 32×32 colour images.
    Cifar(CifarGenerator),
}

impl AladGenerator {
    /// `[B, latent] → [B, D]`.
    pub fn forward(&self, z: Tensor<2>) -> Tensor<2> {
        match self {
            AladGenerator::Dense(n) => n.forward(z),
            AladGenerator::Cifar(n) => n.forward(z),
        }
    }
}

/// ALAD's joint discriminator D_xz(x, z) (the same two families as [`AladEncoder`]).
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum AladJointDiscriminator {
    /// Tables.
    Dense(JointDiscriminator),
    /// 32×32 colour images.
    Cifar(CifarJointDiscriminator),
}

impl AladJointDiscriminator {
    /// One pass; `rng` draws dropout masks while training, `None` evaluates.
    pub fn forward(
        &self,
        x: Tensor<2>,
        z: Tensor<2>,
        rng: Option<&mut ChaCha8Rng>,
    ) -> DiscriminatorOutput {
        match self {
            AladJointDiscriminator::Dense(n) => n.forward(x, z, rng),
            AladJointDiscriminator::Cifar(n) => n.forward(x, z, rng),
        }
    }
}

/// ALAD's pair discriminator D_xx(x, x′): dense, or convolutional for 32×32 colour images.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum AladPairDiscriminator {
    /// On concatenated rows.
    Dense(PairDiscriminator),
    /// On 32×32 colour images stacked along channels.
    Cifar(CifarPairDiscriminator),
}

impl AladPairDiscriminator {
    /// One pass on the pair (a, b); `rng` draws dropout masks while training.
    pub fn forward(
        &self,
        a: Tensor<2>,
        b: Tensor<2>,
        rng: Option<&mut ChaCha8Rng>,
    ) -> DiscriminatorOutput {
        match self {
            AladPairDiscriminator::Dense(n) => n.forward(a, b, rng),
            AladPairDiscriminator::Cifar(n) => n.forward(a, b, rng),
        }
    }
}

/// The five networks.
#[derive(Module, Debug)]
pub struct AladNets {
    pub(super) encoder: AladEncoder,
    pub(super) generator: AladGenerator,
    pub(super) d_xz: AladJointDiscriminator,
    pub(super) d_xx: AladPairDiscriminator,
    pub(super) d_zz: PairDiscriminator,
}

/// The slope and spectral normalisation of every dense discriminator layer.
fn style(config: &AladConfig) -> DiscriminatorStyle {
    DiscriminatorStyle {
        slope: config.slope,
        spectral: config.spectral_norm,
    }
}

/// One dense discriminator layer.
fn block(width: usize, batch_norm: bool, dropout: f64) -> DenseBlockConfig {
    DenseBlockConfig {
        width,
        batch_norm,
        dropout,
    }
}

/// Hidden layers of a dense pair discriminator: no BatchNorm, dropout 0.2.
fn hidden_blocks(widths: &[usize]) -> Vec<DenseBlockConfig> {
    widths.iter().map(|&w| block(w, false, 0.2)).collect()
}

impl AladNets {
    /// The tabular networks for rows of `features` columns: KDD99's sizes when
    /// `config.networks` is [`AladNetworks::Kdd99`], Arrhythmia's otherwise. `rng` draws the
    /// discriminators' spectral-normalisation vectors (when `config.spectral_norm`).
    pub fn for_table(
        config: &AladConfig,
        features: usize,
        device: &Device,
        rng: &mut ChaCha8Rng,
    ) -> Self {
        let latent = config.latent_dim;
        let style = style(config);
        let kdd = config.networks == AladNetworks::Kdd99;
        let (encoder_hidden, joint, d_xx, d_zz): (&[usize], _, &[usize], &[usize]) = if kdd {
            (&[64], 128, &[128], &[32])
        } else {
            (&[256, 128], 256, &[256, 128], &[64, 32])
        };
        let chain = |first: usize, hidden: &[usize], last: usize| {
            let mut w = vec![first];
            w.extend(hidden);
            w.push(last);
            w
        };
        let generator_hidden: Vec<usize> = if kdd {
            vec![64, 128]
        } else {
            encoder_hidden.iter().rev().copied().collect()
        };
        AladNets {
            encoder: AladEncoder::Dense(
                MlpConfig {
                    widths: chain(features, encoder_hidden, latent),
                    activation: Activation::LeakyRelu(config.slope),
                }
                .init(device),
            ),
            generator: AladGenerator::Dense(
                MlpConfig {
                    widths: chain(latent, &generator_hidden, features),
                    activation: Activation::Relu,
                }
                .init(device),
            ),
            d_xz: AladJointDiscriminator::Dense(
                JointDiscriminatorConfig {
                    input: features,
                    latent,
                    x_branch: block(128, true, 0.0),
                    z_branch: block(128, false, 0.5),
                    joint: block(joint, false, 0.5),
                    style,
                }
                .init(device, rng),
            ),
            d_xx: AladPairDiscriminator::Dense(
                PairDiscriminatorConfig {
                    input: features,
                    hidden: hidden_blocks(d_xx),
                    style,
                }
                .init(device, rng),
            ),
            d_zz: PairDiscriminatorConfig {
                input: latent,
                hidden: hidden_blocks(d_zz),
                style,
            }
            .init(device, rng),
        }
    }

    /// The CIFAR-10 networks for 32×32 colour images ([`super::cifar`]) and the dense D_zz;
    /// `rng` draws the spectral-normalisation vectors (when `config.spectral_norm`).
    pub fn for_cifar(
        config: &AladConfig,
        channels: usize,
        device: &Device,
        rng: &mut ChaCha8Rng,
    ) -> Self {
        let latent = config.latent_dim;
        let sn = config.spectral_norm;
        AladNets {
            encoder: AladEncoder::Cifar(CifarEncoder::new(channels, latent, sn, device, rng)),
            generator: AladGenerator::Cifar(CifarGenerator::new(latent, channels, device)),
            d_xz: AladJointDiscriminator::Cifar(CifarJointDiscriminator::new(
                channels, latent, sn, device, rng,
            )),
            d_xx: AladPairDiscriminator::Cifar(CifarPairDiscriminator::new(
                channels, sn, device, rng,
            )),
            d_zz: PairDiscriminatorConfig {
                input: latent,
                hidden: hidden_blocks(&[64, 32]),
                style: style(config),
            }
            .init(device, rng),
        }
    }
}
