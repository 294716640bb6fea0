//! Skip-GANomaly (Akcay, Atapour-Abarghouei, Breckon, IJCNN 2019), as its official code
//! (`samet-akcay/skip-ganomaly`) defines it.
//!
//! - Generator: the pix2pix U-Net of [`unet`] (num_downs = log2(size): 3 → 64 → 128
//!   → 256 → 512 → 512 for 32×32), x̂ = G(x).
//! - Discriminator: the DCGAN encoder trunk ending in a convolution to nz = 100 channels at 1×1
//!   (the feature f(·)), then a 3×3 convolution to one logit (sigmoid in the loss).
//! - Generator loss: `w_adv·BCE(D(x̂), 1) + w_con·‖x − x̂‖₁ + w_lat·mean((f(x̂) − f(x))²)` with
//!   1 / 50 / 1 (means over elements). Discriminator loss: `BCE(D(x), 1) + BCE(D(x̂), 0)`; the
//!   official code also adds the latent term to it (`d_latent_term`, off by default: the
//!   paper's loss). D is re-initialised when its loss falls under 1e-5. Adam 2e-4,
//!   β = (0.5, 0.999), batch 64. Both updates come from one forward and one backward pass, as
//!   in [`super::ganomaly`] (D's update does not see G's).
//! - The official code feeds G `x + noise` with `noise` an uninitialised tensor (usually
//!   zeros); this port feeds x (zero noise).
//! - Score: `A(x) = λ·mean((x − x̂)²) + (1 − λ)·mean((f(x) − f(x̂))²)` with λ = 0.9 (the official
//!   min-max normalisation over the test set changes no ranking and is not done); the squared
//!   residual (mean over channels) is the anomaly map.

mod networks;
pub mod unet;

use super::{Detector, ModelInfo, ModelSpec, StepLosses, as_images, read_values, square_image};
use crate::data::source::DataForm;
use crate::data::SampleShape;
use crate::nn::init::{component_rng, reinitialise_below};
use crate::nn::loss::{bce_with_logits, l1, l2, per_sample_mse};
use crate::nn::{InitScheme, NetOptimizer, initialise};
use crate::nn::{Trainables, TrainablesMut};
use burn::prelude::*;
use networks::{SkipGanomalyNets, discriminator};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use unet::Unet;

/// Skip-GANomaly's hyper-parameters; `Default` is the official code's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SkipGanomalyConfig {
    /// Input side (32).
    pub image_size: usize,
    /// Discriminator feature channels (`nz`, 100).
    pub latent_dim: usize,
    /// Base width of G and D (64).
    pub base_width: usize,
    /// Adversarial weight (1).
    pub w_adv: f32,
    /// Contextual (L1) weight (50).
    pub w_con: f32,
    /// Latent (feature) weight (1).
    pub w_lat: f32,
    /// Score weight λ of the reconstruction term (0.9).
    pub lambda: f32,
    /// Add the latent term to D's loss too (the official code; off = the paper).
    pub d_latent_term: bool,
    /// Adam learning rate (2e-4).
    pub learning_rate: f64,
    /// Adam β₁ (0.5).
    pub beta_1: f32,
    /// Adam β₂ (0.999).
    pub beta_2: f32,
    /// Batch size (64).
    pub batch_size: usize,
    /// Epochs (15, as GANomaly; `run_cifar.sh` uses 25).
    pub epochs: usize,
    /// Re-initialise D when its loss falls below this (1e-5).
    pub d_reinit_below: f32,
}

impl Default for SkipGanomalyConfig {
    fn default() -> Self {
        SkipGanomalyConfig {
            image_size: 32,
            latent_dim: 100,
            base_width: 64,
            w_adv: 1.0,
            w_con: 50.0,
            w_lat: 1.0,
            lambda: 0.9,
            d_latent_term: false,
            learning_rate: 2e-4,
            beta_1: 0.5,
            beta_2: 0.999,
            batch_size: 64,
            epochs: 15,
            d_reinit_below: 1e-5,
        }
    }
}

/// A Skip-GANomaly detector.
pub struct SkipGanomaly {
    config: SkipGanomalyConfig,
    shape: [usize; 3],
    nets: SkipGanomalyNets,
    optim_g: NetOptimizer,
    optim_d: NetOptimizer,
    rng: ChaCha8Rng,
}

impl SkipGanomaly {
    /// Build Skip-GANomaly for images of `shape` on `device`.
    pub fn new(
        config: SkipGanomalyConfig,
        shape: SampleShape,
        device: &Device,
        seed: u64,
    ) -> crate::Result<Self> {
        let [channels, height, width] = square_image("skip-ganomaly", shape, config.image_size)?;
        let dev = device.clone().autodiff();
        let mut rng = component_rng(seed, 1);
        let nets = SkipGanomalyNets {
            generator: initialise(
                Unet::new(config.image_size, channels, config.base_width, &dev),
                InitScheme::Dcgan,
                &mut rng,
            ),
            discriminator: initialise(
                discriminator(&config, channels, &dev),
                InitScheme::Dcgan,
                &mut rng,
            ),
        };
        let adam = || NetOptimizer::adam(config.learning_rate, config.beta_1, config.beta_2);
        Ok(SkipGanomaly {
            shape: [channels, height, width],
            nets,
            optim_g: adam(),
            optim_d: adam(),
            rng,
            config,
        })
    }
}

/// Skip-GANomaly's score from its parts: `λ·R + (1 − λ)·L` per sample.
pub fn skip_ganomaly_score(
    x: Tensor<4>,
    reconstruction: Tensor<4>,
    features_x: Tensor<4>,
    features_reconstruction: Tensor<4>,
    lambda: f32,
) -> Tensor<1> {
    per_sample_mse(x, reconstruction) * lambda
        + per_sample_mse(features_x, features_reconstruction) * (1.0 - lambda)
}

impl ModelSpec for SkipGanomalyConfig {
    const INFO: ModelInfo = ModelInfo {
        name: "skip-ganomaly",
        group: super::ModelGroup::Detector,
        paper: "Akcay, Atapour-Abarghouei, Breckon. Skip-GANomaly: Skip Connected and Adversarially Trained Encoder-Decoder Anomaly Detection. IJCNN 2019",
        summary: "U-Net generator, DCGAN discriminator with 100-d features; score = 0.9·mean((x − x̂)²) + 0.1·mean((f(x) − f(x̂))²); residual map",
        inputs: "images",
    };

    type Detector = SkipGanomaly;
    const SCORE_SETTINGS: &'static [&'static str] = &["lambda"];

    fn takes(&self) -> &'static [DataForm] {
        DataForm::IMAGES
    }

    fn build(&self, shape: SampleShape, device: &Device, seed: u64) -> crate::Result<SkipGanomaly> {
        SkipGanomaly::new(self.clone(), shape, device, seed)
    }

    /// A side the DCGAN pyramid can halve down to 4×4; λ within [0, 1], since the score is a
    /// convex mix of its two terms and a λ outside would invert one.
    fn check(&self) -> crate::Result<()> {
        crate::nn::dcgan::check_image_size(self.image_size)?;
        crate::validate::in_range("skip-ganomaly: lambda", self.lambda as f64, 0.0, 1.0, false)
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
}

impl Detector for SkipGanomaly {
    fn train_step(&mut self, batch: Tensor<2>) -> crate::Result<StepLosses> {
        let c = &self.config;
        let x = as_images(batch, self.shape);
        let fake = self.nets.generator.forward(x.clone());
        let d = &self.nets.discriminator;
        // Generator terms through a constant-weight copy of D.
        let frozen = d.clone().no_grad();
        let (f_fake_g, logit_fake_g) = frozen.forward(fake.clone());
        let (f_real, logit_real) = d.forward(x.clone());
        let adv = bce_with_logits(logit_fake_g, true);
        let con = l1(x, fake.clone());
        let lat = l2(f_fake_g, f_real.clone().detach());
        let loss_g = adv.clone() * c.w_adv + con.clone() * c.w_con + lat.clone() * c.w_lat;
        // Discriminator terms on x̂ detached.
        let (f_fake_d, logit_fake_d) = d.forward(fake.detach());
        let mut loss_d = bce_with_logits(logit_real, true) + bce_with_logits(logit_fake_d, false);
        if c.d_latent_term {
            loss_d = loss_d + l2(f_real, f_fake_d);
        }
        let mut grads = (loss_g.clone() + loss_d.clone()).backward();
        self.nets.generator = self.optim_g.step(self.nets.generator.clone(), &mut grads);
        self.nets.discriminator = self
            .optim_d
            .step(self.nets.discriminator.clone(), &mut grads);
        let v = read_values(vec![loss_g, adv, con, lat, loss_d])?;
        self.nets.discriminator = reinitialise_below(
            self.nets.discriminator.clone(),
            v[4],
            c.d_reinit_below,
            &mut self.rng,
        );
        Ok(vec![
            ("g", v[0]),
            ("adv", v[1]),
            ("con", v[2]),
            ("lat", v[3]),
            ("d", v[4]),
        ])
    }

    fn score(&self, batch: Tensor<2>) -> Tensor<1> {
        let x = as_images(batch, self.shape);
        let n = self.nets.valid();
        let fake = n.generator.forward(x.clone());
        let (f_real, _) = n.discriminator.forward(x.clone());
        let (f_fake, _) = n.discriminator.forward(fake.clone());
        skip_ganomaly_score(x, fake, f_real, f_fake, self.config.lambda)
    }

    fn anomaly_map(&self, batch: Tensor<2>) -> Option<Tensor<4>> {
        let x = as_images(batch, self.shape);
        let fake = self.nets.generator.valid().forward(x.clone());
        Some((x - fake).powi_scalar(2).mean_dim(1))
    }

    fn trainables(&self) -> Trainables<'_> {
        Trainables {
            networks: &self.nets,
            optimizers: vec![&self.optim_g, &self.optim_d],
            rng: Some(&self.rng),
            average: None,
        }
    }

    fn trainables_mut(&mut self) -> TrainablesMut<'_> {
        TrainablesMut {
            networks: &mut self.nets,
            optimizers: vec![&mut self.optim_g, &mut self.optim_d],
            rng: Some(&mut self.rng),
            average: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `0.9·mean((x − x̂)²) + 0.1·mean((f(x) − f(x̂))²)` by hand.
    #[test]
    fn score_mixes_reconstruction_and_feature_errors() {
        let device = Device::flex();
        let x = Tensor::<4>::from_floats([[[[1.0f32, 0.0], [0.0, 0.0]]]], &device);
        let r = Tensor::<4>::from_floats([[[[0.0f32, 0.0], [0.0, 2.0]]]], &device);
        let fx = Tensor::<4>::from_floats([[[[1.0f32]], [[1.0]]]], &device);
        let fr = Tensor::<4>::from_floats([[[[4.0f32]], [[1.0]]]], &device);
        let s: Vec<f32> = skip_ganomaly_score(x, r, fx, fr, 0.9)
            .into_data()
            .try_into_vec()
            .unwrap();
        // R = (1 + 4)/4 = 1.25, L = 9/2 = 4.5
        assert!((s[0] - (0.9 * 1.25 + 0.1 * 4.5)).abs() < 1e-6, "{s:?}");
    }
}
