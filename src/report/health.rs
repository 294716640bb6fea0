//! A run's health, checked before anyone reads its metrics: scores that do not vary, a detector
//! that ranks normals above anomalies, a training that diverged or never improved, a threshold
//! that flags far more or fewer normals than its rule intends.

use crate::threshold::{Threshold, ThresholdRule};
use crate::train::TrainLog;
use serde::Serialize;

/// One check and what it found.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Check {
    /// What is checked.
    pub name: &'static str,
    /// Whether it passed.
    pub ok: bool,
    /// The figures behind the verdict.
    pub detail: String,
}

/// What the checks look at.
#[derive(Clone, Copy, Debug)]
pub struct Evidence<'a> {
    /// Test scores.
    pub scores: &'a [f32],
    /// Test labels (1 anomaly).
    pub labels: &'a [u8],
    /// Test AUROC.
    pub auroc: f64,
    /// The training log.
    pub log: &'a TrainLog,
    /// The threshold scored against.
    pub threshold: Threshold,
    /// The normal validation scores (the run's calibration), when saved.
    pub validation_scores: Option<&'a [f32]>,
}

/// Every check, in the order the report shows them.
pub fn checks(e: &Evidence) -> Vec<Check> {
    vec![
        scores_vary(e.scores),
        not_inverted(e.auroc, e.labels),
        training_converged(e.log),
        threshold_as_intended(e),
    ]
}

/// Scores must vary: a constant score ranks nothing.
fn scores_vary(scores: &[f32]) -> Check {
    let name = "scores vary";
    let finite: Vec<f64> = (scores.iter())
        .filter(|s| s.is_finite())
        .map(|&s| s as f64)
        .collect();
    if finite.len() < scores.len() {
        return Check {
            name,
            ok: false,
            detail: format!(
                "{} of {} test scores are not finite",
                scores.len() - finite.len(),
                scores.len()
            ),
        };
    }
    if finite.len() < 2 {
        return Check {
            name,
            ok: true,
            detail: "fewer than two test scores".into(),
        };
    }
    let p = |q| crate::threshold::percentile_of(&finite, q);
    let (low, median, high) = (p(1.0), p(50.0), p(99.0));
    let spread = high - low;
    let ok = spread > 1e-6 * median.abs().max(1e-12);
    Check {
        name,
        ok,
        detail: if ok {
            format!("1st–99th percentile {low:.6} – {high:.6}")
        } else {
            format!(
                "the test scores are (nearly) constant: 1st–99th percentile {low:.6} – \
                 {high:.6}; the model may have collapsed"
            )
        },
    }
}

/// A detector must rank anomalies above normals at least as often as chance.
fn not_inverted(auroc: f64, labels: &[u8]) -> Check {
    let name = "not inverted";
    let anomalies = labels.iter().filter(|&&l| l == 1).count();
    if anomalies == 0 || anomalies == labels.len() {
        return Check {
            name,
            ok: true,
            detail: "no AUROC: the test set holds one class".into(),
        };
    }
    if !auroc.is_finite() {
        return Check {
            name,
            ok: false,
            detail: format!("the AUROC is {auroc}: the scores could not be ranked"),
        };
    }
    let ok = auroc >= 0.5;
    Check {
        name,
        ok,
        detail: if ok {
            format!("AUROC {auroc:.4} ≥ 0.5")
        } else {
            format!(
                "AUROC {auroc:.4} < 0.5: normals score higher than anomalies; the score's sign \
                 or the class chosen as normal may be wrong"
            )
        },
    }
}

/// Losses finite, and the validation loss improved on the first validated epoch and did not
/// blow up (epochs of a stage without validation take no part).
fn training_converged(log: &TrainLog) -> Check {
    let name = "training converged";
    let bad = log.epochs.iter().find(|e| {
        e.validation_loss.is_some_and(|v| !v.is_finite())
            || e.losses.values().any(|v| !v.is_finite())
    });
    if let Some(e) = bad {
        return Check {
            name,
            ok: false,
            detail: format!("epoch {}: a loss is not finite (diverged)", e.epoch),
        };
    }
    if log.epochs.is_empty() {
        return Check {
            name,
            ok: false,
            detail: "no epoch was trained".into(),
        };
    }
    let validated: Vec<(usize, f64)> = (log.epochs.iter())
        .filter_map(|e| e.validation_loss.map(|v| (e.epoch, v)))
        .collect();
    let (Some(&(first_epoch, first)), Some(&(_, last))) = (validated.first(), validated.last())
    else {
        return Check {
            name,
            ok: false,
            detail: format!(
                "none of the {} epochs had a validation loss: training stopped before the stage \
                 the score uses",
                log.epochs.len()
            ),
        };
    };
    let best = validated.iter().map(|e| e.1).fold(f64::INFINITY, f64::min);
    if validated.len() > 2 && log.best_epoch <= first_epoch {
        return Check {
            name,
            ok: false,
            detail: format!(
                "the validation loss never fell below epoch {first_epoch}'s ({first:.6}) in {} \
                 validated epochs",
                validated.len()
            ),
        };
    }
    // Rose to ten times its best, and by more than a thousandth of where it started: diverging
    // (a loss near zero may multiply by ten in rounding noise).
    if last - best > 9.0 * best.abs() && last - best > 1e-3 * first.abs() {
        return Check {
            name,
            ok: false,
            detail: format!(
                "the validation loss rose from its best {best:.6} (epoch {}) to {last:.6}",
                log.best_epoch
            ),
        };
    }
    Check {
        name,
        ok: true,
        detail: format!(
            "validation loss {first:.6} → best {best:.6} at epoch {} of {}",
            log.best_epoch,
            log.epochs.len()
        ),
    }
}

/// The share of normals the threshold flags: on the validation normals it was chosen on, and
/// on the held-out test normals, against what its rule intends.
fn threshold_as_intended(e: &Evidence) -> Check {
    let name = "threshold flags as intended";
    let t = e.threshold.value;
    let share = |scores: &mut dyn Iterator<Item = f32>| {
        let (mut flagged, mut n) = (0usize, 0usize);
        for s in scores {
            n += 1;
            flagged += (s as f64 >= t) as usize;
        }
        (flagged as f64 / n.max(1) as f64, n)
    };
    let (test_share, test_n) = share(
        &mut (e.scores.iter().zip(e.labels))
            .filter(|&(_, &l)| l == 0)
            .map(|(&s, _)| s),
    );
    let valid = e.validation_scores.map(|v| share(&mut v.iter().copied()));
    let intended = match e.threshold.rule {
        ThresholdRule::ValidationPercentile { percentile } => Some(1.0 - percentile / 100.0),
        ThresholdRule::FalseAlarmRate { alpha } => Some(alpha),
        // A quantile of the training scores: in-sample, so it states no rate on held-out data.
        ThresholdRule::Kde { .. } => None,
        ThresholdRule::Fixed { .. } => None,
    };
    let mut detail = format!("flags {:.1} % of {test_n} test normals", 100.0 * test_share);
    if let Some((v, n)) = valid {
        detail += &format!(", {:.1} % of {n} validation normals", 100.0 * v);
    }
    let Some(intended) = intended else {
        return Check {
            name,
            ok: true,
            detail: detail + " (a fixed or training-KDE threshold states no held-out rate)",
        };
    };
    detail += &format!("; the rule intends {:.1} %", 100.0 * intended);
    // Allow sampling noise: a few samples either way, or half the intended rate.
    let far_off = |share: f64, n: usize| {
        let slack = (0.5 * intended).max(3.0 / n.max(1) as f64);
        (share - intended).abs() > slack && (share > 2.0 * intended || share < intended / 3.0)
    };
    let ok =
        valid.is_none_or(|(v, n)| !far_off(v, n)) && (test_n == 0 || !far_off(test_share, test_n));
    if !ok {
        detail += ": the scores tie, or test normals differ from the validation normals";
    }
    Check { name, ok, detail }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::EpochLog;

    fn log(validation: &[f64]) -> TrainLog {
        let epochs: Vec<EpochLog> = (validation.iter().enumerate())
            .map(|(i, &v)| EpochLog {
                epoch: i + 1,
                losses: [("loss".to_string(), v)].into(),
                validation_loss: Some(v),
                train_seconds: 1.0,
                samples_per_second: 1.0,
                steps: 1,
            })
            .collect();
        let best_epoch = (validation.iter().enumerate())
            .min_by(|a, b| a.1.total_cmp(b.1))
            .map_or(0, |(i, _)| i + 1);
        TrainLog { epochs, best_epoch }
    }

    fn evidence<'a>(
        scores: &'a [f32],
        labels: &'a [u8],
        auroc: f64,
        log: &'a TrainLog,
        valid: Option<&'a [f32]>,
    ) -> Evidence<'a> {
        Evidence {
            scores,
            labels,
            auroc,
            log,
            threshold: ThresholdRule::default()
                .fit(valid.unwrap_or(&[0.5]))
                .unwrap(),
            validation_scores: valid,
        }
    }

    #[test]
    fn a_healthy_run_passes_every_check() {
        let scores: Vec<f32> = (0..200).map(|i| i as f32 / 200.0).collect();
        let labels: Vec<u8> = (0..200).map(|i| (i >= 150) as u8).collect();
        let valid: Vec<f32> = (0..100).map(|i| i as f32 / 100.0 * 0.75).collect();
        let log = log(&[1.0, 0.5, 0.4, 0.41]);
        let checks = checks(&evidence(&scores, &labels, 0.9, &log, Some(&valid)));
        assert!(checks.iter().all(|c| c.ok), "{checks:#?}");
    }

    #[test]
    fn each_problem_is_caught() {
        let labels: Vec<u8> = (0..100).map(|i| (i >= 80) as u8).collect();
        let good_log = log(&[1.0, 0.5]);
        let constant = vec![0.25f32; 100];
        let c = checks(&evidence(&constant, &labels, 0.5, &good_log, None));
        assert!(!c[0].ok && c[0].detail.contains("constant"), "{c:#?}");

        let spread: Vec<f32> = (0..100).map(|i| i as f32).collect();
        let c = checks(&evidence(&spread, &labels, 0.31, &good_log, None));
        assert!(!c[1].ok && c[1].detail.contains("0.3100"), "{c:#?}");

        for (losses, needle) in [
            (vec![1.0, f64::NAN], "not finite"),
            (vec![0.5, 0.6, 0.7], "never fell"),
            (vec![1.0, 0.1, 5.0], "rose"),
        ] {
            let c = checks(&evidence(&spread, &labels, 0.9, &log(&losses), None));
            assert!(!c[2].ok && c[2].detail.contains(needle), "{needle}: {c:#?}");
        }

        // A first stage without validation (f-AnoGAN's WGAN) takes no part: the reference is
        // the first validated epoch.
        let mut staged = log(&[9.0, 9.0, 0.5, 0.6, 0.7]);
        staged.epochs[..2]
            .iter_mut()
            .for_each(|e| e.validation_loss = None);
        staged.best_epoch = 3;
        let c = checks(&evidence(&spread, &labels, 0.9, &staged, None));
        assert!(
            !c[2].ok && c[2].detail.contains("epoch 3's (0.500000)"),
            "{c:#?}"
        );
        let mut unscored = staged.clone();
        unscored
            .epochs
            .iter_mut()
            .for_each(|e| e.validation_loss = None);
        let c = checks(&evidence(&spread, &labels, 0.9, &unscored, None));
        assert!(
            !c[2].ok && c[2].detail.contains("before the stage"),
            "{c:#?}"
        );
        staged.epochs[3].validation_loss = Some(0.4);
        staged.best_epoch = 4;
        let c = checks(&evidence(&spread, &labels, 0.9, &staged, None));
        assert!(
            c[2].ok && c[2].detail.starts_with("validation loss 0.500000"),
            "{c:#?}"
        );

        // Validation scores tie: the 95th percentile flags every validation normal.
        let tied = vec![1.0f32; 50];
        let c = checks(&evidence(&spread, &labels, 0.9, &good_log, Some(&tied)));
        assert!(
            !c[3].ok && c[3].detail.contains("100.0 % of 50 validation"),
            "{c:#?}"
        );
        // Test normals score far above the validation normals: most are flagged.
        let valid: Vec<f32> = (0..100).map(|i| i as f32 / 10.0).collect();
        let c = checks(&evidence(&spread, &labels, 0.9, &good_log, Some(&valid)));
        assert!(!c[3].ok, "{c:#?}");
    }
}
