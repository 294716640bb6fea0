//! A served OOD run (`oddity ood train`): its thread owns the classifier and answers each image
//! with the predicted class and every score; the request's verdict (a conformal p-value of one
//! score against the run's validation images, at a false-alarm rate) is taken from those, as
//! `oddity ood score` takes it ([`crate::ood::verdicts`]).

use super::ServeOptions;
use super::worker::{Counters, Failure, QueueError, Queued, answer_in_batches};
use crate::data::SampleShape;
use crate::ood::data::Images;
use crate::ood::verdicts::{self, Classified, Decider};
use crate::ood::{self, OodRun};
use anyhow::Context;
use burn::tensor::Device;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{SyncSender, TrySendError};

/// The false-alarm rate of the verdicts when neither the server nor the request names one:
/// the OOD papers' operating point (95 % of in-distribution images accepted).
pub const DEFAULT_FALSE_ALARM_RATE: f64 = 0.05;

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
    /// The raw input an image must have (images of another size are resized to it).
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
pub(super) struct ClassifyJob {
    pub images: Images,
    pub reply: tokio::sync::oneshot::Sender<Result<Classified, Failure>>,
}

impl Queued for ClassifyJob {
    type Answer = Classified;
    fn samples(&self) -> usize {
        self.images.len()
    }
    fn abandoned(&self) -> bool {
        self.reply.is_closed()
    }
    fn answer(self, result: Result<Classified, Failure>) {
        let _ = self.reply.send(result);
    }
}

/// An OOD run being served.
pub(super) struct ServedClassifier {
    pub name: String,
    pub info: ClassifierInfo,
    /// Every score of the run's validation images, in the run's score order.
    pub calibration: Vec<Vec<f32>>,
    /// The run's class names, for the answers.
    pub class_names: Vec<String>,
    /// What its thread has done.
    pub counters: Arc<Counters>,
    /// The validation images the run held out.
    validation: usize,
    queue: SyncSender<ClassifyJob>,
}

impl ServedClassifier {
    /// Start the run's thread: it loads the classifier and the scores of the run's validation
    /// images, the calibration of every verdict (stored by training; a run trained before they
    /// were stored scores them from the data set it was trained on); an error there comes back
    /// here.
    pub fn start(
        name: String,
        dir: PathBuf,
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
        let worker_dir = dir.clone();
        std::thread::Builder::new()
            .name(format!("classify-{name}"))
            .spawn(move || {
                let run = match load(&worker_dir, false_alarm_rate, &device) {
                    Ok((run, calibration)) => {
                        let _ = ready.send(Ok((describe(&run), calibration)));
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
        let (described, calibration) = started
            .recv()
            .context("the scoring thread stopped while loading the run")??;
        let Described {
            classifier,
            input,
            classes,
            scores,
            test_accuracy,
            training,
            validation,
        } = described;
        let info = ClassifierInfo {
            name: name.clone(),
            task: "ood",
            classifier,
            data: "image",
            input,
            classes: classes.clone(),
            scores,
            score: verdicts::DEFAULT_SCORE.to_string(),
            false_alarm_rate,
            calibration_samples: calibration.first().map_or(0, Vec::len),
            test_accuracy,
            training,
        };
        Ok(ServedClassifier {
            name,
            info,
            calibration,
            class_names: classes,
            counters,
            validation,
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

    /// The verdict rule of a request: `score` at `false_alarm_rate`, calibrated on the run's
    /// validation images; a score the run lacks or a rate it cannot reach is refused.
    pub fn decider(&self, score: &str, false_alarm_rate: f64) -> crate::Result<Decider> {
        Decider::new(
            &self.info.scores,
            self.validation,
            &self.calibration,
            score,
            false_alarm_rate,
        )
    }
}

/// What the server states of a run, taken on its thread.
struct Described {
    classifier: serde_json::Value,
    input: SampleShape,
    classes: Vec<String>,
    scores: Vec<&'static str>,
    test_accuracy: f64,
    training: serde_json::Value,
    validation: usize,
}

fn describe(run: &OodRun) -> Described {
    let [channels, height, width] = run.summary.image;
    Described {
        classifier: serde_json::to_value(&run.config.classifier).unwrap_or_default(),
        input: SampleShape::Image {
            channels,
            height,
            width,
        },
        classes: run.summary.class_names.clone(),
        scores: run.score_names(),
        test_accuracy: run.summary.test_accuracy,
        training: serde_json::json!({
            "dataset": run.config.data.data.kind.to_string(),
            "seed": run.config.seed,
            "epochs": run.summary.epochs.len(),
            "training_images": run.summary.sizes[0],
            "outlier_exposure": run.config.outlier_exposure.is_some(),
        }),
        validation: run.config.data.validation,
    }
}

/// Load the run and score its validation images; refuse a run whose images the server cannot
/// decode, or whose default verdict cannot be reached.
fn load(
    dir: &Path,
    false_alarm_rate: f64,
    device: &Device,
) -> crate::Result<(OodRun, Vec<Vec<f32>>)> {
    let run = ood::load(dir, device)?;
    let channels = run.summary.image[0];
    anyhow::ensure!(
        channels == 1 || channels == 3,
        "this run takes images of {channels} channels; the server decodes PNG and JPEG requests \
         as grey (1) or colour (3) images"
    );
    verdicts::check_request(&run, verdicts::DEFAULT_SCORE, false_alarm_rate, None)?;
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
        all.values.extend_from_slice(&job.images.values);
        all.labels.extend_from_slice(&job.images.labels);
        all.origin.extend_from_slice(&job.images.origin);
    }
    let classified = verdicts::classify(run, &all, device)?;
    let (mut classes, mut scores) = (
        classified.classes.into_iter(),
        classified.scores.into_iter(),
    );
    Ok(batch
        .iter()
        .map(|job| {
            let n = job.images.len();
            Classified {
                names: classified.names.clone(),
                classes: classes.by_ref().take(n).collect(),
                scores: scores.by_ref().take(n).collect(),
            }
        })
        .collect())
}
