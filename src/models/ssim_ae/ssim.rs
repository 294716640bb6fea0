//! The structural similarity index per pixel (Wang, Bovik, Sheikh, Simoncelli, 2004), as the
//! SSIM autoencoder's loss and map use it: local statistics on an 11 × 11 Gaussian window
//! (σ = 1.5), renormalised to the part of the window inside the image at the border (so the
//! map keeps the image's size without a border artefact), constants `C₁ = (K₁L)²`,
//! `C₂ = (K₂L)²` with `K₁ = 0.01`, `K₂ = 0.03` and `L` the dynamic range of the values:
//!
//! `SSIM = (2μₓμᵧ + C₁)(2σₓᵧ + C₂) / ((μₓ² + μᵧ² + C₁)(σₓ² + σᵧ² + C₂))`,
//! computed per channel.

use burn::prelude::*;
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;

/// The window side.
pub const WINDOW: usize = 11;
/// The window's standard deviation.
pub const WINDOW_SIGMA: f32 = 1.5;
const K1: f32 = 0.01;
const K2: f32 = 0.03;

/// The normalised 2-D Gaussian window as a `[1, 1, 11, 11]` kernel.
fn window(device: &Device) -> Tensor<4> {
    let half = (WINDOW / 2) as f32;
    let line: Vec<f32> = (0..WINDOW)
        .map(|i| {
            let d = i as f32 - half;
            (-d * d / (2.0 * WINDOW_SIGMA * WINDOW_SIGMA)).exp()
        })
        .collect();
    let total: f32 = line.iter().sum();
    let mut values = Vec::with_capacity(WINDOW * WINDOW);
    for a in &line {
        for b in &line {
            values.push(a * b / (total * total));
        }
    }
    Tensor::from_data(
        burn::tensor::TensorData::new(values, [1, 1, WINDOW, WINDOW]),
        device,
    )
}

/// The Gaussian-weighted sum of each channel of `x` (`[N, 1, H, W]`) over the window, zero
/// outside the image.
fn window_sum(x: Tensor<4>, kernel: Tensor<4>) -> Tensor<4> {
    let pad = WINDOW / 2;
    conv2d(
        x,
        kernel,
        None,
        ConvOptions::new([1, 1], [pad, pad], [1, 1], 1),
    )
}

/// SSIM of `x` and `y` (`[B, C, H, W]`) at every pixel of every channel, `[B, C, H, W]`, for
/// values of dynamic range `range`.
pub fn ssim_map(x: Tensor<4>, y: Tensor<4>, range: f32) -> Tensor<4> {
    let [b, c, h, w] = x.dims();
    let kernel = window(&x.device());
    let x = x.reshape([b * c, 1, h, w]);
    let y = y.reshape([b * c, 1, h, w]);
    // Near the border part of the window falls outside the image: the local statistics are
    // weighted means over the part inside (the window's mass there), not sums with zeros.
    let mass = window_sum(Tensor::ones([1, 1, h, w], &x.device()), kernel.clone());
    let local_mean = |v: Tensor<4>, kernel: Tensor<4>| window_sum(v, kernel) / mass.clone();
    let mu_x = local_mean(x.clone(), kernel.clone());
    let mu_y = local_mean(y.clone(), kernel.clone());
    let xx = local_mean(x.clone() * x.clone(), kernel.clone()) - mu_x.clone() * mu_x.clone();
    let yy = local_mean(y.clone() * y.clone(), kernel.clone()) - mu_y.clone() * mu_y.clone();
    let xy = local_mean(x * y, kernel) - mu_x.clone() * mu_y.clone();
    let c1 = (K1 * range).powi(2);
    let c2 = (K2 * range).powi(2);
    let numerator = (mu_x.clone() * mu_y.clone() * 2.0 + c1) * (xy * 2.0 + c2);
    let denominator = (mu_x.powi_scalar(2) + mu_y.powi_scalar(2) + c1) * (xx + yy + c2);
    (numerator / denominator).reshape([b, c, h, w])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SSIM is 1 for identical images, at every pixel; for two constant images a and b it is
    /// the luminance term `(2ab + C₁)/(a² + b² + C₁)` everywhere, the border included.
    #[test]
    fn ssim_of_identical_and_constant_images() {
        let device = Device::flex();
        let x = Tensor::<4>::random(
            [2, 1, 16, 16],
            burn::tensor::Distribution::Uniform(0.0, 1.0),
            &device,
        );
        let same = ssim_map(x.clone(), x, 1.0)
            .into_data()
            .try_into_vec::<f32>()
            .unwrap();
        assert!(same.iter().all(|v| (v - 1.0).abs() < 1e-4), "{:?}", &same[..4]);
        let a = Tensor::<4>::full([1, 1, 24, 24], 0.2, &device);
        let b = Tensor::<4>::full([1, 1, 24, 24], 0.6, &device);
        let map = ssim_map(a, b, 1.0).into_data().try_into_vec::<f32>().unwrap();
        let c1 = (K1 * 1.0f32).powi(2);
        let expected = (2.0 * 0.2 * 0.6 + c1) / (0.2f32 * 0.2 + 0.6 * 0.6 + c1);
        // f32: the variances are E[x²] − μ², a difference of two values near 0.36 set against
        // C₂ ≈ 1e-3, so a few 1e-4 of rounding remain where the window is cut by the border.
        for at in [12 * 24 + 12, 0, 23, 24 * 24 - 1] {
            assert!((map[at] - expected).abs() < 5e-4, "pixel {at}: {} vs {expected}", map[at]);
        }
    }
}
