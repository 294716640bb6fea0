//! The official code's MNIST LeNet and its autoencoder (`lukasruff/Deep-SVDD-PyTorch`,
//! `networks/mnist_LeNet.py`): every layer bias-free, BatchNorm without scale and shift (ε 1e-4),
//! LeakyReLU (slope 0.01, PyTorch's default).
//!
//! - Encoder φ: conv 5×5 1 → 8 (padding 2), BN, LeakyReLU, max-pool 2 → conv 5×5 8 → 4, BN,
//!   LeakyReLU, max-pool 2 → linear 4·7·7 → 32.
//! - Decoder: the code as 2 × 4 × 4, LeakyReLU, nearest ×2 → transposed conv 5×5 2 → 4
//!   (padding 2), BN, LeakyReLU, ×2 → transposed conv 4 → 8 (padding 3: 16 → 14), BN,
//!   LeakyReLU, ×2 → transposed conv 8 → 1 (padding 2), sigmoid.

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

/// The encoder φ `[B, 1, 28, 28] → [B, rep]`.
#[derive(Module, Debug)]
pub struct LeNetEncoder {
    conv1: Conv2d,
    bn1: BatchNorm,
    conv2: Conv2d,
    bn2: BatchNorm,
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
            pool: MaxPool2dConfig::new([2, 2]).init(),
            fc: LinearConfig::new(4 * 7 * 7, rep).with_bias(false).init(device),
        }
    }

    /// The same network, its BatchNorms' γ and β held again (after a re-initialisation).
    pub fn without_norm_parameters(mut self) -> Self {
        self.bn1 = self.bn1.no_grad();
        self.bn2 = self.bn2.no_grad();
        self
    }

    /// φ(x).
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let b = x.dims()[0];
        let h = self.pool.forward(leaky_relu(self.bn1.forward(self.conv1.forward(x)), SLOPE));
        let h = self.pool.forward(leaky_relu(self.bn2.forward(self.conv2.forward(h)), SLOPE));
        self.fc.forward(h.reshape([b, 4 * 7 * 7]))
    }
}

/// The decoder `[B, rep] → [B, 1, 28, 28]`, for pretraining.
#[derive(Module, Debug)]
pub struct LeNetDecoder {
    deconv1: ConvTranspose2d,
    bn3: BatchNorm,
    deconv2: ConvTranspose2d,
    bn4: BatchNorm,
    deconv3: ConvTranspose2d,
}

impl LeNetDecoder {
    /// The decoder for codes of `rep` values (a multiple of 16).
    pub fn new(rep: usize, device: &Device) -> Self {
        LeNetDecoder {
            deconv1: deconv(rep / 16, 4, 2, device),
            bn3: plain_batch_norm(4, device),
            deconv2: deconv(4, 8, 3, device),
            bn4: plain_batch_norm(8, device),
            deconv3: deconv(8, 1, 2, device),
        }
    }

    /// The same network, its BatchNorms' γ and β held again (after a re-initialisation).
    pub fn without_norm_parameters(mut self) -> Self {
        self.bn3 = self.bn3.no_grad();
        self.bn4 = self.bn4.no_grad();
        self
    }

    /// The reconstruction of a code.
    pub fn forward(&self, z: Tensor<2>) -> Tensor<4> {
        let [b, rep] = z.dims();
        let h = upsample2(leaky_relu(z.reshape([b, rep / 16, 4, 4]), SLOPE));
        let h = upsample2(leaky_relu(self.bn3.forward(self.deconv1.forward(h)), SLOPE));
        let h = upsample2(leaky_relu(self.bn4.forward(self.deconv2.forward(h)), SLOPE));
        sigmoid(self.deconv3.forward(h))
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
        let up = upsample2(Tensor::<4>::from_floats([[[[1.0, 2.0], [3.0, 4.0]]]], &device));
        let values = up.into_data().try_into_vec::<f32>().unwrap();
        assert_eq!(&values[..8], &[1.0, 1.0, 2.0, 2.0, 1.0, 1.0, 2.0, 2.0]);
    }
}
