//! Request bodies into samples: images decoded and fitted to the run's input, table rows
//! checked for width and finiteness — each problem a [`Rejection`] naming it.

use super::Limits;
use crate::data::{SampleShape, quoted_head};
use axum::http::StatusCode;
use std::io::Cursor;

/// A request refused: its HTTP status and what was wrong.
#[derive(Clone, Debug, PartialEq)]
pub struct Rejection {
    /// The status (4xx for the client's mistakes, 5xx for the server's state).
    pub status: StatusCode,
    /// What was wrong, for the JSON body `{"error": …}`.
    pub message: String,
}

impl Rejection {
    /// `400 Bad Request` with `message`.
    pub fn bad(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// A rejection with any status.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Rejection {
            status,
            message: message.into(),
        }
    }
}

/// What a scoring request carries.
#[derive(Clone, Debug, PartialEq)]
pub enum ScoreInput {
    /// Encoded images (PNG or JPEG), one per item.
    Images(Vec<Vec<u8>>),
    /// Table rows in the run's raw feature units.
    Rows(Vec<Vec<f64>>),
}

impl ScoreInput {
    /// Number of items.
    pub fn len(&self) -> usize {
        match self {
            ScoreInput::Images(i) => i.len(),
            ScoreInput::Rows(r) => r.len(),
        }
    }

    /// Whether it carries nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The items as raw sample values of `shape`, the model's raw input, flattened; images
    /// [`Fitting::Stretched`] to it.
    pub fn to_values(&self, shape: SampleShape, limits: &Limits) -> Result<Vec<f32>, Rejection> {
        self.to_values_fitted(shape, limits, Fitting::Stretched)
    }

    /// [`ScoreInput::to_values`], images brought to `shape` by `fitting`.
    pub fn to_values_fitted(
        &self,
        shape: SampleShape,
        limits: &Limits,
        fitting: Fitting,
    ) -> Result<Vec<f32>, Rejection> {
        if self.is_empty() {
            return Err(Rejection::bad("the request holds no image and no row"));
        }
        if self.len() > limits.max_items {
            return Err(Rejection::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "the request holds {} items; at most {} per request",
                    self.len(),
                    limits.max_items
                ),
            ));
        }
        let mut values = Vec::with_capacity(self.len() * shape.len());
        match (self, shape) {
            (
                ScoreInput::Images(images),
                SampleShape::Image {
                    channels,
                    height,
                    width,
                },
            ) => {
                let numbered = |i: usize| {
                    move |r: Rejection| Rejection {
                        message: format!("image {}: {}", i + 1, r.message),
                        ..r
                    }
                };
                // Every image's size from its header first: the request's decoding work is
                // bounded before any of it is done.
                let mut pixels = 0u64;
                for (i, bytes) in images.iter().enumerate() {
                    let (w, h) = image_size(bytes, limits).map_err(numbered(i))?;
                    pixels += w as u64 * h as u64;
                }
                if pixels > limits.max_request_pixels {
                    return Err(Rejection::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        format!(
                            "the request's images hold {pixels} pixels together; at most {} per \
                             request: send fewer or smaller images",
                            limits.max_request_pixels
                        ),
                    ));
                }
                for (i, bytes) in images.iter().enumerate() {
                    decode_image(
                        bytes,
                        [channels, height, width],
                        limits,
                        fitting,
                        &mut values,
                    )
                    .map_err(numbered(i))?;
                }
            }
            (ScoreInput::Rows(rows), SampleShape::Table { features }) => {
                for (i, row) in rows.iter().enumerate() {
                    if row.len() != features {
                        return Err(Rejection::bad(format!(
                            "row {} has {} values; the model takes {features} features",
                            i + 1,
                            row.len()
                        )));
                    }
                    for (j, &v) in row.iter().enumerate() {
                        let f = v as f32;
                        if !f.is_finite() {
                            return Err(Rejection::bad(format!(
                                "row {} feature {}: {v} is not a finite 32-bit number",
                                i + 1,
                                j + 1
                            )));
                        }
                        values.push(f);
                    }
                }
            }
            (ScoreInput::Images(_), SampleShape::Table { .. }) => {
                return Err(Rejection::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "this model scores table rows: send {\"rows\": [[…], …]} as JSON or CSV",
                ));
            }
            (ScoreInput::Rows(_), SampleShape::Image { .. }) => {
                return Err(Rejection::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "this model scores images: send a PNG or JPEG, or a multipart form of them",
                ));
            }
        }
        Ok(values)
    }
}

fn image_reader(bytes: &[u8]) -> Result<image::ImageReader<Cursor<&[u8]>>, Rejection> {
    image::ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| Rejection::bad(format!("cannot read it: {e}")))
}

/// A PNG's or JPEG's width and height from its header, each side checked against the limit;
/// another format is refused.
fn image_size(bytes: &[u8], limits: &Limits) -> Result<(u32, u32), Rejection> {
    let reader = image_reader(bytes)?;
    if !matches!(
        reader.format(),
        Some(image::ImageFormat::Png | image::ImageFormat::Jpeg)
    ) {
        return Err(Rejection::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "not a PNG or JPEG image",
        ));
    }
    let side = limits.max_image_side;
    let (w, h) = reader.into_dimensions().map_err(|e| match e {
        // The decoder's own guard against a header declaring a huge image.
        image::ImageError::Limits(_) => Rejection::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "its header declares a size past the decoder's limits; each side must be \
                 within 1–{side}"
            ),
        ),
        e => Rejection::bad(format!("cannot read its size: {e}")),
    })?;
    if w > side || h > side || w == 0 || h == 0 {
        return Err(Rejection::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("it is {w}×{h} pixels; each side must be within 1–{side}"),
        ));
    }
    Ok((w, h))
}

/// How an uploaded image is brought to the model's input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fitting {
    /// A detector's: colour turned grey by luma (or grey to colour), another size resized to
    /// the input (bilinear), as the detectors' loaders and `--decode-size` do.
    Stretched,
    /// An OOD classifier's, as `oddity ood score --images image-folder:` reads a file: colour
    /// turned grey by luma (or grey to colour), resized whole (bilinear) to a square input's
    /// side; a non-square input's images centre-padded or cropped to it
    /// ([`crate::ood::data::fit_image`]) rather than stretched.
    AsImageFolder,
}

/// Decode one PNG or JPEG and append it channels first (values 0–255) at the model's raw input
/// `[channels, height, width]`, brought there by `fitting`. The caller has checked its format
/// and size with [`image_size`]; the decoder is held to the same side limit.
fn decode_image(
    bytes: &[u8],
    [channels, height, width]: [usize; 3],
    limits: &Limits,
    fitting: Fitting,
    out: &mut Vec<f32>,
) -> Result<(), Rejection> {
    let side = limits.max_image_side;
    let mut decoder = image_reader(bytes)?;
    let mut image_limits = image::Limits::default();
    image_limits.max_image_width = Some(side);
    image_limits.max_image_height = Some(side);
    decoder.limits(image_limits);
    let img = decoder
        .decode()
        .map_err(|e| Rejection::bad(format!("cannot decode it: {e}")))?;
    let resize = |img: image::DynamicImage, w: usize, h: usize| {
        if (img.width() as usize, img.height() as usize) != (w, h) {
            img.resize_exact(w as u32, h as u32, image::imageops::FilterType::Triangle)
        } else {
            img
        }
    };
    match fitting {
        Fitting::Stretched => {
            let img = resize(img, width, height);
            crate::data::image_folder::push_planar(out, &img, channels);
        }
        Fitting::AsImageFolder => {
            let img = if height == width {
                resize(img, width, height)
            } else {
                img
            };
            let mut pixels = Vec::new();
            crate::data::image_folder::push_planar(&mut pixels, &img, channels);
            let from = [channels, img.height() as usize, img.width() as usize];
            let fitted = crate::ood::data::fit_image(&pixels, from, [channels, height, width])
                .map_err(|e| Rejection::bad(format!("{e:#}")))?;
            out.extend(fitted);
        }
    }
    Ok(())
}

fn too_many_rows(max_items: usize) -> Rejection {
    Rejection::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("the request holds more than {max_items} rows; at most {max_items} per request"),
    )
}

/// Rows from `{"rows": [[x1, x2, …], …]}`, at most `max_items` of them (counted before the
/// body is parsed).
pub fn rows_from_json(body: &[u8], max_items: usize) -> Result<Vec<Vec<f64>>, Rejection> {
    // A byte-order mark is not JSON, but editors write one.
    let body = body.strip_prefix("\u{feff}".as_bytes()).unwrap_or(body);
    if json_rows(body) > max_items {
        return Err(too_many_rows(max_items));
    }
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Body {
        rows: Vec<Vec<f64>>,
    }
    serde_json::from_slice::<Body>(body)
        .map(|b| b.rows)
        .map_err(|e| {
            Rejection::bad(format!(
                "the JSON body must be {{\"rows\": [[x1, x2, …], …]}} of numbers: {e}"
            ))
        })
}

/// How many rows a JSON body `{"rows": [[…], …]}` holds, counted before it is parsed (so that a
/// body of many tiny rows is refused before it is held as vectors): the arrays opened two levels
/// down (in the object, in its list), strings skipped. Deeper arrays are not rows; the parser
/// refuses them.
fn json_rows(body: &[u8]) -> usize {
    let (mut depth, mut rows) = (0usize, 0usize);
    let (mut in_string, mut escaped) = (false, false);
    for &b in body {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                rows += usize::from(b == b'[' && depth == 2);
                depth += 1;
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    rows
}

/// Rows from CSV text: one row per line, numbers separated by commas. The first line is a
/// header when `header` says so; when it says nothing, when none of its cells is a number. A
/// first line of the column numbers `0,1,…,n−1` (the header pandas writes for unnamed
/// columns) is then refused as ambiguous: it is a row of numbers too. More than `max_items`
/// rows is refused as soon as the next row is reached. With the rows come the header's column
/// names, when the first line is one.
pub fn rows_from_csv(
    body: &[u8],
    max_items: usize,
    header: Option<bool>,
) -> Result<(Vec<Vec<f64>>, Option<Vec<String>>), Rejection> {
    let text =
        std::str::from_utf8(body).map_err(|_| Rejection::bad("the CSV body is not UTF-8 text"))?;
    // A byte-order mark (Excel's "CSV UTF-8") is not part of the first cell.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut rows = Vec::new();
    let mut names = None;
    let mut first = true;
    // A first line taken for a header because no cell of it is a number: named if it was all.
    let mut guessed_header = None;
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let cells: Vec<Result<f64, _>> = line.split(',').map(|c| c.trim().parse()).collect();
        if std::mem::take(&mut first) {
            let skip = match header {
                Some(header) => header,
                None if cells.iter().all(Result::is_err) => {
                    guessed_header = Some(line);
                    true
                }
                None if are_column_numbers(line) => {
                    return Err(Rejection::bad(format!(
                        "CSV line {}: {} may be a header of column numbers or a row: \
                         say which with header=true or header=false",
                        n + 1,
                        quoted_head(line)
                    )));
                }
                None => false,
            };
            if skip {
                names = Some(header_names(line));
                continue;
            }
        }
        if rows.len() == max_items {
            return Err(too_many_rows(max_items));
        }
        let parsed: Result<Vec<f64>, _> = cells.into_iter().collect();
        match parsed {
            Ok(row) => rows.push(row),
            Err(_) => {
                return Err(Rejection::bad(format!(
                    "CSV line {}: {} is not a row of numbers",
                    n + 1,
                    quoted_head(line)
                )));
            }
        }
    }
    if let (true, Some(line)) = (rows.is_empty(), guessed_header) {
        return Err(Rejection::bad(format!(
            "the CSV body's one line, {}, was read as a header (no cell of it is a number; \
             cells are separated by commas) and no row follows",
            quoted_head(line)
        )));
    }
    Ok((rows, names))
}

/// The column names of a CSV header line, read as the training data's header is (quoted
/// names unquoted, spaces around them trimmed).
fn header_names(line: &str) -> Vec<String> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(line.as_bytes());
    match reader.records().next() {
        Some(Ok(record)) => record.iter().map(|c| c.trim().to_string()).collect(),
        _ => line.split(',').map(|c| c.trim().to_string()).collect(),
    }
}

/// Whether `line` is `0,1,…,n−1` written as integers, with at least two cells.
fn are_column_numbers(line: &str) -> bool {
    let cells: Vec<&str> = line.split(',').map(str::trim).collect();
    cells.len() >= 2
        && cells
            .iter()
            .enumerate()
            .all(|(i, cell)| *cell == i.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(w: u32, h: u32, grey: u8) -> Vec<u8> {
        let img = image::GrayImage::from_pixel(w, h, image::Luma([grey]));
        let mut bytes = Vec::new();
        img.write_to(&mut Cursor::new(&mut bytes), image::ImageFormat::Png)
            .unwrap();
        bytes
    }

    const MNIST: SampleShape = SampleShape::Image {
        channels: 1,
        height: 28,
        width: 28,
    };

    /// PNG's chunk checksum (CRC-32, as zlib's), to write a header by hand.
    fn crc32(bytes: &[u8]) -> u32 {
        let mut c = !0u32;
        for &b in bytes {
            c ^= u32::from(b);
            for _ in 0..8 {
                c = if c & 1 == 1 {
                    (c >> 1) ^ 0xEDB8_8320
                } else {
                    c >> 1
                };
            }
        }
        !c
    }

    #[test]
    fn images_are_decoded_fitted_and_limited() {
        let limits = Limits::default();
        let same = ScoreInput::Images(vec![png(28, 28, 7)]);
        assert_eq!(same.to_values(MNIST, &limits).unwrap(), vec![7.0; 784]);
        let larger = ScoreInput::Images(vec![png(56, 40, 9), png(28, 28, 1)]);
        let v = larger.to_values(MNIST, &limits).unwrap();
        assert_eq!(v.len(), 2 * 784);
        assert!(v[..784].iter().all(|&x| (x - 9.0).abs() < 1e-4));
        let colour = SampleShape::Image {
            channels: 3,
            height: 28,
            width: 28,
        };
        assert_eq!(same.to_values(colour, &limits).unwrap().len(), 3 * 784);

        let small = Limits {
            max_image_side: 30,
            ..limits
        };
        let e = larger.to_values(MNIST, &small).unwrap_err();
        assert_eq!(e.status, StatusCode::PAYLOAD_TOO_LARGE);
        assert!(
            e.message.starts_with("image 1:") && e.message.contains("56×40"),
            "{e:?}"
        );
        // A header declaring a side past the decoder's own memory guard: the same 413.
        let mut vast = png(28, 28, 3);
        vast[16..20].copy_from_slice(&i32::MAX.to_be_bytes());
        let crc = crc32(&vast[12..29]);
        vast[29..33].copy_from_slice(&crc.to_be_bytes());
        let e = ScoreInput::Images(vec![vast])
            .to_values(MNIST, &limits)
            .unwrap_err();
        assert_eq!(e.status, StatusCode::PAYLOAD_TOO_LARGE, "{e:?}");
        assert!(e.message.contains("1–4096"), "{e:?}");
        let e = ScoreInput::Images(vec![b"GIF89a....".to_vec()])
            .to_values(MNIST, &limits)
            .unwrap_err();
        assert_eq!(e.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        let mut truncated = png(28, 28, 3);
        truncated.truncate(truncated.len() / 2);
        let e = ScoreInput::Images(vec![png(28, 28, 3), truncated])
            .to_values(MNIST, &limits)
            .unwrap_err();
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        assert!(e.message.starts_with("image 2:"), "{e:?}");
        // The pixels of every image together, from their headers, before any is decoded: a
        // damaged second image is not reached.
        let mut damaged = png(56, 40, 3);
        damaged.truncate(damaged.len() - 20);
        let budget = Limits {
            max_request_pixels: 2 * 56 * 40 - 1,
            ..limits
        };
        let e = ScoreInput::Images(vec![png(56, 40, 9), damaged.clone()])
            .to_values(MNIST, &budget)
            .unwrap_err();
        assert_eq!(e.status, StatusCode::PAYLOAD_TOO_LARGE);
        assert!(
            e.message.contains("4480 pixels") && e.message.contains("at most 4479"),
            "{e:?}"
        );
        let e = ScoreInput::Images(vec![png(56, 40, 9), damaged])
            .to_values(
                MNIST,
                &Limits {
                    max_request_pixels: 2 * 56 * 40,
                    ..limits
                },
            )
            .unwrap_err();
        assert_eq!(e.status, StatusCode::BAD_REQUEST, "{e:?}");
        let many = ScoreInput::Images(vec![png(1, 1, 0); 3]);
        let few = Limits {
            max_items: 2,
            ..limits
        };
        assert_eq!(
            many.to_values(MNIST, &few).unwrap_err().status,
            StatusCode::PAYLOAD_TOO_LARGE
        );
        let e = ScoreInput::Rows(vec![vec![1.0]])
            .to_values(MNIST, &limits)
            .unwrap_err();
        assert_eq!(e.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    }

    #[test]
    fn rows_are_checked() {
        let limits = Limits::default();
        let table = SampleShape::Table { features: 3 };
        let rows = rows_from_json(br#"{"rows": [[1, 2, 3], [4.5, -1, 0]]}"#, 9).unwrap();
        assert_eq!(
            ScoreInput::Rows(rows).to_values(table, &limits).unwrap(),
            vec![1.0, 2.0, 3.0, 4.5, -1.0, 0.0]
        );
        let (csv, names) = rows_from_csv(b"a, b,c\n1,2,3\n\n4.5, -1, 0\n", 9, None).unwrap();
        assert_eq!(csv, vec![vec![1.0, 2.0, 3.0], vec![4.5, -1.0, 0.0]]);
        assert_eq!(names.unwrap(), ["a", "b", "c"]);
        // R's quoted names and Excel's byte-order mark name the same columns.
        let (_, names) =
            rows_from_csv("\u{feff}\"a\",\"b\",c\n1,2,3\n".as_bytes(), 9, None).unwrap();
        assert_eq!(names.unwrap(), ["a", "b", "c"]);
        assert!(
            rows_from_csv(b"1,2,3\nx,2,3\n", 9, None)
                .unwrap_err()
                .message
                .contains("line 2")
        );
        // A first line with a number in it is a bad row, not a header to skip silently.
        assert!(
            rows_from_csv(b"1,b,3\n1,2,3\n", 9, None)
                .unwrap_err()
                .message
                .contains("line 1")
        );
        // pandas' header of unnamed columns is a row of numbers too: said, or refused.
        let numbered = b"0,1,2\n1,2,3\n";
        let e = rows_from_csv(numbered, 9, None).unwrap_err();
        assert!(e.message.contains("header=true"), "{}", e.message);
        assert_eq!(
            rows_from_csv(numbered, 9, Some(true)).unwrap(),
            (
                vec![vec![1.0, 2.0, 3.0]],
                Some(vec!["0".into(), "1".into(), "2".into()])
            )
        );
        assert_eq!(
            rows_from_csv(numbered, 9, Some(false)).unwrap(),
            (vec![vec![0.0, 1.0, 2.0], vec![1.0, 2.0, 3.0]], None)
        );
        assert_eq!(rows_from_csv(b"0,2,2\n", 9, None).unwrap().0.len(), 1);
        assert!(rows_from_json(br#"{"rows": [[1, "a"]]}"#, 9).is_err());
        assert!(rows_from_json(br#"{"rows": [[1]], "x": 1}"#, 9).is_err());
        assert!(rows_from_json(b"[1, 2]", 9).is_err());
        // Too many rows, refused before they are all parsed.
        let three = b"1\n2\n3\n";
        assert_eq!(rows_from_csv(three, 3, None).unwrap().0.len(), 3);
        let e = rows_from_csv(three, 2, None).unwrap_err();
        assert_eq!(e.status, StatusCode::PAYLOAD_TOO_LARGE);
        let json = br#"{"rows": [[1], [2], [3]]}"#;
        assert_eq!(rows_from_json(json, 3).unwrap().len(), 3);
        let e = rows_from_json(json, 2).unwrap_err();
        assert_eq!(e.status, StatusCode::PAYLOAD_TOO_LARGE);
        // Rows are the arrays in the list: not deeper ones, not brackets in strings.
        assert_eq!(json_rows(br#"{"rows": [[1, [2]], [[3]]], "a[": "]["}"#), 2);
        let nested = format!("{{\"rows\": [{}1{}]}}", "[".repeat(50), "]".repeat(50));
        let e = rows_from_json(nested.as_bytes(), 2).unwrap_err();
        assert_eq!(e.status, StatusCode::BAD_REQUEST, "{}", e.message);
        let marked = "\u{feff}{\"rows\": [[1]]}";
        assert_eq!(
            rows_from_json(marked.as_bytes(), 2).unwrap(),
            vec![vec![1.0]]
        );
        // A line of any length comes back as its first 100 characters.
        let long = format!("{}\n", "x;".repeat(50_000));
        let e = rows_from_csv(long.as_bytes(), 9, None).unwrap_err();
        assert!(
            e.message.len() < 400 && e.message.contains("…"),
            "{}",
            e.message
        );
        assert_eq!(quoted_head("a,b"), "\"a,b\"");
        // One line with no number is taken for a header, and said so when no row follows.
        let e = rows_from_csv(b"5;1;1\n", 9, None).unwrap_err();
        assert!(e.message.contains("read as a header"), "{}", e.message);
        assert!(rows_from_csv(b"a,b\n", 9, Some(true)).unwrap().0.is_empty());
        let e = ScoreInput::Rows(vec![vec![1.0, 2.0, 3.0], vec![1.0, 2.0]])
            .to_values(table, &limits)
            .unwrap_err();
        assert!(e.message.contains("row 2 has 2 values") && e.message.contains("3 features"));
        let e = ScoreInput::Rows(vec![vec![1.0, 1e300, 3.0]])
            .to_values(table, &limits)
            .unwrap_err();
        assert!(e.message.contains("row 1 feature 2"), "{e:?}");
        let e = ScoreInput::Rows(vec![])
            .to_values(table, &limits)
            .unwrap_err();
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
    }
}
