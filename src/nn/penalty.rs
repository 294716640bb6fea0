//! Penalties on a critic's input gradient without a second-order gradient, which burn does not
//! have: the WGAN-GP penalty `E[(‖∇ₓD(x̂)‖₂ − 1)²]` (Gulrajani et al. 2017; f-AnoGAN) and the
//! R1 penalty `E[‖∇ₓD(x)‖²]` (Mescheder et al. 2018; ALAE), on inputs of any rank.
//!
//! ‖∇ₓD(x̂)‖ is the derivative of D along the unit direction `u = ∇ₓD(x̂)/‖∇ₓD(x̂)‖`. The
//! direction is found with one ordinary backward pass and then held constant; the derivative
//! along it is taken by a central difference, `(D(x̂ + h·u) − D(x̂ − h·u)) / 2h`, which is an
//! ordinary function of the critic's weights. Its gradient with respect to the weights is
//! `uᵀ·∂(∇ₓD)/∂θ` up to O(h²), which is exactly the gradient of ‖∇ₓD‖ (since
//! `∂‖g‖ = (g/‖g‖)ᵀ ∂g`): the penalty's gradient with first-order passes only — three critic
//! passes and two backward passes instead of a double backward. `tests` check it against the
//! exact penalty's gradient.

use burn::prelude::*;

/// Step of the central difference, in input units (images in [−1, 1]): large enough that f32
/// rounding (≈1e-7·|D|/h) stays small, small enough that the O(h²) error does.
pub const DEFAULT_STEP: f64 = 1e-2;

/// Per-sample unit direction of steepest ascent of `critic` at `x` (held constant), `x` of
/// shape `[B, …]`. `critic` is evaluated on `x` made a tracked leaf; its weights' gradients are
/// not used.
pub fn ascent_direction<const D: usize>(
    critic: impl Fn(Tensor<D>) -> Tensor<1>,
    x: Tensor<D>,
) -> Tensor<D> {
    let leaf = x.detach().require_grad();
    let grads = critic(leaf.clone()).sum().backward();
    let g = leaf
        .grad(&grads)
        .expect("the critic's output depends on its input");
    let g = Tensor::<D>::from_data(g.into_data(), &leaf.device());
    let b = g.dims()[0];
    let mut per_sample = [1usize; D];
    per_sample[0] = b;
    let norm = g
        .clone()
        .reshape([b as i32, -1])
        .powi_scalar(2)
        .sum_dim(1)
        .sqrt()
        .add_scalar(1e-12)
        .reshape(per_sample);
    g / norm
}

/// `(D(x + h·u) − D(x − h·u)) / 2h` per sample: the derivative of `critic` along `direction`
/// (from [`ascent_direction`], so ‖∇ₓD‖), differentiable in the critic's weights.
pub fn directional_slope<const D: usize>(
    critic: impl Fn(Tensor<D>) -> Tensor<1>,
    x: Tensor<D>,
    direction: Tensor<D>,
    step: f64,
) -> Tensor<1> {
    let x = x.detach();
    let shift = direction.detach() * step;
    (critic(x.clone() + shift.clone()) - critic(x - shift)) / (2.0 * step)
}

/// WGAN-GP: `mean_b ((D(x̂ + h·u) − D(x̂ − h·u)) / 2h − 1)²`, differentiable in the critic's
/// weights.
pub fn gradient_penalty<const D: usize>(
    critic: impl Fn(Tensor<D>) -> Tensor<1>,
    x_hat: Tensor<D>,
    direction: Tensor<D>,
    step: f64,
) -> Tensor<1> {
    (directional_slope(critic, x_hat, direction, step) - 1.0)
        .powi_scalar(2)
        .mean()
}

/// R1: `mean_b ((D(x + h·u) − D(x − h·u)) / 2h)²`, the squared gradient norm at real samples,
/// differentiable in the critic's weights (its gradient is `2‖∇D‖·∂‖∇D‖/∂θ`, exactly the
/// squared norm's, up to O(h²)).
pub fn r1_penalty<const D: usize>(
    critic: impl Fn(Tensor<D>) -> Tensor<1>,
    x: Tensor<D>,
    direction: Tensor<D>,
    step: f64,
) -> Tensor<1> {
    directional_slope(critic, x, direction, step)
        .powi_scalar(2)
        .mean()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A smooth two-layer critic `D(x) = Σ_j w2_j·tanh(x·W1)_j` with its weights as plain
    /// values, so that they can be perturbed.
    fn critic(w1: Tensor<2>, w2: Tensor<1>) -> impl Fn(Tensor<4>) -> Tensor<1> {
        move |x: Tensor<4>| {
            let [b, c, h, w] = x.dims();
            let hidden = x.reshape([b, c * h * w]).matmul(w1.clone()).tanh();
            let n = w2.dims()[0];
            hidden.matmul(w2.clone().reshape([n, 1])).reshape([b])
        }
    }

    /// The exact penalty mean_b (‖∇ₓD(x_b)‖ − 1)², with ∇ₓD from a backward pass.
    fn exact_penalty(w1: &Tensor<2>, w2: &Tensor<1>, x: &Tensor<4>) -> f64 {
        let leaf = x.clone().require_grad();
        let d = critic(w1.clone(), w2.clone());
        let grads = d(leaf.clone()).sum().backward();
        let g: Vec<f32> = leaf
            .grad(&grads)
            .unwrap()
            .into_data()
            .try_into_vec()
            .unwrap();
        let per = g.len() / x.dims()[0];
        g.chunks(per)
            .map(|s| {
                let n = s.iter().map(|v| (*v as f64).powi(2)).sum::<f64>().sqrt();
                (n - 1.0).powi(2)
            })
            .sum::<f64>()
            / x.dims()[0] as f64
    }

    /// The finite-difference penalty's value and its gradient with respect to the critic's
    /// weights match the exact penalty's (whose weight gradient is taken numerically here, by
    /// central differences on every weight).
    #[test]
    fn finite_difference_penalty_matches_the_exact_one() {
        let device = Device::flex().autodiff();
        let (b, d, hidden) = (3, 4, 5);
        let wave = |n: usize, k: f32| -> Vec<f32> {
            (0..n).map(|i| ((i as f32 + 1.0) * k).sin()).collect()
        };
        let x = Tensor::<4>::from_data(TensorData::new(wave(b * d, 0.7), [b, 1, 2, 2]), &device);
        let w1_values = wave(d * hidden, 1.3);
        let w2_values: Vec<f32> = wave(hidden, 2.1).iter().map(|v| v * 1.5).collect();
        let w1 = Tensor::<2>::from_data(TensorData::new(w1_values.clone(), [d, hidden]), &device)
            .require_grad();
        let w2 = Tensor::<1>::from_data(TensorData::new(w2_values.clone(), [hidden]), &device)
            .require_grad();

        let direction = ascent_direction(critic(w1.clone(), w2.clone()), x.clone());
        let penalty = gradient_penalty(
            critic(w1.clone(), w2.clone()),
            x.clone(),
            direction,
            DEFAULT_STEP,
        );
        let value: f32 = penalty.clone().into_scalar();
        let grads = penalty.backward();
        let g1: Vec<f32> = w1.grad(&grads).unwrap().into_data().try_into_vec().unwrap();

        let plain = |v: &[f32], dims: [usize; 2]| {
            Tensor::<2>::from_data(TensorData::new(v.to_vec(), dims), &device)
        };
        let w2_plain =
            Tensor::<1>::from_data(TensorData::new(w2_values.clone(), [hidden]), &device);
        let exact = exact_penalty(&plain(&w1_values, [d, hidden]), &w2_plain, &x);
        assert!(
            (value as f64 - exact).abs() < 1e-3 * exact.max(1e-3),
            "penalty {value} vs exact {exact}"
        );
        let delta = 1e-2f32;
        for (i, fd_grad) in g1.iter().enumerate() {
            let mut up = w1_values.clone();
            up[i] += delta;
            let mut down = w1_values.clone();
            down[i] -= delta;
            let numeric = (exact_penalty(&plain(&up, [d, hidden]), &w2_plain, &x)
                - exact_penalty(&plain(&down, [d, hidden]), &w2_plain, &x))
                / (2.0 * delta as f64);
            assert!(
                (*fd_grad as f64 - numeric).abs() < 2e-2 * numeric.abs().max(0.05),
                "weight {i}: finite-difference penalty gradient {fd_grad} vs exact {numeric}"
            );
        }
    }

    /// The finite-difference R1 penalty's value and weight gradient match the exact squared
    /// gradient norm's, on rows (rank 2).
    #[test]
    fn finite_difference_r1_matches_the_exact_one() {
        let device = Device::flex().autodiff();
        let (b, d, hidden) = (3, 4, 5);
        let wave = |n: usize, k: f32| -> Vec<f32> {
            (0..n).map(|i| ((i as f32 + 1.0) * k).sin()).collect()
        };
        let rows = |v: Vec<f32>| Tensor::<2>::from_data(TensorData::new(v, [b, d]), &device);
        let w1_values = wave(d * hidden, 1.3);
        let w2_values = wave(hidden, 2.1);
        let critic_on_rows = |w1: Tensor<2>, w2: Tensor<1>| {
            let inner = critic(w1, w2);
            move |x: Tensor<2>| inner(x.reshape([b, 1, 2, 2]))
        };
        // The exact mean squared gradient norm, by a backward pass through plain weights.
        let exact = |w1v: &[f32]| -> f64 {
            let w1 = Tensor::<2>::from_data(TensorData::new(w1v.to_vec(), [d, hidden]), &device);
            let w2 = Tensor::<1>::from_data(TensorData::new(w2_values.clone(), [hidden]), &device);
            let leaf = rows(wave(b * d, 0.7)).require_grad();
            let grads = critic_on_rows(w1, w2)(leaf.clone()).sum().backward();
            let g: Vec<f32> = leaf
                .grad(&grads)
                .unwrap()
                .into_data()
                .try_into_vec()
                .unwrap();
            g.iter().map(|v| (*v as f64).powi(2)).sum::<f64>() / b as f64
        };
        let w1 = Tensor::<2>::from_data(TensorData::new(w1_values.clone(), [d, hidden]), &device)
            .require_grad();
        let w2 = Tensor::<1>::from_data(TensorData::new(w2_values.clone(), [hidden]), &device);
        let x = rows(wave(b * d, 0.7));
        let direction = ascent_direction(critic_on_rows(w1.clone(), w2.clone()), x.clone());
        let penalty = r1_penalty(critic_on_rows(w1.clone(), w2), x, direction, DEFAULT_STEP);
        let value = penalty.clone().into_scalar::<f32>() as f64;
        let want = exact(&w1_values);
        assert!(
            (value - want).abs() < 1e-3 * want.max(1e-3),
            "R1 {value} vs exact {want}"
        );
        let g1: Vec<f32> = w1
            .grad(&penalty.backward())
            .unwrap()
            .into_data()
            .try_into_vec()
            .unwrap();
        let delta = 1e-2f32;
        for (i, fd_grad) in g1.iter().enumerate() {
            let (mut up, mut down) = (w1_values.clone(), w1_values.clone());
            up[i] += delta;
            down[i] -= delta;
            let numeric = (exact(&up) - exact(&down)) / (2.0 * delta as f64);
            assert!(
                (*fd_grad as f64 - numeric).abs() < 2e-2 * numeric.abs().max(0.05),
                "weight {i}: finite-difference R1 gradient {fd_grad} vs exact {numeric}"
            );
        }
    }
}
