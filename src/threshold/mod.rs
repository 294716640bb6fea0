//! Thresholds chosen without test data: a percentile of the scores on normal-only validation
//! data (the default), a conformal false-alarm rate ([`crate::conformal`]), a quantile of a
//! kernel density estimate of the training scores (adVAE's rule, [`kde`]), or a fixed
//! value.
//!
//! anomalib's adaptive threshold maximises F1 on validation data; with no anomalies there it
//! collapses. A percentile of normal scores needs no anomalies: at the 95th percentile about
//! 5 % of normal data is flagged, whatever the score's scale.

pub mod kde;

use anyhow::ensure;
use serde::{Deserialize, Serialize};

/// How the threshold is chosen.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "rule")]
pub enum ThresholdRule {
    /// The given percentile (0–100) of the validation scores, linearly interpolated
    /// (NumPy's default `percentile`).
    ValidationPercentile {
        /// Percentile, 0–100.
        percentile: f64,
    },
    /// A fixed score.
    Fixed {
        /// The threshold.
        value: f64,
    },
    /// Flag a sample when its conformal p-value against the validation scores is at most
    /// `alpha` ([`crate::conformal`]): normal data are flagged at rate at most `alpha`.
    FalseAlarmRate {
        /// The false-alarm rate, within (0, 1).
        alpha: f64,
    },
    /// The `alpha`-quantile of a Gaussian kernel density estimate fitted to the scores of the
    /// *training* split (adVAE's notebook, MODELS.md §12: `kde:0.9`).
    Kde {
        /// The quantile, within (0, 1).
        alpha: f64,
        /// How the kernel's bandwidth is chosen.
        #[serde(default)]
        bandwidth: crate::threshold::kde::Bandwidth,
    },
}

/// The normal data a rule's threshold is fitted on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FittedOn {
    /// The validation split's scores (held-out normal data).
    Validation,
    /// The training split's scores.
    Training,
}

impl Default for ThresholdRule {
    fn default() -> Self {
        ThresholdRule::ValidationPercentile { percentile: 95.0 }
    }
}

impl std::str::FromStr for ThresholdRule {
    type Err = anyhow::Error;
    /// `p95` / `percentile:95` for a validation percentile, `far:0.01` for a conformal
    /// false-alarm rate, `kde:0.9` (or `kde:0.9:scott`) for a KDE quantile of the training
    /// scores, `fixed:0.3` or a bare number for a fixed value.
    fn from_str(s: &str) -> crate::Result<Self> {
        if let Some(rest) = s.strip_prefix("kde:") {
            let (a, rule) = rest.split_once(':').unwrap_or((rest, "silverman"));
            let alpha: f64 = a
                .parse()
                .map_err(|_| anyhow::anyhow!("bad KDE quantile in threshold {s:?}"))?;
            ensure!(
                alpha > 0.0 && alpha < 1.0,
                "a KDE threshold's quantile must be within (0, 1), got {alpha}"
            );
            return Ok(ThresholdRule::Kde {
                alpha,
                bandwidth: rule.parse()?,
            });
        }
        if let Some(a) = s.strip_prefix("far:") {
            let alpha: f64 = a
                .parse()
                .map_err(|_| anyhow::anyhow!("bad false-alarm rate in threshold {s:?}"))?;
            crate::conformal::check_alpha(alpha)?;
            return Ok(ThresholdRule::FalseAlarmRate { alpha });
        }
        let pct = s
            .strip_prefix("percentile:")
            .or_else(|| s.strip_prefix('p'));
        if let Some(p) = pct {
            let percentile: f64 = p
                .parse()
                .map_err(|_| anyhow::anyhow!("bad percentile in threshold {s:?}"))?;
            ensure!(
                (0.0..=100.0).contains(&percentile),
                "threshold percentile must be within 0–100, got {percentile}"
            );
            return Ok(ThresholdRule::ValidationPercentile { percentile });
        }
        let v = s.strip_prefix("fixed:").unwrap_or(s);
        let value: f64 = v.parse().map_err(|_| {
            anyhow::anyhow!(
                "bad threshold {s:?}; use p95, percentile:99, far:0.01, kde:0.9 or fixed:0.3"
            )
        })?;
        ensure!(value.is_finite(), "threshold must be finite");
        Ok(ThresholdRule::Fixed { value })
    }
}

/// A threshold and the rule that gave it.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Threshold {
    /// The rule.
    pub rule: ThresholdRule,
    /// Samples scoring at or above this are flagged as anomalies.
    pub value: f64,
}

impl Threshold {
    /// A threshold of `rule` not fitted yet: it flags nothing (value +∞).
    pub fn unfitted(rule: ThresholdRule) -> Threshold {
        Threshold {
            rule,
            value: f64::INFINITY,
        }
    }
}

impl ThresholdRule {
    /// The normal data whose scores [`ThresholdRule::fit`] takes.
    pub fn fitted_on(&self) -> FittedOn {
        match self {
            ThresholdRule::Kde { .. } => FittedOn::Training,
            _ => FittedOn::Validation,
        }
    }

    /// The threshold for these normal-only scores: of the validation split, or of the
    /// training split for a rule [`ThresholdRule::fitted_on`] it.
    pub fn fit(&self, validation_scores: &[f32]) -> crate::Result<Threshold> {
        let value = match *self {
            ThresholdRule::Kde { alpha, bandwidth } => {
                crate::threshold::kde::Kde::fit(validation_scores, bandwidth)?.quantile(alpha)?
            }
            ThresholdRule::Fixed { value } => value,
            ThresholdRule::ValidationPercentile { percentile } => {
                ensure!(
                    !validation_scores.is_empty(),
                    "a percentile threshold needs validation scores"
                );
                let v: Vec<f64> = validation_scores.iter().map(|&s| s as f64).collect();
                percentile_of(&v, percentile)
            }
            ThresholdRule::FalseAlarmRate { alpha } => {
                crate::conformal::Calibration::new(validation_scores)?.threshold(alpha)?
            }
        };
        Ok(Threshold { rule: *self, value })
    }
}

/// The `p`-th percentile (0–100) of `values`, interpolated linearly between order statistics.
pub fn percentile_of(values: &[f64], p: f64) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let pos = p / 100.0 * (v.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    v[lo] + (v[hi] - v[lo]) * (pos - lo as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_matches_numpy() {
        // numpy.percentile([1, 2, 3, 4], 95) = 3.85
        assert!((percentile_of(&[4.0, 1.0, 3.0, 2.0], 95.0) - 3.85).abs() < 1e-12);
        assert_eq!(percentile_of(&[7.0], 50.0), 7.0);
    }

    /// Normal-only validation data (no anomaly at all) still gives a usable threshold that
    /// flags about 5 % of normal scores, not a degenerate one.
    #[test]
    fn no_collapse_without_anomalies() {
        let validation: Vec<f32> = (0..1000).map(|i| i as f32 / 1000.0).collect();
        let t = ThresholdRule::default().fit(&validation).unwrap();
        let flagged = validation.iter().filter(|&&s| s as f64 >= t.value).count();
        assert!((45..=55).contains(&flagged), "{flagged}");
    }

    #[test]
    fn parses_rules() {
        assert_eq!(
            "p99".parse::<ThresholdRule>().unwrap(),
            ThresholdRule::ValidationPercentile { percentile: 99.0 }
        );
        assert_eq!(
            "fixed:0.2".parse::<ThresholdRule>().unwrap(),
            ThresholdRule::Fixed { value: 0.2 }
        );
        assert!("p120".parse::<ThresholdRule>().is_err());
        assert_eq!(
            "far:0.01".parse::<ThresholdRule>().unwrap(),
            ThresholdRule::FalseAlarmRate { alpha: 0.01 }
        );
        assert!("far:0".parse::<ThresholdRule>().is_err());
        assert!("far:1.5".parse::<ThresholdRule>().is_err());
        assert_eq!(
            "kde:0.9".parse::<ThresholdRule>().unwrap(),
            ThresholdRule::Kde {
                alpha: 0.9,
                bandwidth: crate::threshold::kde::Bandwidth::Silverman
            }
        );
        assert_eq!(
            "kde:0.8:scott".parse::<ThresholdRule>().unwrap(),
            ThresholdRule::Kde {
                alpha: 0.8,
                bandwidth: crate::threshold::kde::Bandwidth::Scott
            }
        );
        for bad in ["kde:0", "kde:1", "kde:1.5", "kde:x", "kde:0.9:box"] {
            assert!(bad.parse::<ThresholdRule>().is_err(), "{bad}");
        }
    }
}
