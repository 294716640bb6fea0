//! Conformal p-values: verdicts with a stated false-alarm rate, without guessing a
//! contamination rate and without labelled anomalies.
//!
//! The scores of `n` normal calibration samples (the run's validation split, never used to fit
//! the weights) calibrate any detector: a new sample with score `s` gets the p-value
//!
//! ```text
//! p(s) = (1 + #{i : c_i ≥ s}) / (n + 1)
//! ```
//!
//! (Vovk et al., *Algorithmic Learning in a Random World*; Bates et al., "Testing for outliers
//! with conformal p-values", Ann. Statist. 2023). If the new sample and the calibration samples
//! are exchangeable — a normal sample from the same distribution — then `P(p ≤ α) ≤ α` for
//! every α, whatever the detector and with no assumption on the scores' distribution: flagging
//! `p ≤ α` raises false alarms on normal data at rate at most α. Ties only make the p-value
//! larger (more conservative).
//!
//! The guarantee is marginal (over the draw of the calibration set and the new sample), so the
//! rate realised on one finite test set scatters around its expectation, which is at most α
//! (and at least α − 1/(n + 1)). It holds exactly for the `last` checkpoint. The `best`
//! checkpoint is chosen by the validation loss, so its calibration scores were seen once by
//! that choice; the effect is small but not covered by the theorem.

use anyhow::ensure;

/// Normal calibration scores, sorted, ready to turn scores into p-values.
#[derive(Clone, Debug, PartialEq)]
pub struct Calibration {
    sorted: Vec<f32>,
}

impl Calibration {
    /// Calibration from normal-only scores: at least one, every one finite.
    pub fn new(scores: &[f32]) -> crate::Result<Self> {
        ensure!(
            !scores.is_empty(),
            "conformal p-values need at least one calibration (validation) score"
        );
        if let Some(i) = scores.iter().position(|s| !s.is_finite()) {
            anyhow::bail!(
                "calibration score {i} is {}: the detector gave a non-finite score on a \
                 validation sample",
                scores[i]
            );
        }
        let mut sorted = scores.to_vec();
        sorted.sort_by(f32::total_cmp);
        Ok(Calibration { sorted })
    }

    /// Number of calibration scores `n`.
    pub fn len(&self) -> usize {
        self.sorted.len()
    }

    /// Whether there is no calibration score (never true for a built [`Calibration`]).
    pub fn is_empty(&self) -> bool {
        self.sorted.is_empty()
    }

    /// The calibration scores, ascending.
    pub fn scores(&self) -> &[f32] {
        &self.sorted
    }

    /// How many calibration scores are at least `score`.
    fn at_least(&self, score: f32) -> usize {
        self.sorted.len() - self.sorted.partition_point(|&c| c < score)
    }

    /// The conformal p-value of `score`, in `[1/(n+1), 1]`. A NaN score gets 1 (never
    /// flagged): scoring code reports non-finite scores as errors before this.
    pub fn p_value(&self, score: f32) -> f64 {
        if score.is_nan() {
            return 1.0;
        }
        (1 + self.at_least(score)) as f64 / (self.sorted.len() + 1) as f64
    }

    /// The largest count `#{c_i ≥ s}` for which `p(s) ≤ α`, or `None` when no score can reach
    /// `p ≤ α` (`α < 1/(n+1)`: too few calibration samples for so small a rate).
    fn max_count(&self, alpha: f64) -> Option<usize> {
        // p ≤ α  ⇔  1 + count ≤ α (n + 1); the relative slack absorbs the rounding of α·(n+1)
        // when it is an integer in exact arithmetic (0.05 · 20).
        // Clamped to n + 1 (every count) for α within rounding of 1.
        let n = self.sorted.len();
        let bound = (alpha * (n + 1) as f64 * (1.0 + 1e-12))
            .floor()
            .min((n + 1) as f64);
        (bound >= 1.0).then(|| (bound as usize - 1).min(n - 1))
    }

    /// The fewest calibration samples for which `alpha` can flag anything (saturated near
    /// `usize::MAX` for a rate too small for any count).
    pub fn samples_needed(alpha: f64) -> usize {
        (((1.0 / alpha) * (1.0 - 1e-12)).ceil() as usize).saturating_sub(1)
    }

    /// The score threshold equivalent to flagging `p ≤ alpha`: a score `s` has `p(s) ≤ alpha`
    /// exactly when `s as f64 ≥` the returned value. An error when `alpha` is outside (0, 1)
    /// or below `1/(n+1)`.
    pub fn threshold(&self, alpha: f64) -> crate::Result<f64> {
        check_alpha(alpha)?;
        let Some(k) = self.max_count(alpha) else {
            return Err(too_few_to_flag(
                alpha,
                self.sorted.len(),
                "normal validation samples",
                "raise the rate or the validation fraction",
            ));
        };
        // Flagged ⇔ #{c ≥ s} ≤ k ⇔ s exceeds the (k+1)-th largest calibration score.
        let pivot = self.sorted[self.sorted.len() - 1 - k] as f64;
        Ok(pivot.next_up())
    }
}

/// The false-alarm rates every evaluation checks on its test normals.
pub const CHECKED_RATES: [f64; 3] = [0.01, 0.05, 0.1];

/// The false-alarm rate flagging `p ≤ alpha` realised on a set of normal samples.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct RealisedRate {
    /// The rate asked for.
    pub alpha: f64,
    /// The share of the normal samples flagged.
    pub realised: f64,
    /// The expected rate for continuous scores, `⌊α(n+1)⌋/(n+1)` ≤ α: the realised rate
    /// scatters around it.
    pub expected: f64,
}

/// For each rate of `alphas` that `calibration` can reach, the share of `normal_scores`
/// flagged at `p ≤ α`.
pub fn realised_rates(
    calibration: &Calibration,
    normal_scores: &[f32],
    alphas: &[f64],
) -> Vec<RealisedRate> {
    let n1 = (calibration.len() + 1) as f64;
    alphas
        .iter()
        .filter_map(|&alpha| {
            let t = calibration.threshold(alpha).ok()?;
            let flagged = normal_scores.iter().filter(|&&s| s as f64 >= t).count();
            Some(RealisedRate {
                alpha,
                realised: flagged as f64 / normal_scores.len().max(1) as f64,
                expected: (calibration.max_count(alpha)? + 1) as f64 / n1,
            })
        })
        .collect()
}

/// Refuse `count` calibration `samples` (what they are, "normal validation samples") as too few
/// for `alpha` to flag anything; the error ends with `remedy`, how to get more.
pub fn check_enough_to_flag(
    alpha: f64,
    count: usize,
    samples: &str,
    remedy: &str,
) -> crate::Result<()> {
    if count >= Calibration::samples_needed(alpha) {
        Ok(())
    } else {
        Err(too_few_to_flag(alpha, count, samples, remedy))
    }
}

/// The error of [`check_enough_to_flag`].
fn too_few_to_flag(alpha: f64, count: usize, samples: &str, remedy: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "a false-alarm rate of {} needs {} {samples} to flag anything, and there are {count}; \
         {remedy}",
        rate_text(alpha),
        samples_needed_text(alpha)
    )
}

/// A false-alarm rate must lie strictly between 0 and 1.
pub fn check_alpha(alpha: f64) -> crate::Result<()> {
    ensure!(
        alpha.is_finite() && alpha > 0.0 && alpha < 1.0,
        "false-alarm rate {} must be within (0, 1), e.g. 0.01 for 1 %",
        rate_text(alpha)
    );
    Ok(())
}

/// A rate as a message writes it: plainly down to 1e-4 (`0.01`), in scientific notation
/// beyond (`1e-300`, which plainly runs to three hundred digits).
pub fn rate_text(alpha: f64) -> String {
    if alpha.is_finite() && alpha != 0.0 && !(1e-4..1e6).contains(&alpha.abs()) {
        format!("{alpha:e}")
    } else {
        format!("{alpha}")
    }
}

/// [`Calibration::samples_needed`] as a message writes it: "at least" the count, or "more
/// than 10^15" where no run could hold that many samples (and the count would saturate).
pub fn samples_needed_text(alpha: f64) -> String {
    const BEYOND_ANY_RUN: usize = 1_000_000_000_000_000;
    match Calibration::samples_needed(alpha) {
        needed if needed <= BEYOND_ANY_RUN => format!("at least {needed}"),
        _ => "more than 10^15".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    #[test]
    fn tiny_rates_read_plainly_in_messages() {
        assert_eq!(rate_text(0.01), "0.01");
        assert_eq!(rate_text(0.0001), "0.0001");
        assert_eq!(rate_text(1e-300), "1e-300");
        assert_eq!(rate_text(2e300), "2e300");
        assert_eq!(samples_needed_text(0.01), "at least 99");
        assert_eq!(samples_needed_text(1e-300), "more than 10^15");
        assert_eq!(samples_needed_text(5e-324), "more than 10^15");
        let c = Calibration::new(&[0.3, 0.1, 0.2]).unwrap();
        let message = c.threshold(1e-300).unwrap_err().to_string();
        assert!(
            message.contains("rate of 1e-300 needs more than 10^15") && message.len() < 200,
            "{message}"
        );
        // The check every caller makes agrees with the calibration's own refusal.
        for (alpha, n) in [
            (0.01, 98),
            (0.01, 99),
            (0.1, 8),
            (0.1, 9),
            (0.3, 2),
            (0.3, 3),
        ] {
            let scores: Vec<f32> = (0..n).map(|i| i as f32).collect();
            let threshold = Calibration::new(&scores).unwrap().threshold(alpha);
            let checked = check_enough_to_flag(alpha, n, "images", "add some");
            assert_eq!(threshold.is_ok(), checked.is_ok(), "{alpha} with {n}");
        }
        let message = check_enough_to_flag(0.01, 12, "validation images", "add some")
            .unwrap_err()
            .to_string();
        assert_eq!(
            message,
            "a false-alarm rate of 0.01 needs at least 99 validation images to flag anything, \
             and there are 12; add some"
        );
    }

    #[test]
    fn p_values_count_calibration_scores_at_or_above() {
        let c = Calibration::new(&[0.3, 0.1, 0.2, 0.2]).unwrap();
        assert_eq!(c.p_value(0.05), 5.0 / 5.0);
        assert_eq!(c.p_value(0.2), 4.0 / 5.0); // ties count as at or above
        assert_eq!(c.p_value(0.25), 2.0 / 5.0);
        assert_eq!(c.p_value(0.3), 2.0 / 5.0);
        assert_eq!(c.p_value(9.0), 1.0 / 5.0);
        assert_eq!(c.p_value(f32::NAN), 1.0);
    }

    #[test]
    fn refuses_what_cannot_calibrate() {
        assert!(Calibration::new(&[]).is_err());
        assert!(Calibration::new(&[0.1, f32::NAN]).is_err());
        let c = Calibration::new(&[0.1; 10]).unwrap();
        for alpha in [0.0, 1.0, -0.1, 1.5, f64::NAN] {
            assert!(c.threshold(alpha).is_err(), "{alpha}");
        }
        // 10 scores: p ≥ 1/11, so α = 0.05 can flag nothing.
        let e = c.threshold(0.05).unwrap_err().to_string();
        assert!(e.contains("at least 19"), "{e}");
        assert!(c.threshold(1.0 / 11.0).is_ok());
        // A rate within rounding of 1 flags every score above the smallest, never panics.
        for alpha in [1.0 - 1e-13, 1.0 - 1e-16, 0.999_999_999_999_9] {
            let t = c.threshold(alpha).unwrap();
            assert!(t > 0.1 && t < 0.11, "{alpha}: {t}");
        }
        assert_eq!(Calibration::samples_needed(0.01), 99);
        assert_eq!(Calibration::samples_needed(0.3), 3);
    }

    /// The threshold flags exactly the scores whose p-value is at most α, ties included.
    #[test]
    fn threshold_is_the_p_value_rule() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        for n in [19usize, 20, 99, 250] {
            // Coarse values, so that ties are frequent.
            let cal: Vec<f32> = (0..n)
                .map(|_| rng.random_range(0..40) as f32 / 8.0)
                .collect();
            let c = Calibration::new(&cal).unwrap();
            for alpha in [0.05, 0.1, 0.2, 0.5, 0.99] {
                let Ok(t) = c.threshold(alpha) else { continue };
                for s in (-8..48).map(|v| v as f32 / 8.0).chain([5.0f32.next_up()]) {
                    let by_p = c.p_value(s) <= alpha * (1.0 + 1e-12);
                    assert_eq!(s as f64 >= t, by_p, "n {n} α {alpha} s {s} t {t}");
                }
            }
        }
    }

    /// Exchangeable normal scores are flagged at rate at most α: over many calibration draws,
    /// the mean realised rate lies in [α − 1/(n+1), α] up to sampling noise.
    #[test]
    fn false_alarm_rate_is_guaranteed() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        let (n, draws, per_draw) = (49usize, 2000usize, 50usize);
        for alpha in [0.02, 0.1, 0.25] {
            let mut flagged = 0usize;
            for _ in 0..draws {
                let cal: Vec<f32> = (0..n).map(|_| rng.random::<f32>()).collect();
                let t = Calibration::new(&cal).unwrap().threshold(alpha).unwrap();
                flagged += (0..per_draw)
                    .filter(|_| rng.random::<f32>() as f64 >= t)
                    .count();
            }
            let rate = flagged as f64 / (draws * per_draw) as f64;
            let floor = (alpha * (n + 1) as f64).floor() / (n + 1) as f64;
            // floor is the exact expectation for continuous scores; the noise of 100 000
            // correlated draws stays well within 0.005.
            assert!((rate - floor).abs() < 0.005, "α {alpha}: {rate} vs {floor}");
            assert!(rate <= alpha + 0.005, "α {alpha}: {rate}");
        }
    }
}
