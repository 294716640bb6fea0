//! The pix2pix U-Net generator (Isola et al., CVPR 2017) as Skip-GANomaly builds it
//! (`UnetGenerator` with `num_downs = log2(size)`, `ngf = 64`, BatchNorm, no dropout): 4×4
//! stride-2 convolutions down to a 1×1 bottleneck, transposed convolutions back up, and at every
//! level the encoder's map concatenated to the decoder's input.
//!
//! Level widths for a side S: 64, 128, 256, 512, then 512 until 1×1. Down steps are
//! LeakyReLU(0.2) → conv → BatchNorm (no activation before the outermost conv, no norm on the
//! outermost and innermost); up steps are ReLU → transposed conv → BatchNorm, the outermost ending
//! in a biased transposed conv and tanh. Convolutions have no bias where BatchNorm follows.

use burn::nn::conv::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::{leaky_relu, relu};

/// One level's down and up steps.
#[derive(Module, Debug)]
pub struct UnetLevel {
    down: Conv2d,
    down_norm: Option<BatchNorm>,
    up: ConvTranspose2d,
    up_norm: Option<BatchNorm>,
}

/// `[B, C, S, S] → [B, C, S, S]` with skip connections.
#[derive(Module, Debug)]
pub struct Unet {
    /// Outermost first.
    levels: Vec<UnetLevel>,
}

impl Unet {
    /// A U-Net for `channels`×`size`×`size` images (size a power of two ≥ 2), base width `ngf`.
    pub fn new(size: usize, channels: usize, ngf: usize, device: &Device) -> Self {
        let depth = size.trailing_zeros() as usize;
        let widths: Vec<usize> = (0..depth).map(|i| ngf * (1 << i.min(3))).collect();
        let levels = (0..depth)
            .map(|i| {
                let outermost = i == 0;
                let innermost = i + 1 == depth;
                let input = if outermost { channels } else { widths[i - 1] };
                let inner = widths[i];
                // Up steps see the inner level's output concatenated to this level's map,
                // except the innermost, which sees the bottleneck alone.
                let up_in = if innermost { inner } else { 2 * inner };
                let norm = |c| BatchNormConfig::new(c).init(device);
                UnetLevel {
                    down: Conv2dConfig::new([input, inner], [4, 4])
                        .with_stride([2, 2])
                        .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                        .with_bias(false)
                        .init(device),
                    down_norm: (!outermost && !innermost).then(|| norm(inner)),
                    up: ConvTranspose2dConfig::new([up_in, input], [4, 4])
                        .with_stride([2, 2])
                        .with_padding([1, 1])
                        .with_bias(outermost)
                        .init(device),
                    up_norm: (!outermost).then(|| norm(input)),
                }
            })
            .collect();
        Unet { levels }
    }

    /// Reconstruct `x`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        // Down: keep every level's output for the skips.
        let mut downs = Vec::with_capacity(self.levels.len());
        let mut h = x;
        for (i, level) in self.levels.iter().enumerate() {
            let input = if i == 0 { h } else { leaky_relu(h, 0.2) };
            let mut d = level.down.forward(input);
            if let Some(n) = &level.down_norm {
                d = n.forward(d);
            }
            downs.push(d.clone());
            h = d;
        }
        // Up: innermost first; each level's output is concatenated to its own down map.
        let mut up = downs.pop().expect("a U-Net has at least one level");
        for (i, level) in self.levels.iter().enumerate().rev() {
            let mut u = level.up.forward(relu(up));
            match &level.up_norm {
                Some(n) => u = n.forward(u),
                None => return u.tanh(), // outermost
            }
            up = Tensor::cat(vec![downs[i - 1].clone(), u], 1);
        }
        unreachable!("the outermost level returns")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unet_32_has_skip_ganomaly_widths_and_shape() {
        let device = Device::flex();
        let net = Unet::new(32, 3, 64, &device);
        let widths: Vec<[usize; 4]> = net.levels.iter().map(|l| l.down.weight.dims()).collect();
        // conv weights [out, in, 4, 4]: 3→64→128→256→512→512
        let outs: Vec<usize> = widths.iter().map(|w| w[0]).collect();
        assert_eq!(outs, vec![64, 128, 256, 512, 512]);
        let y = net.forward(Tensor::zeros([2, 3, 32, 32], &device));
        assert_eq!(y.dims(), [2, 3, 32, 32]);
    }
}
