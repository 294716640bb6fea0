//! The parsers on the real fixture files shipped in `fixtures/` (cut from the public data sets by
//! `scripts/make_fixtures.py`), and round trips through files the tests write.

mod common;

use common::*;
use oddity::data::source::{self, DatasetKind};
use oddity::data::{SampleShape, adbench, cifar, idx, kdd};

#[test]
fn mnist_fixture_reads_as_idx() {
    let train = idx::load_split(&fixture("mnist"), "train").unwrap();
    let test = idx::load_split(&fixture("mnist"), "t10k").unwrap();
    assert_eq!(
        train.shape,
        SampleShape::Image {
            channels: 1,
            height: 28,
            width: 28
        }
    );
    assert_eq!((train.len(), test.len()), (3000, 1000));
    for digit in 0..10 {
        assert_eq!(train.classes.iter().filter(|&&c| c == digit).count(), 300);
    }
    assert!(train.values.iter().all(|&v| (0.0..=255.0).contains(&v)));
    // Raw (un-gzipped) files read the same.
    let dir = temp_dir("raw-idx");
    for f in ["train-images-idx3-ubyte", "train-labels-idx1-ubyte"] {
        let bytes = oddity::io::read_maybe_gz(&fixture(&format!("mnist/{f}.gz"))).unwrap();
        std::fs::write(dir.join(f), bytes).unwrap();
    }
    let raw = idx::load_split(&dir, "train").unwrap();
    assert_eq!(raw.values, train.values);
    assert_eq!(raw.classes, train.classes);
    // The builtin set is the same fixture.
    let builtin = source::builtin_mnist().unwrap();
    assert_eq!(builtin.train.values, train.values);
}

#[test]
fn kdd_fixture_has_121_features() {
    let set = kdd::load(&fixture("kddcup99/kddcup.data_10_percent.gz")).unwrap();
    assert_eq!(set.len(), 4000);
    assert_eq!(set.shape.len(), 121);
    assert!(set.class_index("normal.").is_some() && set.class_index("smurf.").is_some());
    // one protocol, one service, one flag and four binary columns: seven ones per row
    for i in 0..set.len() {
        assert_eq!(
            set.sample(i)[34..].iter().filter(|&&v| v == 1.0).count(),
            7,
            "row {i}"
        );
    }
}

#[test]
fn adbench_fixture_reads_npz() {
    let wbc = adbench::load(&fixture("adbench/42_WBC.npz")).unwrap();
    assert_eq!(wbc.shape, SampleShape::Table { features: 9 });
    assert_eq!(wbc.len(), 223);
    assert_eq!(wbc.classes.iter().filter(|&&c| c == 1).count(), 10);
    // A truncated archive is a named error.
    let bytes = std::fs::read(fixture("adbench/42_WBC.npz")).unwrap();
    let err = adbench::parse(&bytes[..bytes.len() / 2], "cut.npz")
        .unwrap_err()
        .to_string();
    assert!(err.contains("cut.npz"), "{err}");
}

#[test]
fn cifar_binary_and_folders_load_through_the_source() {
    let dir = temp_dir("cifar");
    let record = |label: u8, value: u8| {
        let mut r = vec![label];
        r.extend(std::iter::repeat_n(value, 3072));
        r
    };
    for i in 1..=5 {
        std::fs::write(
            dir.join(format!("data_batch_{i}.bin")),
            [record(1, i), record(2, 7)].concat(),
        )
        .unwrap();
    }
    std::fs::write(dir.join("test_batch.bin"), record(9, 3)).unwrap();
    let s = source::load(&spec(DatasetKind::Cifar10, dir.clone())).unwrap();
    assert_eq!(s.train.len(), 10);
    assert_eq!(s.test.as_ref().unwrap().classes, vec![9]);
    assert_eq!(s.train.class_names[9], cifar::CLASS_NAMES[9]);
    // The binary release holds no image files: a size to decode them at is refused, not ignored.
    let resized = source::DatasetSpec {
        image_size: Some(64),
        ..spec(DatasetKind::Cifar10, dir.clone())
    };
    let err = source::load(&resized).unwrap_err().to_string();
    assert!(
        err.contains("--decode-size") && err.contains("binary release"),
        "{err}"
    );
    // Its own side changes nothing, and is taken.
    let same_size = source::DatasetSpec {
        image_size: Some(32),
        ..spec(DatasetKind::Cifar10, dir.clone())
    };
    assert_eq!(source::load(&same_size).unwrap().train.len(), 10);
    // Class folders with train/ and test/, as the JPEG copy unpacks.
    let folders = dir.join("cifar10_jpg");
    for (split, class) in [
        ("train", "cat"),
        ("train", "dog"),
        ("test", "cat"),
        ("test", "dog"),
    ] {
        let d = folders.join(split).join(class);
        std::fs::create_dir_all(&d).unwrap();
        image::RgbImage::from_pixel(32, 32, image::Rgb([10, 20, 30]))
            .save(d.join("0.png"))
            .unwrap();
    }
    let s = source::load(&spec(DatasetKind::Cifar10, folders.clone())).unwrap();
    assert_eq!(
        s.train.shape,
        SampleShape::Image {
            channels: 3,
            height: 32,
            width: 32
        }
    );
    assert_eq!(s.train.class_names, vec!["cat", "dog"]);
    assert_eq!(s.train.sample(0)[1024], 20.0); // green plane
}

/// An MVTec AD category laid out by the test: images of mixed sizes resized while decoding,
/// defect classes only in the test split, `good` the normal class.
#[test]
fn mvtec_layout_loads_at_image_level() {
    use oddity::data::protocol::{self, Protocol, SplitOptions};
    let scratch = temp_dir("mvtec");
    let root = scratch.join("bottle");
    let save = |rel: &str, side: u32, value: u8| {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        image::RgbImage::from_pixel(side, side, image::Rgb([value, value, value]))
            .save(p)
            .unwrap();
    };
    for i in 0..4 {
        save(&format!("train/good/{i:03}.png"), 40, 100 + i);
    }
    save("test/good/000.png", 40, 90);
    save("test/good/001.png", 48, 91);
    save("test/broken_large/000.png", 40, 10);
    save("test/contamination/000.png", 40, 20);
    std::fs::create_dir_all(root.join("ground_truth/broken_large")).unwrap();
    image::GrayImage::from_pixel(40, 40, image::Luma([255]))
        .save(root.join("ground_truth/broken_large/000_mask.png"))
        .unwrap();
    // The contamination's mask: its left half.
    std::fs::create_dir_all(root.join("ground_truth/contamination")).unwrap();
    image::GrayImage::from_fn(40, 40, |x, _| image::Luma([if x < 20 { 255 } else { 0 }]))
        .save(root.join("ground_truth/contamination/000_mask.png"))
        .unwrap();
    let mut s = spec(DatasetKind::Mvtec, root.clone());
    let err = source::load(&s).unwrap_err().to_string();
    assert!(err.contains("001.png") && err.contains("48×48"), "{err}");
    s.image_size = Some(32);
    let data = source::load(&s).unwrap();
    assert_eq!(
        data.train.class_names,
        vec!["broken_large", "contamination", "good"]
    );
    assert_eq!(
        data.train.shape,
        SampleShape::Image {
            channels: 3,
            height: 32,
            width: 32
        }
    );
    let split = protocol::split(
        &data,
        &Protocol::OneClass {
            class: "good".into(),
        },
        &SplitOptions::default(),
    )
    .unwrap();
    assert_eq!(split.train.len() + split.valid.len(), 4);
    assert_eq!((split.test.len(), split.test.anomalies()), (4, 2));
    let err = source::load(&spec(DatasetKind::Mvtec, root.join("train")))
        .unwrap_err()
        .to_string();
    assert!(err.contains("not an MVTec AD category"), "{err}");

    // Masks follow their images through the resize (40 → 32 px); good images have blank ones.
    let test = data.test.as_ref().unwrap();
    let masks = test.masks.as_ref().unwrap();
    assert_eq!(masks.len(), 4 * 32 * 32);
    let mask = |i: usize| &masks[i * 1024..(i + 1) * 1024];
    assert!(mask(0).iter().all(|&v| v == 1), "broken_large: all defect");
    let contamination = mask(1);
    assert!(
        contamination[..16].iter().all(|&v| v == 1)
            && contamination[16..32].iter().all(|&v| v == 0)
    );
    assert!(
        mask(2).iter().chain(mask(3)).all(|&v| v == 0),
        "good: blank"
    );
    assert!(split.test.masks.is_some() && split.train.masks.is_some());

    // A defect image without its mask is an error naming both files, unless allowed.
    std::fs::remove_file(root.join("ground_truth/contamination/000_mask.png")).unwrap();
    let err = format!("{:#}", source::load(&s).unwrap_err());
    assert!(
        err.contains("contamination/000.png") && err.contains("000_mask.png"),
        "{err}"
    );
    s.allow_missing_masks = true;
    let data = source::load(&s).unwrap();
    let masks = data.test.as_ref().unwrap().masks.as_ref().unwrap();
    assert!(
        masks[1024..2048]
            .iter()
            .all(|&v| v == oddity::data::UNKNOWN_PIXEL)
    );
}

/// An image folder with its masks in another folder, matched by file stem: defect images get
/// theirs, the others blank ones; a mask matching no image, or two masks for one stem, is an
/// error naming the files.
#[test]
fn image_folder_masks_match_by_stem() {
    let root = temp_dir("mask-dir");
    let images = root.join("images");
    let masks = root.join("masks");
    for (class, name) in [("good", "a"), ("good", "b"), ("scratch", "c")] {
        std::fs::create_dir_all(images.join(class)).unwrap();
        image::GrayImage::from_pixel(6, 6, image::Luma([90]))
            .save(images.join(class).join(format!("{name}.png")))
            .unwrap();
    }
    std::fs::create_dir_all(&masks).unwrap();
    image::GrayImage::from_fn(6, 6, |_, y| image::Luma([if y < 3 { 255 } else { 0 }]))
        .save(masks.join("c_mask.png"))
        .unwrap();
    let mut s = spec(DatasetKind::ImageFolder, images.clone());
    s.mask_dir = Some(masks.clone());
    let data = source::load(&s).unwrap();
    let m = data.train.masks.as_ref().unwrap();
    assert_eq!(m.len(), 3 * 36);
    assert!(m[..72].iter().all(|&v| v == 0), "good images: blank masks");
    assert!(m[72..90].iter().all(|&v| v == 1) && m[90..].iter().all(|&v| v == 0));

    image::GrayImage::new(6, 6)
        .save(masks.join("z.png"))
        .unwrap();
    let e = format!("{:#}", source::load(&s).unwrap_err());
    assert!(e.contains("z.png") && e.contains("\"z\""), "{e}");
    std::fs::remove_file(masks.join("z.png")).unwrap();
    image::GrayImage::new(6, 6)
        .save(masks.join("c.png"))
        .unwrap();
    let e = format!("{:#}", source::load(&s).unwrap_err());
    assert!(e.contains("c.png") && e.contains("c_mask.png"), "{e}");
}
