//! The in-distribution classifier the OOD scores read: a LeNet for small grey images, a Wide
//! ResNet for colour ones, behind one [`Classifier`] that takes images in `[0, 1]` and
//! normalises them itself (per channel, by the training set's mean and standard deviation), so
//! that the scores' input perturbations (ODIN, Mahalanobis) are in pixel units.
//!
//! - **LeNet** (`"architecture": "lenet"`, the default for one-channel images): conv 5×5 → 32,
//!   ReLU, max-pool 2; conv 5×5 → 64, ReLU, max-pool 2; dense → 128, ReLU (the penultimate
//!   features); dense → classes. Padding 2, biases, PyTorch's default initialisation.
//! - **WRN-d-k** (`"architecture": "wrn"`, the default for colour images; [`WideResNet`] in
//!   its pre-activation form, depth 16 and width 2 by default), the CIFAR-10 classifier family
//!   of the ODIN and outlier-exposure papers (they use WRN-28-10 and WRN-40-2; smaller ones are
//!   options for CPU budgets).
//!
//! The features each score may read ([`Classifier::stages`]) are every stage's output averaged
//! over its map, the last one being the penultimate features: LeNet's pooled convolutions and
//! its dense layer; the WRN's three groups and its final BN–ReLU.

use crate::nn::dense::forward_batch_invariant;
use crate::nn::init::component_rng;
use crate::nn::{InitScheme, WideResNet, WrnStyle, initialise, wide_resnet};
use anyhow::ensure;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::relu;
use serde::{Deserialize, Serialize};

/// The classifier's network family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Architecture {
    /// Two convolutions and two dense layers.
    Lenet,
    /// A Wide ResNet WRN-`depth`-`widen`.
    Wrn,
}

/// How the classifier is built and trained.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassifierConfig {
    /// The network family.
    pub architecture: Architecture,
    /// WRN depth, 6n + 4 (16); ignored by the LeNet.
    pub depth: usize,
    /// WRN widening factor (2); ignored by the LeNet.
    pub widen: usize,
    /// Epochs over the training images.
    pub epochs: usize,
    /// Images per Adam step (128).
    pub batch_size: usize,
    /// Adam's learning rate (1e-3).
    pub learning_rate: f64,
    /// L2 weight decay added to every gradient (5e-4 for the WRN, 0 for the LeNet).
    pub weight_decay: f64,
    /// Random crops (4 pixels of zero padding) and horizontal flips of the training images,
    /// the CIFAR-10 augmentation of the papers (on for the WRN).
    pub augment: bool,
}

impl ClassifierConfig {
    /// The defaults for images of `[channels, height, width]`: a LeNet for one channel, a
    /// WRN-16-2 for colour.
    pub fn default_for([channels, _, _]: [usize; 3]) -> Self {
        if channels == 1 {
            ClassifierConfig {
                architecture: Architecture::Lenet,
                depth: 16,
                widen: 2,
                epochs: 10,
                batch_size: 128,
                learning_rate: 1e-3,
                weight_decay: 0.0,
                augment: false,
            }
        } else {
            ClassifierConfig {
                architecture: Architecture::Wrn,
                depth: 16,
                widen: 2,
                epochs: 30,
                batch_size: 128,
                learning_rate: 1e-3,
                weight_decay: 5e-4,
                augment: true,
            }
        }
    }

    /// The defaults for `image` with the fields of the JSON object `overrides` replacing
    /// theirs (an unknown field or a wrong type is an error naming it), checked for `image`.
    pub fn with_overrides(image: [usize; 3], overrides: Option<&str>) -> crate::Result<Self> {
        let config = Self::over_defaults(image, overrides)?;
        config.check(image)?;
        if config.architecture == Architecture::Lenet
            && let Some(text) = overrides
        {
            // The WRN's shape settings would be ignored by the LeNet, without a word.
            let given = crate::io::parse_settings_json(text)?;
            for field in ["depth", "widen"] {
                ensure!(
                    given.get(field).is_none(),
                    "--classifier-config {field:?} sets the WRN's shape; the classifier here is \
                     the LeNet (the default for one-channel images), which has none: add \
                     \"architecture\": \"wrn\" or leave {field:?} out"
                );
            }
        }
        Ok(config)
    }

    /// Check `overrides` before the images are read: it must be a JSON object of known fields,
    /// of the right types, and the training settings within range. The defaults of either
    /// family are in range, so an override out of range over one is out of range over both.
    pub fn check_overrides(overrides: Option<&str>) -> crate::Result<()> {
        Self::over_defaults([1, 1, 1], overrides)?.check_training()
    }

    /// [`ClassifierConfig::with_overrides`] without the checks.
    fn over_defaults(image: [usize; 3], overrides: Option<&str>) -> crate::Result<Self> {
        let mut value = serde_json::to_value(Self::default_for(image))?;
        if let Some(text) = overrides {
            let given = crate::io::parse_settings_json(text)
                .map_err(|e| anyhow::anyhow!("--classifier-config is not JSON: {e}"))?;
            let serde_json::Value::Object(fields) = given else {
                anyhow::bail!("--classifier-config must be a JSON object, got {given}");
            };
            let object = value
                .as_object_mut()
                .expect("a struct serialises to an object");
            for (key, field) in fields {
                object.insert(key, field);
            }
        }
        serde_json::from_value(value).map_err(|e| anyhow::anyhow!("--classifier-config: {e}"))
    }

    /// Refuse settings out of range for images of `image`.
    pub fn check(&self, [_, height, width]: [usize; 3]) -> crate::Result<()> {
        self.check_training()?;
        match self.architecture {
            Architecture::Lenet => ensure!(
                height >= 4 && width >= 4,
                "the LeNet needs images of at least 4×4, got {height}×{width}"
            ),
            Architecture::Wrn => {
                ensure!(
                    height == width,
                    "the WRN takes square images, got {height}×{width}"
                );
                wide_resnet::check_settings("the OOD classifier", self.depth, self.widen, height)?;
            }
        }
        Ok(())
    }

    /// Refuse the settings that are out of range whatever the images: epochs, batch size,
    /// learning rate, weight decay.
    pub fn check_training(&self) -> crate::Result<()> {
        ensure!(
            self.epochs >= 1,
            "classifier epochs must be at least 1, got 0"
        );
        ensure!(
            self.batch_size >= 1,
            "classifier batch_size must be at least 1, got 0"
        );
        ensure!(
            self.learning_rate.is_finite() && self.learning_rate > 0.0,
            "classifier learning_rate must be positive, got {}",
            self.learning_rate
        );
        ensure!(
            self.weight_decay.is_finite() && self.weight_decay >= 0.0,
            "classifier weight_decay must be 0 or more, got {}",
            self.weight_decay
        );
        Ok(())
    }
}

/// Per-channel input normalisation `(x − mean)/std`, fitted on the training images.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Normalisation {
    /// Mean of each channel.
    pub mean: Vec<f32>,
    /// Standard deviation of each channel (at least 1e-6).
    pub std: Vec<f32>,
}

impl Normalisation {
    /// The channels' mean and standard deviation over `values`, images of `[c, h, w]` one
    /// after another.
    pub fn fit(values: &[f32], [c, h, w]: [usize; 3]) -> Self {
        let plane = h * w;
        let images = values.len() / (c * plane).max(1);
        let (mut mean, mut std) = (Vec::with_capacity(c), Vec::with_capacity(c));
        for channel in 0..c {
            let pixels = (0..images).flat_map(|i| {
                let start = (i * c + channel) * plane;
                values[start..start + plane].iter().map(|&v| v as f64)
            });
            let (mut sum, mut square, mut n) = (0.0f64, 0.0f64, 0.0f64);
            for v in pixels {
                sum += v;
                square += v * v;
                n += 1.0;
            }
            let m = sum / n.max(1.0);
            mean.push(m as f32);
            std.push(((square / n.max(1.0) - m * m).max(0.0).sqrt() as f32).max(1e-6));
        }
        Normalisation { mean, std }
    }

    fn apply(&self, x: Tensor<4>) -> Tensor<4> {
        let device = x.device();
        let c = self.mean.len();
        let mean = Tensor::<1>::from_data(TensorData::new(self.mean.clone(), [c]), &device)
            .reshape([1, c, 1, 1]);
        let std = Tensor::<1>::from_data(TensorData::new(self.std.clone(), [c]), &device)
            .reshape([1, c, 1, 1]);
        (x - mean) / std
    }
}

/// The LeNet: two 5×5 convolutions with max-pooling, two dense layers.
#[derive(Module, Debug)]
pub struct LeNet {
    conv1: Conv2d,
    conv2: Conv2d,
    fc1: Linear,
    fc2: Linear,
    pool: MaxPool2d,
}

impl LeNet {
    fn new([c, h, w]: [usize; 3], classes: usize, device: &Device) -> Self {
        let conv = |cin, cout| {
            Conv2dConfig::new([cin, cout], [5, 5])
                .with_padding(PaddingConfig2d::Explicit(2, 2, 2, 2))
                .init(device)
        };
        LeNet {
            conv1: conv(c, 32),
            conv2: conv(32, 64),
            fc1: LinearConfig::new(64 * (h / 4) * (w / 4), 128).init(device),
            fc2: LinearConfig::new(128, classes).init(device),
            pool: MaxPool2dConfig::new([2, 2]).init(),
        }
    }

    fn stages(&self, x: Tensor<4>) -> Vec<Tensor<2>> {
        let pooled = |h: &Tensor<4>| {
            let [b, c, _, _] = h.dims();
            h.clone().mean_dim(3).mean_dim(2).reshape([b, c])
        };
        let h1 = self.pool.forward(relu(self.conv1.forward(x)));
        let h2 = self.pool.forward(relu(self.conv2.forward(h1.clone())));
        let b = h2.dims()[0];
        let flat = h2.clone().reshape([b as i32, -1]);
        let penultimate = relu(forward_batch_invariant(&self.fc1, flat));
        vec![pooled(&h1), pooled(&h2), penultimate]
    }
}

/// The classifier's network: exactly one of the two families.
#[derive(Module, Debug)]
pub struct Network {
    lenet: Option<LeNet>,
    wrn: Option<WideResNet>,
}

/// A classifier of `[0, 1]` images: its network, input normalisation and image shape.
#[derive(Clone, Debug)]
pub struct Classifier {
    /// The network (on an autodiff device while training; [`Classifier::valid`] for scoring).
    pub network: Network,
    /// The input normalisation.
    pub normalisation: Normalisation,
    /// `[channels, height, width]` of the images it takes.
    pub image: [usize; 3],
    /// Number of classes.
    pub classes: usize,
}

impl Classifier {
    /// A fresh classifier of `config` for `classes` classes of `image`, its weights drawn from
    /// `seed`.
    pub fn new(
        config: &ClassifierConfig,
        image: [usize; 3],
        classes: usize,
        normalisation: Normalisation,
        device: &Device,
        seed: u64,
    ) -> crate::Result<Self> {
        config.check(image)?;
        ensure!(
            classes >= 2,
            "a classifier needs at least 2 classes, got {classes}"
        );
        let mut rng = component_rng(seed, 31);
        let network = match config.architecture {
            Architecture::Lenet => Network {
                lenet: Some(initialise(
                    LeNet::new(image, classes, device),
                    InitScheme::Pytorch,
                    &mut rng,
                )),
                wrn: None,
            },
            Architecture::Wrn => Network {
                lenet: None,
                wrn: Some(WideResNet::new(
                    WrnStyle::Keras,
                    image[0],
                    classes,
                    config.depth,
                    config.widen,
                    &mut rng,
                    device,
                )),
            },
        };
        Ok(Classifier {
            network,
            normalisation,
            image,
            classes,
        })
    }

    /// The features of every stage, `[B, D_l]` each, the penultimate ones last; `x` raw
    /// images `[B, C, H, W]` in `[0, 1]`.
    pub fn stages(&self, x: Tensor<4>) -> Vec<Tensor<2>> {
        let x = self.normalisation.apply(x);
        match (&self.network.lenet, &self.network.wrn) {
            (Some(lenet), _) => lenet.stages(x),
            (None, Some(wrn)) => wrn.stage_features(x),
            (None, None) => unreachable!("a classifier network is built with one family"),
        }
    }

    /// The logits `[B, classes]` of the penultimate features.
    pub fn head(&self, penultimate: Tensor<2>) -> Tensor<2> {
        match (&self.network.lenet, &self.network.wrn) {
            (Some(lenet), _) => forward_batch_invariant(&lenet.fc2, penultimate),
            (None, Some(wrn)) => wrn.logits(penultimate),
            (None, None) => unreachable!("a classifier network is built with one family"),
        }
    }

    /// The logits `[B, classes]` of raw images `[B, C, H, W]`.
    pub fn logits(&self, x: Tensor<4>) -> Tensor<2> {
        let penultimate = self.stages(x).pop().expect("at least one stage");
        self.head(penultimate)
    }

    /// Whether BatchNorm normalises by the batch (training) or by its running statistics
    /// (scoring, gradients still flowing for the input perturbations).
    pub fn set_batch_statistics(&mut self, on: bool) {
        if let Some(wrn) = &mut self.network.wrn {
            wrn.set_batch_statistics(on);
        }
    }

    /// The same classifier on the plain (non-autodiff) device, in evaluation mode.
    pub fn valid(&self) -> Classifier {
        Classifier {
            network: self.network.valid(),
            normalisation: self.normalisation.clone(),
            image: self.image,
            classes: self.classes,
        }
    }

    /// Raw images `values` (`[n, C·H·W]` row-major) as a `[n, C, H, W]` tensor on `device`.
    pub fn images(&self, values: &[f32], device: &Device) -> Tensor<4> {
        let [c, h, w] = self.image;
        let n = values.len() / (c * h * w);
        Tensor::from_data(TensorData::new(values.to_vec(), [n, c, h, w]), device)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The LeNet's stages have the documented widths, and the logits are the head of the
    /// last; the normalisation uses each channel's own statistics.
    #[test]
    fn lenet_stages_and_normalisation() {
        let device = Device::flex();
        let config = ClassifierConfig::default_for([1, 28, 28]);
        let values: Vec<f32> = (0..2 * 784).map(|i| (i % 17) as f32 / 16.0).collect();
        let norm = Normalisation::fit(&values, [1, 28, 28]);
        let classifier =
            Classifier::new(&config, [1, 28, 28], 10, norm.clone(), &device, 0).unwrap();
        let x = classifier.images(&values, &device);
        let stages = classifier.stages(x.clone());
        let widths: Vec<usize> = stages.iter().map(|t| t.dims()[1]).collect();
        assert_eq!(widths, [32, 64, 128]);
        let a = classifier
            .logits(x)
            .into_data()
            .try_into_vec::<f32>()
            .unwrap();
        let b = classifier
            .head(stages[2].clone())
            .into_data()
            .try_into_vec::<f32>()
            .unwrap();
        assert_eq!(a, b);
        let mean = values.iter().map(|&v| v as f64).sum::<f64>() / values.len() as f64;
        assert!((norm.mean[0] as f64 - mean).abs() < 1e-6);

        let rgb: Vec<f32> = (0..3 * 4)
            .map(|i| if i < 4 { 1.0 } else { (i % 2) as f32 })
            .collect();
        let norm = Normalisation::fit(&rgb, [3, 2, 2]);
        assert_eq!(norm.mean, [1.0, 0.5, 0.5]);
        assert_eq!(norm.std, [1e-6, 0.5, 0.5]);
    }

    /// An image's stages and logits have the same bits scored alone, in a pair, or 37th of 100
    /// (they differed in the last digits alone: LeNet's 3 136-wide dense layer).
    #[test]
    fn an_image_scores_the_same_alone_and_in_any_batch() {
        let device = Device::flex();
        let config = ClassifierConfig::default_for([1, 28, 28]);
        let values: Vec<f32> = (0..100 * 784)
            .map(|i| ((i * 7919) % 997) as f32 / 996.0)
            .collect();
        let norm = Normalisation::fit(&values, [1, 28, 28]);
        let classifier = Classifier::new(&config, [1, 28, 28], 10, norm, &device, 3).unwrap();
        let outputs = |images: &[f32]| {
            let x = classifier.images(images, &device);
            let mut all = classifier.stages(x.clone());
            all.push(classifier.logits(x));
            all.into_iter()
                .map(|t| {
                    let [b, d] = t.dims();
                    let v = t.into_data().try_into_vec::<f32>().unwrap();
                    (b, d, v.into_iter().map(f32::to_bits).collect::<Vec<_>>())
                })
                .collect::<Vec<_>>()
        };
        let image = |i: usize| &values[i * 784..(i + 1) * 784];
        let last_row = |(b, d, v): &(usize, usize, Vec<u32>)| v[(b - 1) * d..b * d].to_vec();
        let in_hundred: Vec<Vec<u32>> = outputs(&values)
            .into_iter()
            .map(|(_, d, v)| v[36 * d..37 * d].to_vec())
            .collect();
        let alone: Vec<Vec<u32>> = outputs(image(36)).iter().map(last_row).collect();
        let pair: Vec<Vec<u32>> = outputs(&[image(5), image(36)].concat())
            .iter()
            .map(last_row)
            .collect();
        assert_eq!(alone, in_hundred);
        assert_eq!(pair, in_hundred);
    }

    /// Overrides replace the defaults by name; unknown names and bad values are refused.
    #[test]
    fn config_overrides_are_checked() {
        let c = ClassifierConfig::with_overrides(
            [3, 32, 32],
            Some(r#"{"depth": 10, "widen": 1, "epochs": 2}"#),
        )
        .unwrap();
        assert_eq!(
            (c.architecture, c.depth, c.widen, c.epochs, c.augment),
            (Architecture::Wrn, 10, 1, 2, true)
        );
        for bad in [
            r#"{"dept": 10}"#,
            r#"{"depth": 11}"#,
            r#"{"epochs": 0}"#,
            r#"{"learning_rate": -1}"#,
            "[1]",
            "nope",
        ] {
            let err = ClassifierConfig::with_overrides([3, 32, 32], Some(bad));
            assert!(err.is_err(), "{bad} accepted");
        }
        let lenet = ClassifierConfig::with_overrides([1, 28, 28], None).unwrap();
        assert_eq!(lenet.architecture, Architecture::Lenet);
    }
}
