//! The Wide ResNet of GEOM's official code (`models/wide_residual_network.py`, Keras): WRN-d-k
//! with pre-activation blocks, `n = (d − 4)/6` blocks a group.
//!
//! - conv 3×3 → 16;
//! - three groups of widths 16k, 32k, 64k, strides 1, 2, 2; a block is `BN → ReLU → conv 3×3
//!   (stride) → BN → ReLU → conv 3×3`, plus the input, or a 1×1 convolution (stride) of the first
//!   BN–ReLU output when the width changes;
//! - BN → ReLU → global average pooling (the code's 8 × 8 average pooling on its 8 × 8 maps) →
//!   dense → the classes' logits.
//!
//! Convolutions bias-free with He-normal weights (`N(0, 2/fan_in)`), the dense layer
//! U(±1/√fan_in) with a zero bias, BatchNorm ε 1e-5, momentum 0.9 in Keras' sense (0.1 in
//! burn's). TensorFlow's "same" padding: one pixel each side at stride 1; at stride 2 on an even
//! side, none before and one after.

use burn::module::Param;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::relu;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::nn::init::normal_tensor;

/// A convolution with He-normal weights and TensorFlow's "same" padding.
fn conv(cin: usize, cout: usize, kernel: usize, stride: usize, rng: &mut ChaCha8Rng, device: &Device) -> Conv2d {
    let padding = match (kernel, stride) {
        (1, _) => PaddingConfig2d::Explicit(0, 0, 0, 0),
        (_, 1) => PaddingConfig2d::Explicit(1, 1, 1, 1),
        _ => PaddingConfig2d::Explicit(0, 0, 1, 1),
    };
    let mut layer = Conv2dConfig::new([cin, cout], [kernel, kernel])
        .with_stride([stride, stride])
        .with_padding(padding)
        .with_bias(false)
        .init(device);
    let std = (2.0 / (kernel * kernel * cin) as f32).sqrt();
    let weights = normal_tensor(rng, [cout, cin * kernel * kernel], std, device);
    layer.weight = Param::from_tensor(weights.reshape([cout, cin, kernel, kernel]));
    layer
}

fn norm(channels: usize, device: &Device) -> BatchNorm {
    BatchNormConfig::new(channels)
        .with_epsilon(1e-5)
        .with_momentum(0.1)
        .init(device)
}

/// One pre-activation block.
#[derive(Module, Debug)]
pub struct Block {
    bn1: BatchNorm,
    conv1: Conv2d,
    bn2: BatchNorm,
    conv2: Conv2d,
    /// The 1×1 convolution where the width changes.
    shortcut: Option<Conv2d>,
}

impl Block {
    fn new(cin: usize, cout: usize, stride: usize, rng: &mut ChaCha8Rng, device: &Device) -> Self {
        Block {
            bn1: norm(cin, device),
            conv1: conv(cin, cout, 3, stride, rng, device),
            bn2: norm(cout, device),
            conv2: conv(cout, cout, 3, 1, rng, device),
            shortcut: (cin != cout).then(|| conv(cin, cout, 1, stride, rng, device)),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let pre = relu(self.bn1.forward(x.clone()));
        let out = self.conv1.forward(pre.clone());
        let out = self.conv2.forward(relu(self.bn2.forward(out)));
        let skip = match &self.shortcut {
            Some(c) => c.forward(pre),
            None => x,
        };
        out + skip
    }
}

/// WRN-d-k `[B, C, S, S] → [B, classes]` logits (S a multiple of 4).
#[derive(Module, Debug)]
pub struct WideResNet {
    stem: Conv2d,
    blocks: Vec<Block>,
    bn: BatchNorm,
    dense: Linear,
}

impl WideResNet {
    /// WRN-`depth`-`widen` for `channels`-channel images and `classes` outputs; `depth` is
    /// 6n + 4 with n ≥ 1 (checked by the caller).
    pub fn new(channels: usize, classes: usize, depth: usize, widen: usize, rng: &mut ChaCha8Rng, device: &Device) -> Self {
        let n = (depth - 4) / 6;
        let widths = [16 * widen, 32 * widen, 64 * widen];
        let mut blocks = Vec::new();
        let mut cin = 16;
        for (group, &width) in widths.iter().enumerate() {
            for i in 0..n {
                let stride = if group > 0 && i == 0 { 2 } else { 1 };
                blocks.push(Block::new(cin, width, stride, rng, device));
                cin = width;
            }
        }
        let stem = conv(channels, 16, 3, 1, rng, device);
        let mut dense = LinearConfig::new(cin, classes).init(device);
        let bound = 1.0 / (cin as f32).sqrt();
        let values: Vec<f32> = (0..cin * classes)
            .map(|_| (rng.random::<f32>() * 2.0 - 1.0) * bound)
            .collect();
        dense.weight = Param::from_tensor(Tensor::from_data(TensorData::new(values, [cin, classes]), device));
        dense.bias = Some(Param::from_tensor(Tensor::zeros([classes], device)));
        WideResNet {
            stem,
            blocks,
            bn: norm(cin, device),
            dense,
        }
    }

    /// The logits `[B, classes]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let mut h = self.stem.forward(x);
        for block in &self.blocks {
            h = block.forward(h);
        }
        let h = relu(self.bn.forward(h));
        let [b, c, _, _] = h.dims();
        self.dense.forward(h.mean_dim(3).mean_dim(2).reshape([b, c]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::init::component_rng;

    /// WRN-10-4 has the code's layers: one block a group, widths 64 / 128 / 256, 1×1 shortcuts
    /// where the width changes, 32 → 32 → 16 → 8 maps, and logits for every class.
    #[test]
    fn shapes_follow_the_code() {
        let device = Device::flex();
        let net = WideResNet::new(3, 72, 10, 4, &mut component_rng(0, 1), &device);
        assert_eq!(net.blocks.len(), 3);
        assert!(net.blocks.iter().all(|b| b.shortcut.is_some()));
        assert_eq!(net.blocks[2].conv2.weight.dims(), [256, 256, 3, 3]);
        let x = Tensor::<4>::zeros([2, 3, 32, 32], &device);
        let h = net.stem.forward(x.clone());
        let h1 = net.blocks[0].forward(h);
        let h2 = net.blocks[1].forward(h1.clone());
        assert_eq!((h1.dims(), h2.dims()), ([2, 64, 32, 32], [2, 128, 16, 16]));
        assert_eq!(net.forward(x).dims(), [2, 72]);
        let deeper = WideResNet::new(1, 8, 16, 1, &mut component_rng(0, 1), &device);
        assert_eq!(deeper.blocks.len(), 6);
        assert!(deeper.blocks[0].shortcut.is_none() && deeper.blocks[2].shortcut.is_some());
    }
}
