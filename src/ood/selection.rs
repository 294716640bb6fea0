//! The rules that choose the input-step scores' settings, apart from the networks that compute
//! the scores they judge, so that each rule is checked on hand-made grids:
//!
//! - ODIN's ε by default: the highest mean tempered top probability of the perturbed
//!   in-distribution validation images ([`odin_epsilon`]);
//! - the validation-free Mahalanobis ε and ensemble: validation images against their FGSM
//!   images, a non-negative regression fitted on each side's first half and judged by AUROC on
//!   the second halves ([`validation_free_ensemble`]);
//! - the oracle's ODIN (T, ε) and Mahalanobis ε and regression, chosen on OOD tuning images by
//!   the lowest FPR at 95 % TPR ([`oracle_odin`], [`oracle_ensemble`]).
//!
//! Every rule keeps the first candidate on ties, so the grid's order decides (ascending ε; the
//! oracle's ODIN grid by temperature, then ε).

use super::scores::LogisticEnsemble;
use crate::metrics::auroc;
use crate::metrics::ood::ood_metrics;

/// The per-stage confidences of one input step: `inside[image][stage]` of in-distribution
/// images, `outside[image][stage]` of the others.
#[derive(Clone, Debug)]
pub struct StageRows {
    /// The input step.
    pub epsilon: f64,
    /// In-distribution rows.
    pub inside: Vec<Vec<f64>>,
    /// The other rows.
    pub outside: Vec<Vec<f64>>,
}

impl StageRows {
    /// Every row (in-distribution first) and its label (1 = in-distribution).
    fn labelled(self) -> (Vec<Vec<f64>>, Vec<u8>) {
        let labels = [vec![1u8; self.inside.len()], vec![0u8; self.outside.len()]].concat();
        (
            self.inside.into_iter().chain(self.outside).collect(),
            labels,
        )
    }
}

/// Of `n_in` in-distribution rows followed by `n_out` others: the rows that fit (each side's
/// first half) and the in- and out-of-distribution rows that judge (each side's second half).
fn halves(n_in: usize, n_out: usize) -> (Vec<usize>, Vec<usize>, Vec<usize>) {
    let fit = (0..n_in / 2).chain(n_in..n_in + n_out / 2).collect();
    (
        fit,
        (n_in / 2..n_in).collect(),
        (n_in + n_out / 2..n_in + n_out).collect(),
    )
}

fn pick<T: Clone>(items: &[T], part: &[usize]) -> Vec<T> {
    part.iter().map(|&i| items[i].clone()).collect()
}

/// The index of the largest value, the first on ties.
fn first_highest(values: impl IntoIterator<Item = f64>) -> usize {
    let mut best = (0, f64::NEG_INFINITY);
    for (i, v) in values.into_iter().enumerate() {
        if v > best.1 {
            best = (i, v);
        }
    }
    best.0
}

/// The index of the smallest value, the first on ties.
fn first_lowest(values: impl IntoIterator<Item = f64>) -> usize {
    first_highest(values.into_iter().map(|v| -v))
}

/// ODIN's default ε: of `grid` (`(ε, the validation images' ODIN scores)`, ascending ε), the
/// one with the highest mean score, the smallest on ties; with every ε's mean.
pub fn odin_epsilon(grid: &[(f64, Vec<f32>)]) -> crate::Result<(f64, Vec<(f64, f64)>)> {
    anyhow::ensure!(
        !grid.is_empty() && grid.iter().all(|(_, s)| !s.is_empty()),
        "ODIN's ε needs validation images and a grid of ε"
    );
    let means: Vec<(f64, f64)> = grid
        .iter()
        .map(|(epsilon, s)| {
            let mean = s.iter().map(|&v| v as f64).sum::<f64>() / s.len() as f64;
            (*epsilon, mean)
        })
        .collect();
    let best = first_highest(means.iter().map(|m| m.1));
    Ok((means[best].0, means))
}

/// One candidate of a Mahalanobis grid, its rows labelled (in-distribution first).
struct Judged {
    epsilon: f64,
    rows: Vec<Vec<f64>>,
    labels: Vec<u8>,
    /// The judgement of the regression fitted on the first halves, on the second halves.
    value: f64,
}

/// At each ε of `grid`, `judge(rows, labels, fit, judge_in, judge_out)` (row indices: each
/// side's first half fits, its second half is judged).
fn judge_each(
    grid: Vec<StageRows>,
    mut judge: impl FnMut(&[Vec<f64>], &[u8], &[usize], &[usize], &[usize]) -> crate::Result<f64>,
) -> crate::Result<Vec<Judged>> {
    anyhow::ensure!(
        !grid.is_empty()
            && grid
                .iter()
                .all(|g| !g.inside.is_empty() && !g.outside.is_empty()),
        "the Mahalanobis ensemble needs rows of both kinds at every ε of a grid"
    );
    grid.into_iter()
        .map(|step| {
            let (n_in, n_out) = (step.inside.len(), step.outside.len());
            let epsilon = step.epsilon;
            let (rows, labels) = step.labelled();
            let (fit, judge_in, judge_out) = halves(n_in, n_out);
            let value = judge(&rows, &labels, &fit, &judge_in, &judge_out)?;
            Ok(Judged {
                epsilon,
                rows,
                labels,
                value,
            })
        })
        .collect()
}

/// The validation-free Mahalanobis ε and ensemble: at each ε of `grid` (validation rows
/// against their FGSM rows) a non-negative regression fitted on each side's first half and
/// judged by the AUROC of the second halves (chance, 0.5, where no stage counts for
/// in-distribution); the best ε (the first on ties) is refitted on all its rows. Where no stage
/// counts at that ε either, the ensemble is the penultimate (last) stage alone, the plain
/// Mahalanobis score. Returns the ε, every ε's judged AUROC and the ensemble.
pub fn validation_free_ensemble(
    grid: Vec<StageRows>,
) -> crate::Result<(f64, Vec<(f64, f64)>, LogisticEnsemble)> {
    let mut judged = judge_each(grid, |rows, labels, fit, judge_in, judge_out| {
        let held = [judge_in, judge_out].concat();
        match LogisticEnsemble::fit_non_negative(&pick(rows, fit), &pick(labels, fit)) {
            Ok(ensemble) => {
                let scores: Vec<f32> = pick(rows, &held)
                    .iter()
                    .map(|r| ensemble.score(r) as f32)
                    .collect();
                auroc(&scores, &pick(labels, &held))
            }
            Err(_) => Ok(0.5),
        }
    })?;
    let separations: Vec<(f64, f64)> = judged.iter().map(|j| (j.epsilon, j.value)).collect();
    let best = judged.swap_remove(first_highest(separations.iter().map(|s| s.1)));
    let ensemble = LogisticEnsemble::fit_non_negative(&best.rows, &best.labels).unwrap_or_else(|_| {
        eprintln!("note: no stage separates validation images from FGSM ones; the ensemble is the penultimate stage alone");
        let mut weights = vec![0.0; best.rows[0].len()];
        if let Some(last) = weights.last_mut() {
            *last = 1.0;
        }
        LogisticEnsemble { weights, bias: 0.0 }
    });
    Ok((best.epsilon, separations, ensemble))
}

/// The oracle's ODIN setting: of `grid` (`((T, ε), in-distribution scores, OOD scores)` of
/// the tuning images), the one with the lowest FPR at 95 % TPR, the first on ties.
pub fn oracle_odin(grid: &[((f64, f64), Vec<f32>, Vec<f32>)]) -> crate::Result<(f64, f64)> {
    anyhow::ensure!(!grid.is_empty(), "the ODIN grid is empty");
    let fprs = grid
        .iter()
        .map(|(_, inside, outside)| Ok(ood_metrics(inside, outside)?.fpr_at_95_tpr))
        .collect::<crate::Result<Vec<f64>>>()?;
    Ok(grid[first_lowest(fprs)].0)
}

/// The oracle's Mahalanobis ε and regression: at each ε of `grid` (tuning rows, in against
/// OOD) an unconstrained regression fitted on each side's first half and judged by the FPR at
/// 95 % TPR of the second halves, as the paper's code; the best ε (the first on ties) is
/// refitted on all its rows.
pub fn oracle_ensemble(grid: Vec<StageRows>) -> crate::Result<(f64, LogisticEnsemble)> {
    let mut judged = judge_each(grid, |rows, labels, fit, judge_in, judge_out| {
        let ensemble = LogisticEnsemble::fit(&pick(rows, fit), &pick(labels, fit))?;
        let scored = |part: &[usize]| -> Vec<f32> {
            part.iter()
                .map(|&k| ensemble.score(&rows[k]) as f32)
                .collect()
        };
        Ok(ood_metrics(&scored(judge_in), &scored(judge_out))?.fpr_at_95_tpr)
    })?;
    let best = first_lowest(judged.iter().map(|j| j.value));
    let best = judged.swap_remove(best);
    Ok((
        best.epsilon,
        LogisticEnsemble::fit(&best.rows, &best.labels)?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(values: &[[f64; 2]]) -> Vec<Vec<f64>> {
        values.iter().map(|r| r.to_vec()).collect()
    }

    fn step(epsilon: f64, inside: &[[f64; 2]], outside: &[[f64; 2]]) -> StageRows {
        StageRows {
            epsilon,
            inside: rows(inside),
            outside: rows(outside),
        }
    }

    /// Each side's first half fits and its second half judges, also for odd and unequal sides.
    #[test]
    fn halves_split_each_side() {
        assert_eq!(halves(4, 4), (vec![0, 1, 4, 5], vec![2, 3], vec![6, 7]));
        assert_eq!(halves(3, 5), (vec![0, 3, 4], vec![1, 2], vec![5, 6, 7]));
    }

    /// ODIN's ε: the mean validation score by hand, the highest chosen, the smallest ε on ties.
    #[test]
    fn odin_epsilon_takes_the_highest_mean_and_the_smallest_on_ties() {
        // Means 0.25, 0.375, 0.375, 0.125: exact in binary, so 0.001 and 0.002 tie.
        let grid = vec![
            (0.0, vec![0.125f32, 0.375]),
            (0.001, vec![0.5, 0.25]),
            (0.002, vec![0.625, 0.125]),
            (0.004, vec![0.125, 0.125]),
        ];
        let (epsilon, means) = odin_epsilon(&grid).unwrap();
        assert_eq!(epsilon, 0.001);
        let expected = [0.25, 0.375, 0.375, 0.125];
        for ((e, m), (g, want)) in means.iter().zip(grid.iter().zip(expected)) {
            assert_eq!((*e, *m), (g.0, want));
        }
        assert!(odin_epsilon(&[]).is_err());
        assert!(odin_epsilon(&[(0.0, vec![])]).is_err());
    }

    /// The ε whose *second* halves separate wins, even where the first halves separate better
    /// at another ε: the regression is judged on rows it was not fitted to. Stage 1 counts at
    /// the chosen ε, so the final ensemble weighs it, never negatively.
    #[test]
    fn the_validation_free_ensemble_is_judged_on_held_rows() {
        // ε 0: the first halves separate on stage 0, the second halves reverse it.
        let misleading = step(
            0.0,
            &[[5.0, 0.0], [6.0, 0.0], [0.0, 0.0], [1.0, 0.0]],
            &[[0.0, 0.0], [1.0, 0.0], [5.0, 0.0], [6.0, 0.0]],
        );
        // ε 0.01: stage 1 separates in both halves.
        let honest = step(
            0.01,
            &[[0.0, 3.0], [1.0, 4.0], [0.0, 3.5], [1.0, 4.5]],
            &[[0.0, 1.0], [1.0, 0.0], [0.0, 0.5], [1.0, 1.5]],
        );
        // ε 0.02: the halves overlap.
        let overlapping = step(
            0.02,
            &[[0.0, 1.0], [1.0, 2.0], [0.0, 1.0], [1.0, 2.0]],
            &[[0.0, 1.5], [1.0, 1.5], [0.0, 1.5], [1.0, 1.5]],
        );
        let (all_rows, all_labels) = honest.clone().labelled();
        let (epsilon, judged, ensemble) =
            validation_free_ensemble(vec![misleading, honest, overlapping]).unwrap();
        assert_eq!(epsilon, 0.01);
        assert_eq!(
            judged.iter().map(|j| j.0).collect::<Vec<_>>(),
            vec![0.0, 0.01, 0.02]
        );
        assert!(judged[0].1 < 0.5, "ε 0 judged {}", judged[0].1);
        assert_eq!(judged[1].1, 1.0);
        assert!(judged[2].1 < 1.0, "ε 0.02 judged {}", judged[2].1);
        // Refitted on all the chosen ε's rows.
        assert_eq!(
            ensemble,
            LogisticEnsemble::fit_non_negative(&all_rows, &all_labels).unwrap()
        );
        assert!(ensemble.weights.iter().all(|&w| w >= 0.0));
        assert!(ensemble.weights[1] > 0.0, "{ensemble:?}");
        assert!(ensemble.score(&[0.0, 4.0]) > ensemble.score(&[0.0, 1.0]));
    }

    /// Where no stage counts for in-distribution (the FGSM rows score higher everywhere), each
    /// ε is judged at chance, the first is kept and the ensemble is the last stage alone.
    #[test]
    fn the_validation_free_ensemble_falls_back_to_the_penultimate_stage() {
        let reversed = |epsilon| StageRows {
            epsilon,
            inside: rows(&[[0.0, 1.0], [1.0, 0.0], [0.5, 0.5], [0.0, 0.0]]),
            outside: rows(&[[5.0, 6.0], [6.0, 5.0], [5.5, 5.5], [7.0, 7.0]]),
        };
        let (epsilon, judged, ensemble) =
            validation_free_ensemble(vec![reversed(0.0), reversed(0.01)]).unwrap();
        assert_eq!(epsilon, 0.0);
        assert_eq!(judged, vec![(0.0, 0.5), (0.01, 0.5)]);
        assert_eq!(ensemble.weights, vec![0.0, 1.0]);
        assert_eq!(ensemble.bias, 0.0);
    }

    /// The oracle's ODIN: the FPR at 95 % TPR of each (T, ε) by hand, the lowest chosen, the
    /// first on ties.
    #[test]
    fn oracle_odin_takes_the_lowest_fpr_and_the_first_on_ties() {
        let inside: Vec<f32> = (0..20).map(|i| 1.0 + i as f32).collect();
        // Every OOD score above the in-distribution threshold (FPR 1), then half of them
        // (0.5), then none (0) twice.
        let all_above = vec![100.0f32; 4];
        let half_above = vec![100.0, 100.0, -1.0, -1.0];
        let none_above = vec![-1.0f32; 4];
        let grid = vec![
            ((1.0, 0.0), inside.clone(), all_above),
            ((10.0, 0.002), inside.clone(), half_above),
            ((100.0, 0.001), inside.clone(), none_above.clone()),
            ((1000.0, 0.0), inside, none_above),
        ];
        assert_eq!(oracle_odin(&grid).unwrap(), (100.0, 0.001));
        assert!(oracle_odin(&[]).is_err());
    }

    /// The oracle's regression: judged by FPR at 95 % TPR on the second halves (the ε whose
    /// second halves overlap loses), unconstrained (a stage that counts *against*
    /// in-distribution gets a negative weight), refitted on all the chosen ε's rows.
    #[test]
    fn oracle_ensemble_is_judged_on_held_rows_and_may_weigh_negatively() {
        let overlapping = step(
            0.0,
            &[[0.0, 0.0], [1.0, 0.0], [3.0, 0.0], [4.0, 0.0]],
            &[[5.0, 0.0], [6.0, 0.0], [3.5, 0.0], [3.8, 0.0]],
        );
        // Stage 0 high means OOD: the regression must weigh it negatively to separate.
        let reversed = step(
            0.005,
            &[[0.0, 0.0], [1.0, 0.0], [0.5, 0.0], [1.5, 0.0]],
            &[[5.0, 0.0], [6.0, 0.0], [5.5, 0.0], [6.5, 0.0]],
        );
        // ε 0.01: the held halves reach FPR 0 too, but later in the grid.
        let later = StageRows {
            epsilon: 0.01,
            ..reversed.clone()
        };
        let (all_rows, all_labels) = reversed.clone().labelled();
        let (epsilon, ensemble) = oracle_ensemble(vec![overlapping, reversed, later]).unwrap();
        assert_eq!(epsilon, 0.005);
        // Refitted on all the chosen ε's rows, unconstrained.
        assert_eq!(
            ensemble,
            LogisticEnsemble::fit(&all_rows, &all_labels).unwrap()
        );
        assert!(ensemble.weights[0] < 0.0, "{ensemble:?}");
        assert!(ensemble.score(&[0.5, 0.0]) > ensemble.score(&[5.5, 0.0]));
    }
}
