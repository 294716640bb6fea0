//! f-AnoGAN (Schlegl, Seeböck, Waldstein, Langs, Schmidt-Erfurth, Medical Image Analysis 2019),
//! as its official code (`tSchlegl/f-AnoGAN`) defines it, with the paper's three encoder
//! trainings.
//!
//! - Stage 1, WGAN-GP (`wgangp_64x64.py`): the residual generator and layer-normalised critic of
//!   [`resnet`] (64×64, z ∈ R¹²⁸ ~ N(0, I), base width 64; images scaled to [−1, 1] as the
//!   code's `2·(x/255 − 0.5)`, the default `--scaling` on images). Critic loss
//!   `E[D(G(z))] − E[D(x)] + 10·E[(‖∇D(x̂)‖ − 1)²]` on uniform interpolates x̂, five critic steps
//!   per generator step, generator loss `−E[D(G(z))]`, Adam 1e-4, β = (0, 0.9), batch 64. burn
//!   has no double backward: the penalty is computed as the critic's central-difference
//!   derivative along its own gradient direction ([`crate::nn::penalty`]), whose weight
//!   gradient equals the exact penalty's up to O(h²) (tested against it). Option (not in the
//!   paper): `spectral_norm` normalises every critic layer ([`crate::nn::spectral`]), with or
//!   without the penalty.
//! - Stage 2, encoder (`z_encoding_izif.py`): the critic's trunk with BatchNorm, then
//!   `Linear → 128 → tanh`; G and D frozen; RMSProp 5e-5. Training: `izi_f` (default)
//!   `MSE(x, G(E(x))) + κ·MSE(f(x), f(G(E(x))))`, `izi` `MSE(x, G(E(x)))`, or `ziz`
//!   `MSE(z, E(G(z)))`; κ = 1, f = the critic's 8192 features.
//! - Score: `A(x) = A_R + κ·A_D`, `A_R = mean((x − G(E(x)))²)`, `A_D = mean((f(x) − f(G(E(x))))²)`;
//!   the residual `|x − G(E(x))|` is the anomaly map.
//! - Epochs: the first `gan_epochs` train the WGAN, the next `encoder_epochs` the encoder; the
//!   validation loss is the score during the encoder stage; the WGAN stage has none
//!   ([`Detector::validates`]), so the best checkpoint is always one with a trained encoder.

mod networks;
pub mod resnet;

use super::{Detector, ModelInfo, ModelSpec, StepLosses, as_images, image_dims, read_values};
use crate::data::source::DataForm;
use crate::data::preprocess::Scaling;
use crate::data::SampleShape;
use crate::nn::init::{component_rng, normal_tensor};
use crate::nn::loss::{l2, per_sample_mse};
use crate::nn::spectral::LinearLayer;
use crate::nn::{InitScheme, NetOptimizer, initialise};
use crate::nn::{Trainables, TrainablesMut, TrainingState, Weights};
use burn::nn::LinearConfig;
use burn::prelude::*;
use networks::{Critic, Encoder, FanoganNets};
use crate::nn::penalty::{ascent_direction, gradient_penalty};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use resnet::{ResnetGenerator, ResnetTrunk};
use serde::{Deserialize, Serialize};

/// How the encoder is trained (paper §2.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EncoderTraining {
    /// Latent → image → latent on generated images: `MSE(z, E(G(z)))`.
    Ziz,
    /// Image → latent → image on real images: `MSE(x, G(E(x)))`.
    Izi,
    /// izi plus the critic-feature residual (the paper's best, the code's only one).
    IziF,
}

/// f-AnoGAN's hyper-parameters; `Default` is the official code's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FanoganConfig {
    /// Input side (64; the networks are the 64×64 ones).
    pub image_size: usize,
    /// Latent size (128).
    pub latent_dim: usize,
    /// Base width `DIM` (64; 32 for CPU smoke runs).
    pub width: usize,
    /// Epochs of WGAN-GP training.
    pub gan_epochs: usize,
    /// Epochs of encoder training.
    pub encoder_epochs: usize,
    /// Critic steps per generator step (5).
    pub critic_iterations: usize,
    /// Gradient-penalty weight λ (10).
    pub penalty_weight: f32,
    /// Central-difference step of the penalty (1e-2, input units).
    pub penalty_step: f64,
    /// Adam learning rate of G and D (1e-4).
    pub learning_rate: f64,
    /// Adam β₁ (0).
    pub beta_1: f32,
    /// Adam β₂ (0.9).
    pub beta_2: f32,
    /// Batch size (64).
    pub batch_size: usize,
    /// The encoder training.
    pub encoder_training: EncoderTraining,
    /// κ (1).
    pub kappa: f32,
    /// RMSProp learning rate of the encoder (5e-5).
    pub encoder_learning_rate: f64,
    /// Spectral normalisation (Miyato et al. 2018) of every critic layer (off; the paper and
    /// code use the gradient penalty alone). It bounds the critic's Lipschitz constant layer by
    /// layer and can replace the penalty (`penalty_weight: 0`) or join it.
    pub spectral_norm: bool,
}

impl Default for FanoganConfig {
    fn default() -> Self {
        FanoganConfig {
            image_size: 64,
            latent_dim: 128,
            width: 64,
            gan_epochs: 7,
            encoder_epochs: 7,
            critic_iterations: 5,
            penalty_weight: 10.0,
            penalty_step: crate::nn::penalty::DEFAULT_STEP,
            learning_rate: 1e-4,
            beta_1: 0.0,
            beta_2: 0.9,
            batch_size: 64,
            encoder_training: EncoderTraining::IziF,
            kappa: 1.0,
            encoder_learning_rate: 5e-5,
            spectral_norm: false,
        }
    }
}

/// An f-AnoGAN detector.
pub struct Fanogan {
    config: FanoganConfig,
    shape: [usize; 3],
    nets: FanoganNets,
    optim_g: NetOptimizer,
    optim_d: NetOptimizer,
    optim_e: NetOptimizer,
    rng: ChaCha8Rng,
    epoch: usize,
    critic_steps: usize,
}

impl Fanogan {
    /// Build f-AnoGAN for images of `shape` on `device`.
    pub fn new(
        config: FanoganConfig,
        shape: SampleShape,
        device: &Device,
        seed: u64,
    ) -> crate::Result<Self> {
        let (channels, height, width) = image_dims("fanogan", shape)?;
        anyhow::ensure!(
            height == 64 && width == 64 && config.image_size == 64,
            "fanogan has the 64×64 networks of its official code; resize the images to 64 (got {height}×{width})"
        );
        let dev = device.clone().autodiff();
        let features = ResnetTrunk::features(config.width);
        let mut sn_rng = component_rng(seed, 3);
        let sn = config.spectral_norm;
        let nets = FanoganNets {
            generator: ResnetGenerator::new(config.latent_dim, config.width, channels, &dev),
            critic: Critic {
                trunk: ResnetTrunk::new(
                    channels,
                    config.width,
                    true,
                    sn.then_some(&mut sn_rng),
                    &dev,
                ),
                out: LinearLayer::new(features, 1, sn, &dev, &mut sn_rng),
            },
            encoder: Encoder {
                trunk: ResnetTrunk::new(channels, config.width, false, None, &dev),
                out: LinearConfig::new(features, config.latent_dim).init(&dev),
            },
        };
        let nets = initialise(nets, InitScheme::Pytorch, &mut component_rng(seed, 1));
        let adam = || NetOptimizer::adam(config.learning_rate, config.beta_1, config.beta_2);
        Ok(Fanogan {
            shape: [channels, height, width],
            nets,
            optim_g: adam(),
            optim_d: adam(),
            optim_e: NetOptimizer::rmsprop(config.encoder_learning_rate),
            rng: component_rng(seed, 2),
            epoch: 1,
            critic_steps: 0,
            config,
        })
    }

    fn prior(&mut self, batch: usize, device: &Device) -> Tensor<2> {
        normal_tensor(&mut self.rng, [batch, self.config.latent_dim], 1.0, device)
    }

    fn in_gan_stage(&self) -> bool {
        self.epoch <= self.config.gan_epochs
    }

    fn gan_step(&mut self, x: Tensor<4>) -> crate::Result<StepLosses> {
        let device = x.device();
        let b = x.dims()[0];
        let z = self.prior(b, &device);
        let fake = self.nets.generator.forward(z).detach();
        let eps: Vec<f32> = (0..b).map(|_| self.rng.random::<f32>()).collect();
        let eps = Tensor::<1>::from_data(TensorData::new(eps, [b]), &device).reshape([b, 1, 1, 1]);
        let x_hat = x.clone() * eps.clone() + fake.clone() * eps.neg().add_scalar(1.0);
        let critic = &self.nets.critic;
        let frozen = critic.clone().no_grad();
        let direction = ascent_direction(|t| frozen.forward(t), x_hat.clone());
        let gp = gradient_penalty(
            |t| critic.forward(t),
            x_hat,
            direction,
            self.config.penalty_step,
        );
        let real = critic.forward_training(x).mean();
        let generated = critic.forward(fake).mean();
        let wasserstein = real.clone() - generated.clone();
        let loss_d = generated - real + gp.clone() * self.config.penalty_weight;
        let mut grads = loss_d.clone().backward();
        self.nets.critic = self.optim_d.step(self.nets.critic.clone(), &mut grads);
        self.critic_steps += 1;
        let mut generator_loss = None;
        if self
            .critic_steps
            .is_multiple_of(self.config.critic_iterations.max(1))
        {
            let z = self.prior(b, &device);
            let frozen = self.nets.critic.clone().no_grad();
            let loss_g = frozen.forward(self.nets.generator.forward(z)).mean().neg();
            let mut grads = loss_g.clone().backward();
            self.nets.generator = self.optim_g.step(self.nets.generator.clone(), &mut grads);
            generator_loss = Some(loss_g.into_scalar());
        }
        let v = read_values(vec![loss_d, gp, wasserstein])?;
        let mut losses = vec![("d", v[0]), ("gp", v[1]), ("w_dist", v[2])];
        // The generator's loss on the steps that update it only (one in `critic_iterations`).
        losses.extend(generator_loss.map(|g| ("g", g)));
        Ok(losses)
    }

    fn encoder_step(&mut self, x: Tensor<4>) -> crate::Result<StepLosses> {
        let generator = self.nets.generator.clone().freeze();
        let critic = self.nets.critic.clone().freeze();
        let z = match self.config.encoder_training {
            EncoderTraining::Ziz => Some(self.prior(x.dims()[0], &x.device())),
            _ => None,
        };
        let encoder = &self.nets.encoder;
        let loss = match (self.config.encoder_training, z) {
            (EncoderTraining::Ziz, Some(z)) => l2(z.clone(), encoder.forward(generator.forward(z))),
            _ => {
                let rec = generator.forward(encoder.forward(x.clone()));
                let residual = l2(x.clone(), rec.clone());
                if self.config.encoder_training == EncoderTraining::IziF {
                    residual
                        + l2(critic.features(x).detach(), critic.features(rec)) * self.config.kappa
                } else {
                    residual
                }
            }
        };
        let mut grads = loss.clone().backward();
        self.nets.encoder = self.optim_e.step(self.nets.encoder.clone(), &mut grads);
        Ok(vec![("encoder", loss.into_scalar())])
    }
}

/// f-AnoGAN's score from its parts: `mean((x − x̂)²) + κ·mean((f(x) − f(x̂))²)` per sample.
pub fn fanogan_score(
    x: Tensor<4>,
    reconstruction: Tensor<4>,
    features_x: Tensor<2>,
    features_reconstruction: Tensor<2>,
    kappa: f32,
) -> Tensor<1> {
    per_sample_mse(x, reconstruction) + per_sample_mse(features_x, features_reconstruction) * kappa
}

impl ModelSpec for FanoganConfig {
    const INFO: ModelInfo = ModelInfo {
        name: "fanogan",
        group: super::ModelGroup::Detector,
        paper: "Schlegl, Seeböck, Waldstein, Langs, Schmidt-Erfurth. f-AnoGAN: Fast unsupervised anomaly detection with generative adversarial networks. Medical Image Analysis 2019",
        summary: "WGAN-GP (finite-difference gradient penalty) then an encoder (izi_f, izi or ziz); score = mean((x − G(E(x)))²) + κ·mean((f(x) − f(G(E(x))))²); residual map",
        inputs: "images (64×64)",
    };

    type Detector = Fanogan;

    fn takes(&self) -> &'static [DataForm] {
        DataForm::IMAGES
    }

    fn build(&self, shape: SampleShape, device: &Device, seed: u64) -> crate::Result<Fanogan> {
        Fanogan::new(self.clone(), shape, device, seed)
    }

    fn epochs(&self) -> usize {
        self.gan_epochs + self.encoder_epochs
    }

    /// The score needs the encoder: at least one epoch of its stage.
    fn min_epochs(&self) -> usize {
        self.gan_epochs + 1
    }

    fn batch_size(&self) -> usize {
        self.batch_size
    }

    fn image_size(&self) -> Option<usize> {
        Some(self.image_size)
    }

    /// Images: the code's `2·(x/255 − 0.5)`, the range of its tanh generator.
    fn image_scaling(&self) -> Scaling {
        Scaling::MinusOneToOne
    }
}

impl Detector for Fanogan {
    fn begin_epoch(&mut self, epoch: usize) {
        self.epoch = epoch;
    }

    fn train_step(&mut self, batch: Tensor<2>) -> crate::Result<StepLosses> {
        let x = as_images(batch, self.shape);
        if self.in_gan_stage() {
            self.gan_step(x)
        } else {
            self.encoder_step(x)
        }
    }

    fn score(&self, batch: Tensor<2>) -> Tensor<1> {
        let x = as_images(batch, self.shape);
        let n = self.nets.valid();
        let rec = n.generator.forward(n.encoder.forward(x.clone()));
        let fx = n.critic.features(x.clone());
        let fr = n.critic.features(rec.clone());
        fanogan_score(x, rec, fx, fr, self.config.kappa)
    }

    fn validates(&self) -> bool {
        !self.in_gan_stage()
    }

    fn anomaly_map(&self, batch: Tensor<2>) -> Option<Tensor<4>> {
        let x = as_images(batch, self.shape);
        let n = self.nets.valid();
        let rec = n.generator.forward(n.encoder.forward(x.clone()));
        Some((x - rec).abs().mean_dim(1))
    }

    fn trainables(&self) -> Trainables<'_> {
        Trainables {
            networks: &self.nets,
            optimizers: vec![&self.optim_g, &self.optim_d, &self.optim_e],
            rng: Some(&self.rng),
            average: None,
        }
    }

    fn trainables_mut(&mut self) -> TrainablesMut<'_> {
        TrainablesMut {
            networks: &mut self.nets,
            optimizers: vec![&mut self.optim_g, &mut self.optim_d, &mut self.optim_e],
            rng: Some(&mut self.rng),
            average: None,
        }
    }

    fn load_weights(&mut self, bytes: Vec<u8>) -> crate::Result<()> {
        self.nets.load_bytes(bytes)?;
        // Loaded weights have a trained encoder: score as after training.
        self.epoch = self.config.gan_epochs + self.config.encoder_epochs;
        Ok(())
    }

    fn training_state(&self) -> crate::Result<Option<TrainingState>> {
        let mut state = TrainingState::of_trainables(&self.trainables())?;
        state.put_value("counters", &(self.epoch, self.critic_steps))?;
        Ok(Some(state))
    }

    fn restore_training_state(&mut self, state: &TrainingState) -> crate::Result<()> {
        state.restore_trainables(self.trainables_mut())?;
        (self.epoch, self.critic_steps) = match state.value("counters") {
            Ok(counters) => counters,
            // A state saved when the last generator loss was carried along as a third value.
            Err(_) => {
                let (epoch, steps, _): (usize, usize, f32) = state.value("counters")?;
                (epoch, steps)
            }
        };
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `A_R + κ·A_D` by hand.
    #[test]
    fn score_adds_residual_and_feature_terms() {
        let device = Device::flex();
        let x = Tensor::<4>::from_floats([[[[1.0f32, -1.0]]]], &device);
        let r = Tensor::<4>::from_floats([[[[0.0f32, 1.0]]]], &device);
        let fx = Tensor::<2>::from_floats([[1.0f32, 2.0, 3.0]], &device);
        let fr = Tensor::<2>::from_floats([[1.0f32, 0.0, 0.0]], &device);
        let s: f32 = fanogan_score(x, r, fx, fr, 1.0).into_scalar();
        // A_R = (1 + 4)/2 = 2.5; A_D = (0 + 4 + 9)/3 = 13/3
        assert!((s - (2.5 + 13.0 / 3.0)).abs() < 1e-5, "{s}");
    }
}
