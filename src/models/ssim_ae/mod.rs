//! The SSIM autoencoder (Bergmann, Löwe, Fauser, Sattlegger, Steger, "Improving Unsupervised
//! Defect Segmentation by Applying Structural Similarity to Autoencoders", VISAPP 2019; MODELS.md
//! §22), with its L2 twin. No official code exists; this follows the paper.
//!
//! - Network ([`networks`]): the paper's convolutional autoencoder for 128 × 128 inputs — nine
//!   convolutions down to a `1 × 1` latent of 100 channels (kernels 4/2 halving, 3/1 keeping,
//!   then 8 × 8), mirrored by (transposed) convolutions back up; LeakyReLU 0.2 after every layer
//!   but the last of each half.
//! - Loss: `1 − mean SSIM(x, x̂)` ([`ssim`]: 11 × 11 Gaussian window, σ = 1.5, K₁ = 0.01,
//!   K₂ = 0.03, dynamic range `dynamic_range`), or the per-pixel squared error for the L2 twin
//!   (`"loss": "l2"`). Adam 2e-4, weight decay 1e-5 (added to the gradient, as PyTorch's Adam
//!   does), batch 128.
//! - Map: `1 − SSIM(x, x̂)` per pixel averaged over channels (the squared residual for the L2
//!   twin); image score: the map's maximum (`"image_score": "mean"` for its mean).
//!
//! Deviations: the paper trains on 128 × 128 patches cropped at random from larger images and
//! slides the window over a whole image to build its map. Here `train --tile 128 --stride S`
//! does the same with the patches on a fixed grid (every tile of every training image, `S`
//! apart) instead of random crops, and the map of an image is its tiles' maps averaged where
//! they overlap, its score the highest tile score (the highest tile maximum, or with
//! `"image_score": "mean"` the highest tile mean; `oddity::score::tiled`); without `--tile`, images are resized to
//! `image_size` (128) and mapped whole. Inputs are expected in [0, 1] (`--scaling min-max`, the default,
//! dynamic range 1), as the paper scales them; its ~200 epochs over ~10 000 augmented patches
//! are the default's 200 epochs over the training images (or their tiles).

mod networks;
pub mod ssim;

use super::{Detector, ModelInfo, ModelSpec, StepLosses, as_images, image_dims};
use crate::data::source::DataForm;
use crate::data::preprocess::Scaling;
use crate::data::SampleShape;
use crate::nn::init::component_rng;
use crate::nn::{InitScheme, NetOptimizer, Trainables, TrainablesMut, initialise};
use burn::prelude::*;
use networks::SsimAutoencoderNet;
use serde::{Deserialize, Serialize};

/// What the autoencoder is trained to preserve.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SsimLoss {
    /// `1 − mean SSIM(x, x̂)` (the paper's).
    Ssim,
    /// The mean squared error (the paper's L2 baseline).
    L2,
}

/// How the map becomes an image score.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ImageScore {
    /// The map's maximum (MVTec AD paper).
    Max,
    /// The map's mean.
    Mean,
}

/// SSIM autoencoder hyper-parameters; `Default` is the paper's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SsimAeConfig {
    /// Input side (128; a multiple of 16).
    pub image_size: usize,
    /// Latent channels (100; the paper uses 500 for some textures).
    pub latent_dim: usize,
    /// Training loss and map: SSIM (default) or L2.
    pub loss: SsimLoss,
    /// The dynamic range of the inputs for SSIM's constants (1: inputs in [0, 1]).
    pub dynamic_range: f32,
    /// Image score from the map (its maximum).
    pub image_score: ImageScore,
    /// Adam learning rate (2e-4).
    pub learning_rate: f64,
    /// Weight decay (1e-5).
    pub weight_decay: f64,
    /// Batch size (128).
    pub batch_size: usize,
    /// Epochs (200).
    pub epochs: usize,
}

impl Default for SsimAeConfig {
    fn default() -> Self {
        SsimAeConfig {
            image_size: 128,
            latent_dim: 100,
            loss: SsimLoss::Ssim,
            dynamic_range: 1.0,
            image_score: ImageScore::Max,
            learning_rate: 2e-4,
            weight_decay: 1e-5,
            batch_size: 128,
            epochs: 200,
        }
    }
}

/// The SSIM autoencoder detector.
pub struct SsimAe {
    config: SsimAeConfig,
    shape: [usize; 3],
    net: SsimAutoencoderNet,
    optim: NetOptimizer,
}

impl SsimAe {
    /// Build the autoencoder for images of `shape` on `device`.
    pub fn new(
        config: SsimAeConfig,
        shape: SampleShape,
        device: &Device,
        seed: u64,
    ) -> crate::Result<Self> {
        let (channels, height, width) = image_dims("ssim-ae", shape)?;
        anyhow::ensure!(
            height == config.image_size && width == config.image_size,
            "ssim-ae expects {0}×{0} images, got {height}×{width}",
            config.image_size
        );
        anyhow::ensure!(
            config.image_size >= 16 && config.image_size.is_multiple_of(16),
            "ssim-ae needs an image size that is a multiple of 16, got {}",
            config.image_size
        );
        let dims = [channels, height, width];
        let net = SsimAutoencoderNet::new(
            dims[0],
            config.image_size,
            config.latent_dim,
            &device.clone().autodiff(),
        );
        let net = initialise(net, InitScheme::Pytorch, &mut component_rng(seed, 1));
        Ok(SsimAe {
            optim: NetOptimizer::adam_with_weight_decay(
                config.learning_rate,
                0.9,
                0.999,
                config.weight_decay,
            ),
            config,
            shape: dims,
            net,
        })
    }

    /// The per-pixel map `[B, 1, H, W]` of `x` against its reconstruction `y`.
    fn map_of(&self, x: Tensor<4>, y: Tensor<4>) -> Tensor<4> {
        match self.config.loss {
            SsimLoss::Ssim => ssim::ssim_map(x, y, self.config.dynamic_range)
                .neg()
                .add_scalar(1.0)
                .mean_dim(1),
            SsimLoss::L2 => (x - y).powi_scalar(2).mean_dim(1),
        }
    }
}

impl ModelSpec for SsimAeConfig {
    const INFO: ModelInfo = ModelInfo {
        name: "ssim-ae",
        group: super::ModelGroup::Detector,
        paper: "Bergmann, Löwe, Fauser, Sattlegger, Steger. Improving Unsupervised Defect Segmentation by Applying Structural Similarity to Autoencoders. VISAPP 2019",
        summary: "convolutional autoencoder trained with SSIM (or L2); map = 1 − SSIM(x, x̂); score = the map's maximum",
        inputs: "images",
    };

    type Detector = SsimAe;
    const SCORE_SETTINGS: &'static [&'static str] = &["image_score"];

    fn takes(&self) -> &'static [DataForm] {
        DataForm::IMAGES
    }

    fn build(&self, shape: SampleShape, device: &Device, seed: u64) -> crate::Result<SsimAe> {
        SsimAe::new(self.clone(), shape, device, seed)
    }

    fn epochs(&self) -> usize {
        self.epochs
    }

    fn batch_size(&self) -> usize {
        self.batch_size
    }

    fn image_size(&self) -> Option<usize> {
        Some(self.image_size)
    }

    /// Images: [0, 1], the range SSIM's constants assume.
    fn image_scaling(&self) -> Scaling {
        Scaling::MinMax
    }
}

impl Detector for SsimAe {
    fn train_step(&mut self, batch: Tensor<2>) -> crate::Result<StepLosses> {
        let x = as_images(batch, self.shape);
        let y = self.net.reconstruct(x.clone());
        let loss = self.map_of(x, y).mean();
        let value: f32 = loss.clone().into_scalar();
        let mut grads = loss.backward();
        self.net = self.optim.step(self.net.clone(), &mut grads);
        Ok(vec![(
            match self.config.loss {
                SsimLoss::Ssim => "1-ssim",
                SsimLoss::L2 => "mse",
            },
            value,
        )])
    }

    fn score(&self, batch: Tensor<2>) -> Tensor<1> {
        let b = batch.dims()[0];
        let map = self
            .anomaly_map(batch)
            .expect("the SSIM autoencoder draws a map")
            .reshape([b, self.shape[1] * self.shape[2]]);
        match self.config.image_score {
            ImageScore::Max => map.max_dim(1).reshape([b]),
            ImageScore::Mean => map.mean_dim(1).reshape([b]),
        }
    }

    /// The mean of the map: the training loss on normal validation images (the maximum follows
    /// single pixels).
    fn validation_loss(&self, batch: Tensor<2>) -> Tensor<1> {
        let b = batch.dims()[0];
        self.anomaly_map(batch)
            .expect("the SSIM autoencoder draws a map")
            .reshape([b, self.shape[1] * self.shape[2]])
            .mean_dim(1)
            .reshape([b])
    }

    fn anomaly_map(&self, batch: Tensor<2>) -> Option<Tensor<4>> {
        let x = as_images(batch, self.shape);
        let y = self.net.valid().reconstruct(x.clone());
        Some(self.map_of(x, y))
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

    /// The score is the maximum (or mean) of the map, and the map is 1 − SSIM of the image and
    /// its reconstruction averaged over channels, computed here from the network's own output.
    #[test]
    fn score_is_the_maximum_of_one_minus_ssim() {
        let device = Device::flex();
        let config = SsimAeConfig {
            image_size: 16,
            latent_dim: 4,
            ..SsimAeConfig::default()
        };
        let shape = SampleShape::Image {
            channels: 3,
            height: 16,
            width: 16,
        };
        let model = SsimAe::new(config.clone(), shape, &device, 1).unwrap();
        let x = Tensor::<2>::random(
            [2, 3 * 256],
            burn::tensor::Distribution::Uniform(0.0, 1.0),
            &device,
        );
        let images = as_images(x.clone(), [3, 16, 16]);
        let y = model.net.valid().reconstruct(images.clone());
        let by_hand = ssim::ssim_map(images, y, 1.0)
            .neg()
            .add_scalar(1.0)
            .mean_dim(1)
            .reshape([2, 256])
            .into_data()
            .try_into_vec::<f32>()
            .unwrap();
        let score = model.score(x.clone()).into_data().try_into_vec::<f32>().unwrap();
        for i in 0..2 {
            let max = by_hand[i * 256..(i + 1) * 256]
                .iter()
                .copied()
                .fold(f32::NEG_INFINITY, f32::max);
            assert!((score[i] - max).abs() < 1e-5, "{} vs {max}", score[i]);
        }
        let mean = SsimAe::new(
            SsimAeConfig {
                image_score: ImageScore::Mean,
                ..config
            },
            shape,
            &device,
            1,
        )
        .unwrap();
        let score = mean.score(x).into_data().try_into_vec::<f32>().unwrap();
        let expected: f32 = by_hand[..256].iter().sum::<f32>() / 256.0;
        assert!((score[0] - expected).abs() < 1e-5, "{} vs {expected}", score[0]);
    }
}
