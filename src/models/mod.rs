//! Detectors: one [`Detector`] interface, a registry, and one module per model holding its
//! network, losses and score. The training loop that drives them is in [`crate::train`].

pub mod adae;
pub mod alad;
pub mod alocc;
pub mod anogan;
pub mod autoencoder;
pub mod egbad;
pub mod fanogan;
pub mod ganomaly;
pub mod skip_ganomaly;

use crate::data::SampleShape;
use crate::nn::TrainingState;
use anyhow::{Context, bail};
use burn::prelude::*;
use burn::store::{ModuleSnapshot, SafetensorsStore};
use serde::{Deserialize, Serialize};

pub use adae::{Adae, AdaeConfig};
pub use alad::{Alad, AladConfig};
pub use alocc::{Alocc, AloccConfig};
pub use anogan::{Anogan, AnoganConfig};
pub use autoencoder::{Autoencoder, AutoencoderConfig};
pub use egbad::{Egbad, EgbadConfig};
pub use fanogan::{Fanogan, FanoganConfig};
pub use ganomaly::{Ganomaly, GanomalyConfig};
pub use skip_ganomaly::{SkipGanomaly, SkipGanomalyConfig};

/// Named losses of one training step, for the log and the progress bar.
pub type StepLosses = Vec<(&'static str, f32)>;

/// What every detector offers the training loop, the scorer and the run store.
///
/// Batches arrive flattened, `[B, D]` with `D = shape.len()`; image models reshape them to
/// `[B, C, H, W]`. Training batches are on the autodiff device, everything else on the plain one.
pub trait Detector: Send {
    /// The registry name (`ganomaly`, `autoencoder`, …).
    fn name(&self) -> &'static str;

    /// The full configuration, paper defaults filled in, as stored with a run.
    fn config(&self) -> ModelConfig;

    /// The plain (non-autodiff) device the detector scores on.
    fn device(&self) -> &Device;

    /// Called by the training loop before each epoch (1-based), for models trained in stages.
    fn begin_epoch(&mut self, _epoch: usize) {}

    /// One optimisation step (every sub-network's update) on a batch of normal samples.
    fn train_step(&mut self, batch: Tensor<2>) -> crate::Result<StepLosses>;

    /// Anomaly score of each sample of a batch, in evaluation mode; higher = more anomalous.
    fn score(&self, batch: Tensor<2>) -> Tensor<1>;

    /// The per-sample criterion used to pick the best epoch on normal-only validation data
    /// (lower = better). Defaults to the anomaly score.
    fn validation_loss(&self, batch: Tensor<2>) -> Tensor<1> {
        self.score(batch)
    }

    /// A per-pixel anomaly map `[B, 1, H, W]`, for models whose paper defines one.
    fn anomaly_map(&self, _batch: Tensor<2>) -> Option<Tensor<4>> {
        None
    }

    /// All weights (and BatchNorm running statistics) as safetensors bytes.
    fn save_weights(&self) -> crate::Result<Vec<u8>>;

    /// Restore weights written by [`Detector::save_weights`].
    fn load_weights(&mut self, bytes: Vec<u8>) -> crate::Result<()>;

    /// Everything training needs to continue exactly where it stopped: the networks with their
    /// parameter identities, the optimizers' states, random generators and counters. `None`
    /// for a model that cannot resume training yet (its runs restart instead).
    fn training_state(&self) -> crate::Result<Option<TrainingState>> {
        Ok(None)
    }

    /// Restore a state given by [`Detector::training_state`].
    fn restore_training_state(&mut self, _state: &TrainingState) -> crate::Result<()> {
        bail!("{} cannot resume a training yet", self.name())
    }
}

/// A model's configuration, tagged by model name; each variant's defaults are its paper's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "model", rename_all = "kebab-case")]
pub enum ModelConfig {
    /// GANomaly (Akcay et al., ACCV 2018).
    Ganomaly(GanomalyConfig),
    /// The baseline autoencoder scored by reconstruction error.
    Autoencoder(AutoencoderConfig),
    /// EGBAD (Zenati et al., ICLR-W 2018).
    Egbad(EgbadConfig),
    /// AnoGAN (Schlegl et al., IPMI 2017).
    Anogan(AnoganConfig),
    /// ALAD (Zenati et al., ICDM 2018).
    Alad(AladConfig),
    /// ADAE (Vu et al., 2019).
    Adae(AdaeConfig),
    /// Skip-GANomaly (Akcay et al., IJCNN 2019).
    SkipGanomaly(SkipGanomalyConfig),
    /// ALOCC (Sabokrou et al., CVPR 2018).
    Alocc(AloccConfig),
    /// f-AnoGAN (Schlegl et al., MedIA 2019).
    Fanogan(FanoganConfig),
}

/// A registry entry: what `oddity models` lists and `--model NAME` accepts.
#[derive(Clone, Copy, Debug)]
pub struct ModelInfo {
    /// Name on the command line.
    pub name: &'static str,
    /// The paper it implements.
    pub paper: &'static str,
    /// One line on what it does and how it scores.
    pub summary: &'static str,
    /// What data it takes.
    pub inputs: &'static str,
}

/// Every detector, in the order `oddity models` lists them.
pub const MODELS: &[ModelInfo] = &[
    ModelInfo {
        name: "ganomaly",
        paper: "Akcay, Atapour-Abarghouei, Breckon. GANomaly: Semi-Supervised Anomaly Detection via Adversarial Training. ACCV 2018",
        summary: "encoder-decoder-encoder GAN; score = latent distance ‖G_E(x) − E(G(x))‖²",
        inputs: "images",
    },
    ModelInfo {
        name: "anogan",
        paper: "Schlegl, Seeböck, Waldstein, Schmidt-Erfurth, Langs. Unsupervised Anomaly Detection with Generative Adversarial Networks to Guide Marker Discovery. IPMI 2017",
        summary: "GAN + test-time search of z (500 Adam steps, batched); score = 0.9·Σ|x − G(z)| + 0.1·Σ|f(x) − f(G(z))|; residual map",
        inputs: "images, tables",
    },
    ModelInfo {
        name: "alad",
        paper: "Zenati, Romain, Foo, Lecouat, Chandrasekhar. Adversarially Learned Anomaly Detection. ICDM 2018",
        summary: "BiGAN + cycle discriminators D_xx, D_zz, spectral norm, moving average, early stopping; score = ‖f_xx(x,x) − f_xx(x,G(E(x)))‖₁ (or l1, l2, ch)",
        inputs: "tables, 32×32 colour images (networks cifar10)",
    },
    ModelInfo {
        name: "fanogan",
        paper: "Schlegl, Seeböck, Waldstein, Langs, Schmidt-Erfurth. f-AnoGAN: Fast unsupervised anomaly detection with generative adversarial networks. Medical Image Analysis 2019",
        summary: "WGAN-GP (finite-difference gradient penalty) then an encoder (izi_f, izi or ziz); score = mean((x − G(E(x)))²) + κ·mean((f(x) − f(G(E(x))))²); residual map",
        inputs: "images (64×64)",
    },
    ModelInfo {
        name: "egbad",
        paper: "Zenati, Foo, Lecouat, Manek, Chandrasekhar. Efficient GAN-Based Anomaly Detection. ICLR workshop 2018",
        summary: "BiGAN (encoder, generator, joint discriminator); score = 0.9·‖x − G(E(x))‖₁ + 0.1·‖f(x,E(x)) − f(G(E(x)),E(x))‖₁",
        inputs: "tables, 28×28 grey images",
    },
    ModelInfo {
        name: "adae",
        paper: "Vu, Ueta, Hirose, Takahashi. Anomaly Detection with Adversarial Dual Autoencoders. arXiv:1902.06924, 2019",
        summary: "generator autoencoder G against an autoencoder discriminator D; score = mean((x − D(G(x)))²); residual map",
        inputs: "images",
    },
    ModelInfo {
        name: "skip-ganomaly",
        paper: "Akcay, Atapour-Abarghouei, Breckon. Skip-GANomaly: Skip Connected and Adversarially Trained Encoder-Decoder Anomaly Detection. IJCNN 2019",
        summary: "U-Net generator, DCGAN discriminator with 100-d features; score = 0.9·mean((x − x̂)²) + 0.1·mean((f(x) − f(x̂))²); residual map",
        inputs: "images",
    },
    ModelInfo {
        name: "alocc",
        paper: "Sabokrou, Khalooei, Fathy, Adeli. Adversarially Learned One-Class Classifier for Novelty Detection. CVPR 2018",
        summary: "denoising refiner R against a one-class classifier D; score = 1 − D(R(x)) (or 1 − D(x))",
        inputs: "images",
    },
    ModelInfo {
        name: "autoencoder",
        paper: "baseline: reconstruction-error autoencoder (DCGAN conv for images, MLP for tables)",
        summary: "reconstruct normal data; score = mean squared reconstruction error",
        inputs: "images, tables",
    },
];

/// The registry entry called `name`.
pub fn info(name: &str) -> crate::Result<&'static ModelInfo> {
    MODELS.iter().find(|m| m.name == name).with_context(|| {
        format!(
            "unknown model {name:?}; available: {}",
            MODELS.iter().map(|m| m.name).collect::<Vec<_>>().join(", ")
        )
    })
}

impl ModelConfig {
    /// The paper's configuration of model `name`.
    pub fn default_for(name: &str) -> crate::Result<Self> {
        Ok(match info(name)?.name {
            "ganomaly" => ModelConfig::Ganomaly(GanomalyConfig::default()),
            "autoencoder" => ModelConfig::Autoencoder(AutoencoderConfig::default()),
            "egbad" => ModelConfig::Egbad(EgbadConfig::default()),
            "anogan" => ModelConfig::Anogan(AnoganConfig::default()),
            "alad" => ModelConfig::Alad(AladConfig::default()),
            "adae" => ModelConfig::Adae(AdaeConfig::default()),
            "skip-ganomaly" => ModelConfig::SkipGanomaly(SkipGanomalyConfig::default()),
            "alocc" => ModelConfig::Alocc(AloccConfig::default()),
            "fanogan" => ModelConfig::Fanogan(FanoganConfig::default()),
            other => bail!("model {other:?} is registered but has no configuration"),
        })
    }

    /// The defaults that a configuration file's values override: [`ModelConfig::default_for`],
    /// except that a file naming ALAD's `networks` starts from that family's official
    /// configuration (its learning rate, batch and latent size), not from KDD99's.
    pub fn defaults_for_file(
        name: &str,
        file: &serde_json::Map<String, serde_json::Value>,
    ) -> crate::Result<Self> {
        let default = Self::default_for(name)?;
        Ok(match (&default, file.get("networks")) {
            (ModelConfig::Alad(_), Some(networks)) => {
                let networks: alad::AladNetworks = serde_json::from_value(networks.clone())
                    .map_err(|e| anyhow::anyhow!("bad alad networks {networks}: {e}"))?;
                ModelConfig::Alad(AladConfig::official(networks))
            }
            _ => default,
        })
    }

    /// The registry name.
    pub fn name(&self) -> &'static str {
        match self {
            ModelConfig::Ganomaly(_) => "ganomaly",
            ModelConfig::Autoencoder(_) => "autoencoder",
            ModelConfig::Egbad(_) => "egbad",
            ModelConfig::Anogan(_) => "anogan",
            ModelConfig::Alad(_) => "alad",
            ModelConfig::Adae(_) => "adae",
            ModelConfig::SkipGanomaly(_) => "skip-ganomaly",
            ModelConfig::Alocc(_) => "alocc",
            ModelConfig::Fanogan(_) => "fanogan",
        }
    }

    /// The paper's number of epochs.
    pub fn epochs(&self) -> usize {
        match self {
            ModelConfig::Ganomaly(c) => c.epochs,
            ModelConfig::Autoencoder(c) => c.epochs,
            ModelConfig::Egbad(c) => c.epochs,
            ModelConfig::Anogan(c) => c.epochs,
            ModelConfig::Alad(c) => c.epochs,
            ModelConfig::Adae(c) => c.epochs,
            ModelConfig::SkipGanomaly(c) => c.epochs,
            ModelConfig::Alocc(c) => c.epochs,
            ModelConfig::Fanogan(c) => c.gan_epochs + c.encoder_epochs,
        }
    }

    /// Early-stopping patience in epochs, for models whose paper stops early.
    pub fn patience(&self) -> Option<usize> {
        match self {
            ModelConfig::Alad(c) => c.patience,
            _ => None,
        }
    }

    /// The paper's training batch size.
    pub fn batch_size(&self) -> usize {
        match self {
            ModelConfig::Ganomaly(c) => c.batch_size,
            ModelConfig::Autoencoder(c) => c.batch_size,
            ModelConfig::Egbad(c) => c.batch_size,
            ModelConfig::Anogan(c) => c.batch_size,
            ModelConfig::Alad(c) => c.batch_size,
            ModelConfig::Adae(c) => c.batch_size,
            ModelConfig::SkipGanomaly(c) => c.batch_size,
            ModelConfig::Alocc(c) => c.batch_size,
            ModelConfig::Fanogan(c) => c.batch_size,
        }
    }

    /// The side images are resized to before this model sees them (`None` for tables).
    /// Image models take their config's `image_size` (GANomaly's `isize`, 32); table models none.
    pub fn input_size(&self, raw: SampleShape) -> Option<usize> {
        let size = match self {
            ModelConfig::Ganomaly(c) => c.image_size,
            ModelConfig::Autoencoder(c) => c.image_size,
            ModelConfig::Egbad(_) | ModelConfig::Alad(_) => return None,
            ModelConfig::Anogan(c) => c.image_size,
            ModelConfig::Adae(c) => c.image_size,
            ModelConfig::SkipGanomaly(c) => c.image_size,
            ModelConfig::Alocc(c) => c.image_size,
            ModelConfig::Fanogan(c) => c.image_size,
        };
        matches!(raw, SampleShape::Image { .. }).then_some(size)
    }

    /// Build the detector for inputs of `shape` on `device`, its weights drawn from `seed`.
    pub fn build(
        &self,
        shape: SampleShape,
        device: &Device,
        seed: u64,
    ) -> crate::Result<Box<dyn Detector>> {
        Ok(match self {
            ModelConfig::Ganomaly(c) => Box::new(Ganomaly::new(c.clone(), shape, device, seed)?),
            ModelConfig::Autoencoder(c) => {
                Box::new(Autoencoder::new(c.clone(), shape, device, seed)?)
            }
            ModelConfig::Egbad(c) => Box::new(Egbad::new(c.clone(), shape, device, seed)?),
            ModelConfig::Anogan(c) => Box::new(Anogan::new(c.clone(), shape, device, seed)?),
            ModelConfig::Alad(c) => Box::new(Alad::new(c.clone(), shape, device, seed)?),
            ModelConfig::Adae(c) => Box::new(Adae::new(c.clone(), shape, device, seed)?),
            ModelConfig::SkipGanomaly(c) => {
                Box::new(SkipGanomaly::new(c.clone(), shape, device, seed)?)
            }
            ModelConfig::Alocc(c) => Box::new(Alocc::new(c.clone(), shape, device, seed)?),
            ModelConfig::Fanogan(c) => Box::new(Fanogan::new(c.clone(), shape, device, seed)?),
        })
    }
}

/// The JSON object of hyper-parameters in a settings file (`--model-config FILE`).
pub fn read_settings_file(
    file: &std::path::Path,
) -> crate::Result<serde_json::Map<String, serde_json::Value>> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let value: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("{}: not valid JSON", file.display()))?;
    match value {
        serde_json::Value::Object(map) => Ok(map),
        _ => bail!(
            "{}: expected a JSON object of hyper-parameters",
            file.display()
        ),
    }
}

impl ModelConfig {
    /// The paper's configuration of model `name`, with the hyper-parameters of the settings
    /// `file` (if any) on top; every value is checked ([`crate::validate::validate_model`]).
    pub fn from_settings_file(name: &str, file: Option<&std::path::Path>) -> crate::Result<Self> {
        let Some(file) = file else {
            return Self::default_for(name);
        };
        let overrides = read_settings_file(file)?;
        let base = Self::defaults_for_file(name, &overrides)
            .with_context(|| format!("{}: bad hyper-parameter value", file.display()))?;
        base.with_settings(&overrides, file)
    }

    /// This configuration with the hyper-parameters of the settings `file` replaced.
    pub fn with_settings_file(&self, file: &std::path::Path) -> crate::Result<Self> {
        self.with_settings(&read_settings_file(file)?, file)
    }

    /// This configuration with each hyper-parameter of `overrides` (read from `file`)
    /// replaced; an unknown name or a bad value is an error naming the file.
    pub fn with_settings(
        &self,
        overrides: &serde_json::Map<String, serde_json::Value>,
        file: &std::path::Path,
    ) -> crate::Result<Self> {
        let mut value = serde_json::to_value(self)?;
        let target = value
            .as_object_mut()
            .context("a model configuration serialises to a JSON object")?;
        for (k, v) in overrides {
            if !target.contains_key(k) || k == "model" {
                bail!(
                    "{}: {} has no hyper-parameter {k:?}; it has {:?}",
                    file.display(),
                    self.name(),
                    target.keys().filter(|k| *k != "model").collect::<Vec<_>>()
                );
            }
            target.insert(k.clone(), v.clone());
        }
        let config: ModelConfig = serde_json::from_value(value)
            .with_context(|| format!("{}: bad hyper-parameter value", file.display()))?;
        crate::validate::validate_model(&config)
            .with_context(|| format!("{}: bad hyper-parameter value", file.display()))?;
        Ok(config)
    }
}

/// Serialise a module's parameters to safetensors bytes.
///
/// BatchNorm's running statistics are settled first: burn keeps the latest update of each
/// aside until the statistics are next read, and a snapshot would otherwise save the one
/// before it (for a network no validation pass has read since, as GANomaly's discriminator).
pub fn module_to_bytes<M: ModuleSnapshot>(module: &M) -> crate::Result<Vec<u8>> {
    let _settled = module.valid();
    let mut store = SafetensorsStore::from_bytes(None);
    module
        .save_into(&mut store)
        .map_err(|e| anyhow::anyhow!("cannot serialise weights: {e}"))?;
    let bytes = store
        .get_bytes()
        .map_err(|e| anyhow::anyhow!("cannot serialise weights: {e}"))?;
    canonical_safetensors(bytes)
}

/// The same safetensors file with its JSON header's keys in sorted order at every level, so
/// that identical weights give identical bytes (burn writes its metadata from a hash map, in
/// an order that changes from run to run). The header is padded with spaces to a multiple of
/// 8 bytes, as the safetensors writer does; the tensor data is untouched.
fn canonical_safetensors(bytes: Vec<u8>) -> crate::Result<Vec<u8>> {
    let corrupt = || anyhow::anyhow!("cannot serialise weights: not a safetensors buffer");
    let len = u64::from_le_bytes(bytes.get(..8).ok_or_else(corrupt)?.try_into()?) as usize;
    let header = bytes.get(8..8 + len).ok_or_else(corrupt)?;
    let value: serde_json::Value = serde_json::from_slice(header)?;
    let mut text = String::new();
    write_sorted_json(&value, &mut text)?;
    while !text.len().is_multiple_of(8) {
        text.push(' ');
    }
    let mut out = Vec::with_capacity(bytes.len() + 8);
    out.extend_from_slice(&(text.len() as u64).to_le_bytes());
    out.extend_from_slice(text.as_bytes());
    out.extend_from_slice(&bytes[8 + len..]);
    Ok(out)
}

/// Compact JSON of `value` with every object's keys sorted.
fn write_sorted_json(value: &serde_json::Value, out: &mut String) -> crate::Result<()> {
    match value {
        serde_json::Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::to_string(k)?);
                out.push(':');
                write_sorted_json(&map[k], out)?;
            }
            out.push('}');
        }
        serde_json::Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_sorted_json(item, out)?;
            }
            out.push(']');
        }
        leaf => out.push_str(&serde_json::to_string(leaf)?),
    }
    Ok(())
}

/// Load a module's parameters from safetensors bytes; every parameter must be present.
pub fn module_from_bytes<M: ModuleSnapshot>(module: &mut M, bytes: Vec<u8>) -> crate::Result<()> {
    let mut store = SafetensorsStore::from_bytes(Some(bytes));
    let result = module
        .load_from(&mut store)
        .map_err(|e| anyhow::anyhow!("weights do not fit this model: {e}"))?;
    anyhow::ensure!(
        result.missing.is_empty() && result.errors.is_empty(),
        "weights do not fit this model: missing {:?}, errors {:?}",
        result.missing,
        result.errors
    );
    Ok(())
}

/// Require `[C, size, size]` images with a DCGAN-compatible side for an image model; its
/// `[C, H, W]`.
pub fn square_image(model: &str, shape: SampleShape, size: usize) -> crate::Result<[usize; 3]> {
    let (c, h, w) = image_dims(model, shape)?;
    anyhow::ensure!(
        h == size && w == size,
        "{model} expects {size}×{size} images, got {h}×{w}"
    );
    crate::nn::dcgan::check_image_size(size)?;
    Ok([c, h, w])
}

/// A flattened batch `[B, C·H·W]` as images `[B, C, H, W]`.
pub fn as_images(batch: Tensor<2>, [c, h, w]: [usize; 3]) -> Tensor<4> {
    let b = batch.dims()[0];
    batch.reshape([b, c, h, w])
}

/// Read scalar losses (rank-1 tensors of one element each) back in one transfer.
pub fn read_values(values: Vec<Tensor<1>>) -> crate::Result<Vec<f32>> {
    Tensor::cat(values, 0)
        .into_data()
        .try_into_vec::<f32>()
        .map_err(|e| anyhow::anyhow!("reading losses: {e:?}"))
}

/// Require an image shape for an image-only model.
pub fn image_dims(model: &str, shape: SampleShape) -> crate::Result<(usize, usize, usize)> {
    match shape {
        SampleShape::Image {
            channels,
            height,
            width,
        } => Ok((channels, height, width)),
        other => bail!("{model} takes images, but the data holds {other}"),
    }
}
