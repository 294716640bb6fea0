//! A Mahalanobis distance fitted in closed form from training data (global RX; HADGAN's RX on
//! its residuals), kept in `f64` and stored in checkpoints as `f64` safetensors: alone, or
//! beside a model's networks in the same file under the `mahalanobis.` prefix.

use super::weights::{Weights, canonical_safetensors};
use crate::linalg::Mahalanobis;
use anyhow::{Context, ensure};
use burn::module::Module;
use std::collections::HashMap;

/// Prefix of the fitted distance's tensors in a checkpoint.
const PREFIX: &str = "mahalanobis.";

/// A fitted distance, or none yet (before the first fit).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FittedMahalanobis(pub Option<Mahalanobis>);

impl FittedMahalanobis {
    /// The squared distance of every row of `rows`; `None` before the distance is fitted.
    pub fn distances(&self, rows: &[f32]) -> Option<Vec<f64>> {
        self.0.as_ref().map(|m| m.distances(rows))
    }

    fn arrays(&self) -> Vec<(String, OwnedTensor)> {
        let Some(m) = &self.0 else {
            return Vec::new();
        };
        let dim = m.dim();
        vec![
            (
                format!("{PREFIX}inverse_values"),
                OwnedTensor::f64(&m.inverse_values, vec![dim]),
            ),
            (
                format!("{PREFIX}mean"),
                OwnedTensor::f64(&m.mean, vec![dim]),
            ),
            (
                format!("{PREFIX}vectors"),
                OwnedTensor::f64(&m.vectors, vec![dim, dim]),
            ),
        ]
    }

    fn from_tensors(tensors: &HashMap<String, OwnedTensor>) -> crate::Result<Self> {
        if !tensors.keys().any(|k| k.starts_with(PREFIX)) {
            return Ok(FittedMahalanobis(None));
        }
        let read = |name: &str| -> crate::Result<Vec<f64>> {
            tensors
                .get(&format!("{PREFIX}{name}"))
                .with_context(|| format!("the fitted distance has no {name:?}"))?
                .f64_values()
                .with_context(|| format!("the fitted distance's {name:?}"))
        };
        let m = Mahalanobis {
            mean: read("mean")?,
            vectors: read("vectors")?,
            inverse_values: read("inverse_values")?,
        };
        let dim = m.mean.len();
        ensure!(
            m.inverse_values.len() == dim && m.vectors.len() == dim * dim,
            "the fitted distance's arrays have inconsistent sizes"
        );
        Ok(FittedMahalanobis(Some(m)))
    }
}

impl Weights for FittedMahalanobis {
    fn to_bytes(&self) -> crate::Result<Vec<u8>> {
        write_tensors(self.arrays(), None)
    }
    fn load_bytes(&mut self, bytes: Vec<u8>) -> crate::Result<()> {
        let (tensors, _) = read_tensors(&bytes)?;
        ensure!(
            tensors.keys().all(|k| k.starts_with(PREFIX)),
            "these weights hold networks; this model has only a fitted distance"
        );
        *self = Self::from_tensors(&tensors)?;
        Ok(())
    }
    fn param_ids(&self) -> Vec<u64> {
        Vec::new()
    }
    fn set_param_ids(&mut self, _ids: &[u64]) -> usize {
        0
    }
}

/// A model's networks with a distance fitted to their outputs: one checkpoint holds both.
#[derive(Clone, Debug)]
pub struct WithMahalanobis<M> {
    /// The networks.
    pub nets: M,
    /// The fitted distance.
    pub fitted: FittedMahalanobis,
}

impl<M: Module> Weights for WithMahalanobis<M> {
    fn to_bytes(&self) -> crate::Result<Vec<u8>> {
        let nets = self.nets.to_bytes()?;
        let (tensors, metadata) = read_tensors(&nets)?;
        let mut all: Vec<(String, OwnedTensor)> = tensors.into_iter().collect();
        all.extend(self.fitted.arrays());
        write_tensors(all, metadata)
    }
    fn load_bytes(&mut self, bytes: Vec<u8>) -> crate::Result<()> {
        let (tensors, metadata) = read_tensors(&bytes)?;
        let fitted = FittedMahalanobis::from_tensors(&tensors)?;
        let nets: Vec<(String, OwnedTensor)> = tensors
            .into_iter()
            .filter(|(k, _)| !k.starts_with(PREFIX))
            .collect();
        self.nets.load_bytes(write_tensors(nets, metadata)?)?;
        self.fitted = fitted;
        Ok(())
    }
    fn param_ids(&self) -> Vec<u64> {
        self.nets.param_ids()
    }
    fn set_param_ids(&mut self, ids: &[u64]) -> usize {
        self.nets.set_param_ids(ids)
    }
}

/// A tensor read out of, or to be written into, a safetensors buffer.
pub(crate) struct OwnedTensor {
    dtype: safetensors::Dtype,
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

impl OwnedTensor {
    /// An `f64` array of `shape`.
    pub(crate) fn f64(values: &[f64], shape: Vec<usize>) -> Self {
        OwnedTensor {
            dtype: safetensors::Dtype::F64,
            shape,
            bytes: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        }
    }

    /// The values of an `f64` array.
    pub(crate) fn f64_values(&self) -> crate::Result<Vec<f64>> {
        ensure!(
            self.dtype == safetensors::Dtype::F64,
            "an array stored as {:?}, not f64",
            self.dtype
        );
        Ok(self
            .bytes
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
            .collect())
    }
}

impl safetensors::View for &OwnedTensor {
    fn dtype(&self) -> safetensors::Dtype {
        self.dtype
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> std::borrow::Cow<'_, [u8]> {
        std::borrow::Cow::Borrowed(&self.bytes)
    }
    fn data_len(&self) -> usize {
        self.bytes.len()
    }
}

pub(crate) type Metadata = Option<HashMap<String, String>>;

/// Every tensor of a safetensors buffer, and its metadata.
pub(crate) fn read_tensors(
    bytes: &[u8],
) -> crate::Result<(HashMap<String, OwnedTensor>, Metadata)> {
    let file = safetensors::SafeTensors::deserialize(bytes).context("not safetensors")?;
    let (_, header) = safetensors::SafeTensors::read_metadata(bytes).context("not safetensors")?;
    let tensors = file
        .tensors()
        .into_iter()
        .map(|(name, view)| {
            let owned = OwnedTensor {
                dtype: view.dtype(),
                shape: view.shape().to_vec(),
                bytes: view.data().to_vec(),
            };
            (name, owned)
        })
        .collect();
    Ok((tensors, header.metadata().clone()))
}

/// A safetensors buffer of `tensors`, its header in canonical order (same tensors, same bytes).
pub(crate) fn write_tensors(
    tensors: Vec<(String, OwnedTensor)>,
    metadata: Metadata,
) -> crate::Result<Vec<u8>> {
    let views: Vec<(&str, &OwnedTensor)> = tensors.iter().map(|(k, v)| (k.as_str(), v)).collect();
    canonical_safetensors(safetensors::serialize(views, metadata)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::prelude::*;

    /// Networks and a fitted distance go through one buffer and come back the same, with
    /// identical bytes for identical contents; an unfitted distance stays unfitted.
    #[test]
    fn networks_and_distance_round_trip_in_one_buffer() {
        let device = Device::flex();
        let net = burn::nn::LinearConfig::new(3, 2).init(&device);
        let rows = [
            0.0f32, 1.0, 2.0, 1.0, 0.5, 3.0, 2.0, 2.0, 1.0, 4.0, 0.0, 1.0,
        ];
        let fitted = FittedMahalanobis(Some(Mahalanobis::fit(&rows, 3).unwrap()));
        let with = WithMahalanobis {
            nets: net.clone(),
            fitted: fitted.clone(),
        };
        let bytes = with.to_bytes().unwrap();
        assert_eq!(bytes, with.to_bytes().unwrap());
        let mut other = WithMahalanobis {
            nets: burn::nn::LinearConfig::new(3, 2).init(&device),
            fitted: FittedMahalanobis(None),
        };
        other.load_bytes(bytes).unwrap();
        assert_eq!(other.fitted, fitted);
        assert_eq!(other.nets.to_bytes().unwrap(), net.to_bytes().unwrap());

        let unfitted = WithMahalanobis {
            nets: net,
            fitted: FittedMahalanobis(None),
        };
        other.load_bytes(unfitted.to_bytes().unwrap()).unwrap();
        assert_eq!(other.fitted, FittedMahalanobis(None));

        let mut alone = FittedMahalanobis(None);
        alone.load_bytes(fitted.to_bytes().unwrap()).unwrap();
        assert_eq!(alone, fitted);
    }
}
