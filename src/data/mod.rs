//! Data: real file formats, evaluation protocols and preprocessing.
//!
//! Every loader produces a [`LabelledSet`]: samples stored row-major as `f32` with their shape and
//! their original class. A [`protocol::Protocol`] turns the data set's splits into
//! train / validation / test [`Samples`] with binary labels (0 normal, 1 anomaly), and
//! [`preprocess::Preprocessor`] fits its statistics on the training split only.

pub mod adbench;
pub mod cifar;
pub mod csv_table;
pub mod envi;
pub mod hyperspectral;
pub mod idx;
pub mod image_folder;
pub mod kdd;
pub mod magnetic_tile;
pub mod mat;
pub mod preprocess;
pub mod protocol;
pub mod source;
pub mod tiles;

use serde::{Deserialize, Serialize};

/// A binary label written as text: `0` or `1`, or any number equal to them (`0.0`, `1.0`),
/// as scikit-learn accepts them. Anything else (an empty cell, `2`, `yes`) is an error.
pub fn binary_label(text: &str) -> crate::Result<u8> {
    let t = text.trim();
    match t.parse::<f64>() {
        Ok(v) if v == 0.0 => Ok(0),
        Ok(v) if v == 1.0 => Ok(1),
        _ if t.is_empty() => {
            anyhow::bail!("a label is empty; it must be 0 (normal) or 1 (anomaly)")
        }
        _ => anyhow::bail!("label {t:?} must be 0 (normal) or 1 (anomaly)"),
    }
}

/// `text` quoted for a message, cut after its first 100 characters ("…" says so): a user's
/// line, name or header of any length is not echoed whole.
pub fn quoted_head(text: &str) -> String {
    let head: String = text.chars().take(100).collect();
    let cut = if head.len() < text.len() { "…" } else { "" };
    format!("{head:?}{cut}")
}

/// The shape of one sample.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum SampleShape {
    /// An image, channels first.
    Image {
        /// Number of channels (1 grey, 3 RGB).
        channels: usize,
        /// Height in pixels.
        height: usize,
        /// Width in pixels.
        width: usize,
    },
    /// A row of numeric features.
    Table {
        /// Number of features.
        features: usize,
    },
}

impl SampleShape {
    /// Number of `f32` values in one sample.
    pub fn len(&self) -> usize {
        match *self {
            SampleShape::Image {
                channels,
                height,
                width,
            } => channels * height * width,
            SampleShape::Table { features } => features,
        }
    }

    /// Whether a sample holds no value at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `[channels, height, width]` of an image shape; `None` for a table.
    pub fn image_dims(&self) -> Option<[usize; 3]> {
        match *self {
            SampleShape::Image {
                channels,
                height,
                width,
            } => Some([channels, height, width]),
            SampleShape::Table { .. } => None,
        }
    }
}

impl std::fmt::Display for SampleShape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SampleShape::Image {
                channels,
                height,
                width,
            } => write!(f, "{channels}×{height}×{width} image"),
            SampleShape::Table { features } => write!(f, "{features} features"),
        }
    }
}

/// The value of every pixel of a mask that is not known (a defect image loaded with
/// `--allow-missing-masks`): such an image is left out of the pixel metrics.
pub const UNKNOWN_PIXEL: u8 = 255;

/// The pixels of one mask for samples of `shape`: `height × width`, 0 for tables.
pub fn mask_len(shape: SampleShape) -> usize {
    match shape {
        SampleShape::Image { height, width, .. } => height * width,
        SampleShape::Table { .. } => 0,
    }
}

/// Samples of one split of a data set, each with its original class index.
#[derive(Clone, Debug)]
pub struct LabelledSet {
    /// Row-major values, `classes.len() * shape.len()` of them.
    pub values: Vec<f32>,
    /// Shape of each sample.
    pub shape: SampleShape,
    /// Class index of each sample (into `class_names`).
    pub classes: Vec<u32>,
    /// Human names of the classes (`"0"`…`"9"` for MNIST, `"normal."` for KDD99, …).
    pub class_names: Vec<String>,
    /// Ground-truth defect masks of image sets that have them: per sample `height × width`
    /// values, 1 = defect pixel, 0 = normal (all 0 for a defect-free image; all
    /// [`UNKNOWN_PIXEL`] for a defect image whose mask is missing).
    pub masks: Option<Vec<u8>>,
    /// Where the samples sit when they are the pixels of one hyperspectral scene, every pixel
    /// once in row-major order.
    pub layout: Option<hyperspectral::SceneLayout>,
}

impl LabelledSet {
    /// Number of samples.
    pub fn len(&self) -> usize {
        self.classes.len()
    }

    /// Whether the set has no samples.
    pub fn is_empty(&self) -> bool {
        self.classes.is_empty()
    }

    /// The values of sample `i`.
    pub fn sample(&self, i: usize) -> &[f32] {
        let d = self.shape.len();
        &self.values[i * d..(i + 1) * d]
    }

    /// Index of the class called `name`, if any.
    pub fn class_index(&self, name: &str) -> Option<u32> {
        self.class_names
            .iter()
            .position(|c| c == name)
            .map(|i| i as u32)
    }
}

/// Samples ready for a detector: values, binary labels (0 normal, 1 anomaly) and where each
/// sample came from (its index in the source split), so scores can be traced back.
#[derive(Clone, Debug)]
pub struct Samples {
    /// Row-major values.
    pub values: Vec<f32>,
    /// Shape of each sample.
    pub shape: SampleShape,
    /// 0 = normal, 1 = anomaly.
    pub labels: Vec<u8>,
    /// A stable identifier of each sample: `(split, index in that split)`.
    pub origin: Vec<Origin>,
    /// The class of each sample in its data set (an index into its `class_names`).
    pub classes: Vec<u32>,
    /// Ground-truth defect masks at the samples' own resolution (`height × width` per sample,
    /// 1 = defect), when the data set has them.
    pub masks: Option<Vec<u8>>,
    /// Where the samples sit when they are a whole hyperspectral scene, every pixel once in
    /// row-major order: detectors that score a pixel against its neighbours (local RX) need it.
    pub layout: Option<hyperspectral::SceneLayout>,
}

/// Where a sample came from: a split of the data set and its index there.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Origin {
    /// 0 = the data set's training split (or its only split), 1 = its test split.
    pub split: u8,
    /// Index of the sample in that split.
    pub index: u32,
}

impl Samples {
    /// An empty set of the given shape.
    pub fn empty(shape: SampleShape) -> Self {
        Samples {
            values: Vec::new(),
            shape,
            labels: Vec::new(),
            origin: Vec::new(),
            classes: Vec::new(),
            masks: None,
            layout: None,
        }
    }

    /// Samples of `shape` holding `values` one after another, with no labels to speak of
    /// (each taken as normal, its origin its position): new data to score.
    pub fn unlabelled(shape: SampleShape, values: Vec<f32>) -> Self {
        let n = values.len() / shape.len().max(1);
        Samples {
            values,
            shape,
            labels: vec![0; n],
            origin: (0..n)
                .map(|i| Origin {
                    split: 0,
                    index: i as u32,
                })
                .collect(),
            classes: vec![0; n],
            masks: None,
            layout: None,
        }
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The values of sample `i`.
    pub fn sample(&self, i: usize) -> &[f32] {
        let d = self.shape.len();
        &self.values[i * d..(i + 1) * d]
    }

    /// The pixels of one mask: `height × width` of an image shape, 0 for tables.
    pub fn mask_len(&self) -> usize {
        mask_len(self.shape)
    }

    /// The ground-truth mask of sample `i`, if the samples have masks.
    pub fn mask(&self, i: usize) -> Option<&[u8]> {
        let n = self.mask_len();
        self.masks.as_ref().map(|m| &m[i * n..(i + 1) * n])
    }

    /// Append sample `i` of `set` with the given binary label (and its mask: a sample from a
    /// set without masks among samples with masks gets an all-normal one, and the other way
    /// round).
    pub fn push_from(&mut self, set: &LabelledSet, split: u8, i: usize, label: u8) {
        let n = mask_len(set.shape);
        match (&set.masks, &mut self.masks) {
            (Some(from), Some(to)) => to.extend_from_slice(&from[i * n..(i + 1) * n]),
            (Some(from), None) => {
                let mut to = vec![0; self.len() * n];
                to.extend_from_slice(&from[i * n..(i + 1) * n]);
                self.masks = Some(to);
            }
            (None, Some(to)) => to.extend(std::iter::repeat_n(0, n)),
            (None, None) => {}
        }
        self.values.extend_from_slice(set.sample(i));
        self.classes.push(set.classes[i]);
        self.labels.push(label);
        self.origin.push(Origin {
            split,
            index: i as u32,
        });
    }

    /// Number of anomalies.
    pub fn anomalies(&self) -> usize {
        self.labels.iter().filter(|&&l| l == 1).count()
    }
}
