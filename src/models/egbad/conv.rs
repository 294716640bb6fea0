//! EGBAD's convolutional BiGAN networks for 28×28 grey images (`bigan/mnist_utilities.py`),
//! taking and giving flattened samples `[B, 784]` like their tabular counterparts:
//!
//! - encoder: conv3×3 32 (stride 1) LeakyReLU → conv3×3 64 s2 BN LReLU → conv3×3 128 s2 BN LReLU
//!   → linear to the latent (200);
//! - generator: linear 1024 BN ReLU → linear 7·7·128 BN ReLU → deconv4×4 64 s2 BN ReLU →
//!   deconv4×4 1 s2, tanh;
//! - joint discriminator: x branch conv4×4 64 s2 LReLU dropout → conv4×4 64 s2 BN LReLU dropout;
//!   z branch linear 512 LReLU dropout; joint linear 1024 LReLU dropout (the feature layer) →
//!   linear logit. Dropout 0.5.

use crate::nn::bigan::{DenseBlockConfig, DiscriminatorOutput, DiscriminatorStyle, JointHead};
use crate::nn::dropout::dropout_while_training;
use crate::nn::dense::forward_batch_invariant;
use burn::nn::conv::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::{leaky_relu, relu};
use rand_chacha::ChaCha8Rng;

const SIDE: usize = 28;

fn conv(cin: usize, cout: usize, k: usize, stride: usize, device: &Device) -> Conv2d {
    Conv2dConfig::new([cin, cout], [k, k])
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
        .init(device)
}

fn images(x: Tensor<2>) -> Tensor<4> {
    let b = x.dims()[0];
    x.reshape([b, 1, SIDE, SIDE])
}

/// Image → latent.
#[derive(Module, Debug)]
pub struct MnistEncoder {
    c1: Conv2d,
    c2: Conv2d,
    n2: BatchNorm,
    c3: Conv2d,
    n3: BatchNorm,
    out: Linear,
    slope: f64,
}

impl MnistEncoder {
    /// Build for latent size `latent`.
    pub fn new(latent: usize, slope: f64, device: &Device) -> Self {
        MnistEncoder {
            c1: conv(1, 32, 3, 1, device),
            c2: conv(32, 64, 3, 2, device),
            n2: BatchNormConfig::new(64).init(device),
            c3: conv(64, 128, 3, 2, device),
            n3: BatchNormConfig::new(128).init(device),
            out: LinearConfig::new(128 * 7 * 7, latent).init(device),
            slope,
        }
    }

    /// `[B, 784] → [B, latent]`.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let b = x.dims()[0];
        let h = leaky_relu(self.c1.forward(images(x)), self.slope);
        let h = leaky_relu(self.n2.forward(self.c2.forward(h)), self.slope);
        let h = leaky_relu(self.n3.forward(self.c3.forward(h)), self.slope);
        forward_batch_invariant(&self.out, h.reshape([b, 128 * 7 * 7]))
    }
}

/// Latent → image.
#[derive(Module, Debug)]
pub struct MnistGenerator {
    l1: Linear,
    n1: BatchNorm,
    l2: Linear,
    n2: BatchNorm,
    d1: ConvTranspose2d,
    n3: BatchNorm,
    d2: ConvTranspose2d,
}

impl MnistGenerator {
    /// Build for latent size `latent`.
    pub fn new(latent: usize, device: &Device) -> Self {
        let deconv = |cin, cout| {
            ConvTranspose2dConfig::new([cin, cout], [4, 4])
                .with_stride([2, 2])
                .with_padding([1, 1])
                .init(device)
        };
        MnistGenerator {
            l1: LinearConfig::new(latent, 1024).init(device),
            n1: BatchNormConfig::new(1024).init(device),
            l2: LinearConfig::new(1024, 128 * 7 * 7).init(device),
            n2: BatchNormConfig::new(128 * 7 * 7).init(device),
            d1: deconv(128, 64),
            n3: BatchNormConfig::new(64).init(device),
            d2: deconv(64, 1),
        }
    }

    /// `[B, latent] → [B, 784]`.
    pub fn forward(&self, z: Tensor<2>) -> Tensor<2> {
        let b = z.dims()[0];
        let h = relu(self.n1.forward(forward_batch_invariant(&self.l1, z)));
        let h = relu(self.n2.forward(forward_batch_invariant(&self.l2, h))).reshape([b, 128, 7, 7]);
        let h = relu(self.n3.forward(self.d1.forward(h)));
        self.d2.forward(h).tanh().reshape([b, SIDE * SIDE])
    }
}

/// D(x, z) with a convolutional x branch.
#[derive(Module, Debug)]
pub struct MnistJointDiscriminator {
    x1: Conv2d,
    x2: Conv2d,
    x2_norm: BatchNorm,
    head: JointHead,
    slope: f64,
    dropout: f64,
}

impl MnistJointDiscriminator {
    /// Build for latent size `latent`.
    pub fn new(
        latent: usize,
        slope: f64,
        rate: f64,
        device: &Device,
        rng: &mut ChaCha8Rng,
    ) -> Self {
        let style = DiscriminatorStyle {
            slope,
            spectral: false,
        };
        let block = |width| DenseBlockConfig {
            width,
            batch_norm: false,
            dropout: rate,
        };
        MnistJointDiscriminator {
            x1: Conv2dConfig::new([1, 64], [4, 4])
                .with_stride([2, 2])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .init(device),
            x2: Conv2dConfig::new([64, 64], [4, 4])
                .with_stride([2, 2])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .init(device),
            x2_norm: BatchNormConfig::new(64).init(device),
            head: JointHead::new(
                64 * 7 * 7,
                latent,
                &[block(512)],
                block(1024),
                style,
                false,
                device,
                rng,
            ),
            slope,
            dropout: rate,
        }
    }

    /// One pass; `rng` draws dropout masks while training, `None` evaluates.
    pub fn forward(
        &self,
        x: Tensor<2>,
        z: Tensor<2>,
        mut rng: Option<&mut ChaCha8Rng>,
    ) -> DiscriminatorOutput {
        let b = x.dims()[0];
        let h = leaky_relu(self.x1.forward(images(x)), self.slope);
        let h = dropout_while_training(h, self.dropout, &mut rng);
        let h = leaky_relu(self.x2_norm.forward(self.x2.forward(h)), self.slope);
        let hx = dropout_while_training(h, self.dropout, &mut rng).reshape([b, 64 * 7 * 7]);
        self.head.forward(hx, z, &mut rng)
    }
}
