//! One optimizer per network. burn has no double backward and its gradients are split per
//! sub-network, so each network (generator, discriminator, …) owns its own Adam state.

use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer, RmsPropConfig};
use burn::tensor::Gradients;

/// Adam's ε, as PyTorch's `torch.optim.Adam` and TensorFlow 1's `AdamOptimizer` default it.
pub const ADAM_EPSILON: f32 = 1e-8;

/// An Adam optimizer bound to one network's parameters.
pub struct NetOptimizer {
    optim: ModuleOptimizer,
    /// Learning rate.
    pub lr: f64,
}

impl NetOptimizer {
    /// Adam with the given learning rate and betas, and ε = 1e-8: the papers' frameworks'
    /// default (PyTorch, TensorFlow 1), not burn's 1e-5.
    pub fn adam(lr: f64, beta_1: f32, beta_2: f32) -> Self {
        NetOptimizer {
            optim: AdamConfig::new()
                .with_beta_1(beta_1)
                .with_beta_2(beta_2)
                .with_epsilon(ADAM_EPSILON)
                .init(),
            lr,
        }
    }

    /// [`NetOptimizer::adam`] with an L2 weight decay added to every gradient (PyTorch's `Adam`
    /// with `weight_decay`).
    pub fn adam_with_weight_decay(lr: f64, beta_1: f32, beta_2: f32, decay: f64) -> Self {
        NetOptimizer {
            optim: AdamConfig::new()
                .with_beta_1(beta_1)
                .with_beta_2(beta_2)
                .with_epsilon(ADAM_EPSILON)
                .with_weight_decay(Some(burn::optim::decay::WeightDecayConfig::new(
                    decay as f32,
                )))
                .init(),
            lr,
        }
    }

    /// RMSProp as TensorFlow 1's `RMSPropOptimizer` defaults it: decay 0.9, no momentum,
    /// ε = 1e-10.
    pub fn rmsprop(lr: f64) -> Self {
        NetOptimizer {
            optim: RmsPropConfig::new()
                .with_alpha(0.9)
                .with_momentum(0.0)
                .with_epsilon(1e-10)
                .init(),
            lr,
        }
    }

    /// The optimizer's per-parameter state (moments, step counts) as burnpack bytes, keyed by
    /// parameter identity.
    pub fn state_bytes(&self) -> crate::Result<Vec<u8>> {
        let bytes = self
            .optim
            .into_bytes()
            .map_err(|e| anyhow::anyhow!("cannot save the optimizer state: {e}"))?;
        Ok(bytes.to_vec())
    }

    /// Restore a state written by [`NetOptimizer::state_bytes`]; the network's parameters must
    /// carry the identities they had then.
    pub fn restore_state(&mut self, bytes: Vec<u8>) -> crate::Result<()> {
        self.optim = self
            .optim
            .clone()
            .from_bytes(burn::tensor::Bytes::from_bytes_vec(bytes))
            .map_err(|e| anyhow::anyhow!("cannot restore the optimizer state: {e}"))?;
        Ok(())
    }

    /// Take `net`'s gradients out of `grads` and apply one step to `net`.
    pub fn step<M: Module>(&mut self, net: M, grads: &mut Gradients) -> M {
        let net_grads = GradientsParams::from_module(grads, &net);
        self.optim.step(self.lr, net, net_grads)
    }
}
