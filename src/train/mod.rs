//! The one training loop every detector shares.
//!
//! The loop owns epochs, seeded shuffling, batching, the progress bar, per-epoch validation on
//! normal-only data and the best-by-validation and last checkpoints. A model supplies only its
//! step ([`crate::models::Detector::train_step`]) and its validation criterion.

pub mod resume;

use crate::data::Samples;
use crate::models::AnyDetector;
use crate::nn::state::RngState;
use crate::score::{batch_tensor, score_batch_size};
use anyhow::{bail, ensure};
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
    /// Mean of each named loss over the epoch's steps that computed it (a loss of a stage not
    /// trained in this epoch is absent).
    pub losses: BTreeMap<String, f64>,
    /// Mean validation criterion on the normal-only validation set (lower = better); none for
    /// an epoch of a stage without one ([`crate::models::Detector::validates`]).
    pub validation_loss: Option<f64>,
    /// Wall-clock seconds of the epoch's training steps.
    pub train_seconds: f64,
    /// Training throughput.
    pub samples_per_second: f64,
    /// Training steps (batches; one `train_step` each, which may update several networks) of
    /// the epoch; 0 in logs saved before they were counted.
    #[serde(default)]
    pub steps: usize,
}

/// The log of a training run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainLog {
    /// One entry per epoch.
    pub epochs: Vec<EpochLog>,
    /// The epoch with the lowest validation loss (1-based); the last epoch when none had one.
    pub best_epoch: usize,
}

impl TrainLog {
    /// Training steps (batches) over every epoch; `None` when some epoch's were not counted (a
    /// log saved before they were).
    pub fn steps(&self) -> Option<usize> {
        (self.epochs.iter())
            .map(|e| (e.steps > 0).then_some(e.steps))
            .sum()
    }
}

/// Weights of the best-by-validation epoch and of the last epoch (safetensors bytes).
pub struct Checkpoints {
    /// Weights at [`TrainLog::best_epoch`].
    pub best: Vec<u8>,
    /// Weights after the last epoch.
    pub last: Vec<u8>,
}

/// Train `model` on `train`, validating on `valid` after each epoch.
///
/// On return the model holds the last epoch's weights; both checkpoints come back as bytes.
pub fn fit(
    model: &mut dyn AnyDetector,
    train: &Samples,
    valid: &Samples,
    options: &TrainOptions,
) -> crate::Result<(TrainLog, Checkpoints)> {
    fit_resumable(model, train, valid, options, None, &mut |_, _| Ok(()), None)
}

/// Where the loop stands: with the model's training state
/// ([`crate::models::Detector::training_state`]), enough to continue a training exactly as if it
/// had never stopped.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LoopState {
    /// The epoch in progress (1-based).
    pub epoch: usize,
    /// Steps of that epoch already taken.
    pub step: usize,
    /// The sample order of that epoch (already shuffled for it when `step > 0`).
    pub order: Vec<usize>,
    /// The shuffling generator's position.
    pub rng: RngState,
    /// Sums of each named loss over the epoch's steps so far.
    pub sums: BTreeMap<String, f64>,
    /// How many of those steps reported each loss: a loss a model computes on some steps only
    /// (a generator updated every fifth critic step) is the mean over those. Absent from a state
    /// saved before it existed: every step then counts.
    #[serde(default)]
    pub counts: BTreeMap<String, usize>,
    /// Seconds of training steps spent in the epoch so far.
    pub seconds: f64,
    /// The log of the finished epochs.
    pub log: TrainLog,
    /// The best validation loss so far.
    pub best_loss: Option<f64>,
    /// The weights of the best epoch so far (saved apart, not in JSON).
    #[serde(skip)]
    pub best_weights: Vec<u8>,
}

/// A training that stopped on request (Ctrl-C) after a step, its state saved.
#[derive(Debug)]
pub struct Interrupted {
    /// The epoch in progress.
    pub epoch: usize,
    /// Steps of it taken.
    pub step: usize,
}

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "training stopped on request after step {} of epoch {}",
            self.step, self.epoch
        )
    }
}

impl std::error::Error for Interrupted {}

/// Each loss's mean over the steps of an epoch that reported it.
fn epoch_means(
    sums: BTreeMap<String, f64>,
    counts: BTreeMap<String, usize>,
) -> BTreeMap<String, f64> {
    (sums.into_iter())
        .map(|(name, sum)| {
            // check_loop_state and the loop keep a count for every sum.
            let steps = counts.get(&name).copied().unwrap_or(1).max(1);
            (name, sum / steps as f64)
        })
        .collect()
}

/// [`fit`], continuing from `resume` when given. After each epoch, and after the step during
/// which `stop` was raised, `checkpoint` receives the loop's state (the model is in the state
/// that goes with it); a raised `stop` then ends the call with [`Interrupted`].
pub fn fit_resumable(
    model: &mut dyn AnyDetector,
    train: &Samples,
    valid: &Samples,
    options: &TrainOptions,
    resume: Option<LoopState>,
    checkpoint: &mut dyn FnMut(&LoopState, &dyn AnyDetector) -> crate::Result<()>,
    stop: Option<&std::sync::atomic::AtomicBool>,
) -> crate::Result<(TrainLog, Checkpoints)> {
    ensure!(options.epochs > 0, "epochs must be at least 1");
    ensure!(options.batch_size > 0, "batch size must be at least 1");
    ensure!(!train.is_empty(), "no training samples");
    ensure!(!valid.is_empty(), "no validation samples");
    let train_device = model.device().clone().autodiff();
    // Drop the last partial batch, as the reference implementations' loaders do, unless the
    // whole set is smaller than one batch.
    let batch = options.batch_size.min(train.len());
    let steps = train.len() / batch;
    let mut state = match resume {
        Some(mut state) => {
            check_loop_state(&state, train.len(), steps)?;
            if state.counts.is_empty() {
                // A state from before the counts: each loss so far came from every step.
                state.counts = (state.sums.keys())
                    .map(|name| (name.clone(), state.step))
                    .collect();
            }
            state
        }
        None => {
            let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
            rng.set_stream(1000);
            LoopState {
                epoch: 1,
                step: 0,
                order: (0..train.len()).collect(),
                rng: RngState::of(&rng),
                sums: BTreeMap::new(),
                counts: BTreeMap::new(),
                seconds: 0.0,
                log: TrainLog::default(),
                best_loss: None,
                best_weights: Vec::new(),
            }
        }
    };
    if options.progress && steps == 1 {
        // A set smaller than two batches trains one step an epoch: why a small data set's run
        // may learn nothing (Magnetic Tile's 35-image fixture at batch 64: 20 steps in all).
        eprintln!(
            "note: {} training samples make one full batch of {batch}: one training step an \
             epoch, up to {} in all; a smaller batch size gives more steps for the same epochs",
            train.len(),
            options.epochs
        );
    }
    let mut rng = state.rng.restore();
    while state.epoch <= options.epochs {
        let epoch = state.epoch;
        model.begin_epoch(epoch);
        if state.step == 0 {
            state.order.shuffle(&mut rng);
            state.rng = RngState::of(&rng);
        }
        let bar = progress_bar(options.progress, steps, epoch, options.epochs);
        if let Some(bar) = &bar {
            bar.set_position(state.step as u64);
        }
        let start = Instant::now();
        let first_step = state.step;
        for step in first_step..steps {
            let rows = &state.order[step * batch..(step + 1) * batch];
            let losses = model.train_step(batch_tensor(train, rows, &train_device))?;
            for (name, value) in &losses {
                if !value.is_finite() {
                    bail!(
                        "training diverged: loss {name} = {value} at epoch {epoch}, step {}",
                        step + 1
                    );
                }
                *state.sums.entry(name.to_string()).or_default() += *value as f64;
                *state.counts.entry(name.to_string()).or_default() += 1;
            }
            state.step = step + 1;
            if let Some(bar) = &bar {
                let done = (step + 1 - first_step) * batch;
                let rate = done as f64 / start.elapsed().as_secs_f64();
                let text = format_losses(losses.iter().map(|(n, v)| (*n, *v as f64)));
                bar.set_message(format!("{text} | {rate:.0} samples/s"));
                bar.inc(1);
            }
            if stop.is_some_and(|s| s.load(std::sync::atomic::Ordering::SeqCst))
                && state.step < steps
            {
                if let Some(bar) = &bar {
                    bar.finish_and_clear();
                }
                state.seconds += start.elapsed().as_secs_f64();
                checkpoint(&state, model)?;
                return Err(Interrupted {
                    epoch,
                    step: state.step,
                }
                .into());
            }
        }
        model.fit_statistics(train)?;
        let train_seconds = state.seconds + start.elapsed().as_secs_f64();
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
        let validation_loss = if model.validates() {
            Some(mean(&crate::score::per_sample(
                model,
                valid,
                score_batch_size(valid.shape.len()),
                |m, x| m.validation_loss(x),
            )?))
        } else {
            None
        };
        if let Some(v) = validation_loss.filter(|v| !v.is_finite()) {
            bail!("training diverged: validation loss {v} after epoch {epoch}");
        }
        let entry = EpochLog {
            epoch,
            losses: epoch_means(
                std::mem::take(&mut state.sums),
                std::mem::take(&mut state.counts),
            ),
            validation_loss,
            train_seconds,
            samples_per_second: (steps * batch) as f64 / train_seconds,
            steps,
        };
        if options.progress {
            let validation =
                validation_loss.map_or("none in this stage".into(), |v| format!("{v:.5}"));
            eprintln!(
                "epoch {epoch}/{}: {} | validation {validation} | {:.0} samples/s",
                options.epochs,
                format_losses(entry.losses.iter().map(|(k, v)| (k.as_str(), *v))),
                entry.samples_per_second
            );
        }
        state.log.epochs.push(entry);
        let improved = validation_loss.filter(|&v| state.best_loss.is_none_or(|b| v < b));
        if let Some(v) = improved {
            state.best_loss = Some(v);
            state.best_weights = model.save_weights()?;
            state.log.best_epoch = epoch;
        }
        state.epoch += 1;
        state.step = 0;
        state.seconds = 0.0;
        // Patience counts validated epochs since the best one.
        let stopping = validation_loss.is_some()
            && options
                .patience
                .is_some_and(|p| epoch - state.log.best_epoch >= p);
        if stopping {
            if options.progress {
                eprintln!(
                    "early stop after epoch {epoch}: no validation improvement since epoch {}",
                    state.log.best_epoch
                );
            }
            break;
        }
        checkpoint(&state, model)?;
        if stop.is_some_and(|s| s.load(std::sync::atomic::Ordering::SeqCst))
            && state.epoch <= options.epochs
        {
            return Err(Interrupted {
                epoch: state.epoch,
                step: 0,
            }
            .into());
        }
    }
    let last = model.save_weights()?;
    let best = if state.best_weights.is_empty() {
        // No epoch validated: the last one stands for the best.
        state.log.best_epoch = state.log.epochs.len();
        last.clone()
    } else {
        state.best_weights
    };
    Ok((state.log, Checkpoints { best, last }))
}

/// A saved loop state must fit the training set it continues on: its order a permutation of
/// the samples, its step within the epoch, its best epoch in the past.
fn check_loop_state(state: &LoopState, samples: usize, steps: usize) -> crate::Result<()> {
    ensure!(
        state.order.len() == samples,
        "the saved training state has {} samples, the training set {samples}",
        state.order.len()
    );
    let mut seen = vec![false; samples];
    for &i in &state.order {
        ensure!(
            i < samples && !std::mem::replace(&mut seen[i], true),
            "the saved training state's sample order is not a permutation of the training set"
        );
    }
    ensure!(
        state.epoch >= 1 && state.step <= steps && state.log.best_epoch < state.epoch,
        "the saved training state is inconsistent (epoch {}, step {}, best epoch {})",
        state.epoch,
        state.step,
        state.log.best_epoch
    );
    ensure!(
        state.log.epochs.len() + 1 == state.epoch,
        "the saved training state logs {} epochs before epoch {}",
        state.log.epochs.len(),
        state.epoch
    );
    // Counts (absent from a state saved before them) name the summed losses, each at most
    // the steps taken.
    ensure!(
        state.counts.is_empty()
            || (state.counts.keys().eq(state.sums.keys())
                && state
                    .counts
                    .values()
                    .all(|&c| (1..=state.step).contains(&c))),
        "the saved training state's loss sums and counts disagree"
    );
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::{AutoencoderConfig, Detector, ModelConfig, StepLosses};
    use crate::nn::{Trainables, TrainablesMut};
    use burn::nn::{Linear, LinearConfig};
    use burn::prelude::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A detector whose validation loss follows a script, one value per validated epoch; its
    /// first `unvalidated` epochs are a stage without validation. Its step `i` (from 0) reports
    /// `loss` = i and, on odd steps only, `odd` = 10·i.
    struct Scripted {
        device: Device,
        config: ModelConfig,
        net: Linear,
        losses: Vec<f32>,
        epoch: AtomicUsize,
        unvalidated: usize,
        current: usize,
        steps: usize,
    }

    impl Scripted {
        fn new(losses: Vec<f32>, unvalidated: usize) -> Self {
            let device = Device::flex();
            Scripted {
                config: ModelConfig::new(AutoencoderConfig::default()),
                net: LinearConfig::new(1, 1).init(&device),
                device,
                losses,
                epoch: AtomicUsize::new(0),
                unvalidated,
                current: 0,
                steps: 0,
            }
        }
    }

    /// Four samples of two features.
    fn four_samples() -> Samples {
        let mut samples = Samples::empty(crate::data::SampleShape::Table { features: 2 });
        samples.values = vec![0.0; 8];
        samples.labels = vec![0; 4];
        samples.origin = vec![crate::data::Origin { split: 0, index: 0 }; 4];
        samples
    }

    fn options(epochs: usize, patience: Option<usize>) -> TrainOptions {
        TrainOptions {
            epochs,
            batch_size: 2,
            seed: 0,
            progress: false,
            patience,
        }
    }

    impl AnyDetector for Scripted {
        fn name(&self) -> &'static str {
            "scripted"
        }
        fn config(&self) -> &ModelConfig {
            &self.config
        }
        fn device(&self) -> &Device {
            &self.device
        }
    }

    impl Detector for Scripted {
        fn trainables(&self) -> Trainables<'_> {
            Trainables {
                networks: &self.net,
                optimizers: vec![],
                rng: None,
                average: None,
            }
        }
        fn trainables_mut(&mut self) -> TrainablesMut<'_> {
            TrainablesMut {
                networks: &mut self.net,
                optimizers: vec![],
                rng: None,
                average: None,
            }
        }
        fn begin_epoch(&mut self, epoch: usize) {
            self.current = epoch;
        }
        fn validates(&self) -> bool {
            self.current > self.unvalidated
        }
        fn train_step(&mut self, _batch: Tensor<2>) -> crate::Result<StepLosses> {
            let i = self.steps as f32;
            self.steps += 1;
            let mut losses = vec![("loss", i)];
            if self.steps.is_multiple_of(2) {
                losses.push(("odd", 10.0 * i));
            }
            Ok(losses)
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
        let mut model = Scripted::new(vec![3.0, 2.0, 1.0, 2.0, 3.0, 4.0, 5.0], 0);
        let samples = four_samples();
        let (log, checkpoints) = fit(&mut model, &samples, &samples, &options(7, Some(2))).unwrap();
        assert_eq!(log.epochs.len(), 5);
        assert_eq!(log.best_epoch, 3);
        // save_weights records how many validations had run when it was called.
        assert_eq!(checkpoints.best, vec![3]);
        assert_eq!(checkpoints.last, vec![5]);
    }

    /// A first stage of three epochs without validation (f-AnoGAN's WGAN, Deep SVDD's
    /// pretraining) is logged without a validation loss, is never the best, and does not use up
    /// the patience: with patience 2 and losses 5, 4, 6, 7 from epoch 4, training stops after
    /// epoch 7 and keeps epoch 5.
    #[test]
    fn a_stage_without_validation_is_never_best_nor_counted_by_patience() {
        let mut model = Scripted::new(vec![5.0, 4.0, 6.0, 7.0, 8.0], 3);
        let samples = four_samples();
        let (log, checkpoints) = fit(&mut model, &samples, &samples, &options(9, Some(2))).unwrap();
        let validation: Vec<Option<f64>> = log.epochs.iter().map(|e| e.validation_loss).collect();
        assert_eq!(
            validation,
            [None, None, None, Some(5.0), Some(4.0), Some(6.0), Some(7.0)]
        );
        assert_eq!(log.best_epoch, 5);
        assert_eq!(checkpoints.best, vec![2]);
        assert_eq!(checkpoints.last, vec![4]);
    }

    /// When no epoch validates, the last epoch stands for the best.
    #[test]
    fn without_any_validation_the_last_epoch_is_the_best() {
        let mut model = Scripted::new(Vec::new(), 10);
        let samples = four_samples();
        let (log, checkpoints) = fit(&mut model, &samples, &samples, &options(3, Some(1))).unwrap();
        assert_eq!(log.epochs.len(), 3);
        assert_eq!(log.best_epoch, 3);
        assert_eq!(checkpoints.best, checkpoints.last);
    }

    /// A loss a model computes on some steps only (f-AnoGAN's generator, one step in five) is
    /// its mean over those steps, not diluted by the steps without it: two steps an epoch,
    /// `loss` 0 and 1 (mean 0.5), `odd` on the second only (10, not 5).
    #[test]
    fn a_loss_of_some_steps_is_their_mean() {
        let mut model = Scripted::new(Vec::new(), 10);
        let samples = four_samples();
        let (log, _) = fit(&mut model, &samples, &samples, &options(2, None)).unwrap();
        let means = |e: &EpochLog| (e.losses["loss"], e.losses["odd"]);
        assert_eq!(means(&log.epochs[0]), (0.5, 10.0));
        assert_eq!(means(&log.epochs[1]), (2.5, 30.0));
    }

    /// Each epoch logs its training steps (four samples at batch 2: two; a batch larger than
    /// the set: one), the log their sum; a log with an epoch saved before steps were counted
    /// gives none.
    #[test]
    fn each_epoch_counts_its_training_steps() {
        let samples = four_samples();
        let (mut log, _) = fit(
            &mut Scripted::new(Vec::new(), 10),
            &samples,
            &samples,
            &options(3, None),
        )
        .unwrap();
        let steps: Vec<usize> = log.epochs.iter().map(|e| e.steps).collect();
        assert_eq!((steps, log.steps()), (vec![2, 2, 2], Some(6)));
        let whole = TrainOptions {
            batch_size: 64,
            ..options(3, None)
        };
        let (one, _) = fit(
            &mut Scripted::new(Vec::new(), 10),
            &samples,
            &samples,
            &whole,
        )
        .unwrap();
        assert_eq!(one.steps(), Some(3));
        let mut old: serde_json::Value = serde_json::to_value(&log.epochs[0]).unwrap();
        old.as_object_mut().unwrap().remove("steps");
        log.epochs[0] = serde_json::from_value(old).unwrap();
        assert_eq!((log.epochs[0].steps, log.steps()), (0, None));
    }
}
