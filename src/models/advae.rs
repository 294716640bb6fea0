//! adVAE: Wang, Du, Xie, Chen, Hu, Liu. "adVAE: A self-adversarial variational autoencoder
//! with Gaussian anomaly prior knowledge for anomaly detection". Knowledge-Based Systems 190,
//! 2020 (arXiv:1903.00904; MODELS.md §12).
//!
//! Networks, as the official `models/self_adVAE.py` (tables of `D` features, min-max scaled to
//! [0, 1]: `--scaling min-max`, the default):
//! - encoder E: `D → h → h → (μ, log σ²)`, ReLU between, `h = ⌊D/2⌋`, latent size `r`;
//! - generator G: `r → h → h → D`, ReLU between, sigmoid out;
//! - Gaussian transformer T: `[μ, log σ²] → 2r → 2r → (μ_T, log σ²_T)`, sigmoid between: it
//!   turns a normal latent distribution into a "nearby anomalous" one.
//!
//! Losses (per sample, then averaged over the batch; the re-implementation `YeongHyeon/adVAE`,
//! which the official README points to), with `z ~ N(μ, σ²)`, `z_T ~ N(μ_T, σ²_T)`,
//! `x_r = G(z)`, `x_Tr = G(z_T)`, `KL(·)` the divergence of E's posterior from N(0, I) and
//! `‖·‖²` summed over features:
//! - T and G, one Adam: `λ_T·KL(N(μ, σ²) ‖ N(μ_T, σ²_T)) + λ_G·(‖x − x_r‖² + KL(E(x_r))
//!   + [m_x − ‖x_r − x_Tr‖²]₊ + [m_z − KL(E(x_Tr))]₊)`, λ_T = 1e-22, λ_G = 10;
//! - E, its own Adam: `KL(E(x)) + ‖x − x_r‖² + [m_z − KL(E(x_r))]₊ + [m_z − KL(E(x_Tr))]₊`.
//!
//! G learns to reconstruct normal data and to make transformed latents decode at least `m_x`
//! away; E learns to give such decodes (and, IntroVAE-style, G's reconstructions) a KL of at
//! least `m_z`. Each step updates T and G first, then E on the same samples (the paper's
//! two-step iteration); E's gradient also flows through `x_r = G(z)` back into its own
//! posterior, as in the re-implementation (IntroVAE stops it there).
//!
//! Score, as the notebook: `‖x − (1/L) Σₗ G(μ + σ·εₗ)‖²` with `L = score_samples` (1000); the
//! `εₗ` are one fixed bank drawn from the seed, so a sample's score depends neither on its batch
//! nor on when it is scored. The notebook's threshold is the 0.9-quantile of a KDE of the
//! training scores: `--threshold kde:0.9` ([`crate::threshold::kde`]).
//!
//! Deviations and choices (the official training code is not published):
//! - margins `m_x = m_z = 1`, learning rate 1e-3, batch 32, 50 epochs: the re-implementation's
//!   margins and learning rate; epochs ours;
//! - latent size `r = round(D/3)` (the official loader's 11, 5, 12 and 7 for letter,
//!   pendigits, satellite and cardio; it uses 16 for optdigits' 64 features: `latent_dim`);
//! - log-variances clamped to [−20, 20] so that every exponential stays finite;
//! - validation criterion (best epoch): `‖x − G(μ)‖² + KL(E(x))`, deterministic.

use super::{Detector, ModelInfo, ModelSpec, StepLosses, read_values};
use crate::data::source::DataForm;
use crate::data::preprocess::Scaling;
use crate::data::SampleShape;
use crate::nn::init::{component_rng, normal_tensor};
use crate::nn::loss::kl_to_standard_normal;
use crate::nn::mlp::Activation;
use crate::nn::{InitScheme, Mlp, MlpConfig, NetOptimizer, Trainables, TrainablesMut, initialise};
use crate::nn::dense::forward_batch_invariant;
use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::sigmoid;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// adVAE hyper-parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AdvaeConfig {
    /// Latent size `r` (default `round(D/3)`).
    pub latent_dim: Option<usize>,
    /// Hidden width `h` of E and G (default `⌊D/2⌋`).
    pub hidden_width: Option<usize>,
    /// Margin `m_x` on the generator's distance between normal and transformed decodes (1).
    pub margin_x: f64,
    /// Margin `m_z` on the encoder's KL of generated samples (1).
    pub margin_z: f64,
    /// Weight λ_G of the generator's loss (10).
    pub generator_weight: f64,
    /// Weight λ_T of the transformer's KL term (1e-22).
    pub transformer_weight: f64,
    /// Adam learning rate of both optimisers (1e-3).
    pub learning_rate: f64,
    /// Training batch size (32).
    pub batch_size: usize,
    /// Training epochs (50).
    pub epochs: usize,
    /// Latent samples `L` the score averages decodes over (1000; at most 10 000).
    pub score_samples: usize,
}

impl Default for AdvaeConfig {
    fn default() -> Self {
        AdvaeConfig {
            latent_dim: None,
            hidden_width: None,
            margin_x: 1.0,
            margin_z: 1.0,
            generator_weight: 10.0,
            transformer_weight: 1e-22,
            learning_rate: 1e-3,
            batch_size: 32,
            epochs: 50,
            score_samples: 1000,
        }
    }
}

/// Most latent samples of the score.
const MAX_SCORE_SAMPLES: usize = 10_000;

/// Decodes a scoring pass holds at once.
const DECODES_PER_CHUNK: usize = 16_384;

/// The Gaussian transformer T: `[μ, log σ²]` → `(μ_T, log σ²_T)`.
#[derive(Module, Debug)]
pub struct Transformer {
    first: Linear,
    second: Linear,
    out: Linear,
}

impl Transformer {
    /// `[B, r]` twice → `[B, r]` twice.
    fn forward(&self, mean: Tensor<2>, log_var: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        let h = sigmoid(forward_batch_invariant(&self.first, Tensor::cat(vec![mean, log_var], 1)));
        let h = sigmoid(forward_batch_invariant(&self.second, h));
        split_posterior(forward_batch_invariant(&self.out, h))
    }
}

/// G and T, which one optimiser trains against E.
#[derive(Module, Debug)]
pub struct GenerativeNets {
    /// G: latent → row (before the sigmoid).
    generator: Mlp,
    /// T.
    transformer: Transformer,
}

impl GenerativeNets {
    /// G's rows of latents `[N, r]`, in (0, 1).
    fn generate(&self, z: Tensor<2>) -> Tensor<2> {
        sigmoid(self.generator.forward(z))
    }
}

/// The three networks.
#[derive(Module, Debug)]
pub struct AdvaeNets {
    /// E: row → `[μ, log σ²]`.
    encoder: Mlp,
    /// G and T.
    generative: GenerativeNets,
}

impl AdvaeNets {
    /// E's posterior of rows `[B, D]`.
    fn encode(&self, x: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        split_posterior(self.encoder.forward(x))
    }

    /// G's rows of latents `[N, r]`, in (0, 1).
    fn generate(&self, z: Tensor<2>) -> Tensor<2> {
        self.generative.generate(z)
    }
}

/// `[B, 2r]` → mean and (clamped) log-variance, `[B, r]` each.
fn split_posterior(stats: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
    let [b, two_r] = stats.dims();
    let r = two_r / 2;
    let mean = stats.clone().slice([0..b, 0..r]);
    let log_var = stats.slice([0..b, r..two_r]).clamp(-20.0, 20.0);
    (mean, log_var)
}

/// `KL(N(μ, σ²) ‖ N(μ_T, σ²_T))` per sample, `[B]`.
fn kl_between(mean: Tensor<2>, log_var: Tensor<2>, mean_t: Tensor<2>, log_var_t: Tensor<2>) -> Tensor<1> {
    let b = mean.dims()[0];
    let terms = (log_var_t.clone() - log_var.clone()) * 0.5
        + (log_var.exp() + (mean_t - mean).powi_scalar(2)) / (log_var_t.exp() * 2.0)
        - 0.5;
    terms.sum_dim(1).reshape([b])
}

/// `‖a − b‖²` per row, `[B]`.
fn squared_distance(a: Tensor<2>, b: Tensor<2>) -> Tensor<1> {
    let n = a.dims()[0];
    (a - b).powi_scalar(2).sum_dim(1).reshape([n])
}

/// `[m − v]₊`.
fn hinge(margin: f64, v: Tensor<1>) -> Tensor<1> {
    (v.neg() + margin).clamp_min(0.0)
}

/// The adVAE detector.
pub struct Advae {
    config: AdvaeConfig,
    latent: usize,
    nets: AdvaeNets,
    /// Adam of T and G.
    optim_tg: NetOptimizer,
    /// Adam of E.
    optim_e: NetOptimizer,
    /// Training noise.
    rng: ChaCha8Rng,
    /// The score's fixed standard normal draws, `[L, r]`.
    bank: Tensor<2>,
}

impl Advae {
    /// Build adVAE for rows of `shape` on `device`.
    pub fn new(config: AdvaeConfig, shape: SampleShape, device: &Device, seed: u64) -> crate::Result<Self> {
        let SampleShape::Table { features } = shape else {
            anyhow::bail!("advae takes tables (its networks are the official fully connected ones), but the data holds {shape}");
        };
        anyhow::ensure!(
            (1..=MAX_SCORE_SAMPLES).contains(&config.score_samples),
            "advae: score_samples must be within 1–{MAX_SCORE_SAMPLES}, got {}",
            config.score_samples
        );
        for (name, value) in [
            ("margin_x", config.margin_x),
            ("margin_z", config.margin_z),
            ("generator_weight", config.generator_weight),
            ("transformer_weight", config.transformer_weight),
        ] {
            anyhow::ensure!(
                value.is_finite() && value >= 0.0,
                "advae: {name} must be a finite number ≥ 0, got {value}"
            );
        }
        let r = config
            .latent_dim
            .unwrap_or(((features as f64 / 3.0).round() as usize).max(1));
        let h = config.hidden_width.unwrap_or((features / 2).max(1));
        let train_device = device.clone().autodiff();
        let mlp = |widths: Vec<usize>| {
            MlpConfig {
                widths,
                activation: Activation::Relu,
            }
            .init(&train_device)
        };
        let linear = |i, o| LinearConfig::new(i, o).init(&train_device);
        let nets = AdvaeNets {
            encoder: mlp(vec![features, h, h, 2 * r]),
            generative: GenerativeNets {
                generator: mlp(vec![r, h, h, features]),
                transformer: Transformer {
                    first: linear(2 * r, 2 * r),
                    second: linear(2 * r, 2 * r),
                    out: linear(2 * r, 2 * r),
                },
            },
        };
        let nets = initialise(nets, InitScheme::Pytorch, &mut component_rng(seed, 1));
        let bank = normal_tensor(&mut component_rng(seed, 3), [config.score_samples, r], 1.0, device);
        Ok(Advae {
            optim_tg: NetOptimizer::adam(config.learning_rate, 0.9, 0.999),
            optim_e: NetOptimizer::adam(config.learning_rate, 0.9, 0.999),
            rng: component_rng(seed, 2),
            config,
            latent: r,
            nets,
            bank,
        })
    }

    /// The score of a batch small enough to decode at once.
    fn score_chunk(&self, x: Tensor<2>) -> Tensor<1> {
        let nets = self.nets.valid();
        let [b, d] = x.dims();
        let (l, r) = (self.config.score_samples, self.latent);
        let (mean, log_var) = nets.encode(x.clone());
        let std = (log_var * 0.5).exp().unsqueeze_dim::<3>(1);
        let z = mean.unsqueeze_dim::<3>(1) + std * self.bank.clone().unsqueeze_dim::<3>(0);
        let decoded = nets.generate(z.reshape([b * l, r])).reshape([b, l, d]);
        let average = decoded.mean_dim(1).reshape([b, d]);
        squared_distance(x, average)
    }
}

impl ModelSpec for AdvaeConfig {
    const INFO: ModelInfo = ModelInfo {
        name: "advae",
        group: super::ModelGroup::Detector,
        paper: "Wang, Du, Xie, Chen, Hu, Liu. adVAE: A self-adversarial variational autoencoder with Gaussian anomaly prior knowledge for anomaly detection. Knowledge-Based Systems 2020",
        summary: "VAE with a Gaussian transformer making near-normal anomalous latents; E and G trained adversarially with margins; score = ‖x − mean of L decodes‖²; threshold kde:0.9",
        inputs: "tables",
    };

    type Detector = Advae;
    const SCORE_SETTINGS: &'static [&'static str] = &["score_samples"];

    fn takes(&self) -> &'static [DataForm] {
        DataForm::ROWS
    }

    fn build(&self, shape: SampleShape, device: &Device, seed: u64) -> crate::Result<Advae> {
        Advae::new(self.clone(), shape, device, seed)
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

    /// Tables and spectra: the official code's [0, 1], the range of its sigmoid generator.
    fn table_scaling(&self) -> Scaling {
        Scaling::MinMax
    }
}

impl Detector for Advae {
    fn train_step(&mut self, x: Tensor<2>) -> crate::Result<StepLosses> {
        let [b, _] = x.dims();
        let device = x.device();
        let eps = normal_tensor(&mut self.rng, [b, self.latent], 1.0, &device);
        let eps_t = normal_tensor(&mut self.rng, [b, self.latent], 1.0, &device);
        let sample = |mean: Tensor<2>, log_var: Tensor<2>, eps: Tensor<2>| mean + (log_var * 0.5).exp() * eps;
        let c = &self.config;

        // Step 1: T and G (E's weights are constants here).
        let nets = &self.nets;
        let encoder = nets.encoder.clone().no_grad();
        let (mean, log_var) = split_posterior(encoder.forward(x.clone()));
        let (mean, log_var) = (mean.detach(), log_var.detach());
        let (mean_t, log_var_t) = nets.generative.transformer.forward(mean.clone(), log_var.clone());
        let x_r = nets.generate(sample(mean.clone(), log_var.clone(), eps.clone()));
        let x_tr = nets.generate(sample(mean_t.clone(), log_var_t.clone(), eps_t.clone()));
        let (mean_r, log_var_r) = split_posterior(encoder.forward(x_r.clone()));
        let (mean_tr, log_var_tr) = split_posterior(encoder.forward(x_tr.clone()));
        let loss_t = kl_between(mean, log_var, mean_t, log_var_t);
        let kl_tr = kl_to_standard_normal(mean_tr, log_var_tr);
        let loss_g = squared_distance(x.clone(), x_r.clone())
            + kl_to_standard_normal(mean_r, log_var_r)
            + hinge(c.margin_x, squared_distance(x_r, x_tr))
            + hinge(c.margin_z, kl_tr.clone());
        let loss_tg = (loss_t * c.transformer_weight + loss_g.clone() * c.generator_weight).mean();
        let mut grads = loss_tg.clone().backward();
        self.nets.generative = self.optim_tg.step(self.nets.generative.clone(), &mut grads);

        // Step 2: E, on the same draws through the updated T and G (their weights constants).
        let nets = &self.nets;
        let generative = nets.generative.clone().no_grad();
        let (mean, log_var) = nets.encode(x.clone());
        let (mean_t, log_var_t) = generative
            .transformer
            .forward(mean.clone(), log_var.clone());
        let x_r = generative.generate(sample(mean.clone(), log_var.clone(), eps));
        let x_tr = generative.generate(sample(mean_t, log_var_t, eps_t));
        let (mean_r, log_var_r) = nets.encode(x_r.clone());
        let (mean_tr, log_var_tr) = nets.encode(x_tr);
        let kl = kl_to_standard_normal(mean, log_var);
        let reconstruction = squared_distance(x, x_r);
        let loss_e = (kl.clone()
            + reconstruction.clone()
            + hinge(c.margin_z, kl_to_standard_normal(mean_r, log_var_r))
            + hinge(c.margin_z, kl_to_standard_normal(mean_tr, log_var_tr)))
        .mean();
        let mut grads = loss_e.clone().backward();
        self.nets.encoder = self.optim_e.step(self.nets.encoder.clone(), &mut grads);

        let v = read_values(vec![
            loss_tg,
            loss_e,
            reconstruction.mean(),
            kl.mean(),
            kl_tr.mean(),
        ])?;
        Ok(vec![
            ("tg", v[0]),
            ("e", v[1]),
            ("reconstruction", v[2]),
            ("kl", v[3]),
            ("kl_transformed", v[4]),
        ])
    }

    fn score(&self, batch: Tensor<2>) -> Tensor<1> {
        let rows = DECODES_PER_CHUNK / self.config.score_samples;
        super::score_in_chunks(batch, rows, |chunk| self.score_chunk(chunk))
    }

    fn validation_loss(&self, x: Tensor<2>) -> Tensor<1> {
        let nets = self.nets.valid();
        let (mean, log_var) = nets.encode(x.clone());
        let recon = nets.generate(mean.clone());
        squared_distance(x, recon) + kl_to_standard_normal(mean, log_var)
    }

    fn trainables(&self) -> Trainables<'_> {
        Trainables {
            networks: &self.nets,
            optimizers: vec![&self.optim_tg, &self.optim_e],
            rng: Some(&self.rng),
            average: None,
        }
    }

    fn trainables_mut(&mut self) -> TrainablesMut<'_> {
        TrainablesMut {
            networks: &mut self.nets,
            optimizers: vec![&mut self.optim_tg, &mut self.optim_e],
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

    /// The score against the notebook's formula computed by hand from the networks' own
    /// encodings and decodings: `‖x − (1/L) Σₗ G(μ + σ·εₗ)‖²` over the fixed draws; and a
    /// sample's score does not depend on its batch.
    #[test]
    fn score_follows_the_notebook() {
        let device = Device::flex();
        let config = AdvaeConfig {
            score_samples: 9,
            ..AdvaeConfig::default()
        };
        let model = Advae::new(config, SampleShape::Table { features: 6 }, &device, 5).unwrap();
        assert_eq!(model.latent, 2);
        let rows: Vec<f32> = (0..18).map(|i| ((i * 7) % 11) as f32 / 10.0).collect();
        let x = Tensor::<2>::from_data(TensorData::new(rows.clone(), [3, 6]), &device);
        let got = values(model.score(x.clone()));
        let nets = model.nets.valid();
        let (mean, log_var) = nets.encode(x.clone());
        let (mean, log_var) = (values(mean), values(log_var));
        let bank = values(model.bank.clone());
        for row in 0..3 {
            let mut average = [0f64; 6];
            for l in 0..9 {
                let z: [f32; 2] = [0, 1].map(|j| {
                    mean[row * 2 + j] + (0.5 * log_var[row * 2 + j]).exp() * bank[l * 2 + j]
                });
                let decoded = values(nets.generate(Tensor::<2>::from_floats([z], &device)));
                for (a, v) in average.iter_mut().zip(decoded) {
                    *a += v as f64 / 9.0;
                }
            }
            let expected: f64 = (0..6).map(|j| (rows[row * 6 + j] as f64 - average[j]).powi(2)).sum();
            assert!(
                (got[row] as f64 - expected).abs() < 1e-5 * expected.max(1e-3),
                "row {row}: {} vs {expected}",
                got[row]
            );
        }
        let alone = values(model.score(x.slice([1..2, 0..6])));
        assert!((alone[0] - got[1]).abs() <= 1e-6 * got[1].abs().max(1e-3));
    }

    /// The two KL divergences against their closed forms at hand-picked values, and the
    /// hinge.
    #[test]
    fn losses_follow_their_formulas() {
        let device = Device::flex();
        let t = |v: [f32; 2]| Tensor::<2>::from_floats([v], &device);
        // KL(N(0.5, e^0.2) ‖ N(0, 1)) + KL(N(−1, e^−1) ‖ N(0, 1)).
        let kl = values(kl_to_standard_normal(t([0.5, -1.0]), t([0.2, -1.0])))[0] as f64;
        let by_hand = 0.5 * (0.25 + 0.2f64.exp() - 0.2 - 1.0) + 0.5 * (1.0 + (-1f64).exp() + 1.0 - 1.0);
        assert!((kl - by_hand).abs() < 1e-6, "{kl} vs {by_hand}");
        // KL(N(μ, σ²) ‖ N(μ_T, σ²_T)) = log σ_T/σ + (σ² + (μ − μ_T)²)/(2σ²_T) − ½, per dimension.
        let between = values(kl_between(t([0.5, 0.0]), t([0.2, 0.0]), t([1.0, 0.0]), t([-0.4, 0.0])))[0] as f64;
        let by_hand = 0.5 * (-0.4 - 0.2) + (0.2f64.exp() + 0.25) / (2.0 * (-0.4f64).exp()) - 0.5;
        assert!((between - by_hand).abs() < 1e-6, "{between} vs {by_hand}");
        let h = values(hinge(1.0, Tensor::<1>::from_floats([0.25, 3.0], &device)));
        assert_eq!(h, vec![0.75, 0.0]);
    }

    /// Settings out of range are refused when built.
    #[test]
    fn refuses_bad_settings() {
        let device = Device::flex();
        let table = SampleShape::Table { features: 4 };
        for config in [
            AdvaeConfig { score_samples: 0, ..AdvaeConfig::default() },
            AdvaeConfig { margin_x: -1.0, ..AdvaeConfig::default() },
            AdvaeConfig { generator_weight: f64::NAN, ..AdvaeConfig::default() },
        ] {
            assert!(Advae::new(config, table, &device, 0).is_err());
        }
        let image = SampleShape::Image { channels: 1, height: 8, width: 8 };
        assert!(Advae::new(AdvaeConfig::default(), image, &device, 0).is_err());
    }
}
