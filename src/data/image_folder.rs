//! A folder of images, one sub-folder per class (`root/<class>/*.png|jpg`), as `ImageFolder`
//! in torchvision. The CIFAR-10 JPEG copy (`cifar10_jpg/{train,test}/<class>/`) is two of these.

use super::{LabelledSet, SampleShape};
use anyhow::{Context, bail, ensure};
use std::path::{Path, PathBuf};

/// How to decode the images of a folder.
#[derive(Clone, Copy, Debug, Default)]
pub struct FolderOptions {
    /// Force 1 (grey) or 3 (RGB) channels; `None`: 3 when any image has colour, else 1.
    pub channels: Option<usize>,
    /// Resize every image to this square side; `None` requires all images to share one size.
    pub size: Option<u32>,
}

fn is_image(p: &Path) -> bool {
    matches!(
        p.extension()
            .and_then(|e| e.to_str())
            .map(|e| e.to_ascii_lowercase())
            .as_deref(),
        Some("png" | "jpg" | "jpeg")
    )
}

fn sorted_entries(dir: &Path) -> crate::Result<Vec<PathBuf>> {
    // Hidden entries (`.ipynb_checkpoints`, `.DS_Store`, a run's staging folder) are not data.
    let hidden = |p: &PathBuf| {
        p.file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'))
    };
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| !hidden(p))
        .collect();
    v.sort();
    Ok(v)
}

/// The class sub-folders of `root`, sorted by name.
pub fn class_dirs(root: &Path) -> crate::Result<Vec<PathBuf>> {
    let dirs: Vec<PathBuf> = sorted_entries(root)?
        .into_iter()
        .filter(|p| p.is_dir())
        .collect();
    ensure!(
        !dirs.is_empty(),
        "{}: no class sub-folders (expected root/<class>/<image>.png|jpg)",
        root.display()
    );
    Ok(dirs)
}

/// The images of a folder to score, in the order they are read: those directly in it (sorted
/// by name, one class "images") when it has no visible sub-folder, else those of its class
/// sub-folders ([`class_items`]). No masks.
pub fn listed_items(dir: &Path) -> crate::Result<(Vec<String>, Vec<ImageItem>)> {
    let entries = sorted_entries(dir)?;
    if entries.iter().any(|p| p.is_dir()) {
        return class_items(dir, None, |_, _| Ok(MaskOf::None));
    }
    let items: Vec<ImageItem> = entries
        .into_iter()
        .filter(|p| is_image(p))
        .map(|path| ImageItem {
            class: 0,
            path,
            mask: MaskOf::None,
        })
        .collect();
    ensure!(
        !items.is_empty(),
        "{}: no image (.png, .jpg, .jpeg) and no sub-folder",
        dir.display()
    );
    Ok((vec!["images".into()], items))
}

/// Load every image under `root/<class>/`. Classes are the sorted sub-folder names, or
/// `class_names` when given (so that train and test folders share one class index).
pub fn load(
    root: &Path,
    class_names: Option<&[String]>,
    options: FolderOptions,
) -> crate::Result<LabelledSet> {
    let (names, items) = class_items(root, class_names, |_, _| Ok(MaskOf::None))?;
    load_items(root, names, items, options)
}

/// Where an image's ground-truth mask is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MaskOf {
    /// The data set has no masks.
    None,
    /// A defect-free image: its mask is all normal.
    Blank,
    /// A mask image of the image's size, white (≥ 128) = defect.
    File(PathBuf),
    /// A defect image whose mask is missing: every pixel [`super::UNKNOWN_PIXEL`].
    Unknown,
}

/// One image to load.
#[derive(Clone, Debug)]
pub struct ImageItem {
    /// Its class index.
    pub class: u32,
    /// Its file.
    pub path: PathBuf,
    /// Its mask.
    pub mask: MaskOf,
}

/// The images under `root/<class>/` with their classes (sorted sub-folder names, or
/// `class_names`) and the mask `mask_of(class name, image)` gives each.
pub fn class_items(
    root: &Path,
    class_names: Option<&[String]>,
    mask_of: impl Fn(&str, &Path) -> crate::Result<MaskOf>,
) -> crate::Result<(Vec<String>, Vec<ImageItem>)> {
    let dirs = class_dirs(root)?;
    let names: Vec<String> = match class_names {
        Some(n) => n.to_vec(),
        None => dirs
            .iter()
            .map(|d| d.file_name().unwrap().to_string_lossy().into_owned())
            .collect(),
    };
    let mut items = Vec::new();
    for dir in dirs {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let Some(class) = names.iter().position(|n| *n == name) else {
            bail!(
                "{}: class folder {name:?} is not among the training classes {names:?}",
                dir.display()
            );
        };
        for path in sorted_entries(&dir)?.into_iter().filter(|p| is_image(p)) {
            let mask = mask_of(&name, &path)?;
            items.push(ImageItem {
                class: class as u32,
                path,
                mask,
            });
        }
    }
    Ok((names, items))
}

/// The channels a set of images is read with: 3 when any image has colour (grey images then
/// repeat their plane), else 1. Read from the files' headers, so a folder's channels do not
/// depend on which image comes first, and no colour is dropped. A palette image counts as
/// colour (its decoder gives RGB), as a colour image does.
fn channels_of(items: &[ImageItem]) -> crate::Result<usize> {
    for item in items {
        let colour = has_colour(&item.path)
            .with_context(|| format!("{}: cannot decode image", item.path.display()))?;
        if colour {
            return Ok(3);
        }
    }
    Ok(1)
}

/// Whether the image file at `path` has colour, read from its header alone.
fn has_colour(path: &Path) -> crate::Result<bool> {
    use image::ImageDecoder;
    let reader = image::ImageReader::open(path)?.with_guessed_format()?;
    Ok(reader.into_decoder()?.color_type().has_color())
}

/// Load the listed images into one set with classes `names`. Images must share one size unless
/// `options.size` resizes them all; a mask follows its image through the resize (nearest
/// neighbour), binarised at half range. Either every image has a mask (a file, or blank for a
/// defect-free image) or none has.
pub fn load_items(
    root: &Path,
    names: Vec<String>,
    items: Vec<ImageItem>,
    options: FolderOptions,
) -> crate::Result<LabelledSet> {
    let with_masks = items.iter().any(|i| i.mask != MaskOf::None);
    let mut set = LabelledSet {
        layout: None,
        values: Vec::new(),
        shape: SampleShape::Table { features: 0 },
        classes: Vec::new(),
        class_names: names,
        masks: with_masks.then(Vec::new),
    };
    let channels = match options.channels {
        Some(channels) => channels,
        None => channels_of(&items)?,
    };
    let mut fixed: Option<(u32, u32)> = None;
    for item in items {
        let path = &item.path;
        let img = image::open(path)
            .with_context(|| format!("{}: cannot decode image", path.display()))?;
        let (raw_w, raw_h) = (img.width(), img.height());
        let img = match options.size {
            Some(s) if img.width() != s || img.height() != s => {
                img.resize_exact(s, s, image::imageops::FilterType::Triangle)
            }
            _ => img,
        };
        let (w, h) = (img.width(), img.height());
        match fixed {
            None => fixed = Some((w, h)),
            Some((fw, fh)) if (fw, fh) != (w, h) => bail!(
                "{}: image is {w}×{h} but earlier images are {fw}×{fh}; pass an image size to resize them all",
                path.display()
            ),
            _ => {}
        }
        push_planar(&mut set.values, &img, channels);
        set.classes.push(item.class);
        if let Some(masks) = &mut set.masks {
            match &item.mask {
                MaskOf::None => bail!(
                    "{}: no mask, while other images of {} have one",
                    path.display(),
                    root.display()
                ),
                MaskOf::Blank => masks.extend(std::iter::repeat_n(0, (w * h) as usize)),
                MaskOf::Unknown => {
                    masks.extend(std::iter::repeat_n(super::UNKNOWN_PIXEL, (w * h) as usize))
                }
                MaskOf::File(file) => push_mask(masks, file, path, (raw_w, raw_h), (w, h))?,
            }
        }
    }
    let Some((w, h)) = fixed else {
        bail!("{}: no .png or .jpg images found", root.display());
    };
    set.shape = SampleShape::Image {
        channels,
        height: h as usize,
        width: w as usize,
    };
    Ok(set)
}

/// Append the mask in `file` for the image `image` (of `raw` size before resizing to `size`):
/// nearest-neighbour resize, then 1 where the grey value is at least 128.
fn push_mask(
    out: &mut Vec<u8>,
    file: &Path,
    image: &Path,
    raw: (u32, u32),
    size: (u32, u32),
) -> crate::Result<()> {
    let mask = image::open(file)
        .with_context(|| format!("{}: cannot decode mask", file.display()))?
        .to_luma8();
    ensure!(
        mask.dimensions() == raw,
        "{}: the mask is {}×{} but its image {} is {}×{}",
        file.display(),
        mask.width(),
        mask.height(),
        image.display(),
        raw.0,
        raw.1
    );
    let mask = if raw == size {
        mask
    } else {
        image::imageops::resize(&mask, size.0, size.1, image::imageops::FilterType::Nearest)
    };
    out.extend(mask.as_raw().iter().map(|&v| (v >= 128) as u8));
    Ok(())
}

/// Append an image channels-first, values 0–255.
pub fn push_planar(out: &mut Vec<f32>, img: &image::DynamicImage, channels: usize) {
    if channels == 1 {
        out.extend(img.to_luma8().as_raw().iter().map(|&b| b as f32));
    } else {
        let rgb = img.to_rgb8();
        for c in 0..3 {
            out.extend(rgb.as_raw().iter().skip(c).step_by(3).map(|&b| b as f32));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads_classes_and_rejects_mixed_sizes() {
        let root = std::env::temp_dir().join(format!("oddity-folder-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        for (class, value) in [("a", 10u8), ("b", 200u8)] {
            std::fs::create_dir_all(root.join(class)).unwrap();
            for i in 0..2 {
                let img = image::GrayImage::from_pixel(4, 4, image::Luma([value + i]));
                img.save(root.join(class).join(format!("{i}.png"))).unwrap();
            }
        }
        // Hidden folders and files (a notebook's checkpoints, a Mac's index) are not data.
        std::fs::create_dir_all(root.join(".ipynb_checkpoints")).unwrap();
        image::GrayImage::from_pixel(4, 4, image::Luma([0]))
            .save(root.join("a").join(".hidden.png"))
            .unwrap();
        let set = load(&root, None, FolderOptions::default()).unwrap();
        assert_eq!(set.class_names, vec!["a", "b"]);
        assert_eq!(set.classes, vec![0, 0, 1, 1]);
        assert_eq!(set.sample(3)[0], 201.0);
        image::GrayImage::from_pixel(5, 4, image::Luma([0]))
            .save(root.join("b").join("odd.png"))
            .unwrap();
        let err = load(&root, None, FolderOptions::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("odd.png") && err.contains("5×4"), "{err}");
        let set = load(
            &root,
            None,
            FolderOptions {
                channels: Some(3),
                size: Some(8),
            },
        )
        .unwrap();
        assert_eq!(set.shape.len(), 3 * 64);
        std::fs::remove_dir_all(&root).unwrap();
    }

    /// One colour image makes the folder colour, wherever it comes: the grey images repeat
    /// their plane, and no image's colour is dropped for the first one's grey.
    #[test]
    fn a_folder_with_any_colour_image_is_read_in_colour() {
        let root = std::env::temp_dir().join(format!("oddity-mixed-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("a")).unwrap();
        std::fs::create_dir_all(root.join("b")).unwrap();
        image::GrayImage::from_pixel(2, 2, image::Luma([50]))
            .save(root.join("a").join("0.png"))
            .unwrap();
        image::RgbImage::from_pixel(2, 2, image::Rgb([10, 20, 30]))
            .save(root.join("b").join("0.png"))
            .unwrap();
        let set = load(&root, None, FolderOptions::default()).unwrap();
        assert_eq!(
            set.shape,
            SampleShape::Image {
                channels: 3,
                height: 2,
                width: 2
            }
        );
        assert_eq!(set.sample(0), &[50.0; 12]);
        assert_eq!(
            &set.sample(1)[..],
            &[[10.0; 4], [20.0; 4], [30.0; 4]].concat()[..]
        );
        std::fs::remove_dir_all(&root).unwrap();
    }
}
