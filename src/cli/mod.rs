//! Command-line parsing and the jobs behind each subcommand.

use anyhow::Context;
use burn::tensor::Device;
use clap::{Args, Parser, Subcommand};
use oddity::data::Samples;
use oddity::data::preprocess::Scaling;
use oddity::data::protocol::Protocol;
use oddity::data::source::{self, DatasetKind, DatasetSpec};
use oddity::models::{self, ModelConfig};
use oddity::report::{self, MetricsReport};
use oddity::run::folder::{Existing, Staging};
use oddity::run::{self, Checkpoint, Run, RunConfig};
use oddity::threshold::ThresholdRule;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

mod bench;

#[derive(Parser)]
#[command(
    name = "oddity",
    version,
    about = "Deep anomaly detection: train on normal data, score, threshold, report.",
    long_about = "Deep anomaly detection: train detectors on normal data only, score new data, \
choose thresholds from normal validation data and report AUROC & co.\n\n\
Quick start:\n  oddity demo\n  oddity models\n  oddity train --model ganomaly --dataset mnist --data DIR \
--protocol leave-one-out --class 1 --out runs/g1\n  oddity eval runs/g1"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train a detector on the bundled MNIST subset, evaluate it and write a report (no data needed).
    Demo(DemoArgs),
    /// List every detector with its paper.
    Models,
    /// Train a detector under a protocol and save the run folder.
    Train(TrainArgs),
    /// Evaluate a run on the held-out test split of its protocol; write metrics.json, scores.csv, roc.png, scores.png.
    Eval(EvalArgs),
    /// Score a data set with a trained run; write a CSV of scores.
    Score(ScoreArgs),
    /// Compute AUROC & co. from any CSV with columns `score` and `label` (1 = anomaly).
    Metrics(MetricsArgs),
    /// Speed benchmarks against the PyTorch reference (see bench/reference/).
    #[command(subcommand)]
    Bench(bench::BenchCommand),
}

#[derive(Args)]
struct DataArgs {
    /// Data set format: mnist, fashion-mnist, cifar10, image-folder, mvtec, kdd99, adbench, csv, builtin-mnist.
    #[arg(long)]
    dataset: Option<DatasetKind>,
    /// The data set's file or folder (not needed for builtin-mnist).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Label column of a CSV data set (default: label).
    #[arg(long)]
    label_column: Option<String>,
    /// Resize folder images to this side while decoding (when their sizes differ).
    #[arg(long)]
    decode_size: Option<u32>,
}

impl DataArgs {
    fn spec(&self) -> anyhow::Result<DatasetSpec> {
        let dataset = self.dataset.context("--dataset is required")?;
        let path = match (&self.data, dataset) {
            (Some(p), _) => p.clone(),
            (None, DatasetKind::BuiltinMnist) => PathBuf::from("builtin"),
            (None, _) => anyhow::bail!("--data is required for this dataset"),
        };
        Ok(DatasetSpec {
            kind: dataset,
            path,
            label_column: self.label_column.clone(),
            image_size: self.decode_size,
        })
    }
}

#[derive(Args)]
struct TrainArgs {
    /// Continue the stopped training (killed, or Ctrl-C) of this run folder from its last
    /// checkpoint; every other setting comes from the stopped run.
    #[arg(long, conflicts_with_all = ["model", "protocol", "out", "model_config"])]
    resume: Option<PathBuf>,
    /// Detector name (see `oddity models`).
    #[arg(long, required_unless_present = "resume")]
    model: Option<String>,
    #[command(flatten)]
    data: DataArgs,
    /// Protocol: one-class (class k normal), leave-one-out (class k anomalous), kdd99, tabular.
    #[arg(long, required_unless_present = "resume")]
    protocol: Option<String>,
    /// The class of one-class / leave-one-out (name or index).
    #[arg(long)]
    class: Option<String>,
    /// Epochs (default: the paper's).
    #[arg(long)]
    epochs: Option<usize>,
    /// Training batch size (default: the paper's).
    #[arg(long)]
    batch_size: Option<usize>,
    /// Seed of weights, shuffles and splits.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Run folder to write. It must not exist yet, unless --force.
    #[arg(long, required_unless_present = "resume")]
    out: Option<PathBuf>,
    /// Replace the run folder --out whole if it holds a run (its evaluations go with it); the
    /// old run stays intact until the new one is complete.
    #[arg(long)]
    force: bool,
    /// Compute device: cpu, or gpu (built with --features vulkan or cuda).
    #[arg(long, default_value = "cpu")]
    device: String,
    /// JSON file of model hyper-parameters overriding the paper's defaults.
    #[arg(long)]
    model_config: Option<PathBuf>,
    /// Fraction of the training normals held out for validation.
    #[arg(long, default_value_t = 0.1)]
    validation_fraction: f64,
    /// Train on at most this many samples (a seeded subset; for reduced budgets).
    #[arg(long)]
    max_train: Option<usize>,
    /// Test on at most this many samples (a seeded subset; for reduced budgets).
    #[arg(long)]
    max_test: Option<usize>,
    /// Subsample test anomalies to this fraction of the test set (ALOCC's 0.1–0.5 contamination).
    #[arg(long)]
    test_anomaly_fraction: Option<f64>,
    /// Early stopping: stop after this many epochs without validation improvement (default:
    /// the paper's, e.g. ALAD 10; 0 turns it off).
    #[arg(long)]
    patience: Option<usize>,
    /// Threshold rule: p95 (95th percentile of validation scores), percentile:99, fixed:0.3.
    #[arg(long, default_value = "p95")]
    threshold: ThresholdRule,
    /// Value scaling fitted on training data: standardise, min-max, minus-one-to-one, none.
    #[arg(long, default_value = "standardise")]
    scaling: Scaling,
    /// Resize images to this side before the model (default: the model's input size).
    #[arg(long)]
    image_size: Option<usize>,
    /// No progress bar or per-epoch lines.
    #[arg(long)]
    quiet: bool,
}

#[derive(Args)]
struct EvalArgs {
    /// The run folder.
    run: PathBuf,
    /// Weights to evaluate: best (lowest validation loss) or last.
    #[arg(long, default_value = "best")]
    checkpoint: Checkpoint,
    /// Where to write the report (default: RUN/eval-CHECKPOINT, or
    /// RUN/eval-CHECKPOINT-STEM with --model-config STEM.json).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Compute device.
    #[arg(long, default_value = "cpu")]
    device: String,
    /// JSON file of score-time hyper-parameters replacing the run's, e.g. {"score": "l1"}
    /// for ALAD or {"score": "direct"} for ALOCC; the threshold is refitted on the run's
    /// validation split.
    #[arg(long)]
    model_config: Option<PathBuf>,
}

#[derive(Args)]
struct ScoreArgs {
    /// The run folder.
    run: PathBuf,
    #[command(flatten)]
    data: DataArgs,
    /// Which split of the data set to score: all, train or test.
    #[arg(long, default_value = "all")]
    split: String,
    /// Weights: best or last.
    #[arg(long, default_value = "best")]
    checkpoint: Checkpoint,
    /// Output CSV: index,split,split_index,score,label,flagged.
    #[arg(long)]
    output: PathBuf,
    /// Compute device.
    #[arg(long, default_value = "cpu")]
    device: String,
    /// JSON file of score-time hyper-parameters replacing the run's (as for `eval`); the
    /// threshold behind `flagged` is refitted on the run's validation split, so the run's
    /// training data must be where run.json says.
    #[arg(long)]
    model_config: Option<PathBuf>,
}

#[derive(Args)]
struct MetricsArgs {
    /// CSV with columns score and label (1 = anomaly, 0 = normal).
    #[arg(long)]
    scores: PathBuf,
    /// Threshold for precision/recall/F1 (default: the best-F1 threshold, marked as such).
    #[arg(long, conflicts_with = "score_percentile")]
    threshold: Option<f64>,
    /// Threshold at this percentile of the CSV's own scores (EGBAD/ALAD flag the top 20 % of
    /// test scores: 80). Transductive: it looks at the scored set, not at its labels.
    #[arg(long)]
    score_percentile: Option<f64>,
    /// Also write the metrics as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
}

#[derive(Args)]
struct DemoArgs {
    /// Where to write the run and its report (an earlier demo run there is replaced).
    #[arg(long, default_value = "runs/demo")]
    out: PathBuf,
    /// Epochs (5 keep the demo under 3 minutes on 2 cores).
    #[arg(long, default_value_t = 5)]
    epochs: usize,
    /// Seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

/// Parse the command line and run the job.
pub fn run() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Models => {
            for m in models::MODELS {
                println!(
                    "{:<12} [{}] {}\n{:<12} {}",
                    m.name, m.inputs, m.summary, "", m.paper
                );
            }
            Ok(())
        }
        Command::Train(a) => train(a),
        Command::Eval(a) => eval(a),
        Command::Score(a) => score(a),
        Command::Metrics(a) => metrics(a),
        Command::Demo(a) => demo(a),
        Command::Bench(c) => bench::run(c),
    }
}

/// The paper's configuration of model `name`, with the hyper-parameters of `file` (if any)
/// on top, every value checked.
fn model_config(name: &str, file: Option<&Path>) -> anyhow::Result<ModelConfig> {
    ModelConfig::from_settings_file(name, file)
}

fn train(a: TrainArgs) -> anyhow::Result<()> {
    let device = oddity::device::parse(&a.device)?;
    if let Some(target) = &a.resume {
        return resume_training(target, a.force, &device);
    }
    let (Some(model), Some(protocol), Some(out)) = (&a.model, &a.protocol, &a.out) else {
        anyhow::bail!("--model, --protocol and --out are required");
    };
    let model = model_config(model, a.model_config.as_deref())?;
    let protocol = Protocol::parse(protocol, a.class.as_deref())?;
    let mut config = RunConfig::new(model, a.data.spec()?, protocol, a.seed)?;
    if let Some(e) = a.epochs {
        config.train.epochs = e;
    }
    if let Some(b) = a.batch_size {
        config.train.batch_size = b;
    }
    config.train.progress = !a.quiet;
    if let Some(p) = a.patience {
        config.train.patience = (p > 0).then_some(p);
    }
    config.split.validation_fraction = a.validation_fraction;
    config.split.max_train = a.max_train;
    config.split.max_test = a.max_test;
    config.split.test_anomaly_fraction = a.test_anomaly_fraction;
    config.threshold_rule = a.threshold;
    config.preprocess.scaling = a.scaling;
    config.preprocess.image_size = a.image_size;
    config.validate()?;
    // The output location is claimed and tested for writing before any data is read.
    let staging = Staging::begin(out, existing_run(a.force))?;
    let split = run::load_split(&config)?;
    eprintln!(
        "{} on {} ({}): {} training, {} validation, {} test samples ({} anomalies)",
        config.model.name(),
        config.dataset.path.display(),
        config.protocol,
        split.train.len(),
        split.valid.len(),
        split.test.len(),
        split.test.anomalies()
    );
    train_in(config, &split, &device, staging, false)
}

/// Continue the stopped training of `target` from its last checkpoint.
fn resume_training(target: &Path, force: bool, device: &Device) -> anyhow::Result<()> {
    let staging = Staging::resume(target, existing_run(force))?;
    let config = run::resumable_config(staging.dir()).with_context(|| {
        format!(
            "{}: the stopped training left no configuration",
            target.display()
        )
    })?;
    let split = run::load_split(&config)?;
    eprintln!(
        "resuming {} on {} ({}) into {}",
        config.model.name(),
        config.dataset.path.display(),
        config.protocol,
        target.display()
    );
    train_in(config, &split, device, staging, true)
}

/// Train into `staging` with a checkpoint after every epoch and on Ctrl-C, then publish the
/// run; a training stopped by Ctrl-C keeps its checkpoint and says how to resume it.
fn train_in(
    config: RunConfig,
    split: &oddity::data::protocol::Split,
    device: &Device,
    staging: Staging,
    resume: bool,
) -> anyhow::Result<()> {
    let checkpointing = run::Checkpointing {
        dir: staging.dir(),
        resume,
        stop: Some(stop_flag()),
    };
    match run::train_with(config, split, device, Some(checkpointing)) {
        Ok(mut trained) => {
            let out = trained.save_into(staging)?;
            let log = &trained.run.log;
            eprintln!(
                "saved {} (best validation epoch {} of {})",
                out.display(),
                log.best_epoch,
                log.epochs.len()
            );
            Ok(())
        }
        Err(e) if e.is::<oddity::train::Interrupted>() => {
            let target = staging.target().to_path_buf();
            if oddity::train::resume::exists(staging.dir()) {
                staging.keep();
                eprintln!(
                    "{e}; its checkpoint is kept: continue with `oddity train --resume {}`",
                    target.display()
                );
                std::process::exit(130);
            }
            anyhow::bail!("{e}; this model cannot resume a training yet, so nothing was kept")
        }
        Err(e) => Err(e),
    }
}

/// A flag raised by the first Ctrl-C (the training stops after its current step, its
/// checkpoint written); a second Ctrl-C ends the process at once.
fn stop_flag() -> &'static AtomicBool {
    static STOP: AtomicBool = AtomicBool::new(false);
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        let _ = ctrlc::set_handler(|| {
            if STOP.swap(true, Ordering::SeqCst) {
                std::process::exit(130);
            }
            eprintln!("\nstopping after the current step (Ctrl-C again to stop at once)");
        });
    });
    &STOP
}

/// What `--force` allows with an existing run folder.
fn existing_run(force: bool) -> Existing {
    if force {
        Existing::Replace { marker: "run.json" }
    } else {
        Existing::Refuse
    }
}

fn eval(a: EvalArgs) -> anyhow::Result<()> {
    let device = oddity::device::parse(&a.device)?;
    let mut run = Run::load(&a.run)?;
    let split = run::load_split(&run.config)?;
    let detector = scoring_detector(
        &mut run,
        a.checkpoint,
        a.model_config.as_deref(),
        &split.valid,
        &device,
    )?;
    // Named after the settings file, so the run's own evaluation is not overwritten.
    let default_out = match a.model_config.as_deref().and_then(Path::file_stem) {
        Some(stem) => format!("eval-{}-{}", a.checkpoint, stem.to_string_lossy()),
        None => format!("eval-{}", a.checkpoint),
    };
    let evaluation = run::evaluate(&run, detector.as_ref(), a.checkpoint, &split.test)?;
    let out = a.out.unwrap_or_else(|| a.run.join(default_out));
    let report = report::write_evaluation(&out, &run, &evaluation)?;
    print!("{}", report.table());
    println!("report written to {}", out.display());
    Ok(())
}

/// The run's detector with the weights of `checkpoint`; with a settings `file`, the same
/// weights scored with its score-time hyper-parameters and the threshold refitted on the
/// run's validation samples `raw_valid`.
fn scoring_detector(
    run: &mut Run,
    checkpoint: Checkpoint,
    file: Option<&Path>,
    raw_valid: &Samples,
    device: &burn::tensor::Device,
) -> anyhow::Result<Box<dyn models::AnyDetector>> {
    // The run must load as saved before a failure can be blamed on the new settings.
    let detector = run.detector(checkpoint, device)?;
    let Some(file) = file else {
        return Ok(detector);
    };
    let model = run.config.model.with_settings_file(file)?;
    run.rescore_with(model, checkpoint, raw_valid, device)
        .with_context(|| {
            format!(
                "{}: only score-time hyper-parameters can change after training",
                file.display()
            )
        })
}

fn score(a: ScoreArgs) -> anyhow::Result<()> {
    let device = oddity::device::parse(&a.device)?;
    let mut run = Run::load(&a.run)?;
    let source = source::load(&a.data.spec()?)?;
    let mut parts: Vec<(u8, &oddity::data::LabelledSet)> = Vec::new();
    match a.split.as_str() {
        "all" | "train" => parts.push((0, &source.train)),
        "test" => {}
        other => anyhow::bail!("unknown split {other:?}; use all, train or test"),
    }
    if a.split != "train" {
        match &source.test {
            Some(t) => parts.push((1, t)),
            None if a.split == "test" => anyhow::bail!("this data set has no test split"),
            None => {}
        }
    }
    let detector = match a.model_config.as_deref() {
        None => run.detector(a.checkpoint, &device)?,
        // The refitted threshold needs the run's own validation split.
        Some(_) => {
            let valid = run::load_split(&run.config)?.valid;
            scoring_detector(
                &mut run,
                a.checkpoint,
                a.model_config.as_deref(),
                &valid,
                &device,
            )?
        }
    };
    let threshold = run.thresholds.of(a.checkpoint).value;
    let mut rows = Vec::new();
    for (split, set) in parts {
        let labels: Vec<Option<u8>> = set
            .classes
            .iter()
            .map(|&c| run.config.protocol.label_of(set, c))
            .collect();
        let mut samples = Samples::empty(set.shape);
        for (i, label) in labels.iter().enumerate() {
            samples.push_from(set, split, i, label.unwrap_or(0));
        }
        let scores = run::score_raw(&run, detector.as_ref(), &samples)?;
        rows.extend(
            scores
                .into_iter()
                .zip(labels)
                .enumerate()
                .map(|(i, (s, label))| (split, i, s, label)),
        );
    }
    oddity::io::write_atomic_with(&a.output, |w| {
        writeln!(w, "index,split,split_index,score,label,flagged")?;
        for (n, (split, i, s, label)) in rows.iter().enumerate() {
            let split = if *split == 0 { "train" } else { "test" };
            let label = label.map(|l| l.to_string()).unwrap_or_default();
            writeln!(
                w,
                "{n},{split},{i},{s},{label},{}",
                (*s as f64 >= threshold) as u8
            )?;
        }
        Ok(())
    })?;
    eprintln!(
        "{} scores written to {} (threshold {threshold:.6})",
        rows.len(),
        a.output.display()
    );
    Ok(())
}

fn metrics(a: MetricsArgs) -> anyhow::Result<()> {
    if let Some(t) = a.threshold {
        anyhow::ensure!(
            t.is_finite(),
            "--threshold must be a finite number, got {t}"
        );
    }
    if let Some(p) = a.score_percentile {
        oddity::validate::in_range("--score-percentile", p, 0.0, 100.0, false)?;
    }
    let (scores, labels) = report::read_scores_csv(&a.scores)?;
    let (best_f1, best_t) = oddity::metrics::best_f1(&scores, &labels)?;
    let from_scores = a.score_percentile.map(|p| {
        let v: Vec<f64> = scores.iter().map(|&s| s as f64).collect();
        oddity::threshold::percentile_of(&v, p)
    });
    let threshold = a.threshold.or(from_scores).unwrap_or(best_t);
    let m = oddity::metrics::compute(&scores, &labels, threshold)?;
    println!(
        "samples            {} ({} anomalies)",
        m.samples, m.anomalies
    );
    println!("AUROC              {:.4}", m.auroc);
    println!("AUPRC              {:.4}", m.auprc);
    println!("FPR at 95% TPR     {:.4}", m.fpr_at_95_tpr);
    println!(
        "threshold          {threshold:.6}{}",
        match (a.threshold, a.score_percentile) {
            (Some(_), _) => String::new(),
            (None, Some(p)) => format!(" ({p}th percentile of these scores)"),
            (None, None) => " (best-F1 threshold: chosen on these labels)".into(),
        }
    );
    println!("precision          {:.4}", m.precision);
    println!("recall             {:.4}", m.recall);
    println!("F1                 {:.4}", m.f1);
    println!("best F1            {best_f1:.4}");
    if let Some(path) = a.json {
        oddity::io::write_json(&path, &m)?;
    }
    Ok(())
}

fn demo(a: DemoArgs) -> anyhow::Result<()> {
    let device = oddity::device::parse("cpu")?;
    let mut config = RunConfig::new(
        ModelConfig::default_for("ganomaly")?,
        DatasetSpec {
            kind: DatasetKind::BuiltinMnist,
            path: PathBuf::from("builtin"),
            label_column: None,
            image_size: None,
        },
        Protocol::LeaveOneOut { class: "0".into() },
        a.seed,
    )?;
    config.train.epochs = a.epochs;
    config.train.progress = true;
    config.validate()?;
    // The demo's folder is its own: an earlier demo there is replaced whole.
    let staging = Staging::begin(&a.out, existing_run(true))?;
    let split = run::load_split(&config)?;
    eprintln!(
        "demo: GANomaly on the bundled MNIST subset, digit 0 as the anomaly ({} training, {} validation, {} test images), {} epochs on the CPU",
        split.train.len(),
        split.valid.len(),
        split.test.len(),
        config.train.epochs
    );
    let mut trained = run::train_on(config, &split, &device)?;
    trained.save_into(staging)?;
    let evaluation = run::evaluate(
        &trained.run,
        trained.detector.as_ref(),
        Checkpoint::Last,
        &split.test,
    )?;
    let report: MetricsReport =
        report::write_evaluation(&a.out.join("eval-last"), &trained.run, &evaluation)?;
    print!("{}", report.table());
    println!("run and report written to {}", a.out.display());
    Ok(())
}
