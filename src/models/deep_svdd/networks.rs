//! The official code's LeNets and their autoencoders (`lukasruff/Deep-SVDD-PyTorch`,
//! `networks/mnist_LeNet.py` and `networks/cifar10_LeNet.py`): every layer bias-free, BatchNorm
//! without scale and shift (ε 1e-4), LeakyReLU (slope 0.01, PyTorch's default), max-pool 2.
//!
//! MNIST (`[1, 28, 28]`, code 32):
//! - Encoder φ: conv 5×5 1 → 8 (padding 2), BN, LeakyReLU, pool → conv 5×5 8 → 4, BN,
//!   LeakyReLU, pool → linear 4·7·7 → 32.
//! - Decoder: the code as 2 × 4 × 4, LeakyReLU, nearest ×2 → transposed conv 5×5 2 → 4
//!   (padding 2), BN, LeakyReLU, ×2 → transposed conv 4 → 8 (padding 3: 16 → 14), BN,
//!   LeakyReLU, ×2 → transposed conv 8 → 1 (padding 2), sigmoid.
//!
//! CIFAR-10 (`[3, 32, 32]`, code 128; grey 32 × 32 images take a one-channel first and last
//! layer):
//! - Encoder φ: conv 5×5 3 → 32, 32 → 64, 64 → 128 (padding 2), each BN, LeakyReLU, pool →
//!   linear 128·4·4 → 128.
//! - Decoder: BN of the code (the autoencoder's `bn1d`: φ itself has none), as 8 × 4 × 4,
//!   LeakyReLU → transposed conv 5×5 8 → 128, 128 → 64, 64 → 32 (padding 2), each BN,
//!   LeakyReLU, nearest ×2 → transposed conv 32 → 3 (padding 2), sigmoid.
//!
//! Both families share one pair of structures whose CIFAR-10 layers are optional, so that the
//! MNIST networks keep the parameter names their checkpoints were written with.

use crate::nn::dense::forward_batch_invariant;
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::{leaky_relu, sigmoid};

/// PyTorch's default LeakyReLU slope, which the official networks use.
const SLOPE: f64 = 0.01;

/// BatchNorm without scale and shift: its γ and β are held at 1 and 0 (no gradient reaches
/// them), as PyTorch's `affine=False`.
fn plain_batch_norm(channels: usize, device: &Device) -> BatchNorm {
    BatchNormConfig::new(channels)
        .with_epsilon(1e-4)
        .init(device)
        .no_grad()
}

fn conv(cin: usize, cout: usize, device: &Device) -> Conv2d {
    Conv2dConfig::new([cin, cout], [5, 5])
        .with_padding(PaddingConfig2d::Explicit(2, 2, 2, 2))
        .with_bias(false)
        .init(device)
}

fn deconv(cin: usize, cout: usize, padding: usize, device: &Device) -> ConvTranspose2d {
    ConvTranspose2dConfig::new([cin, cout], [5, 5])
        .with_padding([padding, padding])
        .with_bias(false)
        .init(device)
}

/// Nearest-neighbour upsampling by 2 (`F.interpolate(x, scale_factor=2)`).
fn upsample2(x: Tensor<4>) -> Tensor<4> {
    let [b, c, h, w] = x.dims();
    x.reshape([b, c, h, 1, w, 1])
        .repeat_dim(3, 2)
        .repeat_dim(5, 2)
        .reshape([b, c, 2 * h, 2 * w])
}

/// The encoder φ `[B, C, H, W] → [B, rep]`: two convolution stages (MNIST) or three
/// (CIFAR-10).
#[derive(Module, Debug)]
pub struct LeNetEncoder {
    conv1: Conv2d,
    bn1: BatchNorm,
    conv2: Conv2d,
    bn2: BatchNorm,
    /// CIFAR-10's third stage.
    conv3: Option<Conv2d>,
    bn3: Option<BatchNorm>,
    pool: MaxPool2d,
    fc: Linear,
}

impl LeNetEncoder {
    /// The MNIST LeNet with a code of `rep` (32 in the paper).
    pub fn new(rep: usize, device: &Device) -> Self {
        LeNetEncoder {
            conv1: conv(1, 8, device),
            bn1: plain_batch_norm(8, device),
            conv2: conv(8, 4, device),
            bn2: plain_batch_norm(4, device),
            conv3: None,
            bn3: None,
            pool: MaxPool2dConfig::new([2, 2]).init(),
            fc: LinearConfig::new(4 * 7 * 7, rep).with_bias(false).init(device),
        }
    }

    /// The CIFAR-10 LeNet for images of `channels` with a code of `rep` (3 and 128 in the
    /// paper).
    pub fn cifar10(channels: usize, rep: usize, device: &Device) -> Self {
        LeNetEncoder {
            conv1: conv(channels, 32, device),
            bn1: plain_batch_norm(32, device),
            conv2: conv(32, 64, device),
            bn2: plain_batch_norm(64, device),
            conv3: Some(conv(64, 128, device)),
            bn3: Some(plain_batch_norm(128, device)),
            pool: MaxPool2dConfig::new([2, 2]).init(),
            fc: LinearConfig::new(128 * 4 * 4, rep).with_bias(false).init(device),
        }
    }

    /// The same network, its BatchNorms' γ and β held again (after a re-initialisation).
    pub fn without_norm_parameters(mut self) -> Self {
        self.bn1 = self.bn1.no_grad();
        self.bn2 = self.bn2.no_grad();
        self.bn3 = self.bn3.map(BatchNorm::no_grad);
        self
    }

    /// φ(x).
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let stage = |h: Tensor<4>, conv: &Conv2d, bn: &BatchNorm| {
            self.pool.forward(leaky_relu(bn.forward(conv.forward(h)), SLOPE))
        };
        let mut h = stage(x, &self.conv1, &self.bn1);
        h = stage(h, &self.conv2, &self.bn2);
        if let (Some(conv3), Some(bn3)) = (&self.conv3, &self.bn3) {
            h = stage(h, conv3, bn3);
        }
        let [b, c, height, width] = h.dims();
        forward_batch_invariant(&self.fc, h.reshape([b, c * height * width]))
    }
}

/// The decoder `[B, rep] → [B, C, H, W]`, for pretraining: MNIST's, or CIFAR-10's with its
/// code normalisation and fourth transposed convolution.
#[derive(Module, Debug)]
pub struct LeNetDecoder {
    /// CIFAR-10's BatchNorm of the code.
    code_norm: Option<BatchNorm>,
    deconv1: ConvTranspose2d,
    bn3: BatchNorm,
    deconv2: ConvTranspose2d,
    bn4: BatchNorm,
    deconv3: ConvTranspose2d,
    /// CIFAR-10's third normalisation and last transposed convolution.
    bn5: Option<BatchNorm>,
    deconv4: Option<ConvTranspose2d>,
}

impl LeNetDecoder {
    /// The MNIST decoder for codes of `rep` values (a multiple of 16).
    pub fn new(rep: usize, device: &Device) -> Self {
        LeNetDecoder {
            code_norm: None,
            deconv1: deconv(rep / 16, 4, 2, device),
            bn3: plain_batch_norm(4, device),
            deconv2: deconv(4, 8, 3, device),
            bn4: plain_batch_norm(8, device),
            deconv3: deconv(8, 1, 2, device),
            bn5: None,
            deconv4: None,
        }
    }

    /// The CIFAR-10 decoder for codes of `rep` values (a multiple of 16) and images of
    /// `channels`.
    pub fn cifar10(rep: usize, channels: usize, device: &Device) -> Self {
        LeNetDecoder {
            code_norm: Some(plain_batch_norm(rep, device)),
            deconv1: deconv(rep / 16, 128, 2, device),
            bn3: plain_batch_norm(128, device),
            deconv2: deconv(128, 64, 2, device),
            bn4: plain_batch_norm(64, device),
            deconv3: deconv(64, 32, 2, device),
            bn5: Some(plain_batch_norm(32, device)),
            deconv4: Some(deconv(32, channels, 2, device)),
        }
    }

    /// The same network, its BatchNorms' γ and β held again (after a re-initialisation).
    pub fn without_norm_parameters(mut self) -> Self {
        self.code_norm = self.code_norm.map(BatchNorm::no_grad);
        self.bn3 = self.bn3.no_grad();
        self.bn4 = self.bn4.no_grad();
        self.bn5 = self.bn5.map(BatchNorm::no_grad);
        self
    }

    /// The reconstruction of a code.
    pub fn forward(&self, z: Tensor<2>) -> Tensor<4> {
        let [b, rep] = z.dims();
        let stage = |h: Tensor<4>, deconv: &ConvTranspose2d, bn: &BatchNorm| {
            upsample2(leaky_relu(bn.forward(deconv.forward(h)), SLOPE))
        };
        match (&self.code_norm, &self.bn5, &self.deconv4) {
            (Some(code_norm), Some(bn5), Some(deconv4)) => {
                let z = code_norm.forward(z.reshape([b, rep, 1]));
                let h = leaky_relu(z.reshape([b, rep / 16, 4, 4]), SLOPE);
                let h = stage(h, &self.deconv1, &self.bn3);
                let h = stage(h, &self.deconv2, &self.bn4);
                let h = stage(h, &self.deconv3, bn5);
                sigmoid(deconv4.forward(h))
            }
            _ => {
                let h = upsample2(leaky_relu(z.reshape([b, rep / 16, 4, 4]), SLOPE));
                let h = stage(h, &self.deconv1, &self.bn3);
                let h = stage(h, &self.deconv2, &self.bn4);
                sigmoid(self.deconv3.forward(h))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_follow_the_official_networks() {
        let device = Device::flex();
        let x = Tensor::<4>::zeros([2, 1, 28, 28], &device);
        let z = LeNetEncoder::new(32, &device).forward(x);
        assert_eq!(z.dims(), [2, 32]);
        assert_eq!(LeNetDecoder::new(32, &device).forward(z).dims(), [2, 1, 28, 28]);
        let x = Tensor::<4>::zeros([2, 3, 32, 32], &device);
        let z = LeNetEncoder::cifar10(3, 128, &device).forward(x);
        assert_eq!(z.dims(), [2, 128]);
        let decoder = LeNetDecoder::cifar10(128, 3, &device);
        assert_eq!(decoder.forward(z).dims(), [2, 3, 32, 32]);
        let up = upsample2(Tensor::<4>::from_floats([[[[1.0, 2.0], [3.0, 4.0]]]], &device));
        let values = up.into_data().try_into_vec::<f32>().unwrap();
        assert_eq!(&values[..8], &[1.0, 1.0, 2.0, 2.0, 1.0, 1.0, 2.0, 2.0]);
    }
}
