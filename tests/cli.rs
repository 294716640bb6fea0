//! The `oddity` binary end to end: every job exists, bad input gives a clear error naming the
//! file (exit code 1, no panic), and train → eval → score → metrics works on a shipped fixture.

mod common;

use common::*;
use oddity::data::protocol::Protocol;
use oddity::data::source::DatasetKind;
use oddity::models::ModelConfig;
use oddity::run::RunConfig;
use std::path::{Path, PathBuf};

#[test]
fn help_explains_every_job() {
    let o = oddity(&["--help"]);
    let text = stdout(&o);
    for job in [
        "demo", "models", "train", "eval", "score", "metrics", "serve", "report", "ood",
    ] {
        assert!(text.contains(job), "{job} missing from --help");
        let sub = oddity(&[job, "--help"]);
        assert!(sub.status.success() && !stdout(&sub).is_empty());
    }
    for job in ["train", "eval", "score"] {
        let sub = oddity(&["ood", job, "--help"]);
        assert!(
            sub.status.success() && !stdout(&sub).is_empty(),
            "ood {job} --help"
        );
    }
    // `ood train` shows the data options that apply to a labelled image set, not the tables'
    // and scenes'.
    let ood_train = stdout(&oddity(&["ood", "train", "--help"]));
    assert!(ood_train.contains("--decode-size"), "{ood_train}");
    for option in [
        "--label-column",
        "--mask-dir",
        "--cube-var",
        "--train-scene",
    ] {
        assert!(!ood_train.contains(option), "{option} in: {ood_train}");
    }
    let models = stdout(&oddity(&["models"]));
    assert!(
        models.contains("ganomaly")
            && models.contains("ACCV 2018")
            && models.contains("autoencoder")
    );
}

#[test]
fn bad_inputs_are_named_errors() {
    let dir = temp_dir("cli-bad");
    let out = dir.join("run");
    // A truncated IDX file.
    let mnist = dir.join("mnist");
    std::fs::create_dir_all(&mnist).unwrap();
    for f in [
        "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz",
    ] {
        std::fs::copy(fixture(&format!("mnist/{f}")), mnist.join(f)).unwrap();
    }
    let images = oddity::io::read_maybe_gz(&fixture("mnist/train-images-idx3-ubyte.gz")).unwrap();
    let images_path = mnist.join("train-images-idx3-ubyte");
    std::fs::write(&images_path, &images[..images.len() / 2]).unwrap();
    let train_mnist =
        |class| train_cmd("ganomaly", "mnist", &mnist, "one-class", Some(class), &out);
    assert_clean_error(&train_mnist("1"), &["train-images-idx3-ubyte", "truncated"]);
    // Wrong magic.
    let mut bad = images.clone();
    bad[0] = 9;
    std::fs::write(&images_path, &bad).unwrap();
    assert_clean_error(
        &train_mnist("1"),
        &["train-images-idx3-ubyte", "wrong magic"],
    );
    // Unknown class.
    std::fs::write(&images_path, &images).unwrap();
    assert_clean_error(&train_mnist("cat"), &["unknown class \"cat\""]);
    // NaN in a CSV; an empty normal class.
    let csv = dir.join("t.csv");
    let train_csv = || train_cmd("autoencoder", "csv", &csv, "tabular", None, &out);
    std::fs::write(&csv, "a,b,label\n1,2,0\n3,nan,1\n").unwrap();
    assert_clean_error(&train_csv(), &["t.csv", "line 3", "not finite"]);
    std::fs::write(&csv, "a,b,label\n1,2,0\n3,4,1\n5,6,1\n").unwrap();
    assert_clean_error(&train_csv(), &["t.csv", "normal class is empty"]);
    // A missing file, an image model on a table, a run folder that is not one.
    let missing = Path::new("/nonexistent.npz");
    let o = train_cmd("autoencoder", "adbench", missing, "tabular", None, &out);
    assert_clean_error(&o, &["/nonexistent.npz", "no such file"]);
    let o = train_cmd(
        "ganomaly",
        "adbench",
        &fixture("adbench/42_WBC.npz"),
        "tabular",
        None,
        &out,
    );
    assert_clean_error(&o, &["ganomaly takes images", "adbench data are tables"]);
    // Refused from the data set's kind, before the file is looked for.
    let o = train_cmd("lrx", "adbench", missing, "tabular", None, &out);
    assert_clean_error(
        &o,
        &["lrx takes hyperspectral scenes", "adbench data are tables"],
    );
    let o = train_cmd("goad", "mnist", missing, "one-class", Some("1"), &out);
    let needles = [
        r#"goad with preset "thyroid" takes tables or hyperspectral"#,
        "preset cifar10",
    ];
    assert_clean_error(&o, &needles);
    assert_clean_error(
        &oddity(&["eval", dir.to_str().unwrap()]),
        &["not a run folder"],
    );
    // `ood score`: an unknown image set, then a user's file where the table would go.
    let table = dir.join("mine.csv");
    std::fs::write(&table, "my notes\n").unwrap();
    let ood_score = |images: &str| {
        oddity(&[
            "ood",
            "score",
            dir.to_str().unwrap(),
            "--images",
            images,
            "--output",
            table.to_str().unwrap(),
        ])
    };
    assert_clean_error(&ood_score("pictures"), &["--images \"pictures\""]);
    assert_clean_error(&ood_score("uniform"), &["mine.csv"]);
    assert_eq!(read(&table), "my notes\n", "the user's file is kept");
    // Scores CSV with a bad label.
    let scores = dir.join("s.csv");
    std::fs::write(&scores, "score,label\n0.5,1\n0.2,normal\n").unwrap();
    let o = oddity(&["metrics", "--scores", scores.to_str().unwrap()]);
    assert_clean_error(&o, &["s.csv", "line 3", "label"]);
    assert!(
        !out.join("run.json").exists(),
        "no run may be written by a failed training"
    );
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap()
}

#[test]
fn train_eval_score_metrics_end_to_end() {
    let dir = temp_dir("cli-e2e");
    let run = dir.join("run");
    let data = fixture("adbench/4_breastw.npz");
    let d = data.to_str().unwrap();
    let o = oddity(&[
        "train",
        "--model",
        "autoencoder",
        "--dataset",
        "adbench",
        "--data",
        d,
        "--protocol",
        "tabular",
        "--epochs",
        "20",
        "--seed",
        "3",
        "--out",
        run.to_str().unwrap(),
        "--quiet",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    for f in [
        "run.json",
        "preprocess.json",
        "thresholds.json",
        "train-log.json",
        "weights-best.safetensors",
        "weights-last.safetensors",
        "split.csv",
        "calibration.json",
    ] {
        assert!(run.join(f).is_file(), "{f} missing");
    }
    let o = oddity(&["eval", run.to_str().unwrap(), "--checkpoint", "last"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("AUROC"));
    let eval = run.join("eval-last");
    let metrics: serde_json::Value =
        serde_json::from_str(&read(&eval.join("metrics.json"))).unwrap();
    for key in [
        "auroc",
        "auprc",
        "f1",
        "precision",
        "recall",
        "fpr_at_95_tpr",
        "threshold",
        "protocol",
        "model",
        "seed",
        "epochs",
    ] {
        assert!(metrics.get(key).is_some(), "metrics.json lacks {key}");
    }
    assert!(metrics["auroc"].as_f64().unwrap() > 0.9);
    assert_eq!(metrics["seed"], 3);
    for f in ["roc.png", "scores.png"] {
        let bytes = std::fs::read(eval.join(f)).unwrap();
        assert!(bytes.starts_with(b"\x89PNG"), "{f} is not a PNG");
    }
    let scores = read(&eval.join("scores.csv"));
    assert!(scores.starts_with("index,score,label,p_value,class\n"));
    // eval's report.html: healthy, every section, nothing fetched from outside.
    let html = read(&eval.join("report.html"));
    for needle in [
        "<title>oddity report: run</title>",
        "Health: every check passed.",
        "<td>AUROC</td>",
        "ROC (AUROC",
        "precision–recall",
        "Scores by class",
        "Conformal p-values",
        "validation criterion",
        "Data split",
        "run.json",
    ] {
        assert!(html.contains(needle), "report.html lacks {needle}");
    }
    for outside in ["src=\"http", "href=\"http", "url(http", "<script", "<link"] {
        assert!(!html.contains(outside), "report.html fetches: {outside}");
    }
    // The test normals' conformal false-alarm rates, reported beside their expectation.
    let rates = metrics["false_alarms"].as_array().unwrap();
    assert_eq!(rates.len(), 2, "{rates:?}"); // ~90 validation normals cannot reach α = 0.01
    for r in rates {
        let (alpha, realised) = (
            r["alpha"].as_f64().unwrap(),
            r["realised"].as_f64().unwrap(),
        );
        assert!(r["expected"].as_f64().unwrap() <= alpha);
        assert!((0.0..=3.0 * alpha).contains(&realised), "{r}");
    }
    // split.csv places every row of the table once, and its test rows are those eval scored.
    let split = read(&run.join("split.csv"));
    assert!(split.starts_with("role,split,index,label\n"));
    assert_eq!(split.lines().count(), 683 + 1);
    let test_rows = split.lines().filter(|l| l.starts_with("test,")).count();
    assert_eq!(test_rows, scores.lines().count() - 1);
    // `metrics` on eval's scores.csv reproduces eval's AUROC.
    let o = oddity(&[
        "metrics",
        "--scores",
        eval.join("scores.csv").to_str().unwrap(),
        "--json",
        dir.join("m.json").to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let m: serde_json::Value = serde_json::from_str(&read(&dir.join("m.json"))).unwrap();
    assert!((m["auroc"].as_f64().unwrap() - metrics["auroc"].as_f64().unwrap()).abs() < 1e-9);
    // `report` of two runs: a comparison table, each run's section; it replaces only a report.
    let twin = dir.join("twin");
    let breastw = fixture("adbench/4_breastw.npz");
    let tabular = ("tabular", None);
    train_ok(
        "autoencoder",
        ("adbench", &breastw),
        tabular,
        3,
        &twin,
        &["--seed", "4"],
    );
    let page = dir.join("both.html");
    let report = |checkpoint: &str| {
        oddity(&[
            "report",
            run.to_str().unwrap(),
            twin.to_str().unwrap(),
            "--checkpoint",
            checkpoint,
            "--out",
            page.to_str().unwrap(),
        ])
    };
    // Every run loads before any is evaluated: a bad folder named last leaves the others as
    // they were.
    let missing = dir.join("missing");
    let o = oddity(&[
        "report",
        twin.to_str().unwrap(),
        missing.to_str().unwrap(),
        "--checkpoint",
        "last",
        "--out",
        page.to_str().unwrap(),
    ]);
    assert_clean_error(&o, &["missing"]);
    assert!(
        !twin.join("eval-last").exists(),
        "twin evaluated before the error"
    );
    // So must every run's weights and data: a run whose data set was moved, or whose weights
    // were damaged, named last, is refused before the first run is evaluated.
    let copy_of_twin = |name: &str| {
        let copy = dir.join(name);
        std::fs::create_dir_all(&copy).unwrap();
        for entry in std::fs::read_dir(&twin).unwrap() {
            let path = entry.unwrap().path();
            std::fs::copy(&path, copy.join(path.file_name().unwrap())).unwrap();
        }
        copy
    };
    let moved = copy_of_twin("moved");
    let mut settings: serde_json::Value =
        serde_json::from_str(&read(&moved.join("run.json"))).unwrap();
    settings["dataset"]["path"] = dir.join("relocated.npz").to_str().unwrap().into();
    std::fs::write(moved.join("run.json"), settings.to_string()).unwrap();
    let damaged = copy_of_twin("damaged");
    let weights = damaged.join("weights-last.safetensors");
    let mut bytes = std::fs::read(&weights).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&weights, bytes).unwrap();
    for (second, needles) in [
        (
            &moved,
            &[
                "moved",
                "cannot be evaluated",
                "relocated.npz",
                "no such file",
            ][..],
        ),
        (&damaged, &["damaged", "cannot be evaluated", "SHA-256"][..]),
    ] {
        let o = oddity(&[
            "report",
            twin.to_str().unwrap(),
            second.to_str().unwrap(),
            "--checkpoint",
            "last",
            "--out",
            page.to_str().unwrap(),
        ]);
        assert_clean_error(&o, needles);
        assert!(
            !twin.join("eval-last").exists(),
            "twin evaluated before the error"
        );
    }
    let o = report("last");
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("run: healthy"), "{}", stdout(&o));
    assert!(
        twin.join("eval-last/metrics.json").is_file(),
        "twin evaluated for the report"
    );
    let html = read(&page);
    assert!(html.contains("<h2>Comparison</h2>") && html.contains("<h2 id=\"twin\">twin</h2>"));
    assert!(report("best").status.success(), "a report is replaced");
    std::fs::write(&page, "my notes").unwrap();
    assert_clean_error(&report("best"), &["both.html", "oddity did not write"]);
    assert_eq!(read(&page), "my notes");
    // `score` on the whole table, then metrics on its CSV.
    let csv = dir.join("all.csv");
    let o = oddity(&[
        "score",
        run.to_str().unwrap(),
        "--dataset",
        "adbench",
        "--data",
        d,
        "--checkpoint",
        "last",
        "--output",
        csv.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = read(&csv);
    assert!(text.starts_with("index,split,split_index,score,label,flagged,p_value\n"));
    assert_eq!(text.lines().count(), 683 + 1);
    // With a false-alarm rate: a sample is flagged exactly when its p-value, recomputed here
    // from calibration.json, is at most the rate.
    let calibration: serde_json::Value =
        serde_json::from_str(&read(&run.join("calibration.json"))).unwrap();
    let calibration: Vec<f32> = calibration["last"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap() as f32)
        .collect();
    let conformal = dir.join("conformal.csv");
    let score_at = |rate: &str| {
        oddity(&[
            "score",
            run.to_str().unwrap(),
            "--dataset",
            "adbench",
            "--data",
            d,
            "--checkpoint",
            "last",
            "--false-alarm-rate",
            rate,
            "--output",
            conformal.to_str().unwrap(),
        ])
    };
    let o = score_at("0.05");
    assert!(o.status.success(), "{}", stderr(&o));
    let mut flagged = 0;
    for line in read(&conformal).lines().skip(1) {
        let cells: Vec<&str> = line.split(',').collect();
        let score: f32 = cells[3].parse().unwrap();
        let p: f64 = cells[6].parse().unwrap();
        let at_least = calibration.iter().filter(|&&c| c >= score).count();
        let expected = (1 + at_least) as f64 / (calibration.len() + 1) as f64;
        assert!((p - expected).abs() < 1e-12, "{line}: p {p} vs {expected}");
        assert_eq!(cells[5] == "1", p <= 0.05 + 1e-12, "{line}");
        flagged += (cells[5] == "1") as usize;
    }
    assert!(flagged > 0);
    // Images for a run trained on a table: refused from the data set's kind.
    let mnist = fixture("mnist");
    let o = oddity(&[
        "score",
        run.to_str().unwrap(),
        "--dataset",
        "mnist",
        "--data",
        mnist.to_str().unwrap(),
        "--output",
        dir.join("images.csv").to_str().unwrap(),
    ]);
    assert!(!dir.join("images.csv").exists());
    let needle =
        "this run's autoencoder was trained on tables (adbench), and mnist data are images";
    assert_clean_error(&o, &[needle]);
    for bad in ["0", "1.5", "0.001"] {
        let o = score_at(bad);
        let e = stderr(&o);
        assert!(
            !o.status.success() && e.contains("false-alarm rate"),
            "{bad}: {e}"
        );
    }
    // A rate the validation split cannot reach is refused before training.
    let far = dir.join("far");
    let adbench = ("adbench", data.as_path());
    let rate = ["--false-alarm-rate", "0.001"];
    let o = train_cmd_with("autoencoder", adbench, ("tabular", None), &far, &rate);
    let e = stderr(&o);
    assert!(
        !o.status.success()
            && e.contains("--false-alarm-rate 0.001")
            && e.contains("far:0.001")
            && e.contains("999"),
        "{e}"
    );
    assert!(!dir.join("far").exists());
    let o = oddity(&["metrics", "--scores", csv.to_str().unwrap()]);
    assert!(
        o.status.success() && stdout(&o).contains("AUROC"),
        "{}",
        stderr(&o)
    );
}

/// The README's first command: `oddity demo` trains on the bundled subset and writes a run and
/// a report (one epoch here to keep the suite short; the default is 5); an earlier demo's
/// folder is the next demo's to replace.
#[test]
fn demo_writes_a_run_and_a_report() {
    let dir = temp_dir("cli-demo");
    let out = dir.join("demo");
    let o = oddity(&["demo", "--epochs", "1", "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("AUROC"));
    assert!(out.join("run.json").is_file() && out.join("weights-last.safetensors").is_file());
    let m: serde_json::Value =
        serde_json::from_str(&read(&out.join("eval-last/metrics.json"))).unwrap();
    assert_eq!(m["model"], "ganomaly");
    assert_eq!(m["samples"], 1300);
    // Another demo (another seed and budget) may replace it without --force: the folder is
    // claimed for it. (The command's refusals are in tests/reliability.rs; training it again
    // here would double this test's time.)
    let again = oddity::jobs::prepare_demo(1, 2, &out, false);
    assert!(again.is_ok(), "{:#}", again.err().unwrap());
    drop(again);
    assert!(
        out.join("run.json").is_file(),
        "claiming the folder kept the earlier demo"
    );
}

/// `oddity bench speed` without PyTorch says how to install it; with `--no-reference` it
/// measures ours and writes speed.json with every figure filled and no ratios. (The benchmarks
/// are built with the `bench` feature: `cargo test --release --features bench`.)
#[cfg(feature = "bench")]
#[test]
fn bench_speed_without_reference() {
    let dir = temp_dir("bench");
    let missing = dir.join("no-python");
    let o = oddity(&[
        "bench",
        "speed",
        "--cases",
        "autoencoder-kdd",
        "--python",
        missing.to_str().unwrap(),
    ]);
    assert_clean_error(&o, &["no-python", "install.sh"]);
    let out = dir.join("speed.json");
    let o = oddity(&[
        "bench",
        "speed",
        "--cases",
        "autoencoder-kdd",
        "--no-reference",
        "--threads",
        "1",
        "--repeats",
        "1",
        "--warmup-steps",
        "1",
        "--min-repeat-seconds",
        "0.05",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let case = &report["cases"][0];
    assert_eq!(case["case"], "autoencoder-kdd");
    assert_eq!(case["ours"]["threads"], 1);
    for figure in ["train_samples_per_s", "score_samples_per_s", "peak_rss_mib"] {
        let v = case["ours"][figure].as_f64().unwrap();
        assert!(v.is_finite() && v > 0.0, "{figure} = {v}");
    }
    assert!(case["ratios"].is_null() && case["theirs"].is_null());
}

/// `bench speed --device` is checked before any case runs: an unknown device is named, and
/// `gpu` on a build without a GPU backend says how to build one (scripts/gpu-check.sh relies
/// on this failing at once, not after the CPU cases).
#[cfg(all(feature = "bench", not(any(feature = "vulkan", feature = "cuda"))))]
#[test]
fn bench_speed_checks_its_device_first() {
    for (device, needles) in [
        ("tpu", &["unknown device", "\"tpu\""][..]),
        ("gpu", &["without a GPU backend", "--features vulkan"][..]),
    ] {
        let o = oddity(&[
            "bench",
            "speed",
            "--no-reference",
            "--cases",
            "autoencoder-kdd",
            "--device",
            device,
        ]);
        assert_clean_error(&o, needles);
        assert!(!stderr(&o).contains("ours…"), "a case ran before the check");
    }
}

/// Run oddity with `args`, plus `--model-config config` when given; it must succeed.
fn oddity_ok_with_config<'a>(mut args: Vec<&'a str>, config: Option<&'a Path>) {
    if let Some(c) = config {
        args.extend(["--model-config", c.to_str().unwrap()]);
    }
    let o = oddity(&args);
    assert!(o.status.success(), "{}", stderr(&o));
}

/// `eval --model-config` scores the same weights with another score-time setting (ALAD's l1
/// score instead of fm): the result equals a run trained with that setting from the start
/// (same seed, so the same last weights), its threshold is refitted on validation data, the
/// run's own evaluation is kept, and a setting that changes the networks is a named error.
#[test]
fn eval_rescores_with_another_score() {
    let dir = temp_dir("cli-rescore");
    let data = fixture("adbench/4_breastw.npz");
    let l1 = dir.join("l1.json");
    std::fs::write(&l1, r#"{"score": "l1"}"#).unwrap();
    let train_on = |data: &Path, out: &Path, config: Option<&Path>| {
        let args = vec![
            "train",
            "--model",
            "alad",
            "--dataset",
            "adbench",
            "--data",
            data.to_str().unwrap(),
            "--protocol",
            "tabular",
            "--epochs",
            "2",
            "--seed",
            "5",
            "--quiet",
            "--out",
            out.to_str().unwrap(),
        ];
        oddity_ok_with_config(args, config);
    };
    let train = |out: &Path, config: Option<&Path>| train_on(&data, out, config);
    let metrics = |path: std::path::PathBuf| -> serde_json::Value {
        serde_json::from_str(&read(&path.join("metrics.json"))).unwrap()
    };
    let (fm_run, l1_run) = (dir.join("fm"), dir.join("l1"));
    // Settings as a file or inline JSON alike.
    let inline = Path::new(r#"{"score": "l1"}"#);
    train(&fm_run, None);
    train(&l1_run, Some(inline));
    for (run, extra) in [
        (&fm_run, None),
        (&fm_run, Some(l1.as_path())),
        (&fm_run, Some(inline)),
        (&l1_run, None),
    ] {
        let args = vec!["eval", run.to_str().unwrap(), "--checkpoint", "last"];
        oddity_ok_with_config(args, extra);
    }
    let fm = metrics(fm_run.join("eval-last"));
    let rescored = metrics(fm_run.join("eval-last-l1"));
    assert_eq!(
        read(&fm_run.join("eval-last-score-l1/scores.csv")),
        read(&fm_run.join("eval-last-l1/scores.csv"))
    );
    let trained_l1 = metrics(l1_run.join("eval-last"));
    assert_eq!(fm["model_config"]["score"], "fm");
    assert_eq!(rescored["model_config"]["score"], "l1");
    assert_eq!(rescored["auroc"], trained_l1["auroc"]);
    assert_eq!(rescored["threshold"], trained_l1["threshold"]);
    assert_ne!(rescored["threshold"], fm["threshold"]);
    assert_eq!(
        read(&fm_run.join("eval-last-l1/scores.csv")),
        read(&l1_run.join("eval-last/scores.csv"))
    );
    // `score` takes the same settings, flagging with the refitted threshold.
    let score = |run: &Path, config: Option<&Path>, out: &Path| {
        let args = vec![
            "score",
            run.to_str().unwrap(),
            "--dataset",
            "adbench",
            "--data",
            data.to_str().unwrap(),
            "--checkpoint",
            "last",
            "--output",
            out.to_str().unwrap(),
        ];
        oddity_ok_with_config(args, config);
        read(out)
    };
    let (rescored_csv, trained_csv) = (dir.join("rescored.csv"), dir.join("trained.csv"));
    assert_eq!(
        score(&fm_run, Some(&l1), &rescored_csv),
        score(&l1_run, None, &trained_csv)
    );
    let bad = dir.join("latent.json");
    std::fs::write(&bad, r#"{"latent_dim": 7}"#).unwrap();
    let o = oddity(&[
        "eval",
        fm_run.to_str().unwrap(),
        "--model-config",
        bad.to_str().unwrap(),
    ]);
    assert_clean_error(&o, &["latent.json", "only score-time"]);
    // Unknown settings and an --out oddity did not write are refused before the data are read:
    // here, a run whose data file is gone.
    let copied = dir.join("breastw.npz");
    std::fs::copy(&data, &copied).unwrap();
    let moved = dir.join("moved");
    train_on(&copied, &moved, None);
    std::fs::remove_file(&copied).unwrap();
    let moved_run = moved.to_str().unwrap();
    let o = oddity(&["eval", moved_run, "--model-config", r#"{"bogus": 1}"#]);
    assert_clean_error(&o, &["no hyper-parameter \"bogus\""]);
    let o = oddity(&["eval", moved_run, "--model-config", bad.to_str().unwrap()]);
    assert_clean_error(&o, &["latent.json", "only score-time"]);
    // A training setting that keeps the networks' shapes is refused too, naming the ones that
    // may change.
    let rate = r#"{"learning_rate": 0.5, "score": "l1"}"#;
    let o = oddity(&["eval", moved_run, "--model-config", rate]);
    let needles = [
        "only score-time",
        "under learning_rate (",
        "its score-time ones: score)",
    ];
    assert_clean_error(&o, &needles);
    let scored = dir.join("moved.csv");
    let score_moved = |extra: &[&str]| {
        let mut args = vec![
            "score",
            moved_run,
            "--dataset",
            "adbench",
            "--data",
            copied.to_str().unwrap(),
            "--output",
            scored.to_str().unwrap(),
        ];
        args.extend(extra);
        oddity(&args)
    };
    let o = score_moved(&["--model-config", bad.to_str().unwrap()]);
    assert_clean_error(&o, &["latent.json", "only score-time"]);
    let o = score_moved(&["--label-column", "y"]);
    assert_clean_error(&o, &["--label-column", "does not apply"]);
    let foreign = dir.join("foreign");
    std::fs::create_dir_all(&foreign).unwrap();
    std::fs::write(foreign.join("notes.txt"), "mine").unwrap();
    let o = oddity(&["eval", moved_run, "--out", foreign.to_str().unwrap()]);
    assert_clean_error(&o, &["not a folder oddity wrote"]);
    assert_eq!(read(&foreign.join("notes.txt")), "mine");
    let o = oddity(&["eval", moved_run]);
    assert_clean_error(&o, &["breastw.npz"]);
    // `score` never writes its table over the data it scores.
    std::fs::copy(&data, &copied).unwrap();
    let before = std::fs::read(&copied).unwrap();
    let c = copied.to_str().unwrap();
    let o = oddity(&[
        "score",
        moved_run,
        "--dataset",
        "adbench",
        "--data",
        c,
        "--output",
        c,
    ]);
    assert_clean_error(&o, &["--output", "is the input"]);
    assert_eq!(std::fs::read(&copied).unwrap(), before);
    // Damaged weights are found before the data are read.
    std::fs::remove_file(&copied).unwrap();
    std::fs::write(moved.join("weights-last.safetensors"), b"damaged").unwrap();
    let o = oddity(&["eval", moved_run, "--checkpoint", "last"]);
    assert_clean_error(&o, &["weights-last.safetensors", "SHA-256"]);
    // Weights swapped in from another run are caught by the SHA-256 that run.json records.
    let other = dir.join("latent7");
    train(&other, Some(&bad));
    std::fs::copy(
        other.join("weights-last.safetensors"),
        fm_run.join("weights-last.safetensors"),
    )
    .unwrap();
    let o = oddity(&["eval", fm_run.to_str().unwrap(), "--checkpoint", "last"]);
    assert_clean_error(
        &o,
        &["weights-last.safetensors", "SHA-256", "run.json records"],
    );
}

/// `oddity models` lists every model once, the detectors under the first heading and the
/// baselines (autoencoder, OC-SVM, RX, local RX, Deep SVDD, GEOM, GOAD, OCGAN) under the second.
#[test]
fn models_are_listed_once_in_their_group() {
    let o = oddity(&["models"]);
    assert!(o.status.success());
    let text = stdout(&o);
    let (detectors, baselines) = text.split_once("Baselines").expect("a baselines heading");
    for info in oddity::models::MODELS {
        let line = |part: &str| {
            part.lines()
                .any(|l| l.split_whitespace().next() == Some(info.name))
        };
        let (here, there) = match info.group {
            oddity::models::ModelGroup::Detector => (detectors, baselines),
            oddity::models::ModelGroup::Baseline => (baselines, detectors),
        };
        assert!(
            line(here) && !line(there),
            "{} listed in the wrong group",
            info.name
        );
    }
    let judged_against = [
        "autoencoder",
        "ocsvm",
        "rx",
        "lrx",
        "deep-svdd",
        "geom",
        "goad",
        "ocgan",
    ];
    for name in judged_against {
        assert!(
            baselines.lines().any(|l| l.starts_with(name)),
            "{name} is a baseline"
        );
    }
}

/// A run scales its data as its model's paper does unless `--scaling` says otherwise: the VAE's
/// tanh decoder gets images in [−1, 1], adVAE's sigmoid generator tables in [0, 1], OC-SVM
/// images Deep SVDD's contrast normalisation, a model whose paper is silent standardises; and
/// `oddity models` names each model's own scaling.
#[test]
fn a_run_scales_as_its_model_unless_told() {
    use oddity::data::preprocess::Scaling;
    let mnist = || spec(DatasetKind::BuiltinMnist, PathBuf::from("builtin"));
    let table = || spec(DatasetKind::Adbench, fixture("adbench/4_breastw.npz"));
    let one_class = || Protocol::OneClass { class: "1".into() };
    for (model, data, protocol, expected) in [
        ("vae", mnist(), one_class(), Scaling::MinusOneToOne),
        ("vae", table(), Protocol::Tabular, Scaling::Standardise),
        ("advae", table(), Protocol::Tabular, Scaling::MinMax),
        ("ocsvm", mnist(), one_class(), Scaling::GcnL1),
        ("ganomaly", mnist(), one_class(), Scaling::Standardise),
    ] {
        let config =
            RunConfig::new(ModelConfig::default_for(model).unwrap(), data, protocol, 0).unwrap();
        assert_eq!(config.preprocess.scaling, expected, "{model}");
    }
    let listing = stdout(&oddity(&["models"]));
    let vae = listing
        .split("\nvae ")
        .nth(1)
        .and_then(|rest| rest.split("\n\n").next().and_then(|s| s.lines().nth(2)))
        .expect("the VAE's entry");
    assert!(
        vae.contains("--scaling minus-one-to-one on images"),
        "{vae}"
    );

    let dir = temp_dir("cli-scaling");
    let scaling_of = |extra: &[&str]| {
        let run = dir.join(format!("run{}", extra.len()));
        let mut args = vec![
            "--model",
            "vae",
            "--model-config",
            r#"{"importance_samples": 2}"#,
        ];
        args.extend_from_slice(&["--epochs", "1", "--quiet"]);
        args.extend_from_slice(extra);
        train_on_digit_one(&run, &args);
        let saved: serde_json::Value = serde_json::from_str(&read(&run.join("run.json"))).unwrap();
        saved["preprocess"]["scaling"].as_str().unwrap().to_string()
    };
    assert_eq!(scaling_of(&[]), "minus-one-to-one");
    assert_eq!(scaling_of(&["--scaling", "standardise"]), "standardise");
}

/// A training set smaller than two batches trains one step an epoch: the run says
/// so before training (with progress on), and every saved run counts its steps.
#[test]
fn a_run_counts_its_training_steps() {
    let dir = temp_dir("cli-steps");
    let train = |extra: &[&str]| {
        let run = dir.join(format!("run{}", extra.len()));
        let mut args = vec!["--model", "autoencoder", "--epochs", "3"];
        args.extend_from_slice(extra);
        train_on_digit_one(&run, &args)
    };
    let whole = train(&["--batch-size", "64"]);
    assert!(
        whole.contains("one full batch of 40: one training step an epoch, up to 3 in all"),
        "{whole}"
    );
    assert!(whole.contains("3 training steps)"), "{whole}");
    // 40 samples at batch 16: two steps an epoch (the last 8 samples wait for the next).
    let small = train(&["--batch-size", "16", "--quiet"]);
    assert!(!small.contains("note:"), "{small}");
    assert!(small.contains("6 training steps)"), "{small}");
}

/// `oddity train` into `run` on 40 training images of the bundled MNIST's digit 1 (20 test
/// images) with the model and options in `args`; its stderr, once it succeeded.
fn train_on_digit_one(run: &Path, args: &[&str]) -> String {
    let mut all = vec![
        "train",
        "--dataset",
        "builtin-mnist",
        "--protocol",
        "one-class",
    ];
    all.extend_from_slice(&["--class", "1", "--max-train", "40", "--max-test", "20"]);
    all.extend_from_slice(&["--out", run.to_str().unwrap()]);
    all.extend_from_slice(args);
    let o = oddity(&all);
    assert!(o.status.success(), "{}", stderr(&o));
    stderr(&o)
}
