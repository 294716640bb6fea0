//! A run: a detector trained under a protocol, saved as a folder.
//!
//! ```text
//! run.json                  model config, data set, protocol, split, training options,
//!                           checkpoint layout, SHA-256 of each weights file
//! preprocess.json           resize and scaling statistics fitted on the training split
//! thresholds.json           threshold of each checkpoint, from validation scores
//! train-log.json            per-epoch losses, validation loss, throughput; the best epoch
//! weights-best.safetensors  weights of the best-by-validation epoch
//! weights-last.safetensors  weights after the last epoch
//! ```
//!
//! A run folder is written whole into a hidden staging sibling and appears by one rename
//! ([`folder`]); it is never modified in place. Loading checks the layout version and each
//! weights file's SHA-256. Reloading a run and scoring gives exactly the scores of the trained
//! model in memory.

pub mod folder;

use crate::data::SampleShape;
use crate::data::preprocess::{PreprocessConfig, Preprocessor};
use crate::data::protocol::{self, Protocol, Split, SplitOptions};
use crate::data::source::{self, DatasetSpec};
use crate::data::{Origin, Samples};
use crate::io;
use crate::metrics::pixel::{PixelMetrics, PixelScores};
use crate::metrics::{self, Metrics};
use crate::models::{AnyDetector, ModelConfig};
use crate::threshold::{FittedOn, Threshold, ThresholdRule};
use crate::train::{self, Checkpoints, TrainLog, TrainOptions};
use crate::validate::{
    MAX_COUNT, MAX_IMAGE_SIDE, count, is_table, size, validate_dataset, validate_protocol,
    validate_threshold_rule,
};
use anyhow::{Context, bail, ensure};
use burn::tensor::Device;
use serde::{Deserialize, Serialize};
use sha2::Digest;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The newest layout of a run folder (files, and the weights' tensor names) this build writes
/// and reads. Runs written before layouts were versioned read as layout 1; layout 2 added the
/// weights' checksums; layout 3 the tiling of images (`preprocess.tiling`); layout 4 weak
/// supervision (`split.labelled_anomalies`, taken out of the test set where every anomaly is
/// test data). An older build would ignore either and score wrongly (or on a test set holding
/// trained-on anomalies): it refuses such a run instead.
pub const LAYOUT: u32 = 4;

/// The last layout that changed the weights' tensor names: weights of an older run may not load.
const WEIGHTS_LAYOUT: u32 = 2;

/// The layout a run of `config` is written with: the oldest whose readers score it rightly —
/// 4 with labelled anomalies, 3 with tiles, else 2.
fn layout_of(config: &RunConfig) -> u32 {
    if config.split.labelled_anomalies.is_some() || config.model.needs_labelled_anomalies() {
        4
    } else if config.preprocess.tiling.is_some() {
        3
    } else {
        WEIGHTS_LAYOUT
    }
}

/// The content of `run.json`: the configuration, and what loading needs to trust the weights.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct RunFile {
    /// The run folder's layout version (by this build: 2, 3 or 4, as [`layout_of`] chooses).
    #[serde(default = "first_layout")]
    layout: u32,
    #[serde(flatten)]
    config: RunConfig,
    /// SHA-256 (hex) of each weights file, by file name.
    #[serde(default)]
    weights_sha256: BTreeMap<String, String>,
    /// SHA-256 (hex) of the samples the run was trained, validated and tested on
    /// ([`split_sha256`]); absent in runs written before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    data_sha256: Option<String>,
    /// SHA-256 (hex) of the data set's files ([`source::files_sha256`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    data_files_sha256: Option<String>,
    /// The names of the feature columns, in order, when the training data named them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    feature_names: Option<Vec<String>>,
}

fn first_layout() -> u32 {
    1
}

/// SHA-256 of `bytes`, as lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    io::hex(&sha2::Sha256::digest(bytes))
}

/// SHA-256 (hex) of what `split` holds: every part's samples in order (values, labels,
/// origins, classes, masks) and the class names. `run.json` records it, so that evaluating the
/// run again refuses data that changed since training (a file edited or replaced, a relative
/// path that now names another file) instead of scoring it without a word.
pub fn split_sha256(split: &Split) -> String {
    let mut hasher = sha2::Sha256::new();
    let parts = [
        Some(&split.train),
        Some(&split.valid),
        Some(&split.test),
        split.labelled.as_ref(),
    ];
    for part in parts {
        match part {
            Some(samples) => hash_samples(&mut hasher, samples),
            None => hasher.update(b"none"),
        }
    }
    for name in &split.class_names {
        hasher.update((name.len() as u64).to_le_bytes());
        hasher.update(name.as_bytes());
    }
    io::hex(&hasher.finalize())
}

fn hash_samples(hasher: &mut sha2::Sha256, samples: &Samples) {
    hasher.update((samples.len() as u64).to_le_bytes());
    hasher.update((samples.shape.len() as u64).to_le_bytes());
    // Bytes in blocks: one `update` per value would cost more than the loading.
    let mut block = Vec::with_capacity(64 * 1024);
    for values in samples.values.chunks(16 * 1024) {
        block.clear();
        for v in values {
            block.extend_from_slice(&v.to_le_bytes());
        }
        hasher.update(&block);
    }
    hasher.update(&samples.labels);
    for (origin, class) in samples.origin.iter().zip(&samples.classes) {
        hasher.update([origin.split]);
        hasher.update(origin.index.to_le_bytes());
        hasher.update(class.to_le_bytes());
    }
    match &samples.masks {
        Some(masks) => hasher.update(masks),
        None => hasher.update(b"no masks"),
    }
}

/// Everything needed to reproduce a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunConfig {
    /// Version of oddity that trained it.
    pub oddity_version: String,
    /// The model and its hyper-parameters.
    pub model: ModelConfig,
    /// The data set.
    pub dataset: DatasetSpec,
    /// The protocol.
    pub protocol: Protocol,
    /// Split seed, validation fraction and budget limits.
    pub split: SplitOptions,
    /// Epochs, batch size, seed.
    pub train: TrainOptions,
    /// Preprocessing requested.
    pub preprocess: PreprocessConfig,
    /// How the threshold is chosen.
    pub threshold_rule: ThresholdRule,
}

impl RunConfig {
    /// A configuration with the model's paper defaults for epochs, batch size and preprocessing
    /// (its scaling of images or of tables: [`ModelConfig::default_scaling`]).
    pub fn new(
        model: ModelConfig,
        dataset: DatasetSpec,
        protocol: Protocol,
        seed: u64,
    ) -> crate::Result<Self> {
        let preprocess = PreprocessConfig {
            image_size: None,
            scaling: model.default_scaling(dataset.kind.holds_images()),
            tiling: None,
            unscaled_columns: None,
        };
        Ok(RunConfig {
            oddity_version: env!("CARGO_PKG_VERSION").into(),
            train: TrainOptions {
                epochs: model.epochs(),
                batch_size: model.batch_size(),
                seed,
                progress: false,
                patience: model.patience(),
            },
            split: SplitOptions {
                seed,
                ..SplitOptions::default()
            },
            model,
            dataset,
            protocol,
            preprocess,
            threshold_rule: ThresholdRule::default(),
        })
    }
}

impl RunConfig {
    /// Check every setting of the run for meaning, before any data is read.
    pub fn validate(&self) -> crate::Result<()> {
        // Arrays from Python may be images or tables: their shape decides, not their kind.
        if self.dataset.kind != source::DatasetKind::Arrays {
            // The form first: a setting for the other form is no use before the form fits.
            self.model.check_takes(self.dataset.kind)?;
            (self.model).check_settings_for(self.dataset.kind.holds_images())?;
            if self.dataset.kind.holds_images() {
                self.model.check_image_scaling(self.preprocess.scaling)?;
            }
        }
        let t = &self.train;
        count("epochs", t.epochs as u64, MAX_COUNT)?;
        ensure!(
            t.epochs >= self.model.min_epochs(),
            "{} trains in stages and needs at least {} epochs here (its last stage starts after \
             {}); got {}",
            self.model.name(),
            self.model.min_epochs(),
            self.model.min_epochs() - 1,
            t.epochs
        );
        if self.model.fitted_in_closed_form() {
            ensure!(
                t.epochs == 1 && t.patience.is_none(),
                "{} has no training epochs (it is fitted in one solve): epochs and patience \
                 (--epochs, --patience) do not apply",
                self.model.name()
            );
        }
        count("batch size", t.batch_size as u64, MAX_COUNT)?;
        if let Some(p) = t.patience {
            count("patience", p as u64, MAX_COUNT)?;
            ensure!(
                p >= self.model.min_epochs(),
                "--patience {p} could stop {} before its last stage (it needs {} epochs); give \
                 at least {}",
                self.model.name(),
                self.model.min_epochs(),
                self.model.min_epochs()
            );
        }
        let s = &self.split;
        if let Some(m) = s.max_train {
            ensure!(
                m >= 2,
                "--max-train must be at least 2 training samples (the validation samples come on \
                 top: --validation-fraction of that number, at least one), got {m}"
            );
        }
        if let Some(m) = s.max_test {
            ensure!(m >= 1, "--max-test must be at least 1, got {m}");
        }
        if let Some(labelled) = s.labelled_anomalies {
            labelled.check()?;
            ensure!(
                self.model.needs_labelled_anomalies(),
                "--labelled-anomalies gives training labelled anomalies, but {} with these \
                 settings trains on normal samples only (a weakly supervised variant, where a \
                 model has one, is chosen in its --model-config)",
                self.model.name()
            );
            ensure!(
                self.preprocess.tiling.is_none(),
                "--labelled-anomalies labels whole images; it cannot be combined with --tile"
            );
        } else {
            ensure!(
                !self.model.needs_labelled_anomalies(),
                "{} is configured for weak supervision: give it labelled anomalies with \
                 --labelled-anomalies (e.g. 2%)",
                self.model.name()
            );
        }
        if let Some(f) = s.test_anomaly_fraction {
            ensure!(
                f.is_finite() && f > 0.0 && f < 1.0,
                "the test anomaly fraction must be between 0 and 1 (exclusive), got {f}"
            );
        }
        validate_threshold_rule(&self.threshold_rule)?;
        let table = is_table(self.dataset.kind);
        if let Some(side) = self.preprocess.image_size {
            ensure!(
                !table,
                "--image-size resizes images, but {} data are tables",
                self.dataset.kind
            );
            size("the image size", side as u64, MAX_IMAGE_SIDE as u64)?;
            let any_image = crate::data::SampleShape::Image {
                channels: 1,
                height: side,
                width: side,
            };
            if let (None, Some(input)) = (self.preprocess.tiling, self.model.input_size(any_image))
            {
                ensure!(
                    input == side,
                    "--image-size {side} does not match {}'s input side {input}: leave \
                     --image-size out, or (for a model whose image size is a setting) set its \
                     image size to {side} in --model-config",
                    self.model.name()
                );
            }
        }
        if let Some(tiling) = self.preprocess.tiling {
            ensure!(
                !table,
                "--tile cuts images into tiles, but {} data are tables",
                self.dataset.kind
            );
            size("the tile size", tiling.tile as u64, MAX_IMAGE_SIDE as u64)?;
            tiling.validate()?;
            let any_image = crate::data::SampleShape::Image {
                channels: 1,
                height: tiling.tile,
                width: tiling.tile,
            };
            crate::score::tiled::check_tile_fits(&self.model, any_image, tiling)?;
            if let (None, Some(decoded)) = (self.preprocess.image_size, self.dataset.image_size) {
                ensure!(
                    tiling.tile <= decoded as usize,
                    "--tile {} is larger than the {decoded}×{decoded} images --decode-size makes",
                    tiling.tile
                );
            }
            if let Some(side) = self.preprocess.image_size {
                ensure!(
                    tiling.tile <= side,
                    "--tile {} is larger than the {side}×{side} images --image-size makes",
                    tiling.tile
                );
            }
        }
        if let Some(range) = self.preprocess.unscaled_columns {
            ensure!(
                table,
                "--unscaled-columns {range} leaves table columns unscaled, but {} data are images",
                self.dataset.kind
            );
            use crate::data::preprocess::Scaling;
            ensure!(
                matches!(
                    self.preprocess.scaling,
                    Scaling::Standardise | Scaling::MinMax
                ),
                "--unscaled-columns {range} goes with a per-column scaling (standardise or min-max), not {:?}",
                self.preprocess.scaling
            );
        }
        validate_dataset(&self.dataset)?;
        validate_protocol(&self.protocol, self.dataset.kind)?;
        crate::data::protocol::check_options(&self.protocol, &self.split)?;
        self.model.validate()
    }
}

/// Which weights of a run to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Checkpoint {
    /// The epoch with the lowest validation loss (normal-only validation data).
    Best,
    /// The last epoch.
    Last,
}

impl Checkpoint {
    fn file(self) -> &'static str {
        match self {
            Checkpoint::Best => "weights-best.safetensors",
            Checkpoint::Last => "weights-last.safetensors",
        }
    }
}

impl std::str::FromStr for Checkpoint {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> crate::Result<Self> {
        match s {
            "best" => Ok(Checkpoint::Best),
            "last" => Ok(Checkpoint::Last),
            other => bail!("unknown checkpoint {other:?}; use best or last"),
        }
    }
}

impl std::fmt::Display for Checkpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Checkpoint::Best => "best",
            Checkpoint::Last => "last",
        })
    }
}

/// The file of a run folder holding its [`CalibrationScores`].
pub const CALIBRATION_FILE: &str = "calibration.json";

/// The threshold of each checkpoint.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Thresholds {
    /// For the best-by-validation weights.
    pub best: Threshold,
    /// For the last weights.
    pub last: Threshold,
}

impl Thresholds {
    /// The threshold of `checkpoint`.
    pub fn of(&self, checkpoint: Checkpoint) -> Threshold {
        match checkpoint {
            Checkpoint::Best => self.best,
            Checkpoint::Last => self.last,
        }
    }

    /// Replace the threshold of `checkpoint`.
    pub fn set(&mut self, checkpoint: Checkpoint, threshold: Threshold) {
        match checkpoint {
            Checkpoint::Best => self.best = threshold,
            Checkpoint::Last => self.last = threshold,
        }
    }
}

/// The scores of the normal validation samples under each checkpoint, which calibrate
/// conformal p-values ([`crate::conformal`]); saved as `calibration.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CalibrationScores {
    /// Under the best-by-validation weights.
    pub best: Vec<f32>,
    /// Under the last weights.
    pub last: Vec<f32>,
    /// The pixel threshold of each checkpoint ([`pixel_threshold`], unsmoothed maps), for
    /// models that draw maps: it scales overlays where the validation data are not at hand.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pixel_thresholds: Option<PixelThresholds>,
}

/// The pixel threshold of each checkpoint.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct PixelThresholds {
    /// Under the best-by-validation weights.
    pub best: f64,
    /// Under the last weights.
    pub last: f64,
}

impl PixelThresholds {
    /// The threshold of `checkpoint`.
    pub fn of(&self, checkpoint: Checkpoint) -> f64 {
        match checkpoint {
            Checkpoint::Best => self.best,
            Checkpoint::Last => self.last,
        }
    }
}

impl CalibrationScores {
    /// The pixel threshold of unsmoothed maps stored for `checkpoint`, for models that draw
    /// maps.
    pub fn pixel_threshold(&self, checkpoint: Checkpoint) -> Option<f64> {
        self.pixel_thresholds.map(|p| p.of(checkpoint))
    }

    /// The scores of `checkpoint`.
    pub fn of(&self, checkpoint: Checkpoint) -> &[f32] {
        match checkpoint {
            Checkpoint::Best => &self.best,
            Checkpoint::Last => &self.last,
        }
    }
}

/// A run's metadata (its weights stay on disk, or in [`Trained::checkpoints`]).
#[derive(Clone, Debug)]
pub struct Run {
    /// The run's folder, once saved or loaded.
    pub dir: Option<PathBuf>,
    /// How it was made.
    pub config: RunConfig,
    /// Fitted preprocessing.
    pub preprocessor: Preprocessor,
    /// Thresholds.
    pub thresholds: Thresholds,
    /// The validation scores behind conformal p-values; `None` for runs written before
    /// `calibration.json` existed ([`Run::calibration`] recomputes them).
    pub calibration: Option<CalibrationScores>,
    /// Training log.
    pub log: TrainLog,
    /// The layout version of its folder (2, 3 or 4 for runs of this build: the oldest whose
    /// readers score it rightly; at most [`LAYOUT`]).
    pub layout: u32,
    /// SHA-256 of each weights file, by file name (empty for runs older than layout 2).
    pub weights_sha256: BTreeMap<String, String>,
    /// SHA-256 of the samples of its split ([`split_sha256`]); `None` for runs written before
    /// it was recorded (their data is not checked).
    pub data_sha256: Option<String>,
    /// SHA-256 of the data set's files ([`source::files_sha256`]): data whose samples differ
    /// only because its unchanged files decode otherwise here is still the run's.
    pub data_files_sha256: Option<String>,
    /// The feature columns' names, in order, when the training data named them (a CSV
    /// table): new data is scored only with the same columns in the same order.
    pub feature_names: Option<Vec<String>>,
}

/// A freshly trained run with its detector (holding the last weights) and both checkpoints.
pub struct Trained {
    /// Metadata.
    pub run: Run,
    /// The detector, holding the last epoch's weights.
    pub detector: Box<dyn AnyDetector>,
    /// Both checkpoints.
    pub checkpoints: Checkpoints,
    /// The split as [`Split::origins_csv`] gives it, saved as `split.csv`.
    pub split_csv: String,
}

/// Load the data set and split it by the run's protocol.
pub fn load_split(config: &RunConfig) -> crate::Result<Split> {
    crate::validate::validate_dataset(&config.dataset)?;
    let source = source::load(&config.dataset)?;
    protocol::split(&source, &config.protocol, &config.split).with_context(|| {
        format!(
            "{}: cannot apply the {} protocol",
            config.dataset.path.display(),
            config.protocol
        )
    })
}

/// Train a detector as `config` says, on `device`.
pub fn train(config: RunConfig, device: &Device) -> crate::Result<Trained> {
    config.validate()?; // before the data are read (again after: `train_with` takes any split)
    let split = load_split(&config)?;
    train_on(config, &split, device)
}

/// Train on an already loaded split.
pub fn train_on(config: RunConfig, split: &Split, device: &Device) -> crate::Result<Trained> {
    train_with(config, split, device, None, None)
}

/// Where a training keeps its checkpoints (a run's staging folder), whether it continues from
/// the one there, and the flag that asks it to stop after the current step (Ctrl-C).
#[derive(Clone, Copy)]
pub struct Checkpointing<'a> {
    /// The staging folder; checkpoints go to its `resume/`.
    pub dir: &'a Path,
    /// Continue from the latest checkpoint there.
    pub resume: bool,
}

/// The file in a staging folder holding the configuration of the run being trained.
const RESUME_CONFIG: &str = "run-config.json";

/// The configuration of the stopped training saved in `staging`.
pub fn resumable_config(staging: &Path) -> crate::Result<RunConfig> {
    io::read_json(&train::resume::folder(staging).join(RESUME_CONFIG))
}

/// Train on an already loaded split with checkpoints after every epoch (and on a stop
/// request), continuing from the latest one when `checkpointing.resume` is set. The result is
/// the same, bit for bit, as an uninterrupted training of the same configuration. A raised
/// `stop` ends the training after the current step with [`train::Interrupted`] (its state
/// saved where `checkpointing` says).
pub fn train_with(
    config: RunConfig,
    split: &Split,
    device: &Device,
    checkpointing: Option<Checkpointing>,
    stop: Option<&std::sync::atomic::AtomicBool>,
) -> crate::Result<Trained> {
    config.validate()?;
    check_calibration_size(&config.threshold_rule, split.valid.len())?;
    // Read now: the header and the files' digest are needed when the run is saved, and the
    // data may move meanwhile.
    let feature_names = source::feature_names(&config.dataset)?;
    let data_files_sha256 = source::files_sha256(&config.dataset)?;
    let tiling = config.preprocess.tiling;
    // The model's input size unless the user asked for another or the model sees tiles; the
    // scaling is the run's.
    let model_side = match tiling {
        Some(_) => None,
        None => config.model.input_size(split.train.shape),
    };
    let pre_config = PreprocessConfig {
        image_size: config.preprocess.image_size.or(model_side),
        ..config.preprocess
    };
    let (preprocessor, train_set) = Preprocessor::fit_transform(pre_config, &split.train)?;
    let valid_set = preprocessor.apply(&split.valid)?;
    // A tiled model trains and validates on the tiles of the images, which must fit in memory.
    if let Some(t) = tiling {
        let images = train_set.len() + valid_set.len();
        let bytes = t.cut_bytes(preprocessor.output, images)?;
        let available = crate::device::available_memory_bytes().unwrap_or(u64::MAX);
        let channels = preprocessor.output.image_dims().map_or(1, |[c, _, _]| c) as u64;
        ensure!(
            bytes <= available / 2,
            "the {} tiles of {images} training and validation images, --tile {} --stride {}, \
             would take {:.1} GiB, more than half the memory available ({:.1} GiB); use a \
             longer --stride or smaller images",
            bytes / (4 * channels * (t.tile * t.tile) as u64),
            t.tile,
            t.stride,
            bytes as f64 / (1u64 << 30) as f64,
            available as f64 / (1u64 << 30) as f64
        );
    }
    let (model_shape, train_set, valid_inputs) = match tiling {
        Some(t) => (
            t.tile_shape(preprocessor.output)?,
            t.cut(&train_set)?,
            Some(t.cut(&valid_set)?),
        ),
        None => (preprocessor.output, train_set, None),
    };
    let mut detector = config.model.build(model_shape, device, config.train.seed)?;
    if let Some(labelled) = &split.labelled {
        detector.take_labelled_anomalies(preprocessor.apply(labelled)?, train_set.len())?;
    }
    let mut resume_from = None;
    if let Some(c) = checkpointing {
        let saved = train::resume::folder(c.dir).join(RESUME_CONFIG);
        if c.resume {
            let (loop_state, model_state) = train::resume::read(c.dir)?;
            detector.restore_training_state(&model_state)?;
            resume_from = Some(loop_state);
        } else {
            std::fs::create_dir_all(train::resume::folder(c.dir))?;
            io::write_json(&saved, &config)?;
        }
    }
    let mut on_checkpoint = |state: &train::LoopState, model: &dyn AnyDetector| match checkpointing
    {
        Some(c) => train::resume::write(c.dir, state, model),
        None => Ok(()),
    };
    let (log, checkpoints) = train::fit_resumable(
        detector.as_mut(),
        &train_set,
        valid_inputs.as_ref().unwrap_or(&valid_set),
        &config.train,
        resume_from,
        &mut on_checkpoint,
        stop,
    )?;
    drop(train_set);
    // Thresholds come from whole validation images, scored as new images will be.
    let mut detector = crate::score::tiled::wrap(detector, tiling, preprocessor.output)?;
    let config = RunConfig {
        preprocess: pre_config,
        ..config
    };
    let layout = layout_of(&config);
    let config_rule = config.threshold_rule;
    let mut run = Run {
        dir: None,
        config,
        preprocessor,
        // Fitted below, from the validation scores of each checkpoint.
        thresholds: Thresholds {
            best: Threshold::unfitted(config_rule),
            last: Threshold::unfitted(config_rule),
        },
        calibration: None,
        log,
        layout,
        weights_sha256: BTreeMap::new(),
        data_sha256: Some(split_sha256(split)),
        data_files_sha256,
        feature_names,
    };
    let (best, best_px) = calibrate(&run, detector.as_mut(), &checkpoints.best, &split.valid)?;
    let best_threshold = fit_threshold(&run, detector.as_ref(), &split.train, &best)?;
    let (last, last_px) = calibrate(&run, detector.as_mut(), &checkpoints.last, &split.valid)?;
    let last_threshold = fit_threshold(&run, detector.as_ref(), &split.train, &last)?;
    run.thresholds = Thresholds {
        best: best_threshold,
        last: last_threshold,
    };
    run.calibration = Some(CalibrationScores {
        best,
        last,
        pixel_thresholds: best_px
            .zip(last_px)
            .map(|(best, last)| PixelThresholds { best, last }),
    });
    Ok(Trained {
        run,
        detector,
        checkpoints,
        split_csv: split.origins_csv(),
    })
}

/// Load `weights` into `detector` and score the run's (raw) validation split: its image
/// scores, and its pixel threshold where the model draws maps.
fn calibrate(
    run: &Run,
    detector: &mut dyn AnyDetector,
    weights: &[u8],
    raw_valid: &Samples,
) -> crate::Result<(Vec<f32>, Option<f64>)> {
    detector.load_weights(weights.to_vec())?;
    let scores = score_raw(run, detector, raw_valid)?;
    let pixel = pixel_threshold(run, detector, raw_valid, MapOptions::default())?;
    Ok((scores, pixel))
}

/// The run's threshold for the weights loaded in `detector`: fitted on its validation scores
/// `valid_scores`, or on the scores of the (raw) training split `raw_train` for a rule that
/// fits on those ([`FittedOn::Training`]).
fn fit_threshold(
    run: &Run,
    detector: &dyn AnyDetector,
    raw_train: &Samples,
    valid_scores: &[f32],
) -> crate::Result<Threshold> {
    let rule = &run.config.threshold_rule;
    match rule.fitted_on() {
        FittedOn::Validation => rule.fit(valid_scores),
        FittedOn::Training => rule.fit(&score_raw(run, detector, raw_train)?),
    }
}

/// A false-alarm-rate rule needs enough validation samples to flag anything at all; checked
/// before training, not after.
fn check_calibration_size(rule: &ThresholdRule, validation_samples: usize) -> crate::Result<()> {
    if let ThresholdRule::FalseAlarmRate { alpha } = *rule {
        let rate = crate::conformal::rate_text(alpha);
        crate::conformal::check_enough_to_flag(
            alpha,
            validation_samples,
            "normal validation samples",
            &format!(
                "raise the rate (given as --false-alarm-rate {rate} or --threshold \
                 far:{rate}) or --validation-fraction"
            ),
        )?;
    }
    Ok(())
}

impl Trained {
    /// Write the run to `dir`, which must not exist yet (see [`Trained::save_into`] to replace
    /// a run or to prepare the folder before training).
    pub fn save(&mut self, dir: &Path) -> crate::Result<()> {
        let staging = folder::Staging::begin(
            dir,
            folder::Existing::Refuse {
                marker: folder::DETECTOR_RUN_FILE,
                leave: None,
            },
        )?;
        self.save_into(staging).map(|_| ())
    }

    /// Write the run's files into `staging` and publish it: the run folder appears whole, by
    /// one rename. `run.json` records each weights file's SHA-256.
    pub fn save_into(&mut self, staging: folder::Staging) -> crate::Result<PathBuf> {
        save_run(&mut self.run, &self.checkpoints, &self.split_csv, staging)
    }
}

/// Write `run` with its `checkpoints` and `split_csv` into `staging` and publish it (see
/// [`Trained::save_into`]); `run` then knows its folder, layout and checksums.
pub fn save_run(
    run: &mut Run,
    checkpoints: &Checkpoints,
    split_csv: &str,
    staging: folder::Staging,
) -> crate::Result<PathBuf> {
    let dir = staging.dir();
    let mut weights_sha256 = BTreeMap::new();
    for (checkpoint, bytes) in [
        (Checkpoint::Best, &checkpoints.best),
        (Checkpoint::Last, &checkpoints.last),
    ] {
        io::write_atomic(&dir.join(checkpoint.file()), bytes)?;
        weights_sha256.insert(checkpoint.file().to_string(), sha256_hex(bytes));
    }
    io::write_json(&dir.join("preprocess.json"), &run.preprocessor)?;
    io::write_json(&dir.join("thresholds.json"), &run.thresholds)?;
    if let Some(calibration) = &run.calibration {
        io::write_json(&dir.join(CALIBRATION_FILE), calibration)?;
    }
    io::write_json(&dir.join("train-log.json"), &run.log)?;
    io::write_atomic(&dir.join("split.csv"), split_csv.as_bytes())?;
    let layout = layout_of(&run.config);
    let file = RunFile {
        layout,
        config: run.config.clone(),
        weights_sha256: weights_sha256.clone(),
        data_sha256: run.data_sha256.clone(),
        data_files_sha256: run.data_files_sha256.clone(),
        feature_names: run.feature_names.clone(),
    };
    io::write_json(&dir.join("run.json"), &file)?;
    // The checkpoints go only once every file of the run is written.
    train::resume::remove(dir)?;
    let target = staging.publish()?;
    run.dir = Some(target.clone());
    run.layout = layout;
    run.weights_sha256 = weights_sha256;
    Ok(target)
}

/// Refuse a recorded configuration (`path`, a run's `run.json`) with a value no training
/// writes: those its scores and pages read (the epochs trained, the batch, the threshold
/// rule), so an edited file is named rather than reported as it says.
fn check_recorded(config: &RunConfig, path: &Path) -> crate::Result<()> {
    count("epochs", config.train.epochs as u64, MAX_COUNT)
        .and_then(|()| count("batch size", config.train.batch_size as u64, MAX_COUNT))
        .and_then(|()| validate_threshold_rule(&config.threshold_rule))
        .with_context(|| format!("{} is not valid", path.display()))
}

impl Run {
    /// Load the run saved in `dir`: only a complete run folder of a layout this build reads.
    pub fn load(dir: &Path) -> crate::Result<Run> {
        if folder::is_hidden_sibling(dir) {
            bail!(
                "{}: a run folder that was never completed (being written, or left by a stopped \
                 process); evaluate the published run folder instead",
                dir.display()
            );
        }
        if !dir.join("run.json").is_file() {
            if dir.join(folder::OOD_RUN_FILE).is_file() {
                bail!(
                    "{}: an out-of-distribution run (ood.json), not a detector's: evaluate it \
                     with `oddity ood eval`, score images with `oddity ood score`",
                    dir.display()
                );
            }
            bail!(
                "{}: not a run folder (no run.json); train one with `oddity train`",
                dir.display()
            );
        }
        let file: RunFile = io::read_json(&dir.join("run.json"))?;
        if file.layout > LAYOUT {
            bail!(
                "{}: written by oddity {} with run layout {}; this oddity {} reads layouts up to \
                 {LAYOUT}: use a newer oddity",
                dir.display(),
                file.config.oddity_version,
                file.layout,
                env!("CARGO_PKG_VERSION")
            );
        }
        let preprocess_file = dir.join("preprocess.json");
        let preprocessor: Preprocessor = io::read_json(&preprocess_file)?;
        preprocessor
            .check()
            .with_context(|| format!("{} is not valid", preprocess_file.display()))?;
        // The tiling and resizing that scoring applies come from preprocess.json, which has no
        // checksum: they must be those run.json records, or scores would silently change.
        ensure!(
            preprocessor.config == file.config.preprocess,
            "{}: its preprocessing {:?} differs from the {:?} run.json records; restore the \
             run's own preprocess.json",
            preprocess_file.display(),
            preprocessor.config,
            file.config.preprocess
        );
        check_recorded(&file.config, &dir.join("run.json"))?;
        let thresholds_file = dir.join("thresholds.json");
        let thresholds: Thresholds = io::read_json(&thresholds_file)?;
        for threshold in [thresholds.best, thresholds.last] {
            validate_threshold_rule(&threshold.rule)
                .with_context(|| format!("{} is not valid", thresholds_file.display()))?;
        }
        Ok(Run {
            dir: Some(dir.to_path_buf()),
            config: file.config,
            preprocessor,
            thresholds,
            calibration: match dir.join(CALIBRATION_FILE) {
                path if path.is_file() => Some(io::read_json(&path)?),
                _ => None,
            },
            log: io::read_json(&dir.join("train-log.json"))?,
            layout: file.layout,
            weights_sha256: file.weights_sha256,
            data_sha256: file.data_sha256,
            data_files_sha256: file.data_files_sha256,
            feature_names: file.feature_names,
        })
    }

    /// Read the run's data set from `path` instead of where `run.json` says (it was moved):
    /// only for a run that records its data's SHA-256, which [`Run::load_split`] then checks.
    /// The run's folder is not changed.
    pub fn relocate_data(&mut self, path: &Path) -> crate::Result<()> {
        ensure!(
            self.data_sha256.is_some(),
            "this run was trained before oddity recorded its data's SHA-256, so data read from \
             another place cannot be checked to be the same: move the data back to {}",
            self.config.dataset.path.display()
        );
        ensure!(
            !matches!(
                self.config.dataset.kind,
                source::DatasetKind::BuiltinMnist | source::DatasetKind::Arrays
            ),
            "this run's data ({}) is not read from disk",
            self.config.dataset.kind
        );
        let others = self.config.dataset.other_paths();
        ensure!(
            others.is_empty(),
            "a moved data set is read from one new path, its main file or folder, and this run \
             also reads {}: put the data back where run.json says",
            others
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
        self.config.dataset.path = std::path::absolute(path)
            .with_context(|| format!("{}: cannot make the path absolute", path.display()))?;
        Ok(())
    }

    /// The run's split, loaded again from its data set and checked against the samples'
    /// SHA-256 that `run.json` records: data that changed since training is refused, never
    /// scored as if it were the run's.
    pub fn load_split(&self) -> crate::Result<Split> {
        let split = load_split(&self.config)?;
        if let Some(expected) = &self.data_sha256 {
            let found = split_sha256(&split);
            // The same files decoded to other values (another image decoder) are the run's data.
            let same_files = || -> crate::Result<bool> {
                Ok(self.data_files_sha256.is_some()
                    && source::files_sha256(&self.config.dataset)? == self.data_files_sha256)
            };
            ensure!(
                &found == expected || same_files()?,
                "{}: these are not the samples the run{} was trained and tested on (their \
                 SHA-256 is {found}, run.json records {expected}): the data was changed or \
                 replaced since, or its relative path now names another file; evaluate on the \
                 run's own data",
                self.config.dataset.path.display(),
                self.dir
                    .as_ref()
                    .map(|d| format!(" {}", d.display()))
                    .unwrap_or_default()
            );
        }
        Ok(split)
    }

    /// Refuse, before any work, an evaluation of `checkpoint` that could not finish: its
    /// weights file missing or damaged, or the run's data set (its files, its options' files)
    /// gone.
    pub fn check_evaluable(&self, checkpoint: Checkpoint) -> crate::Result<()> {
        self.weights_bytes(checkpoint)?;
        crate::validate::validate_dataset(&self.config.dataset)
            .and_then(|()| crate::data::source::check_present(&self.config.dataset))
            .context("the run's data set is needed to evaluate it")
    }

    /// The bytes of `checkpoint`'s weights file, checked against the SHA-256 in `run.json`.
    fn weights_bytes(&self, checkpoint: Checkpoint) -> crate::Result<Vec<u8>> {
        let dir = self.dir.as_ref().context("the run has not been saved")?;
        let path = dir.join(checkpoint.file());
        let bytes =
            std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        match self.weights_sha256.get(checkpoint.file()) {
            Some(expected) => {
                let found = sha256_hex(&bytes);
                if &found != expected {
                    bail!(
                        "{}: the file is damaged or was replaced: its SHA-256 is {found}, run.json \
                         records {expected}",
                        path.display()
                    );
                }
            }
            None if self.layout >= 2 => bail!(
                "{}: run.json records no SHA-256 for this weights file",
                path.display()
            ),
            None => {}
        }
        Ok(bytes)
    }

    /// Score with other score-time hyper-parameters than the run was trained with (ALAD's l1
    /// score instead of fm, ALOCC's D(x) instead of D(R(x)), …): `model` replaces the run's
    /// model configuration, and the threshold of `checkpoint` is refitted with the run's rule
    /// on its validation split (`raw_valid`, as [`load_split`] gives it), or on its training
    /// split, loaded again here, for a rule fitted on training scores (`kde:α`), since a
    /// different score has a different scale. Parameters that shape the weights cannot change: loading
    /// the checkpoint into the new configuration fails.
    pub fn rescore_with(
        &mut self,
        model: ModelConfig,
        checkpoint: Checkpoint,
        raw_valid: &Samples,
        device: &Device,
    ) -> crate::Result<Box<dyn AnyDetector>> {
        self.config.model = model;
        let detector = self.detector(checkpoint, device)?;
        self.recalibrate(detector.as_ref(), checkpoint, raw_valid)?;
        Ok(detector)
    }

    /// Refit the threshold and calibration of `checkpoint` for `detector`, built from this
    /// run under its current model configuration, as [`Run::rescore_with`] does after
    /// replacing the configuration.
    pub fn recalibrate(
        &mut self,
        detector: &dyn AnyDetector,
        checkpoint: Checkpoint,
        raw_valid: &Samples,
    ) -> crate::Result<()> {
        let scores = score_raw(self, detector, raw_valid)?;
        let threshold = match self.config.threshold_rule.fitted_on() {
            FittedOn::Validation => self.config.threshold_rule.fit(&scores)?,
            FittedOn::Training => {
                let raw_train = self
                    .load_split()
                    .context(
                        "a kde threshold is refitted on the run's training split, which must load \
                         again from the run's data set",
                    )?
                    .train;
                fit_threshold(self, detector, &raw_train, &scores)?
            }
        };
        self.thresholds.set(checkpoint, threshold);
        let calibration = self.calibration.get_or_insert_with(|| CalibrationScores {
            best: Vec::new(),
            last: Vec::new(),
            pixel_thresholds: None,
        });
        match checkpoint {
            Checkpoint::Best => calibration.best = scores,
            Checkpoint::Last => calibration.last = scores,
        }
        // Other score-time settings may draw other maps.
        calibration.pixel_thresholds = None;
        Ok(())
    }

    /// The conformal calibration of `checkpoint` under `detector` (built from this run): the
    /// validation scores saved with the run, or, for a run saved before `calibration.json`
    /// existed, its validation split scored anew (so its data must be where run.json says).
    pub fn calibration(
        &self,
        checkpoint: Checkpoint,
        detector: &dyn AnyDetector,
    ) -> crate::Result<crate::conformal::Calibration> {
        let stored = self.calibration.as_ref().map(|c| c.of(checkpoint));
        match stored {
            Some(scores) if !scores.is_empty() => crate::conformal::Calibration::new(scores),
            _ => {
                let valid = self.load_split()
                    .context("the run has no calibration.json, and its validation split cannot be loaded to recompute it")?
                    .valid;
                crate::conformal::Calibration::new(&score_raw(self, detector, &valid)?)
            }
        }
    }

    /// Rebuild the detector with the weights of `checkpoint`, on `device`.
    pub fn detector(
        &self,
        checkpoint: Checkpoint,
        device: &Device,
    ) -> crate::Result<Box<dyn AnyDetector>> {
        let bytes = self.weights_bytes(checkpoint)?;
        let mut detector = crate::score::tiled::build(
            &self.config.model,
            self.preprocessor.output,
            self.preprocessor.config.tiling,
            device,
            self.config.train.seed,
        )?;
        detector.load_weights(bytes).with_context(|| {
            let path = self
                .dir
                .as_deref()
                .unwrap_or(Path::new("."))
                .join(checkpoint.file());
            if self.layout < WEIGHTS_LAYOUT {
                format!(
                    "{}: weights of run layout {} (oddity {}) do not load into this oddity {} \
                     (layout {LAYOUT}) and no converter exists for them: retrain the run",
                    path.display(),
                    self.layout,
                    self.config.oddity_version,
                    env!("CARGO_PKG_VERSION")
                )
            } else {
                format!(
                    "{}: the weights do not fit the networks run.json describes",
                    path.display()
                )
            }
        })?;
        Ok(detector)
    }
}

/// Scores, labels and metrics of a detector on a test set.
#[derive(Clone, Debug)]
pub struct Evaluation {
    /// One score per test sample.
    pub scores: Vec<f32>,
    /// Each test sample's conformal p-value, where the run saved its calibration.
    pub p_values: Option<Vec<f64>>,
    /// The false-alarm rates asked of p-values and those realised on the test normals.
    pub false_alarms: Vec<crate::conformal::RealisedRate>,
    /// 0 normal, 1 anomaly.
    pub labels: Vec<u8>,
    /// Where each test sample came from.
    pub origin: Vec<Origin>,
    /// Each test sample's class in its data set (an index into `class_names`).
    pub classes: Vec<u32>,
    /// The data set's class names (empty where the caller did not give them).
    pub class_names: Vec<String>,
    /// The metrics at the run's threshold.
    pub metrics: Metrics,
    /// Which checkpoint was scored.
    pub checkpoint: Checkpoint,
    /// Localisation metrics, for test images with masks and a model with anomaly maps
    /// ([`localise_on_test`]).
    pub pixel: Option<PixelMetrics>,
    /// The same per defect type.
    pub per_defect: Vec<DefectMetrics>,
    /// Test images with their maps, drawn into `maps/` ([`map_pictures`]).
    pub pictures: Vec<MapPicture>,
    /// A hyperspectral scene's picture and ROC comparison ([`scene_view`]).
    pub scene: Option<SceneView>,
}

/// Score raw (unpreprocessed) samples with a run's detector.
pub fn score_raw(run: &Run, detector: &dyn AnyDetector, raw: &Samples) -> crate::Result<Vec<f32>> {
    let samples = run.preprocessor.apply(raw)?;
    crate::score::scores(detector, &samples)
}

/// The percentile of the normal validation images' pixel scores that becomes the pixel
/// threshold (Dice, IoU, the thresholded region in the pictures).
pub const PIXEL_THRESHOLD_PERCENTILE: f64 = 99.0;

/// How anomaly maps are post-processed, the same for every model.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct MapOptions {
    /// Gaussian smoothing of each map at its image's resolution, σ in pixels (anomalib's
    /// common practice is 4); none by default.
    pub smooth_sigma: Option<f32>,
}

/// Each raw sample's anomaly map at the sample's own resolution: the map of its preprocessed
/// image, resized back (bilinear, half-pixel centres) to the image as loaded, then smoothed as
/// `options` say. `false` when the model defines no map.
pub fn for_each_raw_map(
    run: &Run,
    detector: &dyn AnyDetector,
    raw: &Samples,
    options: MapOptions,
    mut each: impl FnMut(usize, &[f32], usize, usize) -> crate::Result<()>,
) -> crate::Result<bool> {
    let SampleShape::Image { height, width, .. } = raw.shape else {
        return Ok(false);
    };
    let samples = run.preprocessor.apply(raw)?;
    let mut resized = Vec::with_capacity(height * width);
    crate::score::for_each_map(detector, &samples, |i, map, h, w| {
        resized.clear();
        if (h, w) == (height, width) {
            resized.extend_from_slice(map);
        } else {
            crate::data::preprocess::resize_bilinear(map, h, w, height, width, &mut resized);
        }
        if let Some(sigma) = options.smooth_sigma {
            crate::data::preprocess::gaussian_blur(&mut resized, height, width, sigma);
        }
        each(i, &resized, height, width)
    })
}

/// The pixel threshold: the [`PIXEL_THRESHOLD_PERCENTILE`]th percentile of the map values of
/// the (normal) validation images `raw_valid`; `None` when the model defines no map.
pub fn pixel_threshold(
    run: &Run,
    detector: &dyn AnyDetector,
    raw_valid: &Samples,
    options: MapOptions,
) -> crate::Result<Option<f64>> {
    let mut valid_pixels = Vec::new();
    let has_maps = for_each_raw_map(run, detector, raw_valid, options, |_, map, _, _| {
        valid_pixels.extend(map.iter().map(|&v| v as f64));
        Ok(())
    })?;
    Ok(
        has_maps
            .then(|| crate::threshold::percentile_of(&valid_pixels, PIXEL_THRESHOLD_PERCENTILE)),
    )
}

/// Image and pixel metrics of one defect type: its test images against every normal test
/// image.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DefectMetrics {
    /// The defect type (its class name).
    pub defect: String,
    /// Its test images.
    pub images: usize,
    /// Image AUROC of the model's score.
    pub image_auroc: f64,
    /// Pixel AUROC.
    pub pixel_auroc: f64,
    /// AUPRO up to 30 % FPR.
    pub aupro: f64,
}

/// Localisation metrics of a test set, overall and per defect type.
#[derive(Clone, Debug)]
pub struct Localisation {
    /// Over every test image with a known mask.
    pub overall: PixelMetrics,
    /// Per defect type, in class order.
    pub per_defect: Vec<DefectMetrics>,
}

/// Localisation metrics of a detector on the test images that have masks: their maps at their
/// own resolution against their masks (images with an unknown mask left out), Dice and IoU at
/// the [`PIXEL_THRESHOLD_PERCENTILE`]th percentile of the pixel scores of the (normal)
/// validation images `raw_valid`; and per defect type (each anomalous class of the test set
/// against all normal test images), with the image AUROC of `scores`. `None` when the test
/// samples have no masks or the model defines no map. The normal test images' pixels are held
/// once more per defect type.
pub fn localise_on_test(
    run: &Run,
    detector: &dyn AnyDetector,
    raw_valid: &Samples,
    test: &Samples,
    scores: &[f32],
    class_names: &[String],
    options: MapOptions,
) -> crate::Result<Option<Localisation>> {
    if test.masks.is_none() {
        return Ok(None);
    }
    let Some(threshold) = pixel_threshold(run, detector, raw_valid, options)? else {
        return Ok(None);
    };
    let defects: std::collections::BTreeSet<u32> = (0..test.len())
        .filter(|&i| test.labels[i] == 1)
        .map(|i| test.classes[i])
        .collect();
    let mut overall = PixelScores::new();
    let mut per_defect: BTreeMap<u32, PixelScores> =
        defects.iter().map(|&c| (c, PixelScores::new())).collect();
    let blank = vec![0u8; test.mask_len()];
    for_each_raw_map(run, detector, test, options, |i, map, _, width| {
        let mask = test.mask(i).expect("the test samples have masks");
        if mask.first() == Some(&crate::data::UNKNOWN_PIXEL) {
            return Ok(());
        }
        // An image the protocol calls normal has no defect here, whatever its mask holds (a
        // defect class made the normal one by leave-one-out).
        let label = test.labels[i];
        let mask = if label == 0 { &blank[..] } else { mask };
        overall.push_labelled(map, mask, width, label)?;
        for (&class, pixels) in per_defect.iter_mut() {
            if label == 0 || test.classes[i] == class {
                pixels.push_labelled(map, mask, width, label)?;
            }
        }
        Ok(())
    })?;
    if overall.regions() == 0 {
        // No test image with a known defect mask: nothing to localise.
        return Ok(None);
    }
    let mut rows = Vec::new();
    for (class, pixels) in per_defect {
        if pixels.regions() == 0 {
            // Every image of this defect type has an unknown or empty mask.
            continue;
        }
        let chosen: Vec<usize> = (0..test.len())
            .filter(|&i| test.labels[i] == 0 || test.classes[i] == class)
            .collect();
        let image_scores: Vec<f32> = chosen.iter().map(|&i| scores[i]).collect();
        let image_labels: Vec<u8> = chosen.iter().map(|&i| test.labels[i]).collect();
        let pixel = pixels.metrics(threshold)?;
        rows.push(DefectMetrics {
            defect: class_names
                .get(class as usize)
                .cloned()
                .unwrap_or_else(|| class.to_string()),
            images: image_labels.iter().filter(|&&l| l == 1).count(),
            image_auroc: metrics::auroc(&image_scores, &image_labels)?,
            pixel_auroc: pixel.pixel_auroc,
            aupro: pixel.aupro,
        });
    }
    Ok(Some(Localisation {
        overall: overall.metrics(threshold)?,
        per_defect: rows,
    }))
}

/// A hyperspectral scene's detection, drawn for a person: the picture (false-colour composite,
/// ground truth, scores as a heat map, pixels at or above the threshold), and the curves of a
/// ROC plot comparing the model with global RX on the same scene.
#[derive(Clone, Debug)]
pub struct SceneView {
    /// The scene as one picture, its map the scores.
    pub picture: MapPicture,
    /// The run's threshold, which the detection panel applies.
    pub threshold: f64,
    /// `(name, scores)` per curve, scores in test order: the model's, then global RX's (unless
    /// the model is RX).
    pub curves: Vec<(String, Vec<f32>)>,
}

/// The [`SceneView`] of a run under the scene protocol, its test `scores` in the order of
/// `origin` (each a pixel's row-major index); `None` for any other run.
pub fn scene_view(
    run: &Run,
    scores: &[f32],
    origin: &[Origin],
    threshold: f64,
) -> crate::Result<Option<SceneView>> {
    let data = &run.config.dataset;
    if data.kind != crate::data::source::DatasetKind::Hyperspectral
        || run.config.protocol != Protocol::Scene
    {
        return Ok(None);
    }
    let scene = crate::data::hyperspectral::load(&data.path, &data.scene_variables)?;
    let n = scene.map.len();
    anyhow::ensure!(
        scores.len() == n && origin.len() == n,
        "{} scores for the {n} pixels of {}",
        scores.len(),
        data.path.display()
    );
    let mut map = vec![0f32; n];
    for (o, &s) in origin.iter().zip(scores) {
        map[o.index as usize] = s;
    }
    let mut curves = vec![(run.config.model.name().to_string(), scores.to_vec())];
    if run.config.model.name() != "rx" {
        let rx = crate::linalg::Mahalanobis::fit(&scene.pixels, scene.bands)?;
        let by_pixel = rx.distances(&scene.pixels);
        curves.push((
            "global RX".into(),
            origin
                .iter()
                .map(|o| by_pixel[o.index as usize] as f32)
                .collect(),
        ));
    }
    let stem = data.path.file_stem().unwrap_or_default().to_string_lossy();
    let layout = scene.layout;
    Ok(Some(SceneView {
        picture: MapPicture {
            name: format!("scene-{stem}"),
            image: scene.false_colour(),
            shape: [3, layout.height, layout.width],
            score: map.iter().copied().fold(f32::NEG_INFINITY, f32::max),
            map,
            mask: Some(scene.map),
            label: 1,
        },
        threshold,
        curves,
    }))
}

/// One test image with its anomaly map, for a picture a person looks at.
#[derive(Clone, Debug)]
pub struct MapPicture {
    /// Why it was chosen and its place: `most-anomalous-1`, `least-anomalous-3`, …
    pub name: String,
    /// The image as loaded, channels first, values 0–255.
    pub image: Vec<f32>,
    /// `[channels, height, width]`.
    pub shape: [usize; 3],
    /// Its anomaly map at its resolution.
    pub map: Vec<f32>,
    /// Its ground-truth mask, if known.
    pub mask: Option<Vec<u8>>,
    /// Its image score.
    pub score: f32,
    /// 1 anomaly, 0 normal.
    pub label: u8,
}

/// The `count` most and `count` least anomalous test images by `scores`, and the most
/// anomalous image of each defect type (named by `class_names`), with their maps at their own
/// resolution (empty when the model defines no map or the samples are no images).
pub fn map_pictures(
    run: &Run,
    detector: &dyn AnyDetector,
    test: &Samples,
    scores: &[f32],
    count: usize,
    class_names: &[String],
    options: MapOptions,
) -> crate::Result<Vec<MapPicture>> {
    let Some(shape) = test.shape.image_dims() else {
        return Ok(Vec::new());
    };
    let mut order: Vec<usize> = (0..test.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
    let count = count.min(order.len() / 2);
    let mut chosen: Vec<(String, usize)> = order[..count]
        .iter()
        .enumerate()
        .map(|(k, &i)| (format!("most-anomalous-{}", k + 1), i))
        .chain(
            order[order.len() - count..]
                .iter()
                .rev()
                .enumerate()
                .map(|(k, &i)| (format!("least-anomalous-{}", k + 1), i)),
        )
        .collect();
    // The most anomalous image of each defect type.
    let mut seen = std::collections::BTreeSet::new();
    for &i in &order {
        if test.labels[i] == 1 && seen.insert(test.classes[i]) {
            let name = class_names
                .get(test.classes[i] as usize)
                .cloned()
                .unwrap_or_else(|| test.classes[i].to_string());
            let safe: String = name
                .chars()
                .map(|c| {
                    if c.is_alphanumeric() || c == '-' || c == '_' {
                        c
                    } else {
                        '_'
                    }
                })
                .collect();
            chosen.push((format!("defect-{safe}"), i));
        }
    }
    let mut subset = Samples::empty(test.shape);
    for &(_, i) in &chosen {
        subset.values.extend_from_slice(test.sample(i));
        subset.labels.push(test.labels[i]);
        subset.origin.push(test.origin[i]);
        subset.classes.push(test.classes[i]);
    }
    let mut pictures = Vec::with_capacity(chosen.len());
    for_each_raw_map(run, detector, &subset, options, |k, map, _, _| {
        let (name, i) = &chosen[k];
        pictures.push(MapPicture {
            name: name.clone(),
            image: test.sample(*i).to_vec(),
            shape,
            map: map.to_vec(),
            mask: test
                .mask(*i)
                .filter(|m| m.first() != Some(&crate::data::UNKNOWN_PIXEL))
                .map(<[u8]>::to_vec),
            score: scores[*i],
            label: test.labels[*i],
        });
        Ok(())
    })?;
    Ok(pictures)
}

/// Evaluate a run's checkpoint on the held-out test split of its protocol.
pub fn evaluate_on_test(
    run: &Run,
    detector: &dyn AnyDetector,
    checkpoint: Checkpoint,
    test: &Samples,
) -> crate::Result<Evaluation> {
    let scores = score_raw(run, detector, test)?;
    let threshold = run.thresholds.of(checkpoint).value;
    let metrics = metrics::compute(&scores, &test.labels, threshold)?;
    let (mut p_values, mut false_alarms) = (None, Vec::new());
    if run.calibration.is_some() {
        let calibration = run.calibration(checkpoint, detector)?;
        p_values = Some(scores.iter().map(|&s| calibration.p_value(s)).collect());
        let normals: Vec<f32> = (scores.iter().zip(&test.labels))
            .filter(|&(_, &l)| l == 0)
            .map(|(&s, _)| s)
            .collect();
        false_alarms = crate::conformal::realised_rates(
            &calibration,
            &normals,
            &crate::conformal::CHECKED_RATES,
        );
    }
    Ok(Evaluation {
        scores,
        p_values,
        false_alarms,
        labels: test.labels.clone(),
        origin: test.origin.clone(),
        classes: test.classes.clone(),
        class_names: Vec::new(),
        metrics,
        checkpoint,
        pixel: None,
        per_defect: Vec::new(),
        pictures: Vec::new(),
        scene: None,
    })
}
