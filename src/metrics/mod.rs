//! Detection metrics from scores (higher = more anomalous) and binary labels (1 = anomaly).
//! Definitions follow scikit-learn's so figures compare with the Python tools: ties count ½ in
//! AUROC, average precision is the step-wise `Σ (R_k − R_{k−1})·P_k` over distinct thresholds,
//! a sample is flagged when its score is at or above the threshold, and a precision with no
//! flagged sample is 0. Localisation metrics (anomaly maps against masks) are in [`pixel`].

pub mod ood;
pub mod pixel;

use anyhow::ensure;
use serde::{Deserialize, Serialize};

/// Every metric `oddity eval` reports.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// Area under the ROC curve.
    pub auroc: f64,
    /// Average precision (area under the precision-recall curve, step-wise).
    pub auprc: f64,
    /// F1 at the chosen threshold.
    pub f1: f64,
    /// Precision at the chosen threshold.
    pub precision: f64,
    /// Recall at the chosen threshold.
    pub recall: f64,
    /// The chosen threshold.
    pub threshold: f64,
    /// The best F1 over all thresholds (an oracle figure: it looks at test labels).
    pub best_f1: f64,
    /// The threshold of [`Metrics::best_f1`].
    pub best_f1_threshold: f64,
    /// False-positive rate at the first ROC point whose true-positive rate reaches 95 %.
    pub fpr_at_95_tpr: f64,
    /// Number of samples.
    pub samples: usize,
    /// Number of anomalies.
    pub anomalies: usize,
}

fn check(scores: &[f32], labels: &[u8]) -> crate::Result<(usize, usize)> {
    ensure!(
        scores.len() == labels.len(),
        "{} scores but {} labels",
        scores.len(),
        labels.len()
    );
    ensure!(
        scores.iter().all(|s| s.is_finite()),
        "scores must be finite"
    );
    ensure!(
        labels.iter().all(|&l| l <= 1),
        "labels must be 0 (normal) or 1 (anomaly)"
    );
    let pos = labels.iter().filter(|&&l| l == 1).count();
    let neg = labels.len() - pos;
    ensure!(
        pos > 0 && neg > 0,
        "metrics need both normal and anomalous samples ({pos} anomalies, {neg} normal)"
    );
    Ok((pos, neg))
}

/// Area under the ROC curve (Mann–Whitney U with tied scores counted ½).
pub fn auroc(scores: &[f32], labels: &[u8]) -> crate::Result<f64> {
    let (pos, neg) = check(scores, labels)?;
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let mut rank_sum = 0.0f64;
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && scores[order[j + 1]] == scores[order[i]] {
            j += 1;
        }
        let avg_rank = (i + j) as f64 / 2.0 + 1.0;
        for &k in &order[i..=j] {
            if labels[k] == 1 {
                rank_sum += avg_rank;
            }
        }
        i = j + 1;
    }
    Ok((rank_sum - (pos * (pos + 1)) as f64 / 2.0) / (pos as f64 * neg as f64))
}

/// One point of a ROC or precision-recall sweep: counts of flagged samples at a threshold.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SweepPoint {
    /// Samples with score ≥ threshold are flagged.
    pub threshold: f64,
    /// Flagged anomalies.
    pub true_positives: usize,
    /// Flagged normals.
    pub false_positives: usize,
}

/// Cumulative counts at every distinct score, from the highest threshold down.
pub fn sweep(scores: &[f32], labels: &[u8]) -> Vec<SweepPoint> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let (mut tp, mut fp) = (0, 0);
    let mut out = Vec::new();
    for (n, &k) in order.iter().enumerate() {
        if labels[k] == 1 {
            tp += 1;
        } else {
            fp += 1;
        }
        let last_of_tie = n + 1 == order.len() || scores[order[n + 1]] != scores[k];
        if last_of_tie {
            out.push(SweepPoint {
                threshold: scores[k] as f64,
                true_positives: tp,
                false_positives: fp,
            });
        }
    }
    out
}

/// ROC curve as `(fpr, tpr)` points, starting at (0, 0), one point per distinct score.
pub fn roc_curve(scores: &[f32], labels: &[u8]) -> crate::Result<Vec<(f64, f64)>> {
    let (pos, neg) = check(scores, labels)?;
    let mut pts = vec![(0.0, 0.0)];
    pts.extend(sweep(scores, labels).iter().map(|p| {
        (
            p.false_positives as f64 / neg as f64,
            p.true_positives as f64 / pos as f64,
        )
    }));
    Ok(pts)
}

/// Average precision (scikit-learn's `average_precision_score`).
pub fn average_precision(scores: &[f32], labels: &[u8]) -> crate::Result<f64> {
    let (pos, _) = check(scores, labels)?;
    let mut ap = 0.0;
    let mut prev_recall = 0.0;
    for p in sweep(scores, labels) {
        let recall = p.true_positives as f64 / pos as f64;
        let precision = p.true_positives as f64 / (p.true_positives + p.false_positives) as f64;
        ap += (recall - prev_recall) * precision;
        prev_recall = recall;
    }
    Ok(ap)
}

/// Precision, recall and F1 when samples scoring at or above `threshold` are flagged.
pub fn at_threshold(scores: &[f32], labels: &[u8], threshold: f64) -> (f64, f64, f64) {
    let (mut tp, mut fp, mut fneg) = (0usize, 0usize, 0usize);
    for (&s, &l) in scores.iter().zip(labels) {
        let flagged = s as f64 >= threshold;
        match (flagged, l == 1) {
            (true, true) => tp += 1,
            (true, false) => fp += 1,
            (false, true) => fneg += 1,
            _ => {}
        }
    }
    prf(tp, fp, fneg)
}

fn prf(tp: usize, fp: usize, fneg: usize) -> (f64, f64, f64) {
    let precision = if tp + fp == 0 {
        0.0
    } else {
        tp as f64 / (tp + fp) as f64
    };
    let recall = if tp + fneg == 0 {
        0.0
    } else {
        tp as f64 / (tp + fneg) as f64
    };
    let f1 = if precision + recall == 0.0 {
        0.0
    } else {
        2.0 * precision * recall / (precision + recall)
    };
    (precision, recall, f1)
}

/// The best F1 over all thresholds and the threshold reaching it.
pub fn best_f1(scores: &[f32], labels: &[u8]) -> crate::Result<(f64, f64)> {
    let (pos, _) = check(scores, labels)?;
    let mut best = (0.0, f64::INFINITY);
    for p in sweep(scores, labels) {
        let (_, _, f1) = prf(p.true_positives, p.false_positives, pos - p.true_positives);
        if f1 > best.0 {
            best = (f1, p.threshold);
        }
    }
    Ok(best)
}

/// False-positive rate at the first ROC point (highest threshold) whose true-positive rate
/// reaches `tpr` (scikit-learn: `fpr[np.argmax(tpr >= 0.95)]` on `roc_curve`).
pub fn fpr_at_tpr(scores: &[f32], labels: &[u8], tpr: f64) -> crate::Result<f64> {
    let curve = roc_curve(scores, labels)?;
    Ok(curve
        .iter()
        .find(|p| p.1 >= tpr)
        .map(|p| p.0)
        .unwrap_or(1.0))
}

/// All metrics at `threshold`.
pub fn compute(scores: &[f32], labels: &[u8], threshold: f64) -> crate::Result<Metrics> {
    let (pos, _) = check(scores, labels)?;
    let (precision, recall, f1) = at_threshold(scores, labels, threshold);
    let (best_f1, best_f1_threshold) = best_f1(scores, labels)?;
    Ok(Metrics {
        auroc: auroc(scores, labels)?,
        auprc: average_precision(scores, labels)?,
        f1,
        precision,
        recall,
        threshold,
        best_f1,
        best_f1_threshold,
        fpr_at_95_tpr: fpr_at_tpr(scores, labels, 0.95)?,
        samples: scores.len(),
        anomalies: pos,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // Oracle values from scikit-learn 1.x (see tests/oracle/metrics_oracle.py):
    //   s = [0.1, 0.4, 0.35, 0.8, 0.4, 0.9, 0.2, 0.4, 0.05, 0.7]
    //   y = [0,   0,   1,    1,   1,   1,   0,   0,   0,    1]
    const S: [f32; 10] = [0.1, 0.4, 0.35, 0.8, 0.4, 0.9, 0.2, 0.4, 0.05, 0.7];
    const Y: [u8; 10] = [0, 0, 1, 1, 1, 1, 0, 0, 0, 1];

    fn close(a: f64, b: f64) {
        assert!((a - b).abs() < 1e-9, "{a} != {b}");
    }

    #[test]
    fn match_scikit_learn_with_ties() {
        close(auroc(&S, &Y).unwrap(), ORACLE_AUROC);
        close(average_precision(&S, &Y).unwrap(), ORACLE_AP);
        let (p, r, f) = at_threshold(&S, &Y, 0.4);
        close(p, ORACLE_P_AT_04);
        close(r, ORACLE_R_AT_04);
        close(f, ORACLE_F1_AT_04);
        close(best_f1(&S, &Y).unwrap().0, ORACLE_BEST_F1);
        close(fpr_at_tpr(&S, &Y, 0.95).unwrap(), ORACLE_FPR95);
    }

    #[test]
    fn all_tied_scores_give_half() {
        close(auroc(&[1.0; 4], &[0, 1, 0, 1]).unwrap(), 0.5);
    }

    #[test]
    fn one_class_labels_are_an_error() {
        assert!(auroc(&[0.1, 0.2], &[0, 0]).is_err());
    }

    include!("../../tests/oracle/metrics_oracle.rs");
}
