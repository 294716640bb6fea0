//! EGBAD, "Efficient GAN-Based Anomaly Detection" (Zenati, Foo, Lecouat, Manek, Chandrasekhar,
//! ICLR workshop 2018): a BiGAN whose encoder gives the latent code of a test sample in one pass,
//! as its official code (`houssamzenati/Efficient-GAN-Anomaly-Detection`) defines it, with its
//! KDD99 networks for tables (`bigan/kdd_utilities.py`) and its MNIST networks for 28×28 grey
//! images (`bigan/mnist_utilities.py`, [`conv`]; latent 200, dropout 0.5,
//! N(0, 0.02) convolutions; the official MNIST batch is 100, set `batch_size` for it).
//!
//! - Encoder E: `D → 64 → LeakyReLU(0.1) → latent (32)`; generator G:
//!   `latent → 64 → ReLU → 128 → ReLU → D` (linear output); joint discriminator D(x, z) of
//!   [`crate::nn::bigan`] (branches of 128, LeakyReLU 0.1, dropout 0.2). Xavier initialisation.
//! - Losses (sigmoid cross-entropy on logits, means over the batch), z ~ N(0, I):
//!   `L_D = BCE(D(x, E(x)), 1) + BCE(D(G(z), z), 0)`, `L_G = BCE(D(G(z), z), 1)`,
//!   `L_E = BCE(D(x, E(x)), 0)`; three Adam optimizers (lr 1e-5, β = (0.5, 0.999)), batch 50.
//! - Per batch: a discriminator step, then the generator and encoder steps together on another
//!   batch. The official code draws that batch from an independently shuffled copy of the
//!   training set; here it is the previous step's batch (an independent draw from the same
//!   shuffle, the current batch on the first step).
//! - Test time: exponential moving average of the weights (decay 0.9999), no dropout.
//! - Score (paper §3; the README's reproduction settings w = 0.1, L1):
//!   `A(x) = (1 − w)·‖x − G(E(x))‖₁ + w·L_D(x)` with the feature-matching
//!   `L_D = ‖f(x, E(x)) − f(G(E(x)), E(x))‖₁` (default) or the cross-entropy
//!   `L_D = BCE(D(G(E(x)), E(x)), 1)`.
//! - The official KDD99 code discards its `MinMaxScaler` output, so its features are not scaled:
//!   train with `--scaling none` for that behaviour (the run's default standardises).

pub mod conv;
mod networks;

pub use networks::EgbadNets;

use super::{Detector, ModelInfo, ModelSpec, StepLosses, read_values};
use crate::data::SampleShape;
use crate::nn::ema::{load_with_average, save_with_average, scoring_copy};
use crate::nn::init::{component_rng, normal_tensor};
use crate::nn::loss::{bce_with_logits, row_l1};
use crate::nn::{Ema, InitScheme, NetOptimizer, initialise};
use crate::nn::{Trainables, TrainablesMut, TrainingState, Weights};
use burn::prelude::*;
use burn::tensor::activation::log_sigmoid;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// Which discriminator term enters the score.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DiscriminatorScore {
    /// `‖f(x, E(x)) − f(G(E(x)), E(x))‖₁` on the joint feature layer (the paper's best).
    FeatureMatching,
    /// `BCE(D(G(E(x)), E(x)), 1)`.
    CrossEntropy,
}

/// EGBAD's hyper-parameters; `Default` is the official KDD99 configuration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EgbadConfig {
    /// Latent size of the tabular networks (32).
    pub latent_dim: usize,
    /// Latent size of the MNIST networks (200).
    pub image_latent_dim: usize,
    /// Dropout rate of the MNIST discriminator (0.5).
    pub image_dropout: f64,
    /// Hidden width of the encoder (64).
    pub encoder_hidden: Vec<usize>,
    /// Hidden widths of the generator (64, 128).
    pub generator_hidden: Vec<usize>,
    /// Width of the discriminator's branches and joint layer (128).
    pub discriminator_width: usize,
    /// LeakyReLU slope of encoder and discriminator (0.1).
    pub slope: f64,
    /// Dropout rate in the discriminator while training (0.2).
    pub dropout: f64,
    /// Adam learning rate of all three networks (1e-5).
    pub learning_rate: f64,
    /// Adam β₁ (0.5).
    pub beta_1: f32,
    /// Adam β₂ (0.999).
    pub beta_2: f32,
    /// Training batch size (50).
    pub batch_size: usize,
    /// Training epochs.
    pub epochs: usize,
    /// Weight w of the discriminator term in the score (0.1).
    pub score_weight: f32,
    /// The discriminator term of the score.
    pub discriminator_score: DiscriminatorScore,
    /// Decay of the weights' moving average used at test time (0.9999); `None` scores with the
    /// trained weights.
    pub ema_decay: Option<f64>,
}

impl Default for EgbadConfig {
    fn default() -> Self {
        EgbadConfig {
            latent_dim: 32,
            image_latent_dim: 200,
            image_dropout: 0.5,
            encoder_hidden: vec![64],
            generator_hidden: vec![64, 128],
            discriminator_width: 128,
            slope: 0.1,
            dropout: 0.2,
            learning_rate: 1e-5,
            beta_1: 0.5,
            beta_2: 0.999,
            batch_size: 50,
            epochs: 50,
            score_weight: 0.1,
            discriminator_score: DiscriminatorScore::FeatureMatching,
            ema_decay: Some(0.9999),
        }
    }
}

/// An EGBAD detector.
pub struct Egbad {
    config: EgbadConfig,
    /// `[C, H, W]` of image inputs (for the anomaly map); `None` for tables.
    image: Option<[usize; 3]>,
    latent: usize,
    device: Device,
    nets: EgbadNets,
    average: Option<Ema<EgbadNets>>,
    optim_d: NetOptimizer,
    optim_g: NetOptimizer,
    optim_e: NetOptimizer,
    /// Latent draws and dropout masks.
    rng: ChaCha8Rng,
    /// The batch the generator and encoder train on next.
    previous: Option<Tensor<2>>,
}

impl Egbad {
    /// Build EGBAD for rows of `shape` on `device`.
    pub fn new(
        config: EgbadConfig,
        shape: SampleShape,
        device: &Device,
        seed: u64,
    ) -> crate::Result<Self> {
        let train_device = device.clone().autodiff();
        let mut rng = component_rng(seed, 2);
        let (nets, scheme) = match shape {
            SampleShape::Table { features } => (
                EgbadNets::for_table(&config, features, &train_device, &mut rng),
                InitScheme::Xavier,
            ),
            SampleShape::Image {
                channels: 1,
                height: 28,
                width: 28,
            } => (
                EgbadNets::for_mnist(&config, &train_device, &mut rng),
                InitScheme::Dcgan,
            ),
            other => anyhow::bail!(
                "egbad has the official KDD99 (tables) and MNIST (28×28 grey images) networks, but the data holds {other}"
            ),
        };
        let nets = initialise(nets, scheme, &mut component_rng(seed, 1));
        let adam = || NetOptimizer::adam(config.learning_rate, config.beta_1, config.beta_2);
        Ok(Egbad {
            image: shape.image_dims(),
            average: config.ema_decay.map(|d| Ema::new(&nets, d)),
            latent: match shape {
                SampleShape::Table { .. } => config.latent_dim,
                SampleShape::Image { .. } => config.image_latent_dim,
            },
            device: device.clone(),
            nets,
            optim_d: adam(),
            optim_g: adam(),
            optim_e: adam(),
            rng,
            previous: None,
            config,
        })
    }

    fn prior(&mut self, batch: usize, device: &Device) -> Tensor<2> {
        normal_tensor(&mut self.rng, [batch, self.latent], 1.0, device)
    }

    /// The networks that score: the moving average when enabled.
    fn scoring_nets(&self) -> EgbadNets {
        scoring_copy(self.average.as_ref(), &self.nets)
    }
}

/// EGBAD's score from its parts: `(1 − w)·‖x − x̂‖₁ + w·L_D` per sample.
pub fn egbad_score(residual_l1: Tensor<1>, discriminator_term: Tensor<1>, w: f32) -> Tensor<1> {
    residual_l1 * (1.0 - w) + discriminator_term * w
}

impl ModelSpec for EgbadConfig {
    const INFO: ModelInfo = ModelInfo {
        name: "egbad",
        group: super::ModelGroup::Detector,
        paper: "Zenati, Foo, Lecouat, Manek, Chandrasekhar. Efficient GAN-Based Anomaly Detection. ICLR workshop 2018",
        summary: "BiGAN (encoder, generator, joint discriminator); score = 0.9·‖x − G(E(x))‖₁ + 0.1·‖f(x,E(x)) − f(G(E(x)),E(x))‖₁",
        inputs: "tables, 28×28 grey images",
    };
    const IMAGE_SETTINGS: &'static [&'static str] = &["image_latent_dim", "image_dropout"];
    const TABLE_SETTINGS: &'static [&'static str] = &[
        "latent_dim",
        "encoder_hidden",
        "generator_hidden",
        "discriminator_width",
        "dropout",
    ];

    type Detector = Egbad;
    const SCORE_SETTINGS: &'static [&'static str] = &["score_weight", "discriminator_score"];

    fn build(&self, shape: SampleShape, device: &Device, seed: u64) -> crate::Result<Egbad> {
        Egbad::new(self.clone(), shape, device, seed)
    }

    /// The score is a convex mix of its two terms: a weight outside [0, 1] would invert one.
    fn check(&self) -> crate::Result<()> {
        crate::validate::in_range("egbad: score_weight", self.score_weight as f64, 0.0, 1.0, false)
    }

    fn epochs(&self) -> usize {
        self.epochs
    }

    fn batch_size(&self) -> usize {
        self.batch_size
    }

    fn image_size(&self) -> Option<usize> {
        None
    }
}

impl Detector for Egbad {
    fn train_step(&mut self, x: Tensor<2>) -> crate::Result<StepLosses> {
        let device = x.device();
        let b = x.dims()[0];
        // Discriminator step: E(x) and G(z) as constants.
        let z = self.prior(b, &device);
        let n = &self.nets;
        let encoded = n.encoder.forward(x.clone()).detach();
        let generated = n.generator.forward(z.clone()).detach();
        let real = n
            .discriminator
            .forward(x.clone(), encoded, Some(&mut self.rng));
        let fake = n.discriminator.forward(generated, z, Some(&mut self.rng));
        let loss_d = bce_with_logits(real.logits, true) + bce_with_logits(fake.logits, false);
        let mut grads = loss_d.clone().backward();
        self.nets.discriminator = self
            .optim_d
            .step(self.nets.discriminator.clone(), &mut grads);

        // Generator and encoder steps on another batch, through the updated discriminator held
        // constant; L_G reaches only G and L_E only E, so one backward serves both.
        let x2 = self.previous.replace(x.clone()).unwrap_or(x);
        let z = self.prior(b, &device);
        let n = &self.nets;
        let frozen = n.discriminator.clone().no_grad();
        let fake = frozen.forward(n.generator.forward(z.clone()), z, Some(&mut self.rng));
        let real = frozen.forward(x2.clone(), n.encoder.forward(x2), Some(&mut self.rng));
        let loss_g = bce_with_logits(fake.logits, true);
        let loss_e = bce_with_logits(real.logits, false);
        let mut grads = (loss_g.clone() + loss_e.clone()).backward();
        self.nets.generator = self.optim_g.step(self.nets.generator.clone(), &mut grads);
        self.nets.encoder = self.optim_e.step(self.nets.encoder.clone(), &mut grads);
        if let Some(avg) = &mut self.average {
            avg.update(&self.nets);
        }
        let values = read_values(vec![loss_d, loss_g, loss_e])?;
        Ok(vec![("d", values[0]), ("g", values[1]), ("e", values[2])])
    }

    fn score(&self, x: Tensor<2>) -> Tensor<1> {
        let n = self.scoring_nets();
        let encoded = n.encoder.forward(x.clone());
        let reconstructed = n.generator.forward(encoded.clone());
        let residual = row_l1(x.clone(), reconstructed.clone());
        let b = x.dims()[0];
        let fake = n
            .discriminator
            .forward(reconstructed, encoded.clone(), None);
        let term = match self.config.discriminator_score {
            DiscriminatorScore::FeatureMatching => {
                let real = n.discriminator.forward(x, encoded, None);
                row_l1(real.features, fake.features)
            }
            DiscriminatorScore::CrossEntropy => log_sigmoid(fake.logits).neg().reshape([b]),
        };
        egbad_score(residual, term, self.config.score_weight)
    }

    /// On images, the residual `|x − G(E(x))|` of the scoring networks, averaged over channels.
    fn anomaly_map(&self, x: Tensor<2>) -> Option<Tensor<4>> {
        let [c, h, w] = self.image?;
        let n = self.scoring_nets();
        let b = x.dims()[0];
        let rec = n.generator.forward(n.encoder.forward(x.clone()));
        Some(crate::nn::loss::abs_residual_map(
            x.reshape([b, c, h, w]),
            rec.reshape([b, c, h, w]),
        ))
    }

    fn trainables(&self) -> Trainables<'_> {
        Trainables {
            networks: &self.nets,
            optimizers: vec![&self.optim_d, &self.optim_g, &self.optim_e],
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
            optimizers: vec![&mut self.optim_d, &mut self.optim_g, &mut self.optim_e],
            rng: Some(&mut self.rng),
            average: self
                .average
                .as_mut()
                .map(|a| a.average_mut() as &mut dyn Weights),
        }
    }

    fn save_weights(&self) -> crate::Result<Vec<u8>> {
        save_with_average(&self.nets, self.scoring_nets())
    }

    fn load_weights(&mut self, bytes: Vec<u8>) -> crate::Result<()> {
        let template = self.nets.clone();
        load_with_average(&mut self.nets, self.average.as_mut(), template, bytes)
    }

    fn training_state(&self) -> crate::Result<Option<TrainingState>> {
        let mut state = TrainingState::of_trainables(&self.trainables())?;
        state.put_matrix("previous", self.previous.as_ref())?;
        Ok(Some(state))
    }

    fn restore_training_state(&mut self, state: &TrainingState) -> crate::Result<()> {
        state.restore_trainables(self.trainables_mut())?;
        self.previous = state.matrix("previous", &self.device.clone().autodiff())?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The score is `(1 − w)·Σ|x − x̂| + w·L_D`, here with hand-made parts.
    #[test]
    fn score_weights_residual_and_discriminator_term() {
        let device = Device::flex();
        let x = Tensor::<2>::from_floats([[1.0f32, -1.0, 2.0], [0.0, 0.0, 0.0]], &device);
        let x_hat = Tensor::<2>::from_floats([[0.5f32, -1.0, 0.0], [1.0, -1.0, 1.0]], &device);
        let residual = row_l1(x, x_hat); // [2.5, 3.0]
        let term = Tensor::<1>::from_floats([10.0f32, 0.0], &device);
        let s: Vec<f32> = egbad_score(residual, term, 0.1)
            .into_data()
            .try_into_vec::<f32>()
            .unwrap();
        assert!((s[0] - (0.9 * 2.5 + 0.1 * 10.0)).abs() < 1e-6, "{s:?}");
        assert!((s[1] - 0.9 * 3.0).abs() < 1e-6, "{s:?}");
    }
}
