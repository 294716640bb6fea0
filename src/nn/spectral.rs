//! Spectral normalisation (Miyato et al., ICLR 2018) of a linear layer, as ALAD's
//! discriminators use it: the weight is divided by its largest singular value σ, estimated by
//! one power iteration per training pass from a persistent vector u (TensorFlow's `sn.py`:
//! `v = ‖W u‖⁻¹·W u`, `u ← ‖Wᵀ v‖⁻¹·Wᵀ v`, `σ = vᵀ W u`, with u and v held constant in the
//! gradient). Evaluation passes use the stored u without updating it.

use burn::module::RunningState;
use burn::nn::Linear;
use burn::prelude::*;
use rand_chacha::ChaCha8Rng;

use super::init::standard_normal;

/// A linear layer whose weight is spectrally normalised.
#[derive(Module, Debug)]
pub struct SpectralLinear {
    linear: Linear,
    /// The power iteration's left vector, `[out]`.
    u: RunningState<Tensor<1>>,
}

fn normalise(t: Tensor<1>) -> Tensor<1> {
    let norm = t.clone().powi_scalar(2).sum().sqrt().add_scalar(1e-12);
    t / norm
}

impl SpectralLinear {
    /// Wrap `linear`, drawing u from `rng`.
    pub fn new(linear: Linear, rng: &mut ChaCha8Rng) -> Self {
        let [_, out] = linear.weight.dims();
        let device = linear.weight.device();
        let u: Vec<f32> = (0..out).map(|_| standard_normal(rng)).collect();
        let u = normalise(Tensor::from_data(TensorData::new(u, [out]), &device));
        SpectralLinear {
            linear,
            u: RunningState::new(u),
        }
    }

    /// The weight divided by its estimated spectral norm; one power iteration updates u when
    /// `training`.
    pub fn normalised_weight(&self, training: bool) -> Tensor<2> {
        // burn's Linear stores W as [in, out]: y = x·W + b.
        let w = self.linear.weight.val();
        let [input, out] = w.dims();
        let w_const = w.clone().detach();
        let u = self.u.value_sync().to_device(&w.device()).detach();
        let v = normalise(w_const.clone().matmul(u.reshape([out, 1])).reshape([input]));
        let u = normalise(
            w_const
                .transpose()
                .matmul(v.clone().reshape([input, 1]))
                .reshape([out]),
        );
        if training {
            self.u.update(u.clone());
        }
        let sigma = v
            .reshape([1, input])
            .matmul(w.clone())
            .matmul(u.reshape([out, 1]));
        w / sigma.reshape([1, 1])
    }

    /// `x·W/σ(W) + b`.
    pub fn forward(&self, x: Tensor<2>, training: bool) -> Tensor<2> {
        let y = x.matmul(self.normalised_weight(training));
        match &self.linear.bias {
            Some(b) => y + b.val().unsqueeze(),
            None => y,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::LinearConfig;
    use rand::SeedableRng;

    /// After enough power iterations the normalised weight has spectral norm 1: for a diagonal
    /// weight diag(3, 1, 0.5) it is diag(1, 1/3, 1/6).
    #[test]
    fn normalised_weight_has_unit_spectral_norm() {
        let device = Device::flex();
        let mut linear = LinearConfig::new(3, 3).with_bias(false).init(&device);
        linear.weight = burn::module::Param::from_tensor(Tensor::from_floats(
            [[3.0f32, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.5]],
            &device,
        ));
        let sn = SpectralLinear::new(linear, &mut ChaCha8Rng::seed_from_u64(0));
        for _ in 0..30 {
            sn.normalised_weight(true);
        }
        let w: Vec<f32> = sn
            .normalised_weight(false)
            .into_data()
            .try_into_vec::<f32>()
            .unwrap();
        let expected = [1.0, 0.0, 0.0, 0.0, 1.0 / 3.0, 0.0, 0.0, 0.0, 1.0 / 6.0];
        for (a, b) in w.iter().zip(expected) {
            assert!((a - b).abs() < 1e-4, "{w:?}");
        }
    }
}
