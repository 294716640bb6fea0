//! `oddity._native`: the library's train, score and map functions for the Python package
//! (`python/oddity/`, which gives them PyOD's interface). Arrays cross as little-endian `f32`
//! bytes with their shape; every error is a Python `ValueError` naming the problem.

use oddity::conformal::Calibration;
use oddity::data::SampleShape;
use oddity::models::{AnyDetector, ModelConfig};
use oddity::run::{self, Checkpoint, Run};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

fn value_error(e: anyhow::Error) -> PyErr {
    PyValueError::new_err(in_python_terms(&format!("{e:#}")))
}

/// The Python keyword that carries each command-line option a core error reaching Python may
/// name (`oddity.train`'s, `oddity.ood.train`'s, `is_out_of_distribution`'s). The core's
/// messages are written for the command line; options with no Python argument (`--tile`,
/// `--patience`) are left as they are, and so is `--validation-fraction`, whose keyword
/// (`validation_size`) only the detectors' constructor has.
const PYTHON_NAMES: &[(&str, &str)] = &[
    ("--class", "class_name"),
    ("--classes", "classes"),
    ("--classifier-config", "classifier"),
    ("--contamination", "contamination"),
    ("--data", "data"),
    ("--dataset", "dataset"),
    ("--decode-size", "decode_size"),
    ("--epochs", "epochs"),
    ("--false-alarm-rate", "false_alarm_rate"),
    ("--generative-config", "generative"),
    ("--max-train", "max_train"),
    ("--model", "model"),
    ("--model-config", "model_config"),
    ("--out", "out"),
    ("--protocol", "protocol"),
    ("--score", "score"),
    ("--seed", "random_state"),
    ("--validation", "validation"),
];

/// `message` with each command-line option it names written as the Python keyword of
/// [`PYTHON_NAMES`] (`--class` as `class_name`), so that a Python user reads the argument
/// they gave. An option is a whole word at the start or after whitespace or `(` (`--classes`
/// is not `--class`; neither a path's `a--data` nor a quoted `"--out"` is an option), and
/// text between backticks (a command line to run) is kept whole.
fn in_python_terms(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut in_code = false;
    let mut rest = message;
    while let Some(c) = rest.chars().next() {
        let starts_word = out
            .chars()
            .next_back()
            .is_none_or(|p| p.is_whitespace() || p == '(');
        if !in_code && starts_word && rest.starts_with("--") {
            let len = rest[2..]
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
                .map_or(rest.len(), |end| end + 2);
            let (option, after) = rest.split_at(len);
            match PYTHON_NAMES.iter().find(|(name, _)| *name == option) {
                Some((_, keyword)) => out.push_str(keyword),
                None => out.push_str(option),
            }
            rest = after;
            continue;
        }
        in_code ^= c == '`';
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// Leave to replace a run folder as Python gives it (`replace=True`), named in refusals.
fn leave(replace: bool) -> oddity::run::folder::Leave {
    oddity::run::folder::Leave {
        given: replace,
        how: "replace=True",
    }
}

/// `f32` values from little-endian bytes.
fn floats(bytes: &[u8]) -> PyResult<Vec<f32>> {
    if bytes.len() % 4 != 0 {
        return Err(PyValueError::new_err(
            "array bytes must be float32 values (a multiple of 4 bytes)",
        ));
    }
    Ok(bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

/// The shape of one sample: `[features]` or `[channels, height, width]`.
fn sample_shape(shape: &[usize]) -> PyResult<SampleShape> {
    match *shape {
        [features] if features > 0 => Ok(SampleShape::Table { features }),
        [channels, height, width] if channels > 0 && height > 0 && width > 0 => {
            Ok(SampleShape::Image {
                channels,
                height,
                width,
            })
        }
        _ => Err(PyValueError::new_err(format!(
            "a sample must be a row of features or a channels × height × width image, got \
             shape {shape:?}"
        ))),
    }
}

fn shape_list(shape: SampleShape) -> Vec<usize> {
    match shape {
        SampleShape::Table { features } => vec![features],
        SampleShape::Image {
            channels,
            height,
            width,
        } => vec![channels, height, width],
    }
}

/// A trained detector: a run (in memory or loaded from its folder) and its network.
#[pyclass(unsendable)]
struct Model {
    run: Run,
    detector: Box<dyn AnyDetector>,
    checkpoint: Checkpoint,
    /// The trained weights and split of a fit in memory, for [`Model::save`].
    unsaved: Option<(oddity::train::Checkpoints, String)>,
}

impl Model {
    /// Raw samples of the run's input shape from `values`.
    fn samples(&self, values: Vec<f32>) -> PyResult<oddity::data::Samples> {
        let shape = self.run.preprocessor.input;
        let width = shape.len();
        if values.len() % width != 0 {
            return Err(PyValueError::new_err(format!(
                "{} values do not make whole samples of {shape}; the model takes samples of {shape}",
                values.len()
            )));
        }
        if let Some(i) = values.iter().position(|v| !v.is_finite()) {
            return Err(PyValueError::new_err(format!(
                "sample {} value {} is {}: every value must be finite",
                i / width,
                i % width,
                values[i]
            )));
        }
        Ok(oddity::data::Samples::unlabelled(shape, values))
    }

    fn calibration(&self) -> Option<Calibration> {
        let scores = self.run.calibration.as_ref()?.of(self.checkpoint);
        Calibration::new(scores).ok()
    }
}

#[pymethods]
impl Model {
    /// Anomaly scores of samples given as float32 bytes in the model's raw input units.
    fn score(&self, data: &[u8]) -> PyResult<Vec<f32>> {
        let samples = self.samples(floats(data)?)?;
        run::score_raw(&self.run, self.detector.as_ref(), &samples).map_err(value_error)
    }

    /// Anomaly maps of images: `(values, height, width)`, one `height × width` map per image at
    /// its input resolution; an error for models without maps.
    fn maps(&self, data: &[u8]) -> PyResult<(Vec<f32>, usize, usize)> {
        let samples = self.samples(floats(data)?)?;
        let mut out = Vec::new();
        let mut size = (0, 0);
        let drawn = run::for_each_raw_map(
            &self.run,
            self.detector.as_ref(),
            &samples,
            run::MapOptions::default(),
            |_, map, h, w| {
                out.extend_from_slice(map);
                size = (h, w);
                Ok(())
            },
        )
        .map_err(value_error)?;
        if !drawn {
            return Err(PyValueError::new_err(format!(
                "the {} model draws no anomaly maps (or the samples are not images)",
                self.run.config.model.name()
            )));
        }
        Ok((out, size.0, size.1))
    }

    /// Conformal p-values of `scores` against the run's normal validation scores.
    fn p_values(&self, scores: Vec<f32>) -> PyResult<Vec<f64>> {
        let calibration = self.calibration().ok_or_else(|| {
            PyValueError::new_err("this run has no calibration scores (calibration.json)")
        })?;
        Ok(scores.iter().map(|&s| calibration.p_value(s)).collect())
    }

    /// The score threshold that flags p-value ≤ `alpha`.
    fn false_alarm_threshold(&self, alpha: f64) -> PyResult<f64> {
        let calibration = self.calibration().ok_or_else(|| {
            PyValueError::new_err("this run has no calibration scores (calibration.json)")
        })?;
        calibration.threshold(alpha).map_err(value_error)
    }

    /// The run's own threshold (its rule on the validation scores).
    #[getter]
    fn threshold(&self) -> f64 {
        self.run.thresholds.of(self.checkpoint).value
    }

    /// The raw input shape of one sample.
    #[getter]
    fn input_shape(&self) -> Vec<usize> {
        shape_list(self.run.preprocessor.input)
    }

    /// Whether the run's samples are pixels 0–255 as image files hold them (a run trained on
    /// images read from disk), rather than arrays in the units a program gave them.
    #[getter]
    fn pixels_from_files(&self) -> bool {
        self.run.config.dataset.kind.holds_images()
    }

    /// The model's name.
    #[getter]
    fn model(&self) -> String {
        self.run.config.model.name().to_string()
    }

    /// The training log as JSON.
    fn train_log_json(&self) -> PyResult<String> {
        serde_json::to_string(&self.run.log).map_err(|e| value_error(e.into()))
    }

    /// Write the run folder to `dir` (which must not exist, unless `replace` and it holds a
    /// run), so that `oddity score`, `oddity serve` and `oddity.load` can use it; with
    /// `threshold`, the run's threshold becomes that fixed value (the fit's `threshold_`).
    #[pyo3(signature = (dir, threshold=None, replace=false))]
    fn save(&mut self, dir: PathBuf, threshold: Option<f64>, replace: bool) -> PyResult<()> {
        let Some((checkpoints, split_csv)) = &self.unsaved else {
            return Err(PyValueError::new_err(
                "this model was loaded from a run folder, which already holds it",
            ));
        };
        if let Some(value) = threshold {
            if !value.is_finite() {
                return Err(PyValueError::new_err(format!(
                    "threshold {value} must be finite"
                )));
            }
            let rule = oddity::threshold::ThresholdRule::Fixed { value };
            let fixed = oddity::threshold::Threshold { rule, value };
            self.run.config.threshold_rule = rule;
            self.run.thresholds = run::Thresholds {
                best: fixed,
                last: fixed,
            };
        }
        let existing = oddity::run::folder::Existing::run(
            oddity::run::folder::DETECTOR_RUN_FILE,
            leave(replace),
        );
        let staging = oddity::run::folder::Staging::begin(&dir, existing).map_err(value_error)?;
        run::save_run(&mut self.run, checkpoints, split_csv, staging).map_err(value_error)?;
        Ok(())
    }
}

/// Train `model` (an oddity model name) on samples given as float32 bytes of `shape` each,
/// with `settings` (a JSON object of hyper-parameters, may be empty).
#[pyfunction]
#[pyo3(signature = (model, data, shape, settings, seed, epochs, batch_size, validation_fraction, scaling, verbose))]
#[allow(clippy::too_many_arguments)]
fn fit(
    py: Python<'_>,
    model: &str,
    data: &[u8],
    shape: Vec<usize>,
    settings: &str,
    seed: u64,
    epochs: Option<usize>,
    batch_size: Option<usize>,
    validation_fraction: f64,
    scaling: Option<&str>,
    verbose: bool,
) -> PyResult<Model> {
    let shape = sample_shape(&shape)?;
    let config = model_config(model, settings)?;
    let options = oddity::jobs::FitOptions {
        seed,
        epochs,
        batch_size,
        validation_fraction,
        scaling: scaling.map(str::parse).transpose().map_err(value_error)?,
        progress: verbose,
    };
    let device = oddity::device::parse("cpu").map_err(value_error)?;
    let values = floats(data)?;
    let trained = interruptible(py, |stop| {
        oddity::jobs::fit_arrays(config, values, shape, &options, &device, Some(stop))
    })?
    .map_err(value_error)?;
    Ok(Model {
        run: trained.run,
        detector: trained.detector,
        checkpoint: Checkpoint::Last,
        unsaved: Some((trained.checkpoints, trained.split_csv)),
    })
}

/// Train `model` on a data set on disk under a protocol, as `oddity train` does, into the new
/// run folder `out`; the run loaded with its best weights.
#[pyfunction]
#[pyo3(signature = (model, dataset, data, protocol, class_name, out, settings, seed, epochs, decode_size, contamination, replace, verbose))]
#[allow(clippy::too_many_arguments)]
fn train(
    py: Python<'_>,
    model: &str,
    dataset: &str,
    data: PathBuf,
    protocol: &str,
    class_name: Option<&str>,
    out: PathBuf,
    settings: &str,
    seed: u64,
    epochs: Option<usize>,
    decode_size: Option<u32>,
    contamination: Option<f64>,
    replace: bool,
    verbose: bool,
) -> PyResult<Model> {
    let config = model_config(model, settings)?;
    if !settings.is_empty() {
        let given: oddity::models::Settings =
            serde_json::from_str(settings).map_err(|e| value_error(e.into()))?;
        oddity::models::check_options_agree(&given, &[("epochs", "epochs", epochs)])
            .map_err(value_error)?;
    }
    let spec = oddity::data::source::DatasetSpec {
        image_size: decode_size,
        ..oddity::data::source::DatasetSpec::new(dataset.parse().map_err(value_error)?, data)
    };
    let protocol =
        oddity::data::protocol::Protocol::parse(protocol, class_name).map_err(value_error)?;
    let mut config = run::RunConfig::new(config, spec, protocol, seed).map_err(value_error)?;
    if let Some(e) = epochs {
        config.train.epochs = e;
    }
    config.split.contamination = contamination;
    config.train.progress = verbose;
    let device = oddity::device::parse("cpu").map_err(value_error)?;
    let prepared =
        oddity::jobs::prepare_training(config, &out, leave(replace)).map_err(value_error)?;
    match interruptible(py, |stop| prepared.run(&device, Some(stop)))?.map_err(value_error)? {
        oddity::jobs::TrainOutcome::Saved { dir, .. } => load(dir, "best"),
        oddity::jobs::TrainOutcome::Stopped { reason, .. } => {
            Err(PyValueError::new_err(in_python_terms(&reason)))
        }
    }
}

/// Run `work` on a thread of its own while this one waits with the GIL released, looking at
/// Python's signals between waits: Ctrl-C (a `KeyboardInterrupt`, also a notebook's interrupt)
/// raises the flag `work` is handed, which the training loop checks after each step; once
/// `work` has ended, the interrupt is raised in Python. A training never checks Python's
/// signals itself, so without this Ctrl-C waited for the training's end.
fn interruptible<T: Send>(
    py: Python<'_>,
    work: impl FnOnce(&AtomicBool) -> T + Send,
) -> PyResult<T> {
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let worker = scope.spawn(|| work(&stop));
        let mut interrupt = None;
        while !worker.is_finished() {
            py.detach(|| std::thread::sleep(std::time::Duration::from_millis(50)));
            if interrupt.is_none() {
                if let Err(signal) = py.check_signals() {
                    stop.store(true, Ordering::SeqCst);
                    interrupt = Some(signal);
                }
            }
        }
        let result = worker
            .join()
            .map_err(|_| PyRuntimeError::new_err("the training thread panicked"))?;
        match interrupt {
            Some(signal) => Err(signal),
            None => Ok(result),
        }
    })
}

/// The configuration of `model` with the hyper-parameters of the JSON object `settings`.
fn model_config(model: &str, settings: &str) -> PyResult<ModelConfig> {
    let overrides: oddity::models::Settings =
        serde_json::from_str(if settings.is_empty() { "{}" } else { settings }).map_err(|e| {
            PyValueError::new_err(format!("model settings must be a JSON object: {e}"))
        })?;
    ModelConfig::defaults_for_file(model, &overrides)
        .and_then(|base| base.with_settings(&overrides, std::path::Path::new("model settings")))
        .map_err(value_error)
}

/// Load the run folder `dir` with the weights of `checkpoint` (`best` or `last`).
#[pyfunction]
fn load(dir: PathBuf, checkpoint: &str) -> PyResult<Model> {
    let checkpoint: Checkpoint = checkpoint.parse().map_err(value_error)?;
    let run = Run::load(&dir).map_err(value_error)?;
    let device = oddity::device::parse("cpu").map_err(value_error)?;
    let detector = run.detector(checkpoint, &device).map_err(value_error)?;
    Ok(Model {
        run,
        detector,
        checkpoint,
        unsaved: None,
    })
}

/// A trained out-of-distribution run (`oddity ood train`), loaded: its classifier, every OOD
/// score, and verdicts calibrated on its validation images' scores (stored by training, or
/// scored once, on first use, for a run trained before they were stored).
#[pyclass(unsendable)]
struct OodModel {
    run: oddity::ood::OodRun,
    device: oddity::device::Device,
    /// Every score of the validation images, once computed.
    calibration: Option<Vec<Vec<f32>>>,
}

impl OodModel {
    /// Images of the run's shape from float32 bytes of 0–255 pixels (as image files hold
    /// them), read as the OOD job reads images: `[0, 1]`.
    fn images(&self, data: &[u8]) -> PyResult<oddity::ood::data::Images> {
        let mut values = floats(data)?;
        let d: usize = self.run.summary.image.iter().product();
        if values.is_empty() || values.len() % d != 0 {
            return Err(PyValueError::new_err(format!(
                "{} values do not make whole images of {:?}",
                values.len(),
                self.run.summary.image
            )));
        }
        oddity::ood::data::to_unit(&mut values, "images").map_err(value_error)?;
        let n = values.len() / d;
        Ok(oddity::ood::data::Images {
            values,
            labels: vec![0; n],
            origin: (0..n as u32).collect(),
        })
    }
}

#[pymethods]
impl OodModel {
    /// Each image's predicted class index.
    fn classes(&self, data: &[u8]) -> PyResult<Vec<usize>> {
        let images = self.images(data)?;
        Ok(oddity::ood::predicted_classes(
            &self.run.scoring,
            &images,
            &self.device,
        ))
    }

    /// `(classes, scores)`: each image's predicted class index, and every score's column in
    /// `score_names` order.
    fn score(&self, data: &[u8]) -> PyResult<(Vec<usize>, Vec<Vec<f32>>)> {
        let images = self.images(data)?;
        let classes = oddity::ood::predicted_classes(&self.run.scoring, &images, &self.device);
        let scores =
            oddity::ood::score_images(&self.run, &images, &self.device).map_err(value_error)?;
        Ok((classes, scores))
    }

    /// `(p_values, out_of_distribution)` of `score` at `false_alarm_rate`, calibrated on the
    /// run's validation images.
    fn verdicts(
        &mut self,
        data: &[u8],
        score: &str,
        false_alarm_rate: f64,
    ) -> PyResult<(Vec<f64>, Vec<bool>)> {
        use oddity::ood::verdicts;
        verdicts::check_request(&self.run, score, false_alarm_rate, None).map_err(value_error)?;
        let images = self.images(data)?;
        if self.calibration.is_none() {
            let scores = (self.run)
                .calibration_scores(&self.device)
                .map_err(value_error)?;
            self.calibration = Some(scores);
        }
        let calibration = self.calibration.as_deref().expect("computed above");
        let v = verdicts::verdicts_of(
            &self.run,
            &images,
            None,
            calibration,
            score,
            false_alarm_rate,
            &self.device,
        )
        .map_err(value_error)?;
        Ok(v.rows
            .iter()
            .map(|r| (r.p_value, r.out_of_distribution))
            .unzip())
    }

    /// The classifier's classes.
    #[getter]
    fn class_names(&self) -> Vec<String> {
        self.run.summary.class_names.clone()
    }

    /// The scores' names, in the order `score` returns them.
    #[getter]
    fn score_names(&self) -> Vec<String> {
        self.run
            .score_names()
            .iter()
            .map(|n| n.to_string())
            .collect()
    }

    /// One image's shape `[channels, height, width]`.
    #[getter]
    fn image_shape(&self) -> Vec<usize> {
        self.run.summary.image.to_vec()
    }

    /// The classifier's test accuracy.
    #[getter]
    fn test_accuracy(&self) -> f64 {
        self.run.summary.test_accuracy
    }
}

/// Train an OOD run as `oddity ood train` does: a classifier of the labelled images of
/// `dataset` at `data` (`classes` of them, all when empty), into the new run folder `out`;
/// `classifier` and `generative` are JSON settings over the defaults (`generative` `None`: no
/// generative scores; `"{}"`: their defaults). The run loaded.
#[pyfunction]
#[pyo3(signature = (dataset, data, out, classes, classifier, validation, max_train, seed, generative, decode_size, replace))]
#[allow(clippy::too_many_arguments)]
fn ood_train(
    py: Python<'_>,
    dataset: &str,
    data: PathBuf,
    out: PathBuf,
    classes: Vec<String>,
    classifier: &str,
    validation: usize,
    max_train: Option<usize>,
    seed: u64,
    generative: Option<&str>,
    decode_size: Option<u32>,
    replace: bool,
) -> PyResult<OodModel> {
    use oddity::ood::{ClassifierRequest, OodRequest, data::InSpec};
    let classifier =
        ClassifierRequest::OverDefaults(Some(classifier.to_string()).filter(|t| !t.is_empty()));
    let kind = oddity::data::source::DatasetKind::parse_suggesting(
        dataset,
        oddity::ood::data::IN_DISTRIBUTION_KINDS,
    )
    .map_err(value_error)?;
    let spec = oddity::data::source::DatasetSpec {
        image_size: decode_size,
        ..oddity::data::source::DatasetSpec::new(kind, data)
    };
    let generative = generative
        .map(|text| {
            oddity::ood::generative::GenerativeConfig::with_overrides(
                Some(text).filter(|t| !t.is_empty()),
            )
        })
        .transpose()
        .map_err(value_error)?;
    let data = InSpec {
        data: spec,
        classes,
        validation,
        max_train,
    };
    let request = OodRequest {
        generative,
        ..OodRequest::new(data, classifier, seed)
    };
    let device = oddity::device::parse("cpu").map_err(value_error)?;
    let run = interruptible(py, |stop| {
        oddity::ood::train_until(request, &out, leave(replace), &device, Some(stop))
    })?
    .map_err(value_error)?;
    Ok(OodModel {
        run,
        device,
        calibration: None,
    })
}

/// Load the OOD run folder `dir`.
#[pyfunction]
fn load_ood(dir: PathBuf) -> PyResult<OodModel> {
    let device = oddity::device::parse("cpu").map_err(value_error)?;
    let run = oddity::ood::load(&dir, &device).map_err(value_error)?;
    Ok(OodModel {
        run,
        device,
        calibration: None,
    })
}

/// Every model's name.
#[pyfunction]
fn models() -> Vec<String> {
    oddity::models::registry::all()
        .iter()
        .map(|e| e.info.name.to_string())
        .collect()
}

/// The native module.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Model>()?;
    m.add_class::<OodModel>()?;
    m.add_function(wrap_pyfunction!(load_ood, m)?)?;
    m.add_function(wrap_pyfunction!(ood_train, m)?)?;
    m.add("DEFAULT_OOD_SCORE", oddity::ood::verdicts::DEFAULT_SCORE)?;
    m.add_function(wrap_pyfunction!(fit, m)?)?;
    m.add_function(wrap_pyfunction!(load, m)?)?;
    m.add_function(wrap_pyfunction!(train, m)?)?;
    m.add_function(wrap_pyfunction!(models, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
