//! Regression tests for the run folder's life and for inputs in range for their type but not
//! for their meaning: each case was found by trying the release binary as a new user would
//! (a panic, a silently wrong result or an unclear error before its fix). `docs/reliability.md`
//! lists them with the test that covers each.

mod common;

use common::*;
use std::path::{Path, PathBuf};

/// A small CSV table: two features, label 0 normal / 1 anomaly.
fn table(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// A table an autoencoder trains on in a second: 40 normals around the origin, 6 anomalies.
fn good_table(dir: &Path) -> PathBuf {
    let mut text = String::from("a,b,label\n");
    for i in 0..40 {
        let v = (i as f32 * 0.37).sin();
        text.push_str(&format!("{v},{},0\n", v * 0.5));
    }
    for i in 0..6 {
        text.push_str(&format!("{},{},1\n", 5.0 + i as f32, -4.0));
    }
    table(dir, "good.csv", &text)
}

fn train_args<'a>(data: &'a str, out: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = train_args_for(data, out, extra);
    if !extra.contains(&"--epochs") {
        args.extend(["--epochs", "2"]);
    }
    args
}

fn train_args_for<'a>(data: &'a str, out: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "train",
        "--model",
        "autoencoder",
        "--dataset",
        "csv",
        "--data",
        data,
        "--protocol",
        "tabular",
        "--quiet",
        "--out",
        out,
    ];
    args.extend(extra);
    args
}

fn ok(o: &std::process::Output) {
    assert!(o.status.success(), "{}", stderr(o));
}

fn metrics_json(run: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(run.join("eval-best/metrics.json")).unwrap())
        .unwrap()
}

/// A run folder is never modified in place: re-training into it is refused without --force;
/// --force replaces it whole (old evaluations go); a training killed mid-way leaves the old
/// run whole and evaluable, and its staging folder is removed by the next writer.
#[test]
fn run_folders_are_transactions() {
    let dir = temp_dir("rel-txn");
    let data = good_table(&dir);
    let (d, run) = (data.to_str().unwrap(), dir.join("F"));
    let r = run.to_str().unwrap();
    ok(&oddity(&train_args(d, r, &["--seed", "0"])));
    ok(&oddity(&["eval", r]));
    let before = metrics_json(&run);
    let weights_before = std::fs::read(run.join("weights-best.safetensors")).unwrap();
    // Refused without --force, untouched.
    assert_clean_error(
        &oddity(&train_args(d, r, &["--seed", "1"])),
        &["already exists", "--force"],
    );
    assert_eq!(
        std::fs::read(run.join("weights-best.safetensors")).unwrap(),
        weights_before
    );
    // A re-training killed while it runs: the old run stays whole and evaluates as before.
    let mut child = std::process::Command::new(oddity_bin())
        .args(train_args(
            d,
            r,
            &["--seed", "1", "--force", "--epochs", "100000"],
        ))
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let staging = dir.join(".F.partial");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !staging.join("writer.pid").exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "the training never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        staging.exists(),
        "a killed writer leaves its staging folder"
    );
    ok(&oddity(&["eval", r]));
    assert_eq!(
        metrics_json(&run),
        before,
        "the old run is whole after the kill"
    );
    // The staging folder is not a run.
    assert_clean_error(
        &oddity(&["eval", staging.to_str().unwrap()]),
        &[".F.partial", "never completed"],
    );
    // --force replaces the run whole: new weights, no old evaluation beside them, no leftovers.
    let o = oddity(&train_args(d, r, &["--seed", "1", "--force"]));
    ok(&o);
    assert!(stderr(&o).contains("removing") && !staging.exists());
    assert!(
        !run.join("eval-best").exists(),
        "old evaluations go with the old run"
    );
    assert_ne!(
        std::fs::read(run.join("weights-best.safetensors")).unwrap(),
        weights_before
    );
    let names: Vec<String> = std::fs::read_dir(dir.as_path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(names.is_empty(), "hidden leftovers: {names:?}");
    // --force never deletes a folder oddity did not write.
    let other = dir.join("mine");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(other.join("notes.txt"), "keep").unwrap();
    assert_clean_error(
        &oddity(&train_args(d, other.to_str().unwrap(), &["--force"])),
        &["not a folder oddity wrote"],
    );
    assert!(other.join("notes.txt").exists());
}

/// The output location is checked before the data is read: a bad --out is the first error.
#[test]
fn a_bad_output_location_fails_first() {
    let dir = temp_dir("rel-out");
    let blocker = table(&dir, "file", "not a folder");
    let out = blocker.join("run");
    let o = oddity(&train_args("/nonexistent.csv", out.to_str().unwrap(), &[]));
    assert_clean_error(&o, &["file"]);
    assert!(!stderr(&o).contains("nonexistent.csv"), "{}", stderr(&o));
}

/// `run.json` records each weights file's SHA-256: a damaged or swapped file is named; a run
/// of an older layout that does not load names both layouts and the remedy.
#[test]
fn weights_are_verified_and_layouts_named() {
    let dir = temp_dir("rel-sha");
    let data = good_table(&dir);
    let run = dir.join("run");
    let r = run.to_str().unwrap();
    ok(&oddity(&train_args(data.to_str().unwrap(), r, &[])));
    let weights = run.join("weights-last.safetensors");
    let bytes = std::fs::read(&weights).unwrap();
    std::fs::write(&weights, &bytes[..bytes.len() / 2]).unwrap();
    assert_clean_error(
        &oddity(&["eval", r, "--checkpoint", "last"]),
        &["weights-last.safetensors", "SHA-256"],
    );
    // A layout-1 run (no checksums) whose weights do not fit: both layouts and the remedy.
    let text = std::fs::read_to_string(run.join("run.json")).unwrap();
    let mut json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let map = json.as_object_mut().unwrap();
    map.remove("layout");
    map.remove("weights_sha256");
    let write_run =
        |json: &serde_json::Value| std::fs::write(run.join("run.json"), json.to_string()).unwrap();
    write_run(&json);
    assert_clean_error(
        &oddity(&["eval", r, "--checkpoint", "last"]),
        &[
            "weights-last.safetensors",
            "layout 1",
            "layout 4",
            "retrain",
        ],
    );
    // A newer layout than this build reads.
    json["layout"] = 99.into();
    write_run(&json);
    assert_clean_error(&oddity(&["eval", r]), &["layout 99", "newer oddity"]);
    // A preprocess.json with too few factors: named, not a panic.
    json["layout"] = 1.into();
    write_run(&json);
    let pre = run.join("preprocess.json");
    let mut p: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&pre).unwrap()).unwrap();
    p["factor"] = serde_json::json!([1.0]);
    std::fs::write(&pre, p.to_string()).unwrap();
    assert_clean_error(&oddity(&["eval", r]), &["preprocess.json", "1 factors"]);
    // Values no training writes, edited in: named, not scored as the files say.
    p["factor"] = serde_json::json!([0.0, 0.0]);
    std::fs::write(&pre, p.to_string()).unwrap();
    assert_clean_error(&oddity(&["eval", r]), &["preprocess.json", "not positive"]);
    p["factor"] = serde_json::json!([1.0, 1.0]);
    std::fs::write(&pre, p.to_string()).unwrap();
    let thresholds = run.join("thresholds.json");
    let kept = std::fs::read_to_string(&thresholds).unwrap();
    let mut t: serde_json::Value = serde_json::from_str(&kept).unwrap();
    t["last"]["rule"] = serde_json::json!({"rule": "validation-percentile", "percentile": 150.0});
    std::fs::write(&thresholds, t.to_string()).unwrap();
    assert_clean_error(&oddity(&["eval", r]), &["thresholds.json", "150"]);
    std::fs::write(&thresholds, kept).unwrap();
    json["train"]["epochs"] = 0.into();
    write_run(&json);
    assert_clean_error(
        &oddity(&["eval", r]),
        &["run.json", "epochs must be at least 1"],
    );
}

/// Weights files are byte-identical for identical weights (a deterministic header order), so
/// the recorded SHA-256 identifies the weights.
#[test]
fn identical_weights_give_identical_files() {
    let dir = temp_dir("rel-bytes");
    let data = good_table(&dir);
    let d = data.to_str().unwrap();
    let (a, b) = (dir.join("a"), dir.join("b"));
    ok(&oddity(&train_args(d, a.to_str().unwrap(), &[])));
    ok(&oddity(&train_args(d, b.to_str().unwrap(), &[])));
    for f in ["weights-best.safetensors", "weights-last.safetensors"] {
        assert_eq!(
            std::fs::read(a.join(f)).unwrap(),
            std::fs::read(b.join(f)).unwrap(),
            "{f}"
        );
    }
}

/// Settings that do not fit the run are refused before the data set is read: each error names
/// the setting, not the missing data file the command was given.
#[test]
fn settings_are_refused_before_the_data_are_read() {
    let dir = temp_dir("rel-door");
    let out = dir.join("run");
    let o = out.to_str().unwrap();
    let missing = "/nonexistent-oddity-data";
    let train = |model: &str, protocol: &str, extra: &[&str]| {
        let mut args = vec![
            "train",
            "--model",
            model,
            "--dataset",
            "fashion-mnist",
            "--data",
            missing,
            "--protocol",
            protocol,
            "--class",
            "0",
            "--out",
            o,
        ];
        args.extend(extra);
        oddity(&args)
    };
    for (model, protocol, extra, needles) in [
        (
            "rsrae",
            "contaminated",
            &["--contamination", "5"][..],
            &["--contamination must be within (0, 1]"][..],
        ),
        (
            "rsrae",
            "contaminated",
            &[][..],
            &["needs --contamination"][..],
        ),
        (
            "rsrae",
            "one-class",
            &["--contamination", "0.1"][..],
            &["--contamination applies to the contaminated protocol only"][..],
        ),
        (
            "rsrae",
            "contaminated",
            &["--contamination", "0.1", "--max-train", "50"][..],
            &["--max-train does not apply"][..],
        ),
        (
            "egbad",
            "one-class",
            &["--model-config", r#"{"score_weight": 5}"#][..],
            &["score_weight", "[0, 1]"][..],
        ),
        (
            "anogan",
            "one-class",
            &["--model-config", r#"{"lambda": 1.5}"#][..],
            &["lambda", "[0, 1]"][..],
        ),
        (
            "skip-ganomaly",
            "one-class",
            &["--model-config", r#"{"lambda": 1.5}"#][..],
            &["lambda", "[0, 1]"][..],
        ),
        (
            "lrx",
            "one-class",
            &["--model-config", r#"{"outer_window": 4}"#][..],
            &["lrx windows must be odd"][..],
        ),
        (
            "ocsvm",
            "one-class",
            &["--epochs", "5"][..],
            &["ocsvm has no training epochs", "--epochs"][..],
        ),
        (
            "ocsvm",
            "one-class",
            &["--patience", "3"][..],
            &["ocsvm has no training epochs", "--patience"][..],
        ),
        (
            "ocsvm",
            "one-class",
            &["--model-config", r#"{"nu": 5}"#][..],
            &["ocsvm nu must be within (0, 1]"][..],
        ),
        (
            "deep-svdd",
            "one-class",
            &["--model-config", r#"{"latent_dim": 20}"#][..],
            &["latent_dim must be a multiple of 16"][..],
        ),
        (
            "alae",
            "one-class",
            &["--model-config", r#"{"mapping_layers": 0}"#][..],
            &["mapping_layers must be at least 1"][..],
        ),
        (
            "autoencoder",
            "one-class",
            &["--model-config", r#"{"epochs": 0, "epochs": 5}"#][..],
            &["\"epochs\" is given twice"][..],
        ),
        (
            "ganomaly",
            "one-class",
            &["--model-config", r#"{"image_size": 30}"#][..],
            &["power of two", "got 30"][..],
        ),
        (
            "ganomaly",
            "one-class",
            &["--image-size", "30"][..],
            &["--image-size 30 does not match ganomaly's input side 32"][..],
        ),
    ] {
        let result = train(model, protocol, extra);
        assert_clean_error(&result, needles);
        assert!(!stderr(&result).contains(missing), "{}", stderr(&result));
    }
    // A resumed training takes every setting from its stopped run: others are refused, not
    // ignored (clap's usage error, exit code 2).
    let resumed = oddity(&["train", "--resume", o, "--epochs", "500"]);
    assert_eq!(resumed.status.code(), Some(2), "{}", stderr(&resumed));
    assert!(
        stderr(&resumed).contains("--epochs") && stderr(&resumed).contains("--resume"),
        "{}",
        stderr(&resumed)
    );
    // `score` checks its data options too (it read the built-in subset and ignored --data).
    let scores = dir.join("scores.csv");
    let score = oddity(&[
        "score",
        o,
        "--dataset",
        "builtin-mnist",
        "--data",
        missing,
        "--output",
        scores.to_str().unwrap(),
    ]);
    assert_clean_error(&score, &["--data", "does not apply"]);
    // `ood train` checks its settings and claims --out before reading the images (it read them
    // first, for the classifier's defaults).
    let ood_train = |extra: &[&str]| {
        let mut args = vec![
            "ood",
            "train",
            "--dataset",
            "mnist",
            "--data",
            missing,
            "--out",
            o,
        ];
        args.extend(extra);
        oddity(&args)
    };
    for (extra, needles) in [
        (
            &["--classifier-config", r#"{"epochs": 0}"#][..],
            &["classifier epochs must be at least 1"][..],
        ),
        (
            &["--classifier-config", r#"{"epoch": 3}"#][..],
            &["--classifier-config", "epoch"][..],
        ),
        (
            &["--odin-temperature", "0"][..],
            &["--odin-temperature (odin_temperature) must be positive"][..],
        ),
        (
            &["--validation", "1"][..],
            &["--validation must be at least 2"][..],
        ),
        (
            &[
                "--generative",
                "--generative-config",
                r#"{"mutation_rate": 2}"#,
            ][..],
            &["mutation_rate must be in (0, 1]"][..],
        ),
    ] {
        let result = ood_train(extra);
        assert_clean_error(&result, needles);
        assert!(!stderr(&result).contains(missing), "{}", stderr(&result));
    }
    // A data set of another kind is refused before its files are looked for, naming the kinds
    // the job trains on; a typo is answered with those kinds only, not with tables.
    for (kind, reason) in [("kdd99", "(not images)"), ("mvtec", "one part's defects")] {
        let other = oddity(&[
            "ood",
            "train",
            "--dataset",
            kind,
            "--data",
            missing,
            "--out",
            o,
        ]);
        assert_clean_error(
            &other,
            &[
                "the OOD job trains a classifier on labelled images: mnist, fashion-mnist, \
                 cifar10, image-folder or builtin-mnist",
                &format!("not {kind} data"),
                reason,
            ],
        );
        assert!(!stderr(&other).contains(missing), "{}", stderr(&other));
    }
    let typo = oddity(&[
        "ood",
        "train",
        "--dataset",
        "cifar",
        "--data",
        missing,
        "--out",
        o,
    ]);
    let e = stderr(&typo);
    assert_eq!(typo.status.code(), Some(2), "{e}");
    assert!(
        e.contains("unknown dataset \"cifar\"; use mnist, fashion-mnist, cifar10, image-folder or builtin-mnist")
            && !e.contains("kdd99"),
        "{e}"
    );
    // The WRN's shape for the one-channel images' LeNet: refused (it was ignored), before
    // any training.
    let widened = dir.join("widened");
    let lenet = oddity(&[
        "ood",
        "train",
        "--dataset",
        "builtin-mnist",
        "--out",
        widened.to_str().unwrap(),
        "--classifier-config",
        r#"{"widen": 0}"#,
    ]);
    assert_clean_error(&lenet, &["\"widen\"", "LeNet", "architecture"]);
    assert!(!widened.exists());
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("notes.txt"), "mine").unwrap();
    let taken = ood_train(&["--force"]);
    assert_clean_error(&taken, &["not a folder oddity wrote"]);
    assert_eq!(
        std::fs::read_to_string(out.join("notes.txt")).unwrap(),
        "mine"
    );
}

/// A result is never written over the user's input, nor a demo over another run.
#[test]
fn results_never_replace_inputs() {
    let dir = temp_dir("rel-inputs");
    let scores = table(&dir, "scores.csv", "score,label\n0.1,0\n0.9,1\n0.2,0\n");
    let before = std::fs::read(&scores).unwrap();
    let s = scores.to_str().unwrap();
    let o = oddity(&["metrics", "--scores", s, "--json", s]);
    assert_clean_error(&o, &["--json", "is the input"]);
    assert_eq!(std::fs::read(&scores).unwrap(), before);
    let json = dir.join("missing-folder/m.json");
    let o = oddity(&["metrics", "--scores", s, "--json", json.to_str().unwrap()]);
    assert_clean_error(&o, &["--json", "does not exist"]);
    // Another model's run where the demo would go: refused without --force, kept whole.
    let run = dir.join("mine");
    std::fs::create_dir_all(&run).unwrap();
    let mine = r#"{"model": {"model": "rsrae"}, "dataset": {"kind": "fashion-mnist"}}"#;
    std::fs::write(run.join("run.json"), mine).unwrap();
    let o = oddity(&["demo", "--out", run.to_str().unwrap(), "--epochs", "1"]);
    assert_clean_error(&o, &["already exists", "--force"]);
    assert_eq!(std::fs::read_to_string(run.join("run.json")).unwrap(), mine);
    // `score` writes neither its table nor its maps among a run's files, however the path
    // reaches them (a link to the run, a `..` over a folder still to create).
    let r = run.to_str().unwrap();
    let link = dir.join("link-to-mine");
    std::os::unix::fs::symlink(&run, &link).unwrap();
    let elsewhere = dir.join("elsewhere.csv");
    for (flag, path) in [
        ("--output", run.join("run.json")),
        ("--output", run.join("scores.csv")),
        ("--output", link.join("scores.csv")),
        ("--maps", run.join("maps")),
        ("--maps", dir.join("new/../mine/maps")),
        ("--maps", run.join("new/../maps")),
    ] {
        let mut args = vec!["score", r, "--dataset", "builtin-mnist"];
        let path = path.to_str().unwrap();
        match flag {
            "--output" => args.extend(["--output", path]),
            _ => args.extend(["--output", elsewhere.to_str().unwrap(), "--maps", path]),
        }
        let o = oddity(&args);
        assert_clean_error(&o, &[flag, "is inside the run folder"]);
    }
    let mut left: Vec<_> = std::fs::read_dir(&run)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    left.sort();
    assert_eq!(left, ["run.json"], "score wrote into the run folder");
    assert!(!dir.join("new").exists() && !elsewhere.exists());
    assert_eq!(std::fs::read_to_string(run.join("run.json")).unwrap(), mine);
}

/// Values in range for their type but not for their meaning: each is an error naming the
/// setting, before any work, never a panic.
#[test]
fn out_of_range_settings_are_named_errors() {
    let dir = temp_dir("rel-range");
    let data = good_table(&dir);
    let d = data.to_str().unwrap();
    let out = dir.join("run");
    let o = out.to_str().unwrap();
    let settings = |json: &str| {
        let p = dir.join("settings.json");
        std::fs::write(&p, json).unwrap();
        p
    };
    for (json, needle) in [
        (r#"{"latent_dim": 0}"#, "latent_dim must be at least 1"),
        (r#"{"hidden": [0]}"#, "hidden[0] must be at least 1"),
        (r#"{"base_width": 0}"#, "base_width must be at least 1"),
        (r#"{"latent_dim": 3000000000}"#, "too large"),
        (
            r#"{"learning_rate": -1}"#,
            "learning_rate must be a finite number above 0",
        ),
    ] {
        let p = settings(json);
        let args = train_args(d, o, &["--model-config", p.to_str().unwrap()]);
        assert_clean_error(&oddity(&args), &["settings.json", needle]);
    }
    for (extra, needle) in [
        (&["--max-train", "0"][..], "--max-train must be at least 2"),
        (&["--class", "1"][..], "--class 1 does not apply"),
        (&["--image-size", "32"][..], "--image-size resizes images"),
        (&["--decode-size", "0"][..], "--decode-size"),
        (&["--validation-fraction", "1.5"][..], "validation fraction"),
        (
            &["--scaling", "minus-one-to-one"][..],
            "minus-one-to-one maps 8-bit pixels",
        ),
        (
            &["--label-column", "a"][..],
            "the tabular protocol needs binary labels",
        ),
        (
            &["--unscaled-columns", "5..3"][..],
            "START must be below END",
        ),
        (
            &["--unscaled-columns", "0..999"][..],
            "reaches past the table's",
        ),
        (
            &["--unscaled-columns", "0..1", "--scaling", "gcn-l1"][..],
            "per-column scaling",
        ),
    ] {
        assert_clean_error(&oddity(&train_args(d, o, extra)), &[needle]);
    }
    // A negative number is read as the option's value, and refused naming the option (a usage
    // error, as clap reports them: status 2), not as an unknown flag "-1".
    for (option, value) in [("--seed", "-1"), ("--max-train", "-3"), ("--epochs", "-2")] {
        let out = oddity(&train_args_for(d, o, &[option, value]));
        let e = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{e}");
        assert!(
            e.contains(&format!("invalid value '{value}' for '{option}")),
            "{option} {value}: {e}"
        );
    }
    // A negative fixed threshold is a value too.
    let negative = dir.join("negative-threshold");
    let n = negative.to_str().unwrap();
    ok(&oddity(&train_args(d, n, &["--threshold", "-0.5"])));
    let thresholds: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(negative.join("thresholds.json")).unwrap())
            .unwrap();
    assert_eq!(thresholds["last"]["value"], -0.5);
    // --data with the built-in subset, --decode-size 0 with an image folder.
    let builtin = [
        "train",
        "--model",
        "autoencoder",
        "--dataset",
        "builtin-mnist",
        "--data",
        d,
        "--protocol",
        "one-class",
        "--class",
        "1",
        "--out",
        o,
    ];
    assert_clean_error(&oddity(&builtin), &["--data", "does not apply"]);
    let images_unscaled: Vec<&str> = builtin
        .iter()
        .copied()
        .filter(|a| *a != "--data" && *a != d)
        .chain(["--unscaled-columns", "0..2"])
        .collect();
    assert_clean_error(
        &oddity(&images_unscaled),
        &["--unscaled-columns 0..2", "images"],
    );
    let folder = [
        "train",
        "--model",
        "autoencoder",
        "--dataset",
        "image-folder",
        "--data",
        d,
        "--decode-size",
        "0",
        "--protocol",
        "one-class",
        "--class",
        "1",
        "--out",
        o,
    ];
    assert_clean_error(&oddity(&folder), &["--decode-size must be at least 1"]);
    // metrics: thresholds and percentiles out of range or not numbers.
    let scores = table(
        &dir,
        "s.csv",
        "score,label\n0.1,0\n0.9,1\n0.3,0.0\n0.7,1.0\n",
    );
    let s = scores.to_str().unwrap();
    for (flag, value, needle) in [
        (
            "--score-percentile",
            "150",
            "--score-percentile must be a number in [0, 100]",
        ),
        ("--score-percentile", "NaN", "--score-percentile"),
        ("--score-percentile=-20", "", "--score-percentile"),
        ("--threshold", "NaN", "--threshold must be a finite number"),
    ] {
        let mut args = vec!["metrics", "--scores", s, flag];
        if !value.is_empty() {
            args.push(value);
        }
        let o = oddity(&args);
        assert_clean_error(&o, &[needle]);
    }
    // Labels written 0.0 / 1.0 are read as scikit-learn reads them.
    let o = oddity(&["metrics", "--scores", s]);
    ok(&o);
    assert!(
        stdout(&o).contains("AUROC              1.0000"),
        "{}",
        stdout(&o)
    );
    // A folder given as the scores file is named.
    assert_clean_error(
        &oddity(&["metrics", "--scores", dir.to_str().unwrap()]),
        &[dir.to_str().unwrap(), "is a folder"],
    );
    // An output file that cannot be written is named.
    let o = oddity(&[
        "metrics",
        "--scores",
        s,
        "--json",
        "/nonexistent-dir/m.json",
    ]);
    assert_clean_error(&o, &["/nonexistent-dir/m.json"]);
}

/// Labels mean what they say: a duplicated column, an empty label and a label other than 0/1
/// in a binary protocol are errors; the label can never leak in as a feature.
#[test]
fn labels_mean_what_they_say() {
    let dir = temp_dir("rel-labels");
    let out = dir.join("run");
    let o = out.to_str().unwrap();
    for (text, needle) in [
        (
            "a,label,label\n1,0,0\n2,0,0\n3,1,1\n",
            "\"label\" appears twice",
        ),
        (
            "a,b,label\n1,2,0\n3,4,\n5,6,0\n",
            "line 3: the label (\"label\") is empty",
        ),
        (
            "a,b,label\n1,2,0\n3,4,2\n5,6,0\n7,8,0\n",
            "label \"2\" must be 0 (normal) or 1",
        ),
    ] {
        let p = table(&dir, "t.csv", text);
        assert_clean_error(&oddity(&train_args(p.to_str().unwrap(), o, &[])), &[needle]);
    }
    // Labels 0.0 / 1.0 train as 0 / 1.
    let mut text = String::from("a,b,label\n");
    for i in 0..30 {
        text.push_str(&format!("{},{},0.0\n", i % 7, i % 5));
    }
    text.push_str("40,40,1.0\n");
    let p = table(&dir, "float.csv", &text);
    let o2 = oddity(&train_args(p.to_str().unwrap(), o, &[]));
    ok(&o2);
    assert!(stderr(&o2).contains("(1 anomalies)"), "{}", stderr(&o2));
}

/// Data that parse but cannot be used: images of 0×0 pixels, a table without features, an
/// `.npy` shape whose element count overflows, values beyond 32-bit floats.
#[test]
fn degenerate_data_are_named_errors() {
    use oddity::data::{adbench, idx};
    let images = idx::encode(&idx::IdxArray {
        dims: vec![2, 0, 0],
        data: vec![],
    });
    let images = idx::parse(&images, "images").unwrap();
    let labels = idx::IdxArray {
        dims: vec![2],
        data: vec![0, 1],
    };
    let err = idx::images_with_labels(images, labels, "images", "labels").unwrap_err();
    assert!(err.to_string().contains("0×0 pixels"), "{err}");
    let npy = |descr: &str, shape: &str, body: &[u8]| {
        let header =
            format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': ({shape}), }}");
        let mut out = b"\x93NUMPY\x01\x00".to_vec();
        out.extend_from_slice(&(header.len() as u16).to_le_bytes());
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(body);
        out
    };
    let err = adbench::parse_npy(&npy("<f8", "4294967296, 4294967296, 16", &[]), "X.npy")
        .unwrap_err()
        .to_string();
    assert!(err.contains("too large"), "{err}");
    let npz = |x: Vec<u8>, y: Vec<u8>| {
        use std::io::Write;
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default();
        zip.start_file("X.npy", options).unwrap();
        zip.write_all(&x).unwrap();
        zip.start_file("y.npy", options).unwrap();
        zip.write_all(&y).unwrap();
        zip.finish().unwrap().into_inner()
    };
    let y: Vec<u8> = [0i64, 1].iter().flat_map(|v| v.to_le_bytes()).collect();
    let err = adbench::parse(&npz(npy("<f8", "2, 0", &[]), npy("<i8", "2,", &y)), "t.npz")
        .unwrap_err()
        .to_string();
    assert!(err.contains("no feature columns"), "{err}");
    let x: Vec<u8> = [1.0f64, 1e300]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let err = adbench::parse(&npz(npy("<f8", "2, 1", &x), npy("<i8", "2,", &y)), "t.npz")
        .unwrap_err()
        .to_string();
    assert!(err.contains("does not fit a 32-bit float"), "{err}");
    // Values whose range overflows 32-bit floats under min-max scaling: named, not "diverged".
    let dir = temp_dir("rel-overflow");
    let mut text = String::from("a,label\n");
    for i in 0..20 {
        text.push_str(&format!("{},0\n", if i % 2 == 0 { 3e38 } else { -3e38 }));
    }
    text.push_str("0,1\n");
    let p = table(&dir, "big.csv", &text);
    let o = dir.join("run");
    let args = train_args(
        p.to_str().unwrap(),
        o.to_str().unwrap(),
        &["--scaling", "min-max"],
    );
    assert_clean_error(&oddity(&args), &["overflows 32-bit floats"]);
}

/// Images handed over in memory (the Python package's `fit`) to a model whose default scaling
/// is the fixed map of 8-bit pixels to [−1, 1] must be 8-bit pixels: floats in [0, 1] or
/// values already scaled are refused by name before any training; pixels in 0–255 train.
#[test]
fn arrays_in_other_units_than_pixels_are_named_errors() {
    use oddity::data::SampleShape;
    use oddity::jobs::{FitOptions, fit_arrays};
    let shape = SampleShape::Image {
        channels: 1,
        height: 8,
        width: 8,
    };
    let pixels: Vec<f32> = (0..20 * 64).map(|i| ((i * 37) % 256) as f32).collect();
    let device = oddity::device::parse("cpu").unwrap();
    let vae = || {
        let mut model = oddity::models::ModelConfig::default_for("vae").unwrap();
        let vae = model.get_mut::<oddity::models::VaeConfig>().unwrap();
        vae.image_size = 8;
        vae.importance_samples = 2;
        model
    };
    let options = FitOptions {
        epochs: Some(1),
        ..FitOptions::default()
    };
    let fit = |values: Vec<f32>| fit_arrays(vae(), values, shape, &options, &device, None);
    let unit: Vec<f32> = pixels.iter().map(|v| v / 255.0).collect();
    let err = fit(unit.clone()).err().expect("[0, 1] refused").to_string();
    assert!(
        err.contains("every value lies in [0, 1]") && err.contains("vae"),
        "{err}"
    );
    let scaled: Vec<f32> = pixels.iter().map(|v| v / 127.5 - 1.0).collect();
    let err = fit(scaled).err().expect("[−1, 1] refused").to_string();
    assert!(err.contains("a value is -1"), "{err}");
    let trained = fit(pixels).unwrap();
    let scaling = trained.run.config.preprocess.scaling;
    assert_eq!(scaling, oddity::data::preprocess::Scaling::MinusOneToOne);
    // Told to leave the values as they are, [0, 1] floats train too.
    let as_they_are = FitOptions {
        scaling: Some(oddity::data::preprocess::Scaling::None),
        ..options.clone()
    };
    fit_arrays(vae(), unit, shape, &as_they_are, &device, None).unwrap();
}

/// Spawn `oddity args`, wait until its checkpoint names an epoch of at least `epoch`, then
/// send it `signal` (`KILL` or `INT`); returns the exit status.
fn stop_when_checkpointed(
    args: &[&str],
    staging: &Path,
    epoch: usize,
    signal: &str,
) -> std::process::ExitStatus {
    let mut child = std::process::Command::new(oddity_bin())
        .args(args)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let current = staging.join("resume/current");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
    loop {
        let reached = std::fs::read_to_string(&current).ok().and_then(|name| {
            name.strip_prefix("epoch-")?
                .split('-')
                .next()?
                .parse::<usize>()
                .ok()
        });
        if reached.is_some_and(|e| e >= epoch) {
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the training ended before epoch {epoch}"
        );
        assert!(
            std::time::Instant::now() < deadline,
            "no checkpoint of epoch {epoch}"
        );
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    let pid = child.id().to_string();
    assert!(
        std::process::Command::new("kill")
            .args([&format!("-{signal}"), &pid])
            .status()
            .unwrap()
            .success()
    );
    child.wait_with_output().unwrap().status
}

/// A pseudo-random epoch in `lo..=hi`, different from run to run (the clock's nanoseconds).
fn some_epoch(lo: usize, hi: usize) -> usize {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    lo + nanos as usize % (hi - lo + 1)
}

/// The weights files and test scores of a run.
fn outcome(run: &Path) -> (Vec<u8>, Vec<u8>, String) {
    ok(&oddity(&[
        "eval",
        run.to_str().unwrap(),
        "--checkpoint",
        "last",
    ]));
    (
        std::fs::read(run.join("weights-last.safetensors")).unwrap(),
        std::fs::read(run.join("weights-best.safetensors")).unwrap(),
        std::fs::read_to_string(run.join("eval-last/scores.csv")).unwrap(),
    )
}

/// A tabular training killed (SIGKILL) at a random epoch and resumed reaches the same weights
/// and scores, bit for bit, as the same training uninterrupted.
#[test]
fn a_killed_tabular_training_resumes_to_the_same_run() {
    let dir = temp_dir("rel-resume-table");
    let data = good_table(&dir);
    let d = data.to_str().unwrap();
    let extra = ["--epochs", "12", "--batch-size", "1", "--seed", "7"];
    let (whole, resumed) = (dir.join("whole"), dir.join("resumed"));
    ok(&oddity(&train_args(d, whole.to_str().unwrap(), &extra)));
    let epoch = some_epoch(2, 10);
    let args = train_args(d, resumed.to_str().unwrap(), &extra);
    let status = stop_when_checkpointed(&args, &dir.join(".resumed.partial"), epoch, "KILL");
    assert!(!status.success());
    assert!(!resumed.exists(), "a killed training publishes nothing");
    // A new training of the same folder is refused while the stopped one can be resumed.
    assert_clean_error(&oddity(&args), &["--resume"]);
    // The same training as if killed before its first checkpoint: its configuration alone.
    let early = dir.join("early");
    std::fs::create_dir_all(dir.join(".early.partial/resume")).unwrap();
    std::fs::copy(
        dir.join(".resumed.partial/resume/run-config.json"),
        dir.join(".early.partial/resume/run-config.json"),
    )
    .unwrap();
    let o = oddity(&["train", "--resume", resumed.to_str().unwrap()]);
    ok(&o);
    assert_eq!(
        outcome(&resumed),
        outcome(&whole),
        "killed after epoch {epoch}"
    );
    assert!(!dir.join(".resumed.partial").exists());
    let o = oddity(&["train", "--resume", early.to_str().unwrap()]);
    ok(&o);
    assert!(stderr(&o).contains("training it again from the start"));
    assert_eq!(
        outcome(&early),
        outcome(&whole),
        "resumed with no checkpoint"
    );
}

/// An image training (GANomaly: two optimizers and a random generator) stopped by Ctrl-C in
/// the middle of an epoch and resumed reaches the same weights and scores, bit for bit.
#[test]
fn an_interrupted_image_training_resumes_to_the_same_run() {
    let dir = temp_dir("rel-resume-image");
    let (whole, resumed) = (dir.join("whole"), dir.join("resumed"));
    let args = |out: &Path| -> Vec<String> {
        [
            "train",
            "--model",
            "ganomaly",
            "--dataset",
            "builtin-mnist",
            "--protocol",
            "leave-one-out",
            "--class",
            "3",
            "--epochs",
            "3",
            "--max-train",
            "192",
            "--max-test",
            "128",
            "--seed",
            "2",
            "--out",
            out.to_str().unwrap(),
        ]
        .map(String::from)
        .to_vec()
    };
    let whole_args = args(&whole);
    ok(&oddity(
        &whole_args.iter().map(String::as_str).collect::<Vec<_>>(),
    ));
    let resumed_args = args(&resumed);
    let resumed_args: Vec<&str> = resumed_args.iter().map(String::as_str).collect();
    let epoch = some_epoch(1, 2);
    let status = stop_when_checkpointed(&resumed_args, &dir.join(".resumed.partial"), epoch, "INT");
    assert_eq!(
        status.code(),
        Some(130),
        "Ctrl-C ends with 130 after writing the checkpoint"
    );
    let current = std::fs::read_to_string(dir.join(".resumed.partial/resume/current")).unwrap();
    let o = oddity(&["train", "--resume", resumed.to_str().unwrap()]);
    ok(&o);
    assert_eq!(outcome(&resumed), outcome(&whole), "stopped at {current}");
}

/// `oddity` run from the folder `cwd`.
fn oddity_in(cwd: &Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(oddity_bin())
        .current_dir(cwd)
        .args(args)
        .output()
        .expect("the oddity binary runs")
}

/// A run is evaluated and scored only on what it was trained on: its data found from any
/// folder, data changed since refused (never scored as the run's), a table's columns matched
/// by name and order, and nothing of the user's replaced by `--force` or by an output path.
#[test]
fn a_run_reads_only_its_own_data_and_keeps_the_users_files() {
    let dir = temp_dir("rel-own-data");
    let data = good_table(&dir);
    let original = std::fs::read_to_string(&data).unwrap();
    ok(&oddity_in(&dir, &train_args("good.csv", "run", &[])));
    let run = dir.join("run");
    let r = run.to_str().unwrap();
    let score_csv = |data: &str, output: &str| {
        oddity(&[
            "score",
            r,
            "--dataset",
            "csv",
            "--data",
            data,
            "--output",
            output,
        ])
    };
    // From another folder holding a different table of the same name: the run's own is read.
    let other = dir.join("other");
    std::fs::create_dir_all(&other).unwrap();
    let swapped: String = original
        .lines()
        .map(|line| {
            let cells: Vec<&str> = line.split(',').collect();
            format!("{},{},{}\n", cells[1], cells[0], cells[2])
        })
        .collect();
    std::fs::write(other.join("good.csv"), &swapped).unwrap();
    ok(&oddity_in(&dir, &["eval", r, "--out", "here"]));
    ok(&oddity_in(&other, &["eval", r, "--out", "there"]));
    let recorded: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("run.json")).unwrap()).unwrap();
    assert_eq!(
        recorded["dataset"]["path"].as_str(),
        data.canonicalize().unwrap().to_str(),
        "run.json records the data's absolute path"
    );
    let test_scores = |eval: &Path| std::fs::read_to_string(eval.join("scores.csv")).unwrap();
    assert_eq!(
        test_scores(&dir.join("here")),
        test_scores(&other.join("there"))
    );
    // The table edited since training: refused, whatever the folder.
    std::fs::write(&data, original.replacen("0,0,0", "0,0.5,0", 1)).unwrap();
    assert_ne!(std::fs::read_to_string(&data).unwrap(), original);
    let o = oddity(&["eval", r, "--out", dir.join("edited").to_str().unwrap()]);
    assert_clean_error(&o, &["good.csv", "not the samples", "SHA-256"]);
    assert!(!dir.join("edited").exists());
    std::fs::write(&data, &original).unwrap();
    // A run with a score-time setting, for `score --run-data` below.
    ok(&oddity_in(
        &dir,
        &[
            "train",
            "--model",
            "alae",
            "--dataset",
            "csv",
            "--data",
            "good.csv",
            "--protocol",
            "tabular",
            "--epochs",
            "1",
            "--quiet",
            "--out",
            "alae",
        ],
    ));
    let alae = dir.join("alae");
    // The data moved: `eval --data` reads it from its new place, only if it is the same data.
    let moved = dir.join("moved.csv");
    std::fs::rename(&data, &moved).unwrap();
    let o = oddity(&["eval", r, "--out", dir.join("lost").to_str().unwrap()]);
    assert_clean_error(&o, &["good.csv", "no such file"]);
    let m = moved.to_str().unwrap();
    ok(&oddity(&[
        "eval",
        r,
        "--data",
        m,
        "--out",
        dir.join("found").to_str().unwrap(),
    ]));
    assert_eq!(
        test_scores(&dir.join("found")),
        test_scores(&dir.join("here"))
    );
    let not_it = other.join("good.csv");
    let o = oddity(&[
        "eval",
        r,
        "--data",
        not_it.to_str().unwrap(),
        "--out",
        dir.join("x").to_str().unwrap(),
    ]);
    assert_clean_error(&o, &["not the samples"]);
    // `score --run-data` reads the run's own split from the new place where scoring needs it
    // (here the threshold's refit under another score), with the same check; without it the
    // error names the flag and nothing is written.
    let rescored = |name: &str, data: &Path, extra: &[&str]| {
        let output = dir.join(name);
        let mut args = vec![
            "score",
            alae.to_str().unwrap(),
            "--dataset",
            "csv",
            "--data",
            data.to_str().unwrap(),
            "--model-config",
            r#"{"score": "latent"}"#,
            "--output",
            output.to_str().unwrap(),
        ];
        args.extend(extra);
        (oddity(&args), output)
    };
    let (o, lost) = rescored("lost.csv", &moved, &[]);
    assert_clean_error(&o, &["good.csv", "--run-data"]);
    assert!(!lost.exists());
    let (o, wrong) = rescored(
        "wrong.csv",
        &moved,
        &["--run-data", not_it.to_str().unwrap()],
    );
    assert_clean_error(&o, &["not the samples"]);
    assert!(!wrong.exists());
    let (o, found) = rescored("found.csv", &moved, &["--run-data", m]);
    ok(&o);
    std::fs::rename(&moved, &data).unwrap();
    let (o, in_place) = rescored("in-place.csv", &data, &[]);
    ok(&o);
    assert_eq!(
        std::fs::read_to_string(found).unwrap(),
        std::fs::read_to_string(in_place).unwrap(),
        "the moved data refits the same threshold as the data in place"
    );
    // New data with the columns swapped or renamed: refused, naming the columns.
    let scores = dir.join("scores.csv");
    let s = scores.to_str().unwrap();
    let renamed = table(&dir, "renamed.csv", &original.replacen("a,b,", "x,y,", 1));
    // A label the tabular protocol cannot read, or the label column twice: refused as in
    // training, not scored with blank labels or miscounted columns.
    let bad_label = table(&dir, "bad-label.csv", &original.replacen(",1\n", ",7\n", 1));
    let label_twice: String = (original.lines())
        .enumerate()
        .map(|(i, line)| match i {
            0 => format!("{line},label\n"),
            _ => format!("{line},0\n"),
        })
        .collect();
    let label_twice = table(&dir, "label-twice.csv", &label_twice);
    for (path, needles) in [
        (
            other.join("good.csv"),
            &["feature column 1", "another order"][..],
        ),
        (renamed, &["feature column 1", "\"x\""][..]),
        (bad_label, &["bad-label.csv", "label \"7\" must be 0"][..]),
        (
            label_twice,
            &["label-twice.csv", "\"label\" appears twice"][..],
        ),
    ] {
        let p = path.to_str().unwrap();
        let o = score_csv(p, s);
        assert_clean_error(&o, needles);
        assert!(!scores.exists());
    }
    ok(&score_csv(data.to_str().unwrap(), s));
    // New data without a label column: every column a feature, scored with an empty label.
    let unlabelled: String = original
        .lines()
        .map(|line| line.rsplit_once(',').unwrap().0.to_string() + "\n")
        .collect();
    let new_rows = table(&dir, "new.csv", &unlabelled);
    let new_scores = dir.join("new-scores.csv");
    let (n, ns) = (new_rows.to_str().unwrap(), new_scores.to_str().unwrap());
    ok(&score_csv(n, ns));
    let labelled = std::fs::read_to_string(&scores).unwrap();
    let unlabelled_scores = std::fs::read_to_string(&new_scores).unwrap();
    let column = |text: &str, at: usize| -> Vec<String> {
        text.lines()
            .skip(1)
            .map(|l| l.split(',').nth(at).unwrap().to_string())
            .collect()
    };
    assert_eq!(
        column(&unlabelled_scores, 3),
        column(&labelled, 3),
        "the same scores"
    );
    assert!(
        column(&unlabelled_scores, 4).iter().all(String::is_empty),
        "no labels"
    );
    // A file that oddity did not write is not replaced by a result; one it wrote is.
    let notes = table(&dir, "notes.txt", "mine");
    let d = data.to_str().unwrap();
    let o = score_csv(d, notes.to_str().unwrap());
    assert_clean_error(&o, &["notes.txt", "did not write"]);
    assert_eq!(std::fs::read_to_string(&notes).unwrap(), "mine");
    ok(&score_csv(d, s));
    let o = oddity(&["metrics", "--scores", s, "--json", notes.to_str().unwrap()]);
    assert_clean_error(&o, &["--json", "did not write"]);
    let empty = table(&dir, "empty.csv", "");
    ok(&score_csv(d, empty.to_str().unwrap()));
    assert_eq!(
        std::fs::read(&empty).unwrap(),
        std::fs::read(&scores).unwrap()
    );
    // The input through another hard link is the input.
    let link = dir.join("link.csv");
    std::fs::hard_link(&scores, &link).unwrap();
    let o = oddity(&["metrics", "--scores", s, "--json", link.to_str().unwrap()]);
    assert_clean_error(&o, &["--json", "is the input"]);
    // --force replaces a run whole only when nothing else is in its folder.
    std::fs::write(run.join("notes.txt"), "mine").unwrap();
    let o = oddity(&train_args(d, r, &["--force"]));
    assert_clean_error(&o, &["notes.txt", "did not write"]);
    assert_eq!(
        std::fs::read_to_string(run.join("notes.txt")).unwrap(),
        "mine"
    );
    std::fs::rename(run.join("notes.txt"), run.join("data.csv")).unwrap();
    std::fs::write(run.join("data.csv"), &original).unwrap();
    let inside = run.join("data.csv");
    let o = oddity(&train_args(inside.to_str().unwrap(), r, &["--force"]));
    assert_clean_error(&o, &["data.csv", "inside the output folder"]);
    assert!(inside.is_file());
    std::fs::remove_file(&inside).unwrap();
    ok(&oddity(&train_args(d, r, &["--force"])));
    // Nor a run inside a folder of class folders, where it would be read as a class.
    let images = dir.join("images");
    std::fs::create_dir_all(images.join("a")).unwrap();
    let nested = images.join("run");
    let o = oddity(&[
        "train",
        "--model",
        "autoencoder",
        "--dataset",
        "image-folder",
        "--data",
        images.to_str().unwrap(),
        "--protocol",
        "one-class",
        "--class",
        "a",
        "--out",
        nested.to_str().unwrap(),
    ]);
    assert_clean_error(&o, &["inside the data folder"]);
    assert!(!nested.exists());
    // The same run named twice in a report.
    let page = dir.join("page.html");
    let again = format!("{r}/");
    let o = oddity(&["report", r, &again, "--out", page.to_str().unwrap()]);
    assert_clean_error(&o, &["the same run folder"]);
    assert!(!page.exists() && !run.join("eval-best").exists());
    // A value beyond 32-bit floats is said to be so, not "not finite".
    let huge = table(&dir, "huge.csv", &original.replacen("0,0,0", "1e39,0,0", 1));
    let o = oddity(&train_args(
        huge.to_str().unwrap(),
        dir.join("huge").to_str().unwrap(),
        &[],
    ));
    assert_clean_error(&o, &["\"1e39\"", "beyond the range of 32-bit floats"]);
    // A setting only the image networks use, on a table (it was ignored): refused, named.
    let o = oddity(&train_args(
        d,
        dir.join("image-setting").to_str().unwrap(),
        &["--model-config", r#"{"image_size": 64}"#],
    ));
    assert_clean_error(&o, &["image_size", "only for images"]);
    // A setting given twice with two values: refused, naming both.
    let o = oddity(&train_args(
        d,
        dir.join("twice").to_str().unwrap(),
        &["--epochs", "1", "--model-config", r#"{"epochs": 3}"#],
    ));
    assert_clean_error(&o, &["--epochs 1", "\"epochs\": 3", "disagree"]);
    let o = oddity(&train_args(
        d,
        dir.join("twice").to_str().unwrap(),
        &["--model-config", "[1, 2]"],
    ));
    assert_clean_error(&o, &["expected a JSON object"]);
}
