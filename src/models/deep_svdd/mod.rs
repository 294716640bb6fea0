//! Deep SVDD: Ruff, Vandermeulen, Görnitz, Deecke, Siddiqui, Binder, Müller, Kloft. "Deep
//! One-Class Classification". ICML 2018 (MODELS.md §17), as the official code
//! (`lukasruff/Deep-SVDD-PyTorch`) runs it on MNIST and CIFAR-10.
//!
//! A bias-free LeNet φ ([`networks`]: `"networks": "mnist"` for 28 × 28 grey images, the
//! default, or `"cifar10"` for 32 × 32 colour ones) maps an image to a code (32 or 128 values);
//! training pulls the codes of normal images towards a centre c:
//! 1. Pretraining (`pretrain_epochs`: 150 MNIST, 350 CIFAR-10): φ with its decoder as an
//!    autoencoder, loss the mean over the batch of `Σ (x̂ − x)²`, Adam (lr 1e-4, weight decay
//!    0.5e-3 MNIST, 0.5e-6 CIFAR-10), the learning rate divided by 10 after
//!    `pretrain_milestone` epochs (50 MNIST, 250 CIFAR-10).
//! 2. The centre: c = the mean code of the training images under the pretrained φ (evaluation
//!    mode), each coordinate with `|c_j| < 0.1` pushed out to ±0.1 (the code's rule).
//! 3. Deep SVDD (`epochs`, 150): Adam (lr 1e-4, weight decay 0.5e-6) on φ alone. One-class:
//!    `mean ‖φ(x) − c‖²`. Soft-boundary (`{"objective": "soft-boundary"}`):
//!    `R² + (1/ν)·mean max(0, ‖φ(x) − c‖² − R²)`, R set after `warm_up_epochs` (10) to the
//!    (1 − ν)-quantile of the batch's distances, after each step, as the code does.
//!
//! The Deep SVDD phase divides its learning rate by 10 after `milestone` (50) epochs (the
//! code's MultiStepLR). Score: `‖φ(x) − c‖²` (soft-boundary: minus R²). Batch 200. The paper's
//! preprocessing is `--scaling gcn-l1`, the default on images. The best checkpoint is chosen
//! among Deep SVDD epochs only (pretraining epochs have no validation loss), by the mean
//! validation distance. A settings file naming `networks` starts from that family's official
//! settings (the README's commands); the CIFAR-10 autoencoder's convolutions start
//! Xavier-uniform with LeakyReLU's gain, as its code; MNIST's start at PyTorch's defaults.
//!
//! **Deep SAD** (Ruff, Vandermeulen, Görnitz, Binder, Müller, Müller, Kloft. "Deep
//! Semi-Supervised Anomaly Detection". ICLR 2020; `lukasruff/Deep-SAD-PyTorch`) is the objective
//! `{"objective": "deep-sad"}` with `--labelled-anomalies` (e.g. 0.05): the same network, centre
//! and pretraining, and the loss `mean_i ℓ_i` with `ℓ = ‖φ(x) − c‖²` for the unlabelled
//! (normal) samples and `ℓ = η·(‖φ(x) − c‖² + 10⁻⁶)⁻¹` for the labelled anomalies (η 1.0), so
//! that their codes are pushed away from c. As in the code, the labelled anomalies are part of
//! the training data: they enter pretraining and the centre's mean too. The code shuffles them
//! among the normal samples; here each step adds, to its batch of B normal samples, a number of
//! labelled anomalies drawn (seeded, with replacement) whose expectation is `B·m/n` (m labelled,
//! n normal: the data's proportion), by stochastic rounding. The score is Deep SVDD's. The Deep
//! SAD code scales MNIST to [0, 1] (no contrast normalisation: `--scaling min-max` comes
//! closest) and trains with batch 128; set them for its setup, the defaults here are Deep
//! SVDD's.

pub mod networks;

use super::{Detector, ModelInfo, ModelSpec, Settings, StepLosses, as_images, read_values};
use crate::data::source::DataForm;
use crate::data::preprocess::Scaling;
use crate::data::{SampleShape, Samples};
use crate::nn::init::component_rng;
use crate::nn::{InitScheme, NetOptimizer, Trainables, TrainablesMut, initialise};
use anyhow::ensure;
use burn::module::Param;
use burn::prelude::*;
use networks::{LeNetDecoder, LeNetEncoder};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// Deep SVDD's two objectives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Objective {
    /// `mean ‖φ(x) − c‖²`.
    OneClass,
    /// `R² + (1/ν)·mean max(0, ‖φ(x) − c‖² − R²)`.
    SoftBoundary,
    /// Deep SAD: one-class on the normal samples, `η·(‖φ(x) − c‖² + 10⁻⁶)⁻¹` on the labelled
    /// anomalies (`--labelled-anomalies`).
    DeepSad,
}

/// The official LeNets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeepSvddNetworks {
    /// `mnist_LeNet.py`: 28 × 28 grey images, code 32.
    Mnist,
    /// `cifar10_LeNet.py`: 32 × 32 colour images (or grey ones, with one-channel first and
    /// last layers), code 128.
    Cifar10,
}

impl DeepSvddNetworks {
    /// The side of the square images the family takes.
    pub fn side(self) -> usize {
        match self {
            DeepSvddNetworks::Mnist => 28,
            DeepSvddNetworks::Cifar10 => 32,
        }
    }
}

/// Deep SAD's ε: the inverse distance stays finite at the centre.
const SAD_EPSILON: f64 = 1e-6;

/// Deep SVDD hyper-parameters; `Default` is the official code's MNIST settings,
/// [`DeepSvddConfig::official`] those of each network family.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DeepSvddConfig {
    /// Which official LeNet (`mnist`).
    pub networks: DeepSvddNetworks,
    /// One-class or soft-boundary (`one-class`).
    pub objective: Objective,
    /// ν of the soft-boundary objective, in (0, 1] (0.1).
    pub nu: f64,
    /// Size of the code, a multiple of 16 (32 MNIST, 128 CIFAR-10).
    pub latent_dim: usize,
    /// Autoencoder pretraining epochs, at least 1: the centre is fixed after them (150 MNIST,
    /// 350 CIFAR-10).
    pub pretrain_epochs: usize,
    /// Deep SVDD epochs after pretraining (150).
    pub svdd_epochs: usize,
    /// Adam learning rate of both phases (1e-4).
    pub learning_rate: f64,
    /// Deep SVDD epochs after which the learning rate is divided by 10 (50).
    pub milestone: usize,
    /// Pretraining epochs after which its learning rate is divided by 10 (50 MNIST, 250
    /// CIFAR-10); `None` (earlier runs' files, which have no such field): `milestone`.
    #[serde(default)]
    pub pretrain_milestone: Option<usize>,
    /// Adam weight decay of the Deep SVDD phase (0.5e-6).
    pub weight_decay: f64,
    /// Adam weight decay of pretraining (0.5e-3 MNIST, 0.5e-6 CIFAR-10).
    pub pretrain_weight_decay: f64,
    /// Soft-boundary epochs before R is updated (10).
    pub warm_up_epochs: usize,
    /// Training batch size (200).
    pub batch_size: usize,
    /// Deep SAD's weight η of the labelled anomalies' term, positive (1.0).
    pub eta: f64,
}

impl Default for DeepSvddConfig {
    fn default() -> Self {
        DeepSvddConfig::official(DeepSvddNetworks::Mnist)
    }
}

impl DeepSvddConfig {
    /// The official settings of `networks` (the code's README commands).
    pub fn official(networks: DeepSvddNetworks) -> Self {
        let (latent_dim, pretrain_epochs, pretrain_milestone, pretrain_weight_decay) =
            match networks {
                DeepSvddNetworks::Mnist => (32, 150, 50, 0.5e-3),
                DeepSvddNetworks::Cifar10 => (128, 350, 250, 0.5e-6),
            };
        DeepSvddConfig {
            networks,
            objective: Objective::OneClass,
            nu: 0.1,
            latent_dim,
            pretrain_epochs,
            svdd_epochs: 150,
            learning_rate: 1e-4,
            milestone: 50,
            pretrain_milestone: Some(pretrain_milestone),
            weight_decay: 0.5e-6,
            pretrain_weight_decay,
            warm_up_epochs: 10,
            batch_size: 200,
            eta: 1.0,
        }
    }
}

impl ModelSpec for DeepSvddConfig {
    const INFO: ModelInfo = ModelInfo {
        name: "deep-svdd",
        group: super::ModelGroup::Baseline,
        paper: "Ruff et al. Deep One-Class Classification. ICML 2018",
        summary: "bias-free LeNet pretrained as an autoencoder, then its codes pulled to a centre c (one-class or soft-boundary; Deep SAD pushes labelled anomalies away); score = ‖φ(x) − c‖²",
        inputs: "28×28 grey images (networks mnist), 32×32 colour or grey images (networks cifar10)",
    };
    type Detector = DeepSvdd;

    /// A latent size the decoder can start from, a pretraining to fix the centre, ν within
    /// (0, 1], a positive η.
    fn check(&self) -> crate::Result<()> {
        ensure!(
            self.latent_dim >= 16 && self.latent_dim % 16 == 0,
            "deep-svdd latent_dim must be a multiple of 16 (its decoder starts from 4×4 maps), \
             got {}",
            self.latent_dim
        );
        ensure!(
            self.pretrain_epochs >= 1,
            "deep-svdd fixes its centre after pretraining: pretrain_epochs must be at least 1"
        );
        ensure!(
            self.nu > 0.0 && self.nu <= 1.0,
            "deep-svdd nu must be within (0, 1], got {}",
            self.nu
        );
        ensure!(
            self.eta.is_finite() && self.eta > 0.0,
            "deep-svdd eta (Deep SAD's weight of the labelled anomalies) must be positive, got {}",
            self.eta
        );
        Ok(())
    }

    fn takes(&self) -> &'static [DataForm] {
        DataForm::IMAGES
    }

    fn build(&self, shape: SampleShape, device: &Device, seed: u64) -> crate::Result<DeepSvdd> {
        DeepSvdd::new(self.clone(), shape, device, seed)
    }

    fn epochs(&self) -> usize {
        self.pretrain_epochs + self.svdd_epochs
    }

    fn batch_size(&self) -> usize {
        self.batch_size
    }

    /// Other sizes are resized to the family's.
    fn image_size(&self) -> Option<usize> {
        Some(self.networks.side())
    }

    /// Images: the paper's global contrast normalisation (L1), then min-max.
    fn image_scaling(&self) -> Scaling {
        Scaling::GcnL1
    }

    fn min_epochs(&self) -> usize {
        self.pretrain_epochs + 1
    }

    fn needs_labelled_anomalies(&self) -> bool {
        self.objective == Objective::DeepSad
    }

    /// A settings file naming `networks` starts from that family's official settings (its
    /// code size, pretraining length, milestone and weight decay), not from MNIST's.
    fn defaults_for_settings(settings: &Settings) -> crate::Result<Self> {
        super::spec::selected_defaults(settings, "deep-svdd", "networks", DeepSvddConfig::official)
    }
}

/// The networks, the centre and the radius.
#[derive(Module, Debug)]
pub struct SvddNets {
    /// φ and its decoder.
    autoencoder: LeNetAutoencoder,
    /// c (no gradient).
    centre: Param<Tensor<1>>,
    /// R, soft-boundary only (no gradient).
    radius: Param<Tensor<1>>,
}

/// φ and the decoder used to pretrain it.
#[derive(Module, Debug)]
pub struct LeNetAutoencoder {
    /// φ.
    encoder: LeNetEncoder,
    /// φ's mirror, for pretraining.
    decoder: LeNetDecoder,
}

/// The Deep SVDD detector.
pub struct DeepSvdd {
    config: DeepSvddConfig,
    device: Device,
    nets: SvddNets,
    /// Adam of pretraining.
    optim_pretrain: NetOptimizer,
    /// Adam of Deep SVDD.
    optim_svdd: NetOptimizer,
    /// The epoch in progress (1-based, over both phases).
    epoch: usize,
    /// The images it takes, `[C, H, W]`.
    image: [usize; 3],
    /// Deep SAD's labelled anomalies, one image's values after another.
    labelled: Vec<f32>,
    /// Labelled anomalies per normal sample (m / n): each step adds `B·m/n` of them on average.
    labelled_per_normal: f64,
    /// Draws the labelled anomalies of each step.
    rng: ChaCha8Rng,
}

/// The `q`-quantile of `values` with linear interpolation (numpy's default).
fn quantile(values: &mut [f32], q: f64) -> f64 {
    values.sort_by(f32::total_cmp);
    let at = q * (values.len() - 1) as f64;
    let (lo, hi) = (at.floor() as usize, at.ceil() as usize);
    let frac = at - lo as f64;
    values[lo] as f64 * (1.0 - frac) + values[hi] as f64 * frac
}

impl DeepSvdd {
    /// Build the model for images of `shape` on `device`.
    pub fn new(
        config: DeepSvddConfig,
        shape: SampleShape,
        device: &Device,
        seed: u64,
    ) -> crate::Result<Self> {
        let image = match (config.networks, shape.image_dims()) {
            (DeepSvddNetworks::Mnist, Some(dims @ [1, 28, 28])) => dims,
            (DeepSvddNetworks::Cifar10, Some(dims @ [1 | 3, 32, 32])) => dims,
            (networks, _) => anyhow::bail!(
                "deep-svdd's {} networks do not take {shape} (set \"networks\" in \
                 --model-config: \"mnist\" for 28×28 grey images, \"cifar10\" for 32×32 colour \
                 or grey ones)",
                serde_json::to_string(&networks).unwrap_or_default()
            ),
        };
        ModelSpec::check(&config)?;
        let train_device = device.clone().autodiff();
        let rep = config.latent_dim;
        let (autoencoder, scheme) = match config.networks {
            DeepSvddNetworks::Mnist => (
                LeNetAutoencoder {
                    encoder: LeNetEncoder::new(rep, &train_device),
                    decoder: LeNetDecoder::new(rep, &train_device),
                },
                InitScheme::Pytorch,
            ),
            DeepSvddNetworks::Cifar10 => (
                LeNetAutoencoder {
                    encoder: LeNetEncoder::cifar10(image[0], rep, &train_device),
                    decoder: LeNetDecoder::cifar10(rep, image[0], &train_device),
                },
                InitScheme::XavierLeakyConvolutions,
            ),
        };
        let autoencoder = initialise(autoencoder, scheme, &mut component_rng(seed, 1));
        let fixed = |v: Tensor<1>| Param::from_tensor(v).set_require_grad(false);
        let nets = SvddNets {
            autoencoder: autoencoder.no_grad_batch_norms(),
            centre: fixed(Tensor::zeros([rep], &train_device)),
            radius: fixed(Tensor::zeros([1], &train_device)),
        };
        Ok(DeepSvdd {
            optim_pretrain: NetOptimizer::adam_with_weight_decay(
                config.learning_rate,
                0.9,
                0.999,
                config.pretrain_weight_decay,
            ),
            optim_svdd: NetOptimizer::adam_with_weight_decay(
                config.learning_rate,
                0.9,
                0.999,
                config.weight_decay,
            ),
            config,
            device: device.clone(),
            nets,
            epoch: 1,
            image,
            labelled: Vec::new(),
            labelled_per_normal: 0.0,
            rng: component_rng(seed, 2),
        })
    }

    fn pretraining(&self) -> bool {
        self.epoch <= self.config.pretrain_epochs
    }

    /// Deep SAD's labelled anomalies for a step on `normals` normal samples: `normals·m/n` on
    /// average (stochastic rounding), drawn with replacement; `None` for the other objectives or
    /// when the draw is empty.
    fn draw_labelled(&mut self, normals: usize, device: &Device) -> Option<Tensor<4>> {
        if self.config.objective != Objective::DeepSad || self.labelled.is_empty() {
            return None;
        }
        let expected = normals as f64 * self.labelled_per_normal;
        let count = expected.floor() as usize + usize::from(self.rng.random::<f64>() < expected.fract());
        if count == 0 {
            return None;
        }
        let size = self.sample_len();
        let pool = self.labelled.len() / size;
        let mut values = Vec::with_capacity(count * size);
        for _ in 0..count {
            let i = self.rng.random_range(0..pool);
            values.extend_from_slice(&self.labelled[i * size..(i + 1) * size]);
        }
        let [c, h, w] = self.image;
        Some(Tensor::from_data(TensorData::new(values, [count, c, h, w]), device))
    }

    /// Values in one image.
    fn sample_len(&self) -> usize {
        self.image.iter().product()
    }

    /// `‖φ(x) − c‖²` `[B]` under the evaluation-mode network.
    fn distances(&self, x: Tensor<4>) -> Tensor<1> {
        let nets = self.nets.valid();
        let b = x.dims()[0];
        let z = nets.autoencoder.encoder.forward(x);
        let c = nets.centre.val().reshape([1, self.config.latent_dim]);
        (z - c).powi_scalar(2).sum_dim(1).reshape([b])
    }
}

impl LeNetAutoencoder {
    /// The same networks with their BatchNorms' scale and shift gradient-free (stated again
    /// after initialisation, which keeps each parameter's setting: harmless, and explicit).
    fn no_grad_batch_norms(self) -> Self {
        LeNetAutoencoder {
            encoder: self.encoder.without_norm_parameters(),
            decoder: self.decoder.without_norm_parameters(),
        }
    }
}

impl Detector for DeepSvdd {
    fn begin_epoch(&mut self, epoch: usize) {
        self.epoch = epoch;
        let c = &self.config;
        let (phase_epoch, milestone, optim) = if epoch <= c.pretrain_epochs {
            let milestone = c.pretrain_milestone.unwrap_or(c.milestone);
            (epoch, milestone, &mut self.optim_pretrain)
        } else {
            (epoch - c.pretrain_epochs, c.milestone, &mut self.optim_svdd)
        };
        optim.lr = if phase_epoch > milestone {
            c.learning_rate * 0.1
        } else {
            c.learning_rate
        };
    }

    fn train_step(&mut self, batch: Tensor<2>) -> crate::Result<StepLosses> {
        let normals = batch.dims()[0];
        let mut x = as_images(batch, self.image);
        if let Some(anomalies) = self.draw_labelled(normals, &x.device()) {
            x = Tensor::cat(vec![x, anomalies], 0);
        }
        if self.pretraining() {
            let ae = &self.nets.autoencoder;
            let recon = ae.decoder.forward(ae.encoder.forward(x.clone()));
            let b = x.dims()[0];
            let loss = (recon - x).powi_scalar(2).reshape([b as i32, -1]).sum_dim(1).mean();
            let value = read_values(vec![loss.clone()])?[0];
            let mut grads = loss.backward();
            self.nets.autoencoder = self
                .optim_pretrain
                .step(self.nets.autoencoder.clone(), &mut grads);
            return Ok(vec![("reconstruction", value)]);
        }
        let c = &self.config;
        let b = x.dims()[0];
        let z = self.nets.autoencoder.encoder.forward(x);
        let centre = self.nets.centre.val().reshape([1, c.latent_dim]);
        let dist = (z - centre).powi_scalar(2).sum_dim(1).reshape([b]);
        let loss = match c.objective {
            Objective::OneClass => dist.clone().mean(),
            Objective::DeepSad if b > normals => {
                let pulled = dist.clone().slice([0..normals]);
                let pushed = (dist.clone().slice([normals..b]) + SAD_EPSILON).recip() * c.eta;
                Tensor::cat(vec![pulled, pushed], 0).mean()
            }
            Objective::DeepSad => dist.clone().mean(),
            Objective::SoftBoundary => {
                let r2 = self.nets.radius.val().powi_scalar(2);
                let over = (dist.clone() - r2.clone()).clamp_min(0.0);
                r2 + over.mean() * (1.0 / c.nu)
            }
        };
        let value = read_values(vec![loss.clone()])?[0];
        let mut grads = loss.backward();
        self.nets.autoencoder.encoder = self
            .optim_svdd
            .step(self.nets.autoencoder.encoder.clone(), &mut grads);
        if c.objective == Objective::SoftBoundary
            && self.epoch - c.pretrain_epochs > c.warm_up_epochs
        {
            let mut d: Vec<f32> = dist
                .into_data()
                .try_into_vec::<f32>()
                .map_err(|e| anyhow::anyhow!("reading distances: {e:?}"))?
                .into_iter()
                .map(f32::sqrt)
                .collect();
            let r = quantile(&mut d, 1.0 - c.nu) as f32;
            let device = self.nets.radius.val().device();
            self.nets.radius = Param::from_tensor(Tensor::from_data(TensorData::new(vec![r], [1]), &device))
                .set_require_grad(false);
        }
        Ok(vec![("svdd", value)])
    }

    fn fit_statistics(&mut self, train: &Samples) -> crate::Result<()> {
        if self.epoch != self.config.pretrain_epochs {
            return Ok(());
        }
        // The centre: the mean code of the training images under the pretrained φ (Deep SAD's
        // labelled anomalies are training images too).
        let rep = self.config.latent_dim;
        let mut sum = vec![0.0f64; rep];
        let encoder = self.nets.autoencoder.encoder.valid();
        let size = self.sample_len();
        let [c, h, w] = self.image;
        let count = train.len() + self.labelled.len() / size;
        for rows in train.values.chunks(512 * size).chain(self.labelled.chunks(512 * size)) {
            let n = rows.len() / size;
            let x = Tensor::<4>::from_data(TensorData::new(rows.to_vec(), [n, c, h, w]), &self.device);
            let z = encoder
                .forward(x)
                .into_data()
                .try_into_vec::<f32>()
                .map_err(|e| anyhow::anyhow!("reading codes: {e:?}"))?;
            for code in z.chunks_exact(rep) {
                for (s, &v) in sum.iter_mut().zip(code) {
                    *s += v as f64;
                }
            }
        }
        let centre: Vec<f32> = sum
            .iter()
            .map(|s| {
                let c = s / count as f64;
                // The code's rule: coordinates too close to 0 are pushed out to ±0.1.
                if c.abs() < 0.1 && c < 0.0 {
                    -0.1
                } else if c.abs() < 0.1 && c > 0.0 {
                    0.1
                } else {
                    c as f32 as f64
                }
            })
            .map(|c| c as f32)
            .collect();
        let device = self.nets.centre.val().device();
        self.nets.centre = Param::from_tensor(Tensor::from_data(TensorData::new(centre, [rep]), &device))
            .set_require_grad(false);
        Ok(())
    }

    fn score(&self, batch: Tensor<2>) -> Tensor<1> {
        let dist = self.distances(as_images(batch, self.image));
        match self.config.objective {
            Objective::OneClass | Objective::DeepSad => dist,
            Objective::SoftBoundary => {
                let r2 = self.nets.valid().radius.val().powi_scalar(2);
                dist - r2
            }
        }
    }

    /// Pretraining epochs have no validation loss, so the best epoch is a Deep SVDD one.
    fn validates(&self) -> bool {
        !self.pretraining()
    }

    /// The objective on validation images: `‖φ(x) − c‖²`, or for soft-boundary
    /// `R² + (1/ν)·max(0, ‖φ(x) − c‖² − R²)` (the score alone would favour epochs with a larger
    /// R).
    fn validation_loss(&self, batch: Tensor<2>) -> Tensor<1> {
        let dist = self.distances(as_images(batch, self.image));
        match self.config.objective {
            Objective::OneClass | Objective::DeepSad => dist,
            Objective::SoftBoundary => {
                let r2 = self.nets.valid().radius.val().powi_scalar(2);
                (dist - r2.clone()).clamp_min(0.0) * (1.0 / self.config.nu) + r2
            }
        }
    }

    fn take_labelled_anomalies(
        &mut self,
        anomalies: Samples,
        normals: usize,
    ) -> crate::Result<()> {
        ensure!(
            self.config.objective == Objective::DeepSad,
            "deep-svdd trains on normal images only unless {{\"objective\": \"deep-sad\"}}"
        );
        ensure!(
            anomalies.shape.image_dims() == Some(self.image) && !anomalies.is_empty() && normals > 0,
            "Deep SAD's labelled anomalies must be one or more images like the normal ones, \
             beside one or more of those, got {} of {} beside {normals}",
            anomalies.len(),
            anomalies.shape
        );
        self.labelled_per_normal = anomalies.len() as f64 / normals as f64;
        self.labelled = anomalies.values;
        Ok(())
    }

    fn trainables(&self) -> Trainables<'_> {
        Trainables {
            networks: &self.nets,
            optimizers: vec![&self.optim_pretrain, &self.optim_svdd],
            rng: Some(&self.rng),
            average: None,
        }
    }

    fn trainables_mut(&mut self) -> TrainablesMut<'_> {
        TrainablesMut {
            networks: &mut self.nets,
            optimizers: vec![&mut self.optim_pretrain, &mut self.optim_svdd],
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

    fn images(n: usize) -> Samples {
        images_of([1, 28, 28], n)
    }

    fn images_of([channels, height, width]: [usize; 3], n: usize) -> Samples {
        let shape = SampleShape::Image {
            channels,
            height,
            width,
        };
        let v: Vec<f32> = (0..n * shape.len()).map(|i| ((i * 7919) % 255) as f32 / 255.0).collect();
        Samples::unlabelled(shape, v)
    }

    /// After the last pretraining epoch the centre is the mean code of the training images with
    /// the ±0.1 rule; the score is `‖φ(x) − c‖²` (soft-boundary: minus R²), by hand; for both
    /// network families.
    #[test]
    fn centre_and_scores_follow_the_code() {
        for (networks, image) in [
            (DeepSvddNetworks::Mnist, [1, 28, 28]),
            (DeepSvddNetworks::Cifar10, [3, 32, 32]),
            (DeepSvddNetworks::Cifar10, [1, 32, 32]),
        ] {
            centre_and_scores_by_hand(networks, image);
        }
    }

    fn centre_and_scores_by_hand(networks: DeepSvddNetworks, image: [usize; 3]) {
        let device = Device::flex();
        let config = DeepSvddConfig {
            pretrain_epochs: 1,
            latent_dim: 16,
            ..DeepSvddConfig::official(networks)
        };
        let train = images_of(image, 6);
        let mut model = config.clone().build(train.shape, &device, 4).unwrap();
        model.begin_epoch(1);
        model.fit_statistics(&train).unwrap();
        let size = train.shape.len();
        let x = Tensor::<2>::from_data(TensorData::new(train.values.clone(), [6, size]), &device);
        let codes = values(model.nets.autoencoder.encoder.valid().forward(as_images(x.clone(), image)));
        let centre = values(model.nets.centre.val());
        for j in 0..16 {
            let mean: f32 = (0..6).map(|i| codes[i * 16 + j]).sum::<f32>() / 6.0;
            let expected = if mean.abs() < 0.1 { 0.1f32.copysign(mean) } else { mean };
            assert!((centre[j] - expected).abs() < 1e-5, "c[{j}] {} vs {expected}", centre[j]);
        }
        let scores = values(model.score(x.clone()));
        for i in 0..6 {
            let d: f32 = (0..16).map(|j| (codes[i * 16 + j] - centre[j]).powi(2)).sum();
            assert!((scores[i] - d).abs() <= 1e-4 * d.max(1.0), "{} vs {d}", scores[i]);
        }
        model.config.objective = Objective::SoftBoundary;
        model.nets.radius = Param::from_tensor(Tensor::from_floats([0.5], &device)).set_require_grad(false);
        let soft = values(model.score(x));
        for i in 0..6 {
            assert!((soft[i] - (scores[i] - 0.25)).abs() < 1e-5);
        }
        assert!((quantile(&mut [4.0, 1.0, 3.0, 2.0], 0.9) - 3.7).abs() < 1e-9);
    }

    /// `‖φ(x) − c‖²` of each image of `x` by hand, from the training encoder's codes.
    fn squared_distances(model: &DeepSvdd, x: Tensor<4>) -> Vec<f64> {
        let codes = values(model.nets.autoencoder.encoder.forward(x));
        let centre = values(model.nets.centre.val());
        codes
            .chunks(centre.len())
            .map(|z| z.iter().zip(&centre).map(|(a, b)| ((a - b) as f64).powi(2)).sum())
            .collect()
    }

    /// Deep SAD's step loss is the mean of `‖φ(x) − c‖²` over the normal images and
    /// `η/(‖φ(x) − c‖² + 10⁻⁶)` over the labelled anomalies drawn into the batch (`B·m/n` of
    /// them: 2 beside 4 normal images when m/n = 1/2), by hand; only Deep SAD takes them.
    #[test]
    fn deep_sad_pushes_labelled_anomalies_away() {
        let device = Device::flex();
        let config = DeepSvddConfig {
            objective: Objective::DeepSad,
            pretrain_epochs: 1,
            latent_dim: 16,
            eta: 2.0,
            ..DeepSvddConfig::default()
        };
        let train = images(5);
        let normals = Samples::unlabelled(train.shape, train.values[..4 * 784].to_vec());
        let anomaly = Samples::unlabelled(train.shape, train.values[4 * 784..].to_vec());
        let mut model = config.clone().build(train.shape, &device, 4).unwrap();
        model.take_labelled_anomalies(anomaly.clone(), 2).unwrap();
        model.begin_epoch(1);
        model.fit_statistics(&normals).unwrap();
        // The centre is the mean code of all five training images, the anomaly's included.
        let all = Tensor::<2>::from_data(TensorData::new(train.values.clone(), [5, 784]), &device);
        let codes = values(model.nets.autoencoder.encoder.valid().forward(as_images(all, [1, 28, 28])));
        for (j, c) in values(model.nets.centre.val()).iter().enumerate() {
            let mean: f32 = (0..5).map(|i| codes[i * 16 + j]).sum::<f32>() / 5.0;
            let expected = if mean.abs() < 0.1 { 0.1f32.copysign(mean) } else { mean };
            assert!((c - expected).abs() < 1e-5, "c[{j}] {c} vs {expected}");
        }
        model.begin_epoch(2);
        // The batch the step sees: the 4 normal images, then the one anomaly twice.
        let mut rows = normals.values.clone();
        rows.extend_from_slice(&anomaly.values);
        rows.extend_from_slice(&anomaly.values);
        let train_device = device.clone().autodiff();
        let x = Tensor::<4>::from_data(TensorData::new(rows, [6, 1, 28, 28]), &train_device);
        let dist = squared_distances(&model, x);
        let expected = (dist[..4].iter().sum::<f64>()
            + dist[4..].iter().map(|d| 2.0 / (d + 1e-6)).sum::<f64>())
            / 6.0;
        let batch = Tensor::<2>::from_data(TensorData::new(normals.values.clone(), [4, 784]), &train_device);
        let losses = model.train_step(batch).unwrap();
        let got = losses[0].1 as f64;
        assert!((got - expected).abs() <= 1e-4 * expected, "{got} vs {expected}");
        let mut one_class = DeepSvddConfig::default().build(train.shape, &device, 4).unwrap();
        let e = one_class.take_labelled_anomalies(anomaly, 4).unwrap_err().to_string();
        assert!(e.contains("deep-sad"), "{e}");
    }

    /// The soft-boundary step loss is `R² + (1/ν)·mean max(0, ‖φ(x) − c‖² − R²)` by hand, R
    /// stays put through the warm-up epochs and after them becomes the (1 − ν) quantile of the
    /// batch's distances `‖φ(x) − c‖` (the code's `get_radius`), as they were before the step.
    #[test]
    fn soft_boundary_steps_and_radius_follow_the_code() {
        let device = Device::flex();
        let config = DeepSvddConfig {
            objective: Objective::SoftBoundary,
            nu: 0.25,
            pretrain_epochs: 1,
            warm_up_epochs: 1,
            latent_dim: 16,
            // A step large enough that R from the distances after it would differ.
            learning_rate: 1e-2,
            ..DeepSvddConfig::default()
        };
        let train = images(6);
        let mut model = config.build(train.shape, &device, 4).unwrap();
        model.begin_epoch(1);
        model.fit_statistics(&train).unwrap();
        let train_device = device.clone().autodiff();
        let batch = || Tensor::<2>::from_data(TensorData::new(train.values.clone(), [6, 784]), &train_device);
        let distances = |model: &DeepSvdd| squared_distances(model, as_images(batch(), [1, 28, 28]));
        // R² between the distances, so that the hinge is open for some images and shut for others.
        let mut sorted = distances(&model);
        sorted.sort_by(f64::total_cmp);
        let r2 = (sorted[2] + sorted[3]) / 2.0;
        model.nets.radius = Param::from_tensor(Tensor::from_floats([r2.sqrt() as f32], &device)).set_require_grad(false);
        for epoch in [2, 3] {
            model.begin_epoch(epoch);
            let r2 = (values(model.nets.radius.val())[0] as f64).powi(2);
            let dist = distances(&model);
            let expected = r2 + dist.iter().map(|d| (d - r2).max(0.0)).sum::<f64>() / 6.0 / 0.25;
            let got = model.train_step(batch()).unwrap()[0].1 as f64;
            assert!((got - expected).abs() <= 1e-4 * expected, "epoch {epoch}: {got} vs {expected}");
            let radius = values(model.nets.radius.val())[0] as f64;
            if epoch == 2 {
                assert_eq!(radius, r2.sqrt() as f32 as f64, "R moved in the warm-up epoch");
            } else {
                let mut roots: Vec<f32> = dist.iter().map(|d| d.sqrt() as f32).collect();
                let want = quantile(&mut roots, 0.75);
                assert!((radius - want).abs() <= 1e-4 * want, "R {radius} vs {want}");
                let mut after: Vec<f32> = distances(&model).iter().map(|d| d.sqrt() as f32).collect();
                let moved = quantile(&mut after, 0.75);
                assert!((moved - want).abs() > 1e-3 * want, "the step left the distances ({moved} vs {want})");
            }
        }
    }

    /// Every float parameter's path in `module` with its largest magnitude.
    fn parameters<M: Module>(module: &M) -> Vec<(String, f32)> {
        struct Collect {
            path: Vec<String>,
            found: Vec<(String, f32)>,
        }
        impl burn::module::ModuleVisitor for Collect {
            fn enter_module(&mut self, name: &str, _container: &str) {
                self.path.push(name.to_string());
            }
            fn exit_module(&mut self, _name: &str, _container: &str) {
                self.path.pop();
            }
            fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
                let largest = param.val().abs().max().into_scalar::<f32>();
                self.found.push((self.path.join("."), largest));
            }
        }
        let mut collect = Collect {
            path: Vec::new(),
            found: Vec::new(),
        };
        module.visit(&mut collect);
        collect.found
    }

    /// The MNIST networks' parameter names are the ones their checkpoints were written with
    /// (the CIFAR-10 layers added beside them are absent, not renamed).
    #[test]
    fn mnist_parameter_names_are_unchanged() {
        let device = Device::flex();
        let model = DeepSvddConfig::default()
            .build(images(1).shape, &device, 0)
            .unwrap();
        let names: Vec<String> = parameters(&model.nets).into_iter().map(|(n, _)| n).collect();
        let layer = |l: &str, fields: &[&str]| -> Vec<String> {
            fields.iter().map(|f| format!("autoencoder.{l}.{f}")).collect()
        };
        let norm = ["gamma", "beta"];
        let mut expected = Vec::new();
        for (l, fields) in [
            ("encoder.conv1", &["weight"][..]),
            ("encoder.bn1", &norm[..]),
            ("encoder.conv2", &["weight"][..]),
            ("encoder.bn2", &norm[..]),
            ("encoder.fc", &["weight"][..]),
            ("decoder.deconv1", &["weight"][..]),
            ("decoder.bn3", &norm[..]),
            ("decoder.deconv2", &["weight"][..]),
            ("decoder.bn4", &norm[..]),
            ("decoder.deconv3", &["weight"][..]),
        ] {
            expected.extend(layer(l, fields));
        }
        expected.extend(["centre".to_string(), "radius".to_string()]);
        let without_running: Vec<String> = names
            .into_iter()
            .filter(|n| !n.contains("running"))
            .collect();
        assert_eq!(without_running, expected);
    }

    /// The CIFAR-10 autoencoder starts as its code: convolutions Xavier-uniform with
    /// LeakyReLU's gain (their largest weights near `gain·√(6/(fan_in + fan_out))`), the
    /// linear layer at PyTorch's `1/√fan_in`, and the code's BatchNorm present.
    #[test]
    fn cifar10_networks_start_as_the_code() {
        let device = Device::flex();
        let colour = images_of([3, 32, 32], 1).shape;
        let model = DeepSvddConfig::official(DeepSvddNetworks::Cifar10)
            .build(colour, &device, 0)
            .unwrap();
        let found = parameters(&model.nets);
        let largest = |name: &str| {
            found
                .iter()
                .find(|(n, _)| n == name)
                .unwrap_or_else(|| panic!("no {name} in {found:?}"))
                .1
        };
        let gain = (2.0f32 / (1.0 + 1e-4)).sqrt();
        for (name, fan_in, fan_out) in [
            ("autoencoder.encoder.conv1.weight", 3 * 25, 32 * 25),
            ("autoencoder.encoder.conv3.weight", 64 * 25, 128 * 25),
            ("autoencoder.decoder.deconv1.weight", 128 * 25, 8 * 25),
            ("autoencoder.decoder.deconv4.weight", 3 * 25, 32 * 25),
        ] {
            let bound = gain * (6.0 / (fan_in + fan_out) as f32).sqrt();
            let w = largest(name);
            assert!(w <= bound && w > 0.95 * bound, "{name}: {w} vs {bound}");
        }
        let fc = largest("autoencoder.encoder.fc.weight");
        let pytorch = 1.0 / 2048f32.sqrt();
        assert!(fc <= pytorch && fc > 0.95 * pytorch, "fc: {fc} vs {pytorch}");
        largest("autoencoder.decoder.code_norm.gamma");
        largest("autoencoder.decoder.bn5.gamma");
    }

    #[test]
    fn bad_settings_are_refused() {
        let device = Device::flex();
        let shape = SampleShape::Image {
            channels: 1,
            height: 28,
            width: 28,
        };
        for config in [
            DeepSvddConfig { pretrain_epochs: 0, ..DeepSvddConfig::default() },
            DeepSvddConfig { latent_dim: 20, ..DeepSvddConfig::default() },
            DeepSvddConfig { nu: 0.0, ..DeepSvddConfig::default() },
            DeepSvddConfig { eta: 0.0, ..DeepSvddConfig::default() },
        ] {
            assert!(config.build(shape, &device, 0).is_err(), "{config:?}");
        }
        let colour = SampleShape::Image {
            channels: 3,
            height: 32,
            width: 32,
        };
        let e = DeepSvddConfig::default().build(colour, &device, 0).err().unwrap();
        assert!(e.to_string().contains("\"cifar10\""), "{e}");
        let cifar = DeepSvddConfig::official(DeepSvddNetworks::Cifar10);
        assert!(cifar.build(shape, &device, 0).is_err());
        assert!(cifar.build(colour, &device, 0).is_ok());
        let two_channels = SampleShape::Image {
            channels: 2,
            height: 32,
            width: 32,
        };
        assert!(cifar.build(two_channels, &device, 0).is_err());
    }

    /// A settings file naming the CIFAR-10 networks starts from their official settings (the
    /// README's command: code 128, 350 pretraining epochs, milestone 250, weight decay 0.5e-6)
    /// and the images are resized to 32; an earlier run's file, without `pretrain_milestone`,
    /// keeps its one milestone for both phases.
    #[test]
    fn each_network_family_brings_its_official_settings() {
        let mut settings = Settings::new();
        settings.insert("networks".into(), serde_json::json!("cifar10"));
        let cifar = DeepSvddConfig::defaults_for_settings(&settings).unwrap();
        assert_eq!(
            (cifar.latent_dim, cifar.pretrain_epochs, cifar.pretrain_milestone),
            (128, 350, Some(250))
        );
        assert_eq!(cifar.pretrain_weight_decay, 0.5e-6);
        assert_eq!(cifar.image_size(), Some(32));
        assert_eq!(DeepSvddConfig::default().image_size(), Some(28));
        let earlier: DeepSvddConfig = serde_json::from_str(r#"{"milestone": 20}"#).unwrap();
        assert_eq!(earlier.pretrain_milestone, None);
        let device = Device::flex();
        let shape = SampleShape::Image {
            channels: 1,
            height: 28,
            width: 28,
        };
        let mut model = DeepSvddConfig {
            pretrain_epochs: 30,
            ..earlier
        }
        .build(shape, &device, 0)
        .unwrap();
        model.begin_epoch(21);
        assert!((model.optim_pretrain.lr - 1e-5).abs() < 1e-12);
        let mut official = DeepSvddConfig::official(DeepSvddNetworks::Cifar10)
            .build(
                SampleShape::Image {
                    channels: 3,
                    height: 32,
                    width: 32,
                },
                &device,
                0,
            )
            .unwrap();
        official.begin_epoch(250);
        assert!((official.optim_pretrain.lr - 1e-4).abs() < 1e-12);
        official.begin_epoch(251);
        assert!((official.optim_pretrain.lr - 1e-5).abs() < 1e-12);
        official.begin_epoch(350 + 51);
        assert!((official.optim_svdd.lr - 1e-5).abs() < 1e-12);
    }
}
