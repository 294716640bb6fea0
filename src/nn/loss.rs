//! Losses shared by the models. Each returns a scalar (rank-1, one element) mean unless it says
//! it is per sample.

use burn::prelude::*;
use burn::tensor::activation::log_sigmoid;

/// Binary cross-entropy of `sigmoid(logits)` against a constant target (1 or 0), averaged.
/// Computed from the logits (`-log σ(l)` or `-log σ(-l)`), which equals `nn.BCELoss` on the
/// sigmoid output without its clamping at large logits.
pub fn bce_with_logits<const D: usize>(logits: Tensor<D>, target_one: bool) -> Tensor<1> {
    let signed = if target_one { logits } else { logits.neg() };
    log_sigmoid(signed).neg().mean()
}

/// Mean absolute error over every element.
pub fn l1<const D: usize>(a: Tensor<D>, b: Tensor<D>) -> Tensor<1> {
    (a - b).abs().mean()
}

/// Mean squared error over every element.
pub fn l2<const D: usize>(a: Tensor<D>, b: Tensor<D>) -> Tensor<1> {
    (a - b).powi_scalar(2).mean()
}

/// Per-pixel absolute residual `|x − y|` averaged over channels, `[B, C, H, W] → [B, 1, H, W]`:
/// the anomaly map of a model that reconstructs its input.
pub fn abs_residual_map(x: Tensor<4>, y: Tensor<4>) -> Tensor<4> {
    (x - y).abs().mean_dim(1)
}

/// Per-sample L1 norm of the row differences: `[B, D] → [B]`.
pub fn row_l1(a: Tensor<2>, b: Tensor<2>) -> Tensor<1> {
    let n = a.dims()[0];
    (a - b).abs().sum_dim(1).reshape([n])
}

/// Per-sample mean of squared differences: `[B, …] → [B]`.
pub fn per_sample_mse<const D: usize>(a: Tensor<D>, b: Tensor<D>) -> Tensor<1> {
    let batch = a.dims()[0];
    (a - b)
        .powi_scalar(2)
        .reshape([batch as i32, -1])
        .mean_dim(1)
        .reshape([batch])
}

/// `KL(N(μ, diag σ²) ‖ N(0, I)) = ½ Σ (μ² + σ² − log σ² − 1)` per sample, from the mean and
/// log-variance `[B, d]`: `[B]`. The VAE's and adVAE's latent term.
pub fn kl_to_standard_normal(mean: Tensor<2>, log_var: Tensor<2>) -> Tensor<1> {
    let b = mean.dims()[0];
    let terms = mean.powi_scalar(2) + log_var.clone().exp() - log_var - 1.0;
    terms.sum_dim(1).reshape([b]) * 0.5
}
