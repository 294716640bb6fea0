//! CAVGA-Du and CAVGA-Dw: the convolutional adversarial VAE with guided attention, unsupervised
//! and weakly supervised, plain convolutional backbone (Venkataramanan, Peng, Singh, Mahalanobis, "Attention Guided Anomaly
//! Localization in Images", ECCV 2020; MODELS.md §14). No official code exists; the paper's
//! method section was read through two paraphrases and two public re-implementations, and what
//! they leave open is marked below.
//!
//! - Networks ([`networks`]): a DCGAN-style encoder (4 × 4 stride-2 convolutions, widths
//!   `base_width·2ⁱ`, BatchNorm after all but the first, LeakyReLU 0.2) stopping after
//!   `downsamplings` halvings at a feature map `F`; 3 × 3 convolutions give the *spatial*
//!   latent's mean μ and log-variance (`latent_channels` × S/2ⁿ × S/2ⁿ); the mirrored decoder;
//!   the DCGAN discriminator ([`crate::nn::dcgan`]) on images.
//! - Attention (Grad-CAM from the latent): `α_k = mean_ij ∂(Σ μ)/∂F_kij` by one backward pass
//!   from `F` (taken as constant: no double backward), `A = sigmoid(Σ_k α_k F_k)` in [0, 1]
//!   (the sigmoid as one paraphrase of the paper states; classic Grad-CAM's ReLU would not
//!   bound A for the expansion loss). Since μ is a linear convolution of `F`, the weights `α`
//!   depend on that convolution's kernel only, the same for every image: the attention is a
//!   learnt projection of the features' channels, which the expansion loss trains to be high
//!   on normal images. (With `attention_depth` above 0, `F` is an earlier feature map and the
//!   weights depend on the image; see below.)
//! - Loss (generator side): `w_r·mean (x − x̂)² + w_kl·KL + w_adv·BCE(D(x̂), 1) + w_ae·L_ae`,
//!   with the attention expansion loss `L_ae = mean(1 − A)`; w_r = 1, w_adv = 1 and
//!   w_ae = 0.01 are the paper's, w_kl = 1 reads the paper's `L = L_R + KL` literally; KL of
//!   the diagonal Gaussian against N(0, I), averaged over the latent's elements, the squared
//!   error over the pixels (the paper names neither norm nor averaging). Discriminator: `½·(BCE(D(x), 1) + BCE(D(x̂), 0))`. One backward pass
//!   serves both networks (the discriminator copy in the generator's term has constant
//!   weights, x̂ is detached in the discriminator's), Adam 2e-4, β = (0.5, 0.999).
//! - Score: the mean absolute reconstruction error of `x̂ = dec(μ)` (the paraphrases' "pixel-wise
//!   difference between x and x̂"; its exact normalisation is not given); map: `1 − A` brought
//!   up to the image's side (bilinear), so a region the attention leaves is anomalous; the
//!   paper thresholds it at 0.5 (eval's pixel threshold comes from validation images instead).
//!   Deviation in form, not in order: the map is `−log A = softplus(−s)` of the attention's
//!   logit `s` (CAVGA-w: `−log(1 − A^a) = softplus(s)`), which orders the latent's cells as
//!   `1 − A` does (`log 2` where `1 − A` = 0.5) but does not round to 0 in f32 where the
//!   attention saturates (`s` > 17), which tied those cells; the bilinear resizing then
//!   interpolates this form rather than `1 − A`.
//!
//! Deviations and open points: the paper initialises the D variant from a DCGAN trained on
//! CelebA; here every network starts from DCGAN's random initialisation. Which scalar Grad-CAM
//! differentiates and at which layer is not stated in what was read; the sum of the latent mean
//! at the encoder's last feature map is what the public re-implementations use, and the default.
//! `attention_target: "score"` (CAVGA-u) differentiates the anomaly score instead, each image's
//! absolute reconstruction error through the frozen decoder, summed over its pixels (the score
//! times the pixel count, a sum as the latent target is; MODELS.md §14's "from the score's
//! gradient"): the weights then depend on the image at any depth. On Magnetic Tile (fixture and
//! whole data set) its map is at chance as the default's is (docs/results/localisation.md).
//! `attention_depth: n` computes the attention on the feature map `n` blocks before that one
//! (twice the side per block): the weights then pass through the remaining blocks'
//! nonlinearities and depend on the image, as classic Grad-CAM's do. Those blocks run frozen in
//! the Grad-CAM pass: their BatchNorm uses its running statistics and leaves them unchanged, so
//! scoring changes nothing and an image's map does not depend on its batch; in training this
//! differs from the step's own forward pass, which normalises by the batch's statistics. On the
//! Magnetic Tile fixture it did not make the map better than chance
//! (docs/results/localisation.md). The decoder's
//! output is linear (DCGAN's tanh would clip standardised inputs). Latent shape, learning rate,
//! batch size and epochs are not published; the defaults here are DCGAN's.
//!
//! CAVGA-Dw (`{"supervision": "weak"}`, with `--labelled-anomalies`, e.g. 2 %: labelled anomalies
//! making up that share of the training set, never test images): a linear classifier on the
//! flattened latent mean gives logits (normal, anomalous); Grad-CAM of each class's logit at `F`
//! gives `A^n` and `A^a`. Generator loss: the VAE and adversarial terms on the normal images,
//! `+ w_c·CE + w_cga·L_cga` with the cross-entropy over the normal images and
//! `anomalies_per_step` labelled anomalies drawn (seeded, with replacement) into every step,
//! and `L_cga = mean over the normal images the classifier gets right of mean(1 − A^n + A^a)`;
//! w_c = 0.001, w_cga = 0.01 as the paraphrases give the paper's; no expansion loss (as the
//! paper's weak objective is paraphrased). Score: the classifier's probability of the anomalous
//! class; map: `A^a` (as `−log(1 − A^a)`, see above). Choices where the sources are silent:
//! the classifier is linear on the flattened latent *mean* (not a sampled z) with a two-way
//! softmax cross-entropy; anomalies are drawn into every step and share the encoder's
//! BatchNorm batch with the normal images; the Grad-CAM weights are constants in the loss (no
//! second-order gradient), so `L_cga` trains the encoder's features, not the classifier; the
//! best epoch is still picked by the VAE's reconstruction + KL on normal validation images,
//! which does not see the classifier. The attention weights are image-independent here too
//! at the default depth (the classifier is linear in `F`).

mod networks;

use super::{Detector, ModelInfo, ModelSpec, StepLosses, as_images, read_values, square_image};
use crate::data::source::DataForm;
use crate::data::SampleShape;
use crate::nn::init::{component_rng, normal_tensor};
use crate::nn::loss::{bce_with_logits, l2};
use crate::nn::{DcganEncoderConfig, InitScheme, NetOptimizer, initialise};
use crate::nn::{Trainables, TrainablesMut};
use burn::nn::LinearConfig;
use burn::prelude::*;
use burn::tensor::TensorData;
use burn::tensor::activation::{log_softmax, softmax, softplus};
use networks::{
    CavgaNets, Decoder, Encoder, Vae, attention, attention_logit, class_grad_cam_weights,
    grad_cam_weights, score_grad_cam_weights, upsample,
};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// Which CAVGA: unsupervised (CAVGA-u) or weakly supervised (CAVGA-w).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Supervision {
    /// Normal images only; the attention expansion loss.
    Unsupervised,
    /// Normal images and a few labelled anomalies (`--labelled-anomalies`); a classifier on the
    /// latent and the complementary guided attention loss.
    Weak,
}

/// Which scalar CAVGA-u's Grad-CAM differentiates (the paper does not say).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AttentionTarget {
    /// The sum of the latent mean, as the public re-implementations (default).
    Latent,
    /// The anomaly score, each image's absolute reconstruction error summed over its pixels
    /// (the score times the pixel count; MODELS.md §14's "from the score's gradient"); the
    /// weights then depend on the image at any depth.
    Score,
}

/// CAVGA-D's hyper-parameters (both variants); `Default` is CAVGA-Du with the paper's loss
/// weights where the paraphrases give them, else DCGAN's settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CavgaConfig {
    /// Input side (32; a power of two of at least 8).
    pub image_size: usize,
    /// Halvings from the image to the latent map (3: a 4 × 4 latent for 32 × 32 images).
    pub downsamplings: usize,
    /// Channels of the spatial latent (32).
    pub latent_channels: usize,
    /// Width of the first encoder layer and of the discriminator (64).
    pub base_width: usize,
    /// Weight of the reconstruction error (`w_r`, 1).
    pub w_recon: f32,
    /// Weight of the KL divergence (1).
    pub w_kl: f32,
    /// Weight of the adversarial loss (`w_adv`, 1).
    pub w_adv: f32,
    /// Weight of the attention expansion loss (`w_ae`, 0.01).
    pub w_attention: f32,
    /// Adam learning rate of every network (2e-4).
    pub learning_rate: f64,
    /// Adam β₁ (0.5).
    pub beta_1: f32,
    /// Adam β₂ (0.999).
    pub beta_2: f32,
    /// Training batch size (64).
    pub batch_size: usize,
    /// Training epochs (30).
    pub epochs: usize,
    /// CAVGA-u (default) or CAVGA-w.
    pub supervision: Supervision,
    /// CAVGA-w: weight of the classifier's cross-entropy (`w_c`, 0.001).
    pub w_classifier: f32,
    /// CAVGA-w: weight of the complementary guided attention loss (`w_cga`, 0.01).
    pub w_guided: f32,
    /// CAVGA-w: labelled anomalies drawn (with replacement) into each training step (4).
    pub anomalies_per_step: usize,
    /// Encoder blocks between the feature map the attention is computed on and the latent (0:
    /// the last feature map, as the public re-implementations; 1: one block earlier, at twice
    /// the side). Above 0, the Grad-CAM weights pass through those blocks' nonlinearities and
    /// so depend on the image, as classic Grad-CAM's do; at 0 they cannot (see the header).
    pub attention_depth: usize,
    /// CAVGA-u: what the Grad-CAM weights are the gradient of (`latent`, default, or `score`).
    pub attention_target: AttentionTarget,
}

impl Default for CavgaConfig {
    fn default() -> Self {
        CavgaConfig {
            image_size: 32,
            downsamplings: 3,
            latent_channels: 32,
            base_width: 64,
            w_recon: 1.0,
            w_kl: 1.0,
            w_adv: 1.0,
            w_attention: 0.01,
            learning_rate: 2e-4,
            beta_1: 0.5,
            beta_2: 0.999,
            batch_size: 64,
            epochs: 30,
            supervision: Supervision::Unsupervised,
            w_classifier: 0.001,
            w_guided: 0.01,
            anomalies_per_step: 4,
            attention_depth: 0,
            attention_target: AttentionTarget::Latent,
        }
    }
}

/// A CAVGA-Du detector: its networks, their optimizers and the generator of the VAE's noise.
pub struct Cavga {
    config: CavgaConfig,
    shape: [usize; 3],
    device: Device,
    nets: CavgaNets,
    optim_g: NetOptimizer,
    optim_d: NetOptimizer,
    rng: ChaCha8Rng,
    /// CAVGA-w's labelled anomalies, preprocessed, one row of `C·S·S` values each.
    labelled: Vec<f32>,
}

impl Cavga {
    /// Build CAVGA-Du for images of `shape` on `device` (trained on its autodiff form).
    pub fn new(
        config: CavgaConfig,
        shape: SampleShape,
        device: &Device,
        seed: u64,
    ) -> crate::Result<Self> {
        config.check()?;
        let [channels, height, width] = square_image("cavga", shape, config.image_size)?;
        let train_device = device.clone().autodiff();
        let mut rng = component_rng(seed, 1);
        let (base, down, latent) = (
            config.base_width,
            config.downsamplings,
            config.latent_channels,
        );
        let discriminator = DcganEncoderConfig {
            image_size: config.image_size,
            channels,
            base_width: base,
            latent_dim: 1,
        }
        .init(&train_device);
        let latent_values = latent * (config.image_size >> down).pow(2);
        let classifier = (config.supervision == Supervision::Weak)
            .then(|| LinearConfig::new(latent_values, 2).init(&train_device));
        let nets = CavgaNets {
            vae: Vae {
                encoder: Encoder::new(channels, base, down, latent, &train_device),
                decoder: Decoder::new(channels, base, down, latent, &train_device),
                classifier,
            },
            discriminator,
        };
        let nets = initialise(nets, InitScheme::Dcgan, &mut rng);
        let adam = || NetOptimizer::adam(config.learning_rate, config.beta_1, config.beta_2);
        Ok(Cavga {
            shape: [channels, height, width],
            device: device.clone(),
            nets,
            optim_g: adam(),
            optim_d: adam(),
            rng: component_rng(seed, 2),
            labelled: Vec::new(),
            config,
        })
    }

    /// Encoder blocks before the feature map the attention is computed on.
    fn attention_blocks(&self) -> usize {
        self.config.downsamplings - self.config.attention_depth
    }

    /// CAVGA-u's Grad-CAM weights `[B, K, 1, 1]` of `features` (the attention's feature map
    /// of the images `x()`; both on the autodiff device), by `attention_target`; the images are
    /// fetched only for the score's gradient.
    fn unsupervised_weights(
        &self,
        x: impl FnOnce() -> Tensor<4>,
        features: Tensor<4>,
    ) -> Tensor<4> {
        let (vae, blocks) = (&self.nets.vae, self.attention_blocks());
        match self.config.attention_target {
            AttentionTarget::Latent => grad_cam_weights(&vae.encoder, features, blocks),
            AttentionTarget::Score => score_grad_cam_weights(vae, x(), features, blocks),
        }
    }

    /// Attention logits `[B, 1, s, s]` (at the attention's feature map's side, the latent's
    /// by default; the attention is their sigmoid) of images, in evaluation mode: of the latent
    /// mean (CAVGA-u), or of the classifier's anomalous class (CAVGA-w).
    fn attention_logits(&self, batch: Tensor<2>) -> Tensor<4> {
        let x = as_images(batch, self.shape);
        let blocks = self.attention_blocks();
        let features = self.nets.vae.encoder.valid().head(x.clone(), blocks);
        // The Grad-CAM weights need one backward pass: through the tracked latent head (and
        // classifier or decoder), from the features carried over to the autodiff device.
        let autodiff = self.device.clone().autodiff();
        let tracked = Tensor::<4>::from_data(features.clone().into_data(), &autodiff);
        let weights = match self.config.supervision {
            Supervision::Unsupervised => {
                let images = || Tensor::<4>::from_data(x.into_data(), &autodiff);
                self.unsupervised_weights(images, tracked)
            }
            Supervision::Weak => class_grad_cam_weights(&self.nets.vae, tracked, blocks, ANOMALOUS)
                .expect("CAVGA-w has a classifier"),
        };
        let weights = Tensor::<4>::from_data(weights.into_data(), &self.device);
        attention_logit(features, weights)
    }

    /// The VAE-GAN terms both variants train on normal images `x` with their encoder
    /// `features`: a reconstruction from a sampled latent, its error, the KL term, the
    /// generator's adversarial term (through a discriminator copy with constant weights) and the
    /// discriminator's loss (on x̂ detached).
    fn vae_gan_terms(&mut self, x: Tensor<4>, features: Tensor<4>) -> VaeGanTerms {
        let b = x.dims()[0];
        let encoder = &self.nets.vae.encoder;
        let mean = encoder.mean(features.clone());
        let log_var = encoder.log_var(features);
        let [_, zc, zh, zw] = mean.dims();
        let noise = normal_tensor(&mut self.rng, [b, zc * zh * zw], 1.0, &mean.device())
            .reshape([b, zc, zh, zw]);
        let z = mean.clone() + noise * (log_var.clone() * 0.5).exp();
        let reconstruction = self.nets.vae.decoder.forward(z);
        let d = &self.nets.discriminator;
        VaeGanTerms {
            recon: l2(x.clone(), reconstruction.clone()),
            kl: kl_divergence(mean, log_var),
            adv: bce_with_logits(d.clone().no_grad().forward(reconstruction.clone()), true),
            discriminator: (bce_with_logits(d.forward(x), true)
                + bce_with_logits(d.forward(reconstruction.detach()), false))
                * 0.5,
        }
    }

    /// The shared terms plus the variant's own weighted `extra` losses: one update of both
    /// networks, and every loss named for the log (the discriminator's last).
    fn finish_step(
        &mut self,
        terms: VaeGanTerms,
        extra: Vec<(&'static str, Tensor<1>, f32)>,
    ) -> crate::Result<StepLosses> {
        let mut loss_g = terms.generator_loss(&self.config);
        let mut names = vec!["recon", "kl", "adv"];
        let mut values = vec![terms.recon, terms.kl, terms.adv];
        for (name, loss, weight) in extra {
            loss_g = loss_g + loss.clone() * weight;
            names.push(name);
            values.push(loss);
        }
        names.push("d");
        values.push(terms.discriminator.clone());
        let losses = Tensor::cat(values, 0);
        self.update(loss_g + terms.discriminator);
        Ok(names.into_iter().zip(read_values(vec![losses])?).collect())
    }

    /// One backward pass of the generator's and the discriminator's losses together (neither
    /// reaches the other's weights), then each network's optimizer step.
    fn update(&mut self, loss: Tensor<1>) {
        let mut grads = loss.backward();
        self.nets.vae = self.optim_g.step(self.nets.vae.clone(), &mut grads);
        self.nets.discriminator = self
            .optim_d
            .step(self.nets.discriminator.clone(), &mut grads);
    }

    /// `count` labelled anomalies drawn with replacement, as images on `device`.
    fn draw_anomalies(&mut self, count: usize, device: &Device) -> crate::Result<Tensor<4>> {
        let row = self.shape.iter().product::<usize>();
        let n = self.labelled.len() / row;
        anyhow::ensure!(
            n > 0,
            "CAVGA-w trains with labelled anomalies, and none were given (--labelled-anomalies)"
        );
        let mut values = Vec::with_capacity(count * row);
        for _ in 0..count {
            let i = self.rng.random_range(0..n);
            values.extend_from_slice(&self.labelled[i * row..(i + 1) * row]);
        }
        let [c, h, w] = self.shape;
        Ok(Tensor::from_data(
            TensorData::new(values, [count, c, h, w]),
            device,
        ))
    }

    /// CAVGA-w's step: the VAE and the discriminator on the normal images as CAVGA-u's, plus
    /// the classifier's cross-entropy on normal and drawn anomalous images and the
    /// complementary guided attention loss on the normal images the classifier gets right;
    /// no attention expansion loss.
    fn train_step_weak(&mut self, x: Tensor<4>) -> crate::Result<StepLosses> {
        let c = self.config.clone();
        let b = x.dims()[0];
        let anomalies = self.draw_anomalies(c.anomalies_per_step, &x.device())?;
        let k = c.anomalies_per_step;
        let device = x.device();
        let blocks = self.attention_blocks();
        let images = Tensor::cat(vec![x.clone(), anomalies], 0);
        let early = self.nets.vae.encoder.head(images, blocks);
        let features = self.nets.vae.encoder.tail(early.clone(), blocks);
        let [_, fc, fh, fw] = features.dims();
        let normal_features = features.clone().slice([0..b, 0..fc, 0..fh, 0..fw]);
        let [_, ec, eh, ew] = early.dims();
        let normal_early = early.slice([0..b, 0..ec, 0..eh, 0..ew]);
        let terms = self.vae_gan_terms(x, normal_features.clone());
        let vae = &self.nets.vae;
        let logits = vae.logits(features).expect("CAVGA-w has a classifier");
        let mut targets = vec![0.0f32; 2 * (b + k)];
        for (i, t) in targets.chunks_mut(2).enumerate() {
            t[usize::from(i >= b)] = 1.0;
        }
        let targets = Tensor::<2>::from_data(TensorData::new(targets, [b + k, 2]), &device);
        let cross_entropy = (log_softmax(logits.clone(), 1) * targets).sum().neg() / (b + k) as f64;
        let normal_logits = logits.slice([0..b, 0..2]).detach();
        let correct = normal_logits
            .clone()
            .slice([0..b, NORMAL..NORMAL + 1])
            .greater(normal_logits.slice([0..b, ANOMALOUS..ANOMALOUS + 1]))
            .float()
            .reshape([b]);
        let cam = |class| {
            let weights = class_grad_cam_weights(vae, normal_early.clone(), blocks, class)
                .expect("CAVGA-w has a classifier");
            attention(normal_early.clone(), weights)
        };
        let per_image = (cam(NORMAL).neg() + 1.0 + cam(ANOMALOUS))
            .reshape([b as i32, -1])
            .mean_dim(1)
            .reshape([b]);
        let guided =
            (per_image * correct.clone()).sum() / correct.sum().clamp_min(1.0);
        self.finish_step(
            terms,
            vec![
                ("classifier", cross_entropy, c.w_classifier),
                ("guided", guided, c.w_guided),
            ],
        )
    }
}

/// The losses both CAVGA variants share ([`Cavga::vae_gan_terms`]).
struct VaeGanTerms {
    recon: Tensor<1>,
    kl: Tensor<1>,
    adv: Tensor<1>,
    discriminator: Tensor<1>,
}

impl VaeGanTerms {
    /// `w_r·recon + w_kl·KL + w_adv·adv`.
    fn generator_loss(&self, c: &CavgaConfig) -> Tensor<1> {
        self.recon.clone() * c.w_recon + self.kl.clone() * c.w_kl + self.adv.clone() * c.w_adv
    }
}

/// The classifier's normal class.
const NORMAL: usize = 0;
/// The classifier's anomalous class.
const ANOMALOUS: usize = 1;

/// `1 + log σ² − μ² − σ²` for each latent element: −2 × its KL divergence from `N(0, 1)`.
fn kl_terms(mean: Tensor<4>, log_var: Tensor<4>) -> Tensor<4> {
    (log_var.clone() + 1.0) - mean.powi_scalar(2) - log_var.exp()
}

/// The KL divergence of `N(μ, exp(log_var))` from `N(0, 1)`, averaged over every element.
fn kl_divergence(mean: Tensor<4>, log_var: Tensor<4>) -> Tensor<1> {
    kl_terms(mean, log_var).mean() * -0.5
}

/// The image score: the mean absolute reconstruction error of each image.
pub fn reconstruction_score(x: Tensor<4>, reconstruction: Tensor<4>) -> Tensor<1> {
    let b = x.dims()[0];
    (x - reconstruction)
        .abs()
        .reshape([b as i32, -1])
        .mean_dim(1)
        .reshape([b])
}

impl ModelSpec for CavgaConfig {
    fn needs_labelled_anomalies(&self) -> bool {
        self.supervision == Supervision::Weak
    }

    fn check(&self) -> crate::Result<()> {
        crate::nn::dcgan::check_image_size(self.image_size)?;
        let latent_side = u32::try_from(self.downsamplings)
            .ok()
            .and_then(|d| self.image_size.checked_shr(d));
        anyhow::ensure!(
            self.downsamplings >= 1 && latent_side.is_some_and(|s| s >= 2),
            "cavga: {} halvings of {}×{} images leave no spatial latent; use 1 to {}",
            self.downsamplings,
            self.image_size,
            self.image_size,
            self.image_size.max(4).ilog2() - 1
        );
        anyhow::ensure!(
            self.attention_depth < self.downsamplings,
            "cavga: attention_depth {} must be below downsamplings {}: the attention needs a \
             feature map after at least one of the encoder's blocks",
            self.attention_depth,
            self.downsamplings
        );
        anyhow::ensure!(
            self.attention_target == AttentionTarget::Latent
                || self.supervision == Supervision::Unsupervised,
            "cavga: attention_target \"score\" is CAVGA-u's; CAVGA-w's attention is its \
             classifier's (leave attention_target out with supervision \"weak\")"
        );
        Ok(())
    }

    const INFO: ModelInfo = ModelInfo {
        name: "cavga",
        group: super::ModelGroup::Detector,
        paper: "Venkataramanan, Peng, Singh, Mahalanobis. Attention Guided Anomaly Localization in Images. ECCV 2020",
        summary: "conv VAE with a spatial latent and a discriminator; Grad-CAM attention trained to cover normal images; map = −log attention, ordered as 1 − attention (weak: −log(1 − anomalous-class attention))",
        inputs: "images",
    };

    type Detector = Cavga;

    fn takes(&self) -> &'static [DataForm] {
        DataForm::IMAGES
    }

    fn build(&self, shape: SampleShape, device: &Device, seed: u64) -> crate::Result<Cavga> {
        Cavga::new(self.clone(), shape, device, seed)
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

impl Detector for Cavga {
    fn train_step(&mut self, batch: Tensor<2>) -> crate::Result<StepLosses> {
        let x = as_images(batch, self.shape);
        if self.config.supervision == Supervision::Weak {
            return self.train_step_weak(x);
        }
        let blocks = self.attention_blocks();
        let early = self.nets.vae.encoder.head(x.clone(), blocks);
        let features = self.nets.vae.encoder.tail(early.clone(), blocks);
        let weights = self.unsupervised_weights(|| x.clone(), early.clone());
        let terms = self.vae_gan_terms(x, features);
        let expansion = (attention(early, weights).neg() + 1.0).mean();
        let weight = self.config.w_attention;
        self.finish_step(terms, vec![("attention", expansion, weight)])
    }

    /// CAVGA-u: the mean absolute reconstruction error; CAVGA-w: the classifier's probability
    /// of the anomalous class.
    fn score(&self, batch: Tensor<2>) -> Tensor<1> {
        let x = as_images(batch, self.shape);
        if self.config.supervision == Supervision::Weak {
            let vae = self.nets.vae.valid();
            let logits = vae.logits(vae.encoder.features(x)).expect("CAVGA-w has a classifier");
            let b = logits.dims()[0];
            return softmax(logits, 1)
                .slice([0..b, ANOMALOUS..ANOMALOUS + 1])
                .reshape([b]);
        }
        let encoder = self.nets.vae.encoder.valid();
        let mean = encoder.mean(encoder.features(x.clone()));
        reconstruction_score(x, self.nets.vae.decoder.valid().forward(mean))
    }

    /// CAVGA-u: `−log A`, ordered as the attention's complement `1 − A`; CAVGA-w:
    /// `−log(1 − A^a)`, ordered as the anomalous class's attention; at the image's side.
    fn anomaly_map(&self, batch: Tensor<2>) -> Option<Tensor<4>> {
        let logits = self.attention_logits(batch);
        // softplus of the logit: non-negative like 1 − A, without its rounding to 0.
        let map = match self.config.supervision {
            Supervision::Unsupervised => softplus(logits.neg(), 1.0),
            Supervision::Weak => softplus(logits, 1.0),
        };
        Some(upsample(map, self.config.image_size))
    }

    fn take_labelled_anomalies(
        &mut self,
        anomalies: crate::data::Samples,
        _normals: usize,
    ) -> crate::Result<()> {
        anyhow::ensure!(
            self.config.supervision == Supervision::Weak,
            "cavga trains on normal images only unless {{\"supervision\": \"weak\"}}"
        );
        let row = self.shape.iter().product::<usize>();
        anyhow::ensure!(
            anomalies.shape.len() == row && !anomalies.is_empty(),
            "CAVGA-w's labelled anomalies must be {} images of {:?}, got {} of {}",
            "one or more",
            self.shape,
            anomalies.len(),
            anomalies.shape
        );
        self.labelled = anomalies.values;
        Ok(())
    }

    /// The reconstruction error and the KL term per sample, the VAE's fit to normal data; the
    /// adversarial term moves with the discriminator and is left out.
    fn validation_loss(&self, batch: Tensor<2>) -> Tensor<1> {
        let x = as_images(batch, self.shape);
        let b = x.dims()[0];
        let encoder = self.nets.vae.encoder.valid();
        let features = encoder.features(x.clone());
        let mean = encoder.mean(features.clone());
        let log_var = encoder.log_var(features);
        let recon = crate::nn::loss::per_sample_mse(x, self.nets.vae.decoder.valid().forward(mean.clone()));
        let kl = kl_terms(mean, log_var)
            .reshape([b as i32, -1])
            .mean_dim(1)
            .reshape([b])
            * -0.5;
        recon * self.config.w_recon + kl * self.config.w_kl
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
    use burn::tensor::TensorData;

    /// 16 × 16 grey images.
    const SHAPE: SampleShape = SampleShape::Image {
        channels: 1,
        height: 16,
        width: 16,
    };

    /// A small CAVGA-u for [`SHAPE`]: two halvings, widths 8 and 16, 4 latent channels.
    fn small_config() -> CavgaConfig {
        CavgaConfig {
            image_size: 16,
            downsamplings: 2,
            latent_channels: 4,
            base_width: 8,
            ..CavgaConfig::default()
        }
    }

    fn small(device: &Device) -> Cavga {
        Cavga::new(small_config(), SHAPE, device, 7).unwrap()
    }

    fn batch(device: &Device) -> Tensor<2> {
        let values: Vec<f32> = (0..3 * 256)
            .map(|i| ((i * 7919) % 97) as f32 / 48.0 - 1.0)
            .collect();
        Tensor::from_data(TensorData::new(values, [3, 256]), device)
    }

    fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data().try_into_vec::<f32>().unwrap()
    }

    /// The score is the mean absolute error of the reconstruction from the latent mean.
    #[test]
    fn score_is_the_mean_absolute_reconstruction_error() {
        let device = crate::device::parse("cpu").unwrap();
        let model = small(&device);
        let x = batch(&device);
        let scores = values(model.score(x.clone()));
        let images = as_images(x, model.shape);
        let encoder = model.nets.vae.encoder.valid();
        let mean = encoder.mean(encoder.features(images.clone()));
        let reconstruction = values(model.nets.vae.decoder.valid().forward(mean));
        let images = values(images);
        for (i, &s) in scores.iter().enumerate() {
            let expected: f32 = (0..256)
                .map(|p| (images[i * 256 + p] - reconstruction[i * 256 + p]).abs())
                .sum::<f32>()
                / 256.0;
            assert!((s - expected).abs() < 1e-5, "image {i}: {s} vs {expected}");
        }
    }

    /// The Grad-CAM weights of `Σ μ` are, for a linear 3 × 3 latent head with zero padding,
    /// the mean over positions of the sum of the head's kernel taps that reach inside the map;
    /// the attention's logit is `Σ_k α_k F_k`; the map `−log A = softplus(−logit)` brought up
    /// to the image's side.
    #[test]
    fn attention_is_grad_cam_of_the_latent_mean() {
        let device = crate::device::parse("cpu").unwrap();
        let model = small(&device);
        let x = batch(&device);
        let logits = model.attention_logits(x.clone());
        let encoder = model.nets.vae.encoder.valid();
        let features = values(encoder.features(as_images(x.clone(), model.shape)));
        // Features: [3, 16, 4, 4] (two halvings, widths 8 and 16); head weights [4, 16, 3, 3].
        let (k_count, side) = (16usize, 4usize);
        let weight = values(model.nets.vae.encoder.mean.weight.val());
        let alpha: Vec<f32> = (0..k_count)
            .map(|k| {
                let mut total = 0.0f32;
                for i in 0..side {
                    for j in 0..side {
                        for o in 0..4 {
                            for (di, dj) in (0..3).flat_map(|a| (0..3).map(move |b| (a, b))) {
                                // Output (i − di + 1, j − dj + 1) reads F[k, i, j] at tap (di, dj).
                                let (oi, oj) = (i as i32 - di as i32 + 1, j as i32 - dj as i32 + 1);
                                if (0..side as i32).contains(&oi) && (0..side as i32).contains(&oj) {
                                    total += weight[((o * k_count + k) * 3 + di) * 3 + dj];
                                }
                            }
                        }
                    }
                }
                total / (side * side) as f32
            })
            .collect();
        let logits = values(logits);
        for b in 0..3 {
            for p in 0..side * side {
                let expected: f32 = (0..k_count)
                    .map(|k| alpha[k] * features[(b * k_count + k) * side * side + p])
                    .sum();
                let got = logits[b * side * side + p];
                assert!((got - expected).abs() < 1e-5, "image {b}, cell {p}: {got} vs {expected}");
            }
        }
        let map = model.anomaly_map(x).unwrap();
        assert_eq!(map.dims(), [3, 1, 16, 16]);
        let map = values(map);
        // Image 0's first cell sits alone in the map's top-left 2 × 2 corner (bilinear,
        // half-pixel centres, two halvings).
        let expected = (1.0 + logits[0].exp()).ln() - logits[0];
        assert!((map[0] - expected).abs() < 1e-5, "{} vs {expected}", map[0]);
    }

    /// CAVGA-w scores by its classifier's probability of the anomalous class, maps by that
    /// class's attention, and trains only once given labelled anomalies; CAVGA-u refuses them.
    #[test]
    fn weak_variant_scores_by_its_classifier() {
        let device = crate::device::parse("cpu").unwrap();
        let config = CavgaConfig {
            supervision: Supervision::Weak,
            ..small_config()
        };
        let mut model = Cavga::new(config, SHAPE, &device, 7).unwrap();
        let x = batch(&device);
        let scores = values(model.score(x.clone()));
        let vae = model.nets.vae.valid();
        let logits = values(
            vae.logits(vae.encoder.features(as_images(x.clone(), model.shape)))
                .unwrap(),
        );
        for (i, &s) in scores.iter().enumerate() {
            let (normal, anomalous) = (logits[2 * i], logits[2 * i + 1]);
            let expected = 1.0 / (1.0 + (normal - anomalous).exp());
            assert!((s - expected).abs() < 1e-5, "image {i}: {s} vs {expected}");
        }
        // The map: −log(1 − A^a) = softplus of the anomalous class's attention logit.
        let map = values(model.anomaly_map(x.clone()).unwrap());
        let cam = values(model.attention_logits(x.clone()));
        let expected = (1.0 + cam[0].exp()).ln();
        assert!((map[0] - expected).abs() < 1e-5, "{} vs {expected}", map[0]);
        let train_x = Tensor::<2>::from_data(
            x.clone().into_data(),
            &device.clone().autodiff(),
        );
        let e = model.train_step(train_x.clone()).unwrap_err().to_string();
        assert!(e.contains("--labelled-anomalies"), "{e}");
        let mut pool = crate::data::Samples::empty(SHAPE);
        pool.values = values(x.clone());
        pool.labels = vec![1; 3];
        model.take_labelled_anomalies(pool.clone(), 8).unwrap();
        let losses = model.train_step(train_x).unwrap();
        assert!(losses.iter().any(|(name, v)| *name == "guided" && v.is_finite()));
        let mut unsupervised = small(&device);
        let e = unsupervised.take_labelled_anomalies(pool, 8).unwrap_err().to_string();
        assert!(e.contains("weak"), "{e}");
        // CAVGA-w's weights hold the classifier: they do not load into CAVGA-u, nor back.
        let e = unsupervised
            .load_weights(model.save_weights().unwrap())
            .unwrap_err()
            .to_string();
        assert!(e.contains("unused") && e.contains("classifier"), "{e}");
        let e = model
            .load_weights(unsupervised.save_weights().unwrap())
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing") && e.contains("classifier"), "{e}");
    }

    /// One block earlier (`attention_depth: 1`): the attention is at twice the latent's side,
    /// its Grad-CAM weights differ between images (they pass through the last block's
    /// LeakyReLU), each image's map is the same alone as in a batch (the last block's
    /// BatchNorm runs on its running statistics), scoring leaves those statistics as they are,
    /// a training step moves them once, and a depth without a feature map is refused, before
    /// any data is read.
    #[test]
    fn attention_one_block_earlier_depends_on_the_image() {
        let device = crate::device::parse("cpu").unwrap();
        let config = CavgaConfig {
            attention_depth: 1,
            ..small_config()
        };
        let mut model = Cavga::new(config.clone(), SHAPE, &device, 7).unwrap();
        let x = batch(&device);
        let logits = model.attention_logits(x.clone());
        assert_eq!(logits.dims(), [3, 1, 8, 8]);
        let running = |m: &Cavga| values(m.nets.vae.encoder.running_means().remove(0));
        let before = running(&model);
        let batched = values(logits);
        for i in 0..3 {
            let alone = values(model.attention_logits(x.clone().slice([i..i + 1, 0..256])));
            for (p, v) in alone.iter().enumerate() {
                assert!((v - batched[i * 64 + p]).abs() < 1e-4, "image {i}, cell {p}");
            }
        }
        let map = model.anomaly_map(x.clone()).unwrap();
        assert_eq!(map.dims(), [3, 1, 16, 16]);
        assert_eq!(running(&model), before, "scoring moved the running statistics");
        // The weights of images 0 and 1 (the first block's width of them each) differ.
        let train_device = device.clone().autodiff();
        let early = model.nets.vae.encoder.valid().head(as_images(x.clone(), model.shape), 1);
        let tracked = Tensor::<4>::from_data(early.into_data(), &train_device);
        let alpha = values(grad_cam_weights(&model.nets.vae.encoder, tracked, 1));
        let k = config.base_width;
        let spread: f32 = (0..k).map(|c| (alpha[c] - alpha[k + c]).abs()).sum();
        assert!(spread > 1e-4, "the weights of images 0 and 1 are equal: {alpha:?}");
        let xt = Tensor::<2>::from_data(x.into_data(), &train_device);
        model.train_step(xt.clone()).unwrap();
        assert_ne!(running(&model), before, "a training step must move them");
        // Once: as far as the step at the default depth (same seed, weights and batch), whose
        // Grad-CAM passes through no block.
        let mut last_block = Cavga::new(
            CavgaConfig {
                attention_depth: 0,
                ..config.clone()
            },
            SHAPE,
            &device,
            7,
        )
        .unwrap();
        last_block.train_step(xt).unwrap();
        assert_eq!(running(&model), running(&last_block));
        let too_deep = crate::models::ModelConfig::new(CavgaConfig {
            attention_depth: 2,
            ..config
        });
        let e = too_deep.validate().unwrap_err().to_string();
        assert!(e.contains("attention_depth 2"), "{e}");
    }

    /// CAVGA-w one block earlier: a training step with labelled anomalies runs, and the map of
    /// the anomalous class's attention is at the image's side.
    #[test]
    fn weak_variant_trains_with_attention_one_block_earlier() {
        let device = crate::device::parse("cpu").unwrap();
        let config = CavgaConfig {
            supervision: Supervision::Weak,
            attention_depth: 1,
            ..small_config()
        };
        let mut model = Cavga::new(config, SHAPE, &device, 7).unwrap();
        let x = batch(&device);
        let mut pool = crate::data::Samples::empty(SHAPE);
        pool.values = values(x.clone());
        pool.labels = vec![1; 3];
        model.take_labelled_anomalies(pool, 8).unwrap();
        let xt = Tensor::<2>::from_data(x.clone().into_data(), &device.clone().autodiff());
        let losses = model.train_step(xt).unwrap();
        assert!(losses.iter().any(|(name, v)| *name == "guided" && v.is_finite()));
        assert_eq!(model.attention_logits(x.clone()).dims(), [3, 1, 8, 8]);
        let map = values(model.anomaly_map(x).unwrap());
        assert_eq!(map.len(), 3 * 256);
        assert!(map.iter().all(|v| v.is_finite()));
    }

    /// With `attention_target: "score"`, `α_k` is the mean over the cells of channel `k` of the
    /// Grad-CAM target's gradient (the detector's score times the pixel count, checked first): a
    /// central difference under a shift of the whole channel by ±ε gives `2ε·h·w·α_k`, at ε and
    /// ε/2, at the last feature map. At both depths (one block earlier: through a frozen block)
    /// the weights differ between images, and a training step and a map run on them.
    #[test]
    fn attention_from_the_score_is_the_scores_gradient() {
        let device = crate::device::parse("cpu").unwrap();
        let train_device = device.clone().autodiff();
        let tracked = |t: Tensor<4>| Tensor::<4>::from_data(t.into_data(), &train_device);
        for depth in [0, 1] {
            let config = CavgaConfig {
                attention_target: AttentionTarget::Score,
                attention_depth: depth,
                ..small_config()
            };
            let mut model = Cavga::new(config, SHAPE, &device, 7).unwrap();
            let x = as_images(batch(&device), model.shape);
            let blocks = model.attention_blocks();
            let features = model.nets.vae.encoder.valid().head(x.clone(), blocks);
            let alpha = values(score_grad_cam_weights(
                &model.nets.vae,
                tracked(x.clone()),
                tracked(features.clone()),
                blocks,
            ));
            let vae = model.nets.vae.valid();
            let reconstruct = |f: Tensor<4>| {
                vae.decoder.forward(vae.encoder.mean(vae.encoder.tail(f, blocks)))
            };
            let base = reconstruct(features.clone());
            let own = values(model.score(x.clone().flatten(1, 3)));
            let again = values(reconstruction_score(x.clone(), base.clone()));
            assert_eq!(again, own, "depth {depth}: the reconstruction is not the score's");
            // s = Σ_p |x_p − x̂_p| moves by −sign(x_p − x̂_p)·Δx̂_p while no sign flips: the
            // difference is taken on the reconstruction, whose values f32 resolves finely (the
            // score's own difference would drown in its rounding).
            let sign = values((x.clone() - base).sign());
            let [b, k, h, w] = features.dims();
            let pixels = sign.len() / b;
            let largest = alpha.iter().fold(0f32, |m, a| m.max(a.abs()));
            assert!(largest > 1e-6, "depth {depth}: all weights vanish: {alpha:?}");
            // One block earlier, the frozen block's LeakyReLU kinks and f32's rounding keep the
            // difference 6 % or more off at every ε tried (2e-2 to 1e-3); at the last feature map
            // it agrees to 1 % (ε 1e-2 and 5e-3).
            let steps: &[f32] = if depth == 0 { &[1e-2, 5e-3] } else { &[] };
            for &eps in steps {
                for c in 0..k {
                    let mut shift = vec![0f32; b * k * h * w];
                    for i in 0..b {
                        shift[(i * k + c) * h * w..(i * k + c + 1) * h * w].fill(eps);
                    }
                    let shift = Tensor::<4>::from_data(TensorData::new(shift, [b, k, h, w]), &device);
                    let up = values(reconstruct(features.clone() + shift.clone()));
                    let down = values(reconstruct(features.clone() - shift));
                    for i in 0..b {
                        let moved: f32 = (i * pixels..(i + 1) * pixels)
                            .map(|p| -sign[p] * (up[p] - down[p]))
                            .sum();
                        let difference = moved / (2.0 * eps * (h * w) as f32);
                        let a = alpha[i * k + c];
                        assert!(
                            (difference - a).abs() <= 0.02 * largest,
                            "depth {depth}, ε {eps}, image {i}, channel {c}: weight {a}, \
                             central difference {difference}"
                        );
                    }
                }
            }
            let spread: f32 = (0..k).map(|c| (alpha[c] - alpha[k + c]).abs()).sum();
            assert!(
                spread > 0.1 * largest,
                "depth {depth}: images 0 and 1 weigh alike: {alpha:?}"
            );
            let losses = model.train_step(tracked(x.clone()).flatten(1, 3)).unwrap();
            assert!(losses.iter().all(|(_, v)| v.is_finite()), "{losses:?}");
            let map = model.anomaly_map(x.flatten(1, 3)).unwrap();
            assert_eq!(map.dims(), [3, 1, 16, 16]);
        }
    }

    /// The score's gradient is CAVGA-u's option: CAVGA-w's attention is its classifier's.
    #[test]
    fn attention_from_the_score_is_refused_for_the_weak_variant() {
        let device = crate::device::parse("cpu").unwrap();
        let config = CavgaConfig {
            attention_target: AttentionTarget::Score,
            supervision: Supervision::Weak,
            ..small_config()
        };
        let e = Cavga::new(config, SHAPE, &device, 7).err().unwrap().to_string();
        assert!(e.contains("attention_target") && e.contains("weak"), "{e}");
    }

    /// A latent with no spatial extent is refused by name.
    #[test]
    fn too_many_halvings_are_refused() {
        let device = crate::device::parse("cpu").unwrap();
        let config = CavgaConfig {
            downsamplings: 5,
            ..CavgaConfig::default()
        };
        let shape = SampleShape::Image {
            channels: 1,
            height: 32,
            width: 32,
        };
        let e = Cavga::new(config.clone(), shape, &device, 0).err().unwrap().to_string();
        assert!(e.contains("halvings") && e.contains("1 to 4"), "{e}");
        // Far beyond the image's bits, still an error rather than an overflow.
        let config = CavgaConfig {
            downsamplings: 64,
            ..config
        };
        let e = Cavga::new(config, shape, &device, 0).err().unwrap().to_string();
        assert!(e.contains("halvings"), "{e}");
    }
}
