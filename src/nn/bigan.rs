//! Fully connected discriminators of the BiGAN family (EGBAD, ALAD) for tables:
//!
//! - [`JointDiscriminator`] D(x, z) (Donahue et al. 2017; Dumoulin et al. 2017): an x branch and
//!   a z branch, concatenated, one joint layer (the feature layer f(x, z)) and a logit;
//! - [`PairDiscriminator`] D(a, b) on a concatenated pair: ALAD's D_xx(x, x') and D_zz(z, z').
//!
//! Every layer is a [`DenseBlock`]: linear (optionally spectrally normalised), optional
//! BatchNorm, LeakyReLU, dropout while training. AnoGAN's discriminator is built from the same
//! blocks, and EGBAD's and ALAD's convolutional joint discriminators end in a [`JointHead`]
//! (those image networks, and the enums that gather them with these, belong to the models:
//! `models/egbad/` and `models/alad/`).

use super::dropout::dropout_while_training;
use super::spectral::LinearLayer;
use burn::nn::{BatchNorm, BatchNormConfig};
use burn::prelude::*;
use burn::tensor::activation::leaky_relu;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

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
    linear: LinearLayer,
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
            linear: LinearLayer::new(input, c.width, style.spectral, device, rng),
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

/// Dense blocks applied in order, each taking the previous one's width.
#[derive(Module, Debug)]
pub struct DenseStack {
    blocks: Vec<DenseBlock>,
}

impl DenseStack {
    /// Blocks `input → configs[0].width → …`, all in `style`.
    pub fn new(
        input: usize,
        configs: &[DenseBlockConfig],
        style: DiscriminatorStyle,
        device: &Device,
        rng: &mut ChaCha8Rng,
    ) -> Self {
        let mut width = input;
        let mut blocks = Vec::with_capacity(configs.len());
        for &c in configs {
            blocks.push(DenseBlock::new(width, c, style, device, rng));
            width = c.width;
        }
        DenseStack { blocks }
    }

    /// One pass; `rng` draws dropout masks while training, `None` evaluates.
    pub fn forward(&self, x: Tensor<2>, rng: &mut Option<&mut ChaCha8Rng>) -> Tensor<2> {
        self.blocks.iter().fold(x, |h, block| block.forward(h, rng))
    }
}

/// Output width of a stack built from `configs` on inputs of width `input`.
pub fn stack_width(input: usize, configs: &[DenseBlockConfig]) -> usize {
    configs.last().map_or(input, |c| c.width)
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
    z_branch: DenseStack,
    joint: DenseBlock,
    logit: LinearLayer,
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
        JointHead {
            z_branch: DenseStack::new(latent, z_branch, style, device, rng),
            joint: DenseBlock::new(
                x_width + stack_width(latent, z_branch),
                joint,
                style,
                device,
                rng,
            ),
            logit: LinearLayer::new(joint.width, 1, spectral_logit, device, rng),
        }
    }

    /// The z branch on `z`, then the joint layer and the logit on `(h_x, h_z)`.
    pub fn forward(
        &self,
        hx: Tensor<2>,
        z: Tensor<2>,
        rng: &mut Option<&mut ChaCha8Rng>,
    ) -> DiscriminatorOutput {
        let hz = self.z_branch.forward(z, rng);
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
    hidden: DenseStack,
    logit: LinearLayer,
}

impl PairDiscriminatorConfig {
    /// Build on `device`.
    pub fn init(&self, device: &Device, rng: &mut ChaCha8Rng) -> PairDiscriminator {
        let input = 2 * self.input;
        PairDiscriminator {
            hidden: DenseStack::new(input, &self.hidden, self.style, device, rng),
            logit: LinearLayer::new(
                stack_width(input, &self.hidden),
                1,
                self.style.spectral,
                device,
                rng,
            ),
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
        let features = self.hidden.forward(Tensor::cat(vec![a, b], 1), &mut rng);
        DiscriminatorOutput {
            logits: self.logit.forward(features.clone(), rng.is_some()),
            features,
        }
    }
}
