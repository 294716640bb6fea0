//! IDX files (MNIST, Fashion-MNIST): `[0, 0, type, ndim]` magic, big-endian dimensions, data.
//! Raw or gzip-compressed.

use super::{LabelledSet, SampleShape};
use anyhow::{Context, bail, ensure};
use std::path::Path;

/// A decoded IDX array of unsigned bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct IdxArray {
    /// Dimensions, outermost first.
    pub dims: Vec<usize>,
    /// The values, row-major.
    pub data: Vec<u8>,
}

/// Decode IDX bytes (already gunzipped). `name` is used in error messages.
pub fn parse(bytes: &[u8], name: &str) -> crate::Result<IdxArray> {
    ensure!(
        bytes.len() >= 4,
        "{name}: not an IDX file: {} bytes, shorter than the 4-byte magic",
        bytes.len()
    );
    if bytes[0] != 0 || bytes[1] != 0 {
        bail!(
            "{name}: not an IDX file: wrong magic {:02x} {:02x} {:02x} {:02x} (expected 00 00 08 NN)",
            bytes[0],
            bytes[1],
            bytes[2],
            bytes[3]
        );
    }
    ensure!(
        bytes[2] == 0x08,
        "{name}: IDX element type 0x{:02x} is not supported (only unsigned bytes, 0x08)",
        bytes[2]
    );
    let ndim = bytes[3] as usize;
    ensure!(
        (1..=4).contains(&ndim),
        "{name}: IDX with {ndim} dimensions is not supported"
    );
    let header = 4 + 4 * ndim;
    ensure!(
        bytes.len() >= header,
        "{name}: truncated IDX header ({} bytes, need {header})",
        bytes.len()
    );
    let dims: Vec<usize> = (0..ndim)
        .map(|i| u32::from_be_bytes(bytes[4 + 4 * i..8 + 4 * i].try_into().unwrap()) as usize)
        .collect();
    let expected = dims
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .with_context(|| format!("{name}: IDX dimensions {dims:?} overflow"))?;
    let body = bytes.len() - header;
    ensure!(
        body == expected,
        "{name}: truncated or oversized IDX file: dimensions {dims:?} need {expected} bytes of data, found {body}"
    );
    Ok(IdxArray {
        dims,
        data: bytes[header..].to_vec(),
    })
}

/// Encode an IDX array of unsigned bytes (used by tests and the fixture tools).
pub fn encode(array: &IdxArray) -> Vec<u8> {
    let mut out = vec![0, 0, 0x08, array.dims.len() as u8];
    for &d in &array.dims {
        out.extend_from_slice(&(d as u32).to_be_bytes());
    }
    out.extend_from_slice(&array.data);
    out
}

/// Build a labelled image set from an images array (`n × h × w`) and a labels array (`n`).
pub fn images_with_labels(
    images: IdxArray,
    labels: IdxArray,
    images_name: &str,
    labels_name: &str,
) -> crate::Result<LabelledSet> {
    ensure!(
        images.dims.len() == 3,
        "{images_name}: expected a 3-dimensional IDX array (n × height × width), found dimensions {:?}",
        images.dims
    );
    ensure!(
        labels.dims.len() == 1,
        "{labels_name}: expected a 1-dimensional IDX array of labels, found dimensions {:?}",
        labels.dims
    );
    ensure!(
        images.dims[1] >= 1 && images.dims[2] >= 1,
        "{images_name}: images of {}×{} pixels hold no value",
        images.dims[1],
        images.dims[2]
    );
    ensure!(
        images.dims[0] == labels.dims[0],
        "{images_name} holds {} images but {labels_name} holds {} labels",
        images.dims[0],
        labels.dims[0]
    );
    let n_classes = labels
        .data
        .iter()
        .copied()
        .max()
        .map_or(0, |m| m as usize + 1)
        .max(10);
    Ok(LabelledSet {
        layout: None,
        masks: None,
        values: images.data.iter().map(|&b| b as f32).collect(),
        shape: SampleShape::Image {
            channels: 1,
            height: images.dims[1],
            width: images.dims[2],
        },
        classes: labels.data.iter().map(|&l| l as u32).collect(),
        class_names: (0..n_classes).map(|c| c.to_string()).collect(),
    })
}

/// Load one split (`"train"` or `"t10k"`) of an MNIST-style folder with the canonical file names
/// (`train-images-idx3-ubyte[.gz]`, `train-labels-idx1-ubyte[.gz]`, …).
pub fn load_split(dir: &Path, split: &str) -> crate::Result<LabelledSet> {
    let images_path = find(dir, &format!("{split}-images-idx3-ubyte"))?;
    let labels_path = find(dir, &format!("{split}-labels-idx1-ubyte"))?;
    let images = parse(
        &crate::io::read_maybe_gz(&images_path)?,
        &images_path.display().to_string(),
    )?;
    let labels = parse(
        &crate::io::read_maybe_gz(&labels_path)?,
        &labels_path.display().to_string(),
    )?;
    images_with_labels(
        images,
        labels,
        &images_path.display().to_string(),
        &labels_path.display().to_string(),
    )
}

/// The first `n` bytes (at most) of `raw`, gunzipped as they are read when it is gzip.
fn leading_bytes(raw: impl std::io::Read, n: usize) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(n);
    std::io::Read::read_to_end(
        &mut std::io::Read::take(crate::io::maybe_gz_reader(raw)?, n as u64),
        &mut out,
    )?;
    Ok(out)
}

/// The header and first image of the training images of the MNIST-style folder `dir`, as the
/// file holds them (4 magic bytes, the count, the sides, the pixels): what tells one such
/// data set from another without reading it whole.
pub fn first_training_image(dir: &Path) -> crate::Result<Vec<u8>> {
    let path = find(dir, "train-images-idx3-ubyte")?;
    let file =
        std::fs::File::open(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let bytes = leading_bytes(file, FIRST_IMAGE_END)
        .with_context(|| format!("cannot read {}", path.display()))?;
    Ok(without_count(bytes))
}

/// The bytes of an images file up to the end of its first 28×28 image.
const FIRST_IMAGE_END: usize = 16 + 28 * 28;

/// The leading bytes of an images file without its count (a subset keeps the rest).
fn without_count(mut bytes: Vec<u8>) -> Vec<u8> {
    if bytes.len() >= 8 {
        bytes.drain(4..8);
    }
    bytes
}

/// [`first_training_image`] of the gzip or raw images file `raw` (held in memory).
pub fn first_image_of(raw: &[u8]) -> std::io::Result<Vec<u8>> {
    Ok(without_count(leading_bytes(raw, FIRST_IMAGE_END)?))
}

/// The file `stem` or `stem.gz` in `dir`.
fn find(dir: &Path, stem: &str) -> crate::Result<std::path::PathBuf> {
    for candidate in [dir.join(format!("{stem}.gz")), dir.join(stem)] {
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    bail!(
        "{}: no file {stem} or {stem}.gz (an MNIST-style folder needs train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte, raw or gzip)",
        dir.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let a = IdxArray {
            dims: vec![2, 3, 2],
            data: (0..12).collect(),
        };
        assert_eq!(parse(&encode(&a), "x").unwrap(), a);
    }

    #[test]
    fn wrong_magic_is_named() {
        let mut bytes = encode(&IdxArray {
            dims: vec![1],
            data: vec![3],
        });
        bytes[0] = 7;
        let err = parse(&bytes, "file.idx").unwrap_err().to_string();
        assert!(
            err.contains("file.idx") && err.contains("wrong magic"),
            "{err}"
        );
    }

    #[test]
    fn truncated_is_named() {
        let bytes = encode(&IdxArray {
            dims: vec![4, 2, 2],
            data: vec![0; 16],
        });
        let err = parse(&bytes[..bytes.len() - 3], "imgs")
            .unwrap_err()
            .to_string();
        assert!(err.contains("imgs") && err.contains("truncated"), "{err}");
        let err = parse(&bytes[..6], "imgs").unwrap_err().to_string();
        assert!(err.contains("truncated IDX header"), "{err}");
    }

    #[test]
    fn wrong_dimensions_are_named() {
        let images = IdxArray {
            dims: vec![4, 4],
            data: vec![0; 16],
        };
        let labels = IdxArray {
            dims: vec![4],
            data: vec![0; 4],
        };
        let err = images_with_labels(images, labels.clone(), "i.idx", "l.idx")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("i.idx") && err.contains("3-dimensional"),
            "{err}"
        );
        let images = IdxArray {
            dims: vec![3, 2, 2],
            data: vec![0; 12],
        };
        let err = images_with_labels(images, labels, "i.idx", "l.idx")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("3 images") && err.contains("4 labels"),
            "{err}"
        );
    }
}
