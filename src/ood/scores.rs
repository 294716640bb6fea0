//! The classifier-based OOD scores (MODELS.md §21), each an *in-distribution* score (higher =
//! more like the training classes), on raw images in `[0, 1]`:
//!
//! - **MSP** (Hendrycks & Gimpel 2017): `max_c softmax(f(x))_c`.
//! - **Energy** (Liu et al. 2020): the negative free energy `T·log Σ_c exp(f_c(x)/T)`.
//! - **ODIN** (Liang et al. 2018): `x̃ = x − ε·sign(−∇ₓ log S(x; T))` with
//!   `S(x; T) = max_c softmax(f(x)/T)_c`, score `S(x̃; T)`. The gradient is taken with the
//!   network in evaluation mode, one image at a time in effect (every per-image term is
//!   summed, and no image's logits depend on another's).
//! - **Mahalanobis** (Lee et al. 2018): on the features `g_l(x)` of stage `l`, class means
//!   `μ_c` and one covariance `Σ` shared by the classes (`1/N Σ_i (g_i − μ_{y_i})(g_i −
//!   μ_{y_i})ᵀ`, as scikit-learn's `EmpiricalCovariance` in the paper's code), its
//!   pseudo-inverse `P` (`pinvh`'s float32 cut-off); `M_l(x) = max_c −(g_l(x) − μ_c)ᵀ P (g_l(x) − μ_c)`, after the input
//!   step `x̂ = x − ε·sign(∇ₓ min_c (g_l(x) − μ_c)ᵀ P (g_l(x) − μ_c))` that brings `x` closer
//!   to its nearest class; the layers' scores combined by a logistic regression
//!   ([`LogisticEnsemble`]) whose weights are kept non-negative (a deviation: see
//!   [`LogisticEnsemble::fit_non_negative`]).

use super::classifier::Classifier;
use crate::linalg::symmetric_eigen;
use crate::nn::dense::matmul_batch_invariant;
use anyhow::ensure;
use burn::prelude::*;
use burn::tensor::activation::{log_softmax, softmax};
use serde::{Deserialize, Serialize};

/// MSP of logits `[B, K]`: the largest softmax probability of each row.
pub fn msp(logits: Tensor<2>) -> Tensor<1> {
    let b = logits.dims()[0];
    softmax(logits, 1).max_dim(1).reshape([b])
}

/// The negative energy `T·logsumexp(logits/T)` of each row of `[B, K]` logits.
pub fn negative_energy(logits: Tensor<2>, temperature: f64) -> Tensor<1> {
    let b = logits.dims()[0];
    let scaled = logits / temperature;
    let top = scaled.clone().max_dim(1);
    let sum = (scaled - top.clone()).exp().sum_dim(1);
    ((sum.log() + top) * temperature).reshape([b])
}

/// The gradient of `objective(classifier, x)` (a scalar) with respect to raw images `x`
/// `[B, C, H, W]`, taken on `classifier`'s (autodiff) device; returned on `x`'s device.
fn input_gradient(
    classifier: &Classifier,
    x: &Tensor<4>,
    objective: impl FnOnce(&Classifier, Tensor<4>) -> Tensor<1>,
) -> Tensor<4> {
    let plain = x.device();
    let train_device = plain.clone().autodiff();
    let leaf = Tensor::<4>::from_data(x.clone().into_data(), &train_device).require_grad();
    let grads = objective(classifier, leaf.clone()).backward();
    let gradient = leaf
        .grad(&grads)
        .expect("the objective depends on the input");
    Tensor::from_data(gradient.into_data(), &plain)
}

/// ODIN's input direction `sign(∇ₓ log S(x; T))` for raw images `x` (plain device), the
/// gradient taken through `trained` (the classifier on its autodiff device, in evaluation
/// mode: BatchNorm on running statistics). It does not depend on ε: one direction serves a
/// whole ε grid.
pub fn odin_direction(trained: &Classifier, x: &Tensor<4>, temperature: f64) -> Tensor<4> {
    input_gradient(trained, x, |net, leaf| {
        let b = leaf.dims()[0];
        log_softmax(net.logits(leaf) / temperature, 1)
            .max_dim(1)
            .reshape([b])
            .sum()
    })
    .sign()
}

/// ODIN's score `S(x + ε·direction; T)` on the plain-device classifier `scoring`: the step
/// `−ε·sign(−∇ log S)` raises the tempered top probability.
pub fn odin_at(
    scoring: &Classifier,
    x: Tensor<4>,
    direction: Tensor<4>,
    temperature: f64,
    epsilon: f64,
) -> Tensor<1> {
    msp(scoring.logits(x + direction * epsilon) / temperature)
}

/// ODIN's score of raw images `x` (plain device); see [`odin_direction`] and [`odin_at`].
pub fn odin(
    trained: &Classifier,
    scoring: &Classifier,
    x: Tensor<4>,
    temperature: f64,
    epsilon: f64,
) -> Tensor<1> {
    if epsilon == 0.0 {
        return msp(scoring.logits(x) / temperature);
    }
    let direction = odin_direction(trained, &x, temperature);
    odin_at(scoring, x, direction, temperature, epsilon)
}

/// The class means and shared pseudo-inverse covariance of one stage's features.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClassGaussians {
    /// Number of classes.
    pub classes: usize,
    /// Feature width `D`.
    pub dim: usize,
    /// Class means, `[classes, D]` row-major.
    pub means: Vec<f32>,
    /// The pseudo-inverse of the shared covariance, `[D, D]` row-major.
    pub precision: Vec<f32>,
}

impl ClassGaussians {
    /// Fit to `features` (`[N, dim]` row-major) of samples of class `labels` (< `classes`,
    /// each class at least once).
    pub fn fit(
        features: &[f32],
        labels: &[u32],
        classes: usize,
        dim: usize,
    ) -> crate::Result<Self> {
        let n = labels.len();
        ensure!(
            features.len() == n * dim,
            "{} feature values for {n} samples of {dim}",
            features.len()
        );
        let mut sums = vec![0.0f64; classes * dim];
        let mut counts = vec![0usize; classes];
        for (row, &y) in features.chunks_exact(dim).zip(labels) {
            let y = y as usize;
            ensure!(y < classes, "class {y} of {classes}");
            counts[y] += 1;
            for (s, &v) in sums[y * dim..(y + 1) * dim].iter_mut().zip(row) {
                *s += v as f64;
            }
        }
        if let Some(empty) = counts.iter().position(|&c| c == 0) {
            anyhow::bail!("class {empty} has no training sample: its mean is undefined");
        }
        let means: Vec<f64> = sums
            .iter()
            .enumerate()
            .map(|(i, s)| s / counts[i / dim] as f64)
            .collect();
        let mut covariance = vec![0.0f64; dim * dim];
        let mut centred = vec![0.0f64; dim];
        for (row, &y) in features.chunks_exact(dim).zip(labels) {
            let mean = &means[y as usize * dim..(y as usize + 1) * dim];
            for ((c, &v), m) in centred.iter_mut().zip(row).zip(mean) {
                *c = v as f64 - m;
            }
            for i in 0..dim {
                for j in i..dim {
                    covariance[i * dim + j] += centred[i] * centred[j];
                }
            }
        }
        covariance.iter_mut().for_each(|c| *c /= n as f64);
        // The pseudo-inverse with scikit-learn's `pinvh` cut-off for float32 features (as the
        // paper's code computes them): eigenvalues below `dim · ε_f32 ×` the largest count as
        // zero, so the rounding noise of nearly constant features is not blown up.
        let eigen = symmetric_eigen(&covariance, dim);
        let largest = eigen.values.iter().fold(0.0f64, |a, v| a.max(v.abs()));
        let cutoff = dim as f64 * f32::EPSILON as f64 * largest;
        let inverse: Vec<f64> = eigen
            .values
            .iter()
            .map(|&v| if v.abs() > cutoff { 1.0 / v } else { 0.0 })
            .collect();
        let mut precision = vec![0.0f32; dim * dim];
        for i in 0..dim {
            for j in 0..dim {
                let p: f64 = (0..dim)
                    .map(|k| eigen.vectors[i * dim + k] * inverse[k] * eigen.vectors[j * dim + k])
                    .sum();
                precision[i * dim + j] = p as f32;
            }
        }
        Ok(ClassGaussians {
            classes,
            dim,
            means: means.iter().map(|&m| m as f32).collect(),
            precision,
        })
    }

    /// The squared distances `[B, classes]` of features `[B, D]` to every class mean.
    pub fn distances(&self, features: Tensor<2>) -> Tensor<2> {
        let device = features.device();
        let [b, d] = features.dims();
        let k = self.classes;
        let means = Tensor::<2>::from_data(TensorData::new(self.means.clone(), [k, d]), &device);
        let precision =
            Tensor::<2>::from_data(TensorData::new(self.precision.clone(), [d, d]), &device);
        let diff =
            (features.unsqueeze_dim::<3>(1) - means.unsqueeze_dim::<3>(0)).reshape([b * k, d]);
        (matmul_batch_invariant(diff.clone(), precision) * diff)
            .sum_dim(1)
            .reshape([b, k])
    }

    /// The confidence `max_c −d_c` of features `[B, D]`.
    pub fn confidence(&self, features: Tensor<2>) -> Tensor<1> {
        let b = features.dims()[0];
        self.distances(features).min_dim(1).reshape([b]).neg()
    }
}

/// The Mahalanobis input direction of stage `stage`: `−sign(∇ₓ min_c d_c(x))`, towards the
/// nearest class (gradient through `trained`, as [`odin_direction`]); independent of ε.
pub fn mahalanobis_direction(
    trained: &Classifier,
    x: &Tensor<4>,
    stage: usize,
    gaussians: &ClassGaussians,
) -> Tensor<4> {
    input_gradient(trained, x, |net, leaf| {
        let features = net.stages(leaf).swap_remove(stage);
        gaussians.distances(features).min_dim(1).sum()
    })
    .sign()
    .neg()
}

/// The Mahalanobis confidence of stage `stage` on `x + ε·direction` (plain device).
pub fn mahalanobis_at(
    scoring: &Classifier,
    x: Tensor<4>,
    direction: Tensor<4>,
    stage: usize,
    gaussians: &ClassGaussians,
    epsilon: f64,
) -> Tensor<1> {
    gaussians.confidence(scoring.stages(x + direction * epsilon).swap_remove(stage))
}

/// The Mahalanobis confidence of stage `stage` on raw images `x` (plain device), after the
/// input step of size `epsilon`; see [`mahalanobis_direction`].
pub fn mahalanobis(
    trained: &Classifier,
    scoring: &Classifier,
    x: Tensor<4>,
    stage: usize,
    gaussians: &ClassGaussians,
    epsilon: f64,
) -> Tensor<1> {
    if epsilon == 0.0 {
        return gaussians.confidence(scoring.stages(x).swap_remove(stage));
    }
    let direction = mahalanobis_direction(trained, &x, stage, gaussians);
    mahalanobis_at(scoring, x, direction, stage, gaussians, epsilon)
}

/// A logistic regression over the per-stage Mahalanobis confidences, fitted to tell
/// in-distribution samples (label 1) from others (label 0); its score is the linear predictor
/// `w·m + b` (the log-odds of being in-distribution).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LogisticEnsemble {
    /// One weight per stage.
    pub weights: Vec<f64>,
    /// The intercept.
    pub bias: f64,
}

impl LogisticEnsemble {
    /// Fit by Newton's method with an L2 penalty `½‖w‖²` beside the summed log-loss (the
    /// intercept unpenalised; scikit-learn's default `C = 1`), on the features standardised by
    /// their mean and standard deviation and folded back into the weights, so the fit does not
    /// depend on the confidences' scale. The paper's code used scikit-learn's
    /// `LogisticRegressionCV` on the raw confidences (penalty chosen by cross-validation): a
    /// deviation. `rows[i]` has one value per stage.
    pub fn fit(rows: &[Vec<f64>], labels: &[u8]) -> crate::Result<Self> {
        ensure!(
            !rows.is_empty() && rows.len() == labels.len(),
            "{} rows, {} labels",
            rows.len(),
            labels.len()
        );
        ensure!(
            labels.contains(&0) && labels.contains(&1),
            "the ensemble needs both in-distribution and other samples"
        );
        let d = rows[0].len();
        let n = rows.len() as f64;
        let mean: Vec<f64> = (0..d)
            .map(|j| rows.iter().map(|r| r[j]).sum::<f64>() / n)
            .collect();
        let scale: Vec<f64> = (0..d)
            .map(|j| {
                let var = rows.iter().map(|r| (r[j] - mean[j]).powi(2)).sum::<f64>() / n;
                var.sqrt().max(1e-12)
            })
            .collect();
        let z: Vec<Vec<f64>> = rows
            .iter()
            .map(|r| (0..d).map(|j| (r[j] - mean[j]) / scale[j]).collect())
            .collect();
        // Parameters θ = (w_1..w_d, b); the penalty covers the weights only.
        let mut theta = vec![0.0f64; d + 1];
        for _ in 0..100 {
            let mut gradient = vec![0.0f64; d + 1];
            let mut hessian = vec![0.0f64; (d + 1) * (d + 1)];
            for (row, &y) in z.iter().zip(labels) {
                let eta = theta[d] + row.iter().zip(&theta).map(|(x, w)| x * w).sum::<f64>();
                let p = 1.0 / (1.0 + (-eta).exp());
                let x: Vec<f64> = row.iter().copied().chain([1.0]).collect();
                for i in 0..=d {
                    gradient[i] += (p - y as f64) * x[i];
                    for j in 0..=d {
                        hessian[i * (d + 1) + j] += p * (1.0 - p) * x[i] * x[j];
                    }
                }
            }
            for i in 0..d {
                gradient[i] += theta[i];
                hessian[i * (d + 1) + i] += 1.0;
            }
            let step = solve(hessian, gradient, d + 1)
                .ok_or_else(|| anyhow::anyhow!("the ensemble's Newton system is singular"))?;
            let size: f64 = step.iter().map(|s| s.abs()).fold(0.0, f64::max);
            theta.iter_mut().zip(&step).for_each(|(t, s)| *t -= s);
            if size < 1e-10 {
                break;
            }
        }
        let weights: Vec<f64> = (0..d).map(|j| theta[j] / scale[j]).collect();
        let bias = theta[d] - (0..d).map(|j| theta[j] * mean[j] / scale[j]).sum::<f64>();
        Ok(LogisticEnsemble { weights, bias })
    }

    /// [`LogisticEnsemble::fit`] with every weight at least 0: a stage whose fitted weight is
    /// negative is left out (weight 0) and the rest refitted, until none is. A stage's
    /// confidence only ever counts for in-distribution: fitted against FGSM images, the
    /// unconstrained regression can weigh a stage negatively and then rank real OOD images
    /// above in-distribution ones (measured: AUROC 0.09 against Fashion-MNIST on one seed).
    pub fn fit_non_negative(rows: &[Vec<f64>], labels: &[u8]) -> crate::Result<Self> {
        let d = rows.first().map_or(0, Vec::len);
        let mut kept: Vec<usize> = (0..d).collect();
        loop {
            ensure!(
                !kept.is_empty(),
                "no stage's confidence separates in-distribution images from the others"
            );
            let sub: Vec<Vec<f64>> = rows
                .iter()
                .map(|r| kept.iter().map(|&j| r[j]).collect())
                .collect();
            let fit = Self::fit(&sub, labels)?;
            if fit.weights.iter().all(|&w| w >= 0.0) {
                let mut weights = vec![0.0; d];
                for (&j, &w) in kept.iter().zip(&fit.weights) {
                    weights[j] = w;
                }
                return Ok(LogisticEnsemble {
                    weights,
                    bias: fit.bias,
                });
            }
            kept = kept
                .iter()
                .zip(&fit.weights)
                .filter(|(_, w)| **w >= 0.0)
                .map(|(&j, _)| j)
                .collect();
        }
    }

    /// The linear predictor of one row of per-stage confidences.
    pub fn score(&self, row: &[f64]) -> f64 {
        self.bias
            + row
                .iter()
                .zip(&self.weights)
                .map(|(x, w)| x * w)
                .sum::<f64>()
    }
}

/// Solve the `n × n` system `a·x = b` by Gaussian elimination with partial pivoting.
fn solve(mut a: Vec<f64>, mut b: Vec<f64>, n: usize) -> Option<Vec<f64>> {
    for col in 0..n {
        let pivot =
            (col..n).max_by(|&i, &j| a[i * n + col].abs().total_cmp(&a[j * n + col].abs()))?;
        if a[pivot * n + col].abs() < 1e-300 {
            return None;
        }
        for k in 0..n {
            a.swap(col * n + k, pivot * n + k);
        }
        b.swap(col, pivot);
        for row in col + 1..n {
            let f = a[row * n + col] / a[col * n + col];
            for k in col..n {
                a[row * n + k] -= f * a[col * n + k];
            }
            b[row] -= f * b[col];
        }
    }
    let mut x = vec![0.0; n];
    for row in (0..n).rev() {
        let s: f64 = (row + 1..n).map(|k| a[row * n + k] * x[k]).sum();
        x[row] = (b[row] - s) / a[row * n + row];
    }
    Some(x)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ood::classifier::{ClassifierConfig, Normalisation};

    fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data()
            .convert::<f32>()
            .try_into_vec::<f32>()
            .unwrap()
    }

    /// MSP and the negative energy of two rows of logits, by hand.
    #[test]
    fn msp_and_energy_by_hand() {
        let device = Device::flex();
        let logits = Tensor::<2>::from_data(
            TensorData::new(vec![1.0f32, 2.0, 3.0, 0.0, 0.0, 0.0], [2, 3]),
            &device,
        );
        let e: f64 = [1.0f64, 2.0, 3.0].iter().map(|v| v.exp()).sum();
        let m = values(msp(logits.clone()));
        assert!((m[0] as f64 - 3f64.exp() / e).abs() < 1e-6 && (m[1] - 1.0 / 3.0).abs() < 1e-6);
        let t = 2.0;
        let by_hand = t * [0.5f64, 1.0, 1.5].iter().map(|v| v.exp()).sum::<f64>().ln();
        let n = values(negative_energy(logits, t));
        assert!(
            (n[0] as f64 - by_hand).abs() < 1e-5 && (n[1] as f64 - 2.0 * 3f64.ln()).abs() < 1e-5,
            "{n:?}"
        );
    }

    /// A small LeNet on 8×8 grey images, 3 classes, on the autodiff device and the plain one.
    fn tiny() -> (Classifier, Classifier, Tensor<4>) {
        let device = Device::flex();
        let config = ClassifierConfig::default_for([1, 8, 8]);
        let pixels: Vec<f32> = (0..2 * 64).map(|i| ((i * 29) % 31) as f32 / 30.0).collect();
        let norm = Normalisation::fit(&pixels, [1, 8, 8]);
        let trained =
            Classifier::new(&config, [1, 8, 8], 3, norm, &device.clone().autodiff(), 5).unwrap();
        let scoring = trained.valid();
        let x = scoring.images(&pixels, &device);
        (trained, scoring, x)
    }

    /// `x + ε·sign(∇f)` with the gradient of `f` (a per-image scalar, summed) taken by central
    /// differences on the plain classifier.
    fn stepped_by_hand(
        x: &Tensor<4>,
        epsilon: f32,
        f: impl Fn(Tensor<4>) -> Vec<f32>,
    ) -> Tensor<4> {
        let device = x.device();
        let base = values(x.clone());
        let h = 1e-2f32;
        let mut stepped = base.clone();
        for p in 0..base.len() {
            let at = |delta: f32| {
                let mut v = base.clone();
                v[p] += delta;
                f(Tensor::from_data(TensorData::new(v, x.dims()), &device))
                    .iter()
                    .sum::<f32>()
            };
            let slope = at(h) - at(-h);
            stepped[p] += epsilon * slope.signum() * f32::from(slope != 0.0);
        }
        Tensor::from_data(TensorData::new(stepped, x.dims()), &device)
    }

    /// ODIN: the input step follows the sign of `∇ log S(x; T)`, and the score is the tempered
    /// top probability of the stepped images.
    #[test]
    fn odin_by_hand() {
        let (trained, scoring, x) = tiny();
        let (t, epsilon) = (10.0, 0.01f32);
        let log_top = |x: Tensor<4>| {
            values(
                log_softmax(scoring.logits(x) / t, 1)
                    .max_dim(1)
                    .reshape([2]),
            )
        };
        let by_hand = values(msp(
            scoring.logits(stepped_by_hand(&x, epsilon, log_top)) / t
        ));
        let got = values(odin(&trained, &scoring, x.clone(), t, epsilon as f64));
        for (a, b) in got.iter().zip(&by_hand) {
            assert!((a - b).abs() < 1e-5, "{got:?} vs {by_hand:?}");
        }
        let plain = values(odin(&trained, &scoring, x.clone(), t, 0.0));
        assert!(
            got.iter().zip(&plain).all(|(a, b)| a > b),
            "the step raises the score"
        );
        let unit = values(odin(&trained, &scoring, x.clone(), 1.0, 0.0));
        assert_eq!(unit, values(msp(scoring.logits(x))));
    }

    /// With a WRN (BatchNorm), every score of an image is the same alone as in a batch: the
    /// input gradients and the scores use the running statistics, not the batch's.
    #[test]
    fn wrn_scores_do_not_depend_on_the_batch() {
        let device = Device::flex();
        let config = ClassifierConfig {
            depth: 10,
            widen: 1,
            ..ClassifierConfig::default_for([3, 8, 8])
        };
        // 12 images fit the class Gaussians of the final features (64 wide); 3 are scored.
        let fit: Vec<f32> = (0..12 * 192)
            .map(|i| ((i * 53 + i / 192 * 7) % 47) as f32 / 46.0)
            .collect();
        let pixels = &fit[..3 * 192];
        let norm = Normalisation::fit(&fit, [3, 8, 8]);
        let mut trained =
            Classifier::new(&config, [3, 8, 8], 4, norm, &device.clone().autodiff(), 1).unwrap();
        trained.set_batch_statistics(false);
        let scoring = trained.valid();
        let features = values(scoring.stages(scoring.images(&fit, &device)).swap_remove(3));
        let labels: Vec<u32> = (0..12).map(|i| i % 3).collect();
        let g = ClassGaussians::fit(&features, &labels, 3, 64).unwrap();
        let all = scoring.images(pixels, &device);
        let batch_odin = values(odin(&trained, &scoring, all.clone(), 1000.0, 0.002));
        let batch_maha = values(mahalanobis(&trained, &scoring, all, 3, &g, 0.002));
        assert!(
            batch_maha.iter().all(|&c| c < -1e-3),
            "non-trivial distances: {batch_maha:?}"
        );
        for i in 0..3 {
            let one = scoring.images(&pixels[i * 192..(i + 1) * 192], &device);
            let alone = values(odin(&trained, &scoring, one.clone(), 1000.0, 0.002))[0];
            assert!(
                (alone - batch_odin[i]).abs() < 1e-6,
                "ODIN {alone} alone, {} in the batch",
                batch_odin[i]
            );
            let alone = values(mahalanobis(&trained, &scoring, one, 3, &g, 0.002))[0];
            assert!(
                (alone - batch_maha[i]).abs() <= 1e-4 * alone.abs().max(1.0),
                "Mahalanobis {alone} alone, {} in the batch",
                batch_maha[i]
            );
        }
    }

    /// Class means, the covariance normalised by N around each sample's class mean, its
    /// inverse and the confidence on 2-D features, by hand.
    #[test]
    fn class_gaussians_by_hand() {
        // Class 0: (0,0), (2,0); class 1: (0,2), (0,4). Means (1,0), (0,3). Centred:
        // (−1,0), (1,0), (0,−1), (0,1) → covariance diag(½, ½) → precision diag(2, 2).
        let g = ClassGaussians::fit(
            &[0.0, 0.0, 2.0, 0.0, 0.0, 2.0, 0.0, 4.0],
            &[0, 0, 1, 1],
            2,
            2,
        )
        .unwrap();
        assert_eq!(g.means, [1.0, 0.0, 0.0, 3.0]);
        for (p, q) in g.precision.iter().zip([2.0, 0.0, 0.0, 2.0]) {
            assert!((p - q).abs() < 1e-5, "{:?}", g.precision);
        }
        // (1, 1): to class 0, 2·(0² + 1²) = 2; to class 1, 2·(1² + 2²) = 10 → confidence −2.
        let f = Tensor::<2>::from_data(TensorData::new(vec![1.0f32, 1.0], [1, 2]), &Device::flex());
        let d = values(g.distances(f.clone()));
        assert!(
            (d[0] - 2.0).abs() < 1e-5 && (d[1] - 10.0).abs() < 1e-5,
            "{d:?}"
        );
        assert!((values(g.confidence(f))[0] + 2.0).abs() < 1e-5);
        assert!(
            ClassGaussians::fit(&[0.0, 0.0], &[0], 2, 1).is_err(),
            "class 1 has no sample"
        );

        // A correlated case: one class, rows (1, 1), (−1, −1), (1, −1), (−1, 1), (2, 2), (−2, −2)
        // (mean 0): Σx² = Σy² = 12, Σxy = 8, over 6 → [[2, 4/3], [4/3, 2]], determinant 20/9,
        // inverse (9/20)·[[2, −4/3], [−4/3, 2]] = [[0.9, −0.6], [−0.6, 0.9]].
        let rows = [
            1.0, 1.0, -1.0, -1.0, 1.0, -1.0, -1.0, 1.0, 2.0, 2.0, -2.0, -2.0,
        ];
        let g = ClassGaussians::fit(&rows, &[0, 0, 0, 0, 0, 0], 1, 2).unwrap();
        let expected = [0.9, -0.6, -0.6, 0.9];
        for (p, q) in g.precision.iter().zip(expected) {
            assert!((p - q).abs() < 1e-5, "{:?}", g.precision);
        }
    }

    /// Mahalanobis on a stage: the input step follows the sign of minus the gradient of the
    /// distance to the nearest class, and the confidence is read on the stepped images.
    #[test]
    fn mahalanobis_step_by_hand() {
        let (trained, scoring, x) = tiny();
        // Class Gaussians of 200 pseudo-random images (full-rank covariance of the 64 features).
        let fit: Vec<f32> = (0..200 * 64)
            .map(|i| ((i * 7919 + i / 64 * 31) % 101) as f32 / 100.0)
            .collect();
        let features = values(
            scoring
                .stages(scoring.images(&fit, &x.device()))
                .swap_remove(1),
        );
        let labels: Vec<u32> = (0..200).map(|i| i % 2).collect();
        let g = ClassGaussians::fit(&features, &labels, 2, 64).unwrap();
        let epsilon = 0.002f32;
        let nearest = |x: Tensor<4>| {
            values(
                g.distances(scoring.stages(x).swap_remove(1))
                    .min_dim(1)
                    .reshape([2])
                    .neg(),
            )
        };
        let stepped = stepped_by_hand(&x, epsilon, nearest);
        let by_hand = values(g.confidence(scoring.stages(stepped).swap_remove(1)));
        let got = values(mahalanobis(
            &trained,
            &scoring,
            x.clone(),
            1,
            &g,
            epsilon as f64,
        ));
        for (a, b) in got.iter().zip(&by_hand) {
            assert!(
                (a - b).abs() < 1e-3 * b.abs().max(1.0),
                "{got:?} vs {by_hand:?}"
            );
        }
        let plain = values(mahalanobis(&trained, &scoring, x, 1, &g, 0.0));
        assert!(
            got.iter().zip(&plain).all(|(a, b)| a > b),
            "the step brings images closer: {got:?} vs {plain:?}"
        );
    }

    /// The ensemble's fit is the penalised optimum: on the standardised features the gradient
    /// `Σ (p − y)·z + (w, 0)` vanishes; and it ranks a separating feature the right way.
    #[test]
    fn ensemble_is_the_penalised_optimum() {
        let rows: Vec<Vec<f64>> = (0..40)
            .map(|i| {
                vec![
                    (i % 7) as f64 + if i < 20 { 3.0 } else { 0.0 },
                    ((i * 5) % 11) as f64,
                ]
            })
            .collect();
        let labels: Vec<u8> = (0..40).map(|i| u8::from(i < 20)).collect();
        let e = LogisticEnsemble::fit(&rows, &labels).unwrap();
        let n = rows.len() as f64;
        let stats: Vec<(f64, f64)> = (0..2)
            .map(|j| {
                let m = rows.iter().map(|r| r[j]).sum::<f64>() / n;
                (
                    m,
                    (rows.iter().map(|r| (r[j] - m).powi(2)).sum::<f64>() / n).sqrt(),
                )
            })
            .collect();
        let w_std: Vec<f64> = (0..2).map(|j| e.weights[j] * stats[j].1).collect();
        let mut gradient = [w_std[0], w_std[1], 0.0];
        for (r, &y) in rows.iter().zip(&labels) {
            let p = 1.0 / (1.0 + (-e.score(r)).exp());
            for j in 0..2 {
                gradient[j] += (p - y as f64) * (r[j] - stats[j].0) / stats[j].1;
            }
            gradient[2] += p - y as f64;
        }
        assert!(gradient.iter().all(|g| g.abs() < 1e-8), "{gradient:?}");
        assert!(e.weights[0] > 0.0);
        assert!(LogisticEnsemble::fit(&rows, &vec![1; 40]).is_err());

        // A feature that counts against in-distribution is left out of the constrained fit,
        // which is then the plain fit on the other feature.
        let flipped: Vec<Vec<f64>> = rows
            .iter()
            .map(|r| vec![r[0], -r[0] * 2.0 + r[1] * 0.1])
            .collect();
        let free = LogisticEnsemble::fit(&flipped, &labels).unwrap();
        assert!(free.weights.iter().any(|&w| w < 0.0), "{free:?}");
        let kept = LogisticEnsemble::fit_non_negative(&flipped, &labels).unwrap();
        let alone = LogisticEnsemble::fit(
            &rows.iter().map(|r| vec![r[0]]).collect::<Vec<_>>(),
            &labels,
        )
        .unwrap();
        assert_eq!(kept.weights[1], 0.0);
        assert!(
            (kept.weights[0] - alone.weights[0]).abs() < 1e-12
                && (kept.bias - alone.bias).abs() < 1e-12
        );
    }

    /// The Mahalanobis input step's gradient of an image's features has the same bits alone
    /// and in a batch: 6 classes of 32 features (a WRN-16-2's first stage) put one image's
    /// `[6, 32] · precisionᵀ` in the matrix product's horizontal kernel and three images' in
    /// another, unless `nn::dense` pads them.
    #[test]
    fn distance_gradients_are_the_same_alone_and_in_a_batch() {
        let device = Device::flex().autodiff();
        let (classes, dim) = (6, 32);
        let value = |i: usize| ((i * 7919) % 1013) as f32 / 506.0 - 1.0;
        let gaussians = ClassGaussians {
            classes,
            dim,
            means: (0..classes * dim).map(value).collect(),
            precision: (0..dim * dim).map(|i| value(i + 17)).collect(),
        };
        let gradient_bits = |rows: &[f32]| -> Vec<u32> {
            let n = rows.len() / dim;
            let x = Tensor::<2>::from_data(TensorData::new(rows.to_vec(), [n, dim]), &device)
                .require_grad();
            let grads = gaussians.distances(x.clone()).min_dim(1).sum().backward();
            let gradient = x.grad(&grads).unwrap();
            values(gradient).into_iter().map(f32::to_bits).collect()
        };
        let rows: Vec<f32> = (0..3 * dim).map(|i| value(i + 5)).collect();
        let together = gradient_bits(&rows);
        let alone = gradient_bits(&rows[dim..2 * dim]);
        assert_eq!(alone, together[dim..2 * dim].to_vec());
    }
}
