//! Small dense linear algebra in `f64` for the detectors fitted in closed form: the
//! eigendecomposition of a symmetric matrix (cyclic Jacobi, accurate to the last digits for the
//! few hundred dimensions of a spectrum) and the Mahalanobis distance to a sample's mean under
//! its covariance's pseudo-inverse, as `numpy.linalg.pinv` defines it.

use anyhow::ensure;
use serde::{Deserialize, Serialize};

/// Eigenvalues and eigenvectors of a symmetric `n × n` matrix.
#[derive(Clone, Debug, PartialEq)]
pub struct SymmetricEigen {
    /// The order of the matrix.
    pub n: usize,
    /// The eigenvalues, in no particular order.
    pub values: Vec<f64>,
    /// The eigenvectors as columns, row-major: component `i` of vector `k` is `vectors[i * n + k]`.
    pub vectors: Vec<f64>,
}

/// The eigendecomposition of the symmetric `n × n` matrix `a` (row-major; only its upper
/// triangle is read) by cyclic Jacobi rotations, until the off-diagonal mass is below the
/// rounding of the diagonal's.
pub fn symmetric_eigen(a: &[f64], n: usize) -> SymmetricEigen {
    assert_eq!(a.len(), n * n, "a symmetric matrix of order {n}");
    let mut m = vec![0.0; n * n];
    for i in 0..n {
        for j in i..n {
            m[i * n + j] = a[i * n + j];
            m[j * n + i] = a[i * n + j];
        }
    }
    let mut v = vec![0.0; n * n];
    for i in 0..n {
        v[i * n + i] = 1.0;
    }
    for _sweep in 0..100 {
        let off: f64 = (0..n)
            .flat_map(|i| (i + 1..n).map(move |j| (i, j)))
            .map(|(i, j)| m[i * n + j] * m[i * n + j])
            .sum();
        let diagonal: f64 = (0..n).map(|i| m[i * n + i] * m[i * n + i]).sum();
        if off <= f64::EPSILON * f64::EPSILON * diagonal || off == 0.0 {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                let apq = m[p * n + q];
                if apq == 0.0 {
                    continue;
                }
                // The rotation that zeroes m[p][q] (Golub & Van Loan, the symmetric Schur step).
                let theta = (m[q * n + q] - m[p * n + p]) / (2.0 * apq);
                let t = if theta == 0.0 {
                    1.0
                } else if theta.abs() > 1e150 {
                    // θ² would overflow: t ≈ 1 / (2θ).
                    0.5 / theta
                } else {
                    theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt())
                };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..n {
                    let (mkp, mkq) = (m[k * n + p], m[k * n + q]);
                    m[k * n + p] = c * mkp - s * mkq;
                    m[k * n + q] = s * mkp + c * mkq;
                }
                for k in 0..n {
                    let (mpk, mqk) = (m[p * n + k], m[q * n + k]);
                    m[p * n + k] = c * mpk - s * mqk;
                    m[q * n + k] = s * mpk + c * mqk;
                }
                for k in 0..n {
                    let (vkp, vkq) = (v[k * n + p], v[k * n + q]);
                    v[k * n + p] = c * vkp - s * vkq;
                    v[k * n + q] = s * vkp + c * vkq;
                }
            }
        }
    }
    SymmetricEigen {
        n,
        values: (0..n).map(|i| m[i * n + i]).collect(),
        vectors: v,
    }
}

/// `dᵀ A⁻¹ d` for the symmetric positive-definite `n × n` matrix `a` (row-major; its lower
/// triangle is read and overwritten by its Cholesky factor L, `A = L Lᵀ`), as `‖L⁻¹ d‖²`;
/// `None` when `a` is not positive definite.
pub fn inverse_quadratic_form(a: &mut [f64], n: usize, d: &[f64]) -> Option<f64> {
    debug_assert!(a.len() == n * n && d.len() == n);
    for j in 0..n {
        let mut diagonal = a[j * n + j];
        for k in 0..j {
            diagonal -= a[j * n + k] * a[j * n + k];
        }
        if diagonal <= 0.0 || !diagonal.is_finite() {
            return None;
        }
        let l_jj = diagonal.sqrt();
        a[j * n + j] = l_jj;
        for i in j + 1..n {
            let (row_i, row_j) = (i * n, j * n);
            let dot: f64 = (0..j).map(|k| a[row_i + k] * a[row_j + k]).sum();
            a[row_i + j] = (a[row_i + j] - dot) / l_jj;
        }
    }
    // Forward substitution L y = d; the form is ‖y‖².
    let mut y = vec![0.0f64; n];
    let mut total = 0.0;
    for i in 0..n {
        let dot: f64 = (0..i).map(|k| a[i * n + k] * y[k]).sum();
        y[i] = (d[i] - dot) / a[i * n + i];
        total += y[i] * y[i];
    }
    Some(total)
}

/// The squared Mahalanobis distance `(x − μ)ᵀ C⁺ (x − μ)` to the mean `μ` of a set of rows,
/// `C` their covariance (normalised by `N − 1`, as `numpy.cov`) and `C⁺` its pseudo-inverse
/// with `numpy.linalg.pinv`'s cut-off: eigenvalues below `1e-15 ×` the largest in magnitude
/// count as zero. Global RX is this distance to a scene's own statistics.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Mahalanobis {
    /// The mean `μ`.
    pub mean: Vec<f64>,
    /// Eigenvectors of `C` as columns, row-major (`dim × dim`).
    pub vectors: Vec<f64>,
    /// The pseudo-inverse's eigenvalues: `1 / λ` of each eigenvalue `λ` above the cut-off, 0
    /// for the others.
    pub inverse_values: Vec<f64>,
}

/// The most features a detector fits a Mahalanobis distance to: the eigendecomposition grows
/// with their cube (about a second at this size).
pub const MAX_MAHALANOBIS_DIM: usize = 1024;

/// The relative cut-off below which an eigenvalue counts as zero (`numpy.linalg.pinv`'s
/// default `rcond`).
const PINV_RCOND: f64 = 1e-15;

impl Mahalanobis {
    /// Fit mean and covariance to `rows` (row-major, `dim` values each), at least two rows.
    pub fn fit(rows: &[f32], dim: usize) -> crate::Result<Self> {
        ensure!(
            dim > 0,
            "the Mahalanobis distance needs at least one feature"
        );
        ensure!(
            rows.len() % dim == 0,
            "{} values are not rows of {dim}",
            rows.len()
        );
        let n = rows.len() / dim;
        ensure!(n >= 2, "a covariance needs at least 2 rows, got {n}");
        let mut mean = vec![0.0f64; dim];
        for row in rows.chunks_exact(dim) {
            for (m, &x) in mean.iter_mut().zip(row) {
                *m += x as f64;
            }
        }
        mean.iter_mut().for_each(|m| *m /= n as f64);
        // Upper triangle of the centred cross-products, accumulated row by row.
        let mut covariance = vec![0.0f64; dim * dim];
        let mut centred = vec![0.0f64; dim];
        for row in rows.chunks_exact(dim) {
            for ((c, &x), m) in centred.iter_mut().zip(row).zip(&mean) {
                *c = x as f64 - m;
            }
            for i in 0..dim {
                let ci = centred[i];
                let out = &mut covariance[i * dim + i..(i + 1) * dim];
                for (o, &cj) in out.iter_mut().zip(&centred[i..]) {
                    *o += ci * cj;
                }
            }
        }
        covariance.iter_mut().for_each(|c| *c /= (n - 1) as f64);
        Ok(Self::of(mean, &covariance))
    }

    /// The distance for a given mean and covariance (row-major; its upper triangle is read).
    pub fn of(mean: Vec<f64>, covariance: &[f64]) -> Self {
        let dim = mean.len();
        let eigen = symmetric_eigen(covariance, dim);
        let largest = eigen.values.iter().fold(0.0f64, |a, v| a.max(v.abs()));
        let inverse_values = eigen
            .values
            .iter()
            .map(|&v| {
                if v.abs() > PINV_RCOND * largest {
                    1.0 / v
                } else {
                    0.0
                }
            })
            .collect();
        Mahalanobis {
            mean,
            vectors: eigen.vectors,
            inverse_values,
        }
    }

    /// The number of features.
    pub fn dim(&self) -> usize {
        self.mean.len()
    }

    /// The squared distance of one row.
    pub fn distance(&self, x: &[f32]) -> f64 {
        let dim = self.dim();
        let centred: Vec<f64> = x
            .iter()
            .zip(&self.mean)
            .map(|(&x, m)| x as f64 - m)
            .collect();
        let mut projections = vec![0.0f64; dim];
        for (i, c) in centred.iter().enumerate() {
            let column = &self.vectors[i * dim..(i + 1) * dim];
            for (p, v) in projections.iter_mut().zip(column) {
                *p += c * v;
            }
        }
        projections
            .iter()
            .zip(&self.inverse_values)
            .map(|(p, w)| p * p * w)
            .sum()
    }

    /// The squared distance of every row of `rows`.
    pub fn distances(&self, rows: &[f32]) -> Vec<f64> {
        rows.chunks_exact(self.dim())
            .map(|row| self.distance(row))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eigenvectors_diagonalise_the_matrix() {
        let n = 6;
        let mut a = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..n {
                a[i * n + j] = 1.0 / (i + j + 1) as f64 + if i == j { 2.0 } else { 0.0 };
            }
        }
        let e = symmetric_eigen(&a, n);
        for k in 0..n {
            for i in 0..n {
                let av: f64 = (0..n).map(|j| a[i * n + j] * e.vectors[j * n + k]).sum();
                assert!((av - e.values[k] * e.vectors[i * n + k]).abs() < 1e-13);
            }
        }
        let trace: f64 = (0..n).map(|i| a[i * n + i]).sum();
        assert!((e.values.iter().sum::<f64>() - trace).abs() < 1e-12);
    }

    /// With an invertible covariance the distance is `dᵀ C⁻¹ d`: checked against a hand
    /// computation in two dimensions.
    #[test]
    fn distance_matches_the_inverse_covariance_by_hand() {
        // Rows (0,0), (2,0), (0,2), (2,2), (1,3): mean (1, 1.4).
        let rows = [0.0, 0.0, 2.0, 0.0, 0.0, 2.0, 2.0, 2.0, 1.0, 3.0];
        let m = Mahalanobis::fit(&rows, 2).unwrap();
        assert!((m.mean[0] - 1.0).abs() < 1e-15 && (m.mean[1] - 1.4).abs() < 1e-15);
        // By hand: var x = 4/4 = 1, var y = (1.96·2 + 0.36·2 + 2.56)/4 = 1.8, and
        // Σ (x − 1)(y − 1.4) = 1.4 − 1.4 − 0.6 + 0.6 + 0 = 0, so C = diag(1, 1.8).
        let d = [3.0f32, 1.0];
        let expected = (3.0 - 1.0f64).powi(2) / 1.0 + (1.0 - 1.4f64).powi(2) / 1.8;
        assert!(
            (m.distance(&d) - expected).abs() < 1e-12,
            "{}",
            m.distance(&d)
        );
    }

    /// `dᵀ A⁻¹ d` by Cholesky equals the eigendecomposition's `Σ (vₖᵀ d)² / λₖ`; a matrix
    /// that is not positive definite is refused.
    #[test]
    fn the_cholesky_quadratic_form_matches_the_eigendecomposition() {
        let n = 5;
        let mut a = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..n {
                a[i * n + j] = 1.0 / (i + j + 1) as f64 + if i == j { 0.5 } else { 0.0 };
            }
        }
        let d = [0.3, -1.0, 2.0, 0.0, 0.7];
        let e = symmetric_eigen(&a, n);
        let by_eigen: f64 = (0..n)
            .map(|k| {
                let p: f64 = (0..n).map(|i| e.vectors[i * n + k] * d[i]).sum();
                p * p / e.values[k]
            })
            .sum();
        let by_cholesky = inverse_quadratic_form(&mut a.clone(), n, &d).unwrap();
        assert!(
            (by_eigen - by_cholesky).abs() < 1e-10 * by_eigen,
            "{by_eigen} vs {by_cholesky}"
        );
        let mut indefinite = vec![1.0, 2.0, 2.0, 1.0];
        assert_eq!(
            inverse_quadratic_form(&mut indefinite, 2, &[1.0, 0.0]),
            None
        );
    }

    /// A singular covariance (a feature copied) uses the pseudo-inverse: the distance is that
    /// of the independent features, the copy adding nothing.
    #[test]
    fn a_singular_covariance_uses_the_pseudo_inverse() {
        let base = [0.0f32, 0.0, 2.0, 0.0, 0.0, 2.0, 2.0, 2.0, 1.0, 3.0];
        let copied: Vec<f32> = base.chunks(2).flat_map(|r| [r[0], r[1], r[0]]).collect();
        let two = Mahalanobis::fit(&base, 2).unwrap();
        let three = Mahalanobis::fit(&copied, 3).unwrap();
        assert_eq!(
            three.inverse_values.iter().filter(|&&v| v == 0.0).count(),
            1
        );
        let (d2, d3) = (two.distance(&[3.0, 1.0]), three.distance(&[3.0, 1.0, 3.0]));
        assert!((d2 - d3).abs() < 1e-9, "{d2} vs {d3}");
    }
}
