//! A model's one declaration: [`ModelSpec`], implemented by its configuration, says what the
//! model is (name, paper, inputs), its paper's defaults and how to build it. The registry, the
//! `oddity models` listing, the tagged JSON of a run and every dispatch are derived from it
//! through [`ModelConfig`], which holds any model's configuration.

use super::{AnyDetector, Built, Detector};
use crate::data::SampleShape;
use crate::data::preprocess::Scaling;
use crate::data::source::{DataForm, DatasetKind};
use burn::prelude::*;
use serde::de::DeserializeOwned;
use serde::ser::{Error as _, SerializeMap};
use serde::{Serialize, Serializer};
use std::any::Any;
use std::fmt::Debug;

/// Which list a model belongs to in `oddity models`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModelGroup {
    /// The field's reconstruction and adversarial detectors, each as its paper defines it.
    Detector,
    /// What they are judged against: the plain autoencoder, OC-SVM, Deep SVDD (and Deep SAD),
    /// the transformation classifiers GEOM and GOAD, OCGAN, RX and its local form.
    Baseline,
}

/// What `oddity models` lists and `--model NAME` accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ModelInfo {
    /// Name on the command line and in a run's `model` field.
    pub name: &'static str,
    /// Detector or baseline.
    pub group: ModelGroup,
    /// The paper it implements.
    pub paper: &'static str,
    /// One line on what it does and how it scores.
    pub summary: &'static str,
    /// What data it takes.
    pub inputs: &'static str,
}

/// The hyper-parameters in a settings file, by name.
pub type Settings = serde_json::Map<String, serde_json::Value>;

/// The defaults that `settings` selects through its value `key` (ALAD's `networks`, GOAD's
/// `preset`): `official` of that value, or `S::default()` when the file does not name it; a
/// value `key` cannot take is an error naming `model` and `key`. For
/// [`ModelSpec::defaults_for_settings`].
pub fn selected_defaults<S: Default, K: DeserializeOwned>(
    settings: &Settings,
    model: &str,
    key: &str,
    official: impl FnOnce(K) -> S,
) -> crate::Result<S> {
    let Some(value) = settings.get(key) else {
        return Ok(S::default());
    };
    let selected: K = serde_json::from_value(value.clone())
        .map_err(|e| anyhow::anyhow!("bad {model} {key} {value}: {e}"))?;
    Ok(official(selected))
}

/// A model's declaration, implemented by its configuration; `Default` is the paper's.
///
/// Everything else about the model follows from this one implementation and one line in the
/// registry ([`super::MODELS`]), or a call to [`super::register`] for a model outside the crate.
pub trait ModelSpec:
    Clone + Debug + Default + PartialEq + Serialize + DeserializeOwned + Send + Sync + 'static
{
    /// Name, paper, summary and inputs.
    const INFO: ModelInfo;

    /// The detector this configuration builds.
    type Detector: Detector + 'static;

    /// The hyper-parameters used only when trained weights score (a score variant, its
    /// weights, Monte-Carlo sample counts, a test-time search): the ones `eval` and `score`
    /// may change with `--model-config`. Any other change there is refused, since the weights
    /// were trained under the run's value (a setting used in training too, as f-AnoGAN's κ or
    /// the EMA decay, is not listed).
    const SCORE_SETTINGS: &'static [&'static str] = &[];

    /// The hyper-parameters of a model taking images and tables that only its image networks
    /// use (`image_size`, `base_width`): set on a table run, they would be ignored without a
    /// word, so [`super::ModelConfig::settings_not_for`] lets the run refuse them.
    const IMAGE_SETTINGS: &'static [&'static str] = &[];

    /// The hyper-parameters only its table networks use (`hidden`), likewise.
    const TABLE_SETTINGS: &'static [&'static str] = &[];

    /// The setting whose value chooses the forms [`ModelSpec::takes`] returns (GOAD's
    /// `preset`), for the refusal to name it.
    const FORMS_CHOSEN_BY: Option<&'static str> = None;

    /// Whether the model has no training epochs: fitted in one solve (OC-SVM's SMO, RX's
    /// statistics) or not at all (local RX scores each scene from itself), so that there are
    /// no epochs to count and nothing to stop early.
    const FITTED_IN_CLOSED_FORM: bool = false;

    /// The forms of data this configuration takes ([`DataForm::EVERY`], the default;
    /// [`DataForm::ROWS`], [`DataForm::IMAGES`] or its own list): a data set of another form
    /// is refused from its kind, before any of it is read; the exact shape (a size, a number
    /// of channels) is checked when the detector is built. A form listed here must build on
    /// some shape of that form, and a form left out on none (the registry's tests check every
    /// built-in model).
    fn takes(&self) -> &'static [DataForm] {
        DataForm::EVERY
    }

    /// Build the detector for inputs of `shape` on `device`, its weights drawn from `seed`.
    fn build(
        &self,
        shape: SampleShape,
        device: &Device,
        seed: u64,
    ) -> crate::Result<Self::Detector>;

    /// The number of training epochs.
    fn epochs(&self) -> usize;

    /// The training batch size.
    fn batch_size(&self) -> usize;

    /// The side images are resized to before the model sees them; `None` for a model that
    /// takes images at their own size (or tables only).
    fn image_size(&self) -> Option<usize>;

    /// The value scaling a run applies to images unless `--scaling` says otherwise: the one
    /// the model's paper (or its code) uses, so that a default run is the paper's; standardise
    /// where the paper does not say.
    fn image_scaling(&self) -> Scaling {
        Scaling::Standardise
    }

    /// The same for tables and spectra (hyperspectral pixels).
    fn table_scaling(&self) -> Scaling {
        Scaling::Standardise
    }

    /// Refuse an image scaling this configuration cannot model (a likelihood over the 8-bit
    /// levels of `[−1, 1]` needs `minus-one-to-one`); checked with the run's settings.
    fn check_image_scaling(&self, _scaling: Scaling) -> crate::Result<()> {
        Ok(())
    }

    /// Early-stopping patience in epochs, for models whose paper stops early.
    fn patience(&self) -> Option<usize> {
        None
    }

    /// The fewest epochs a run may train for: a model trained in stages needs an epoch of its
    /// last stage (1 for the others).
    fn min_epochs(&self) -> usize {
        1
    }

    /// Whether this configuration trains with labelled anomalies besides the normal samples
    /// (weak supervision, `--labelled-anomalies`); such a run needs them, any other refuses them.
    fn needs_labelled_anomalies(&self) -> bool {
        false
    }

    /// The model's own rules on its values, beyond the generic ones every hyper-parameter
    /// passes (sizes, rates, counts): checked with the run's settings, before any work starts.
    fn check(&self) -> crate::Result<()> {
        Ok(())
    }

    /// The configuration a settings file's values are laid over: the paper's defaults, unless
    /// a value in the file selects another set of them (as ALAD's `networks` does).
    fn defaults_for_settings(_settings: &Settings) -> crate::Result<Self> {
        Ok(Self::default())
    }
}

/// A [`ModelSpec`] with its type erased, so that one [`ModelConfig`] holds any model.
trait AnySpec: Send + Sync + Debug {
    fn info(&self) -> ModelInfo;
    fn boxed_clone(&self) -> Box<dyn AnySpec>;
    fn as_any(&self) -> &dyn Any;
    fn as_any_mut(&mut self) -> &mut dyn Any;
    fn equals(&self, other: &dyn AnySpec) -> bool;
    fn to_json(&self) -> serde_json::Result<Vec<(String, serde_json::Value)>>;
    fn takes(&self) -> &'static [DataForm];
    fn forms_chosen_by(&self) -> Option<&'static str>;
    fn build(
        &self,
        shape: SampleShape,
        device: &Device,
        seed: u64,
    ) -> crate::Result<Box<dyn AnyDetector>>;
    fn epochs(&self) -> usize;
    fn batch_size(&self) -> usize;
    fn image_size(&self) -> Option<usize>;
    fn image_scaling(&self) -> Scaling;
    fn table_scaling(&self) -> Scaling;
    fn check_image_scaling(&self, scaling: Scaling) -> crate::Result<()>;
    fn patience(&self) -> Option<usize>;
    fn min_epochs(&self) -> usize;
    fn needs_labelled_anomalies(&self) -> bool;
    fn check(&self) -> crate::Result<()>;
    fn score_settings(&self) -> &'static [&'static str];
    fn input_settings(&self, images: bool) -> &'static [&'static str];
    fn fitted_in_closed_form(&self) -> bool;
}

impl<S: ModelSpec> AnySpec for S {
    fn info(&self) -> ModelInfo {
        S::INFO
    }
    fn boxed_clone(&self) -> Box<dyn AnySpec> {
        Box::new(self.clone())
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
    fn equals(&self, other: &dyn AnySpec) -> bool {
        other.as_any().downcast_ref::<S>() == Some(self)
    }
    fn to_json(&self) -> serde_json::Result<Vec<(String, serde_json::Value)>> {
        // Through text, so that an f32 is written as its shortest decimal (0.999), as a
        // direct serialisation writes it, not as the f64 it widens to (0.9990000128746033),
        // and the fields keep their declaration order.
        let fields: OrderedFields = serde_json::from_str(&serde_json::to_string(self)?)?;
        Ok(fields.0)
    }
    fn takes(&self) -> &'static [DataForm] {
        ModelSpec::takes(self)
    }
    fn forms_chosen_by(&self) -> Option<&'static str> {
        S::FORMS_CHOSEN_BY
    }
    fn build(
        &self,
        shape: SampleShape,
        device: &Device,
        seed: u64,
    ) -> crate::Result<Box<dyn AnyDetector>> {
        let detector = ModelSpec::build(self, shape, device, seed)?;
        Ok(Built::boxed(
            detector,
            ModelConfig::new(self.clone()),
            device,
        ))
    }
    fn epochs(&self) -> usize {
        ModelSpec::epochs(self)
    }
    fn batch_size(&self) -> usize {
        ModelSpec::batch_size(self)
    }
    fn image_size(&self) -> Option<usize> {
        ModelSpec::image_size(self)
    }
    fn image_scaling(&self) -> Scaling {
        ModelSpec::image_scaling(self)
    }
    fn table_scaling(&self) -> Scaling {
        ModelSpec::table_scaling(self)
    }
    fn check_image_scaling(&self, scaling: Scaling) -> crate::Result<()> {
        ModelSpec::check_image_scaling(self, scaling)
    }
    fn patience(&self) -> Option<usize> {
        ModelSpec::patience(self)
    }
    fn min_epochs(&self) -> usize {
        ModelSpec::min_epochs(self)
    }
    fn needs_labelled_anomalies(&self) -> bool {
        ModelSpec::needs_labelled_anomalies(self)
    }
    fn check(&self) -> crate::Result<()> {
        ModelSpec::check(self)
    }
    fn score_settings(&self) -> &'static [&'static str] {
        S::SCORE_SETTINGS
    }
    fn input_settings(&self, images: bool) -> &'static [&'static str] {
        if images {
            S::IMAGE_SETTINGS
        } else {
            S::TABLE_SETTINGS
        }
    }
    fn fitted_in_closed_form(&self) -> bool {
        S::FITTED_IN_CLOSED_FORM
    }
}

/// Any model's configuration. Its JSON is the model's own fields with the model's name under
/// `model` first (`{"model": "ganomaly", "image_size": 32, …}`); reading it back finds the
/// model in the registry by that name (`Deserialize` is implemented in [`super::registry`]).
pub struct ModelConfig(Box<dyn AnySpec>);

impl ModelConfig {
    /// Wrap one model's configuration.
    pub fn new<S: ModelSpec>(spec: S) -> Self {
        ModelConfig(Box::new(spec))
    }

    /// The registry entry of its model.
    pub fn info(&self) -> ModelInfo {
        self.0.info()
    }

    /// The registry name.
    pub fn name(&self) -> &'static str {
        self.0.info().name
    }

    /// Its model's own configuration type, if it is `S`.
    pub fn get<S: ModelSpec>(&self) -> Option<&S> {
        self.0.as_any().downcast_ref()
    }

    /// Its model's own configuration, to change, if it is `S`.
    pub fn get_mut<S: ModelSpec>(&mut self) -> Option<&mut S> {
        self.0.as_any_mut().downcast_mut()
    }

    /// The number of training epochs.
    pub fn epochs(&self) -> usize {
        self.0.epochs()
    }

    /// Early-stopping patience in epochs, for models whose paper stops early.
    pub fn patience(&self) -> Option<usize> {
        self.0.patience()
    }

    /// The fewest epochs a run of this configuration may train for.
    pub fn min_epochs(&self) -> usize {
        self.0.min_epochs()
    }

    /// Whether this configuration trains with labelled anomalies (weak supervision).
    pub fn needs_labelled_anomalies(&self) -> bool {
        self.0.needs_labelled_anomalies()
    }

    /// The training batch size.
    pub fn batch_size(&self) -> usize {
        self.0.batch_size()
    }

    /// The hyper-parameters a trained run may change at score time
    /// ([`ModelSpec::SCORE_SETTINGS`]).
    pub fn score_settings(&self) -> &'static [&'static str] {
        self.0.score_settings()
    }

    /// The hyper-parameters only the model's image networks use (`images`), or only its table
    /// networks ([`ModelSpec::IMAGE_SETTINGS`], [`ModelSpec::TABLE_SETTINGS`]).
    pub fn input_settings(&self, images: bool) -> &'static [&'static str] {
        self.0.input_settings(images)
    }

    /// The hyper-parameters changed from the model's defaults (those its own selecting value
    /// picks, as GOAD's `preset`: [`ModelSpec::defaults_for_settings`]) that its networks for
    /// the other kind of input use (images when `images` is false, tables when true): given
    /// for this data, they would be ignored ([`ModelSpec::IMAGE_SETTINGS`],
    /// [`ModelSpec::TABLE_SETTINGS`]).
    pub fn settings_not_for(&self, images: bool) -> crate::Result<Vec<&'static str>> {
        let keys = self.input_settings(!images);
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let mine = self.0.to_json()?;
        let own: Settings = mine.iter().cloned().collect();
        let default = super::ModelConfig::defaults_for_file(self.name(), &own)?;
        let theirs = default.0.to_json()?;
        let value = |fields: &[(String, serde_json::Value)], key: &str| {
            fields
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.clone())
        };
        Ok(keys
            .iter()
            .copied()
            .filter(|key| value(&mine, key) != value(&theirs, key))
            .collect())
    }

    /// Refuse settings that only the networks for the other kind of input use
    /// ([`ModelConfig::settings_not_for`]): they would be ignored without a word.
    pub fn check_settings_for(&self, images: bool) -> crate::Result<()> {
        let ignored = self.settings_not_for(images)?;
        anyhow::ensure!(
            ignored.is_empty(),
            "{} {} used only for {} by {}, and these data are {}: leave {} out",
            ignored.join(", "),
            if ignored.len() == 1 { "is" } else { "are" },
            if images { "tables" } else { "images" },
            self.name(),
            if images { "images" } else { "not images" },
            if ignored.len() == 1 { "it" } else { "them" }
        );
        Ok(())
    }

    /// The forms of data this configuration takes ([`ModelSpec::takes`]).
    pub fn takes(&self) -> &'static [DataForm] {
        self.0.takes()
    }

    /// Refuse a data set whose kind holds a form of data this configuration does not take
    /// ([`ModelSpec::takes`]), before any of it is read. Arrays handed over in memory pass:
    /// their shape decides when the detector is built.
    pub fn check_takes(&self, dataset: DatasetKind) -> crate::Result<()> {
        let Some(form) = dataset.form() else {
            return Ok(());
        };
        let takes = self.takes();
        if takes.contains(&form) {
            return Ok(());
        }
        let (name, forms, form) = (self.name(), DataForm::describe_all(takes), form.describe());
        let Some((key, value)) = self.forms_chosen_by() else {
            anyhow::bail!(
                "{name} takes {forms}, but {dataset} data are {form}: choose a model that takes \
                 {form}"
            );
        };
        // The declaration in full names the values of the setting that take other forms.
        let with = value.map_or(String::new(), |v| format!(" with {key} {v}"));
        anyhow::bail!(
            "{name}{with} takes {forms}, but {dataset} data are {form}: set {key} in \
             --model-config for {form} ({name} takes {})",
            self.info().inputs
        )
    }

    /// The setting that chooses the forms this configuration takes
    /// ([`ModelSpec::FORMS_CHOSEN_BY`]) and its value here (`None` where the configuration
    /// has no such field); `None` for a model whose forms no setting changes.
    pub fn forms_chosen_by(&self) -> Option<(&'static str, Option<serde_json::Value>)> {
        let key = self.0.forms_chosen_by()?;
        let fields = self.0.to_json().ok()?;
        let value = fields.into_iter().find(|(k, _)| k == key).map(|(_, v)| v);
        Some((key, value))
    }

    /// Refuse an image scaling the configuration cannot model
    /// ([`ModelSpec::check_image_scaling`]).
    pub fn check_image_scaling(&self, scaling: Scaling) -> crate::Result<()> {
        self.0.check_image_scaling(scaling)
    }

    /// Whether the model has no training epochs ([`ModelSpec::FITTED_IN_CLOSED_FORM`]).
    pub fn fitted_in_closed_form(&self) -> bool {
        self.0.fitted_in_closed_form()
    }

    /// Every value checked for meaning: the rules all hyper-parameters follow by their names
    /// ([`crate::validate::validate_model`]), then the model's own ([`ModelSpec::check`]).
    pub fn validate(&self) -> crate::Result<()> {
        crate::validate::validate_model(self)?;
        self.0.check()
    }

    /// The side images of `raw` shape are resized to before this model sees them (`None` for
    /// tables, and for models that take images at their own size).
    pub fn input_size(&self, raw: SampleShape) -> Option<usize> {
        matches!(raw, SampleShape::Image { .. })
            .then(|| self.0.image_size())
            .flatten()
    }

    /// The scaling a run of this model applies unless told otherwise: its image scaling when
    /// `images`, else its scaling of tables and spectra ([`ModelSpec::image_scaling`]).
    pub fn default_scaling(&self, images: bool) -> Scaling {
        if images {
            self.0.image_scaling()
        } else {
            self.0.table_scaling()
        }
    }

    /// Build the detector for inputs of `shape` on `device`, its weights drawn from `seed`.
    pub fn build(
        &self,
        shape: SampleShape,
        device: &Device,
        seed: u64,
    ) -> crate::Result<Box<dyn AnyDetector>> {
        self.0.build(shape, device, seed)
    }
}

impl Clone for ModelConfig {
    fn clone(&self) -> Self {
        ModelConfig(self.0.boxed_clone())
    }
}

impl PartialEq for ModelConfig {
    fn eq(&self, other: &Self) -> bool {
        self.0.equals(other.0.as_ref())
    }
}

impl Debug for ModelConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl Serialize for ModelConfig {
    fn serialize<Z: Serializer>(&self, serializer: Z) -> Result<Z::Ok, Z::Error> {
        let fields = self.0.to_json().map_err(Z::Error::custom)?;
        if fields.iter().any(|(k, _)| k == "model") {
            return Err(Z::Error::custom(format!(
                "{}: a configuration field must not be called `model`, the name's tag",
                self.name()
            )));
        }
        let mut map = serializer.serialize_map(Some(fields.len() + 1))?;
        map.serialize_entry("model", self.name())?;
        for (k, v) in &fields {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

/// A JSON object's fields in the order they are written.
struct OrderedFields(Vec<(String, serde_json::Value)>);

impl<'de> serde::Deserialize<'de> for OrderedFields {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Fields;
        impl<'de> serde::de::Visitor<'de> for Fields {
            type Value = OrderedFields;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a configuration serialised as a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<OrderedFields, A::Error> {
                let mut fields = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    fields.push(entry);
                }
                Ok(OrderedFields(fields))
            }
        }
        deserializer.deserialize_map(Fields)
    }
}
