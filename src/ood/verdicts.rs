//! New images through a trained OOD run (`oddity ood score`): each image's predicted class and
//! its probability, every score of the run, and a verdict at a stated false-alarm rate — the
//! conformal p-value ([`crate::conformal`]) of one chosen score against the scores of the run's
//! in-distribution validation images. A deployed classifier answers with the class when the
//! verdict is "in-distribution" and refuses the image otherwise.
//!
//! The OOD scores are in-distribution scores (higher = more in-distribution); the p-value of an
//! image with score `s` is `(1 + #{validation scores ≤ s}) / (n + 1)`, and the image is flagged
//! out-of-distribution when `p ≤ α`: in-distribution images are then flagged at rate at most α
//! (the OOD papers' operating point is α = 0.05, "95 % TPR"), whatever the score's scale.
//!
//! The calibration images are the validation images training held out of the classifier's fit.
//! The guarantee needs them exchangeable with the new in-distribution images, which holds only
//! approximately: they also chose ODIN's ε and fitted the Mahalanobis ensemble (for `odin`,
//! `mahalanobis` and `mahalanobis-penultimate` they are not fresh), and they come from the data
//! set's training split while new images may differ (MNIST's test digits are other writers').
//! The realised rate can then run a little over α; `tests/ood.rs` measures it on the MNIST
//! fixture (MSP 0.074, the ensemble 0.047 at α = 0.05, 300 calibration images, whose own
//! scatter is ≈ 0.013).

use super::data::{self, Images, InDistribution, OutSet};
use super::{OodRun, predicted_classes, score_images};
use crate::conformal::{Calibration, check_alpha, check_enough_to_flag};
use crate::io::csv_cell;
use anyhow::{Context, ensure};
use std::path::{Path, PathBuf};

/// The first columns of the table [`write_csv`] writes (each score's column follows, then
/// `p_value,out_of_distribution`).
pub const HEADER_START: &str = "index,file,class,probability";

/// The score that decides by default: the Mahalanobis ensemble, first or level with the best on
/// every far-OOD pair of `docs/results/ood.md`.
pub const DEFAULT_SCORE: &str = "mahalanobis";

/// The false-alarm rate of the verdicts unless asked otherwise: the OOD papers' operating point
/// (95 % of in-distribution images accepted).
pub const DEFAULT_FALSE_ALARM_RATE: f64 = 0.05;

/// One scored image.
#[derive(Clone, Debug, PartialEq)]
pub struct Verdict {
    /// Its index in the scored set: its test split's, else all its images' (a folder's images
    /// in the order of their sorted class folders and names); for `held-out-classes`, in the
    /// in-distribution data set's test split; for the noise sets, in their draw.
    pub index: u32,
    /// Its file, for an image folder.
    pub file: Option<PathBuf>,
    /// The class the classifier predicts.
    pub class: String,
    /// The softmax probability of that class (the MSP score).
    pub probability: f32,
    /// Every score of the run, in [`OodRun::score_names`] order.
    pub scores: Vec<f32>,
    /// The conformal p-value of the deciding score.
    pub p_value: f64,
    /// `p_value ≤ false_alarm_rate` (through [`Calibration::threshold`]).
    pub out_of_distribution: bool,
}

/// The verdicts on a set of new images.
#[derive(Clone, Debug, PartialEq)]
pub struct Verdicts {
    /// The score the verdicts are taken on.
    pub score: String,
    /// The false-alarm rate α: in-distribution images are flagged at rate at most α.
    pub false_alarm_rate: f64,
    /// Validation images the p-values are calibrated on.
    pub calibration_images: usize,
    /// The score columns' names.
    pub names: Vec<String>,
    /// One per image.
    pub rows: Vec<Verdict>,
}

impl Verdicts {
    /// How many images are flagged out-of-distribution.
    pub fn flagged(&self) -> usize {
        self.rows.iter().filter(|r| r.out_of_distribution).count()
    }
}

/// Refuse a request that cannot be answered, before any image is read: a score the run does not
/// have, a false-alarm rate outside (0, 1) or below what the run's validation images can reach,
/// `max_samples` of 0.
pub fn check_request(
    run: &OodRun,
    score: &str,
    false_alarm_rate: f64,
    max_samples: Option<usize>,
) -> crate::Result<()> {
    check_choice(
        &run.score_names(),
        run.config.data.validation,
        score,
        false_alarm_rate,
    )
    .with_context(|| format!("--score {score} at --false-alarm-rate {false_alarm_rate}"))?;
    ensure!(
        max_samples != Some(0),
        "--max-samples must be at least 1, got 0"
    );
    Ok(())
}

/// Refuse a deciding score not among `names` (a run's scores), or a false-alarm rate outside
/// (0, 1) or too small to flag anything with `validation` calibration images.
pub fn check_choice(
    names: &[&str],
    validation: usize,
    score: &str,
    false_alarm_rate: f64,
) -> crate::Result<()> {
    ensure!(
        names.contains(&score),
        "score {score:?}: the run's scores are {}",
        names.join(", ")
    );
    check_alpha(false_alarm_rate).context("false-alarm rate")?;
    check_enough_to_flag(
        false_alarm_rate,
        validation,
        "validation images",
        "raise the rate or train with more --validation",
    )
}

/// Score the images of `set` (at most `max_samples`, a seeded draw) with `run`: class, every
/// score, and the verdict of `score` at `false_alarm_rate`, calibrated on the run's validation
/// images' scores ([`OodRun::calibration_scores`]). The in-distribution data set is read only
/// where the set needs it (noise as many as its test images, `held-out-classes`) or the run
/// stores no validation scores. The images are read before any scoring, so a set that cannot
/// be read fails at once.
pub fn score_new(
    run: &OodRun,
    set: &OutSet,
    score: &str,
    false_alarm_rate: f64,
    max_samples: Option<usize>,
    device: &burn::prelude::Device,
) -> crate::Result<Verdicts> {
    check_request(run, score, false_alarm_rate, max_samples)?;
    let image = run.summary.image;
    let d = image.iter().product::<usize>();
    let seed = run.config.seed;
    let (images, files) = match set {
        OutSet::Dataset { .. } => set.load_with_files(image, 0, &Images::default(), seed)?,
        _ => {
            let data = in_distribution(run)?;
            set.load_with_files(image, data.test.len(), &data.held_out_classes, seed)?
        }
    };
    ensure!(!images.is_empty(), "{}: no image to score", set.name());
    let images = data::capped(images, max_samples, d, seed, 46);
    let calibration = run.calibration_scores(device)?;
    verdicts_of(
        run,
        &images,
        files.as_deref(),
        &calibration,
        score,
        false_alarm_rate,
        device,
    )
}

/// The run's in-distribution data, read again from where it was trained (its validation
/// images calibrate the verdicts), checked to hold the run's classes.
pub fn in_distribution(run: &OodRun) -> crate::Result<InDistribution> {
    let data = data::load_in_distribution(&run.config.data, run.config.seed)?;
    ensure!(
        data.class_names == run.summary.class_names,
        "{}: the data set's classes {:?} are not the run's {:?} (moved or changed since training?)",
        run.config.data.data.path.display(),
        data.class_names,
        run.summary.class_names
    );
    Ok(data)
}

/// The verdicts on `images` (in `[0, 1]`, the run's image shape; `files` the file of each
/// `origin`, when known) given `calibration`, every score of the validation images in
/// [`OodRun::score_names`] order ([`score_images`] of [`in_distribution`]'s validation set).
pub fn verdicts_of(
    run: &OodRun,
    images: &Images,
    files: Option<&[PathBuf]>,
    calibration: &[Vec<f32>],
    score: &str,
    false_alarm_rate: f64,
    device: &burn::prelude::Device,
) -> crate::Result<Verdicts> {
    let decider = Decider::new(
        &run.score_names(),
        run.config.data.validation,
        calibration,
        score,
        false_alarm_rate,
    )?;
    if let Some(files) = files {
        ensure!(
            images.origin.iter().all(|&i| (i as usize) < files.len()),
            "an image's index is past the {} files listed",
            files.len()
        );
    }
    let classified = classify(run, images, device)?;
    let rows = decider.verdicts(&classified, &run.summary.class_names, &images.origin, files)?;
    Ok(Verdicts {
        score: score.to_string(),
        false_alarm_rate,
        calibration_images: decider.calibration_images(),
        names: classified.names.iter().map(|n| n.to_string()).collect(),
        rows,
    })
}

/// What the classifier says of some images: each one's predicted class and every score.
#[derive(Clone, Debug, PartialEq)]
pub struct Classified {
    /// The score names, in [`OodRun::score_names`] order.
    pub names: Vec<&'static str>,
    /// Each image's predicted class index.
    pub classes: Vec<usize>,
    /// Each image's scores, in `names` order.
    pub scores: Vec<Vec<f32>>,
}

impl Classified {
    /// The softmax probability of image `i`'s predicted class: its MSP score.
    pub fn probability(&self, i: usize) -> f32 {
        let msp = self.names.iter().position(|n| *n == "msp");
        self.scores[i][msp.expect("every run has MSP")]
    }
}

/// Classify and score `images` (in `[0, 1]`, the run's image shape). Each image's results
/// do not depend on the others it is scored with.
pub fn classify(
    run: &OodRun,
    images: &Images,
    device: &burn::prelude::Device,
) -> crate::Result<Classified> {
    let d: usize = run.summary.image.iter().product();
    ensure!(
        images.values.len() == images.len() * d && images.origin.len() == images.len(),
        "{} values for {} images of {:?}",
        images.values.len(),
        images.len(),
        run.summary.image
    );
    let classes = predicted_classes(&run.scoring, images, device);
    let columns = score_images(run, images, device)?;
    let scores = (0..images.len())
        .map(|i| columns.iter().map(|c| c[i]).collect())
        .collect();
    Ok(Classified {
        names: run.score_names(),
        classes,
        scores,
    })
}

/// The verdict rule: one score's conformal p-value against the validation images' scores of
/// it, flagged out-of-distribution at a false-alarm rate.
#[derive(Clone, Debug)]
pub struct Decider {
    /// The deciding score's column in [`OodRun::score_names`].
    pub column: usize,
    score: String,
    /// The validation scores, negated (higher = more anomalous).
    calibration: Calibration,
    threshold: f64,
}

impl Decider {
    /// Decide with `score` at `false_alarm_rate`, calibrated on `calibration`: every score of
    /// the run's `validation` images, in the order of `names`, the run's score names. The
    /// choice is checked first ([`check_choice`]).
    pub fn new(
        names: &[&str],
        validation: usize,
        calibration: &[Vec<f32>],
        score: &str,
        false_alarm_rate: f64,
    ) -> crate::Result<Self> {
        check_choice(names, validation, score, false_alarm_rate)?;
        let column = names.iter().position(|n| *n == score).expect("checked");
        ensure!(
            calibration.len() == names.len(),
            "{} calibration columns for the run's {} scores",
            calibration.len(),
            names.len()
        );
        // Higher = more anomalous for the calibration: the negated in-distribution score.
        let negated: Vec<f32> = calibration[column].iter().map(|s| -s).collect();
        let calibration = Calibration::new(&negated).with_context(|| format!("score {score}"))?;
        let threshold = calibration.threshold(false_alarm_rate)?;
        Ok(Decider {
            column,
            score: score.to_string(),
            calibration,
            threshold,
        })
    }

    /// The p-value of a deciding score `s` and whether it is flagged out-of-distribution; a
    /// score that is not finite gets no verdict.
    pub fn decide(&self, s: f32) -> crate::Result<(f64, bool)> {
        ensure!(
            s.is_finite(),
            "its {} score is {s}, no verdict possible",
            self.score
        );
        Ok((self.calibration.p_value(-s), -(s as f64) >= self.threshold))
    }

    /// The validation images behind the p-values.
    pub fn calibration_images(&self) -> usize {
        self.calibration.len()
    }

    /// The verdicts on `classified` images: `class_names` the run's, `origin` each image's
    /// index (in the error of an image without a verdict, too), `files` the file of each
    /// origin, when known.
    pub fn verdicts(
        &self,
        classified: &Classified,
        class_names: &[String],
        origin: &[u32],
        files: Option<&[PathBuf]>,
    ) -> crate::Result<Vec<Verdict>> {
        ensure!(
            classified.classes.len() == origin.len() && classified.scores.len() == origin.len(),
            "{} classes and {} score rows for {} images",
            classified.classes.len(),
            classified.scores.len(),
            origin.len()
        );
        (0..origin.len())
            .map(|i| {
                let index = origin[i];
                let file = files.and_then(|f| f.get(index as usize)).cloned();
                let (p_value, out_of_distribution) = self
                    .decide(classified.scores[i][self.column])
                    .with_context(|| {
                        format!(
                            "image {index}{}",
                            file.as_ref()
                                .map(|f| format!(" ({})", f.display()))
                                .unwrap_or_default()
                        )
                    })?;
                let class = (class_names.get(classified.classes[i])).with_context(|| {
                    format!("image {index}: no class {}", classified.classes[i])
                })?;
                Ok(Verdict {
                    index,
                    file,
                    class: class.clone(),
                    probability: classified.probability(i),
                    scores: classified.scores[i].clone(),
                    p_value,
                    out_of_distribution,
                })
            })
            .collect()
    }
}

/// Write `verdicts` as CSV: `index,file,class,probability,<every score>,p_value,out_of_distribution`
/// (`file` empty unless the set is an image folder; `out_of_distribution` 1 or 0).
pub fn write_csv(path: &Path, verdicts: &Verdicts) -> crate::Result<()> {
    crate::io::write_atomic_with(path, |w| {
        write!(w, "{HEADER_START}")?;
        for name in &verdicts.names {
            write!(w, ",{name}")?;
        }
        writeln!(w, ",p_value,out_of_distribution")?;
        for row in &verdicts.rows {
            let file = row
                .file
                .as_ref()
                .map(|f| csv_cell(&f.display().to_string()));
            write!(
                w,
                "{},{},{},{}",
                row.index,
                file.unwrap_or_default(),
                csv_cell(&row.class),
                row.probability
            )?;
            for s in &row.scores {
                write!(w, ",{s}")?;
            }
            writeln!(w, ",{},{}", row.p_value, u8::from(row.out_of_distribution))?;
        }
        Ok(())
    })
}
