//! Atomic file output: nothing the user had is lost if a write fails half-way.

use anyhow::Context;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The text of a settings argument (`--model-config`, `--classifier-config`, …): the argument
/// itself when it is an inline JSON object (`'{"epochs": 3}'`), else the file it names.
pub fn settings_text(argument: &str) -> crate::Result<String> {
    if argument.trim_start().starts_with('{') {
        return Ok(argument.to_string());
    }
    let text = match std::fs::read_to_string(argument) {
        Ok(text) => text,
        // Inline JSON that is not an object (`[1, 2]`, `null`, `3`) is not a missing file.
        Err(_) if serde_json::from_str::<serde_json::Value>(argument).is_ok() => anyhow::bail!(
            "{argument}: expected a JSON object of settings ('{{\"name\": value, …}}') or the \
             path of a file holding one"
        ),
        Err(e) => return Err(e).with_context(|| format!("cannot read {argument}")),
    };
    // A byte-order mark (some Windows editors write one) is not part of the JSON.
    Ok(text
        .strip_prefix('\u{feff}')
        .map(str::to_string)
        .unwrap_or(text))
}

/// Parse settings text as JSON, refusing an object that names a key twice (at any depth):
/// serde_json would keep the last value silently, so `{"epochs": 0, "epochs": 5}` would drop
/// one of the user's values without a word. The error names the key.
pub fn parse_settings_json(text: &str) -> crate::Result<serde_json::Value> {
    let mut de = serde_json::Deserializer::from_str(text);
    let value = serde::de::DeserializeSeed::deserialize(UniqueKeys, &mut de)?;
    de.end()?;
    Ok(value)
}

/// A JSON value read with every object's keys checked for repeats ([`parse_settings_json`]).
struct UniqueKeys;

impl<'de> serde::de::DeserializeSeed<'de> for UniqueKeys {
    type Value = serde_json::Value;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for UniqueKeys {
    type Value = serde_json::Value;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut object = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value_seed(UniqueKeys)?;
            if object.insert(key.clone(), value).is_some() {
                return Err(serde::de::Error::custom(format!(
                    "the key {key:?} is given twice"
                )));
            }
        }
        Ok(serde_json::Value::Object(object))
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(UniqueKeys)? {
            items.push(item);
        }
        Ok(serde_json::Value::Array(items))
    }
    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(v.into())
    }
    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(v.into())
    }
    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(v.into())
    }
    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Self::Value, E> {
        serde_json::Number::from_f64(v)
            .map(serde_json::Value::Number)
            .ok_or_else(|| E::custom(format!("{v} is not a JSON number")))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(v.into())
    }
    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(v.into())
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(serde_json::Value::Null)
    }
}

/// A CSV cell: quoted when it holds a comma, a quote or a line break (quotes doubled).
pub fn csv_cell(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// Check, before any work, that a result file can be written to `output` (`flag` names the
/// option in errors): not a folder, its folder existing, and not one of the `inputs` the work
/// reads (writing the result over its own input would lose the user's file; hard links count).
/// An existing file is replaced, as a rerun expects, only when it is empty (`mktemp`'s) or
/// `written_by_oddity` recognises its beginning (up to 4 KiB) as the result oddity writes
/// there: anything else is the user's.
pub fn check_output_file(
    flag: &str,
    output: &Path,
    inputs: &[&Path],
    written_by_oddity: fn(&[u8]) -> bool,
) -> crate::Result<()> {
    anyhow::ensure!(
        !output.is_dir(),
        "{flag} {}: is a folder; give a file name",
        output.display()
    );
    let parent = output.parent().filter(|p| !p.as_os_str().is_empty());
    if let Some(parent) = parent {
        anyhow::ensure!(
            parent.is_dir(),
            "{flag} {}: the folder {} does not exist",
            output.display(),
            parent.display()
        );
    }
    if !output.exists() {
        return Ok(());
    }
    for input in inputs {
        anyhow::ensure!(
            !same_file(output, input),
            "{flag} {} is the input {}: the result would replace it; give another file name",
            output.display(),
            input.display()
        );
    }
    let mut start = Vec::with_capacity(4096);
    std::fs::File::open(output)
        .and_then(|f| std::io::Read::read_to_end(&mut std::io::Read::take(f, 4096), &mut start))
        .with_context(|| format!("{flag} {}: cannot read the file there", output.display()))?;
    anyhow::ensure!(
        start.is_empty() || written_by_oddity(&start),
        "{flag} {}: a file is there that oddity did not write; it is not replaced: give \
         another file name, or remove it first",
        output.display()
    );
    Ok(())
}

/// Whether `a` and `b` name the same file: the same path once resolved, or (Unix) the same
/// file through another hard link.
fn same_file(a: &Path, b: &Path) -> bool {
    if let (Ok(a), Ok(b)) = (std::fs::canonicalize(a), std::fs::canonicalize(b))
        && a == b
    {
        return true;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let (Ok(a), Ok(b)) = (std::fs::metadata(a), std::fs::metadata(b)) {
            return a.dev() == b.dev() && a.ino() == b.ino();
        }
    }
    false
}

/// Refuse a result path inside the run folder `run` (`flag` names the option): the run's files
/// are oddity's, and a result among them could replace one, or be lost with the folder when
/// the run is trained again. A `run` that cannot be resolved is left to the run's loading to
/// refuse.
pub fn check_outside_run(flag: &str, output: &Path, run: &Path) -> crate::Result<()> {
    if let (Ok(run_dir), Some(written)) = (std::fs::canonicalize(run), resolved(output)) {
        anyhow::ensure!(
            !written.starts_with(&run_dir),
            "{flag} {} is inside the run folder {}: its files are the run's; write the result \
             elsewhere",
            output.display(),
            run.display()
        );
    }
    Ok(())
}

/// `path` made absolute with its links resolved, whether or not it exists yet: its longest
/// existing ancestor resolved, then the missing rest applied part by part (a `..` there steps
/// back over a folder that will be created as a plain folder, so it is resolved by hand).
pub fn resolved(path: &Path) -> Option<PathBuf> {
    use std::path::Component;
    let mut missing = Vec::new();
    let mut existing = path;
    let mut found = loop {
        let probe = if existing.as_os_str().is_empty() {
            Path::new(".")
        } else {
            existing
        };
        if let Ok(found) = std::fs::canonicalize(probe) {
            break found;
        }
        missing.push(existing.components().next_back()?);
        existing = existing.parent()?;
    };
    for part in missing.into_iter().rev() {
        match part {
            Component::ParentDir => {
                found.pop();
            }
            Component::Normal(name) => found.push(name),
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(found)
}

/// Write `bytes` to `path` atomically: a temporary file in the same directory, flushed and
/// synced, then renamed over the target. Readers see the old file or the new one, never a part.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> crate::Result<()> {
    write_atomic_with(path, |w| w.write_all(bytes).map_err(Into::into))
}

/// Like [`write_atomic`], with the content produced by a closure writing into a buffered writer.
pub fn write_atomic_with(
    path: &Path,
    fill: impl FnOnce(&mut dyn Write) -> crate::Result<()>,
) -> crate::Result<()> {
    let tmp = temp_path(path);
    let result = (|| -> crate::Result<()> {
        let file = std::fs::File::create(&tmp)
            .with_context(|| format!("cannot write {}", path.display()))?;
        let mut writer = std::io::BufWriter::new(file);
        fill(&mut writer).with_context(|| format!("cannot write {}", path.display()))?;
        let file = writer
            .into_inner()
            .map_err(|e| anyhow::anyhow!("cannot write {}: {}", path.display(), e.error()))?;
        file.sync_all()
            .with_context(|| format!("cannot write {}", path.display()))?;
        std::fs::rename(&tmp, path).with_context(|| {
            format!(
                "cannot write {} (moving {} into place)",
                path.display(),
                tmp.display()
            )
        })
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Serialise `value` as pretty JSON and write it atomically.
pub fn write_json<T: serde::Serialize>(path: &Path, value: &T) -> crate::Result<()> {
    let text = serde_json::to_string_pretty(value)?;
    write_atomic(path, text.as_bytes())
}

/// Read and parse a JSON file, naming the file in any error.
pub fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> crate::Result<T> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text)
        .with_context(|| format!("{} is not valid: bad JSON", path.display()))
}

/// The temporary sibling used by the atomic writers (hidden, unique per process).
fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    path.with_file_name(format!(".{name}.{}.tmp", std::process::id()))
}

/// Read a whole file, transparently gunzipping it when it starts with the gzip magic.
pub fn read_maybe_gz(path: &Path) -> crate::Result<Vec<u8>> {
    let raw = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    gunzip_if_needed(raw).with_context(|| format!("{}: corrupt gzip stream", path.display()))
}

/// `raw` as a stream, gunzipped as it is read when it starts with the gzip magic: a file's
/// beginning (a header, a first record) without reading or decompressing all of it.
pub fn maybe_gz_reader<'a>(
    raw: impl std::io::Read + 'a,
) -> std::io::Result<Box<dyn std::io::Read + 'a>> {
    use std::io::BufRead;
    let mut reader = std::io::BufReader::new(raw);
    let gzip = reader.fill_buf()?.starts_with(&[0x1f, 0x8b]);
    Ok(match gzip {
        true => Box::new(flate2::read::MultiGzDecoder::new(reader)),
        false => Box::new(reader),
    })
}

/// `bytes` (a digest) as lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Gunzip `raw` if it starts with the gzip magic bytes; otherwise return it unchanged.
pub fn gunzip_if_needed(raw: Vec<u8>) -> crate::Result<Vec<u8>> {
    if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::with_capacity(raw.len() * 4);
        std::io::Read::read_to_end(&mut flate2::read::MultiGzDecoder::new(&raw[..]), &mut out)?;
        Ok(out)
    } else {
        Ok(raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_with_commas_or_quotes_are_quoted() {
        assert_eq!(csv_cell("cat"), "cat");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("two\nlines"), "\"two\nlines\"");
    }

    #[test]
    fn atomic_write_replaces_content_and_leaves_no_temp() {
        let dir = std::env::temp_dir().join(format!("oddity-io-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("a.txt");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        let leftovers: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty());
        // A failing writer leaves the previous content in place.
        let err = write_atomic_with(&p, |_| anyhow::bail!("boom"));
        assert!(err.is_err());
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
