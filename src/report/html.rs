//! `report.html`: one self-contained page per evaluation (or comparing several) — health
//! checks at the top, metrics with their definitions, ROC, precision–recall and score
//! histograms, scores by class, training curves, localisation pictures, conformal false-alarm
//! rates, the data split and the whole configuration. Charts are inline SVG and pictures inline
//! PNG: the file opens anywhere, offline, and can be forwarded as it is.

use super::health::{self, Check};
use super::ood::OodRunReport;
use super::plots;
use super::text::{anchor, escape, number};
use crate::run::{Checkpoint, Run};
use anyhow::Context;
use base64::Engine;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

/// One evaluated run, as its folders hold it.
#[derive(Clone, Debug)]
pub struct RunReport {
    /// The run's name (its folder's).
    pub name: String,
    /// The run.
    pub run: Run,
    /// `metrics.json` of the evaluation.
    pub metrics: serde_json::Value,
    /// Test scores, labels and class names, from `scores.csv`.
    pub scores: Vec<f32>,
    /// 1 anomaly, 0 normal.
    pub labels: Vec<u8>,
    /// Each test sample's class in its data set (empty where unknown).
    pub classes: Vec<String>,
    /// The evaluation's localisation pictures (`maps/*.png`), by name.
    pub pictures: Vec<(String, Vec<u8>)>,
    /// Samples per role of `split.csv` (train, valid, test, labelled): (normals, anomalies).
    pub split: BTreeMap<String, (usize, usize)>,
    /// The health checks.
    pub health: Vec<Check>,
}

impl RunReport {
    /// Read the evaluation in `eval_dir` of `run` (its `metrics.json`, `scores.csv`, `maps/`)
    /// and the run's `split.csv`, and check the run's health.
    pub fn load(run: &Run, eval_dir: &Path) -> crate::Result<RunReport> {
        let metrics_file = eval_dir.join("metrics.json");
        let metrics: serde_json::Value = crate::io::read_json(&metrics_file)?;
        let (scores, labels, classes) = read_scores(&eval_dir.join("scores.csv"))?;
        let pictures = read_pictures(&eval_dir.join("maps"))?;
        let split = match &run.dir {
            Some(dir) => read_split(&dir.join("split.csv"))?,
            None => BTreeMap::new(),
        };
        let checkpoint = match metrics["checkpoint"].as_str() {
            Some("last") => Checkpoint::Last,
            _ => Checkpoint::Best,
        };
        let mut threshold = run.thresholds.of(checkpoint);
        if let Some(t) = metrics["threshold"].as_f64() {
            threshold.value = t;
        }
        let health = health::checks(&health::Evidence {
            scores: &scores,
            labels: &labels,
            auroc: metrics["auroc"].as_f64().unwrap_or(f64::NAN),
            log: &run.log,
            threshold,
            validation_scores: run.calibration.as_ref().map(|c| c.of(checkpoint)),
        });
        let name = (run.dir.as_deref())
            .and_then(Path::file_name)
            .map_or("run".into(), |n| n.to_string_lossy().into_owned());
        Ok(RunReport {
            name,
            run: run.clone(),
            metrics,
            scores,
            labels,
            classes,
            pictures,
            split,
            health,
        })
    }

    /// Whether every health check passed.
    pub fn healthy(&self) -> bool {
        self.health.iter().all(|c| c.ok)
    }
}

/// `scores.csv`: scores, labels and (where written) class names.
fn read_scores(path: &Path) -> crate::Result<(Vec<f32>, Vec<u8>, Vec<String>)> {
    let (scores, labels) = super::read_scores_csv(path)?;
    let mut reader =
        csv::Reader::from_path(path).with_context(|| format!("cannot read {}", path.display()))?;
    let column = reader.headers()?.iter().position(|h| h == "class");
    let mut classes = Vec::new();
    if let Some(c) = column {
        for record in reader.records() {
            classes.push(record?.get(c).unwrap_or("").to_string());
        }
    }
    Ok((scores, labels, classes))
}

fn read_pictures(dir: &Path) -> crate::Result<Vec<(String, Vec<u8>)>> {
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut files: Vec<_> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "png"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let name = p
                .file_stem()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            Ok((name, std::fs::read(&p)?))
        })
        .collect()
}

fn read_split(path: &Path) -> crate::Result<BTreeMap<String, (usize, usize)>> {
    let mut counts = BTreeMap::new();
    if !path.is_file() {
        return Ok(counts);
    }
    let text = std::fs::read_to_string(path)?;
    for line in text.lines().skip(1) {
        let cells: Vec<&str> = line.split(',').collect();
        if let [role, _, _, label] = cells[..] {
            let entry: &mut (usize, usize) = counts.entry(role.to_string()).or_default();
            if label == "1" {
                entry.1 += 1;
            } else {
                entry.0 += 1;
            }
        }
    }
    Ok(counts)
}

/// Write `reports` as one HTML file at `path`.
pub fn write(path: &Path, reports: &[RunReport]) -> crate::Result<()> {
    write_with_ood(path, reports, &[])
}

/// Write the detectors' `reports` and the OOD runs' `ood` as one HTML file at `path`.
pub fn write_with_ood(
    path: &Path,
    reports: &[RunReport],
    ood: &[OodRunReport],
) -> crate::Result<()> {
    let html = render(reports, ood)?;
    crate::io::write_atomic(path, html.as_bytes())
}

/// The whole page: the detectors' runs (compared when several), then each OOD run.
pub fn render(reports: &[RunReport], ood: &[OodRunReport]) -> crate::Result<String> {
    anyhow::ensure!(
        !reports.is_empty() || !ood.is_empty(),
        "a report needs at least one run"
    );
    let mut page = String::new();
    let title = match (reports, ood) {
        ([one], []) => format!("oddity report: {}", one.name),
        ([], [one]) => format!("oddity report: {}", one.name),
        _ => format!("oddity report: {} runs", reports.len() + ood.len()),
    };
    writeln!(
        page,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><style>{STYLE}</style></head><body>\n<h1>{}</h1>\n\
         <p class=\"muted\">written by oddity {}</p>",
        escape(&title),
        escape(&title),
        env!("CARGO_PKG_VERSION")
    )?;
    if reports.len() > 1 {
        comparison(&mut page, reports)?;
    }
    for r in reports {
        run_section(&mut page, r, reports.len() + ood.len() > 1)?;
    }
    for r in ood {
        super::ood::section(&mut page, r)?;
    }
    page.push_str("</body></html>\n");
    Ok(page)
}

const STYLE: &str = "body{font:15px/1.5 system-ui,-apple-system,'Segoe UI',sans-serif;\
color:#1d2330;max-width:1200px;margin:0 auto;padding:24px;background:#fff}\
h1{font-size:26px}h2{border-bottom:2px solid #d9dde5;padding-bottom:4px;margin-top:40px}\
h3{margin-top:28px}table{border-collapse:collapse;margin:8px 0}\
td,th{border:1px solid #d9dde5;padding:4px 10px;text-align:left;vertical-align:top}\
th{background:#f3f5f8}td.num{text-align:right;font-variant-numeric:tabular-nums}\
.muted{color:#5b6475}.health{border-radius:8px;padding:10px 16px;margin:12px 0}\
.health.ok{background:#e8f6ee;border:1px solid #9fd6b4}\
.health.bad{background:#fdecea;border:1px solid #f1a9a0}\
.health li{margin:2px 0}.pass{color:#1e8449;font-weight:700}.fail{color:#c0392b;font-weight:700}\
.charts{display:flex;flex-wrap:wrap;gap:12px}.charts svg{width:370px;max-width:100%;height:auto}\
.small svg{width:270px}.pictures img{max-width:100%;image-rendering:pixelated;display:block}\
.pictures figure{margin:8px 0}figcaption{color:#5b6475;font-size:13px}\
pre{background:#f6f7f9;padding:12px;overflow:auto;font-size:12px}";

/// What each headline metric means, shown beside it.
const DEFINITIONS: &[(&str, &str, &str)] = &[
    (
        "auroc",
        "AUROC",
        "probability that a random anomaly scores above a random normal sample (0.5 = chance)",
    ),
    (
        "auprc",
        "AUPRC",
        "average precision: precision averaged over the recall levels of every threshold; chance = the anomaly share",
    ),
    (
        "threshold",
        "threshold",
        "score at or above which a sample is flagged, chosen without test data (on the normal validation scores; on the training scores for a kde rule)",
    ),
    (
        "precision",
        "precision",
        "share of flagged samples that are anomalies, at the threshold",
    ),
    (
        "recall",
        "recall",
        "share of anomalies flagged, at the threshold",
    ),
    (
        "f1",
        "F1",
        "harmonic mean of precision and recall, at the threshold",
    ),
    (
        "fpr_at_95_tpr",
        "FPR at 95 % TPR",
        "share of normals flagged by the threshold that flags 95 % of anomalies (lower is better)",
    ),
    (
        "best_f1",
        "best F1 (oracle)",
        "F1 at the threshold chosen on the test labels: for reference only, not attainable without them",
    ),
    (
        "pixel_auroc",
        "pixel AUROC",
        "AUROC over every pixel of every test image with a known mask",
    ),
    (
        "pixel_auprc",
        "pixel AUPRC",
        "average precision over pixels",
    ),
    (
        "aupro",
        "AUPRO",
        "per-region overlap integrated up to 30 % pixel false-positive rate, normalised (MVTec AD)",
    ),
    (
        "dice",
        "Dice",
        "2|P∩G|/(|P|+|G|) of the thresholded map P and the mask G over the test set",
    ),
    (
        "iou",
        "IoU",
        "|P∩G|/|P∪G| of the thresholded map and the mask",
    ),
    (
        "image_auroc_of_map_max",
        "image AUROC (map max)",
        "image AUROC when an image is scored by its map's maximum",
    ),
];

fn comparison(page: &mut String, reports: &[RunReport]) -> crate::Result<()> {
    page.push_str(
        "<h2>Comparison</h2><table><tr><th>run</th><th>model</th><th>data</th>\
         <th>protocol</th><th>AUROC</th><th>AUPRC</th><th>F1</th><th>FPR at 95 % TPR</th>\
         <th>pixel AUROC</th><th>AUPRO</th><th>health</th></tr>\n",
    );
    for r in reports {
        let m = &r.metrics;
        write!(
            page,
            "<tr><td><a href=\"#{}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td>",
            anchor(&r.name),
            escape(&r.name),
            escape(r.run.config.model.name()),
            escape(&r.run.config.dataset.kind.to_string()),
            escape(&r.run.config.protocol.to_string()),
        )?;
        for key in [
            "auroc",
            "auprc",
            "f1",
            "fpr_at_95_tpr",
            "pixel_auroc",
            "aupro",
        ] {
            write!(page, "<td class=\"num\">{}</td>", number(&m[key]))?;
        }
        let failed = r.health.iter().filter(|c| !c.ok).count();
        if failed == 0 {
            page.push_str("<td class=\"pass\">ok</td></tr>\n");
        } else {
            writeln!(page, "<td class=\"fail\">{failed} problem(s)</td></tr>")?;
        }
    }
    page.push_str("</table>\n");
    Ok(())
}

fn run_section(page: &mut String, r: &RunReport, heading: bool) -> crate::Result<()> {
    let m = &r.metrics;
    if heading {
        writeln!(
            page,
            "<h2 id=\"{}\">{}</h2>",
            anchor(&r.name),
            escape(&r.name)
        )?;
    }
    writeln!(
        page,
        "<p><b>{}</b> on {} <code>{}</code>, protocol {}, seed {}, checkpoint {} (epoch {} of \
         {}).</p>",
        escape(r.run.config.model.name()),
        escape(&r.run.config.dataset.kind.to_string()),
        escape(&r.run.config.dataset.path.display().to_string()),
        escape(&r.run.config.protocol.to_string()),
        r.run.config.train.seed,
        escape(m["checkpoint"].as_str().unwrap_or("?")),
        number(&m["checkpoint_epoch"]),
        r.run.log.epochs.len(),
    )?;
    health_box(page, &r.health)?;

    page.push_str("<h3>Metrics on the test split</h3><table><tr><th>metric</th><th>value</th><th>meaning</th></tr>\n");
    for (key, label, meaning) in DEFINITIONS {
        if m.get(*key).is_some_and(|v| !v.is_null()) {
            writeln!(
                page,
                "<tr><td>{label}</td><td class=\"num\">{}</td><td class=\"muted\">{meaning}</td></tr>",
                number(&m[*key])
            )?;
        }
    }
    writeln!(
        page,
        "</table><p class=\"muted\">{} test samples, {} anomalies; anomalies are the positive \
         class.</p>",
        number(&m["samples"]),
        number(&m["anomalies"])
    )?;

    let auroc = m["auroc"].as_f64().unwrap_or(f64::NAN);
    let both_classes = r.labels.contains(&0) && r.labels.contains(&1);
    page.push_str("<div class=\"charts\">");
    if both_classes {
        page.push_str(&plots::roc_svg(&r.scores, &r.labels, auroc)?);
        let auprc = m["auprc"].as_f64().unwrap_or(f64::NAN);
        page.push_str(&plots::pr_svg(&r.scores, &r.labels, auprc)?);
    }
    if !r.scores.is_empty() {
        let threshold = m["threshold"].as_f64().unwrap_or(f64::NAN);
        page.push_str(&plots::histogram_svg(&r.scores, &r.labels, threshold)?);
    }
    page.push_str("</div>\n");
    class_table(page, r)?;
    false_alarms(page, m)?;
    training_curves(page, r)?;
    localisation(page, r)?;
    split_table(page, r)?;
    let config = serde_json::to_string_pretty(&r.run.config)?;
    writeln!(
        page,
        "<h3>Configuration</h3><details><summary>run.json (everything needed to reproduce the \
         run)</summary><pre>{}</pre></details>",
        escape(&config)
    )?;
    Ok(())
}

fn health_box(page: &mut String, checks: &[Check]) -> crate::Result<()> {
    let ok = checks.iter().all(|c| c.ok);
    write!(
        page,
        "<div class=\"health {}\"><b>{}</b><ul>",
        if ok { "ok" } else { "bad" },
        if ok {
            "Health: every check passed."
        } else {
            "Health: read the problems below before trusting the metrics."
        }
    )?;
    for c in checks {
        write!(
            page,
            "<li><span class=\"{}\">{}</span> {}: {}</li>",
            if c.ok { "pass" } else { "fail" },
            if c.ok { "✓" } else { "✗" },
            c.name,
            escape(&c.detail)
        )?;
    }
    page.push_str("</ul></div>\n");
    Ok(())
}

/// Scores by class of the data set: how each class scores and how much of it is flagged.
fn class_table(page: &mut String, r: &RunReport) -> crate::Result<()> {
    if r.classes.len() != r.scores.len() || r.classes.iter().all(|c| c.is_empty()) {
        return Ok(());
    }
    let threshold = r.metrics["threshold"].as_f64().unwrap_or(f64::INFINITY);
    let mut by_class: BTreeMap<(u8, &str), Vec<f64>> = BTreeMap::new();
    for ((c, &s), &l) in r.classes.iter().zip(&r.scores).zip(&r.labels) {
        by_class.entry((l, c)).or_default().push(s as f64);
    }
    page.push_str(
        "<h3>Scores by class</h3><table><tr><th>class</th><th>as</th><th>samples</th>\
         <th>median score</th><th>mean score</th><th>flagged</th></tr>\n",
    );
    for ((label, class), scores) in &by_class {
        let median = crate::threshold::percentile_of(scores, 50.0);
        let mean = scores.iter().sum::<f64>() / scores.len() as f64;
        let flagged = scores.iter().filter(|&&s| s >= threshold).count();
        writeln!(
            page,
            "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{median:.6}</td>\
             <td class=\"num\">{mean:.6}</td><td class=\"num\">{:.1} %</td></tr>",
            escape(class),
            if *label == 1 { "anomaly" } else { "normal" },
            scores.len(),
            100.0 * flagged as f64 / scores.len() as f64
        )?;
    }
    page.push_str("</table>\n");
    Ok(())
}

fn false_alarms(page: &mut String, m: &serde_json::Value) -> crate::Result<()> {
    let Some(rates) = m["false_alarms"].as_array().filter(|r| !r.is_empty()) else {
        return Ok(());
    };
    page.push_str(
        "<h3>Conformal p-values</h3><p class=\"muted\">Each test sample's p-value against the \
         normal validation scores; flagging p ≤ α flags normal data at rate at most α (in \
         expectation). Realised on this run's test normals:</p><table><tr><th>α</th>\
         <th>expected</th><th>realised</th></tr>\n",
    );
    for r in rates {
        writeln!(
            page,
            "<tr><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            number(&r["alpha"]),
            number(&r["expected"]),
            number(&r["realised"])
        )?;
    }
    page.push_str("</table>\n");
    Ok(())
}

fn training_curves(page: &mut String, r: &RunReport) -> crate::Result<()> {
    let log = &r.run.log;
    if log.epochs.is_empty() {
        return Ok(());
    }
    // One value per epoch for every loss, at its epoch: the losses of a stage (f-AnoGAN's
    // encoder, Deep SVDD's pretraining) are gaps in the epochs of the others, as are epochs of
    // a stage without validation in the validation curve.
    let names: std::collections::BTreeSet<&String> =
        log.epochs.iter().flat_map(|e| e.losses.keys()).collect();
    let series: BTreeMap<&String, Vec<f64>> = (names.into_iter())
        .map(|name| {
            let values = (log.epochs.iter())
                .map(|e| e.losses.get(name).copied().unwrap_or(f64::NAN))
                .collect();
            (name, values)
        })
        .collect();
    let validation: Vec<f64> = (log.epochs.iter())
        .map(|e| e.validation_loss.unwrap_or(f64::NAN))
        .collect();
    page.push_str(
        "<h3>Training</h3><p class=\"muted\">Mean of each loss over the steps of an epoch that \
         compute it (a gap: an epoch of a stage without it), and the validation criterion the \
         best checkpoint is chosen by (orange: the best epoch).</p><div class=\"charts small\">",
    );
    page.push_str(&plots::curve_svg(
        "validation criterion",
        &validation,
        log.best_epoch,
    )?);
    for (name, values) in &series {
        page.push_str(&plots::curve_svg(name, values, log.best_epoch)?);
    }
    let seconds: f64 = log.epochs.iter().map(|e| e.train_seconds).sum();
    let speed = log.epochs.last().map_or(0.0, |e| e.samples_per_second);
    let steps = log
        .steps()
        .map_or(String::new(), |n| format!(" ({n} training steps)"));
    writeln!(
        page,
        "</div><p class=\"muted\">{} epochs{steps}, {seconds:.1} s spent in them, \
         {speed:.0} samples/s in the last epoch.</p>",
        log.epochs.len()
    )?;
    Ok(())
}

fn localisation(page: &mut String, r: &RunReport) -> crate::Result<()> {
    let m = &r.metrics;
    if let Some(defects) = m["per_defect"].as_array().filter(|d| !d.is_empty()) {
        page.push_str(
            "<h3>Localisation by defect type</h3><table><tr><th>defect</th><th>images</th>\
             <th>image AUROC</th><th>pixel AUROC</th><th>AUPRO</th></tr>\n",
        );
        for d in defects {
            writeln!(
                page,
                "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
                 <td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                escape(d["defect"].as_str().unwrap_or("?")),
                number(&d["images"]),
                number(&d["image_auroc"]),
                number(&d["pixel_auroc"]),
                number(&d["aupro"])
            )?;
        }
        page.push_str("</table>\n");
    }
    if r.pictures.is_empty() {
        return Ok(());
    }
    page.push_str(
        "<h3>Where the images are anomalous</h3><p class=\"muted\">Each picture: the image; the \
         ground-truth defect outlined in green; the anomaly map (blue cold, red hot; one scale \
         for all); the pixels at or above the pixel threshold (the 99th percentile of the \
         normal validation images' maps) in red.</p><div class=\"pictures\">",
    );
    for (name, png) in &r.pictures {
        write!(
            page,
            "<figure><img alt=\"{0}\" src=\"data:image/png;base64,{1}\"><figcaption>{0}</figcaption></figure>",
            escape(name),
            base64::engine::general_purpose::STANDARD.encode(png)
        )?;
    }
    page.push_str("</div>\n");
    Ok(())
}

fn split_table(page: &mut String, r: &RunReport) -> crate::Result<()> {
    if r.split.is_empty() {
        return Ok(());
    }
    page.push_str(
        "<h3>Data split</h3><table><tr><th>role</th><th>normals</th><th>anomalies</th></tr>\n",
    );
    for role in ["train", "valid", "labelled", "test"] {
        if let Some((normals, anomalies)) = r.split.get(role) {
            writeln!(
                page,
                "<tr><td>{role}</td><td class=\"num\">{normals}</td><td class=\"num\">{anomalies}</td></tr>"
            )?;
        }
    }
    page.push_str(
        "</table><p class=\"muted\">split.csv in the run folder lists every sample's role, so \
         that other tools can be run on exactly this split.</p>\n",
    );
    Ok(())
}
