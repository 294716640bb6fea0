//! OCGAN, "OCGAN: One-class Novelty Detection Using GANs with Constrained Latent
//! Representations" (Perera, Nallapati, Xiang, CVPR 2019), with the networks and the training
//! step of its official MXNet code (`PramuPerera/OCGAN`, `models.py`, `andgan.trainadnov`).
//!
//! The paper's idea: a denoising autoencoder whose latent space is bounded (tanh) and filled
//! uniformly with the normal class only, so that *every* latent code decodes to a normal-looking
//! image and an anomaly cannot be reconstructed.
//! - Denoising autoencoder: `l = En(x + n)`, `n ~ N(0, σ²)` (σ 0.2 in units of images scaled
//!   to [−1, 1], the default `--scaling` on images), `l ∈ (−1, 1)^d` (tanh), `x̂ = De(l)`.
//! - Latent discriminator D_l: `U(−1, 1)^d` samples (real) against encoded images (fake).
//! - Visual discriminator D_v: training images (real) against `De(u)`, `u ~ U(−1, 1)^d` (fake).
//! - Classifier C: reconstructions `De(En(x + n))` (real) against `De(u)` (fake).
//! - Informative-negative mining (from epoch `mining_from_epoch`): latent samples are moved by
//!   gradient descent on C's loss towards where C sees fakes, `u ← u − η ∂BCE(C(De(tanh u)), 0)/∂u`
//!   (the code's parametrisation by tanh keeps them in the support), and the autoencoder is
//!   trained to make those decode to images D_v takes for real.
//! - Autoencoder loss (paper eq. 5): `λ·MSE(x, x̂) + BCE(D_l(l), 1) + BCE(D_v(De(l_mined)), 1)`,
//!   λ = 10; each discriminator and C take the mean of their real and fake BCE. Adam 2e-4
//!   (β₁ 0.5) for every network; per step D_v and D_l, then C, then En and De.
//! - Score: the reconstruction MSE `mean (x − De(En(x)))²` (the paper's), on the clean input.
//!
//! Networks ([`networks`]): the code's 5×5 stride-2 unpadded convolutions, depth 3 (images
//! 61 × 61, as the code's default `img_wd`), encoder 64-128-256-d, decoder back with dropout 0.5
//! after its third layer, D_v 12-24-48-1, C 64-128-256-1, D_l 128-64-32-1 with ReLU. Batch 512,
//! 200 epochs, mining from epoch 151: the code's defaults.
//!
//! The code's values are those of its README's command (`--ndf 12 --lambda 10 --noisevar 0.2
//! --latent 16`; `options.py` defaults to ndf 8, λ 500, 0.02); its `noisevar` is passed as the
//! noise's standard deviation.
//!
//! Differences from the official code, each deliberate:
//! - The code's encoder ends in a LeakyReLU (`usetanh=False`), not the tanh the paper makes its
//!   first contribution; here the paper's tanh.
//! - The code's D_l ends in 16 sigmoid outputs that its loss passes through a sigmoid again
//!   (`SigmoidBinaryCrossEntropyLoss` on probabilities), which keeps each BCE within
//!   [0.31, 1.31] and its gradients small; here one logit and the plain BCE.
//! - The code weights the latent adversarial term by 10 and its reconstruction term is gluon's
//!   `L2Loss` (half the squared error) times λ = 10, i.e. 5·MSE; here the paper's weights 1, 1
//!   and λ on the mean squared error (`latent_weight`, `visual_weight`, `reconstruction_weight`
//!   change them).
//! - The code computes the step's codes and reconstructions for D_l's fakes and C's reals
//!   outside `autograd.record()`, i.e. BatchNorm on running statistics and no dropout; here
//!   they are the training-mode passes the autoencoder's own loss uses. C's fakes reuse D_v's
//!   decoded samples (the code decodes the same codes twice).
//! - The code reads MNIST as three identical channels (`imread` in colour, `in_channels=3`);
//!   here the data's own channels.
//! - The code's D_v and C always have four convolutions (`n_layers=2`), which brings only its
//!   61 × 61 images to one logit; here they follow `depth` as the encoder does (equal at depth
//!   3). The code starts BatchNorm's running variance at 0; here 1.
//! - The code holds out 10 % of the class's training images for validation, as the one-class
//!   protocol here does (the validation split, used only for the best-epoch checkpoint).
//! - The code draws its mined samples as `tanh(u)`, `u ~ U(−1, 1)`, even without mining (codes
//!   within ±0.76); here mining starts from `u = atanh(z)`, `z ~ U(−1, 1)^d`, so unmined codes
//!   are uniform on the whole support as the paper says.
//! - The code adds its input noise once when loading (each image keeps one noisy copy) and
//!   also to test images; here fresh noise every step and clean test images, so scores are
//!   deterministic.
//! - Initialisation is DCGAN's (convolutions N(0, 0.02), BatchNorm scale N(1, 0.02)); the code
//!   also draws dense weights and biases N(0, 0.02) and zeroes convolution biases.

pub mod networks;

use super::{Detector, ModelInfo, ModelSpec, StepLosses, as_images, image_dims, read_values};
use crate::data::source::DataForm;
use crate::data::preprocess::Scaling;
use crate::data::SampleShape;
use crate::nn::init::{component_rng, normal_tensor};
use crate::nn::loss::{abs_residual_map, bce_with_logits, l2, per_sample_mse};
use crate::nn::{InitScheme, NetOptimizer, Trainables, TrainablesMut, initialise};
use anyhow::ensure;
use burn::prelude::*;
use burn::tensor::activation::log_sigmoid;
use networks::{OcganNets, Sizes, side_for_depth};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// OCGAN's hyper-parameters; the defaults are the paper's and its code's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct OcganConfig {
    /// Convolutions down to 1 × 1 minus one (3); images are resized to side
    /// `4·2^(depth+1) − 3` (61 at depth 3, 29 at 2, 13 at 1).
    pub depth: usize,
    /// Latent dimension d (16).
    pub latent_dim: usize,
    /// Channels of the encoder's first convolution, doubled at each further one; also the
    /// classifier's (64, the code's `ngf`).
    pub base_width: usize,
    /// Channels of the visual discriminator's first convolution (12, the code's `ndf`).
    pub discriminator_width: usize,
    /// σ of the denoising input noise (0.2).
    pub noise_std: f32,
    /// λ, the weight of the reconstruction MSE (10).
    pub reconstruction_weight: f32,
    /// Weight of the latent adversarial term (1; the code: 10).
    pub latent_weight: f32,
    /// Weight of the visual adversarial term (1).
    pub visual_weight: f32,
    /// The first epoch with informative-negative mining (151: the code mines after epoch 150
    /// of 200); later than `epochs` turns mining off.
    pub mining_from_epoch: usize,
    /// Gradient steps per mined batch (1).
    pub mining_steps: usize,
    /// Step size of a mining step on each latent sample (2: the code's `lr/B` with `lr = 2B`).
    pub mining_step_size: f32,
    /// Dropout rate after the decoder's third layer, when it has one (0.5).
    pub decoder_dropout: f64,
    /// Adam learning rate of every network (2e-4).
    pub learning_rate: f64,
    /// Adam β₁ (0.5).
    pub beta_1: f32,
    /// Batch size (512).
    pub batch_size: usize,
    /// Epochs (200).
    pub epochs: usize,
}

impl Default for OcganConfig {
    fn default() -> Self {
        OcganConfig {
            depth: 3,
            latent_dim: 16,
            base_width: 64,
            discriminator_width: 12,
            noise_std: 0.2,
            reconstruction_weight: 10.0,
            latent_weight: 1.0,
            visual_weight: 1.0,
            mining_from_epoch: 151,
            mining_steps: 1,
            mining_step_size: 2.0,
            decoder_dropout: 0.5,
            learning_rate: 2e-4,
            beta_1: 0.5,
            batch_size: 512,
            epochs: 200,
        }
    }
}

impl ModelSpec for OcganConfig {
    const INFO: ModelInfo = ModelInfo {
        name: "ocgan",
        group: super::ModelGroup::Baseline,
        paper: "Perera, Nallapati, Xiang. OCGAN: One-class Novelty Detection Using GANs with Constrained Latent Representations. CVPR 2019",
        summary: "denoising AE with a bounded latent space filled by the normal class (latent and visual discriminators, informative-negative mining); score = reconstruction MSE",
        inputs: "images",
    };

    type Detector = Ocgan;

    fn takes(&self) -> &'static [DataForm] {
        DataForm::IMAGES
    }

    fn build(&self, shape: SampleShape, device: &Device, seed: u64) -> crate::Result<Ocgan> {
        Ocgan::new(self.clone(), shape, device, seed)
    }

    fn epochs(&self) -> usize {
        self.epochs
    }

    fn batch_size(&self) -> usize {
        self.batch_size
    }

    fn image_size(&self) -> Option<usize> {
        side_for_depth(self.depth)
    }

    /// Images: the code's [−1, 1], the range of its tanh decoder.
    fn image_scaling(&self) -> Scaling {
        Scaling::MinusOneToOne
    }

    fn check(&self) -> crate::Result<()> {
        ensure!(
            side_for_depth(self.depth).is_some(),
            "ocgan depth must be within 1..=9 (images of side 4·2^(depth+1) − 3: 13, 29, 61, …, \
             4093), got {}",
            self.depth
        );
        let widest = (self.base_width as u64) << (self.depth - 1);
        ensure!(
            widest <= crate::validate::MAX_SIZE,
            "ocgan base_width {} doubles {} times to {widest} channels, over the {} allowed: use a \
             smaller base_width or depth",
            self.base_width,
            self.depth - 1,
            crate::validate::MAX_SIZE
        );
        Ok(())
    }
}

/// An OCGAN detector.
pub struct Ocgan {
    config: OcganConfig,
    shape: [usize; 3],
    nets: OcganNets,
    optim_encoder: NetOptimizer,
    optim_decoder: NetOptimizer,
    optim_visual: NetOptimizer,
    optim_latent: NetOptimizer,
    optim_classifier: NetOptimizer,
    rng: ChaCha8Rng,
    epoch: usize,
}

impl Ocgan {
    /// Build OCGAN for images of `shape` on `device`.
    pub fn new(
        config: OcganConfig,
        shape: SampleShape,
        device: &Device,
        seed: u64,
    ) -> crate::Result<Self> {
        config.check()?;
        let (channels, height, width) = image_dims("ocgan", shape)?;
        let side = side_for_depth(config.depth).expect("checked above");
        ensure!(
            height == side && width == side,
            "ocgan at depth {} takes {side}×{side} images (its unpadded convolutions bring that \
             side to 1); got {height}×{width}",
            config.depth
        );
        let dev = device.clone().autodiff();
        let sizes = Sizes {
            channels,
            depth: config.depth,
            latent: config.latent_dim,
            base_width: config.base_width,
            discriminator_width: config.discriminator_width,
            decoder_dropout: config.decoder_dropout,
        };
        let nets = initialise(
            OcganNets::new(&sizes, &dev),
            InitScheme::Dcgan,
            &mut component_rng(seed, 1),
        );
        let adam = || NetOptimizer::adam(config.learning_rate, config.beta_1, 0.999);
        Ok(Ocgan {
            shape: [channels, height, width],
            nets,
            optim_encoder: adam(),
            optim_decoder: adam(),
            optim_visual: adam(),
            optim_latent: adam(),
            optim_classifier: adam(),
            rng: component_rng(seed, 2),
            epoch: 1,
            config,
        })
    }

    /// `[B, d]` draws from U(−1, 1).
    fn uniform(&mut self, rows: usize, device: &Device) -> Tensor<2> {
        let d = self.config.latent_dim;
        let values: Vec<f32> = (0..rows * d)
            .map(|_| self.rng.random::<f32>() * 2.0 - 1.0)
            .collect();
        Tensor::from_data(TensorData::new(values, [rows, d]), device)
    }

    /// Informative-negative mining: `z` moved by gradient descent on C's loss for "fake" of
    /// the images they decode to, through `z = tanh(u)`. The weights stay as they are; the
    /// passes update De's and C's BatchNorm running statistics, as the code's do.
    fn mine(&mut self, z: Tensor<2>) -> Tensor<2> {
        let limit = 1.0 - 1e-6;
        let mut u = atanh(z.clamp(-limit, limit));
        // Copies without weight gradients; they share the running statistics.
        let decoder = self.nets.decoder.clone().no_grad();
        let classifier = self.nets.classifier.clone().no_grad();
        for _ in 0..self.config.mining_steps {
            let leaf = u.detach().require_grad();
            let images = decoder.forward(leaf.clone().tanh(), Some(&mut self.rng));
            let logits = classifier.forward(images);
            // Summed, as the code's backward of the per-sample losses: each sample moves by
            // the gradient of its own loss (coupled to the others only through BatchNorm).
            let loss = classifier_fake_loss(logits).sum();
            let grads = loss.backward();
            let g = leaf
                .grad(&grads)
                .expect("the classifier's output depends on the latent codes");
            let g = Tensor::<2>::from_data(g.into_data(), &leaf.device());
            u = leaf.detach() - g * self.config.mining_step_size as f64;
        }
        u.tanh().detach()
    }
}

/// A step's samples and the autoencoder's forward passes on them.
struct Pass {
    /// The clean images.
    x: Tensor<4>,
    /// `En(x + n)`, tracked.
    latent: Tensor<2>,
    /// `De(En(x + n))`, tracked.
    reconstruction: Tensor<4>,
    /// `De(u)`, `u ~ U(−1, 1)^d`: D_v's and C's fakes (detached).
    decoded_samples: Tensor<4>,
    /// `De(l_mined)`, tracked: the visual adversarial term's input.
    decoded_mined: Tensor<4>,
    /// `U(−1, 1)^d` draws: D_l's real inputs.
    prior: Tensor<2>,
}

impl Ocgan {
    /// The step's draws and forward passes. The decoder runs on the real images' codes last:
    /// its BatchNorm keeps 0.1 of the old running statistics a pass (MXNet's momentum 0.1), so
    /// the statistics it scores with are those of reconstructions, as in the code, not of
    /// decoded random codes.
    fn forward_pass(&mut self, x: Tensor<4>) -> Pass {
        let b = x.dims()[0];
        let device = x.device();
        let noise = normal_tensor(
            &mut self.rng,
            [b, self.shape.iter().product()],
            self.config.noise_std,
            &device,
        );
        let x_noisy = x.clone() + noise.reshape(x.dims());
        let sampled = self.uniform(b, &device);
        let mined = if self.epoch >= self.config.mining_from_epoch {
            let z = self.uniform(b, &device);
            self.mine(z)
        } else {
            self.uniform(b, &device)
        };
        let prior = self.uniform(b, &device);
        let decoded_samples = self
            .nets
            .decoder
            .forward(sampled, Some(&mut self.rng))
            .detach();
        let decoded_mined = self.nets.decoder.forward(mined, Some(&mut self.rng));
        let latent = self.nets.encoder.forward(x_noisy);
        let reconstruction = self
            .nets
            .decoder
            .forward(latent.clone(), Some(&mut self.rng));
        Pass {
            x,
            latent,
            reconstruction,
            decoded_samples,
            decoded_mined,
            prior,
        }
    }

    /// The autoencoder's loss (paper eq. 5) through D_v and D_l held constant, and its terms
    /// `[MSE, latent adversarial, visual adversarial]`.
    fn autoencoder_loss(&self, pass: Pass) -> (Tensor<1>, [Tensor<1>; 3]) {
        let c = &self.config;
        let visual = self.nets.visual.clone().no_grad();
        let latent_disc = self.nets.latent.clone().no_grad();
        let mse = l2(pass.x, pass.reconstruction);
        let adv_latent = bce_with_logits(latent_disc.forward(pass.latent), true);
        let adv_visual = bce_with_logits(visual.forward(pass.decoded_mined), true);
        let total = mse.clone() * c.reconstruction_weight as f64
            + adv_latent.clone() * c.latent_weight as f64
            + adv_visual.clone() * c.visual_weight as f64;
        (total, [mse, adv_latent, adv_visual])
    }
}

impl Ocgan {
    /// A batch as images and their reconstructions `De(En(x))`, in evaluation mode.
    fn reconstruct(&self, batch: Tensor<2>) -> (Tensor<4>, Tensor<4>) {
        let x = as_images(batch, self.shape);
        let nets = self.nets.valid();
        let reconstruction = nets.decoder.forward(nets.encoder.forward(x.clone()), None);
        (x, reconstruction)
    }
}

/// `atanh z = ½ ln((1 + z)/(1 − z))`.
fn atanh(z: Tensor<2>) -> Tensor<2> {
    ((z.clone() + 1.0) / (z.neg() + 1.0)).log() * 0.5
}

/// Per-sample `BCE(σ(logit), 0) = −log(1 − σ(logit))`, `[B, 1] → [B]`: C's loss for calling
/// an image fake, which mining descends.
pub fn classifier_fake_loss(logits: Tensor<2>) -> Tensor<1> {
    let b = logits.dims()[0];
    log_sigmoid(logits.neg()).neg().reshape([b])
}

/// The mean of a discriminator's BCE on its real and its fake inputs (the code's
/// `(errD_real + errD_fake) * 0.5`).
fn discriminator_loss(real_logits: Tensor<2>, fake_logits: Tensor<2>) -> Tensor<1> {
    (bce_with_logits(real_logits, true) + bce_with_logits(fake_logits, false)) * 0.5
}

/// OCGAN's anomaly score: the per-sample reconstruction MSE.
pub fn ocgan_score(x: Tensor<4>, reconstruction: Tensor<4>) -> Tensor<1> {
    per_sample_mse(x, reconstruction)
}

impl Detector for Ocgan {
    fn begin_epoch(&mut self, epoch: usize) {
        self.epoch = epoch;
    }

    fn train_step(&mut self, batch: Tensor<2>) -> crate::Result<StepLosses> {
        let pass = self.forward_pass(as_images(batch, self.shape));

        // D_v and D_l.
        let loss_visual = discriminator_loss(
            self.nets.visual.forward(pass.x.clone()),
            self.nets.visual.forward(pass.decoded_samples.clone()),
        );
        let loss_latent = discriminator_loss(
            self.nets.latent.forward(pass.prior.clone()),
            self.nets.latent.forward(pass.latent.clone().detach()),
        );
        let mut grads = (loss_visual.clone() + loss_latent.clone()).backward();
        self.nets.visual = self.optim_visual.step(self.nets.visual.clone(), &mut grads);
        self.nets.latent = self.optim_latent.step(self.nets.latent.clone(), &mut grads);

        // C: reconstructions are real, decoded samples fake.
        let loss_classifier = discriminator_loss(
            self.nets.classifier.forward(pass.reconstruction.clone().detach()),
            self.nets.classifier.forward(pass.decoded_samples.clone()),
        );
        let mut grads = loss_classifier.clone().backward();
        self.nets.classifier = self
            .optim_classifier
            .step(self.nets.classifier.clone(), &mut grads);

        // En and De through the updated discriminators.
        let (loss_ae, [mse, g_latent, g_visual]) = self.autoencoder_loss(pass);
        let mut grads = loss_ae.backward();
        self.nets.encoder = self
            .optim_encoder
            .step(self.nets.encoder.clone(), &mut grads);
        self.nets.decoder = self
            .optim_decoder
            .step(self.nets.decoder.clone(), &mut grads);

        let v = read_values(vec![
            mse,
            g_latent,
            g_visual,
            loss_visual,
            loss_latent,
            loss_classifier,
        ])?;
        Ok(vec![
            ("mse", v[0]),
            ("g_latent", v[1]),
            ("g_visual", v[2]),
            ("d_visual", v[3]),
            ("d_latent", v[4]),
            ("classifier", v[5]),
        ])
    }

    fn score(&self, batch: Tensor<2>) -> Tensor<1> {
        let (x, reconstruction) = self.reconstruct(batch);
        ocgan_score(x, reconstruction)
    }

    /// The reconstruction residual `|x − De(En(x))|`, averaged over channels (the paper draws
    /// no map).
    fn anomaly_map(&self, batch: Tensor<2>) -> Option<Tensor<4>> {
        let (x, reconstruction) = self.reconstruct(batch);
        Some(abs_residual_map(x, reconstruction))
    }

    fn trainables(&self) -> Trainables<'_> {
        Trainables {
            networks: &self.nets,
            optimizers: vec![
                &self.optim_encoder,
                &self.optim_decoder,
                &self.optim_visual,
                &self.optim_latent,
                &self.optim_classifier,
            ],
            rng: Some(&self.rng),
            average: None,
        }
    }

    fn trainables_mut(&mut self) -> TrainablesMut<'_> {
        TrainablesMut {
            networks: &mut self.nets,
            optimizers: vec![
                &mut self.optim_encoder,
                &mut self.optim_decoder,
                &mut self.optim_visual,
                &mut self.optim_latent,
                &mut self.optim_classifier,
            ],
            rng: Some(&mut self.rng),
            average: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The score is the mean squared error per sample: residuals (1, 1, 0, 0) → 0.5,
    /// (2, 0, 0, 0) → 1.
    #[test]
    fn score_is_the_reconstruction_mse() {
        let device = Device::flex();
        let x = Tensor::<4>::from_floats([[[[1.0f32, 1.0], [0.0, 0.0]]], [[[2.0, 0.0], [0.0, 0.0]]]], &device);
        let zero = Tensor::<4>::zeros([2, 1, 2, 2], &device);
        let s: Vec<f32> = ocgan_score(x, zero).into_data().try_into_vec().unwrap();
        assert_eq!(s, vec![0.5, 1.0]);
    }

    /// C's fake loss is `−log(1 − σ(l))`: ln 2 at 0, ln 4 at ln 3; and atanh inverts tanh.
    #[test]
    fn mining_loss_and_parametrisation() {
        let device = Device::flex();
        let l = Tensor::<2>::from_floats([[0.0f32], [3f32.ln()]], &device);
        let v: Vec<f32> = classifier_fake_loss(l).into_data().try_into_vec().unwrap();
        assert!((v[0] - 2f32.ln()).abs() < 1e-6 && (v[1] - 4f32.ln()).abs() < 1e-5, "{v:?}");
        let z = Tensor::<2>::from_floats([[-0.9f32, 0.0, 0.5]], &device);
        let back: Vec<f32> = atanh(z).tanh().into_data().try_into_vec().unwrap();
        for (got, want) in back.iter().zip([-0.9f32, 0.0, 0.5]) {
            assert!((got - want).abs() < 1e-6, "{back:?}");
        }
    }

    fn small(depth: usize) -> OcganConfig {
        OcganConfig {
            depth,
            base_width: 8,
            discriminator_width: 4,
            batch_size: 4,
            ..OcganConfig::default()
        }
    }

    fn image_shape(side: usize) -> SampleShape {
        SampleShape::Image {
            channels: 1,
            height: side,
            width: side,
        }
    }

    /// Mining moves the codes downhill on C's fake loss: one step of the default size (small
    /// on an untrained C, whose loss is flat) lowers the batch's loss, and the codes stay in
    /// (−1, 1). The loss is taken as mining sees it, BatchNorm on the batch's statistics.
    #[test]
    fn mining_descends_the_classifiers_fake_loss() {
        let device = Device::flex();
        let mut model = Ocgan::new(small(1), image_shape(13), &device, 3).unwrap();
        let dev = device.clone().autodiff();
        let z = model.uniform(6, &dev);
        let loss_of = |m: &Ocgan, z: Tensor<2>| -> f32 {
            let images = m.nets.decoder.forward(z, None);
            classifier_fake_loss(m.nets.classifier.forward(images))
                .sum()
                .into_scalar()
        };
        let before = loss_of(&model, z.clone());
        let mined = model.mine(z.clone());
        let after = loss_of(&model, mined.clone());
        let moved: Vec<f32> = (mined.clone() - z).abs().into_data().try_into_vec().unwrap();
        assert!(moved.iter().any(|m| *m > 1e-4), "mining did not move the codes");
        assert!(after < before, "mining raised C's fake loss: {before} → {after}");
        let inside: Vec<f32> = mined.abs().into_data().try_into_vec().unwrap();
        assert!(inside.iter().all(|v| *v < 1.0));
    }

    /// The autoencoder's loss moves the encoder and decoder only: D_v, D_l and C get no
    /// gradient from it.
    #[test]
    fn the_autoencoder_loss_holds_the_discriminators_constant() {
        use burn::optim::GradientsParams;
        let device = Device::flex();
        let mut model = Ocgan::new(small(1), image_shape(13), &device, 0).unwrap();
        let x = Tensor::<4>::ones([4, 1, 13, 13], &device.clone().autodiff()) * 0.3;
        let pass = model.forward_pass(x);
        let (loss, _) = model.autoencoder_loss(pass);
        let mut grads = loss.backward();
        let n = &model.nets;
        assert_eq!(GradientsParams::from_module(&mut grads, &n.visual).len(), 0);
        assert_eq!(GradientsParams::from_module(&mut grads, &n.latent).len(), 0);
        assert_eq!(GradientsParams::from_module(&mut grads, &n.classifier).len(), 0);
        assert!(GradientsParams::from_module(&mut grads, &n.encoder).len() > 0);
        assert!(GradientsParams::from_module(&mut grads, &n.decoder).len() > 0);
    }

    /// From `mining_from_epoch` on, the visual adversarial term sees mined codes: the same
    /// seeded step gives another loss with a mining step than without; before, the same.
    #[test]
    fn mining_feeds_the_visual_adversarial_term() {
        let device = Device::flex();
        let g_visual = |step_size: f32, epoch: usize| -> f32 {
            let config = OcganConfig {
                mining_from_epoch: 2,
                mining_step_size: step_size,
                ..small(1)
            };
            let mut model = Ocgan::new(config, image_shape(13), &device, 5).unwrap();
            model.begin_epoch(epoch);
            let values: Vec<f32> = (0..4 * 169).map(|i| ((i % 13) as f32 / 6.0) - 1.0).collect();
            let batch = Tensor::<2>::from_data(
                TensorData::new(values, [4, 169]),
                &device.clone().autodiff(),
            );
            let losses = model.train_step(batch).unwrap();
            losses.iter().find(|(name, _)| *name == "g_visual").unwrap().1
        };
        assert_eq!(g_visual(0.0, 1), g_visual(2.0, 1));
        assert_ne!(g_visual(0.0, 2), g_visual(2.0, 2));
    }

    /// Depth fixes the image side; a side that does not fit and a depth out of range are
    /// refused by name.
    #[test]
    fn depth_and_image_side_must_agree() {
        let device = Device::flex();
        assert_eq!(OcganConfig::default().image_size(), Some(61));
        let e = Ocgan::new(small(2), image_shape(28), &device, 0).err().unwrap().to_string();
        assert!(e.contains("29×29") && e.contains("28×28"), "{e}");
        // Refused with the run's settings, before any data is read.
        let e = super::super::ModelConfig::new(small(12)).validate().unwrap_err().to_string();
        assert!(e.contains("depth") && e.contains("12"), "{e}");
        let mut model = Ocgan::new(small(2), image_shape(29), &device, 0).unwrap();
        let batch = Tensor::<2>::zeros([4, 29 * 29], &device.clone().autodiff());
        model.begin_epoch(200);
        let losses = model.train_step(batch).unwrap();
        assert_eq!(losses.len(), 6);
        assert!(losses.iter().all(|(_, v)| v.is_finite()), "{losses:?}");
    }
}
