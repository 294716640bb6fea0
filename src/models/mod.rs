//! Detectors: one [`Detector`] interface, one declaration per model ([`ModelSpec`], on its
//! configuration), the registry derived from those declarations, and one module (or folder) per
//! model holding its networks, losses and score. The training loop that drives them is in
//! [`crate::train`]; adding a model is walked through in `docs/adding-a-model.md`.

pub mod registry;
pub mod spec;

use crate::data::SampleShape;
use crate::nn::{Trainables, TrainablesMut, TrainingState};
use anyhow::{Context, bail};
use burn::prelude::*;

pub use registry::{Entry, register};
pub use spec::{ModelConfig, ModelGroup, ModelInfo, ModelSpec, Settings};

/// Declares the built-in models, one line each (`module => Configuration`): the module, the
/// re-export of its configuration, and its place in [`MODELS`] and the registry.
macro_rules! builtin_models {
    ($($module:ident => $config:ident),+ $(,)?) => {
        $(pub mod $module;)+
        $(pub use $module::$config;)+

        /// Every built-in detector, in the order `oddity models` lists them.
        pub const MODELS: &[ModelInfo] = &[$(<$config as ModelSpec>::INFO),+];

        /// The registry entries of the built-in detectors, in [`MODELS`] order.
        fn builtin_entries() -> Vec<Entry> {
            vec![$(Entry::of::<$config>()),+]
        }

        /// The module of each built-in detector, in [`MODELS`] order.
        #[cfg(test)]
        const BUILTIN_MODULES: &[&str] = &[$(stringify!($module)),+];
    };
}

builtin_models! {
    ganomaly => GanomalyConfig,
    anogan => AnoganConfig,
    alad => AladConfig,
    fanogan => FanoganConfig,
    egbad => EgbadConfig,
    adae => AdaeConfig,
    skip_ganomaly => SkipGanomalyConfig,
    alocc => AloccConfig,
    autoencoder => AutoencoderConfig,
    ssim_ae => SsimAeConfig,
    cavga => CavgaConfig,
    vae => VaeConfig,
    advae => AdvaeConfig,
    rsrae => RsraeConfig,
    constrained_aae => ConstrainedAaeConfig,
    alae => AlaeConfig,
    rx => RxConfig,
    lrx => LrxConfig,
    hadgan => HadganConfig,
    ocsvm => OcsvmConfig,
    deep_svdd => DeepSvddConfig,
    goad => GoadConfig,
    geom => GeomConfig,
    ocgan => OcganConfig,
    pixelcnn => PixelCnnConfig,
}

/// Named losses of one training step, for the log and the progress bar.
pub type StepLosses = Vec<(&'static str, f32)>;

/// What every detector offers the training loop, the scorer and the run store. A model writes
/// its training step, its score and where its trainable parts are; saving, loading and
/// resuming are written once, here, over those parts.
///
/// Batches arrive flattened, `[B, D]` with `D = shape.len()`; image models reshape them to
/// `[B, C, H, W]`. Training batches are on the autodiff device, everything else on the plain one.
pub trait Detector: Send {
    /// Called by the training loop before each epoch (1-based), for models trained in stages.
    fn begin_epoch(&mut self, _epoch: usize) {}

    /// One optimisation step (every sub-network's update) on a batch of normal samples.
    fn train_step(&mut self, batch: Tensor<2>) -> crate::Result<StepLosses>;

    /// Anomaly score of each sample of a batch, in evaluation mode; higher = more anomalous.
    fn score(&self, batch: Tensor<2>) -> Tensor<1>;

    /// Fit what the model estimates in closed form from the whole training set (RX's mean and
    /// covariance; a statistic of the trained networks' outputs). The training loop calls it
    /// after each epoch's steps, before validating, so every checkpoint holds it; the samples
    /// are preprocessed as the training batches. Most models have nothing to fit.
    fn fit_statistics(&mut self, _train: &crate::data::Samples) -> crate::Result<()> {
        Ok(())
    }

    /// Whether the model scores a hyperspectral scene as a whole, each pixel against its
    /// neighbours (local RX), through [`Detector::score_scene`] rather than pixel by pixel:
    /// it then scores only samples that are one whole scene.
    fn scores_whole_scenes(&self) -> bool {
        false
    }

    /// Whether a sample's score depends on the other samples scored with it (GANomaly's
    /// `batch_statistics_at_score`, its official evaluation): such a run is scored in the
    /// batches its caller forms, and the server, which batches requests together, refuses it.
    fn scores_depend_on_the_batch(&self) -> bool {
        false
    }

    /// The score of every pixel of one scene, `pixels` `[H·W, B]` in row-major order laid out
    /// as `layout`; for models whose [`Detector::scores_whole_scenes`] holds.
    fn score_scene(
        &self,
        _pixels: Tensor<2>,
        _layout: crate::data::hyperspectral::SceneLayout,
    ) -> crate::Result<Tensor<1>> {
        bail!("this model scores samples one by one, not whole scenes")
    }

    /// The per-sample criterion used to pick the best epoch on normal-only validation data
    /// (lower = better). Defaults to the anomaly score.
    fn validation_loss(&self, batch: Tensor<2>) -> Tensor<1> {
        self.score(batch)
    }

    /// Whether the current training stage has a validation criterion. A stage that trains
    /// something the score does not yet use (f-AnoGAN's WGAN before its encoder, Deep SVDD's
    /// pretraining) has none: its epochs are logged without one, never chosen as the best
    /// checkpoint, and not counted by early stopping's patience.
    fn validates(&self) -> bool {
        true
    }

    /// A per-pixel anomaly map `[B, 1, H, W]`, for models whose paper defines one.
    fn anomaly_map(&self, _batch: Tensor<2>) -> Option<Tensor<4>> {
        None
    }

    /// Hand a weakly supervised model its labelled anomalies (preprocessed as the training
    /// samples) and the number of normal samples it trains on beside them (their proportion is
    /// the data's), before training starts or resumes; a model that trains on normal samples
    /// only refuses them.
    fn take_labelled_anomalies(
        &mut self,
        _anomalies: crate::data::Samples,
        _normals: usize,
    ) -> crate::Result<()> {
        bail!("this model trains on normal samples only; it takes no labelled anomalies")
    }

    /// What the model trains: its networks, optimizers and random generator.
    fn trainables(&self) -> Trainables<'_>;

    /// [`Detector::trainables`], to restore into.
    fn trainables_mut(&mut self) -> TrainablesMut<'_>;

    /// All weights (and BatchNorm running statistics) as safetensors bytes.
    fn save_weights(&self) -> crate::Result<Vec<u8>> {
        self.trainables().networks.to_bytes()
    }

    /// Restore weights written by [`Detector::save_weights`].
    fn load_weights(&mut self, bytes: Vec<u8>) -> crate::Result<()> {
        self.trainables_mut().networks.load_bytes(bytes)
    }

    /// Everything training needs to continue exactly where it stopped: the networks with their
    /// parameter identities, the optimizers' states, random generators and counters. `None`
    /// for a model that cannot resume training (its runs restart instead).
    fn training_state(&self) -> crate::Result<Option<TrainingState>> {
        TrainingState::of_trainables(&self.trainables()).map(Some)
    }

    /// Restore a state given by [`Detector::training_state`].
    fn restore_training_state(&mut self, state: &TrainingState) -> crate::Result<()> {
        state.restore_trainables(self.trainables_mut())
    }
}

/// A built detector of any model: its [`Detector`] with the configuration it was built from and
/// its device, which every model shares and none implements. Training, scoring and the run
/// store hold detectors as this.
pub trait AnyDetector: Detector {
    /// The registry name (`ganomaly`, `autoencoder`, …).
    fn name(&self) -> &'static str;

    /// The full configuration, paper defaults filled in, as stored with a run.
    fn config(&self) -> &ModelConfig;

    /// The plain (non-autodiff) device the detector scores on.
    fn device(&self) -> &Device;
}

/// A model's detector with what every model shares.
struct Built<D> {
    detector: D,
    config: ModelConfig,
    device: Device,
}

impl<D: Detector> Built<D> {
    /// Box `detector`, built from `config` on `device`.
    fn boxed(detector: D, config: ModelConfig, device: &Device) -> Box<dyn AnyDetector>
    where
        D: 'static,
    {
        Box::new(Built {
            detector,
            config,
            device: device.clone(),
        })
    }
}

impl<D: Detector> AnyDetector for Built<D> {
    fn name(&self) -> &'static str {
        self.config.name()
    }
    fn config(&self) -> &ModelConfig {
        &self.config
    }
    fn device(&self) -> &Device {
        &self.device
    }
}

impl<D: Detector> Detector for Built<D> {
    fn begin_epoch(&mut self, epoch: usize) {
        self.detector.begin_epoch(epoch)
    }
    fn train_step(&mut self, batch: Tensor<2>) -> crate::Result<StepLosses> {
        self.detector.train_step(batch)
    }
    fn score(&self, batch: Tensor<2>) -> Tensor<1> {
        self.detector.score(batch)
    }
    fn fit_statistics(&mut self, train: &crate::data::Samples) -> crate::Result<()> {
        self.detector.fit_statistics(train)
    }
    fn scores_whole_scenes(&self) -> bool {
        self.detector.scores_whole_scenes()
    }
    fn scores_depend_on_the_batch(&self) -> bool {
        self.detector.scores_depend_on_the_batch()
    }
    fn score_scene(
        &self,
        pixels: Tensor<2>,
        layout: crate::data::hyperspectral::SceneLayout,
    ) -> crate::Result<Tensor<1>> {
        self.detector.score_scene(pixels, layout)
    }
    fn validation_loss(&self, batch: Tensor<2>) -> Tensor<1> {
        self.detector.validation_loss(batch)
    }
    fn validates(&self) -> bool {
        self.detector.validates()
    }
    fn anomaly_map(&self, batch: Tensor<2>) -> Option<Tensor<4>> {
        self.detector.anomaly_map(batch)
    }
    fn take_labelled_anomalies(
        &mut self,
        anomalies: crate::data::Samples,
        normals: usize,
    ) -> crate::Result<()> {
        self.detector.take_labelled_anomalies(anomalies, normals)
    }
    fn trainables(&self) -> Trainables<'_> {
        self.detector.trainables()
    }
    fn trainables_mut(&mut self) -> TrainablesMut<'_> {
        self.detector.trainables_mut()
    }
    fn save_weights(&self) -> crate::Result<Vec<u8>> {
        self.detector.save_weights()
    }
    fn load_weights(&mut self, bytes: Vec<u8>) -> crate::Result<()> {
        self.detector.load_weights(bytes)
    }
    fn training_state(&self) -> crate::Result<Option<TrainingState>> {
        self.detector.training_state()
    }
    fn restore_training_state(&mut self, state: &TrainingState) -> crate::Result<()> {
        self.detector.restore_training_state(state)
    }
}

/// The registry entry called `name`.
pub fn info(name: &str) -> crate::Result<ModelInfo> {
    Ok(registry::find(name)?.info)
}

impl ModelConfig {
    /// The paper's configuration of model `name`.
    pub fn default_for(name: &str) -> crate::Result<Self> {
        Ok(registry::find(name)?.default_config())
    }

    /// The defaults that a settings file's values override: [`ModelConfig::default_for`],
    /// unless a value in the file selects another set of defaults
    /// ([`ModelSpec::defaults_for_settings`]).
    pub fn defaults_for_file(name: &str, file: &Settings) -> crate::Result<Self> {
        registry::find(name)?.defaults_for_settings(file)
    }
}

/// The JSON object of hyper-parameters given by `--model-config`: a settings file, or the object
/// itself inline (`'{"epochs": 3}'`; errors then name the text).
pub fn read_settings_file(file: &std::path::Path) -> crate::Result<Settings> {
    // A path that is not UTF-8 cannot be inline JSON.
    let text = match file.to_str() {
        Some(argument) => crate::io::settings_text(argument)?,
        None => std::fs::read_to_string(file)
            .with_context(|| format!("cannot read {}", file.display()))?,
    };
    let value = crate::io::parse_settings_json(&text)
        .with_context(|| format!("{}: not valid JSON", file.display()))?;
    match value {
        serde_json::Value::Object(map) => Ok(map),
        _ => bail!(
            "{}: expected a JSON object of hyper-parameters",
            file.display()
        ),
    }
}

/// Refuse a training budget given twice with two values: an option (`--epochs`, named
/// `flag`) and the same key of the model settings `settings` (`{"epochs": 3}`), where one
/// would silently win over the other. `given` holds `(key, flag, value)`.
pub fn check_options_agree(
    settings: &Settings,
    given: &[(&str, &str, Option<usize>)],
) -> crate::Result<()> {
    for &(key, flag, value) in given {
        if let (Some(set), Some(value)) = (settings.get(key), value)
            && set.as_f64() != Some(value as f64)
        {
            bail!("{flag} {value} and the settings' {key:?}: {set} disagree: give one");
        }
    }
    Ok(())
}

impl ModelConfig {
    /// The paper's configuration of model `name`, with the hyper-parameters of the settings
    /// `file` (if any) on top; every value is checked ([`ModelConfig::validate`]).
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
        overrides: &Settings,
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
        config
            .validate()
            .with_context(|| format!("{}: bad hyper-parameter value", file.display()))?;
        Ok(config)
    }
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

/// Score `batch` in consecutive chunks of at most `rows` samples with `score`, concatenated:
/// for models whose score decodes many latent samples per input, which must not all be held at
/// once.
pub fn score_in_chunks(
    batch: Tensor<2>,
    rows: usize,
    score: impl Fn(Tensor<2>) -> Tensor<1>,
) -> Tensor<1> {
    let [b, d] = batch.dims();
    let rows = rows.max(1);
    if b <= rows {
        return score(batch);
    }
    let parts: Vec<Tensor<1>> = (0..b)
        .step_by(rows)
        .map(|start| score(batch.clone().slice([start..(start + rows).min(b), 0..d])))
        .collect();
    Tensor::cat(parts, 0)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every built-in name is unique, in the registry in `MODELS` order, and each paper default
    /// survives its own JSON (tagged with its name) and builds back to an equal configuration.
    #[test]
    fn names_are_unique_and_round_trip() {
        let mut names: Vec<&str> = MODELS.iter().map(|m| m.name).collect();
        let listed = names.clone();
        names.sort_unstable();
        names.dedup();
        assert_eq!(
            names.len(),
            MODELS.len(),
            "duplicate model names in {listed:?}"
        );
        let registered: Vec<&str> = builtin_entries().iter().map(|e| e.info.name).collect();
        assert_eq!(registered, listed);
        for info in MODELS {
            let config = ModelConfig::default_for(info.name).unwrap();
            assert_eq!(config.name(), info.name);
            assert_eq!(config.info(), *info);
            let json = serde_json::to_value(&config).unwrap();
            assert_eq!(json["model"], info.name);
            let back: ModelConfig = serde_json::from_value(json).unwrap();
            assert_eq!(back, config);
        }
    }

    /// Every score-time hyper-parameter a model declares is one of its fields, named once.
    #[test]
    fn score_settings_are_fields() {
        for info in MODELS {
            let config = ModelConfig::default_for(info.name).unwrap();
            let json = serde_json::to_value(&config).unwrap();
            let keys = config.score_settings();
            for (i, key) in keys.iter().enumerate() {
                assert!(json.get(key).is_some(), "{}: no field {key}", info.name);
                assert!(!keys[..i].contains(key), "{}: {key} twice", info.name);
                assert_ne!(*key, "model", "{}", info.name);
            }
        }
    }

    /// Every image-only or table-only hyper-parameter a model declares is one of its fields,
    /// none both; and a field changed from its default is found for the other kind of input.
    #[test]
    fn input_settings_are_fields_and_found_when_changed() {
        for info in MODELS {
            let config = ModelConfig::default_for(info.name).unwrap();
            assert!(config.settings_not_for(true).unwrap().is_empty());
            assert!(config.settings_not_for(false).unwrap().is_empty());
            let json = serde_json::to_value(&config).unwrap();
            let (images, tables) = (config.input_settings(true), config.input_settings(false));
            for key in images.iter().chain(tables) {
                assert!(json.get(key).is_some(), "{}: no field {key}", info.name);
            }
            assert!(images.iter().all(|k| !tables.contains(k)), "{}", info.name);
        }
        let path = std::path::Path::new("test");
        let mut settings = Settings::new();
        settings.insert("image_size".into(), serde_json::json!(64));
        settings.insert("hidden".into(), serde_json::json!([32]));
        let config = ModelConfig::default_for("autoencoder")
            .unwrap()
            .with_settings(&settings, path)
            .unwrap();
        assert_eq!(config.settings_not_for(false).unwrap(), ["image_size"]);
        assert_eq!(config.settings_not_for(true).unwrap(), ["hidden"]);
    }

    /// Every model's declared forms ([`ModelSpec::takes`]) are the ones it builds on, for its
    /// defaults and for each setting that chooses its inputs: a form it lists builds on one of
    /// a few shapes of that form, a form it leaves out on none. A wrong list would refuse valid
    /// runs before loading, or let a run load data its model then refuses.
    #[test]
    fn every_model_takes_the_forms_it_builds_on() {
        use crate::data::source::DataForm;
        use serde_json::json;
        let device = Device::flex();
        let images = [(1, 28), (1, 32), (3, 32), (1, 64), (3, 64)];
        let tables = [6, 121, 274];
        let choices = [
            ("alad", "networks", json!("arrhythmia")),
            ("alad", "networks", json!("cifar10")),
            ("deep-svdd", "networks", json!("cifar10")),
            ("goad", "preset", json!("kdd")),
            ("goad", "preset", json!("cifar10")),
            ("vae", "decoder", json!("discretized-logistic")),
        ];
        let mut configs: Vec<ModelConfig> = MODELS
            .iter()
            .map(|info| ModelConfig::default_for(info.name).unwrap())
            .collect();
        for (name, key, value) in choices {
            let settings = Settings::from_iter([(key.to_string(), value)]);
            let defaults = ModelConfig::defaults_for_file(name, &settings).unwrap();
            let path = std::path::Path::new("test");
            configs.push(defaults.with_settings(&settings, path).unwrap());
        }
        for config in &configs {
            if let Some((key, value)) = config.forms_chosen_by() {
                assert!(value.is_some(), "{}: no field {key}", config.name());
            }
            let build = |shape| config.build(shape, &device, 0).ok();
            // Images are resized to the model's side first, as a run does.
            let on_images = images.iter().any(|&(channels, side)| {
                let raw = SampleShape::Image {
                    channels,
                    height: side,
                    width: side,
                };
                let side = config.input_size(raw).unwrap_or(side);
                build(SampleShape::Image {
                    channels,
                    height: side,
                    width: side,
                })
                .is_some()
            });
            let on_rows = tables
                .iter()
                .find_map(|&features| build(SampleShape::Table { features }));
            // Rows that are not a scene are refused by a model that scores whole scenes.
            let on_tables = on_rows.as_ref().is_some_and(|d| !d.scores_whole_scenes());
            let builds = [
                (DataForm::Images, on_images),
                (DataForm::Tables, on_tables),
                (DataForm::Scenes, on_rows.is_some()),
            ];
            for (form, builds) in builds {
                assert_eq!(
                    config.takes().contains(&form),
                    builds,
                    "{}: takes {:?}, builds on {form:?}: {builds}",
                    serde_json::to_string(config).unwrap(),
                    config.takes()
                );
            }
        }
    }

    /// Every model module under `src/models/` (a file or a folder) has its registry line, and
    /// every registry line a module: a model cannot be left out of the registry by mistake.
    #[test]
    fn every_model_module_is_registered() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/models");
        let mut modules: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter_map(|p| {
                let name = p.file_stem()?.to_string_lossy().into_owned();
                (p.is_dir() || p.extension().is_some_and(|e| e == "rs")).then_some(name)
            })
            .filter(|m| !["mod", "registry", "spec"].contains(&m.as_str()))
            .collect();
        modules.sort();
        let mut registered: Vec<String> = BUILTIN_MODULES.iter().map(|m| m.to_string()).collect();
        registered.sort();
        assert_eq!(modules, registered);
        for info in MODELS {
            assert!(
                !info.name.is_empty() && !info.name.contains(char::is_whitespace),
                "bad model name {:?}",
                info.name
            );
        }
    }

    /// A configuration's JSON keeps the model's field order after `model`, and f32 values in
    /// their shortest form, as a direct serialisation writes them.
    #[test]
    fn json_is_the_configuration_tagged_with_its_name() {
        let config = ModelConfig::new(GanomalyConfig::default());
        let text = serde_json::to_string(&config).unwrap();
        let direct = serde_json::to_string(&GanomalyConfig::default()).unwrap();
        assert_eq!(text, format!("{{\"model\":\"ganomaly\",{}", &direct[1..]));
        let unknown = serde_json::from_str::<ModelConfig>(r#"{"model": "nope"}"#).unwrap_err();
        assert!(
            unknown.to_string().contains("unknown model \"nope\""),
            "{unknown}"
        );
    }
}
