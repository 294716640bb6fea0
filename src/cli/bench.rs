//! `oddity bench …`: speed benchmarks, side by side with the PyTorch reference.

use clap::{Args, Subcommand};
use oddity::bench::compare::{self, CompareOptions};
use oddity::bench::{self, SpeedOptions};
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum BenchCommand {
    /// Measure every case, ours then PyTorch's, with the same threads; print the ratios and
    /// write speed.json.
    Speed(SpeedArgs),
    /// List the cases, one a line: name, model, whether it has a PyTorch twin (yes/no), what it
    /// stands for, tab-separated.
    Cases,
    /// Measure one case in this process and print its figures as JSON (used by `speed`, which
    /// runs each case in a fresh process so that peak memory is the case's own).
    Measure(MeasureArgs),
    /// Write the initial weights, batches and per-step losses of one case, for the
    /// same-function check of the reference.
    Trace(TraceArgs),
    /// AnoGAN's test-time latent search: one batched search against one search per sample
    /// (same samples, same starting codes); prints ms per sample, the speed-up and the largest
    /// score difference as JSON.
    Search(SearchArgs),
}

#[derive(Args)]
pub struct SearchArgs {
    /// Features of the synthetic rows (KDD99: 121); ignored with --image.
    #[arg(long, default_value_t = 121)]
    features: usize,
    /// Use C×S×S images instead, e.g. 1x64.
    #[arg(long)]
    image: Option<String>,
    /// Samples in the batched search.
    #[arg(long, default_value_t = 256)]
    batch: usize,
    /// Samples searched one at a time.
    #[arg(long, default_value_t = 16)]
    loop_samples: usize,
}

#[derive(Args)]
pub struct TimingArgs {
    /// Untimed warm-up steps.
    #[arg(long, default_value_t = 3)]
    warmup_steps: usize,
    /// Timed repeats (the median is reported).
    #[arg(long, default_value_t = 5)]
    repeats: usize,
    /// Each repeat lasts at least this many seconds.
    #[arg(long, default_value_t = 1.0)]
    min_repeat_seconds: f64,
    /// Scoring batch size.
    #[arg(long, default_value_t = 256)]
    score_batch: usize,
}

impl TimingArgs {
    fn options(&self) -> SpeedOptions {
        SpeedOptions {
            warmup_steps: self.warmup_steps,
            repeats: self.repeats,
            min_repeat_seconds: self.min_repeat_seconds,
            score_batch: self.score_batch,
        }
    }
}

#[derive(Args)]
pub struct SpeedArgs {
    /// Comma-separated cases (default: every one, about 15 minutes on 2 cores; an unknown name
    /// lists them). The first four have a PyTorch twin: ganomaly-mnist, ganomaly-cifar,
    /// autoencoder-cifar, autoencoder-kdd.
    #[arg(long, value_delimiter = ',')]
    cases: Vec<String>,
    /// Threads for both implementations (default: this machine's cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Device for both implementations: cpu, or gpu (ours on the GPU backend this oddity was
    /// built with, PyTorch on CUDA).
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Python with PyTorch (installed by bench/reference/install.sh); a bare name such as
    /// `python3` is looked up on PATH.
    #[arg(long, default_value = "bench/reference/.venv/bin/python")]
    python: PathBuf,
    /// The reference script.
    #[arg(long, default_value = "bench/reference/reference.py")]
    reference: PathBuf,
    /// Measure ours only.
    #[arg(long)]
    no_reference: bool,
    /// Where to write the JSON figures.
    #[arg(long, default_value = "speed.json")]
    out: PathBuf,
    /// Folder for the same-function traces.
    #[arg(long, default_value = "runs/bench")]
    work_dir: PathBuf,
    #[command(flatten)]
    timing: TimingArgs,
}

#[derive(Args)]
pub struct MeasureArgs {
    /// The case.
    case: String,
    /// cpu or gpu.
    #[arg(long, default_value = "cpu")]
    device: String,
    #[command(flatten)]
    timing: TimingArgs,
}

#[derive(Args)]
pub struct TraceArgs {
    /// The case.
    case: String,
    /// Training steps to record.
    #[arg(long, default_value_t = 2)]
    steps: usize,
    /// Output folder.
    #[arg(long)]
    out: PathBuf,
}

pub fn run(command: BenchCommand) -> anyhow::Result<()> {
    match command {
        BenchCommand::Measure(a) => {
            let case = bench::case(&a.case)?;
            let device = oddity::device::parse(&a.device)?;
            let figures = bench::measure(case, &device, &a.timing.options())?;
            println!("{}", serde_json::to_string(&figures)?);
            Ok(())
        }
        BenchCommand::Trace(a) => {
            let case = bench::case(&a.case)?;
            bench::export_trace(case, a.steps, &a.out, &burn::tensor::Device::flex())?;
            println!("trace of {} written to {}", case.name, a.out.display());
            Ok(())
        }
        BenchCommand::Speed(a) => speed(a),
        BenchCommand::Cases => {
            for c in bench::CASES {
                let twin = if c.has_pytorch_twin { "yes" } else { "no" };
                println!("{}\t{}\t{twin}\t{}", c.name, c.model, c.about);
            }
            Ok(())
        }
        BenchCommand::Search(a) => {
            let shape = match &a.image {
                None => oddity::data::SampleShape::Table {
                    features: a.features,
                },
                Some(spec) => {
                    let (c, s) = spec
                        .split_once('x')
                        .and_then(|(c, s)| Some((c.parse().ok()?, s.parse().ok()?)))
                        .ok_or_else(|| {
                            anyhow::anyhow!("--image takes CxS, e.g. 1x64; got {spec:?}")
                        })?;
                    oddity::data::SampleShape::Image {
                        channels: c,
                        height: s,
                        width: s,
                    }
                }
            };
            let figures = bench::latent_search_speed(shape, a.batch, a.loop_samples)?;
            println!("{}", serde_json::to_string(&figures)?);
            Ok(())
        }
    }
}

fn speed(a: SpeedArgs) -> anyhow::Result<()> {
    // Checked here, before any case runs: an unknown name or a missing GPU is an error now,
    // not after the CPU cases have taken their minutes.
    oddity::device::parse(&a.device)?;
    let cases = if a.cases.is_empty() {
        compare::all_cases()
    } else {
        a.cases
            .iter()
            .map(|c| bench::case(c))
            .collect::<anyhow::Result<_>>()?
    };
    let python = if a.no_reference {
        None
    } else {
        let python = on_path(a.python);
        anyhow::ensure!(
            python.exists(),
            "no PyTorch reference at {}: run bench/reference/install.sh first, or pass --no-reference",
            python.display()
        );
        anyhow::ensure!(
            a.reference.exists(),
            "reference script {} not found (run from the repository root or pass --reference)",
            a.reference.display()
        );
        Some(python)
    };
    let threads = a
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let report = compare::run(&CompareOptions {
        cases,
        threads,
        device: a.device,
        python,
        script: a.reference,
        speed: a.timing.options(),
        work_dir: a.work_dir,
        out: a.out.clone(),
    })?;
    print!("{}", compare::table(&report));
    println!("figures written to {}", a.out.display());
    let failed: Vec<&str> = report.failed.iter().map(|f| f.case.as_str()).collect();
    anyhow::ensure!(
        failed.is_empty(),
        "{} of {} cases failed: {}",
        failed.len(),
        report.cases.len() + failed.len(),
        failed.join(", ")
    );
    Ok(())
}

/// `python` as given, or, when it is a bare name such as `python3` that is not a file here,
/// the first match on `PATH` (as a shell would run it).
fn on_path(python: PathBuf) -> PathBuf {
    if python.components().count() != 1 || python.exists() {
        return python;
    }
    std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join(&python))
                .find(|candidate| candidate.is_file())
        })
        .unwrap_or(python)
}
