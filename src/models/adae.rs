//! ADAE, "Anomaly Detection with Adversarial Dual Autoencoders" (Vu, Ueta, Hirose, Takahashi,
//! arXiv:1902.06924, 2019). No official code exists; this follows the paper as MODELS.md §10
//! summarises it.
//!
//! - Two autoencoders of the same DCGAN shape ([`crate::nn::DcganAutoencoder`], 32×32, nz 100):
//!   the generator G(x) = x̂ and the discriminator D, itself an autoencoder (BEGAN-style energy
//!   adversary).
//! - D minimises its reconstruction error on real data and maximises it on generated data:
//!   `L_D = ‖x − D(x)‖² − ‖G(x) − D(G(x))‖²`; G minimises its own reconstruction error and
//!   D's error on its output: `L_G = ‖x − G(x)‖² + ‖G(x) − D(G(x))‖²`. Errors are means over
//!   pixels (the paper leaves the norm's scale open; the score below is squared, so the losses
//!   are too). Both updates are taken from the same forward pass (G's through D's weights held
//!   constant, D's on G(x) detached); Adam lr 2e-4, β = (0.5, 0.999), batch 64.
//! - Score: `A(x) = mean((x − D(G(x)))²)`; the per-pixel residual `(x − D(G(x)))²` (mean over
//!   channels) is the anomaly map.

use super::{Detector, ModelInfo, ModelSpec, StepLosses, as_images, read_values, square_image};
use crate::data::source::DataForm;
use crate::data::SampleShape;
use crate::nn::{Trainables, TrainablesMut};
use crate::nn::init::component_rng;
use crate::nn::loss::{l2, per_sample_mse};
use crate::nn::{DcganAutoencoder, InitScheme, NetOptimizer, initialise};
use burn::prelude::*;
use serde::{Deserialize, Serialize};

/// ADAE's hyper-parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AdaeConfig {
    /// Input side (32).
    pub image_size: usize,
    /// Latent channels (100).
    pub latent_dim: usize,
    /// Base width (64).
    pub base_width: usize,
    /// Adam learning rate (2e-4).
    pub learning_rate: f64,
    /// Adam β₁ (0.5).
    pub beta_1: f32,
    /// Adam β₂ (0.999).
    pub beta_2: f32,
    /// Batch size (64).
    pub batch_size: usize,
    /// Epochs (15, as GANomaly's protocol it is compared under).
    pub epochs: usize,
}

impl Default for AdaeConfig {
    fn default() -> Self {
        AdaeConfig {
            image_size: 32,
            latent_dim: 100,
            base_width: 64,
            learning_rate: 2e-4,
            beta_1: 0.5,
            beta_2: 0.999,
            batch_size: 64,
            epochs: 15,
        }
    }
}

/// Both autoencoders.
#[derive(Module, Debug)]
pub struct AdaeNets {
    generator: DcganAutoencoder,
    discriminator: DcganAutoencoder,
}

/// An ADAE detector.
pub struct Adae {
    shape: [usize; 3],
    nets: AdaeNets,
    optim_g: NetOptimizer,
    optim_d: NetOptimizer,
}

impl Adae {
    /// Build ADAE for images of `shape` on `device`.
    pub fn new(
        config: AdaeConfig,
        shape: SampleShape,
        device: &Device,
        seed: u64,
    ) -> crate::Result<Self> {
        let [channels, height, width] = square_image("adae", shape, config.image_size)?;
        let dev = device.clone().autodiff();
        let ae = || {
            DcganAutoencoder::new(
                config.image_size,
                channels,
                config.base_width,
                config.latent_dim,
                &dev,
            )
        };
        let nets = AdaeNets {
            generator: ae(),
            discriminator: ae(),
        };
        let nets = initialise(nets, InitScheme::Dcgan, &mut component_rng(seed, 1));
        let adam = || NetOptimizer::adam(config.learning_rate, config.beta_1, config.beta_2);
        Ok(Adae {
            shape: [channels, height, width],
            nets,
            optim_g: adam(),
            optim_d: adam(),
        })
    }

    /// D(G(x)) in evaluation mode.
    fn through_both(&self, x: Tensor<4>) -> Tensor<4> {
        let n = self.nets.valid();
        n.discriminator.forward(n.generator.forward(x))
    }
}

impl ModelSpec for AdaeConfig {
    const INFO: ModelInfo = ModelInfo {
        name: "adae",
        group: super::ModelGroup::Detector,
        paper: "Vu, Ueta, Hirose, Takahashi. Anomaly Detection with Adversarial Dual Autoencoders. arXiv:1902.06924, 2019",
        summary: "generator autoencoder G against an autoencoder discriminator D; score = mean((x − D(G(x)))²); residual map",
        inputs: "images",
    };

    type Detector = Adae;

    /// A side the DCGAN pyramid can halve down to 4×4: a power of two, at least 8.
    fn check(&self) -> crate::Result<()> {
        crate::nn::dcgan::check_image_size(self.image_size)
    }

    fn takes(&self) -> &'static [DataForm] {
        DataForm::IMAGES
    }

    fn build(&self, shape: SampleShape, device: &Device, seed: u64) -> crate::Result<Adae> {
        Adae::new(self.clone(), shape, device, seed)
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

impl Detector for Adae {
    fn train_step(&mut self, batch: Tensor<2>) -> crate::Result<StepLosses> {
        let x = as_images(batch, self.shape);
        let n = &self.nets;
        let generated = n.generator.forward(x.clone());
        // D: reconstruct real data, fail on generated data (detached: D's loss must not move G).
        let fake = generated.clone().detach();
        let d_real = l2(x.clone(), n.discriminator.forward(x.clone()));
        let d_fake = l2(fake.clone(), n.discriminator.forward(fake));
        let loss_d = d_real.clone() - d_fake.clone();
        // G: reconstruct, and be reconstructed by D (whose weights are constants here).
        let frozen = n.discriminator.clone().no_grad();
        let g_rec = l2(x, generated.clone());
        let g_adv = l2(generated.clone(), frozen.forward(generated));
        let loss_g = g_rec.clone() + g_adv.clone();
        let mut grads = (loss_d.clone() + loss_g.clone()).backward();
        self.nets.generator = self.optim_g.step(self.nets.generator.clone(), &mut grads);
        self.nets.discriminator = self
            .optim_d
            .step(self.nets.discriminator.clone(), &mut grads);
        let v = read_values(vec![loss_g, loss_d, g_rec, d_fake])?;
        Ok(vec![
            ("g", v[0]),
            ("d", v[1]),
            ("g_rec", v[2]),
            ("d_fake", v[3]),
        ])
    }

    fn score(&self, batch: Tensor<2>) -> Tensor<1> {
        let x = as_images(batch, self.shape);
        let y = self.through_both(x.clone());
        per_sample_mse(x, y)
    }

    fn anomaly_map(&self, batch: Tensor<2>) -> Option<Tensor<4>> {
        let x = as_images(batch, self.shape);
        let y = self.through_both(x.clone());
        Some((x - y).powi_scalar(2).mean_dim(1))
    }

    fn trainables(&self) -> Trainables<'_> {
        Trainables {
            networks: &self.nets,
            optimizers: vec![&self.optim_g, &self.optim_d],
            rng: None,
            average: None,
        }
    }

    fn trainables_mut(&mut self) -> TrainablesMut<'_> {
        TrainablesMut {
            networks: &mut self.nets,
            optimizers: vec![&mut self.optim_g, &mut self.optim_d],
            rng: None,
            average: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The score is the mean squared error between x and D(G(x)) computed by hand from the two
    /// networks' outputs.
    #[test]
    fn score_is_error_through_both_autoencoders() {
        let device = Device::flex();
        let shape = SampleShape::Image {
            channels: 1,
            height: 8,
            width: 8,
        };
        let config = AdaeConfig {
            image_size: 8,
            base_width: 4,
            latent_dim: 3,
            ..AdaeConfig::default()
        };
        let model = Adae::new(config, shape, &device, 1).unwrap();
        let x = Tensor::<2>::random([2, 64], burn::tensor::Distribution::Default, &device);
        let scores: Vec<f32> = model.score(x.clone()).into_data().try_into_vec().unwrap();
        let n = model.nets.valid();
        let y: Vec<f32> = n
            .discriminator
            .forward(n.generator.forward(x.clone().reshape([2, 1, 8, 8])))
            .into_data()
            .try_into_vec()
            .unwrap();
        let xs: Vec<f32> = x.into_data().try_into_vec().unwrap();
        for i in 0..2 {
            let manual: f32 = (0..64)
                .map(|j| (xs[i * 64 + j] - y[i * 64 + j]).powi(2))
                .sum::<f32>()
                / 64.0;
            assert!(
                (scores[i] - manual).abs() < 1e-5,
                "{} vs {manual}",
                scores[i]
            );
        }
    }
}
