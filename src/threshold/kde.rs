//! One-dimensional Gaussian kernel density estimates of scores, for thresholds set at a
//! quantile of the estimated score distribution (adVAE's rule, MODELS.md §12; the threshold
//! rule `kde:α`). The estimate of scores `s₁…sₙ` with bandwidth `h` is the mixture
//! `f(t) = (1/n) Σᵢ φ((t − sᵢ)/h)/h`; its distribution function
//! `F(t) = (1/n) Σᵢ Φ((t − sᵢ)/h)` is increasing, and its α-quantile is found by bisection to
//! the last representable digit (the official notebook reads it off statsmodels' FFT grid of
//! 1 024 points between the smallest and largest score: within one grid step of this).

use anyhow::ensure;
use serde::{Deserialize, Serialize};

/// How the bandwidth `h` is chosen from the scores.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Bandwidth {
    /// Silverman's rule of thumb as statsmodels' `bw_silverman` (the adVAE notebook's choice):
    /// `h = 0.9 · min(σ, IQR/1.349) · n^(−1/5)`, σ with `n − 1` degrees of freedom, IQR by
    /// linearly interpolated quartiles (σ alone when the IQR is 0).
    #[default]
    Silverman,
    /// Scott's rule as SciPy's `gaussian_kde` applies it in one dimension: `h = σ · n^(−1/5)`.
    Scott,
}

impl std::str::FromStr for Bandwidth {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> crate::Result<Self> {
        match s {
            "silverman" => Ok(Bandwidth::Silverman),
            "scott" => Ok(Bandwidth::Scott),
            other => anyhow::bail!("unknown KDE bandwidth rule {other:?}; use silverman or scott"),
        }
    }
}

impl std::fmt::Display for Bandwidth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Bandwidth::Silverman => "silverman",
            Bandwidth::Scott => "scott",
        })
    }
}

/// A Gaussian kernel density estimate of a set of scores.
#[derive(Clone, Debug)]
pub struct Kde {
    points: Vec<f64>,
    bandwidth: f64,
}

impl Kde {
    /// The estimate of `scores` with the bandwidth of `rule`. At least two finite scores that
    /// are not all equal are needed: otherwise no spread, hence no bandwidth, can be estimated.
    pub fn fit(scores: &[f32], rule: Bandwidth) -> crate::Result<Kde> {
        ensure!(
            scores.len() >= 2,
            "a KDE threshold needs at least 2 scores, got {}",
            scores.len()
        );
        ensure!(
            scores.iter().all(|s| s.is_finite()),
            "a KDE threshold needs finite scores"
        );
        let points: Vec<f64> = scores.iter().map(|&s| s as f64).collect();
        let n = points.len() as f64;
        let mean = points.iter().sum::<f64>() / n;
        let std = (points.iter().map(|p| (p - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
        ensure!(
            std > 0.0,
            "a KDE threshold needs scores that are not all equal"
        );
        let spread = match rule {
            Bandwidth::Scott => std,
            Bandwidth::Silverman => {
                let iqr = crate::threshold::percentile_of(&points, 75.0)
                    - crate::threshold::percentile_of(&points, 25.0);
                let iqr = iqr / 1.349;
                if iqr > 0.0 { std.min(iqr) } else { std }
            }
        };
        let factor = if rule == Bandwidth::Silverman {
            0.9
        } else {
            1.0
        };
        Ok(Kde {
            points,
            bandwidth: factor * spread * n.powf(-0.2),
        })
    }

    /// The bandwidth `h`.
    pub fn bandwidth(&self) -> f64 {
        self.bandwidth
    }

    /// `F(t)`, the estimate's distribution function.
    pub fn cdf(&self, t: f64) -> f64 {
        let scale = std::f64::consts::SQRT_2 * self.bandwidth;
        let sum: f64 = self
            .points
            .iter()
            .map(|&p| 0.5 * libm::erfc(-(t - p) / scale))
            .sum();
        sum / self.points.len() as f64
    }

    /// The `alpha`-quantile, `alpha` within (0, 1): the `t` with `F(t) = alpha`.
    pub fn quantile(&self, alpha: f64) -> crate::Result<f64> {
        ensure!(
            alpha > 0.0 && alpha < 1.0,
            "a KDE quantile must be within (0, 1), got {alpha}"
        );
        let (min, max) = self
            .points
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &p| {
                (lo.min(p), hi.max(p))
            });
        // Every kernel puts all but Φ(−40) of its mass within 40 bandwidths.
        let (mut lo, mut hi) = (min - 40.0 * self.bandwidth, max + 40.0 * self.bandwidth);
        for _ in 0..200 {
            let mid = 0.5 * (lo + hi);
            if mid <= lo || mid >= hi {
                break;
            }
            if self.cdf(mid) < alpha {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        Ok(0.5 * (lo + hi))
    }
}

#[cfg(test)]
// The oracle's scores are printed with every digit Python's repr gives.
#[allow(clippy::excessive_precision)]
mod tests {
    use super::*;

    // Oracle values from SciPy (see tests/oracle/kde_oracle.py).
    include!("../../tests/oracle/kde_oracle.rs");

    fn close(got: f64, want: f64, what: &str) {
        assert!(
            (got - want).abs() <= 1e-9 * want.abs().max(1.0),
            "{what}: {got} vs {want}"
        );
    }

    /// Bandwidths and quantiles equal SciPy's `gaussian_kde` (its own Scott factor, and the
    /// statsmodels Silverman bandwidth passed to it) with the quantile solved by `brentq` on
    /// `integrate_box_1d`.
    #[test]
    fn matches_scipy() {
        for (rule, bandwidth, quantiles) in [
            (
                Bandwidth::Scott,
                ORACLE_SCOTT_BANDWIDTH,
                ORACLE_SCOTT_QUANTILES,
            ),
            (
                Bandwidth::Silverman,
                ORACLE_SILVERMAN_BANDWIDTH,
                ORACLE_SILVERMAN_QUANTILES,
            ),
        ] {
            let kde = Kde::fit(&ORACLE_SCORES, rule).unwrap();
            close(kde.bandwidth(), bandwidth, &format!("{rule} bandwidth"));
            for (alpha, want) in quantiles {
                let got = kde.quantile(alpha).unwrap();
                close(got, want, &format!("{rule} quantile {alpha}"));
                close(kde.cdf(got), alpha, &format!("{rule} F(quantile {alpha})"));
            }
        }
    }

    /// Degenerate inputs are errors, not thresholds.
    #[test]
    fn refuses_degenerate_scores() {
        assert!(Kde::fit(&[1.0], Bandwidth::Scott).is_err());
        assert!(Kde::fit(&[2.0, 2.0, 2.0], Bandwidth::Silverman).is_err());
        assert!(Kde::fit(&[1.0, f32::NAN], Bandwidth::Scott).is_err());
        let kde = Kde::fit(&[1.0, 2.0, 4.0], Bandwidth::Scott).unwrap();
        assert!(kde.quantile(0.0).is_err() && kde.quantile(1.0).is_err());
    }
}
