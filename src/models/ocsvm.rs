//! One-class SVM: Schölkopf, Platt, Shawe-Taylor, Smola, Williamson. "Estimating the Support of
//! a High-Dimensional Distribution". Neural Computation 13(7), 2001 (MODELS.md §16), the
//! baseline of the Deep SVDD tables.
//!
//! RBF kernel `k(x, y) = exp(−γ‖x − y‖²)`; the dual `min ½ αᵀQα` subject to `0 ≤ αᵢ ≤ 1`,
//! `Σ αᵢ = ν·l` (libsvm's scaling of the problem), solved by SMO with libsvm's second-order
//! working-set selection and stopping rule (the maximal KKT violation under `tolerance`), its
//! start (the first ⌊ν·l⌋ multipliers at 1) and its offset ρ (the mean gradient over the free
//! multipliers, or the middle of the bounds when none is free), so that the decision function
//! `f(x) = Σ αᵢ k(xᵢ, x) − ρ` is scikit-learn's `OneClassSVM.decision_function`. No shrinking
//! (it changes the speed, not the solution). The kernel matrix is kept whole in `f32`, as
//! libsvm's cache keeps it: training sets larger than `max_samples` (8192: a 256 MiB matrix) are
//! subsampled, seeded, to that many rows. Anomaly score `−f(x)`.
//!
//! γ: a number, or `"scale"` (scikit-learn's default, `1 / (D · Var(X))` over every value of the
//! training set) fixed at fit time. The Deep SVDD paper picks ν ∈ {0.01, 0.1} and γ ∈
//! {2⁻¹⁰, …, 2⁻¹} on a labelled hold-out of the test set; that is test-set selection, so it is
//! not built in: ν = 0.1 and γ = "scale" by default, both settable. Images are scaled as that
//! protocol's (global contrast normalisation, L1, then min-max: `--scaling gcn-l1`, the default
//! on images).

use super::{Detector, ModelInfo, ModelSpec, StepLosses};
use crate::data::preprocess::Scaling;
use crate::data::{SampleShape, Samples};
use crate::nn::{Trainables, TrainablesMut, Weights};
use crate::nn::statistics::{read_tensors, write_tensors, OwnedTensor};
use anyhow::{Context, ensure};
use crate::nn::dense::matmul_batch_invariant;
use burn::prelude::*;
use rand::SeedableRng;
use rand::seq::index::sample;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// γ of the RBF kernel.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Gamma {
    /// `"scale"`: `1 / (D · Var(X))`, fixed from the training set.
    Rule(GammaRule),
    /// A given value.
    Value(f64),
}

/// A rule for γ.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GammaRule {
    /// scikit-learn's default `1 / (D · Var(X))`.
    Scale,
}

/// OC-SVM settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct OcsvmConfig {
    /// ν in (0, 1]: an upper bound on the share of training outliers and a lower bound on the
    /// share of support vectors (0.1).
    pub nu: f64,
    /// γ of the RBF kernel (`"scale"`).
    pub gamma: Gamma,
    /// The stopping tolerance on the maximal KKT violation (1e-3, libsvm's and scikit-learn's).
    pub tolerance: f64,
    /// Most training rows the kernel matrix is built on; more are subsampled, seeded (8192).
    pub max_samples: usize,
    /// Rows per pass of the (no-op) training loop (4096).
    pub batch_size: usize,
}

impl Default for OcsvmConfig {
    fn default() -> Self {
        OcsvmConfig {
            nu: 0.1,
            gamma: Gamma::Rule(GammaRule::Scale),
            tolerance: 1e-3,
            max_samples: 8192,
            batch_size: 4096,
        }
    }
}

impl ModelSpec for OcsvmConfig {
    const INFO: ModelInfo = ModelInfo {
        name: "ocsvm",
        group: super::ModelGroup::Baseline,
        paper: "Schölkopf et al. Estimating the Support of a High-Dimensional Distribution. Neural Computation 2001",
        summary: "one-class SVM, RBF kernel, libsvm's SMO (scikit-learn's OneClassSVM); fitted in closed form; score −f(x)",
        inputs: "tables, images (flattened)",
    };
    type Detector = Ocsvm;
    const FITTED_IN_CLOSED_FORM: bool = true;

    /// ν within (0, 1], γ and the tolerance positive, at least two samples to fit on.
    fn check(&self) -> crate::Result<()> {
        ensure!(
            self.nu > 0.0 && self.nu <= 1.0,
            "ocsvm nu must be within (0, 1], got {}",
            self.nu
        );
        if let Gamma::Value(g) = self.gamma {
            ensure!(g.is_finite() && g > 0.0, "ocsvm gamma must be positive, got {g}");
        }
        ensure!(
            self.max_samples >= 2,
            "ocsvm max_samples must be at least 2, got {}",
            self.max_samples
        );
        ensure!(
            self.tolerance.is_finite() && self.tolerance > 0.0,
            "ocsvm tolerance must be positive, got {}",
            self.tolerance
        );
        Ok(())
    }

    fn build(&self, shape: SampleShape, device: &Device, seed: u64) -> crate::Result<Ocsvm> {
        ModelSpec::check(self)?;
        Ok(Ocsvm {
            config: self.clone(),
            features: shape.len(),
            device: device.clone(),
            seed,
            fitted: Fitted::default(),
        })
    }

    fn epochs(&self) -> usize {
        1
    }

    fn batch_size(&self) -> usize {
        self.batch_size
    }

    fn image_size(&self) -> Option<usize> {
        None
    }

    /// Images: the Deep SVDD protocol's global contrast normalisation (L1), then min-max.
    fn image_scaling(&self) -> Scaling {
        Scaling::GcnL1
    }
}

/// The OC-SVM detector.
pub struct Ocsvm {
    config: OcsvmConfig,
    features: usize,
    device: Device,
    seed: u64,
    fitted: Fitted,
}

/// The solution: support vectors, their multipliers, ρ and γ.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Fitted {
    /// Support vectors, row-major.
    pub vectors: Vec<f32>,
    /// Their multipliers α (> 0).
    pub alpha: Vec<f64>,
    /// The offset ρ.
    pub rho: f64,
    /// The kernel's γ.
    pub gamma: f64,
}

impl Ocsvm {
    /// `Σ αᵢ k(xᵢ, x) − ρ` for every row of `x` `[B, D]`.
    fn decision(&self, x: Tensor<2>) -> Tensor<1> {
        let [b, d] = x.dims();
        let f = &self.fitted;
        let m = f.alpha.len();
        if m == 0 {
            // Never fitted: the loop fits before it validates or scores anything.
            return Tensor::zeros([b], &x.device());
        }
        let vectors = Tensor::<2>::from_data(TensorData::new(f.vectors.clone(), [m, d]), &x.device());
        let k = rbf(x, vectors, f.gamma);
        let alpha: Vec<f32> = f.alpha.iter().map(|&a| a as f32).collect();
        let alpha = Tensor::<2>::from_data(TensorData::new(alpha, [m, 1]), &k.device());
        matmul_batch_invariant(k, alpha).reshape([b]) - f.rho as f32
    }
}

/// `exp(−γ‖aᵢ − bⱼ‖²)` `[A, B]` for rows of `a` `[A, D]` and `b` `[B, D]`.
fn rbf(a: Tensor<2>, b: Tensor<2>, gamma: f64) -> Tensor<2> {
    let na = a.clone().powi_scalar(2).sum_dim(1);
    let nb = b.clone().powi_scalar(2).sum_dim(1).transpose();
    let cross = matmul_batch_invariant(a, b.transpose());
    let squared = (na + nb - cross * 2.0).clamp_min(0.0);
    (squared * (-gamma)).exp()
}

/// scikit-learn's `gamma="scale"`: `1 / (D · Var(X))`, the variance over every value.
fn scale_gamma(values: &[f32], d: usize) -> f64 {
    let n = values.len() as f64;
    let mean = values.iter().map(|&v| v as f64).sum::<f64>() / n;
    let var = values.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n;
    if var > 0.0 { 1.0 / (d as f64 * var) } else { 1.0 }
}

/// libsvm's one-class solver on the kernel matrix `q` (`l × l`, row-major): the multipliers
/// and ρ.
pub fn solve(q: &[f32], l: usize, nu: f64, tolerance: f64) -> (Vec<f64>, f64) {
    const TAU: f64 = 1e-12;
    let c = 1.0;
    let mut alpha = vec![0.0f64; l];
    let total = nu * l as f64;
    let whole = (total as usize).min(l);
    for a in alpha.iter_mut().take(whole) {
        *a = 1.0;
    }
    if whole < l {
        alpha[whole] = total - whole as f64;
    }
    let row = |i: usize| &q[i * l..(i + 1) * l];
    let mut gradient = vec![0.0f64; l];
    for (i, &a) in alpha.iter().enumerate() {
        if a != 0.0 {
            for (g, &qij) in gradient.iter_mut().zip(row(i)) {
                *g += a * qij as f64;
            }
        }
    }
    let max_iterations = (10_000_000usize).max(100 * l);
    for _ in 0..max_iterations {
        // i: the most violating multiplier that can grow; j: the best partner by the
        // second-order gain among those that can shrink.
        let mut gmax = f64::NEG_INFINITY;
        let mut i = usize::MAX;
        for t in 0..l {
            if alpha[t] < c && -gradient[t] >= gmax {
                gmax = -gradient[t];
                i = t;
            }
        }
        let mut gmax2 = f64::NEG_INFINITY;
        let mut j = usize::MAX;
        let mut best = f64::INFINITY;
        if i != usize::MAX {
            let qi = row(i);
            for t in 0..l {
                if alpha[t] > 0.0 {
                    gmax2 = gmax2.max(gradient[t]);
                    let diff = gmax + gradient[t];
                    if diff > 0.0 {
                        let mut quad = q[i * l + i] as f64 + q[t * l + t] as f64 - 2.0 * qi[t] as f64;
                        if quad <= 0.0 {
                            quad = TAU;
                        }
                        let gain = -diff * diff / quad;
                        if gain <= best {
                            best = gain;
                            j = t;
                        }
                    }
                }
            }
        }
        if gmax + gmax2 < tolerance || j == usize::MAX {
            break;
        }
        let (old_i, old_j) = (alpha[i], alpha[j]);
        let mut quad = q[i * l + i] as f64 + q[j * l + j] as f64 - 2.0 * q[i * l + j] as f64;
        if quad <= 0.0 {
            quad = TAU;
        }
        let delta = (gradient[i] - gradient[j]) / quad;
        let sum = alpha[i] + alpha[j];
        alpha[i] -= delta;
        alpha[j] += delta;
        if sum > c {
            if alpha[i] > c {
                alpha[i] = c;
                alpha[j] = sum - c;
            }
        } else if alpha[j] < 0.0 {
            alpha[j] = 0.0;
            alpha[i] = sum;
        }
        if sum > c {
            if alpha[j] > c {
                alpha[j] = c;
                alpha[i] = sum - c;
            }
        } else if alpha[i] < 0.0 {
            alpha[i] = 0.0;
            alpha[j] = sum;
        }
        let (di, dj) = (alpha[i] - old_i, alpha[j] - old_j);
        let (qi, qj) = (row(i), row(j));
        for t in 0..l {
            gradient[t] += di * qi[t] as f64 + dj * qj[t] as f64;
        }
    }
    // ρ: the mean gradient over free multipliers, else the middle of the bounds.
    let (mut upper, mut lower) = (f64::INFINITY, f64::NEG_INFINITY);
    let (mut free, mut sum_free) = (0usize, 0.0f64);
    for t in 0..l {
        if alpha[t] >= c {
            lower = lower.max(gradient[t]);
        } else if alpha[t] <= 0.0 {
            upper = upper.min(gradient[t]);
        } else {
            free += 1;
            sum_free += gradient[t];
        }
    }
    // With every multiplier at a bound on one side only (ν = 1 puts them all at 1), libsvm's
    // middle of the bounds is infinite: the finite bound is taken instead.
    let rho = if free > 0 {
        sum_free / free as f64
    } else if upper.is_finite() && lower.is_finite() {
        (upper + lower) / 2.0
    } else if upper.is_finite() {
        upper
    } else {
        lower
    };
    (alpha, rho)
}

impl Detector for Ocsvm {
    fn train_step(&mut self, _batch: Tensor<2>) -> crate::Result<StepLosses> {
        Ok(Vec::new())
    }

    fn fit_statistics(&mut self, train: &Samples) -> crate::Result<()> {
        let d = self.features;
        ensure!(train.shape.len() == d, "ocsvm was built for {d} features, not {}", train.shape.len());
        ensure!(train.len() >= 1, "ocsvm needs at least one training sample");
        let values: Vec<f32> = if train.len() > self.config.max_samples {
            let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
            let mut rows = sample(&mut rng, train.len(), self.config.max_samples).into_vec();
            rows.sort_unstable();
            rows.iter().flat_map(|&i| train.sample(i).iter().copied()).collect()
        } else {
            train.values.clone()
        };
        let l = values.len() / d;
        let gamma = match self.config.gamma {
            Gamma::Value(g) => g,
            Gamma::Rule(GammaRule::Scale) => scale_gamma(&values, d),
        };
        let x = Tensor::<2>::from_data(TensorData::new(values.clone(), [l, d]), &self.device);
        let q = rbf(x.clone(), x, gamma)
            .into_data()
            .try_into_vec::<f32>()
            .map_err(|e| anyhow::anyhow!("reading the kernel matrix: {e:?}"))?;
        let (alpha, rho) = solve(&q, l, self.config.nu, self.config.tolerance);
        let mut fitted = Fitted {
            rho,
            gamma,
            ..Fitted::default()
        };
        for (i, &a) in alpha.iter().enumerate() {
            if a > 0.0 {
                fitted.alpha.push(a);
                fitted.vectors.extend_from_slice(&values[i * d..(i + 1) * d]);
            }
        }
        self.fitted = fitted;
        Ok(())
    }

    fn score(&self, batch: Tensor<2>) -> Tensor<1> {
        -self.decision(batch)
    }

    fn load_weights(&mut self, bytes: Vec<u8>) -> crate::Result<()> {
        self.fitted.load_bytes(bytes)?;
        ensure!(
            self.fitted.vectors.len() == self.fitted.alpha.len() * self.features,
            "this OC-SVM solution has {} values for {} support vectors of {} features",
            self.fitted.vectors.len(),
            self.fitted.alpha.len(),
            self.features
        );
        Ok(())
    }

    fn trainables(&self) -> Trainables<'_> {
        Trainables {
            networks: &self.fitted,
            optimizers: Vec::new(),
            rng: None,
            average: None,
        }
    }

    fn trainables_mut(&mut self) -> TrainablesMut<'_> {
        TrainablesMut {
            networks: &mut self.fitted,
            optimizers: Vec::new(),
            rng: None,
            average: None,
        }
    }
}

impl Weights for Fitted {
    fn to_bytes(&self) -> crate::Result<Vec<u8>> {
        let m = self.alpha.len();
        let d = if m > 0 { self.vectors.len() / m } else { 0 };
        let mut tensors = vec![
            ("alpha".to_string(), OwnedTensor::f64(&self.alpha, vec![m])),
            ("rho_gamma".to_string(), OwnedTensor::f64(&[self.rho, self.gamma], vec![2])),
        ];
        let vectors: Vec<f64> = self.vectors.iter().map(|&v| v as f64).collect();
        tensors.push(("vectors".to_string(), OwnedTensor::f64(&vectors, vec![m, d])));
        write_tensors(tensors, None)
    }

    fn load_bytes(&mut self, bytes: Vec<u8>) -> crate::Result<()> {
        let (tensors, _) = read_tensors(&bytes)?;
        let get = |name: &str| -> crate::Result<Vec<f64>> {
            tensors
                .get(name)
                .with_context(|| format!("the OC-SVM solution has no {name:?}"))?
                .f64_values()
        };
        let alpha = get("alpha")?;
        let rho_gamma = get("rho_gamma")?;
        ensure!(rho_gamma.len() == 2, "the OC-SVM solution's rho_gamma is not two numbers");
        let vectors = get("vectors")?;
        ensure!(
            alpha.is_empty() || vectors.len() % alpha.len() == 0,
            "the OC-SVM solution's vectors do not match its multipliers"
        );
        *self = Fitted {
            vectors: vectors.iter().map(|&v| v as f32).collect(),
            alpha,
            rho: rho_gamma[0],
            gamma: rho_gamma[1],
        };
        Ok(())
    }

    fn param_ids(&self) -> Vec<u64> {
        Vec::new()
    }

    fn set_param_ids(&mut self, _ids: &[u64]) -> usize {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    include!("../../tests/oracle/ocsvm_oracle.rs");

    /// The rows the oracle used: the first 200 normal rows of breastw train; the next 30
    /// normal rows and the first 30 anomalies test.
    fn breastw() -> (Samples, Samples) {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/adbench/4_breastw.npz");
        let set = crate::data::adbench::load(std::path::Path::new(path)).unwrap();
        let normal: Vec<usize> = (0..set.len()).filter(|&i| set.classes[i] == 0).collect();
        let anomalous: Vec<usize> = (0..set.len()).filter(|&i| set.classes[i] == 1).collect();
        let rows = |idx: &[usize]| -> Vec<f32> { idx.iter().flat_map(|&i| set.sample(i).to_vec()).collect() };
        let test: Vec<usize> = normal[200..230].iter().chain(&anomalous[..30]).copied().collect();
        (
            Samples::unlabelled(set.shape, rows(&normal[..200])),
            Samples::unlabelled(set.shape, rows(&test)),
        )
    }

    /// γ, ρ, the support vectors and the decision values agree with scikit-learn's
    /// `OneClassSVM` (tests/oracle/ocsvm_oracle.py) at the same tight tolerance; the solution
    /// survives a checkpoint round trip.
    #[test]
    fn decisions_match_scikit_learn() {
        let device = Device::flex();
        let (train, test) = breastw();
        let config = OcsvmConfig {
            tolerance: 1e-7,
            ..OcsvmConfig::default()
        };
        let mut model = config.build(train.shape, &device, 0).unwrap();
        model.fit_statistics(&train).unwrap();
        assert!((model.fitted.gamma - OCSVM_GAMMA).abs() < 1e-6 * OCSVM_GAMMA);
        assert_eq!(model.fitted.alpha.len(), OCSVM_SUPPORT_VECTORS);
        assert!((model.fitted.rho - OCSVM_RHO).abs() < 1e-4 * OCSVM_RHO, "{}", model.fitted.rho);
        let x = Tensor::<2>::from_data(TensorData::new(test.values.clone(), [test.len(), 9]), &device);
        let scores = model.score(x.clone()).into_data().try_into_vec::<f32>().unwrap();
        // Each decision value to 1e-4 of itself (measured: a relative error of 2.9e-6 at worst).
        for (s, d) in scores.iter().zip(OCSVM_DECISIONS) {
            assert!(
                (-(*s as f64) - d).abs() <= 1e-4 * d.abs(),
                "decision {} vs scikit-learn's {d}",
                -s
            );
        }
        let mut loaded = config.build(train.shape, &device, 1).unwrap();
        loaded.load_weights(model.save_weights().unwrap()).unwrap();
        assert_eq!(loaded.score(x).into_data().try_into_vec::<f32>().unwrap(), scores);
    }

    /// A training set larger than `max_samples` is fitted on that many of its rows, drawn by
    /// the seed: the multipliers sum to ν times the subsample's size (ν·200 on all rows), every
    /// support vector is a training row, the same seed gives the same solution and another seed
    /// another.
    #[test]
    fn large_training_sets_are_subsampled_by_the_seed() {
        let (train, _) = breastw();
        let device = Device::flex();
        let config = OcsvmConfig {
            max_samples: 50,
            ..OcsvmConfig::default()
        };
        let fit = |seed| {
            let mut model = config.build(train.shape, &device, seed).unwrap();
            model.fit_statistics(&train).unwrap();
            model.fitted
        };
        let (first, again, other) = (fit(0), fit(0), fit(1));
        let sum: f64 = first.alpha.iter().sum();
        assert!((sum - 0.1 * 50.0).abs() < 1e-9, "Σα = {sum}, not ν·50");
        let rows: Vec<&[f32]> = (0..train.len()).map(|i| train.sample(i)).collect();
        for vector in first.vectors.chunks(train.shape.len()) {
            assert!(rows.contains(&vector), "a support vector that is no training row");
        }
        assert_eq!((&first.vectors, first.rho), (&again.vectors, again.rho));
        assert_ne!(first.vectors, other.vectors, "another seed drew the same rows");
    }

    /// The multipliers satisfy the dual's constraints: `0 ≤ αᵢ ≤ 1` and `Σ αᵢ = ν·l`.
    #[test]
    fn the_solution_is_feasible() {
        let (train, _) = breastw();
        let device = Device::flex();
        for nu in [0.01, 0.1, 0.5, 1.0] {
            let config = OcsvmConfig {
                nu,
                ..OcsvmConfig::default()
            };
            let mut model = config.build(train.shape, &device, 0).unwrap();
            model.fit_statistics(&train).unwrap();
            let sum: f64 = model.fitted.alpha.iter().sum();
            assert!((sum - nu * 200.0).abs() < 1e-9, "ν {nu}: Σα = {sum}");
            assert!(model.fitted.rho.is_finite(), "ν {nu}: ρ = {}", model.fitted.rho);
            assert!(model.fitted.alpha.iter().all(|&a| a > 0.0 && a <= 1.0));
        }
        assert!(OcsvmConfig { nu: 0.0, ..OcsvmConfig::default() }.build(train.shape, &device, 0).is_err());
        assert!(OcsvmConfig { nu: 1.5, ..OcsvmConfig::default() }.build(train.shape, &device, 0).is_err());
    }
}
