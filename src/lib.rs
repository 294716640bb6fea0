//! # oddity — deep anomaly detection
//!
//! Train detectors on normal data only, score new data, choose thresholds and report metrics.
//!
//! The crate is laid out by concern:
//! - [`data`]: file formats (IDX, CIFAR-10, image folders, KDDCUP99, ADBench `.npz`, CSV),
//!   evaluation protocols and preprocessing fitted on training data;
//! - [`nn`]: shared network blocks (DCGAN encoder/decoder and autoencoder, MLP, U-Net, residual
//!   WGAN-GP networks, BiGAN discriminators, spectral normalisation, moving average of weights,
//!   the finite-difference gradient penalty, batched latent search), losses, optimizers and
//!   seeded initialisation;
//! - [`models`]: the [`models::Detector`] interface, the model registry and each model
//!   (network, losses, score) in its own module;
//! - [`train`]: the one training loop every model shares, and batched scoring;
//! - [`metrics`] and [`threshold`]: AUROC & co., thresholds from normal-only validation scores;
//! - [`run`]: a trained run on disk (config, weights, preprocessing, threshold, log);
//! - [`report`]: `metrics.json`, `scores.csv` and the plots;
//! - [`device`]: the compute device chosen at run time;
//! - [`validate`]: every setting checked for meaning before any work starts;
//! - [`bench`]: speed benchmarks against the PyTorch reference in `bench/reference/`.
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
//! let data = DatasetSpec { kind: DatasetKind::BuiltinMnist, path: "builtin".into(), label_column: None, image_size: None };
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

pub mod bench;
pub mod data;
pub mod device;
pub mod io;
pub mod metrics;
pub mod models;
pub mod nn;
pub mod report;
pub mod run;
pub mod score;
pub mod threshold;
pub mod train;
pub mod validate;

/// The result type of the library: errors carry a human-readable chain of context
/// (which file, which field, what was wrong).
pub type Result<T> = anyhow::Result<T>;
