//! Command-line parsing and printing; the jobs behind each subcommand are library functions
//! in [`oddity::jobs`].

use anyhow::Context;
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use oddity::data::preprocess::{ColumnRange, Scaling};
use oddity::data::protocol::{LabelledAnomalies, Protocol};
use oddity::data::source::{DatasetKind, DatasetSpec};
use oddity::data::tiles::Tiling;
use oddity::jobs::{self, ThresholdChoice, TrainOutcome};
use oddity::models::{self, ModelConfig};
use oddity::run::folder::Leave;
use oddity::run::{Checkpoint, RunConfig};
use oddity::threshold::ThresholdRule;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

#[cfg(feature = "bench")]
mod bench;
mod ood;

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
    /// Serve runs over HTTP: a web page at /, a JSON API at /v1/models, batched scoring.
    Serve(ServeArgs),
    /// Write one self-contained HTML report of one or several runs (health checks, metrics,
    /// curves, maps, configuration), evaluating runs not evaluated yet.
    Report(ReportArgs),
    /// The out-of-distribution target: train a classifier on labelled images, tell its test
    /// images from other sets with MSP, ODIN, energy and Mahalanobis, and give new images a
    /// class or a refusal.
    #[command(subcommand)]
    Ood(ood::OodCommand),
    /// Speed benchmarks against the PyTorch reference (see bench/reference/); built with the
    /// `bench` feature.
    #[cfg(feature = "bench")]
    #[command(subcommand)]
    Bench(bench::BenchCommand),
}

#[derive(Args)]
pub struct DataArgs {
    /// Data set format: mnist, fashion-mnist, cifar10, image-folder, mvtec, magnetic-tile, kdd99, adbench, csv, hyperspectral, builtin-mnist.
    #[arg(long)]
    dataset: Option<DatasetKind>,
    /// The data set's file or folder (not needed for builtin-mnist).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Label column of a CSV data set (default: label; for `score`, the run's own label column
    /// when it was trained on a CSV table). `score` also takes a CSV without that column (new,
    /// unlabelled data): every column is then a feature, and a run trained on a CSV table needs
    /// the same columns in the same order.
    #[arg(long)]
    label_column: Option<String>,
    /// Resize folder images to this side while decoding (when their sizes differ).
    #[arg(long)]
    decode_size: Option<u32>,
    /// Load MVTec defect images whose mask file is missing (left out of the pixel metrics)
    /// instead of refusing the data set.
    #[arg(long)]
    allow_missing_masks: bool,
    /// Masks of an image folder: `<stem>.png` or `<stem>_mask.png` for each defect image
    /// `<stem>.<ext>` (white = defect); images without one are defect-free.
    #[arg(long)]
    mask_dir: Option<PathBuf>,
    /// The variable of a hyperspectral MAT-file holding the cube H×W×B (found automatically
    /// when only one variable has three dimensions).
    #[arg(long)]
    cube_var: Option<String>,
    /// The variable of a hyperspectral MAT-file holding the ground-truth map H×W (found
    /// automatically when only one has the cube's height and width).
    #[arg(long)]
    map_var: Option<String>,
    /// The ground-truth map of a hyperspectral scene in a file of its own (needed for an ENVI
    /// scene): a one-band ENVI raster, a PNG or a MAT-file; nonzero = anomaly.
    #[arg(long)]
    map_file: Option<PathBuf>,
    /// Train on this hyperspectral scene and score the one given by --data (same bands).
    #[arg(long)]
    train_scene: Option<PathBuf>,
}

impl DataArgs {
    pub fn spec(&self) -> anyhow::Result<DatasetSpec> {
        let dataset = self.dataset.context("--dataset is required")?;
        let path = data_path(self.data.as_ref(), dataset)?;
        Ok(DatasetSpec {
            kind: dataset,
            path,
            label_column: self.label_column.clone(),
            image_size: self.decode_size,
            allow_missing_masks: self.allow_missing_masks,
            mask_dir: self.mask_dir.clone(),
            scene_variables: oddity::data::hyperspectral::SceneVariables {
                cube: self.cube_var.clone(),
                map: self.map_var.clone(),
                map_file: self.map_file.clone(),
            },
            train_scene: self.train_scene.clone(),
        })
    }
}

/// `--data`, or the built-in subset's name where the data set is built in (it has no path).
pub(crate) fn data_path(data: Option<&PathBuf>, kind: DatasetKind) -> anyhow::Result<PathBuf> {
    match (data, kind) {
        (Some(path), _) => Ok(path.clone()),
        (None, DatasetKind::BuiltinMnist) => Ok(PathBuf::from("builtin")),
        (None, _) => anyhow::bail!("--data is required for this dataset"),
    }
}

/// The settings of `train` a resumed training takes from its stopped run: given with --resume,
/// they would be ignored, so they are refused.
const RESUMED_SETTINGS: [&str; 32] = [
    "model",
    "protocol",
    "out",
    "model_config",
    "class",
    "epochs",
    "batch_size",
    "seed",
    "validation_fraction",
    "max_train",
    "max_test",
    "test_anomaly_fraction",
    "labelled_anomalies",
    "contamination",
    "patience",
    "threshold",
    "false_alarm_rate",
    "scaling",
    "unscaled_columns",
    "image_size",
    "tile",
    "stride",
    "dataset",
    "data",
    "label_column",
    "decode_size",
    "allow_missing_masks",
    "mask_dir",
    "cube_var",
    "map_var",
    "map_file",
    "train_scene",
];

#[derive(Args)]
struct TrainArgs {
    /// Continue the stopped training (killed, or Ctrl-C) of this run folder from its last
    /// checkpoint; every other setting comes from the stopped run (so none may be given, but
    /// --device, --force and --quiet).
    #[arg(long, conflicts_with_all = RESUMED_SETTINGS)]
    resume: Option<PathBuf>,
    /// Detector name (see `oddity models`).
    #[arg(long, required_unless_present = "resume")]
    model: Option<String>,
    #[command(flatten)]
    data: DataArgs,
    /// Protocol: one-class (class k normal), leave-one-out (class k anomalous), contaminated
    /// (class k inliers plus --contamination outliers; trains on the set it scores), kdd99,
    /// kdd99-goad (GOAD's split: normal traffic is the anomaly), kdd99-rev (GOAD's KDDRev:
    /// the attacks are), tabular, scene (a hyperspectral scene's pixels, unlabelled, train and
    /// are scored).
    #[arg(long, required_unless_present = "resume")]
    protocol: Option<String>,
    /// The class of one-class / leave-one-out: its name, or its index where no class is named
    /// by a number.
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
    /// Replace the run folder --out whole if it holds a run (its evaluations go with it) and
    /// nothing oddity did not write (a file of yours there is named and kept: the folder is
    /// then refused); the old run stays intact until the new one is complete.
    #[arg(long)]
    force: bool,
    /// Compute device: cpu, or gpu (built with --features vulkan or cuda).
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Model hyper-parameters overriding the paper's defaults: a JSON file, or the JSON object
    /// itself ('{"epochs": 3}').
    #[arg(long)]
    model_config: Option<PathBuf>,
    /// Fraction of the training normals held out for validation.
    #[arg(long, default_value_t = 0.1)]
    validation_fraction: f64,
    /// Train on at most this many samples (a seeded subset; for reduced budgets); the
    /// validation samples come on top (--validation-fraction of this number, at least one).
    #[arg(long)]
    max_train: Option<usize>,
    /// Test on at most this many samples (a seeded subset; for reduced budgets).
    #[arg(long)]
    max_test: Option<usize>,
    /// Subsample test anomalies to this fraction of the test set (ALOCC's 0.1–0.5 contamination).
    #[arg(long)]
    test_anomaly_fraction: Option<f64>,
    /// Weak supervision: this many labelled anomalies (10), or as many as make up this share of
    /// the training set (0.02 or 2%), never test samples; for a model's weakly supervised
    /// variant (cavga with {"supervision": "weak"}, deep-svdd with {"objective": "deep-sad"}).
    #[arg(long, value_parser = parse_labelled_anomalies)]
    labelled_anomalies: Option<LabelledAnomalies>,
    /// The contaminated protocol's outliers per inlier, within (0, 1] (RSRAE's 0.1–0.9).
    #[arg(long)]
    contamination: Option<f64>,
    /// Early stopping: stop after this many epochs without validation improvement (default:
    /// the paper's, e.g. ALAD 10; 0 turns it off).
    #[arg(long)]
    patience: Option<usize>,
    /// Threshold rule: p95 (95th percentile of validation scores), percentile:99, far:0.01
    /// (conformal: normal data flagged at rate at most 1 %), kde:0.9 (0.9-quantile of a
    /// Gaussian KDE of the training scores, Silverman's bandwidth; kde:0.9:scott), fixed:0.3.
    #[arg(long, default_value = "p95")]
    threshold: ThresholdRule,
    /// Flag samples whose conformal p-value is at most this rate, so that normal data are
    /// flagged at rate at most this (the same as --threshold far:RATE).
    #[arg(long, conflicts_with = "threshold")]
    false_alarm_rate: Option<f64>,
    /// Value scaling fitted on training data: standardise, min-max, minus-one-to-one, gcn-l1
    /// (Deep SVDD's: per-sample global contrast normalisation, then min-max), none. Default:
    /// the model's, its paper's (`oddity models` lists it; standardise where the paper is silent).
    #[arg(long)]
    scaling: Option<Scaling>,
    /// Table columns START..END (0-based, END excluded) the scaling leaves as they are: one-hot
    /// columns, e.g. 34..121 for KDDCUP99's, as GOAD's code standardises the numeric ones only.
    #[arg(long)]
    unscaled_columns: Option<String>,
    /// Resize images to this side before the model (default: the model's input size; a model
    /// of fixed input size takes only that side).
    #[arg(long)]
    image_size: Option<usize>,
    /// Let the model see images tile by tile, tiles of this side (its input side): it trains
    /// on every tile of the training images and scores an image by its highest tile score,
    /// its map the tiles' maps averaged where they overlap.
    #[arg(long)]
    tile: Option<usize>,
    /// Pixels between neighbouring tiles (default: half the tile, so tiles overlap).
    #[arg(long, requires = "tile")]
    stride: Option<usize>,
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
    /// Smooth anomaly maps with a Gaussian of this σ in pixels before the localisation metrics
    /// and pictures (4 is common practice); none by default.
    #[arg(long)]
    smooth: Option<f32>,
    /// Score-time hyper-parameters replacing the run's (a JSON file or object), e.g. {"score": "l1"}
    /// for ALAD or {"score": "direct"} for ALOCC; the threshold is refitted on the run's
    /// validation split.
    #[arg(long)]
    model_config: Option<PathBuf>,
    /// The run's data set, moved since training: read it from this file or folder instead of
    /// the path run.json records. It must hold the same data (checked against the SHA-256 the
    /// run records).
    #[arg(long)]
    data: Option<PathBuf>,
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
    /// Output CSV: index,split,split_index,score,label,flagged,p_value (the conformal
    /// p-value against the run's normal validation scores). An existing file is replaced only
    /// if it is an earlier score table (or empty).
    #[arg(long)]
    output: PathBuf,
    /// Flag samples whose conformal p-value is at most this rate instead of using the run's
    /// threshold: normal data are then flagged at rate at most this.
    #[arg(long)]
    false_alarm_rate: Option<f64>,
    /// Also draw each image with its anomaly map into this new or empty folder
    /// (`<split>-<index>.png`: image, mask outline if known, heat map, region at the pixel
    /// threshold taken from the run's validation images).
    #[arg(long)]
    maps: Option<PathBuf>,
    /// With --maps: smooth the maps with a Gaussian of this σ in pixels.
    #[arg(long, requires = "maps")]
    smooth: Option<f32>,
    /// Compute device.
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Score-time hyper-parameters replacing the run's (as for `eval`: a JSON file or object); the
    /// threshold behind `flagged` is refitted on the run's validation split, so the run's
    /// training data must be where run.json says (or named by --run-data).
    #[arg(long)]
    model_config: Option<PathBuf>,
    /// The run's own data set, moved since training: read its validation split from this file
    /// or folder where scoring needs it (--model-config, --maps with --smooth, --false-alarm-rate
    /// on a run without calibration.json; refused where nothing reads it).
    /// It must hold the same data, checked against the SHA-256 run.json records, as `eval --data`.
    #[arg(long)]
    run_data: Option<PathBuf>,
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
struct ReportArgs {
    /// Run folders; several detectors' runs are compared side by side, and an OOD run (`oddity
    /// ood train`) gets a section with its `ood eval` results.
    #[arg(required = true)]
    runs: Vec<PathBuf>,
    /// The HTML file to write (an existing one is replaced only if it is an oddity report).
    #[arg(long, default_value = "report.html")]
    out: PathBuf,
    /// Which weights' evaluation: best or last.
    #[arg(long, default_value = "best")]
    checkpoint: Checkpoint,
    /// Compute device (for runs not evaluated yet).
    #[arg(long, default_value = "cpu")]
    device: String,
}

#[derive(Args)]
struct ServeArgs {
    /// Run folders to serve, each named by its folder's name: detectors' runs (`oddity train`)
    /// and OOD runs (`oddity ood train`), which answer each image's class and verdict.
    #[arg(required = true)]
    runs: Vec<PathBuf>,
    /// Address to listen on (127.0.0.1: this machine only).
    #[arg(long, default_value = "127.0.0.1")]
    host: std::net::IpAddr,
    /// Port (0 picks a free one, printed at start).
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// Weights: best or last (a detector's run; an OOD run has one set).
    #[arg(long, default_value = "best")]
    checkpoint: Checkpoint,
    /// Flag by conformal p-value at this rate instead of each run's threshold; an OOD run's
    /// verdicts use it too (0.05 when not given).
    #[arg(long)]
    false_alarm_rate: Option<f64>,
    /// Compute device.
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Largest request body, MiB.
    #[arg(long, default_value_t = 32)]
    max_body_mb: usize,
    /// Largest side of an uploaded image, pixels.
    #[arg(long, default_value_t = 4096)]
    max_image_side: u32,
    /// Most pixels one request's images may hold together, millions (read from their headers
    /// before any is decoded).
    #[arg(long, default_value_t = 100)]
    max_megapixels: u64,
    /// Most images or rows in one request (at most 65 536).
    #[arg(long, default_value_t = 256)]
    max_items: usize,
    /// Requests waiting per model before new ones are refused with 503 (at most 65 536).
    #[arg(long, default_value_t = 256)]
    queue: usize,
    /// Requests being read, decoded or drawn at once before new ones are refused with 503 (at
    /// most 65 536).
    #[arg(long, default_value_t = 32)]
    max_in_flight: usize,
    /// Most samples in one forward pass (at most 65 536).
    #[arg(long, default_value_t = 256)]
    max_batch: usize,
    /// Milliseconds a model waits for more requests to batch with the first (at most 1000, and
    /// well under --timeout: a request scored alone waits all of it).
    #[arg(long, default_value_t = 2)]
    max_wait_ms: u64,
    /// Seconds a request may take before it is answered 408 (its body has not all arrived) or 504.
    #[arg(long, default_value_t = 60.0)]
    timeout: f64,
    /// Connections open at once; more wait to be accepted (at most 65 536).
    #[arg(long, default_value_t = 512)]
    max_connections: usize,
    /// Seconds a connection may stay open without sending a request, or without reading an
    /// answer, before it is closed.
    #[arg(long, default_value_t = 30.0)]
    idle_timeout: f64,
}

#[derive(Args)]
struct DemoArgs {
    /// Where to write the run and its report (an earlier demo run there is replaced; another
    /// run only with --force; a folder oddity did not write, never).
    #[arg(long, default_value = "runs/demo")]
    out: PathBuf,
    /// Replace the run in --out whole even if it is not a demo's.
    #[arg(long)]
    force: bool,
    /// Epochs (5 keep the demo under 3 minutes on 2 cores).
    #[arg(long, default_value_t = 5)]
    epochs: usize,
    /// Seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

/// The command line parsed, a negative number read as the value of the option before it
/// (`--epochs -1` is then refused naming `--epochs`, as `--epochs=-1` is; a fixed threshold
/// may be `--threshold -0.5`), not as an unknown flag.
fn parse_arguments() -> Cli {
    fn negative_values(command: clap::Command) -> clap::Command {
        command
            .mut_args(|arg| match arg.get_action().takes_values() {
                true => arg.allow_negative_numbers(true),
                false => arg,
            })
            .mut_subcommands(negative_values)
    }
    let matches = negative_values(Cli::command()).get_matches();
    Cli::from_arg_matches(&matches).unwrap_or_else(|error| error.exit())
}

/// Parse the command line and run the job.
pub fn run() -> anyhow::Result<()> {
    match parse_arguments().command {
        Command::Models => {
            let all = models::registry::all();
            for (group, title) in [
                (
                    models::ModelGroup::Detector,
                    "Detectors (the field's reconstruction and adversarial models)",
                ),
                (
                    models::ModelGroup::Baseline,
                    "Baselines (what the detectors are judged against)",
                ),
            ] {
                println!("{title}\n");
                for m in all.iter().map(|e| e.info).filter(|m| m.group == group) {
                    println!(
                        "{:<16} [{}] {}\n{:<16} {}",
                        m.name, m.inputs, m.summary, "", m.paper
                    );
                    // The scaling a run gets by default, where it is not standardisation.
                    let config = ModelConfig::default_for(m.name)?;
                    let own: Vec<String> = [(true, "images"), (false, "tables and spectra")]
                        .into_iter()
                        .map(|(images, data)| (config.default_scaling(images), data))
                        .filter(|(scaling, _)| *scaling != Scaling::Standardise)
                        .map(|(scaling, data)| format!("--scaling {scaling} on {data}"))
                        .collect();
                    if !own.is_empty() {
                        println!("{:<16} default {}", "", own.join(", "));
                    }
                }
                println!();
            }
            Ok(())
        }
        Command::Train(a) => train(a),
        Command::Eval(a) => eval(a),
        Command::Score(a) => score(a),
        Command::Metrics(a) => metrics(a),
        Command::Serve(a) => serve(a),
        Command::Report(a) => report(a),
        Command::Demo(a) => demo(a),
        Command::Ood(c) => ood::run(c),
        #[cfg(feature = "bench")]
        Command::Bench(c) => bench::run(c),
    }
}

fn train(a: TrainArgs) -> anyhow::Result<()> {
    let device = oddity::device::parse(&a.device)?;
    let prepared = match &a.resume {
        Some(target) => jobs::prepare_resume(target, Leave::force(a.force))?,
        None => {
            let config = run_config(&a)?;
            let Some(out) = &a.out else {
                anyhow::bail!("--model, --protocol and --out are required");
            };
            jobs::prepare_training(config, out, Leave::force(a.force))?
        }
    };
    let (config, split) = (prepared.config(), prepared.split());
    if prepared.is_resume() {
        eprintln!(
            "resuming {} on {} ({}) into {}",
            config.model.name(),
            config.dataset.path.display(),
            config.protocol,
            prepared.target().display()
        );
    } else {
        if a.resume.is_some() {
            eprintln!(
                "{}: no checkpoint (stopped before the first, or this model keeps none); \
                 training it again from the start",
                prepared.target().display()
            );
        }
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
    }
    match prepared.run(&device, Some(stop_flag()))? {
        TrainOutcome::Saved { dir, trained } => {
            let log = &trained.run.log;
            let steps = log
                .steps()
                .map_or(String::new(), |n| format!(", {n} training steps"));
            eprintln!(
                "saved {} (best validation epoch {} of {}{steps})",
                dir.display(),
                log.best_epoch,
                log.epochs.len()
            );
            Ok(())
        }
        TrainOutcome::Stopped {
            target,
            resumable: true,
            reason,
        } => {
            eprintln!(
                "{reason}; the training is kept: continue with `oddity train --resume {}`",
                target.display()
            );
            std::process::exit(130);
        }
        TrainOutcome::Stopped { reason, .. } => {
            anyhow::bail!("{reason}; this model cannot resume a training yet, so nothing was kept")
        }
    }
}

/// The run configuration the training options describe: the model's paper defaults with the
/// settings file and the options given on top.
fn run_config(a: &TrainArgs) -> anyhow::Result<RunConfig> {
    let (Some(model), Some(protocol), Some(_)) = (&a.model, &a.protocol, &a.out) else {
        anyhow::bail!("--model, --protocol and --out are required");
    };
    let model = ModelConfig::from_settings_file(model, a.model_config.as_deref())?;
    if let Some(file) = &a.model_config {
        let settings = oddity::models::read_settings_file(file)?;
        oddity::models::check_options_agree(
            &settings,
            &[
                ("epochs", "--epochs", a.epochs),
                ("batch_size", "--batch-size", a.batch_size),
            ],
        )
        .with_context(|| format!("--model-config {}", file.display()))?;
    }
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
    config.split.labelled_anomalies = a.labelled_anomalies;
    config.split.contamination = a.contamination;
    config.threshold_rule = match a.false_alarm_rate {
        Some(alpha) => ThresholdRule::FalseAlarmRate { alpha },
        None => a.threshold,
    };
    if let Some(scaling) = a.scaling {
        config.preprocess.scaling = scaling;
    }
    config.preprocess.unscaled_columns = a
        .unscaled_columns
        .as_deref()
        .map(str::parse::<ColumnRange>)
        .transpose()
        .map_err(|e| anyhow::anyhow!("--unscaled-columns: {e}"))?;
    config.preprocess.image_size = a.image_size;
    config.preprocess.tiling = a.tile.map(|tile| Tiling {
        tile,
        stride: a.stride.unwrap_or((tile / 2).max(1)),
    });
    Ok(config)
}

/// A share written as a fraction (`0.02`) or a percentage (`2%`).
fn parse_labelled_anomalies(text: &str) -> Result<LabelledAnomalies, String> {
    LabelledAnomalies::parse(text).map_err(|e| e.to_string())
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

fn eval(a: EvalArgs) -> anyhow::Result<()> {
    let device = oddity::device::parse(&a.device)?;
    let done = jobs::evaluate_run(
        &a.run,
        a.checkpoint,
        a.model_config.as_deref(),
        a.out,
        oddity::run::MapOptions {
            smooth_sigma: a.smooth,
        },
        a.data.as_deref(),
        &device,
    )?;
    print!("{}", done.report.table());
    println!("report written to {}", done.out.display());
    Ok(())
}

fn score(a: ScoreArgs) -> anyhow::Result<()> {
    let device = oddity::device::parse(&a.device)?;
    let data = a.data.spec()?;
    let options = jobs::ScoreOptions {
        checkpoint: a.checkpoint,
        settings: a.model_config.as_deref(),
        maps: a.maps.as_deref().map(|dir| jobs::MapsOutput {
            dir,
            options: oddity::run::MapOptions {
                smooth_sigma: a.smooth,
            },
        }),
        false_alarm_rate: a.false_alarm_rate,
        run_data: a.run_data.as_deref(),
    };
    jobs::check_score_outputs(&a.run, &data, &options, &a.output)?;
    let table = jobs::score_dataset(&a.run, &data, a.split.parse()?, options, &device)?;
    jobs::write_score_table(&a.output, &table)?;
    eprintln!(
        "{} scores written to {} (threshold {:.6})",
        table.rows.len(),
        a.output.display(),
        table.threshold
    );
    Ok(())
}

fn report(a: ReportArgs) -> anyhow::Result<()> {
    let device = oddity::device::parse(&a.device)?;
    let reports = jobs::report_runs(&a.runs, a.checkpoint, &a.out, &device)?;
    for r in &reports.ood {
        match &r.evaluation {
            Some(e) => {
                let sets: Vec<&str> = e.sets.iter().map(|(name, _)| name.as_str()).collect();
                println!("{}: OOD run, evaluated against {}", r.name, sets.join(", "))
            }
            None => println!(
                "{}: OOD run, not evaluated yet (oddity ood eval RUN --against KIND:PATH)",
                r.name
            ),
        }
    }
    for r in &reports.detectors {
        let failed: Vec<&str> = (r.health.iter())
            .filter(|c| !c.ok)
            .map(|c| c.name)
            .collect();
        match failed.is_empty() {
            true => println!("{}: healthy", r.name),
            false => println!("{}: check {}", r.name, failed.join(", ")),
        }
    }
    println!("report written to {}", a.out.display());
    Ok(())
}

fn serve(a: ServeArgs) -> anyhow::Result<()> {
    let device = oddity::device::parse(&a.device)?;
    for (flag, seconds) in [("--timeout", a.timeout), ("--idle-timeout", a.idle_timeout)] {
        anyhow::ensure!(
            seconds.is_finite() && seconds > 0.0 && seconds <= 86_400.0,
            "{flag} must be within (0, 86400] seconds, got {seconds}"
        );
    }
    anyhow::ensure!(
        a.max_megapixels <= 1 << 20,
        "--max-megapixels must be at most 1048576, got {}",
        a.max_megapixels
    );
    let options = oddity::serve::ServeOptions {
        address: std::net::SocketAddr::new(a.host, a.port),
        checkpoint: a.checkpoint,
        false_alarm_rate: a.false_alarm_rate,
        limits: oddity::serve::Limits {
            max_body_bytes: a.max_body_mb.saturating_mul(1 << 20),
            max_image_side: a.max_image_side,
            max_request_pixels: a.max_megapixels * 1_000_000,
            max_items: a.max_items,
            queue: a.queue,
            max_in_flight: a.max_in_flight,
            max_batch: a.max_batch,
            max_wait: std::time::Duration::from_millis(a.max_wait_ms),
            timeout: std::time::Duration::from_secs_f64(a.timeout),
            max_connections: a.max_connections,
            idle_timeout: std::time::Duration::from_secs_f64(a.idle_timeout),
        },
    };
    let server = oddity::serve::Server::bind(&a.runs, &options, &device)?;
    println!(
        "oddity serving {} run(s) on http://{}",
        a.runs.len(),
        server.local_addr()?
    );
    use std::io::Write;
    std::io::stdout().flush()?;
    server.run()
}

fn metrics(a: MetricsArgs) -> anyhow::Result<()> {
    if let Some(path) = &a.json {
        // A metrics file oddity wrote: a JSON object with the AUROC among its first keys.
        oddity::io::check_output_file("--json", path, &[&a.scores], |start| {
            start.trim_ascii_start().starts_with(b"{")
                && start.windows(7).any(|w| w == b"\"auroc\"")
        })?;
    }
    let choice = match (a.threshold, a.score_percentile) {
        (Some(t), _) => ThresholdChoice::Fixed(t),
        (None, Some(p)) => ThresholdChoice::ScorePercentile(p),
        (None, None) => ThresholdChoice::BestF1,
    };
    let result = jobs::metrics_of_scores(&a.scores, choice)?;
    let (m, threshold) = (&result.metrics, result.threshold);
    println!(
        "samples            {} ({} anomalies)",
        m.samples, m.anomalies
    );
    println!("AUROC              {:.4}", m.auroc);
    println!("AUPRC              {:.4}", m.auprc);
    println!("FPR at 95% TPR     {:.4}", m.fpr_at_95_tpr);
    println!(
        "threshold          {threshold:.6}{}",
        match choice {
            ThresholdChoice::Fixed(_) => String::new(),
            ThresholdChoice::ScorePercentile(p) => format!(" ({p}th percentile of these scores)"),
            ThresholdChoice::BestF1 => " (best-F1 threshold: chosen on these labels)".into(),
        }
    );
    println!("precision          {:.4}", m.precision);
    println!("recall             {:.4}", m.recall);
    println!("F1                 {:.4}", m.f1);
    println!("best F1            {:.4}", result.best_f1);
    if let Some(path) = a.json {
        oddity::io::write_json(&path, m)?;
    }
    Ok(())
}

fn demo(a: DemoArgs) -> anyhow::Result<()> {
    let device = oddity::device::parse("cpu")?;
    let prepared = jobs::prepare_demo(a.seed, a.epochs, &a.out, a.force)?;
    let split = prepared.split();
    eprintln!(
        "demo: GANomaly on the bundled MNIST subset, digit 0 as the anomaly ({} training, {} validation, {} test images), {} epochs on the CPU",
        split.train.len(),
        split.valid.len(),
        split.test.len(),
        prepared.config().train.epochs
    );
    let done = jobs::run_demo(prepared, &device)?;
    print!("{}", done.report.table());
    println!("run and report written to {}", a.out.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every setting of `train` but the resumed run's own flags is refused with --resume, so a
    /// setting added later cannot be silently ignored by a resumed training.
    #[test]
    fn resume_refuses_every_setting_it_would_ignore() {
        let command = Cli::command();
        let train = command.find_subcommand("train").expect("a train command");
        let kept = ["resume", "device", "force", "quiet", "help"];
        for arg in train.get_arguments() {
            let id = arg.get_id().as_str();
            assert!(
                kept.contains(&id) || RESUMED_SETTINGS.contains(&id),
                "--{id} is neither refused with --resume nor one of {kept:?}"
            );
        }
        for id in RESUMED_SETTINGS {
            assert!(
                train.get_arguments().any(|arg| arg.get_id() == id),
                "{id} in RESUMED_SETTINGS is no train setting"
            );
        }
    }
}
