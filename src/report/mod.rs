//! What `oddity eval` writes: `metrics.json`, `scores.csv`, `roc.png`, `scores.png`,
//! `report.html` ([`html`]), and the table it prints.

pub mod health;
pub mod html;
pub mod ood;
pub mod overlays;
pub mod plots;
mod text;

use crate::metrics::Metrics;
use crate::metrics::pixel::PixelMetrics;
use crate::run::{Evaluation, Run};
use serde::Serialize;
use std::path::Path;

/// The content of `metrics.json`: the metrics and what produced them.
#[derive(Clone, Debug, Serialize)]
pub struct MetricsReport {
    /// Area under the ROC curve.
    pub auroc: f64,
    /// Average precision.
    pub auprc: f64,
    /// F1 at the threshold.
    pub f1: f64,
    /// Precision at the threshold.
    pub precision: f64,
    /// Recall at the threshold.
    pub recall: f64,
    /// FPR at 95 % TPR.
    pub fpr_at_95_tpr: f64,
    /// The threshold (from validation data).
    pub threshold: f64,
    /// Best F1 over thresholds (looks at test labels; for reference only).
    pub best_f1: f64,
    /// Model name.
    pub model: String,
    /// The model configuration the scores came from (the run's, or the one `eval
    /// --model-config` made).
    pub model_config: crate::models::ModelConfig,
    /// Protocol, as text.
    pub protocol: String,
    /// Seed.
    pub seed: u64,
    /// Epochs trained.
    pub epochs: usize,
    /// `best` or `last`.
    pub checkpoint: String,
    /// The epoch whose weights were scored.
    pub checkpoint_epoch: usize,
    /// Test samples.
    pub samples: usize,
    /// Test anomalies.
    pub anomalies: usize,
    /// Localisation metrics (`pixel_auroc`, `pixel_auprc`, `aupro`, …), for test images with
    /// masks and a model with anomaly maps.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub pixel: Option<PixelMetrics>,
    /// Image AUROC, pixel AUROC and AUPRO per defect type.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub per_defect: Vec<crate::run::DefectMetrics>,
    /// Conformal verdicts checked on the test normals: for each false-alarm rate α, the share
    /// of test normals with p-value ≤ α (the guarantee: at most α in expectation).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub false_alarms: Vec<crate::conformal::RealisedRate>,
}

impl MetricsReport {
    /// Assemble the report of an evaluation.
    pub fn new(run: &Run, eval: &Evaluation) -> Self {
        let m: &Metrics = &eval.metrics;
        MetricsReport {
            auroc: m.auroc,
            auprc: m.auprc,
            f1: m.f1,
            precision: m.precision,
            recall: m.recall,
            fpr_at_95_tpr: m.fpr_at_95_tpr,
            threshold: m.threshold,
            best_f1: m.best_f1,
            model: run.config.model.name().into(),
            model_config: run.config.model.clone(),
            protocol: run.config.protocol.to_string(),
            seed: run.config.train.seed,
            epochs: run.config.train.epochs,
            checkpoint: eval.checkpoint.to_string(),
            checkpoint_epoch: match eval.checkpoint {
                crate::run::Checkpoint::Best => run.log.best_epoch,
                crate::run::Checkpoint::Last => run.log.epochs.len(),
            },
            samples: m.samples,
            anomalies: m.anomalies,
            pixel: eval.pixel.clone(),
            per_defect: eval.per_defect.clone(),
            false_alarms: eval.false_alarms.clone(),
        }
    }

    /// A human-readable table.
    pub fn table(&self) -> String {
        let rows = [
            ("model", self.model.clone()),
            ("protocol", self.protocol.clone()),
            (
                "checkpoint",
                format!(
                    "{} (epoch {} of {})",
                    self.checkpoint, self.checkpoint_epoch, self.epochs
                ),
            ),
            (
                "test samples",
                format!("{} ({} anomalies)", self.samples, self.anomalies),
            ),
            ("AUROC", format!("{:.4}", self.auroc)),
            ("AUPRC", format!("{:.4}", self.auprc)),
            ("threshold", format!("{:.6}", self.threshold)),
            ("precision", format!("{:.4}", self.precision)),
            ("recall", format!("{:.4}", self.recall)),
            ("F1", format!("{:.4}", self.f1)),
            ("FPR at 95% TPR", format!("{:.4}", self.fpr_at_95_tpr)),
            ("best F1 (oracle)", format!("{:.4}", self.best_f1)),
        ];
        let mut rows = rows.to_vec();
        if let Some(p) = &self.pixel {
            rows.extend([
                ("pixel AUROC", format!("{:.4}", p.pixel_auroc)),
                ("pixel AUPRC", format!("{:.4}", p.pixel_auprc)),
                ("AUPRO (FPR ≤ 0.3)", format!("{:.4}", p.aupro)),
                (
                    "Dice / IoU",
                    format!(
                        "{:.4} / {:.4} (pixel threshold {:.6})",
                        p.dice, p.iou, p.pixel_threshold
                    ),
                ),
                (
                    "image AUROC (max)",
                    format!("{:.4}", p.image_auroc_of_map_max),
                ),
            ]);
        }
        if !self.false_alarms.is_empty() {
            let rates: Vec<String> = (self.false_alarms.iter())
                .map(|r| format!("{:.3} at α {}", r.realised, r.alpha))
                .collect();
            rows.push(("false alarms (p≤α)", rates.join(", ")));
        }
        let mut text: String = rows.iter().map(|(k, v)| format!("{k:<18} {v}\n")).collect();
        if !self.per_defect.is_empty() {
            text.push_str(&format!(
                "\n{:<18} {:>6} {:>11} {:>11} {:>7}\n",
                "defect", "images", "image AUROC", "pixel AUROC", "AUPRO"
            ));
            for d in &self.per_defect {
                text.push_str(&format!(
                    "{:<18} {:>6} {:>11.4} {:>11.4} {:>7.4}\n",
                    d.defect, d.images, d.image_auroc, d.pixel_auroc, d.aupro
                ));
            }
        }
        text
    }
}

/// Write `scores.csv` (`index,score,label,p_value,class`; label, p-value and class empty
/// where unknown).
pub fn write_scores_csv(
    path: &Path,
    scores: &[f32],
    labels: Option<&[u8]>,
    p_values: Option<&[f64]>,
    classes: Option<&[&str]>,
) -> crate::Result<()> {
    crate::io::write_atomic_with(path, |w| {
        writeln!(w, "index,score,label,p_value,class")?;
        for (i, s) in scores.iter().enumerate() {
            let label = labels.map(|l| l[i].to_string()).unwrap_or_default();
            let p = p_values.map(|p| p[i].to_string()).unwrap_or_default();
            let class = classes
                .map(|c| crate::io::csv_cell(c[i]))
                .unwrap_or_default();
            writeln!(w, "{i},{s},{label},{p},{class}")?;
        }
        Ok(())
    })
}

/// Claim the folder `out` for an evaluation before any work: an earlier report there will be
/// replaced, a folder that is not one is refused now ([`crate::run::folder::Staging::begin`]).
pub fn begin_evaluation(out: &Path) -> crate::Result<crate::run::folder::Staging> {
    use crate::run::folder::{Existing, Staging};
    Staging::begin(out, Existing::derived("metrics.json"))
}

/// Write every evaluation output into the folder `out`, which appears whole (replacing an
/// earlier report there, never a folder that is not one).
pub fn write_evaluation(out: &Path, run: &Run, eval: &Evaluation) -> crate::Result<MetricsReport> {
    write_evaluation_into(begin_evaluation(out)?, run, eval)
}

/// [`write_evaluation`] into a folder claimed earlier by [`begin_evaluation`].
pub fn write_evaluation_into(
    staging: crate::run::folder::Staging,
    run: &Run,
    eval: &Evaluation,
) -> crate::Result<MetricsReport> {
    let report = write_evaluation_files(staging.dir(), run, eval)?;
    staging.publish()?;
    Ok(report)
}

fn write_evaluation_files(
    dir: &Path,
    run: &Run,
    eval: &Evaluation,
) -> crate::Result<MetricsReport> {
    let report = MetricsReport::new(run, eval);
    crate::io::write_json(&dir.join("metrics.json"), &report)?;
    if let Some(pixel) = &eval.pixel
        && !eval.pictures.is_empty()
    {
        overlays::write_all(&dir.join("maps"), &eval.pictures, pixel.pixel_threshold)?;
    }
    if let Some(view) = &eval.scene {
        overlays::write_scene(&dir.join("maps"), view)?;
        plots::roc_comparison(
            &dir.join("roc-vs-rx.png"),
            "ROC",
            &view.curves,
            &eval.labels,
        )?;
    }
    let classes: Option<Vec<&str>> = (!eval.class_names.is_empty()).then(|| {
        (eval.classes.iter())
            .map(|&c| eval.class_names.get(c as usize).map_or("", String::as_str))
            .collect()
    });
    write_scores_csv(
        &dir.join("scores.csv"),
        &eval.scores,
        Some(&eval.labels),
        eval.p_values.as_deref(),
        classes.as_deref(),
    )?;
    plots::roc(
        &dir.join("roc.png"),
        &eval.scores,
        &eval.labels,
        eval.metrics.auroc,
    )?;
    plots::histogram(
        &dir.join("scores.png"),
        &eval.scores,
        &eval.labels,
        eval.metrics.threshold,
    )?;
    // The page reads back what was just written, as `oddity report` does.
    html::write(
        &dir.join("report.html"),
        &[html::RunReport::load(run, dir)?],
    )?;
    Ok(report)
}

/// Read a CSV with `score` and `label` columns (other columns ignored).
pub fn read_scores_csv(path: &Path) -> crate::Result<(Vec<f32>, Vec<u8>)> {
    use anyhow::{Context, bail};
    if path.is_dir() {
        bail!("{}: is a folder; give a CSV file of scores", path.display());
    }
    let mut reader =
        csv::Reader::from_path(path).with_context(|| format!("cannot read {}", path.display()))?;
    let headers = reader
        .headers()
        .with_context(|| format!("{}: cannot read the CSV header", path.display()))?
        .clone();
    let col = |name: &str| -> crate::Result<usize> {
        let mut at = headers.iter().enumerate().filter(|(_, h)| h.trim() == name);
        let first = at.next().map(|(i, _)| i).with_context(|| {
            format!(
                "{}: no {name:?} column (need score and label)",
                path.display()
            )
        })?;
        if at.next().is_some() {
            bail!("{}: the column {name:?} appears twice", path.display());
        }
        Ok(first)
    };
    let (si, li) = (col("score")?, col("label")?);
    let (mut scores, mut labels) = (Vec::new(), Vec::new());
    for (n, rec) in reader.records().enumerate() {
        let rec = rec.with_context(|| format!("{}: line {}: bad CSV", path.display(), n + 2))?;
        let s: f32 = rec[si].trim().parse().map_err(|_| {
            anyhow::anyhow!(
                "{}: line {}: score {} is not a number",
                path.display(),
                n + 2,
                crate::data::quoted_head(&rec[si])
            )
        })?;
        if !s.is_finite() {
            bail!(
                "{}: line {}: score {} is not finite",
                path.display(),
                n + 2,
                crate::data::quoted_head(&rec[si])
            );
        }
        let l = crate::data::binary_label(&rec[li])
            .with_context(|| format!("{}: line {}", path.display(), n + 2))?;
        scores.push(s);
        labels.push(l);
    }
    Ok((scores, labels))
}
