//! The one training loop every detector shares, and batched scoring.
//!
//! The loop owns epochs, seeded shuffling, batching, the progress bar, per-epoch validation on
//! normal-only data and the best-by-validation and last checkpoints. A model supplies only its
//! step ([`Detector::train_step`]) and its validation criterion.

use crate::data::Samples;
use crate::models::Detector;
use anyhow::{bail, ensure};
use burn::prelude::*;
use burn::tensor::TensorData;
use indicatif::{ProgressBar, ProgressStyle};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Instant;

/// Options of a training run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainOptions {
    /// Number of passes over the training data.
    pub epochs: usize,
    /// Samples per optimisation step.
    pub batch_size: usize,
    /// Seed of the shuffling (the model's weights take theirs when built).
    pub seed: u64,
    /// Draw a progress bar and print one line per epoch on stderr.
    pub progress: bool,
    /// Stop when the validation loss has not improved for this many epochs (early stopping);
    /// `None` runs every epoch. The "best" checkpoint is the best epoch, "last" the stop time.
    #[serde(default)]
    pub patience: Option<usize>,
}

/// What happened in one epoch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochLog {
    /// 1-based epoch number.
    pub epoch: usize,
    /// Mean of each named loss over the epoch's steps.
    pub losses: BTreeMap<String, f64>,
    /// Mean validation criterion on the normal-only validation set (lower = better).
    pub validation_loss: f64,
    /// Wall-clock seconds of the epoch's training steps.
    pub train_seconds: f64,
    /// Training throughput.
    pub samples_per_second: f64,
}

/// The log of a training run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainLog {
    /// One entry per epoch.
    pub epochs: Vec<EpochLog>,
    /// The epoch with the lowest validation loss (1-based).
    pub best_epoch: usize,
}

/// Weights of the best-by-validation epoch and of the last epoch (safetensors bytes).
pub struct Checkpoints {
    /// Weights at [`TrainLog::best_epoch`].
    pub best: Vec<u8>,
    /// Weights after the last epoch.
    pub last: Vec<u8>,
}

/// Copy the rows `rows` of `samples` into a `[B, D]` tensor on `device`.
pub fn batch_tensor(samples: &Samples, rows: &[usize], device: &Device) -> Tensor<2> {
    let d = samples.shape.len();
    let mut buf = Vec::with_capacity(rows.len() * d);
    for &i in rows {
        buf.extend_from_slice(samples.sample(i));
    }
    Tensor::from_data(TensorData::new(buf, [rows.len(), d]), device)
}

/// Train `model` on `train`, validating on `valid` after each epoch.
///
/// On return the model holds the last epoch's weights; both checkpoints come back as bytes.
pub fn fit(
    model: &mut dyn Detector,
    train: &Samples,
    valid: &Samples,
    options: &TrainOptions,
) -> crate::Result<(TrainLog, Checkpoints)> {
    ensure!(options.epochs > 0, "epochs must be at least 1");
    ensure!(options.batch_size > 0, "batch size must be at least 1");
    ensure!(!train.is_empty(), "no training samples");
    ensure!(!valid.is_empty(), "no validation samples");
    let train_device = model.device().clone().autodiff();
    let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
    rng.set_stream(1000);
    let mut order: Vec<usize> = (0..train.len()).collect();
    // Drop the last partial batch, as the reference implementations' loaders do, unless the
    // whole set is smaller than one batch.
    let batch = options.batch_size.min(train.len());
    let steps = train.len() / batch;
    let mut log = TrainLog::default();
    let mut best: Option<(f64, Vec<u8>)> = None;
    for epoch in 1..=options.epochs {
        model.begin_epoch(epoch);
        order.shuffle(&mut rng);
        let bar = progress_bar(options.progress, steps, epoch, options.epochs);
        let start = Instant::now();
        let mut sums: BTreeMap<&'static str, f64> = BTreeMap::new();
        for step in 0..steps {
            let rows = &order[step * batch..(step + 1) * batch];
            let losses = model.train_step(batch_tensor(train, rows, &train_device))?;
            for (name, value) in &losses {
                if !value.is_finite() {
                    bail!(
                        "training diverged: loss {name} = {value} at epoch {epoch}, step {}",
                        step + 1
                    );
                }
                *sums.entry(name).or_default() += *value as f64;
            }
            if let Some(bar) = &bar {
                let rate = ((step + 1) * batch) as f64 / start.elapsed().as_secs_f64();
                let text = format_losses(losses.iter().map(|(n, v)| (*n, *v as f64)));
                bar.set_message(format!("{text} | {rate:.0} samples/s"));
                bar.inc(1);
            }
        }
        let train_seconds = start.elapsed().as_secs_f64();
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
        let valid_batch = score_batch_size(valid.shape.len());
        let validation_loss = mean(&evaluate(model, valid, valid_batch, |m, x| {
            m.validation_loss(x)
        })?);
        let entry = EpochLog {
            epoch,
            losses: sums
                .into_iter()
                .map(|(k, v)| (k.to_string(), v / steps as f64))
                .collect(),
            validation_loss,
            train_seconds,
            samples_per_second: (steps * batch) as f64 / train_seconds,
        };
        if options.progress {
            eprintln!(
                "epoch {epoch}/{}: {} | validation {validation_loss:.5} | {:.0} samples/s",
                options.epochs,
                format_losses(entry.losses.iter().map(|(k, v)| (k.as_str(), *v))),
                entry.samples_per_second
            );
        }
        log.epochs.push(entry);
        if best.as_ref().is_none_or(|(b, _)| validation_loss < *b) {
            best = Some((validation_loss, model.save_weights()?));
            log.best_epoch = epoch;
        }
        if options
            .patience
            .is_some_and(|p| epoch - log.best_epoch >= p)
        {
            if options.progress {
                eprintln!(
                    "early stop after epoch {epoch}: no validation improvement since epoch {}",
                    log.best_epoch
                );
            }
            break;
        }
    }
    let last = model.save_weights()?;
    Ok((
        log,
        Checkpoints {
            best: best.map(|b| b.1).unwrap_or_else(|| last.clone()),
            last,
        },
    ))
}

/// `name value name value …` for the progress bar and the epoch line.
fn format_losses<'a>(losses: impl Iterator<Item = (&'a str, f64)>) -> String {
    losses
        .map(|(name, value)| format!("{name} {value:.4}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn progress_bar(show: bool, steps: usize, epoch: usize, epochs: usize) -> Option<ProgressBar> {
    if !show {
        return None;
    }
    let bar = ProgressBar::new(steps as u64);
    bar.set_style(
        ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg}")
            .unwrap()
            .progress_chars("=> "),
    );
    bar.set_prefix(format!("epoch {epoch}/{epochs}"));
    Some(bar)
}

fn mean(v: &[f32]) -> f64 {
    v.iter().map(|&x| x as f64).sum::<f64>() / v.len().max(1) as f64
}

/// Apply a per-sample function of the model to every sample, `batch_size` at a time, on the
/// model's scoring device.
pub fn evaluate(
    model: &dyn Detector,
    samples: &Samples,
    batch_size: usize,
    f: impl Fn(&dyn Detector, Tensor<2>) -> Tensor<1>,
) -> crate::Result<Vec<f32>> {
    let device = model.device().clone();
    let mut out = Vec::with_capacity(samples.len());
    let rows: Vec<usize> = (0..samples.len()).collect();
    for chunk in rows.chunks(batch_size.max(1)) {
        let values = f(model, batch_tensor(samples, chunk, &device))
            .into_data()
            .try_into_vec::<f32>()
            .map_err(|e| anyhow::anyhow!("reading scores: {e:?}"))?;
        out.extend(values);
    }
    if let Some(i) = out.iter().position(|v| !v.is_finite()) {
        bail!("the model produced a non-finite score for sample {i}");
    }
    Ok(out)
}

/// Anomaly scores of every sample (higher = more anomalous), in batches of
/// [`score_batch_size`].
pub fn score(model: &dyn Detector, samples: &Samples) -> crate::Result<Vec<f32>> {
    let batch = score_batch_size(samples.shape.len());
    evaluate(model, samples, batch, |m, x| m.score(x))
}

/// Working memory a scoring pass may need per input value, in floats: the activations of
/// every layer (the DCGAN-32 networks hold ≈ 100 floats per input pixel across three
/// networks, BatchNorm and activation temporaries included) with a margin.
const SCORING_FLOATS_PER_INPUT_VALUE: usize = 256;

/// Largest and smallest scoring batches: past 1024 throughput no longer grows, under 16 it falls.
const SCORE_BATCH_RANGE: (usize, usize) = (16, 1024);

/// The scoring batch size for samples of `sample_len` values: as many samples as fit in a
/// quarter of the memory available now (`MemAvailable`; 4 GiB assumed where it cannot be
/// read), rounded down to a power of two, between 16 and 1024.
pub fn score_batch_size(sample_len: usize) -> usize {
    let available = available_memory_bytes().unwrap_or(4 << 30);
    batch_for_memory(available / 4, sample_len)
}

fn batch_for_memory(budget_bytes: u64, sample_len: usize) -> usize {
    let per_sample = (sample_len.max(1) * SCORING_FLOATS_PER_INPUT_VALUE * 4) as u64;
    let fit = (budget_bytes / per_sample) as usize;
    let (lo, hi) = SCORE_BATCH_RANGE;
    let clamped = fit.clamp(lo, hi);
    1 << clamped.ilog2()
}

/// `MemAvailable` of /proc/meminfo, bytes.
fn available_memory_bytes() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::{AutoencoderConfig, ModelConfig, StepLosses};
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A detector whose validation loss follows a script, one value per epoch.
    struct Scripted {
        device: Device,
        losses: Vec<f32>,
        epoch: AtomicUsize,
    }

    impl Detector for Scripted {
        fn name(&self) -> &'static str {
            "scripted"
        }
        fn config(&self) -> ModelConfig {
            ModelConfig::Autoencoder(AutoencoderConfig::default())
        }
        fn device(&self) -> &Device {
            &self.device
        }
        fn train_step(&mut self, _batch: Tensor<2>) -> crate::Result<StepLosses> {
            Ok(vec![("loss", 0.0)])
        }
        fn score(&self, batch: Tensor<2>) -> Tensor<1> {
            let n = batch.dims()[0];
            Tensor::zeros([n], &self.device)
        }
        fn validation_loss(&self, batch: Tensor<2>) -> Tensor<1> {
            let epoch = self.epoch.fetch_add(1, Ordering::SeqCst);
            let n = batch.dims()[0];
            Tensor::ones([n], &self.device) * self.losses[epoch]
        }
        fn save_weights(&self) -> crate::Result<Vec<u8>> {
            Ok(vec![self.epoch.load(Ordering::SeqCst) as u8])
        }
        fn load_weights(&mut self, _bytes: Vec<u8>) -> crate::Result<()> {
            Ok(())
        }
    }

    /// Early stopping: with patience 2 and validation losses 3, 2, 1, 2, 3, 4, 5, training stops
    /// after epoch 5, keeps epoch 3 as the best and epoch 5 as the last.
    #[test]
    fn early_stopping_keeps_the_best_and_stops_after_patience() {
        let device = Device::flex();
        let mut model = Scripted {
            device: device.clone(),
            losses: vec![3.0, 2.0, 1.0, 2.0, 3.0, 4.0, 5.0],
            epoch: AtomicUsize::new(0),
        };
        let mut samples = Samples::empty(crate::data::SampleShape::Table { features: 2 });
        samples.values = vec![0.0; 8];
        samples.labels = vec![0; 4];
        samples.origin = vec![crate::data::Origin { split: 0, index: 0 }; 4];
        let options = TrainOptions {
            epochs: 7,
            batch_size: 2,
            seed: 0,
            progress: false,
            patience: Some(2),
        };
        let (log, checkpoints) = fit(&mut model, &samples, &samples, &options).unwrap();
        assert_eq!(log.epochs.len(), 5);
        assert_eq!(log.best_epoch, 3);
        // save_weights records how many validations had run when it was called.
        assert_eq!(checkpoints.best, vec![3]);
        assert_eq!(checkpoints.last, vec![5]);
    }

    #[test]
    fn scoring_batch_follows_memory() {
        // 3×32×32 images need 3 MiB each at 256 floats per value: 1 GiB holds 341 → 256.
        assert_eq!(batch_for_memory(1 << 30, 3 * 32 * 32), 256);
        // Four times the memory, four times the batch.
        assert_eq!(batch_for_memory(4 << 30, 3 * 32 * 32), 1024);
        // Large images on little memory still get the smallest batch, tables the largest.
        assert_eq!(batch_for_memory(64 << 20, 3 * 512 * 512), 16);
        assert_eq!(batch_for_memory(1 << 30, 121), 1024);
    }
}
