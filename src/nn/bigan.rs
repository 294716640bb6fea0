//! Fully connected discriminators of the BiGAN family (EGBAD, ALAD) for tables:
//!
//! - [`JointDiscriminator`] D(x, z) (Donahue et al. 2017; Dumoulin et al. 2017): an x branch and
//!   a z branch, concatenated, one joint layer (the feature layer f(x, z)) and a logit;
//! - [`PairDiscriminator`] D(a, b) on a concatenated pair: ALAD's D_xx(x, x') and D_zz(z, z').
//!
//! Every layer is a [`DenseBlock`]: linear (optionally spectrally normalised), optional
//! BatchNorm, LeakyReLU, dropout while training.
//!
//! The enums at the end ([`BiganEncoder`], [`BiganGenerator`], [`BiganJointDiscriminator`],
//! [`BiganPairDiscriminator`]) gather these with the convolutional networks for 28×28 grey
//! ([`super::bigan_conv`]) and 32×32 colour images ([`super::bigan_cifar`]), so that EGBAD and
//! ALAD run one training step whatever the data.

use super::bigan_cifar::{
    CifarEncoder, CifarGenerator, CifarJointDiscriminator, CifarPairDiscriminator,
};
use super::bigan_conv::{MnistEncoder, MnistGenerator, MnistJointDiscriminator};
use super::dropout::dropout_while_training;
use super::mlp::Mlp;
use super::spectral::SpectralLinear;
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::leaky_relu;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// A linear layer, plain or spectrally normalised.
#[derive(Module, Debug)]
pub enum DenseLinear {
    /// `x·W + b`.
    Plain(Linear),
    /// `x·W/σ(W) + b`.
    Spectral(SpectralLinear),
}

impl DenseLinear {
    /// Build `input → output`, spectrally normalised when asked (u drawn from `rng`).
    pub fn new(
        input: usize,
        output: usize,
        spectral: bool,
        device: &Device,
        rng: &mut ChaCha8Rng,
    ) -> Self {
        let linear = LinearConfig::new(input, output).init(device);
        if spectral {
            DenseLinear::Spectral(SpectralLinear::new(linear, rng))
        } else {
            DenseLinear::Plain(linear)
        }
    }

    /// One pass; `training` lets spectral normalisation update its power iteration.
    pub fn forward(&self, x: Tensor<2>, training: bool) -> Tensor<2> {
        match self {
            DenseLinear::Plain(l) => l.forward(x),
            DenseLinear::Spectral(l) => l.forward(x, training),
        }
    }
}

/// How one discriminator layer is built.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct DenseBlockConfig {
    /// Output width.
    pub width: usize,
    /// BatchNorm after the linear layer.
    pub batch_norm: bool,
    /// Dropout rate while training.
    pub dropout: f64,
}

/// Linear → [BatchNorm] → LeakyReLU → dropout.
#[derive(Module, Debug)]
pub struct DenseBlock {
    linear: DenseLinear,
    norm: Option<BatchNorm>,
    slope: f64,
    dropout: f64,
}

/// Settings shared by every layer of a discriminator.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct DiscriminatorStyle {
    /// LeakyReLU slope.
    pub slope: f64,
    /// Spectral normalisation of every linear layer.
    pub spectral: bool,
}

impl DenseBlock {
    /// Build `input → c.width` in `style`.
    pub fn new(
        input: usize,
        c: DenseBlockConfig,
        style: DiscriminatorStyle,
        device: &Device,
        rng: &mut ChaCha8Rng,
    ) -> Self {
        DenseBlock {
            linear: DenseLinear::new(input, c.width, style.spectral, device, rng),
            norm: c
                .batch_norm
                .then(|| BatchNormConfig::new(c.width).init(device)),
            slope: style.slope,
            dropout: c.dropout,
        }
    }

    /// One pass; `rng` draws dropout masks while training, `None` evaluates.
    pub fn forward(&self, x: Tensor<2>, rng: &mut Option<&mut ChaCha8Rng>) -> Tensor<2> {
        let mut h = self.linear.forward(x, rng.is_some());
        if let Some(norm) = &self.norm {
            h = norm.forward(h);
        }
        dropout_while_training(leaky_relu(h, self.slope), self.dropout, rng)
    }
}

/// What one pass of a discriminator gives.
pub struct DiscriminatorOutput {
    /// `[B, 1]` logits (real = 1).
    pub logits: Tensor<2>,
    /// `[B, F]` features of the last hidden layer.
    pub features: Tensor<2>,
}

/// Shape of a [`JointDiscriminator`].
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct JointDiscriminatorConfig {
    /// Width of x.
    pub input: usize,
    /// Width of z.
    pub latent: usize,
    /// The x branch.
    pub x_branch: DenseBlockConfig,
    /// The z branch.
    pub z_branch: DenseBlockConfig,
    /// The joint (feature) layer.
    pub joint: DenseBlockConfig,
    /// Slope and spectral normalisation.
    pub style: DiscriminatorStyle,
}

/// What every joint discriminator D(x, z) has after its x branch: a z branch, the joint
/// (feature) layer on `concat(h_x, h_z)` and the logit.
#[derive(Module, Debug)]
pub struct JointHead {
    z_branch: Vec<DenseBlock>,
    joint: DenseBlock,
    logit: DenseLinear,
}

impl JointHead {
    /// A head for an x branch of width `x_width` and codes of width `latent`; the logit is
    /// spectrally normalised when `spectral_logit`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        x_width: usize,
        latent: usize,
        z_branch: &[DenseBlockConfig],
        joint: DenseBlockConfig,
        style: DiscriminatorStyle,
        spectral_logit: bool,
        device: &Device,
        rng: &mut ChaCha8Rng,
    ) -> Self {
        let mut width = latent;
        let mut blocks = Vec::with_capacity(z_branch.len());
        for &block in z_branch {
            blocks.push(DenseBlock::new(width, block, style, device, rng));
            width = block.width;
        }
        JointHead {
            z_branch: blocks,
            joint: DenseBlock::new(x_width + width, joint, style, device, rng),
            logit: DenseLinear::new(joint.width, 1, spectral_logit, device, rng),
        }
    }

    /// The z branch on `z`, then the joint layer and the logit on `(h_x, h_z)`.
    pub fn forward(
        &self,
        hx: Tensor<2>,
        z: Tensor<2>,
        rng: &mut Option<&mut ChaCha8Rng>,
    ) -> DiscriminatorOutput {
        let mut hz = z;
        for block in &self.z_branch {
            hz = block.forward(hz, rng);
        }
        let features = self.joint.forward(Tensor::cat(vec![hx, hz], 1), rng);
        DiscriminatorOutput {
            logits: self.logit.forward(features.clone(), rng.is_some()),
            features,
        }
    }
}

/// D(x, z) → (logit, f(x, z)).
#[derive(Module, Debug)]
pub struct JointDiscriminator {
    x_branch: DenseBlock,
    head: JointHead,
}

impl JointDiscriminatorConfig {
    /// Build on `device` (spectral normalisation's u drawn from `rng`).
    pub fn init(&self, device: &Device, rng: &mut ChaCha8Rng) -> JointDiscriminator {
        let s = self.style;
        JointDiscriminator {
            x_branch: DenseBlock::new(self.input, self.x_branch, s, device, rng),
            head: JointHead::new(
                self.x_branch.width,
                self.latent,
                &[self.z_branch],
                self.joint,
                s,
                s.spectral,
                device,
                rng,
            ),
        }
    }
}

impl JointDiscriminator {
    /// One pass; `rng` draws the dropout masks while training, `None` evaluates.
    pub fn forward(
        &self,
        x: Tensor<2>,
        z: Tensor<2>,
        mut rng: Option<&mut ChaCha8Rng>,
    ) -> DiscriminatorOutput {
        let hx = self.x_branch.forward(x, &mut rng);
        self.head.forward(hx, z, &mut rng)
    }
}

/// Shape of a [`PairDiscriminator`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PairDiscriminatorConfig {
    /// Width of each member of the pair.
    pub input: usize,
    /// The hidden layers; the last one is the feature layer.
    pub hidden: Vec<DenseBlockConfig>,
    /// Slope and spectral normalisation.
    pub style: DiscriminatorStyle,
}

/// D(a, b) on `concat(a, b)` → (logit, features).
#[derive(Module, Debug)]
pub struct PairDiscriminator {
    hidden: Vec<DenseBlock>,
    logit: DenseLinear,
}

impl PairDiscriminatorConfig {
    /// Build on `device`.
    pub fn init(&self, device: &Device, rng: &mut ChaCha8Rng) -> PairDiscriminator {
        let mut width = 2 * self.input;
        let mut hidden = Vec::with_capacity(self.hidden.len());
        for &block in &self.hidden {
            hidden.push(DenseBlock::new(width, block, self.style, device, rng));
            width = block.width;
        }
        PairDiscriminator {
            hidden,
            logit: DenseLinear::new(width, 1, self.style.spectral, device, rng),
        }
    }
}

impl PairDiscriminator {
    /// One pass on the pair (a, b).
    pub fn forward(
        &self,
        a: Tensor<2>,
        b: Tensor<2>,
        mut rng: Option<&mut ChaCha8Rng>,
    ) -> DiscriminatorOutput {
        let mut features = Tensor::cat(vec![a, b], 1);
        for block in &self.hidden {
            features = block.forward(features, &mut rng);
        }
        DiscriminatorOutput {
            logits: self.logit.forward(features.clone(), rng.is_some()),
            features,
        }
    }
}

/// A BiGAN encoder for tables, 28×28 grey images (EGBAD's MNIST networks) or 32×32 colour
/// images (ALAD's CIFAR-10 networks), all on flattened samples.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum BiganEncoder {
    /// Tables.
    Dense(Mlp),
    /// 28×28 grey images.
    Mnist(MnistEncoder),
    /// 32×32 colour images.
    Cifar(CifarEncoder),
}

impl BiganEncoder {
    /// `[B, D] → [B, latent]`; `training` advances spectral normalisation.
    pub fn forward(&self, x: Tensor<2>, training: bool) -> Tensor<2> {
        match self {
            BiganEncoder::Dense(n) => n.forward(x),
            BiganEncoder::Mnist(n) => n.forward(x),
            BiganEncoder::Cifar(n) => n.forward(x, training),
        }
    }
}

/// A BiGAN generator (the same three families as [`BiganEncoder`]).
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum BiganGenerator {
    /// Tables.
    Dense(Mlp),
    /// 28×28 grey images.
    Mnist(MnistGenerator),
    /// 32×32 colour images.
    Cifar(CifarGenerator),
}

impl BiganGenerator {
    /// `[B, latent] → [B, D]`.
    pub fn forward(&self, z: Tensor<2>) -> Tensor<2> {
        match self {
            BiganGenerator::Dense(n) => n.forward(z),
            BiganGenerator::Mnist(n) => n.forward(z),
            BiganGenerator::Cifar(n) => n.forward(z),
        }
    }
}

/// A joint discriminator D(x, z) (the same three families as [`BiganEncoder`]).
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum BiganJointDiscriminator {
    /// Tables.
    Dense(JointDiscriminator),
    /// 28×28 grey images.
    Mnist(MnistJointDiscriminator),
    /// 32×32 colour images.
    Cifar(CifarJointDiscriminator),
}

impl BiganJointDiscriminator {
    /// One pass; `rng` draws dropout masks while training, `None` evaluates.
    pub fn forward(
        &self,
        x: Tensor<2>,
        z: Tensor<2>,
        rng: Option<&mut ChaCha8Rng>,
    ) -> DiscriminatorOutput {
        match self {
            BiganJointDiscriminator::Dense(n) => n.forward(x, z, rng),
            BiganJointDiscriminator::Mnist(n) => n.forward(x, z, rng),
            BiganJointDiscriminator::Cifar(n) => n.forward(x, z, rng),
        }
    }
}

/// A pair discriminator D(a, b): dense, or ALAD's convolutional D_xx for 32×32 colour images.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum BiganPairDiscriminator {
    /// On concatenated rows.
    Dense(PairDiscriminator),
    /// On 32×32 colour images stacked along channels.
    Cifar(CifarPairDiscriminator),
}

impl BiganPairDiscriminator {
    /// One pass on the pair (a, b); `rng` draws dropout masks while training.
    pub fn forward(
        &self,
        a: Tensor<2>,
        b: Tensor<2>,
        rng: Option<&mut ChaCha8Rng>,
    ) -> DiscriminatorOutput {
        match self {
            BiganPairDiscriminator::Dense(n) => n.forward(a, b, rng),
            BiganPairDiscriminator::Cifar(n) => n.forward(a, b, rng),
        }
    }
}
