//! VAE with the scores of Lu & Xu, "Anomaly Detection for Skin Disease Images Using Variational
//! Autoencoder" (arXiv:1807.01349, 2018; MODELS.md §9), and An & Cho's reconstruction
//! probability ("Variational Autoencoder based Anomaly Detection using Reconstruction
//! Probability", SNU Data Mining Center, 2015).
//!
//! Networks: images use the DCGAN encoder (its last convolution giving `2·d` channels: the
//! posterior mean and log-variance) and the DCGAN decoder from `d` latent channels
//! ([`crate::nn::dcgan`]); tables an MLP `D → hidden… → 2·d` and `d → …hidden → D`.
//! Posterior `q(z|x) = N(μ(x), diag σ²(x))` (log σ² clamped to [−20, 20], which also stops its
//! gradient outside), prior `N(0, I)`, Gaussian decoder `p(x|z) = N(x̂(z), s² I)` with a fixed
//! standard deviation `s` (`decoder_std`, 1; Lu & Xu do not give their variance). The DCGAN
//! decoder ends in tanh, so on images x̂ ∈ [−1, 1]: image VAEs train with `--scaling
//! minus-one-to-one` by default; under standardisation the likelihood cannot fit the bright
//! pixels it puts above 1 (the scores still rank, but their likelihood is not a fit; MNIST
//! one-class costs 0.2 AUROC, `docs/results/vae.md`). Images are 32 px by
//! default (the paper's skin images ≈ 64 px: `image_size`).
//!
//! Training: the negative ELBO with one reparameterised sample `z = μ + σ·ε` per image,
//! `½‖x − x̂(z)‖²/s² + KL(q‖p)` (constants dropped), Adam. Validation criterion: the same at
//! `z = μ` (deterministic).
//!
//! Scores (`score`, chosen at score time: one trained VAE gives all five):
//! - `reconstruction`: `(1/D)‖x − x̂(μ)‖²`;
//! - `kl`: `KL(q(z|x) ‖ N(0, I)) = ½ Σ (μ² + σ² − log σ² − 1)`;
//! - `elbo`: `−[(1/k) Σᵢ log p(x|zᵢ) − KL]`;
//! - `iwae` (default): `−log (1/k) Σᵢ p(x|zᵢ) p(zᵢ) / q(zᵢ|x)`, the importance-weighted bound
//!   with `k = importance_samples` (100), computed by log-sum-exp;
//! - `reconstruction-probability`: `−log (1/L) Σₗ p(x|zₗ)`, `L = probability_samples` (10).
//!   Deviation: An & Cho's decoder learns a per-dimension variance σ(z); with the fixed `s`
//!   here the probability is a soft minimum of the L squared errors, and its ranking depends
//!   on `s`.
//!
//! The `zᵢ = μ + σ·εᵢ` use one fixed bank of standard normal `εᵢ` drawn from the model's seed
//! (common random numbers), so that a sample's score depends neither on its batch nor on when
//! it is scored; the `k` decodes of a batch run as one batched pass (in chunks of at most
//! 4 096 decodes, or one sample's `k` when `k` is larger). Map: `(x − x̂(μ))²` averaged over
//! channels.

use super::{Detector, ModelInfo, ModelSpec, StepLosses};
use crate::data::preprocess::Scaling;
use crate::data::SampleShape;
use crate::nn::dcgan::{DcganDecoder, DcganDecoderConfig, DcganEncoder, DcganEncoderConfig};
use crate::nn::init::{component_rng, normal_tensor};
use crate::nn::loss::kl_to_standard_normal;
use crate::nn::mlp::Activation;
use crate::nn::{InitScheme, Mlp, MlpConfig, NetOptimizer, Trainables, TrainablesMut, initialise};
use burn::prelude::*;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// Which score the VAE gives.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum VaeScore {
    /// Mean squared error of the reconstruction at the posterior mean.
    Reconstruction,
    /// The KL term of the ELBO.
    Kl,
    /// The negative ELBO (k samples).
    Elbo,
    /// The negative importance-weighted bound (k samples).
    #[default]
    Iwae,
    /// An & Cho's negative log reconstruction probability (L samples).
    ReconstructionProbability,
}

/// VAE hyper-parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct VaeConfig {
    /// Side images are resized to (32).
    pub image_size: usize,
    /// Latent size `d` (images 32, tables 8: "tens of dimensions").
    pub latent_dim: Option<usize>,
    /// Base width of the DCGAN blocks (64).
    pub base_width: usize,
    /// Hidden widths of the table encoder, input side first; the decoder mirrors them (`[64]`).
    pub hidden: Vec<usize>,
    /// The decoder's fixed standard deviation `s` (1).
    pub decoder_std: f64,
    /// Adam learning rate (1e-3).
    pub learning_rate: f64,
    /// Training batch size (64).
    pub batch_size: usize,
    /// Training epochs (20).
    pub epochs: usize,
    /// The score (`iwae`).
    pub score: VaeScore,
    /// Importance samples `k` of the IWAE bound and the ELBO (100; at most 10 000).
    pub importance_samples: usize,
    /// Samples `L` of the reconstruction probability (10; at most 10 000).
    pub probability_samples: usize,
}

impl Default for VaeConfig {
    fn default() -> Self {
        VaeConfig {
            image_size: 32,
            latent_dim: None,
            base_width: 64,
            hidden: vec![64],
            decoder_std: 1.0,
            learning_rate: 1e-3,
            batch_size: 64,
            epochs: 20,
            score: VaeScore::Iwae,
            importance_samples: 100,
            probability_samples: 10,
        }
    }
}

/// Most samples of either score: their decodes are held at once for one sample.
const MAX_SAMPLES: usize = 10_000;

/// Decodes a scoring pass holds at once.
const DECODES_PER_CHUNK: usize = 4_096;

/// DCGAN encoder (to `2·d` channels) and decoder.
#[derive(Module, Debug)]
pub struct ConvHalves {
    /// Image → `[2d, 1, 1]`.
    encoder: DcganEncoder,
    /// `[d, 1, 1]` → image.
    decoder: DcganDecoder,
}

/// MLP encoder (to `2·d`) and decoder.
#[derive(Module, Debug)]
pub struct MlpHalves {
    /// Row → `2d`.
    encoder: Mlp,
    /// `d` → row.
    decoder: Mlp,
}

/// The encoder and decoder, convolutional or fully connected.
// One per model and never moved in a hot loop: the size difference between variants is harmless.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum VaeNet {
    /// For images.
    Conv(ConvHalves),
    /// For tables.
    Dense(MlpHalves),
}

impl VaeNet {
    /// The posterior's mean and log-variance, `[B, d]` each, of a flattened batch.
    fn encode(&self, x: Tensor<2>, image: Option<[usize; 3]>, d: usize) -> (Tensor<2>, Tensor<2>) {
        let b = x.dims()[0];
        let stats = match (self, image) {
            (VaeNet::Conv(n), Some([c, h, w])) => {
                n.encoder.forward(x.reshape([b, c, h, w])).reshape([b, 2 * d])
            }
            (VaeNet::Dense(n), _) => n.encoder.forward(x),
            (VaeNet::Conv(_), None) => unreachable!("conv VAE without an image shape"),
        };
        let mean = stats.clone().slice([0..b, 0..d]);
        // Bounded log-variance: exp stays finite whatever the encoder outputs.
        let log_var = stats.slice([0..b, d..2 * d]).clamp(-20.0, 20.0);
        (mean, log_var)
    }

    /// Decode latents `[N, d]` to flattened samples `[N, D]`.
    fn decode(&self, z: Tensor<2>, image: Option<[usize; 3]>) -> Tensor<2> {
        let [n, d] = z.dims();
        match (self, image) {
            (VaeNet::Conv(halves), Some([c, h, w])) => halves
                .decoder
                .forward(z.reshape([n, d, 1, 1]))
                .reshape([n, c * h * w]),
            (VaeNet::Dense(halves), _) => halves.decoder.forward(z),
            (VaeNet::Conv(_), None) => unreachable!("conv VAE without an image shape"),
        }
    }
}

/// The VAE detector.
pub struct Vae {
    config: VaeConfig,
    image: Option<[usize; 3]>,
    latent: usize,
    net: VaeNet,
    optim: NetOptimizer,
    /// Training noise.
    rng: ChaCha8Rng,
    /// The fixed standard normal draws of every score, `[max(k, L), d]`.
    bank: Tensor<2>,
}

/// `log Σ exp(v)` along dimension 1 of `[B, K]`, `[B]`, stable.
fn log_sum_exp(v: Tensor<2>) -> Tensor<1> {
    let b = v.dims()[0];
    let top = v.clone().max_dim(1);
    let sum = (v - top.clone()).exp().sum_dim(1);
    (top + sum.log()).reshape([b])
}

impl Vae {
    /// Build the VAE for samples of `shape` on `device`.
    pub fn new(config: VaeConfig, shape: SampleShape, device: &Device, seed: u64) -> crate::Result<Self> {
        config.check()?;
        let train_device = device.clone().autodiff();
        let mut rng = component_rng(seed, 1);
        let (net, image, latent) = match shape {
            SampleShape::Image {
                channels,
                height,
                width,
            } => {
                anyhow::ensure!(
                    height == config.image_size && width == config.image_size,
                    "vae expects {0}×{0} images, got {height}×{width}",
                    config.image_size
                );
                crate::nn::dcgan::check_image_size(config.image_size)?;
                let d = config.latent_dim.unwrap_or(32);
                let net = VaeNet::Conv(ConvHalves {
                    encoder: DcganEncoderConfig {
                        image_size: config.image_size,
                        channels,
                        base_width: config.base_width,
                        latent_dim: 2 * d,
                    }
                    .init(&train_device),
                    decoder: DcganDecoderConfig {
                        image_size: config.image_size,
                        channels,
                        base_width: config.base_width,
                        latent_dim: d,
                    }
                    .init(&train_device),
                });
                (
                    initialise(net, InitScheme::Dcgan, &mut rng),
                    Some([channels, height, width]),
                    d,
                )
            }
            SampleShape::Table { features } => {
                let d = config.latent_dim.unwrap_or(8);
                let mut widths = vec![features];
                widths.extend(&config.hidden);
                widths.push(2 * d);
                let encoder = MlpConfig {
                    widths: widths.clone(),
                    activation: Activation::Relu,
                }
                .init(&train_device);
                let mut back = vec![d];
                back.extend(config.hidden.iter().rev());
                back.push(features);
                let decoder = MlpConfig {
                    widths: back,
                    activation: Activation::Relu,
                }
                .init(&train_device);
                (
                    initialise(
                        VaeNet::Dense(MlpHalves { encoder, decoder }),
                        InitScheme::Pytorch,
                        &mut rng,
                    ),
                    None,
                    d,
                )
            }
        };
        let draws = config.importance_samples.max(config.probability_samples).max(1);
        let bank = normal_tensor(&mut component_rng(seed, 3), [draws, latent], 1.0, device);
        Ok(Vae {
            optim: NetOptimizer::adam(config.learning_rate, 0.9, 0.999),
            rng: component_rng(seed, 2),
            config,
            image,
            latent,
            net,
            bank,
        })
    }

    /// `log p(x|z)` for `samples` latents per row: `x` `[B, D]`, latents `[B·S, d]` (row-major
    /// by sample), `[B, S]`.
    fn log_likelihood(&self, net: &VaeNet, x: Tensor<2>, z: Tensor<2>, samples: usize) -> Tensor<2> {
        let [b, dim] = x.dims();
        let decoded = net.decode(z, self.image).reshape([b, samples, dim]);
        let s2 = self.config.decoder_std.powi(2);
        let squared = (decoded - x.unsqueeze_dim::<3>(1)).powi_scalar(2).sum_dim(2);
        let constant = 0.5 * dim as f64 * (2.0 * std::f64::consts::PI * s2).ln();
        (squared.reshape([b, samples]) * (-0.5 / s2)) - constant
    }

    /// The posterior samples `zᵢ = μ + σ·εᵢ` of the first `samples` bank draws, `[B·S, d]`,
    /// and the draws, `[1, S, d]`.
    fn posterior_samples(
        &self,
        mean: Tensor<2>,
        log_var: Tensor<2>,
        samples: usize,
    ) -> (Tensor<2>, Tensor<3>) {
        let [b, d] = mean.dims();
        let eps = self
            .bank
            .clone()
            .slice([0..samples, 0..d])
            .unsqueeze_dim::<3>(0);
        let std = (log_var * 0.5).exp().unsqueeze_dim::<3>(1);
        let z = mean.unsqueeze_dim::<3>(1) + std * eps.clone();
        (z.reshape([b * samples, d]), eps)
    }

    /// `log p(x|zᵢ) + log p(zᵢ) − log q(zᵢ|x)` for the first `k` bank draws, `[B, k]`.
    fn log_importance_weights(
        &self,
        net: &VaeNet,
        x: Tensor<2>,
        mean: Tensor<2>,
        log_var: Tensor<2>,
        k: usize,
    ) -> Tensor<2> {
        let b = x.dims()[0];
        let (z, eps) = self.posterior_samples(mean, log_var.clone(), k);
        let d = self.latent;
        let log_px = self.log_likelihood(net, x, z.clone(), k);
        let half_log_2pi = 0.5 * (2.0 * std::f64::consts::PI).ln() * d as f64;
        let log_prior = z.powi_scalar(2).sum_dim(1).reshape([b, k]) * -0.5 - half_log_2pi;
        // log N(z; μ, σ²) with z = μ + σ·ε: −½‖ε‖² − ½ Σ log σ² − (d/2) log 2π.
        let log_q = eps.powi_scalar(2).sum_dim(2).reshape([1, k]) * -0.5
            - (log_var.sum_dim(1) * 0.5)
            - half_log_2pi;
        log_px + log_prior - log_q
    }

    /// The configured score of a batch small enough to decode at once.
    fn score_chunk(&self, x: Tensor<2>) -> Tensor<1> {
        let net = self.net.valid();
        let b = x.dims()[0];
        let (mean, log_var) = net.encode(x.clone(), self.image, self.latent);
        match self.config.score {
            VaeScore::Reconstruction => {
                let recon = net.decode(mean, self.image);
                crate::nn::loss::per_sample_mse(x, recon)
            }
            VaeScore::Kl => kl_to_standard_normal(mean, log_var),
            VaeScore::Elbo => {
                let k = self.config.importance_samples;
                let (z, _) = self.posterior_samples(mean.clone(), log_var.clone(), k);
                let expected = self
                    .log_likelihood(&net, x, z, k)
                    .mean_dim(1)
                    .reshape([b]);
                kl_to_standard_normal(mean, log_var) - expected
            }
            VaeScore::Iwae => {
                let k = self.config.importance_samples;
                let log_w = self.log_importance_weights(&net, x, mean, log_var, k);
                (log_sum_exp(log_w) - (k as f64).ln()).neg()
            }
            VaeScore::ReconstructionProbability => {
                let l = self.config.probability_samples;
                let (z, _) = self.posterior_samples(mean, log_var, l);
                let log_px = self.log_likelihood(&net, x, z, l);
                (log_sum_exp(log_px) - (l as f64).ln()).neg()
            }
        }
    }

    /// Decodes one sample costs under the configured score.
    fn decodes_per_sample(&self) -> usize {
        match self.config.score {
            VaeScore::Reconstruction | VaeScore::Kl => 1,
            VaeScore::Elbo | VaeScore::Iwae => self.config.importance_samples,
            VaeScore::ReconstructionProbability => self.config.probability_samples,
        }
    }
}

impl ModelSpec for VaeConfig {
    const INFO: ModelInfo = ModelInfo {
        name: "vae",
        group: super::ModelGroup::Detector,
        paper: "Lu, Xu. Anomaly Detection for Skin Disease Images Using Variational Autoencoder. arXiv:1807.01349, 2018; An, Cho. Variational Autoencoder based Anomaly Detection using Reconstruction Probability. 2015",
        summary: "VAE (DCGAN conv or MLP, Gaussian decoder); score = −IWAE bound with k importance samples (or reconstruction, KL, −ELBO, −log reconstruction probability); residual map",
        inputs: "images, tables",
    };
    const IMAGE_SETTINGS: &'static [&'static str] = &["image_size", "base_width"];
    const TABLE_SETTINGS: &'static [&'static str] = &["hidden"];

    type Detector = Vae;
    const SCORE_SETTINGS: &'static [&'static str] =
        &["score", "importance_samples", "probability_samples"];

    fn build(&self, shape: SampleShape, device: &Device, seed: u64) -> crate::Result<Vae> {
        Vae::new(self.clone(), shape, device, seed)
    }

    fn epochs(&self) -> usize {
        self.epochs
    }

    fn batch_size(&self) -> usize {
        self.batch_size
    }

    /// The decoder's σ positive, the sample counts within 1–10 000.
    fn check(&self) -> crate::Result<()> {
        anyhow::ensure!(
            self.decoder_std.is_finite() && self.decoder_std > 0.0,
            "vae: decoder_std must be a positive number, got {}",
            self.decoder_std
        );
        anyhow::ensure!(
            (1..=MAX_SAMPLES).contains(&self.importance_samples)
                && (1..=MAX_SAMPLES).contains(&self.probability_samples),
            "vae: importance_samples and probability_samples must be within 1–{MAX_SAMPLES}, got \
             {} and {}",
            self.importance_samples,
            self.probability_samples
        );
        Ok(())
    }

    fn image_size(&self) -> Option<usize> {
        Some(self.image_size)
    }

    /// Images: [−1, 1], the range of the tanh decoder, so that the likelihood can fit every pixel.
    fn image_scaling(&self) -> Scaling {
        Scaling::MinusOneToOne
    }
}

impl Detector for Vae {
    fn train_step(&mut self, x: Tensor<2>) -> crate::Result<StepLosses> {
        let [b, _] = x.dims();
        let (mean, log_var) = self.net.encode(x.clone(), self.image, self.latent);
        let eps = normal_tensor(&mut self.rng, [b, self.latent], 1.0, &mean.device());
        let z = mean.clone() + (log_var.clone() * 0.5).exp() * eps;
        let recon = self.net.decode(z, self.image);
        let s2 = self.config.decoder_std.powi(2);
        let squared = (x - recon).powi_scalar(2).sum_dim(1).reshape([b]) * (0.5 / s2);
        let kl = kl_to_standard_normal(mean, log_var);
        let loss = (squared.clone() + kl.clone()).mean();
        let values = [
            loss.clone().into_scalar(),
            squared.mean().into_scalar(),
            kl.mean().into_scalar(),
        ];
        let mut grads = loss.backward();
        self.net = self.optim.step(self.net.clone(), &mut grads);
        Ok(vec![
            ("neg_elbo", values[0]),
            ("reconstruction", values[1]),
            ("kl", values[2]),
        ])
    }

    fn score(&self, batch: Tensor<2>) -> Tensor<1> {
        let rows = DECODES_PER_CHUNK / self.decodes_per_sample();
        super::score_in_chunks(batch, rows, |chunk| self.score_chunk(chunk))
    }

    fn validation_loss(&self, x: Tensor<2>) -> Tensor<1> {
        let net = self.net.valid();
        let b = x.dims()[0];
        let (mean, log_var) = net.encode(x.clone(), self.image, self.latent);
        let recon = net.decode(mean.clone(), self.image);
        let s2 = self.config.decoder_std.powi(2);
        let squared = (x - recon).powi_scalar(2).sum_dim(1).reshape([b]) * (0.5 / s2);
        squared + kl_to_standard_normal(mean, log_var)
    }

    fn anomaly_map(&self, x: Tensor<2>) -> Option<Tensor<4>> {
        let [c, h, w] = self.image?;
        let net = self.net.valid();
        let b = x.dims()[0];
        let (mean, _) = net.encode(x.clone(), self.image, self.latent);
        let recon = net.decode(mean, self.image);
        Some((x - recon).powi_scalar(2).reshape([b, c, h, w]).mean_dim(1))
    }

    fn trainables(&self) -> Trainables<'_> {
        Trainables {
            networks: &self.net,
            optimizers: vec![&self.optim],
            rng: Some(&self.rng),
            average: None,
        }
    }

    fn trainables_mut(&mut self) -> TrainablesMut<'_> {
        TrainablesMut {
            networks: &mut self.net,
            optimizers: vec![&mut self.optim],
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

    fn table_vae(score: VaeScore, k: usize) -> Vae {
        let config = VaeConfig {
            score,
            importance_samples: k,
            probability_samples: k,
            latent_dim: Some(2),
            hidden: vec![5],
            decoder_std: 0.7,
            ..VaeConfig::default()
        };
        Vae::new(config, SampleShape::Table { features: 3 }, &Device::flex(), 11).unwrap()
    }

    /// Every score against its formula computed by hand from the network's own encodings and
    /// decodings: the IWAE bound as a brute-force log-mean-exp over the k importance weights,
    /// the ELBO, the reconstruction probability, the KL and the reconstruction error.
    #[test]
    fn scores_follow_their_formulas() {
        let device = Device::flex();
        let x = Tensor::<2>::from_floats([[0.3f32, -1.0, 2.0], [1.5, 0.2, -0.4]], &device);
        let xs = values(x.clone());
        let k = 7;
        let reference = table_vae(VaeScore::Iwae, k);
        let net = reference.net.valid();
        let (mean, log_var) = net.encode(x.clone(), None, 2);
        let (mean, log_var) = (values(mean), values(log_var));
        let bank = values(reference.bank.clone());
        let s2 = 0.49f64;
        let ln2pi = (2.0 * std::f64::consts::PI).ln();
        let decode = |z: [f32; 2]| -> Vec<f32> {
            values(net.decode(Tensor::<2>::from_floats([z], &device), None))
        };
        let log_px = |row: usize, xhat: &[f32]| -> f64 {
            let sq: f64 = (0..3).map(|j| (xs[row * 3 + j] - xhat[j]) as f64).map(|v| v * v).sum();
            -0.5 * sq / s2 - 1.5 * (2.0 * std::f64::consts::PI * s2).ln()
        };
        for (score, name) in [
            (VaeScore::Iwae, "iwae"),
            (VaeScore::Elbo, "elbo"),
            (VaeScore::ReconstructionProbability, "probability"),
            (VaeScore::Kl, "kl"),
            (VaeScore::Reconstruction, "reconstruction"),
        ] {
            let vae = table_vae(score, k);
            let got = values(vae.score(x.clone()));
            for row in 0..2 {
                let (m, lv) = (&mean[row * 2..row * 2 + 2], &log_var[row * 2..row * 2 + 2]);
                let kl: f64 = (0..2)
                    .map(|j| 0.5 * ((m[j] as f64).powi(2) + (lv[j] as f64).exp() - lv[j] as f64 - 1.0))
                    .sum();
                let mut weights = Vec::new();
                let mut likelihoods = Vec::new();
                for i in 0..k {
                    let eps = [bank[i * 2], bank[i * 2 + 1]];
                    let z: [f32; 2] = [0, 1].map(|j| m[j] + (0.5 * lv[j]).exp() * eps[j]);
                    let lp = log_px(row, &decode(z));
                    let log_prior: f64 = z.iter().map(|&v| -0.5 * (v as f64).powi(2)).sum::<f64>() - ln2pi;
                    let log_q: f64 = (0..2)
                        .map(|j| -0.5 * (eps[j] as f64).powi(2) - 0.5 * lv[j] as f64)
                        .sum::<f64>()
                        - ln2pi;
                    weights.push(lp + log_prior - log_q);
                    likelihoods.push(lp);
                }
                let log_mean_exp = |v: &[f64]| -> f64 {
                    (v.iter().map(|w| w.exp()).sum::<f64>() / v.len() as f64).ln()
                };
                let expected = match score {
                    VaeScore::Iwae => -log_mean_exp(&weights),
                    VaeScore::Elbo => kl - likelihoods.iter().sum::<f64>() / k as f64,
                    VaeScore::ReconstructionProbability => -log_mean_exp(&likelihoods),
                    VaeScore::Kl => kl,
                    VaeScore::Reconstruction => {
                        let xhat = decode([m[0], m[1]]);
                        (0..3).map(|j| ((xs[row * 3 + j] - xhat[j]) as f64).powi(2)).sum::<f64>() / 3.0
                    }
                };
                let tolerance = 1e-4 * expected.abs().max(1.0);
                assert!(
                    (got[row] as f64 - expected).abs() < tolerance,
                    "{name} row {row}: {} vs {expected}",
                    got[row]
                );
            }
        }
    }

    /// The IWAE bound is at least the sampled ELBO of the same importance weights (Jensen:
    /// log mean exp w ≥ mean w), and a chunked score equals the whole batch's.
    #[test]
    fn iwae_bounds_the_elbo_and_chunks_agree() {
        let device = Device::flex();
let rows: Vec<f32> = (0..50)
            .flat_map(|i| [i as f32 / 10.0, -1.0, (i % 7) as f32])
            .collect();
        let x = Tensor::<2>::from_data(TensorData::new(rows, [50, 3]), &device);
        let vae = table_vae(VaeScore::Iwae, 100);
        let iwae = values(vae.score(x.clone()));
        let net = vae.net.valid();
        let (mean, log_var) = net.encode(x.clone(), None, 2);
        let sampled_elbo = values(
            vae.log_importance_weights(&net, x.clone(), mean, log_var, 100)
                .mean_dim(1)
                .reshape([50]),
        );
        for i in 0..50 {
            let neg_elbo = -sampled_elbo[i];
            assert!(iwae[i] <= neg_elbo + 1e-4, "{i}: {} > {neg_elbo}", iwae[i]);
            assert!(iwae[i] < neg_elbo, "{i}: the bound should be strictly tighter here");
        }
        // Invalid sample counts and decoder spreads are refused when built.
        for (k, std) in [(0, 1.0), (10_001, 1.0), (10, 0.0), (10, f64::NAN)] {
            let config = VaeConfig {
                importance_samples: k,
                decoder_std: std,
                ..VaeConfig::default()
            };
            let shape = SampleShape::Table { features: 3 };
            assert!(Vae::new(config, shape, &device, 0).is_err(), "k {k} std {std}");
        }
        let big = table_vae(VaeScore::Iwae, 1000); // 4 rows a chunk: 13 chunks
        let whole = values(big.score(x.clone()));
        let alone = values(big.score(x.slice([7..8, 0..3])));
        assert!((whole[7] - alone[0]).abs() < 1e-4 * whole[7].abs().max(1.0));
    }
}
