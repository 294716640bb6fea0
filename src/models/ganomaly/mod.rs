//! GANomaly (Akcay, Atapour-Abarghouei, Breckon, ACCV 2018), as its official code
//! (`samet-akcay/ganomaly`) defines it.
//!
//! - Generator: encoder G_E → decoder G_D → encoder E, the DCGAN shapes of [`crate::nn::dcgan`]
//!   (two encoders with separate weights); x̂ = G_D(G_E(x)).
//! - Discriminator: a DCGAN encoder with one output channel; its 4×4 feature map f(·) feeds
//!   the adversarial loss.
//! - Generator loss (paper eq. 4–7): `w_adv·‖f(x) − f(x̂)‖²₂ + w_con·‖x − x̂‖₁ + w_enc·‖z − ẑ‖²₂`
//!   (means over elements), weights 1 / 50 / 1. The adversarial term is the L2 between
//!   discriminator *features*, not a BCE on its output (anomalib's variant).
//! - Discriminator loss: `½·(BCE(D(x), 1) + BCE(D(x̂), 0))`; the discriminator is re-initialised
//!   whenever that loss falls under 1e-5, as the official code does.
//! - Update order per batch: generator forward, generator step, discriminator step on the x̂ of
//!   that forward (detached). Adam lr 2e-4, β = (0.5, 0.999) for each network, batch 64,
//!   15 epochs. Both steps are computed from one backward pass, which gives the same updates
//!   with less work (see `train_step`; checked against the official order by
//!   `oddity bench speed`'s same-function check).
//! - Inputs: images resized to `image_size` (32), standardised per channel with training-split
//!   statistics (the run's default scaling; for MNIST ≈ the official (0.1307, 0.3081)).
//! - Score (paper eq. 8): `A(x) = mean_k (G_E(x)_k − E(G(x))_k)²`. The official code then
//!   min-max normalises over the test set; that changes no ranking metric and is not done here
//!   (it would need the test set; thresholds come from validation data instead).

mod networks;

use super::{Detector, ModelInfo, ModelSpec, StepLosses, as_images, read_values, square_image};
use crate::data::source::DataForm;
use crate::data::SampleShape;
use crate::nn::init::{component_rng, reinitialise_below};
use crate::nn::loss::{bce_with_logits, l1, l2, per_sample_mse};
use crate::nn::{DcganDecoderConfig, DcganEncoderConfig, InitScheme, NetOptimizer, initialise};
use crate::nn::{Trainables, TrainablesMut};
use burn::prelude::*;
use networks::{GanomalyNets, Generator};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// GANomaly's hyper-parameters; `Default` is the official code's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GanomalyConfig {
    /// Input side the images are resized to (`isize`, 32).
    pub image_size: usize,
    /// Latent channels (`nz`, 100).
    pub latent_dim: usize,
    /// Base width of encoders, decoder and discriminator (`ngf` = `ndf` = 64).
    pub base_width: usize,
    /// Weight of the adversarial feature loss (`w_adv`, 1).
    pub w_adv: f32,
    /// Weight of the L1 contextual loss (`w_con`, 50).
    pub w_con: f32,
    /// Weight of the latent encoder loss (`w_enc`, 1).
    pub w_enc: f32,
    /// Adam learning rate of both networks (2e-4).
    pub learning_rate: f64,
    /// Adam β₁ (0.5).
    pub beta_1: f32,
    /// Adam β₂ (0.999).
    pub beta_2: f32,
    /// Training batch size (64).
    pub batch_size: usize,
    /// Training epochs (`niter`, 15).
    pub epochs: usize,
    /// Re-initialise the discriminator when its loss falls below this (1e-5).
    pub d_reinit_below: f32,
    /// Score with the BatchNorm statistics of the scored batch, as the official code's
    /// `test()` does (it leaves the generator in training mode). Off by default: a sample's
    /// score then depends on which samples share its batch and on the batch size. On, the
    /// running statistics of training are left as they are.
    pub batch_statistics_at_score: bool,
}

impl Default for GanomalyConfig {
    fn default() -> Self {
        GanomalyConfig {
            image_size: 32,
            latent_dim: 100,
            base_width: 64,
            w_adv: 1.0,
            w_con: 50.0,
            w_enc: 1.0,
            learning_rate: 2e-4,
            beta_1: 0.5,
            beta_2: 0.999,
            batch_size: 64,
            epochs: 15,
            d_reinit_below: 1e-5,
            batch_statistics_at_score: false,
        }
    }
}

/// A GANomaly detector: networks, their optimizers and the generator for re-initialisations.
pub struct Ganomaly {
    config: GanomalyConfig,
    shape: [usize; 3],
    device: Device,
    nets: GanomalyNets,
    optim_g: NetOptimizer,
    optim_d: NetOptimizer,
    rng: ChaCha8Rng,
}

impl Ganomaly {
    /// Build GANomaly for images of `shape` on `device` (trained on its autodiff form).
    pub fn new(
        config: GanomalyConfig,
        shape: SampleShape,
        device: &Device,
        seed: u64,
    ) -> crate::Result<Self> {
        let [channels, height, width] = square_image("ganomaly", shape, config.image_size)?;
        let train_device = device.clone().autodiff();
        let encoder = |latent_dim| DcganEncoderConfig {
            image_size: config.image_size,
            channels,
            base_width: config.base_width,
            latent_dim,
        };
        let decoder = DcganDecoderConfig {
            image_size: config.image_size,
            channels,
            base_width: config.base_width,
            latent_dim: config.latent_dim,
        };
        let mut rng = component_rng(seed, 1);
        let generator = Generator {
            encoder1: encoder(config.latent_dim).init(&train_device),
            decoder: decoder.init(&train_device),
            encoder2: encoder(config.latent_dim).init(&train_device),
        };
        let nets = GanomalyNets {
            generator: initialise(generator, InitScheme::Dcgan, &mut rng),
            discriminator: initialise(encoder(1).init(&train_device), InitScheme::Dcgan, &mut rng),
        };
        let adam = || NetOptimizer::adam(config.learning_rate, config.beta_1, config.beta_2);
        Ok(Ganomaly {
            shape: [channels, height, width],
            device: device.clone(),
            nets,
            optim_g: adam(),
            optim_d: adam(),
            rng,
            config,
        })
    }
}

/// The GANomaly anomaly score from the two latent codes: `mean_k (z_k − ẑ_k)²` per sample.
pub fn latent_score(latent: Tensor<4>, latent_reconstructed: Tensor<4>) -> Tensor<1> {
    per_sample_mse(latent, latent_reconstructed)
}

impl ModelSpec for GanomalyConfig {
    const INFO: ModelInfo = ModelInfo {
        name: "ganomaly",
        group: super::ModelGroup::Detector,
        paper: "Akcay, Atapour-Abarghouei, Breckon. GANomaly: Semi-Supervised Anomaly Detection via Adversarial Training. ACCV 2018",
        summary: "encoder-decoder-encoder GAN; score = latent distance ‖G_E(x) − E(G(x))‖²",
        inputs: "images",
    };

    type Detector = Ganomaly;
    const SCORE_SETTINGS: &'static [&'static str] = &["batch_statistics_at_score"];

    /// A side the DCGAN pyramid can halve down to 4×4: a power of two, at least 8.
    fn check(&self) -> crate::Result<()> {
        crate::nn::dcgan::check_image_size(self.image_size)
    }

    fn takes(&self) -> &'static [DataForm] {
        DataForm::IMAGES
    }

    fn build(&self, shape: SampleShape, device: &Device, seed: u64) -> crate::Result<Ganomaly> {
        Ganomaly::new(self.clone(), shape, device, seed)
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

impl Detector for Ganomaly {
    fn train_step(&mut self, batch: Tensor<2>) -> crate::Result<StepLosses> {
        let c = &self.config;
        let x = as_images(batch, self.shape);
        let out = self.nets.generator.forward(x.clone());
        let d = &self.nets.discriminator;
        // The official code takes a generator step, then a discriminator step on the x̂ of the
        // same forward pass; the discriminator step does not see the generator's update, so both
        // losses can share one graph and one backward pass, as long as neither loss reaches the
        // other network's weights: the generator's adversarial term goes through a copy of D
        // whose weights are constants, and the discriminator sees x̂ detached. D(x)'s features
        // serve both losses (BatchNorm uses batch statistics in training, so they are the same
        // values either way). This skips the gradients of D's weights that the official
        // generator step computes and throws away, and one D forward pass.
        let real_features = d.features(x.clone());
        let fake_features = d.clone().no_grad().features(out.reconstruction.clone());
        let adv = l2(real_features.clone().detach(), fake_features);
        let con = l1(x, out.reconstruction.clone());
        let enc = l2(out.latent, out.latent_reconstructed);
        let loss_g = adv.clone() * c.w_adv + con.clone() * c.w_con + enc.clone() * c.w_enc;
        let logit_real = d.head(real_features);
        let logit_fake = d.forward(out.reconstruction.detach());
        let loss_d = (bce_with_logits(logit_real, true) + bce_with_logits(logit_fake, false)) * 0.5;
        let losses = Tensor::cat(vec![adv, con, enc], 0);
        let mut grads = (loss_g + loss_d.clone()).backward();
        self.nets.generator = self.optim_g.step(self.nets.generator.clone(), &mut grads);
        self.nets.discriminator = self
            .optim_d
            .step(self.nets.discriminator.clone(), &mut grads);

        let values = read_values(vec![losses, loss_d])?;
        let loss_d = values[3];
        self.nets.discriminator = reinitialise_below(
            self.nets.discriminator.clone(),
            loss_d,
            c.d_reinit_below,
            &mut self.rng,
        );
        let g = c.w_adv * values[0] + c.w_con * values[1] + c.w_enc * values[2];
        Ok(vec![
            ("g", g),
            ("adv", values[0]),
            ("con", values[1]),
            ("enc", values[2]),
            ("d", loss_d),
        ])
    }

    fn scores_depend_on_the_batch(&self) -> bool {
        self.config.batch_statistics_at_score
    }

    fn score(&self, batch: Tensor<2>) -> Tensor<1> {
        let x = as_images(batch, self.shape);
        if self.config.batch_statistics_at_score {
            // A copy in training mode (`valid` gives it running statistics of its own), so
            // the scored batch's statistics normalise it without moving the trained ones.
            let generator = self.nets.generator.valid().train();
            let x = Tensor::<4>::from_data(x.into_data(), &self.device.clone().autodiff());
            let out = generator.forward(x);
            let score = latent_score(out.latent, out.latent_reconstructed);
            return Tensor::from_data(score.into_data(), &self.device);
        }
        let out = self.nets.generator.valid().forward(x);
        latent_score(out.latent, out.latent_reconstructed)
    }

    /// The residual `|x − x̂|` of the generator's reconstruction, averaged over channels (in
    /// evaluation mode; the paper scores in latent space and draws no map).
    fn anomaly_map(&self, batch: Tensor<2>) -> Option<Tensor<4>> {
        let x = as_images(batch, self.shape);
        let out = self.nets.generator.valid().forward(x.clone());
        Some(crate::nn::loss::abs_residual_map(x, out.reconstruction))
    }

    /// `w_con·‖x − x̂‖₁ + w_enc·‖z − ẑ‖²` per sample: the generator terms that measure the fit to
    /// normal data. The adversarial term is left out: it moves with the discriminator.
    fn validation_loss(&self, batch: Tensor<2>) -> Tensor<1> {
        let x = as_images(batch, self.shape);
        let b = x.dims()[0];
        let out = self.nets.generator.valid().forward(x.clone());
        let con = (x - out.reconstruction)
            .abs()
            .reshape([b as i32, -1])
            .mean_dim(1)
            .reshape([b]);
        con * self.config.w_con
            + latent_score(out.latent, out.latent_reconstructed) * self.config.w_enc
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
    use burn::module::{Module, ModuleVisitor, Param};

    /// Every float parameter of a module, flattened in visiting order.
    fn flat_params<M: Module>(module: &M) -> Vec<f32> {
        struct Collect(Vec<f32>);
        impl ModuleVisitor for Collect {
            fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
                self.0.extend(param.val().into_data().iter::<f32>());
            }
        }
        let mut c = Collect(Vec::new());
        module.visit(&mut c);
        c.0
    }

    fn mean_abs_change(a: &[f32], b: &[f32]) -> f32 {
        a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum::<f32>() / a.len() as f32
    }

    /// The discriminator is re-drawn when its loss falls under `d_reinit_below`: with the
    /// threshold above any loss it is replaced after the step (weights move by the scale of the
    /// N(0, 0.02) init), with the threshold at 0 it only takes one Adam step (≈ lr).
    #[test]
    fn discriminator_is_reinitialised_under_the_threshold() {
        let device = Device::flex();
        let shape = SampleShape::Image {
            channels: 1,
            height: 32,
            width: 32,
        };
        let batch = Tensor::<2>::from_data(
            burn::tensor::TensorData::new(
                (0..8 * 1024)
                    .map(|i| ((i * 37 % 101) as f32 / 50.0) - 1.0)
                    .collect::<Vec<_>>(),
                [8, 1024],
            ),
            &device.clone().autodiff(),
        );
        let change = |threshold: f32| {
            let config = GanomalyConfig {
                d_reinit_below: threshold,
                ..GanomalyConfig::default()
            };
            let mut g = Ganomaly::new(config, shape, &device, 3).unwrap();
            let before = flat_params(&g.nets.discriminator);
            g.train_step(batch.clone()).unwrap();
            mean_abs_change(&before, &flat_params(&g.nets.discriminator))
        };
        let stepped = change(0.0);
        let redrawn = change(f32::MAX);
        assert!(stepped < 1e-3, "one Adam step moved D by {stepped}");
        assert!(
            redrawn > 5e-3,
            "re-initialisation moved D by only {redrawn}"
        );
    }

    /// The score is the mean over latent dimensions of the squared difference (paper eq. 8).
    #[test]
    fn latent_score_is_mean_squared_latent_difference() {
        let device = Device::flex();
        let z = Tensor::<4>::from_floats([[[[1.0f32]], [[2.0]], [[3.0]], [[4.0]]]], &device);
        let zh = Tensor::<4>::from_floats([[[[1.0f32]], [[0.0]], [[3.0]], [[1.0]]]], &device);
        // (0² + 2² + 0² + 3²) / 4 = 13/4
        let s = latent_score(z, zh)
            .into_data()
            .try_into_vec::<f32>()
            .unwrap();
        assert_eq!(s, vec![3.25]);
    }
}
