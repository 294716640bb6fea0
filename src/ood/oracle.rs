//! The papers' own tuning, offered only as a named **oracle**: ODIN (Liang et al.) and
//! Mahalanobis (Lee et al.) chose their settings on samples of the very out-of-distribution set
//! they then report on. `oddity ood eval --oracle` reproduces that protocol beside the default
//! in-distribution-only settings: of each set and of the in-distribution test images,
//! `min(1000, n/2)` images (a seeded draw) tune, and every score — the default ones too — is
//! measured on the remaining images, so the two kinds of rows compare like for like.
//!
//! - `odin-oracle`: T ∈ {1, 2, 5, 10, 20, 50, 100, 200, 500, 1000} (the paper's) × ODIN's ε
//!   grid, the pair with the lowest FPR at 95 % TPR on the tuning images.
//! - `mahalanobis-oracle`: for each ε of the paper's grid a logistic regression over the
//!   stages' confidences, fitted (unconstrained, as the paper) to one half of the tuning images
//!   — in against out — and judged by its FPR at 95 % TPR on the other half, as the paper's
//!   code; the regression is refitted on all tuning images at the chosen ε.

use super::scores::LogisticEnsemble;
use super::{ODIN_EPSILONS, OodRun, input_step_scores, odin_grid, selection, stage_rows};
use crate::ood::data::Images;
use burn::prelude::*;
use serde::{Deserialize, Serialize};

/// ODIN's temperatures the oracle tries (the paper's).
pub const ODIN_TEMPERATURES: [f64; 10] =
    [1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0];

/// At most this many images of each side tune (the papers' 1 000).
pub const TUNING_IMAGES: usize = 1000;

/// The settings the oracle chose on one out-of-distribution set.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OracleChoice {
    /// ODIN's temperature.
    pub odin_temperature: f64,
    /// ODIN's input step.
    pub odin_epsilon: f64,
    /// The Mahalanobis input step.
    pub mahalanobis_epsilon: f64,
    /// The Mahalanobis ensemble.
    pub ensemble: LogisticEnsemble,
    /// In-distribution images that tuned.
    pub tuning_in: usize,
    /// Out-of-distribution images that tuned.
    pub tuning_out: usize,
}

/// Choose the oracle's settings on `tune_in` (in-distribution) against `tune_out`.
pub fn tune(
    run: &OodRun,
    tune_in: &Images,
    tune_out: &Images,
    device: &Device,
) -> crate::Result<OracleChoice> {
    let (trained, scoring) = (&run.trained, &run.scoring);
    let mut odin_grid_scores = Vec::new();
    for &t in &ODIN_TEMPERATURES {
        let inside = odin_grid(trained, scoring, tune_in, t, &ODIN_EPSILONS, device);
        let outside = odin_grid(trained, scoring, tune_out, t, &ODIN_EPSILONS, device);
        for ((&e, i), o) in ODIN_EPSILONS.iter().zip(inside).zip(outside) {
            odin_grid_scores.push(((t, e), i, o));
        }
    }
    let (odin_temperature, odin_epsilon) = selection::oracle_odin(&odin_grid_scores)?;
    let grid = stage_rows(
        trained,
        scoring,
        &run.mahalanobis.stages,
        tune_in,
        tune_out,
        device,
    );
    let (mahalanobis_epsilon, ensemble) = selection::oracle_ensemble(grid)?;
    let (n_in, n_out) = (tune_in.len(), tune_out.len());
    Ok(OracleChoice {
        odin_temperature,
        odin_epsilon,
        mahalanobis_epsilon,
        ensemble,
        tuning_in: n_in,
        tuning_out: n_out,
    })
}

/// The oracle's ODIN and Mahalanobis scores of `images`.
pub fn scores(
    run: &OodRun,
    choice: &OracleChoice,
    images: &Images,
    device: &Device,
) -> [Vec<f32>; 2] {
    let (odin, rows) = input_step_scores(
        run,
        images,
        [
            choice.odin_temperature,
            choice.odin_epsilon,
            choice.mahalanobis_epsilon,
        ],
        device,
    );
    [
        odin,
        rows.iter()
            .map(|r| choice.ensemble.score(r) as f32)
            .collect(),
    ]
}
