//! A reader for ENVI raster files, the format most hyperspectral sensors' software writes: a
//! text header (`scene.hdr`) and the raw data beside it (`scene`, `scene.img`, `.dat`, `.raw`,
//! `.bsq`, `.bil` or `.bip`), band-sequential, band-interleaved by line or by pixel, any of the
//! integer and floating types, either byte order.

use anyhow::{Context, bail, ensure};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// An ENVI raster read into memory.
#[derive(Clone, Debug, PartialEq)]
pub struct Raster {
    /// Rows (`lines`).
    pub lines: usize,
    /// Columns (`samples`).
    pub samples: usize,
    /// Bands.
    pub bands: usize,
    /// Values pixel-major: pixel `(r, c)` is `r * samples + c`, bands innermost.
    pub values: Vec<f64>,
    /// Band centre wavelengths in nanometres, when the header gives them.
    pub wavelengths_nm: Option<Vec<f64>>,
}

/// Whether `path` is an ENVI header or a data file with one beside it.
pub fn is_envi(path: &Path) -> bool {
    header_of(path).is_some()
}

/// Read the ENVI raster of `path` (its header or its data file).
pub fn read(path: &Path) -> crate::Result<Raster> {
    let header_path = header_of(path)
        .with_context(|| format!("{}: no ENVI header (.hdr) for this file", path.display()))?;
    let data_path = data_of(path, &header_path).with_context(|| {
        format!(
            "{}: no data file beside this ENVI header (tried the same name without .hdr, and \
             with .img, .dat, .raw, .bsq, .bil, .bip)",
            header_path.display()
        )
    })?;
    let text = std::fs::read_to_string(&header_path)
        .with_context(|| format!("cannot read {}", header_path.display()))?;
    let header = parse_header(&text).with_context(|| format!("{}", header_path.display()))?;
    let bytes = std::fs::read(&data_path)
        .with_context(|| format!("cannot read {}", data_path.display()))?;
    decode(&header, &bytes).with_context(|| format!("{}", data_path.display()))
}

/// The header of `path`: `path` itself if it ends in `.hdr`, else `path.hdr` or the same stem
/// with `.hdr`.
fn header_of(path: &Path) -> Option<PathBuf> {
    if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("hdr"))
    {
        return path.is_file().then(|| path.to_path_buf());
    }
    let appended = PathBuf::from(format!("{}.hdr", path.display()));
    [appended, path.with_extension("hdr")]
        .into_iter()
        .find(|p| p.is_file())
}

/// The data file of an ENVI raster given by `path` with header `header`.
fn data_of(path: &Path, header: &Path) -> Option<PathBuf> {
    if path != header {
        return Some(path.to_path_buf());
    }
    let stem = header.with_extension("");
    std::iter::once(stem.clone())
        .chain(
            ["img", "dat", "raw", "bsq", "bil", "bip"]
                .iter()
                .map(|e| stem.with_extension(e)),
        )
        .find(|p| p.is_file())
}

/// What the header says about the data.
#[derive(Clone, Debug, PartialEq)]
struct Header {
    lines: usize,
    samples: usize,
    bands: usize,
    offset: usize,
    data_type: u32,
    interleave: Interleave,
    big_endian: bool,
    wavelengths_nm: Option<Vec<f64>>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Interleave {
    Bsq,
    Bil,
    Bip,
}

/// The `key = value` pairs of a header (keys lower-case, braces joined across lines).
struct Fields {
    values: BTreeMap<String, String>,
    /// Keys given twice with two values: the two values.
    conflicting: BTreeMap<String, (String, String)>,
}

impl Fields {
    fn parse(text: &str) -> crate::Result<Fields> {
        let mut lines = text.lines();
        ensure!(
            lines.next().is_some_and(|l| l.trim() == "ENVI"),
            "not an ENVI header (its first line must be \"ENVI\")"
        );
        let mut fields = Fields {
            values: BTreeMap::new(),
            conflicting: BTreeMap::new(),
        };
        let mut pending: Option<(String, String)> = None;
        for line in lines {
            if let Some((key, mut value)) = pending.take() {
                value.push(' ');
                value.push_str(line.trim());
                if value.contains('}') {
                    fields.insert(key, value);
                } else {
                    pending = Some((key, value));
                }
                continue;
            }
            let Some((key, value)) = line.split_once('=') else {
                continue;
            };
            let (key, value) = (key.trim().to_lowercase(), value.trim().to_string());
            if value.starts_with('{') && !value.contains('}') {
                pending = Some((key, value));
            } else {
                fields.insert(key, value);
            }
        }
        ensure!(pending.is_none(), "a value in braces is never closed");
        Ok(fields)
    }

    fn insert(&mut self, key: String, value: String) {
        match self.values.get(&key) {
            Some(earlier) if !same_value(earlier, &value) => {
                self.conflicting.insert(key, (earlier.clone(), value));
            }
            Some(_) => {}
            None => {
                self.values.insert(key, value);
            }
        }
    }

    /// The value of `key`; a key the header gives twice with two values is refused, as either
    /// reading could be the wrong one (keys never read, such as a repeated `history`, may).
    fn get(&self, key: &str) -> crate::Result<Option<&str>> {
        if let Some((first, second)) = self.conflicting.get(key) {
            bail!("{key:?} is given twice, as {first:?} and as {second:?}");
        }
        Ok(self.values.get(key).map(String::as_str))
    }
}

/// Whether two header values say the same: the same words or list items but for case, blanks
/// and commas between them, or the same number (`010` and `10`).
fn same_value(a: &str, b: &str) -> bool {
    let normal = |v: &str| {
        v.split(|c: char| c.is_whitespace() || c == ',')
            .filter(|item| !item.is_empty())
            .collect::<Vec<_>>()
            .join(",")
            .to_lowercase()
    };
    if normal(a) == normal(b) {
        return true;
    }
    matches!((a.trim().parse::<f64>(), b.trim().parse::<f64>()), (Ok(x), Ok(y)) if x == y)
}

fn parse_header(text: &str) -> crate::Result<Header> {
    let fields = Fields::parse(text)?;
    let number = |key: &str, default: Option<usize>| -> crate::Result<usize> {
        match fields.get(key)? {
            Some(v) => v
                .parse::<usize>()
                .with_context(|| format!("{key} = {v:?} is not a whole number")),
            None => default.with_context(|| format!("the header has no {key:?}")),
        }
    };
    let (lines, samples, bands) = (
        number("lines", None)?,
        number("samples", None)?,
        number("bands", None)?,
    );
    ensure!(
        lines > 0 && samples > 0 && bands > 0,
        "an empty raster ({lines} lines, {samples} samples, {bands} bands)"
    );
    let data_type = u32::try_from(number("data type", None)?).unwrap_or(u32::MAX);
    ensure!(
        element_size(data_type).is_some(),
        "data type {data_type} is not a real number type (1, 2, 3, 4, 5, 12, 13, 14, 15)"
    );
    let interleave = match fields
        .get("interleave")?
        .map(|v| v.to_lowercase())
        .as_deref()
    {
        Some("bsq") | None => Interleave::Bsq,
        Some("bil") => Interleave::Bil,
        Some("bip") => Interleave::Bip,
        Some(other) => bail!("interleave {other:?} is none of bsq, bil, bip"),
    };
    let big_endian = match number("byte order", Some(0))? {
        0 => false,
        1 => true,
        other => bail!("byte order {other} is neither 0 (little-endian) nor 1 (big-endian)"),
    };
    let wavelengths_nm = match fields.get("wavelength")? {
        Some(list) => {
            let values: Vec<f64> = list
                .trim_matches(|c| c == '{' || c == '}' || char::is_whitespace(c))
                .split(',')
                .map(|v| v.trim().parse::<f64>())
                .collect::<Result<_, _>>()
                .context("the wavelength list holds something that is not a number")?;
            ensure!(
                values.len() == bands,
                "{} wavelengths for {bands} bands",
                values.len()
            );
            let units = fields.get("wavelength units")?.map(|u| u.to_lowercase());
            let micrometres = match units.as_deref() {
                Some("micrometers" | "micrometres" | "um" | "µm" | "microns") => true,
                Some("nanometers" | "nanometres" | "nm") => false,
                // Without units, values under 100 can only be micrometres.
                _ => values.iter().all(|&v| v < 100.0),
            };
            Some(if micrometres {
                values.iter().map(|v| v * 1000.0).collect()
            } else {
                values
            })
        }
        None => None,
    };
    Ok(Header {
        lines,
        samples,
        bands,
        offset: number("header offset", Some(0))?,
        data_type,
        interleave,
        big_endian,
        wavelengths_nm,
    })
}

/// Bytes per value of an ENVI data type; `None` for complex and unknown types.
fn element_size(data_type: u32) -> Option<usize> {
    Some(match data_type {
        1 => 1,
        2 | 12 => 2,
        3 | 4 | 13 => 4,
        5 | 14 | 15 => 8,
        _ => return None,
    })
}

/// The value of data type `t` in `b` (its `element_size` bytes).
fn value(t: u32, b: &[u8], big: bool) -> f64 {
    macro_rules! as_ {
        ($ty:ty) => {{
            let a = b.try_into().unwrap();
            (if big {
                <$ty>::from_be_bytes(a)
            } else {
                <$ty>::from_le_bytes(a)
            }) as f64
        }};
    }
    match t {
        1 => b[0] as f64,
        2 => as_!(i16),
        3 => as_!(i32),
        4 => as_!(f32),
        5 => as_!(f64),
        12 => as_!(u16),
        13 => as_!(u32),
        14 => as_!(i64),
        15 => as_!(u64),
        _ => unreachable!("checked by parse_header"),
    }
}

fn decode(h: &Header, bytes: &[u8]) -> crate::Result<Raster> {
    let size = element_size(h.data_type).unwrap();
    let n = h
        .lines
        .checked_mul(h.samples)
        .and_then(|v| v.checked_mul(h.bands))
        .filter(|n| {
            n.checked_mul(size)
                .and_then(|b| b.checked_add(h.offset))
                .is_some()
        })
        .with_context(|| {
            format!(
                "{} lines × {} samples × {} bands is too large",
                h.lines, h.samples, h.bands
            )
        })?;
    // Exactly: a file longer than the header says is as likely a header that under-counts
    // (its pixels would be misread) as one with trailing bytes.
    ensure!(
        bytes.len() == h.offset + n * size,
        "{} bytes, but the header's {} lines × {} samples × {} bands of {size} bytes after an \
         offset of {} need {}",
        bytes.len(),
        h.lines,
        h.samples,
        h.bands,
        h.offset,
        h.offset + n * size
    );
    let data = &bytes[h.offset..h.offset + n * size];
    let (rows, cols, bands) = (h.lines, h.samples, h.bands);
    let mut values = vec![0f64; n];
    for (i, chunk) in data.chunks_exact(size).enumerate() {
        // Where the i-th stored value goes in pixel-major order.
        let (r, c, b) = match h.interleave {
            Interleave::Bsq => ((i / cols) % rows, i % cols, i / (rows * cols)),
            Interleave::Bil => (i / (bands * cols), i % cols, (i / cols) % bands),
            Interleave::Bip => (i / (cols * bands), (i / bands) % cols, i % bands),
        };
        values[(r * cols + c) * bands + b] = value(h.data_type, chunk, h.big_endian);
    }
    Ok(Raster {
        lines: rows,
        samples: cols,
        bands,
        values,
        wavelengths_nm: h.wavelengths_nm.clone(),
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Write a raster of `values` (pixel-major, as [`Raster::values`]) as an ENVI pair in `dir`
    /// with the given interleave, data type 12 (u16) or 4 (f32) and byte order.
    pub(crate) fn write(
        dir: &Path,
        name: &str,
        (lines, samples, bands): (usize, usize, usize),
        values: &[f64],
        interleave: &str,
        data_type: u32,
        big: bool,
        extra_header: &str,
    ) -> PathBuf {
        let mut bytes = Vec::new();
        let order: Vec<(usize, usize, usize)> = match interleave {
            "bsq" => (0..bands)
                .flat_map(|b| (0..lines).flat_map(move |r| (0..samples).map(move |c| (r, c, b))))
                .collect(),
            "bil" => (0..lines)
                .flat_map(|r| (0..bands).flat_map(move |b| (0..samples).map(move |c| (r, c, b))))
                .collect(),
            _ => (0..lines)
                .flat_map(|r| (0..samples).flat_map(move |c| (0..bands).map(move |b| (r, c, b))))
                .collect(),
        };
        for (r, c, b) in order {
            let v = values[(r * samples + c) * bands + b];
            match (data_type, big) {
                (12, false) => bytes.extend((v as u16).to_le_bytes()),
                (12, true) => bytes.extend((v as u16).to_be_bytes()),
                (_, false) => bytes.extend((v as f32).to_le_bytes()),
                (_, true) => bytes.extend((v as f32).to_be_bytes()),
            }
        }
        std::fs::write(dir.join(format!("{name}.img")), bytes).unwrap();
        let header = format!(
            "ENVI\ndescription = {{a test\n raster}}\nsamples = {samples}\nlines = {lines}\n\
             bands = {bands}\nheader offset = 0\nfile type = ENVI Standard\ndata type = \
             {data_type}\ninterleave = {interleave}\nbyte order = {}\n{extra_header}",
            big as u8
        );
        let path = dir.join(format!("{name}.hdr"));
        std::fs::write(&path, header).unwrap();
        path
    }

    fn temp(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("oddity-envi-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn every_interleave_type_and_byte_order_reads_the_same_cube() {
        let dir = temp("interleave");
        let shape = (2, 3, 4);
        let values: Vec<f64> = (0..24).map(|v| (v * 7 % 24) as f64).collect();
        for interleave in ["bsq", "bil", "bip"] {
            for (data_type, big) in [(12, false), (12, true), (4, false), (4, true)] {
                let name = format!("{interleave}{data_type}{big}");
                let header = write(&dir, &name, shape, &values, interleave, data_type, big, "");
                for path in [header.clone(), dir.join(format!("{name}.img"))] {
                    let raster = read(&path).unwrap();
                    assert_eq!((raster.lines, raster.samples, raster.bands), shape);
                    assert_eq!(raster.values, values, "{name} from {}", path.display());
                }
            }
        }
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn wavelengths_come_in_nanometres() {
        let dir = temp("wavelengths");
        let values = vec![1.0; 3];
        let um = "wavelength units = Micrometers\nwavelength = {\n 0.45, 0.55,\n 0.65}\n";
        let raster = read(&write(&dir, "um", (1, 1, 3), &values, "bip", 4, false, um)).unwrap();
        assert_eq!(raster.wavelengths_nm, Some(vec![450.0, 550.0, 650.0]));
        let nm = "wavelength = {450, 550, 650}\n";
        let raster = read(&write(&dir, "nm", (1, 1, 3), &values, "bip", 4, false, nm)).unwrap();
        assert_eq!(raster.wavelengths_nm, Some(vec![450.0, 550.0, 650.0]));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn bad_headers_and_short_data_are_errors_naming_the_file_and_the_key() {
        let dir = temp("bad");
        let values = vec![0.0; 6];
        let header = write(&dir, "short", (2, 3, 1), &values, "bsq", 12, false, "");
        std::fs::write(dir.join("short.img"), [0u8; 5]).unwrap();
        let err = format!("{:#}", read(&header).unwrap_err());
        assert!(
            err.contains("short.img") && err.contains("need 12"),
            "{err}"
        );

        let header = write(&dir, "complex", (2, 3, 1), &values, "bsq", 12, false, "");
        let text = std::fs::read_to_string(&header)
            .unwrap()
            .replace("data type = 12", "data type = 6");
        std::fs::write(&header, text).unwrap();
        let err = format!("{:#}", read(&header).unwrap_err());
        assert!(
            err.contains("complex.hdr") && err.contains("data type 6"),
            "{err}"
        );

        let header = write(&dir, "nolines", (2, 3, 1), &values, "bsq", 12, false, "");
        let text = std::fs::read_to_string(&header)
            .unwrap()
            .replace("lines = 2\n", "");
        std::fs::write(&header, text).unwrap();
        let err = format!("{:#}", read(&header).unwrap_err());
        assert!(err.contains("\"lines\""), "{err}");

        // Data for twice the header's samples: refused, not read as half a scene.
        let header = write(&dir, "long", (2, 3, 1), &values, "bsq", 12, false, "");
        std::fs::write(dir.join("long.img"), [0u8; 24]).unwrap();
        let err = format!("{:#}", read(&header).unwrap_err());
        assert!(err.contains("long.img") && err.contains("need 12"), "{err}");

        // A key given twice with two values: neither is taken.
        let header = write(&dir, "twice", (2, 3, 1), &values, "bsq", 12, false, "");
        let text = std::fs::read_to_string(&header).unwrap()
            + "history = a\nhistory = b\ninterleave = BSQ\nsamples = 03\n";
        std::fs::write(&header, &text).unwrap();
        assert_eq!(
            read(&header).unwrap().values.len(),
            6,
            "a key never read may repeat, one read may repeat its value"
        );
        let text = text + "samples = 1\n";
        std::fs::write(&header, text).unwrap();
        let err = format!("{:#}", read(&header).unwrap_err());
        assert!(
            err.contains("twice.hdr") && err.contains("\"samples\" is given twice"),
            "{err}"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}
