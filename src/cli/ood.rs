//! `oddity ood`: the out-of-distribution target's command line (the jobs are in
//! [`oddity::ood`]).

use anyhow::Context;
use clap::{Args, Subcommand};
use oddity::data::source::{DatasetKind, DatasetSpec};
use oddity::io::settings_text;
use oddity::ood::data::{IN_DISTRIBUTION_KINDS, InSpec, OutSet};
use oddity::ood::{self, ClassifierRequest, OodReport, OodRequest};
use oddity::run::folder::Leave;
use std::path::PathBuf;

/// Train a classifier and tell in-distribution images from others.
#[derive(Subcommand)]
pub enum OodCommand {
    /// Train the in-distribution classifier of a labelled image set (its test accuracy, the
    /// score statistics and settings, chosen on in-distribution data only) into a run folder.
    Train(OodTrainArgs),
    /// Score the run's in-distribution test images and each --against set with MSP, ODIN,
    /// energy and Mahalanobis (and the generative scores when the run has them); write
    /// RUN/ood-eval/{metrics.json,scores.csv,roc-<set>.png}.
    Eval(OodEvalArgs),
    /// Put new images through the run: each one's predicted class and its probability, every
    /// score, and a verdict (out-of-distribution when the chosen score's conformal p-value
    /// against the run's validation images is at most --false-alarm-rate); write a CSV.
    Score(OodScoreArgs),
}

/// The labelled image set a classifier is trained on: `train`'s data options that apply to it.
#[derive(Args)]
pub struct ImageSetArgs {
    /// Data set format: mnist, fashion-mnist, cifar10, image-folder (class sub-folders under
    /// train/ and test/), builtin-mnist.
    #[arg(long, value_parser = in_distribution_kind)]
    dataset: DatasetKind,
    /// The data set's folder (not needed for builtin-mnist).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Resize folder images to this side while decoding (when their sizes differ).
    #[arg(long)]
    decode_size: Option<u32>,
}

/// `--dataset`'s value; a typo is answered with the kinds the OOD job trains on.
fn in_distribution_kind(text: &str) -> anyhow::Result<DatasetKind> {
    DatasetKind::parse_suggesting(text, IN_DISTRIBUTION_KINDS)
}

impl ImageSetArgs {
    fn spec(&self) -> anyhow::Result<DatasetSpec> {
        let path = super::data_path(self.data.as_ref(), self.dataset)?;
        Ok(DatasetSpec {
            image_size: self.decode_size,
            ..DatasetSpec::new(self.dataset, path)
        })
    }
}

#[derive(Args)]
pub struct OodTrainArgs {
    #[command(flatten)]
    data: ImageSetArgs,
    /// The in-distribution classes, comma-separated names (or indices, where no class is named
    /// by a number; default: all).
    #[arg(long, value_delimiter = ',')]
    classes: Vec<String>,
    /// The run folder to write.
    #[arg(long)]
    out: PathBuf,
    /// Replace an existing OOD run folder there.
    #[arg(long)]
    force: bool,
    /// Classifier settings over the defaults, a JSON object or file: {"architecture": "lenet"|"wrn",
    /// "depth", "widen", "epochs", "batch_size", "learning_rate", "weight_decay", "augment"}.
    #[arg(long)]
    classifier_config: Option<String>,
    /// Training images held out for choosing ε and fitting the Mahalanobis ensemble.
    #[arg(long, default_value_t = 1000)]
    validation: usize,
    /// At most this many training images (a seeded draw), for short runs.
    #[arg(long)]
    max_train: Option<usize>,
    /// ODIN's temperature.
    #[arg(long, default_value_t = ood::DEFAULT_ODIN_TEMPERATURE)]
    odin_temperature: f64,
    /// The FGSM step (pixel units) of the adversarial validation images the Mahalanobis
    /// ensemble is fitted against.
    #[arg(long, default_value_t = ood::DEFAULT_ADVERSARIAL_EPSILON)]
    adversarial_epsilon: f64,
    /// Outlier exposure: train with this auxiliary outlier set pushed towards the uniform
    /// posterior (KIND:PATH — its training split —, uniform or gaussian); never a test set.
    #[arg(long)]
    auxiliary: Option<String>,
    /// Outlier exposure's weight λ.
    #[arg(long, default_value_t = 0.5, requires = "auxiliary")]
    oe_weight: f64,
    /// At most this many auxiliary images (a seeded draw; synthetic sets draw this many).
    #[arg(long, requires = "auxiliary")]
    auxiliary_max: Option<usize>,
    /// Also train the generative scores' density model (a VAE, or PixelCNN) and its background
    /// model on the in-distribution images (likelihood, likelihood ratio, input complexity; no
    /// labels used).
    #[arg(long)]
    generative: bool,
    /// The generative models' settings over the defaults, a JSON object or file: "model" ("vae",
    /// the default, or "pixelcnn": an exact likelihood of grey or RGB 8-bit images), that model's
    /// fields (the VAE's "image_size", "latent_dim", "decoder": "gaussian" or
    /// "discretized-logistic", "decoder_std", "epochs", "importance_samples", …; PixelCNN's
    /// "filters", "first_kernel", "blocks", "epochs", …) and "mutation_rate" (the background
    /// model's μ, 0.2).
    #[arg(long, requires = "generative")]
    generative_config: Option<String>,
    /// Seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Compute device: cpu or gpu.
    #[arg(long, default_value = "cpu")]
    device: String,
}

#[derive(Args)]
pub struct OodEvalArgs {
    /// The OOD run folder.
    run: PathBuf,
    /// An out-of-distribution set, repeatable: uniform, gaussian, held-out-classes, or
    /// KIND:PATH with KIND one of mnist, fashion-mnist, cifar10, image-folder (its images
    /// resized to the classifier's side).
    #[arg(long, required = true)]
    against: Vec<String>,
    /// At most this many images of each set (a seeded draw).
    #[arg(long)]
    max_samples: Option<usize>,
    /// Add the papers' own tuning on each OOD set as named oracle rows (odin-oracle,
    /// mahalanobis-oracle): up to 1000 images of each side tune, and every metric is measured
    /// on the rest.
    #[arg(long)]
    oracle: bool,
    /// Score ODIN at this temperature instead of the run's.
    #[arg(long)]
    odin_temperature: Option<f64>,
    /// Score ODIN with this input step instead of the one chosen on validation images.
    #[arg(long)]
    odin_epsilon: Option<f64>,
    /// Score Mahalanobis with this input step instead of the one chosen on validation images
    /// (the ensemble's weights stay those fitted at the chosen step).
    #[arg(long)]
    mahalanobis_epsilon: Option<f64>,
    /// Compute device: cpu or gpu.
    #[arg(long, default_value = "cpu")]
    device: String,
}

#[derive(Args)]
pub struct OodScoreArgs {
    /// The OOD run folder.
    run: PathBuf,
    /// The images: KIND:PATH with KIND one of mnist, fashion-mnist, cifar10 (their test
    /// splits), image-folder (`DIR/<image>`, `DIR/<any name>/<image>`, or its `test/` split;
    /// resized to the classifier's side), or held-out-classes, uniform, gaussian.
    #[arg(long)]
    images: String,
    /// Output CSV: index,file,class,probability, every score, p_value,out_of_distribution. An
    /// existing file is replaced only if it is an earlier such table (or empty).
    #[arg(long)]
    output: PathBuf,
    /// The score that decides (any of the run's scores: msp, odin, energy, mahalanobis,
    /// mahalanobis-penultimate, and the generative ones when trained).
    #[arg(long, default_value = ood::verdicts::DEFAULT_SCORE)]
    score: String,
    /// Flag an image when its p-value is at most this rate: in-distribution images are then
    /// flagged at rate at most this (0.05: the OOD papers' 95 % TPR).
    #[arg(long, default_value_t = ood::verdicts::DEFAULT_FALSE_ALARM_RATE)]
    false_alarm_rate: f64,
    /// At most this many images (a seeded draw).
    #[arg(long)]
    max_samples: Option<usize>,
    /// Compute device: cpu or gpu.
    #[arg(long, default_value = "cpu")]
    device: String,
}

/// Run one `oddity ood` command.
pub fn run(command: OodCommand) -> anyhow::Result<()> {
    match command {
        OodCommand::Train(a) => train(a),
        OodCommand::Eval(a) => eval(a),
        OodCommand::Score(a) => score(a),
    }
}

fn train(a: OodTrainArgs) -> anyhow::Result<()> {
    let device = oddity::device::parse(&a.device)?;
    let classifier_settings = a
        .classifier_config
        .as_deref()
        .map(settings_text)
        .transpose()?;
    let generative = if a.generative {
        let text = a
            .generative_config
            .as_deref()
            .map(settings_text)
            .transpose()?;
        Some(ood::generative::GenerativeConfig::with_overrides(
            text.as_deref(),
        )?)
    } else {
        None
    };
    let outlier_exposure = match &a.auxiliary {
        Some(set) => Some(ood::OutlierExposure {
            auxiliary: OutSet::parse(set).with_context(|| format!("--auxiliary {set:?}"))?,
            weight: a.oe_weight,
            max_images: a.auxiliary_max,
        }),
        None => None,
    };
    let request = OodRequest {
        data: InSpec {
            data: a.data.spec()?,
            classes: a.classes,
            validation: a.validation,
            max_train: a.max_train,
        },
        classifier: ClassifierRequest::OverDefaults(classifier_settings),
        seed: a.seed,
        odin_temperature: a.odin_temperature,
        energy_temperature: 1.0,
        adversarial_epsilon: a.adversarial_epsilon,
        outlier_exposure,
        generative,
    };
    let run = ood::train(request, &a.out, Leave::force(a.force), &device)?;
    eprintln!(
        "saved {} ({} classes, test accuracy {:.4})",
        run.dir.display(),
        run.summary.class_names.len(),
        run.summary.test_accuracy
    );
    Ok(())
}

fn eval(a: OodEvalArgs) -> anyhow::Result<()> {
    let device = oddity::device::parse(&a.device)?;
    let against = a
        .against
        .iter()
        .map(|s| OutSet::parse(s).with_context(|| format!("--against {s:?}")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut run = ood::load(&a.run, &device)?;
    run.override_settings(a.odin_temperature, a.odin_epsilon, a.mahalanobis_epsilon)?;
    let report = ood::evaluate(&run, &against, a.max_samples, a.oracle, &device)?;
    print_report(&report);
    eprintln!("wrote {}", a.run.join("ood-eval").display());
    Ok(())
}

fn score(a: OodScoreArgs) -> anyhow::Result<()> {
    let device = oddity::device::parse(&a.device)?;
    let images = OutSet::parse(&a.images).with_context(|| format!("--images {:?}", a.images))?;
    oddity::conformal::check_alpha(a.false_alarm_rate).context("--false-alarm-rate")?;
    oddity::io::check_output_file("--output", &a.output, &[], |start| {
        start.starts_with(ood::verdicts::HEADER_START.as_bytes())
    })?;
    let run = ood::load(&a.run, &device)?;
    let verdicts = ood::verdicts::score_new(
        &run,
        &images,
        &a.score,
        a.false_alarm_rate,
        a.max_samples,
        &device,
    )?;
    ood::verdicts::write_csv(&a.output, &verdicts)?;
    let n = verdicts.rows.len();
    println!(
        "{} of {n} images out-of-distribution by {} at a false-alarm rate of {} ({} validation \
         images calibrate it); wrote {}",
        verdicts.flagged(),
        verdicts.score,
        verdicts.false_alarm_rate,
        verdicts.calibration_images,
        a.output.display()
    );
    Ok(())
}

fn print_report(report: &OodReport) {
    println!(
        "classifier test accuracy {:.4}; {} in-distribution test images; in-distribution is the positive class",
        report.test_accuracy, report.in_samples
    );
    if report.oracle {
        println!(
            "oracle rows tuned on each set's own images; every row measured on the images that did not tune"
        );
    }
    for set in &report.sets {
        println!(
            "\nagainst {} ({} images)",
            set.name,
            set.scores.first().map_or(0, |s| s.1.out_samples)
        );
        if let Some(choice) = &set.oracle {
            println!(
                "oracle: ODIN T {} ε {}, Mahalanobis ε {} (tuned on {} in-distribution and {} of these images)",
                choice.odin_temperature,
                choice.odin_epsilon,
                choice.mahalanobis_epsilon,
                choice.tuning_in,
                choice.tuning_out
            );
        }
        println!(
            "{:<24} {:>7} {:>8} {:>9} {:>8} {:>9}",
            "score", "AUROC", "AUPR-in", "AUPR-out", "FPR@95", "det. err"
        );
        for (name, m) in &set.scores {
            println!(
                "{:<24} {:>7.4} {:>8.4} {:>9.4} {:>8.4} {:>9.4}",
                name, m.auroc, m.aupr_in, m.aupr_out, m.fpr_at_95_tpr, m.detection_error
            );
        }
    }
}
