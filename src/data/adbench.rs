//! ADBench tables: a NumPy `.npz` archive holding `X` (samples × features) and `y`
//! (0 normal, 1 anomaly). The `.npy` reader supports the little-endian integer and float types
//! and both C and Fortran order, which is what the ADBench files use.

use super::{LabelledSet, SampleShape};
use anyhow::{Context, bail, ensure};
use std::io::Read;
use std::path::Path;

/// A decoded `.npy` array, converted to `f64`, in C (row-major) order.
#[derive(Debug, Clone, PartialEq)]
pub struct NpyArray {
    /// The array's shape.
    pub shape: Vec<usize>,
    /// Values, row-major.
    pub data: Vec<f64>,
}

fn header_field<'a>(header: &'a str, key: &str) -> Option<&'a str> {
    let start = header.find(&format!("'{key}'"))? + key.len() + 2;
    let rest = header[start..].trim_start().strip_prefix(':')?.trim_start();
    if let Some(r) = rest.strip_prefix('(') {
        Some(&r[..r.find(')')?])
    } else if let Some(r) = rest.strip_prefix('\'') {
        Some(&r[..r.find('\'')?])
    } else {
        Some(rest[..rest.find([',', '}']).unwrap_or(rest.len())].trim())
    }
}

/// Parse one `.npy` file. `name` is used in errors.
pub fn parse_npy(bytes: &[u8], name: &str) -> crate::Result<NpyArray> {
    ensure!(
        bytes.len() >= 10 && &bytes[..6] == b"\x93NUMPY",
        "{name}: not a .npy array (wrong magic)"
    );
    let (header_len, offset) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 => {
            ensure!(bytes.len() >= 12, "{name}: truncated .npy header");
            (
                u32::from_le_bytes(bytes[8..12].try_into().unwrap()) as usize,
                12,
            )
        }
        v => bail!("{name}: .npy format version {v} is not supported"),
    };
    ensure!(
        bytes.len() >= offset + header_len,
        "{name}: truncated .npy header"
    );
    let header = std::str::from_utf8(&bytes[offset..offset + header_len])
        .with_context(|| format!("{name}: .npy header is not text"))?;
    let descr = header_field(header, "descr")
        .with_context(|| format!("{name}: .npy header has no 'descr'"))?;
    let fortran = header_field(header, "fortran_order") == Some("True");
    let shape: Vec<usize> = header_field(header, "shape")
        .with_context(|| format!("{name}: .npy header has no 'shape'"))?
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<usize>())
        .collect::<Result<_, _>>()
        .with_context(|| format!("{name}: bad .npy shape in header {header:?}"))?;
    let body = &bytes[offset + header_len..];
    let size = match descr {
        "<f8" | "<i8" | "<u8" => 8,
        "<f4" | "<i4" | "<u4" => 4,
        "<i2" | "<u2" => 2,
        "|u1" | "|i1" | "|b1" => 1,
        other => bail!("{name}: .npy element type {other:?} is not supported"),
    };
    let n = shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .filter(|n| n.checked_mul(size).is_some())
        .with_context(|| format!("{name}: .npy shape {shape:?} is too large"))?;
    ensure!(
        body.len() == n * size,
        "{name}: truncated .npy data: shape {shape:?} of {descr} needs {} bytes, found {}",
        n * size,
        body.len()
    );
    let mut data: Vec<f64> = body
        .chunks_exact(size)
        .map(|c| match descr {
            "<f8" => f64::from_le_bytes(c.try_into().unwrap()),
            "<i8" => i64::from_le_bytes(c.try_into().unwrap()) as f64,
            "<u8" => u64::from_le_bytes(c.try_into().unwrap()) as f64,
            "<f4" => f32::from_le_bytes(c.try_into().unwrap()) as f64,
            "<i4" => i32::from_le_bytes(c.try_into().unwrap()) as f64,
            "<u4" => u32::from_le_bytes(c.try_into().unwrap()) as f64,
            "<i2" => i16::from_le_bytes(c.try_into().unwrap()) as f64,
            "<u2" => u16::from_le_bytes(c.try_into().unwrap()) as f64,
            "|i1" => c[0] as i8 as f64,
            _ => c[0] as f64,
        })
        .collect();
    if fortran && shape.len() == 2 {
        let (r, k) = (shape[0], shape[1]);
        let mut c_order = vec![0.0; n];
        for j in 0..k {
            for i in 0..r {
                c_order[i * k + j] = data[j * r + i];
            }
        }
        data = c_order;
    }
    Ok(NpyArray { shape, data })
}

/// The largest `.npy` member of an archive that oddity decompresses.
const MAX_MEMBER_BYTES: u64 = 4 << 30;

/// Read the member `member` of a `.npz` archive.
pub fn read_npz_member(bytes: &[u8], member: &str, name: &str) -> crate::Result<NpyArray> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes))
        .with_context(|| format!("{name}: not a .npz (zip) archive"))?;
    let mut file = archive
        .by_name(&format!("{member}.npy"))
        .with_context(|| format!("{name}: no array {member:?} in the archive"))?;
    // The archive's own size claim can lie: read at most what it declares (and 4 GiB), so a
    // crafted archive cannot make oddity allocate more than the file says it holds.
    let declared = file.size();
    ensure!(
        declared <= MAX_MEMBER_BYTES,
        "{name}: {member}.npy declares {declared} bytes, more than oddity reads ({MAX_MEMBER_BYTES})"
    );
    // No capacity from the declared size: a lying header must not allocate.
    let mut buf = Vec::new();
    (&mut file)
        .take(declared)
        .read_to_end(&mut buf)
        .with_context(|| format!("{name}: cannot decompress {member}.npy"))?;
    parse_npy(&buf, &format!("{name}:{member}.npy"))
}

/// Parse an ADBench `.npz` (`X`, `y`) into a labelled set with classes `"normal"` (0) and
/// `"anomaly"` (1).
pub fn parse(bytes: &[u8], name: &str) -> crate::Result<LabelledSet> {
    let x = read_npz_member(bytes, "X", name)?;
    let y = read_npz_member(bytes, "y", name)?;
    ensure!(
        x.shape.len() == 2,
        "{name}: X must be 2-dimensional (samples × features), found shape {:?}",
        x.shape
    );
    ensure!(
        y.shape.len() == 1 && y.shape[0] == x.shape[0],
        "{name}: y has shape {:?} but X has {} rows",
        y.shape,
        x.shape[0]
    );
    ensure!(
        x.shape[1] >= 1,
        "{name}: X has no feature columns (shape {:?})",
        x.shape
    );
    if let Some(i) = x.data.iter().position(|v| !v.is_finite()) {
        bail!(
            "{name}: X has a non-finite value at row {}, column {}",
            i / x.shape[1],
            i % x.shape[1]
        );
    }
    if let Some(i) = x.data.iter().position(|&v| !(v as f32).is_finite()) {
        bail!(
            "{name}: X[{}, {}] = {} does not fit a 32-bit float (|x| < 3.4e38); rescale it first",
            i / x.shape[1],
            i % x.shape[1],
            x.data[i]
        );
    }
    let classes = y
        .data
        .iter()
        .enumerate()
        .map(|(i, &v)| match v {
            0.0 => Ok(0u32),
            1.0 => Ok(1u32),
            _ => bail!("{name}: y[{i}] = {v}; ADBench labels must be 0 (normal) or 1 (anomaly)"),
        })
        .collect::<crate::Result<Vec<_>>>()?;
    Ok(LabelledSet {
        layout: None,
        masks: None,
        values: x.data.iter().map(|&v| v as f32).collect(),
        shape: SampleShape::Table {
            features: x.shape[1],
        },
        classes,
        class_names: vec!["normal".into(), "anomaly".into()],
    })
}

/// Load an ADBench `.npz` file.
pub fn load(path: &Path) -> crate::Result<LabelledSet> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    parse(&bytes, &path.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn npy(descr: &str, fortran: bool, shape: &str, body: &[u8]) -> Vec<u8> {
        let header = format!(
            "{{'descr': '{descr}', 'fortran_order': {}, 'shape': ({shape}), }}",
            if fortran { "True" } else { "False" }
        );
        let mut out = b"\x93NUMPY\x01\x00".to_vec();
        out.extend_from_slice(&(header.len() as u16).to_le_bytes());
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(body);
        out
    }

    #[test]
    fn fortran_order_is_transposed() {
        let body: Vec<u8> = [1.0f64, 2.0, 3.0, 4.0, 5.0, 6.0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let a = parse_npy(&npy("<f8", true, "2, 3", &body), "a").unwrap();
        assert_eq!(a.shape, vec![2, 3]);
        assert_eq!(a.data, vec![1.0, 3.0, 5.0, 2.0, 4.0, 6.0]);
        let b = parse_npy(&npy("|u1", false, "3,", &[7, 8, 9]), "b").unwrap();
        assert_eq!(b.data, vec![7.0, 8.0, 9.0]);
        let err = parse_npy(&npy("<f8", false, "4,", &body[..16]), "c")
            .unwrap_err()
            .to_string();
        assert!(err.contains("truncated"), "{err}");
    }
}
