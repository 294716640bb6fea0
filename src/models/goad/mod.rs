//! GOAD: Bergman & Hoshen. "Classification-Based Anomaly Detection for General Data". ICLR 2020
//! (MODELS.md §19), in both of its forms as the official code (`lironber/GOAD`) runs them: on
//! tables ([`tabular`]: random affine maps, a small fully connected net) and on images
//! ([`images`]: GEOM's 72 geometric transformations, a Wide ResNet).
//!
//! - **Task**: every sample goes through each of M transformations; a network f, shared by all
//!   of them, gives each transformed sample a feature `f(T_m(x))` and a head tells which
//!   transformation it went through.
//! - **Loss** per batch: `CE(head(f(T_m(x))), m)` averaged over samples and transformations,
//!   plus `λ·L_tc` (λ 0.1), the triplet-centre loss with the batch's own centres
//!   `c̄_m = mean_batch f(T_m(x))`: `mean max(0, ‖f_m − c̄_m‖² + margin − min_{m'≠m} ‖f_m − c̄_m'‖²)`
//!   (margin 1 on tables, the README's 0.1 on CIFAR-10), plus `feature_penalty·mean(f²)` (the
//!   image code's `--reg`, on by default there: 10; 0 on tables, whose code has none).
//! - **Score**: with the centres `c_m` of the training features,
//!   `P(m | T_m(x)) = softmax_m'(−max(‖f(T_m(x)) − c_m'‖², ε))`, anomaly score
//!   `−Σ_m log P(m | T_m(x))` (ε 0). The centres are the code's: the mean over the last epoch's
//!   steps of each batch's mean feature, taken in the training forward pass while the weights
//!   move (the official code on Thyroid, seed 1: AUROC 0.942 so, 0.933 with centres from the
//!   final weights).
//!
//! Settings (`"preset"`, which the others start from): `thyroid` and `arrhythmia` (M 256, r 32,
//! w 8, one trunk layer, 1 epoch, batch 64 rows, Adam β₁ 0.5: the default), `kdd` (M 64, r 64,
//! w 32, five layers, 25 epochs), `kddrev` (M 256, r 128, w 128, five layers, 25 epochs), and
//! `cifar10` (WRN-10-4, shifts of 8 px, margin 0.1, feature penalty 10, 16 epochs, batches of 4
//! images = the code's 288 transformed images, Adam β₁ 0.9): the README's commands. A run on
//! images needs an image preset (`{"preset": "cifar10"}`), a run on tables a table one; each is
//! refused by name otherwise.
//!
//! The best checkpoint is chosen by the validation samples' mean score; the code keeps the last
//! epoch (`--checkpoint last`, as the results scripts do).

pub mod images;
pub mod tabular;

use super::{Detector, ModelInfo, ModelSpec, StepLosses, read_values};
use crate::data::source::DataForm;
use crate::data::preprocess::Scaling;
use crate::data::{SampleShape, Samples};
use crate::nn::{Trainables, TrainablesMut};
use anyhow::ensure;
use crate::nn::dense::matmul_batch_invariant;
use burn::module::Param;
use burn::prelude::*;
use burn::tensor::activation::log_softmax;
use images::GoadImages;
use serde::{Deserialize, Serialize};
use tabular::GoadTable;

/// The official code's per-data-set settings (its README's commands).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GoadPreset {
    /// Thyroid: M 256, r 32, w 8, one trunk layer, 1 epoch.
    Thyroid,
    /// Arrhythmia: Thyroid's settings.
    Arrhythmia,
    /// KDDCUP99 (attacks normal): M 64, r 64, w 32, five trunk layers, 25 epochs.
    Kdd,
    /// KDDCUP99 reversed (normal traffic normal): M 256, r 128, w 128, five layers, 25 epochs.
    Kddrev,
    /// CIFAR-10 one-class: GEOM's 72 transformations, WRN-10-4, margin 0.1, 16 epochs.
    Cifar10,
}

impl GoadPreset {
    /// Whether the preset is for images (else tables).
    pub fn is_image(self) -> bool {
        self == GoadPreset::Cifar10
    }
}

/// GOAD's hyper-parameters (the official code's Thyroid settings by default). Fields marked
/// "tables" or "images" apply to that form only.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GoadConfig {
    /// Which official settings the others start from in a settings file (`thyroid`).
    pub preset: GoadPreset,
    /// Tables: M, the number of random affine transformations (256).
    pub transforms: usize,
    /// Tables: r, the dimension each transformation maps a row to (32).
    pub transform_dim: usize,
    /// Tables: w, the feature width (the code's `ndf`; 8).
    pub width: usize,
    /// Tables: bias-free linear layers of the trunk, 1 (`netC1`) or more (`netC5`: 5) (1).
    pub trunk_layers: usize,
    /// Images: WRN depth, 6n + 4 with n ≥ 1 (10).
    pub depth: usize,
    /// Images: WRN widening factor k (4); the features are 64k wide.
    pub widen: usize,
    /// Images: translation of the geometric transformations in pixels (8).
    pub shift: usize,
    /// Images: the side images are resized to, a multiple of 4 (32).
    pub image_size: usize,
    /// Images: the first epoch whose training passes normalise by the BatchNorms' running
    /// statistics, held fixed, rather than by the batch's (2: the code switches its network to
    /// evaluation mode after the first epoch and never back; `null`: batch statistics
    /// throughout, as the paper describes no such switch).
    pub running_statistics_from_epoch: Option<usize>,
    /// The triplet-centre loss's margin (1.0; CIFAR-10 0.1).
    pub margin: f64,
    /// λ, the weight of the triplet-centre loss (0.1).
    pub centre_loss_weight: f64,
    /// The weight of `mean(f²)` in the loss (0; CIFAR-10 10, the code's `--reg`).
    pub feature_penalty: f64,
    /// ε, the floor of the squared distances in the score (0).
    pub epsilon: f64,
    /// Adam learning rate (1e-3).
    pub learning_rate: f64,
    /// Adam β₁ (0.5 on tables; 0.9, PyTorch's default, on images); β₂ 0.999.
    pub beta_1: f64,
    /// Training batch size: rows (64), or images, each seen under every transformation (4).
    pub batch_size: usize,
    /// Training epochs (1).
    pub epochs: usize,
}

impl GoadConfig {
    /// The official settings of `preset`.
    pub fn official(preset: GoadPreset) -> Self {
        let table = |transforms, transform_dim, width, trunk_layers, epochs| GoadConfig {
            preset,
            transforms,
            transform_dim,
            width,
            trunk_layers,
            depth: 10,
            widen: 4,
            shift: 8,
            image_size: 32,
            running_statistics_from_epoch: Some(2),
            margin: 1.0,
            centre_loss_weight: 0.1,
            feature_penalty: 0.0,
            epsilon: 0.0,
            learning_rate: 1e-3,
            beta_1: 0.5,
            batch_size: 64,
            epochs,
        };
        match preset {
            GoadPreset::Thyroid | GoadPreset::Arrhythmia => table(256, 32, 8, 1, 1),
            GoadPreset::Kdd => table(64, 64, 32, 5, 25),
            GoadPreset::Kddrev => table(256, 128, 128, 5, 25),
            GoadPreset::Cifar10 => GoadConfig {
                margin: 0.1,
                feature_penalty: 10.0,
                beta_1: 0.9,
                batch_size: 4,
                epochs: 16,
                ..table(72, 32, 8, 1, 16)
            },
        }
    }
}

impl Default for GoadConfig {
    fn default() -> Self {
        GoadConfig::official(GoadPreset::Thyroid)
    }
}

impl ModelSpec for GoadConfig {
    const INFO: ModelInfo = ModelInfo {
        name: "goad",
        group: super::ModelGroup::Baseline,
        paper: "Bergman & Hoshen. Classification-Based Anomaly Detection for General Data. ICLR 2020",
        summary: "a network told which of M transformations was applied (random affine maps of a row; GEOM's flips, shifts and quarter turns of an image), its features pulled to one centre per transformation; score = −Σ_m log P(m | T_m(x)) from the distances to the centres",
        inputs: "tables (presets thyroid, arrhythmia, kdd, kddrev), or square images (preset cifar10; 32×32)",
    };
    type Detector = Goad;
    const SCORE_SETTINGS: &'static [&'static str] = &["epsilon"];

    const FORMS_CHOSEN_BY: Option<&'static str> = Some("preset");

    /// The image preset takes images; the table presets rows.
    fn takes(&self) -> &'static [DataForm] {
        match self.preset.is_image() {
            true => DataForm::IMAGES,
            false => DataForm::ROWS,
        }
    }

    fn build(&self, shape: SampleShape, device: &Device, seed: u64) -> crate::Result<Goad> {
        self.check()?;
        match shape {
            SampleShape::Table { features } => {
                ensure!(
                    !self.preset.is_image(),
                    "goad's preset {:?} is for images, and these samples are table rows: choose a table preset \
                     (thyroid, arrhythmia, kdd, kddrev)",
                    self.preset
                );
                Ok(Goad::Table(GoadTable::new(self.clone(), features, device, seed)?))
            }
            SampleShape::Image { .. } => {
                ensure!(
                    self.preset.is_image(),
                    "goad's preset {:?} is for tables, and these samples are images: set \
                     \"preset\": \"cifar10\" in --model-config (GEOM's transformations and a Wide ResNet)",
                    self.preset
                );
                Ok(Goad::Images(GoadImages::new(self.clone(), shape, device, seed)?))
            }
        }
    }

    fn epochs(&self) -> usize {
        self.epochs
    }

    fn batch_size(&self) -> usize {
        self.batch_size
    }

    /// The image preset's side; a table preset takes no images.
    fn image_size(&self) -> Option<usize> {
        self.preset.is_image().then_some(self.image_size)
    }

    /// Images: the image code's `2·x/255 − 1` (tables keep the standardisation).
    fn image_scaling(&self) -> Scaling {
        Scaling::MinusOneToOne
    }

    /// The WRN's settings, used by the `cifar10` preset only.
    const IMAGE_SETTINGS: &'static [&'static str] = &["depth", "widen", "shift", "image_size"];
    /// The random affine maps' and the trunk's settings, used by the table presets only.
    const TABLE_SETTINGS: &'static [&'static str] =
        &["transforms", "transform_dim", "width", "trunk_layers"];

    /// A settings file naming a `preset` starts from that data set's official settings.
    fn defaults_for_settings(settings: &super::Settings) -> crate::Result<Self> {
        super::spec::selected_defaults(settings, "goad", "preset", GoadConfig::official)
    }

    fn check(&self) -> crate::Result<()> {
        for (value, name) in [
            (self.margin, "margin"),
            (self.centre_loss_weight, "centre_loss_weight"),
            (self.feature_penalty, "feature_penalty"),
            (self.epsilon, "epsilon"),
        ] {
            ensure!(value.is_finite() && value >= 0.0, "goad {name} must be 0 or more, got {value}");
        }
        if self.preset.is_image() {
            images::check(self)
        } else {
            ensure!(self.transforms >= 2, "goad needs at least 2 transforms to tell apart, got {}", self.transforms);
            Ok(())
        }
    }
}

/// The training features' centre of each transformation, as the code takes it: the mean over
/// an epoch's steps of each batch's mean feature, from the training passes.
#[derive(Module, Debug)]
pub struct CentreAverage {
    /// The centres `[M, w]` (no gradient).
    centres: Param<Tensor<2>>,
    /// The epoch's sum of batch-mean features so far, `[M, w]` (no gradient): training state.
    sum: Param<Tensor<2>>,
    /// The epoch's steps so far, `[1]` (no gradient): training state.
    steps: Param<Tensor<1>>,
}

impl CentreAverage {
    /// Zero centres for `transforms` features of `width` on `device`.
    fn new(transforms: usize, width: usize, device: &Device) -> Self {
        CentreAverage {
            centres: fixed(Tensor::zeros([transforms, width], device)),
            sum: fixed(Tensor::zeros([transforms, width], device)),
            steps: fixed(Tensor::zeros([1], device)),
        }
    }

    /// The centres `[M, w]`.
    fn centres(&self) -> Tensor<2> {
        self.centres.val()
    }

    /// A training batch's features `[B, M, w]` (detached here) join the epoch's sum.
    fn add_batch(&mut self, z: Tensor<3>) {
        let [_, m, w] = z.dims();
        let batch_mean = z.detach().mean_dim(0).reshape([m, w]);
        self.sum = fixed(self.sum.val() + batch_mean);
        self.steps = fixed(self.steps.val() + 1.0);
    }

    /// At the end of an epoch with steps, the centres become their mean and the sums start
    /// again; without steps the centres stay.
    fn finish_epoch(&mut self) {
        let steps: f32 = self.steps.val().into_scalar();
        if steps == 0.0 {
            return;
        }
        self.centres = fixed(self.sum.val() / steps as f64);
        self.sum = fixed(self.sum.val().zeros_like());
        self.steps = fixed(self.steps.val().zeros_like());
    }
}

/// A tensor held by a module without a gradient.
fn fixed<const D: usize>(t: Tensor<D>) -> Param<Tensor<D>> {
    Param::from_tensor(t).set_require_grad(false)
}

/// Squared distances `‖z_{b,m} − c_{m'}‖²` `[B, M, M']` of features `z` `[B, M, w]` to centres
/// `c` `[M', w]`.
fn square_distances(z: Tensor<3>, c: Tensor<2>) -> Tensor<3> {
    let [b, m, w] = z.dims();
    let k = c.dims()[0];
    let z2 = z.clone().powi_scalar(2).sum_dim(2);
    let c2 = c.clone().powi_scalar(2).sum_dim(1).reshape([1, 1, k]);
    let cross = matmul_batch_invariant(z.reshape([b * m, w]), c.transpose()).reshape([b, m, k]);
    (z2 + c2 - cross * 2.0).clamp_min(0.0)
}

/// The triplet-centre loss of features `z` `[B, M, w]` against the batch's own centres:
/// `mean max(0, ‖z_m − c̄_m‖² + margin − min_{m'≠m} ‖z_m − c̄_m'‖²)`.
fn triplet_centre_loss(z: Tensor<3>, margin: f64) -> Tensor<1> {
    let [_, m, w] = z.dims();
    let own = Tensor::<2>::eye(m, &z.device()).unsqueeze::<3>();
    let centres = z.clone().mean_dim(0).reshape([m, w]);
    let distances = square_distances(z, centres);
    let positive = (distances.clone() * own.clone()).sum_dim(2);
    let negative = (distances + own * 1e6).min_dim(2);
    (positive - negative + margin).clamp_min(0.0).mean()
}

/// A training step's objective from the features `z` `[B, M, w]` of every transformation of
/// the batch and the head's logits `[B·M, M]` (row `b·M + m` went through transformation m):
/// `CE + λ·L_tc + feature_penalty·mean(z²)`, and its parts for the log.
fn step_loss(z: Tensor<3>, logits: Tensor<2>, config: &GoadConfig) -> crate::Result<(Tensor<1>, StepLosses)> {
    let [b, m, _] = z.dims();
    let targets = Tensor::<2>::eye(m, &z.device())
        .reshape([1, m, m])
        .repeat_dim(0, b)
        .reshape([b * m, m]);
    let cross_entropy = (log_softmax(logits, 1) * targets).sum().neg() / (b * m) as f64;
    let triplet = triplet_centre_loss(z.clone(), config.margin);
    let penalty = z.powi_scalar(2).mean();
    let loss = cross_entropy.clone()
        + triplet.clone() * config.centre_loss_weight
        + penalty.clone() * config.feature_penalty;
    let values = read_values(vec![loss.clone(), cross_entropy, triplet, penalty])?;
    let parts = vec![
        ("loss", values[0]),
        ("cross_entropy", values[1]),
        ("triplet_centre", values[2]),
        ("mean_square_feature", values[3]),
    ];
    Ok((loss, parts))
}

/// The anomaly score `−Σ_m log softmax_m'(−max(‖z_m − c_m'‖², ε))[m]` `[B]` of features `z`
/// `[B, M, w]` and centres `c` `[M, w]`.
fn transformation_score(z: Tensor<3>, centres: Tensor<2>, epsilon: f64) -> Tensor<1> {
    let [b, m, _] = z.dims();
    let own = Tensor::<2>::eye(m, &z.device()).unsqueeze::<3>();
    let log_p = log_softmax(square_distances(z, centres).clamp_min(epsilon).neg(), 2);
    (log_p * own).sum_dim(2).sum_dim(1).reshape([b]).neg()
}

/// The GOAD detector: its table form or its image form, chosen by the samples.
pub enum Goad {
    /// Random affine maps of rows.
    Table(GoadTable),
    /// Geometric transformations of images.
    Images(GoadImages),
}

impl Goad {
    fn inner(&self) -> &dyn Detector {
        match self {
            Goad::Table(d) => d,
            Goad::Images(d) => d,
        }
    }

    fn inner_mut(&mut self) -> &mut dyn Detector {
        match self {
            Goad::Table(d) => d,
            Goad::Images(d) => d,
        }
    }
}

impl Detector for Goad {
    fn begin_epoch(&mut self, epoch: usize) {
        self.inner_mut().begin_epoch(epoch)
    }

    fn train_step(&mut self, batch: Tensor<2>) -> crate::Result<StepLosses> {
        self.inner_mut().train_step(batch)
    }

    fn score(&self, batch: Tensor<2>) -> Tensor<1> {
        self.inner().score(batch)
    }

    fn fit_statistics(&mut self, train: &Samples) -> crate::Result<()> {
        self.inner_mut().fit_statistics(train)
    }

    fn validation_loss(&self, batch: Tensor<2>) -> Tensor<1> {
        self.inner().validation_loss(batch)
    }

    fn validates(&self) -> bool {
        self.inner().validates()
    }

    fn load_weights(&mut self, bytes: Vec<u8>) -> crate::Result<()> {
        self.inner_mut().load_weights(bytes)
    }

    fn trainables(&self) -> Trainables<'_> {
        self.inner().trainables()
    }

    fn trainables_mut(&mut self) -> TrainablesMut<'_> {
        self.inner_mut().trainables_mut()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_settings_and_inputs_are_refused() {
        let device = Device::flex();
        let table = SampleShape::Table { features: 4 };
        for config in [
            GoadConfig { transforms: 1, ..GoadConfig::default() },
            GoadConfig { width: 0, ..GoadConfig::default() },
            GoadConfig { trunk_layers: 0, ..GoadConfig::default() },
            GoadConfig { margin: -1.0, ..GoadConfig::default() },
            GoadConfig { epsilon: f64::NAN, ..GoadConfig::default() },
            GoadConfig { feature_penalty: -1.0, ..GoadConfig::default() },
            GoadConfig { beta_1: 1.0, ..GoadConfig::default() },
        ] {
            assert!(super::super::ModelConfig::new(config.clone()).validate().is_err(), "{config:?}");
        }
        let huge = GoadConfig { transforms: 8192, transform_dim: 8192, ..GoadConfig::default() };
        let e = huge.build(SampleShape::Table { features: 5 }, &device, 0).err().unwrap().to_string();
        assert!(e.contains("transforms") && e.contains("transform_dim"), "{e}");
        // Each form refuses the other's settings, by the preset's name.
        let image = SampleShape::Image { channels: 1, height: 32, width: 32 };
        let e = GoadConfig::default().build(image, &device, 0).err().unwrap().to_string();
        assert!(e.contains("cifar10") && e.contains("Thyroid"), "{e}");
        let cifar = GoadConfig::official(GoadPreset::Cifar10);
        let e = cifar.build(table, &device, 0).err().unwrap().to_string();
        assert!(e.contains("Cifar10") && e.contains("table"), "{e}");
        for config in [
            GoadConfig { depth: 12, ..cifar.clone() },
            GoadConfig { widen: 0, ..cifar.clone() },
            GoadConfig { shift: 32, ..cifar.clone() },
            GoadConfig { image_size: 30, ..cifar.clone() },
            GoadConfig { running_statistics_from_epoch: Some(0), ..cifar.clone() },
        ] {
            assert!(super::super::ModelConfig::new(config.clone()).validate().is_err(), "{config:?}");
        }
        let wide = SampleShape::Image { channels: 3, height: 32, width: 28 };
        assert!(cifar.build(wide, &device, 0).is_err());
        assert!(cifar.build(SampleShape::Image { channels: 3, height: 32, width: 32 }, &device, 0).is_ok());
        let kdd = GoadConfig::defaults_for_settings(&serde_json::from_str(r#"{"preset": "kdd"}"#).unwrap()).unwrap();
        assert_eq!((kdd.transforms, kdd.transform_dim, kdd.width, kdd.trunk_layers, kdd.epochs), (64, 64, 32, 5, 25));
        let c = GoadConfig::defaults_for_settings(&serde_json::from_str(r#"{"preset": "cifar10"}"#).unwrap()).unwrap();
        assert_eq!((c.margin, c.feature_penalty, c.batch_size, c.epochs, c.beta_1), (0.1, 10.0, 4, 16, 0.9));
    }

    /// A table-network setting given to the image form (or an image one to a table preset) is
    /// found, so the run refuses it rather than ignore it; each preset's own values, which
    /// differ from the Thyroid defaults, are not.
    #[test]
    fn settings_of_the_other_form_are_found() {
        let path = std::path::Path::new("test");
        let with = |json: &str| {
            let settings: super::super::Settings = serde_json::from_str(json).unwrap();
            let defaults = super::super::ModelConfig::defaults_for_file("goad", &settings).unwrap();
            defaults.with_settings(&settings, path).unwrap()
        };
        for preset in ["cifar10", "kdd", "arrhythmia", "thyroid"] {
            let images = preset == "cifar10";
            let config = with(&format!(r#"{{"preset": "{preset}"}}"#));
            assert!(config.settings_not_for(images).unwrap().is_empty(), "{preset}");
        }
        let cifar = with(r#"{"preset": "cifar10", "transforms": 8, "widen": 1}"#);
        assert_eq!(cifar.settings_not_for(true).unwrap(), ["transforms"]);
        let kdd = with(r#"{"preset": "kdd", "widen": 2, "trunk_layers": 3}"#);
        assert_eq!(kdd.settings_not_for(false).unwrap(), ["widen"]);
    }
}
