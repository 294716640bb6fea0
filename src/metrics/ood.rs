//! Out-of-distribution metrics, as the OOD papers (Hendrycks & Gimpel; Liang et al.; Lee et
//! al.) report them: **in-distribution samples are the positives** and a score is an
//! *in-distribution* score (higher = more like the training classes: MSP, ODIN's tempered
//! softmax, the Mahalanobis confidence, the negative energy).
//!
//! - AUROC: in-distribution against out-of-distribution (the same number either way round).
//! - AUPR-in: average precision with in-distribution positive, ranked by the score.
//! - AUPR-out: average precision with out-of-distribution positive, ranked by minus the score.
//! - FPR at 95 % TPR: the share of out-of-distribution samples accepted at the highest
//!   threshold that accepts 95 % of the in-distribution ones.
//! - Detection error: `min_δ ½·(1 − TPR(δ)) + ½·FPR(δ)` over every threshold (ODIN's).
//!
//! Each is the scikit-learn definition of [`super`] applied to the relabelled scores, so ties
//! are handled as there.

use super::{auroc, average_precision, fpr_at_tpr, sweep};
use anyhow::ensure;
use serde::{Deserialize, Serialize};

/// Every OOD metric of one score on one in/out pair.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OodMetrics {
    /// Area under the ROC curve.
    pub auroc: f64,
    /// Average precision, in-distribution positive.
    pub aupr_in: f64,
    /// Average precision, out-of-distribution positive.
    pub aupr_out: f64,
    /// Share of out-of-distribution samples accepted when 95 % of in-distribution ones are.
    pub fpr_at_95_tpr: f64,
    /// The smallest mean of the two error rates over all thresholds.
    pub detection_error: f64,
    /// In-distribution samples scored.
    pub in_samples: usize,
    /// Out-of-distribution samples scored.
    pub out_samples: usize,
}

/// The metrics of in-distribution scores `inside` against out-of-distribution scores
/// `outside` (higher = more in-distribution).
pub fn ood_metrics(inside: &[f32], outside: &[f32]) -> crate::Result<OodMetrics> {
    ensure!(
        !inside.is_empty() && !outside.is_empty(),
        "OOD metrics need in- and out-of-distribution samples ({} in, {} out)",
        inside.len(),
        outside.len()
    );
    let scores: Vec<f32> = inside.iter().chain(outside).copied().collect();
    let in_positive: Vec<u8> = (0..scores.len())
        .map(|i| u8::from(i < inside.len()))
        .collect();
    let out_positive: Vec<u8> = in_positive.iter().map(|&l| 1 - l).collect();
    let negated: Vec<f32> = scores.iter().map(|s| -s).collect();
    Ok(OodMetrics {
        auroc: auroc(&scores, &in_positive)?,
        aupr_in: average_precision(&scores, &in_positive)?,
        aupr_out: average_precision(&negated, &out_positive)?,
        fpr_at_95_tpr: fpr_at_tpr(&scores, &in_positive, 0.95)?,
        detection_error: detection_error(&scores, &in_positive, inside.len(), outside.len()),
        in_samples: inside.len(),
        out_samples: outside.len(),
    })
}

/// `min ½(1 − TPR) + ½·FPR` over the thresholds at every distinct score, and accepting none.
fn detection_error(scores: &[f32], in_positive: &[u8], inside: usize, outside: usize) -> f64 {
    sweep(scores, in_positive)
        .iter()
        .map(|p| {
            let tpr = p.true_positives as f64 / inside as f64;
            let fpr = p.false_positives as f64 / outside as f64;
            0.5 * (1.0 - tpr) + 0.5 * fpr
        })
        .fold(0.5, f64::min)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hand-worked case with a tie across the two sets. In: 0.9, 0.8, 0.4, 0.4; out: 0.4,
    /// 0.2. Pairs (in, out): 8, of which in > out 6 and ties 2 → AUROC (6 + 1)/8. AUPR-in
    /// (sklearn): thresholds 0.9 (P 1, R ¼), 0.8 (1, ½), 0.4 (4/5, 1) → ¼ + ¼ + ½·4/5 = 0.9.
    /// AUPR-out on −score: −0.2 (P 1, R ½), −0.4 (2/4, 1) → ½ + ½·½ = 0.75. FPR at 95 % TPR:
    /// all four in accepted first at 0.4, where one of two out is → 0.5. Detection error: at
    /// 0.8, ½·½ + 0 = 0.25; at 0.4, 0 + ½·½ = 0.25; at 0.9, ½·¾ = 0.375 → 0.25.
    #[test]
    fn hand_worked_pair_with_ties() {
        let m = ood_metrics(&[0.9, 0.8, 0.4, 0.4], &[0.4, 0.2]).unwrap();
        assert!((m.auroc - 7.0 / 8.0).abs() < 1e-12, "{m:?}");
        assert!((m.aupr_in - 0.9).abs() < 1e-12, "{m:?}");
        assert!((m.aupr_out - 0.75).abs() < 1e-12, "{m:?}");
        assert_eq!(m.fpr_at_95_tpr, 0.5);
        assert!((m.detection_error - 0.25).abs() < 1e-12, "{m:?}");
        assert_eq!((m.in_samples, m.out_samples), (4, 2));
    }

    /// Perfect separation gives the ideal values; swapped sets give the worst ones.
    #[test]
    fn separated_and_swapped() {
        let m = ood_metrics(&[3.0, 2.0], &[1.0, 0.0]).unwrap();
        assert_eq!(
            (
                m.auroc,
                m.aupr_in,
                m.aupr_out,
                m.fpr_at_95_tpr,
                m.detection_error
            ),
            (1.0, 1.0, 1.0, 0.0, 0.0)
        );
        let m = ood_metrics(&[1.0, 0.0], &[3.0, 2.0]).unwrap();
        assert_eq!(
            (m.auroc, m.fpr_at_95_tpr, m.detection_error),
            (0.0, 1.0, 0.5)
        );
    }

    #[test]
    fn empty_sets_are_refused() {
        assert!(ood_metrics(&[], &[1.0]).is_err());
        assert!(ood_metrics(&[1.0], &[]).is_err());
        assert!(ood_metrics(&[f32::NAN], &[1.0]).is_err());
    }
}
