//! A model's training state as bytes: what its training needs to continue exactly where it
//! stopped — the networks with their parameter identities (the optimizers' per-parameter
//! states are keyed by them, and a rebuilt network draws new ones), each optimizer's state,
//! the random generators and any counters.

use super::NetOptimizer;
use super::weights::Weights;
use anyhow::{Context, bail, ensure};
use burn::module::Module;
use burn::tensor::Tensor;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Named parts of a training state.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TrainingState {
    parts: BTreeMap<String, Vec<u8>>,
}

/// The position of a ChaCha generator: seed, stream and word position restore it exactly.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RngState {
    seed: [u8; 32],
    stream: u64,
    word_pos: u128,
}

impl RngState {
    /// The state of `rng`.
    pub fn of(rng: &ChaCha8Rng) -> Self {
        RngState {
            seed: rng.get_seed(),
            stream: rng.get_stream(),
            word_pos: rng.get_word_pos(),
        }
    }

    /// A generator at this state.
    pub fn restore(&self) -> ChaCha8Rng {
        let mut rng = ChaCha8Rng::from_seed(self.seed);
        rng.set_stream(self.stream);
        rng.set_word_pos(self.word_pos);
        rng
    }
}

/// What a detector trains, as its checkpoints and training states see it: its networks (one
/// module, or a tuple or struct of them), their optimizers in a fixed order, and its random
/// generator if it draws one.
pub struct Trainables<'a> {
    /// The networks.
    pub networks: &'a dyn Weights,
    /// The optimizers, always in the same order.
    pub optimizers: Vec<&'a NetOptimizer>,
    /// The generator of the model's random draws (noise, dropout masks, latent codes).
    pub rng: Option<&'a ChaCha8Rng>,
    /// The moving average of the networks' weights the model scores with, if it keeps one.
    pub average: Option<&'a dyn Weights>,
}

/// [`Trainables`], to restore into.
pub struct TrainablesMut<'a> {
    /// The networks.
    pub networks: &'a mut dyn Weights,
    /// The optimizers, in the order of [`Trainables::optimizers`].
    pub optimizers: Vec<&'a mut NetOptimizer>,
    /// The generator of the model's random draws.
    pub rng: Option<&'a mut ChaCha8Rng>,
    /// The moving average of the networks' weights.
    pub average: Option<&'a mut dyn Weights>,
}

impl<'a> Trainables<'a> {
    /// One set of networks trained by one optimizer, with no random generator or average.
    pub fn of_one(networks: &'a dyn Weights, optimizer: &'a NetOptimizer) -> Self {
        Trainables {
            networks,
            optimizers: vec![optimizer],
            rng: None,
            average: None,
        }
    }
}

impl<'a> TrainablesMut<'a> {
    /// [`Trainables::of_one`], to restore into.
    pub fn of_one(networks: &'a mut dyn Weights, optimizer: &'a mut NetOptimizer) -> Self {
        TrainablesMut {
            networks,
            optimizers: vec![optimizer],
            rng: None,
            average: None,
        }
    }
}

/// The magic at the start of a serialised training state.
const MAGIC: &[u8; 8] = b"ODDSTATE";

impl TrainingState {
    /// An empty state.
    pub fn new() -> Self {
        Self::default()
    }

    fn part(&self, name: &str) -> crate::Result<&[u8]> {
        self.parts
            .get(name)
            .map(Vec::as_slice)
            .with_context(|| format!("the training state has no part {name:?}"))
    }

    /// The state of what a detector trains: its networks, its optimizers in their fixed order,
    /// its random generator and its moving average of weights, if it has them.
    pub fn of_trainables(parts: &Trainables<'_>) -> crate::Result<Self> {
        let mut state = TrainingState::new();
        state.put_weights("nets", parts.networks)?;
        for (i, optim) in parts.optimizers.iter().enumerate() {
            state.put_optimizer(&format!("optim{i}"), optim)?;
        }
        if let Some(rng) = parts.rng {
            state.put_rng("rng", rng)?;
        }
        if let Some(average) = parts.average {
            state.put_weights("average", average)?;
        }
        Ok(state)
    }

    /// Restore what [`TrainingState::of_trainables`] stored, into the same places.
    pub fn restore_trainables(&self, parts: TrainablesMut<'_>) -> crate::Result<()> {
        self.load_weights("nets", parts.networks)?;
        for (i, optim) in parts.optimizers.into_iter().enumerate() {
            self.load_optimizer(&format!("optim{i}"), optim)?;
        }
        if let Some(rng) = parts.rng {
            *rng = self.rng("rng")?;
        }
        if let Some(average) = parts.average {
            self.load_weights("average", average)?;
        }
        Ok(())
    }

    /// Store a module's parameters and their identities (optimizer states are keyed by them).
    pub fn put_module<M: Module>(&mut self, name: &str, module: &M) -> crate::Result<()> {
        self.put_weights(name, module)
    }

    /// Restore a module's parameters and give them back their identities.
    pub fn load_module<M: Module>(&self, name: &str, module: &mut M) -> crate::Result<()> {
        self.load_weights(name, module)
    }

    /// Store networks' parameters and their identities.
    pub fn put_weights(&mut self, name: &str, networks: &dyn Weights) -> crate::Result<()> {
        // to_bytes settles BatchNorm's pending running statistics first.
        self.parts.insert(name.into(), networks.to_bytes()?);
        self.put_value(&format!("{name}.ids"), &networks.param_ids())
    }

    /// Restore networks' parameters and give them back their identities.
    pub fn load_weights(&self, name: &str, networks: &mut dyn Weights) -> crate::Result<()> {
        let ids: Vec<u64> = self.value(&format!("{name}.ids"))?;
        let given = networks.set_param_ids(&ids);
        ensure!(
            given == ids.len(),
            "cannot restore {name}: {given} parameters, the state names {}",
            ids.len()
        );
        // Loading keeps the identities just given.
        networks
            .load_bytes(self.part(name)?.to_vec())
            .with_context(|| format!("cannot restore {name}"))
    }

    /// Store an optimizer's state.
    pub fn put_optimizer(&mut self, name: &str, optim: &NetOptimizer) -> crate::Result<()> {
        self.parts.insert(name.into(), optim.state_bytes()?);
        Ok(())
    }

    /// Restore an optimizer's state.
    pub fn load_optimizer(&self, name: &str, optim: &mut NetOptimizer) -> crate::Result<()> {
        optim
            .restore_state(self.part(name)?.to_vec())
            .with_context(|| format!("cannot restore {name}"))
    }

    /// Store a random generator's position.
    pub fn put_rng(&mut self, name: &str, rng: &ChaCha8Rng) -> crate::Result<()> {
        self.put_value(name, &RngState::of(rng))
    }

    /// A random generator at its stored position.
    pub fn rng(&self, name: &str) -> crate::Result<ChaCha8Rng> {
        Ok(self.value::<RngState>(name)?.restore())
    }

    /// Store an optional matrix (a batch kept from one step to the next), values and shape.
    pub fn put_matrix(&mut self, name: &str, tensor: Option<&Tensor<2>>) -> crate::Result<()> {
        let value = match tensor {
            Some(t) => {
                let dims = t.dims();
                let values = t
                    .clone()
                    .into_data()
                    .try_into_vec::<f32>()
                    .map_err(|e| anyhow::anyhow!("cannot save {name}: {e:?}"))?;
                Some((dims, values))
            }
            None => None,
        };
        self.put_value(name, &value)
    }

    /// A stored optional matrix, on `device`.
    pub fn matrix(
        &self,
        name: &str,
        device: &burn::tensor::Device,
    ) -> crate::Result<Option<Tensor<2>>> {
        let value: Option<([usize; 2], Vec<f32>)> = self.value(name)?;
        Ok(match value {
            Some((dims, values)) => {
                ensure!(
                    values.len() == dims[0] * dims[1],
                    "bad part {name:?}: {} values for shape {dims:?}",
                    values.len()
                );
                Some(Tensor::from_data(
                    burn::tensor::TensorData::new(values, dims),
                    device,
                ))
            }
            None => None,
        })
    }

    /// Store a value as JSON.
    pub fn put_value<T: Serialize>(&mut self, name: &str, value: &T) -> crate::Result<()> {
        self.parts.insert(name.into(), serde_json::to_vec(value)?);
        Ok(())
    }

    /// A stored value.
    pub fn value<T: serde::de::DeserializeOwned>(&self, name: &str) -> crate::Result<T> {
        serde_json::from_slice(self.part(name)?).with_context(|| format!("bad part {name:?}"))
    }

    /// The state as one byte string: the magic, then each part as its name's length (u32 LE),
    /// the name, its data's length (u64 LE) and the data.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        for (name, data) in &self.parts {
            out.extend_from_slice(&(name.len() as u32).to_le_bytes());
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(&(data.len() as u64).to_le_bytes());
            out.extend_from_slice(data);
        }
        out
    }

    /// Parse [`TrainingState::to_bytes`]; anything else is an error, never a panic.
    pub fn from_bytes(bytes: &[u8]) -> crate::Result<Self> {
        ensure!(bytes.starts_with(MAGIC), "not an oddity training state");
        let mut at = MAGIC.len();
        let mut take = |n: u64| -> crate::Result<&[u8]> {
            let n = usize::try_from(n)?;
            let end = at.checked_add(n).filter(|&e| e <= bytes.len());
            let Some(end) = end else {
                bail!("truncated training state");
            };
            let part = &bytes[at..end];
            at = end;
            Ok(part)
        };
        let mut parts = BTreeMap::new();
        loop {
            let Ok(len) = take(4) else { break };
            let name_len = u32::from_le_bytes(len.try_into()?) as u64;
            let name = String::from_utf8(take(name_len)?.to_vec())?;
            let data_len = u64::from_le_bytes(take(8)?.try_into()?);
            parts.insert(name, take(data_len)?.to_vec());
        }
        ensure!(at == bytes.len(), "truncated training state");
        Ok(TrainingState { parts })
    }
}
