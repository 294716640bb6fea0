//! Exponential moving average of a network's weights (Polyak averaging), as EGBAD and ALAD
//! use at test time (TensorFlow's `ExponentialMovingAverage` with a fixed decay):
//! `ema ← decay·ema + (1 − decay)·w` after every optimizer step, starting from the initial
//! weights. BatchNorm running statistics are not averaged (they are not trainable variables
//! there either): the averaged copy takes them from the network as they are.

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::prelude::*;

/// The averaged copy of a network, kept on the plain (non-autodiff) device.
#[derive(Clone, Debug)]
pub struct Ema<M: Module> {
    average: M,
    decay: f64,
}

struct Collect(Vec<Tensor<1>>);

impl ModuleVisitor for Collect {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        self.0.push(param.val().reshape([-1]));
    }
}

struct Blend {
    current: std::vec::IntoIter<Tensor<1>>,
    decay: f64,
}

impl ModuleMapper for Blend {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let current = self
            .current
            .next()
            .expect("the averaged copy has the network's parameters");
        let decay = self.decay;
        param.map(|avg| {
            let dims = avg.dims();
            avg * decay + current.reshape(dims) * (1.0 - decay)
        })
    }
}

impl<M: Module> Ema<M> {
    /// Start averaging from `network`'s current weights (its evaluation copy).
    pub fn new(network: &M, decay: f64) -> Self {
        Ema {
            average: network.valid(),
            decay,
        }
    }

    /// Blend in `network`'s weights after an optimizer step; running statistics are copied.
    pub fn update(&mut self, network: &M) {
        let plain = network.valid();
        let mut collect = Collect(Vec::new());
        plain.visit(&mut collect);
        let mut blend = Blend {
            current: collect.0.into_iter(),
            decay: self.decay,
        };
        self.average = self.average.clone().map(&mut blend);
    }

    /// The averaged network.
    pub fn average(&self) -> &M {
        &self.average
    }

    /// The averaged network, to restore a training state into.
    pub fn average_mut(&mut self) -> &mut M {
        &mut self.average
    }

    /// Replace the averaged weights (when a checkpoint is loaded).
    pub fn reset(&mut self, network: &M) {
        self.average = network.valid();
    }
}

/// What scores: the averaged network when averaging, else `network`'s evaluation copy.
pub fn scoring_copy<M: Module>(average: Option<&Ema<M>>, network: &M) -> M {
    average.map_or_else(|| network.valid(), |a| a.average().clone())
}

/// A trained network and the network that scores (its moving average, or itself when it is not
/// averaged; possibly only a part of it, as AnoGAN's generator), saved as one safetensors file:
/// the pair `(trained, scoring)`.
pub fn save_with_average<M: Module, A: Module>(trained: &M, scoring: A) -> crate::Result<Vec<u8>> {
    super::weights::module_to_bytes(&(trained.clone(), scoring))
}

/// Restore what [`save_with_average`] wrote into `trained` and, when averaging, `average`;
/// `template` has the scoring member's structure.
pub fn load_with_average<M: Module, A: Module>(
    trained: &mut M,
    average: Option<&mut Ema<A>>,
    template: A,
    bytes: Vec<u8>,
) -> crate::Result<()> {
    let mut pair = (trained.clone(), template);
    super::weights::module_from_bytes(&mut pair, bytes)?;
    if let Some(avg) = average {
        avg.reset(&pair.1);
    }
    *trained = pair.0;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::{Linear, LinearConfig};

    fn weights(l: &Linear) -> Vec<f32> {
        l.weight.val().into_data().try_into_vec::<f32>().unwrap()
    }

    /// After one update the average is `decay·initial + (1 − decay)·current`, element-wise.
    #[test]
    fn average_blends_with_the_decay() {
        let device = Device::flex();
        let a = LinearConfig::new(3, 2).init(&device);
        let b = LinearConfig::new(3, 2).init(&device);
        let mut ema = Ema::new(&a, 0.9);
        ema.update(&b);
        let (wa, wb, avg) = (weights(&a), weights(&b), weights(ema.average()));
        for i in 0..wa.len() {
            let expected = 0.9 * wa[i] + 0.1 * wb[i];
            assert!((avg[i] - expected).abs() < 1e-6, "{} vs {expected}", avg[i]);
        }
    }
}
