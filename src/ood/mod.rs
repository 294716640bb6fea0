//! The out-of-distribution target: a classifier trained on the labelled classes of an image
//! set, and the scores that tell when an input belongs to none of them (MODELS.md §21) —
//! MSP, ODIN, Mahalanobis (per stage and as an ensemble), energy; and, with `generative`, the
//! density scores that need no classifier ([`generative`]: likelihood, likelihood ratio, input
//! complexity).
//!
//! [`train`] writes an OOD run folder (atomically, as every run): the classifier's weights, its
//! test accuracy (an OOD score on a poor classifier means little), the class Gaussians of each
//! stage and the score settings, every one chosen **on in-distribution data only**:
//! - ODIN: `T = 1000` (the paper's); ε on ODIN's grid `{0, 0.0002, …, 0.004}` maximising the
//!   mean tempered top probability of the perturbed *validation* images (Hsu et al. 2020's
//!   rule, Generalized ODIN; the step raises that mean by construction, so the rule tends to the
//!   grid's largest ε — the selection table is kept in `classifier.json`). The paper tuned T
//!   and ε on OOD samples: offered only as the named oracle ([`oracle`]).
//! - Mahalanobis: the paper's validation-free variant. Validation images (in) and their FGSM
//!   adversarial versions (out: one step of `adversarial_epsilon` along the sign of the
//!   cross-entropy's input gradient, clipped to `[0, 1]`) give the ensemble's training set; ε
//!   from the paper's grid is the one whose ensemble, fitted on half of it, best separates the
//!   other half (AUROC); the ensemble is then refitted on all of it at that ε. Its weights are
//!   kept non-negative (a deviation from the paper's unconstrained regression; see
//!   [`scores::LogisticEnsemble::fit_non_negative`]).
//!
//! [`evaluate`] scores the in-distribution test images and each out-of-distribution set
//! ([`data::OutSet`]) and reports AUROC, AUPR-in, AUPR-out, FPR at 95 % TPR and detection
//! error with **in-distribution as the positive class** ([`crate::metrics::ood`]).
//!
//! [`verdicts::score_new`] puts new images through a run: each one's class, every score, and
//! a verdict at a stated false-alarm rate, calibrated on the validation images.

pub mod classifier;
pub mod data;
pub mod generative;
pub mod oracle;
pub mod scores;
pub mod selection;
pub mod verdicts;

use crate::io::{read_json, write_json};
use crate::metrics::ood::{OodMetrics, ood_metrics};
use crate::nn::init::component_rng;
use crate::nn::{NetOptimizer, module_from_bytes, module_to_bytes};
use crate::run::folder::{Existing, Leave, Staging};
use anyhow::{Context, ensure};
use burn::prelude::*;
use burn::tensor::activation::log_softmax;
use classifier::{Classifier, ClassifierConfig, Normalisation};
use data::{Images, InDistribution, InSpec, OutSet};
use generative::{GENERATIVE_SCORES, GenerativeConfig, GenerativeModels};
use rand::Rng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use scores::{ClassGaussians, LogisticEnsemble};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

/// ODIN's ε grid (the paper's: 21 steps from 0 to 0.004).
pub const ODIN_EPSILONS: [f64; 21] = [
    0.0, 0.0002, 0.0004, 0.0006, 0.0008, 0.001, 0.0012, 0.0014, 0.0016, 0.0018, 0.002, 0.0022,
    0.0024, 0.0026, 0.0028, 0.003, 0.0032, 0.0034, 0.0036, 0.0038, 0.004,
];

/// The Mahalanobis input-step grid (the paper's).
pub const MAHALANOBIS_EPSILONS: [f64; 10] = [
    0.0, 0.0005, 0.001, 0.0014, 0.002, 0.005, 0.01, 0.05, 0.1, 0.2,
];

/// The names of the scores, in the order they are reported.
pub const SCORES: [&str; 5] = [
    "msp",
    "odin",
    "energy",
    "mahalanobis",
    "mahalanobis-penultimate",
];

/// ODIN's temperature unless asked otherwise (the paper's best on every pair it tried).
pub const DEFAULT_ODIN_TEMPERATURE: f64 = 1000.0;

/// The FGSM step of the Mahalanobis ensemble's adversarial validation images unless asked
/// otherwise (pixel units).
pub const DEFAULT_ADVERSARIAL_EPSILON: f64 = 0.05;

/// Images scored in one pass.
const CHUNK: usize = 250;

/// Everything an OOD run is trained from (`ood.json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OodConfig {
    /// The in-distribution data.
    pub data: InSpec,
    /// The classifier (defaults from the image shape; see [`ClassifierConfig::default_for`]).
    pub classifier: ClassifierConfig,
    /// Seed of the split, the weights and the batches.
    pub seed: u64,
    /// ODIN's temperature (1000).
    pub odin_temperature: f64,
    /// The energy score's temperature (1).
    pub energy_temperature: f64,
    /// The FGSM step of the adversarial validation images the Mahalanobis ensemble is fitted
    /// against, in pixel units (0.05).
    pub adversarial_epsilon: f64,
    /// Outlier exposure during training; `None` trains on the in-distribution images alone.
    #[serde(default)]
    pub outlier_exposure: Option<OutlierExposure>,
    /// The generative scores' density model and its background model; `None` trains the
    /// classifier alone.
    #[serde(default)]
    pub generative: Option<GenerativeConfig>,
}

/// The classifier an OOD training asks for: settings in full, or fields over the defaults for
/// the in-distribution images ([`ClassifierConfig::default_for`]: a LeNet for one channel, a
/// WRN-16-2 for colour), which are known only once the images are read.
#[derive(Clone, Debug, PartialEq)]
pub enum ClassifierRequest {
    /// These settings.
    Settings(ClassifierConfig),
    /// The defaults for the images with the fields of this JSON object over them
    /// (`--classifier-config`); `None` keeps the defaults.
    OverDefaults(Option<String>),
}

impl ClassifierRequest {
    /// Refuse what is wrong whatever the images.
    fn check(&self) -> crate::Result<()> {
        match self {
            ClassifierRequest::Settings(settings) => settings.check_training(),
            ClassifierRequest::OverDefaults(text) => {
                ClassifierConfig::check_overrides(text.as_deref())
            }
        }
    }

    /// The settings for images of `image`, checked for them.
    fn resolve(&self, image: [usize; 3]) -> crate::Result<ClassifierConfig> {
        match self {
            ClassifierRequest::Settings(settings) => {
                settings.check(image)?;
                Ok(settings.clone())
            }
            ClassifierRequest::OverDefaults(text) => {
                ClassifierConfig::with_overrides(image, text.as_deref())
            }
        }
    }
}

/// An OOD training as asked for (`oddity ood train`): [`OodConfig`]'s settings, the
/// classifier's as a [`ClassifierRequest`] resolved once the images are read.
#[derive(Clone, Debug, PartialEq)]
pub struct OodRequest {
    /// The in-distribution data.
    pub data: InSpec,
    /// The classifier.
    pub classifier: ClassifierRequest,
    /// Seed of the split, the weights and the batches.
    pub seed: u64,
    /// ODIN's temperature.
    pub odin_temperature: f64,
    /// The energy score's temperature.
    pub energy_temperature: f64,
    /// The FGSM step of the Mahalanobis ensemble's adversarial validation images.
    pub adversarial_epsilon: f64,
    /// Outlier exposure during training.
    pub outlier_exposure: Option<OutlierExposure>,
    /// The generative scores' density models.
    pub generative: Option<GenerativeConfig>,
}

impl OodRequest {
    /// A request for `data` with the `classifier` settings and `seed`, every other setting the
    /// command line's default (ODIN T 1000, energy T 1, FGSM step 0.05, no outlier exposure,
    /// no generative scores).
    pub fn new(data: InSpec, classifier: ClassifierRequest, seed: u64) -> Self {
        OodRequest {
            data,
            classifier,
            seed,
            odin_temperature: DEFAULT_ODIN_TEMPERATURE,
            energy_temperature: 1.0,
            adversarial_epsilon: DEFAULT_ADVERSARIAL_EPSILON,
            outlier_exposure: None,
            generative: None,
        }
    }
}

impl From<OodConfig> for OodRequest {
    fn from(config: OodConfig) -> Self {
        OodRequest {
            data: config.data,
            classifier: ClassifierRequest::Settings(config.classifier),
            seed: config.seed,
            odin_temperature: config.odin_temperature,
            energy_temperature: config.energy_temperature,
            adversarial_epsilon: config.adversarial_epsilon,
            outlier_exposure: config.outlier_exposure,
            generative: config.generative,
        }
    }
}

impl OodRequest {
    /// Refuse every setting that is wrong whatever the images, before they are read (the
    /// classifier's network against the images' size, the auxiliary set and the generative
    /// model's input are checked once the images are known).
    pub fn check(&self) -> crate::Result<()> {
        self.data.check()?;
        self.classifier.check()?;
        // Named as the command line's option (where it has one) and the configuration's key.
        for (name, value) in [
            (
                "--odin-temperature (odin_temperature)",
                self.odin_temperature,
            ),
            ("energy_temperature", self.energy_temperature),
        ] {
            ensure!(
                value.is_finite() && value > 0.0,
                "{name} must be positive, got {value}"
            );
        }
        ensure!(
            self.adversarial_epsilon.is_finite()
                && self.adversarial_epsilon > 0.0
                && self.adversarial_epsilon <= 1.0,
            "--adversarial-epsilon (adversarial_epsilon) must be in (0, 1] (pixel units), got {}",
            self.adversarial_epsilon
        );
        if let Some(generative) = &self.generative {
            generative.check()?;
        }
        if let Some(oe) = &self.outlier_exposure {
            ensure!(
                oe.weight.is_finite() && oe.weight > 0.0,
                "the outlier-exposure weight must be positive, got {}",
                oe.weight
            );
            ensure!(
                oe.max_images != Some(0),
                "--auxiliary-max must be at least 1, got 0"
            );
            ensure!(
                oe.auxiliary != OutSet::HeldOutClasses,
                "held-out-classes cannot be the auxiliary outlier set: its classes are the near-OOD test set"
            );
            ensure!(
                !oe.auxiliary.same_source(&OutSet::Dataset {
                    data: self.data.data.clone()
                }),
                "--auxiliary {}: the in-distribution data set itself cannot be the auxiliary outlier \
                 set (its images, and the held-out classes' ones, would be pushed to the uniform posterior)",
                oe.auxiliary.name()
            );
            oe.auxiliary
                .check_present()
                .with_context(|| format!("--auxiliary {}", oe.auxiliary.name()))?;
        }
        Ok(())
    }

    /// The run's settings for in-distribution images of `image`.
    fn resolve(&self, image: [usize; 3]) -> crate::Result<OodConfig> {
        Ok(self.with_classifier(self.classifier.resolve(image)?))
    }

    fn with_classifier(&self, classifier: ClassifierConfig) -> OodConfig {
        OodConfig {
            data: self.data.clone(),
            classifier,
            seed: self.seed,
            odin_temperature: self.odin_temperature,
            energy_temperature: self.energy_temperature,
            adversarial_epsilon: self.adversarial_epsilon,
            outlier_exposure: self.outlier_exposure.clone(),
            generative: self.generative.clone(),
        }
    }
}

/// Outlier exposure (Hendrycks, Mazeika & Dietterich, ICLR 2019): each step also feeds a batch
/// of auxiliary outlier images (twice the in-distribution batch, as the paper's code) and adds
/// `weight · mean(logsumexp(f(x̃)) − mean_k f_k(x̃))`, the cross-entropy from their softmax to
/// the uniform distribution. The paper fine-tunes a trained network for 10 epochs or trains
/// from scratch; here the classifier trains from scratch with the term from the first step.
/// The auxiliary set is never a test set: `evaluate` refuses an `--against` set of the same
/// source.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OutlierExposure {
    /// The auxiliary outlier images (a data set's training split, or a synthetic set).
    pub auxiliary: OutSet,
    /// λ, the weight of the uniform-posterior term (the paper's 0.5).
    pub weight: f64,
    /// At most this many auxiliary images (a seeded draw); synthetic sets draw this many
    /// (default 10 000).
    pub max_images: Option<usize>,
}

/// One epoch of the classifier's training.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// 1-based.
    pub epoch: usize,
    /// Mean cross-entropy of the epoch's steps.
    pub loss: f64,
    /// Accuracy on the validation images.
    pub validation_accuracy: f64,
}

/// What training found (`classifier.json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainedClassifier {
    /// `[channels, height, width]`.
    pub image: [usize; 3],
    /// The in-distribution classes, in label order.
    pub class_names: Vec<String>,
    /// The input normalisation.
    pub normalisation: Normalisation,
    /// Training images, validation images.
    pub sizes: [usize; 2],
    /// Per-epoch log.
    pub epochs: Vec<EpochRecord>,
    /// Accuracy on the data set's test images of the in-distribution classes.
    pub test_accuracy: f64,
    /// ODIN's chosen ε.
    pub odin_epsilon: f64,
    /// Mean tempered top probability of the perturbed validation images, per ε of the grid.
    pub odin_selection: Vec<(f64, f64)>,
    /// The Mahalanobis input step chosen.
    pub mahalanobis_epsilon: f64,
    /// Held-out AUROC of validation against adversarial images, per ε of the grid.
    pub mahalanobis_selection: Vec<(f64, f64)>,
    /// Seconds spent training the classifier.
    pub training_seconds: f64,
}

/// The fitted Mahalanobis statistics (`mahalanobis.json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MahalanobisFit {
    /// One per stage, the penultimate features last.
    pub stages: Vec<ClassGaussians>,
    /// The logistic regression over the stages' confidences.
    pub ensemble: LogisticEnsemble,
}

/// A trained OOD run, loaded.
pub struct OodRun {
    /// Its folder.
    pub dir: PathBuf,
    /// How it was trained.
    pub config: OodConfig,
    /// What training found.
    pub summary: TrainedClassifier,
    /// The Mahalanobis statistics.
    pub mahalanobis: MahalanobisFit,
    /// The classifier on the autodiff device (evaluation mode), for the input gradients.
    pub trained: Classifier,
    /// The same on the plain device.
    pub scoring: Classifier,
    /// The generative scores' density models, when the run trained them.
    pub generative: Option<GenerativeModels>,
    /// Every score of the validation images as training scored them (on its device), in
    /// [`Self::score_names`] order (`validation-scores.json`): the calibration of the verdicts.
    /// `None` for a run trained before the file was written, one whose settings or weight and
    /// statistics files changed since, and once [`Self::override_settings`] changed a setting.
    pub validation_scores: Option<Vec<Vec<f32>>>,
}

/// The file of [`OodRun::validation_scores`].
const VALIDATION_SCORES_FILE: &str = "validation-scores.json";

/// What `validation-scores.json` holds.
#[derive(Serialize, Deserialize)]
struct ValidationScores {
    /// What they were scored with: the settings and the run's files.
    made_by: Fingerprint,
    /// The score names, in [`OodRun::score_names`] order.
    names: Vec<String>,
    /// One column of validation scores per name (`null`: not finite).
    scores: Vec<Vec<Option<f32>>>,
}

/// What the stored validation scores were scored with: a run whose settings or weights differ
/// (a file replaced by hand, `ood.json` edited) scores them afresh.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Fingerprint {
    /// ODIN's temperature and ε, the Mahalanobis step, the energy's temperature.
    settings: [f64; 4],
    /// SHA-256 of the weights, the Mahalanobis statistics and the density models' weights.
    files_sha256: std::collections::BTreeMap<String, String>,
}

impl Fingerprint {
    /// The fingerprint of `run` as its folder `dir` holds it.
    fn of(run: &OodRun, dir: &Path) -> crate::Result<Self> {
        let mut files = vec!["weights.safetensors", "mahalanobis.json"];
        if run.generative.is_some() {
            files.extend(GENERATIVE_FILES);
        }
        let files_sha256 = (files.into_iter())
            .map(|file| {
                let bytes = std::fs::read(dir.join(file))
                    .with_context(|| format!("cannot read {}", dir.join(file).display()))?;
                Ok((file.to_string(), crate::run::sha256_hex(&bytes)))
            })
            .collect::<crate::Result<_>>()?;
        Ok(Fingerprint {
            settings: [
                run.config.odin_temperature,
                run.summary.odin_epsilon,
                run.summary.mahalanobis_epsilon,
                run.config.energy_temperature,
            ],
            files_sha256,
        })
    }
}

impl OodRun {
    /// Every score of the run's validation images, in [`Self::score_names`] order: the
    /// calibration of `ood score`'s and the server's verdicts. Those training stored, else
    /// scored now on the validation images read again from the data set the run was trained
    /// on.
    pub fn calibration_scores(&self, device: &Device) -> crate::Result<Vec<Vec<f32>>> {
        if let Some(stored) = &self.validation_scores {
            return Ok(stored.clone());
        }
        let data = verdicts::in_distribution(self).context(
            "the verdicts are calibrated on the run's validation images, read again from the \
             data set it was trained on (runs trained by this oddity store their scores)",
        )?;
        score_images(self, &data.validation, device)
    }

    /// The names of the run's scores, in the order [`score_images`] gives them: [`SCORES`],
    /// then [`GENERATIVE_SCORES`] when the run has its density models.
    pub fn score_names(&self) -> Vec<&'static str> {
        let mut names = SCORES.to_vec();
        if self.generative.is_some() {
            names.extend(GENERATIVE_SCORES);
        }
        names
    }

    /// Score with these settings instead of the ones training chose (`None` keeps one): ODIN's
    /// temperature and ε, the Mahalanobis input step. Each is checked: a temperature must be
    /// positive, a step within `[0, 1]` (pixel units).
    pub fn override_settings(
        &mut self,
        odin_temperature: Option<f64>,
        odin_epsilon: Option<f64>,
        mahalanobis_epsilon: Option<f64>,
    ) -> crate::Result<()> {
        if let Some(t) = odin_temperature {
            ensure!(
                t.is_finite() && t > 0.0,
                "--odin-temperature must be positive, got {t}"
            );
        }
        for (name, value) in [
            ("--odin-epsilon", odin_epsilon),
            ("--mahalanobis-epsilon", mahalanobis_epsilon),
        ] {
            if let Some(e) = value {
                ensure!(
                    (0.0..=1.0).contains(&e),
                    "{name} must be in [0, 1] (pixel units), got {e}"
                );
            }
        }
        if odin_temperature.is_some() || odin_epsilon.is_some() || mahalanobis_epsilon.is_some() {
            // The stored validation scores were scored with the trained settings.
            self.validation_scores = None;
        }
        if let Some(t) = odin_temperature {
            self.config.odin_temperature = t;
        }
        if let Some(e) = odin_epsilon {
            self.summary.odin_epsilon = e;
        }
        if let Some(e) = mahalanobis_epsilon {
            self.summary.mahalanobis_epsilon = e;
        }
        Ok(())
    }
}

/// The images of a run's split (`split.csv`): `split,index,role,class` for every image used.
fn split_csv(data: &InDistribution) -> String {
    let mut out = String::from("split,index,role,class\n");
    for (images, split, role) in [
        (&data.train, "train", "train"),
        (&data.validation, "train", "validation"),
        (&data.test, "test", "test"),
    ] {
        for (&index, &label) in images.origin.iter().zip(&images.labels) {
            out.push_str(&format!(
                "{split},{index},{role},{}\n",
                data.class_names[label as usize]
            ));
        }
    }
    out
}

/// Train an OOD run into `out` (refused if it exists, unless `leave` is given): the classifier, its
/// test accuracy, the Mahalanobis statistics and the score settings. Every setting that does
/// not depend on the images is checked and `out` claimed before the images are read (once);
/// the classifier's settings are then resolved and checked against them.
pub fn train(
    request: impl Into<OodRequest>,
    out: &Path,
    leave: Leave,
    device: &Device,
) -> crate::Result<OodRun> {
    train_until(request, out, leave, device, None)
}

/// [`train`], ending with [`crate::train::Interrupted`] (and nothing written to `out`) once
/// `stop` is raised: checked after every training step of the classifier and of the
/// generative models, and between the job's stages (Ctrl-C from Python).
pub fn train_until(
    request: impl Into<OodRequest>,
    out: &Path,
    leave: Leave,
    device: &Device,
    stop: Option<&AtomicBool>,
) -> crate::Result<OodRun> {
    let mut request = request.into();
    request.check()?;
    // Absolute, so that `ood eval` reads the same files from any folder.
    request.data.data = request.data.data.clone().with_absolute_paths()?;
    let staging = Staging::begin(out, Existing::run(crate::run::folder::OOD_RUN_FILE, leave))?;
    let data = data::load_in_distribution(&request.data, request.seed)?;
    let config = request.resolve(data.image)?;
    // Built (and so checked against the images) before the classifier trains.
    let mut generative = match &config.generative {
        Some(settings) => Some(GenerativeModels::new(
            settings,
            data.image,
            config.seed,
            device,
        )?),
        None => None,
    };
    let normalisation = Normalisation::fit(&data.train.values, data.image);
    let train_device = device.clone().autodiff();
    let mut trained = Classifier::new(
        &config.classifier,
        data.image,
        data.class_names.len(),
        normalisation.clone(),
        &train_device,
        config.seed,
    )?;
    let started = std::time::Instant::now();
    let epochs = train_classifier(&mut trained, &config, &data, device, stop)?;
    check_stop(stop, 0)?;
    let training_seconds = started.elapsed().as_secs_f64();
    trained.set_batch_statistics(false);
    let scoring = trained.valid();
    let test_accuracy = accuracy(&scoring, &data.test, device)?;
    eprintln!(
        "test accuracy {test_accuracy:.4} on {} images",
        data.test.len()
    );

    let selecting = std::time::Instant::now();
    let stages = fit_gaussians(&scoring, &data.train, data.class_names.len(), device)?;
    let (odin_epsilon, odin_selection) = choose_odin_epsilon(
        &trained,
        &scoring,
        &data.validation,
        config.odin_temperature,
        device,
    )?;
    let adversarial = fgsm(
        &trained,
        &data.validation,
        config.adversarial_epsilon,
        device,
    );
    let (mahalanobis_epsilon, mahalanobis_selection, ensemble) = choose_mahalanobis(
        &trained,
        &scoring,
        &stages,
        &data.validation,
        &adversarial,
        device,
    )?;
    eprintln!(
        "ODIN ε {odin_epsilon}, Mahalanobis ε {mahalanobis_epsilon} (statistics and selection: {:.1} s; training {training_seconds:.1} s)",
        selecting.elapsed().as_secs_f64()
    );
    let summary = TrainedClassifier {
        image: data.image,
        class_names: data.class_names.clone(),
        normalisation,
        sizes: [data.train.len(), data.validation.len()],
        epochs,
        test_accuracy,
        odin_epsilon,
        odin_selection,
        mahalanobis_epsilon,
        mahalanobis_selection,
        training_seconds,
    };
    let mahalanobis = MahalanobisFit { stages, ensemble };
    check_stop(stop, 0)?;
    if let Some(models) = &mut generative {
        models.train(&data.train, &data.validation, config.seed, stop)?;
    }
    let dir = staging.dir().to_path_buf();
    let mut run = OodRun {
        dir: dir.clone(),
        config,
        summary,
        mahalanobis,
        trained,
        scoring,
        generative,
        validation_scores: None,
    };
    check_stop(stop, 0)?;
    let validation_scores = score_images(&run, &data.validation, device)?;
    write_json(&dir.join("ood.json"), &run.config)?;
    write_json(&dir.join("classifier.json"), &run.summary)?;
    write_json(&dir.join("mahalanobis.json"), &run.mahalanobis)?;
    crate::io::write_atomic(
        &dir.join("weights.safetensors"),
        &module_to_bytes(&run.scoring.network)?,
    )?;
    crate::io::write_atomic(&dir.join("split.csv"), split_csv(&data).as_bytes())?;
    if let Some(models) = &run.generative {
        for (file, bytes) in GENERATIVE_FILES.iter().zip(models.save()?) {
            crate::io::write_atomic(&dir.join(file), &bytes)?;
        }
    }
    let stored = ValidationScores {
        made_by: Fingerprint::of(&run, &dir)?,
        names: run.score_names().iter().map(|n| n.to_string()).collect(),
        // JSON holds finite numbers only.
        scores: (validation_scores.iter())
            .map(|c| c.iter().map(|&s| s.is_finite().then_some(s)).collect())
            .collect(),
    };
    write_json(&dir.join(VALIDATION_SCORES_FILE), &stored)?;
    run.validation_scores = Some(validation_scores);
    run.dir = staging.publish()?;
    Ok(run)
}

/// The generative density models' weights in a run folder: the model, its background model
/// (named from when the VAE was the only one; PixelCNN's go by the same names).
const GENERATIVE_FILES: [&str; 2] = [
    "generative-vae.safetensors",
    "generative-background.safetensors",
];

/// Whether `dir` holds an OOD run (its `ood.json`), rather than an anomaly detector's run.
pub fn is_run_folder(dir: &Path) -> bool {
    crate::report::ood::is_run_folder(dir)
}

/// Load the OOD run in `dir` onto `device`.
pub fn load(dir: &Path, device: &Device) -> crate::Result<OodRun> {
    ensure!(
        is_run_folder(dir),
        "{} is not an OOD run folder (no ood.json; train one with `oddity ood train`)",
        dir.display()
    );
    let config: OodConfig = read_json(&dir.join("ood.json"))?;
    let summary: TrainedClassifier = read_json(&dir.join("classifier.json"))?;
    let mahalanobis: MahalanobisFit = read_json(&dir.join("mahalanobis.json"))?;
    let bytes = std::fs::read(dir.join("weights.safetensors"))
        .with_context(|| format!("cannot read {}", dir.join("weights.safetensors").display()))?;
    let mut trained = Classifier::new(
        &config.classifier,
        summary.image,
        summary.class_names.len(),
        summary.normalisation.clone(),
        &device.clone().autodiff(),
        config.seed,
    )?;
    module_from_bytes(&mut trained.network, bytes)?;
    trained.set_batch_statistics(false);
    let scoring = trained.valid();
    let generative = match &config.generative {
        Some(settings) => {
            let [foreground, background] = GENERATIVE_FILES.map(|file| {
                std::fs::read(dir.join(file))
                    .with_context(|| format!("cannot read {}", dir.join(file).display()))
            });
            Some(GenerativeModels::load(
                settings,
                summary.image,
                [foreground?, background?],
                config.seed,
                device,
            )?)
        }
        None => None,
    };
    let mut run = OodRun {
        dir: dir.to_path_buf(),
        config,
        summary,
        mahalanobis,
        trained,
        scoring,
        generative,
        validation_scores: None,
    };
    run.validation_scores = read_validation_scores(&run)?;
    Ok(run)
}

/// The run's stored validation scores, when its folder has them and they were scored with the
/// run's settings and files as they are now, checked to be one column of the validation
/// images' count per score of the run.
fn read_validation_scores(run: &OodRun) -> crate::Result<Option<Vec<Vec<f32>>>> {
    let path = run.dir.join(VALIDATION_SCORES_FILE);
    if !path.is_file() {
        return Ok(None);
    }
    let stored: ValidationScores = read_json(&path)?;
    let validation = run.summary.sizes[1];
    ensure!(
        stored.names == run.score_names()
            && stored.scores.len() == stored.names.len()
            && stored.scores.iter().all(|c| c.len() == validation),
        "{}: not {validation} scores of each of the run's scores ({}); damaged, or from another \
         run",
        path.display(),
        run.score_names().join(", ")
    );
    if stored.made_by != Fingerprint::of(run, &run.dir)? {
        return Ok(None);
    }
    let scores = (stored.scores.into_iter())
        .map(|c| c.into_iter().map(|s| s.unwrap_or(f32::NAN)).collect())
        .collect();
    Ok(Some(scores))
}

/// One training batch's pixels, augmented (random crop from a 4-pixel zero padding, then a
/// horizontal flip half the time) when `augment`.
fn batch_pixels(
    images: &Images,
    positions: &[usize],
    [c, h, w]: [usize; 3],
    augment: bool,
    rng: &mut ChaCha8Rng,
) -> Vec<f32> {
    let d = c * h * w;
    let mut out = Vec::with_capacity(positions.len() * d);
    for &i in positions {
        let pixels = &images.values[i * d..(i + 1) * d];
        if !augment {
            out.extend_from_slice(pixels);
            continue;
        }
        let (dy, dx) = (
            rng.random_range(0..9) as isize - 4,
            rng.random_range(0..9) as isize - 4,
        );
        let flip = rng.random::<bool>();
        for ch in 0..c {
            for y in 0..h as isize {
                for x in 0..w as isize {
                    let sx = if flip { w as isize - 1 - x } else { x } + dx;
                    let sy = y + dy;
                    let inside = (0..h as isize).contains(&sy) && (0..w as isize).contains(&sx);
                    out.push(if inside {
                        pixels[(ch * h + sy as usize) * w + sx as usize]
                    } else {
                        0.0
                    });
                }
            }
        }
    }
    out
}

/// Cross-entropy of `logits` `[B, K]` against `labels`, averaged.
fn cross_entropy(logits: Tensor<2>, labels: &[u32]) -> Tensor<1> {
    let [b, k] = logits.dims();
    let mut one_hot = vec![0.0f32; b * k];
    for (i, &y) in labels.iter().enumerate() {
        one_hot[i * k + y as usize] = 1.0;
    }
    let targets = Tensor::<2>::from_data(TensorData::new(one_hot, [b, k]), &logits.device());
    (log_softmax(logits, 1) * targets).sum().neg() / b as f64
}

/// Adam on the cross-entropy, `epochs` passes over the shuffled training images (the last
/// partial batch kept), the validation accuracy after each.
fn train_classifier(
    classifier: &mut Classifier,
    config: &OodConfig,
    data: &InDistribution,
    device: &Device,
    stop: Option<&AtomicBool>,
) -> crate::Result<Vec<EpochRecord>> {
    let c = &config.classifier;
    let mut optim = if c.weight_decay > 0.0 {
        NetOptimizer::adam_with_weight_decay(c.learning_rate, 0.9, 0.999, c.weight_decay)
    } else {
        NetOptimizer::adam(c.learning_rate, 0.9, 0.999)
    };
    let mut rng = component_rng(config.seed, 42);
    let train_device = device.clone().autodiff();
    let mut outliers = AuxiliaryBatches::new(config, data, c.batch_size * 2)?;
    let mut log = Vec::new();
    for epoch in 1..=c.epochs {
        classifier.set_batch_statistics(true);
        let mut order: Vec<usize> = (0..data.train.len()).collect();
        order.shuffle(&mut rng);
        let mut losses = Vec::new();
        for positions in order.chunks(c.batch_size) {
            let mut pixels = batch_pixels(&data.train, positions, data.image, c.augment, &mut rng);
            let labels: Vec<u32> = positions.iter().map(|&i| data.train.labels[i]).collect();
            let b = labels.len();
            if let Some(outliers) = &mut outliers {
                pixels.extend(outliers.next(data.image, c.augment));
            }
            let logits = classifier.logits(classifier.images(&pixels, &train_device));
            let [n, k] = logits.dims();
            let mut loss = cross_entropy(logits.clone().slice([0..b, 0..k]), &labels);
            if let Some(outliers) = &outliers {
                loss = loss + uniform_posterior_loss(logits.slice([b..n, 0..k])) * outliers.weight;
            }
            losses.push(loss.clone().into_scalar::<f32>() as f64);
            let mut grads = loss.backward();
            classifier.network = optim.step(classifier.network.clone(), &mut grads);
            check_stop(stop, epoch)?;
        }
        classifier.set_batch_statistics(false);
        let validation_accuracy = accuracy(&classifier.valid(), &data.validation, device)?;
        let loss = losses.iter().sum::<f64>() / losses.len().max(1) as f64;
        ensure!(
            loss.is_finite(),
            "the classifier's loss diverged at epoch {epoch} ({loss}): lower learning_rate"
        );
        eprintln!(
            "epoch {epoch}/{}: loss {loss:.4}, validation accuracy {validation_accuracy:.4}",
            c.epochs
        );
        log.push(EpochRecord {
            epoch,
            loss,
            validation_accuracy,
        });
    }
    Ok(log)
}

/// [`crate::train::Interrupted`] once `stop` is raised (`epoch` in progress, 0 between stages).
fn check_stop(stop: Option<&AtomicBool>, epoch: usize) -> crate::Result<()> {
    match stop {
        Some(flag) if flag.load(std::sync::atomic::Ordering::SeqCst) => {
            Err(crate::train::Interrupted { epoch, step: 0 }.into())
        }
        _ => Ok(()),
    }
}

/// `mean_i (logsumexp(l_i) − mean_k l_ik)`: the cross-entropy from the softmax of each row of
/// logits `[B, K]` to the uniform distribution (outlier exposure's term).
fn uniform_posterior_loss(logits: Tensor<2>) -> Tensor<1> {
    let [b, k] = logits.dims();
    let top = logits.clone().max_dim(1);
    let lse = (logits.clone() - top.clone()).exp().sum_dim(1).log() + top;
    (lse - logits.sum_dim(1) / k as f64).sum().reshape([1]) / b as f64
}

/// The auxiliary outlier images of outlier exposure, handed out `batch` at a time in a seeded
/// order that is reshuffled whenever it runs out.
struct AuxiliaryBatches {
    images: Images,
    order: Vec<usize>,
    next: usize,
    batch: usize,
    weight: f64,
    rng: ChaCha8Rng,
}

impl AuxiliaryBatches {
    fn new(config: &OodConfig, data: &InDistribution, batch: usize) -> crate::Result<Option<Self>> {
        let Some(oe) = &config.outlier_exposure else {
            return Ok(None);
        };
        let d = data.image.iter().product::<usize>();
        let images = oe
            .auxiliary
            .load_auxiliary(data.image, oe.max_images.unwrap_or(10_000), config.seed)
            .with_context(|| format!("--auxiliary {}", oe.auxiliary.name()))?;
        let images = data::capped(images, oe.max_images, d, config.seed, 48);
        ensure!(
            !images.is_empty(),
            "the auxiliary outlier set {} holds no image",
            oe.auxiliary.name()
        );
        eprintln!(
            "outlier exposure: {} auxiliary images from {}, weight {}",
            images.len(),
            oe.auxiliary.name(),
            oe.weight
        );
        Ok(Some(AuxiliaryBatches {
            order: Vec::new(),
            next: 0,
            batch,
            weight: oe.weight,
            rng: component_rng(config.seed, 49),
            images,
        }))
    }

    /// The pixels of the next `batch` auxiliary images (augmented as the training images).
    fn next(&mut self, image: [usize; 3], augment: bool) -> Vec<f32> {
        let mut positions = Vec::with_capacity(self.batch);
        while positions.len() < self.batch {
            if self.next == self.order.len() {
                self.order = (0..self.images.len()).collect();
                self.order.shuffle(&mut self.rng);
                self.next = 0;
            }
            positions.push(self.order[self.next]);
            self.next += 1;
        }
        batch_pixels(&self.images, &positions, image, augment, &mut self.rng)
    }
}

/// Apply `f` to consecutive chunks of `images` (as `[n, C, H, W]` tensors on `device`) and
/// concatenate what it returns.
fn in_chunks<T>(
    classifier: &Classifier,
    images: &Images,
    device: &Device,
    mut f: impl FnMut(Tensor<4>, &[u32]) -> Vec<T>,
) -> Vec<T> {
    let d = classifier.image.iter().product::<usize>();
    let mut out = Vec::with_capacity(images.len());
    for (i, labels) in images.labels.chunks(CHUNK).enumerate() {
        let start = i * CHUNK * d;
        let x = classifier.images(&images.values[start..start + labels.len() * d], device);
        out.extend(f(x, labels));
    }
    out
}

fn floats<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .expect("f32 values")
}

/// The class of each of `images` with the largest logit.
pub fn predicted_classes(scoring: &Classifier, images: &Images, device: &Device) -> Vec<usize> {
    in_chunks(scoring, images, device, |x, _| {
        let predicted = scoring
            .logits(x)
            .argmax(1)
            .into_data()
            .convert::<i64>()
            .try_into_vec::<i64>()
            .expect("indices");
        predicted.into_iter().map(|c| c as usize).collect()
    })
}

/// The share of `images` whose largest logit is their class.
pub fn accuracy(scoring: &Classifier, images: &Images, device: &Device) -> crate::Result<f64> {
    ensure!(!images.is_empty(), "no images to measure accuracy on");
    let predicted = predicted_classes(scoring, images, device);
    let hits = predicted
        .iter()
        .zip(&images.labels)
        .filter(|&(&p, &y)| p == y as usize)
        .count();
    Ok(hits as f64 / images.len() as f64)
}

/// Each stage's class Gaussians, fitted on the training images' features.
fn fit_gaussians(
    scoring: &Classifier,
    train: &Images,
    classes: usize,
    device: &Device,
) -> crate::Result<Vec<ClassGaussians>> {
    let mut per_stage: Vec<Vec<f32>> = Vec::new();
    let mut widths = Vec::new();
    for (i, labels) in train.labels.chunks(CHUNK).enumerate() {
        let d = scoring.image.iter().product::<usize>();
        let start = i * CHUNK * d;
        let x = scoring.images(&train.values[start..start + labels.len() * d], device);
        let stages = scoring.stages(x);
        if per_stage.is_empty() {
            per_stage = vec![Vec::new(); stages.len()];
            widths = stages.iter().map(|s| s.dims()[1]).collect();
        }
        for (all, stage) in per_stage.iter_mut().zip(stages) {
            all.extend(floats(stage));
        }
    }
    per_stage
        .iter()
        .zip(&widths)
        .map(|(features, &dim)| ClassGaussians::fit(features, &train.labels, classes, dim))
        .collect()
}

/// ODIN's score of `images` at every ε of `epsilons`, `[ε][image]` (one gradient per image).
fn odin_grid(
    trained: &Classifier,
    scoring: &Classifier,
    images: &Images,
    temperature: f64,
    epsilons: &[f64],
    device: &Device,
) -> Vec<Vec<f32>> {
    let per_image = in_chunks(scoring, images, device, |x, _| {
        let direction = if epsilons.iter().any(|&e| e != 0.0) {
            scores::odin_direction(trained, &x, temperature)
        } else {
            x.zeros_like()
        };
        let columns: Vec<Vec<f32>> = epsilons
            .iter()
            .map(|&e| {
                floats(scores::odin_at(
                    scoring,
                    x.clone(),
                    direction.clone(),
                    temperature,
                    e,
                ))
            })
            .collect();
        (0..x.dims()[0])
            .map(|i| columns.iter().map(|c| c[i]).collect::<Vec<f32>>())
            .collect()
    });
    (0..epsilons.len())
        .map(|e| per_image.iter().map(|row| row[e]).collect())
        .collect()
}

/// ODIN's ε on the validation images ([`selection::odin_epsilon`]).
fn choose_odin_epsilon(
    trained: &Classifier,
    scoring: &Classifier,
    validation: &Images,
    temperature: f64,
    device: &Device,
) -> crate::Result<(f64, Vec<(f64, f64)>)> {
    let grid = odin_grid(
        trained,
        scoring,
        validation,
        temperature,
        &ODIN_EPSILONS,
        device,
    );
    selection::odin_epsilon(&ODIN_EPSILONS.into_iter().zip(grid).collect::<Vec<_>>())
}

/// FGSM: each image one step of `epsilon` along the sign of its cross-entropy's input
/// gradient (its own class), clipped to `[0, 1]`.
fn fgsm(trained: &Classifier, images: &Images, epsilon: f64, device: &Device) -> Images {
    let values = in_chunks(trained, images, device, |x, labels| {
        let train_device = device.clone().autodiff();
        let leaf = Tensor::<4>::from_data(x.clone().into_data(), &train_device).require_grad();
        let grads =
            (cross_entropy(trained.logits(leaf.clone()), labels) * labels.len() as f64).backward();
        let gradient = Tensor::<4>::from_data(
            leaf.grad(&grads).expect("input gradient").into_data(),
            device,
        );
        floats((x + gradient.sign() * epsilon).clamp(0.0, 1.0))
    });
    Images {
        values,
        labels: images.labels.clone(),
        origin: images.origin.clone(),
    }
}

/// Per-stage Mahalanobis confidences of `images` at every input step of `epsilons`,
/// `[ε][image][stage]` (one gradient per image and stage).
fn stage_confidence_grid(
    trained: &Classifier,
    scoring: &Classifier,
    stages: &[ClassGaussians],
    images: &Images,
    epsilons: &[f64],
    device: &Device,
) -> Vec<Vec<Vec<f64>>> {
    // [image][ε][stage], chunk by chunk.
    let per_image = in_chunks(scoring, images, device, |x, _| {
        let b = x.dims()[0];
        let mut rows = vec![vec![vec![0.0f64; stages.len()]; epsilons.len()]; b];
        for (l, gaussians) in stages.iter().enumerate() {
            let direction = if epsilons.iter().any(|&e| e != 0.0) {
                scores::mahalanobis_direction(trained, &x, l, gaussians)
            } else {
                x.zeros_like()
            };
            for (k, &e) in epsilons.iter().enumerate() {
                let c = floats(scores::mahalanobis_at(
                    scoring,
                    x.clone(),
                    direction.clone(),
                    l,
                    gaussians,
                    e,
                ));
                for (i, v) in c.into_iter().enumerate() {
                    rows[i][k][l] = v as f64;
                }
            }
        }
        rows
    });
    (0..epsilons.len())
        .map(|k| per_image.iter().map(|r| r[k].clone()).collect())
        .collect()
}

/// The Mahalanobis ε and ensemble of the validation-free variant
/// ([`selection::validation_free_ensemble`]).
#[allow(clippy::type_complexity)]
fn choose_mahalanobis(
    trained: &Classifier,
    scoring: &Classifier,
    stages: &[ClassGaussians],
    validation: &Images,
    adversarial: &Images,
    device: &Device,
) -> crate::Result<(f64, Vec<(f64, f64)>, LogisticEnsemble)> {
    let grid = stage_rows(trained, scoring, stages, validation, adversarial, device);
    selection::validation_free_ensemble(grid)
}

/// The per-stage confidences of `inside` and `outside` at every ε of the Mahalanobis grid.
fn stage_rows(
    trained: &Classifier,
    scoring: &Classifier,
    stages: &[ClassGaussians],
    inside: &Images,
    outside: &Images,
    device: &Device,
) -> Vec<selection::StageRows> {
    let grid = |images| {
        stage_confidence_grid(
            trained,
            scoring,
            stages,
            images,
            &MAHALANOBIS_EPSILONS,
            device,
        )
    };
    MAHALANOBIS_EPSILONS
        .into_iter()
        .zip(grid(inside).into_iter().zip(grid(outside)))
        .map(|(epsilon, (inside, outside))| selection::StageRows {
            epsilon,
            inside,
            outside,
        })
        .collect()
}

/// The scores that step the input, at one setting `[ODIN's T, ODIN's ε, Mahalanobis ε]`:
/// ODIN's score and the per-stage Mahalanobis confidences (`[image][stage]`) of `images`.
fn input_step_scores(
    run: &OodRun,
    images: &Images,
    [temperature, odin_epsilon, mahalanobis_epsilon]: [f64; 3],
    device: &Device,
) -> (Vec<f32>, Vec<Vec<f64>>) {
    let (trained, scoring) = (&run.trained, &run.scoring);
    let odin = odin_grid(
        trained,
        scoring,
        images,
        temperature,
        &[odin_epsilon],
        device,
    )
    .remove(0);
    let rows = stage_confidence_grid(
        trained,
        scoring,
        &run.mahalanobis.stages,
        images,
        &[mahalanobis_epsilon],
        device,
    )
    .remove(0);
    (odin, rows)
}

/// Every score of `images` (in [`OodRun::score_names`] order), in-distribution scores (higher =
/// more in-distribution).
pub fn score_images(
    run: &OodRun,
    images: &Images,
    device: &Device,
) -> crate::Result<Vec<Vec<f32>>> {
    let scoring = &run.scoring;
    let config = &run.config;
    let msp_energy = in_chunks(scoring, images, device, |x, _| {
        let logits = scoring.logits(x);
        let msp = floats(scores::msp(logits.clone()));
        let energy = floats(scores::negative_energy(logits, config.energy_temperature));
        msp.into_iter().zip(energy).collect::<Vec<_>>()
    });
    let (odin, rows) = input_step_scores(
        run,
        images,
        [
            config.odin_temperature,
            run.summary.odin_epsilon,
            run.summary.mahalanobis_epsilon,
        ],
        device,
    );
    let mut scores = vec![
        msp_energy.iter().map(|p| p.0).collect(),
        odin,
        msp_energy.iter().map(|p| p.1).collect(),
        rows.iter()
            .map(|r| run.mahalanobis.ensemble.score(r) as f32)
            .collect(),
        rows.iter()
            .map(|r| *r.last().expect("a stage") as f32)
            .collect(),
    ];
    if let Some(models) = &run.generative {
        scores.extend(models.scores(images, device)?);
    }
    Ok(scores)
}

/// The metrics of every score on one out-of-distribution set.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SetReport {
    /// The set's name.
    pub name: String,
    /// `(score name, metrics)` in [`OodRun::score_names`] order, then `odin-oracle` and
    /// `mahalanobis-oracle` when the oracle was asked for.
    pub scores: Vec<(String, OodMetrics)>,
    /// The settings the oracle chose on this set's tuning images.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oracle: Option<oracle::OracleChoice>,
}

/// What `oddity ood eval` reports (`ood-eval/metrics.json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OodReport {
    /// The positive class of every metric.
    pub positive: String,
    /// The classifier's test accuracy.
    pub test_accuracy: f64,
    /// ODIN's T and ε, the Mahalanobis ε, the energy's T.
    pub settings: serde_json::Value,
    /// In-distribution test images the metrics are measured on.
    pub in_samples: usize,
    /// Whether the oracle rows are there (and the tuning images left out of every metric).
    #[serde(default)]
    pub oracle: bool,
    /// One entry per out-of-distribution set.
    pub sets: Vec<SetReport>,
}

/// The random stream of an out-of-distribution set's draws, from its name (FNV-1a), clear of
/// the small stream numbers the rest of the job uses.
fn set_stream(name: &str) -> u64 {
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    });
    hash | 1 << 32
}

/// `images` split by a seeded draw into up to `count` images that tune and the rest (both in
/// their original order).
fn split_tuning(
    images: Images,
    count: usize,
    d: usize,
    seed: u64,
    stream: u64,
) -> (Images, Images) {
    let mut order: Vec<usize> = (0..images.len()).collect();
    order.shuffle(&mut component_rng(seed, stream));
    let (tune, rest) = order.split_at(count.min(images.len() / 2));
    let (mut tune, mut rest) = (tune.to_vec(), rest.to_vec());
    tune.sort_unstable();
    rest.sort_unstable();
    (images.subset(&tune, d), images.subset(&rest, d))
}

/// The file of a set's ROC chart: `roc-<set>.png`, characters of the set's name other than
/// ASCII letters, digits, `-` and `_` written as `-`; a name already `taken` by an earlier set
/// of the same evaluation gets `-2`, `-3`, … (two folders of one name, `x y` and `x-y`).
fn roc_file(set: &str, taken: &mut std::collections::HashSet<String>) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    let stem: String = set.chars().map(|c| if safe(c) { c } else { '-' }).collect();
    let mut file = format!("roc-{stem}.png");
    let mut k = 2;
    while !taken.insert(file.clone()) {
        file = format!("roc-{stem}-{k}.png");
        k += 1;
    }
    file
}

/// Every score's ROC curve against one set on one chart, as `path` (in-distribution positive).
fn roc_picture(
    path: &Path,
    set: &str,
    names: &[&str],
    in_scores: &[Vec<f32>],
    out_scores: &[Vec<f32>],
) -> crate::Result<()> {
    let labels: Vec<u8> = (in_scores[0].iter().map(|_| 1))
        .chain(out_scores[0].iter().map(|_| 0))
        .collect();
    let curves: Vec<(String, Vec<f32>)> = names
        .iter()
        .zip(in_scores.iter().zip(out_scores))
        .map(|(name, (i, o))| (name.to_string(), [i.as_slice(), o].concat()))
        .collect();
    crate::report::plots::roc_comparison(
        path,
        &format!("ROC against {set} (in-distribution positive)"),
        &curves,
        &labels,
    )
}

/// Score the run's in-distribution test images (at most `max_samples`, a seeded draw) and
/// each of `against` (as many), write `RUN/ood-eval/` (metrics.json, scores.csv, each set's
/// `roc-<set>.png` and the run's `report.html`, replaced whole) and return the report. With `oracle`, the papers' tuning on each OOD set is added
/// as named rows ([`oracle`]) and every metric is measured on the images that did not tune.
pub fn evaluate(
    run: &OodRun,
    against: &[OutSet],
    max_samples: Option<usize>,
    oracle: bool,
    device: &Device,
) -> crate::Result<OodReport> {
    ensure!(
        !against.is_empty(),
        "name at least one out-of-distribution set (--against)"
    );
    ensure!(
        max_samples != Some(0),
        "--max-samples must be at least 1, got 0"
    );
    if let Some(oe) = &run.config.outlier_exposure {
        if let Some(set) = against.iter().find(|set| set.same_source(&oe.auxiliary)) {
            anyhow::bail!(
                "--against {}: the run was trained with it as its auxiliary outlier set (outlier \
                 exposure); a test set must be another source",
                set.name()
            );
        }
    }
    let in_set = OutSet::Dataset {
        data: run.config.data.data.clone(),
    };
    for (k, set) in against.iter().enumerate() {
        ensure!(
            !set.same_source(&in_set),
            "--against {}: that is the in-distribution data set (its other classes are \
             held-out-classes)",
            set.name()
        );
        ensure!(
            !against[..k].iter().any(|other| other.same_source(set)),
            "--against {} is given twice",
            set.name()
        );
    }
    ensure!(
        !oracle || max_samples.is_none_or(|m| m >= 4),
        "--oracle needs at least 4 images of each set (half tune, half are measured); --max-samples is {}",
        max_samples.unwrap_or(0)
    );
    // A missing set is named now, not after the in-distribution images are read.
    for set in against {
        set.check_present()
            .with_context(|| format!("--against {}", set.name()))?;
    }
    let data = data::load_in_distribution(&run.config.data, run.config.seed)?;
    ensure!(
        data.class_names == run.summary.class_names,
        "{}: the data set's classes {:?} are not the run's {:?} (moved or changed since training?)",
        run.config.data.data.path.display(),
        data.class_names,
        run.summary.class_names
    );
    let d = data.image.iter().product::<usize>();
    let seed = run.config.seed;
    // Every set is read before any scoring: one that cannot be read fails at once.
    let out_images = against
        .iter()
        .map(|set| {
            let name = set.name();
            let images = set.load(data.image, data.test.len(), &data.held_out_classes, seed);
            let images = match set {
                OutSet::Dataset { .. } => images.with_context(|| format!("--against {name}"))?,
                _ => images?,
            };
            ensure!(!images.is_empty(), "--against {name}: no image to score");
            // Each set's draws come from a stream of its own name, whatever its place in --against.
            Ok(data::capped(
                images,
                max_samples,
                d,
                seed,
                set_stream(&name),
            ))
        })
        .collect::<crate::Result<Vec<_>>>()?;
    let staging = Staging::begin(&run.dir.join("ood-eval"), Existing::derived("metrics.json"))?;
    let inside = data::capped(data.test.clone(), max_samples, d, seed, 45);
    let (tune_in, inside) = if oracle {
        let (tune, rest) = split_tuning(inside, oracle::TUNING_IMAGES, d, seed, 50);
        (Some(tune), rest)
    } else {
        (None, inside)
    };
    let in_scores = score_images(run, &inside, device)?;
    let names = run.score_names();
    let mut csv = String::from("set,index,distribution");
    for name in &names {
        csv.push(',');
        csv.push_str(name);
    }
    csv.push('\n');
    let mut push_rows = |set: &str, images: &Images, scores: &[Vec<f32>], distribution: &str| {
        for (i, &index) in images.origin.iter().enumerate() {
            let set = crate::io::csv_cell(set);
            csv.push_str(&format!("{set},{index},{distribution}"));
            for column in scores {
                csv.push_str(&format!(",{}", column[i]));
            }
            csv.push('\n');
        }
    };
    push_rows("in-distribution", &inside, &in_scores, "in");
    let mut sets = Vec::new();
    let mut pictures = std::collections::HashSet::new();
    for (set, images) in against.iter().zip(out_images) {
        let stream = set_stream(&set.name());
        let (tune_out, images) = match &tune_in {
            Some(_) => {
                let (tune, rest) = split_tuning(images, oracle::TUNING_IMAGES, d, seed, stream ^ 1);
                (Some(tune), rest)
            }
            None => (None, images),
        };
        let out_scores = score_images(run, &images, device)?;
        push_rows(&set.name(), &images, &out_scores, "out");
        let mut scores = names
            .iter()
            .zip(in_scores.iter().zip(&out_scores))
            .map(|(name, (i, o))| Ok((name.to_string(), ood_metrics(i, o)?)))
            .collect::<crate::Result<Vec<_>>>()?;
        let picture = staging.dir().join(roc_file(&set.name(), &mut pictures));
        roc_picture(&picture, &set.name(), &names, &in_scores, &out_scores)?;
        let choice = match (&tune_in, &tune_out) {
            (Some(tune_in), Some(tune_out)) => {
                let choice = oracle::tune(run, tune_in, tune_out, device)?;
                let [odin_in, maha_in] = oracle::scores(run, &choice, &inside, device);
                let [odin_out, maha_out] = oracle::scores(run, &choice, &images, device);
                scores.push(("odin-oracle".into(), ood_metrics(&odin_in, &odin_out)?));
                scores.push((
                    "mahalanobis-oracle".into(),
                    ood_metrics(&maha_in, &maha_out)?,
                ));
                Some(choice)
            }
            _ => None,
        };
        sets.push(SetReport {
            name: set.name(),
            scores,
            oracle: choice,
        });
    }
    let report = OodReport {
        positive: "in-distribution".into(),
        test_accuracy: run.summary.test_accuracy,
        settings: serde_json::json!({
            "odin_temperature": run.config.odin_temperature,
            "odin_epsilon": run.summary.odin_epsilon,
            "mahalanobis_epsilon": run.summary.mahalanobis_epsilon,
            "energy_temperature": run.config.energy_temperature,
            "generative": run.config.generative,
        }),
        in_samples: inside.len(),
        oracle,
        sets,
    };
    write_json(&staging.dir().join("metrics.json"), &report)?;
    crate::io::write_atomic(&staging.dir().join("scores.csv"), csv.as_bytes())?;
    // The page of this evaluation, as `oddity report` draws it.
    let page = crate::report::ood::OodRunReport::load_from(&run.dir, staging.dir())?;
    crate::report::html::write_with_ood(&staging.dir().join("report.html"), &[], &[page])?;
    staging.publish()?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A set's ROC file: unsafe characters as `-`, a second set of the same file name
    /// numbered rather than drawn over the first.
    #[test]
    fn roc_files_are_named_apart() {
        let mut taken = std::collections::HashSet::new();
        assert_eq!(
            roc_file("fashion-mnist", &mut taken),
            "roc-fashion-mnist.png"
        );
        assert_eq!(
            roc_file("image-folder:x y", &mut taken),
            "roc-image-folder-x-y.png"
        );
        assert_eq!(
            roc_file("image-folder:x-y", &mut taken),
            "roc-image-folder-x-y-2.png"
        );
        assert_eq!(
            roc_file("image-folder:x/y", &mut taken),
            "roc-image-folder-x-y-3.png"
        );
        assert_eq!(roc_file("café", &mut taken), "roc-caf-.png");
    }

    /// Outlier exposure's term by hand: for logits (0, ln 3) the softmax is (¼, ¾), and the
    /// cross-entropy from it to the uniform distribution is −½(ln ¼ + ln ¾); for equal logits
    /// it is ln K.
    #[test]
    fn uniform_posterior_loss_by_hand() {
        let device = Device::flex();
        let logits = Tensor::<2>::from_data(
            TensorData::new(vec![0.0f32, 3f32.ln(), 5.0, 5.0], [2, 2]),
            &device,
        );
        let got = uniform_posterior_loss(logits).into_scalar::<f32>() as f64;
        let first = -0.5 * (0.25f64.ln() + 0.75f64.ln());
        let by_hand = (first + 2f64.ln()) / 2.0;
        assert!((got - by_hand).abs() < 1e-6, "{got} vs {by_hand}");
    }

    /// The oracle's tuning images: `min(count, n/2)` of a seeded draw, disjoint from the
    /// images measured, together all of them, each part in its original order; the same seed
    /// draws the same images, another seed others.
    #[test]
    fn tuning_images_are_apart_from_the_measured_ones() {
        let d = 2;
        let images = Images {
            values: (0..40).map(|v| v as f32).collect(),
            labels: vec![0; 20],
            origin: (100..120).collect(),
        };
        let (tune, rest) = split_tuning(images.clone(), 1000, d, 7, 3);
        assert_eq!((tune.len(), rest.len()), (10, 10));
        let (few, others) = split_tuning(images.clone(), 4, d, 7, 3);
        assert_eq!((few.len(), others.len()), (4, 16));
        for (part, whole) in [(&tune, &rest), (&few, &others)] {
            let mut all: Vec<u32> = part.origin.iter().chain(&whole.origin).copied().collect();
            assert!(part.origin.windows(2).all(|w| w[0] < w[1]));
            assert!(whole.origin.windows(2).all(|w| w[0] < w[1]));
            all.sort_unstable();
            assert_eq!(all, images.origin);
        }
        // Each image keeps its own pixels.
        for (k, &o) in tune.origin.iter().enumerate() {
            let i = (o - 100) as usize;
            assert_eq!(
                &tune.values[k * d..(k + 1) * d],
                &images.values[i * d..(i + 1) * d]
            );
        }
        assert_eq!(
            split_tuning(images.clone(), 1000, d, 7, 3).0.origin,
            tune.origin
        );
        assert_ne!(split_tuning(images, 1000, d, 8, 3).0.origin, tune.origin);
    }

    /// FGSM moves each pixel by exactly ε (or to the edge of [0, 1]) along the sign of the
    /// cross-entropy's gradient, which raises the loss of the true class.
    #[test]
    fn fgsm_steps_by_epsilon_and_raises_the_loss() {
        let device = Device::flex();
        let config = ClassifierConfig::default_for([1, 8, 8]);
        let pixels: Vec<f32> = (0..4 * 64)
            .map(|i| 0.2 + ((i * 37) % 23) as f32 / 40.0)
            .collect();
        let norm = Normalisation::fit(&pixels, [1, 8, 8]);
        let trained =
            Classifier::new(&config, [1, 8, 8], 3, norm, &device.clone().autodiff(), 2).unwrap();
        let images = Images {
            values: pixels.clone(),
            labels: vec![0, 1, 2, 0],
            origin: vec![0, 1, 2, 3],
        };
        let adversarial = fgsm(&trained, &images, 0.1, &device);
        for (a, x) in adversarial.values.iter().zip(&pixels) {
            let moved = (a - x).abs();
            assert!(
                (moved - 0.1).abs() < 1e-6 || moved == 0.0 || *a == 0.0 || *a == 1.0,
                "{x} → {a}"
            );
        }
        let scoring = trained.valid();
        let loss = |values: &[f32]| {
            cross_entropy(
                scoring.logits(scoring.images(values, &device)),
                &images.labels,
            )
            .into_scalar::<f32>()
        };
        assert!(loss(&adversarial.values) > loss(&pixels));
    }
}
