//! Constrained adversarial autoencoder: Chen, Konukoglu. "Unsupervised Detection of Lesions in
//! Brain MRI using constrained adversarial auto-encoders". MIDL 2018 (MODELS.md §8; no official
//! code).
//!
//! An adversarial autoencoder (Makhzani et al. 2016) on images: the DCGAN encoder E to a code
//! `z ∈ R^d` (d = 128), the DCGAN decoder G back (tanh: `--scaling
//! minus-one-to-one`, the default), and a latent discriminator D_z (MLP `d → 512 → 256 → 1`, LeakyReLU 0.2)
//! that tells codes of data from draws of N(0, I). The paper's contribution is the latent
//! consistency term `‖E(x) − E(G(E(x)))‖²`, which makes a reconstruction of an abnormal input
//! map back into the normal part of the latent space; `consistency: false` gives the plain AAE.
//!
//! Each step, in Makhzani's phases, each with its own Adam (lr 1e-4, the paper's; β₁ 0.5):
//! 1. E and G: `mean (x − x̂)² + λ_c·mean (E(x) − E(x̂))²`, `x̂ = G(E(x))`, λ_c = 1;
//! 2. D_z: `BCE(D_z(ε), 1) + BCE(D_z(E(x)), 0)`, `ε ~ N(0, I)`;
//! 3. E: `λ_adv·BCE(D_z(E(x)), 1)` (non-saturating), λ_adv = 1.
//!
//! The paper does not give λ_adv and λ_c ("not recovered"): 1 and 1 here, with the phases
//! weighting reconstruction and regularisation as Makhzani's AAE does. Score: the mean of the
//! residual `|x − x̂|` (the paper's image-level score); map: `|x − x̂|` averaged over channels.
//! Images 32 px by default (the paper's MRI slices ≈ 128 px: `image_size`).

use super::{Detector, ModelInfo, ModelSpec, StepLosses, as_images, read_values, square_image};
use crate::data::source::DataForm;
use crate::data::preprocess::Scaling;
use crate::data::SampleShape;
use crate::nn::init::{component_rng, normal_tensor};
use crate::nn::loss::{abs_residual_map, bce_with_logits, l2};
use crate::nn::mlp::Activation;
use crate::nn::{
    DcganAutoencoder, InitScheme, Mlp, MlpConfig, NetOptimizer, Trainables, TrainablesMut,
    initialise,
};
use burn::prelude::*;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// Constrained AAE hyper-parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ConstrainedAaeConfig {
    /// Side images are resized to (32).
    pub image_size: usize,
    /// Latent size `d` (128).
    pub latent_dim: usize,
    /// Base width of the DCGAN blocks (64).
    pub base_width: usize,
    /// The latent consistency term; false gives the plain AAE (true).
    pub consistency: bool,
    /// λ_c, the consistency term's weight (1).
    pub consistency_weight: f64,
    /// λ_adv, the weight of the encoder's adversarial loss (1).
    pub adversarial_weight: f64,
    /// Adam learning rate of every phase (1e-4).
    pub learning_rate: f64,
    /// Training batch size (64).
    pub batch_size: usize,
    /// Training epochs (15).
    pub epochs: usize,
}

impl Default for ConstrainedAaeConfig {
    fn default() -> Self {
        ConstrainedAaeConfig {
            image_size: 32,
            latent_dim: 128,
            base_width: 64,
            consistency: true,
            consistency_weight: 1.0,
            adversarial_weight: 1.0,
            learning_rate: 1e-4,
            batch_size: 64,
            epochs: 15,
        }
    }
}

/// The autoencoder and the latent discriminator.
#[derive(Module, Debug)]
pub struct AaeNets {
    /// E and G.
    autoencoder: DcganAutoencoder,
    /// D_z: code → logit.
    critic: Mlp,
}

/// The constrained AAE detector.
pub struct ConstrainedAae {
    config: ConstrainedAaeConfig,
    image: [usize; 3],
    nets: AaeNets,
    /// Adam of phase 1 (E and G).
    optim_reconstruction: NetOptimizer,
    /// Adam of phase 2 (D_z).
    optim_critic: NetOptimizer,
    /// Adam of phase 3 (E).
    optim_regularisation: NetOptimizer,
    /// Prior draws.
    rng: ChaCha8Rng,
}

impl ConstrainedAae {
    /// Build the model for images of `shape` on `device`.
    pub fn new(
        config: ConstrainedAaeConfig,
        shape: SampleShape,
        device: &Device,
        seed: u64,
    ) -> crate::Result<Self> {
        let image = square_image("constrained-aae", shape, config.image_size)?;
        let train_device = device.clone().autodiff();
        let nets = AaeNets {
            autoencoder: DcganAutoencoder::new(
                config.image_size,
                image[0],
                config.base_width,
                config.latent_dim,
                &train_device,
            ),
            critic: MlpConfig {
                widths: vec![config.latent_dim, 512, 256, 1],
                activation: Activation::LeakyRelu(0.2),
            }
            .init(&train_device),
        };
        let nets = initialise(nets, InitScheme::Dcgan, &mut component_rng(seed, 1));
        let adam = || NetOptimizer::adam(config.learning_rate, 0.5, 0.999);
        Ok(ConstrainedAae {
            optim_reconstruction: adam(),
            optim_critic: adam(),
            optim_regularisation: adam(),
            rng: component_rng(seed, 2),
            config,
            image,
            nets,
        })
    }

    /// The code `[B, d]` of images.
    fn encode(autoencoder: &DcganAutoencoder, x: Tensor<4>) -> Tensor<2> {
        let b = x.dims()[0];
        autoencoder.encoder.forward(x).reshape([b as i32, -1])
    }

    /// The reconstruction of images through the evaluation-mode networks.
    fn reconstruct(&self, x: Tensor<4>) -> Tensor<4> {
        self.nets.autoencoder.valid().forward(x)
    }
}

impl ModelSpec for ConstrainedAaeConfig {
    const INFO: ModelInfo = ModelInfo {
        name: "constrained-aae",
        group: super::ModelGroup::Detector,
        paper: "Chen, Konukoglu. Unsupervised Detection of Lesions in Brain MRI using constrained adversarial auto-encoders. MIDL 2018",
        summary: "adversarial autoencoder (latent discriminator toward N(0, I)) with the latent consistency term ‖E(x) − E(G(E(x)))‖² ({\"consistency\": false}: plain AAE); score = mean |x − x̂|; residual map",
        inputs: "images",
    };

    type Detector = ConstrainedAae;

    /// A side the DCGAN pyramid can halve down to 4×4: a power of two, at least 8.
    fn check(&self) -> crate::Result<()> {
        crate::nn::dcgan::check_image_size(self.image_size)
    }

    fn takes(&self) -> &'static [DataForm] {
        DataForm::IMAGES
    }

    fn build(&self, shape: SampleShape, device: &Device, seed: u64) -> crate::Result<ConstrainedAae> {
        ConstrainedAae::new(self.clone(), shape, device, seed)
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

    /// Images: [−1, 1], the range of the DCGAN decoder's tanh.
    fn image_scaling(&self) -> Scaling {
        Scaling::MinusOneToOne
    }
}

impl Detector for ConstrainedAae {
    fn train_step(&mut self, batch: Tensor<2>) -> crate::Result<StepLosses> {
        let x = as_images(batch, self.image);
        let b = x.dims()[0];
        let c = &self.config;

        // 1. E and G: reconstruction (and consistency).
        let ae = &self.nets.autoencoder;
        let code = Self::encode(ae, x.clone());
        let d = code.dims()[1];
        let recon = ae.decoder.forward(code.clone().reshape([b, d, 1, 1]));
        let reconstruction = l2(x.clone(), recon.clone());
        let consistency = l2(code, Self::encode(ae, recon));
        let mut loss = reconstruction.clone();
        if c.consistency {
            loss = loss + consistency.clone() * c.consistency_weight;
        }
        let mut grads = loss.backward();
        self.nets.autoencoder = self
            .optim_reconstruction
            .step(self.nets.autoencoder.clone(), &mut grads);

        // 2. D_z: prior draws real, codes fake (detached).
        let prior = normal_tensor(&mut self.rng, [b, d], 1.0, &x.device());
        let codes = Self::encode(&self.nets.autoencoder, x.clone()).detach();
        let critic_loss = bce_with_logits(self.nets.critic.forward(prior), true)
            + bce_with_logits(self.nets.critic.forward(codes), false);
        let mut grads = critic_loss.clone().backward();
        self.nets.critic = self.optim_critic.step(self.nets.critic.clone(), &mut grads);

        // 3. E: fool D_z (its weights constants here).
        let critic = self.nets.critic.clone().no_grad();
        let codes = Self::encode(&self.nets.autoencoder, x);
        let fool = bce_with_logits(critic.forward(codes), true) * c.adversarial_weight;
        let mut grads = fool.clone().backward();
        self.nets.autoencoder.encoder = self
            .optim_regularisation
            .step(self.nets.autoencoder.encoder.clone(), &mut grads);

        let v = read_values(vec![reconstruction, consistency, critic_loss, fool])?;
        Ok(vec![
            ("reconstruction", v[0]),
            ("consistency", v[1]),
            ("critic", v[2]),
            ("adversarial", v[3]),
        ])
    }

    fn score(&self, batch: Tensor<2>) -> Tensor<1> {
        let x = as_images(batch, self.image);
        let b = x.dims()[0];
        let recon = self.reconstruct(x.clone());
        (x - recon).abs().reshape([b as i32, -1]).mean_dim(1).reshape([b])
    }

    fn validation_loss(&self, batch: Tensor<2>) -> Tensor<1> {
        let x = as_images(batch, self.image);
        let recon = self.reconstruct(x.clone());
        crate::nn::loss::per_sample_mse(x, recon)
    }

    fn anomaly_map(&self, batch: Tensor<2>) -> Option<Tensor<4>> {
        let x = as_images(batch, self.image);
        let recon = self.reconstruct(x.clone());
        Some(abs_residual_map(x, recon))
    }

    fn trainables(&self) -> Trainables<'_> {
        Trainables {
            networks: &self.nets,
            optimizers: vec![
                &self.optim_reconstruction,
                &self.optim_critic,
                &self.optim_regularisation,
            ],
            rng: Some(&self.rng),
            average: None,
        }
    }

    fn trainables_mut(&mut self) -> TrainablesMut<'_> {
        TrainablesMut {
            networks: &mut self.nets,
            optimizers: vec![
                &mut self.optim_reconstruction,
                &mut self.optim_critic,
                &mut self.optim_regularisation,
            ],
            rng: Some(&mut self.rng),
            average: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data().try_into_vec::<f32>().unwrap()
    }

    /// The score is the mean absolute residual of the network's own reconstruction, computed
    /// by hand, and the map averages the same residual over channels; training moves the
    /// consistency term only when it is on.
    #[test]
    fn score_is_the_mean_residual_and_the_switch_switches() {
        let device = Device::flex();
        let shape = SampleShape::Image { channels: 3, height: 16, width: 16 };
        let config = ConstrainedAaeConfig {
            image_size: 16,
            latent_dim: 8,
            base_width: 8,
            ..ConstrainedAaeConfig::default()
        };
        let model = ConstrainedAae::new(config.clone(), shape, &device, 4).unwrap();
        let pixels: Vec<f32> = (0..2 * 768).map(|i| ((i * 37) % 101) as f32 / 50.0 - 1.0).collect();
        let x = Tensor::<2>::from_data(TensorData::new(pixels.clone(), [2, 768]), &device);
        let got = values(model.score(x.clone()));
        let recon = values(model.reconstruct(as_images(x.clone(), [3, 16, 16])));
        let map = values(model.anomaly_map(x.clone()).unwrap());
        for row in 0..2 {
            let residual: Vec<f64> = (0..768)
                .map(|j| (pixels[row * 768 + j] - recon[row * 768 + j]).abs() as f64)
                .collect();
            let expected = residual.iter().sum::<f64>() / 768.0;
            assert!((got[row] as f64 - expected).abs() < 1e-5, "{} vs {expected}", got[row]);
            let pixel = (residual[5] + residual[5 + 256] + residual[5 + 512]) / 3.0;
            assert!((map[row * 256 + 5] as f64 - pixel).abs() < 1e-5);
        }
        // One step with and one without the term, from the same weights: the encoders differ.
        let batch = Tensor::<2>::from_data(TensorData::new(pixels, [2, 768]), &device.clone().autodiff());
        let mut with = ConstrainedAae::new(config.clone(), shape, &device, 4).unwrap();
        let mut without = ConstrainedAae::new(
            ConstrainedAaeConfig { consistency: false, ..config },
            shape,
            &device,
            4,
        )
        .unwrap();
        let a = with.train_step(batch.clone()).unwrap();
        let b = without.train_step(batch).unwrap();
        assert_eq!(a[0], b[0], "same reconstruction loss before the step");
        assert!(a[1].1 > 0.0);
        assert_ne!(values(with.score(x.clone())), values(without.score(x)));
    }
}
