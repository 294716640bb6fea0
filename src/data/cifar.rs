//! CIFAR-10 in its original binary release: `data_batch_{1..5}.bin` and `test_batch.bin`, each
//! record one label byte then 3 072 bytes (1 024 red, 1 024 green, 1 024 blue, row-major 32×32).

use super::{LabelledSet, SampleShape};
use anyhow::{Context, bail, ensure};
use std::path::Path;

/// The ten CIFAR-10 class names, in label order.
pub const CLASS_NAMES: [&str; 10] = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
];

/// The images' side in pixels.
pub const SIDE: u32 = 32;
const RECORD: usize = 1 + 3 * (SIDE * SIDE) as usize;

/// Decode the records of one binary batch file; `name` is used in errors.
pub fn parse_batch(bytes: &[u8], name: &str, out: &mut LabelledSet) -> crate::Result<()> {
    ensure!(
        !bytes.is_empty() && bytes.len().is_multiple_of(RECORD),
        "{name}: not a CIFAR-10 binary batch: {} bytes is not a multiple of the 3073-byte record",
        bytes.len()
    );
    for (r, record) in bytes.chunks_exact(RECORD).enumerate() {
        let label = record[0];
        ensure!(
            label < 10,
            "{name}: record {r} has label {label}, outside 0..=9"
        );
        out.classes.push(label as u32);
        out.values.extend(record[1..].iter().map(|&b| b as f32));
    }
    Ok(())
}

fn empty() -> LabelledSet {
    LabelledSet {
        layout: None,
        masks: None,
        values: Vec::new(),
        shape: SampleShape::Image {
            channels: 3,
            height: SIDE as usize,
            width: SIDE as usize,
        },
        classes: Vec::new(),
        class_names: CLASS_NAMES.iter().map(|s| s.to_string()).collect(),
    }
}

/// Load the training batches and the test batch from `dir` (the `cifar-10-batches-bin` folder).
pub fn load(dir: &Path) -> crate::Result<(LabelledSet, LabelledSet)> {
    let mut train = empty();
    for i in 1..=5 {
        let path = dir.join(format!("data_batch_{i}.bin"));
        let bytes = std::fs::read(&path).with_context(|| {
            format!(
                "cannot read {} (CIFAR-10 binary release expected)",
                path.display()
            )
        })?;
        parse_batch(&bytes, &path.display().to_string(), &mut train)?;
    }
    let mut test = empty();
    let path = dir.join("test_batch.bin");
    let bytes = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
    parse_batch(&bytes, &path.display().to_string(), &mut test)?;
    if train.is_empty() {
        bail!("{}: no CIFAR-10 training records", dir.display());
    }
    Ok((train, test))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_records_and_rejects_partial_ones() {
        let mut bytes = vec![3u8];
        bytes.extend((0..3072).map(|i| (i % 256) as u8));
        let mut set = empty();
        parse_batch(&bytes, "b.bin", &mut set).unwrap();
        assert_eq!(set.classes, vec![3]);
        assert_eq!(set.sample(0)[1025], 1.0); // green plane starts at 1024
        let err = parse_batch(&bytes[..100], "b.bin", &mut set)
            .unwrap_err()
            .to_string();
        assert!(err.contains("b.bin") && err.contains("3073"), "{err}");
        bytes[0] = 12;
        let err = parse_batch(&bytes, "b.bin", &mut set)
            .unwrap_err()
            .to_string();
        assert!(err.contains("label 12"), "{err}");
    }
}
