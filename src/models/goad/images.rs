//! GOAD on images, as the official code's `train_ad.py`, `opt_tc.py`, `wideresnet.py` and
//! `transformations.py` run it with the README's CIFAR-10 command (`--m=0.1`; the model's
//! header, [`super`], has the loss and the score).
//!
//! - **Transformations**: GEOM's 72 ([`crate::nn::geometric`]: flip × row and column shifts by
//!   0, ±8 px with reflection × quarter turns; `type_trans='complicated'`), every one of them
//!   applied to every image of a batch; the step's 4 images make the code's batch of 288.
//! - **Network**: the code's WRN-10-4 ([`WrnStyle::GoadCode`]: PyTorch padding and weights,
//!   and the block as its `forward` computes it); f is the pooled 256-wide feature before the
//!   dense head, which tells the 72 transformations apart.
//! - **Loss**: `CE + 0.1·L_tc + 10·mean(f²)`, margin 0.1, Adam lr 1e-3 (β 0.9, 0.999), 16
//!   epochs. (The code parses `--lr` but builds its Adam with PyTorch's defaults, 1e-3 too:
//!   `learning_rate` is a setting the code does not really have.) The triplet-centre term's centres are the 4 images' mean feature of each
//!   transformation, as the code's.
//! - **BatchNorm**: the code sets its network to training mode once, before the first epoch,
//!   and to evaluation mode after it, to score, and never back: from the second epoch on it
//!   trains with the running statistics the first epoch left, held fixed. Here
//!   `running_statistics_from_epoch` (2) does the same; `null` trains with batch statistics
//!   throughout.
//! - Inputs scaled to [−1, 1] (`--scaling minus-one-to-one`, the default on images; the code's `2·x/255 − 1`), 32 × 32.
//!
//! The training loop drops an epoch's last partial batch (up to 3 images).

use super::{CentreAverage, GoadConfig, step_loss, transformation_score};
use crate::data::{SampleShape, Samples};
use crate::models::{Detector, StepLosses, as_images, image_dims, score_in_chunks};
use crate::nn::geometric::{self, TransformBank};
use crate::nn::init::component_rng;
use crate::nn::{NetOptimizer, Trainables, TrainablesMut, WideResNet, WrnStyle, wide_resnet};
use anyhow::ensure;
use burn::prelude::*;

/// Images scored at a time: each becomes 72 network inputs.
const IMAGES_PER_PASS: usize = 8;

/// The image form's own rules, checked with the run's settings before any data is read.
pub(super) fn check(config: &GoadConfig) -> crate::Result<()> {
    wide_resnet::check_settings("goad", config.depth, config.widen, config.image_size)?;
    geometric::check_shift("goad", config.shift, config.image_size)
}

/// The classifier and the centres.
#[derive(Module, Debug)]
pub struct ImageNets {
    /// f and the head.
    classifier: WideResNet,
    /// Each transformation's centre of the training features, `[72, 64k]`.
    centres: CentreAverage,
}

impl ImageNets {
    /// Features `[B, K, F]` and logits `[B·K, K]` of images `x` `[B, C, S, S]` under every
    /// transformation of `bank` (row `b·K + k`: image b under transformation k).
    fn forward(&self, bank: &TransformBank, x: Tensor<4>) -> (Tensor<3>, Tensor<2>) {
        let b = x.dims()[0];
        let k = bank.len();
        let features = self.classifier.features(bank.apply_all(x));
        let width = features.dims()[1];
        let logits = self.classifier.logits(features.clone());
        (features.reshape([b, k, width]), logits)
    }
}

/// GOAD on images.
pub struct GoadImages {
    config: GoadConfig,
    image: [usize; 3],
    bank: TransformBank,
    nets: ImageNets,
    optim: NetOptimizer,
}

impl GoadImages {
    /// Build GOAD for images of `shape` on `device`.
    pub fn new(config: GoadConfig, shape: SampleShape, device: &Device, seed: u64) -> crate::Result<Self> {
        let (c, h, w) = image_dims("goad", shape)?;
        ensure!(
            h == w && h == config.image_size,
            "goad turns images by quarter turns: they must be square, {0}×{0} (image_size), not {h}×{w}",
            config.image_size
        );
        let list = geometric::geometric(config.shift as i64);
        let k = list.len();
        // A step holds every transformation of its images at once.
        let step_values = config.batch_size as u64 * k as u64 * (c * h * w) as u64;
        ensure!(
            step_values <= 1 << 30,
            "goad's batch_size ({}) × {k} transformations of {c}×{h}×{w} images is {step_values} \
             values a step, over the 2^30 (4 GiB) allowed: lower batch_size",
            config.batch_size
        );
        let train_device = device.clone().autodiff();
        let classifier = WideResNet::new(
            WrnStyle::GoadCode,
            c,
            k,
            config.depth,
            config.widen,
            &mut component_rng(seed, 1),
            &train_device,
        );
        let centres = CentreAverage::new(k, classifier.feature_width(), &train_device);
        Ok(GoadImages {
            optim: NetOptimizer::adam(config.learning_rate, config.beta_1 as f32, 0.999),
            bank: TransformBank::new(&list, h),
            image: [c, h, w],
            config,
            nets: ImageNets { classifier, centres },
        })
    }
}

impl Detector for GoadImages {
    /// From `running_statistics_from_epoch` on, training normalises by the running statistics.
    fn begin_epoch(&mut self, epoch: usize) {
        let frozen = self.config.running_statistics_from_epoch.is_some_and(|from| epoch >= from);
        self.nets.classifier.set_batch_statistics(!frozen);
    }

    fn train_step(&mut self, batch: Tensor<2>) -> crate::Result<StepLosses> {
        let x = as_images(batch, self.image).detach();
        let (z, logits) = self.nets.forward(&self.bank, x);
        self.nets.centres.add_batch(z.clone());
        let (loss, parts) = step_loss(z, logits, &self.config)?;
        let mut grads = loss.backward();
        self.nets = self.optim.step(self.nets.clone(), &mut grads);
        Ok(parts)
    }

    /// At the end of an epoch the centres become the mean of its steps' batch-mean features.
    fn fit_statistics(&mut self, _train: &Samples) -> crate::Result<()> {
        self.nets.centres.finish_epoch();
        Ok(())
    }

    fn score(&self, batch: Tensor<2>) -> Tensor<1> {
        score_in_chunks(batch, IMAGES_PER_PASS, |rows| {
            let nets = self.nets.valid();
            let (z, _) = nets.forward(&self.bank, as_images(rows, self.image));
            transformation_score(z, nets.centres.centres(), self.config.epsilon)
        })
    }

    fn trainables(&self) -> Trainables<'_> {
        Trainables::of_one(&self.nets, &self.optim)
    }

    fn trainables_mut(&mut self) -> TrainablesMut<'_> {
        TrainablesMut::of_one(&mut self.nets, &mut self.optim)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::ModelSpec;
    use crate::nn::geometric::Transformation;

    fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data().try_into_vec::<f32>().unwrap()
    }

    fn small() -> GoadConfig {
        GoadConfig {
            widen: 1,
            shift: 2,
            image_size: 8,
            batch_size: 2,
            ..GoadConfig::official(super::super::GoadPreset::Cifar10)
        }
    }

    fn pixels(n: usize) -> Vec<f32> {
        (0..n * 64).map(|i| ((i * 7919) % 97) as f32 / 48.0 - 1.0).collect()
    }

    fn model(seed: u64) -> GoadImages {
        let shape = SampleShape::Image { channels: 1, height: 8, width: 8 };
        GoadImages::new(small(), shape, &Device::flex(), seed).unwrap()
    }

    /// The features of image b under transformation t, by running the WRN on `T_t(x_b)` alone.
    fn feature_by_hand(nets: &ImageNets, x: &[f32], b: usize, t: &Transformation, device: &Device) -> Vec<f32> {
        let image: Vec<f32> = t.source_pixels(8).iter().map(|&p| x[b * 64 + p]).collect();
        let one = Tensor::<4>::from_data(TensorData::new(image, [1, 1, 8, 8]), device);
        values(nets.classifier.features(one))
    }

    /// The step's loss is `CE + λ·L_tc + 10·mean(f²)` over the 72 transformations of each
    /// image, in the code's order, with the triplet-centre term against the batch's own
    /// centres; the score `−Σ_m log softmax_m'(−‖f_m − c_m'‖²)[m]`, both by hand from the
    /// features of each transformed image run alone.
    #[test]
    fn loss_and_score_follow_the_code() {
        let device = Device::flex();
        let mut goad = model(3);
        // Evaluation-mode BatchNorm makes an image's features independent of its batch.
        goad.begin_epoch(2);
        let x = pixels(2);
        let list = geometric::geometric(2);
        let (k, f) = (72, 16 * 4);
        let nets = goad.nets.valid();
        let z: Vec<Vec<f32>> = (0..2)
            .flat_map(|b| list.iter().map(move |t| (b, t)))
            .map(|(b, t)| feature_by_hand(&nets, &x, b, t, &device))
            .collect();
        assert_eq!(z[0].len(), f);
        let logits = values(nets.classifier.logits(Tensor::from_data(
            TensorData::new(z.concat(), [2 * k, f]),
            &device,
        )));
        let mut ce = 0f64;
        for (row, l) in logits.chunks(k).enumerate() {
            let norm = l.iter().map(|&v| (v as f64).exp()).sum::<f64>().ln();
            ce -= (l[row % k] as f64 - norm) / (2 * k) as f64;
        }
        let dist = |a: &[f32], c: &[f64]| -> f64 { a.iter().zip(c).map(|(&u, &v)| (u as f64 - v).powi(2)).sum() };
        let centre = |t: usize| -> Vec<f64> { (0..f).map(|i| (z[t][i] as f64 + z[k + t][i] as f64) / 2.0).collect() };
        let centres: Vec<Vec<f64>> = (0..k).map(centre).collect();
        let mut tc = 0f64;
        for row in &z.iter().enumerate().collect::<Vec<_>>() {
            let (i, feat) = *row;
            let t = i % k;
            let nearest = (0..k).filter(|&u| u != t).map(|u| dist(feat, &centres[u])).fold(f64::INFINITY, f64::min);
            tc += (dist(feat, &centres[t]) + 0.1 - nearest).max(0.0) / (2 * k) as f64;
        }
        let square = z.iter().flatten().map(|&v| (v as f64).powi(2)).sum::<f64>() / (2 * k * f) as f64;
        let expected = ce + 0.1 * tc + 10.0 * square;
        let batch = Tensor::<2>::from_data(TensorData::new(x.clone(), [2, 64]), &device.clone().autodiff());
        let losses = goad.train_step(batch).unwrap();
        assert!((losses[0].1 as f64 - expected).abs() < 1e-4 * expected, "{losses:?} vs {expected}");
        assert!((losses[3].1 as f64 - square).abs() < 1e-4 * square.max(1e-3), "{losses:?} vs {square}");
        // The centres after the epoch are the step's batch means, taken before its update.
        goad.fit_statistics(&Samples::empty(SampleShape::Image { channels: 1, height: 8, width: 8 })).unwrap();
        let got = values(goad.nets.centres.centres());
        for t in [0, 5, 71] {
            for i in [0, f - 1] {
                assert!((got[t * f + i] as f64 - centres[t][i]).abs() < 1e-4, "centre {t},{i}");
            }
        }
        // The score from the trained network's features and those centres.
        let nets = goad.nets.valid();
        let scores = values(goad.score(Tensor::from_data(TensorData::new(x.clone(), [2, 64]), &device)));
        let c: Vec<Vec<f64>> = (0..k).map(|t| got[t * f..(t + 1) * f].iter().map(|&v| v as f64).collect()).collect();
        for b in 0..2 {
            let mut expected = 0f64;
            for (t, tr) in list.iter().enumerate() {
                let feat = feature_by_hand(&nets, &x, b, tr, &device);
                let d: Vec<f64> = c.iter().map(|centre| dist(&feat, centre)).collect();
                let low = d.iter().cloned().fold(f64::INFINITY, f64::min);
                let norm = d.iter().map(|v| (low - v).exp()).sum::<f64>().ln() - low;
                expected += d[t] + norm;
            }
            assert!((scores[b] as f64 - expected).abs() < 1e-3 * expected.abs().max(1.0), "{} vs {expected}", scores[b]);
        }
    }

    /// Epoch 1 trains with batch statistics and moves the running ones; from
    /// `running_statistics_from_epoch` (2) on, training passes use the running statistics,
    /// held fixed, so a step's features are the evaluation-mode ones; with `null` they never do.
    #[test]
    fn batch_norm_switches_to_running_statistics_as_the_code() {
        let device = Device::flex();
        let train_device = device.clone().autodiff();
        let batch = || Tensor::<2>::from_data(TensorData::new(pixels(2), [2, 64]), &train_device);
        let plain = || Tensor::<2>::from_data(TensorData::new(pixels(2), [2, 64]), &device);
        let eval_features = |g: &GoadImages| {
            let nets = g.nets.valid();
            values(nets.forward(&g.bank, as_images(plain(), g.image)).0)
        };
        let train_features = |g: &GoadImages| values(g.nets.forward(&g.bank, as_images(batch(), g.image)).0);
        let mut goad = model(1);
        goad.begin_epoch(1);
        let before = eval_features(&goad);
        assert_ne!(train_features(&goad), before, "epoch 1 normalises by the batch");
        goad.train_step(batch()).unwrap();
        let moved = eval_features(&goad);
        assert_ne!(moved, before);
        goad.begin_epoch(2);
        let (a, b) = (train_features(&goad), eval_features(&goad));
        for (u, v) in a.iter().zip(&b) {
            assert!((u - v).abs() < 1e-5, "{u} vs {v}");
        }
        let mut never = GoadImages::new(
            GoadConfig { running_statistics_from_epoch: None, ..small() },
            SampleShape::Image { channels: 1, height: 8, width: 8 },
            &device,
            1,
        )
        .unwrap();
        never.begin_epoch(9);
        assert_ne!(train_features(&never), eval_features(&never));
    }

    #[test]
    fn images_must_be_square_at_image_size() {
        let device = Device::flex();
        for (h, w) in [(8, 6), (16, 16)] {
            let shape = SampleShape::Image { channels: 1, height: h, width: w };
            assert!(small().build(shape, &device, 0).is_err(), "{h}×{w}");
        }
        let huge = GoadConfig { batch_size: 1_000_000, ..small() };
        let e = huge.build(SampleShape::Image { channels: 1, height: 8, width: 8 }, &device, 0).err().unwrap().to_string();
        assert!(e.contains("batch_size"), "{e}");
    }
}
