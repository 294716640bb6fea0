//! CAVGA-D's networks: a DCGAN-style convolutional encoder that stops at a *spatial* latent
//! (a feature map, so that attention has somewhere to point), its mirrored decoder, and the
//! Grad-CAM attention computed from one of the encoder's feature maps (by default its last).

use crate::nn::DcganEncoder;
use crate::nn::dense::forward_batch_invariant;
use burn::nn::conv::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::{leaky_relu, relu, sigmoid};
use burn::tensor::module::interpolate;
use burn::tensor::ops::{InterpolateMode, InterpolateOptions};

/// LeakyReLU slope of the encoder (DCGAN's).
const SLOPE: f64 = 0.2;

/// A strided 4 × 4 convolution followed (but for the first) by BatchNorm.
#[derive(Module, Debug)]
pub struct Down {
    conv: Conv2d,
    norm: Option<BatchNorm>,
}

/// A strided 4 × 4 transposed convolution followed (but for the last) by BatchNorm.
#[derive(Module, Debug)]
pub struct Up {
    conv: ConvTranspose2d,
    norm: Option<BatchNorm>,
}

/// Image `[B, C, S, S]` → features `[B, K, S/2ⁿ, S/2ⁿ]` → latent mean and log-variance
/// `[B, Z, S/2ⁿ, S/2ⁿ]` (3 × 3 convolutions of the features).
#[derive(Module, Debug)]
pub struct Encoder {
    pyramid: Vec<Down>,
    pub(super) mean: Conv2d,
    log_var: Conv2d,
}

/// Latent `[B, Z, s, s]` → image `[B, C, s·2ⁿ, s·2ⁿ]`; linear output (any input scaling).
#[derive(Module, Debug)]
pub struct Decoder {
    entry: Conv2d,
    entry_norm: BatchNorm,
    pyramid: Vec<Up>,
}

/// The variational autoencoder (with CAVGA-w's classifier on its latent mean), trained by one
/// optimizer.
#[derive(Module, Debug)]
pub struct Vae {
    pub(super) encoder: Encoder,
    pub(super) decoder: Decoder,
    /// CAVGA-w: the flattened latent mean → logits (normal, anomalous).
    pub(super) classifier: Option<Linear>,
}

impl Vae {
    /// The classifier's logits `[B, 2]` (normal, anomalous) of a feature map's latent mean.
    pub fn logits(&self, features: Tensor<4>) -> Option<Tensor<2>> {
        let classifier = self.classifier.as_ref()?;
        let mean = self.encoder.mean(features);
        let b = mean.dims()[0];
        Some(forward_batch_invariant(classifier, mean.reshape([b as i32, -1])))
    }
}

/// The autoencoder and the DCGAN discriminator on images, saved together.
#[derive(Module, Debug)]
pub struct CavgaNets {
    pub(super) vae: Vae,
    pub(super) discriminator: DcganEncoder,
}

/// The widths of the encoder's pyramid: `base`, `2·base`, … (`downsamplings` of them).
fn widths(base: usize, downsamplings: usize) -> Vec<usize> {
    (0..downsamplings).map(|i| base << i).collect()
}

fn conv3(cin: usize, cout: usize, device: &Device) -> Conv2d {
    Conv2dConfig::new([cin, cout], [3, 3])
        .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
        .init(device)
}

impl Encoder {
    /// `channels` → `downsamplings` halvings of width `base_width·2ⁱ` → `latent_channels`.
    pub fn new(
        channels: usize,
        base_width: usize,
        downsamplings: usize,
        latent_channels: usize,
        device: &Device,
    ) -> Self {
        let widths = widths(base_width, downsamplings);
        let mut cin = channels;
        let pyramid = widths
            .iter()
            .enumerate()
            .map(|(i, &w)| {
                let conv = Conv2dConfig::new([cin, w], [4, 4])
                    .with_stride([2, 2])
                    .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                    .with_bias(false)
                    .init(device);
                cin = w;
                Down {
                    conv,
                    norm: (i > 0).then(|| BatchNormConfig::new(w).init(device)),
                }
            })
            .collect();
        Encoder {
            pyramid,
            mean: conv3(cin, latent_channels, device),
            log_var: conv3(cin, latent_channels, device),
        }
    }

    /// The last feature map before the latent.
    pub fn features(&self, x: Tensor<4>) -> Tensor<4> {
        self.run_blocks(x, 0..self.pyramid.len())
    }

    /// The feature map after the first `blocks` halvings (where the attention is computed).
    pub fn head(&self, x: Tensor<4>, blocks: usize) -> Tensor<4> {
        self.run_blocks(x, 0..blocks)
    }

    /// The last feature map from the one after the first `blocks` halvings:
    /// [`Encoder::features`] is `tail(head(x, k), k)` for every `k`.
    pub fn tail(&self, h: Tensor<4>, blocks: usize) -> Tensor<4> {
        self.run_blocks(h, blocks..self.pyramid.len())
    }

    /// The running means of the blocks' BatchNorms, first to last (for tests).
    #[cfg(test)]
    pub(super) fn running_means(&self) -> Vec<Tensor<1>> {
        let norms = self.pyramid.iter().filter_map(|b| b.norm.as_ref());
        norms.map(|n| n.running_mean.value_sync()).collect()
    }

    fn run_blocks(&self, x: Tensor<4>, range: std::ops::Range<usize>) -> Tensor<4> {
        let mut h = x;
        for block in &self.pyramid[range] {
            h = block.conv.forward(h);
            if let Some(norm) = &block.norm {
                h = norm.forward(h);
            }
            h = leaky_relu(h, SLOPE);
        }
        h
    }

    /// The latent mean of a feature map.
    pub fn mean(&self, features: Tensor<4>) -> Tensor<4> {
        self.mean.forward(features)
    }

    /// The latent log-variance of a feature map.
    pub fn log_var(&self, features: Tensor<4>) -> Tensor<4> {
        self.log_var.forward(features)
    }
}

impl Decoder {
    /// The encoder's mirror: `latent_channels` → widths halving → `channels`.
    pub fn new(
        channels: usize,
        base_width: usize,
        downsamplings: usize,
        latent_channels: usize,
        device: &Device,
    ) -> Self {
        let mut widths = widths(base_width, downsamplings);
        widths.reverse();
        let top = widths[0];
        let pyramid = widths
            .iter()
            .enumerate()
            .map(|(i, &w)| {
                let last = i + 1 == widths.len();
                let cout = if last { channels } else { widths[i + 1] };
                Up {
                    conv: ConvTranspose2dConfig::new([w, cout], [4, 4])
                        .with_stride([2, 2])
                        .with_padding([1, 1])
                        .with_bias(last)
                        .init(device),
                    norm: (!last).then(|| BatchNormConfig::new(cout).init(device)),
                }
            })
            .collect();
        Decoder {
            entry: conv3(latent_channels, top, device),
            entry_norm: BatchNormConfig::new(top).init(device),
            pyramid,
        }
    }

    /// Reconstruct images from latent codes.
    pub fn forward(&self, z: Tensor<4>) -> Tensor<4> {
        let mut h = relu(self.entry_norm.forward(self.entry.forward(z)));
        for block in &self.pyramid {
            h = block.conv.forward(h);
            if let Some(norm) = &block.norm {
                h = relu(norm.forward(h));
            }
        }
        h
    }
}

/// Grad-CAM weights of a feature map: `α_k = mean_ij ∂s/∂F_kij` with `s = Σ μ(F)` the sum of
/// the latent mean, `F` being the feature map after the first `blocks` halvings (the encoder's
/// remaining blocks lie between it and μ), by one backward pass from a detached copy of `features`
/// (which must be on an autodiff device; the training graph is not touched); `[B, K, 1, 1]`,
/// untracked, on `features`' device. The remaining blocks run frozen: their BatchNorm uses its
/// running statistics and leaves them as they are, so the weights of an image do not depend on
/// the rest of its batch and scoring changes nothing.
pub fn grad_cam_weights(encoder: &Encoder, features: Tensor<4>, blocks: usize) -> Tensor<4> {
    // `freeze` on a clone leaves the original's parameters and flags as they are, since every
    // parameter is initialised (`Cavga::new` initialises them all): a lazy one would share it.
    let frozen = encoder.clone().freeze();
    grad_cam(features, |leaf| Some(frozen.mean(frozen.tail(leaf, blocks)).sum()))
        .expect("the latent mean exists")
}

/// Grad-CAM weights from the anomaly score's gradient: as [`grad_cam_weights`] with `s` the
/// sum over the batch of each image's summed absolute reconstruction error
/// `Σ |x − dec(μ(F))|` (CAVGA-u's score times the pixel count, so that the weights are on the
/// scale of the latent target's, itself a sum), `images` on `features`' (autodiff) device; the
/// decoder runs frozen too, so an image's weights are its own score's gradient.
pub fn score_grad_cam_weights(
    vae: &Vae,
    images: Tensor<4>,
    features: Tensor<4>,
    blocks: usize,
) -> Tensor<4> {
    let frozen = vae.clone().freeze(); // as in `grad_cam_weights`
    let images = images.detach();
    grad_cam(features, |leaf| {
        let mean = frozen.encoder.mean(frozen.encoder.tail(leaf, blocks));
        let reconstruction = frozen.decoder.forward(mean);
        Some((images - reconstruction).abs().sum())
    })
    .expect("the reconstruction exists")
}

/// CAVGA-w's Grad-CAM weights of class `class` (0 normal, 1 anomalous): as
/// [`grad_cam_weights`] with `s` the sum of that class's logits; `None` without a classifier.
pub fn class_grad_cam_weights(
    vae: &Vae,
    features: Tensor<4>,
    blocks: usize,
    class: usize,
) -> Option<Tensor<4>> {
    let frozen = vae.clone().freeze(); // as in `grad_cam_weights`
    grad_cam(features, |leaf| {
        let logits = frozen.logits(frozen.encoder.tail(leaf, blocks))?;
        let b = logits.dims()[0];
        Some(logits.slice([0..b, class..class + 1]).sum())
    })
}

/// `α_k = mean_ij ∂s/∂F_kij` for the scalar `s = target(F)`, by one backward pass from a
/// detached copy of `features`; `[B, K, 1, 1]`, untracked, on `features`' device (`None` when
/// `target` has nothing to differentiate).
fn grad_cam(
    features: Tensor<4>,
    target: impl FnOnce(Tensor<4>) -> Option<Tensor<1>>,
) -> Option<Tensor<4>> {
    let device = features.device();
    let leaf = features.detach().require_grad();
    let grads = target(leaf.clone())?.backward();
    let gradient = leaf
        .grad(&grads)
        .expect("the Grad-CAM target depends on the features");
    let [b, k, _, _] = gradient.dims();
    let weights = gradient
        .reshape([b as i32, k as i32, -1])
        .mean_dim(2)
        .reshape([b, k, 1, 1]);
    Some(Tensor::from_data(weights.into_data(), &device))
}

/// Attention `A = sigmoid(Σ_k α_k F_k)`, `[B, 1, h, w]` at the feature map's resolution.
pub fn attention(features: Tensor<4>, weights: Tensor<4>) -> Tensor<4> {
    sigmoid(attention_logit(features, weights))
}

/// The attention's logit `Σ_k α_k F_k`, `[B, 1, h, w]`: the maps are drawn from it, since
/// `1 − A` rounds to 0 in f32 wherever the logit exceeds about 17.
pub fn attention_logit(features: Tensor<4>, weights: Tensor<4>) -> Tensor<4> {
    (features * weights).sum_dim(1)
}

/// `map` `[B, 1, h, w]` resized (bilinear, half-pixel centres) to `size × size`.
pub fn upsample(map: Tensor<4>, size: usize) -> Tensor<4> {
    interpolate(
        map,
        InterpolateOptions::new(InterpolateMode::Bilinear).with_output_size([size, size]),
    )
}
