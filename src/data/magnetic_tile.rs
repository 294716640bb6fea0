//! Magnetic Tile Defect (Huang, Qiu, Yuan, 2018): `MT_<Type>/Imgs/<id>.jpg` with a pixel mask
//! `<id>.png` beside each image (white = defect; `MT_Free`'s are all black). Images differ in
//! size (about 100–400 px a side), so they are resized to one square side on loading, each mask
//! with its image (nearest neighbour).
//!
//! There is no official split. The data set comes as one pool in which every defect image is test
//! data (`DataSource::test_every_anomaly`): under `one-class --class MT_Free` the protocol's
//! seeded 80/20 cut of the whole pool puts about 80 % of the `MT_Free` images (the share varies
//! with the seed: 753 or 766 of 952 for seeds 0–2) into training and validation, and tests on
//! the rest with every defect image; `split.csv` records it.

use super::LabelledSet;
use super::image_folder::{self, FolderOptions, ImageItem, MaskOf};
use anyhow::{Context, bail, ensure};
use std::path::Path;

/// Load the data set under `root` at `options.size` (required: the images differ in size), as
/// one pool with a class per `MT_<Type>` folder.
pub fn load(root: &Path, options: FolderOptions) -> crate::Result<LabelledSet> {
    ensure!(
        options.size.is_some(),
        "{}: Magnetic Tile images differ in size; give the side to resize them to \
         (--decode-size, e.g. 128)",
        root.display()
    );
    let mut names = Vec::new();
    let mut items = Vec::new();
    for dir in image_folder::class_dirs(root)? {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        if !name.starts_with("MT_") {
            // Not a class folder (`.git`, notes, …).
            continue;
        }
        let images = dir.join("Imgs");
        if !images.is_dir() {
            bail!(
                "{}: not a Magnetic Tile class folder (expected MT_<Type>/Imgs/)",
                dir.display()
            );
        }
        let class = names.len() as u32;
        let mut entries: Vec<_> = std::fs::read_dir(&images)
            .with_context(|| format!("cannot list {}", images.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("jpg")))
            .collect();
        entries.sort();
        for path in entries {
            let mask = path.with_extension("png");
            ensure!(
                mask.is_file(),
                "{}: no mask {} beside it",
                path.display(),
                mask.display()
            );
            items.push(ImageItem {
                class,
                path,
                mask: MaskOf::File(mask),
            });
        }
        names.push(name);
    }
    ensure!(
        !items.is_empty(),
        "{}: no MT_<Type>/Imgs/*.jpg images",
        root.display()
    );
    image_folder::load_items(root, names, items, options)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two classes of images of different sizes, masks beside them: every image is resized to
    /// one side with its mask, and a mask of the wrong size names both files.
    #[test]
    fn loads_images_with_their_masks() {
        let root = std::env::temp_dir().join(format!("oddity-mt-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        for (class, side) in [("MT_Crack", 8u32), ("MT_Free", 6u32)] {
            let dir = root.join(class).join("Imgs");
            std::fs::create_dir_all(&dir).unwrap();
            let img = image::GrayImage::from_pixel(side, side, image::Luma([100]));
            img.save(dir.join("a.jpg")).unwrap();
            let mut mask = image::GrayImage::new(side, side);
            if class == "MT_Crack" {
                for x in 0..4 {
                    for y in 0..4 {
                        mask.put_pixel(x, y, image::Luma([255]));
                    }
                }
            }
            mask.save(dir.join("a.png")).unwrap();
        }
        let options = FolderOptions {
            channels: None,
            size: Some(4),
        };
        let set = &load(&root, options).unwrap();
        assert_eq!(set.class_names, vec!["MT_Crack", "MT_Free"]);
        let masks = set.masks.as_ref().unwrap();
        assert_eq!(masks.len(), 2 * 16);
        // The top-left quarter of the crack image is defect, resized 8 → 4 px.
        assert_eq!(&masks[..4], &[1, 1, 0, 0]);
        assert_eq!(masks[16..].iter().map(|&v| v as u32).sum::<u32>(), 0);
        let e = load(&root, FolderOptions::default()).unwrap_err();
        assert!(e.to_string().contains("--decode-size"), "{e}");
        image::GrayImage::new(5, 5)
            .save(root.join("MT_Free/Imgs/a.png"))
            .unwrap();
        let e = format!("{:#}", load(&root, options).unwrap_err());
        assert!(
            e.contains("a.png") && e.contains("a.jpg") && e.contains("5×5"),
            "{e}"
        );
        std::fs::remove_file(root.join("MT_Free/Imgs/a.png")).unwrap();
        let e = load(&root, options).unwrap_err().to_string();
        assert!(e.contains("no mask"), "{e}");
        std::fs::remove_dir_all(&root).unwrap();
    }
}
