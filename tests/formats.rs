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
    std::fs::remove_dir_all(dir).unwrap();
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
    std::fs::remove_dir_all(dir).unwrap();
}
