//! Test-time search for the latent code that best reproduces a sample (AnoGAN, Schlegl et al.
//! 2017, §2.2): gradient steps on z with the networks frozen, for a whole batch at once.
//!
//! Each sample's loss depends only on its own code and Adam updates element-wise, so one search
//! over a batch of codes gives exactly the codes that separate searches per sample would give
//! from the same starting points — at the cost of one batched pass per step instead of one pass
//! per sample and step.

use burn::prelude::*;

/// Adam on the latent codes (the ALAD repository's AnoGAN: lr 1e-3, 500 steps).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LatentSearch {
    /// Gradient steps Γ (500).
    pub steps: usize,
    /// Adam learning rate on z (1e-3).
    pub learning_rate: f64,
}

const BETA_1: f64 = 0.9;
const BETA_2: f64 = 0.999;
const EPSILON: f64 = 1e-8;

impl LatentSearch {
    /// Minimise `loss(z)` (one value per sample) from `start`, which must be on an autodiff
    /// device; the networks inside `loss` must be frozen. Returns the final codes, untracked.
    pub fn run<const D: usize>(
        &self,
        start: Tensor<D>,
        loss: impl Fn(Tensor<D>) -> Tensor<1>,
    ) -> Tensor<D> {
        let mut z = start.detach();
        let mut m = z.zeros_like();
        let mut v = z.zeros_like();
        for t in 1..=self.steps {
            let tracked = z.clone().require_grad();
            let grads = loss(tracked.clone()).sum().backward();
            let g = tracked
                .grad(&grads)
                .expect("the latent codes take part in the loss");
            let g = Tensor::<D>::from_data(g.into_data(), &z.device());
            m = m * BETA_1 + g.clone() * (1.0 - BETA_1);
            v = v * BETA_2 + g.powi_scalar(2) * (1.0 - BETA_2);
            let m_hat = m.clone() / (1.0 - BETA_1.powi(t as i32));
            let v_hat = v.clone() / (1.0 - BETA_2.powi(t as i32));
            z = z - m_hat * self.learning_rate / (v_hat.sqrt() + EPSILON);
        }
        z
    }
}
