//! A reader for MATLAB level-5 MAT-files (MATLAB 5 to 7.2; what `save -v7`, `scipy.io.savemat`
//! and most hyperspectral collections write): numeric arrays of every integer class, single,
//! double and logical, real only, uncompressed or zlib-compressed (`miCOMPRESSED`), little- or
//! big-endian, with data elements in the normal and the small (4-byte) tag form.
//!
//! Numbers are converted from the element type they are *stored* with, which need not match
//! the array's MATLAB class: MATLAB keeps a double array of integers as `miUINT16` or `miINT16`
//! (the ABU scenes do), and loads it as double. Values come back as `f64` in the file's
//! column-major order. Cell arrays, structures, objects, strings and sparse arrays are listed
//! by name but not read. A v7.3 file is HDF5, not this format: it is refused with an error that
//! says how to re-save it.

use anyhow::{Context, bail, ensure};
use std::io::Read;
use std::path::Path;

/// One variable of a MAT-file.
#[derive(Clone, Debug, PartialEq)]
pub struct MatVariable {
    /// The variable's name.
    pub name: String,
    /// Its dimensions (at least two, MATLAB's convention).
    pub dims: Vec<usize>,
    /// Its MATLAB class (`double`, `uint16`, `logical`, `cell`, …).
    pub class: &'static str,
    /// The values in column-major order; `None` for a class that is not a real numeric array
    /// (cell, struct, object, char, sparse, complex).
    pub values: Option<Vec<f64>>,
}

impl MatVariable {
    /// Number of elements (saturating: a variable read from a file holds them all).
    pub fn len(&self) -> usize {
        self.dims.iter().fold(1usize, |a, &d| a.saturating_mul(d))
    }

    /// Whether the variable holds no element.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Read every variable of the MAT-file at `path`.
pub fn read(path: &Path) -> crate::Result<Vec<MatVariable>> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    parse(&bytes).with_context(|| format!("{}: not a readable MAT-file", path.display()))
}

/// Read every variable of a MAT-file held in memory.
pub fn parse(bytes: &[u8]) -> crate::Result<Vec<MatVariable>> {
    if bytes.starts_with(b"MATLAB 7.3") || bytes.get(512..516) == Some(b"\x89HDF") {
        bail!(
            "a MATLAB v7.3 file (HDF5), which this reader does not read; re-save it in MATLAB \
             with save(file, '-v7'), or in Python with scipy.io.savemat"
        );
    }
    ensure!(
        bytes.len() >= 128,
        "{} bytes, shorter than the 128-byte MAT-file header",
        bytes.len()
    );
    ensure!(
        bytes.starts_with(b"MATLAB 5.0"),
        "no \"MATLAB 5.0 MAT-file\" header (a MATLAB v4 file, or not a MAT-file at all)"
    );
    let order = match &bytes[126..128] {
        b"IM" => Order::Little,
        b"MI" => Order::Big,
        other => bail!("unknown endian indicator {other:?} (expected IM or MI)"),
    };
    let mut variables = Vec::new();
    let mut at = 128;
    while at < bytes.len() {
        let element = Element::at(bytes, at, order)?;
        at = element.next;
        match element.kind {
            MI_COMPRESSED => {
                let mut inflated = Vec::new();
                flate2::read::ZlibDecoder::new(element.data)
                    .read_to_end(&mut inflated)
                    .context("a compressed variable does not inflate")?;
                let inner = Element::at(&inflated, 0, order)?;
                ensure!(
                    inner.kind == MI_MATRIX,
                    "a compressed element holds element type {}, not a matrix",
                    inner.kind
                );
                variables.push(matrix(inner.data, order)?);
            }
            MI_MATRIX => variables.push(matrix(element.data, order)?),
            other => bail!("top-level element of type {other} is not a variable"),
        }
    }
    Ok(variables)
}

/// Byte order of the file's numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Order {
    Little,
    Big,
}

impl Order {
    fn u32(self, b: &[u8]) -> u32 {
        let b = [b[0], b[1], b[2], b[3]];
        match self {
            Order::Little => u32::from_le_bytes(b),
            Order::Big => u32::from_be_bytes(b),
        }
    }
}

const MI_INT8: u32 = 1;
const MI_UINT8: u32 = 2;
const MI_INT16: u32 = 3;
const MI_UINT16: u32 = 4;
const MI_INT32: u32 = 5;
const MI_UINT32: u32 = 6;
const MI_SINGLE: u32 = 7;
const MI_DOUBLE: u32 = 9;
const MI_INT64: u32 = 12;
const MI_UINT64: u32 = 13;
const MI_MATRIX: u32 = 14;
const MI_COMPRESSED: u32 = 15;
const MI_UTF8: u32 = 16;

/// One data element: its type, its payload and where the next one starts.
struct Element<'a> {
    kind: u32,
    data: &'a [u8],
    next: usize,
}

impl<'a> Element<'a> {
    /// The element whose tag starts at `at`, in the normal form (8-byte tag, payload padded to
    /// 8 bytes) or the small form (type and size in 4 bytes, up to 4 payload bytes).
    fn at(bytes: &'a [u8], at: usize, order: Order) -> crate::Result<Self> {
        ensure!(
            at + 8 <= bytes.len(),
            "a data element at byte {at} is cut short (the file is truncated)"
        );
        let first = order.u32(&bytes[at..]);
        if first >> 16 != 0 {
            let size = (first >> 16) as usize;
            ensure!(
                size <= 4,
                "a small data element at byte {at} claims {size} bytes"
            );
            return Ok(Element {
                kind: first & 0xffff,
                data: &bytes[at + 4..at + 4 + size],
                next: at + 8,
            });
        }
        let size = order.u32(&bytes[at + 4..]) as usize;
        let start = at + 8;
        ensure!(
            start + size <= bytes.len(),
            "a data element at byte {at} claims {size} bytes, past the end of the file"
        );
        // Compressed elements are not padded; the others are, to a multiple of 8 bytes.
        let next = if first == MI_COMPRESSED {
            start + size
        } else {
            (start + size).div_ceil(8) * 8
        };
        Ok(Element {
            kind: first,
            data: &bytes[start..start + size],
            next: next.min(bytes.len()),
        })
    }
}

/// MATLAB's array classes, by their number in the array-flags sub-element.
fn class_name(class: u8) -> &'static str {
    match class {
        1 => "cell",
        2 => "struct",
        3 => "object",
        4 => "char",
        5 => "sparse",
        6 => "double",
        7 => "single",
        8 => "int8",
        9 => "uint8",
        10 => "int16",
        11 => "uint16",
        12 => "int32",
        13 => "uint32",
        14 => "int64",
        15 => "uint64",
        _ => "unknown",
    }
}

/// The variable held by one `miMATRIX` element's payload.
fn matrix(payload: &[u8], order: Order) -> crate::Result<MatVariable> {
    let flags = Element::at(payload, 0, order)?;
    ensure!(
        flags.kind == MI_UINT32 && flags.data.len() >= 8,
        "a matrix without its array-flags sub-element"
    );
    let word = order.u32(flags.data);
    let class_number = (word & 0xff) as u8;
    let complex = word & 0x0800 != 0;
    let logical = word & 0x0200 != 0;
    let dims_element = Element::at(payload, flags.next, order)?;
    ensure!(
        dims_element.kind == MI_INT32,
        "a matrix whose dimensions are stored as type {}, not int32",
        dims_element.kind
    );
    let dims: Vec<usize> = dims_element
        .data
        .chunks_exact(4)
        .map(|c| order.u32(c) as i32)
        .map(|d| usize::try_from(d).map_err(|_| anyhow::anyhow!("a negative dimension {d}")))
        .collect::<crate::Result<_>>()?;
    let name_element = Element::at(payload, dims_element.next, order)?;
    ensure!(
        matches!(name_element.kind, MI_INT8 | MI_UINT8 | MI_UTF8),
        "a matrix whose name is stored as type {}",
        name_element.kind
    );
    let name = String::from_utf8_lossy(name_element.data).into_owned();
    let class = if logical {
        "logical"
    } else {
        class_name(class_number)
    };
    let numeric = (6..=15).contains(&class_number);
    let values = if numeric && !complex {
        let real = Element::at(payload, name_element.next, order)?;
        let expected = dims
            .iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d))
            .with_context(|| format!("variable {name:?} has dimensions {dims:?}, too large"))?;
        let values =
            numbers(real.kind, real.data, order).with_context(|| format!("variable {name:?}"))?;
        ensure!(
            values.len() == expected,
            "variable {name:?} has dimensions {dims:?} ({expected} values) but stores {}",
            values.len()
        );
        Some(values)
    } else {
        None
    };
    Ok(MatVariable {
        name,
        dims,
        class,
        values,
    })
}

/// The numbers of a numeric data element, whatever their stored type, as `f64`.
fn numbers(kind: u32, data: &[u8], order: Order) -> crate::Result<Vec<f64>> {
    macro_rules! read_as {
        ($t:ty) => {{
            const N: usize = std::mem::size_of::<$t>();
            data.chunks_exact(N)
                .map(|c| {
                    let b: [u8; N] = c.try_into().unwrap();
                    (match order {
                        Order::Little => <$t>::from_le_bytes(b),
                        Order::Big => <$t>::from_be_bytes(b),
                    }) as f64
                })
                .collect()
        }};
    }
    Ok(match kind {
        MI_INT8 => read_as!(i8),
        MI_UINT8 => read_as!(u8),
        MI_INT16 => read_as!(i16),
        MI_UINT16 => read_as!(u16),
        MI_INT32 => read_as!(i32),
        MI_UINT32 => read_as!(u32),
        MI_SINGLE => read_as!(f32),
        MI_DOUBLE => read_as!(f64),
        MI_INT64 => read_as!(i64),
        MI_UINT64 => read_as!(u64),
        other => bail!("numbers stored as element type {other}, which is not numeric"),
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The bytes of a little-endian MAT-file holding `variables`, each `(name, dims, class,
    /// stored element type, payload bytes, logical)`, compressed when `compress` is set: a
    /// writer for the tests, covering what the reader must handle.
    pub(crate) struct Writer {
        bytes: Vec<u8>,
        compress: bool,
    }

    impl Writer {
        pub(crate) fn new(compress: bool) -> Self {
            let mut bytes = b"MATLAB 5.0 MAT-file, written by oddity's tests".to_vec();
            bytes.resize(116, b' ');
            bytes.extend_from_slice(&[0; 8]);
            bytes.extend_from_slice(&0x0100u16.to_le_bytes());
            bytes.extend_from_slice(b"IM");
            Writer { bytes, compress }
        }

        fn element(out: &mut Vec<u8>, kind: u32, data: &[u8]) {
            if data.len() <= 4 && kind != MI_MATRIX {
                out.extend_from_slice(&(((data.len() as u32) << 16) | kind).to_le_bytes());
                let mut padded = data.to_vec();
                padded.resize(4, 0);
                out.extend_from_slice(&padded);
            } else {
                out.extend_from_slice(&kind.to_le_bytes());
                out.extend_from_slice(&(data.len() as u32).to_le_bytes());
                out.extend_from_slice(data);
                out.resize(out.len().div_ceil(8) * 8, 0);
            }
        }

        /// Add a variable of MATLAB class number `class` whose values are stored as `kind`.
        pub(crate) fn variable(
            mut self,
            name: &str,
            dims: &[i32],
            class: u8,
            logical: bool,
            kind: u32,
            data: &[u8],
        ) -> Self {
            let mut payload = Vec::new();
            let flags = class as u32 | if logical { 0x0200 } else { 0 };
            let mut flag_bytes = flags.to_le_bytes().to_vec();
            flag_bytes.extend_from_slice(&[0; 4]);
            Self::element(&mut payload, MI_UINT32, &flag_bytes);
            let dim_bytes: Vec<u8> = dims.iter().flat_map(|d| d.to_le_bytes()).collect();
            Self::element(&mut payload, MI_INT32, &dim_bytes);
            Self::element(&mut payload, MI_INT8, name.as_bytes());
            Self::element(&mut payload, kind, data);
            let mut matrix = Vec::new();
            Self::element(&mut matrix, MI_MATRIX, &payload);
            if self.compress {
                use std::io::Write;
                let mut z =
                    flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
                z.write_all(&matrix).unwrap();
                let z = z.finish().unwrap();
                self.bytes.extend_from_slice(&MI_COMPRESSED.to_le_bytes());
                self.bytes
                    .extend_from_slice(&(z.len() as u32).to_le_bytes());
                self.bytes.extend_from_slice(&z);
            } else {
                self.bytes.extend_from_slice(&matrix);
            }
            self
        }

        pub(crate) fn finish(self) -> Vec<u8> {
            self.bytes
        }
    }

    pub(crate) fn u16_bytes(values: &[u16]) -> Vec<u8> {
        values.iter().flat_map(|v| v.to_le_bytes()).collect()
    }

    #[test]
    fn reads_stored_types_in_both_forms_compressed_or_not() {
        for compress in [false, true] {
            // A double-class cube stored as uint16 (as the ABU files), a logical map stored
            // as uint8 under a long name (the normal tag form), a small int16 vector.
            let cube: Vec<u16> = (0..2 * 3 * 2).map(|v| v * 1000).collect();
            let bytes = Writer::new(compress)
                .variable("data", &[2, 3, 2], 6, false, MI_UINT16, &u16_bytes(&cube))
                .variable(
                    "groundtruth",
                    &[2, 3],
                    9,
                    true,
                    MI_UINT8,
                    &[0, 1, 0, 0, 0, 1],
                )
                .variable(
                    "tiny",
                    &[1, 2],
                    10,
                    false,
                    MI_INT16,
                    &(-50i16).to_le_bytes().repeat(2),
                )
                .finish();
            let vars = parse(&bytes).unwrap();
            assert_eq!(vars.len(), 3);
            assert_eq!(vars[0].name, "data");
            assert_eq!(vars[0].class, "double");
            assert_eq!(vars[0].dims, vec![2, 3, 2]);
            let expected: Vec<f64> = cube.iter().map(|&v| v as f64).collect();
            assert_eq!(vars[0].values.as_deref(), Some(&expected[..]));
            assert_eq!(vars[1].name, "groundtruth");
            assert_eq!(vars[1].class, "logical");
            assert_eq!(
                vars[1].values.as_deref(),
                Some(&[0.0, 1.0, 0.0, 0.0, 0.0, 1.0][..])
            );
            assert_eq!(vars[2].values.as_deref(), Some(&[-50.0, -50.0][..]));
        }
    }

    #[test]
    fn refuses_hdf5_truncated_and_mismatched_files() {
        let mut v73 = b"MATLAB 7.3 MAT-file, Platform: GLNXA64".to_vec();
        v73.resize(600, 0);
        let err = format!("{:#}", parse(&v73).unwrap_err());
        assert!(err.contains("v7.3") && err.contains("-v7"), "{err}");

        let whole = Writer::new(false)
            .variable("data", &[2, 2], 6, false, MI_DOUBLE, &[0u8; 32])
            .finish();
        let err = format!("{:#}", parse(&whole[..whole.len() - 8]).unwrap_err());
        assert!(err.contains("past the end"), "{err}");

        let wrong = Writer::new(false)
            .variable("data", &[3, 2], 6, false, MI_DOUBLE, &[0u8; 32])
            .finish();
        let err = format!("{:#}", parse(&wrong).unwrap_err());
        assert!(
            err.contains("6 values") && err.contains("stores 4"),
            "{err}"
        );

        let err = format!("{:#}", parse(b"not a mat file").unwrap_err());
        assert!(err.contains("128-byte"), "{err}");
    }

    #[test]
    fn lists_non_numeric_variables_without_values() {
        let bytes = Writer::new(true)
            .variable("note", &[1, 2], 4, false, MI_UINT8, b"hi")
            .finish();
        let vars = parse(&bytes).unwrap();
        assert_eq!(vars[0].class, "char");
        assert_eq!(vars[0].values, None);
    }
}
