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
    /// Input shape (after preprocessing).
    pub shape: SampleShape,
    /// What the case stands for.
    pub about: &'static str,
}

/// Every case, in the order the table lists them.
pub const CASES: &[Case] = &[
    Case {
        name: "ganomaly-mnist",
        model: "ganomaly",
        shape: SampleShape::Image {
            channels: 1,
            height: 32,
            width: 32,
        },
        about: "GANomaly-32, MNIST shape (1×32×32)",
    },
    Case {
        name: "ganomaly-cifar",
        model: "ganomaly",
        shape: SampleShape::Image {
            channels: 3,
            height: 32,
            width: 32,
        },
        about: "GANomaly-32, CIFAR-10 shape (3×32×32)",
    },
    Case {
        name: "autoencoder-cifar",
        model: "autoencoder",
        shape: SampleShape::Image {
            channels: 3,
            height: 32,
            width: 32,
        },
        about: "DCGAN-32 conv autoencoder, CIFAR-10 shape",
    },
    Case {
        name: "autoencoder-kdd",
        model: "autoencoder",
        shape: SampleShape::Table { features: 121 },
        about: "MLP autoencoder 121→64→16→64→121, KDD99 features",
    },
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
    /// Peak resident memory of the whole process, MiB.
    pub peak_rss_mib: f64,
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

/// Build the case's model at its paper configuration.
pub fn build(case: &Case, device: &Device, seed: u64) -> crate::Result<Box<dyn AnyDetector>> {
    ModelConfig::default_for(case.model)?.build(case.shape, device, seed)
}

/// Median of repeats of `step` (each returning after its work is finished), in seconds per
/// step; a repeat runs whole steps until `min_seconds` have passed.
fn time_steps(
    options: &SpeedOptions,
    mut step: impl FnMut(usize) -> crate::Result<()>,
) -> crate::Result<f64> {
    for i in 0..options.warmup_steps {
        step(i)?;
    }
    let mut per_step = Vec::with_capacity(options.repeats);
    let mut i = options.warmup_steps;
    for _ in 0..options.repeats.max(1) {
        let start = Instant::now();
        let mut steps = 0;
        while steps == 0 || start.elapsed().as_secs_f64() < options.min_repeat_seconds {
            step(i)?;
            i += 1;
            steps += 1;
        }
        per_step.push(start.elapsed().as_secs_f64() / steps as f64);
    }
    per_step.sort_by(f64::total_cmp);
    Ok(per_step[per_step.len() / 2])
}

/// Measure training and scoring throughput of `case` on `device` in this process.
pub fn measure(
    case: &Case,
    device: &Device,
    options: &SpeedOptions,
) -> crate::Result<SpeedFigures> {
    let mut model = build(case, device, 0)?;
    let config = model.config();
    let train_batch = config.batch_size();
    let train_device = device.clone().autodiff();
    // A few distinct batches, cycled, so that no step sees a cached input.
    let pool: Vec<Vec<f32>> = (0..4)
        .map(|k| synthetic_batch(case.shape, train_batch, 100 + k))
        .collect();
    let step_seconds = time_steps(options, |i| {
        // train_step reads its losses back, so it returns after the step's work is done.
        model.train_step(tensor(&pool[i % pool.len()], train_batch, &train_device))?;
        Ok(())
    })?;
    let score_batch = options.score_batch;
    let score_input = synthetic_batch(case.shape, score_batch, 200);
    let score_seconds = time_steps(options, |_| {
        let scores = model.score(tensor(&score_input, score_batch, device));
        scores
            .into_data()
            .try_into_vec::<f32>()
            .map_err(|e| anyhow::anyhow!("reading scores: {e:?}"))?;
        Ok(())
    })?;
    Ok(SpeedFigures {
        train_samples_per_s: train_batch as f64 / step_seconds,
        train_step_ms: step_seconds * 1e3,
        train_batch,
        score_samples_per_s: score_batch as f64 / score_seconds,
        score_batch,
        peak_rss_mib: peak_rss_mib().unwrap_or(f64::NAN),
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

/// Run `steps` training steps of `case` from seed 0 and write, into `dir`: `init.safetensors`
/// (the weights before the first step), `batches.f32` (the batches, little-endian f32,
/// `[steps, batch, D]`) and `trace.json` ([`StepTrace`]).
pub fn export_trace(case: &Case, steps: usize, dir: &std::path::Path) -> crate::Result<StepTrace> {
    let device = Device::flex();
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
