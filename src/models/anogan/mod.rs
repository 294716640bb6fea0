//! AnoGAN (Schlegl, Seeböck, Waldstein, Schmidt-Erfurth, Langs, IPMI 2017): a GAN trained on
//! normal data; at test time the latent code that best reproduces a sample is searched for, and
//! what cannot be reproduced is the anomaly.
//!
//! - Networks: images use the DCGAN generator (the decoder of [`crate::nn::dcgan`], 64×64 by
//!   default as the paper) and a DCGAN discriminator whose last 4×4 feature map is f(·); tables
//!   use an MLP generator `latent (32) → 64 → 128 → D` and an MLP discriminator `D → 128 → 128 → 1`
//!   (LeakyReLU 0.2; f(·) = the last hidden layer), the sizes of the KDD99 BiGAN networks.
//!   Images are scaled to [−1, 1] (the paper's, the tanh generator's range; the default
//!   `--scaling` on images).
//! - Training: the standard GAN with sigmoid cross-entropy, a discriminator step then a
//!   generator step (non-saturating loss) per batch; Adam lr 2e-4, β = (0.5, 0.999); z uniform
//!   on [−1, 1] (DCGAN's prior).
//! - Test-time search (§2.2): Γ = 500 Adam steps (lr 1e-3) on z from a random start, networks
//!   frozen, minimising `L(z) = (1 − λ)·R(z) + λ·D_fm(z)` with `R = Σ|x − G(z)|` and
//!   `D_fm = Σ|f(x) − f(G(z))|`, λ = 0.1. The search runs over a whole batch at once (see
//!   [`latent_search`]).
//! - Score (eq. 5): `A(x) = (1 − λ)·R(z_Γ) + λ·D_fm(z_Γ)`; the residual `|x − G(z_Γ)|` is the
//!   anomaly map.
//! - The ALAD repository's AnoGAN baseline (`anogan/kdd_utilities.py`, the source of the
//!   KDD99 F1 that ALAD's table reports) weights the terms the other way round
//!   (`λ·R + (1 − λ)·D_fm` with λ = 0.1, [`AnoganWeighting::AladCode`]) and differs in more:
//!   discriminator `D → 256 → 128 → 128` with dropout 0.2, latent 32, N(0, I) codes, Adam 1e-5,
//!   batch 50, a 0.999 moving average of the generator. Each is an option here
//!   (`scripts/configs/anogan-kdd99-alad.json` sets them all).

pub mod latent_search;
mod networks;

use super::{Detector, ModelInfo, ModelSpec, StepLosses, read_values};
use crate::data::preprocess::Scaling;
use crate::data::SampleShape;
use crate::nn::dcgan::check_image_size;
use crate::nn::ema::{load_with_average, save_with_average, scoring_copy};
use crate::nn::init::{component_rng, normal_tensor};
use crate::nn::loss::bce_with_logits;
use crate::nn::{Ema, InitScheme, NetOptimizer, initialise};
use crate::nn::{Trainables, TrainablesMut, Weights};
use burn::prelude::*;
use latent_search::LatentSearch;
use networks::{AnoganNets, Generator};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// How the residual and feature-matching terms are weighted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AnoganWeighting {
    /// `(1 − λ)·R + λ·D_fm`: the paper (and the EGBAD repository).
    Paper,
    /// `λ·R + (1 − λ)·D_fm`: the ALAD repository's baseline.
    AladCode,
}

/// The distribution of latent codes (training draws, search starts).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LatentPrior {
    /// Uniform on [−1, 1] (DCGAN, the paper).
    Uniform,
    /// N(0, I) (the ALAD repository's baseline).
    Normal,
}

/// AnoGAN's hyper-parameters; `Default` is the paper's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AnoganConfig {
    /// Side images are resized to (64).
    pub image_size: usize,
    /// Latent size of the image networks (100).
    pub latent_dim: usize,
    /// Latent size of the tabular networks (32, as the ALAD repository's KDD99 AnoGAN and the
    /// BiGAN tables). A code as wide as a narrow table's rows lets the search reproduce
    /// anomalies too: with 100 it scored lower on the ADBench side-by-side tables (see
    /// docs/results/adversarial.md).
    pub table_latent_dim: usize,
    /// Base width of the DCGAN networks (64).
    pub base_width: usize,
    /// Adam learning rate of both networks (2e-4).
    pub learning_rate: f64,
    /// Adam β₁ (0.5).
    pub beta_1: f32,
    /// Adam β₂ (0.999).
    pub beta_2: f32,
    /// Training batch size (64).
    pub batch_size: usize,
    /// Training epochs.
    pub epochs: usize,
    /// The test-time search (500 steps, lr 1e-3).
    pub search: LatentSearch,
    /// λ (0.1).
    pub lambda: f32,
    /// Which term λ weights.
    pub weighting: AnoganWeighting,
    /// Latent prior (uniform).
    pub prior: LatentPrior,
    /// Hidden widths of the tabular discriminator (128, 128); the last is f.
    pub table_discriminator: Vec<usize>,
    /// Dropout after each hidden layer of the tabular discriminator while training (0).
    pub table_dropout: f64,
    /// Moving average of the generator's weights used at test time (none). The ALAD
    /// repository's baseline averages with 0.999; its test graph reads the discriminator's
    /// raw weights (it asks the generator's average for them), as here.
    pub ema_decay: Option<f64>,
}

impl Default for AnoganConfig {
    fn default() -> Self {
        AnoganConfig {
            image_size: 64,
            latent_dim: 100,
            table_latent_dim: 32,
            base_width: 64,
            learning_rate: 2e-4,
            beta_1: 0.5,
            beta_2: 0.999,
            batch_size: 64,
            epochs: 20,
            search: LatentSearch {
                steps: 500,
                learning_rate: 1e-3,
            },
            lambda: 0.1,
            weighting: AnoganWeighting::Paper,
            prior: LatentPrior::Uniform,
            table_discriminator: vec![128, 128],
            table_dropout: 0.0,
            ema_decay: None,
        }
    }
}

/// An AnoGAN detector.
pub struct Anogan {
    config: AnoganConfig,
    image: Option<[usize; 3]>,
    device: Device,
    nets: AnoganNets,
    /// Latent size of the networks in use.
    latent: usize,
    /// Moving average of the generator's weights, which scores when present.
    average: Option<Ema<Generator>>,
    optim_g: NetOptimizer,
    optim_d: NetOptimizer,
    rng: ChaCha8Rng,
    seed: u64,
}

impl Anogan {
    /// Build AnoGAN for samples of `shape` on `device`.
    pub fn new(
        config: AnoganConfig,
        shape: SampleShape,
        device: &Device,
        seed: u64,
    ) -> crate::Result<Self> {
        let train_device = device.clone().autodiff();
        let (nets, image, scheme) = match shape {
            SampleShape::Image {
                channels,
                height,
                width,
            } => {
                anyhow::ensure!(
                    height == config.image_size && width == config.image_size,
                    "anogan expects {0}×{0} images, got {height}×{width}",
                    config.image_size
                );
                check_image_size(config.image_size)?;
                let nets = AnoganNets::for_images(&config, channels, &train_device);
                (nets, Some([channels, height, width]), InitScheme::Dcgan)
            }
            SampleShape::Table { features } => {
                let nets = AnoganNets::for_table(&config, features, seed, &train_device);
                (nets, None, InitScheme::Xavier)
            }
        };
        let nets = initialise(nets, scheme, &mut component_rng(seed, 1));
        let adam = || NetOptimizer::adam(config.learning_rate, config.beta_1, config.beta_2);
        Ok(Anogan {
            latent: if image.is_some() {
                config.latent_dim
            } else {
                config.table_latent_dim
            },
            image,
            device: device.clone(),
            average: config.ema_decay.map(|d| Ema::new(&nets.generator, d)),
            nets,
            optim_g: adam(),
            optim_d: adam(),
            rng: component_rng(seed, 2),
            seed,
            config,
        })
    }

    /// `[batch, latent]` codes from `prior`.
    fn codes(
        prior: LatentPrior,
        rng: &mut ChaCha8Rng,
        [batch, latent]: [usize; 2],
        device: &Device,
    ) -> Tensor<2> {
        match prior {
            LatentPrior::Normal => normal_tensor(rng, [batch, latent], 1.0, device),
            LatentPrior::Uniform => {
                let values: Vec<f32> = (0..batch * latent)
                    .map(|_| rng.random::<f32>() * 2.0 - 1.0)
                    .collect();
                Tensor::from_data(TensorData::new(values, [batch, latent]), device)
            }
        }
    }

    /// The networks that score: the averaged generator (when averaging) with the trained
    /// discriminator.
    fn scoring_nets(&self) -> AnoganNets {
        AnoganNets {
            generator: scoring_copy(self.average.as_ref(), &self.nets.generator),
            discriminator: self.nets.discriminator.valid(),
        }
    }

    /// The weights of the residual and feature terms.
    fn term_weights(&self) -> (f32, f32) {
        let l = self.config.lambda;
        match self.config.weighting {
            AnoganWeighting::Paper => (1.0 - l, l),
            AnoganWeighting::AladCode => (l, 1.0 - l),
        }
    }

    /// Search codes for `x` from `start` with the frozen networks; returns (G(z_Γ), per-sample
    /// loss at z_Γ), both plain. Public so that the batch-equals-per-sample property and the
    /// per-sample loop can be measured against it.
    pub fn search_from(&self, x: Tensor<2>, start: Tensor<2>) -> (Tensor<2>, Tensor<1>) {
        let train_device = self.device.clone().autodiff();
        // The search differentiates through the networks: the averaged generator (kept on the
        // plain device) moves to the autodiff one.
        let frozen = match &self.average {
            Some(avg) => AnoganNets {
                generator: avg.average().clone().to_device(&train_device),
                discriminator: self.nets.discriminator.clone(),
            },
            None => self.nets.clone(),
        }
        .freeze();
        let image = self.image;
        let weights = self.term_weights();
        let x_ad = Tensor::<2>::from_data(x.clone().into_data(), &train_device);
        let (fx, _) = frozen.discriminator.discriminate(x_ad.clone(), image, None);
        let fx = fx.detach();
        let loss = |z: Tensor<2>| {
            let generated = frozen.generator.generate(z, image);
            let (fg, _) = frozen
                .discriminator
                .discriminate(generated.clone(), image, None);
            anogan_loss(x_ad.clone(), generated, fx.clone(), fg, weights)
        };
        let start = Tensor::<2>::from_data(start.into_data(), &train_device);
        let z = self.config.search.run(start, loss);
        let plain = self.scoring_nets();
        let z = Tensor::<2>::from_data(z.into_data(), &self.device);
        let generated = plain.generator.generate(z, image);
        let (fx, _) = plain.discriminator.discriminate(x.clone(), image, None);
        let (fg, _) = plain
            .discriminator
            .discriminate(generated.clone(), image, None);
        let score = anogan_loss(x, generated.clone(), fx, fg, weights);
        (generated, score)
    }

    /// The search's random starting code of each row of `x`: drawn from the run's seed and the
    /// row's own values, so that a sample's score is reproducible and does not depend on the
    /// batch it is scored in or its place there.
    pub fn search_start(&self, x: &Tensor<2>) -> Tensor<2> {
        let [batch, features] = x.dims();
        let values = x
            .clone()
            .into_data()
            .try_into_vec::<f32>()
            .unwrap_or_default();
        let mut codes = Vec::with_capacity(batch);
        for row in 0..batch {
            let mut rng = ChaCha8Rng::seed_from_u64(self.seed ^ 0x5ea5c4);
            rng.set_stream(row_hash(values.get(row * features..(row + 1) * features)));
            let code = Self::codes(self.config.prior, &mut rng, [1, self.latent], &self.device);
            codes.push(code);
        }
        if codes.is_empty() {
            return Tensor::zeros([0, self.latent], &self.device);
        }
        Tensor::cat(codes, 0)
    }
}

/// FNV-1a of a row's float bits: a stable name for a sample's content.
fn row_hash(row: Option<&[f32]>) -> u64 {
    row.unwrap_or_default()
        .iter()
        .flat_map(|v| v.to_bits().to_le_bytes())
        .fold(0xcbf29ce484222325, |h, b| {
            (h ^ b as u64).wrapping_mul(0x100000001b3)
        })
}

/// AnoGAN's loss and score per sample: `w_r·Σ|x − G(z)| + w_f·Σ|f(x) − f(G(z))|`.
pub fn anogan_loss(
    x: Tensor<2>,
    generated: Tensor<2>,
    features_x: Tensor<2>,
    features_generated: Tensor<2>,
    (w_residual, w_features): (f32, f32),
) -> Tensor<1> {
    let b = x.dims()[0];
    let residual = (x - generated).abs().sum_dim(1).reshape([b]);
    let features = (features_x - features_generated)
        .abs()
        .sum_dim(1)
        .reshape([b]);
    residual * w_residual + features * w_features
}

impl ModelSpec for AnoganConfig {
    const INFO: ModelInfo = ModelInfo {
        name: "anogan",
        group: super::ModelGroup::Detector,
        paper: "Schlegl, Seeböck, Waldstein, Schmidt-Erfurth, Langs. Unsupervised Anomaly Detection with Generative Adversarial Networks to Guide Marker Discovery. IPMI 2017",
        summary: "GAN + test-time search of z (500 Adam steps, batched); score = 0.9·Σ|x − G(z)| + 0.1·Σ|f(x) − f(G(z))|; residual map",
        inputs: "images, tables",
    };
    const IMAGE_SETTINGS: &'static [&'static str] = &["image_size", "latent_dim", "base_width"];
    const TABLE_SETTINGS: &'static [&'static str] =
        &["table_latent_dim", "table_discriminator", "table_dropout"];

    type Detector = Anogan;
    const SCORE_SETTINGS: &'static [&'static str] = &["search", "lambda", "weighting"];

    fn build(&self, shape: SampleShape, device: &Device, seed: u64) -> crate::Result<Anogan> {
        Anogan::new(self.clone(), shape, device, seed)
    }

    /// The score is a convex mix of its two terms: a λ outside [0, 1] would invert one.
    fn check(&self) -> crate::Result<()> {
        crate::validate::in_range("anogan: lambda", self.lambda as f64, 0.0, 1.0, false)
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

    /// Images: the paper's intensities in [−1, 1], the range of its tanh generator.
    fn image_scaling(&self) -> Scaling {
        Scaling::MinusOneToOne
    }
}

impl Detector for Anogan {
    fn train_step(&mut self, x: Tensor<2>) -> crate::Result<StepLosses> {
        let device = x.device();
        let b = x.dims()[0];
        let z = Self::codes(self.config.prior, &mut self.rng, [b, self.latent], &device);
        let image = self.image;
        let generated = self.nets.generator.generate(z, image);
        // Discriminator step on the detached fake.
        let d = &self.nets.discriminator;
        let (_, real) = d.discriminate(x, image, Some(&mut self.rng));
        let (_, fake) = d.discriminate(generated.clone().detach(), image, Some(&mut self.rng));
        let loss_d = bce_with_logits(real, true) + bce_with_logits(fake, false);
        let mut grads = loss_d.clone().backward();
        self.nets.discriminator = self
            .optim_d
            .step(self.nets.discriminator.clone(), &mut grads);
        // Generator step through the updated discriminator, its weights held constant.
        let frozen = self.nets.discriminator.clone().no_grad();
        let (_, fake) = frozen.discriminate(generated, image, Some(&mut self.rng));
        let loss_g = bce_with_logits(fake, true);
        let mut grads = loss_g.clone().backward();
        self.nets.generator = self.optim_g.step(self.nets.generator.clone(), &mut grads);
        if let Some(avg) = &mut self.average {
            avg.update(&self.nets.generator);
        }
        let values = read_values(vec![loss_d, loss_g])?;
        Ok(vec![("d", values[0]), ("g", values[1])])
    }

    fn score(&self, x: Tensor<2>) -> Tensor<1> {
        let start = self.search_start(&x);
        self.search_from(x, start).1
    }

    /// The discriminator's cross-entropy on real validation data would move with the
    /// generator; the generator's fit is what the search measures, but 500 steps per validation
    /// sample would dominate training, so validation uses the discriminator's loss on the
    /// validation rows (lower = the data looks more real to it).
    fn validation_loss(&self, x: Tensor<2>) -> Tensor<1> {
        let b = x.dims()[0];
        let (_, logits) = self
            .nets
            .discriminator
            .valid()
            .discriminate(x, self.image, None);
        burn::tensor::activation::log_sigmoid(logits)
            .neg()
            .reshape([b])
    }

    fn anomaly_map(&self, x: Tensor<2>) -> Option<Tensor<4>> {
        let [c, h, w] = self.image?;
        let b = x.dims()[0];
        let start = self.search_start(&x);
        let (generated, _) = self.search_from(x.clone(), start);
        Some((x - generated).abs().reshape([b, c, h, w]).mean_dim(1))
    }

    fn trainables(&self) -> Trainables<'_> {
        Trainables {
            networks: &self.nets,
            optimizers: vec![&self.optim_g, &self.optim_d],
            rng: Some(&self.rng),
            average: self
                .average
                .as_ref()
                .map(|a| a.average() as &dyn Weights),
        }
    }

    fn trainables_mut(&mut self) -> TrainablesMut<'_> {
        TrainablesMut {
            networks: &mut self.nets,
            optimizers: vec![&mut self.optim_g, &mut self.optim_d],
            rng: Some(&mut self.rng),
            average: self
                .average
                .as_mut()
                .map(|a| a.average_mut() as &mut dyn Weights),
        }
    }

    fn save_weights(&self) -> crate::Result<Vec<u8>> {
        save_with_average(&self.nets, self.scoring_nets().generator)
    }

    fn load_weights(&mut self, bytes: Vec<u8>) -> crate::Result<()> {
        let template = self.nets.generator.clone();
        load_with_average(&mut self.nets, self.average.as_mut(), template, bytes)
    }

}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(t: Tensor<1>) -> Vec<f32> {
        t.into_data().try_into_vec::<f32>().unwrap()
    }

    /// `(1 − λ)·Σ|x − G(z)| + λ·Σ|f(x) − f(G(z))|` (paper eq. 5), computed by hand.
    #[test]
    fn score_is_weighted_residual_and_feature_distance() {
        let device = Device::flex();
        let x = Tensor::<2>::from_floats([[1.0f32, 2.0], [0.0, 0.0]], &device);
        let g = Tensor::<2>::from_floats([[0.0f32, 4.0], [1.0, -1.0]], &device);
        let fx = Tensor::<2>::from_floats([[1.0f32, 1.0, 1.0], [0.0, 0.0, 0.0]], &device);
        let fg = Tensor::<2>::from_floats([[0.0f32, 1.0, 3.0], [0.0, 0.0, 5.0]], &device);
        let s = values(anogan_loss(x, g, fx, fg, (0.9, 0.1)));
        // residuals 3 and 2; feature distances 3 and 5
        assert!((s[0] - (0.9 * 3.0 + 0.1 * 3.0)).abs() < 1e-6, "{s:?}");
        assert!((s[1] - (0.9 * 2.0 + 0.1 * 5.0)).abs() < 1e-6, "{s:?}");
    }

    /// One search over a batch gives each sample the score a search of its own would, from
    /// the same starting code, to the bit (the property that makes the batched search
    /// legitimate; the generator's and discriminator's dense layers pad as `nn::dense` says).
    #[test]
    fn batched_search_equals_per_sample_search() {
        let device = Device::flex();
        let config = AnoganConfig {
            search: LatentSearch {
                steps: 30,
                learning_rate: 1e-2,
            },
            ..AnoganConfig::default()
        };
        let model = Anogan::new(config, SampleShape::Table { features: 7 }, &device, 3).unwrap();
        let x = Tensor::<2>::random([5, 7], burn::tensor::Distribution::Default, &device);
        let start = model.search_start(&x);
        let batched = values(model.search_from(x.clone(), start.clone()).1);
        for (i, b) in batched.iter().enumerate() {
            let one = values(
                model
                    .search_from(x.clone().narrow(0, i, 1), start.clone().narrow(0, i, 1))
                    .1,
            );
            let alone = one[0];
            assert_eq!(alone.to_bits(), b.to_bits(), "sample {i}: alone {alone}, batched {b}");
        }
        // The search lowers the loss from the starting codes.
        let plain = model.nets.valid();
        let g0 = plain.generator.generate(start, None);
        let (fx, _) = plain.discriminator.discriminate(x.clone(), None, None);
        let (fg, _) = plain.discriminator.discriminate(g0.clone(), None, None);
        let initial = values(anogan_loss(x, g0, fx, fg, model.term_weights()));
        assert!(initial.iter().zip(&batched).all(|(a, b)| b < a));
    }
}
