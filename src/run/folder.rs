//! The life of a folder that oddity writes as a whole (a run, an evaluation report).
//!
//! A folder is never modified in place. Its files are written into a hidden staging sibling
//! `.NAME.partial`, and the folder appears by one rename once every file is there: a reader
//! sees the whole old folder, the whole new one, or none, never a mix. Replacing an existing
//! folder (`--force`) moves the old one aside to `.NAME.replaced`, renames the new one in and
//! only then deletes the old one, so a kill at any point leaves one complete folder.
//!
//! A published folder lists what oddity wrote into it in a hidden `.oddity-files`; `--force`
//! replaces a folder only when nothing else is in it (a user's notes, a data file kept next to
//! the run), so that replacing never deletes what oddity did not write.
//!
//! The staging folder holds a `writer.pid` file while a process writes it. A staging folder
//! whose writer is no longer alive was left by a killed process: it is removed when the next
//! writer of the same folder starts (and said so). Two live writers of one folder are refused.

use anyhow::{Context, bail};
use std::path::{Path, PathBuf};

/// The file in a staging folder naming the process that writes it.
const WRITER_FILE: &str = "writer.pid";

/// The file in a published folder listing the entries oddity wrote into it, one a line.
const MANIFEST_FILE: &str = ".oddity-files";

/// Files a desktop writes into any folder it shows (Finder's, Explorer's): not the user's
/// work, and replaced with the folder.
fn is_desktop_metadata(name: &str) -> bool {
    matches!(name, ".DS_Store" | "Thumbs.db" | "desktop.ini") || name.starts_with("._")
}

/// The file in a staging folder holding a finished folder that could not be published (the
/// user's files were in the way): kept until the user moves it into place.
const FINISHED_FILE: &str = "finished";

/// How the user puts the kept finished folder `staged` in the place of `target` by hand.
fn how_to_place(staged: &Path, target: &Path) -> String {
    format!(
        "move your files out of {t}, then `rm {s}/{FINISHED_FILE} && rm -r {t} && mv {s} {t}`",
        s = staged.display(),
        t = target.display()
    )
}

/// What folders written before [`MANIFEST_FILE`] existed may hold: the files of runs, OOD runs
/// and evaluations are of these kinds.
const LEGACY_EXTENSIONS: &[&str] = &["json", "safetensors", "csv", "png", "html", "svg"];

/// The file that marks a detector's run folder (`oddity train`).
pub const DETECTOR_RUN_FILE: &str = "run.json";

/// The file that marks an out-of-distribution run folder (`oddity ood train`).
pub const OOD_RUN_FILE: &str = "ood.json";

/// The user's leave to replace an existing run folder of the kind being written, and how it
/// is given on the surface in use, so that a refusal names the remedy that works there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Leave {
    /// Whether leave was given.
    pub given: bool,
    /// How it is given, as the user writes it: the command line's [`FORCE`], Python's
    /// `replace=True`.
    pub how: &'static str,
}

/// The command line's option giving leave to replace a run folder.
pub const FORCE: &str = "--force";

impl Leave {
    /// Leave as the command line gives it: `--force`.
    pub fn force(given: bool) -> Leave {
        Leave { given, how: FORCE }
    }
}

/// What to do when the target folder already exists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Existing {
    /// Refuse, naming the folder and a remedy that works: leave (`leave`, how it is given, if
    /// the surface has a way) for a folder of the kind being written (holding `marker`) whose
    /// files are all oddity's.
    Refuse {
        /// The file that identifies the kind of folder being written.
        marker: &'static str,
        /// How leave to replace is given on the surface in use; `None` where it cannot be.
        leave: Option<&'static str>,
    },
    /// Replace it whole when it holds `marker` (a run's `run.json`, a report's `metrics.json`)
    /// or is empty; anything else is not oddity's to delete and is refused.
    Replace {
        /// The file that identifies a folder oddity wrote.
        marker: &'static str,
        /// How the leave to replace was given (named when a folder is refused even so);
        /// `None` for folders replaced without asking (evaluations).
        leave: Option<&'static str>,
    },
}

impl Existing {
    /// A run folder marked by `marker`: replaced with `leave`, refused (naming how leave is
    /// given) without it.
    pub fn run(marker: &'static str, leave: Leave) -> Existing {
        let how = Some(leave.how);
        if leave.given {
            Existing::Replace { marker, leave: how }
        } else {
            Existing::Refuse { marker, leave: how }
        }
    }

    /// A folder derived from a run (an evaluation's report, marked by `marker`): rewritten
    /// whenever it is asked for again, with no leave to ask.
    pub fn derived(marker: &'static str) -> Existing {
        Existing::Replace {
            marker,
            leave: None,
        }
    }

    /// The file that identifies the kind of folder being written.
    fn marker(self) -> &'static str {
        match self {
            Existing::Refuse { marker, .. } | Existing::Replace { marker, .. } => marker,
        }
    }

    /// How leave to replace is given on the surface in use, if it can be.
    fn leave(self) -> Option<&'static str> {
        match self {
            Existing::Refuse { leave, .. } | Existing::Replace { leave, .. } => leave,
        }
    }
}

/// A folder being written: files go into [`Staging::dir`]; [`Staging::publish`] makes it
/// visible at its target path. Dropped without publishing, the staging folder is removed.
#[derive(Debug)]
pub struct Staging {
    target: PathBuf,
    dir: PathBuf,
    replace: bool,
    published: bool,
    /// Remove the staging folder when dropped unpublished (a fresh one); a resumed one holds
    /// a stopped training's checkpoints and is kept.
    remove_on_drop: bool,
}

/// The hidden sibling `.NAME.SUFFIX` of `target`.
fn sibling(target: &Path, suffix: &str) -> crate::Result<PathBuf> {
    let name = target
        .file_name()
        .with_context(|| format!("{}: not a folder name", target.display()))?;
    Ok(target.with_file_name(format!(".{}.{suffix}", name.to_string_lossy())))
}

/// The staging folder of `target` (where a run in progress lives).
pub fn staging_path(target: &Path) -> crate::Result<PathBuf> {
    sibling(target, "partial")
}

/// Whether process `pid` is alive (Linux's `/proc`; elsewhere every writer counts as alive,
/// so a stale folder is reported rather than deleted).
fn process_alive(pid: u32) -> bool {
    if pid == std::process::id() {
        return true;
    }
    if Path::new("/proc/self").exists() {
        Path::new("/proc").join(pid.to_string()).exists()
    } else {
        true
    }
}

/// The pid written in a staging folder, if any.
fn writer_of(staging: &Path) -> Option<u32> {
    std::fs::read_to_string(staging.join(WRITER_FILE))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// The entries under `dir` that oddity did not write there, as paths relative to `dir`,
/// sorted. Oddity's are: those its manifest lists (in a folder written before manifests, files
/// of the kinds oddity writes and `maps/`), the staging and replaced siblings of folders it
/// writes inside (`.eval-best.partial`), and the folders it published inside (an evaluation in
/// a run folder), whose own entries are checked the same way.
fn foreign_entries(dir: &Path) -> crate::Result<Vec<String>> {
    let listed: Option<Vec<String>> = std::fs::read_to_string(dir.join(MANIFEST_FILE))
        .ok()
        .map(|text| text.lines().map(str::to_string).collect());
    let mut foreign = Vec::new();
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))?;
    for entry in entries {
        let entry = entry.with_context(|| format!("cannot list {}", dir.display()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        if name == MANIFEST_FILE || is_hidden_sibling(&path) || is_desktop_metadata(&name) {
            continue;
        }
        if is_dir && path.join(MANIFEST_FILE).is_file() {
            // A folder oddity published inside this one: its entries must be oddity's too.
            let inner = foreign_entries(&path)?;
            foreign.extend(inner.into_iter().map(|e| format!("{name}/{e}")));
            continue;
        }
        let ours = match &listed {
            Some(names) => names.contains(&name),
            None if is_dir => name == "maps" || path.join("metrics.json").is_file(),
            None => path
                .extension()
                .is_some_and(|e| LEGACY_EXTENSIONS.iter().any(|k| e == *k)),
        };
        if !ours {
            foreign.push(name);
        }
    }
    foreign.sort();
    Ok(foreign)
}

/// The first few entries of `target` that oddity did not write, listed for a message; `None`
/// when there are none.
fn foreign_listing(target: &Path) -> crate::Result<Option<String>> {
    const SHOWN: usize = 5;
    let foreign = foreign_entries(target)?;
    if foreign.is_empty() {
        return Ok(None);
    }
    let more = foreign.len().saturating_sub(SHOWN);
    let mut listing = foreign[..foreign.len().min(SHOWN)].join(", ");
    if more > 0 {
        listing.push_str(&format!(" and {more} more"));
    }
    Ok(Some(listing))
}

/// Refuse to replace `target` when it holds anything oddity did not write.
fn check_replaceable(target: &Path) -> crate::Result<()> {
    if let Some(listing) = foreign_listing(target)? {
        bail!(
            "{} holds what oddity did not write ({listing}); replacing the folder would delete \
             it: move that out of the folder first, or choose another folder",
            target.display()
        );
    }
    Ok(())
}

/// Refuse `target` (an existing folder) unless it is empty or holds the marker of the kind
/// of folder `existing` writes: another kind of oddity folder is named as what it is, and no
/// leave replaces either (said where the surface has a way to give leave).
fn check_kind(target: &Path, existing: Existing) -> crate::Result<()> {
    let marker = existing.marker();
    if target.join(marker).is_file() || is_empty_dir(target) {
        return Ok(());
    }
    let kind = [
        (DETECTOR_RUN_FILE, "a detector's run folder"),
        (OOD_RUN_FILE, "an out-of-distribution run folder"),
    ]
    .into_iter()
    .find(|(file, _)| target.join(file).is_file());
    let leave = existing
        .leave()
        .map(|how| format!(", even with {how}"))
        .unwrap_or_default();
    match kind {
        Some((file, what)) => bail!(
            "{} is {what} ({file}), not the kind this writes (with {marker}); it is not \
             replaced{leave}: choose another folder",
            target.display()
        ),
        None => bail!(
            "{} exists and is not a folder oddity wrote (no {marker}); it is not \
             replaced{leave}: choose another folder",
            target.display()
        ),
    }
}

/// The refusal of an existing run folder of the right kind without leave, with the remedy
/// that works: leave (given as `how`, where the surface has a way) to `replace` it, once any
/// file of the user's is moved out of it.
fn without_leave(target: &Path, how: Option<&str>, replace: &str) -> anyhow::Error {
    let foreign = foreign_listing(target).ok().flatten();
    let remedy = match (how, &foreign) {
        (Some(how), Some(_)) => format!(
            "move that out of the folder and pass {how} to {replace}, or choose another folder"
        ),
        (Some(how), None) => format!("pass {how} to {replace} or choose another folder"),
        (None, _) => "choose another folder".to_string(),
    };
    match foreign {
        Some(listing) => anyhow::anyhow!(
            "{} already exists and holds what oddity did not write ({listing}): {remedy}",
            target.display()
        ),
        None => anyhow::anyhow!(
            "{} already exists; oddity never modifies a run in place: {remedy}",
            target.display()
        ),
    }
}

/// Whether the existing folder `target` may be replaced when the new one is published: with
/// leave, when it is of the kind being written and holds only oddity's files; without, never,
/// the refusal naming leave to `replace` it only where that would work.
fn may_replace(target: &Path, existing: Existing, replace: &str) -> crate::Result<bool> {
    check_kind(target, existing)?;
    match existing {
        Existing::Refuse { leave, .. } => Err(without_leave(target, leave, replace)),
        Existing::Replace { .. } => {
            check_replaceable(target)?;
            Ok(true)
        }
    }
}

/// Whether `dir` is an empty folder.
fn is_empty_dir(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|mut entries| entries.next().is_none())
}

impl Staging {
    /// Start writing the folder `target`: check what is there now, create the parent folders
    /// and the staging folder, and prove it writable by writing the writer's pid into it. Call
    /// this before any long work, so that a bad output location fails first.
    pub fn begin(target: &Path, existing: Existing) -> crate::Result<Staging> {
        let staged = staging_path(target)?;
        if staged.join(FINISHED_FILE).is_file() {
            bail!(
                "{} holds a finished folder that could not replace {} (files oddity did not \
                 write were in it): {}, or remove it to discard it",
                staged.display(),
                target.display(),
                how_to_place(&staged, target)
            );
        }
        let replace = if target.exists() {
            if !target.is_dir() {
                bail!(
                    "{} exists and is not a folder; choose another folder",
                    target.display()
                );
            }
            may_replace(
                target,
                existing,
                "replace it whole (its evaluations go with it)",
            )?
        } else {
            false
        };
        let dir = staging_path(target)?;
        if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create the folder {}", parent.display()))?;
        }
        if dir.exists() {
            match writer_of(&dir) {
                Some(pid) if process_alive(pid) => bail!(
                    "{} is being written by another oddity process (pid {pid}); wait for it or \
                     stop it",
                    target.display()
                ),
                _ if crate::train::resume::exists(&dir)
                    && matches!(existing, Existing::Refuse { .. }) =>
                {
                    let discard = match existing.leave() {
                        Some(how) => format!("pass {how}"),
                        None => format!("remove {}", dir.display()),
                    };
                    bail!(
                        "a stopped training of {} is saved in {}: continue it on the command \
                         line with `oddity train --resume {}`, or {discard} to discard it and \
                         start again",
                        target.display(),
                        dir.display(),
                        target.display()
                    )
                }
                _ => {
                    eprintln!(
                        "note: removing {}, left by a process that was stopped before it finished",
                        dir.display()
                    );
                    std::fs::remove_dir_all(&dir)
                        .with_context(|| format!("cannot remove {}", dir.display()))?;
                }
            }
        }
        std::fs::create_dir(&dir)
            .with_context(|| format!("cannot create the folder {}", dir.display()))?;
        Staging::claim(target, dir, replace, true)
    }

    /// Mark `dir` as written by this process (proving it writable) and hold it as the staging
    /// folder of `target`.
    fn claim(
        target: &Path,
        dir: PathBuf,
        replace: bool,
        remove_on_drop: bool,
    ) -> crate::Result<Staging> {
        let staging = Staging {
            target: target.to_path_buf(),
            dir,
            replace,
            published: false,
            remove_on_drop,
        };
        crate::io::write_atomic(
            &staging.dir.join(WRITER_FILE),
            std::process::id().to_string().as_bytes(),
        )?;
        Ok(staging)
    }

    /// Take over the staging folder of `target` that a stopped process left, to continue
    /// writing it: its writer must be gone. The target's existing folder, if any, will be
    /// replaced when this one is published only if `existing` allows it.
    pub fn resume(target: &Path, existing: Existing) -> crate::Result<Staging> {
        let dir = staging_path(target)?;
        if !dir.is_dir() {
            bail!(
                "{}: no stopped training to resume (no {})",
                target.display(),
                dir.display()
            );
        }
        if let Some(pid) = writer_of(&dir).filter(|&pid| process_alive(pid)) {
            bail!(
                "{} is being written by another oddity process (pid {pid})",
                target.display()
            );
        }
        let replace =
            target.exists() && may_replace(target, existing, "replace it with the resumed run")?;
        Staging::claim(target, dir, replace, false)
    }

    /// Leave the staging folder in place (a stopped training that can be resumed).
    pub fn keep(mut self) {
        let _ = std::fs::remove_file(self.dir.join(WRITER_FILE));
        self.published = true;
    }

    /// The folder to write the files into.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The folder it will become.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// List the staged folder's entries in its manifest.
    fn write_manifest(&self) -> crate::Result<()> {
        let mut names = Vec::new();
        let entries = std::fs::read_dir(&self.dir)
            .with_context(|| format!("cannot list {}", self.dir.display()))?;
        for entry in entries {
            let name = entry
                .with_context(|| format!("cannot list {}", self.dir.display()))?
                .file_name()
                .to_string_lossy()
                .into_owned();
            if name != MANIFEST_FILE {
                names.push(name);
            }
        }
        names.sort();
        let text: String = names.iter().map(|n| format!("{n}\n")).collect();
        crate::io::write_atomic(&self.dir.join(MANIFEST_FILE), text.as_bytes())
    }

    /// Make the staged folder visible at its target, replacing the old folder if allowed.
    pub fn publish(mut self) -> crate::Result<PathBuf> {
        let writer = self.dir.join(WRITER_FILE);
        std::fs::remove_file(&writer)
            .with_context(|| format!("cannot remove {}", writer.display()))?;
        self.write_manifest()?;
        let old = sibling(&self.target, "replaced")?;
        if self.target.exists() {
            // Checked again: the user may have put a file there while this one was written.
            if self.replace
                && let Err(e) = check_replaceable(&self.target)
            {
                self.remove_on_drop = false;
                // Marked, so that the next writer of the folder does not take it for a
                // killed one's leftovers.
                crate::io::write_atomic(&self.dir.join(FINISHED_FILE), b"")?;
                bail!(
                    "{e:#}; the new one is kept in {}: {}",
                    self.dir.display(),
                    how_to_place(&self.dir, &self.target)
                );
            }
            if !self.replace {
                // The finished run must not be lost with the staging folder.
                self.remove_on_drop = false;
                bail!(
                    "{} appeared while this run was written; the new run stays in {}",
                    self.target.display(),
                    self.dir.display()
                );
            }
            if old.exists() {
                std::fs::remove_dir_all(&old)
                    .with_context(|| format!("cannot remove {}", old.display()))?;
            }
            std::fs::rename(&self.target, &old).with_context(|| {
                format!(
                    "cannot move {} aside to {}",
                    self.target.display(),
                    old.display()
                )
            })?;
        }
        std::fs::rename(&self.dir, &self.target).with_context(|| {
            format!(
                "cannot move {} to {}",
                self.dir.display(),
                self.target.display()
            )
        })?;
        self.published = true;
        if old.exists() {
            std::fs::remove_dir_all(&old)
                .with_context(|| format!("cannot remove the replaced folder {}", old.display()))?;
        }
        Ok(self.target.clone())
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if self.published {
            return;
        }
        // A staging folder holding a checkpoint is a resumable training: kept.
        if self.remove_on_drop && !crate::train::resume::exists(&self.dir) {
            let _ = std::fs::remove_dir_all(&self.dir);
        } else {
            let _ = std::fs::remove_file(self.dir.join(WRITER_FILE));
        }
    }
}

/// Whether `dir` is a staging or replaced sibling (`.NAME.partial`, `.NAME.replaced`), not a
/// published folder.
pub fn is_hidden_sibling(dir: &Path) -> bool {
    dir.file_name()
        .map(|n| n.to_string_lossy())
        .is_some_and(|n| {
            n.starts_with('.') && (n.ends_with(".partial") || n.ends_with(".replaced"))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const REFUSE: Existing = Existing::Refuse {
        marker: DETECTOR_RUN_FILE,
        leave: Some(FORCE),
    };
    const REPLACE: Existing = Existing::Replace {
        marker: DETECTOR_RUN_FILE,
        leave: Some(FORCE),
    };

    fn temp(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("oddity-folder-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn a_folder_appears_whole_and_replaces_only_with_leave() {
        let root = temp("whole");
        let target = root.join("run");
        let s = Staging::begin(&target, REFUSE).unwrap();
        std::fs::write(s.dir().join("a"), "one").unwrap();
        assert!(!target.exists(), "nothing is visible before publish");
        s.publish().unwrap();
        assert_eq!(std::fs::read_to_string(target.join("a")).unwrap(), "one");
        assert!(!target.join(WRITER_FILE).exists());
        // Existing folder: refused without leave, and left untouched; not a run folder, so
        // --force is not offered (it would refuse it too).
        let err = Staging::begin(&target, REFUSE).unwrap_err().to_string();
        assert!(
            err.contains("not a folder oddity wrote") && err.contains("even with --force"),
            "{err}"
        );
        // A run folder: --force is the remedy. (Beside `root`, whose leftovers are counted.)
        let others = temp("whole-others");
        let run = others.join("a-run");
        let s = Staging::begin(&run, REFUSE).unwrap();
        std::fs::write(s.dir().join(DETECTOR_RUN_FILE), "{}").unwrap();
        s.publish().unwrap();
        let err = Staging::begin(&run, REFUSE).unwrap_err().to_string();
        assert!(err.contains("pass --force"), "{err}");
        // Another surface names its own way to give leave; one without any names none.
        let python = Leave {
            given: false,
            how: "replace=True",
        };
        let err = Staging::begin(&run, Existing::run(DETECTOR_RUN_FILE, python))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("pass replace=True") && !err.contains("--force"),
            "{err}"
        );
        let no_leave = Existing::Refuse {
            marker: DETECTOR_RUN_FILE,
            leave: None,
        };
        let err = Staging::begin(&run, no_leave).unwrap_err().to_string();
        assert!(
            err.contains("choose another folder") && !err.contains("pass"),
            "{err}"
        );
        // ... once the user's files are moved out of it.
        std::fs::write(run.join("notes.txt"), "mine").unwrap();
        let err = Staging::begin(&run, REFUSE).unwrap_err().to_string();
        assert!(
            err.contains("notes.txt") && err.contains("move that out"),
            "{err}"
        );
        // Another kind of run: --force would not replace it, so it is not offered.
        let ood = others.join("an-ood-run");
        let s = Staging::begin(&ood, REFUSE).unwrap();
        std::fs::write(s.dir().join(OOD_RUN_FILE), "{}").unwrap();
        s.publish().unwrap();
        let err = Staging::begin(&ood, REFUSE).unwrap_err().to_string();
        assert!(
            err.contains("out-of-distribution run folder") && err.contains("even with --force"),
            "{err}"
        );
        let python = Leave {
            given: true,
            how: "replace=True",
        };
        let err = Staging::begin(&ood, Existing::run(DETECTOR_RUN_FILE, python))
            .unwrap_err()
            .to_string();
        assert!(err.contains("even with replace=True"), "{err}");
        // A folder of the user's: refused without offering --force, which would refuse it too.
        let mine = others.join("mine");
        std::fs::create_dir_all(&mine).unwrap();
        std::fs::write(mine.join("notes.txt"), "mine").unwrap();
        let err = Staging::begin(&mine, REFUSE).unwrap_err().to_string();
        assert!(
            err.contains("not a folder oddity wrote") && err.contains("even with --force"),
            "{err}"
        );
        let err = Staging::begin(&mine, REPLACE).unwrap_err().to_string();
        assert!(err.contains("not a folder oddity wrote"), "{err}");
        assert_eq!(
            std::fs::read_to_string(mine.join("notes.txt")).unwrap(),
            "mine"
        );
        std::fs::remove_dir_all(&others).unwrap();
        // With leave, but not a folder oddity wrote: refused.
        let err = Staging::begin(&target, REPLACE).unwrap_err().to_string();
        assert!(err.contains("not a folder oddity wrote"), "{err}");
        // Another kind of oddity folder: named as what it is, and kept.
        std::fs::write(target.join("ood.json"), "{}").unwrap();
        let err = Staging::begin(&target, REPLACE).unwrap_err().to_string();
        assert!(
            err.contains("is an out-of-distribution run folder"),
            "{err}"
        );
        assert!(target.join("a").exists());
        std::fs::remove_dir_all(&target).unwrap();
        let s = Staging::begin(&target, REFUSE).unwrap();
        std::fs::write(s.dir().join("a"), "one").unwrap();
        std::fs::write(s.dir().join("run.json"), "{}").unwrap();
        s.publish().unwrap();
        let s = Staging::begin(&target, REPLACE).unwrap();
        std::fs::write(s.dir().join("b"), "two").unwrap();
        // Until published the old folder is whole.
        assert!(target.join("a").exists());
        s.publish().unwrap();
        assert!(
            !target.join("a").exists(),
            "the old folder's files go with it"
        );
        assert!(target.join("b").exists());
        let leftovers: Vec<_> = std::fs::read_dir(&root)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers, vec![std::ffi::OsString::from("run")]);
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn replacing_refuses_a_folder_holding_what_oddity_did_not_write() {
        let root = temp("foreign");
        let target = root.join("run");
        let replace = REPLACE;
        let s = Staging::begin(&target, REFUSE).unwrap();
        std::fs::write(s.dir().join("run.json"), "{}").unwrap();
        s.publish().unwrap();
        // An evaluation published inside the run is oddity's.
        let s = Staging::begin(&target.join("eval-last"), REFUSE).unwrap();
        std::fs::write(s.dir().join("metrics.json"), "{}").unwrap();
        s.publish().unwrap();
        drop(Staging::begin(&target, replace).unwrap());
        // A user's file is not: refused, named, and kept.
        std::fs::write(target.join("notes.txt"), "mine").unwrap();
        let err = Staging::begin(&target, replace).unwrap_err().to_string();
        assert!(
            err.contains("notes.txt") && err.contains("did not write"),
            "{err}"
        );
        assert_eq!(
            std::fs::read_to_string(target.join("notes.txt")).unwrap(),
            "mine"
        );
        // Nor a user's file named like one of oddity's kinds, in a folder with a manifest.
        std::fs::remove_file(target.join("notes.txt")).unwrap();
        std::fs::write(target.join("data.csv"), "x,label").unwrap();
        let err = Staging::begin(&target, replace).unwrap_err().to_string();
        assert!(err.contains("data.csv"), "{err}");
        std::fs::remove_file(target.join("data.csv")).unwrap();
        // An evaluation's own folders (maps) and a killed writer's staging folder are oddity's;
        // a user's file inside an evaluation is not.
        let s = Staging::begin(&target.join("eval-best"), REFUSE).unwrap();
        std::fs::create_dir_all(s.dir().join("maps")).unwrap();
        std::fs::write(s.dir().join("maps/a.png"), "png").unwrap();
        std::fs::write(s.dir().join("metrics.json"), "{}").unwrap();
        s.publish().unwrap();
        std::fs::create_dir_all(target.join(".eval-last.partial")).unwrap();
        drop(Staging::begin(&target, replace).unwrap());
        let eval = Existing::derived("metrics.json");
        std::fs::write(target.join("eval-best/notes.txt"), "mine").unwrap();
        let err = Staging::begin(&target, replace).unwrap_err().to_string();
        assert!(err.contains("eval-best/notes.txt"), "{err}");
        let err = Staging::begin(&target.join("eval-best"), eval)
            .unwrap_err()
            .to_string();
        assert!(err.contains("notes.txt") && !err.contains("maps"), "{err}");
        std::fs::remove_file(target.join("eval-best/notes.txt")).unwrap();
        // A file put there while the new folder was written: found at publishing, and the new
        // folder is kept.
        let s = Staging::begin(&target, replace).unwrap();
        let staged = s.dir().to_path_buf();
        std::fs::write(staged.join("run.json"), "{}").unwrap();
        std::fs::write(target.join("late.txt"), "mine").unwrap();
        let err = s.publish().unwrap_err().to_string();
        assert!(err.contains("late.txt") && err.contains("kept in"), "{err}");
        assert!(staged.join("run.json").is_file() && target.join("late.txt").is_file());
        // The next writer does not take the kept folder for a killed writer's leftovers.
        let err = Staging::begin(&target, replace).unwrap_err().to_string();
        assert!(err.contains("finished folder"), "{err}");
        assert!(staged.join("run.json").is_file());
        std::fs::remove_dir_all(&staged).unwrap();
        std::fs::remove_file(target.join("late.txt")).unwrap();
        // A desktop's own files (Finder's, Explorer's) are not the user's work.
        std::fs::write(target.join(".DS_Store"), "finder").unwrap();
        std::fs::write(target.join("eval-best/Thumbs.db"), "explorer").unwrap();
        drop(Staging::begin(&target, replace).unwrap());
        std::fs::write(target.join("data.csv"), "x,label").unwrap();
        // A folder written before manifests: its files of oddity's kinds are replaceable, others not.
        std::fs::remove_file(target.join(MANIFEST_FILE)).unwrap();
        drop(Staging::begin(&target, replace).unwrap());
        std::fs::write(target.join("notes.txt"), "mine").unwrap();
        let err = Staging::begin(&target, replace).unwrap_err().to_string();
        assert!(
            err.contains("notes.txt") && !err.contains("data.csv"),
            "{err}"
        );
        // ... and an evaluation there without a manifest, or its maps, are oddity's.
        std::fs::remove_file(target.join("notes.txt")).unwrap();
        std::fs::remove_file(target.join("eval-best").join(MANIFEST_FILE)).unwrap();
        std::fs::create_dir_all(target.join("maps")).unwrap();
        drop(Staging::begin(&target, replace).unwrap());
        std::fs::create_dir_all(target.join("mine")).unwrap();
        let err = Staging::begin(&target, replace).unwrap_err().to_string();
        assert!(err.contains("mine") && !err.contains("eval-best"), "{err}");
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn a_killed_writer_leaves_a_staging_folder_that_the_next_writer_removes() {
        let root = temp("stale");
        let target = root.join("run");
        let staging = staging_path(&target).unwrap();
        std::fs::create_dir_all(&staging).unwrap();
        // A pid that is not alive (pid_max is below 2^22 on Linux).
        std::fs::write(staging.join(WRITER_FILE), "4194999").unwrap();
        std::fs::write(staging.join("weights-last.safetensors"), "half").unwrap();
        let s = Staging::begin(&target, REFUSE).unwrap();
        assert!(!s.dir().join("weights-last.safetensors").exists());
        // A live writer (this process) blocks a second one.
        let err = Staging::begin(&target, REFUSE).unwrap_err().to_string();
        assert!(err.contains("another oddity process"), "{err}");
        drop(s);
        assert!(!staging.exists(), "an abandoned staging folder is removed");
        std::fs::remove_dir_all(&root).unwrap();
    }
}
