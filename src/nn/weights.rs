//! A network's weights as safetensors bytes, identical for identical weights, and the
//! object-safe [`Weights`] handle through which checkpoints and training states reach any
//! detector's networks.

use super::TrainingState;
use burn::module::Module;
use burn::store::{ModuleSnapshot, SafetensorsStore};

/// The weights of one network (or of a tuple or struct of networks), whatever its type: what a
/// checkpoint writes and reads and a training state stores.
pub trait Weights {
    /// The weights (and BatchNorm running statistics) as safetensors bytes.
    fn to_bytes(&self) -> crate::Result<Vec<u8>>;
    /// Load weights written by [`Weights::to_bytes`]; every parameter must be present.
    fn load_bytes(&mut self, bytes: Vec<u8>) -> crate::Result<()>;
    /// Store the weights with their parameter identities as part `name` of `state`.
    fn put_into(&self, state: &mut TrainingState, name: &str) -> crate::Result<()>;
    /// Restore part `name` of `state`, parameter identities included.
    fn take_from(&mut self, state: &TrainingState, name: &str) -> crate::Result<()>;
}

impl<M: Module> Weights for M {
    fn to_bytes(&self) -> crate::Result<Vec<u8>> {
        module_to_bytes(self)
    }
    fn load_bytes(&mut self, bytes: Vec<u8>) -> crate::Result<()> {
        module_from_bytes(self, bytes)
    }
    fn put_into(&self, state: &mut TrainingState, name: &str) -> crate::Result<()> {
        state.put_module(name, self)
    }
    fn take_from(&mut self, state: &TrainingState, name: &str) -> crate::Result<()> {
        state.load_module(name, self)
    }
}

/// Serialise a module's parameters to safetensors bytes.
///
/// BatchNorm's running statistics are settled first: burn keeps the latest update of each
/// aside until the statistics are next read, and a snapshot would otherwise save the one
/// before it (for a network no validation pass has read since, as GANomaly's discriminator).
pub fn module_to_bytes<M: ModuleSnapshot>(module: &M) -> crate::Result<Vec<u8>> {
    let _settled = module.valid();
    let mut store = SafetensorsStore::from_bytes(None);
    module
        .save_into(&mut store)
        .map_err(|e| anyhow::anyhow!("cannot serialise weights: {e}"))?;
    let bytes = store
        .get_bytes()
        .map_err(|e| anyhow::anyhow!("cannot serialise weights: {e}"))?;
    canonical_safetensors(bytes)
}

/// The same safetensors file with its JSON header's keys in sorted order at every level, so
/// that identical weights give identical bytes (burn writes its metadata from a hash map, in
/// an order that changes from run to run). The header is padded with spaces to a multiple of
/// 8 bytes, as the safetensors writer does; the tensor data is untouched.
fn canonical_safetensors(bytes: Vec<u8>) -> crate::Result<Vec<u8>> {
    let corrupt = || anyhow::anyhow!("cannot serialise weights: not a safetensors buffer");
    let len = u64::from_le_bytes(bytes.get(..8).ok_or_else(corrupt)?.try_into()?) as usize;
    let header = bytes.get(8..8 + len).ok_or_else(corrupt)?;
    let value: serde_json::Value = serde_json::from_slice(header)?;
    let mut text = String::new();
    write_sorted_json(&value, &mut text)?;
    while !text.len().is_multiple_of(8) {
        text.push(' ');
    }
    let mut out = Vec::with_capacity(bytes.len() + 8);
    out.extend_from_slice(&(text.len() as u64).to_le_bytes());
    out.extend_from_slice(text.as_bytes());
    out.extend_from_slice(&bytes[8 + len..]);
    Ok(out)
}

/// Compact JSON of `value` with every object's keys sorted.
fn write_sorted_json(value: &serde_json::Value, out: &mut String) -> crate::Result<()> {
    match value {
        serde_json::Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::to_string(k)?);
                out.push(':');
                write_sorted_json(&map[k], out)?;
            }
            out.push('}');
        }
        serde_json::Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_sorted_json(item, out)?;
            }
            out.push(']');
        }
        leaf => out.push_str(&serde_json::to_string(leaf)?),
    }
    Ok(())
}

/// Load a module's parameters from safetensors bytes; every parameter must be present.
pub fn module_from_bytes<M: ModuleSnapshot>(module: &mut M, bytes: Vec<u8>) -> crate::Result<()> {
    let mut store = SafetensorsStore::from_bytes(Some(bytes));
    let result = module
        .load_from(&mut store)
        .map_err(|e| anyhow::anyhow!("weights do not fit this model: {e}"))?;
    anyhow::ensure!(
        result.missing.is_empty() && result.errors.is_empty(),
        "weights do not fit this model: missing {:?}, errors {:?}",
        result.missing,
        result.errors
    );
    Ok(())
}

