//! The Wide ResNet of the transformation classifiers (GEOM, GOAD): WRN-d-k with pre-activation
//! blocks, `n = (d − 4)/6` blocks a group, in the form each official code runs it
//! ([`WrnStyle`]).
//!
//! - conv 3×3 → 16;
//! - three groups of widths 16k, 32k, 64k, strides 1, 2, 2; a block starts `BN → ReLU` and adds
//!   its input, or a 1×1 convolution (stride) of that first BN–ReLU output when the width
//!   changes, to what its two 3×3 convolutions make of it (see [`WrnStyle`]);
//! - BN → ReLU → global average pooling (the codes' 8 × 8 average pooling on their 8 × 8 maps):
//!   the features; a dense layer → the classes' logits.
//!
//! Convolutions bias-free, the dense layer U(±1/√fan_in) with a zero bias, BatchNorm ε 1e-5,
//! momentum 0.1 in burn's (and PyTorch's) sense, 0.9 in Keras'.

use burn::module::Param;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::relu;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::nn::init::normal_tensor;

/// Which official code's network.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WrnStyle {
    /// GEOM's (Keras, `models/wide_residual_network.py`): TensorFlow's "same" padding (one pixel
    /// each side at stride 1; at stride 2 on an even side, none before and one after),
    /// He-normal weights `N(0, 2/fan_in)`, and the block `BN → ReLU → conv (stride) → BN → ReLU
    /// → conv`.
    Keras,
    /// GOAD's (PyTorch, `wideresnet.py`) as its code runs: one pixel of padding each side,
    /// weights `N(0, 2/(k²·out_channels))`, and the block its `BasicBlock.forward` computes,
    /// which applies its first convolution a second time to a line that was meant to be the
    /// second BN–ReLU's output: where the width changes (every block of a WRN-10-k, k > 1),
    /// `conv2(conv1(a))`
    /// with no BN–ReLU between (the second BN's output is dropped); where it does not,
    /// `conv2(conv1(ReLU(BN2(conv1(a)))))`, `a` the first BN–ReLU output.
    GoadCode,
}

/// A bias-free convolution of `style`'s padding and weights.
fn conv(
    style: WrnStyle,
    cin: usize,
    cout: usize,
    kernel: usize,
    stride: usize,
    rng: &mut ChaCha8Rng,
    device: &Device,
) -> Conv2d {
    let padding = match (style, kernel, stride) {
        (_, 1, _) => PaddingConfig2d::Explicit(0, 0, 0, 0),
        (WrnStyle::GoadCode, _, _) | (_, _, 1) => PaddingConfig2d::Explicit(1, 1, 1, 1),
        _ => PaddingConfig2d::Explicit(0, 0, 1, 1),
    };
    let mut layer = Conv2dConfig::new([cin, cout], [kernel, kernel])
        .with_stride([stride, stride])
        .with_padding(padding)
        .with_bias(false)
        .init(device);
    let fan = match style {
        WrnStyle::Keras => cin,
        WrnStyle::GoadCode => cout,
    };
    let std = (2.0 / (kernel * kernel * fan) as f32).sqrt();
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
    #[module(skip)]
    style: WrnStyle,
}

impl Block {
    fn new(
        style: WrnStyle,
        cin: usize,
        cout: usize,
        stride: usize,
        rng: &mut ChaCha8Rng,
        device: &Device,
    ) -> Self {
        Block {
            bn1: norm(cin, device),
            conv1: conv(style, cin, cout, 3, stride, rng, device),
            bn2: norm(cout, device),
            conv2: conv(style, cout, cout, 3, 1, rng, device),
            shortcut: (cin != cout).then(|| conv(style, cin, cout, 1, stride, rng, device)),
            style,
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let pre = relu(self.bn1.forward(x.clone()));
        let out = self.conv1.forward(pre.clone());
        let out = match (self.style, &self.shortcut) {
            (WrnStyle::Keras, _) => self.conv2.forward(relu(self.bn2.forward(out))),
            // The code's dropped BN2 output only moved BN2's running statistics, never used.
            (WrnStyle::GoadCode, Some(_)) => self.conv2.forward(out),
            (WrnStyle::GoadCode, None) => self
                .conv2
                .forward(self.conv1.forward(relu(self.bn2.forward(out)))),
        };
        let skip = match &self.shortcut {
            Some(c) => c.forward(pre),
            None => x,
        };
        out + skip
    }
}

/// The widest WRN a model's settings may ask for (k = 16: 1 024-wide features).
pub const MAX_WIDEN: usize = 16;

/// The rules a WRN-`depth`-`widen` on `image_size × image_size` images follows, each error
/// naming `model`'s setting.
pub fn check_settings(
    model: &str,
    depth: usize,
    widen: usize,
    image_size: usize,
) -> crate::Result<()> {
    anyhow::ensure!(
        image_size >= 4 && image_size % 4 == 0,
        "{model} image_size must be a multiple of 4 (the WRN halves it twice), got {image_size}"
    );
    anyhow::ensure!(
        depth >= 10 && (depth - 4) % 6 == 0,
        "{model} depth must be 6n + 4 with n ≥ 1 (10, 16, 22, …), got {depth}"
    );
    anyhow::ensure!(
        (1..=MAX_WIDEN).contains(&widen),
        "{model} widen must be in 1..={MAX_WIDEN}, got {widen}"
    );
    Ok(())
}

/// WRN-d-k `[B, C, S, S] → [B, classes]` logits (S a multiple of 4), and the pooled features
/// before them.
#[derive(Module, Debug)]
pub struct WideResNet {
    stem: Conv2d,
    blocks: Vec<Block>,
    bn: BatchNorm,
    dense: Linear,
}

impl WideResNet {
    /// WRN-`depth`-`widen` of `style` for `channels`-channel images and `classes` outputs;
    /// `depth` is 6n + 4 with n ≥ 1 (checked by the caller).
    pub fn new(
        style: WrnStyle,
        channels: usize,
        classes: usize,
        depth: usize,
        widen: usize,
        rng: &mut ChaCha8Rng,
        device: &Device,
    ) -> Self {
        let n = (depth - 4) / 6;
        let widths = [16 * widen, 32 * widen, 64 * widen];
        let mut blocks = Vec::new();
        let mut cin = 16;
        for (group, &width) in widths.iter().enumerate() {
            for i in 0..n {
                let stride = if group > 0 && i == 0 { 2 } else { 1 };
                blocks.push(Block::new(style, cin, width, stride, rng, device));
                cin = width;
            }
        }
        let stem = conv(style, channels, 16, 3, 1, rng, device);
        let mut dense = LinearConfig::new(cin, classes).init(device);
        let bound = 1.0 / (cin as f32).sqrt();
        let values: Vec<f32> = (0..cin * classes)
            .map(|_| (rng.random::<f32>() * 2.0 - 1.0) * bound)
            .collect();
        dense.weight = Param::from_tensor(Tensor::from_data(
            TensorData::new(values, [cin, classes]),
            device,
        ));
        dense.bias = Some(Param::from_tensor(Tensor::zeros([classes], device)));
        WideResNet {
            stem,
            blocks,
            bn: norm(cin, device),
            dense,
        }
    }

    /// The width of the features, 64k.
    pub fn feature_width(&self) -> usize {
        self.dense.weight.dims()[0]
    }

    /// The features `[B, 64k]`: the last BN–ReLU, averaged over the map.
    pub fn features(&self, x: Tensor<4>) -> Tensor<2> {
        let mut h = self.stem.forward(x);
        for block in &self.blocks {
            h = block.forward(h);
        }
        let h = relu(self.bn.forward(h));
        let [b, c, _, _] = h.dims();
        h.mean_dim(3).mean_dim(2).reshape([b, c])
    }

    /// The features of every stage, each averaged over its map: the output of each group of
    /// blocks (`[B, 16k]`, `[B, 32k]`, `[B, 64k]`), then [`WideResNet::features`] — the
    /// per-layer features of the Mahalanobis OOD score.
    pub fn stage_features(&self, x: Tensor<4>) -> Vec<Tensor<2>> {
        let pooled = |h: Tensor<4>| {
            let [b, c, _, _] = h.dims();
            h.mean_dim(3).mean_dim(2).reshape([b, c])
        };
        let per_group = self.blocks.len() / 3;
        let mut stages = Vec::with_capacity(4);
        let mut h = self.stem.forward(x);
        for (i, block) in self.blocks.iter().enumerate() {
            h = block.forward(h);
            if (i + 1) % per_group == 0 {
                stages.push(pooled(h.clone()));
            }
        }
        stages.push(pooled(relu(self.bn.forward(h))));
        stages
    }

    /// The logits `[B, classes]` of `features`.
    pub fn logits(&self, features: Tensor<2>) -> Tensor<2> {
        crate::nn::dense::forward_batch_invariant(&self.dense, features)
    }

    /// The logits `[B, classes]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        self.logits(self.features(x))
    }

    /// Whether the BatchNorms normalise a training pass by its batch's statistics (and move
    /// their running ones), as burn does by default, or by their running statistics, held
    /// fixed, as PyTorch's evaluation mode does while gradients still flow.
    pub fn set_batch_statistics(&mut self, on: bool) {
        let flip = |bn: &mut BatchNorm| bn.training = bn.training.clone().with_value(on);
        for block in &mut self.blocks {
            flip(&mut block.bn1);
            flip(&mut block.bn2);
        }
        flip(&mut self.bn);
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
        let net = WideResNet::new(
            WrnStyle::Keras,
            3,
            72,
            10,
            4,
            &mut component_rng(0, 1),
            &device,
        );
        assert_eq!(net.blocks.len(), 3);
        assert!(net.blocks.iter().all(|b| b.shortcut.is_some()));
        assert_eq!(net.blocks[2].conv2.weight.dims(), [256, 256, 3, 3]);
        let x = Tensor::<4>::zeros([2, 3, 32, 32], &device);
        let h = net.stem.forward(x.clone());
        let h1 = net.blocks[0].forward(h);
        let h2 = net.blocks[1].forward(h1.clone());
        assert_eq!((h1.dims(), h2.dims()), ([2, 64, 32, 32], [2, 128, 16, 16]));
        assert_eq!(net.forward(x).dims(), [2, 72]);
        let deeper = WideResNet::new(
            WrnStyle::Keras,
            1,
            8,
            16,
            1,
            &mut component_rng(0, 1),
            &device,
        );
        assert_eq!(deeper.blocks.len(), 6);
        assert!(deeper.blocks[0].shortcut.is_none() && deeper.blocks[2].shortcut.is_some());
    }

    /// The stage features of a WRN-16-1: one per group (after blocks 2, 4, 6) and the final
    /// features, the last equal to [`WideResNet::features`], each the mean of its map.
    #[test]
    fn stage_features_pool_each_group() {
        let device = Device::flex();
        let net = WideResNet::new(
            WrnStyle::Keras,
            1,
            8,
            16,
            1,
            &mut component_rng(0, 2),
            &device,
        );
        let x = Tensor::<4>::from_data(
            TensorData::new(
                (0..2 * 64)
                    .map(|i| ((i * 13) % 7) as f32 / 3.0 - 1.0)
                    .collect::<Vec<_>>(),
                [2, 1, 8, 8],
            ),
            &device,
        );
        let stages = net.stage_features(x.clone());
        let widths: Vec<usize> = stages.iter().map(|t| t.dims()[1]).collect();
        assert_eq!(widths, [16, 32, 64, 64]);
        let mut h = net.stem.forward(x.clone());
        for block in &net.blocks[..4] {
            h = block.forward(h);
        }
        let by_hand = h.mean_dim(3).mean_dim(2).reshape([2, 32]);
        let values = |t: Tensor<2>| t.into_data().try_into_vec::<f32>().unwrap();
        let (a, b) = (values(stages[1].clone()), values(by_hand));
        assert!(a.iter().zip(&b).all(|(p, q)| (p - q).abs() < 1e-5));
        let (a, b) = (values(stages[3].clone()), values(net.features(x)));
        assert!(a.iter().zip(&b).all(|(p, q)| (p - q).abs() < 1e-5));
    }

    /// GOAD's blocks as its code computes them: where the width changes,
    /// `conv2(conv1(a)) + shortcut(a)`; where it does not, `conv2(conv1(ReLU(BN2(conv1(a))))) + x`,
    /// `a = ReLU(BN1(x))`; one pixel of padding each side at stride 2 too; weights of std
    /// `√(2/(9·out))`.
    #[test]
    fn goad_blocks_follow_its_code() {
        let device = Device::flex();
        let net = WideResNet::new(
            WrnStyle::GoadCode,
            1,
            8,
            16,
            4,
            &mut component_rng(0, 1),
            &device,
        );
        let x = Tensor::<4>::from_data(
            TensorData::new(
                (0..2 * 16 * 64)
                    .map(|i| ((i * 37) % 11) as f32 / 5.0 - 1.0)
                    .collect::<Vec<_>>(),
                [2, 16, 8, 8],
            ),
            &device,
        );
        let close = |a: Tensor<4>, b: Tensor<4>| {
            let (a, b) = (
                a.into_data().try_into_vec::<f32>().unwrap(),
                b.into_data().try_into_vec::<f32>().unwrap(),
            );
            assert_eq!(a.len(), b.len());
            assert!(a.iter().zip(&b).all(|(u, v)| (u - v).abs() < 1e-4));
        };
        let first = &net.blocks[0];
        let a = relu(first.bn1.forward(x.clone()));
        let expected = first.conv2.forward(first.conv1.forward(a.clone()))
            + first.shortcut.as_ref().unwrap().forward(a);
        close(first.forward(x.clone()), expected);
        let h = first.forward(x);
        let second = &net.blocks[1];
        assert!(second.shortcut.is_none());
        let a = relu(second.bn1.forward(h.clone()));
        let inner = relu(second.bn2.forward(second.conv1.forward(a)));
        close(
            second.forward(h.clone()),
            second.conv2.forward(second.conv1.forward(inner)) + h,
        );
        // Weights of std √(2/(9·out)): 16 → 64 tells it from Keras' √(2/(9·in)).
        let std_of = |c: &Conv2d| {
            let w = c.weight.val().into_data().try_into_vec::<f32>().unwrap();
            (w.iter().map(|v| v * v).sum::<f32>() / w.len() as f32).sqrt()
        };
        let wide = WideResNet::new(
            WrnStyle::GoadCode,
            1,
            8,
            10,
            4,
            &mut component_rng(0, 1),
            &device,
        );
        let keras = WideResNet::new(
            WrnStyle::Keras,
            1,
            8,
            10,
            4,
            &mut component_rng(0, 1),
            &device,
        );
        for (net, fan) in [(&wide, 64.0f32), (&keras, 16.0)] {
            let (std, expected) = (std_of(&net.blocks[0].conv1), (2.0 / (9.0 * fan)).sqrt());
            assert!((std / expected - 1.0).abs() < 0.05, "{std} vs {expected}");
        }
        // Padding at stride 2: an impulse at pixel (0, 0) of a 4 × 4 image reaches output
        // (0, 0) through the kernel's centre with PyTorch's one pixel each side, through its
        // corner with TensorFlow's none before.
        let mut impulse = vec![0f32; 16];
        impulse[0] = 1.0;
        let x = Tensor::<4>::from_data(TensorData::new(impulse, [1, 1, 4, 4]), &device);
        for (style, tap) in [(WrnStyle::GoadCode, 4), (WrnStyle::Keras, 0)] {
            let c = conv(style, 1, 1, 3, 2, &mut component_rng(0, 2), &device);
            let w = c.weight.val().into_data().try_into_vec::<f32>().unwrap();
            let out = c
                .forward(x.clone())
                .into_data()
                .try_into_vec::<f32>()
                .unwrap();
            assert_eq!(out.len(), 4, "{style:?}");
            assert!(
                (out[0] - w[tap]).abs() < 1e-6,
                "{style:?}: {} vs {}",
                out[0],
                w[tap]
            );
        }
    }
}
