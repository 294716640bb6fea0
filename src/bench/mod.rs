//! Speed benchmarks: training and scoring throughput and peak memory of each model's paper
//! configuration, measured in-process on synthetic batches, and the comparison with the PyTorch
//! reference in `bench/reference/` ([`compare`]).
//!
//! Each figure is the median over timed repeats after a warm-up. A repeat runs enough steps to
//! last at least [`SpeedOptions::min_repeat_seconds`], so small models are not timed on a
//! single microsecond step. The values of the synthetic batches do not change the arithmetic;
//! they are drawn from a fixed seed so that every run does the same work.

pub mod compare;

use crate::data::SampleShape;
use crate::models::{AnyDetector, ModelConfig};
use anyhow::Context;
use burn::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// One benchmarked configuration: a model at its paper's settings on inputs of one shape.
#[derive(Clone, Copy, Debug)]
pub struct Case {
    /// Name on the command line and in `speed.json`.
    pub name: &'static str,
    /// Registry name of the model.
    pub model: &'static str,
    /// Hyper-parameters laid over the model's defaults, as `--model-config` JSON (the paper's
    /// settings for this shape where the defaults are another data set's).
    pub settings: Option<&'static str>,
    /// Input shape (after preprocessing).
    pub shape: SampleShape,
    /// What the case stands for.
    pub about: &'static str,
    /// Whether `bench/reference/reference.py` has a PyTorch twin of it (then `bench speed`
    /// times the twin and checks it computes the same function).
    pub has_pytorch_twin: bool,
    /// Scoring batch of this case when not the options' (AnoGAN: every score is a 500-step
    /// search, so a smaller batch keeps the case within minutes).
    pub score_batch: Option<usize>,
    /// One warm-up step and one timed repeat, whatever the options say: for cases whose single
    /// step or score takes tens of seconds on a CPU.
    pub single_repeat: bool,
}

impl Case {
    const fn new(
        name: &'static str,
        model: &'static str,
        shape: SampleShape,
        about: &'static str,
    ) -> Case {
        Case {
            name,
            model,
            settings: None,
            shape,
            about,
            has_pytorch_twin: false,
            score_batch: None,
            single_repeat: false,
        }
    }

    const fn with_single_repeat(self) -> Case {
        Case {
            single_repeat: true,
            ..self
        }
    }

    const fn with_pytorch_twin(self) -> Case {
        Case {
            has_pytorch_twin: true,
            ..self
        }
    }

    const fn with_settings(self, settings: &'static str) -> Case {
        Case {
            settings: Some(settings),
            ..self
        }
    }

    const fn with_score_batch(self, batch: usize) -> Case {
        Case {
            score_batch: Some(batch),
            ..self
        }
    }

    /// The timing options for this case: `options`, or one warm-up and one repeat.
    fn timing(&self, options: &SpeedOptions) -> SpeedOptions {
        if self.single_repeat {
            SpeedOptions {
                warmup_steps: options.warmup_steps.min(1),
                repeats: 1,
                ..*options
            }
        } else {
            *options
        }
    }
}

const fn image(channels: usize, side: usize) -> SampleShape {
    SampleShape::Image {
        channels,
        height: side,
        width: side,
    }
}

const fn table(features: usize) -> SampleShape {
    SampleShape::Table { features }
}

/// Every case, in the order the table lists them: first the four with a PyTorch twin, then
/// every other trained model on its paper's input shape (closed-form fits, OC-SVM and RX, have
/// no training step to time).
pub const CASES: &[Case] = &[
    Case::new(
        "ganomaly-mnist",
        "ganomaly",
        image(1, 32),
        "GANomaly-32, MNIST shape (1×32×32)",
    )
    .with_pytorch_twin(),
    Case::new(
        "ganomaly-cifar",
        "ganomaly",
        image(3, 32),
        "GANomaly-32, CIFAR-10 shape (3×32×32)",
    )
    .with_pytorch_twin(),
    Case::new(
        "autoencoder-cifar",
        "autoencoder",
        image(3, 32),
        "DCGAN-32 conv autoencoder, CIFAR-10 shape",
    )
    .with_pytorch_twin(),
    Case::new(
        "autoencoder-kdd",
        "autoencoder",
        table(121),
        "MLP autoencoder 121→64→16→64→121, KDD99 features",
    )
    .with_pytorch_twin(),
    Case::new(
        "anogan-64",
        "anogan",
        image(1, 64),
        "AnoGAN, DCGAN 64×64 grey (OCT patches); score = 500-step latent search",
    )
    .with_score_batch(16)
    .with_single_repeat(),
    Case::new(
        "fanogan-64",
        "fanogan",
        image(1, 64),
        "f-AnoGAN, residual WGAN-GP 64×64 grey, critic step (stage 1)",
    )
    .with_single_repeat(),
    Case::new(
        "egbad-mnist",
        "egbad",
        image(1, 28),
        "EGBAD, MNIST networks (1×28×28)",
    ),
    Case::new(
        "alad-cifar",
        "alad",
        image(3, 32),
        "ALAD, CIFAR-10 networks (3×32×32)",
    )
    .with_settings(r#"{"networks": "cifar10"}"#),
    Case::new(
        "alocc-mnist",
        "alocc",
        image(1, 32),
        "ALOCC, refiner + classifier, MNIST shape (1×32×32)",
    ),
    Case::new(
        "skip-ganomaly-cifar",
        "skip-ganomaly",
        image(3, 32),
        "Skip-GANomaly, U-Net generator, CIFAR-10 shape",
    ),
    Case::new(
        "adae-mnist",
        "adae",
        image(1, 32),
        "ADAE, two autoencoders, MNIST shape (1×32×32)",
    ),
    Case::new(
        "ssim-ae-128",
        "ssim-ae",
        image(1, 128),
        "SSIM autoencoder, 128×128 grey texture patches",
    ),
    Case::new(
        "cavga-32",
        "cavga",
        image(3, 32),
        "CAVGA-u, conv VAE + discriminator + Grad-CAM attention, 3×32×32",
    ),
    Case::new(
        "vae-mnist",
        "vae",
        image(1, 32),
        "VAE, DCGAN conv, MNIST shape; score = IWAE bound, k = 100",
    ),
    Case::new(
        "constrained-aae-mnist",
        "constrained-aae",
        image(1, 32),
        "constrained AAE, MNIST shape (1×32×32)",
    ),
    Case::new(
        "rsrae-fmnist",
        "rsrae",
        image(1, 28),
        "RSRAE, Fashion-MNIST (1×28×28), alternating steps",
    ),
    Case::new(
        "alae-mnist",
        "alae",
        table(784),
        "MLP-ALAE on flattened MNIST (784)",
    ),
    Case::new("advae-kdd", "advae", table(121), "adVAE, MLP, 121 features"),
    Case::new(
        "hadgan-205",
        "hadgan",
        table(205),
        "HADGAN, spectral adversarial autoencoder, 205 bands",
    ),
    Case::new(
        "deep-svdd-mnist",
        "deep-svdd",
        image(1, 28),
        "Deep SVDD, LeNet, MNIST (autoencoder pretraining step)",
    ),
    Case::new(
        "ocgan-mnist",
        "ocgan",
        image(1, 29),
        "OCGAN at depth 2, MNIST resized to 29×29 (the CPU budget of docs/results/ocgan.md)",
    )
    .with_settings(r#"{"depth": 2}"#),
    Case::new(
        "pixelcnn-mnist",
        "pixelcnn",
        image(1, 28),
        "PixelCNN, 64 filters, 5 type-B blocks, MNIST shape (1×28×28)",
    ),
    Case::new(
        "geom-cifar",
        "geom",
        image(3, 32),
        "GEOM, WRN-10-1 (the CPU budget of docs/results/geom.md), CIFAR-10 shape; a step = 16 images × 72 transformations",
    )
    .with_settings(r#"{"widen": 1, "image_batch": 16}"#),
    Case::new(
        "goad-kdd",
        "goad",
        table(121),
        "GOAD, KDD99 preset (121 features)",
    )
    .with_settings(r#"{"preset": "kdd"}"#),
];

/// The case called `name`.
pub fn case(name: &str) -> crate::Result<&'static Case> {
    CASES.iter().find(|c| c.name == name).with_context(|| {
        format!(
            "unknown benchmark case {name:?}; available: {}",
            CASES.iter().map(|c| c.name).collect::<Vec<_>>().join(", ")
        )
    })
}

/// How long and how often to measure.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub struct SpeedOptions {
    /// Untimed steps before measuring (allocator, caches, autotuning).
    pub warmup_steps: usize,
    /// Timed repeats; the figure is their median.
    pub repeats: usize,
    /// Each repeat runs whole steps for at least this long.
    pub min_repeat_seconds: f64,
    /// Batch size for scoring.
    pub score_batch: usize,
}

impl SpeedOptions {
    /// Refuse settings that cannot time anything, or never stop, before any case runs.
    pub fn check(&self) -> crate::Result<()> {
        anyhow::ensure!(self.repeats >= 1, "--repeats must be at least 1, got 0");
        anyhow::ensure!(
            self.min_repeat_seconds.is_finite() && self.min_repeat_seconds >= 0.0,
            "--min-repeat-seconds must be a finite number of seconds, 0 or more, got {}",
            self.min_repeat_seconds
        );
        anyhow::ensure!(
            self.score_batch >= 1,
            "--score-batch must be at least 1, got 0"
        );
        Ok(())
    }
}

impl Default for SpeedOptions {
    fn default() -> Self {
        SpeedOptions {
            warmup_steps: 3,
            repeats: 5,
            min_repeat_seconds: 1.0,
            score_batch: 256,
        }
    }
}

/// One implementation's figures for one case.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SpeedFigures {
    /// Training samples per second (median over repeats).
    pub train_samples_per_s: f64,
    /// Milliseconds per training step (median).
    pub train_step_ms: f64,
    /// Training batch size (the paper's).
    pub train_batch: usize,
    /// Scoring samples per second at `score_batch` (median over repeats).
    pub score_samples_per_s: f64,
    /// Scoring batch size.
    pub score_batch: usize,
    /// Peak resident memory of the whole process, MiB (host memory, also on a GPU).
    pub peak_rss_mib: f64,
    /// The most the GPU's allocator held after any timed step, MiB (GPU runs only).
    #[serde(default)]
    pub device_peak_mib: Option<f64>,
    /// Worker threads used.
    pub threads: usize,
}

/// Seeded uniform values in [-1, 1), `[batch, shape.len()]`, as a flat vector.
pub fn synthetic_batch(shape: SampleShape, batch: usize, seed: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..batch * shape.len())
        .map(|_| rng.random::<f32>() * 2.0 - 1.0)
        .collect()
}

fn tensor(values: &[f32], batch: usize, device: &Device) -> Tensor<2> {
    Tensor::from_data(
        TensorData::new(values.to_vec(), [batch, values.len() / batch]),
        device,
    )
}

/// Build the case's model: its paper configuration with the case's settings on top.
pub fn build(case: &Case, device: &Device, seed: u64) -> crate::Result<Box<dyn AnyDetector>> {
    // `--model-config` takes inline JSON where a file name goes; so does this.
    let settings = case.settings.map(std::path::Path::new);
    ModelConfig::from_settings_file(case.model, settings)?.build(case.shape, device, seed)
}

/// Wait for `device`'s queued work: a GPU step returns once queued, not once done.
fn sync(device: &Device) -> crate::Result<()> {
    device
        .sync()
        .map_err(|e| anyhow::anyhow!("the device failed a queued operation: {e:?}"))
}

/// The most bytes `device`'s allocator holds now; `None` on a backend that does not say (flex).
fn device_reserved_bytes(device: &Device) -> Option<u64> {
    device.memory_pool_usage().map(|u| u.bytes_reserved)
}

/// What [`time_steps`] measured.
struct Timing {
    /// Median over repeats of seconds per step.
    seconds_per_step: f64,
    /// The most the device's allocator held after any step, bytes.
    device_peak_bytes: Option<u64>,
}

/// Median of repeats of `step`, in seconds per step; a repeat runs whole steps until
/// `min_seconds` have passed, and its clock stops once `device` has finished them.
fn time_steps(
    options: &SpeedOptions,
    device: &Device,
    mut step: impl FnMut(usize) -> crate::Result<()>,
) -> crate::Result<Timing> {
    // `None < Some`: the maximum stays `None` on a backend that does not report.
    let mut device_peak_bytes = None;
    for i in 0..options.warmup_steps {
        step(i)?;
        device_peak_bytes = device_peak_bytes.max(device_reserved_bytes(device));
    }
    sync(device)?;
    let mut per_step = Vec::with_capacity(options.repeats);
    let mut i = options.warmup_steps;
    for _ in 0..options.repeats {
        let start = Instant::now();
        let mut steps = 0;
        while steps == 0 || start.elapsed().as_secs_f64() < options.min_repeat_seconds {
            step(i)?;
            i += 1;
            steps += 1;
        }
        sync(device)?;
        per_step.push(start.elapsed().as_secs_f64() / steps as f64);
        device_peak_bytes = device_peak_bytes.max(device_reserved_bytes(device));
    }
    per_step.sort_by(f64::total_cmp);
    Ok(Timing {
        seconds_per_step: per_step[per_step.len() / 2],
        device_peak_bytes,
    })
}

/// Measure training and scoring throughput of `case` on `device` in this process.
pub fn measure(
    case: &Case,
    device: &Device,
    options: &SpeedOptions,
) -> crate::Result<SpeedFigures> {
    options.check()?;
    let mut model = build(case, device, 0)?;
    let config = model.config();
    let train_batch = config.batch_size();
    let train_device = device.clone().autodiff();
    // A few distinct batches, cycled, so that no step sees a cached input.
    let pool: Vec<Vec<f32>> = (0..4)
        .map(|k| synthetic_batch(case.shape, train_batch, 100 + k))
        .collect();
    // The first epoch's steps: a model with stages times its first (f-AnoGAN's WGAN, Deep
    // SVDD's autoencoder pretraining).
    let options = &case.timing(options);
    model.begin_epoch(1);
    let training = time_steps(options, &train_device, |i| {
        model.train_step(tensor(&pool[i % pool.len()], train_batch, &train_device))?;
        Ok(())
    })?;
    // What training ends with (HADGAN's RX on residuals, centres), on the pooled batches.
    let seen = crate::data::Samples::unlabelled(case.shape, pool.concat());
    model.fit_statistics(&seen)?;
    let score_batch = case.score_batch.unwrap_or(options.score_batch);
    let score_input = synthetic_batch(case.shape, score_batch, 200);
    let scoring = time_steps(options, device, |_| {
        let scores = model.score(tensor(&score_input, score_batch, device));
        scores
            .into_data()
            .try_into_vec::<f32>()
            .map_err(|e| anyhow::anyhow!("reading scores: {e:?}"))?;
        Ok(())
    })?;
    let device_peak_bytes = training.device_peak_bytes.max(scoring.device_peak_bytes);
    Ok(SpeedFigures {
        train_samples_per_s: train_batch as f64 / training.seconds_per_step,
        train_step_ms: training.seconds_per_step * 1e3,
        train_batch,
        score_samples_per_s: score_batch as f64 / scoring.seconds_per_step,
        score_batch,
        peak_rss_mib: peak_rss_mib().unwrap_or(f64::NAN),
        device_peak_mib: device_peak_bytes.map(|b| b as f64 / (1024.0 * 1024.0)),
        threads: rayon::current_num_threads(),
    })
}

/// This process's peak resident memory (`VmHWM`), MiB; `None` where /proc is not available.
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// What the same-function check needs: the initial weights, the batches, and the losses of
/// each training step and the scores after them, as this implementation computes them.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StepTrace {
    /// Benchmark case.
    pub case: String,
    /// Input shape `[C, H, W]` or `[features]`.
    pub shape: Vec<usize>,
    /// Training batch size.
    pub batch: usize,
    /// Losses of each step, by name, in the order the model reports them.
    pub losses: Vec<Vec<(String, f32)>>,
    /// Scores of the first batch after the steps, in evaluation mode.
    pub scores: Vec<f32>,
}

/// The files a trace folder holds.
const TRACE_FILES: [&str; 3] = ["init.safetensors", "batches.f32", "trace.json"];

/// A trace goes into a new or empty folder, or over an earlier trace: a folder holding
/// anything else is the user's, and is refused before any file is written.
fn check_trace_folder(dir: &std::path::Path) -> crate::Result<()> {
    if !dir.exists() {
        return Ok(());
    }
    anyhow::ensure!(
        dir.is_dir(),
        "{} exists and is not a folder; give a folder for the trace",
        dir.display()
    );
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))?;
    for entry in entries {
        let name = entry
            .with_context(|| format!("cannot list {}", dir.display()))?
            .file_name();
        // Hidden entries (a killed write's temporary file, a desktop's index) are no one's work.
        anyhow::ensure!(
            name.to_string_lossy().starts_with('.') || TRACE_FILES.iter().any(|f| name == *f),
            "{} holds {} as well as a trace's files; a trace is written only into a new or \
             empty folder, or over an earlier trace: give another folder",
            dir.display(),
            name.to_string_lossy()
        );
    }
    Ok(())
}

/// Run `steps` training steps of `case` from seed 0 on `device` and write, into `dir`:
/// `init.safetensors` (the weights before the first step), `batches.f32` (the batches,
/// little-endian f32, `[steps, batch, D]`) and `trace.json` ([`StepTrace`]).
pub fn export_trace(
    case: &Case,
    steps: usize,
    dir: &std::path::Path,
    device: &Device,
) -> crate::Result<StepTrace> {
    anyhow::ensure!(steps >= 1, "--steps must be at least 1, got 0");
    check_trace_folder(dir)?;
    let device = device.clone();
    let mut model = build(case, &device, 0)?;
    let batch = model.config().batch_size();
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    crate::io::write_atomic(&dir.join("init.safetensors"), &model.save_weights()?)?;
    let batches: Vec<Vec<f32>> = (0..steps)
        .map(|k| synthetic_batch(case.shape, batch, 300 + k as u64))
        .collect();
    let bytes: Vec<u8> = batches
        .iter()
        .flatten()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    crate::io::write_atomic(&dir.join("batches.f32"), &bytes)?;
    let train_device = device.clone().autodiff();
    let mut losses = Vec::new();
    for b in &batches {
        let step = model.train_step(tensor(b, batch, &train_device))?;
        losses.push(step.into_iter().map(|(k, v)| (k.to_string(), v)).collect());
    }
    let scores = model
        .score(tensor(&batches[0], batch, &device))
        .into_data()
        .try_into_vec::<f32>()
        .map_err(|e| anyhow::anyhow!("reading scores: {e:?}"))?;
    let shape = match case.shape {
        SampleShape::Image {
            channels,
            height,
            width,
        } => vec![channels, height, width],
        SampleShape::Table { features } => vec![features],
    };
    let trace = StepTrace {
        case: case.name.to_string(),
        shape,
        batch,
        losses,
        scores,
    };
    crate::io::write_json(&dir.join("trace.json"), &trace)?;
    Ok(trace)
}

/// AnoGAN's batched latent search against the per-sample loop (PyOD's way), on the same
/// samples and starting codes.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SearchFigures {
    /// Input shape.
    pub shape: String,
    /// Search steps Γ.
    pub steps: usize,
    /// Samples scored in one batched search.
    pub batch: usize,
    /// Milliseconds per sample, batched.
    pub batched_ms_per_sample: f64,
    /// Samples scored one at a time.
    pub loop_samples: usize,
    /// Milliseconds per sample, one search per sample.
    pub loop_ms_per_sample: f64,
    /// Per-sample time of the loop over the batched one.
    pub speedup: f64,
    /// Largest relative difference between the two ways' scores of the same samples.
    pub max_rel_score_diff: f64,
}

/// Time AnoGAN's search for `batch` samples of `shape` at once and for `loop_samples` of them
/// one by one (paper configuration, freshly initialised networks: the arithmetic is the same).
pub fn latent_search_speed(
    shape: SampleShape,
    batch: usize,
    loop_samples: usize,
) -> crate::Result<SearchFigures> {
    use crate::models::anogan::Anogan;
    anyhow::ensure!(batch >= 1, "--batch must be at least 1, got 0");
    anyhow::ensure!(
        loop_samples >= 1,
        "--loop-samples must be at least 1, got 0"
    );
    anyhow::ensure!(
        !shape.is_empty(),
        "the synthetic samples need a value at least (--features, or C and S of --image), got {shape}"
    );
    let device = Device::flex();
    let config = crate::models::AnoganConfig::default();
    let steps = config.search.steps;
    let model = Anogan::new(config, shape, &device, 0)?;
    let x = tensor(&synthetic_batch(shape, batch, 400), batch, &device);
    let start = model.search_start(&x);
    let read = |t: Tensor<1>| -> crate::Result<Vec<f32>> {
        t.into_data()
            .try_into_vec::<f32>()
            .map_err(|e| anyhow::anyhow!("reading scores: {e:?}"))
    };
    let t0 = Instant::now();
    let batched = read(model.search_from(x.clone(), start.clone()).1)?;
    let batched_s = t0.elapsed().as_secs_f64();
    // At most the batch's samples, one at a time (the default 16 exceeds a small --batch).
    let loop_samples = loop_samples.min(batch);
    let t0 = Instant::now();
    let mut single = Vec::with_capacity(loop_samples);
    for i in 0..loop_samples {
        let xi = x.clone().narrow(0, i, 1);
        let zi = start.clone().narrow(0, i, 1);
        single.extend(read(model.search_from(xi, zi).1)?);
    }
    let loop_s = t0.elapsed().as_secs_f64();
    let max_rel_score_diff = single
        .iter()
        .zip(&batched)
        .map(|(a, b)| ((a - b).abs() / b.abs().max(1e-12)) as f64)
        .fold(0.0, f64::max);
    let batched_ms = batched_s * 1e3 / batch as f64;
    let loop_ms = loop_s * 1e3 / loop_samples.max(1) as f64;
    Ok(SearchFigures {
        shape: shape.to_string(),
        steps,
        batch,
        batched_ms_per_sample: batched_ms,
        loop_samples,
        loop_ms_per_sample: loop_ms,
        speedup: loop_ms / batched_ms,
        max_rel_score_diff,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fitted in closed form: no training step to time.
    const CLOSED_FORM: &[&str] = &["ocsvm", "rx", "lrx"];

    /// Every model the registry trains by steps has a case, and every case builds its model on
    /// its shape with its settings: a new model cannot be left out of the table unnoticed.
    #[test]
    fn every_trained_model_has_a_case_that_builds() {
        let device = Device::flex();
        for info in crate::models::MODELS {
            let covered = CASES.iter().any(|c| c.model == info.name);
            assert_eq!(
                covered,
                !CLOSED_FORM.contains(&info.name),
                "{}: a model trained by steps needs a benchmark case (closed-form fits have none)",
                info.name
            );
        }
        for case in CASES {
            let model = build(case, &device, 0).unwrap_or_else(|e| panic!("{}: {e:#}", case.name));
            assert_eq!(model.name(), case.model, "{}", case.name);
        }
        let mut names: Vec<&str> = CASES.iter().map(|c| c.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), CASES.len(), "case names are unique");
    }

    /// Settings that cannot time anything are named before any case runs; a trace goes only
    /// into a new or empty folder or over an earlier trace, and a refused one writes nothing.
    #[test]
    fn bad_settings_and_foreign_folders_are_refused_first() {
        let bad = [
            (
                SpeedOptions {
                    repeats: 0,
                    ..SpeedOptions::default()
                },
                "--repeats",
            ),
            (
                SpeedOptions {
                    min_repeat_seconds: f64::INFINITY,
                    ..SpeedOptions::default()
                },
                "--min-repeat-seconds",
            ),
            (
                SpeedOptions {
                    min_repeat_seconds: -1.0,
                    ..SpeedOptions::default()
                },
                "--min-repeat-seconds",
            ),
            (
                SpeedOptions {
                    score_batch: 0,
                    ..SpeedOptions::default()
                },
                "--score-batch",
            ),
        ];
        for (options, flag) in bad {
            let err = options.check().unwrap_err().to_string();
            assert!(err.contains(flag), "{err}");
        }
        SpeedOptions::default().check().unwrap();

        let device = Device::flex();
        let case = case("autoencoder-kdd").unwrap();
        let dir = std::env::temp_dir().join(format!("oddity-trace-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let err = export_trace(case, 0, &dir, &device)
            .unwrap_err()
            .to_string();
        assert!(err.contains("--steps"), "{err}");
        assert!(!dir.exists(), "nothing is written for a refused trace");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("notes.txt"), "mine").unwrap();
        std::fs::write(dir.join(".trace.json.1.tmp"), "half").unwrap();
        let err = export_trace(case, 1, &dir, &device)
            .unwrap_err()
            .to_string();
        assert!(err.contains("notes.txt"), "{err}");
        assert!(!dir.join("init.safetensors").exists());
        std::fs::remove_file(dir.join("notes.txt")).unwrap();
        export_trace(case, 1, &dir, &device).unwrap();
        export_trace(case, 1, &dir, &device).expect("an earlier trace is replaced");
        std::fs::remove_dir_all(&dir).unwrap();

        let rows = SampleShape::Table { features: 4 };
        let err = latent_search_speed(rows, 4, 0).unwrap_err().to_string();
        assert!(err.contains("--loop-samples"), "{err}");
        let err = latent_search_speed(rows, 0, 1).unwrap_err().to_string();
        assert!(err.contains("--batch"), "{err}");
    }
}
