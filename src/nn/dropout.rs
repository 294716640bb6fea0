//! Dropout with masks drawn from the model's own seeded stream (burn's draws from a
//! process-wide generator, which parallel runs would share), so that training is reproducible.

use burn::prelude::*;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// [`dropout`] while training (`rng` given), the identity when evaluating (`None`).
pub fn dropout_while_training<const D: usize>(
    x: Tensor<D>,
    rate: f64,
    rng: &mut Option<&mut ChaCha8Rng>,
) -> Tensor<D> {
    match rng.as_deref_mut() {
        Some(r) => dropout(x, rate, r),
        None => x,
    }
}

/// Zero each element with probability `rate` and scale the rest by `1/(1 − rate)` (inverted
/// dropout, as `tf.layers.dropout` and `nn.Dropout`); the identity when `rate` is 0.
pub fn dropout<const D: usize>(x: Tensor<D>, rate: f64, rng: &mut ChaCha8Rng) -> Tensor<D> {
    if rate <= 0.0 {
        return x;
    }
    let dims = x.dims();
    let n: usize = dims.iter().product();
    let keep = 1.0 - rate;
    let scale = (1.0 / keep) as f32;
    let mask: Vec<f32> = (0..n)
        .map(|_| {
            if rng.random::<f64>() < keep {
                scale
            } else {
                0.0
            }
        })
        .collect();
    let mask = Tensor::<D>::from_data(TensorData::new(mask, dims), &x.device());
    x * mask
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn dropout_keeps_the_mean_and_zeroes_about_rate() {
        let device = Device::flex();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let x = Tensor::<2>::ones([100, 100], &device);
        let y: Vec<f32> = dropout(x, 0.2, &mut rng)
            .into_data()
            .try_into_vec::<f32>()
            .unwrap();
        let zeros = y.iter().filter(|v| **v == 0.0).count() as f64 / y.len() as f64;
        let mean = y.iter().map(|v| *v as f64).sum::<f64>() / y.len() as f64;
        assert!((zeros - 0.2).abs() < 0.02, "dropped {zeros}");
        assert!((mean - 1.0).abs() < 0.03, "mean {mean}");
        assert!(y.iter().all(|v| *v == 0.0 || (*v - 1.25).abs() < 1e-6));
    }
}
