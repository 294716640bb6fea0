//! PixelCNN (van den Oord et al., "Pixel Recurrent Neural Networks", ICML 2016, §3.5): an
//! autoregressive density of grey 8-bit images, each pixel's 256 levels given the pixels above
//! it and to its left, through masked convolutions; the likelihood the out-of-distribution
//! papers score with (Ren et al. 2019 and Serrà et al. 2020 use PixelCNN++).
//!
//! - Input: the image scaled to `[−1, 1]` (`--scaling minus-one-to-one`), read as its 8-bit
//!   levels `ℓ = round(127.5·(x + 1))`.
//! - Network: a `k × k` convolution masked as the paper's type A (each output sees only the
//!   pixels strictly before it in raster order), then `blocks` residual blocks
//!   `h ← h + conv_B(ReLU(h))` with 3 × 3 convolutions masked as type B (the current pixel
//!   allowed, as it carries only what came before), then `ReLU → 1×1 → ReLU → 1×1` to 256
//!   logits a pixel.
//! - Loss: the mean over pixels of `−log softmax(logits)[ℓ]`, Adam.
//! - Score: `−log p(x) = −Σ_pixels log softmax(logits)[ℓ]` in nats, the probability of the 8-bit
//!   image itself (no density, no cell volume); the per-pixel terms are its anomaly map.
//!
//! Deviations: grey images only (the paper's colour masks order R, G, B within a pixel); the
//! residual block is one masked convolution rather than the paper's 1×1–3×3–1×1 bottleneck;
//! the plain stack keeps the paper's blind spot (a gated PixelCNN removes it); the optimiser
//! (Adam), the depth (`blocks`) and the width (`filters`, also the output layers' width) are
//! set for CPU budgets, not taken from the paper's experiments.

use super::{Detector, ModelInfo, ModelSpec, StepLosses};
use crate::data::SampleShape;
use crate::data::preprocess::Scaling;
use crate::nn::init::component_rng;
use crate::nn::levels::{from_level_indices, level_indices};
use crate::nn::{InitScheme, NetOptimizer, Trainables, TrainablesMut, initialise};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::prelude::*;
use burn::tensor::activation::{log_softmax, relu};
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use serde::{Deserialize, Serialize};

/// The 8-bit levels a pixel takes.
const LEVELS: usize = 256;

/// The widest first kernel and the deepest stack a configuration may ask for (the paper's
/// deepest PixelCNN has 15 layers).
const MAX_FIRST_KERNEL: usize = 15;
const MAX_BLOCKS: usize = 64;

/// PixelCNN hyper-parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PixelCnnConfig {
    /// Feature maps of every layer (64).
    pub filters: usize,
    /// Side of the first, type-A masked convolution, odd (7, the paper's).
    pub first_kernel: usize,
    /// Residual blocks of type-B masked 3 × 3 convolutions (5).
    pub blocks: usize,
    /// Adam learning rate (1e-3).
    pub learning_rate: f64,
    /// Training batch size (64).
    pub batch_size: usize,
    /// Training epochs (10).
    pub epochs: usize,
}

impl Default for PixelCnnConfig {
    fn default() -> Self {
        PixelCnnConfig {
            filters: 64,
            first_kernel: 7,
            blocks: 5,
            learning_rate: 1e-3,
            batch_size: 64,
            epochs: 10,
        }
    }
}

/// Which pixels of its window a masked convolution reads: those strictly before the centre in
/// raster order (type A), or those and the centre (type B).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mask {
    A,
    B,
}

/// The mask of a `k × k` kernel, 1 where the kernel may read, `[k·k]` in row-major order.
fn mask_values(k: usize, mask: Mask) -> Vec<f32> {
    let centre = k / 2;
    (0..k * k)
        .map(|i| {
            let (row, col) = (i / k, i % k);
            let before = row < centre || (row == centre && col < centre);
            let centre_allowed = mask == Mask::B && row == centre && col == centre;
            f32::from(u8::from(before || centre_allowed))
        })
        .collect()
}

/// A convolution of odd side whose kernel is masked at every pass.
#[derive(Module, Debug)]
pub struct MaskedConv2d {
    conv: Conv2d,
    #[module(skip)]
    mask: Mask,
}

impl MaskedConv2d {
    fn new(cin: usize, cout: usize, k: usize, mask: Mask, device: &Device) -> Self {
        MaskedConv2d {
            conv: Conv2dConfig::new([cin, cout], [k, k]).init(device),
            mask,
        }
    }

    /// The masked kernel `[out, in, k, k]`.
    fn kernel(&self) -> Tensor<4> {
        let w = self.conv.weight.val();
        let [_, _, k, _] = w.dims();
        let mask = Tensor::<1>::from_data(TensorData::new(mask_values(k, self.mask), [k * k]), &w.device());
        w * mask.reshape([1, 1, k, k])
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let k = self.conv.kernel_size[0];
        let pad = k / 2;
        conv2d(
            x,
            self.kernel(),
            self.conv.bias.as_ref().map(|b| b.val()),
            ConvOptions::new([1, 1], [pad, pad], [1, 1], 1),
        )
    }
}

/// The network: type-A input layer, type-B residual blocks, 1 × 1 output layers.
#[derive(Module, Debug)]
pub struct PixelCnnNet {
    first: MaskedConv2d,
    blocks: Vec<MaskedConv2d>,
    hidden: Conv2d,
    out: Conv2d,
}

impl PixelCnnNet {
    fn new(config: &PixelCnnConfig, device: &Device) -> Self {
        let f = config.filters;
        PixelCnnNet {
            first: MaskedConv2d::new(1, f, config.first_kernel, Mask::A, device),
            blocks: (0..config.blocks)
                .map(|_| MaskedConv2d::new(f, f, 3, Mask::B, device))
                .collect(),
            hidden: Conv2dConfig::new([f, f], [1, 1]).init(device),
            out: Conv2dConfig::new([f, LEVELS], [1, 1]).init(device),
        }
    }

    /// The logits `[B, 256, H, W]` of every pixel's level given the pixels before it; `x`
    /// `[B, 1, H, W]` in `[−1, 1]`.
    fn logits(&self, x: Tensor<4>) -> Tensor<4> {
        let mut h = self.first.forward(x);
        for block in &self.blocks {
            h = h.clone() + block.forward(relu(h));
        }
        self.out.forward(relu(self.hidden.forward(relu(h))))
    }

    /// `−log p` of every pixel's level, `[B, 1, H, W]`, for `x` `[B, 1, H, W]` in `[−1, 1]`.
    fn pixel_nll(&self, x: Tensor<4>) -> Tensor<4> {
        let levels = level_indices(x);
        // The network reads each pixel as its level, as the likelihood scores it.
        let on_levels = from_level_indices(levels.clone());
        log_softmax(self.logits(on_levels), 1)
            .gather(1, levels.int())
            .neg()
    }
}

/// The PixelCNN detector.
pub struct PixelCnn {
    image: [usize; 3],
    net: PixelCnnNet,
    optim: NetOptimizer,
}

impl PixelCnn {
    /// Build the PixelCNN for grey images of `shape` on `device`.
    pub fn new(
        config: PixelCnnConfig,
        shape: SampleShape,
        device: &Device,
        seed: u64,
    ) -> crate::Result<Self> {
        let SampleShape::Image {
            channels,
            height,
            width,
        } = shape
        else {
            anyhow::bail!("pixelcnn models images, not tables");
        };
        anyhow::ensure!(
            channels == 1,
            "pixelcnn models grey images (one channel), not {channels} channels"
        );
        let train_device = device.clone().autodiff();
        let net = initialise(
            PixelCnnNet::new(&config, &train_device),
            InitScheme::Pytorch,
            &mut component_rng(seed, 1),
        );
        Ok(PixelCnn {
            image: [channels, height, width],
            net,
            optim: NetOptimizer::adam(config.learning_rate, 0.9, 0.999),
        })
    }

    fn images(&self, batch: Tensor<2>) -> Tensor<4> {
        let [c, h, w] = self.image;
        let b = batch.dims()[0];
        batch.reshape([b, c, h, w])
    }
}

impl ModelSpec for PixelCnnConfig {
    const INFO: ModelInfo = ModelInfo {
        name: "pixelcnn",
        group: super::ModelGroup::Baseline,
        paper: "van den Oord et al., ICML 2016 (PixelCNN)",
        summary: "autoregressive density of the 8-bit levels (masked convolutions, 256-way softmax a pixel); score = −log p(x) in nats; map = each pixel's −log p",
        inputs: "grey images",
    };

    type Detector = PixelCnn;

    fn build(&self, shape: SampleShape, device: &Device, seed: u64) -> crate::Result<PixelCnn> {
        PixelCnn::new(self.clone(), shape, device, seed)
    }

    fn epochs(&self) -> usize {
        self.epochs
    }

    fn batch_size(&self) -> usize {
        self.batch_size
    }

    /// Images at their own size.
    fn image_size(&self) -> Option<usize> {
        None
    }

    /// The 8-bit levels on `[−1, 1]`: a probability of the levels needs them.
    fn image_scaling(&self) -> Scaling {
        Scaling::MinusOneToOne
    }

    fn check_image_scaling(&self, scaling: Scaling) -> crate::Result<()> {
        anyhow::ensure!(
            scaling == Scaling::MinusOneToOne,
            "pixelcnn gives the probability of 8-bit pixels scaled to [−1, 1] (--scaling \
             minus-one-to-one, the default), not {scaling}"
        );
        Ok(())
    }

    fn check(&self) -> crate::Result<()> {
        anyhow::ensure!(
            self.first_kernel % 2 == 1 && (3..=MAX_FIRST_KERNEL).contains(&self.first_kernel),
            "pixelcnn first_kernel must be odd, from 3 to {MAX_FIRST_KERNEL}, got {}",
            self.first_kernel
        );
        anyhow::ensure!(
            self.blocks <= MAX_BLOCKS,
            "pixelcnn blocks must be at most {MAX_BLOCKS}, got {}",
            self.blocks
        );
        Ok(())
    }
}

impl Detector for PixelCnn {
    fn train_step(&mut self, batch: Tensor<2>) -> crate::Result<StepLosses> {
        let loss = self.net.pixel_nll(self.images(batch)).mean();
        let value: f32 = loss.clone().into_scalar();
        let mut grads = loss.backward();
        self.net = self.optim.step(self.net.clone(), &mut grads);
        Ok(vec![("nll", value)])
    }

    fn score(&self, batch: Tensor<2>) -> Tensor<1> {
        let b = batch.dims()[0];
        let nll = self.net.valid().pixel_nll(self.images(batch));
        nll.reshape([b as i32, -1]).sum_dim(1).reshape([b])
    }

    /// The training loss's unit, `−log p` per pixel (the score is the sum over the image).
    fn validation_loss(&self, batch: Tensor<2>) -> Tensor<1> {
        let pixels = batch.dims()[1] as f64;
        self.score(batch) / pixels
    }

    fn anomaly_map(&self, batch: Tensor<2>) -> Option<Tensor<4>> {
        Some(self.net.valid().pixel_nll(self.images(batch)))
    }

    fn trainables(&self) -> Trainables<'_> {
        Trainables::of_one(&self.net, &self.optim)
    }

    fn trainables_mut(&mut self) -> TrainablesMut<'_> {
        TrainablesMut::of_one(&mut self.net, &mut self.optim)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The masks: type A reads the pixels strictly before the centre in raster order, type B
    /// the centre too; nothing after it.
    #[test]
    fn masks_read_only_what_came_before() {
        #[rustfmt::skip]
        let a = [1., 1., 1.,
                 1., 0., 0.,
                 0., 0., 0.];
        #[rustfmt::skip]
        let b = [1., 1., 1.,
                 1., 1., 0.,
                 0., 0., 0.];
        assert_eq!(mask_values(3, Mask::A), a);
        assert_eq!(mask_values(3, Mask::B), b);
        let seven = mask_values(7, Mask::A);
        assert_eq!(seven.iter().sum::<f32>(), 24.0, "3 rows of 7 and 3 pixels of the 4th");
    }

    fn small(first_kernel: usize) -> PixelCnn {
        let config = PixelCnnConfig {
            filters: 8,
            first_kernel,
            blocks: 2,
            ..PixelCnnConfig::default()
        };
        let shape = SampleShape::Image {
            channels: 1,
            height: 5,
            width: 4,
        };
        PixelCnn::new(config, shape, &Device::flex(), 3).unwrap()
    }

    fn image(values: &[f32]) -> Tensor<2> {
        Tensor::from_data(TensorData::new(values.to_vec(), [1, values.len()]), &Device::flex())
    }

    /// A pixel's predicted distribution depends only on the pixels before it: changing a pixel
    /// never moves its own logits or those of the pixels before it, and moves those of the
    /// pixel to its right and of the pixel below it; with a 3 × 3 first kernel and with the
    /// paper's 7 × 7 (wider than the 5 × 4 image).
    #[test]
    fn each_pixel_sees_only_the_pixels_before_it() {
        for first_kernel in [3, 7] {
            let model = small(first_kernel);
            let base: Vec<f32> = (0..20).map(|i| ((i * 37) % 256) as f32 / 127.5 - 1.0).collect();
            let logits = |values: &[f32]| {
                let x = model.images(image(values));
                model.net.valid().logits(x).into_data().try_into_vec::<f32>().unwrap()
            };
            let moves = |before: &[f32], after: &[f32], pixel: usize| {
                (0..LEVELS).any(|l| before[l * 20 + pixel] != after[l * 20 + pixel])
            };
            let before = logits(&base);
            for changed in [0, 5, 7, 19] {
                let mut other = base.clone();
                other[changed] = -other[changed];
                let after = logits(&other);
                for pixel in 0..=changed {
                    assert!(!moves(&before, &after, pixel), "k {first_kernel}: pixel {pixel} saw pixel {changed}");
                }
                if changed % 4 != 3 {
                    assert!(moves(&before, &after, changed + 1), "k {first_kernel}: the pixel right of {changed}");
                }
                if changed + 4 < 20 {
                    assert!(moves(&before, &after, changed + 4), "k {first_kernel}: the pixel below {changed}");
                }
            }
        }
    }

    /// The score is `−Σ log softmax(logits)[ℓ]` over the pixels, computed by hand from the
    /// network's logits, and the map holds its per-pixel terms; values between levels are
    /// scored as their level; the 256 levels of one pixel make a distribution.
    #[test]
    fn score_is_the_negative_log_probability_of_the_levels() {
        let model = small(3);
        let mut levels: Vec<usize> = (0..20).map(|i| (i * 53 + 11) % 256).collect();
        (levels[3], levels[4]) = (0, 255);
        let values: Vec<f32> = levels.iter().map(|&l| l as f32 / 127.5 - 1.0).collect();
        let logits = model
            .net
            .valid()
            .logits(model.images(image(&values)))
            .into_data()
            .try_into_vec::<f32>()
            .unwrap();
        let mut by_hand = 0.0f64;
        for (pixel, &level) in levels.iter().enumerate() {
            let column: Vec<f64> = (0..LEVELS).map(|l| logits[l * 20 + pixel] as f64).collect();
            let max = column.iter().cloned().fold(f64::MIN, f64::max);
            let log_sum = max + column.iter().map(|v| (v - max).exp()).sum::<f64>().ln();
            let total: f64 = column.iter().map(|v| (v - log_sum).exp()).sum();
            assert!((total - 1.0).abs() < 1e-9);
            by_hand -= column[level] - log_sum;
        }
        let score = model.score(image(&values)).into_scalar::<f32>() as f64;
        assert!((score - by_hand).abs() < 1e-3 * by_hand.abs(), "{score} vs {by_hand}");
        let map: f32 = model.anomaly_map(image(&values)).unwrap().sum().into_scalar();
        assert!((map as f64 - by_hand).abs() < 1e-3 * by_hand.abs());
        // Values between levels, or past either end, are scored as their level.
        let mut nudged: Vec<f32> = values.iter().map(|v| v + 0.3 / 127.5).collect();
        (nudged[3], nudged[4]) = (-1.2, 1.3);
        assert_eq!(
            model.score(image(&nudged)).into_scalar::<f32>(),
            model.score(image(&values)).into_scalar::<f32>()
        );
    }

    /// Colour images, tables and an even first kernel are refused.
    #[test]
    fn refuses_what_it_does_not_model() {
        let device = Device::flex();
        let colour = SampleShape::Image {
            channels: 3,
            height: 8,
            width: 8,
        };
        let e = PixelCnn::new(PixelCnnConfig::default(), colour, &device, 0)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("grey"), "{e}");
        let table = SampleShape::Table { features: 4 };
        assert!(PixelCnn::new(PixelCnnConfig::default(), table, &device, 0).is_err());
        let even = PixelCnnConfig {
            first_kernel: 4,
            ..PixelCnnConfig::default()
        };
        assert!(ModelSpec::check(&even).is_err());
        for (bad, needle) in [
            (PixelCnnConfig { first_kernel: 17, ..PixelCnnConfig::default() }, "first_kernel"),
            (PixelCnnConfig { blocks: 1000, ..PixelCnnConfig::default() }, "blocks"),
        ] {
            let e = super::super::ModelConfig::new(bad).validate().unwrap_err().to_string();
            assert!(e.contains(needle), "{e}");
        }
        assert!(ModelSpec::check_image_scaling(&PixelCnnConfig::default(), Scaling::Standardise).is_err());
    }
}
