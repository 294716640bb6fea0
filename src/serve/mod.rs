//! `oddity serve`: trained runs behind an HTTP API and a web page.
//!
//! - `GET /` — the web page (embedded; no external request): pick a model, drop images or paste
//!   CSV rows, see each verdict, score, p-value and heat map.
//! - `GET /healthz` — `{"status": "ok", "models": N}`.
//! - `GET /v1/models` — each model's name, task (`anomaly` or `ood`), detector or classifier,
//!   data kind, input shape, threshold (an OOD run: classes, scores, deciding score and
//!   false-alarm rate), calibration and training summary.
//! - `POST /v1/models/{name}/score` — images (`image/png`, `image/jpeg`, or
//!   `multipart/form-data` with one image per part) or table rows (`application/json`
//!   `{"rows": [[x1, …], …]}` or `text/csv`, in the run's raw feature units); query
//!   `overlay=true` adds each image's anomaly map drawn over it (a PNG data URL),
//!   `false_alarm_rate=α` flags by conformal p-value instead of the run's threshold.
//!
//! An OOD run (`oddity ood train`, a folder with `ood.json`) is served beside the detectors
//! (`"task": "ood"` in the model list): it answers each image with the class its classifier
//! predicts, that class's probability, every score of the run, and a verdict — out of
//! distribution when the conformal p-value of one score (`score=`, the Mahalanobis ensemble by
//! default) against the run's validation images is at most the false-alarm rate
//! (`false_alarm_rate=`, else the server's `--false-alarm-rate`, else
//! [`crate::ood::verdicts::DEFAULT_FALSE_ALARM_RATE`]), as `oddity ood score` decides on the
//! same file in an image folder ([`Fitting::AsImageFolder`]). The validation images' scores
//! come from the run (a run trained before they were stored reads its data set at start).
//!
//! Each model scores on its own thread, which owns the detector: requests queue there (a
//! bounded queue: `503` with `Retry-After` when full) and the thread scores everything waiting,
//! up to a batch, in one forward pass, after waiting at most a few milliseconds for more — so
//! that under load the server scores in batches as `oddity score` does, with the same scores
//! (a model's scores do not depend on the batch they are in, to the bit: dense layers pad a
//! small batch so that the matrix product sums in one order at every batch size,
//! `nn::dense`, whose unit tests cover each kernel's range of batch sizes;
//! `tests/batch_independence.rs` checks every detector alone and among 6). Every bad request is a
//! `4xx` with a JSON body `{"error": "…"}` naming the problem, a body that stops arriving a
//! `408`, and a panic while answering a request (a bug) a JSON `500`; only a request head that
//! hyper cannot parse or that exceeds its size limits gets hyper's bare `400`, `414` or `431`
//! with no body (and a head that never completes, no answer: it is closed after the idle
//! timeout). The server reads only the run folders it was given, at start (and, for an OOD run
//! trained before runs stored their validation scores, the data set it was trained on).

mod classifier;
mod http;
mod inputs;
mod listen;
mod worker;

use crate::run::{Checkpoint, Run};
use anyhow::{Context, bail, ensure};
use burn::tensor::Device;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

pub use classifier::ClassifierInfo;
pub use inputs::{Fitting, Rejection, ScoreInput};
pub use worker::{Counters, ModelInfo, Scored, TrainingSummary};

/// What the server accepts and how long it waits.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Limits {
    /// Largest request body, bytes.
    pub max_body_bytes: usize,
    /// Largest side of an uploaded image, pixels (checked before it is decoded).
    pub max_image_side: u32,
    /// Most pixels one request's images may hold together (read from their headers before any
    /// is decoded): the decoding work a request can ask for.
    pub max_request_pixels: u64,
    /// Most images or rows in one request.
    pub max_items: usize,
    /// Requests waiting for a model's thread before new ones get `503`.
    pub queue: usize,
    /// Requests being read or decoded at once, over every model, before new ones get `503`.
    pub max_in_flight: usize,
    /// Most samples scored in one forward pass.
    pub max_batch: usize,
    /// How long a model's thread waits for more requests to batch with the first (at most 1 s,
    /// and shorter than `timeout`).
    pub max_wait: Duration,
    /// How long a request may take, body and scoring, before it gets `408` (its body has not
    /// all arrived) or `504`.
    pub timeout: Duration,
    /// Connections open at once; more wait in the system's listen queue.
    pub max_connections: usize,
    /// How long a connection may stay open without sending a complete request head (from
    /// when it opens, or since its last answer), or wait for the client to read an answer,
    /// before it is closed.
    pub idle_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 32 << 20,
            max_image_side: 4096,
            max_request_pixels: 100_000_000,
            max_items: 256,
            queue: 256,
            max_in_flight: 32,
            max_batch: 256,
            max_wait: Duration::from_millis(2),
            timeout: Duration::from_secs(60),
            max_connections: 512,
            idle_timeout: Duration::from_secs(30),
        }
    }
}

/// The largest item count, queue length, number of requests in flight or batch a server takes.
pub const MAX_COUNT: usize = 65_536;

impl Limits {
    /// Every limit must be at least 1; the body at most 1 GiB, an image side at most 65 536,
    /// and the counts at most [`MAX_COUNT`] (a queue's slots are reserved up front).
    pub fn validate(&self) -> crate::Result<()> {
        let at_least_one = [
            ("--max-body-mb", self.max_body_bytes),
            ("--max-image-side", self.max_image_side as usize),
            ("--max-items", self.max_items),
            ("--queue", self.queue),
            ("--max-in-flight", self.max_in_flight),
            ("--max-batch", self.max_batch),
            ("--max-connections", self.max_connections),
        ];
        for (name, value) in at_least_one {
            ensure!(value >= 1, "{name} must be at least 1, got {value}");
        }
        let counts = [
            ("--max-items", self.max_items),
            ("--queue", self.queue),
            ("--max-in-flight", self.max_in_flight),
            ("--max-batch", self.max_batch),
            ("--max-connections", self.max_connections),
        ];
        for (name, value) in counts {
            ensure!(
                value <= MAX_COUNT,
                "{name} must be at most {MAX_COUNT}, got {value}"
            );
        }
        ensure!(
            self.max_body_bytes <= 1 << 30,
            "--max-body-mb must be at most 1024"
        );
        ensure!(
            self.max_image_side <= 1 << 16,
            "--max-image-side must be at most 65536, got {}",
            self.max_image_side
        );
        ensure!(
            self.max_request_pixels >= 1,
            "--max-megapixels must be more than 0"
        );
        ensure!(
            !self.timeout.is_zero(),
            "--timeout must be longer than 0 seconds"
        );
        ensure!(
            !self.idle_timeout.is_zero(),
            "--idle-timeout must be longer than 0 seconds"
        );
        ensure!(
            self.max_wait <= Duration::from_secs(1),
            "--max-wait-ms must be at most 1000"
        );
        // A request alone in its model's queue (with fewer samples than `max_batch`) waits the
        // whole `max_wait` for others to batch with: at or past the timeout, every such request
        // would time out unscored.
        ensure!(
            self.max_wait < self.timeout,
            "--max-wait-ms ({} ms) must be shorter than --timeout ({} s): a request scored \
             alone waits that long for others to batch with, and would time out first; lower \
             --max-wait-ms or raise --timeout",
            self.max_wait.as_millis(),
            self.timeout.as_secs_f64()
        );
        Ok(())
    }
}

/// How to serve.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    /// Address to listen on; port 0 picks a free one.
    pub address: SocketAddr,
    /// Which weights of each run.
    pub checkpoint: Checkpoint,
    /// Flag by conformal p-value at this rate instead of each run's threshold (requests may
    /// ask for another).
    pub false_alarm_rate: Option<f64>,
    /// The limits.
    pub limits: Limits,
}

/// A server bound to its address with its models loaded, not yet answering.
pub struct Server {
    listener: std::net::TcpListener,
    state: std::sync::Arc<http::AppState>,
}

impl Server {
    /// Load every run (each named by its folder's name, which must be unique) and bind the
    /// address. Nothing is served until [`Server::run`].
    pub fn bind(runs: &[PathBuf], options: &ServeOptions, device: &Device) -> crate::Result<Self> {
        options.limits.validate()?;
        if let Some(alpha) = options.false_alarm_rate {
            crate::conformal::check_alpha(alpha).context("--false-alarm-rate")?;
        }
        ensure!(!runs.is_empty(), "give at least one run folder to serve");
        let mut models = Vec::new();
        let mut names: Vec<(String, &PathBuf)> = Vec::new();
        for dir in runs {
            let name = model_name(dir)?;
            if let Some((_, other)) = names.iter().find(|(n, _)| *n == name) {
                bail!(
                    "{} and {} would both be served as {name:?}; serve runs whose folders have \
                     different names",
                    other.display(),
                    dir.display()
                );
            }
            names.push((name.clone(), dir));
            let served = if crate::ood::is_run_folder(dir) {
                classifier::ServedClassifier::start(name, dir, options, device)
                    .map(http::Served::Classifier)
            } else {
                ensure!(
                    dir.join("run.json").is_file(),
                    "{}: not a run folder (no run.json or ood.json); train one with `oddity \
                     train` or `oddity ood train`",
                    dir.display()
                );
                Run::load(dir).and_then(|run| {
                    worker::ServedModel::start(name, dir.clone(), run, options, device)
                        .map(http::Served::Detector)
                })
            };
            models.push(served.with_context(|| format!("{}: cannot be served", dir.display()))?);
        }
        let listener = std::net::TcpListener::bind(options.address)
            .with_context(|| format!("cannot listen on {}", options.address))?;
        listener.set_nonblocking(true)?;
        Ok(Server {
            listener,
            state: std::sync::Arc::new(http::AppState::new(models, options.limits)),
        })
    }

    /// The address it listens on (with the port chosen when 0 was asked).
    pub fn local_addr(&self) -> crate::Result<SocketAddr> {
        Ok(self.listener.local_addr()?)
    }

    /// Answer requests until Ctrl-C (or `SIGTERM`), then finish those under way.
    pub fn run(self) -> crate::Result<()> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .context("cannot start the server's runtime")?;
        runtime.block_on(async move {
            let listener =
                tokio::net::TcpListener::from_std(self.listener).context("the server stopped")?;
            let limits = self.state.limits;
            listen::serve(
                listener,
                http::router(self.state),
                limits,
                shutdown_signal(),
            )
            .await;
            Ok(())
        })
    }
}

/// A run's name on the server: its folder's name.
fn model_name(dir: &std::path::Path) -> crate::Result<String> {
    let name = dir
        .canonicalize()
        .with_context(|| format!("{}: no such run folder", dir.display()))?
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .with_context(|| format!("{}: a run folder needs a name", dir.display()))?;
    ensure!(
        name.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)),
        "{}: a served run's folder name may hold only letters, digits, '-', '_' and '.' (it \
         becomes part of the URL)",
        dir.display()
    );
    Ok(name)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}
