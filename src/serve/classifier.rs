//! A served OOD run (`oddity ood train`): its thread owns the classifier and answers each image
//! with the predicted class and every score; the request's verdict (a conformal p-value of one
//! score against the run's validation images, at a false-alarm rate) is taken from those, as
//! `oddity ood score` takes it ([`crate::ood::verdicts`]).

use super::ServeOptions;
use super::worker::{Counters, Job, QueueError, answer_in_batches};
use crate::data::SampleShape;
use crate::ood::data::Images;
use crate::ood::verdicts::{self, Classified, DEFAULT_FALSE_ALARM_RATE, Decider};
use crate::ood::{self, OodRun};
use anyhow::{Context, ensure};
use burn::tensor::Device;
use serde::Serialize;
use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc::{SyncSender, TrySendError};

/// What `GET /v1/models` says of a served OOD run.
#[derive(Clone, Debug, Serialize)]
pub struct ClassifierInfo {
    /// Its name on the server (the run folder's name).
    pub name: String,
    /// `ood`: a classifier that refuses what it was not trained on.
    pub task: &'static str,
    /// The classifier's settings (architecture, depth, width, training budget).
    pub classifier: serde_json::Value,
    /// Always `image`.
    pub data: &'static str,
    /// The raw input an image is fitted to (see [`super::Fitting::AsImageFolder`]).
    pub input: SampleShape,
    /// The classes it predicts, in label order.
    pub classes: Vec<String>,
    /// Every score it answers with (higher = more in-distribution).
    pub scores: Vec<&'static str>,
    /// The score that decides unless a request names another (`score=`).
    pub score: String,
    /// The false-alarm rate of the verdicts unless a request names another.
    pub false_alarm_rate: f64,
    /// Validation images the p-values are calibrated on.
    pub calibration_samples: usize,
    /// Accuracy on the data set's test images of its classes.
    pub test_accuracy: f64,
    /// The data set, seed and epochs it was trained with.
    pub training: serde_json::Value,
}

/// A request for the classifier's thread: images in `[0, 1]`, the run's image shape.
pub(super) type ClassifyJob = Job<Images, Classified>;

/// An OOD run being served.
pub(super) struct ServedClassifier {
    pub name: String,
    pub info: ClassifierInfo,
    /// Every score of the run's validation images, in the run's score order.
    calibration: Vec<Vec<f32>>,
    /// What its thread has done.
    pub counters: Arc<Counters>,
    queue: SyncSender<ClassifyJob>,
}

impl ServedClassifier {
    /// Start the run's thread: it loads the classifier and the scores of the run's validation
    /// images, the calibration of every verdict (stored by training; a run trained before they
    /// were stored scores them from the data set it was trained on), and checks that the
    /// default verdict can be given; an error there comes back here.
    pub fn start(
        name: String,
        dir: &Path,
        options: &ServeOptions,
        device: &Device,
    ) -> crate::Result<Self> {
        let false_alarm_rate = options.false_alarm_rate.unwrap_or(DEFAULT_FALSE_ALARM_RATE);
        let (queue, jobs) = std::sync::mpsc::sync_channel::<ClassifyJob>(options.limits.queue);
        let (ready, started) = std::sync::mpsc::channel();
        let limits = options.limits;
        let device = device.clone();
        let counters = Arc::new(Counters::default());
        let worker_counters = Arc::clone(&counters);
        let (dir, worker_name) = (dir.to_path_buf(), name.clone());
        std::thread::Builder::new()
            .name(format!("classify-{name}"))
            .spawn(move || {
                let run = match load(&dir, &device) {
                    Ok((run, calibration)) => {
                        let info = describe(&run, worker_name, false_alarm_rate, &calibration);
                        let _ = ready.send(info.map(|info| (info, calibration)));
                        run
                    }
                    Err(e) => {
                        let _ = ready.send(Err(e));
                        return;
                    }
                };
                answer_in_batches(
                    &jobs,
                    limits.max_batch,
                    limits.max_wait,
                    &worker_counters,
                    |batch| classify_batch(&run, batch, &device),
                );
            })
            .context("cannot start a scoring thread")?;
        let (info, calibration) = started
            .recv()
            .context("the scoring thread stopped while loading the run")??;
        Ok(ServedClassifier {
            name,
            info,
            calibration,
            counters,
            queue,
        })
    }

    /// Queue a job without waiting.
    pub fn submit(&self, job: ClassifyJob) -> Result<(), QueueError> {
        self.queue.try_send(job).map_err(|e| match e {
            TrySendError::Full(_) => QueueError::Full,
            TrySendError::Disconnected(_) => QueueError::Stopped,
        })
    }

    /// Refuse a deciding score the run lacks, or a false-alarm rate its validation images
    /// cannot reach: the request's mistakes.
    pub fn check_choice(&self, score: &str, false_alarm_rate: f64) -> crate::Result<()> {
        verdicts::check_choice(
            &self.info.scores,
            self.info.calibration_samples,
            score,
            false_alarm_rate,
        )
    }

    /// The verdict rule of a request whose choice [`Self::check_choice`] accepted: `score` at
    /// `false_alarm_rate`, calibrated on the run's validation images.
    pub fn decider(&self, score: &str, false_alarm_rate: f64) -> crate::Result<Decider> {
        Decider::new(
            &self.info.scores,
            self.info.calibration_samples,
            &self.calibration,
            score,
            false_alarm_rate,
        )
    }
}

/// What the server states of a run, the default verdict rule checked on its calibration.
fn describe(
    run: &OodRun,
    name: String,
    false_alarm_rate: f64,
    calibration: &[Vec<f32>],
) -> crate::Result<ClassifierInfo> {
    let scores = run.score_names();
    let samples = calibration.first().map_or(0, Vec::len);
    Decider::new(
        &scores,
        samples,
        calibration,
        verdicts::DEFAULT_SCORE,
        false_alarm_rate,
    )
    .context("the default verdict (--false-alarm-rate)")?;
    let [channels, height, width] = run.summary.image;
    Ok(ClassifierInfo {
        name,
        task: "ood",
        classifier: serde_json::to_value(&run.config.classifier)?,
        data: "image",
        input: SampleShape::Image {
            channels,
            height,
            width,
        },
        classes: run.summary.class_names.clone(),
        scores,
        score: verdicts::DEFAULT_SCORE.to_string(),
        false_alarm_rate,
        calibration_samples: samples,
        test_accuracy: run.summary.test_accuracy,
        training: serde_json::json!({
            "dataset": run.config.data.data.kind.to_string(),
            "seed": run.config.seed,
            "epochs": run.summary.epochs.len(),
            "training_images": run.summary.sizes[0],
            "outlier_exposure": run.config.outlier_exposure.is_some(),
        }),
    })
}

/// Load the run and its validation images' scores; refuse a run whose images the server
/// cannot decode.
fn load(dir: &Path, device: &Device) -> crate::Result<(OodRun, Vec<Vec<f32>>)> {
    let run = ood::load(dir, device)?;
    let channels = run.summary.image[0];
    ensure!(
        channels == 1 || channels == 3,
        "this run takes images of {channels} channels; the server decodes PNG and JPEG requests \
         as grey (1) or colour (3) images"
    );
    let calibration = run.calibration_scores(device)?;
    Ok((run, calibration))
}

/// Classify the images of every job in one pass, then cut the results back per job.
fn classify_batch(
    run: &OodRun,
    batch: &[ClassifyJob],
    device: &Device,
) -> crate::Result<Vec<Classified>> {
    let mut all = Images::default();
    for job in batch {
        all.values.extend_from_slice(&job.payload.values);
        all.labels.extend_from_slice(&job.payload.labels);
        all.origin.extend_from_slice(&job.payload.origin);
    }
    let classified = verdicts::classify(run, &all, device)?;
    ensure!(
        classified.classes.len() == all.len() && classified.scores.len() == all.len(),
        "{} results for {} images",
        classified.scores.len(),
        all.len()
    );
    let (mut classes, mut scores) = (
        classified.classes.into_iter(),
        classified.scores.into_iter(),
    );
    Ok(batch
        .iter()
        .map(|job| {
            let n = job.payload.len();
            Classified {
                names: classified.names.clone(),
                classes: classes.by_ref().take(n).collect(),
                scores: scores.by_ref().take(n).collect(),
            }
        })
        .collect())
}
