//! The report's section of an OOD run (`oddity ood train`, evaluated by `oddity ood eval`):
//! the classifier and its test accuracy, every score's metrics against each evaluated set with
//! their ROC curves, the training curve, the settings chosen on in-distribution data, and the
//! configuration. It reads the run folder's files as they are written (`ood.json`,
//! `classifier.json`, `ood-eval/metrics.json`, `ood-eval/scores.csv`), as documents: the page
//! needs no trained network.

use super::plots;
use super::text::{anchor, escape, number};
use anyhow::{Context, ensure};
use std::fmt::Write as _;
use std::path::Path;

/// Whether `dir` holds an OOD run (`oddity ood train` writes its `ood.json`), rather than an
/// anomaly detector's run.
pub fn is_run_folder(dir: &Path) -> bool {
    dir.join(crate::run::folder::OOD_RUN_FILE).is_file()
}

/// One OOD run, as its folder holds it.
#[derive(Clone, Debug)]
pub struct OodRunReport {
    /// The run's name (its folder's).
    pub name: String,
    /// `ood.json`: how it was trained.
    pub config: serde_json::Value,
    /// `classifier.json`: what training found.
    pub classifier: serde_json::Value,
    /// `ood-eval/`, when the run has been evaluated.
    pub evaluation: Option<OodEvaluation>,
}

/// What `oddity ood eval` wrote.
#[derive(Clone, Debug)]
pub struct OodEvaluation {
    /// `metrics.json`.
    pub metrics: serde_json::Value,
    /// The score names, in `scores.csv`'s column order.
    pub score_names: Vec<String>,
    /// Every score of the in-distribution test images, one column per score.
    pub in_scores: Vec<Vec<f32>>,
    /// Each evaluated set's name and its scores, one column per score, in order of appearance.
    pub sets: Vec<(String, Vec<Vec<f32>>)>,
}

impl OodRunReport {
    /// Read the OOD run in `dir`, and its evaluation when `ood-eval/metrics.json` exists.
    pub fn load(dir: &Path) -> crate::Result<Self> {
        Self::load_from(dir, &dir.join("ood-eval"))
    }

    /// Read the OOD run in `dir`, and the evaluation in `eval` when it has a `metrics.json`
    /// (`oddity ood eval` draws the page of one it has just written, before it replaces
    /// `ood-eval/`).
    pub fn load_from(dir: &Path, eval: &Path) -> crate::Result<Self> {
        let config = crate::io::read_json(&dir.join("ood.json"))?;
        let classifier = crate::io::read_json(&dir.join("classifier.json"))?;
        let evaluation = match eval.join("metrics.json").is_file() {
            true => Some(OodEvaluation::load(eval)?),
            false => None,
        };
        let name = (dir.canonicalize().ok())
            .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "run".into());
        Ok(OodRunReport {
            name,
            config,
            classifier,
            evaluation,
        })
    }
}

impl OodEvaluation {
    /// Read `metrics.json` and `scores.csv` (`set,index,distribution,<score>…`) in `dir`: the
    /// in-distribution rows, then each set's rows in the order and number `metrics.json` lists
    /// them (two sets may share a name: two folders both called `test`).
    fn load(dir: &Path) -> crate::Result<Self> {
        let metrics: serde_json::Value = crate::io::read_json(&dir.join("metrics.json"))?;
        let path = dir.join("scores.csv");
        let mut reader = csv::Reader::from_path(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let header: Vec<String> = reader.headers()?.iter().map(str::to_string).collect();
        ensure!(
            header.len() > 3 && header[..3] == ["set", "index", "distribution"],
            "{}: not an `oddity ood eval` table (its header is {header:?})",
            path.display()
        );
        let score_names = header[3..].to_vec();
        let columns = |rows: &[csv::StringRecord]| -> Vec<Vec<f32>> {
            (3..header.len())
                .map(|c| {
                    // An unreadable cell is a score the image has not: left out of charts.
                    (rows.iter())
                        .map(|r| r[c].trim().parse().unwrap_or(f32::NAN))
                        .collect()
                })
                .collect()
        };
        let mut inside = Vec::new();
        let mut outside = Vec::new();
        for record in reader.records() {
            let record = record.with_context(|| format!("{}: bad CSV", path.display()))?;
            match &record[2] {
                "in" => inside.push(record),
                _ => outside.push(record),
            }
        }
        let mut sets = Vec::new();
        let mut rows = outside.as_slice();
        for set in metrics["sets"].as_array().into_iter().flatten() {
            let name = set["name"].as_str().unwrap_or("?");
            let count = (set["scores"][0][1]["out_samples"].as_u64()).unwrap_or(0) as usize;
            ensure!(
                count <= rows.len() && rows[..count].iter().all(|r| &r[0] == name),
                "{}: the rows of set {name:?} do not follow metrics.json's ({count} of them)",
                path.display()
            );
            sets.push((name.to_string(), columns(&rows[..count])));
            rows = &rows[count..];
        }
        Ok(OodEvaluation {
            metrics,
            score_names,
            in_scores: columns(&inside),
            sets,
        })
    }
}

/// The section of one OOD run.
pub(super) fn section(page: &mut String, r: &OodRunReport) -> crate::Result<()> {
    let (c, t) = (&r.classifier, &r.config);
    let network = match t["classifier"]["architecture"].as_str() {
        Some("wrn") => format!(
            "WRN-{}-{}",
            number(&t["classifier"]["depth"]),
            number(&t["classifier"]["widen"])
        ),
        _ => "LeNet".to_string(),
    };
    let classes: Vec<&str> = (c["class_names"].as_array().into_iter().flatten())
        .filter_map(|v| v.as_str())
        .collect();
    writeln!(
        page,
        "<h2 id=\"ood-{}\">{} — out-of-distribution classifier</h2>\n<p><b>{network}</b> on {} \
         <code>{}</code>, {} classes ({}), seed {}: <b>test accuracy {}</b>. Trained on {} \
         images ({} held out for validation), {} epochs in {:.0} s.</p>",
        anchor(&r.name),
        escape(&r.name),
        escape(t["data"]["data"]["kind"].as_str().unwrap_or("?")),
        escape(t["data"]["data"]["path"].as_str().unwrap_or("?")),
        classes.len(),
        escape(&classes.join(", ")),
        number(&t["seed"]),
        number(&c["test_accuracy"]),
        number(&c["sizes"][0]),
        number(&c["sizes"][1]),
        c["epochs"].as_array().map_or(0, Vec::len),
        c["training_seconds"].as_f64().unwrap_or(f64::NAN),
    )?;
    match &r.evaluation {
        Some(e) => evaluation(page, e)?,
        None => writeln!(
            page,
            "<p class=\"muted\">Not evaluated yet: <code>oddity ood eval RUN --against \
             KIND:PATH</code> (or <code>uniform</code>, <code>gaussian</code>) writes the \
             metrics this section shows.</p>"
        )?,
    }
    training(page, c)?;
    selection(page, c)?;
    writeln!(
        page,
        "<h3>Configuration</h3><details><summary>ood.json (everything needed to reproduce the \
         run)</summary><pre>{}</pre></details>",
        escape(&serde_json::to_string_pretty(t)?)
    )?;
    Ok(())
}

/// Headline metrics of each score against an OOD set, with what they mean.
const OOD_METRICS: &[(&str, &str)] = &[
    ("auroc", "AUROC"),
    ("aupr_in", "AUPR-in"),
    ("aupr_out", "AUPR-out"),
    ("fpr_at_95_tpr", "FPR at 95 % TPR"),
    ("detection_error", "detection error"),
];

fn evaluation(page: &mut String, e: &OodEvaluation) -> crate::Result<()> {
    let m = &e.metrics;
    writeln!(
        page,
        "<h3>Scores against each set</h3><p class=\"muted\">In-distribution images are the \
         positive class, as the OOD papers report: AUROC is the probability that a random \
         in-distribution test image scores above a random image of the set; FPR at 95 % TPR the \
         share of the set accepted when 95 % of in-distribution images are. {} in-distribution \
         test images; ODIN T = {}, ε = {}; Mahalanobis ε = {}{}. Bold: the best AUROC against \
         the set.</p>",
        number(&m["in_samples"]),
        setting(&m["settings"]["odin_temperature"]),
        setting(&m["settings"]["odin_epsilon"]),
        setting(&m["settings"]["mahalanobis_epsilon"]),
        if m["oracle"].as_bool() == Some(true) {
            "; rows marked oracle are tuned on the OOD set itself, as the papers did (not a \
             deployable number)"
        } else {
            ""
        },
    )?;
    let sets: Vec<(&str, Vec<(&str, &serde_json::Value)>)> = (m["sets"].as_array())
        .into_iter()
        .flatten()
        .map(|set| {
            // The oracle rows are among the scores, named `…-oracle`.
            let rows = (set["scores"].as_array().into_iter().flatten())
                .filter_map(|pair| Some((pair[0].as_str()?, &pair[1])))
                .collect::<Vec<_>>();
            (set["name"].as_str().unwrap_or("?"), rows)
        })
        .collect();
    // The summary: a row per score, AUROC and FPR at 95 % TPR against each set; the best
    // AUROC of the deployable scores (not the oracle rows) in bold.
    page.push_str("<table><tr><th>score</th>");
    for (set, _) in &sets {
        write!(page, "<th>{} AUROC</th><th>FPR@95</th>", escape(set))?;
    }
    page.push_str("</tr>\n");
    let best: Vec<f64> = (sets.iter())
        .map(|(_, rows)| {
            (rows.iter())
                .filter(|(score, _)| !score.ends_with("-oracle"))
                .filter_map(|(_, metrics)| metrics["auroc"].as_f64())
                .fold(f64::NEG_INFINITY, f64::max)
        })
        .collect();
    let scores: Vec<&str> = sets.first().map_or(Vec::new(), |(_, rows)| {
        rows.iter().map(|(score, _)| *score).collect()
    });
    for score in scores {
        write!(page, "<tr><td>{}</td>", escape(score))?;
        for ((_, rows), best) in sets.iter().zip(&best) {
            let metrics = (rows.iter())
                .find(|(name, _)| *name == score)
                .map_or(&serde_json::Value::Null, |(_, m)| *m);
            let auroc = number(&metrics["auroc"]);
            let bold = !score.ends_with("-oracle") && metrics["auroc"].as_f64() == Some(*best);
            match bold {
                true => write!(page, "<td class=\"num\"><b>{auroc}</b></td>")?,
                false => write!(page, "<td class=\"num\">{auroc}</td>")?,
            }
            write!(
                page,
                "<td class=\"num\">{}</td>",
                number(&metrics["fpr_at_95_tpr"])
            )?;
        }
        page.push_str("</tr>\n");
    }
    page.push_str(
        "</table><details><summary>every metric of every score against every set</summary>\
         <table><tr><th>set</th><th>score</th>",
    );
    for (_, label) in OOD_METRICS {
        write!(page, "<th>{label}</th>")?;
    }
    page.push_str("<th>OOD images</th></tr>\n");
    for (set, rows) in &sets {
        for (score, metrics) in rows {
            write!(
                page,
                "<tr><td>{}</td><td>{}</td>",
                escape(set),
                escape(score)
            )?;
            for (key, _) in OOD_METRICS {
                write!(page, "<td class=\"num\">{}</td>", number(&metrics[*key]))?;
            }
            writeln!(
                page,
                "<td class=\"num\">{}</td></tr>",
                number(&metrics["out_samples"])
            )?;
        }
    }
    page.push_str("</table></details>\n");
    page.push_str("<div class=\"charts\">");
    for (set, columns) in &e.sets {
        let n_in = e.in_scores.first().map_or(0, Vec::len);
        let n_out = columns.first().map_or(0, Vec::len);
        let labels: Vec<u8> = std::iter::repeat_n(1, n_in)
            .chain(std::iter::repeat_n(0, n_out))
            .collect();
        let curves: Vec<(String, Vec<f32>)> = (e.score_names.iter())
            .zip(e.in_scores.iter().zip(columns))
            .filter(|(_, (a, b))| a.iter().chain(b.iter()).all(|s| s.is_finite()))
            .map(|(name, (a, b))| (name.clone(), a.iter().chain(b).copied().collect()))
            .collect();
        if n_in > 0 && n_out > 0 && !curves.is_empty() {
            let caption = format!("ROC against {set} (in-distribution positive)");
            page.push_str(&plots::roc_comparison_svg(&caption, &curves, &labels)?);
        }
    }
    page.push_str("</div>\n");
    Ok(())
}

fn training(page: &mut String, c: &serde_json::Value) -> crate::Result<()> {
    let epochs = c["epochs"].as_array().map_or(&[][..], Vec::as_slice);
    if epochs.is_empty() {
        return Ok(());
    }
    let series = |key: &str| -> Vec<f64> {
        (epochs.iter())
            .map(|e| e[key].as_f64().unwrap_or(f64::NAN))
            .collect()
    };
    page.push_str(
        "<h3>Training</h3><p class=\"muted\">Mean cross-entropy of each epoch's steps, and the \
         accuracy on the validation images after it.</p><div class=\"charts small\">",
    );
    page.push_str(&plots::curve_svg("loss", &series("loss"), epochs.len())?);
    page.push_str(&plots::curve_svg(
        "validation accuracy",
        &series("validation_accuracy"),
        epochs.len(),
    )?);
    page.push_str("</div>\n");
    Ok(())
}

/// ODIN's ε and the Mahalanobis input step, each chosen on in-distribution data only: the
/// choice, and every candidate's criterion folded away.
fn selection(page: &mut String, c: &serde_json::Value) -> crate::Result<()> {
    page.push_str(
        "<h3>Settings chosen on in-distribution data</h3><table><tr><th>setting</th>\
         <th>chosen ε</th><th>criterion (largest wins)</th><th>every candidate</th></tr>\n",
    );
    for (key, chosen, label, criterion) in [
        (
            "odin_selection",
            "odin_epsilon",
            "ODIN input step",
            "mean tempered top probability of the perturbed validation images",
        ),
        (
            "mahalanobis_selection",
            "mahalanobis_epsilon",
            "Mahalanobis input step",
            "AUROC of validation against adversarial (FGSM) validation images",
        ),
    ] {
        let grid = c[key].as_array().map_or(&[][..], Vec::as_slice);
        let at_chosen = (grid.iter())
            .find(|pair| pair[0].as_f64() == c[chosen].as_f64())
            .and_then(|pair| pair[1].as_f64());
        let candidates: Vec<String> = (grid.iter())
            .map(|pair| {
                format!(
                    "ε {}: {:.6}",
                    setting(&pair[0]),
                    pair[1].as_f64().unwrap_or(f64::NAN)
                )
            })
            .collect();
        writeln!(
            page,
            "<tr><td>{label}</td><td class=\"num\">{}</td><td>{} <span class=\"muted\">\
             {criterion}</span></td><td><details><summary>{} candidates</summary>{}</details>\
             </td></tr>",
            setting(&c[chosen]),
            at_chosen.map_or("–".to_string(), |v| format!("{v:.6}")),
            grid.len(),
            escape(&candidates.join("; ")),
        )?;
    }
    page.push_str("</table>\n");
    Ok(())
}

/// A setting as it was given: an integral value without decimals, others as written.
fn setting(v: &serde_json::Value) -> String {
    match v.as_f64() {
        Some(x) if x.fract() == 0.0 && x.abs() < 1e15 => format!("{x:.0}"),
        Some(x) => format!("{x}"),
        None => "–".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The best AUROC of a set is bolded among the deployable scores only: an oracle row (tuned
    /// on the set itself) above them is shown, named, and not bold; names are escaped.
    #[test]
    fn oracle_rows_are_not_the_best() {
        let metrics = |auroc: f64| serde_json::json!({"auroc": auroc, "fpr_at_95_tpr": 0.5});
        let report = OodRunReport {
            name: "run".into(),
            config: serde_json::json!({"classifier": {"architecture": "lenet"}}),
            classifier: serde_json::json!({"class_names": ["a", "b"], "test_accuracy": 0.9}),
            evaluation: Some(OodEvaluation {
                metrics: serde_json::json!({
                    "oracle": true,
                    "sets": [{"name": "<set>", "scores": [
                        ["msp", metrics(0.8)], ["odin", metrics(0.7)], ["odin-oracle", metrics(0.9)],
                    ]}],
                }),
                score_names: Vec::new(),
                in_scores: Vec::new(),
                sets: Vec::new(),
            }),
        };
        let mut page = String::new();
        section(&mut page, &report).unwrap();
        assert!(page.contains("<tr><td>msp</td><td class=\"num\"><b>0.8000</b></td>"));
        assert!(page.contains("<tr><td>odin-oracle</td><td class=\"num\">0.9000</td>"));
        assert!(page.contains("&lt;set&gt; AUROC") && !page.contains("<set>"));
        assert!(page.contains("rows marked oracle"));
    }
}
