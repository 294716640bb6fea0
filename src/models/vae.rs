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
//! standard deviation `s` (`decoder_std`, 1; Lu & Xu do not give their variance), or, on
//! images, `decoder: discretized-logistic`: each pixel a logistic of the decoder's location
//! and log-scale (twice the channels out; the log-scale floored at −7) discretised to the 256
//! 8-bit levels of `[−1, 1]` (PixelCNN++'s likelihood with one mixture component), so that
//! `p(x|z)` is a probability of the 8-bit image and can be sharp where the decoder is sure, as
//! the likelihood models of the out-of-distribution papers are (it needs `--scaling
//! minus-one-to-one`; a value between levels, as a resized image has, is moved to its
//! nearest level before the VAE sees it). The DCGAN
//! decoder ends in tanh, so on images x̂ ∈ [−1, 1]: image VAEs train with `--scaling
//! minus-one-to-one` by default; under standardisation the likelihood cannot fit the bright
//! pixels it puts above 1 (the scores still rank, but their likelihood is not a fit; MNIST
//! one-class costs 0.2 AUROC, `docs/results/vae.md`). Images are 32 px by
//! default (the paper's skin images ≈ 64 px: `image_size`).
//!
//! Training: the negative ELBO with one reparameterised sample `z = μ + σ·ε` per image,
//! `½‖x − x̂(z)‖²/s² + KL(q‖p)` (constants dropped; the logistic decoder's whole
//! `−log p(x|z)`), Adam. Validation criterion: the same at
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
//!   on `s` (the logistic decoder learns a per-pixel scale, as theirs).
//!
//! The `zᵢ = μ + σ·εᵢ` use one fixed bank of standard normal `εᵢ` drawn from the model's seed
//! (common random numbers), so that a sample's score depends neither on its batch nor on when
//! it is scored; the `k` decodes of a batch run as one batched pass (in chunks of at most
//! 4 096 decodes, or one sample's `k` when `k` is larger). Map: `(x − x̂(μ))²` averaged over
//! channels (`x̂` the logistic's location under that decoder).

use super::{Detector, ModelInfo, ModelSpec, StepLosses};
use crate::data::source::DataForm;
use crate::data::preprocess::Scaling;
use crate::data::SampleShape;
use crate::nn::dcgan::{DcganDecoder, DcganDecoderConfig, DcganEncoder, DcganEncoderConfig};
use crate::nn::init::{component_rng, normal_tensor};
use crate::nn::loss::kl_to_standard_normal;
use crate::nn::mlp::Activation;
use crate::nn::{InitScheme, Mlp, MlpConfig, NetOptimizer, Trainables, TrainablesMut, initialise};
use burn::prelude::*;
use burn::tensor::activation::{log_sigmoid, sigmoid, softplus};
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

/// The decoder's likelihood `p(x|z)`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum VaeDecoder {
    /// `N(x̂(z), s² I)` with the fixed `s` of `decoder_std`: a scaled squared error.
    #[default]
    Gaussian,
    /// Each value a discretised logistic over the 256 8-bit levels of `[−1, 1]`, its location
    /// and log-scale from the decoder (Salimans et al., PixelCNN++, ICLR 2017, with one
    /// mixture component): a probability of the 8-bit image that can be sharp where the
    /// decoder is sure (flat backgrounds). Images scaled `minus-one-to-one` only.
    DiscretizedLogistic,
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
    /// The decoder's likelihood (`gaussian`; `discretized-logistic` for images).
    pub decoder: VaeDecoder,
    /// The Gaussian decoder's fixed standard deviation `s` (unset: 1); the logistic decoder
    /// learns its scales and refuses it.
    pub decoder_std: Option<f64>,
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
            decoder: VaeDecoder::Gaussian,
            decoder_std: None,
            learning_rate: 1e-3,
            batch_size: 64,
            epochs: 20,
            score: VaeScore::Iwae,
            importance_samples: 100,
            probability_samples: 10,
        }
    }
}

/// The Gaussian decoder's standard deviation unless set.
const DEFAULT_DECODER_STD: f64 = 1.0;

impl VaeConfig {
    /// The Gaussian decoder's standard deviation `s`.
    pub fn gaussian_std(&self) -> f64 {
        self.decoder_std.unwrap_or(DEFAULT_DECODER_STD)
    }
}

/// Most samples of either score: their decodes are held at once for one sample.
const MAX_SAMPLES: usize = 10_000;

/// Decodes a scoring pass holds at once.
const DECODES_PER_CHUNK: usize = 4_096;

/// The logistic decoder's smallest log-scale (PixelCNN++'s): a middle level's probability is
/// at most `2σ(e⁷/255) − 1 ≈ 0.973`, an end level's `σ(e⁷/255) ≈ 0.987`, so that no pixel's
/// loss goes to zero with its scale.
const MIN_LOG_SCALE: f64 = -7.0;

/// Half an 8-bit level on the `[−1, 1]` scale.
const HALF_LEVEL: f64 = 1.0 / 255.0;

/// A decode: each value's location `x̂` `[N, D]` (the reconstruction) and, for the logistic
/// decoder, its log-scale.
struct Decoded {
    location: Tensor<2>,
    log_scale: Option<Tensor<2>>,
}

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

    /// Decode latents `[N, d]` under `decoder`: the logistic decoder's network gives `2C`
    /// channels, the locations (through tanh, as the Gaussian decoder's) and the log-scales.
    fn decode_with(&self, z: Tensor<2>, image: Option<[usize; 3]>, decoder: VaeDecoder) -> Decoded {
        match (decoder, self, image) {
            (VaeDecoder::DiscretizedLogistic, VaeNet::Conv(halves), Some([c, h, w])) => {
                let [n, d] = z.dims();
                let out = halves.decoder.forward_unbounded(z.reshape([n, d, 1, 1]));
                let location = out.clone().slice([0..n, 0..c]).tanh().reshape([n, c * h * w]);
                let log_scale = out
                    .slice([0..n, c..2 * c])
                    .reshape([n, c * h * w])
                    .clamp_min(MIN_LOG_SCALE);
                Decoded {
                    location,
                    log_scale: Some(log_scale),
                }
            }
            _ => Decoded {
                location: self.decode(z, image),
                log_scale: None,
            },
        }
    }
}

/// `log P(x)` of each value `x` (on the 8-bit levels of `[−1, 1]`) under a logistic of
/// `location` and `log_scale` discretised to those levels: the mass of `[x − h, x + h]`
/// (`h` half a level), the lowest level taking everything below and the highest everything
/// above, as PixelCNN++. A level's mass is computed on the logistic's lower tail (the
/// distribution is symmetric), where the two CDFs do not cancel; where it is still below
/// 10⁻⁵, the density at `x` times the level's width.
fn discretized_logistic_log_prob(x: Tensor<2>, location: Tensor<2>, log_scale: Tensor<2>) -> Tensor<2> {
    let centred = x.clone() - location;
    let inverse_scale = log_scale.clone().neg().exp();
    let upper = (centred.clone() + HALF_LEVEL) * inverse_scale.clone();
    let lower = (centred.clone() - HALF_LEVEL) * inverse_scale.clone();
    let lowest_level = log_sigmoid(upper);
    let highest_level = softplus(lower, 1.0).neg();
    let tail = centred.clone().abs().neg();
    let mass = sigmoid((tail.clone() + HALF_LEVEL) * inverse_scale.clone())
        - sigmoid((tail - HALF_LEVEL) * inverse_scale.clone());
    let middle = centred * inverse_scale;
    let log_density = middle.clone() - log_scale - softplus(middle, 1.0) * 2.0;
    let inner = mass
        .clone()
        .clamp_min(1e-12)
        .log()
        .mask_where(mass.lower_elem(1e-5), log_density + (2.0 * HALF_LEVEL).ln());
    inner
        .mask_where(x.clone().lower_elem(-0.999), lowest_level)
        .mask_where(x.greater_elem(0.999), highest_level)
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
                // The logistic decoder's scales are channels beside the locations.
                let outputs = match config.decoder {
                    VaeDecoder::Gaussian => channels,
                    VaeDecoder::DiscretizedLogistic => 2 * channels,
                };
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
                        channels: outputs,
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
                anyhow::ensure!(
                    config.decoder == VaeDecoder::Gaussian,
                    "vae: the discretized-logistic decoder models 8-bit images; tables take the \
                     gaussian decoder"
                );
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
        if self.config.decoder == VaeDecoder::DiscretizedLogistic {
            let each = x.unsqueeze_dim::<3>(1).expand([b, samples, dim]).reshape([b * samples, dim]);
            return self
                .log_prob(&net.decode_with(z, self.image, self.config.decoder), each)
                .reshape([b, samples]);
        }
        let decoded = net.decode(z, self.image).reshape([b, samples, dim]);
        let s2 = self.config.gaussian_std().powi(2);
        let squared = (decoded - x.unsqueeze_dim::<3>(1)).powi_scalar(2).sum_dim(2);
        let constant = 0.5 * dim as f64 * (2.0 * std::f64::consts::PI * s2).ln();
        (squared.reshape([b, samples]) * (-0.5 / s2)) - constant
    }

    /// The model's input: under the logistic decoder each value moved to its nearest 8-bit
    /// level of `[−1, 1]`, so that a value between levels (an image resized to the model's
    /// side) is seen, encoded and scored as a pixel of an 8-bit image; as it is otherwise.
    fn on_levels(&self, x: Tensor<2>) -> Tensor<2> {
        match self.config.decoder {
            VaeDecoder::Gaussian => x,
            VaeDecoder::DiscretizedLogistic => crate::nn::levels::on_levels(x),
        }
    }

    /// `log p(x|z)` of each row `[N, D]` under its decode, `[N]` (the logistic decoder).
    fn log_prob(&self, decoded: &Decoded, x: Tensor<2>) -> Tensor<1> {
        let n = x.dims()[0];
        let log_scale = decoded.log_scale.clone().expect("the logistic decoder's scales");
        discretized_logistic_log_prob(x, decoded.location.clone(), log_scale)
            .sum_dim(1)
            .reshape([n])
    }

    /// The ELBO's reconstruction term `−log p(x|z)` of each row, `[B]`, for latents `z`
    /// `[B, d]`: the Gaussian's `½‖x − x̂‖²/s²` (constants dropped), the logistic's whole
    /// negative log-probability.
    fn reconstruction_loss(&self, net: &VaeNet, x: Tensor<2>, z: Tensor<2>) -> Tensor<1> {
        let b = x.dims()[0];
        match self.config.decoder {
            VaeDecoder::Gaussian => {
                let recon = net.decode(z, self.image);
                let s2 = self.config.gaussian_std().powi(2);
                (x - recon).powi_scalar(2).sum_dim(1).reshape([b]) * (0.5 / s2)
            }
            VaeDecoder::DiscretizedLogistic => self
                .log_prob(&net.decode_with(z, self.image, self.config.decoder), x)
                .neg(),
        }
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
                let recon = net.decode_with(mean, self.image, self.config.decoder).location;
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
        summary: "VAE (DCGAN conv or MLP; Gaussian or, for images, discretised logistic decoder); score = −IWAE bound with k importance samples (or reconstruction, KL, −ELBO, −log reconstruction probability); residual map",
        inputs: "images, tables (decoder gaussian; discretized-logistic: images only)",
    };
    const IMAGE_SETTINGS: &'static [&'static str] = &["image_size", "base_width", "decoder"];
    const TABLE_SETTINGS: &'static [&'static str] = &["hidden"];

    type Detector = Vae;
    const SCORE_SETTINGS: &'static [&'static str] =
        &["score", "importance_samples", "probability_samples"];

    const FORMS_CHOSEN_BY: Option<&'static str> = Some("decoder");

    /// The discretized-logistic decoder models 8-bit images only.
    fn takes(&self) -> &'static [DataForm] {
        match self.decoder {
            VaeDecoder::Gaussian => DataForm::EVERY,
            VaeDecoder::DiscretizedLogistic => DataForm::IMAGES,
        }
    }

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
        if let Some(std) = self.decoder_std {
            anyhow::ensure!(
                std.is_finite() && std > 0.0,
                "vae: decoder_std must be a positive number, got {std}"
            );
            anyhow::ensure!(
                self.decoder == VaeDecoder::Gaussian,
                "vae: decoder_std {std} is the gaussian decoder's fixed spread; the \
                 discretized-logistic decoder learns its scales: leave decoder_std out"
            );
        }
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

    /// The logistic decoder's levels are the 8-bit pixels' on `[−1, 1]`.
    fn check_image_scaling(&self, scaling: Scaling) -> crate::Result<()> {
        anyhow::ensure!(
            self.decoder == VaeDecoder::Gaussian || scaling == Scaling::MinusOneToOne,
            "vae: the discretized-logistic decoder gives the probability of 8-bit pixels scaled \
             to [−1, 1] (--scaling minus-one-to-one, the default), not {scaling}"
        );
        Ok(())
    }
}

impl Detector for Vae {
    fn train_step(&mut self, x: Tensor<2>) -> crate::Result<StepLosses> {
        let [b, _] = x.dims();
        let x = self.on_levels(x);
        let (mean, log_var) = self.net.encode(x.clone(), self.image, self.latent);
        let eps = normal_tensor(&mut self.rng, [b, self.latent], 1.0, &mean.device());
        let z = mean.clone() + (log_var.clone() * 0.5).exp() * eps;
        let squared = self.reconstruction_loss(&self.net, x, z);
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
        let batch = self.on_levels(batch);
        let rows = DECODES_PER_CHUNK / self.decodes_per_sample();
        super::score_in_chunks(batch, rows, |chunk| self.score_chunk(chunk))
    }

    fn validation_loss(&self, x: Tensor<2>) -> Tensor<1> {
        let x = self.on_levels(x);
        let net = self.net.valid();
        let (mean, log_var) = net.encode(x.clone(), self.image, self.latent);
        self.reconstruction_loss(&net, x, mean.clone()) + kl_to_standard_normal(mean, log_var)
    }

    fn anomaly_map(&self, x: Tensor<2>) -> Option<Tensor<4>> {
        let [c, h, w] = self.image?;
        let x = self.on_levels(x);
        let net = self.net.valid();
        let b = x.dims()[0];
        let (mean, _) = net.encode(x.clone(), self.image, self.latent);
        let recon = net.decode_with(mean, self.image, self.config.decoder).location;
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

    /// `log p(z) − log q(z|x)` by hand for a 2-d latent `z = μ + σ·ε` with log-variances `lv`.
    fn prior_over_posterior(z: [f32; 2], eps: [f32; 2], lv: &[f32]) -> f64 {
        let ln2pi = (2.0 * std::f64::consts::PI).ln();
        let log_prior: f64 = z.iter().map(|&v| -0.5 * (v as f64).powi(2)).sum::<f64>() - ln2pi;
        let log_q: f64 = (0..2)
            .map(|j| -0.5 * (eps[j] as f64).powi(2) - 0.5 * lv[j] as f64)
            .sum::<f64>()
            - ln2pi;
        log_prior - log_q
    }

    fn table_vae(score: VaeScore, k: usize) -> Vae {
        let config = VaeConfig {
            score,
            importance_samples: k,
            probability_samples: k,
            latent_dim: Some(2),
            hidden: vec![5],
            decoder_std: Some(0.7),
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
                    weights.push(lp + prior_over_posterior(z, eps, lv));
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

    /// The discretised logistic's log-probability of a level, in f64 from its CDF
    /// `F(v) = σ((v − m)/s)`: the level's bin `[x − h, x + h]`, the end levels taking the tails.
    fn logistic_level(x: f64, m: f64, log_s: f64) -> f64 {
        let cdf = |v: f64| 1.0 / (1.0 + (-(v - m) / log_s.exp()).exp());
        let h = 1.0 / 255.0;
        let p = if x < -0.999 {
            cdf(x + h)
        } else if x > 0.999 {
            1.0 - cdf(x - h)
        } else {
            cdf(x + h) - cdf(x - h)
        };
        p.ln()
    }

    /// The 256 levels' probabilities sum to one, each equals the CDF's difference by hand
    /// (the end levels the tails), a sharp logistic puts almost all its mass on its level,
    /// and a level far from it gets a finite log-probability near the density × its width.
    #[test]
    fn discretized_logistic_is_a_distribution_over_the_levels() {
        let device = Device::flex();
        let levels: Vec<f32> = (0..256).map(|i| 2.0 * i as f32 / 255.0 - 1.0).collect();
        for (m, log_s) in [(0.1f32, -2.0f32), (-0.95, -3.5), (0.99, -1.0), (0.0, 0.5)] {
            let x = Tensor::<2>::from_data(TensorData::new(levels.clone(), [1, 256]), &device);
            let loc = Tensor::<2>::full([1, 256], m, &device);
            let scale = Tensor::<2>::full([1, 256], log_s, &device);
            let got = values(discretized_logistic_log_prob(x, loc, scale));
            let total: f64 = got.iter().map(|&v| (v as f64).exp()).sum();
            assert!((total - 1.0).abs() < 1e-4, "m {m} log s {log_s}: total {total}");
            for (i, &level) in levels.iter().enumerate() {
                let by_hand = logistic_level(level as f64, m as f64, log_s as f64);
                if by_hand > -10.0 {
                    assert!(
                        (got[i] as f64 - by_hand).abs() < 1e-3 * by_hand.abs().max(1.0),
                        "m {m} log s {log_s} level {i}: {} vs {by_hand}",
                        got[i]
                    );
                }
            }
        }
        // At the floor −7 of the log-scale a middle level gets its most: 2σ(e⁷/255) − 1 ≈ 0.973.
        let at = |x: f32, m: f32, log_s: f32| {
            let t = |v: f32| Tensor::<2>::from_floats([[v]], &device);
            values(discretized_logistic_log_prob(t(x), t(m), t(log_s)))[0] as f64
        };
        let level = levels[100];
        let most = (2.0 / (1.0 + (-(7f64.exp()) / 255.0).exp()) - 1.0).ln();
        let sure = at(level, level, -7.0);
        assert!((sure - most).abs() < 1e-4 && most > -0.03, "{sure} vs {most}");
        // Far from the location: the mass underflows, the density × width stands in for it.
        let (x, m, log_s) = (0.9f64, -0.9f64, -4.0f64);
        let z = (x - m) / log_s.exp();
        let log_density = -z - log_s - 2.0 * (-z).exp().ln_1p();
        let by_hand = log_density + (2.0f64 / 255.0).ln();
        let got = at(x as f32, m as f32, log_s as f32);
        assert!(got.is_finite() && (got - by_hand).abs() < 1e-4 * by_hand.abs(), "{got} vs {by_hand}");
    }

    fn image_vae(decoder: VaeDecoder, k: usize) -> Vae {
        let config = VaeConfig {
            image_size: 8,
            base_width: 4,
            latent_dim: Some(2),
            decoder,
            importance_samples: k,
            ..VaeConfig::default()
        };
        let shape = SampleShape::Image {
            channels: 1,
            height: 8,
            width: 8,
        };
        Vae::new(config, shape, &Device::flex(), 5).unwrap()
    }

    /// The logistic decoder's IWAE score by hand: each importance weight's `log p(x|zᵢ)` the
    /// sum of the 64 pixels' level log-probabilities under the decoder's locations and scales
    /// (from the network's own decodes), the prior and posterior terms as the Gaussian's; the
    /// reconstruction score uses the locations.
    #[test]
    fn logistic_decoder_scores_follow_their_formulas() {
        let device = Device::flex();
        let mut rng = component_rng(9, 0);
        let pixels: Vec<f32> = (0..2 * 64)
            .map(|_| 2.0 * rand::Rng::random_range(&mut rng, 0..256u32) as f32 / 255.0 - 1.0)
            .collect();
        let x = Tensor::<2>::from_data(TensorData::new(pixels.clone(), [2, 64]), &device);
        let k = 5;
        let vae = image_vae(VaeDecoder::DiscretizedLogistic, k);
        let net = vae.net.valid();
        let (mean, log_var) = net.encode(x.clone(), vae.image, 2);
        let (mean, log_var) = (values(mean), values(log_var));
        let bank = values(vae.bank.clone());
        let got = values(vae.score(x.clone()));
        for row in 0..2 {
            let (m, lv) = (&mean[row * 2..row * 2 + 2], &log_var[row * 2..row * 2 + 2]);
            let mut weights = Vec::new();
            for i in 0..k {
                let eps = [bank[i * 2], bank[i * 2 + 1]];
                let z: [f32; 2] = [0, 1].map(|j| m[j] + (0.5 * lv[j]).exp() * eps[j]);
                let decoded = net.decode_with(
                    Tensor::<2>::from_floats([z], &device),
                    vae.image,
                    VaeDecoder::DiscretizedLogistic,
                );
                let (loc, scale) = (values(decoded.location), values(decoded.log_scale.unwrap()));
                assert!(scale.iter().all(|&s| s >= MIN_LOG_SCALE as f32));
                let log_px: f64 = (0..64)
                    .map(|p| logistic_level(pixels[row * 64 + p] as f64, loc[p] as f64, scale[p] as f64))
                    .sum();
                weights.push(log_px + prior_over_posterior(z, eps, lv));
            }
            let top = weights.iter().cloned().fold(f64::MIN, f64::max);
            let expected = -(top + (weights.iter().map(|w| (w - top).exp()).sum::<f64>() / k as f64).ln());
            assert!(
                (got[row] as f64 - expected).abs() < 1e-4 * expected.abs(),
                "row {row}: {} vs {expected}",
                got[row]
            );
        }
        // A value between levels is scored as its nearest level.
        let shifted: Vec<f32> = pixels.iter().map(|v| (v + 0.3 * 2.0 / 255.0).min(1.0)).collect();
        let shifted = Tensor::<2>::from_data(TensorData::new(shifted, [2, 64]), &device);
        assert_eq!(values(vae.score(shifted)), got);
        // The decode: the locations are the tanh of the network's first channel, the
        // log-scales its second, floored.
        let z = Tensor::<2>::from_floats([[0.3f32, -1.2], [2.0, 0.5]], &device);
        let decoded = net.decode_with(z.clone(), vae.image, VaeDecoder::DiscretizedLogistic);
        let VaeNet::Conv(halves) = &net else {
            panic!("an image VAE is convolutional")
        };
        let raw = values(halves.decoder.forward_unbounded(z.reshape([2, 2, 1, 1])));
        let (loc, scale) = (values(decoded.location), values(decoded.log_scale.unwrap()));
        for row in 0..2 {
            for p in 0..64 {
                let (l, s) = (raw[row * 128 + p], raw[row * 128 + 64 + p]);
                assert!((loc[row * 64 + p] - l.tanh()).abs() < 1e-6);
                assert_eq!(scale[row * 64 + p], s.max(MIN_LOG_SCALE as f32));
            }
        }
        // The reconstruction score is the mean squared error to the locations at z = μ.
        let mut reconstruction = image_vae(VaeDecoder::DiscretizedLogistic, k);
        reconstruction.config.score = VaeScore::Reconstruction;
        let mse = values(reconstruction.score(x.clone()));
        let at_mean = net.decode_with(
            Tensor::<2>::from_data(TensorData::new(mean.clone(), [2, 2]), &device),
            vae.image,
            VaeDecoder::DiscretizedLogistic,
        );
        let loc = values(at_mean.location);
        for row in 0..2 {
            let by_hand: f64 = (0..64)
                .map(|p| ((pixels[row * 64 + p] - loc[row * 64 + p]) as f64).powi(2))
                .sum::<f64>()
                / 64.0;
            assert!((mse[row] as f64 - by_hand).abs() < 1e-5, "{} vs {by_hand}", mse[row]);
        }
    }

    /// The logistic decoder: a training step lowers nothing to NaN, the weights round-trip,
    /// and what it cannot model is refused: tables, a Gaussian spread beside it, another
    /// image scaling.
    #[test]
    fn logistic_decoder_trains_round_trips_and_refuses_what_it_cannot_model() {
        let device = Device::flex();
        let mut vae = image_vae(VaeDecoder::DiscretizedLogistic, 3);
        let pixels: Vec<f32> = (0..4 * 64).map(|i| if i % 3 == 0 { 1.0 } else { -1.0 }).collect();
        let batch = |device: &Device| Tensor::<2>::from_data(TensorData::new(pixels.clone(), [4, 64]), device);
        let losses = vae.train_step(batch(&device.clone().autodiff())).unwrap();
        assert!(losses.iter().all(|(_, v)| v.is_finite()), "{losses:?}");
        let x = batch(&device);
        let scores = values(vae.score(x.clone()));
        assert!(scores.iter().all(|s| s.is_finite()));
        let saved = vae.save_weights().unwrap();
        let mut fresh = image_vae(VaeDecoder::DiscretizedLogistic, 3);
        fresh.load_weights(saved).unwrap();
        assert_eq!(values(fresh.score(x)), scores);

        let table = VaeConfig {
            decoder: VaeDecoder::DiscretizedLogistic,
            ..VaeConfig::default()
        };
        let refused = Vae::new(table.clone(), SampleShape::Table { features: 3 }, &device, 0);
        assert!(refused.err().unwrap().to_string().contains("gaussian decoder"));
        let model = super::super::ModelConfig::new(table.clone());
        assert!(model.check_settings_for(false).unwrap_err().to_string().contains("decoder"));
        model.check_settings_for(true).unwrap();
        let with_std = VaeConfig {
            decoder_std: Some(1.0),
            ..table
        };
        let message = super::super::ModelConfig::new(with_std).validate().unwrap_err().to_string();
        assert!(message.contains("decoder_std"), "{message}");
        model.check_image_scaling(Scaling::MinusOneToOne).unwrap();
        let message = model.check_image_scaling(Scaling::MinMax).unwrap_err().to_string();
        assert!(message.contains("minus-one-to-one"), "{message}");
        let gaussian = super::super::ModelConfig::new(VaeConfig::default());
        gaussian.check_image_scaling(Scaling::Standardise).unwrap();
    }

    /// Settings written before the decoder choice load as the Gaussian decoder with their
    /// spread; unset, the spread is 1.
    #[test]
    fn settings_without_a_decoder_load_as_the_gaussian() {
        let old: VaeConfig = serde_json::from_str(r#"{"decoder_std": 0.1, "epochs": 3}"#).unwrap();
        assert_eq!((old.decoder, old.decoder_std), (VaeDecoder::Gaussian, Some(0.1)));
        assert_eq!(old.gaussian_std(), 0.1);
        let unset: VaeConfig = serde_json::from_str("{}").unwrap();
        assert_eq!(unset.gaussian_std(), 1.0);
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
                decoder_std: Some(std),
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
