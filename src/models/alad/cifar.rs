//! ALAD's convolutional networks for 32×32 colour images (`alad/cifar10_utilities.py`), taking
//! and giving flattened samples `[B, C·32·32]` like their tabular counterparts. The official
//! networks take C = 3; grey images (C = 1) go through the same layers with one input and output
//! channel. LeakyReLU 0.2;
//! "SN" marks the layers spectral normalisation covers when it is on (the official `--sn`).
//!
//! - encoder: conv4×4 s2 128 (SN) BN LReLU → 256 (SN) BN LReLU → 512 (SN) BN LReLU (32 → 4) →
//!   conv4×4 valid → latent (100);
//! - generator: latent as 1×1 → deconv4×4 s2 valid 512 BN ReLU (4×4) → deconv4×4 s2 256 BN
//!   ReLU → 128 BN ReLU → C, tanh;
//! - joint discriminator D_xz: x branch conv4×4 s2 128 (SN) LReLU → 256 (SN) BN LReLU → 512
//!   (SN) BN LReLU, flattened; z branch two 1×1 convolutions 512 (SN) LReLU dropout 0.2 (on a
//!   1×1 map: dense layers); joint 1×1 conv 1024 (SN) LReLU dropout 0.2 (the feature layer);
//!   logit 1×1 conv, not normalised;
//! - pair discriminator D_xx(x, x′): the pair stacked along channels → conv5×5 s2 64 (SN)
//!   LReLU dropout 0.2 → conv5×5 s2 128 (SN) LReLU dropout 0.2, flattened (the feature layer,
//!   128·8·8) → dense logit, not normalised. The official code stacks the pair along the image
//!   height (`tf.concat(axis=1)` on NHWC), which lets the first layers see the two images only
//!   where the 5×5 windows straddle the seam; stacking channels compares them pixel by pixel,
//!   as the paper's D_xx(x, x′) reads. Convolutions pad as TensorFlow's `same` (a 5×5 kernel at
//!   stride 2: one row before, two after).
//!
//! D_zz is the tabular [`crate::nn::PairDiscriminator`] (64 → 32, dropout 0.2).

use crate::nn::bigan::{DenseBlockConfig, DiscriminatorOutput, DiscriminatorStyle, JointHead};
use crate::nn::dropout::dropout_while_training;
use crate::nn::spectral::Conv2dLayer;
use crate::nn::dense::forward_batch_invariant;
use burn::nn::conv::{Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::{leaky_relu, relu};
use rand_chacha::ChaCha8Rng;

const SIDE: usize = 32;
/// LeakyReLU slope of every ALAD CIFAR-10 network.
const SLOPE: f64 = 0.2;
/// Width of the flattened x trunk of D_xz and of D_xx's feature layer.
const TRUNK: usize = 512 * 4 * 4;

/// A `kernel`×`kernel` convolution with TensorFlow's padding (`same` or `valid`), spectrally
/// normalised when `spectral`.
fn conv(
    channels: [usize; 2],
    kernel: usize,
    stride: usize,
    same: bool,
    spectral: bool,
    device: &Device,
    rng: &mut ChaCha8Rng,
) -> Conv2dLayer {
    let padding = if same {
        PaddingConfig2d::Same
    } else {
        PaddingConfig2d::Valid
    };
    let c = Conv2dConfig::new(channels, [kernel, kernel])
        .with_stride([stride, stride])
        .with_padding(padding)
        .init(device);
    Conv2dLayer::new(c, spectral, rng)
}

/// Flattened `[B, C·32·32]` samples as `[B, C, 32, 32]` images.
fn images(x: Tensor<2>) -> Tensor<4> {
    let [b, width] = x.dims();
    x.reshape([b, width / (SIDE * SIDE), SIDE, SIDE])
}

/// Three stride-2 4×4 convolutions C → 128 → 256 → 512 (32 → 4), each LeakyReLU, BatchNorm on
/// those `normed` says: the encoder's trunk and D_xz's x branch.
#[derive(Module, Debug)]
pub struct DownTrunk {
    convs: Vec<Conv2dLayer>,
    norms: Vec<Option<BatchNorm>>,
}

impl DownTrunk {
    fn new(
        channels: usize,
        normed: [bool; 3],
        spectral: bool,
        device: &Device,
        rng: &mut ChaCha8Rng,
    ) -> Self {
        let widths = [channels, 128, 256, 512];
        DownTrunk {
            convs: (0..3)
                .map(|i| {
                    conv(
                        [widths[i], widths[i + 1]],
                        4,
                        2,
                        true,
                        spectral,
                        device,
                        rng,
                    )
                })
                .collect(),
            norms: (0..3)
                .map(|i| normed[i].then(|| BatchNormConfig::new(widths[i + 1]).init(device)))
                .collect(),
        }
    }

    fn forward(&self, x: Tensor<4>, training: bool) -> Tensor<4> {
        let mut h = x;
        for (conv, norm) in self.convs.iter().zip(&self.norms) {
            h = conv.forward(h, training);
            if let Some(n) = norm {
                h = n.forward(h);
            }
            h = leaky_relu(h, SLOPE);
        }
        h
    }
}

/// Image → latent.
#[derive(Module, Debug)]
pub struct CifarEncoder {
    trunk: DownTrunk,
    out: Conv2dLayer,
}

impl CifarEncoder {
    /// Build for images of `channels` channels and latent size `latent`.
    pub fn new(
        channels: usize,
        latent: usize,
        spectral: bool,
        device: &Device,
        rng: &mut ChaCha8Rng,
    ) -> Self {
        CifarEncoder {
            trunk: DownTrunk::new(channels, [true; 3], spectral, device, rng),
            out: conv([512, latent], 4, 1, false, false, device, rng),
        }
    }

    /// `[B, C·1024] → [B, latent]`; `training` advances spectral normalisation.
    pub fn forward(&self, x: Tensor<2>, training: bool) -> Tensor<2> {
        let b = x.dims()[0];
        let h = self.trunk.forward(images(x), training);
        let z = self.out.forward(h, training);
        let latent = z.dims()[1];
        z.reshape([b, latent])
    }
}

/// Latent → image.
#[derive(Module, Debug)]
pub struct CifarGenerator {
    deconvs: Vec<ConvTranspose2d>,
    norms: Vec<BatchNorm>,
}

impl CifarGenerator {
    /// Build for latent size `latent` and images of `channels` channels.
    pub fn new(latent: usize, channels: usize, device: &Device) -> Self {
        let widths = [latent, 512, 256, 128, channels];
        CifarGenerator {
            deconvs: (0..4)
                .map(|i| {
                    // The first layer is VALID (1 → 4), the others SAME (×2): padding 0, then 1.
                    ConvTranspose2dConfig::new([widths[i], widths[i + 1]], [4, 4])
                        .with_stride([2, 2])
                        .with_padding(if i == 0 { [0, 0] } else { [1, 1] })
                        .init(device)
                })
                .collect(),
            norms: (1..4)
                .map(|i| BatchNormConfig::new(widths[i]).init(device))
                .collect(),
        }
    }

    /// `[B, latent] → [B, C·1024]` in (−1, 1).
    pub fn forward(&self, z: Tensor<2>) -> Tensor<2> {
        let [b, latent] = z.dims();
        let mut h = z.reshape([b, latent, 1, 1]);
        for (deconv, norm) in self.deconvs.iter().zip(&self.norms) {
            h = relu(norm.forward(deconv.forward(h)));
        }
        let last = self.deconvs.last().expect("four layers");
        let x = last.forward(h).tanh();
        let channels = x.dims()[1];
        x.reshape([b, channels * SIDE * SIDE])
    }
}

/// D_xz(x, z) with a convolutional x branch.
#[derive(Module, Debug)]
pub struct CifarJointDiscriminator {
    x_branch: DownTrunk,
    head: JointHead,
}

impl CifarJointDiscriminator {
    /// Build for images of `channels` channels and latent size `latent`.
    pub fn new(
        channels: usize,
        latent: usize,
        spectral: bool,
        device: &Device,
        rng: &mut ChaCha8Rng,
    ) -> Self {
        let style = DiscriminatorStyle {
            slope: SLOPE,
            spectral,
        };
        let block = |width| DenseBlockConfig {
            width,
            batch_norm: false,
            dropout: 0.2,
        };
        CifarJointDiscriminator {
            x_branch: DownTrunk::new(channels, [false, true, true], spectral, device, rng),
            head: JointHead::new(
                TRUNK,
                latent,
                &[block(512), block(512)],
                block(1024),
                style,
                false,
                device,
                rng,
            ),
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
        let hx = self
            .x_branch
            .forward(images(x), rng.is_some())
            .reshape([b, TRUNK]);
        self.head.forward(hx, z, &mut rng)
    }
}

/// D_xx(x, x′) on the pair stacked along channels.
#[derive(Module, Debug)]
pub struct CifarPairDiscriminator {
    c1: Conv2dLayer,
    c2: Conv2dLayer,
    logit: Linear,
}

impl CifarPairDiscriminator {
    /// Build for images of `channels` channels.
    pub fn new(channels: usize, spectral: bool, device: &Device, rng: &mut ChaCha8Rng) -> Self {
        CifarPairDiscriminator {
            c1: conv([2 * channels, 64], 5, 2, true, spectral, device, rng),
            c2: conv([64, 128], 5, 2, true, spectral, device, rng),
            logit: LinearConfig::new(128 * 8 * 8, 1).init(device),
        }
    }

    /// One pass on the pair (a, b); `rng` draws dropout masks while training.
    pub fn forward(
        &self,
        a: Tensor<2>,
        b: Tensor<2>,
        mut rng: Option<&mut ChaCha8Rng>,
    ) -> DiscriminatorOutput {
        let n = a.dims()[0];
        let training = rng.is_some();
        let h = Tensor::cat(vec![images(a), images(b)], 1);
        let h = dropout_while_training(
            leaky_relu(self.c1.forward(h, training), SLOPE),
            0.2,
            &mut rng,
        );
        let h = dropout_while_training(
            leaky_relu(self.c2.forward(h, training), SLOPE),
            0.2,
            &mut rng,
        );
        let features = h.reshape([n, 128 * 8 * 8]);
        DiscriminatorOutput {
            logits: forward_batch_invariant(&self.logit, features.clone()),
            features,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    /// Every network maps the official shapes, for colour (3072 → 100 → 3072) and grey images
    /// (1024 → 100 → 1024): D_xz and D_xx give one logit and their feature layers (1024;
    /// 128·8·8).
    #[test]
    fn networks_have_the_official_shapes() {
        let device = Device::flex();
        let rng = &mut ChaCha8Rng::seed_from_u64(0);
        for channels in [3, 1] {
            let width = channels * 1024;
            let x = Tensor::<2>::zeros([2, width], &device);
            let e = CifarEncoder::new(channels, 100, true, &device, rng);
            let g = CifarGenerator::new(100, channels, &device);
            let z = e.forward(x.clone(), false);
            assert_eq!(z.dims(), [2, 100]);
            let rec = g.forward(z.clone());
            assert_eq!(rec.dims(), [2, width]);
            let d_xz = CifarJointDiscriminator::new(channels, 100, true, &device, rng)
                .forward(x.clone(), z, None);
            assert_eq!(
                (d_xz.logits.dims(), d_xz.features.dims()),
                ([2, 1], [2, 1024])
            );
            let d_xx =
                CifarPairDiscriminator::new(channels, true, &device, rng).forward(x, rec, None);
            assert_eq!(
                (d_xx.logits.dims(), d_xx.features.dims()),
                ([2, 1], [2, 8192])
            );
        }
    }
}
