//! The rules by which a run's settings are checked for meaning before any work starts (a run
//! configuration applies them all in `RunConfig::validate`, a model configuration its own).
//!
//! Types already say a size is a non-negative integer and a rate a float; this layer says what
//! they mean: sizes at least 1 and small enough to fit in memory, learning rates above 0,
//! fractions and percentiles in range, every number finite, and options that apply to the data
//! set, protocol and model they are given with. Each error names the setting and why.

use crate::data::protocol::Protocol;
use crate::data::source::{DatasetKind, DatasetSpec};
use crate::threshold::ThresholdRule;
use anyhow::{bail, ensure};
use serde_json::Value;

/// The largest width of a layer (units, latent size). A dense layer between two such widths is
/// 256 MiB of float32 (plus as much again for each of Adam's moments); 65 536 would be 16 GiB.
/// No paper oddity implements comes near it.
pub const MAX_SIZE: u64 = 1 << 13;

/// The largest count of repetitions (epochs, steps, batch size).
pub const MAX_COUNT: u64 = 1 << 20;

/// The largest base width of a convolutional network: DCGAN-style networks multiply it by up
/// to 8, and a 4 × 4 convolution between 4096 and 2048 channels is already 512 MiB.
pub const MAX_BASE_WIDTH: u64 = 512;

/// The largest image side a model may be asked to resize to (a 4096 × 4096 RGB image is
/// 200 MiB of float32 per sample before any network).
pub const MAX_IMAGE_SIDE: usize = 4096;

/// Whether a data set kind holds tables (rows of features) rather than images.
pub fn is_table(kind: DatasetKind) -> bool {
    kind.form() == Some(crate::data::source::DataForm::Tables)
}

/// `name` must be a finite number in `lo..=hi` (or `lo..hi` when `hi_open`).
pub fn in_range(name: &str, value: f64, lo: f64, hi: f64, hi_open: bool) -> crate::Result<()> {
    let inside = value.is_finite() && value >= lo && if hi_open { value < hi } else { value <= hi };
    let close = if hi_open { ")" } else { "]" };
    ensure!(
        inside,
        "{name} must be a number in [{lo}, {hi}{close}, got {value}"
    );
    Ok(())
}

/// `name` must be a finite number above 0.
pub fn positive(name: &str, value: f64) -> crate::Result<()> {
    ensure!(
        value.is_finite() && value > 0.0,
        "{name} must be a finite number above 0, got {value}"
    );
    Ok(())
}

/// `name` must be a count in `1..=max`.
pub fn count(name: &str, value: u64, max: u64) -> crate::Result<()> {
    ensure!(value >= 1, "{name} must be at least 1, got {value}");
    ensure!(
        value <= max,
        "{name} = {value} is too large (at most {max})"
    );
    Ok(())
}

/// `name` must be a layer width or image side in `1..=max`; above it, the error gives the
/// memory one square float32 layer of that width would need.
pub fn size(name: &str, value: u64, max: u64) -> crate::Result<()> {
    ensure!(value >= 1, "{name} must be at least 1, got {value}");
    ensure!(
        value <= max,
        "{name} = {value} is too large (at most {max}): {}",
        memory_note(value)
    );
    Ok(())
}

/// What a size means for memory: one square float32 layer of that width.
fn memory_note(value: u64) -> String {
    let bytes = (value as f64) * (value as f64) * 4.0;
    format!(
        "one {value} × {value} layer alone would need {:.1} GiB",
        bytes / (1u64 << 30) as f64
    )
}

/// A threshold rule's numbers.
pub fn validate_threshold_rule(rule: &ThresholdRule) -> crate::Result<()> {
    match *rule {
        ThresholdRule::ValidationPercentile { percentile } => {
            in_range("the threshold percentile", percentile, 0.0, 100.0, false)
        }
        ThresholdRule::Fixed { value } => {
            ensure!(
                value.is_finite(),
                "a fixed threshold must be finite, got {value}"
            );
            Ok(())
        }
        ThresholdRule::FalseAlarmRate { alpha } => crate::conformal::check_alpha(alpha),
        ThresholdRule::Kde { alpha, .. } => {
            ensure!(
                alpha > 0.0 && alpha < 1.0,
                "the KDE threshold's quantile must be within (0, 1), got {alpha}"
            );
            Ok(())
        }
    }
}

/// Options of the data set that must fit its kind.
pub fn validate_dataset(spec: &DatasetSpec) -> crate::Result<()> {
    let builtin = spec.kind == DatasetKind::BuiltinMnist;
    if builtin && spec.path.as_os_str() != "builtin" {
        bail!(
            "--data {} does not apply: builtin-mnist is the MNIST subset inside the binary (its \
             data is \"builtin\"); use --dataset mnist to read MNIST files",
            spec.path.display()
        );
    }
    if let Some(side) = spec.image_size {
        ensure!(
            matches!(
                spec.kind,
                DatasetKind::ImageFolder
                    | DatasetKind::Mvtec
                    | DatasetKind::MagneticTile
                    | DatasetKind::Cifar10
            ),
            "--decode-size resizes image files while decoding; it does not apply to {} data",
            spec.kind
        );
        size("--decode-size", side as u64, MAX_IMAGE_SIDE as u64)?;
    }
    ensure!(
        spec.kind != DatasetKind::MagneticTile || spec.image_size.is_some(),
        "Magnetic Tile images differ in size; give the side to resize them to (--decode-size, \
         e.g. 128)"
    );
    if let Some(dir) = &spec.mask_dir {
        ensure!(
            spec.kind == DatasetKind::ImageFolder,
            "--mask-dir gives the masks of an image folder; it does not apply to {} data",
            spec.kind
        );
        ensure!(dir.is_dir(), "--mask-dir {}: not a folder", dir.display());
    }
    ensure!(
        !spec.allow_missing_masks || spec.kind == DatasetKind::Mvtec,
        "--allow-missing-masks applies to MVTec AD masks, not to {} data",
        spec.kind
    );
    ensure!(
        spec.kind == DatasetKind::Hyperspectral
            || (spec.scene_variables == Default::default() && spec.train_scene.is_none()),
        "--cube-var, --map-var, --map-file and --train-scene apply to hyperspectral scenes, not \
         to {} data",
        spec.kind
    );
    if let Some(file) = &spec.scene_variables.map_file {
        ensure!(
            file.is_file(),
            "--map-file {}: no such file",
            file.display()
        );
    }
    for (flag, name) in [
        ("--cube-var", &spec.scene_variables.cube),
        ("--map-var", &spec.scene_variables.map),
    ] {
        if let Some(name) = name {
            ensure!(!name.trim().is_empty(), "{flag} must not be empty");
        }
    }
    if let Some(column) = &spec.label_column {
        ensure!(
            spec.kind == DatasetKind::Csv,
            "--label-column names a CSV column; it does not apply to {} data",
            spec.kind
        );
        ensure!(
            !column.trim().is_empty(),
            "--label-column must not be empty"
        );
    }
    Ok(())
}

/// A protocol that must fit the data set.
pub fn validate_protocol(protocol: &Protocol, kind: DatasetKind) -> crate::Result<()> {
    match protocol {
        Protocol::Kdd99 | Protocol::Kdd99Goad | Protocol::Kdd99Rev => ensure!(
            kind == DatasetKind::Kdd99,
            "the {protocol} protocol needs --dataset kdd99 (it labels rows by their `normal.` class), not {kind}"
        ),
        Protocol::OneClass { class }
        | Protocol::LeaveOneOut { class }
        | Protocol::Contaminated { class } => {
            ensure!(!class.trim().is_empty(), "--class must not be empty")
        }
        Protocol::Tabular | Protocol::Scene | Protocol::Fit => {}
    }
    ensure!(
        (*protocol == Protocol::Scene) == (kind == DatasetKind::Hyperspectral),
        "the scene protocol goes with hyperspectral scenes, and only with them (got the \
         {protocol} protocol on {kind} data)"
    );
    ensure!(
        (*protocol == Protocol::Fit) == (kind == DatasetKind::Arrays),
        "the fit protocol goes with arrays handed over in memory, and only with them (got the \
         {protocol} protocol on {kind} data)"
    );
    Ok(())
}

/// Every hyper-parameter of a model configuration, by what its name says it is. The rules
/// apply to every model, so a new model's fields are checked as soon as they follow the
/// naming of the others (sizes, `*learning_rate`, `beta_*`, `*dropout`, weights). `model` is a
/// model configuration as it serialises: its fields, tagged with the model's name under
/// `model`. A model's own rules are its `ModelSpec::check`, applied with these by
/// `ModelConfig::validate`.
pub fn validate_model(model: &impl serde::Serialize) -> crate::Result<()> {
    let value = serde_json::to_value(model)?;
    let name = value
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or("the model");
    check_fields(name, "", &value)?;
    let needed = training_memory_estimate(&value);
    if let Some(available) = crate::device::available_memory_bytes() {
        ensure!(
            needed <= available,
            "{} with these sizes needs about {:.1} GiB for its weights, gradients and Adam \
             moments alone; this machine has {:.1} GiB available: use smaller sizes",
            name,
            needed as f64 / GIB,
            available as f64 / GIB
        );
    }
    Ok(())
}

const GIB: f64 = (1u64 << 30) as f64;

/// A lower estimate of the memory a model's training takes, in bytes, from its size
/// hyper-parameters: its dense stacks (consecutive widths of each width list, into its latent
/// size) and its convolutional pyramids (DCGAN-style: 4 × 4 kernels from the base width,
/// doubling at each halving of the image down to 4 × 4, as in every network here), counted
/// for four networks, each weight held four times (value, gradient, two Adam moments).
pub fn training_memory_estimate(config: &Value) -> u64 {
    let number = |key: &str| config.get(key).and_then(Value::as_u64);
    let latent = number("latent_dim").unwrap_or(0) as f64;
    let mut weights = 0.0f64;
    for key in WIDTH_LIST_FIELDS {
        let widths: Vec<f64> = config
            .get(*key)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_u64)
                    .map(|w| w as f64)
                    .collect()
            })
            .unwrap_or_default();
        weights += widths.windows(2).map(|w| w[0] * w[1]).sum::<f64>();
        weights += widths.last().map_or(0.0, |w| w * latent);
    }
    let side = number("image_size");
    let base = number("base_width").or(number("width"));
    if let (Some(side), Some(base)) = (side, base) {
        let levels = (side.max(8) as f64 / 4.0).log2().floor().max(1.0) as i32;
        let mut channels = base as f64;
        for _ in 1..levels {
            weights += 16.0 * channels * channels * 2.0;
            channels *= 2.0;
        }
        weights += 16.0 * channels * latent.max(1.0);
        weights *= 4.0;
    }
    (weights * 4.0 * 4.0) as u64
}

/// Hyper-parameters holding a count of repetitions.
const COUNT_FIELDS: &[&str] = &[
    "epochs",
    "batch_size",
    "critic_iterations",
    "r_steps",
    "gan_epochs",
    "encoder_epochs",
    "steps",
    "patience",
    "downsamplings",
    "anomalies_per_step",
    "importance_samples",
    "probability_samples",
    "score_samples",
    "pretrain_epochs",
    "svdd_epochs",
    "max_samples",
    "image_batch",
    "depth",
    "trunk_layers",
    "mining_from_epoch",
    "mining_steps",
    "running_statistics_from_epoch",
];

/// Hyper-parameters holding a size (a count of units or channels).
const SIZE_FIELDS: &[&str] = &[
    "latent_dim",
    "base_width",
    "width",
    "table_latent_dim",
    "image_latent_dim",
    "discriminator_width",
    "latent_channels",
    "hidden_width",
    "transforms",
    "transform_dim",
    "widen",
    "filters",
];

/// Hyper-parameters holding a list of layer widths.
const WIDTH_LIST_FIELDS: &[&str] = &[
    "hidden",
    "generator_hidden",
    "encoder_hidden",
    "table_discriminator",
    "critic_hidden",
];

fn check_fields(model: &str, prefix: &str, value: &Value) -> crate::Result<()> {
    let Value::Object(map) = value else {
        return Ok(());
    };
    for (key, v) in map {
        let name = format!("{model} hyper-parameter {prefix}{key}");
        match v {
            Value::Object(_) => check_fields(model, &format!("{prefix}{key}."), v)?,
            Value::Null | Value::Bool(_) | Value::String(_) => {}
            Value::Array(items) => {
                if WIDTH_LIST_FIELDS.contains(&key.as_str()) {
                    for (i, item) in items.iter().enumerate() {
                        let w = item.as_u64().unwrap_or(0);
                        size(&format!("{name}[{i}]"), w, MAX_SIZE)?;
                    }
                }
            }
            Value::Number(n) => {
                let x = n.as_f64().unwrap_or(f64::NAN);
                ensure!(x.is_finite(), "{name} must be finite, got {n}");
                check_number(&name, key, n, x)?;
            }
        }
    }
    Ok(())
}

fn check_number(name: &str, key: &str, n: &serde_json::Number, x: f64) -> crate::Result<()> {
    if COUNT_FIELDS.contains(&key) {
        return count(name, n.as_u64().unwrap_or(0), MAX_COUNT);
    }
    if SIZE_FIELDS.contains(&key) {
        let max = if key.ends_with("width") {
            MAX_BASE_WIDTH
        } else {
            MAX_SIZE
        };
        return size(name, n.as_u64().unwrap_or(0), max);
    }
    match key {
        "image_size" => size(name, n.as_u64().unwrap_or(0), MAX_IMAGE_SIDE as u64),
        k if k.contains("learning_rate") => positive(name, x),
        "beta_1" | "beta_2" | "ema_decay" => in_range(name, x, 0.0, 1.0, true),
        k if k.contains("dropout") => in_range(name, x, 0.0, 1.0, true),
        // A step and SSIM's dynamic range divide: zero is no value for them.
        "penalty_step" | "dynamic_range" | "decoder_std" => positive(name, x),
        // Loss weights, slopes, noise levels and re-initialisation levels: finite, not negative.
        _ => {
            ensure!(x >= 0.0, "{name} must not be negative, got {x}");
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::ModelConfig;

    fn with(model: &str, key: &str, v: Value) -> crate::Result<()> {
        let mut value = serde_json::to_value(ModelConfig::default_for(model).unwrap()).unwrap();
        value[key] = v;
        let config: ModelConfig = serde_json::from_value(value).unwrap();
        validate_model(&config)
    }

    #[test]
    fn every_default_configuration_is_valid() {
        for m in crate::models::MODELS {
            ModelConfig::default_for(m.name)
                .unwrap()
                .validate()
                .unwrap_or_else(|e| panic!("{}: {e}", m.name));
        }
    }

    #[test]
    fn out_of_range_hyper_parameters_are_named() {
        for (model, key, v, needle) in [
            (
                "autoencoder",
                "latent_dim",
                serde_json::json!(0),
                "latent_dim must be at least 1",
            ),
            (
                "autoencoder",
                "hidden",
                serde_json::json!([0]),
                "hidden[0] must be at least 1",
            ),
            (
                "alae",
                "critic_hidden",
                serde_json::json!([256, 0]),
                "critic_hidden[1] must be at least 1",
            ),
            (
                "advae",
                "hidden_width",
                serde_json::json!(0),
                "hidden_width must be at least 1",
            ),
            (
                "pixelcnn",
                "filters",
                serde_json::json!(0),
                "filters must be at least 1",
            ),
            (
                "advae",
                "score_samples",
                serde_json::json!(0),
                "score_samples must be at least 1",
            ),
            (
                "ganomaly",
                "base_width",
                serde_json::json!(0),
                "base_width must be at least 1",
            ),
            (
                "ganomaly",
                "latent_dim",
                serde_json::json!(3_000_000_000u64),
                "too large",
            ),
            (
                "ganomaly",
                "learning_rate",
                serde_json::json!(-1.0),
                "learning_rate must be a finite number above 0",
            ),
            (
                "ssim-ae",
                "dynamic_range",
                serde_json::json!(0.0),
                "dynamic_range must be a finite number above 0",
            ),
            (
                "ganomaly",
                "beta_1",
                serde_json::json!(1.5),
                "beta_1 must be a number in [0, 1)",
            ),
            (
                "ganomaly",
                "w_con",
                serde_json::json!(-3.0),
                "w_con must not be negative",
            ),
            (
                "fanogan",
                "critic_iterations",
                serde_json::json!(0),
                "critic_iterations must be at least 1",
            ),
        ] {
            let err = with(model, key, v).unwrap_err().to_string();
            assert!(err.contains(needle), "{model} {key}: {err}");
        }
    }
}
