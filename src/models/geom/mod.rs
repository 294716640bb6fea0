//! GEOM: Golan & El-Yaniv. "Deep Anomaly Detection Using Geometric Transformations". NeurIPS
//! 2018 (MODELS.md §18), as the official code (`izikgo/AnomalyDetectionTransformations`,
//! Keras) runs it.
//!
//! - **Self-labelled task**: each training image under each of the 72 geometric
//!   transformations ([`geometric`]: flip × translations by ±8 px with reflection × quarter
//!   turns), labelled by which one; a Wide ResNet ([`WideResNet`], WRN-10-4) learns to tell
//!   them apart. Cross-entropy, Adam (lr 1e-3), L2 weight decay 2.5e-4 on every weight (Keras'
//!   `l2`, a gradient of 5e-4·w), batch 128, `ceil(200/72) = 3` epochs over the 72-fold set.
//! - **Score** (`"score": "dirichlet"`, default): for each transformation t, a Dirichlet α_t
//!   fitted by maximum likelihood to the softmax outputs of the training images under t
//!   ([`dirichlet`]); anomaly score `−(1/72) Σ_t Σ_k (α_{t,k} − 1)·log p_k(T_t(x))`.
//!   `"simplified"`: `−(1/72) Σ_t p_t(T_t(x))`, the mean probability of the right transformation.
//!   The Dirichlets are fitted whichever score is chosen, so that a run can be rescored with the
//!   other (`oddity eval --model-config`).
//! - Inputs scaled to [−1, 1] (`--scaling minus-one-to-one`, the default), 32 × 32 (`image_size`).
//!
//! The code shuffles all 72·N (image, transformation) pairs of the training set each epoch.
//! Here the loop hands over `image_batch` images (128) at a time; their 72·128 pairs are
//! shuffled (seeded) and cut into Adam steps of `batch_size` pairs (128): every pair still once
//! an epoch, mixed among 128 images rather than all of them. The best epoch is chosen by the
//! validation images' mean cross-entropy over their 72 transformations (the code trains its
//! 3 epochs and keeps the last).
//!
//! The training loop drops an epoch's last partial image batch (up to 127 images).
//!
//! Deviations: Fashion-MNIST's 28 × 28 images are resized to 32 (bilinear) where the code pads
//! them with 2 black pixels; burn's Adam ε is 1e-8 (Keras 1e-7); the softmax's logarithm is
//! taken as a log-softmax (the code's `log` of a `float32` softmax is −∞ where it underflows).
//! The WRN's width and depth are options (`widen`, `depth`) so CPU runs can use smaller ones.

pub mod dirichlet;

use super::{Detector, ModelInfo, ModelSpec, StepLosses, as_images, image_dims, read_values, score_in_chunks};
use crate::data::source::DataForm;
use crate::data::preprocess::Scaling;
use crate::data::{SampleShape, Samples};
use crate::nn::init::component_rng;
use crate::nn::geometric::{self, TransformBank};
use crate::nn::{NetOptimizer, Trainables, TrainablesMut, WideResNet, WrnStyle, wide_resnet};
use anyhow::ensure;
use burn::module::Param;
use burn::prelude::*;
use burn::tensor::activation::log_softmax;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// GEOM's two normality scores.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GeomScore {
    /// The Dirichlet normality score.
    Dirichlet,
    /// The mean probability of the right transformation.
    Simplified,
}

/// GEOM hyper-parameters (the official code's CIFAR-10 and Fashion-MNIST settings).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GeomConfig {
    /// WRN depth, 6n + 4 with n ≥ 1 (10).
    pub depth: usize,
    /// WRN widening factor k (4).
    pub widen: usize,
    /// Translation in pixels (8; the code's Cats-vs-Dogs 16).
    pub shift: usize,
    /// The side images are resized to, a multiple of 4 (32).
    pub image_size: usize,
    /// Adam learning rate (1e-3).
    pub learning_rate: f64,
    /// The L2 gradient added per weight, `2λ` of Keras' `l2(λ)` (5e-4).
    pub weight_decay: f64,
    /// (Image, transformation) pairs per Adam step (128).
    pub batch_size: usize,
    /// Images the training loop hands over at a time; their pairs are shuffled together (128).
    pub image_batch: usize,
    /// Epochs over the 72-fold training set (3).
    pub epochs: usize,
    /// Dirichlet or simplified.
    pub score: GeomScore,
}

impl Default for GeomConfig {
    fn default() -> Self {
        GeomConfig {
            depth: 10,
            widen: 4,
            shift: 8,
            image_size: 32,
            learning_rate: 1e-3,
            weight_decay: 5e-4,
            batch_size: 128,
            image_batch: 128,
            epochs: 3,
            score: GeomScore::Dirichlet,
        }
    }
}

impl ModelSpec for GeomConfig {
    const INFO: ModelInfo = ModelInfo {
        name: "geom",
        group: super::ModelGroup::Baseline,
        paper: "Golan & El-Yaniv. Deep Anomaly Detection Using Geometric Transformations. NeurIPS 2018",
        summary: "a Wide ResNet told which of 72 flips, shifts and quarter turns an image went through; score = Dirichlet normality of its softmax outputs (or the mean probability of the right one)",
        inputs: "square images (32×32 by default)",
    };
    type Detector = Geom;
    const SCORE_SETTINGS: &'static [&'static str] = &["score"];

    fn takes(&self) -> &'static [DataForm] {
        DataForm::IMAGES
    }

    fn build(&self, shape: SampleShape, device: &Device, seed: u64) -> crate::Result<Geom> {
        Geom::new(self.clone(), shape, device, seed)
    }

    fn epochs(&self) -> usize {
        self.epochs
    }

    fn batch_size(&self) -> usize {
        self.image_batch
    }

    fn image_size(&self) -> Option<usize> {
        Some(self.image_size)
    }

    /// Images: the code's [−1, 1].
    fn image_scaling(&self) -> Scaling {
        Scaling::MinusOneToOne
    }

    fn check(&self) -> crate::Result<()> {
        wide_resnet::check_settings("geom", self.depth, self.widen, self.image_size)?;
        geometric::check_shift("geom", self.shift, self.image_size)?;
        ensure!(self.batch_size >= 1 && self.image_batch >= 1, "geom batch sizes must be at least 1");
        Ok(())
    }
}

/// The classifier and the fitted Dirichlets.
#[derive(Module, Debug)]
pub struct GeomNets {
    classifier: WideResNet,
    /// α of each transformation's Dirichlet, `[72, 72]` (no gradient).
    alpha: Param<Tensor<2>>,
}

/// The GEOM detector.
pub struct Geom {
    config: GeomConfig,
    device: Device,
    image: [usize; 3],
    bank: TransformBank,
    nets: GeomNets,
    optim: NetOptimizer,
    /// Shuffles each image batch's pairs.
    rng: ChaCha8Rng,
}

/// Images scored at a time: each becomes 72 network inputs.
const IMAGES_PER_PASS: usize = 8;

impl Geom {
    /// Build GEOM for images of `shape` on `device`.
    pub fn new(config: GeomConfig, shape: SampleShape, device: &Device, seed: u64) -> crate::Result<Self> {
        let (c, h, w) = image_dims("geom", shape)?;
        ensure!(
            h == w && h == config.image_size,
            "geom turns images by quarter turns: they must be square, {0}×{0} (image_size), not {h}×{w}",
            config.image_size
        );
        config.check()?;
        // A step holds every transformation of its images at once.
        let step_values = config.image_batch as u64 * 72 * (c * h * w) as u64;
        ensure!(
            step_values <= 1 << 30,
            "geom's image_batch ({}) × 72 transformations of {c}×{h}×{w} images is {step_values} \
             values a step, over the 2^30 (4 GiB) allowed: lower image_batch",
            config.image_batch
        );
        let list = geometric::geometric(config.shift as i64);
        let k = list.len();
        let train_device = device.clone().autodiff();
        let classifier = WideResNet::new(WrnStyle::Keras, c, k, config.depth, config.widen, &mut component_rng(seed, 1), &train_device);
        let nets = GeomNets {
            classifier,
            alpha: Param::from_tensor(Tensor::ones([k, k], &train_device)).set_require_grad(false),
        };
        Ok(Geom {
            optim: NetOptimizer::adam_with_weight_decay(config.learning_rate, 0.9, 0.999, config.weight_decay),
            bank: TransformBank::new(&list, h),
            image: [c, h, w],
            config,
            device: device.clone(),
            nets,
            rng: component_rng(seed, 2),
        })
    }

    /// Log-softmax outputs `[B, K(transformation), K(class)]` of images `x` under every
    /// transformation, in passes of [`IMAGES_PER_PASS`] images.
    fn log_probabilities(&self, x: Tensor<4>) -> Tensor<3> {
        let nets = self.nets.valid();
        let b = x.dims()[0];
        let k = self.bank.len();
        let parts: Vec<Tensor<3>> = (0..b)
            .step_by(IMAGES_PER_PASS)
            .map(|start| {
                let end = (start + IMAGES_PER_PASS).min(b);
                let images = x.clone().slice([start..end]);
                let logits = nets.classifier.forward(self.bank.apply_all(images));
                log_softmax(logits, 1).reshape([end - start, k, k])
            })
            .collect();
        Tensor::cat(parts, 0)
    }
}

impl Detector for Geom {
    fn train_step(&mut self, batch: Tensor<2>) -> crate::Result<StepLosses> {
        let x = as_images(batch, self.image).detach();
        let b = x.dims()[0];
        let k = self.bank.len();
        let pairs = self.bank.apply_all(x);
        let mut order: Vec<usize> = (0..b * k).collect();
        order.shuffle(&mut self.rng);
        let device = pairs.device();
        let mut total = 0.0f64;
        let mut steps = 0usize;
        for chunk in order.chunks(self.config.batch_size) {
            let n = chunk.len();
            let rows: Vec<i64> = chunk.iter().map(|&i| i as i64).collect();
            let inputs = pairs.clone().select(0, Tensor::<1, Int>::from_data(TensorData::new(rows, [n]), &device));
            let mut one_hot = vec![0f32; n * k];
            for (row, &i) in chunk.iter().enumerate() {
                one_hot[row * k + i % k] = 1.0;
            }
            let targets = Tensor::<2>::from_data(TensorData::new(one_hot, [n, k]), &device);
            let logits = self.nets.classifier.forward(inputs);
            let loss = (log_softmax(logits, 1) * targets).sum().neg() / n as f64;
            total += read_values(vec![loss.clone()])?[0] as f64;
            steps += 1;
            let mut grads = loss.backward();
            self.nets.classifier = self.optim.step(self.nets.classifier.clone(), &mut grads);
        }
        Ok(vec![("cross_entropy", (total / steps as f64) as f32)])
    }

    /// The Dirichlet of each transformation, fitted to the training images' softmax outputs.
    fn fit_statistics(&mut self, train: &Samples) -> crate::Result<()> {
        let k = self.bank.len();
        let d = train.shape.len();
        let (mut sum_p, mut sum_log) = (vec![0f64; k * k], vec![0f64; k * k]);
        for rows in train.values.chunks(IMAGES_PER_PASS * d) {
            let n = rows.len() / d;
            let [c, h, w] = self.image;
            let x = Tensor::<4>::from_data(TensorData::new(rows.to_vec(), [n, c, h, w]), &self.device);
            let log_p = self
                .log_probabilities(x)
                .into_data()
                .try_into_vec::<f32>()
                .map_err(|e| anyhow::anyhow!("reading GEOM's outputs: {e:?}"))?;
            for image in log_p.chunks_exact(k * k) {
                for (i, &l) in image.iter().enumerate() {
                    sum_log[i] += l as f64;
                    sum_p[i] += (l as f64).exp();
                }
            }
        }
        let n = train.len();
        ensure!(n > 0, "geom fits its Dirichlets on the training images, and there are none");
        let mut alpha = Vec::with_capacity(k * k);
        for t in 0..k {
            let mean: Vec<f64> = sum_p[t * k..(t + 1) * k].iter().map(|s| s / n as f64).collect();
            let mean_log: Vec<f64> = sum_log[t * k..(t + 1) * k].iter().map(|s| s / n as f64).collect();
            alpha.extend(dirichlet::fit(&mean, &mean_log, n).into_iter().map(|a| a as f32));
        }
        ensure!(
            alpha.iter().all(|a| a.is_finite()),
            "geom's Dirichlet fit did not converge to finite α (are the training images all alike?)"
        );
        let device = self.nets.alpha.val().device();
        self.nets.alpha = Param::from_tensor(Tensor::from_data(TensorData::new(alpha, [k, k]), &device))
            .set_require_grad(false);
        Ok(())
    }

    fn score(&self, batch: Tensor<2>) -> Tensor<1> {
        score_in_chunks(batch, IMAGES_PER_PASS, |rows| {
            let b = rows.dims()[0];
            let k = self.bank.len();
            let log_p = self.log_probabilities(as_images(rows, self.image));
            match self.config.score {
                GeomScore::Dirichlet => {
                    let alpha = self.nets.valid().alpha.val().unsqueeze::<3>() - 1.0;
                    (log_p * alpha).sum_dim(2).sum_dim(1).reshape([b]).neg() / k as f64
                }
                GeomScore::Simplified => {
                    let own = Tensor::<2>::eye(k, &self.device).unsqueeze::<3>();
                    (log_p.exp() * own).sum_dim(2).sum_dim(1).reshape([b]).neg() / k as f64
                }
            }
        })
    }

    /// The classifier's objective on a validation image: the mean cross-entropy over its 72
    /// transformations (needs no fitted Dirichlet).
    fn validation_loss(&self, batch: Tensor<2>) -> Tensor<1> {
        score_in_chunks(batch, IMAGES_PER_PASS, |rows| {
            let b = rows.dims()[0];
            let k = self.bank.len();
            let log_p = self.log_probabilities(as_images(rows, self.image));
            let own = Tensor::<2>::eye(k, &self.device).unsqueeze::<3>();
            (log_p * own).sum_dim(2).sum_dim(1).reshape([b]).neg() / k as f64
        })
    }

    fn trainables(&self) -> Trainables<'_> {
        Trainables {
            networks: &self.nets,
            optimizers: vec![&self.optim],
            rng: Some(&self.rng),
            average: None,
        }
    }

    fn trainables_mut(&mut self) -> TrainablesMut<'_> {
        TrainablesMut {
            networks: &mut self.nets,
            optimizers: vec![&mut self.optim],
            rng: Some(&mut self.rng),
            average: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> GeomConfig {
        GeomConfig {
            widen: 1,
            shift: 2,
            image_size: 8,
            ..GeomConfig::default()
        }
    }

    fn images(n: usize) -> Samples {
        let shape = SampleShape::Image { channels: 1, height: 8, width: 8 };
        let v: Vec<f32> = (0..n * 64).map(|i| ((i * 7919) % 97) as f32 / 48.0 - 1.0).collect();
        Samples::unlabelled(shape, v)
    }

    /// After fitting, the Dirichlet score is `−(1/72) Σ_t Σ_k (α_tk − 1) log p_k(T_t x)` and
    /// the simplified one `−(1/72) Σ_t p_t(T_t x)`, by hand from the classifier's outputs of
    /// each transformed image.
    #[test]
    fn scores_follow_the_code() {
        let device = Device::flex();
        let train = images(6);
        let mut model = small().build(train.shape, &device, 2).unwrap();
        model.fit_statistics(&train).unwrap();
        let alpha = model.nets.alpha.val().into_data().try_into_vec::<f32>().unwrap();
        assert!(alpha.iter().all(|a| *a > 0.0) && alpha.iter().any(|a| (a - 1.0).abs() > 1e-3));
        let x = Tensor::<2>::from_data(TensorData::new(train.values[..2 * 64].to_vec(), [2, 64]), &device);
        let scores = model.score(x.clone()).into_data().try_into_vec::<f32>().unwrap();
        let list = geometric::geometric(2);
        let nets = model.nets.valid();
        let (mut dirichlet, mut simplified) = (vec![0f64; 2], vec![0f64; 2]);
        for (t, tr) in list.iter().enumerate() {
            let map = tr.source_pixels(8);
            for b in 0..2 {
                let image: Vec<f32> = map.iter().map(|&p| train.values[b * 64 + p]).collect();
                let one = Tensor::<4>::from_data(TensorData::new(image, [1, 1, 8, 8]), &device);
                let logits = nets.classifier.forward(one).into_data().try_into_vec::<f32>().unwrap();
                let max = logits.iter().cloned().fold(f32::MIN, f32::max) as f64;
                let norm = logits.iter().map(|&l| (l as f64 - max).exp()).sum::<f64>().ln() + max;
                for (k, &l) in logits.iter().enumerate() {
                    dirichlet[b] -= (alpha[t * 72 + k] as f64 - 1.0) * (l as f64 - norm) / 72.0;
                }
                simplified[b] -= (logits[t] as f64 - norm).exp() / 72.0;
            }
        }
        for b in 0..2 {
            assert!((scores[b] as f64 - dirichlet[b]).abs() < 1e-3 * dirichlet[b].abs().max(1.0), "{} vs {}", scores[b], dirichlet[b]);
        }
        model.config.score = GeomScore::Simplified;
        let simple = model.score(x).into_data().try_into_vec::<f32>().unwrap();
        for b in 0..2 {
            assert!((simple[b] as f64 - simplified[b]).abs() < 1e-5, "{} vs {}", simple[b], simplified[b]);
        }
    }

    /// A step trains on every (image, transformation) pair once: with one Adam step holding
    /// them all, its loss is the mean cross-entropy of all 2 × 72 pairs under their right
    /// labels, by hand (BatchNorm's batch statistics do not depend on the shuffled order).
    #[test]
    fn a_step_sees_every_pair_once() {
        let device = Device::flex();
        let config = GeomConfig { batch_size: 144, ..small() };
        let train = images(2);
        let mut model = config.build(train.shape, &device, 1).unwrap();
        let train_device = device.clone().autodiff();
        let x = Tensor::<2>::from_data(TensorData::new(train.values.clone(), [2, 64]), &train_device);
        let pairs = model.bank.apply_all(as_images(x.clone(), [1, 8, 8]));
        let logits = model.nets.classifier.forward(pairs).into_data().try_into_vec::<f32>().unwrap();
        let mut expected = 0f64;
        for (row, l) in logits.chunks(72).enumerate() {
            let max = l.iter().cloned().fold(f32::MIN, f32::max) as f64;
            let norm = l.iter().map(|&v| (v as f64 - max).exp()).sum::<f64>().ln() + max;
            expected -= (l[row % 72] as f64 - norm) / 144.0;
        }
        let losses = model.train_step(x).unwrap();
        assert!((losses[0].1 as f64 - expected).abs() < 1e-4 * expected, "{losses:?} vs {expected}");
        // Steps of 50 pairs: three Adam steps, the loss their mean.
        let mut split = GeomConfig { batch_size: 50, ..small() }.build(train.shape, &device, 1).unwrap();
        let x = Tensor::<2>::from_data(TensorData::new(train.values.clone(), [2, 64]), &train_device);
        let ce = split.train_step(x).unwrap()[0].1;
        assert!(ce > 3.0 && ce < 6.0, "{ce}");
    }

    #[test]
    fn bad_settings_and_inputs_are_refused() {
        let device = Device::flex();
        let square = SampleShape::Image { channels: 3, height: 32, width: 32 };
        for config in [
            GeomConfig { depth: 12, ..GeomConfig::default() },
            GeomConfig { widen: 0, ..GeomConfig::default() },
            GeomConfig { shift: 32, ..GeomConfig::default() },
            GeomConfig { image_size: 30, ..GeomConfig::default() },
        ] {
            let shape = SampleShape::Image { channels: 3, height: config.image_size, width: config.image_size };
            assert!(config.build(shape, &device, 0).is_err(), "{config:?}");
            // … and with the run's settings, before any data is read.
            assert!(super::super::ModelConfig::new(config.clone()).validate().is_err(), "{config:?}");
        }
        let table = SampleShape::Table { features: 4 };
        assert!(GeomConfig::default().build(table, &device, 0).is_err());
        let wide = SampleShape::Image { channels: 3, height: 32, width: 28 };
        assert!(GeomConfig::default().build(wide, &device, 0).is_err());
        assert!(GeomConfig::default().build(square, &device, 0).is_ok());
    }
}
