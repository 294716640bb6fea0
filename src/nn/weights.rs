//! A network's weights as safetensors bytes, identical for identical weights, and the
//! object-safe [`Weights`] handle through which checkpoints and training states reach any
//! detector's networks.

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::store::{ModuleSnapshot, SafetensorsStore};
use burn::tensor::{Bool, Int, Tensor};

/// The weights of one network (or of a tuple or struct of networks), whatever its type: what a
/// checkpoint writes and reads and a training state stores.
pub trait Weights {
    /// The weights (and BatchNorm running statistics) as safetensors bytes.
    fn to_bytes(&self) -> crate::Result<Vec<u8>>;
    /// Load weights written by [`Weights::to_bytes`]; every parameter must be present.
    fn load_bytes(&mut self, bytes: Vec<u8>) -> crate::Result<()>;
    /// The identity of every trainable parameter, in visiting order (optimizer states are keyed
    /// by them).
    fn param_ids(&self) -> Vec<u64>;
    /// Give the parameters, in visiting order, the identities `ids`; returns how many
    /// parameters there are.
    fn set_param_ids(&mut self, ids: &[u64]) -> usize;
}

impl<M: Module> Weights for M {
    fn to_bytes(&self) -> crate::Result<Vec<u8>> {
        module_to_bytes(self)
    }
    fn load_bytes(&mut self, bytes: Vec<u8>) -> crate::Result<()> {
        module_from_bytes(self, bytes)
    }
    fn param_ids(&self) -> Vec<u64> {
        let mut ids = ParamIds(Vec::new());
        self.visit(&mut ids);
        ids.0
    }
    fn set_param_ids(&mut self, ids: &[u64]) -> usize {
        let mut mapper = SetParamIds {
            ids: ids.to_vec(),
            at: 0,
        };
        *self = self.clone().map(&mut mapper);
        mapper.at
    }
}

/// Collects the identity of every parameter, in the module's visiting order.
struct ParamIds(Vec<u64>);

impl ModuleVisitor for ParamIds {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        // Buffers (BatchNorm's running statistics) are no optimizer's targets.
        if param.val().is_require_grad() {
            self.0.push(param.id.val());
        }
    }
    fn visit_int<const D: usize>(&mut self, param: &Param<Tensor<D, Int>>) {
        self.0.push(param.id.val());
    }
    fn visit_bool<const D: usize>(&mut self, param: &Param<Tensor<D, Bool>>) {
        self.0.push(param.id.val());
    }
}

/// Gives each parameter, in visiting order, the identity stored for it.
struct SetParamIds {
    ids: Vec<u64>,
    at: usize,
}

impl SetParamIds {
    fn next(&mut self) -> Option<ParamId> {
        let id = self.ids.get(self.at).copied().map(ParamId::from);
        self.at += 1;
        id
    }
}

impl ModuleMapper for SetParamIds {
    fn map_float<const D: usize>(&mut self, mut param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        if !param.val().is_require_grad() {
            return param;
        }
        if let Some(id) = self.next() {
            param.id = id;
        }
        param
    }
    fn map_int<const D: usize>(
        &mut self,
        mut param: Param<Tensor<D, Int>>,
    ) -> Param<Tensor<D, Int>> {
        if let Some(id) = self.next() {
            param.id = id;
        }
        param
    }
    fn map_bool<const D: usize>(
        &mut self,
        mut param: Param<Tensor<D, Bool>>,
    ) -> Param<Tensor<D, Bool>> {
        if let Some(id) = self.next() {
            param.id = id;
        }
        param
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
pub(crate) fn canonical_safetensors(bytes: Vec<u8>) -> crate::Result<Vec<u8>> {
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

/// The same safetensors bytes with tensors renamed by `renames` (old name, new name; names
/// absent from the file are skipped), so that weights saved before a network's parameters
/// moved still load. The tensor data is untouched.
pub fn rename_tensors(bytes: Vec<u8>, renames: &[(&str, &str)]) -> crate::Result<Vec<u8>> {
    let corrupt = || anyhow::anyhow!("cannot read weights: not a safetensors buffer");
    let len = u64::from_le_bytes(bytes.get(..8).ok_or_else(corrupt)?.try_into()?) as usize;
    let header = bytes.get(8..8 + len).ok_or_else(corrupt)?;
    let mut value: serde_json::Value = serde_json::from_slice(header)?;
    let map = value.as_object_mut().ok_or_else(corrupt)?;
    if !renames.iter().any(|(old, _)| map.contains_key(*old)) {
        return Ok(bytes);
    }
    let taken: Vec<(&str, serde_json::Value)> = renames
        .iter()
        .filter_map(|(old, new)| map.remove(*old).map(|v| (*new, v)))
        .collect();
    for (new, v) in taken {
        anyhow::ensure!(
            !map.contains_key(new),
            "cannot rename weights: {new} is there already"
        );
        map.insert(new.to_string(), v);
    }
    let header = serde_json::to_vec(&value)?;
    let mut out = Vec::with_capacity(bytes.len() + 8);
    out.extend_from_slice(&(header.len() as u64).to_le_bytes());
    out.extend_from_slice(&header);
    out.extend_from_slice(&bytes[8 + len..]);
    canonical_safetensors(out)
}

/// Load a module's parameters from safetensors bytes; every parameter must be present.
pub fn module_from_bytes<M: ModuleSnapshot>(module: &mut M, bytes: Vec<u8>) -> crate::Result<()> {
    let mut store = SafetensorsStore::from_bytes(Some(bytes));
    let result = module
        .load_from(&mut store)
        .map_err(|e| anyhow::anyhow!("weights do not fit this model: {e}"))?;
    // Tensors the model has no place for mean weights of another network (a classifier head
    // the configuration leaves out, say): as wrong as missing ones.
    anyhow::ensure!(
        result.missing.is_empty() && result.errors.is_empty() && result.unused.is_empty(),
        "weights do not fit this model: missing {:?}, unused {:?}, errors {:?}",
        result.missing,
        result.unused,
        result.errors
    );
    Ok(())
}
