//! A folder of images, one sub-folder per class (`root/<class>/*.png|jpg`), as `ImageFolder`
//! in torchvision. The CIFAR-10 JPEG copy (`cifar10_jpg/{train,test}/<class>/`) is two of these.

use super::{LabelledSet, SampleShape};
use anyhow::{Context, bail, ensure};
use std::path::{Path, PathBuf};

/// How to decode the images of a folder.
#[derive(Clone, Copy, Debug, Default)]
pub struct FolderOptions {
    /// Force 1 (grey) or 3 (RGB) channels; `None` takes the first image's.
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
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
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

/// Load every image under `root/<class>/`. Classes are the sorted sub-folder names, or
/// `class_names` when given (so that train and test folders share one class index).
pub fn load(
    root: &Path,
    class_names: Option<&[String]>,
    options: FolderOptions,
) -> crate::Result<LabelledSet> {
    let dirs = class_dirs(root)?;
    let names: Vec<String> = match class_names {
        Some(n) => n.to_vec(),
        None => dirs
            .iter()
            .map(|d| d.file_name().unwrap().to_string_lossy().into_owned())
            .collect(),
    };
    let mut set = LabelledSet {
        values: Vec::new(),
        shape: SampleShape::Table { features: 0 },
        classes: Vec::new(),
        class_names: names.clone(),
    };
    let mut fixed: Option<(usize, u32, u32)> = None;
    for dir in dirs {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let Some(class) = names.iter().position(|n| *n == name) else {
            bail!(
                "{}: class folder {name:?} is not among the training classes {names:?}",
                dir.display()
            );
        };
        for path in sorted_entries(&dir)?.into_iter().filter(|p| is_image(p)) {
            let img = image::open(&path)
                .with_context(|| format!("{}: cannot decode image", path.display()))?;
            let channels = fixed
                .map(|f| f.0)
                .or(options.channels)
                .unwrap_or(if img.color().has_color() { 3 } else { 1 });
            let img = match options.size {
                Some(s) if img.width() != s || img.height() != s => {
                    img.resize_exact(s, s, image::imageops::FilterType::Triangle)
                }
                _ => img,
            };
            let (w, h) = (img.width(), img.height());
            match fixed {
                None => fixed = Some((channels, w, h)),
                Some((_, fw, fh)) if (fw, fh) != (w, h) => bail!(
                    "{}: image is {w}×{h} but earlier images are {fw}×{fh}; pass an image size to resize them all",
                    path.display()
                ),
                _ => {}
            }
            push_planar(&mut set.values, &img, channels);
            set.classes.push(class as u32);
        }
    }
    let Some((channels, w, h)) = fixed else {
        bail!("{}: no .png or .jpg images found", root.display());
    };
    set.shape = SampleShape::Image {
        channels,
        height: h as usize,
        width: w as usize,
    };
    Ok(set)
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
}
