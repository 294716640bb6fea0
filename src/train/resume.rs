//! Training checkpoints on disk, so that a stopped training continues where it stopped.
//!
//! ```text
//! resume/current               the name of the latest complete checkpoint folder
//! resume/epoch-E-step-S/       loop.json (LoopState), best.safetensors, model.state
//! ```
//!
//! A checkpoint folder is written whole before `current` names it (atomically), and older
//! folders are removed only after that: a kill at any moment leaves `current` naming a
//! complete checkpoint.

use super::LoopState;
use crate::io;
use crate::models::AnyDetector;
use crate::nn::TrainingState;
use anyhow::{Context, bail};
use std::path::{Path, PathBuf};

/// The folder of checkpoints inside a run's staging folder.
pub fn folder(staging: &Path) -> PathBuf {
    staging.join("resume")
}

/// Whether `staging` holds a checkpoint to resume from.
pub fn exists(staging: &Path) -> bool {
    folder(staging).join("current").is_file()
}

/// Write the loop's `state` and `model`'s training state as the latest checkpoint.
pub fn write(staging: &Path, state: &LoopState, model: &dyn AnyDetector) -> crate::Result<()> {
    let Some(model_state) = model.training_state()? else {
        return Ok(());
    };
    let root = folder(staging);
    let name = format!("epoch-{}-step-{}", state.epoch, state.step);
    let dir = root.join(&name);
    if dir.exists() {
        std::fs::remove_dir_all(&dir)
            .with_context(|| format!("cannot remove {}", dir.display()))?;
    }
    std::fs::create_dir_all(&dir)
        .with_context(|| format!("cannot create the folder {}", dir.display()))?;
    io::write_json(&dir.join("loop.json"), state)?;
    io::write_atomic(&dir.join("best.safetensors"), &state.best_weights)?;
    io::write_atomic(&dir.join("model.state"), &model_state.to_bytes())?;
    io::write_atomic(&root.join("current"), name.as_bytes())?;
    for entry in
        std::fs::read_dir(&root).with_context(|| format!("cannot list {}", root.display()))?
    {
        let path = entry?.path();
        if path.is_dir() && path.file_name().is_some_and(|n| n != name.as_str()) {
            std::fs::remove_dir_all(&path)
                .with_context(|| format!("cannot remove {}", path.display()))?;
        }
    }
    Ok(())
}

/// The latest checkpoint in `staging`: the loop's state (with the best weights) and the
/// model's training state.
pub fn read(staging: &Path) -> crate::Result<(LoopState, TrainingState)> {
    let root = folder(staging);
    let current = root.join("current");
    let name = std::fs::read_to_string(&current)
        .with_context(|| format!("cannot read {}", current.display()))?;
    let name = name.trim();
    if name.is_empty() || name.contains(['/', '\\']) || name.starts_with('.') {
        bail!("{}: not a checkpoint name: {name:?}", current.display());
    }
    let dir = root.join(name);
    let mut state: LoopState = io::read_json(&dir.join("loop.json"))?;
    let best = dir.join("best.safetensors");
    state.best_weights =
        std::fs::read(&best).with_context(|| format!("cannot read {}", best.display()))?;
    let model = dir.join("model.state");
    let bytes =
        std::fs::read(&model).with_context(|| format!("cannot read {}", model.display()))?;
    let model_state = TrainingState::from_bytes(&bytes)
        .with_context(|| format!("{} is not valid", model.display()))?;
    Ok((state, model_state))
}

/// Remove the checkpoints once the run is complete.
pub fn remove(staging: &Path) -> crate::Result<()> {
    let root = folder(staging);
    if root.exists() {
        std::fs::remove_dir_all(&root)
            .with_context(|| format!("cannot remove {}", root.display()))?;
    }
    Ok(())
}
