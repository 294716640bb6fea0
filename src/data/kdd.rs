//! KDDCUP99 connection records: CSV, 41 features then a label such as `normal.` or `smurf.`.
//!
//! The seven symbolic or binary columns (0-based 1, 2, 3, 6, 11, 20, 21: protocol, service,
//! flag, land, logged_in, is_host_login, is_guest_login) are one-hot encoded as the EGBAD/ALAD
//! code does with `pandas.get_dummies` on the 10 % file: the 34 numeric columns first, in file
//! order, then each encoded column's categories in sorted order, 121 features in all. The
//! categories are those present in `kddcup.data_10_percent`; a value outside them (the
//! `corrected` file has a few new services) encodes as all zeros in its group, as
//! `get_dummies` on the training file followed by column alignment would.

use super::{LabelledSet, SampleShape, quoted_head};
use anyhow::{Context, bail, ensure};
use std::collections::BTreeMap;
use std::path::Path;

/// The one-hot encoded columns (0-based) and their categories, in output order.
pub const SYMBOLIC: [(usize, &[&str]); 7] = [
    (1, &["icmp", "tcp", "udp"]),
    (
        2,
        &[
            "IRC",
            "X11",
            "Z39_50",
            "auth",
            "bgp",
            "courier",
            "csnet_ns",
            "ctf",
            "daytime",
            "discard",
            "domain",
            "domain_u",
            "echo",
            "eco_i",
            "ecr_i",
            "efs",
            "exec",
            "finger",
            "ftp",
            "ftp_data",
            "gopher",
            "hostnames",
            "http",
            "http_443",
            "imap4",
            "iso_tsap",
            "klogin",
            "kshell",
            "ldap",
            "link",
            "login",
            "mtp",
            "name",
            "netbios_dgm",
            "netbios_ns",
            "netbios_ssn",
            "netstat",
            "nnsp",
            "nntp",
            "ntp_u",
            "other",
            "pm_dump",
            "pop_2",
            "pop_3",
            "printer",
            "private",
            "red_i",
            "remote_job",
            "rje",
            "shell",
            "smtp",
            "sql_net",
            "ssh",
            "sunrpc",
            "supdup",
            "systat",
            "telnet",
            "tftp_u",
            "tim_i",
            "time",
            "urh_i",
            "urp_i",
            "uucp",
            "uucp_path",
            "vmnet",
            "whois",
        ],
    ),
    (
        3,
        &[
            "OTH", "REJ", "RSTO", "RSTOS0", "RSTR", "S0", "S1", "S2", "S3", "SF", "SH",
        ],
    ),
    (6, &["0", "1"]),
    (11, &["0", "1"]),
    (20, &["0"]),
    (21, &["0", "1"]),
];

/// Number of encoded features.
pub const FEATURES: usize = 121;

/// Parse KDDCUP99 CSV text (already gunzipped). `name` is used in errors.
pub fn parse(text: &[u8], name: &str) -> crate::Result<LabelledSet> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(text);
    let mut values = Vec::new();
    let mut classes = Vec::new();
    let mut label_ids: BTreeMap<String, u32> = BTreeMap::new();
    let mut names: Vec<String> = Vec::new();
    let symbolic_cols: Vec<usize> = SYMBOLIC.iter().map(|s| s.0).collect();
    let mut row_values = vec![0f32; FEATURES];
    for (line, record) in reader.records().enumerate() {
        let record = record.with_context(|| format!("{name}: line {}: bad CSV", line + 1))?;
        ensure!(
            record.len() == 42,
            "{name}: line {}: {} columns, expected 42 (41 features and a label)",
            line + 1,
            record.len()
        );
        row_values.iter_mut().for_each(|v| *v = 0.0);
        let mut k = 0;
        for (c, field) in record.iter().take(41).enumerate() {
            if symbolic_cols.contains(&c) {
                continue;
            }
            let v: f32 = field.trim().parse().map_err(|_| {
                anyhow::anyhow!(
                    "{name}: line {}, column {}: {} is not a number",
                    line + 1,
                    c + 1,
                    quoted_head(field)
                )
            })?;
            ensure!(
                v.is_finite(),
                "{name}: line {}, column {}: value {} is not finite",
                line + 1,
                c + 1,
                quoted_head(field)
            );
            row_values[k] = v;
            k += 1;
        }
        for (col, categories) in SYMBOLIC {
            if let Some(pos) = categories.iter().position(|c| *c == record[col].trim()) {
                row_values[k + pos] = 1.0;
            }
            k += categories.len();
        }
        debug_assert_eq!(k, FEATURES);
        values.extend_from_slice(&row_values);
        let label = record[41].trim();
        let id = *label_ids.entry(label.to_string()).or_insert_with(|| {
            names.push(label.to_string());
            (names.len() - 1) as u32
        });
        classes.push(id);
    }
    if classes.is_empty() {
        bail!("{name}: no KDDCUP99 records");
    }
    Ok(LabelledSet {
        layout: None,
        masks: None,
        values,
        shape: SampleShape::Table { features: FEATURES },
        classes,
        class_names: names,
    })
}

/// Load a KDDCUP99 CSV file, raw or gzip.
pub fn load(path: &Path) -> crate::Result<LabelledSet> {
    let bytes = crate::io::read_maybe_gz(path)?;
    parse(&bytes, &path.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROW: &str = "0,tcp,http,SF,181,5450,0,0,0,0,0,1,0,0,0,0,0,0,0,0,0,0,8,8,0.00,0.00,0.00,0.00,1.00,0.00,0.00,9,9,1.00,0.00,0.11,0.00,0.00,0.00,0.00,0.00,normal.";

    #[test]
    fn one_hot_gives_121_features() {
        let text = format!("{ROW}\n{}\n", ROW.replace("normal.", "smurf."));
        let set = parse(text.as_bytes(), "k.csv").unwrap();
        assert_eq!(set.shape.len(), 121);
        assert_eq!(set.class_names, vec!["normal.", "smurf."]);
        let row = set.sample(0);
        // numeric block: 34 values; src_bytes is the second numeric column
        assert_eq!(row[1], 181.0);
        // 'tcp' is the second protocol category, right after the numeric block
        assert_eq!(&row[34..37], &[0.0, 1.0, 0.0]);
        // exactly one hot per symbolic group: 7 ones in the one-hot block
        assert_eq!(row[34..].iter().filter(|&&v| v == 1.0).count(), 7);
    }

    #[test]
    fn bad_rows_are_named() {
        let err = parse(b"1,2,3\n", "k.csv").unwrap_err().to_string();
        assert!(err.contains("k.csv") && err.contains("3 columns"), "{err}");
        let bad = ROW.replacen("181", "NaN", 1);
        let err = parse(bad.as_bytes(), "k.csv").unwrap_err().to_string();
        assert!(
            err.contains("not finite") && err.contains("column 5"),
            "{err}"
        );
        let bad = ROW.replacen("181", "abc", 1);
        let err = parse(bad.as_bytes(), "k.csv").unwrap_err().to_string();
        assert!(err.contains("not a number"), "{err}");
    }
}
