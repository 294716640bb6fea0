//! The web page in a real browser: headless Chromium (Debian's `chromium`), driven by
//! `tests/browser/page.mjs` (playwright-core, installed by `npm ci` in `tests/browser/`),
//! uploads digits and pastes table rows into the page `oddity serve` embeds, and the verdicts,
//! scores and heat maps it shows must be the API's — for an OOD classifier too, its classes and
//! verdicts on a chosen score; then Chromium renders the HTML report of the detectors' runs.
//! Screenshots are saved in `target/browser/` (`serve-page.png`, `serve-page-ood.png`,
//! `report.png`).
//!
//! Where Chromium or the Node packages are missing the test says so and passes, unless
//! `ODDITY_BROWSER_TESTS=required` (set by `.ci/run`, which installs both).

mod common;

use common::serving::*;
use common::*;
use oddity::data::source::DatasetKind;
use std::path::{Path, PathBuf};

/// Headless Chromium on a machine without network (flags from the machine notes).
const CHROMIUM_FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
];

fn chromium() -> String {
    std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into())
}

/// Whether the browser tests can run here; panics where they are required but cannot.
fn browser_available() -> bool {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    let chromium = chromium();
    let missing: Vec<String> = [
        (
            Path::new(&chromium).is_file(),
            format!("{chromium} (apt-get install chromium)"),
        ),
        (
            root.join("node_modules/playwright-core").is_dir(),
            "tests/browser/node_modules (npm ci in tests/browser)".to_string(),
        ),
    ]
    .into_iter()
    .filter(|(present, _)| !present)
    .map(|(_, what)| what)
    .collect();
    if missing.is_empty() {
        return true;
    }
    let required = std::env::var("ODDITY_BROWSER_TESTS").is_ok_and(|v| v == "required");
    assert!(
        !required,
        "browser tests required, but missing: {}",
        missing.join(", ")
    );
    eprintln!("browser test skipped: missing {}", missing.join(", "));
    false
}

/// Run `tests/browser/page.mjs` with `args`; its JSON report.
fn drive_page(args: &[&str]) -> serde_json::Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser/page.mjs");
    let o = std::process::Command::new("node")
        .arg(script)
        .args(args)
        .output()
        .expect("node runs");
    assert!(o.status.success(), "page.mjs failed: {}", stderr(&o));
    serde_json::from_slice(&o.stdout).unwrap_or_else(|_| panic!("{}", stdout(&o)))
}

#[test]
fn the_page_scores_uploads_and_rows_as_the_api_does() {
    if !browser_available() {
        return;
    }
    let dir = temp_dir("browser");
    let (table_run, image_run) = train_runs(&dir);
    // An OOD classifier of the digits: one epoch on 600 of them, 100 held out to calibrate.
    let ood_run = dir.join("digits-ood");
    let o = oddity(&[
        "ood",
        "train",
        "--dataset",
        "mnist",
        "--data",
        fixture("mnist").to_str().unwrap(),
        "--max-train",
        "600",
        "--validation",
        "100",
        "--classifier-config",
        r#"{"epochs": 1}"#,
        "--out",
        ood_run.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    // Three test digits (the trained "1" and two others) and a Fashion-MNIST image.
    let digits = raw_samples(DatasetKind::Mnist, fixture("mnist"), true, 200);
    let mut images: Vec<PathBuf> = [1u32, 7, 3]
        .iter()
        .map(|&digit| {
            let i = digits.classes.iter().position(|&c| c == digit).unwrap();
            let path = dir.join(format!("digit-{digit}.png"));
            std::fs::write(&path, png_of(digits.sample(i), 28)).unwrap();
            path
        })
        .collect();
    let clothes = raw_samples(DatasetKind::FashionMnist, fixture("fashion-mnist"), true, 1);
    let garment = dir.join("garment.png");
    std::fs::write(&garment, png_of(clothes.sample(0), 28)).unwrap();
    images.push(garment);
    let rows = raw_samples(
        DatasetKind::Adbench,
        fixture("adbench/4_breastw.npz"),
        false,
        4,
    );
    let csv: String = (0..rows.len())
        .map(|i| {
            let cells: Vec<String> = rows.sample(i).iter().map(|v| v.to_string()).collect();
            cells.join(",") + "\n"
        })
        .collect();
    let csv_file = dir.join("rows.csv");
    std::fs::write(&csv_file, &csv).unwrap();

    let server = serve(&[&table_run, &image_run, &ood_run], &[]);
    let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/browser");
    std::fs::create_dir_all(&shots).unwrap();
    let screenshot = shots.join("serve-page.png");
    let _ = std::fs::remove_file(&screenshot);
    let mut args = vec![
        server.url.as_str(),
        "mnist-1",
        "breastw",
        "digits-ood",
        "mahalanobis-penultimate",
        csv_file.to_str().unwrap(),
        screenshot.to_str().unwrap(),
    ];
    args.extend(images.iter().map(|p| p.to_str().unwrap()));
    let shown = drive_page(&args);

    // What the API says of the same inputs.
    let agent: ureq::Agent = ureq::Agent::config_builder().build().into();
    let api = |model: &str, content_type: &str, body: &[u8]| -> serde_json::Value {
        let mut r = agent
            .post(format!("{}/v1/models/{model}/score", server.url))
            .header("Content-Type", content_type)
            .send(body)
            .unwrap();
        serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap()
    };
    let verdict = |r: &serde_json::Value| {
        if r["anomalous"].as_bool().unwrap() {
            "anomalous"
        } else {
            "normal"
        }
    };
    assert_eq!(
        shown["models"],
        serde_json::json!(["breastw", "digits-ood", "mnist-1"])
    );
    assert!(shown["error"].as_str().unwrap().is_empty(), "{shown}");
    assert_eq!(
        shown["outside"],
        serde_json::json!([]),
        "the page reached outside the server"
    );
    assert_eq!(shown["errors"], serde_json::json!([]), "script errors");
    assert!(
        shown["info"]
            .as_str()
            .unwrap()
            .contains("autoencoder on mnist"),
        "{shown}"
    );

    let from_api = api("breastw", "text/csv", csv.as_bytes());
    let cards = shown["rows"].as_array().unwrap();
    assert_eq!(cards.len(), rows.len());
    for (card, r) in cards.iter().zip(from_api["results"].as_array().unwrap()) {
        assert_eq!(card["verdict"].as_str(), Some(verdict(r)), "{card}");
        let score = format!("score {}", to_precision(r["score"].as_f64().unwrap(), 5));
        assert!(
            card["numbers"].as_str().unwrap().starts_with(&score),
            "{card} vs {score}"
        );
    }
    let cards = shown["cards"].as_array().unwrap();
    assert_eq!(cards.len(), images.len());
    for (card, path) in cards.iter().zip(&images) {
        let r = &api("mnist-1", "image/png", &std::fs::read(path).unwrap())["results"][0];
        let name = path.file_name().unwrap().to_str().unwrap();
        assert_eq!(card["title"].as_str(), Some(name));
        assert_eq!(card["verdict"].as_str(), Some(verdict(r)), "{card}");
        assert!(
            card["numbers"].as_str().unwrap().contains("p-value"),
            "{card}"
        );
        assert_eq!(
            card["overlay"],
            serde_json::json!({ "width": 420, "height": 140 })
        );
    }
    let shot = image::open(&screenshot).unwrap();
    assert!(shot.width() >= 1000 && shot.height() >= 600);

    // The OOD classifier: its description, its scores to choose from (the ensemble by
    // default), and each image's class or refusal on the penultimate layer's Mahalanobis
    // score, as the API answers.
    let ood = &shown["ood"];
    assert!(ood["error"].as_str().unwrap().is_empty(), "{ood}");
    let info = ood["info"].as_str().unwrap();
    assert!(
        info.contains("LeNet classifier of 10 classes on mnist") && info.contains("100 validation"),
        "{info}"
    );
    assert_eq!(
        ood["scores"],
        serde_json::json!([
            "msp",
            "odin",
            "energy",
            "mahalanobis",
            "mahalanobis-penultimate"
        ])
    );
    assert_eq!(ood["defaultScore"], "mahalanobis");
    let cards = ood["cards"].as_array().unwrap();
    assert_eq!(cards.len(), images.len());
    let mut refused = 0;
    for (card, path) in cards.iter().zip(&images) {
        let r = &api_query(
            &agent,
            &server.url,
            "digits-ood",
            "?score=mahalanobis-penultimate",
            path,
        )["results"][0];
        let name = path.file_name().unwrap().to_str().unwrap();
        assert_eq!(card["title"].as_str(), Some(name));
        assert_eq!(card["overlay"], false);
        let class = r["class"].as_str().unwrap();
        let verdict = card["verdict"].as_str().unwrap();
        if r["out_of_distribution"].as_bool().unwrap() {
            refused += 1;
            assert_eq!(verdict, "out of distribution", "{card}");
        } else {
            // The class and its probability in per cent, one decimal.
            let percent = verdict
                .strip_prefix(&format!("class {class} ("))
                .and_then(|rest| rest.strip_suffix(" %)"))
                .unwrap_or_else(|| panic!("{card}"));
            let probability = 100.0 * r["probability"].as_f64().unwrap();
            assert!(
                (percent.parse::<f64>().unwrap() - probability).abs() <= 0.051,
                "{card}"
            );
        }
        let p = format!(
            "p-value {} vs 0.05 (mahalanobis-penultimate ",
            to_precision(r["p_value"].as_f64().unwrap(), 3)
        );
        let numbers = card["numbers"].as_str().unwrap();
        assert!(
            numbers.starts_with(&p) && numbers.ends_with(&format!("predicted class {class}")),
            "{numbers} vs {p}"
        );
    }
    // Measured: the garment refused (p = 0.01), two of the three digits accepted — both kinds
    // of card drawn.
    assert!(
        cards.last().unwrap()["verdict"] == "out of distribution" && refused < images.len(),
        "{cards:?}"
    );
    drop(server);

    // The HTML report of both runs, rendered by Chromium: charts drawn, not a blank page.
    let report = dir.join("report.html");
    let o = oddity(&[
        "report",
        table_run.to_str().unwrap(),
        image_run.to_str().unwrap(),
        "--out",
        report.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let report_shot = shots.join("report.png");
    let _ = std::fs::remove_file(&report_shot);
    let o = std::process::Command::new(chromium())
        .args(CHROMIUM_FLAGS)
        .arg(format!(
            "--user-data-dir={}",
            dir.join("chromium").display()
        ))
        .arg("--window-size=1200,2400")
        .arg(format!("--screenshot={}", report_shot.display()))
        .arg(format!("file://{}", report.display()))
        .output()
        .unwrap();
    assert!(report_shot.is_file(), "no screenshot: {}", stderr(&o));
    let shot = image::open(&report_shot).unwrap().to_rgb8();
    // Blue curves and red and blue histogram bars: the SVG charts were drawn.
    let blue = shot
        .pixels()
        .filter(|p| p[2] > 200 && p[0] < 60 && p[1] < 60)
        .count();
    assert!(blue > 500, "{blue} blue pixels");
}

/// The API's answer for one image file with `query`.
fn api_query(
    agent: &ureq::Agent,
    url: &str,
    model: &str,
    query: &str,
    image: &Path,
) -> serde_json::Value {
    let mut r = agent
        .post(format!("{url}/v1/models/{model}/score{query}"))
        .header("Content-Type", "image/png")
        .send(&std::fs::read(image).unwrap())
        .unwrap();
    serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap()
}

/// JavaScript's `Number.prototype.toPrecision` for the magnitudes scores have.
fn to_precision(v: f64, digits: i32) -> String {
    if v == 0.0 {
        return format!("{:.*}", (digits - 1) as usize, 0.0);
    }
    let exponent = v.abs().log10().floor() as i32;
    if exponent < -6 || exponent >= digits {
        let mantissa = v / 10f64.powi(exponent);
        let m = format!("{:.*}", (digits - 1) as usize, mantissa);
        let sign = if exponent < 0 { "-" } else { "+" };
        return format!("{m}e{sign}{}", exponent.abs());
    }
    let decimals = (digits - 1 - exponent).max(0) as usize;
    format!("{v:.decimals$}")
}
