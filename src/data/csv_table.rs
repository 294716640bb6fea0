//! A generic CSV table: a header row, one named label column, every other column numeric.
//! Classes are the distinct label values, sorted as text.

use super::{LabelledSet, SampleShape, quoted_head};
use anyhow::{Context, bail, ensure};
use std::path::Path;

/// Parse CSV text whose label column is `label_column`. `name` is used in errors.
pub fn parse(text: &[u8], label_column: &str, name: &str) -> crate::Result<LabelledSet> {
    parse_table(text, Some(label_column), name)
}

/// The class name of every row of a table read without labels ([`load_unlabelled`]).
pub const UNLABELLED: &str = "unlabelled";

/// Parse CSV text with a label column (`Some`), or without one: every column is a feature
/// and every row has the one class [`UNLABELLED`].
fn parse_table(text: &[u8], label_column: Option<&str>, name: &str) -> crate::Result<LabelledSet> {
    let mut reader = csv::Reader::from_reader(text);
    let headers = reader
        .headers()
        .with_context(|| format!("{name}: cannot read the CSV header"))?
        .clone();
    check_unique_columns(&headers, name)?;
    let label_at = match label_column {
        Some(label_column) => {
            let Some(at) = headers.iter().position(|h| names_column(h, label_column)) else {
                bail!(
                    "{name}: no label column {label_column:?}; the columns are {}",
                    shown(headers.iter())
                );
            };
            Some(at)
        }
        None => None,
    };
    let label_column = label_column.unwrap_or_default();
    let features = headers.len() - usize::from(label_at.is_some());
    ensure!(
        features > 0,
        "{name}: no feature columns besides {label_column:?}"
    );
    let mut values = Vec::new();
    let mut labels = Vec::new();
    for (line, record) in reader.records().enumerate() {
        let line = line + 2; // 1-based, after the header
        let record = record.with_context(|| format!("{name}: line {line}: bad CSV"))?;
        ensure!(
            record.len() == headers.len(),
            "{name}: line {line}: {} columns, the header has {}",
            record.len(),
            headers.len()
        );
        if label_at.is_none() {
            labels.push(UNLABELLED.to_string());
        }
        for (c, field) in record.iter().enumerate() {
            if Some(c) == label_at {
                ensure!(
                    !field.trim().is_empty(),
                    "{name}: line {line}: the label ({label_column:?}) is empty"
                );
                labels.push(field.trim().to_string());
                continue;
            }
            let v: f32 = field.trim().parse().map_err(|_| {
                anyhow::anyhow!(
                    "{name}: line {line}, column {}: {} is not a number",
                    quoted_head(&headers[c]),
                    quoted_head(field)
                )
            })?;
            ensure!(
                v.is_finite() || !field.trim().parse::<f64>().is_ok_and(f64::is_finite),
                "{name}: line {line}, column {}: value {} is beyond the range of 32-bit floats \
                 (±3.4e38); rescale the column",
                quoted_head(&headers[c]),
                quoted_head(field)
            );
            ensure!(
                v.is_finite(),
                "{name}: line {line}, column {}: value {} is not finite (NaN or infinite values \
                 are not accepted; impute them first)",
                quoted_head(&headers[c]),
                quoted_head(field)
            );
            values.push(v);
        }
    }
    ensure!(!labels.is_empty(), "{name}: no data rows");
    let mut class_names = labels.clone();
    class_names.sort();
    class_names.dedup();
    let classes = labels
        .iter()
        .map(|l| class_names.binary_search(l).unwrap() as u32)
        .collect();
    Ok(LabelledSet {
        layout: None,
        masks: None,
        values,
        shape: SampleShape::Table { features },
        classes,
        class_names,
    })
}

/// The header of a CSV file (raw or gzip), read without reading the rest of the file.
fn header_of(path: &Path) -> crate::Result<csv::StringRecord> {
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let text = crate::io::maybe_gz_reader(file)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let name = path.display().to_string();
    let headers = (csv::Reader::from_reader(text).headers().cloned())
        .with_context(|| format!("{name}: cannot read the CSV header"))?;
    check_unique_columns(&headers, &name)?;
    Ok(headers)
}

/// Refuse a header that names a column twice (`name` in the error): which of the two would
/// be the label, or the feature, is anyone's guess.
fn check_unique_columns(headers: &csv::StringRecord, name: &str) -> crate::Result<()> {
    let mut seen = std::collections::BTreeSet::new();
    for h in headers.iter() {
        ensure!(
            seen.insert(h.trim()),
            "{name}: the column {} appears twice in the header",
            quoted_head(h.trim())
        );
    }
    Ok(())
}

/// The feature columns' names of a CSV file (raw or gzip), in order: every column of its header
/// but `label_column`.
pub fn feature_names(path: &Path, label_column: &str) -> crate::Result<Vec<String>> {
    Ok(header_of(path)?
        .iter()
        .filter(|h| !names_column(h, label_column))
        .map(|h| h.trim().to_string())
        .collect())
}

/// Refuse feature columns `found` (in `name`) that are not the run's `expected` ones in the
/// same order: a model scores columns by position, so renamed or reordered columns would be
/// scored as the wrong features without a word.
pub fn check_same_columns(expected: &[String], found: &[String], name: &str) -> crate::Result<()> {
    if expected == found {
        return Ok(());
    }
    let trained = shown(expected.iter().map(String::as_str));
    if expected.len() != found.len() {
        bail!(
            "{name}: {} feature columns, the run was trained on {}: {trained}",
            found.len(),
            expected.len()
        );
    }
    let at = expected
        .iter()
        .zip(found)
        .position(|(e, f)| e != f)
        .unwrap_or(0);
    let reordered = {
        let (mut a, mut b) = (expected.to_vec(), found.to_vec());
        a.sort();
        b.sort();
        a == b
    };
    bail!(
        "{name}: feature column {} is {}, the run was trained with {} there{}; the columns \
         must be the training data's, in its order: {trained}",
        at + 1,
        quoted_head(&found[at]),
        quoted_head(&expected[at]),
        if reordered {
            " (the same columns in another order)"
        } else {
            ""
        }
    )
}

/// Column names for an error message: the first twenty, each cut to 100 characters, then how
/// many more.
fn shown<'a>(mut names: impl Iterator<Item = &'a str>) -> String {
    let first: Vec<String> = names.by_ref().take(20).map(quoted_head).collect();
    let list = format!("[{}]", first.join(", "));
    match names.count() {
        0 => list,
        more => format!("{list} and {more} more"),
    }
}

/// Whether the CSV file (raw or gzip) at `path` has a column `label_column` in its header.
pub fn has_column(path: &Path, label_column: &str) -> crate::Result<bool> {
    Ok(header_of(path)?
        .iter()
        .any(|h| names_column(h, label_column)))
}

/// Whether the header cell `header` is the column `name`: blanks around either are no part of
/// a name.
fn names_column(header: &str, name: &str) -> bool {
    header.trim() == name.trim()
}

/// Load a CSV file (raw or gzip) that has no label column, to be scored: every column is a
/// feature, every row of the class [`UNLABELLED`].
pub fn load_unlabelled(path: &Path) -> crate::Result<LabelledSet> {
    let bytes = crate::io::read_maybe_gz(path)?;
    parse_table(&bytes, None, &path.display().to_string())
}

/// Load a CSV file (raw or gzip).
pub fn load(path: &Path, label_column: &str) -> crate::Result<LabelledSet> {
    let bytes = crate::io::read_maybe_gz(path)?;
    parse(&bytes, label_column, &path.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_names_bad_cells() {
        let set = parse(b"a,b,label\n1,2,x\n3,4,y\n5,6,x\n", "label", "t.csv").unwrap();
        assert_eq!(set.shape.len(), 2);
        assert_eq!(set.classes, vec![0, 1, 0]);
        assert_eq!(set.sample(1), &[3.0, 4.0]);
        let err = parse(b"a,label\nNaN,x\n", "label", "t.csv")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("t.csv") && err.contains("line 2") && err.contains("not finite"),
            "{err}"
        );
        let err = parse(b"a,b\n1,2\n", "label", "t.csv")
            .unwrap_err()
            .to_string();
        assert!(err.contains("no label column"), "{err}");
        // Blanks around a name are no part of it, in the header or the option.
        let set = parse(b"a, label\n1,x\n2,y\n", " label", "t.csv").unwrap();
        assert_eq!(set.classes, vec![0, 1]);
        assert_eq!(set.class_names, vec!["x", "y"]);
    }

    /// A header's names are echoed cut to 100 characters each and twenty in all, whatever the
    /// file holds.
    #[test]
    fn column_names_in_messages_are_cut() {
        let long = "c".repeat(5_000);
        let trained: Vec<String> = (0..500).map(|i| format!("f{i}")).collect();
        let mut found = trained.clone();
        found[3] = long.clone();
        let err = check_same_columns(&trained, &found, "t.csv")
            .unwrap_err()
            .to_string();
        assert!(
            err.len() < 800 && err.contains("feature column 4") && err.contains("and 480 more"),
            "{err}"
        );
        let err = check_same_columns(&trained, &found[..2], "t.csv")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("2 feature columns") && err.len() < 600,
            "{err}"
        );
        let header = format!("{long},{long},label\n1,2,0\n");
        let err = parse(header.as_bytes(), "label", "t.csv")
            .unwrap_err()
            .to_string();
        assert!(err.contains("appears twice") && err.len() < 300, "{err}");
        let distinct = format!("{long}a,{long}b,label\n1,2,0\n");
        let err = parse(distinct.as_bytes(), "y", "t.csv")
            .unwrap_err()
            .to_string();
        assert!(err.contains("no label column") && err.len() < 600, "{err}");
    }
}
