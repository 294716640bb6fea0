//! The OOD job's data: the in-distribution classes of a labelled image set, split into
//! training, validation (held out of the training split, seeded) and test (the set's own test
//! split), and the out-of-distribution sets they are told apart from.
//!
//! Every image is read as `[0, 1]` pixels (8-bit values / 255).
//!
//! Out-of-distribution sets ([`OutSet`], `--against`):
//! - another data set (`mnist:PATH`, `fashion-mnist:PATH`, `cifar10:PATH`, `image-folder:PATH`):
//!   its test split when it has one, else every image, fitted to the classifier's images
//!   ([`fit_image`]): grey repeated over the channels and zero-padded (centred), as the
//!   papers' greyscale MNIST against CIFAR-10 at 32×32; colour averaged to grey and cropped to
//!   the centre, CIFAR-10 against an MNIST classifier. An image folder's images (photos of any
//!   sizes) are first resized to the classifier's side while decoding (square classifiers), as
//!   a torchvision `Resize` would, then fitted; a folder of images with no sub-folder is one
//!   set of unlabelled images;
//! - `uniform` and `gaussian`: ODIN's synthetic sets, as many images as the in-distribution
//!   test set, each pixel `U[0, 1]` or `N(0.5, 1)` clipped to `[0, 1]`, seeded;
//! - `held-out-classes`: the test images of the in-distribution set's classes not trained on
//!   (near-OOD, e.g. CIFAR-10's six classes against the other four).

use crate::data::image_folder;
use crate::data::source::{self, DataForm, DatasetKind, DatasetSpec};
use crate::data::{LabelledSet, protocol};
use crate::nn::init::{component_rng, standard_normal};
use anyhow::{Context, bail, ensure};
use rand::Rng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Images with their (in-distribution) class, `[n, C·H·W]` row-major in `[0, 1]`.
#[derive(Clone, Debug, Default)]
pub struct Images {
    /// Pixel values.
    pub values: Vec<f32>,
    /// Class of each image (0 for out-of-distribution images).
    pub labels: Vec<u32>,
    /// Index of each image in the split it came from (`split.csv`).
    pub origin: Vec<u32>,
}

impl Images {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    fn push(&mut self, pixels: &[f32], label: u32, origin: u32) {
        self.values.extend_from_slice(pixels);
        self.labels.push(label);
        self.origin.push(origin);
    }

    /// The images at `positions`, in that order.
    pub fn subset(&self, positions: &[usize], d: usize) -> Images {
        let mut out = Images::default();
        for &i in positions {
            out.push(
                &self.values[i * d..(i + 1) * d],
                self.labels[i],
                self.origin[i],
            );
        }
        out
    }
}

/// The in-distribution data of an OOD run.
#[derive(Clone, Debug)]
pub struct InDistribution {
    /// `[channels, height, width]`.
    pub image: [usize; 3],
    /// The names of the classes trained on, in label order.
    pub class_names: Vec<String>,
    /// Each class's index in the data set.
    pub dataset_classes: Vec<u32>,
    /// Training images (the training split minus the validation ones).
    pub train: Images,
    /// Held-out training images: ε and the Mahalanobis ensemble are chosen on them.
    pub validation: Images,
    /// The data set's test images of the classes trained on.
    pub test: Images,
    /// The data set's test images of its other classes (`held-out-classes`).
    pub held_out_classes: Images,
}

/// The data set kinds a classifier is trained on: labelled images with a test split of their
/// own (MVTec's and Magnetic Tile's classes are defects of one part, not classes to tell apart).
pub const IN_DISTRIBUTION_KINDS: &[DatasetKind] = &[
    DatasetKind::Mnist,
    DatasetKind::FashionMnist,
    DatasetKind::Cifar10,
    DatasetKind::ImageFolder,
    DatasetKind::BuiltinMnist,
];

/// The data set kinds read as `KIND:PATH` sets to score (`--against`, `ood score --images`) or
/// as outlier exposure's auxiliary set.
pub const OUT_OF_DISTRIBUTION_KINDS: &[DatasetKind] = &[
    DatasetKind::Mnist,
    DatasetKind::FashionMnist,
    DatasetKind::Cifar10,
    DatasetKind::ImageFolder,
];

/// How the in-distribution data are drawn.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InSpec {
    /// The labelled image set.
    pub data: DatasetSpec,
    /// The classes trained on (names or indices); all when empty.
    #[serde(default)]
    pub classes: Vec<String>,
    /// Training images held out for validation.
    pub validation: usize,
    /// At most this many training images (seeded draw), for short runs.
    #[serde(default)]
    pub max_train: Option<usize>,
}

impl InSpec {
    /// Refuse what is wrong before the data are read: a kind not in [`IN_DISTRIBUTION_KINDS`],
    /// options that do not fit the data set's kind, fewer than 2 validation images,
    /// `--max-train 0`.
    pub fn check(&self) -> crate::Result<()> {
        let kind = self.data.kind;
        ensure!(
            IN_DISTRIBUTION_KINDS.contains(&kind),
            "the OOD job trains a classifier on labelled images: {}, not {kind} data{}",
            DatasetKind::list(IN_DISTRIBUTION_KINDS),
            match kind.form() {
                Some(DataForm::Images) => " (its classes are one part's defects)",
                Some(_) => " (not images)",
                None => "",
            }
        );
        crate::validate::validate_dataset(&self.data)?;
        ensure!(
            self.validation >= 2,
            "--validation must be at least 2, got {}",
            self.validation
        );
        ensure!(
            self.max_train != Some(0),
            "--max-train must be at least 1, got 0"
        );
        Ok(())
    }
}

/// `set`'s images as `[0, 1]` pixels: the loaders give 8-bit values, divided by 255 here so
/// that the input steps (ODIN, Mahalanobis, FGSM) and the synthetic sets are in the same
/// units as every data set. A value outside 0..=255 is an error naming the set.
fn unit_pixels(mut set: LabelledSet, what: &str) -> crate::Result<LabelledSet> {
    to_unit(&mut set.values, what)?;
    Ok(set)
}

/// 8-bit pixel values (0..=255) divided by 255, in place; a value outside 0..=255 is an error
/// naming `what`, and nothing is changed.
pub fn to_unit(values: &mut [f32], what: &str) -> crate::Result<()> {
    if let Some(bad) = values.iter().find(|v| !(0.0..=255.0).contains(*v)) {
        bail!("{what}: pixel value {bad} is outside 0..=255 (the OOD job reads 8-bit images)");
    }
    values.iter_mut().for_each(|v| *v /= 255.0);
    Ok(())
}

fn image_dims(set: &LabelledSet, what: &str) -> crate::Result<[usize; 3]> {
    set.shape
        .image_dims()
        .with_context(|| format!("the OOD job takes images, but {what} holds {}", set.shape))
}

/// Load and split the in-distribution data of `spec`, drawn with `seed`.
pub fn load_in_distribution(spec: &InSpec, seed: u64) -> crate::Result<InDistribution> {
    let source = source::load(&spec.data)?;
    let what = spec.data.path.display().to_string();
    let image = image_dims(&source.train, "the in-distribution data set")?;
    let test = source.test.with_context(|| {
        format!(
            "{what}: the OOD job needs the data set's own test split (train/ and test/ folders for an image folder)"
        )
    })?;
    let test = &unit_pixels(test, &what)?;
    let train_split = unit_pixels(source.train, &what)?;
    let names = &train_split.class_names;
    let mut dataset_classes = Vec::new();
    for class in &spec.classes {
        let index = protocol::resolve(&train_split, class)?;
        ensure!(
            !dataset_classes.contains(&index),
            "class {class:?} is given twice in --classes"
        );
        dataset_classes.push(index);
    }
    if dataset_classes.is_empty() {
        dataset_classes = (0..names.len() as u32).collect();
    }
    ensure!(
        dataset_classes.len() >= 2,
        "a classifier needs at least 2 in-distribution classes, got {:?}",
        spec.classes
    );
    let label_of = |class: u32| {
        dataset_classes
            .iter()
            .position(|&c| c == class)
            .map(|p| p as u32)
    };
    let d = train_split.shape.len();
    let mut pool = Images::default();
    for i in 0..train_split.len() {
        if let Some(label) = label_of(train_split.classes[i]) {
            pool.push(train_split.sample(i), label, i as u32);
        }
    }
    let mut order: Vec<usize> = (0..pool.len()).collect();
    order.shuffle(&mut component_rng(seed, 41));
    spec.check()?;
    ensure!(
        spec.validation < pool.len(),
        "--validation must be less than the {} training images, got {}",
        pool.len(),
        spec.validation
    );
    let (validation, rest) = order.split_at(spec.validation);
    let mut train: Vec<usize> = rest.to_vec();
    if let Some(max) = spec.max_train {
        train.truncate(max);
    }
    train.sort_unstable();
    // Each class needs training images for its mean (Mahalanobis): say so now, not after training.
    for (label, name) in dataset_classes.iter().enumerate() {
        ensure!(
            train.iter().any(|&i| pool.labels[i] == label as u32),
            "class {:?} has no training image left (after --validation and --max-train): raise --max-train",
            names[*name as usize]
        );
    }
    let mut validation = validation.to_vec();
    validation.sort_unstable();
    let mut test_images = Images::default();
    let mut held_out = Images::default();
    for i in 0..test.len() {
        match label_of(test.classes[i]) {
            Some(label) => test_images.push(test.sample(i), label, i as u32),
            None => held_out.push(test.sample(i), 0, i as u32),
        }
    }
    ensure!(
        !test_images.is_empty(),
        "the test split holds none of the in-distribution classes"
    );
    Ok(InDistribution {
        image,
        class_names: dataset_classes
            .iter()
            .map(|&c| names[c as usize].clone())
            .collect(),
        dataset_classes,
        train: pool.subset(&train, d),
        validation: pool.subset(&validation, d),
        test: test_images,
        held_out_classes: held_out,
    })
}

/// An out-of-distribution set.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum OutSet {
    /// Another data set's images.
    Dataset {
        /// The data set.
        data: DatasetSpec,
    },
    /// Pixels drawn from U[0, 1].
    Uniform,
    /// Pixels drawn from N(0.5, 1), clipped to [0, 1].
    Gaussian,
    /// The in-distribution set's other classes.
    HeldOutClasses,
}

impl OutSet {
    /// The name the set is reported under.
    pub fn name(&self) -> String {
        match self {
            OutSet::Dataset { data } if data.kind == DatasetKind::ImageFolder => {
                let folder = data.path.file_name().map_or_else(
                    || data.path.display().to_string(),
                    |n| n.to_string_lossy().into_owned(),
                );
                format!("image-folder:{folder}")
            }
            OutSet::Dataset { data } => data.kind.to_string(),
            OutSet::Uniform => "uniform".into(),
            OutSet::Gaussian => "gaussian".into(),
            OutSet::HeldOutClasses => "held-out-classes".into(),
        }
    }

    /// Parse `uniform`, `gaussian`, `held-out-classes` or `KIND:PATH`.
    pub fn parse(text: &str) -> crate::Result<Self> {
        Ok(match text {
            "uniform" => OutSet::Uniform,
            "gaussian" => OutSet::Gaussian,
            "held-out-classes" => OutSet::HeldOutClasses,
            other => {
                let Some((kind, path)) = other.split_once(':') else {
                    bail!(
                        "use uniform, gaussian, held-out-classes or KIND:PATH (mnist:DIR, \
                         fashion-mnist:DIR, cifar10:DIR, image-folder:DIR)"
                    );
                };
                let kind = DatasetKind::parse_suggesting(kind, OUT_OF_DISTRIBUTION_KINDS)?;
                ensure!(
                    OUT_OF_DISTRIBUTION_KINDS.contains(&kind),
                    "out-of-distribution data sets are {}",
                    DatasetKind::list(OUT_OF_DISTRIBUTION_KINDS)
                );
                ensure!(!path.is_empty(), "the path is empty");
                OutSet::Dataset {
                    data: DatasetSpec::new(kind, path),
                }
            }
        })
    }

    /// Refuse a data set whose files are not there, before any other data is read (synthetic
    /// sets and the held-out classes need nothing on disk).
    pub fn check_present(&self) -> crate::Result<()> {
        match self {
            OutSet::Dataset { data } => source::check_present(data),
            _ => Ok(()),
        }
    }

    /// The images of an auxiliary outlier set for outlier exposure, fitted to `image`: a data
    /// set's *training* split (its test split is left for evaluation), `count` synthetic ones.
    /// The held-out classes are refused: their test images are the near-OOD test set.
    pub fn load_auxiliary(
        &self,
        image: [usize; 3],
        count: usize,
        seed: u64,
    ) -> crate::Result<Images> {
        match self {
            OutSet::HeldOutClasses => bail!(
                "held-out-classes cannot be the auxiliary outlier set: its classes are the \
                 near-OOD test set"
            ),
            OutSet::Dataset { data } => Ok(read_set(data, image, Split::Train)?.0),
            // Another stream than the test sets' draws.
            synthetic => synthetic.load(image, count, &Images::default(), seed ^ 0x5eed_a0e),
        }
    }

    /// Whether `self` and `other` draw from the same source: the same synthetic distribution,
    /// or the same images. MNIST-style sets (MNIST, Fashion-MNIST, the built-in subset, read as
    /// either kind) are the same when their first training images are, wherever they lie (a
    /// copy, a subset such as the built-in one); other data sets when they are the same kind at
    /// the same folder. An auxiliary set must not be a test set, nor the in-distribution set.
    pub fn same_source(&self, other: &OutSet) -> bool {
        match (self, other) {
            (OutSet::Dataset { data: a }, OutSet::Dataset { data: b }) => {
                let canonical = |p: &std::path::Path| {
                    std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())
                };
                let same_place = canonical(&a.path) == canonical(&b.path);
                match (source::idx_signature(a), source::idx_signature(b)) {
                    (Some(x), Some(y)) => x == y,
                    // A folder that cannot be read (yet): by its place.
                    _ if is_idx(a.kind) && is_idx(b.kind) => same_place,
                    _ => a.kind == b.kind && same_place,
                }
            }
            (a, b) => std::mem::discriminant(a) == std::mem::discriminant(b),
        }
    }

    /// The set's images fitted to `image`, `count` of them for the synthetic sets, drawn with
    /// `seed`.
    pub fn load(
        &self,
        image: [usize; 3],
        count: usize,
        held_out: &Images,
        seed: u64,
    ) -> crate::Result<Images> {
        let d = image.iter().product::<usize>();
        let synthetic = |gaussian: bool, stream: u64| {
            let mut rng = component_rng(seed, stream);
            let values: Vec<f32> = (0..count * d)
                .map(|_| {
                    if gaussian {
                        (0.5 + standard_normal(&mut rng)).clamp(0.0, 1.0)
                    } else {
                        rng.random::<f32>()
                    }
                })
                .collect();
            Images {
                values,
                labels: vec![0; count],
                origin: (0..count as u32).collect(),
            }
        };
        match self {
            OutSet::Uniform => Ok(synthetic(false, 43)),
            OutSet::Gaussian => Ok(synthetic(true, 44)),
            OutSet::HeldOutClasses => {
                ensure!(
                    !held_out.is_empty(),
                    "held-out-classes: every class of the data set is in-distribution (choose some with --classes)"
                );
                Ok(held_out.clone())
            }
            OutSet::Dataset { data } => Ok(read_set(data, image, Split::Test)?.0),
        }
    }

    /// [`OutSet::load`]'s images and, for an image folder, the file of each image in their
    /// order (indexed by `origin`).
    pub fn load_with_files(
        &self,
        image: [usize; 3],
        count: usize,
        held_out: &Images,
        seed: u64,
    ) -> crate::Result<(Images, Option<Vec<PathBuf>>)> {
        match self {
            OutSet::Dataset { data } => read_set(data, image, Split::Test),
            other => Ok((other.load(image, count, held_out, seed)?, None)),
        }
    }
}

/// Whether `kind` is read from MNIST-style IDX files.
fn is_idx(kind: DatasetKind) -> bool {
    matches!(
        kind,
        DatasetKind::Mnist | DatasetKind::FashionMnist | DatasetKind::BuiltinMnist
    )
}

/// Which split of a data set an out-of-distribution set reads.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Split {
    /// The training split (outlier exposure's auxiliary images).
    Train,
    /// The test split, else every image (the sets scored).
    Test,
}

/// The images of `data` for a classifier of `image` (fitted to it, labels 0, `origin` their
/// place in the split) and, for an image folder, the file of each: one listing of the folder
/// ([`image_folder::listed_items`] of its `train/` or `test/` folder when it has both, else of
/// itself) gives both, so a file always names its own image.
fn read_set(
    data: &DatasetSpec,
    image: [usize; 3],
    split: Split,
) -> crate::Result<(Images, Option<Vec<PathBuf>>)> {
    let what = data.path.display().to_string();
    let data = decoded_at(data, image);
    let (set, files) = if data.kind == DatasetKind::ImageFolder {
        let root = &data.path;
        let folder = match split {
            _ if !(root.join("train").is_dir() && root.join("test").is_dir()) => root.clone(),
            Split::Train => root.join("train"),
            Split::Test => root.join("test"),
        };
        let (names, items) = image_folder::listed_items(&folder)?;
        let files = items.iter().map(|item| item.path.clone()).collect();
        // Every file at the classifier's channels (colour to grey by luma, grey repeated), so
        // that a mixed folder reads the same in any order.
        let options = image_folder::FolderOptions {
            channels: Some(image[0]),
            size: data.image_size,
        };
        let set = image_folder::load_items(&folder, names, items, options)?;
        (set, Some(files))
    } else {
        let source = source::load(&data)?;
        let set = match split {
            Split::Train => source.train,
            Split::Test => source.test.unwrap_or(source.train),
        };
        (set, None)
    };
    let set = unit_pixels(set, &what)?;
    let from = image_dims(&set, &what)?;
    let mut out = Images::default();
    for i in 0..set.len() {
        out.push(&fit_image(set.sample(i), from, image)?, 0, i as u32);
    }
    Ok((out, files))
}

/// `data` to be read for a classifier of `image`: an image folder is resized to the
/// classifier's side while decoding when the classifier's images are square (every built-in
/// one's; a library caller's spec may name another decode size), so a folder of photos of
/// mixed sizes loads, and a photo is scaled down whole rather than cropped to a patch of its
/// centre; a non-square classifier's folders must hold images of one size. The named data sets
/// keep their size (grey 28×28 digits are padded to 32, the papers' protocol).
fn decoded_at(data: &DatasetSpec, [_, h, w]: [usize; 3]) -> DatasetSpec {
    let mut data = data.clone();
    if data.kind == DatasetKind::ImageFolder && data.image_size.is_none() && h == w {
        data.image_size = u32::try_from(h).ok();
    }
    data
}

/// `pixels` of an image of `from` as an image of `to`: grey repeated over `to`'s channels and
/// colour averaged to grey; a smaller image zero-padded around its centre, a larger one cropped
/// to its centre (an odd difference puts the extra row or column after). Nothing is resized.
pub fn fit_image(pixels: &[f32], from: [usize; 3], to: [usize; 3]) -> crate::Result<Vec<f32>> {
    let ([c0, h0, w0], [c1, h1, w1]) = (from, to);
    ensure!(
        c0 == c1 || c0 == 1 || c1 == 1,
        "images of {c0}×{h0}×{w0} cannot be fitted to the classifier's {c1}×{h1}×{w1} (grey goes \
         to colour and colour to grey; other channel counts do not convert)"
    );
    // Offsets of the source within the target (padding) or of the target within the source (crop).
    let offset = |a: usize, b: usize| (a.max(b) - a.min(b)) / 2;
    let (dy, dx) = (offset(h0, h1), offset(w0, w1));
    let mut out = vec![0.0; c1 * h1 * w1];
    for c in 0..c1 {
        let sources: Vec<usize> = if c0 == c1 {
            vec![c]
        } else if c0 == 1 {
            vec![0]
        } else {
            (0..c0).collect()
        };
        for y in 0..h1 {
            let sy = if h0 >= h1 {
                y + dy
            } else if y >= dy && y - dy < h0 {
                y - dy
            } else {
                continue;
            };
            for x in 0..w1 {
                let sx = if w0 >= w1 {
                    x + dx
                } else if x >= dx && x - dx < w0 {
                    x - dx
                } else {
                    continue;
                };
                let sum: f32 = sources
                    .iter()
                    .map(|&k| pixels[(k * h0 + sy) * w0 + sx])
                    .sum();
                out[(c * h1 + y) * w1 + x] = sum / sources.len() as f32;
            }
        }
    }
    Ok(out)
}

/// At most `max` of `images`, a seeded draw kept in order; all of them when `max` is `None`.
pub fn capped(images: Images, max: Option<usize>, d: usize, seed: u64, stream: u64) -> Images {
    match max {
        Some(max) if max < images.len() => {
            let mut order: Vec<usize> = (0..images.len()).collect();
            order.shuffle(&mut component_rng(seed, stream));
            order.truncate(max);
            order.sort_unstable();
            images.subset(&order, d)
        }
        _ => images,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    /// A 1×2×2 grey image goes to a 3×4×4 colour one: the same pixels in every channel,
    /// centred, zeros around; colour goes to grey by the channels' mean; a larger image is
    /// cropped to its centre; two channels do not go to three.
    #[test]
    fn images_are_fitted_to_the_classifier() {
        let out = fit_image(&[1.0, 2.0, 3.0, 4.0], [1, 2, 2], [3, 4, 4]).unwrap();
        for c in 0..3 {
            let plane = &out[c * 16..(c + 1) * 16];
            assert_eq!(
                plane,
                [
                    0., 0., 0., 0., 0., 1., 2., 0., 0., 3., 4., 0., 0., 0., 0., 0.
                ]
            );
        }
        let colour: Vec<f32> = (0..12).map(|i| i as f32).collect();
        assert_eq!(
            fit_image(&colour, [3, 2, 2], [1, 2, 2]).unwrap(),
            [4.0, 5.0, 6.0, 7.0]
        );
        let big: Vec<f32> = (0..16).map(|i| i as f32).collect();
        assert_eq!(
            fit_image(&big, [1, 4, 4], [1, 2, 2]).unwrap(),
            [5.0, 6.0, 9.0, 10.0]
        );
        assert_eq!(
            fit_image(&big[..9], [1, 3, 3], [1, 2, 2]).unwrap(),
            [0.0, 1.0, 3.0, 4.0]
        );
        assert!(fit_image(&[0.0; 8], [2, 2, 2], [3, 2, 2]).is_err());
    }

    /// An image folder of photos of mixed sizes is read at the classifier's side, each image
    /// resized whole: a 56×56 frame (white border 14 wide, black inside) keeps its white
    /// corners, which a crop to the centre would lose, and a flat 30×20 image stays flat. The
    /// auxiliary set (the training split) reads the folder the same way, and so does a folder
    /// holding the images themselves.
    #[test]
    fn image_folders_are_resized_to_the_classifier() {
        let root = std::env::temp_dir().join(format!("oddity-ood-folder-{}", std::process::id()));
        let folder = root.join("any");
        std::fs::create_dir_all(&folder).unwrap();
        let frame = image::GrayImage::from_fn(56, 56, |x, y| {
            let inside = (14..42).contains(&x) && (14..42).contains(&y);
            image::Luma([if inside { 0 } else { 255 }])
        });
        frame.save(folder.join("a.png")).unwrap();
        image::GrayImage::from_pixel(30, 20, image::Luma([128]))
            .save(folder.join("b.png"))
            .unwrap();
        let set = OutSet::parse(&format!("image-folder:{}", root.display())).unwrap();
        let images = set.load([1, 28, 28], 0, &Images::default(), 0).unwrap();
        assert_eq!(images.len(), 2);
        let (framed, flat) = images.values.split_at(28 * 28);
        assert_eq!((framed[0], framed[14 * 28 + 14]), (1.0, 0.0));
        assert!(flat.iter().all(|&v| (v - 128.0 / 255.0).abs() < 1e-6));
        let auxiliary = set.load_auxiliary([1, 28, 28], 0, 0).unwrap();
        assert_eq!(auxiliary.values, images.values);
        // A colour classifier of 32×32 gets each image at 32, grey repeated over the channels.
        let colour = set.load([3, 32, 32], 0, &Images::default(), 0).unwrap();
        assert_eq!(colour.values.len(), 2 * 3 * 32 * 32);
        assert_eq!(colour.values[0], 1.0);
        // The same images straight in a folder (no sub-folder) are one set of images, read in
        // the order of their names, which `files` lists.
        let flat = OutSet::parse(&format!("image-folder:{}", folder.display())).unwrap();
        let none = Images::default();
        let (images_flat, files) = flat.load_with_files([1, 28, 28], 0, &none, 0).unwrap();
        assert_eq!(images_flat.values, images.values);
        let files = files.unwrap();
        assert_eq!(files, [folder.join("a.png"), folder.join("b.png")]);
        let (_, in_class_folders) = set.load_with_files([1, 28, 28], 0, &none, 0).unwrap();
        assert_eq!(in_class_folders.unwrap(), files);
        let (_, synthetic) = OutSet::Uniform
            .load_with_files([1, 28, 28], 3, &none, 0)
            .unwrap();
        assert_eq!(synthetic, None);
        std::fs::remove_dir_all(&root).ok();
    }

    /// `--classes 0,1` on the MNIST fixture: those digits train, validate and test with labels
    /// 0 and 1; the other digits' test images are the held-out classes; nothing overlaps.
    #[test]
    fn chosen_classes_split_and_hold_out_the_others() {
        let spec = InSpec {
            data: DatasetSpec::new(
                DatasetKind::Mnist,
                PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/mnist"),
            ),
            classes: vec!["0".into(), "1".into()],
            validation: 50,
            max_train: None,
        };
        let data = load_in_distribution(&spec, 3).unwrap();
        assert_eq!(data.class_names, ["0", "1"]);
        assert_eq!(
            (data.train.len(), data.validation.len(), data.test.len()),
            (550, 50, 200)
        );
        assert_eq!(data.held_out_classes.len(), 800);
        assert!(
            data.train
                .labels
                .iter()
                .chain(&data.test.labels)
                .all(|&l| l < 2)
        );
        assert!(
            data.train
                .origin
                .iter()
                .all(|i| !data.validation.origin.contains(i))
        );
        assert!(
            data.test.values.iter().all(|v| (0.0..=1.0).contains(v)),
            "pixels are read as [0, 1]"
        );
        let again = load_in_distribution(&spec, 3).unwrap();
        assert_eq!(
            again.validation.origin, data.validation.origin,
            "the split is seeded"
        );
        let mut too_few = spec.clone();
        too_few.max_train = Some(1);
        assert!(
            load_in_distribution(&too_few, 3)
                .unwrap_err()
                .to_string()
                .contains("no training image")
        );
    }

    #[test]
    fn against_names_parse() {
        assert_eq!(OutSet::parse("uniform").unwrap(), OutSet::Uniform);
        assert_eq!(
            OutSet::parse("held-out-classes").unwrap(),
            OutSet::HeldOutClasses
        );
        let OutSet::Dataset { data } = OutSet::parse("fashion-mnist:../x").unwrap() else {
            panic!()
        };
        assert_eq!(
            (data.kind, data.path),
            (DatasetKind::FashionMnist, PathBuf::from("../x"))
        );
        for bad in ["nope", "kdd99:x", "mnist:", "unknown:x"] {
            assert!(OutSet::parse(bad).is_err(), "{bad} accepted");
        }
        // A typo is answered with the kinds read here only; a known kind not read here is
        // refused naming them.
        let error = |text| OutSet::parse(text).unwrap_err().to_string();
        let kinds = "mnist, fashion-mnist, cifar10 or image-folder";
        assert_eq!(
            error("fasion-mnist:x"),
            format!("unknown dataset \"fasion-mnist\"; use {kinds}")
        );
        assert_eq!(
            error("builtin-mnist:x"),
            format!("out-of-distribution data sets are {kinds}")
        );
    }

    /// MNIST-style sets are one source when they hold the same images, whatever kind they are
    /// read as and wherever they lie (the built-in subset is MNIST's); Fashion-MNIST is
    /// another; other kinds go by their folder; a data set and a synthetic set are apart.
    #[test]
    fn sources_are_the_same_by_their_images() {
        let set = |text: &str| OutSet::parse(text).unwrap();
        let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures");
        let builtin = OutSet::Dataset {
            data: DatasetSpec::new(DatasetKind::BuiltinMnist, ""),
        };
        let mnist = set(&format!("mnist:{fixtures}/mnist"));
        assert!(mnist.same_source(&set(&format!("fashion-mnist:{fixtures}/mnist/."))));
        assert!(mnist.same_source(&builtin) && builtin.same_source(&mnist));
        assert!(!builtin.same_source(&set(&format!("fashion-mnist:{fixtures}/fashion-mnist"))));
        assert!(!mnist.same_source(&set(&format!("mnist:{fixtures}/fashion-mnist"))));
        // Unreadable folders go by their place.
        assert!(set("mnist:/no/such/a").same_source(&set("fashion-mnist:/no/such/a")));
        assert!(!set("mnist:/no/such/a").same_source(&set("mnist:/no/such/b")));
        let folder = format!("image-folder:{fixtures}");
        assert!(set(&folder).same_source(&set(&folder)));
        assert!(!set(&folder).same_source(&set(&format!("cifar10:{fixtures}"))));
        assert!(!mnist.same_source(&set("uniform")));
        assert!(set("gaussian").same_source(&set("gaussian")));
    }

    /// Synthetic sets are seeded, in range, and the Gaussian one is clipped.
    #[test]
    fn synthetic_sets_are_seeded_and_in_range() {
        let none = Images::default();
        let a = OutSet::Gaussian.load([1, 4, 4], 50, &none, 3).unwrap();
        let b = OutSet::Gaussian.load([1, 4, 4], 50, &none, 3).unwrap();
        assert_eq!(a.values, b.values);
        assert_eq!(a.len(), 50);
        assert!(a.values.iter().all(|v| (0.0..=1.0).contains(v)));
        assert!(
            a.values.contains(&0.0) && a.values.contains(&1.0),
            "N(0.5, 1) is clipped at both ends"
        );
        let u = OutSet::Uniform.load([1, 4, 4], 50, &none, 3).unwrap();
        assert!(u.values.iter().all(|v| (0.0..1.0).contains(v)));
        assert!(OutSet::HeldOutClasses.load([1, 4, 4], 5, &none, 0).is_err());
    }
}
