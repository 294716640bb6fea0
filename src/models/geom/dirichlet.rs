//! GEOM's Dirichlet normality score (Golan & El-Yaniv 2018, §4; the official `experiments.py`):
//! the softmax outputs of the training images under one transformation are modelled as draws of
//! a Dirichlet distribution, whose α is fitted by Minka's fixed point, and a test image's
//! normality under that transformation is `Σ_k (α_k − 1)·log p_k`.
//!
//! The fit, as the code does it: α's sum is first approximated
//! (`s = N(K − 1)(−ψ(1)) / (N Σ f log f − Σ_k f_k Σ_i log p_ik)`, `f` the mean output), α₀ = s·f,
//! then `α ← ψ⁻¹(ψ(Σα) + mean_i log p_i)` until α moves by less than 1e-9 (Euclidean) or 1 000
//! times; ψ⁻¹ by five Newton steps from the code's start. In `f64`.

/// The digamma function ψ (recurrence to x ≥ 10, then the asymptotic series).
pub fn digamma(mut x: f64) -> f64 {
    let mut result = 0.0;
    while x < 10.0 {
        result -= 1.0 / x;
        x += 1.0;
    }
    let f = 1.0 / (x * x);
    result
        + x.ln()
        - 0.5 / x
        - f * (1.0 / 12.0 - f * (1.0 / 120.0 - f * (1.0 / 252.0 - f * (1.0 / 240.0 - f / 132.0))))
}

/// The trigamma function ψ′ (recurrence to x ≥ 10, then the asymptotic series).
pub fn trigamma(mut x: f64) -> f64 {
    let mut result = 0.0;
    while x < 10.0 {
        result += 1.0 / (x * x);
        x += 1.0;
    }
    let f = 1.0 / (x * x);
    result
        + 1.0 / x
        + f / 2.0
        + f / x * (1.0 / 6.0 - f * (1.0 / 30.0 - f * (1.0 / 42.0 - f * (1.0 / 30.0))))
}

/// ψ⁻¹(y): five Newton steps from Minka's start (`exp(y) + ½` for y ≥ −2.22, else
/// `−1/(y − ψ(1))`), as the code.
pub fn inverse_digamma(y: f64) -> f64 {
    let mut x = if y >= -2.22 {
        y.exp() + 0.5
    } else {
        -1.0 / (y - digamma(1.0))
    };
    for _ in 0..5 {
        x -= (digamma(x) - y) / trigamma(x);
    }
    x
}

/// The maximum-likelihood α of a Dirichlet from `n` observations of `k` probabilities, given as
/// their mean `mean[k]` and the mean of their logarithms `mean_log[k]`.
pub fn fit(mean: &[f64], mean_log: &[f64], n: usize) -> Vec<f64> {
    let k = mean.len();
    let n = n as f64;
    // Σ_k f_k Σ_i log p_ik = N Σ_k f_k mean_log_k.
    // A mean probability that underflowed to 0 adds nothing (f log f → 0).
    let denominator = n * mean.iter().map(|f| f * f.max(f64::MIN_POSITIVE).ln()).sum::<f64>()
        - n * mean.iter().zip(mean_log).map(|(f, l)| f * l).sum::<f64>();
    let sum = n * (k as f64 - 1.0) * (-digamma(1.0)) / denominator;
    let mut alpha: Vec<f64> = mean.iter().map(|f| f * sum).collect();
    for _ in 0..1000 {
        let total = digamma(alpha.iter().sum());
        let next: Vec<f64> = mean_log.iter().map(|l| inverse_digamma(total + l)).collect();
        let moved = alpha
            .iter()
            .zip(&next)
            .map(|(a, b)| (a - b).powi(2))
            .sum::<f64>()
            .sqrt();
        alpha = next;
        if moved < 1e-9 {
            break;
        }
    }
    alpha
}

#[cfg(test)]
mod tests {
    use super::*;

    /// ψ and ψ′ against SciPy (`scipy.special.psi`, `polygamma(1, ·)`), ψ⁻¹ inverts ψ, and the
    /// fit recovers the α of a sample drawn from a known Dirichlet.
    #[test]
    fn special_functions_and_fit() {
        for (x, psi, psi1) in [
            (0.1, -10.423754940411076, 101.43329915079275),
            (1.0, -0.5772156649015329, 1.6449340668482266),
            (2.5, 0.7031566406452432, 0.4903577561002349),
            (30.0, 3.384438132685525, 0.033895060357739946),
        ] {
            assert!((digamma(x) - psi).abs() < 1e-12 * psi.abs().max(1.0), "ψ({x})");
            assert!((trigamma(x) - psi1).abs() < 1e-12 * psi1.abs().max(1.0), "ψ′({x})");
            assert!((inverse_digamma(psi) - x).abs() < 1e-9 * x, "ψ⁻¹(ψ({x}))");
        }
        // Draws of Dirichlet(2, 5, 1) by normalised Gamma variates (Marsaglia–Tsang).
        use crate::nn::init::{component_rng, standard_normal};
        use rand::Rng;
        let mut rng = component_rng(3, 0);
        let mut gamma = |shape: f64| -> f64 {
            let (boost, shape) = if shape < 1.0 { (rng.random::<f64>().powf(1.0 / shape), shape + 1.0) } else { (1.0, shape) };
            let d = shape - 1.0 / 3.0;
            let c = 1.0 / (9.0 * d).sqrt();
            loop {
                let z = standard_normal(&mut rng) as f64;
                let v = (1.0 + c * z).powi(3);
                if v > 0.0 && rng.random::<f64>().ln() < 0.5 * z * z + d - d * v + d * v.ln() {
                    return boost * d * v;
                }
            }
        };
        let truth = [2.0, 5.0, 1.0];
        let n = 20_000;
        let (mut mean, mut mean_log) = (vec![0.0; 3], vec![0.0; 3]);
        for _ in 0..n {
            let g: Vec<f64> = truth.iter().map(|&a| gamma(a)).collect();
            let s: f64 = g.iter().sum();
            for k in 0..3 {
                mean[k] += g[k] / s / n as f64;
                mean_log[k] += (g[k] / s).ln() / n as f64;
            }
        }
        let alpha = fit(&mean, &mean_log, n);
        for (a, t) in alpha.iter().zip(truth) {
            assert!((a - t).abs() < 0.05 * t, "α {alpha:?} vs {truth:?}");
        }
    }
}
