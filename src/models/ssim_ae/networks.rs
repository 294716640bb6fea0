//! The SSIM autoencoder's convolutional encoder and decoder (the paper's Table 1).

use burn::nn::conv::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};
use burn::nn::PaddingConfig2d;
use burn::prelude::*;
use burn::tensor::activation::leaky_relu;

/// One layer of the table: output channels, kernel, stride.
type Layer = (usize, usize, usize);

/// The encoder's layers after the input, for a 128 × 128 input: sides 64, 32, 32, 16, 16, 8, 8,
/// 8, then the `8 × 8` latent convolution to `1 × 1` (its channels are the latent size).
const ENCODER: [Layer; 8] = [
    (32, 4, 2),
    (32, 4, 2),
    (32, 3, 1),
    (64, 4, 2),
    (64, 3, 1),
    (128, 4, 2),
    (64, 3, 1),
    (32, 3, 1),
];

/// Padding that halves the side (kernel 4, stride 2) or keeps it (kernel 3, stride 1).
fn same_padding(kernel: usize) -> usize {
    (kernel - 1) / 2
}

/// A convolution or transposed convolution of the table.
#[derive(Module, Debug)]
pub enum Step {
    /// Keeps the side (kernel 3, stride 1) or halves it.
    Conv(Conv2d),
    /// Doubles the side (kernel 4, stride 2) or grows `1 → 8` (the latent's kernel 8).
    Up(ConvTranspose2d),
}

impl Step {
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        match self {
            Step::Conv(c) => c.forward(x),
            Step::Up(c) => c.forward(x),
        }
    }
}

/// Encoder and decoder; LeakyReLU 0.2 after every layer but the last of each half.
#[derive(Module, Debug)]
pub struct SsimAutoencoderNet {
    /// Input → latent `[B, latent, 1, 1]`.
    pub(super) encoder: Vec<Conv2d>,
    /// Latent → reconstruction.
    pub(super) decoder: Vec<Step>,
}

impl SsimAutoencoderNet {
    /// The network for `channels`-channel images of side `side` (a multiple of 16, at least 16:
    /// four halvings to the `side/16` side the latent convolution spans).
    pub fn new(channels: usize, side: usize, latent: usize, device: &Device) -> Self {
        let bottom = side / 16;
        let mut encoder = Vec::new();
        let mut previous = channels;
        for (out, kernel, stride) in ENCODER {
            let pad = same_padding(kernel);
            encoder.push(
                Conv2dConfig::new([previous, out], [kernel, kernel])
                    .with_stride([stride, stride])
                    .with_padding(PaddingConfig2d::Explicit(pad, pad, pad, pad))
                    .init(device),
            );
            previous = out;
        }
        encoder.push(Conv2dConfig::new([previous, latent], [bottom, bottom]).init(device));
        // The decoder mirrors the table: from the latent back up the same channels and sides.
        let mut decoder = vec![Step::Up(
            ConvTranspose2dConfig::new([latent, previous], [bottom, bottom]).init(device),
        )];
        let mut from = previous;
        let mirrored: Vec<(usize, usize, usize)> = ENCODER
            .iter()
            .enumerate()
            .rev()
            .map(|(i, &(_, kernel, stride))| {
                let out = if i == 0 { channels } else { ENCODER[i - 1].0 };
                (out, kernel, stride)
            })
            .collect();
        for (out, kernel, stride) in mirrored {
            let pad = same_padding(kernel);
            decoder.push(if stride == 1 {
                Step::Conv(
                    Conv2dConfig::new([from, out], [kernel, kernel])
                        .with_padding(PaddingConfig2d::Explicit(pad, pad, pad, pad))
                        .init(device),
                )
            } else {
                Step::Up(
                    ConvTranspose2dConfig::new([from, out], [kernel, kernel])
                        .with_stride([stride, stride])
                        .with_padding([pad, pad])
                        .init(device),
                )
            });
            from = out;
        }
        SsimAutoencoderNet { encoder, decoder }
    }

    /// The latent code `[B, latent, 1, 1]`.
    pub fn encode(&self, x: Tensor<4>) -> Tensor<4> {
        let last = self.encoder.len() - 1;
        self.encoder.iter().enumerate().fold(x, |h, (i, layer)| {
            let h = layer.forward(h);
            if i < last { leaky_relu(h, 0.2) } else { h }
        })
    }

    /// The reconstruction of a latent code.
    pub fn decode(&self, z: Tensor<4>) -> Tensor<4> {
        let last = self.decoder.len() - 1;
        self.decoder.iter().enumerate().fold(z, |h, (i, layer)| {
            let h = layer.forward(h);
            if i < last { leaky_relu(h, 0.2) } else { h }
        })
    }

    /// `decode(encode(x))`.
    pub fn reconstruct(&self, x: Tensor<4>) -> Tensor<4> {
        self.decode(self.encode(x))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table's sides: 128 → 64 → 32 → 32 → 16 → 16 → 8 → 8 → 8 → 1, and back to 128.
    #[test]
    fn shapes_follow_the_table() {
        let device = Device::flex();
        let net = SsimAutoencoderNet::new(1, 128, 100, &device);
        let x = Tensor::<4>::zeros([2, 1, 128, 128], &device);
        let mut h = x.clone();
        let mut sides = Vec::new();
        for layer in &net.encoder {
            h = layer.forward(h);
            sides.push(h.dims()[2]);
        }
        assert_eq!(sides, vec![64, 32, 32, 16, 16, 8, 8, 8, 1]);
        assert_eq!(h.dims(), [2, 100, 1, 1]);
        assert_eq!(net.reconstruct(x).dims(), [2, 1, 128, 128]);
    }
}
