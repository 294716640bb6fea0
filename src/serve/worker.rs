//! One thread per served model: it owns the detector and scores queued requests in batches.

use super::ServeOptions;
use crate::conformal::Calibration;
use crate::data::{SampleShape, Samples};
use crate::run::{self, Checkpoint, Run};
use crate::threshold::ThresholdRule;
use anyhow::Context;
use burn::tensor::Device;
use serde::Serialize;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::time::{Duration, Instant};

/// What `GET /v1/models` says of a model.
#[derive(Clone, Debug, Serialize)]
pub struct ModelInfo {
    /// Its name on the server (the run folder's name).
    pub name: String,
    /// `anomaly`: a detector scoring how anomalous each sample is.
    pub task: &'static str,
    /// The detector (`ganomaly`, `autoencoder`, …).
    pub model: String,
    /// `image` or `table`.
    pub data: &'static str,
    /// The raw input a sample must have (images of another size are resized to it).
    pub input: SampleShape,
    /// Which weights.
    pub checkpoint: String,
    /// Scores at or above it are flagged (by default).
    pub threshold: f64,
    /// How the threshold was chosen.
    pub threshold_rule: ThresholdRule,
    /// The conformal false-alarm rate flagging instead of the run's threshold, if set.
    pub false_alarm_rate: Option<f64>,
    /// Normal validation scores behind p-values (0: the run has no calibration.json).
    pub calibration_samples: usize,
    /// Whether the model draws anomaly maps (`overlay=true`).
    pub maps: bool,
    /// The training's summary.
    pub training: TrainingSummary,
    /// The checkpoint's test metrics, when `oddity eval` wrote them (`eval-CHECKPOINT/`).
    pub test_metrics: Option<serde_json::Value>,
    /// The feature columns' names, in order, when the training data named them: a CSV body
    /// with a header must name the same columns in the same order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub feature_names: Option<Vec<String>>,
}

/// How a served run was trained.
#[derive(Clone, Debug, Serialize)]
pub struct TrainingSummary {
    /// Data set format.
    pub dataset: String,
    /// Protocol, as text.
    pub protocol: String,
    /// Seed.
    pub seed: u64,
    /// Epochs trained.
    pub epochs: usize,
    /// The best-by-validation epoch.
    pub best_epoch: usize,
    /// The validation loss of the served checkpoint's epoch.
    pub validation_loss: Option<f64>,
    /// The last epoch's training losses.
    pub final_losses: std::collections::BTreeMap<String, f64>,
}

/// A request queued for a model's thread: what it carries, and where its answer goes.
pub(super) struct Job<P, A> {
    pub payload: P,
    pub reply: tokio::sync::oneshot::Sender<Result<A, Failure>>,
}

/// What a job carries, as a share of a batch.
pub(super) trait Payload {
    /// The samples it holds.
    fn samples(&self) -> usize;
}

/// A detector's request: raw samples in the model's input shape, and whether their maps are
/// wanted.
pub(super) struct ToScore {
    pub samples: Samples,
    pub maps: bool,
}

impl Payload for ToScore {
    fn samples(&self) -> usize {
        self.samples.len()
    }
}

impl Payload for crate::ood::data::Images {
    fn samples(&self) -> usize {
        self.len()
    }
}

/// A detector's job.
pub(super) type ScoreJob = Job<ToScore, Scored>;

/// Why a job was not scored.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Failure {
    /// Its samples could not be scored (a non-finite score, …): the request's problem.
    Unscorable(String),
    /// The model panicked: the server's problem.
    Panicked,
}

/// Scores (and maps where asked) of one request's samples.
#[derive(Clone, Debug)]
pub struct Scored {
    /// One score per sample.
    pub scores: Vec<f32>,
    /// Each sample's anomaly map at its input resolution, when asked and drawn.
    pub maps: Vec<Vec<f32>>,
}

/// What a model's thread has done since the server started.
#[derive(Debug, Default)]
pub struct Counters {
    requests: AtomicU64,
    samples: AtomicU64,
    batches: AtomicU64,
}

impl Counters {
    /// `{"requests": …, "samples": …, "batches": …}`: requests and samples scored, in how
    /// many forward passes.
    pub fn snapshot(&self) -> serde_json::Value {
        serde_json::json!({
            "requests": self.requests.load(Ordering::Relaxed),
            "samples": self.samples.load(Ordering::Relaxed),
            "batches": self.batches.load(Ordering::Relaxed),
        })
    }

    fn record(&self, requests: usize, samples: usize) {
        self.requests.fetch_add(requests as u64, Ordering::Relaxed);
        self.samples.fetch_add(samples as u64, Ordering::Relaxed);
        self.batches.fetch_add(1, Ordering::Relaxed);
    }
}

/// A model being served.
pub(super) struct ServedModel {
    pub name: String,
    pub info: ModelInfo,
    pub calibration: Option<Calibration>,
    /// The pixel threshold that scales overlays (the run's, else none: per-image scale).
    pub pixel_threshold: Option<f64>,
    /// What its thread has done.
    pub counters: Arc<Counters>,
    queue: SyncSender<ScoreJob>,
}

/// Why a job was not queued.
pub(super) enum QueueError {
    /// The queue is full.
    Full,
    /// The model's thread has stopped.
    Stopped,
}

impl ServedModel {
    /// Start the model's thread, which builds the detector with the run's weights; an error
    /// there (a damaged weights file, …) comes back here.
    pub fn start(
        name: String,
        dir: PathBuf,
        run: Run,
        options: &ServeOptions,
        device: &Device,
    ) -> crate::Result<Self> {
        let checkpoint = options.checkpoint;
        let calibration = match &run.calibration {
            Some(c) if !c.of(checkpoint).is_empty() => Some(Calibration::new(c.of(checkpoint))?),
            _ => None,
        };
        let threshold = match (options.false_alarm_rate, &calibration) {
            (Some(alpha), Some(c)) => c.threshold(alpha).context("--false-alarm-rate")?,
            (Some(_), None) => anyhow::bail!(
                "{}: --false-alarm-rate needs the run's calibration.json (runs trained by \
                 this oddity write it); retrain the run",
                dir.display()
            ),
            (None, _) => run.thresholds.of(checkpoint).value,
        };
        let pixel_threshold =
            (run.calibration.as_ref()).and_then(|c| c.pixel_threshold(checkpoint));
        let (queue, jobs) = std::sync::mpsc::sync_channel(options.limits.queue);
        let (ready, started) = std::sync::mpsc::channel();
        let limits = options.limits;
        let worker_run = run.clone();
        let device = device.clone();
        let counters = Arc::new(Counters::default());
        let worker_counters = Arc::clone(&counters);
        std::thread::Builder::new()
            .name(format!("score-{name}"))
            .spawn(move || {
                let detector = match worker_run.detector(checkpoint, &device).and_then(|d| {
                    check_servable(&worker_run, d.as_ref())?;
                    Ok(d)
                }) {
                    Ok(d) => d,
                    Err(e) => {
                        let _ = ready.send(Err(e));
                        return;
                    }
                };
                let maps = draws_maps(&worker_run, detector.as_ref());
                let _ = ready.send(maps);
                answer_in_batches(
                    &jobs,
                    limits.max_batch,
                    limits.max_wait,
                    &worker_counters,
                    |batch| score_batch(&worker_run, detector.as_ref(), batch),
                );
            })
            .context("cannot start a scoring thread")?;
        let maps = started
            .recv()
            .context("the scoring thread stopped while loading the model")??;
        let info = ModelInfo {
            name: name.clone(),
            task: "anomaly",
            model: run.config.model.name().to_string(),
            data: match run.preprocessor.input {
                SampleShape::Image { .. } => "image",
                SampleShape::Table { .. } => "table",
            },
            input: run.preprocessor.input,
            checkpoint: checkpoint.to_string(),
            threshold,
            threshold_rule: match options.false_alarm_rate {
                Some(alpha) => ThresholdRule::FalseAlarmRate { alpha },
                None => run.thresholds.of(checkpoint).rule,
            },
            false_alarm_rate: options.false_alarm_rate,
            calibration_samples: calibration.as_ref().map_or(0, Calibration::len),
            maps,
            training: summary(&run, checkpoint),
            test_metrics: test_metrics(&dir, checkpoint),
            feature_names: run.feature_names.clone(),
        };
        Ok(ServedModel {
            name,
            info,
            calibration,
            pixel_threshold,
            counters,
            queue,
        })
    }

    /// Queue a job without waiting.
    pub fn submit(&self, job: ScoreJob) -> Result<(), QueueError> {
        self.queue.try_send(job).map_err(|e| match e {
            TrySendError::Full(_) => QueueError::Full,
            TrySendError::Disconnected(_) => QueueError::Stopped,
        })
    }
}

/// Refuse, at start, a run the server could not score faithfully: one that scores only whole
/// hyperspectral scenes (a request holds pixels or rows), one whose scores depend on the batch
/// (requests are batched together), or images of neither one nor three channels (requests are
/// decoded as grey or colour images).
fn check_servable(run: &Run, detector: &dyn crate::models::AnyDetector) -> crate::Result<()> {
    let name = detector.name();
    anyhow::ensure!(
        !detector.scores_whole_scenes(),
        "{name} scores a whole hyperspectral scene at once, not the rows a request holds: score \
         scenes with `oddity score`"
    );
    anyhow::ensure!(
        !detector.scores_depend_on_the_batch(),
        "this {name} run scores each sample with the statistics of its batch \
         (batch_statistics_at_score), and the server batches requests together: a client's \
         scores would depend on other clients' requests. The server scores with the run's own \
         settings; score this run in a data set's batches with `oddity score` (which can also \
         turn the setting off: --model-config '{{\"batch_statistics_at_score\": false}}')"
    );
    if let SampleShape::Image { channels, .. } = run.preprocessor.input {
        anyhow::ensure!(
            channels == 1 || channels == 3,
            "this run takes images of {channels} channels; the server decodes PNG and JPEG \
             requests as grey (1) or colour (3) images"
        );
    }
    Ok(())
}

/// Whether the detector draws maps: probed on one blank sample of the run's input.
fn draws_maps(run: &Run, detector: &dyn crate::models::AnyDetector) -> crate::Result<bool> {
    let SampleShape::Image { .. } = run.preprocessor.input else {
        return Ok(false);
    };
    let blank = Samples::unlabelled(
        run.preprocessor.input,
        vec![0.0; run.preprocessor.input.len()],
    );
    run::for_each_raw_map(
        run,
        detector,
        &blank,
        run::MapOptions::default(),
        |_, _, _, _| Ok(()),
    )
}

fn summary(run: &Run, checkpoint: Checkpoint) -> TrainingSummary {
    let epoch = match checkpoint {
        Checkpoint::Best => run.log.best_epoch,
        Checkpoint::Last => run.log.epochs.len(),
    };
    TrainingSummary {
        dataset: run.config.dataset.kind.to_string(),
        protocol: run.config.protocol.to_string(),
        seed: run.config.train.seed,
        epochs: run.log.epochs.len(),
        best_epoch: run.log.best_epoch,
        validation_loss: epoch
            .checked_sub(1)
            .and_then(|e| run.log.epochs.get(e))
            .and_then(|e| e.validation_loss),
        final_losses: run
            .log
            .epochs
            .last()
            .map(|e| e.losses.clone())
            .unwrap_or_default(),
    }
}

fn test_metrics(dir: &std::path::Path, checkpoint: Checkpoint) -> Option<serde_json::Value> {
    let path = dir.join(format!("eval-{checkpoint}")).join("metrics.json");
    let text = std::fs::read_to_string(path).ok()?;
    serde_json::from_str(&text).ok()
}

/// A model's thread: answer jobs until every sender is gone — wait for one, gather what else
/// arrives within `max_wait` while the batch stays within `max_batch` samples (a job that
/// would cross it opens the next batch), `score` them together, answer each. When a batch
/// fails, each of its jobs is scored alone, so that one request's samples do not fail
/// another's; a panic in `score` is caught and answered as [`Failure::Panicked`].
pub(super) fn answer_in_batches<P: Payload, A>(
    jobs: &Receiver<Job<P, A>>,
    max_batch: usize,
    max_wait: Duration,
    counters: &Counters,
    score: impl Fn(&[Job<P, A>]) -> crate::Result<Vec<A>>,
) {
    let guarded =
        |batch: &[Job<P, A>]| match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            score(batch)
        })) {
            Ok(Ok(answers)) if answers.len() == batch.len() => Ok(answers),
            Ok(Ok(answers)) => Err(Failure::Unscorable(format!(
                "{} answers for {} requests",
                answers.len(),
                batch.len()
            ))),
            Ok(Err(e)) => Err(Failure::Unscorable(format!("{e:#}"))),
            Err(_) => Err(Failure::Panicked),
        };
    let mut next: Option<Job<P, A>> = None;
    loop {
        let first = match next.take() {
            Some(job) => job,
            None => match jobs.recv() {
                Ok(job) => job,
                Err(_) => return,
            },
        };
        let mut samples = first.payload.samples();
        let mut batch = vec![first];
        let deadline = Instant::now() + max_wait;
        while samples < max_batch {
            let left = deadline.saturating_duration_since(Instant::now());
            match jobs.recv_timeout(left) {
                Ok(job) if samples + job.payload.samples() > max_batch => {
                    next = Some(job);
                    break;
                }
                Ok(job) => {
                    samples += job.payload.samples();
                    batch.push(job);
                }
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => break,
            }
        }
        // A job whose client has gone (timed out) is not scored.
        batch.retain(|job| !job.reply.is_closed());
        if batch.is_empty() {
            continue;
        }
        let samples = batch.iter().map(|job| job.payload.samples()).sum();
        counters.record(batch.len(), samples);
        let results: Vec<_> = match guarded(&batch) {
            Ok(answers) => answers.into_iter().map(Ok).collect(),
            Err(_) if batch.len() > 1 => (batch.iter())
                .map(|job| guarded(std::slice::from_ref(job)).map(|mut one| one.remove(0)))
                .collect(),
            Err(failure) => vec![Err(failure)],
        };
        for (job, result) in batch.into_iter().zip(results) {
            let _ = job.reply.send(result);
        }
    }
}

/// Score the samples of every job in one pass (and the maps of the jobs that asked), then cut
/// the results back into one [`Scored`] per job.
fn score_batch(
    run: &Run,
    detector: &dyn crate::models::AnyDetector,
    batch: &[ScoreJob],
) -> crate::Result<Vec<Scored>> {
    let shape = batch[0].payload.samples.shape;
    let mut all = Vec::with_capacity(batch.iter().map(|j| j.payload.samples.values.len()).sum());
    for job in batch {
        all.extend_from_slice(&job.payload.samples.values);
    }
    let scores = run::score_raw(run, detector, &Samples::unlabelled(shape, all))?;
    let mut with_maps = Vec::new();
    for job in batch.iter().filter(|j| j.payload.maps) {
        with_maps.extend_from_slice(&job.payload.samples.values);
    }
    let mut maps = Vec::new();
    if !with_maps.is_empty() {
        let wanted = Samples::unlabelled(shape, with_maps);
        run::for_each_raw_map(
            run,
            detector,
            &wanted,
            run::MapOptions::default(),
            |_, m, _, _| {
                maps.push(m.to_vec());
                Ok(())
            },
        )?;
    }
    let (mut scores, mut maps) = (scores.into_iter(), maps.into_iter());
    Ok(batch
        .iter()
        .map(|job| {
            let n = job.payload.samples.len();
            Scored {
                scores: scores.by_ref().take(n).collect(),
                maps: if job.payload.maps {
                    maps.by_ref().take(n).collect()
                } else {
                    Vec::new()
                },
            }
        })
        .collect())
}
