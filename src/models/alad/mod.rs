//! ALAD, "Adversarially Learned Anomaly Detection" (Zenati, Romain, Foo, Lecouat,
//! Chandrasekhar, ICDM 2018), as its official code
//! (`houssamzenati/Adversarially-Learned-Anomaly-Detection`, `--sn --enable_early_stop
//! --enable_dzz`) defines it, with its three network families ([`AladNetworks`]): KDD99's and
//! Arrhythmia's for tables (`alad/kdd_utilities.py`, `alad/arrhythmia_utilities.py`) and
//! CIFAR-10's for 32×32 colour images (`alad/cifar10_utilities.py`, [`cifar`]; deviation: grey
//! 32×32 images go through the same networks with one channel in and out).
//!
//! - EGBAD's BiGAN (encoder E, generator G, joint discriminator D_xz) plus two cycle
//!   discriminators: D_xx(x, x') (real pair (x, x), fake (x, G(E(x)))) and D_zz(z, z') (real
//!   (z, z), fake (z, E(G(z)))). Spectral normalisation (the paper's `--sn`) on the
//!   discriminators' layers and the image encoder's convolutions. The official tabular networks
//!   are built with plain `tf.layers.dense` and so ignore `--sn`; here the paper's version is the
//!   default and `spectral_norm: false` gives the code's.
//! - KDD99 networks: E `D → 64 → LeakyReLU(0.2) → 32`; G `32 → 64 → 128 → D` (ReLU); D_xz x
//!   branch 128 with BatchNorm, z branch 128 with dropout 0.5, joint 128 with dropout 0.5 (the
//!   feature layer); D_xx `concat → 128`, dropout 0.2; D_zz `concat → 32`, dropout 0.2. The
//!   Arrhythmia ones are wider (see [`AladNetworks::Arrhythmia`]).
//! - Losses (sigmoid cross-entropy, unit weights): `L_D = L_xz + L_xx + L_zz`; generator
//!   `BCE(D_xz(G(z), z), 1) + cycle`, encoder `BCE(D_xz(x, E(x)), 0) + cycle`, with
//!   `cycle = BCE(D_xx(x,x),0) + BCE(D_xx(x,G(E(x))),1) + BCE(D_zz(z,z),0) + BCE(D_zz(z,E(G(z))),1)`.
//!   Adam β₁ = 0.5 (lr 1e-5 tables, 2e-4 images), z ~ N(0, I); discriminators first, then
//!   generator and encoder on another batch (as [`super::egbad`]).
//! - Test time: moving average of the weights (decay 0.999). Scores: `fm` (default)
//!   `‖f_xx(x, x) − f_xx(x, G(E(x)))‖₁`, `l1`/`l2` `‖x − G(E(x))‖`, `ch` `BCE(D_xx(x, G(E(x))), 1)`.
//! - Early stopping on the mean validation score with patience 10. The paper's model is the
//!   best epoch's ("best" checkpoint); the official code keeps the weights at stop time ("last").
//! - CIFAR-10 images are in [−1, 1] in the official code: the default `--scaling` on images.

pub mod cifar;
mod networks;

pub use networks::AladNets;

use super::{Detector, ModelInfo, ModelSpec, Settings, StepLosses, read_values};
use crate::data::source::DataForm;
use crate::data::preprocess::Scaling;
use crate::data::SampleShape;
use crate::nn::ema::{load_with_average, save_with_average, scoring_copy};
use crate::nn::init::{component_rng, normal_tensor};
use crate::nn::loss::{bce_with_logits, row_l1};
use crate::nn::{Ema, InitScheme, NetOptimizer, initialise};
use crate::nn::{Trainables, TrainablesMut, TrainingState, Weights};
use burn::prelude::*;
use burn::tensor::activation::log_sigmoid;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// ALAD's anomaly scores.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AladScore {
    /// `‖f_xx(x, x) − f_xx(x, G(E(x)))‖₁` (the paper's headline score).
    Fm,
    /// `‖x − G(E(x))‖₁`.
    L1,
    /// `‖x − G(E(x))‖₂`.
    L2,
    /// `BCE(D_xx(x, G(E(x))), 1)`.
    Ch,
}

/// The official code's networks (`alad/<dataset>_utilities.py`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AladNetworks {
    /// Tables, KDD99's sizes: E `D → 64 → latent`; G `latent → 64 → 128 → D`; D_xz branches
    /// 128 (x with BatchNorm; z dropout 0.5), joint 128 (dropout 0.5); D_xx `2D → 128`; D_zz
    /// `2·latent → 32` (dropout 0.2). Latent 32, lr 1e-5, batch 50.
    Kdd99,
    /// Tables, Arrhythmia's sizes: E `D → 256 → 128 → latent`; G `latent → 128 → 256 → D`;
    /// D_xz branches 128, joint 256; D_xx `2D → 256 → 128`; D_zz `2·latent → 64 → 32`.
    /// Latent 64, lr 1e-5, batch 32.
    Arrhythmia,
    /// 32×32 colour (or grey) images ([`cifar`]), N(0, 0.01) weights. Latent 100,
    /// lr 2e-4, batch 32.
    Cifar10,
}

/// ALAD's hyper-parameters; `Default` is the official KDD99 configuration, [`AladConfig::official`]
/// that of each network family (a configuration file naming `networks` starts from it).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AladConfig {
    /// Which official networks.
    pub networks: AladNetworks,
    /// Latent size (32 / 64 / 100).
    pub latent_dim: usize,
    /// LeakyReLU slope of the tabular encoder and discriminators (0.2).
    pub slope: f64,
    /// Spectral normalisation of the discriminators (and of the image encoder's convolutions),
    /// the paper's `--sn` (on). The official tabular networks ignore the flag; turn it off for
    /// their actual behaviour.
    pub spectral_norm: bool,
    /// Adam learning rate (1e-5 tables, 2e-4 images).
    pub learning_rate: f64,
    /// Adam β₁ (0.5).
    pub beta_1: f32,
    /// Adam β₂ (0.999).
    pub beta_2: f32,
    /// Training batch size (50 KDD99, 32 otherwise).
    pub batch_size: usize,
    /// Most epochs (early stopping usually ends sooner).
    pub epochs: usize,
    /// Early-stopping patience in epochs (10); `None` runs every epoch.
    pub patience: Option<usize>,
    /// Decay of the weights' moving average used at test time (0.999).
    pub ema_decay: Option<f64>,
    /// The score.
    pub score: AladScore,
}

impl Default for AladConfig {
    fn default() -> Self {
        AladConfig::official(AladNetworks::Kdd99)
    }
}

impl AladConfig {
    /// The official configuration of `networks`.
    pub fn official(networks: AladNetworks) -> Self {
        let (latent_dim, learning_rate, batch_size) = match networks {
            AladNetworks::Kdd99 => (32, 1e-5, 50),
            AladNetworks::Arrhythmia => (64, 1e-5, 32),
            AladNetworks::Cifar10 => (100, 2e-4, 32),
        };
        AladConfig {
            networks,
            latent_dim,
            slope: 0.2,
            spectral_norm: true,
            learning_rate,
            beta_1: 0.5,
            beta_2: 0.999,
            batch_size,
            epochs: 100,
            patience: Some(10),
            ema_decay: Some(0.999),
            score: AladScore::Fm,
        }
    }
}

/// An ALAD detector.
pub struct Alad {
    config: AladConfig,
    /// `[C, H, W]` of image inputs (for the anomaly map); `None` for tables.
    image: Option<[usize; 3]>,
    device: Device,
    nets: AladNets,
    average: Option<Ema<AladNets>>,
    optim: [NetOptimizer; 5],
    rng: ChaCha8Rng,
    previous: Option<Tensor<2>>,
}

impl Alad {
    /// Build ALAD for rows of `shape` on `device`.
    pub fn new(
        config: AladConfig,
        shape: SampleShape,
        device: &Device,
        seed: u64,
    ) -> crate::Result<Self> {
        let dev = device.clone().autodiff();
        let mut rng = component_rng(seed, 2);
        let nets = match (config.networks, shape) {
            (AladNetworks::Kdd99 | AladNetworks::Arrhythmia, SampleShape::Table { features }) => {
                AladNets::for_table(&config, features, &dev, &mut rng)
            }
            (
                AladNetworks::Cifar10,
                SampleShape::Image {
                    channels: channels @ (1 | 3),
                    height: 32,
                    width: 32,
                },
            ) => AladNets::for_cifar(&config, channels, &dev, &mut rng),
            (networks, shape) => anyhow::bail!(
                "alad's {} networks do not take {shape}: the kdd99 and arrhythmia networks take tables, the cifar10 ones 32×32 colour or grey images (set \"networks\" in --model-config, e.g. {{\"networks\": \"cifar10\"}}, which also brings that family's learning rate, batch and latent size)",
                serde_json::to_string(&networks).unwrap_or_default()
            ),
        };
        let scheme = match config.networks {
            AladNetworks::Cifar10 => InitScheme::SmallNormal,
            _ => InitScheme::Xavier,
        };
        let nets = initialise(nets, scheme, &mut component_rng(seed, 1));
        let adam = || NetOptimizer::adam(config.learning_rate, config.beta_1, config.beta_2);
        Ok(Alad {
            image: shape.image_dims(),
            average: config.ema_decay.map(|d| Ema::new(&nets, d)),
            device: device.clone(),
            nets,
            optim: [adam(), adam(), adam(), adam(), adam()],
            rng,
            previous: None,
            config,
        })
    }

    fn prior(&mut self, batch: usize, device: &Device) -> Tensor<2> {
        normal_tensor(&mut self.rng, [batch, self.config.latent_dim], 1.0, device)
    }

    fn scoring_nets(&self) -> AladNets {
        scoring_copy(self.average.as_ref(), &self.nets)
    }
}

/// ALAD's score of each sample from the parts a pass computes.
pub fn alad_score(
    kind: AladScore,
    x: Tensor<2>,
    reconstruction: Tensor<2>,
    features_real: Tensor<2>,
    features_reconstructed: Tensor<2>,
    logits_reconstructed: Tensor<2>,
) -> Tensor<1> {
    let b = x.dims()[0];
    match kind {
        AladScore::Fm => row_l1(features_real, features_reconstructed),
        AladScore::L1 => row_l1(x, reconstruction),
        AladScore::L2 => (x - reconstruction)
            .powi_scalar(2)
            .sum_dim(1)
            .sqrt()
            .reshape([b]),
        AladScore::Ch => log_sigmoid(logits_reconstructed).neg().reshape([b]),
    }
}

impl ModelSpec for AladConfig {
    const INFO: ModelInfo = ModelInfo {
        name: "alad",
        group: super::ModelGroup::Detector,
        paper: "Zenati, Romain, Foo, Lecouat, Chandrasekhar. Adversarially Learned Anomaly Detection. ICDM 2018",
        summary: "BiGAN + cycle discriminators D_xx, D_zz, spectral norm, moving average, early stopping; score = ‖f_xx(x,x) − f_xx(x,G(E(x)))‖₁ (or l1, l2, ch)",
        inputs: "tables (networks kdd99, arrhythmia), colour or grey images (networks cifar10; resized to 32×32)",
    };

    type Detector = Alad;
    const SCORE_SETTINGS: &'static [&'static str] = &["score"];

    const FORMS_CHOSEN_BY: Option<&'static str> = Some("networks");

    /// The CIFAR-10 networks take images; the KDDCUP99 and Arrhythmia ones rows.
    fn takes(&self) -> &'static [DataForm] {
        match self.networks {
            AladNetworks::Cifar10 => DataForm::IMAGES,
            AladNetworks::Kdd99 | AladNetworks::Arrhythmia => DataForm::ROWS,
        }
    }

    fn build(&self, shape: SampleShape, device: &Device, seed: u64) -> crate::Result<Alad> {
        Alad::new(self.clone(), shape, device, seed)
    }

    fn epochs(&self) -> usize {
        self.epochs
    }

    fn batch_size(&self) -> usize {
        self.batch_size
    }

    /// The CIFAR-10 networks take 32 × 32 images: other sizes are resized to it.
    fn image_size(&self) -> Option<usize> {
        (self.networks == AladNetworks::Cifar10).then_some(32)
    }

    /// Images: the official CIFAR-10 code's [−1, 1], the range of its tanh generator.
    fn image_scaling(&self) -> Scaling {
        Scaling::MinusOneToOne
    }

    fn patience(&self) -> Option<usize> {
        self.patience
    }

    /// A settings file naming ALAD's `networks` starts from that family's official
    /// configuration (its learning rate, batch and latent size), not from KDD99's.
    fn defaults_for_settings(settings: &Settings) -> crate::Result<Self> {
        super::spec::selected_defaults(settings, "alad", "networks", AladConfig::official)
    }
}

impl Detector for Alad {
    fn train_step(&mut self, x: Tensor<2>) -> crate::Result<StepLosses> {
        let device = x.device();
        let b = x.dims()[0];
        // Discriminators: E, G and the reconstructions as constants.
        let z = self.prior(b, &device);
        let n = &self.nets;
        let encoded = n.encoder.forward(x.clone(), true).detach();
        let generated = n.generator.forward(z.clone()).detach();
        let rec_x = n.generator.forward(encoded.clone()).detach();
        let rec_z = n.encoder.forward(generated.clone(), true).detach();
        let r = &mut self.rng;
        let xz_real = n.d_xz.forward(x.clone(), encoded, Some(r)).logits;
        let xz_fake = n.d_xz.forward(generated, z.clone(), Some(r)).logits;
        let xx_real = n.d_xx.forward(x.clone(), x.clone(), Some(r)).logits;
        let xx_fake = n.d_xx.forward(x.clone(), rec_x, Some(r)).logits;
        let zz_real = n.d_zz.forward(z.clone(), z.clone(), Some(r)).logits;
        let zz_fake = n.d_zz.forward(z, rec_z, Some(r)).logits;
        let l_xz = bce_with_logits(xz_real, true) + bce_with_logits(xz_fake, false);
        let l_xx = bce_with_logits(xx_real, true) + bce_with_logits(xx_fake, false);
        let l_zz = bce_with_logits(zz_real, true) + bce_with_logits(zz_fake, false);
        let loss_d = l_xz + l_xx + l_zz;
        let mut grads = loss_d.clone().backward();
        let [_, _, o_xz, o_xx, o_zz] = &mut self.optim;
        self.nets.d_xz = o_xz.step(self.nets.d_xz.clone(), &mut grads);
        self.nets.d_xx = o_xx.step(self.nets.d_xx.clone(), &mut grads);
        self.nets.d_zz = o_zz.step(self.nets.d_zz.clone(), &mut grads);

        // Generator and encoder on another batch through the updated discriminators, held
        // constant. The adversarial terms reach one network each and the cycle term both, so
        // one backward of their sum gives each network the gradient of its own loss.
        let x = self.previous.replace(x.clone()).unwrap_or(x);
        let z = self.prior(b, &device);
        let n = &self.nets;
        let (d_xz, d_xx, d_zz) = (
            n.d_xz.clone().no_grad(),
            n.d_xx.clone().no_grad(),
            n.d_zz.clone().no_grad(),
        );
        let encoded = n.encoder.forward(x.clone(), true);
        let generated = n.generator.forward(z.clone());
        let rec_x = n.generator.forward(encoded.clone());
        let rec_z = n.encoder.forward(generated.clone(), true);
        let r = &mut self.rng;
        let adv_g = bce_with_logits(d_xz.forward(generated, z.clone(), Some(r)).logits, true);
        let adv_e = bce_with_logits(d_xz.forward(x.clone(), encoded, Some(r)).logits, false);
        let cycle = bce_with_logits(d_xx.forward(x.clone(), x.clone(), Some(r)).logits, false)
            + bce_with_logits(d_xx.forward(x, rec_x, Some(r)).logits, true)
            + bce_with_logits(d_zz.forward(z.clone(), z.clone(), Some(r)).logits, false)
            + bce_with_logits(d_zz.forward(z, rec_z, Some(r)).logits, true);
        let mut grads = (adv_g.clone() + adv_e.clone() + cycle.clone()).backward();
        let [o_e, o_g, ..] = &mut self.optim;
        self.nets.generator = o_g.step(self.nets.generator.clone(), &mut grads);
        self.nets.encoder = o_e.step(self.nets.encoder.clone(), &mut grads);
        if let Some(avg) = &mut self.average {
            avg.update(&self.nets);
        }
        let v = read_values(vec![loss_d, adv_g, adv_e, cycle])?;
        Ok(vec![("d", v[0]), ("g", v[1] + v[3]), ("e", v[2] + v[3])])
    }

    fn score(&self, x: Tensor<2>) -> Tensor<1> {
        let n = self.scoring_nets();
        let rec = n.generator.forward(n.encoder.forward(x.clone(), false));
        let real = n.d_xx.forward(x.clone(), x.clone(), None);
        let fake = n.d_xx.forward(x.clone(), rec.clone(), None);
        alad_score(
            self.config.score,
            x,
            rec,
            real.features,
            fake.features,
            fake.logits,
        )
    }

    /// On images, the residual `|x − G(E(x))|` of the scoring networks, averaged over channels.
    fn anomaly_map(&self, x: Tensor<2>) -> Option<Tensor<4>> {
        let [c, h, w] = self.image?;
        let n = self.scoring_nets();
        let b = x.dims()[0];
        let rec = n.generator.forward(n.encoder.forward(x.clone(), false));
        Some(crate::nn::loss::abs_residual_map(
            x.reshape([b, c, h, w]),
            rec.reshape([b, c, h, w]),
        ))
    }

    fn trainables(&self) -> Trainables<'_> {
        Trainables {
            networks: &self.nets,
            optimizers: self.optim.iter().collect(),
            rng: Some(&self.rng),
            average: self
                .average
                .as_ref()
                .map(|a| a.average() as &dyn Weights),
        }
    }

    fn trainables_mut(&mut self) -> TrainablesMut<'_> {
        TrainablesMut {
            networks: &mut self.nets,
            optimizers: self.optim.iter_mut().collect(),
            rng: Some(&mut self.rng),
            average: self
                .average
                .as_mut()
                .map(|a| a.average_mut() as &mut dyn Weights),
        }
    }

    fn save_weights(&self) -> crate::Result<Vec<u8>> {
        save_with_average(&self.nets, self.scoring_nets())
    }

    fn load_weights(&mut self, bytes: Vec<u8>) -> crate::Result<()> {
        let template = self.nets.clone();
        load_with_average(&mut self.nets, self.average.as_mut(), template, bytes)
    }

    fn training_state(&self) -> crate::Result<Option<TrainingState>> {
        let mut state = TrainingState::of_trainables(&self.trainables())?;
        state.put_matrix("previous", self.previous.as_ref())?;
        Ok(Some(state))
    }

    fn restore_training_state(&mut self, state: &TrainingState) -> crate::Result<()> {
        state.restore_trainables(self.trainables_mut())?;
        self.previous = state.matrix("previous", &self.device.clone().autodiff())?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each score kind from hand-made parts.
    #[test]
    fn scores_follow_their_definitions() {
        let device = Device::flex();
        let t = |v: [[f32; 2]; 2]| Tensor::<2>::from_floats(v, &device);
        let x = t([[1.0, 2.0], [0.0, 0.0]]);
        let rec = t([[1.0, 0.0], [3.0, 4.0]]);
        let f_real = t([[1.0, 1.0], [0.0, 0.0]]);
        let f_rec = t([[0.0, 3.0], [0.0, -1.0]]);
        let logits = Tensor::<2>::from_floats([[0.0f32], [2.0]], &device);
        let score = |kind| {
            alad_score(
                kind,
                x.clone(),
                rec.clone(),
                f_real.clone(),
                f_rec.clone(),
                logits.clone(),
            )
            .into_data()
            .try_into_vec::<f32>()
            .unwrap()
        };
        let close = |a: Vec<f32>, b: [f32; 2]| {
            assert!(
                a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-5),
                "{a:?} vs {b:?}"
            );
        };
        close(score(AladScore::Fm), [3.0, 1.0]);
        close(score(AladScore::L1), [2.0, 7.0]);
        close(score(AladScore::L2), [2.0, 5.0]);
        // −log σ(0) = ln 2; −log σ(2) = ln(1 + e⁻²)
        close(
            score(AladScore::Ch),
            [2f32.ln(), (1.0 + (-2f32).exp()).ln()],
        );
    }

    /// Only the CIFAR-10 networks take images, at 32 × 32: a run resizes any other size to it.
    #[test]
    fn the_image_networks_set_the_image_size() {
        assert_eq!(
            AladConfig::official(AladNetworks::Cifar10).image_size(),
            Some(32)
        );
        assert_eq!(AladConfig::official(AladNetworks::Kdd99).image_size(), None);
    }
}
