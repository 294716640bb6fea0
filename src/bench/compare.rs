//! Side by side with PyTorch: run each case in a fresh process of ours (so that its peak memory
//! is its own), then the same case in the reference (`bench/reference/reference.py`), with the
//! same thread count, and report the ratios ours/theirs. Before timing, check that the
//! reference computes the same function: from our initial weights and batches, its losses and
//! scores must match ours to float tolerance.

use super::{CASES, Case, SpeedFigures, SpeedOptions, export_trace};
use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Where and how to run the comparison.
#[derive(Clone, Debug)]
pub struct CompareOptions {
    /// Cases to run (all by default).
    pub cases: Vec<&'static Case>,
    /// Worker threads for both implementations.
    pub threads: usize,
    /// `cpu`, or `gpu`: ours on the GPU backend this oddity was built with, PyTorch on CUDA.
    pub device: String,
    /// Python interpreter with PyTorch (`bench/reference/.venv/bin/python`); `None` measures
    /// ours only.
    pub python: Option<PathBuf>,
    /// The reference script.
    pub script: PathBuf,
    /// Repeats and warm-up, for both.
    pub speed: SpeedOptions,
    /// Folder for the same-function traces.
    pub work_dir: PathBuf,
    /// Where the report is written, again after every case (a run stopped part-way keeps the
    /// cases it finished).
    pub out: PathBuf,
}

/// The result of the same-function check of one case.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SameFunction {
    /// Largest relative difference of any step's loss.
    pub max_rel_loss_diff: f64,
    /// Largest relative difference of the scores after the steps.
    pub max_rel_score_diff: f64,
    /// Steps compared.
    pub steps: usize,
    /// Both below the tolerance.
    pub ok: bool,
}

/// The reference's own figures, plus what only it can count.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ReferenceFigures {
    /// The timings, as ours.
    #[serde(flatten)]
    pub figures: SpeedFigures,
    /// Floating-point operations of one training step (PyTorch's FLOP counter).
    pub flops_per_step: f64,
    /// PyTorch version.
    pub torch: String,
    /// Peak GPU memory PyTorch's allocator held, MiB (CUDA runs only).
    #[serde(default)]
    pub gpu_peak_mib: Option<f64>,
}

/// Ours divided by theirs, per figure (above 1 is better for throughput, below 1 for memory).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Ratios {
    /// Training samples/s, ours / theirs.
    pub train: f64,
    /// Scoring samples/s, ours / theirs.
    pub score: f64,
    /// Peak memory, ours / theirs: resident host memory on a CPU, the allocators' GPU
    /// memory on a GPU (absent where either is unknown).
    #[serde(alias = "peak_rss")]
    pub peak_memory: Option<f64>,
}

/// Everything measured for one case.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CaseReport {
    /// Case name.
    pub case: String,
    /// What it stands for.
    pub about: String,
    /// Our figures.
    pub ours: SpeedFigures,
    /// PyTorch's figures.
    pub theirs: Option<ReferenceFigures>,
    /// Ours / theirs.
    pub ratios: Option<Ratios>,
    /// The arithmetic floor of a training step: its FLOPs over the machine's measured peak, ms.
    pub floor_step_ms: Option<f64>,
    /// Whether the reference computes the same function.
    pub same_function: Option<SameFunction>,
}

/// The whole benchmark, as written to `speed.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SpeedReport {
    /// Threads given to both implementations.
    pub threads: usize,
    /// `cpu` or `gpu` (absent in reports written before GPUs could be measured: `cpu`).
    #[serde(default = "default_device")]
    pub device: String,
    /// Measured fp32 matrix-multiply peak of this machine at that many threads (on the GPU
    /// for `device: gpu`), GFLOP/s.
    pub peak_gflops: Option<f64>,
    /// The processor, as /proc/cpuinfo names it.
    pub cpu: String,
    /// oddity's version.
    pub oddity: String,
    /// Repeats and warm-up.
    pub options: SpeedOptions,
    /// One entry per case measured.
    pub cases: Vec<CaseReport>,
    /// Cases that failed, with the error: the others are still measured.
    #[serde(default)]
    pub failed: Vec<FailedCase>,
}

/// A case that could not be measured.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FailedCase {
    /// Case name.
    pub case: String,
    /// What went wrong.
    pub error: String,
}

fn default_device() -> String {
    "cpu".into()
}

fn cpu_name() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

/// Run a command with the thread count pinned and parse the JSON it prints last.
fn run_json<T: serde::de::DeserializeOwned>(mut cmd: Command, threads: usize) -> crate::Result<T> {
    let shown = format!("{cmd:?}");
    let out = cmd
        .env("RAYON_NUM_THREADS", threads.to_string())
        .env("OMP_NUM_THREADS", threads.to_string())
        .env("MKL_NUM_THREADS", threads.to_string())
        .output()
        .with_context(|| format!("cannot start {shown}"))?;
    if !out.status.success() {
        bail!(
            "{shown} failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    serde_json::from_str(last).with_context(|| format!("{shown} printed no JSON result: {last:?}"))
}

fn speed_args(o: &SpeedOptions) -> Vec<String> {
    vec![
        "--warmup-steps".into(),
        o.warmup_steps.to_string(),
        "--repeats".into(),
        o.repeats.to_string(),
        "--min-repeat-seconds".into(),
        o.min_repeat_seconds.to_string(),
        "--score-batch".into(),
        o.score_batch.to_string(),
    ]
}

fn ours(case: &Case, o: &CompareOptions) -> crate::Result<SpeedFigures> {
    let exe = std::env::current_exe().context("cannot find the oddity executable")?;
    let mut cmd = Command::new(exe);
    cmd.args(["bench", "measure", case.name, "--device", &o.device])
        .args(speed_args(&o.speed));
    run_json(cmd, o.threads)
}

fn reference(python: &Path, o: &CompareOptions, args: &[&str]) -> Command {
    let device = if o.device == "gpu" { "cuda" } else { "cpu" };
    let mut cmd = Command::new(python);
    cmd.arg(&o.script)
        .args(args)
        .args(["--threads", &o.threads.to_string(), "--device", device]);
    cmd
}

/// Relative tolerance of the same-function check (float32 through a few hundred thousand
/// operations in different orders).
pub const SAME_FUNCTION_TOLERANCE: f64 = 1e-3;

fn same_function(case: &Case, python: &Path, o: &CompareOptions) -> crate::Result<SameFunction> {
    let dir = o.work_dir.join(case.name);
    // Traced on the device being measured: on a GPU the check covers our GPU arithmetic.
    export_trace(case, 2, &dir, &crate::device::parse(&o.device)?)?;
    let dir_arg = dir.to_string_lossy().to_string();
    let cmd = reference(
        python,
        o,
        &["check", "--case", case.name, "--dir", &dir_arg],
    );
    let mut check: SameFunction = run_json(cmd, o.threads)?;
    check.ok = check.max_rel_loss_diff < SAME_FUNCTION_TOLERANCE
        && check.max_rel_score_diff < SAME_FUNCTION_TOLERANCE;
    Ok(check)
}

/// Run the whole comparison, printing progress to stderr.
pub fn run(o: &CompareOptions) -> crate::Result<SpeedReport> {
    o.speed.check()?;
    anyhow::ensure!(o.threads >= 1, "--threads must be at least 1, got 0");
    crate::io::check_output_file("--out", &o.out, &[], |start| {
        let start = String::from_utf8_lossy(start);
        start.contains("\"peak_gflops\"") && start.contains("\"oddity\"")
    })?;
    let peak_gflops = match &o.python {
        Some(py) => {
            #[derive(Deserialize)]
            struct Peak {
                gflops: f64,
            }
            let p: Peak = run_json(reference(py, o, &["peak"]), o.threads)?;
            Some(p.gflops)
        }
        None => None,
    };
    let mut report = SpeedReport {
        threads: o.threads,
        device: o.device.clone(),
        peak_gflops,
        cpu: cpu_name(),
        oddity: env!("CARGO_PKG_VERSION").into(),
        options: o.speed,
        cases: Vec::new(),
        failed: Vec::new(),
    };
    for case in &o.cases {
        match measure_case(case, o, peak_gflops) {
            Ok(c) => report.cases.push(c),
            Err(e) => {
                eprintln!("{}: failed: {e:#}", case.name);
                report.failed.push(FailedCase {
                    case: case.name.into(),
                    error: format!("{e:#}"),
                });
            }
        }
        crate::io::write_json(&o.out, &report)?;
    }
    Ok(report)
}

/// Ours, then (for a case with a twin) the same-function check and PyTorch's figures.
fn measure_case(
    case: &Case,
    o: &CompareOptions,
    peak_gflops: Option<f64>,
) -> crate::Result<CaseReport> {
    eprintln!("{}: ours…", case.name);
    let ours = ours(case, o)?;
    // Said at once: the report is written when the whole case completes, and a run cut during
    // the reference's part (a GPU check's budget) would otherwise lose these figures.
    eprintln!(
        "{}: ours: training {:.1} samples/s ({:.2} ms a step), scoring {:.1} samples/s",
        case.name, ours.train_samples_per_s, ours.train_step_ms, ours.score_samples_per_s
    );
    let (theirs, same) = match o.python.as_ref().filter(|_| case.has_pytorch_twin) {
        Some(py) => {
            eprintln!("{}: same-function check…", case.name);
            let same = same_function(case, py, o)?;
            eprintln!("{}: PyTorch…", case.name);
            let mut args = vec!["speed", "--case", case.name];
            let extra = speed_args(&o.speed);
            args.extend(extra.iter().map(String::as_str));
            let theirs: ReferenceFigures = run_json(reference(py, o, &args), o.threads)?;
            (Some(theirs), Some(same))
        }
        None => (None, None),
    };
    let on_gpu = o.device == "gpu";
    let ratios = theirs.as_ref().map(|t| Ratios {
        train: ours.train_samples_per_s / t.figures.train_samples_per_s,
        score: ours.score_samples_per_s / t.figures.score_samples_per_s,
        peak_memory: if on_gpu {
            ours.device_peak_mib.zip(t.gpu_peak_mib).map(|(a, b)| a / b)
        } else {
            Some(ours.peak_rss_mib / t.figures.peak_rss_mib)
        },
    });
    let floor_step_ms = match (&theirs, peak_gflops) {
        (Some(t), Some(g)) => Some(t.flops_per_step / (g * 1e9) * 1e3),
        _ => None,
    };
    Ok(CaseReport {
        case: case.name.into(),
        about: case.about.into(),
        ours,
        theirs,
        ratios,
        floor_step_ms,
        same_function: same,
    })
}

/// All cases.
pub fn all_cases() -> Vec<&'static Case> {
    CASES.iter().collect()
}

/// The report as a Markdown table (what the README shows).
pub fn table(report: &SpeedReport) -> String {
    let on_gpu = report.device == "gpu";
    let place = if on_gpu {
        "GPU (peak MiB: what each allocator held on the GPU)"
    } else {
        "CPU"
    };
    let mut s = format!(
        "{}, {} threads, {}; fp32 matmul peak {}\n\n",
        place,
        report.threads,
        report.cpu,
        report
            .peak_gflops
            .map(|g| format!("{g:.0} GFLOP/s"))
            .unwrap_or_else(|| "not measured".into())
    );
    s.push_str(&format!("| case | train samples/s ours / PyTorch | ratio | train ms/step ours / PyTorch / floor | score samples/s (batch {}) ours / PyTorch | ratio | peak MiB ours / PyTorch | ratio | same function |\n", report.options.score_batch));
    s.push_str("|---|---|---|---|---|---|---|---|---|\n");
    let opt = |v: Option<f64>, digits: usize| {
        v.map(|x| format!("{x:.digits$}"))
            .unwrap_or_else(|| "–".into())
    };
    // Two decimals below 10 samples/s (AnoGAN scores 0.18), one below 100, none above.
    let rate = |x: f64| {
        let digits = if x >= 100.0 {
            0
        } else if x >= 10.0 {
            1
        } else {
            2
        };
        format!("{x:.digits$}")
    };
    let opt_rate = |v: Option<f64>| v.map(rate).unwrap_or_else(|| "–".into());
    for c in &report.cases {
        let t = c.theirs.as_ref().map(|t| &t.figures);
        let r = c.ratios.as_ref();
        s.push_str(&format!(
            "| {} | {} / {} | {} | {:.1} / {} / {} | {}{} / {} | {} | {} / {} | {} | {} |\n",
            c.case,
            rate(c.ours.train_samples_per_s),
            opt_rate(t.map(|t| t.train_samples_per_s)),
            opt(r.map(|r| r.train), 2),
            c.ours.train_step_ms,
            opt(t.map(|t| t.train_step_ms), 1),
            opt(c.floor_step_ms, 1),
            rate(c.ours.score_samples_per_s),
            if c.ours.score_batch == report.options.score_batch {
                String::new()
            } else {
                format!(" (batch {})", c.ours.score_batch)
            },
            opt_rate(t.map(|t| t.score_samples_per_s)),
            opt(r.map(|r| r.score), 2),
            if on_gpu {
                opt(c.ours.device_peak_mib, 0)
            } else {
                format!("{:.0}", c.ours.peak_rss_mib)
            },
            if on_gpu {
                opt(c.theirs.as_ref().and_then(|t| t.gpu_peak_mib), 0)
            } else {
                opt(t.map(|t| t.peak_rss_mib), 0)
            },
            opt(r.and_then(|r| r.peak_memory), 2),
            c.same_function
                .as_ref()
                .map(|f| format!(
                    "{} (loss Δ {:.1e}, score Δ {:.1e})",
                    if f.ok { "yes" } else { "NO" },
                    f.max_rel_loss_diff,
                    f.max_rel_score_diff
                ))
                .unwrap_or_else(|| "–".into()),
        ));
    }
    for f in &report.failed {
        s.push_str(&format!(
            "| {} | failed: {} |\n",
            f.case,
            f.error.replace('\n', " ")
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A case measured alone whose scoring is slower than one sample a second (AnoGAN's
    /// 500-step latent search) shows its rate, not a rounded 0.
    #[test]
    fn slow_rates_keep_their_digits() {
        let report: SpeedReport = serde_json::from_str(
            r#"{"threads": 2, "device": "cpu", "peak_gflops": 144.1, "cpu": "AMD EPYC",
            "oddity": "0.1.0", "options": {"warmup_steps": 1, "repeats": 1,
            "min_repeat_seconds": 1.0, "score_batch": 256}, "cases": [{"case": "anogan-64",
            "about": "AnoGAN", "ours": {"train_samples_per_s": 25.53, "train_step_ms": 2506.4,
            "train_batch": 64, "score_samples_per_s": 0.1787, "score_batch": 16,
            "peak_rss_mib": 372.7, "device_peak_mib": null, "threads": 2}, "theirs": null,
            "ratios": null, "floor_step_ms": null, "same_function": null}], "failed": []}"#,
        )
        .unwrap();
        let table = table(&report);
        let row = table
            .lines()
            .find(|l| l.starts_with("| anogan-64"))
            .unwrap();
        assert!(
            row.starts_with("| anogan-64 | 25.5 / – | – | 2506.4 / – / – | 0.18 (batch 16) / – |"),
            "{row}"
        );
    }
}
