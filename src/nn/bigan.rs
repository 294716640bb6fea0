//! The BiGAN joint discriminator D(x, z) (Donahue et al. 2017; Dumoulin et al. 2017) in the
//! fully connected form of EGBAD's and ALAD's tabular networks: an x branch and a z branch,
//! each `Linear → LeakyReLU → dropout`, concatenated, one joint `Linear → LeakyReLU → dropout`
//! layer (the feature layer f(x, z) of the feature-matching score) and a linear logit.

use super::dropout::dropout;
use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::leaky_relu;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// Shape of a [`JointDiscriminator`].
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct JointDiscriminatorConfig {
    /// Width of x.
    pub input: usize,
    /// Width of z.
    pub latent: usize,
    /// Width of each branch and of the joint layer (128).
    pub width: usize,
    /// LeakyReLU slope (0.1 in EGBAD).
    pub slope: f64,
    /// Dropout rate after each layer while training (0.2).
    pub dropout: f64,
}

/// D(x, z) → (logit, features).
#[derive(Module, Debug)]
pub struct JointDiscriminator {
    x_branch: Linear,
    z_branch: Linear,
    joint: Linear,
    logit: Linear,
    slope: f64,
    dropout: f64,
}

/// What one pass of the discriminator gives.
pub struct JointOutput {
    /// `[B, 1]` logits (real = 1).
    pub logits: Tensor<2>,
    /// `[B, width]` joint features f(x, z).
    pub features: Tensor<2>,
}

impl JointDiscriminatorConfig {
    /// Build on `device`.
    pub fn init(&self, device: &Device) -> JointDiscriminator {
        JointDiscriminator {
            x_branch: LinearConfig::new(self.input, self.width).init(device),
            z_branch: LinearConfig::new(self.latent, self.width).init(device),
            joint: LinearConfig::new(2 * self.width, self.width).init(device),
            logit: LinearConfig::new(self.width, 1).init(device),
            slope: self.slope,
            dropout: self.dropout,
        }
    }
}

impl JointDiscriminator {
    /// One pass; `rng` draws the dropout masks while training, `None` evaluates (no dropout).
    pub fn forward(
        &self,
        x: Tensor<2>,
        z: Tensor<2>,
        mut rng: Option<&mut ChaCha8Rng>,
    ) -> JointOutput {
        let mut layer = |linear: &Linear, h: Tensor<2>| {
            let h = leaky_relu(linear.forward(h), self.slope);
            match rng.as_deref_mut() {
                Some(r) => dropout(h, self.dropout, r),
                None => h,
            }
        };
        let hx = layer(&self.x_branch, x);
        let hz = layer(&self.z_branch, z);
        let features = layer(&self.joint, Tensor::cat(vec![hx, hz], 1));
        JointOutput {
            logits: self.logit.forward(features.clone()),
            features,
        }
    }
}
