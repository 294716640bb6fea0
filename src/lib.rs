//! # oddity — deep anomaly detection
//!
//! Train detectors on normal data only, score new data, choose thresholds and report metrics.
//!
//! The crate is laid out in layers, each importing only from those below it
//! (`tests/architecture.rs` checks this and that there is no import cycle):
//! - [`jobs`]: the use cases every surface calls — train (and resume), evaluate, score a data
//!   set, metrics of a score file, the demo — with typed inputs and outputs;
//! - [`serve`]: runs behind an HTTP API and a web page, requests batched per model;
//! - [`report`]: `metrics.json`, `scores.csv` and the plots;
//! - [`run`]: a trained run on disk (config, weights, preprocessing, threshold, log) and its
//!   evaluation on the test split;
//! - [`train`]: the one training loop every model shares, resumable from checkpoints;
//! - [`score`]: batched scoring of a sample set, batches sized to the memory available;
//! - [`models`]: the [`models::Detector`] interface, each model's one declaration
//!   ([`models::ModelSpec`]) and the registry derived from them; one module (or folder, with its
//!   private networks) per model;
//! - [`validate`]: every setting checked for meaning before any work starts;
//! - [`data`]: file formats (IDX, CIFAR-10, image folders, KDDCUP99, ADBench `.npz`, CSV),
//!   evaluation protocols and preprocessing fitted on training data;
//! - [`nn`]: blocks two or more models share, losses, optimizers, seeded initialisation, and
//!   weights and training states as bytes; [`metrics`], [`threshold`] and [`conformal`]: AUROC
//!   & co., thresholds and p-values from normal-only validation scores; [`io`]; [`device`]: the compute device
//!   chosen at run time;
//! - `bench` (with the `bench` feature): speed benchmarks against the PyTorch reference in
//!   `bench/reference/`.
//!
//! The `oddity` binary (in `src/main.rs` and `src/cli/`) is a thin layer over this library.
//!
//! ```no_run
//! use oddity::data::protocol::Protocol;
//! use oddity::data::source::{DatasetKind, DatasetSpec};
//! use oddity::models::ModelConfig;
//! use oddity::run::{self, Checkpoint, RunConfig};
//!
//! # fn main() -> oddity::Result<()> {
//! let data = DatasetSpec::new(DatasetKind::BuiltinMnist, "builtin");
//! let config = RunConfig::new(ModelConfig::default_for("ganomaly")?, data, Protocol::LeaveOneOut { class: "0".into() }, 0)?;
//! let split = run::load_split(&config)?;                       // train / validation / test
//! let device = oddity::device::parse("cpu")?;
//! let mut trained = run::train_on(config, &split, &device)?;   // fit (the shared loop)
//! let scores = run::score_raw(&trained.run, trained.detector.as_ref(), &split.test)?; // score
//! let threshold = trained.run.thresholds.of(Checkpoint::Last).value;                // threshold
//! let flagged = scores.iter().filter(|&&s| s as f64 >= threshold).count();
//! trained.save(std::path::Path::new("runs/example"))?;
//! # let _ = flagged; Ok(()) }
//! ```

#![warn(missing_docs)]

#[cfg(feature = "bench")]
pub mod bench;
pub mod conformal;
pub mod data;
pub mod device;
pub mod io;
pub mod jobs;
pub mod linalg;
pub mod metrics;
pub mod models;
pub mod nn;
pub mod ood;
pub mod report;
pub mod run;
pub mod score;
pub mod serve;
pub mod threshold;
pub mod train;
pub mod validate;

/// The result type of the library: errors carry a human-readable chain of context
/// (which file, which field, what was wrong).
pub type Result<T> = anyhow::Result<T>;
