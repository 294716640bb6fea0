//! Where data comes from: a data set kind and a path, resolved to its splits.

use super::{
    LabelledSet, adbench, cifar, csv_table, hyperspectral, idx, image_folder, kdd, magnetic_tile,
};
use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The data set formats oddity reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DatasetKind {
    /// MNIST IDX files (raw or gzip) with the canonical names.
    Mnist,
    /// Fashion-MNIST IDX files (same layout as MNIST).
    FashionMnist,
    /// CIFAR-10: the binary release (`data_batch_*.bin`) or class folders `train/`, `test/`.
    Cifar10,
    /// Class sub-folders of images; `train/` and `test/` sub-folders when the data has both.
    ImageFolder,
    /// One MVTec AD category: `train/good/`, `test/<good|defect>/`, and the defect masks
    /// `ground_truth/<defect>/<name>_mask.png` (`good` is the normal class: use
    /// `one-class --class good`).
    Mvtec,
    /// Magnetic Tile Defect: `MT_<Type>/Imgs/<id>.jpg` with its mask `<id>.png` (`MT_Free` is the
    /// normal class: `one-class --class MT_Free`); needs `--decode-size`.
    MagneticTile,
    /// KDDCUP99 CSV (the 10 % file for the kdd99 protocol).
    Kdd99,
    /// ADBench `.npz` (`X`, `y`).
    Adbench,
    /// A CSV with a header and a named label column.
    Csv,
    /// A hyperspectral scene, a MATLAB MAT-file or an ENVI raster: a cube H×W×B and its
    /// ground-truth map H×W (nonzero = anomaly), one sample per pixel (see [`hyperspectral`]).
    Hyperspectral,
    /// The MNIST subset shipped inside the binary (300 training and 100 test images per digit).
    BuiltinMnist,
    /// Arrays handed over in memory by a program (the Python package's `fit`): no file, so a
    /// run trained on them scores new data but cannot be evaluated from disk.
    Arrays,
}

impl std::str::FromStr for DatasetKind {
    type Err = anyhow::Error;
    /// Any kind read from `--data`, by its name.
    fn from_str(s: &str) -> crate::Result<Self> {
        DatasetKind::parse_suggesting(s, DatasetKind::READ_FROM_DISK)
    }
}

impl DatasetKind {
    /// Every kind read from files (all but arrays), in the order messages list them.
    pub const READ_FROM_DISK: &'static [DatasetKind] = &[
        DatasetKind::Mnist,
        DatasetKind::FashionMnist,
        DatasetKind::Cifar10,
        DatasetKind::ImageFolder,
        DatasetKind::Mvtec,
        DatasetKind::MagneticTile,
        DatasetKind::Kdd99,
        DatasetKind::Adbench,
        DatasetKind::Csv,
        DatasetKind::Hyperspectral,
        DatasetKind::BuiltinMnist,
    ];

    /// The kind named `text`, any kind read from disk; an unknown name is refused with a list
    /// of `suggested` kinds: a job that reads only some passes those, so that a typo is not
    /// answered with kinds it refuses (it refuses a known one with its own reason).
    pub fn parse_suggesting(text: &str, suggested: &[DatasetKind]) -> crate::Result<Self> {
        if text == "arrays" {
            bail!(
                "arrays are handed over in memory by a program (the Python package), not read \
                 from --data"
            );
        }
        match DatasetKind::READ_FROM_DISK
            .iter()
            .find(|kind| kind.to_string() == text)
        {
            Some(kind) => Ok(*kind),
            None => bail!(
                "unknown dataset {text:?}; use {}",
                DatasetKind::list(suggested)
            ),
        }
    }

    /// `kinds` by name, as a message lists them: "mnist, fashion-mnist or cifar10".
    pub fn list(kinds: &[DatasetKind]) -> String {
        let names: Vec<String> = kinds.iter().map(|kind| kind.to_string()).collect();
        or_list(&names)
    }
}

/// `words` as a list ending in "or": "a, b or c".
fn or_list<S: AsRef<str>>(words: &[S]) -> String {
    let words: Vec<&str> = words.iter().map(AsRef::as_ref).collect();
    match words.split_last() {
        None => "nothing".into(),
        Some((last, [])) => (*last).into(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
    }
}

/// What a data set's samples are to a model, told from its kind alone, before any of it is
/// read: what [`crate::models::ModelSpec::takes`] is checked against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataForm {
    /// Images, channels first.
    Images,
    /// Rows of a table (KDDCUP99, ADBench, CSV).
    Tables,
    /// A hyperspectral scene's pixels: rows of bands that keep their place on the scene's grid.
    Scenes,
}

impl DataForm {
    /// Every form.
    pub const EVERY: &'static [DataForm] = &[DataForm::Images, DataForm::Tables, DataForm::Scenes];
    /// Rows of features: tables and hyperspectral scenes' pixels.
    pub const ROWS: &'static [DataForm] = &[DataForm::Tables, DataForm::Scenes];
    /// Images only.
    pub const IMAGES: &'static [DataForm] = &[DataForm::Images];

    /// The form in words ("images", "tables", "hyperspectral scenes").
    pub fn describe(self) -> &'static str {
        match self {
            DataForm::Images => "images",
            DataForm::Tables => "tables",
            DataForm::Scenes => "hyperspectral scenes",
        }
    }

    /// `forms` in words: "images, tables or hyperspectral scenes".
    pub fn describe_all(forms: &[DataForm]) -> String {
        let words: Vec<&str> = forms.iter().map(|f| f.describe()).collect();
        or_list(&words)
    }
}

impl DatasetKind {
    /// The form of its samples; `None` for arrays handed over in memory, whose kind does not
    /// say (their shape decides).
    pub fn form(self) -> Option<DataForm> {
        match self {
            DatasetKind::Mnist
            | DatasetKind::FashionMnist
            | DatasetKind::Cifar10
            | DatasetKind::ImageFolder
            | DatasetKind::Mvtec
            | DatasetKind::MagneticTile
            | DatasetKind::BuiltinMnist => Some(DataForm::Images),
            DatasetKind::Kdd99 | DatasetKind::Adbench | DatasetKind::Csv => Some(DataForm::Tables),
            DatasetKind::Hyperspectral => Some(DataForm::Scenes),
            DatasetKind::Arrays => None,
        }
    }

    /// Whether its samples are images. False for arrays handed over in memory, whose kind does
    /// not say: the caller decides from their shape.
    pub fn holds_images(self) -> bool {
        self.form() == Some(DataForm::Images)
    }
}

impl std::fmt::Display for DatasetKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DatasetKind::Mnist => "mnist",
            DatasetKind::FashionMnist => "fashion-mnist",
            DatasetKind::Cifar10 => "cifar10",
            DatasetKind::ImageFolder => "image-folder",
            DatasetKind::Mvtec => "mvtec",
            DatasetKind::MagneticTile => "magnetic-tile",
            DatasetKind::Kdd99 => "kdd99",
            DatasetKind::Adbench => "adbench",
            DatasetKind::Csv => "csv",
            DatasetKind::Hyperspectral => "hyperspectral",
            DatasetKind::BuiltinMnist => "builtin-mnist",
            DatasetKind::Arrays => "arrays",
        })
    }
}

/// A data set on disk and how to read it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DatasetSpec {
    /// Format.
    pub kind: DatasetKind,
    /// File or folder.
    pub path: PathBuf,
    /// Label column of a CSV.
    #[serde(default)]
    pub label_column: Option<String>,
    /// Resize folder images to this side while decoding (needed when their sizes differ).
    #[serde(default)]
    pub image_size: Option<u32>,
    /// Load a defect image whose mask file is missing, with an unknown mask (left out of the
    /// pixel metrics), instead of refusing the data set.
    #[serde(default)]
    pub allow_missing_masks: bool,
    /// A folder of masks for an image folder: `<stem>.png` or `<stem>_mask.png` for the image
    /// `<stem>.<ext>` (white = defect); an image without one is defect-free.
    #[serde(default)]
    pub mask_dir: Option<PathBuf>,
    /// The variables of a hyperspectral MAT-file holding the cube and the map, when they cannot
    /// be found automatically.
    #[serde(default, skip_serializing_if = "is_default")]
    pub scene_variables: hyperspectral::SceneVariables,
    /// A second hyperspectral scene to train on, the scene at `path` being the one scored
    /// (`--train-scene`); it must have the same bands and is read with the same variable names
    /// (its labels are never read: its own map when its MAT-file holds one, else none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train_scene: Option<PathBuf>,
}

fn is_default<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
}

/// A data set's splits: `test` is `None` when it comes as one pool.
#[derive(Clone, Debug)]
pub struct DataSource {
    /// The training split, or the only one.
    pub train: LabelledSet,
    /// The test split, when the data set has one.
    pub test: Option<LabelledSet>,
    /// Whether every anomalous sample belongs to the test set (a data set whose documented
    /// split trains on part of its normal samples only and tests on the rest with every defect,
    /// as Magnetic Tile), rather than only the anomalies of its test split or pool.
    pub test_every_anomaly: bool,
}

const BUILTIN_TRAIN_IMAGES: &[u8] =
    include_bytes!("../../fixtures/mnist/train-images-idx3-ubyte.gz");
const BUILTIN_TRAIN_LABELS: &[u8] =
    include_bytes!("../../fixtures/mnist/train-labels-idx1-ubyte.gz");
const BUILTIN_TEST_IMAGES: &[u8] = include_bytes!("../../fixtures/mnist/t10k-images-idx3-ubyte.gz");
const BUILTIN_TEST_LABELS: &[u8] = include_bytes!("../../fixtures/mnist/t10k-labels-idx1-ubyte.gz");

fn builtin(images: &[u8], labels: &[u8], name: &str) -> crate::Result<LabelledSet> {
    let images = idx::parse(&crate::io::gunzip_if_needed(images.to_vec())?, name)?;
    let labels = idx::parse(&crate::io::gunzip_if_needed(labels.to_vec())?, name)?;
    idx::images_with_labels(images, labels, name, name)
}

/// The MNIST subset bundled with oddity.
pub fn builtin_mnist() -> crate::Result<DataSource> {
    Ok(DataSource {
        test_every_anomaly: false,
        train: builtin(
            BUILTIN_TRAIN_IMAGES,
            BUILTIN_TRAIN_LABELS,
            "builtin MNIST train",
        )?,
        test: Some(builtin(
            BUILTIN_TEST_IMAGES,
            BUILTIN_TEST_LABELS,
            "builtin MNIST test",
        )?),
    })
}

/// What tells one MNIST-style data set from another, for `spec` of such a kind: the header and
/// first training image ([`idx::first_training_image`]); the built-in subset's are MNIST's own
/// (it keeps MNIST's order). `None` for other kinds, or a folder that cannot be read.
pub fn idx_signature(spec: &DatasetSpec) -> Option<Vec<u8>> {
    match spec.kind {
        DatasetKind::BuiltinMnist => idx::first_image_of(BUILTIN_TRAIN_IMAGES).ok(),
        DatasetKind::Mnist | DatasetKind::FashionMnist => {
            idx::first_training_image(&spec.path).ok()
        }
        _ => None,
    }
}

fn require_exists(path: &Path) -> crate::Result<()> {
    if !path.exists() {
        bail!("{}: no such file or folder", path.display());
    }
    Ok(())
}

impl DatasetSpec {
    /// The data set of `kind` at `path` with every option at its default.
    pub fn new(kind: DatasetKind, path: impl Into<PathBuf>) -> Self {
        DatasetSpec {
            kind,
            path: path.into(),
            label_column: None,
            image_size: None,
            allow_missing_masks: false,
            mask_dir: None,
            scene_variables: Default::default(),
            train_scene: None,
        }
    }
}

impl DatasetSpec {
    /// The same data set with its paths (file or folder, masks' folder, training scene) made
    /// absolute against the current folder, so that a run reads the same files from wherever
    /// it is evaluated later. The built-in set and arrays have no paths and are unchanged.
    pub fn with_absolute_paths(mut self) -> crate::Result<Self> {
        if matches!(self.kind, DatasetKind::BuiltinMnist | DatasetKind::Arrays) {
            return Ok(self);
        }
        let absolute = |path: &Path| {
            std::path::absolute(path)
                .with_context(|| format!("{}: cannot make the path absolute", path.display()))
        };
        self.path = absolute(&self.path)?;
        self.mask_dir = self.mask_dir.as_deref().map(absolute).transpose()?;
        self.train_scene = self.train_scene.as_deref().map(absolute).transpose()?;
        self.scene_variables.map_file = (self.scene_variables.map_file.as_deref())
            .map(absolute)
            .transpose()?;
        Ok(self)
    }

    /// The files and folders the data set is read from besides its `path`: the masks' folder,
    /// the training scene, a scene's map file.
    pub fn other_paths(&self) -> Vec<&Path> {
        [
            self.mask_dir.as_deref(),
            self.train_scene.as_deref(),
            self.scene_variables.map_file.as_deref(),
        ]
        .into_iter()
        .flatten()
        .collect()
    }
}

/// SHA-256 (hex) of the files a data set is read from: every file under its paths (its file
/// or folder, masks' folder, training scene), hidden entries aside, in name order, each by its
/// path below the root, length and bytes. `None` for the built-in set and arrays. A run records
/// it beside its samples' SHA-256, so that files decoded to other pixels by another image
/// decoder are still recognised as the run's data.
pub fn files_sha256(spec: &DatasetSpec) -> crate::Result<Option<String>> {
    use sha2::Digest;
    if matches!(spec.kind, DatasetKind::BuiltinMnist | DatasetKind::Arrays) {
        return Ok(None);
    }
    let mut hasher = sha2::Sha256::new();
    for root in std::iter::once(spec.path.as_path()).chain(spec.other_paths()) {
        hasher.update(b"root");
        hash_tree(&mut hasher, root, Path::new(""), 0)?;
    }
    Ok(Some(crate::io::hex(&hasher.finalize())))
}

/// Folders below a data set's root that are followed at most (a link to a parent folder would
/// otherwise be followed for ever).
const MAX_FOLDER_DEPTH: usize = 16;

fn hash_tree(
    hasher: &mut sha2::Sha256,
    path: &Path,
    below: &Path,
    depth: usize,
) -> crate::Result<()> {
    use sha2::Digest;
    // Links are followed (data sets are often linked in); what is neither a file nor a folder
    // (a pipe, a socket) is no data and is left out, as is what cannot be read.
    let Ok(metadata) = std::fs::metadata(path) else {
        return Ok(());
    };
    if metadata.is_dir() {
        if depth > MAX_FOLDER_DEPTH {
            return Ok(());
        }
        let mut entries: Vec<_> = std::fs::read_dir(path)
            .with_context(|| format!("cannot list {}", path.display()))?
            .collect::<Result<_, _>>()
            .with_context(|| format!("cannot list {}", path.display()))?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let name = entry.file_name();
            if !name.to_string_lossy().starts_with('.') {
                hash_tree(hasher, &entry.path(), &below.join(&name), depth + 1)?;
            }
        }
        return Ok(());
    }
    if !metadata.is_file() {
        return Ok(());
    }
    let Ok(mut file) = std::fs::File::open(path) else {
        return Ok(());
    };
    let name = below.to_string_lossy();
    hasher.update((name.len() as u64).to_le_bytes());
    hasher.update(name.as_bytes());
    let mut buffer = vec![0u8; 1 << 20];
    let mut length = 0u64;
    loop {
        let n = std::io::Read::read(&mut file, &mut buffer)
            .with_context(|| format!("cannot read {}", path.display()))?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
        length += n as u64;
    }
    hasher.update(length.to_le_bytes());
    Ok(())
}

/// The feature columns' names of a data set that names them (a CSV table's header), else `None`.
pub fn feature_names(spec: &DatasetSpec) -> crate::Result<Option<Vec<String>>> {
    Ok(match spec.kind {
        DatasetKind::Csv => Some(csv_table::feature_names(
            &spec.path,
            spec.label_column.as_deref().unwrap_or("label"),
        )?),
        _ => None,
    })
}

/// Why a run trained on arrays cannot read its data again.
const ARRAYS_ARE_NOT_ON_DISK: &str = "this run was trained on arrays handed over in memory (the \
     Python package's fit); there is no data set on disk to load: score new data with it instead";

/// Refuse, before any work, a data set whose files are not there: its file or folder, its
/// masks' folder, its training scene; or arrays, which never were on disk.
pub fn check_present(spec: &DatasetSpec) -> crate::Result<()> {
    match spec.kind {
        DatasetKind::BuiltinMnist => Ok(()),
        DatasetKind::Arrays => bail!(ARRAYS_ARE_NOT_ON_DISK),
        _ => {
            let extra = [spec.mask_dir.as_deref(), spec.train_scene.as_deref()];
            for path in std::iter::once(spec.path.as_path()).chain(extra.into_iter().flatten()) {
                require_exists(path)?;
            }
            Ok(())
        }
    }
}

/// Load the data set described by `spec`.
pub fn load(spec: &DatasetSpec) -> crate::Result<DataSource> {
    let path = spec.path.as_path();
    check_present(spec)?;
    let folder_options = image_folder::FolderOptions {
        channels: None,
        size: spec.image_size,
    };
    Ok(match spec.kind {
        DatasetKind::Arrays => bail!(ARRAYS_ARE_NOT_ON_DISK),
        DatasetKind::BuiltinMnist => builtin_mnist()?,
        DatasetKind::Mnist | DatasetKind::FashionMnist => DataSource {
            test_every_anomaly: false,
            train: idx::load_split(path, "train")?,
            test: Some(idx::load_split(path, "t10k")?),
        },
        DatasetKind::Cifar10 => {
            if path.join("data_batch_1.bin").is_file() {
                anyhow::ensure!(
                    spec.image_size.is_none_or(|side| side == cifar::SIDE),
                    "--decode-size resizes image files while decoding; {} holds CIFAR-10's \
                     binary release ({side} × {side} arrays, not image files): leave it out, or \
                     resize for the model with --image-size",
                    path.display(),
                    side = cifar::SIDE
                );
                let (train, test) = cifar::load(path)?;
                DataSource {
                    test_every_anomaly: false,
                    train,
                    test: Some(test),
                }
            } else {
                let root = if path.join("cifar10_jpg").is_dir() {
                    path.join("cifar10_jpg")
                } else {
                    path.to_path_buf()
                };
                if !root.join("train").is_dir() {
                    bail!(
                        "{}: neither the CIFAR-10 binary release (data_batch_1.bin …) nor class folders train/<class>/ (unpack cifar10-jpeg.tar.gz first)",
                        path.display()
                    );
                }
                load_folders(&root, folder_options)?
            }
        }
        DatasetKind::ImageFolder if spec.mask_dir.is_some() => {
            folders_with_masks(path, spec.mask_dir.as_deref().unwrap(), folder_options)?
        }
        DatasetKind::ImageFolder => {
            if path.join("train").is_dir() && path.join("test").is_dir() {
                load_folders(path, folder_options)?
            } else {
                DataSource {
                    test_every_anomaly: false,
                    train: image_folder::load(path, None, folder_options)?,
                    test: None,
                }
            }
        }
        DatasetKind::Mvtec => {
            if !path.join("train").join("good").is_dir() || !path.join("test").is_dir() {
                bail!(
                    "{}: not an MVTec AD category (expected train/good/ and test/<good|defect>/)",
                    path.display()
                );
            }
            mvtec(path, folder_options, spec.allow_missing_masks)?
        }
        DatasetKind::MagneticTile => DataSource {
            train: magnetic_tile::load(path, folder_options)?,
            test: None,
            // Every defect image is test data (see the module's documented split).
            test_every_anomaly: true,
        },
        DatasetKind::Kdd99 => {
            let file = if path.is_dir() {
                [
                    "kddcup.data_10_percent.gz",
                    "kddcup.data_10_percent",
                    "kddcup.data_10_percent_corrected",
                ]
                .iter()
                .map(|n| path.join(n))
                .find(|p| p.is_file())
                .with_context(|| {
                    format!(
                        "{}: no kddcup.data_10_percent[.gz] in this folder",
                        path.display()
                    )
                })?
            } else {
                path.to_path_buf()
            };
            DataSource {
                test_every_anomaly: false,
                train: kdd::load(&file)?,
                test: None,
            }
        }
        DatasetKind::Adbench => DataSource {
            test_every_anomaly: false,
            train: adbench::load(path)?,
            test: None,
        },
        DatasetKind::Hyperspectral => scenes(path, spec)?,
        DatasetKind::Csv => {
            let column = spec.label_column.as_deref().unwrap_or("label");
            DataSource {
                test_every_anomaly: false,
                train: csv_table::load(path, column)?,
                test: None,
            }
        }
    })
}

/// A hyperspectral scene as one pool of pixels, or, with `--train-scene`, the training scene's
/// pixels as the training split and the scene at `path` as the test split.
fn scenes(path: &Path, spec: &DatasetSpec) -> crate::Result<DataSource> {
    let scored = hyperspectral::load(path, &spec.scene_variables)?.to_set();
    let Some(train_path) = &spec.train_scene else {
        return Ok(DataSource {
            train: scored,
            test: None,
            test_every_anomaly: false,
        });
    };
    let train = hyperspectral::load_training(train_path, &spec.scene_variables)?.to_set();
    anyhow::ensure!(
        train.shape == scored.shape,
        "the training scene {} has {} but the scene {} has {}: both must have the same bands",
        train_path.display(),
        train.shape,
        path.display(),
        scored.shape
    );
    Ok(DataSource {
        train,
        test: Some(scored),
        test_every_anomaly: false,
    })
}

/// Load `root/train/<class>/` and `root/test/<class>/` with one class list: the sorted union of
/// both splits' class folders (a test split may hold classes training never sees, as MVTec's
/// defect types).
/// One MVTec AD category with its masks: `good` images (train and test) are defect-free, each
/// test defect image has `ground_truth/<defect>/<name>_mask.png` (a category without
/// `ground_truth/` is read at image level).
fn mvtec(
    root: &Path,
    options: image_folder::FolderOptions,
    allow_missing: bool,
) -> crate::Result<DataSource> {
    let names = folder_classes(root)?;
    let ground_truth = root.join("ground_truth");
    if !ground_truth.is_dir() {
        // A category without ground truth is read at image level.
        return load_folders(root, options);
    }
    let mask_of = |class: &str, image: &Path| -> crate::Result<image_folder::MaskOf> {
        if class == "good" {
            return Ok(image_folder::MaskOf::Blank);
        }
        let stem = image.file_stem().unwrap_or_default().to_string_lossy();
        let mask = ground_truth.join(class).join(format!("{stem}_mask.png"));
        if mask.is_file() {
            return Ok(image_folder::MaskOf::File(mask));
        }
        anyhow::ensure!(
            allow_missing,
            "{}: defect image without its mask {} (--allow-missing-masks loads it with an \
             unknown mask, left out of the pixel metrics)",
            image.display(),
            mask.display()
        );
        Ok(image_folder::MaskOf::Unknown)
    };
    let (_, items) = image_folder::class_items(&root.join("train"), Some(&names), &mask_of)?;
    let train = image_folder::load_items(&root.join("train"), names.clone(), items, options)?;
    let options = same_channels(&train, options);
    let (_, items) = image_folder::class_items(&root.join("test"), Some(&names), &mask_of)?;
    let test = image_folder::load_items(&root.join("test"), names, items, options)?;
    same_shape(root, &train, &test)?;
    Ok(DataSource {
        train,
        test: Some(test),
        test_every_anomaly: false,
    })
}

/// An image folder (one pool, or `train/` and `test/`) with the masks in `mask_dir`, matched
/// by file stem. Every mask must match one image, and no two masks one stem.
fn folders_with_masks(
    root: &Path,
    mask_dir: &Path,
    options: image_folder::FolderOptions,
) -> crate::Result<DataSource> {
    let mut masks: std::collections::BTreeMap<String, PathBuf> = Default::default();
    let entries = std::fs::read_dir(mask_dir)
        .with_context(|| format!("cannot list the mask folder {}", mask_dir.display()))?;
    let mut files: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    files.sort();
    for file in files {
        if !file
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("png"))
        {
            continue;
        }
        let stem = file.file_stem().unwrap_or_default().to_string_lossy();
        let stem = stem.strip_suffix("_mask").unwrap_or(&stem).to_string();
        if let Some(first) = masks.insert(stem.clone(), file.clone()) {
            bail!(
                "{} and {} are both masks for images named {stem:?}",
                first.display(),
                file.display()
            );
        }
    }
    let used = std::cell::RefCell::new(std::collections::BTreeSet::new());
    let mask_of = |_: &str, image: &Path| -> crate::Result<image_folder::MaskOf> {
        let stem = image
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        Ok(match masks.get(&stem) {
            Some(file) => {
                anyhow::ensure!(
                    used.borrow_mut().insert(stem.clone()),
                    "{}: a second image named {stem:?} for the mask {}",
                    image.display(),
                    file.display()
                );
                image_folder::MaskOf::File(file.clone())
            }
            None => image_folder::MaskOf::Blank,
        })
    };
    let source = if root.join("train").is_dir() && root.join("test").is_dir() {
        let names = folder_classes(root)?;
        let load = |split: &str, names: &[String], options| -> crate::Result<LabelledSet> {
            let dir = root.join(split);
            let (_, items) = image_folder::class_items(&dir, Some(names), &mask_of)?;
            image_folder::load_items(&dir, names.to_vec(), items, options)
        };
        let train = load("train", &names, options)?;
        let test = load("test", &names, same_channels(&train, options))?;
        same_shape(root, &train, &test)?;
        DataSource {
            train,
            test: Some(test),
            test_every_anomaly: false,
        }
    } else {
        let (names, items) = image_folder::class_items(root, None, &mask_of)?;
        DataSource {
            train: image_folder::load_items(root, names, items, options)?,
            test: None,
            test_every_anomaly: false,
        }
    };
    let used = used.into_inner();
    if let Some((stem, file)) = masks.iter().find(|(stem, _)| !used.contains(*stem)) {
        bail!(
            "{}: no image of {} is named {stem:?}",
            file.display(),
            root.display()
        );
    }
    Ok(source)
}

/// The class names of `root/{train,test}/<class>/`, sorted, each once.
fn folder_classes(root: &Path) -> crate::Result<Vec<String>> {
    let mut names: Vec<String> = Vec::new();
    for split in ["train", "test"] {
        for dir in image_folder::class_dirs(&root.join(split))? {
            names.push(dir.file_name().unwrap().to_string_lossy().into_owned());
        }
    }
    names.sort();
    names.dedup();
    Ok(names)
}

/// Decode test images with the training images' channels.
fn same_channels(
    train: &LabelledSet,
    options: image_folder::FolderOptions,
) -> image_folder::FolderOptions {
    image_folder::FolderOptions {
        channels: match train.shape {
            super::SampleShape::Image { channels, .. } => Some(channels),
            _ => None,
        },
        ..options
    }
}

/// Test images must have the training images' shape.
fn same_shape(root: &Path, train: &LabelledSet, test: &LabelledSet) -> crate::Result<()> {
    anyhow::ensure!(
        test.shape == train.shape,
        "{}: test images are {} but training images are {}",
        root.display(),
        test.shape,
        train.shape
    );
    Ok(())
}

fn load_folders(root: &Path, options: image_folder::FolderOptions) -> crate::Result<DataSource> {
    let names = folder_classes(root)?;
    let train = image_folder::load(&root.join("train"), Some(&names), options)?;
    let test = image_folder::load(
        &root.join("test"),
        Some(&names),
        same_channels(&train, options),
    )?;
    same_shape(root, &train, &test)?;
    Ok(DataSource {
        test_every_anomaly: false,
        train,
        test: Some(test),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_read_from_disk_parses_by_its_name_and_a_typo_is_answered_with_the_jobs_kinds() {
        for &kind in DatasetKind::READ_FROM_DISK {
            assert_eq!(kind.to_string().parse::<DatasetKind>().unwrap(), kind);
        }
        // Every kind but arrays is listed (a new kind must be added to READ_FROM_DISK).
        assert_eq!(DatasetKind::READ_FROM_DISK.len(), 11);
        assert!(!DatasetKind::READ_FROM_DISK.contains(&DatasetKind::Arrays));
        let unknown = "foo".parse::<DatasetKind>().unwrap_err().to_string();
        assert!(
            unknown.contains("unknown dataset \"foo\"; use mnist,"),
            "{unknown}"
        );
        assert!(
            unknown.ends_with("hyperspectral or builtin-mnist"),
            "{unknown}"
        );
        let images = [DatasetKind::Mnist, DatasetKind::Cifar10];
        let parse = |text| DatasetKind::parse_suggesting(text, &images);
        assert_eq!(
            parse("foo").unwrap_err().to_string(),
            "unknown dataset \"foo\"; use mnist or cifar10"
        );
        // A known kind outside the suggestions parses: the job refuses it with its reason.
        assert_eq!(parse("kdd99").unwrap(), DatasetKind::Kdd99);
        assert!(
            parse("arrays")
                .unwrap_err()
                .to_string()
                .contains("handed over in memory")
        );
    }
}
