//! The registry: every model by name, derived from the declarations ([`ModelSpec`]) listed in
//! [`super::MODELS`], plus those registered at run time with [`register`] (a model defined
//! outside the crate, as a test's toy model).

use super::spec::{ModelConfig, ModelInfo, ModelSpec, Settings};
use anyhow::{Context, bail};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer};
use std::sync::RwLock;

/// A model's declaration with its type erased: what the registry keeps for each name.
#[derive(Clone, Copy)]
pub struct Entry {
    /// Name, paper, summary, inputs.
    pub info: ModelInfo,
    /// The configuration type, to tell a second registration of the same model from another
    /// model under a taken name.
    spec_type: std::any::TypeId,
    default: fn() -> ModelConfig,
    from_fields: fn(Settings) -> crate::Result<ModelConfig>,
    defaults_for_settings: fn(&Settings) -> crate::Result<ModelConfig>,
}

impl Entry {
    /// The entry of model `S`.
    pub fn of<S: ModelSpec>() -> Self {
        Entry {
            info: S::INFO,
            spec_type: std::any::TypeId::of::<S>(),
            default: || ModelConfig::new(S::default()),
            from_fields: |fields| {
                let spec: S = serde_json::from_value(serde_json::Value::Object(fields))?;
                Ok(ModelConfig::new(spec))
            },
            defaults_for_settings: |settings| {
                Ok(ModelConfig::new(S::defaults_for_settings(settings)?))
            },
        }
    }

    /// The paper's configuration.
    pub fn default_config(&self) -> ModelConfig {
        (self.default)()
    }

    /// The configuration of these fields (missing ones take the paper's defaults).
    pub fn from_fields(&self, fields: Settings) -> crate::Result<ModelConfig> {
        (self.from_fields)(fields)
    }

    /// The configuration a settings file's values are laid over.
    pub fn defaults_for_settings(&self, settings: &Settings) -> crate::Result<ModelConfig> {
        (self.defaults_for_settings)(settings)
    }
}

/// Models registered at run time, after the built-in ones.
static REGISTERED: RwLock<Vec<Entry>> = RwLock::new(Vec::new());

/// Every model: the built-in ones in [`super::MODELS`] order, then those registered.
pub fn all() -> Vec<Entry> {
    let mut entries = super::builtin_entries();
    entries.extend(REGISTERED.read().unwrap_or_else(|e| e.into_inner()).iter());
    entries
}

/// The model called `name`.
pub fn find(name: &str) -> crate::Result<Entry> {
    let entries = all();
    entries
        .iter()
        .find(|e| e.info.name == name)
        .copied()
        .with_context(|| {
            format!(
                "unknown model {name:?}; available: {}",
                entries
                    .iter()
                    .map(|e| e.info.name)
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
}

/// Add model `S` to the registry, so that `--model`, settings files and saved runs know its
/// name. A name already taken is an error; registering the same model twice is not.
pub fn register<S: ModelSpec>() -> crate::Result<()> {
    let entry = Entry::of::<S>();
    let builtin = super::builtin_entries();
    let mut registered = REGISTERED.write().unwrap_or_else(|e| e.into_inner());
    let name = entry.info.name;
    if let Some(existing) = builtin
        .iter()
        .chain(registered.iter())
        .find(|e| e.info.name == name)
    {
        if existing.spec_type == entry.spec_type {
            return Ok(());
        }
        bail!("a model called {name:?} is already registered");
    }
    registered.push(entry);
    Ok(())
}

/// A configuration is read by its `model` name, through the registry.
impl<'de> Deserialize<'de> for ModelConfig {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut fields = Settings::deserialize(deserializer)?;
        let name = match fields.remove("model") {
            Some(serde_json::Value::String(name)) => name,
            Some(other) => return Err(D::Error::custom(format!("bad model name {other}"))),
            None => return Err(D::Error::missing_field("model")),
        };
        let entry = find(&name).map_err(D::Error::custom)?;
        entry
            .from_fields(fields)
            .map_err(|e| D::Error::custom(format!("{e:#}")))
    }
}
