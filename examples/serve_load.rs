//! Load benchmark of `oddity serve`: requests per second and p50/p99 latency against the
//! number of concurrent clients, one sample per request, beside batch scoring's samples per
//! second for the same run in this process. Run by `bench/serve_load.sh`, which trains the
//! runs and starts the server.
//!
//! ```text
//! cargo run --release --example serve_load -- URL MODEL RUN_DIR SECONDS CONCURRENCY...
//! ```
//! `MODEL` names a served run whose folder is `RUN_DIR`: an MNIST image run (requests are
//! PNG digits from `fixtures/mnist`) or a table run on `fixtures/adbench/4_breastw.npz`
//! (requests are JSON rows).

use oddity::data::Samples;
use oddity::data::source::{self, DatasetKind, DatasetSpec};
use oddity::run::{self, Checkpoint, Run};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    anyhow::ensure!(
        args.len() >= 5,
        "usage: serve_load URL MODEL RUN_DIR SECONDS CONCURRENCY..."
    );
    let (url, model, run_dir) = (&args[0], &args[1], PathBuf::from(&args[2]));
    let seconds: f64 = args[3].parse()?;
    let levels: Vec<usize> = args[4..]
        .iter()
        .map(|a| a.parse())
        .collect::<Result<_, _>>()?;
    let run = Run::load(&run_dir)?;
    let image = run.preprocessor.input.image_dims().is_some();
    let samples = fixture_samples(image)?;
    let (content_type, bodies) = request_bodies(&samples, image);

    let batch = batch_throughput(&run, &samples)?;
    println!("| clients | requests/s | p50 ms | p99 ms | samples per forward pass |");
    println!("|---:|---:|---:|---:|---:|");
    for &clients in &levels {
        let before = served(url, model)?;
        let (latencies, elapsed) = drive(url, model, content_type, &bodies, clients, seconds);
        let after = served(url, model)?;
        let per_pass = (after.0 - before.0) as f64 / (after.1 - before.1).max(1) as f64;
        println!(
            "| {clients} | {:.0} | {:.2} | {:.2} | {per_pass:.1} |",
            latencies.len() as f64 / elapsed,
            percentile(&latencies, 0.50),
            percentile(&latencies, 0.99),
        );
    }
    println!(
        "\nbatch scoring in process (`oddity score`'s path, {} samples at once): {batch:.0} samples/s",
        samples.len()
    );
    Ok(())
}

/// The fixture samples the requests carry: MNIST test digits or breastw rows.
fn fixture_samples(image: bool) -> anyhow::Result<Samples> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let (kind, path) = if image {
        (DatasetKind::Mnist, root.join("mnist"))
    } else {
        (DatasetKind::Adbench, root.join("adbench/4_breastw.npz"))
    };
    let source = source::load(&DatasetSpec::new(kind, path))?;
    let set = if image {
        source.test.expect("MNIST has a test split")
    } else {
        source.train
    };
    let mut samples = Samples::empty(set.shape);
    for i in 0..set.len().min(512) {
        samples.push_from(&set, 0, i, 0);
    }
    Ok(samples)
}

/// One request body per sample: a PNG digit or a one-row JSON body.
fn request_bodies(samples: &Samples, image: bool) -> (&'static str, Vec<Vec<u8>>) {
    let bodies = (0..samples.len())
        .map(|i| {
            let values = samples.sample(i);
            if image {
                let pixels = values.iter().map(|&v| v as u8).collect();
                let img = image::GrayImage::from_raw(28, 28, pixels).expect("28 × 28 digits");
                let mut png = Vec::new();
                img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
                    .expect("PNG encodes");
                png
            } else {
                serde_json::json!({ "rows": [values] })
                    .to_string()
                    .into_bytes()
            }
        })
        .collect();
    let content_type = if image {
        "image/png"
    } else {
        "application/json"
    };
    (content_type, bodies)
}

/// Samples per second of scoring every sample at once, in this process (best of 3).
fn batch_throughput(run: &Run, samples: &Samples) -> anyhow::Result<f64> {
    let device = oddity::device::parse("cpu")?;
    let detector = run.detector(Checkpoint::Best, &device)?;
    run::score_raw(run, detector.as_ref(), samples)?; // warm up
    let mut best = f64::INFINITY;
    for _ in 0..3 {
        let start = Instant::now();
        run::score_raw(run, detector.as_ref(), samples)?;
        best = best.min(start.elapsed().as_secs_f64());
    }
    Ok(samples.len() as f64 / best)
}

/// `(samples, batches)` the model's thread has scored so far.
fn served(url: &str, model: &str) -> anyhow::Result<(u64, u64)> {
    let mut r = ureq::get(format!("{url}/v1/models")).call()?;
    let v: serde_json::Value = serde_json::from_str(&r.body_mut().read_to_string()?)?;
    let m = v["models"]
        .as_array()
        .and_then(|ms| ms.iter().find(|m| m["name"] == model))
        .ok_or_else(|| anyhow::anyhow!("no model {model} served at {url}"))?;
    let get = |k: &str| m["served"][k].as_u64().unwrap_or(0);
    Ok((get("samples"), get("batches")))
}

/// `clients` threads each sending one request after another for `seconds`; every latency in
/// milliseconds, and the seconds elapsed.
fn drive(
    url: &str,
    model: &str,
    content_type: &'static str,
    bodies: &[Vec<u8>],
    clients: usize,
    seconds: f64,
) -> (Vec<f64>, f64) {
    let target = format!("{url}/v1/models/{model}/score");
    let start = Instant::now();
    let until = start + Duration::from_secs_f64(seconds);
    let latencies = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..clients)
            .map(|c| {
                let target = &target;
                scope.spawn(move || {
                    let agent: ureq::Agent = ureq::Agent::config_builder().build().into();
                    let mut mine = Vec::new();
                    let mut k = c;
                    while Instant::now() < until {
                        let body = &bodies[k % bodies.len()];
                        let sent = Instant::now();
                        let ok = agent
                            .post(target)
                            .header("Content-Type", content_type)
                            .send(&body[..])
                            .is_ok_and(|r| r.status() == 200);
                        assert!(ok, "a request failed under load");
                        mine.push(sent.elapsed().as_secs_f64() * 1e3);
                        k += clients;
                    }
                    mine
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("a client thread"))
            .collect::<Vec<f64>>()
    });
    (latencies, start.elapsed().as_secs_f64())
}

fn percentile(values: &[f64], q: f64) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * q).round() as usize]
}
