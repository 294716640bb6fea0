//! ALOCC, "Adversarially Learned One-Class Classifier for Novelty Detection" (Sabokrou,
//! Khalooei, Fathy, Adeli, CVPR 2018), with the networks of its official code
//! (`khalooei/ALOCC-CVPR2018`) at 32×32.
//!
//! - R, a denoising encoder-decoder: three 5×5 stride-2 convolutions (32, 64, 128 channels;
//!   BatchNorm, LeakyReLU 0.2), then 5×5 stride-2 transposed convolutions (32, 16 channels;
//!   BatchNorm, ReLU) and one to the image channels with tanh. Input `x̃ = x + η`,
//!   `η ~ N(0, σ²)` with σ = 0.155 in the units of images scaled to [0, 1] (`--scaling
//!   min-max`, the default on images).
//! - D, a CNN classifier: 5×5 stride-2 convolutions 16, 32, 64, 128 (LeakyReLU 0.2, BatchNorm
//!   after the first), a linear logit. BatchNorm ε = 1e-6, decay 0.9. Weights N(0, 0.02).
//! - Losses (paper eq. 3–5): `L_D = BCE(D(x), 1) + BCE(D(R(x̃)), 0)`; R:
//!   `BCE(D(R(x̃)), 1) + λ·‖x − R(x̃)‖²` (mean) against the **clean** x, λ = 0.4. The official
//!   code's refinement term is instead `0.2·BCE_with_logits(R(x̃), x̃)` against the noisy input:
//!   [`Refinement::Code`].
//! - Optimisation as the official code: RMSProp lr 0.002, batch 128, R stepped twice per D step
//!   (the code's guard against D's loss collapsing).
//! - Scores (higher = more anomalous): `1 − D(R(x))` (the paper's better one), or `1 − D(x)`.

mod networks;

use super::{Detector, ModelInfo, ModelSpec, StepLosses, as_images, image_dims, read_values};
use crate::data::source::DataForm;
use crate::data::preprocess::Scaling;
use crate::data::SampleShape;
use crate::nn::init::{component_rng, normal_tensor};
use crate::nn::loss::{bce_with_logits, l2};
use crate::nn::{InitScheme, NetOptimizer, initialise};
use crate::nn::{Trainables, TrainablesMut};
use burn::prelude::*;
use burn::tensor::activation::{sigmoid, softplus};
use networks::AloccNets;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// R's refinement (reconstruction) term.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Refinement {
    /// `λ·‖x − R(x̃)‖²` against the clean input, λ = `lambda` (the paper).
    Paper,
    /// `0.2·BCE_with_logits(logits = R(x̃), labels = x̃)` (the official code).
    Code,
}

/// Which output is the score.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AloccScore {
    /// `1 − D(R(x))`.
    Refined,
    /// `1 − D(x)`.
    Direct,
}

/// ALOCC's hyper-parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AloccConfig {
    /// Input side (32).
    pub image_size: usize,
    /// Noise σ (0.155).
    pub noise_std: f32,
    /// λ of the paper's refinement term (0.4).
    pub lambda: f32,
    /// The refinement term.
    pub refinement: Refinement,
    /// The score.
    pub score: AloccScore,
    /// RMSProp learning rate (0.002).
    pub learning_rate: f64,
    /// R steps per D step (2).
    pub r_steps: usize,
    /// Batch size (128).
    pub batch_size: usize,
    /// Epochs (40).
    pub epochs: usize,
}

impl Default for AloccConfig {
    fn default() -> Self {
        AloccConfig {
            image_size: 32,
            noise_std: 0.155,
            lambda: 0.4,
            refinement: Refinement::Paper,
            score: AloccScore::Refined,
            learning_rate: 0.002,
            r_steps: 2,
            batch_size: 128,
            epochs: 40,
        }
    }
}

/// An ALOCC detector.
pub struct Alocc {
    config: AloccConfig,
    shape: [usize; 3],
    nets: AloccNets,
    optim_r: NetOptimizer,
    optim_d: NetOptimizer,
    rng: ChaCha8Rng,
}

impl Alocc {
    /// Build ALOCC for images of `shape` on `device`.
    pub fn new(
        config: AloccConfig,
        shape: SampleShape,
        device: &Device,
        seed: u64,
    ) -> crate::Result<Self> {
        let (channels, height, width) = image_dims("alocc", shape)?;
        anyhow::ensure!(
            height == config.image_size && width == config.image_size && config.image_size == 32,
            "alocc has the official 32×32 networks; resize the images to 32 (got {height}×{width})"
        );
        let dev = device.clone().autodiff();
        let nets = AloccNets::new(channels, &dev);
        let nets = initialise(nets, InitScheme::Dcgan, &mut component_rng(seed, 1));
        Ok(Alocc {
            shape: [channels, height, width],
            nets,
            optim_r: NetOptimizer::rmsprop(config.learning_rate),
            optim_d: NetOptimizer::rmsprop(config.learning_rate),
            rng: component_rng(seed, 2),
            config,
        })
    }

    fn noisy(&mut self, x: &Tensor<4>) -> Tensor<4> {
        let dims = x.dims();
        let per_sample = dims[1] * dims[2] * dims[3];
        let noise = normal_tensor(
            &mut self.rng,
            [dims[0], per_sample],
            self.config.noise_std,
            &x.device(),
        );
        x.clone() + noise.reshape(dims)
    }
}

/// `BCE_with_logits(logits, labels)` averaged: `max(l, 0) − l·y + log(1 + e^{−|l|})`.
fn bce_logits_labels(logits: Tensor<4>, labels: Tensor<4>) -> Tensor<1> {
    (softplus(logits.clone().neg(), 1.0) + logits.clone() - logits * labels).mean()
}

/// ALOCC's anomaly score from D's logits: `1 − σ(logit)`.
pub fn alocc_score(logits: Tensor<2>) -> Tensor<1> {
    let b = logits.dims()[0];
    sigmoid(logits).neg().add_scalar(1.0).reshape([b])
}

impl ModelSpec for AloccConfig {
    const INFO: ModelInfo = ModelInfo {
        name: "alocc",
        group: super::ModelGroup::Detector,
        paper: "Sabokrou, Khalooei, Fathy, Adeli. Adversarially Learned One-Class Classifier for Novelty Detection. CVPR 2018",
        summary: "denoising refiner R against a one-class classifier D; score = 1 − D(R(x)) (or 1 − D(x))",
        inputs: "images",
    };

    type Detector = Alocc;
    const SCORE_SETTINGS: &'static [&'static str] = &["score"];

    fn takes(&self) -> &'static [DataForm] {
        DataForm::IMAGES
    }

    fn build(&self, shape: SampleShape, device: &Device, seed: u64) -> crate::Result<Alocc> {
        Alocc::new(self.clone(), shape, device, seed)
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

    /// Images: the paper's [0, 1] units, in which its noise σ = 0.155 is given.
    fn image_scaling(&self) -> Scaling {
        Scaling::MinMax
    }
}

impl Detector for Alocc {
    fn train_step(&mut self, batch: Tensor<2>) -> crate::Result<StepLosses> {
        let x = as_images(batch, self.shape);
        let x_noisy = self.noisy(&x);
        // D step.
        let refined = self.nets.refiner.forward(x_noisy.clone()).detach();
        let d = &self.nets.classifier;
        let loss_d = bce_with_logits(d.forward(x.clone()), true)
            + bce_with_logits(d.forward(refined), false);
        let mut grads = loss_d.clone().backward();
        self.nets.classifier = self.optim_d.step(self.nets.classifier.clone(), &mut grads);
        // R steps through the updated D held constant.
        let mut loss_r = None;
        for _ in 0..self.config.r_steps.max(1) {
            let d = self.nets.classifier.clone().no_grad();
            let refined = self.nets.refiner.forward(x_noisy.clone());
            let adv = bce_with_logits(d.forward(refined.clone()), true);
            let refinement = match self.config.refinement {
                Refinement::Paper => l2(x.clone(), refined) * self.config.lambda,
                Refinement::Code => bce_logits_labels(refined, x_noisy.clone()) * 0.2,
            };
            let loss = adv + refinement;
            let mut grads = loss.clone().backward();
            self.nets.refiner = self.optim_r.step(self.nets.refiner.clone(), &mut grads);
            loss_r = Some(loss);
        }
        let v = read_values(vec![loss_d, loss_r.expect("at least one R step")])?;
        Ok(vec![("d", v[0]), ("r", v[1])])
    }

    fn score(&self, batch: Tensor<2>) -> Tensor<1> {
        let x = as_images(batch, self.shape);
        let n = self.nets.valid();
        let input = match self.config.score {
            AloccScore::Refined => n.refiner.forward(x),
            AloccScore::Direct => x,
        };
        alocc_score(n.classifier.forward(input))
    }

    /// The refiner's residual `|x − R(x)|`, averaged over channels (the paper draws no map).
    fn anomaly_map(&self, batch: Tensor<2>) -> Option<Tensor<4>> {
        let x = as_images(batch, self.shape);
        let refined = self.nets.refiner.valid().forward(x.clone());
        Some(crate::nn::loss::abs_residual_map(x, refined))
    }

    /// R's reconstruction error on clean validation data: D's output saturates and moves with
    /// the adversarial game, R's fit to normal data does not.
    fn validation_loss(&self, batch: Tensor<2>) -> Tensor<1> {
        let x = as_images(batch, self.shape);
        let refined = self.nets.refiner.valid().forward(x.clone());
        crate::nn::loss::per_sample_mse(x, refined)
    }

    fn trainables(&self) -> Trainables<'_> {
        Trainables {
            networks: &self.nets,
            optimizers: vec![&self.optim_r, &self.optim_d],
            rng: Some(&self.rng),
            average: None,
        }
    }

    fn trainables_mut(&mut self) -> TrainablesMut<'_> {
        TrainablesMut {
            networks: &mut self.nets,
            optimizers: vec![&mut self.optim_r, &mut self.optim_d],
            rng: Some(&mut self.rng),
            average: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `1 − σ(l)`: logit 0 → 0.5, logit ln 3 → 0.25.
    #[test]
    fn score_is_one_minus_the_discriminator_output() {
        let device = Device::flex();
        let logits = Tensor::<2>::from_floats([[0.0f32], [3f32.ln()]], &device);
        let s: Vec<f32> = alocc_score(logits).into_data().try_into_vec().unwrap();
        assert!(
            (s[0] - 0.5).abs() < 1e-6 && (s[1] - 0.25).abs() < 1e-6,
            "{s:?}"
        );
    }

    /// The code's refinement loss equals TensorFlow's sigmoid cross-entropy with logits.
    #[test]
    fn code_refinement_is_sigmoid_cross_entropy() {
        let device = Device::flex();
        let l = Tensor::<4>::from_floats([[[[2.0f32, -1.0]]]], &device);
        let y = Tensor::<4>::from_floats([[[[0.3f32, 1.2]]]], &device);
        let got: f32 = bce_logits_labels(l, y).into_scalar();
        let tf = |l: f32, y: f32| l.max(0.0) - l * y + (1.0 + (-l.abs()).exp()).ln();
        let want = (tf(2.0, 0.3) + tf(-1.0, 1.2)) / 2.0;
        assert!((got - want).abs() < 1e-5, "{got} vs {want}");
    }
}
