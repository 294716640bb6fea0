//! HADGAN: Jiang, Li, Xie, Du. "Discriminative Reconstruction Constrained Generative
//! Adversarial Network for Hyperspectral Anomaly Detection". IEEE TGRS 58(7), 2020
//! (MODELS.md §13). No official code was found; this is MODELS.md's feasible port of the paper,
//! every choice it leaves open written below.
//!
//! The data are a scene's pixels, one spectrum of `B` bands each, all of them unlabelled (the
//! `scene` protocol): the background dominates, so the networks learn to reconstruct background
//! spectra and reconstruct the few anomalous ones badly.
//!
//! Networks (fully connected, LeakyReLU 0.2 between layers, none after the last):
//! - encoder E: `B → 64 → 32 → 10` (the latent code z), decoder De: `10 → 32 → 64 → B`;
//! - latent discriminator D_z: `10 → 64 → 32 → 1`, telling codes of pixels from draws of the
//!   prior N(0, I) (the adversarial-autoencoder regulariser);
//! - spectral discriminator D_x: `B → 64 → 32 → 1`, telling spectra from reconstructions.
//!
//! Each step, adversarial-autoencoder style, each phase with its own Adam (lr 1e-3, β₁ 0.5):
//! 1. E and De: `L = L_R + α₁·L_zz + α₂·L_shrink` with the paper's weights α₁ = 1, α₂ = 0.1:
//!    `L_R = mean (x − x̂)²`, `x̂ = De(E(x))`; the consistency-enhanced representation
//!    `L_zz = mean (E(x) − E(x̂))²`; the shrink constraint `L_shrink = mean |E(x)|` (an ℓ1
//!    penalty on the code, which keeps background codes compact);
//! 2. D_z and D_x: `BCE(D_z(ε), 1) + BCE(D_z(z), 0) + BCE(D_x(x), 1) + BCE(D_x(x̂), 0)`, with
//!    `ε ~ N(0, I)`, z and x̂ detached;
//! 3. E and De: `λ_adv·(BCE(D_z(E(x)), 1) + BCE(D_x(x̂), 1))` (non-saturating), λ_adv = 1.
//!
//! Detection. After each epoch the residuals `r = x − x̂` of every training pixel fit a
//! Mahalanobis distance (mean and pseudo-inverse covariance, as global RX): "RX on the residual
//! image", the spectral detector of the paper. Scores (`score`, chosen at evaluation time):
//! - `combined` (default): `mean r² × RX(r)`: the residual energy and RX on the residuals
//!   fused by product (scale-free: neither term's units weigh on the ranking);
//! - `residual`: `mean r²`, the reconstruction error alone;
//! - `rx-residual`: `RX(r)` alone.
//!
//! Choices the paper leaves open or this port makes: the layer widths above (MODELS.md's
//! port), the activations, the N(0, I) prior, the three-phase schedule, the learning rate,
//! λ_adv, batch 256 pixels and 50 epochs; a linear decoder output (inputs are scaled by the
//! run: `--scaling min-max` by default, the paper's [0, 1] normalisation from the scene itself); the
//! product fusion. Not ported: the paper's spatial detector (area attribute opening and closing
//! of the three lowest-energy residual bands, then smoothing) and its fusion with the spectral
//! one, which need the scene's geometry at scoring time; the score here is spectral only.

use super::{Detector, ModelInfo, ModelSpec, StepLosses, read_values};
use crate::data::source::DataForm;
use crate::data::preprocess::Scaling;
use crate::data::{SampleShape, Samples};
use crate::linalg::{MAX_MAHALANOBIS_DIM, Mahalanobis};
use crate::nn::init::{component_rng, normal_tensor};
use crate::nn::loss::{bce_with_logits, l2, per_sample_mse};
use crate::nn::mlp::Activation;
use crate::nn::statistics::{FittedMahalanobis, WithMahalanobis};
use crate::nn::{InitScheme, Mlp, MlpConfig, NetOptimizer, Trainables, TrainablesMut, initialise};
use anyhow::ensure;
use burn::prelude::*;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// HADGAN's scores.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HadganScore {
    /// `mean r² × RX(r)`.
    Combined,
    /// `mean r²`.
    Residual,
    /// `RX(r)`.
    RxResidual,
}

/// HADGAN hyper-parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HadganConfig {
    /// Hidden widths of the encoder, input side first; the decoder mirrors them (`[64, 32]`).
    pub hidden: Vec<usize>,
    /// Size of the code z (10).
    pub latent_dim: usize,
    /// Hidden widths of both discriminators (`[64, 32]`).
    pub critic_hidden: Vec<usize>,
    /// α₁, the weight of the latent consistency `mean (E(x) − E(x̂))²` (1).
    pub consistency_weight: f64,
    /// α₂, the weight of the shrink constraint `mean |E(x)|` (0.1).
    pub shrink_weight: f64,
    /// λ_adv, the weight of the autoencoder's adversarial losses (1).
    pub adversarial_weight: f64,
    /// Adam learning rate of every phase (1e-3).
    pub learning_rate: f64,
    /// Pixels per step (256).
    pub batch_size: usize,
    /// Training epochs (50).
    pub epochs: usize,
    /// The anomaly score (`combined`).
    pub score: HadganScore,
}

impl Default for HadganConfig {
    fn default() -> Self {
        HadganConfig {
            hidden: vec![64, 32],
            latent_dim: 10,
            critic_hidden: vec![64, 32],
            consistency_weight: 1.0,
            shrink_weight: 0.1,
            adversarial_weight: 1.0,
            learning_rate: 1e-3,
            batch_size: 256,
            epochs: 50,
            score: HadganScore::Combined,
        }
    }
}

/// The spectral autoencoder and the two discriminators.
#[derive(Module, Debug)]
pub struct HadganNets {
    /// E and De.
    autoencoder: SpectralAutoencoder,
    /// D_z and D_x.
    critics: Critics,
}

/// E and De.
#[derive(Module, Debug)]
pub struct SpectralAutoencoder {
    /// Spectrum → code.
    encoder: Mlp,
    /// Code → spectrum.
    decoder: Mlp,
}

/// The latent and the spectral discriminator.
#[derive(Module, Debug)]
pub struct Critics {
    /// D_z: code → logit.
    latent: Mlp,
    /// D_x: spectrum → logit.
    spectral: Mlp,
}

impl SpectralAutoencoder {
    /// Code and reconstruction of `x`.
    fn forward(&self, x: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        let z = self.encoder.forward(x);
        let reconstruction = self.decoder.forward(z.clone());
        (z, reconstruction)
    }
}

/// The HADGAN detector.
pub struct Hadgan {
    config: HadganConfig,
    bands: usize,
    device: Device,
    nets: WithMahalanobis<HadganNets>,
    /// Adam of phase 1 (E and De).
    optim_reconstruction: NetOptimizer,
    /// Adam of phase 2 (D_z and D_x).
    optim_critics: NetOptimizer,
    /// Adam of phase 3 (E and De).
    optim_adversarial: NetOptimizer,
    /// Prior draws.
    rng: ChaCha8Rng,
}

/// An MLP of `widths` with HADGAN's activation.
fn mlp(widths: Vec<usize>, device: &Device) -> Mlp {
    MlpConfig {
        widths,
        activation: Activation::LeakyRelu(0.2),
    }
    .init(device)
}

impl Hadgan {
    /// Build the model for spectra of `shape` on `device`.
    pub fn new(
        config: HadganConfig,
        shape: SampleShape,
        device: &Device,
        seed: u64,
    ) -> crate::Result<Self> {
        let SampleShape::Table { features: bands } = shape else {
            anyhow::bail!("hadgan takes spectra (hyperspectral scenes or tables), not {shape}");
        };
        ensure!(
            bands <= MAX_MAHALANOBIS_DIM,
            "hadgan takes at most {} bands (its RX on residuals grows with their cube); these \
             spectra have {bands}",
            MAX_MAHALANOBIS_DIM
        );
        let train_device = device.clone().autodiff();
        let mut widths = vec![bands];
        widths.extend(&config.hidden);
        widths.push(config.latent_dim);
        let encoder = mlp(widths.clone(), &train_device);
        widths.reverse();
        let decoder = mlp(widths, &train_device);
        let critic = |input: usize| {
            let mut widths = vec![input];
            widths.extend(&config.critic_hidden);
            widths.push(1);
            mlp(widths, &train_device)
        };
        let nets = HadganNets {
            autoencoder: SpectralAutoencoder { encoder, decoder },
            critics: Critics {
                latent: critic(config.latent_dim),
                spectral: critic(bands),
            },
        };
        let nets = initialise(nets, InitScheme::Pytorch, &mut component_rng(seed, 1));
        let adam = || NetOptimizer::adam(config.learning_rate, 0.5, 0.999);
        Ok(Hadgan {
            optim_reconstruction: adam(),
            optim_critics: adam(),
            optim_adversarial: adam(),
            rng: component_rng(seed, 2),
            nets: WithMahalanobis {
                nets,
                fitted: FittedMahalanobis(None),
            },
            device: device.clone(),
            bands,
            config,
        })
    }

    /// The residuals `x − x̂` of a batch, through the evaluation-mode autoencoder.
    fn residuals(&self, x: Tensor<2>) -> Tensor<2> {
        let (_, reconstruction) = self.nets.nets.autoencoder.valid().forward(x.clone());
        x - reconstruction
    }
}

impl ModelSpec for HadganConfig {
    const INFO: ModelInfo = ModelInfo {
        name: "hadgan",
        group: super::ModelGroup::Detector,
        paper: "Jiang, Li, Xie, Du. Discriminative Reconstruction Constrained Generative Adversarial Network for Hyperspectral Anomaly Detection. IEEE TGRS 2020",
        summary: "spectral adversarial autoencoder (latent and spectral discriminators, latent consistency, shrink constraint); score = residual energy × RX on the residuals",
        inputs: "hyperspectral scenes (one row per pixel), tables",
    };

    type Detector = Hadgan;
    const SCORE_SETTINGS: &'static [&'static str] = &["score"];

    fn takes(&self) -> &'static [DataForm] {
        DataForm::ROWS
    }

    fn build(&self, shape: SampleShape, device: &Device, seed: u64) -> crate::Result<Hadgan> {
        Hadgan::new(self.clone(), shape, device, seed)
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

    /// Tables and spectra: the paper's [0, 1] normalisation of the scene.
    fn table_scaling(&self) -> Scaling {
        Scaling::MinMax
    }
}

impl Detector for Hadgan {
    fn train_step(&mut self, x: Tensor<2>) -> crate::Result<StepLosses> {
        let c = &self.config;
        let b = x.dims()[0];

        // 1. E and De: reconstruction, consistency, shrink.
        let ae = &self.nets.nets.autoencoder;
        let (z, reconstruction) = ae.forward(x.clone());
        let loss_r = l2(x.clone(), reconstruction.clone());
        let loss_zz = l2(z.clone(), ae.encoder.forward(reconstruction));
        let loss_shrink = z.abs().mean();
        let loss = loss_r.clone()
            + loss_zz.clone() * c.consistency_weight
            + loss_shrink.clone() * c.shrink_weight;
        let mut grads = loss.backward();
        self.nets.nets.autoencoder = self
            .optim_reconstruction
            .step(self.nets.nets.autoencoder.clone(), &mut grads);

        // 2. D_z and D_x: prior draws and spectra real, codes and reconstructions fake.
        let (z, reconstruction) = self.nets.nets.autoencoder.forward(x.clone());
        let prior = normal_tensor(&mut self.rng, [b, c.latent_dim], 1.0, &x.device());
        let critics = &self.nets.nets.critics;
        let critic_loss = bce_with_logits(critics.latent.forward(prior), true)
            + bce_with_logits(critics.latent.forward(z.detach()), false)
            + bce_with_logits(critics.spectral.forward(x.clone()), true)
            + bce_with_logits(critics.spectral.forward(reconstruction.detach()), false);
        let mut grads = critic_loss.clone().backward();
        self.nets.nets.critics = self
            .optim_critics
            .step(self.nets.nets.critics.clone(), &mut grads);

        // 3. E and De: fool both discriminators (their weights constants here).
        let critics = self.nets.nets.critics.clone().no_grad();
        let (z, reconstruction) = self.nets.nets.autoencoder.forward(x);
        let fool = (bce_with_logits(critics.latent.forward(z), true)
            + bce_with_logits(critics.spectral.forward(reconstruction), true))
            * c.adversarial_weight;
        let mut grads = fool.clone().backward();
        self.nets.nets.autoencoder = self
            .optim_adversarial
            .step(self.nets.nets.autoencoder.clone(), &mut grads);

        let v = read_values(vec![loss_r, loss_zz, loss_shrink, critic_loss, fool])?;
        Ok(vec![
            ("reconstruction", v[0]),
            ("consistency", v[1]),
            ("shrink", v[2]),
            ("critics", v[3]),
            ("adversarial", v[4]),
        ])
    }

    fn fit_statistics(&mut self, train: &Samples) -> crate::Result<()> {
        ensure!(
            train.shape.len() == self.bands,
            "hadgan was built for {} bands, the training spectra have {}",
            self.bands,
            train.shape.len()
        );
        let mut residuals = Vec::with_capacity(train.values.len());
        for rows in train.values.chunks(4096 * self.bands) {
            let n = rows.len() / self.bands;
            let x = Tensor::<2>::from_data(TensorData::new(rows.to_vec(), [n, self.bands]), &self.device);
            residuals.extend(
                self.residuals(x)
                    .into_data()
                    .try_into_vec::<f32>()
                    .map_err(|e| anyhow::anyhow!("reading residuals: {e:?}"))?,
            );
        }
        self.nets.fitted = FittedMahalanobis(Some(Mahalanobis::fit(&residuals, self.bands)?));
        Ok(())
    }

    fn score(&self, x: Tensor<2>) -> Tensor<1> {
        let [b, _] = x.dims();
        let device = x.device();
        let residuals = self.residuals(x);
        let energy = residuals.clone().powi_scalar(2).mean_dim(1).reshape([b]);
        if self.config.score == HadganScore::Residual {
            return energy;
        }
        let rows = residuals.into_data().try_into_vec::<f32>().unwrap_or_default();
        // The loop fits the distance before it validates or scores anything; before that,
        // RX counts as 1 (the combined score is then the residual energy).
        let rx: Vec<f32> = match self.nets.fitted.distances(&rows) {
            Some(d) => d.into_iter().map(|d| d as f32).collect(),
            None => vec![1.0; b],
        };
        let rx = Tensor::<1>::from_data(TensorData::new(rx, [b]), &device);
        match self.config.score {
            HadganScore::RxResidual => rx,
            _ => energy * rx,
        }
    }

    fn validation_loss(&self, x: Tensor<2>) -> Tensor<1> {
        let (_, reconstruction) = self.nets.nets.autoencoder.valid().forward(x.clone());
        per_sample_mse(x, reconstruction)
    }

    fn load_weights(&mut self, bytes: Vec<u8>) -> crate::Result<()> {
        use crate::nn::Weights;
        self.nets.load_bytes(bytes)?;
        if let Some(m) = &self.nets.fitted.0 {
            ensure!(
                m.dim() == self.bands,
                "this RX on residuals is for {} bands, the model for {}",
                m.dim(),
                self.bands
            );
        }
        Ok(())
    }

    fn trainables(&self) -> Trainables<'_> {
        Trainables {
            networks: &self.nets,
            optimizers: vec![
                &self.optim_reconstruction,
                &self.optim_critics,
                &self.optim_adversarial,
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
                &mut self.optim_critics,
                &mut self.optim_adversarial,
            ],
            rng: Some(&mut self.rng),
            average: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(t: Tensor<1>) -> Vec<f32> {
        t.into_data().try_into_vec::<f32>().unwrap()
    }

    /// The three scores from one trained state, against a hand computation: the residual
    /// energy from the autoencoder's own reconstruction, RX from a Mahalanobis distance fitted
    /// to the training residuals, their product for `combined`.
    #[test]
    fn scores_are_residual_energy_rx_on_residuals_and_their_product() {
        let device = Device::flex();
        let shape = SampleShape::Table { features: 4 };
        let train_values: Vec<f32> = (0..64)
            .flat_map(|i| {
                let t = i as f32 * 0.21;
                [t.sin(), t.cos(), (2.0 * t).sin() * 0.5, 0.3 * t.cos() + 0.1]
            })
            .collect();
        let train = Samples::unlabelled(shape, train_values.clone());
        let mut model = HadganConfig::default().build(shape, &device, 3).unwrap();
        model.fit_statistics(&train).unwrap();
        let x = Tensor::<2>::from_floats([[0.5f32, -0.2, 0.1, 0.9], [2.0, 1.0, -1.0, 0.0]], &device);

        let all = Tensor::<2>::from_data(TensorData::new(train_values, [64, 4]), &device);
        let train_residuals = model.residuals(all).into_data().try_into_vec::<f32>().unwrap();
        let distance = Mahalanobis::fit(&train_residuals, 4).unwrap();
        let residuals = model.residuals(x.clone()).into_data().try_into_vec::<f32>().unwrap();
        let mut scores = Vec::new();
        for score in [HadganScore::Residual, HadganScore::RxResidual, HadganScore::Combined] {
            model.config.score = score;
            scores.push(values(model.score(x.clone())));
        }
        for i in 0..2 {
            let r = &residuals[i * 4..(i + 1) * 4];
            let energy = r.iter().map(|v| v * v).sum::<f32>() / 4.0;
            let rx = distance.distance(r) as f32;
            assert!((scores[0][i] - energy).abs() <= 1e-5 * energy.max(1e-3));
            assert!((scores[1][i] - rx).abs() <= 1e-4 * rx.max(1.0), "{} vs {rx}", scores[1][i]);
            assert!((scores[2][i] - energy * rx).abs() <= 1e-4 * (energy * rx).max(1e-3));
        }
    }
}
