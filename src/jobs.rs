//! The use cases every surface calls — the command line, and next the scoring server and the
//! Python package: train (and resume), evaluate, score a data set, metrics of a score file, the
//! demo. Typed inputs and outputs; nothing here prints or exits.

use crate::data::Samples;
use crate::data::protocol::{Protocol, Split};
use crate::data::source::{self, DataForm, DatasetKind, DatasetSpec};
use crate::metrics::Metrics;
use crate::models::{AnyDetector, ModelConfig};
use crate::report::{self, MetricsReport};
use crate::run::folder::{Existing, Leave, Staging};
use crate::run::{self, Checkpoint, Run, RunConfig};
use anyhow::{Context, bail};
use burn::tensor::Device;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

/// What may happen to a run folder that already holds a run.
fn existing_run(leave: Leave) -> Existing {
    Existing::run(crate::run::folder::DETECTOR_RUN_FILE, leave)
}

/// A training ready to start: its configuration checked, its output folder claimed and its
/// data loaded and split.
pub struct PreparedTraining {
    config: RunConfig,
    split: Split,
    staging: Staging,
    /// Continues from the checkpoint in the staging folder.
    resume: bool,
    /// Takes over a stopped training's staging folder (with a checkpoint or without one).
    from_stopped: bool,
}

/// How a training ended.
pub enum TrainOutcome {
    /// Trained and published.
    Saved {
        /// The run folder.
        dir: PathBuf,
        /// The run.
        trained: Box<run::Trained>,
    },
    /// Stopped on request after a step.
    Stopped {
        /// The run folder the training was writing.
        target: PathBuf,
        /// Whether it was kept (`oddity train --resume target` continues it: from its
        /// checkpoint, or from the start for a stopped training that had none); a new training
        /// of a model that cannot resume keeps nothing.
        resumable: bool,
        /// What stopped it.
        reason: String,
    },
}

/// Check `config`, claim `out` (refused if it holds a run, unless `leave` is given: then the
/// old run is replaced whole once the new one is complete) and load the data, before any
/// training.
pub fn prepare_training(
    config: RunConfig,
    out: &Path,
    leave: Leave,
) -> crate::Result<PreparedTraining> {
    config.validate()?;
    let config = RunConfig {
        dataset: config.dataset.with_absolute_paths()?,
        ..config
    };
    check_data_outside(&config.dataset, out)?;
    // The output location is claimed and tested for writing before any data is read.
    let staging = Staging::begin(out, existing_run(leave))?;
    let split = run::load_split(&config)?;
    Ok(PreparedTraining {
        config,
        split,
        staging,
        resume: false,
        from_stopped: false,
    })
}

/// Refuse an output folder that holds the data set itself (its file or folder, masks or
/// training scene): replacing the folder would delete the data; or that lies inside a data
/// folder.
fn check_data_outside(dataset: &DatasetSpec, out: &Path) -> crate::Result<()> {
    let paths: Vec<&Path> = std::iter::once(dataset.path.as_path())
        .chain(dataset.other_paths())
        .collect();
    // Nor may the run go inside a folder of class folders: it would be read as a class of
    // images (the other folder formats read fixed names only).
    let reads_every_folder = matches!(
        dataset.kind,
        DatasetKind::ImageFolder | DatasetKind::Cifar10
    );
    if reads_every_folder && let Some(run_dir) = crate::io::resolved(out) {
        for path in &paths {
            if let Ok(data_dir) = std::fs::canonicalize(path)
                && data_dir.is_dir()
                && run_dir.starts_with(&data_dir)
            {
                bail!(
                    "the output folder {} lies inside the data folder {}, where the run would be \
                     read as data: choose another --out",
                    out.display(),
                    path.display()
                );
            }
        }
    }
    let Ok(out_dir) = std::fs::canonicalize(out) else {
        return Ok(()); // not there yet: nothing can be inside it
    };
    for path in paths {
        if let Ok(found) = std::fs::canonicalize(path)
            && found.starts_with(&out_dir)
        {
            bail!(
                "the data {} lies inside the output folder {}, which a run replaces whole: move \
                 the data out of it or choose another --out",
                path.display(),
                out.display()
            );
        }
    }
    Ok(())
}

/// Prepare to continue the stopped training of `target` from its last checkpoint (replacing
/// a run published at `target` since only with `leave`).
pub fn prepare_resume(target: &Path, leave: Leave) -> crate::Result<PreparedTraining> {
    let staging = Staging::resume(target, existing_run(leave))?;
    let config = run::resumable_config(staging.dir()).with_context(|| {
        format!(
            "{}: the stopped training left no configuration",
            target.display()
        )
    })?;
    let split = run::load_split(&config)?;
    // No checkpoint (stopped before the first, or the model keeps none): it trains again from
    // the start, as it would have.
    let resume = crate::train::resume::exists(staging.dir());
    Ok(PreparedTraining {
        config,
        split,
        staging,
        resume,
        from_stopped: true,
    })
}

impl PreparedTraining {
    /// The configuration, checked (for a resumed training, the stopped one's).
    pub fn config(&self) -> &RunConfig {
        &self.config
    }

    /// Train, validation and test samples.
    pub fn split(&self) -> &Split {
        &self.split
    }

    /// Whether this continues a stopped training from its checkpoint (`false` for one stopped
    /// before its first checkpoint, which trains again from the start).
    pub fn is_resume(&self) -> bool {
        self.resume
    }

    /// The run folder it will publish.
    pub fn target(&self) -> &Path {
        self.staging.target()
    }

    /// Train on `device` with a checkpoint after every epoch and when `stop` is raised, then
    /// publish the run; a stopped training keeps its checkpoint.
    pub fn run(self, device: &Device, stop: Option<&AtomicBool>) -> crate::Result<TrainOutcome> {
        let checkpointing = run::Checkpointing {
            dir: self.staging.dir(),
            resume: self.resume,
        };
        match run::train_with(self.config, &self.split, device, Some(checkpointing), stop) {
            Ok(mut trained) => {
                let dir = trained.save_into(self.staging)?;
                Ok(TrainOutcome::Saved {
                    dir,
                    trained: Box::new(trained),
                })
            }
            Err(e) if e.is::<crate::train::Interrupted>() => {
                let target = self.staging.target().to_path_buf();
                // A stopped training's folder stays resumable, checkpoint or not.
                let resumable =
                    crate::train::resume::exists(self.staging.dir()) || self.from_stopped;
                if resumable {
                    self.staging.keep();
                }
                Ok(TrainOutcome::Stopped {
                    target,
                    resumable,
                    reason: e.to_string(),
                })
            }
            Err(e) => Err(e),
        }
    }
}

/// The run's detector with the weights of `checkpoint`, built before any data are read:
/// loaded as saved (damaged weights fail here), then, with a settings `file`, again under its
/// score-time hyper-parameters, which then replace the run's model configuration (settings
/// that change anything else, or the networks' shapes, fail here). Such a run's threshold must
/// then be refitted, [`refit_for_settings`].
pub fn scoring_detector(
    run: &mut Run,
    checkpoint: Checkpoint,
    file: Option<&Path>,
    device: &Device,
) -> crate::Result<Box<dyn AnyDetector>> {
    // The run must load as saved before a failure can be blamed on the new settings.
    let detector = run.detector(checkpoint, device)?;
    let Some(file) = file else {
        return Ok(detector);
    };
    run.config.model = score_time_model(run, file)?;
    run.detector(checkpoint, device).with_context(|| {
        format!(
            "{}: the run's weights do not load under these settings",
            file.display()
        )
    })
}

/// After [`scoring_detector`] with a settings `file`: refit the run's threshold of
/// `checkpoint` on its validation split (`raw_valid` as [`run::load_split`] gives it, loaded
/// here if `None`), since another score has another scale. Nothing to do without a file.
pub fn refit_for_settings(
    run: &mut Run,
    detector: &dyn AnyDetector,
    checkpoint: Checkpoint,
    file: Option<&Path>,
    raw_valid: Option<&Samples>,
) -> crate::Result<()> {
    let Some(file) = file else {
        return Ok(());
    };
    let loaded;
    let raw_valid = match raw_valid {
        Some(valid) => valid,
        None => {
            loaded = run.load_split()?.valid;
            &loaded
        }
    };
    run.recalibrate(detector, checkpoint, raw_valid)
        .with_context(|| {
            format!(
                "{}: the run cannot score with these settings",
                file.display()
            )
        })
}

/// The run's model with the settings `file` laid over it, where every value that changes is
/// one of the model's score-time hyper-parameters ([`ModelConfig::score_settings`]): the
/// weights were trained under the others.
fn score_time_model(run: &Run, file: &Path) -> crate::Result<ModelConfig> {
    let model = run.config.model.with_settings_file(file)?;
    let (trained, given) = (
        serde_json::to_value(&run.config.model)?,
        serde_json::to_value(&model)?,
    );
    let allowed = model.score_settings();
    let changed: Vec<&str> = (given.as_object().into_iter().flatten())
        .filter(|(key, value)| trained.get(key.as_str()) != Some(value))
        .map(|(key, _)| key.as_str())
        .filter(|key| !allowed.contains(key))
        .collect();
    anyhow::ensure!(
        changed.is_empty(),
        "{}: only score-time hyper-parameters can change after training, and {} trained its \
         weights under {} ({})",
        file.display(),
        model.name(),
        changed.join(", "),
        match allowed {
            [] => "it has no score-time hyper-parameters".to_string(),
            keys => format!("its score-time ones: {}", keys.join(", ")),
        }
    );
    Ok(model)
}

/// What [`report_runs`] reported: the detectors' runs and the OOD runs.
#[derive(Clone, Debug)]
pub struct ReportedRuns {
    /// The detectors' runs, each with its health checks.
    pub detectors: Vec<report::html::RunReport>,
    /// The OOD runs (`oddity ood train`), with their `ood eval` results where evaluated.
    pub ood: Vec<report::ood::OodRunReport>,
}

/// Write one HTML report of the runs in `run_dirs` to `out`, from each detector run's
/// evaluation of `checkpoint` (`RUN/eval-CHECKPOINT/`), evaluating the runs that have none yet,
/// and each OOD run's `ood eval` (an OOD run not evaluated yet is shown without metrics: its
/// evaluation needs OOD sets). An existing `out` is replaced only if it is an oddity report.
pub fn report_runs(
    run_dirs: &[PathBuf],
    checkpoint: Checkpoint,
    out: &Path,
    device: &Device,
) -> crate::Result<ReportedRuns> {
    anyhow::ensure!(!run_dirs.is_empty(), "give at least one run folder");
    // Where the page goes is checked first: a folder that does not exist, or a file that is
    // not an earlier report, is refused before any run is evaluated.
    crate::io::check_output_file("--out", out, &[], |start| {
        String::from_utf8_lossy(start).contains("<title>oddity report")
    })?;
    let mut seen = std::collections::BTreeMap::new();
    for dir in run_dirs {
        let resolved = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.clone());
        if let Some(first) = seen.insert(resolved, dir) {
            bail!(
                "{} and {} are the same run folder; name each run once",
                first.display(),
                dir.display()
            );
        }
    }
    // Every run must load, and each one still to evaluate have its weights and data, before
    // any is evaluated, so that a bad folder named last does not fail after the others'
    // evaluations were written.
    let (ood_dirs, run_dirs): (Vec<&PathBuf>, Vec<&PathBuf>) = run_dirs
        .iter()
        .partition(|dir| report::ood::is_run_folder(dir));
    let ood = (ood_dirs.iter())
        .map(|dir| report::ood::OodRunReport::load(dir))
        .collect::<crate::Result<Vec<_>>>()?;
    let eval_dirs: Vec<PathBuf> = (run_dirs.iter())
        .map(|dir| dir.join(format!("eval-{checkpoint}")))
        .collect();
    let mut runs = Vec::new();
    for (dir, eval_dir) in run_dirs.iter().zip(&eval_dirs) {
        let run = Run::load(dir)?;
        if !eval_dir.join("metrics.json").is_file() {
            run.check_evaluable(checkpoint).with_context(|| {
                format!(
                    "{}: cannot be evaluated (if its data set moved, evaluate it first with \
                     `oddity eval {} --checkpoint {checkpoint} --data NEW_PLACE`: the report \
                     then uses that evaluation)",
                    dir.display(),
                    dir.display()
                )
            })?;
        }
        runs.push(run);
    }
    let mut reports = Vec::new();
    for ((dir, eval_dir), run) in run_dirs.iter().zip(eval_dirs).zip(runs) {
        if !eval_dir.join("metrics.json").is_file() {
            evaluate_run(
                dir,
                checkpoint,
                None,
                None,
                run::MapOptions::default(),
                None,
                device,
            )?;
        }
        reports.push(report::html::RunReport::load(&run, &eval_dir)?);
    }
    report::html::write_with_ood(out, &reports, &ood)?;
    Ok(ReportedRuns {
        detectors: reports,
        ood,
    })
}

/// What PyOD's `fit(X)` takes besides the data ([`fit_arrays`]).
#[derive(Clone, Debug, PartialEq)]
pub struct FitOptions {
    /// Seeds the weights, the shuffles and the validation hold-out.
    pub seed: u64,
    /// Epochs (default: the model's).
    pub epochs: Option<usize>,
    /// Batch size (default: the model's).
    pub batch_size: Option<usize>,
    /// Share of the samples held out for validation (early stopping, threshold, p-values).
    pub validation_fraction: f64,
    /// Value scaling fitted on the training samples (default: the model's for images or tables,
    /// [`ModelConfig::default_scaling`]).
    pub scaling: Option<crate::data::preprocess::Scaling>,
    /// Per-epoch lines and a progress bar on stderr.
    pub progress: bool,
}

impl Default for FitOptions {
    fn default() -> Self {
        FitOptions {
            seed: 0,
            epochs: None,
            batch_size: None,
            validation_fraction: 0.1,
            scaling: None,
            progress: false,
        }
    }
}

/// `minus-one-to-one` is a fixed map of 8-bit pixels (`x/127.5 − 1`), not fitted to the data:
/// values handed over in other units (floats in [0, 1], as torchvision gives them, or already
/// scaled) would come out squashed or shifted, so they are refused, naming the remedy.
fn check_pixel_units(values: &[f32], config: &RunConfig) -> crate::Result<()> {
    if config.preprocess.scaling != crate::data::preprocess::Scaling::MinusOneToOne {
        return Ok(());
    }
    let outside = values.iter().find(|v| !(0.0..=255.0).contains(*v));
    let within_unit = values.iter().all(|v| (0.0..=1.0).contains(v));
    anyhow::ensure!(
        outside.is_none() && !within_unit,
        "{}: the scaling minus-one-to-one (this model's default on images) maps 8-bit pixels, \
         0–255, to [−1, 1], but {}: hand over pixels in 0–255 as image files hold them, or the \
         values as they are (preprocessing=False in Python)",
        config.model.name(),
        match outside {
            Some(v) => format!("a value is {v}"),
            None => "every value lies in [0, 1]".into(),
        }
    );
    Ok(())
}

/// Train `model` on samples handed over in memory (PyOD's `fit(X)`): `values` holds the samples
/// of `shape` one after another, in their raw units (images channels first, 0–255). Every
/// sample trains but a seeded validation share ([`crate::data::protocol::fit_split`]); labels
/// are not used. Every value is checked before any work starts. Both checkpoints of the result
/// hold the last epoch's weights, as PyOD's models keep. A raised `stop` ends the training
/// after the current step with [`crate::train::Interrupted`].
pub fn fit_arrays(
    model: ModelConfig,
    values: Vec<f32>,
    shape: crate::data::SampleShape,
    options: &FitOptions,
    device: &Device,
    stop: Option<&AtomicBool>,
) -> crate::Result<run::Trained> {
    let width = shape.len();
    anyhow::ensure!(width > 0, "each sample must hold at least one value");
    model.check_settings_for(shape.image_dims().is_some())?;
    anyhow::ensure!(
        values.len() % width == 0,
        "{} values do not make whole samples of {shape}",
        values.len()
    );
    if let Some(i) = values.iter().position(|v| !v.is_finite()) {
        bail!(
            "sample {} value {} is {}: every value must be finite",
            i / width,
            i % width,
            values[i]
        );
    }
    let n = values.len() / width;
    let set = crate::data::LabelledSet {
        layout: None,
        values,
        shape,
        classes: vec![0; n],
        class_names: vec!["sample".into()],
        masks: None,
    };
    let data = DatasetSpec::new(DatasetKind::Arrays, "arrays");
    let mut config = RunConfig::new(model, data, Protocol::Fit, options.seed)?;
    if let Some(e) = options.epochs {
        config.train.epochs = e;
    }
    if let Some(b) = options.batch_size {
        config.train.batch_size = b;
    }
    config.train.progress = options.progress;
    config.split.validation_fraction = options.validation_fraction;
    let images = shape.image_dims().is_some();
    config.preprocess.scaling = options
        .scaling
        .unwrap_or_else(|| config.model.default_scaling(images));
    if images {
        config
            .model
            .check_image_scaling(config.preprocess.scaling)?;
    }
    check_pixel_units(&set.values, &config)?;
    config.validate()?;
    let split = crate::data::protocol::fit_split(&set, &config.split)?;
    let mut trained = run::train_with(config, &split, device, None, stop)?;
    // PyOD's fit keeps the weights of its last epoch: both checkpoints are those, so that a
    // saved fit scores the same whichever checkpoint a tool picks.
    let run = &mut trained.run;
    trained.checkpoints.best = trained.checkpoints.last.clone();
    run.thresholds.best = run.thresholds.last;
    if let Some(c) = &mut run.calibration {
        c.best = c.last.clone();
        if let Some(p) = &mut c.pixel_thresholds {
            p.best = p.last;
        }
    }
    run.log.best_epoch = run.log.epochs.len();
    Ok(trained)
}

/// How many of the most and of the least anomalous test images `eval` draws with their maps.
pub const PICTURES_EACH_WAY: usize = 8;

/// A finished evaluation: where its report went, and the report.
#[derive(Debug)]
pub struct EvaluationReport {
    /// The folder holding metrics.json, scores.csv and the plots.
    pub out: PathBuf,
    /// The metrics.
    pub report: MetricsReport,
}

/// The folder-name suffix for score-time settings: a settings file's stem, or for inline JSON
/// its keys and values (`{"score": "l1"}` → `score-l1`), other characters dropped.
fn settings_suffix(settings: &Path) -> String {
    let text = settings.to_string_lossy();
    if !text.trim_start().starts_with('{') {
        return settings
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
    }
    let words: Vec<String> = text
        .split(|c: char| !(c.is_ascii_alphanumeric() || "._-".contains(c)))
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect();
    let suffix = words.join("-");
    if suffix.is_empty() {
        return "settings".into();
    }
    if suffix.len() <= 64 {
        return suffix;
    }
    // Long settings keep a digest of the whole text, so two of them never share a folder.
    use sha2::Digest;
    let digest = sha2::Sha256::digest(text.as_bytes());
    let short: String = suffix.chars().take(48).collect();
    format!(
        "{short}-{:02x}{:02x}{:02x}{:02x}",
        digest[0], digest[1], digest[2], digest[3]
    )
}

/// Evaluate the run in `run_dir` on the held-out test split of its protocol and write the
/// report to `out` (default `RUN/eval-CHECKPOINT`, or `RUN/eval-CHECKPOINT-STEM` for a settings
/// file `STEM.json`, `RUN/eval-CHECKPOINT-score-l1` for inline `{"score": "l1"}`, so that the
/// run's own evaluation is not overwritten). Anomaly maps (for
/// the localisation metrics and pictures) are post-processed as `maps` says. `moved_data`
/// reads the run's data set from another place (it was moved since training): it must hold
/// the same samples, or the same files, as `run.json` records.
pub fn evaluate_run(
    run_dir: &Path,
    checkpoint: Checkpoint,
    settings: Option<&Path>,
    out: Option<PathBuf>,
    maps: run::MapOptions,
    moved_data: Option<&Path>,
    device: &Device,
) -> crate::Result<EvaluationReport> {
    check_map_options(maps)?;
    let mut run = Run::load(run_dir)?;
    if let Some(path) = moved_data {
        run.relocate_data(path)?;
    }
    let detector = scoring_detector(&mut run, checkpoint, settings, device)?;
    let default_out = match settings {
        Some(settings) => format!("eval-{checkpoint}-{}", settings_suffix(settings)),
        None => format!("eval-{checkpoint}"),
    };
    let out = out.unwrap_or_else(|| run_dir.join(default_out));
    let staging = report::begin_evaluation(&out)?;
    let split = run.load_split()?;
    refit_for_settings(
        &mut run,
        detector.as_ref(),
        checkpoint,
        settings,
        Some(&split.valid),
    )?;
    let mut evaluation = run::evaluate_on_test(&run, detector.as_ref(), checkpoint, &split.test)?;
    evaluation.class_names = split.class_names.clone();
    let localisation = run::localise_on_test(
        &run,
        detector.as_ref(),
        &split.valid,
        &split.test,
        &evaluation.scores,
        &split.class_names,
        maps,
    )?;
    if let Some(localisation) = localisation {
        evaluation.pixel = Some(localisation.overall);
        evaluation.per_defect = localisation.per_defect;
        evaluation.pictures = run::map_pictures(
            &run,
            detector.as_ref(),
            &split.test,
            &evaluation.scores,
            PICTURES_EACH_WAY,
            &split.class_names,
            maps,
        )?;
    }
    evaluation.scene = run::scene_view(
        &run,
        &evaluation.scores,
        &evaluation.origin,
        evaluation.metrics.threshold,
    )?;
    let report = report::write_evaluation_into(staging, &run, &evaluation)?;
    Ok(EvaluationReport { out, report })
}

/// Which part of a data set to score.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScoreSplit {
    /// The training part, then the test part if the data set has one.
    All,
    /// The training part only.
    Train,
    /// The test part only (an error if the data set has none).
    Test,
}

impl std::str::FromStr for ScoreSplit {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> crate::Result<Self> {
        match s {
            "all" => Ok(ScoreSplit::All),
            "train" => Ok(ScoreSplit::Train),
            "test" => Ok(ScoreSplit::Test),
            other => bail!("unknown split {other:?}; use all, train or test"),
        }
    }
}

/// Which part of its data set a scored sample came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    /// The data set's training part.
    Train,
    /// The data set's test part.
    Test,
}

impl Part {
    /// `train` or `test`.
    pub fn name(self) -> &'static str {
        match self {
            Part::Train => "train",
            Part::Test => "test",
        }
    }
}

/// One scored sample.
#[derive(Clone, Debug, PartialEq)]
pub struct ScoredSample {
    /// The part it came from.
    pub part: Part,
    /// Its index in that part.
    pub index: usize,
    /// Its anomaly score.
    pub score: f32,
    /// 1 anomaly, 0 normal under the run's protocol; `None` where the protocol leaves the
    /// sample out (neither normal nor anomalous).
    pub label: Option<u8>,
    /// Whether the score reaches the threshold ([`ScoreTable::threshold`]).
    pub flagged: bool,
    /// Its conformal p-value against the run's normal validation scores
    /// ([`crate::conformal`]); `None` for a run saved without `calibration.json`, unless a
    /// false-alarm rate was asked for.
    pub p_value: Option<f64>,
}

/// A data set scored by a run.
#[derive(Clone, Debug)]
pub struct ScoreTable {
    /// One row per sample, training part first.
    pub rows: Vec<ScoredSample>,
    /// The threshold behind `flagged`.
    pub threshold: f64,
}

/// How [`score_dataset`] scores: which weights, which settings, what it draws, which verdict.
#[derive(Clone, Copy, Debug)]
pub struct ScoreOptions<'a> {
    /// The weights.
    pub checkpoint: Checkpoint,
    /// A JSON file of score-time hyper-parameters replacing the run's (the threshold and the
    /// calibration are refitted on the run's validation split).
    pub settings: Option<&'a Path>,
    /// Draw each image with its anomaly map here.
    pub maps: Option<MapsOutput<'a>>,
    /// Flag samples whose conformal p-value is at most this rate instead of using the run's
    /// threshold: normal data are then flagged at rate at most this ([`crate::conformal`]).
    pub false_alarm_rate: Option<f64>,
    /// The run's own data set, moved since training: read from here instead of the path
    /// `run.json` records wherever scoring needs the run's validation split (the refit under
    /// `settings`, the pixel threshold of smoothed maps or of a run that stored none, the
    /// calibration of a run older than `calibration.json`); refused where nothing reads it.
    /// Checked as [`evaluate_run`]'s `moved_data` is.
    pub run_data: Option<&'a Path>,
}

impl ScoreOptions<'_> {
    /// The run's `checkpoint` and threshold, nothing drawn.
    pub fn new(checkpoint: Checkpoint) -> Self {
        ScoreOptions {
            checkpoint,
            settings: None,
            maps: None,
            false_alarm_rate: None,
            run_data: None,
        }
    }
}

/// Where [`score_dataset`] draws each image with its anomaly map.
#[derive(Clone, Copy, Debug)]
pub struct MapsOutput<'a> {
    /// A new or empty folder; each image becomes `<part>-<index>.png` there.
    pub dir: &'a Path,
    /// How the maps are post-processed.
    pub options: run::MapOptions,
}

/// Check, before any work, where `oddity score` writes: the score table at `output` neither
/// over the data set nor over the settings file or the run's moved data it reads, and neither
/// it nor the `maps` folder inside the run folder ([`crate::io::check_output_file`],
/// [`crate::io::check_outside_run`]).
pub fn check_score_outputs(
    run_dir: &Path,
    data: &DatasetSpec,
    options: &ScoreOptions,
    output: &Path,
) -> crate::Result<()> {
    let maps = options.maps.map(|m| m.dir);
    let inputs: Vec<&Path> = std::iter::once(data.path.as_path())
        .chain(options.settings)
        .chain(options.run_data)
        .collect();
    crate::io::check_outside_run("--output", output, run_dir)?;
    // Tables of every version begin so (the p-value column came later).
    crate::io::check_output_file("--output", output, &inputs, |start| {
        start.starts_with(b"index,split,split_index,score,")
    })?;
    if let Some(maps) = maps {
        crate::io::check_outside_run("--maps", maps, run_dir)?;
        let inside = |path: &Path| std::path::absolute(path).ok();
        if let (Some(table), Some(folder)) = (inside(output), inside(maps)) {
            anyhow::ensure!(
                !table.starts_with(&folder),
                "--output {} is the --maps folder {} or inside it: give the table another name",
                output.display(),
                maps.display()
            );
        }
    }
    Ok(())
}

/// New data to score that has no labels: a CSV table without its label column. Its rows are
/// scored with an empty label.
fn unlabelled_table(data: &DatasetSpec) -> crate::Result<Option<crate::data::LabelledSet>> {
    if data.kind != DatasetKind::Csv {
        return Ok(None);
    }
    let label = data.label_column.as_deref().unwrap_or("label");
    if crate::data::csv_table::has_column(&data.path, label)? {
        return Ok(None);
    }
    crate::data::csv_table::load_unlabelled(&data.path).map(Some)
}

/// `data` with the label column of the run's training table `trained_on` when `data` is a
/// table that names none.
fn with_runs_label_column(data: &DatasetSpec, trained_on: &DatasetSpec) -> DatasetSpec {
    let mut data = data.clone();
    if data.kind == DatasetKind::Csv
        && trained_on.kind == DatasetKind::Csv
        && data.label_column.is_none()
    {
        data.label_column = trained_on.label_column.clone();
    }
    data
}

/// Score the `split` of the data set `data` with the run in `run_dir` as `options` say,
/// labelling each sample by the run's protocol, giving its conformal p-value, and flagging
/// those at or above the run's threshold (or at p ≤ the false-alarm rate). With `maps`, each
/// image is also drawn with its map ([`crate::report::overlays`]; heat scale from 0 to twice the
/// pixel threshold: the one training stored, or, for smoothed maps or other settings, one taken
/// from the run's validation images, so the run's data must be where run.json says or where
/// `run_data` names).
pub fn score_dataset(
    run_dir: &Path,
    data: &DatasetSpec,
    split: ScoreSplit,
    options: ScoreOptions,
    device: &Device,
) -> crate::Result<ScoreTable> {
    let ScoreOptions {
        checkpoint,
        settings,
        maps,
        false_alarm_rate,
        run_data,
    } = options;
    crate::validate::validate_dataset(data)?;
    if let Some(alpha) = false_alarm_rate {
        crate::conformal::check_alpha(alpha).context("--false-alarm-rate")?;
    }
    if let Some(m) = &maps {
        check_map_options(m.options)?;
        check_empty_folder(m.dir)?;
    }
    let mut run = Run::load(run_dir)?;
    check_scored_form(&run, data.kind)?;
    let needed_for = run_split_needed_for(&run, checkpoint, settings, maps, false_alarm_rate);
    if let Some(path) = run_data {
        anyhow::ensure!(
            needed_for.is_some(),
            "--run-data: this scoring does not read the run's own data set (only --model-config, \
             --maps with --smooth or on a run without stored pixel thresholds, and \
             --false-alarm-rate on a run without calibration.json do): leave it out"
        );
        run.relocate_data(path).context("--run-data")?;
    }
    // A table is read with the run's own label column unless another is named; without that
    // column (and none named) its rows are new, unlabelled data.
    let named_label = data.label_column.is_some();
    let data = &with_runs_label_column(data, &run.config.dataset);
    let unlabelled = match named_label {
        true => None,
        false => unlabelled_table(data)?,
    };
    let unlabelled_rows = unlabelled.is_some();
    if let (Some(expected), Some(found)) = (&run.feature_names, source::feature_names(data)?) {
        crate::data::csv_table::check_same_columns(
            expected,
            &found,
            &data.path.display().to_string(),
        )?;
    }
    let detector = scoring_detector(&mut run, checkpoint, settings, device)?;
    // The run's own split, checked (or loaded, where it is scored here) before the new data
    // are read; only the calibration of an old run is loaded later, by its verdict.
    let run_valid = match needed_for {
        Some((what, load)) => run_validation_split(&run, what, run_data.is_some(), load)?,
        None => None,
    };
    let source = match unlabelled {
        Some(set) => source::DataSource {
            train: set,
            test: None,
            test_every_anomaly: false,
        },
        None => source::load(data)?,
    };
    let mut parts = Vec::new();
    if split != ScoreSplit::Test {
        parts.push((Part::Train, &source.train));
    }
    match (&source.test, split) {
        (Some(test), ScoreSplit::All | ScoreSplit::Test) => parts.push((Part::Test, test)),
        (None, ScoreSplit::Test) => bail!("this data set has no test split"),
        _ => {}
    }
    if !unlabelled_rows {
        for (_, set) in &parts {
            (run.config.protocol.check_labels(set))
                .with_context(|| format!("{}", data.path.display()))?;
        }
    }
    refit_for_settings(
        &mut run,
        detector.as_ref(),
        checkpoint,
        settings,
        run_valid.as_ref(),
    )?;
    let verdict = Verdict::of(&run, checkpoint, detector.as_ref(), false_alarm_rate)?;
    let threshold = verdict.threshold;
    let pixel_threshold = match &maps {
        Some(m) => {
            let t = match &run_valid {
                Some(valid) => run::pixel_threshold(&run, detector.as_ref(), valid, m.options)?,
                None => (run.calibration.as_ref()).and_then(|c| c.pixel_threshold(checkpoint)),
            };
            let t = t.context("this model draws no anomaly maps (--maps)")?;
            // Created only once the maps can be drawn: a refusal leaves nothing behind.
            std::fs::create_dir_all(m.dir)
                .with_context(|| format!("cannot create {}", m.dir.display()))?;
            Some(t)
        }
        None => None,
    };
    let mut rows = Vec::new();
    for (part, set) in parts {
        let labels: Vec<Option<u8>> = match unlabelled_rows {
            true => vec![None; set.len()],
            false => (set.classes.iter())
                .map(|&c| run.config.protocol.label_of(set, c))
                .collect(),
        };
        let mut samples = Samples::empty(set.shape);
        let split_code = match part {
            Part::Train => 0,
            Part::Test => 1,
        };
        for (i, label) in labels.iter().enumerate() {
            samples.push_from(set, split_code, i, label.unwrap_or(0));
        }
        // Every sample of the set, in order: a scene stays a scene.
        samples.layout = set.layout;
        let scores = run::score_raw(&run, detector.as_ref(), &samples)?;
        if let (Some(m), Some(t)) = (&maps, pixel_threshold) {
            draw_maps(&run, detector.as_ref(), &samples, &scores, part, m, t)?;
        }
        rows.extend(
            scores
                .into_iter()
                .zip(labels)
                .enumerate()
                .map(|(index, (score, label))| ScoredSample {
                    part,
                    index,
                    score,
                    label,
                    flagged: score as f64 >= threshold,
                    p_value: verdict.calibration.as_ref().map(|c| c.p_value(score)),
                }),
        );
    }
    Ok(ScoreTable { rows, threshold })
}

/// Why scoring needs the run's own validation split again, if it does, and whether it is
/// scored here (`true`: the threshold's refit under other `settings`, the `maps`' pixel
/// threshold unless `calibration.json` stores it for unsmoothed maps under the run's own
/// settings) or only by the verdict (`false`: the conformal calibration behind a
/// `false_alarm_rate` for a run older than `calibration.json`).
fn run_split_needed_for(
    run: &Run,
    checkpoint: Checkpoint,
    settings: Option<&Path>,
    maps: Option<MapsOutput>,
    false_alarm_rate: Option<f64>,
) -> Option<(&'static str, bool)> {
    let calibration = run.calibration.as_ref();
    let stored_pixels = maps.is_some_and(|m| m.options.smooth_sigma.is_none())
        && calibration
            .and_then(|c| c.pixel_threshold(checkpoint))
            .is_some();
    let calibrated = calibration.is_some_and(|c| !c.of(checkpoint).is_empty());
    if settings.is_some() {
        Some(("refitting the threshold under --model-config", true))
    } else if maps.is_some() && !stored_pixels {
        Some(("the maps' pixel threshold", true))
    } else if false_alarm_rate.is_some() && !calibrated {
        Some(("the calibration behind --false-alarm-rate", false))
    } else {
        None
    }
}

/// The run's validation split, needed for `what`: loaded (`load`), or only checked to be
/// there; the error says where it was looked for, and, unless the data were `moved` already,
/// how to name a new place.
fn run_validation_split(
    run: &Run,
    what: &str,
    moved: bool,
    load: bool,
) -> crate::Result<Option<Samples>> {
    let hint = |e: anyhow::Error| {
        let place = run.config.dataset.path.display();
        e.context(match moved {
            true => format!("{what} needs the run's validation split, from --run-data {place}"),
            false => format!(
                "{what} needs the run's validation split, loaded again from its data set \
                 ({place}): if the data set moved, name its new place (--run-data)"
            ),
        })
    };
    if !load {
        source::check_present(&run.config.dataset).map_err(hint)?;
        return Ok(None);
    }
    Ok(Some(run.load_split().map_err(hint)?.valid))
}

/// What turns a score into a verdict: the threshold, and the calibration behind p-values.
#[derive(Clone, Debug)]
pub struct Verdict {
    /// Scores at or above it are flagged.
    pub threshold: f64,
    /// The conformal calibration, where the run has one (or one was needed).
    pub calibration: Option<crate::conformal::Calibration>,
}

impl Verdict {
    /// The verdict of `run`'s `checkpoint` scored by `detector`: its threshold, or with
    /// `false_alarm_rate` the conformal one; p-values where the run saved its calibration or
    /// the rate needs one (then recomputed from the run's validation split).
    pub fn of(
        run: &Run,
        checkpoint: Checkpoint,
        detector: &dyn AnyDetector,
        false_alarm_rate: Option<f64>,
    ) -> crate::Result<Verdict> {
        let calibration = match (&run.calibration, false_alarm_rate) {
            (None, None) => None,
            _ => Some(run.calibration(checkpoint, detector)?),
        };
        let threshold = match (false_alarm_rate, &calibration) {
            (Some(alpha), Some(c)) => c.threshold(alpha).context("--false-alarm-rate")?,
            _ => run.thresholds.of(checkpoint).value,
        };
        Ok(Verdict {
            threshold,
            calibration,
        })
    }
}

/// Refuse data of a form the run cannot score, from the data set's kind before any of it is
/// read: images for a run trained on rows, rows for one trained on images, or a form its model
/// does not take (local RX scores whole scenes only). A table's rows and a scene's pixels may
/// stand for each other (the same bands as columns); arrays in memory are told by their shape.
fn check_scored_form(run: &Run, data: DatasetKind) -> crate::Result<()> {
    let Some(given) = data.form() else {
        return Ok(());
    };
    let model = &run.config.model;
    let trained_on = run.config.dataset.kind;
    let images = |form: DataForm| form == DataForm::Images;
    if let Some(trained) = trained_on.form()
        && images(trained) != images(given)
    {
        bail!(
            "this run's {} was trained on {} ({trained_on}), and {data} data are {}: score data \
             of the form it was trained on",
            model.name(),
            trained.describe(),
            given.describe()
        );
    }
    anyhow::ensure!(
        model.takes().contains(&given),
        "this run's {} scores {}, and {data} data are {}",
        model.name(),
        DataForm::describe_all(model.takes()),
        given.describe()
    );
    Ok(())
}

/// A smoothing σ must be a positive number of pixels, at most 64.
fn check_map_options(options: run::MapOptions) -> crate::Result<()> {
    if let Some(sigma) = options.smooth_sigma {
        anyhow::ensure!(
            sigma.is_finite() && sigma > 0.0 && sigma <= 64.0,
            "--smooth must be a σ in pixels in (0, 64], got {sigma}"
        );
    }
    Ok(())
}

/// Accept `dir` only new or empty: maps never overwrite a user's files.
fn check_empty_folder(dir: &Path) -> crate::Result<()> {
    if dir.exists() {
        let mut entries = std::fs::read_dir(dir)
            .with_context(|| format!("--maps {}: cannot list it", dir.display()))?;
        anyhow::ensure!(
            entries.next().is_none(),
            "--maps {}: the folder is not empty; give a new or empty one",
            dir.display()
        );
    }
    Ok(())
}

/// Draw each of `samples` with its map into `maps.dir` as `<part>-<index>.png`.
fn draw_maps(
    run: &Run,
    detector: &dyn AnyDetector,
    samples: &Samples,
    scores: &[f32],
    part: Part,
    maps: &MapsOutput,
    pixel_threshold: f64,
) -> crate::Result<()> {
    let Some(shape) = samples.shape.image_dims() else {
        bail!(
            "--maps draws images, but the data set holds {}",
            samples.shape
        );
    };
    let scale = (0.0, (2.0 * pixel_threshold).max(f64::EPSILON) as f32);
    run::for_each_raw_map(run, detector, samples, maps.options, |i, map, _, _| {
        let picture = run::MapPicture {
            name: format!("{}-{i}", part.name()),
            image: samples.sample(i).to_vec(),
            shape,
            map: map.to_vec(),
            mask: samples
                .mask(i)
                .filter(|m| m.first() != Some(&crate::data::UNKNOWN_PIXEL))
                .map(<[u8]>::to_vec),
            score: scores[i],
            label: samples.labels[i],
        };
        let path = maps.dir.join(format!("{}.png", picture.name));
        crate::report::overlays::render(&picture, scale, pixel_threshold)
            .save(&path)
            .with_context(|| format!("cannot write {}", path.display()))
    })?;
    Ok(())
}

/// How the threshold of [`metrics_of_scores`] is chosen.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ThresholdChoice {
    /// This value.
    Fixed(f64),
    /// This percentile (0–100) of the file's own scores (transductive: it sees the scored set,
    /// not its labels).
    ScorePercentile(f64),
    /// The threshold of the best F1 on the file's labels (an oracle: it sees the labels).
    BestF1,
}

/// Metrics of a score file.
#[derive(Clone, Debug)]
pub struct ScoreFileMetrics {
    /// The metrics at the chosen threshold.
    pub metrics: Metrics,
    /// The threshold used.
    pub threshold: f64,
    /// The best F1 over all thresholds.
    pub best_f1: f64,
}

/// AUROC & co. of a CSV with columns `score` and `label` (1 = anomaly), at the threshold
/// `choice` gives.
pub fn metrics_of_scores(path: &Path, choice: ThresholdChoice) -> crate::Result<ScoreFileMetrics> {
    match choice {
        ThresholdChoice::Fixed(t) => {
            anyhow::ensure!(
                t.is_finite(),
                "--threshold must be a finite number, got {t}"
            );
        }
        ThresholdChoice::ScorePercentile(p) => {
            crate::validate::in_range("--score-percentile", p, 0.0, 100.0, false)?;
        }
        ThresholdChoice::BestF1 => {}
    }
    let (scores, labels) = report::read_scores_csv(path)?;
    let (best_f1, best_threshold) = crate::metrics::best_f1(&scores, &labels)?;
    let threshold = match choice {
        ThresholdChoice::Fixed(t) => t,
        ThresholdChoice::ScorePercentile(p) => {
            let values: Vec<f64> = scores.iter().map(|&s| s as f64).collect();
            crate::threshold::percentile_of(&values, p)
        }
        ThresholdChoice::BestF1 => best_threshold,
    };
    Ok(ScoreFileMetrics {
        metrics: crate::metrics::compute(&scores, &labels, threshold)?,
        threshold,
        best_f1,
    })
}

/// The demo's configuration: GANomaly on the bundled MNIST subset with digit 0 as the anomaly,
/// `epochs` epochs.
pub fn demo_config(seed: u64, epochs: usize) -> crate::Result<RunConfig> {
    let mut config = RunConfig::new(
        ModelConfig::default_for("ganomaly")?,
        DatasetSpec::new(DatasetKind::BuiltinMnist, "builtin"),
        Protocol::LeaveOneOut { class: "0".into() },
        seed,
    )?;
    config.train.epochs = epochs;
    config.train.progress = true;
    Ok(config)
}

/// Check the demo's settings and claim `out` for it: an empty folder or an earlier demo there
/// is replaced (once the new one is complete), another run only when `force`; a folder oddity
/// did not write, never.
pub fn prepare_demo(
    seed: u64,
    epochs: usize,
    out: &Path,
    force: bool,
) -> crate::Result<PreparedTraining> {
    let config = demo_config(seed, epochs)?;
    let empty = std::fs::read_dir(out).is_ok_and(|mut entries| entries.next().is_none());
    let replace = force || empty || is_demo_run(out, &config);
    prepare_training(config, out, Leave::force(replace))
}

/// Whether `dir` holds an earlier `oddity demo`: a run of the demo's model, data and protocol
/// (its seed and epochs may differ).
fn is_demo_run(dir: &Path, demo: &RunConfig) -> bool {
    let Ok(file) = crate::io::read_json::<serde_json::Value>(&dir.join("run.json")) else {
        return false;
    };
    let (Ok(dataset), Ok(protocol)) = (
        serde_json::to_value(&demo.dataset),
        serde_json::to_value(&demo.protocol),
    ) else {
        return false;
    };
    file["model"]["model"] == demo.model.name()
        && file["dataset"] == dataset
        && file["protocol"] == protocol
}

/// Train the demo prepared in `prepared` (its folder is its own: an earlier demo there is
/// replaced), then evaluate its last weights and write the report to `OUT/eval-last`.
pub fn run_demo(prepared: PreparedTraining, device: &Device) -> crate::Result<EvaluationReport> {
    anyhow::ensure!(
        !prepared.resume,
        "the demo trains afresh; it does not resume a stopped training"
    );
    let split = &prepared.split;
    let mut trained = run::train_on(prepared.config.clone(), split, device)?;
    let dir = trained.save_into(prepared.staging)?;
    let mut evaluation = run::evaluate_on_test(
        &trained.run,
        trained.detector.as_ref(),
        Checkpoint::Last,
        &split.test,
    )?;
    evaluation.class_names = split.class_names.clone();
    let out = dir.join("eval-last");
    let report = report::write_evaluation(&out, &trained.run, &evaluation)?;
    Ok(EvaluationReport { out, report })
}

/// The first line of the table `oddity score` writes.
const SCORE_TABLE_HEADER: &str = "index,split,split_index,score,label,flagged,p_value";

/// Write a [`ScoreTable`] as CSV: `index,split,split_index,score,label,flagged,p_value`
/// (`p_value` empty where the run has no calibration).
pub fn write_score_table(path: &Path, table: &ScoreTable) -> crate::Result<()> {
    crate::io::write_atomic_with(path, |w| {
        writeln!(w, "{SCORE_TABLE_HEADER}")?;
        for (n, row) in table.rows.iter().enumerate() {
            let label = row.label.map(|l| l.to_string()).unwrap_or_default();
            let p_value = row.p_value.map(|p| p.to_string()).unwrap_or_default();
            writeln!(
                w,
                "{n},{},{},{},{label},{},{p_value}",
                row.part.name(),
                row.index,
                row.score,
                row.flagged as u8
            )?;
        }
        Ok(())
    })
}
