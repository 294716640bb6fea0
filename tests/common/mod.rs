//! Helpers shared by the integration tests: the shipped fixtures and short training runs.
#![allow(dead_code)]

use burn::tensor::Device;
use oddity::data::protocol::{Protocol, Split};
use oddity::data::source::{DatasetKind, DatasetSpec};
use oddity::models::ModelConfig;
use oddity::run::{self, RunConfig, Trained};
use std::path::PathBuf;

pub mod serving;

/// A fixture file or folder shipped in `fixtures/`: under `ODDITY_REPO` when set
/// (scripts/gpu-check.sh runs the compiled tests in a copy of the repository elsewhere), else
/// under the checkout the tests were built in.
pub fn fixture(rel: &str) -> PathBuf {
    std::env::var_os("ODDITY_REPO")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
        .join("fixtures")
        .join(rel)
}

/// The device the tests train and score on: `ODDITY_TEST_DEVICE` (`cpu` or `gpu`), `cpu`
/// when unset. scripts/gpu-check.sh sets `gpu`; the floors were measured on the CPU.
pub fn device() -> Device {
    let name = std::env::var("ODDITY_TEST_DEVICE").unwrap_or_else(|_| "cpu".into());
    oddity::device::parse(&name).unwrap_or_else(|e| panic!("ODDITY_TEST_DEVICE={name}: {e:#}"))
}

/// A dataset spec of `kind` at `path`.
pub fn spec(kind: DatasetKind, path: PathBuf) -> DatasetSpec {
    DatasetSpec::new(kind, path)
}

/// What `ODDITY_TEST_SEED_SHIFT` adds to every seed the tests give [`config`] (0 when unset):
/// the floors are set from measurements on seeds 0–2, taken with
/// `ODDITY_TEST_SEED_SHIFT=1 cargo test --release --test detectors NAME -- --nocapture` and 2.
pub fn seed_shift() -> u64 {
    std::env::var("ODDITY_TEST_SEED_SHIFT").map_or(0, |v| {
        v.parse()
            .unwrap_or_else(|_| panic!("ODDITY_TEST_SEED_SHIFT={v}: not a whole number"))
    })
}

/// A run config for `model` with the given budget (the seed moved by [`seed_shift`]).
pub fn config(
    model: &str,
    dataset: DatasetSpec,
    protocol: Protocol,
    seed: u64,
    epochs: usize,
) -> RunConfig {
    let mut c = RunConfig::new(
        ModelConfig::default_for(model).unwrap(),
        dataset,
        protocol,
        seed + seed_shift(),
    )
    .unwrap();
    c.train.epochs = epochs;
    c
}

/// Train `config` on its split; return the trained run and the split.
pub fn train(config: RunConfig) -> (Trained, Split) {
    let split = run::load_split(&config).unwrap();
    (run::train_on(config, &split, &device()).unwrap(), split)
}

/// Test-set AUROC of the last weights.
pub fn test_auroc(trained: &Trained, split: &Split) -> f64 {
    let e = run::evaluate_on_test(
        &trained.run,
        trained.detector.as_ref(),
        run::Checkpoint::Last,
        &split.test,
    )
    .unwrap();
    e.metrics.auroc
}

/// A fresh temporary folder, removed with everything in it when the returned guard is
/// dropped — unless the test is panicking, so that a failing test's files stay for a look.
/// Keep the guard bound for as long as the folder is used (`temp_dir(..).join(..)` would
/// remove it at the end of the statement).
#[must_use = "the folder is removed when the guard is dropped"]
pub fn temp_dir(tag: &str) -> Scratch {
    Scratch::fresh(std::env::temp_dir().join(format!("oddity-test-{tag}-{}", std::process::id())))
}

/// A temporary folder that removes itself (see [`temp_dir`]); it reads as its path (`&dir`,
/// `dir.join(…)`), and is never passed by value, which would drop it (and the folder) early.
#[derive(Debug)]
pub struct Scratch(PathBuf);

impl Scratch {
    /// The folder at `path`, emptied (made when missing).
    #[must_use = "the folder is removed when the guard is dropped"]
    pub fn fresh(path: PathBuf) -> Self {
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        Scratch(path)
    }
}

impl std::ops::Deref for Scratch {
    type Target = PathBuf;
    fn deref(&self) -> &PathBuf {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// The `oddity` binary the command-line tests run: `ODDITY_TEST_BIN` when set
/// (scripts/gpu-check.sh runs the compiled tests on a machine where cargo's build folder does not
/// exist), else the one cargo built beside these tests.
pub fn oddity_bin() -> PathBuf {
    std::env::var_os("ODDITY_TEST_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_oddity")))
}

/// Run the `oddity` binary with `args`.
pub fn oddity(args: &[&str]) -> std::process::Output {
    std::process::Command::new(oddity_bin())
        .args(args)
        .output()
        .expect("the oddity binary runs")
}

/// `oddity train` with the given model, data and protocol (and class), into `out`.
pub fn train_cmd(
    model: &str,
    dataset: &str,
    data: &std::path::Path,
    protocol: &str,
    class: Option<&str>,
    out: &std::path::Path,
) -> std::process::Output {
    train_cmd_with(model, (dataset, data), (protocol, class), out, &[])
}

/// `oddity train --model MODEL --dataset DATASET --data DATA --protocol PROTOCOL [--class C]
/// --out OUT EXTRA…`.
pub fn train_cmd_with(
    model: &str,
    (dataset, data): (&str, &std::path::Path),
    (protocol, class): (&str, Option<&str>),
    out: &std::path::Path,
    extra: &[&str],
) -> std::process::Output {
    let mut args = vec![
        "train",
        "--model",
        model,
        "--dataset",
        dataset,
        "--data",
        data.to_str().unwrap(),
        "--protocol",
        protocol,
        "--out",
        out.to_str().unwrap(),
    ];
    if let Some(c) = class {
        args.extend(["--class", c]);
    }
    args.extend(extra);
    oddity(&args)
}

/// [`train_cmd_with`] `--epochs EPOCHS --quiet EXTRA…`, which must succeed.
pub fn train_ok(
    model: &str,
    data: (&str, &std::path::Path),
    protocol: (&str, Option<&str>),
    epochs: usize,
    out: &std::path::Path,
    extra: &[&str],
) {
    let epochs = epochs.to_string();
    let mut args = vec!["--epochs", &epochs, "--quiet"];
    args.extend(extra);
    let o = train_cmd_with(model, data, protocol, out, &args);
    assert!(o.status.success(), "{}", stderr(&o));
}

/// A command's standard error as text.
pub fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A command's standard output as text.
pub fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A failed command: exit code 1, an `error:` line naming each of `needles`, and no panic.
pub fn assert_clean_error(o: &std::process::Output, needles: &[&str]) {
    let e = stderr(o);
    assert_eq!(o.status.code(), Some(1), "stderr: {e}");
    assert!(e.contains("error:") && !e.contains("panicked"), "{e}");
    for n in needles {
        assert!(e.contains(n), "expected {n:?} in: {e}");
    }
}

/// The model `name` with small networks (the score's definition is the same at any width).
pub fn small(name: &str) -> ModelConfig {
    let mut v = serde_json::to_value(ModelConfig::default_for(name).unwrap()).unwrap();
    let map = v.as_object_mut().unwrap();
    for (key, value) in [
        ("base_width", 8),
        ("width", 8),
        ("latent_dim", 16),
        ("widen", 1),
        ("filters", 8),
        ("blocks", 1),
    ] {
        if map.contains_key(key) && !map[key].is_null() {
            map.insert(key.into(), value.into());
        }
    }
    if let Some(search) = map.get_mut("search") {
        search["steps"] = 20.into();
    }
    // GEOM classifies every image under its 72 transformations: at 16 × 16 with shifts of 4 px
    // (as in tests/detectors.rs) a step costs a quarter of the 32 × 32 one.
    if name == "geom" {
        map.insert("image_size".into(), 16.into());
        map.insert("shift".into(), 4.into());
    }
    serde_json::from_value(v).unwrap()
}

/// The shape a model takes: its own image size in grey (28 × 28 for a model of images only that
/// takes them at their own size, as PixelCNN), or a table for models whose default networks are
/// the tabular ones (EGBAD, ALAD) and for AnoGAN.
pub fn shape_for(config: &ModelConfig) -> oddity::data::SampleShape {
    let probe = oddity::data::SampleShape::Image {
        channels: 1,
        height: 28,
        width: 28,
    };
    match config.input_size(probe) {
        // AnoGAN's tabular generator follows its code closely even untrained, so a search
        // start that depended on the batch would show in the score.
        Some(_) if config.get::<oddity::models::AnoganConfig>().is_some() => {
            oddity::data::SampleShape::Table { features: 9 }
        }
        Some(side) => oddity::data::SampleShape::Image {
            channels: 1,
            height: side,
            width: side,
        },
        None if config.info().inputs.contains("images")
            && !config.info().inputs.contains("tables") =>
        {
            probe
        }
        _ => oddity::data::SampleShape::Table { features: 9 },
    }
}
