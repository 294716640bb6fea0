//! `oddity serve` end to end: the binary serves two real runs (an image and a table model) on
//! a free loopback port and a real HTTP client drives every endpoint — scores equal to batch
//! scoring's under a concurrent load of 8 clients × 200 requests, nothing lost, overlays,
//! p-values, and every bad request a 4xx (or 503/504) with a JSON error naming the problem.

mod common;

use common::serving::*;
use common::*;
use oddity::data::Samples;
use oddity::data::source::DatasetKind;
use oddity::run::{self, Checkpoint, Run};
use std::io::{Read, Write};
use std::path::Path;

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}

/// An answer: status, `Retry-After`, body as JSON.
struct Answer {
    status: u16,
    retry_after: Option<String>,
    /// The `Connection` header.
    connection: Option<String>,
    json: serde_json::Value,
}

#[track_caller]
fn answer(response: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Answer {
    let mut response = response.unwrap();
    let status = response.status().as_u16();
    let header =
        |name: &str| (response.headers().get(name)).map(|v| v.to_str().unwrap().to_string());
    let (retry_after, connection) = (header("retry-after"), header("connection"));
    let text = response.body_mut().read_to_string().unwrap();
    let json =
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}"));
    Answer {
        status,
        retry_after,
        connection,
        json,
    }
}

#[track_caller]
fn post(agent: &ureq::Agent, url: &str, content_type: &str, body: &[u8]) -> Answer {
    answer(
        agent
            .post(url)
            .header("Content-Type", content_type)
            .send(body),
    )
}

#[track_caller]
fn get(agent: &ureq::Agent, url: &str) -> Answer {
    answer(agent.get(url).call())
}

/// A refused request: this status, `Connection: close`, and an error naming each of `needles`.
fn assert_refused(a: &Answer, status: u16, needles: &[&str]) {
    assert_eq!(a.status, status, "{}", a.json);
    // Refused perhaps before its body was read: the connection is not to be reused.
    assert_eq!(a.connection.as_deref(), Some("close"), "{}", a.json);
    let error = a.json["error"]
        .as_str()
        .unwrap_or_else(|| panic!("{}", a.json));
    for n in needles {
        assert!(error.contains(n), "expected {n:?} in {error:?}");
    }
}

/// A refusal read off a raw socket: this status line, `Connection: close`, and each of
/// `needles` in the reply.
#[track_caller]
fn assert_raw_refused(reply: &str, status: u16, needles: &[&str]) {
    assert!(
        reply.starts_with(&format!("HTTP/1.1 {status} ")),
        "expected {status}: {reply}"
    );
    assert!(
        reply
            .to_ascii_lowercase()
            .contains("\r\nconnection: close\r\n"),
        "{reply}"
    );
    for n in needles {
        assert!(reply.contains(n), "expected {n:?} in {reply}");
    }
}

/// Send `head` (request line, headers and perhaps part of a body) on a new connection and read
/// until a JSON error arrives or the connection closes.
fn raw_request(address: &str, head: &str) -> String {
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    stream.write_all(head.as_bytes()).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let mut reply = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&reply).contains("\"}") {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => reply.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&reply).into_owned()
}

fn multipart(images: &[Vec<u8>]) -> (String, Vec<u8>) {
    let boundary = "oddity-test-boundary-7d1f";
    let mut body = Vec::new();
    for (i, png) in images.iter().enumerate() {
        write!(
            body,
            "--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; \
             filename=\"{i}.png\"\r\nContent-Type: image/png\r\n\r\n"
        )
        .unwrap();
        body.extend_from_slice(png);
        body.extend_from_slice(b"\r\n");
    }
    write!(body, "--{boundary}--\r\n").unwrap();
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// Batch scores of `raw` by the run in `dir` (best weights), as `oddity score` computes them.
fn batch_scores(dir: &Path, raw: &Samples) -> Vec<f32> {
    let run = Run::load(dir).unwrap();
    let device = oddity::device::parse("cpu").unwrap();
    let detector = run.detector(Checkpoint::Best, &device).unwrap();
    run::score_raw(&run, detector.as_ref(), raw).unwrap()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-4 * b.abs().max(1.0)
}

#[test]
fn serves_scores_equal_to_batch_scoring_and_refuses_bad_requests() {
    let dir = temp_dir("serve");
    let (table_run, image_run) = train_runs(&dir);
    let rows = raw_samples(
        DatasetKind::Adbench,
        fixture("adbench/4_breastw.npz"),
        false,
        usize::MAX,
    );
    let digits = raw_samples(DatasetKind::Mnist, fixture("mnist"), true, 64);
    let row_scores = batch_scores(&table_run, &rows);
    let digit_scores = batch_scores(&image_run, &digits);
    let pngs: Vec<Vec<u8>> = (0..digits.len())
        .map(|i| png_of(digits.sample(i), 28))
        .collect();
    let features = rows.shape.len();
    let row_json = |i: usize| {
        serde_json::json!({ "rows": [rows.sample(i).iter().map(|&v| v as f64).collect::<Vec<_>>()] })
            .to_string()
    };

    let server = serve(&[&table_run, &image_run], &[]);
    let (url, agent) = (server.url.clone(), agent());
    let score_url = |model: &str| format!("{url}/v1/models/{model}/score");

    // Health, the model list, the page.
    let health = get(&agent, &format!("{url}/healthz"));
    assert_eq!(
        (health.status, health.json["status"].as_str()),
        (200, Some("ok"))
    );
    let models = get(&agent, &format!("{url}/v1/models")).json;
    let models = models["models"].as_array().unwrap();
    let names: Vec<&str> = models.iter().map(|m| m["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["breastw", "mnist-1"]);
    let (table, image) = (&models[0], &models[1]);
    assert_eq!(
        (table["data"].as_str(), table["maps"].as_bool()),
        (Some("table"), Some(false))
    );
    assert_eq!(table["input"]["features"].as_u64(), Some(features as u64));
    assert_eq!(
        (image["data"].as_str(), image["maps"].as_bool()),
        (Some("image"), Some(true))
    );
    assert_eq!(image["input"]["height"].as_u64(), Some(28));
    let table_run_loaded = Run::load(&table_run).unwrap();
    let threshold = table_run_loaded.thresholds.best.value;
    assert_eq!(table["threshold"].as_f64(), Some(threshold));
    assert!(table["calibration_samples"].as_u64().unwrap() > 0);
    assert!(table["training"]["epochs"].as_u64() == Some(10));
    let mut page = agent.get(&url).call().unwrap();
    let csp = page
        .headers()
        .get("content-security-policy")
        .unwrap()
        .to_str()
        .unwrap();
    assert!(csp.contains("default-src 'self'"));
    let html = page.body_mut().read_to_string().unwrap();
    assert!(html.contains("<select id=\"model\">") && !html.contains("https://"));

    // Rows as JSON and as CSV, images raw and in a multipart form: the batch scores, verdicts
    // at the run's threshold, p-values from calibration.json.
    let calibration =
        oddity::conformal::Calibration::new(&table_run_loaded.calibration.as_ref().unwrap().best)
            .unwrap();
    let all_rows: Vec<Vec<f64>> = (0..20)
        .map(|i| rows.sample(i).iter().map(|&v| v as f64).collect())
        .collect();
    let a = post(
        &agent,
        &score_url("breastw"),
        "application/json",
        serde_json::json!({ "rows": all_rows })
            .to_string()
            .as_bytes(),
    );
    assert_eq!(a.status, 200, "{}", a.json);
    let results = a.json["results"].as_array().unwrap();
    assert_eq!(results.len(), 20);
    for (i, r) in results.iter().enumerate() {
        let score = r["score"].as_f64().unwrap();
        assert!(
            close(score, row_scores[i] as f64),
            "row {i}: {score} vs {}",
            row_scores[i]
        );
        assert_eq!(r["anomalous"].as_bool(), Some(score >= threshold));
        let p = r["p_value"].as_f64().unwrap();
        assert!((p - calibration.p_value(score as f32)).abs() < 1e-12);
    }
    let csv: String = std::iter::once("a,b,c,d,e,f,g,h,i\n".to_string())
        .chain(all_rows.iter().map(|r| {
            r.iter()
                .map(|v| v.to_string())
                .collect::<Vec<_>>()
                .join(",")
                + "\n"
        }))
        .collect();
    let a = post(&agent, &score_url("breastw"), "text/csv", csv.as_bytes());
    assert_eq!(a.json["results"], serde_json::Value::Array(results.clone()));
    // pandas' header of unnamed columns is a row of numbers too: the request must say which.
    let numbered = csv.replacen("a,b,c,d,e,f,g,h,i", "0,1,2,3,4,5,6,7,8", 1);
    assert_refused(
        &post(
            &agent,
            &score_url("breastw"),
            "text/csv",
            numbered.as_bytes(),
        ),
        400,
        &["line 1", "header=true"],
    );
    let a = post(
        &agent,
        &(score_url("breastw") + "?header=true"),
        "text/csv",
        numbered.as_bytes(),
    );
    assert_eq!(a.json["results"], serde_json::Value::Array(results.clone()));
    let a = post(
        &agent,
        &(score_url("breastw") + "?header=false"),
        "text/csv",
        numbered.as_bytes(),
    );
    assert_eq!(a.json["results"].as_array().map(Vec::len), Some(21));
    assert_refused(
        &post(
            &agent,
            &(score_url("breastw") + "?header=true"),
            "application/json",
            serde_json::json!({ "rows": all_rows })
                .to_string()
                .as_bytes(),
        ),
        400,
        &["header=", "not CSV"],
    );
    // A false-alarm rate per request: flagged exactly when p ≤ α.
    let a = post(
        &agent,
        &(score_url("breastw") + "?false_alarm_rate=0.1"),
        "application/json",
        serde_json::json!({ "rows": all_rows })
            .to_string()
            .as_bytes(),
    );
    for r in a.json["results"].as_array().unwrap() {
        let p = r["p_value"].as_f64().unwrap();
        assert_eq!(r["anomalous"].as_bool(), Some(p <= 0.1 + 1e-12), "{r}");
    }
    let a = post(&agent, &score_url("mnist-1"), "image/png", &pngs[3]);
    assert_eq!(a.status, 200, "{}", a.json);
    assert!(close(
        a.json["results"][0]["score"].as_f64().unwrap(),
        digit_scores[3] as f64
    ));
    assert!(a.json["results"][0].get("overlay").is_none());
    let (content_type, body) = multipart(&pngs[..5]);
    let a = post(
        &agent,
        &(score_url("mnist-1") + "?overlay=true"),
        &content_type,
        &body,
    );
    assert_eq!(a.status, 200, "{}", a.json);
    let results = a.json["results"].as_array().unwrap();
    assert_eq!(results.len(), 5);
    for (i, r) in results.iter().enumerate() {
        assert!(close(r["score"].as_f64().unwrap(), digit_scores[i] as f64));
        let overlay = r["overlay"].as_str().unwrap();
        let png = overlay.strip_prefix("data:image/png;base64,").unwrap();
        use base64::Engine;
        let png = base64::engine::general_purpose::STANDARD
            .decode(png)
            .unwrap();
        let drawn = image::load_from_memory(&png).unwrap();
        // image, heat map, region at the run's pixel threshold; 28 px enlarged to 140.
        assert_eq!((drawn.width(), drawn.height()), (3 * 140, 140));
    }

    // Bad requests: each a 4xx naming its problem; the server carries on.
    let rows_body = row_json(0);
    assert_refused(
        &post(
            &agent,
            &score_url("nope"),
            "application/json",
            rows_body.as_bytes(),
        ),
        404,
        &["nope", "breastw"],
    );
    assert_refused(&get(&agent, &format!("{url}/v2")), 404, &["no such route"]);
    assert_refused(&get(&agent, &score_url("breastw")), 405, &["method"]);
    assert_refused(
        &post(&agent, &score_url("breastw"), "text/plain", b"1,2"),
        415,
        &["text/plain"],
    );
    assert_refused(
        &answer(agent.post(&score_url("breastw")).send(&b"1,2"[..])),
        415,
        &["Content-Type"],
    );
    // A Content-Type that names no media type, two of them, a compressed body: each named.
    assert_refused(
        &post(&agent, &score_url("breastw"), ";;;", b"1,2"),
        415,
        &["\";;;\""],
    );
    let address = url.strip_prefix("http://").unwrap();
    let reply = raw_request(
        address,
        &format!(
            "POST /v1/models/breastw/score HTTP/1.1\r\nHost: {address}\r\nContent-Type: text/csv\r\n\
             Content-Type: application/json\r\nContent-Length: 3\r\n\r\n1,2"
        ),
    );
    assert_raw_refused(&reply, 415, &["more than one Content-Type"]);
    assert_refused(
        &answer(
            agent
                .post(&score_url("breastw"))
                .header("Content-Type", "application/json")
                .header("Content-Encoding", "gzip")
                .send(rows_body.as_bytes()),
        ),
        415,
        &["Content-Encoding \"gzip\"", "uncompressed"],
    );
    // A byte-order mark before JSON is skipped, as before CSV.
    let with_mark = [&b"\xef\xbb\xbf"[..], rows_body.as_bytes()].concat();
    let a = post(
        &agent,
        &score_url("breastw"),
        "application/json",
        &with_mark,
    );
    assert_eq!(a.status, 200, "{}", a.json);
    let score = a.json["results"][0]["score"].as_f64().unwrap();
    assert!(
        close(score, row_scores[0] as f64),
        "{score} vs {}",
        row_scores[0]
    );
    // Arrays nested in a row are a wrong shape, not more rows than the limit.
    let nested = format!("{{\"rows\": {}1{}}}", "[".repeat(300), "]".repeat(300));
    let a = post(
        &agent,
        &score_url("breastw"),
        "application/json",
        nested.as_bytes(),
    );
    assert_refused(&a, 400, &["{\"rows\": [[x1, x2, …], …]}"]);
    // A value far outside the training range overflows the score: named, counting from 1.
    let row = |i: usize| rows.sample(i).iter().map(|&v| v as f64).collect::<Vec<_>>();
    let mut huge = row(0);
    huge[0] = 3e38;
    let a = post(
        &agent,
        &score_url("breastw"),
        "application/json",
        serde_json::json!({ "rows": [row(1), huge] })
            .to_string()
            .as_bytes(),
    );
    assert_refused(
        &a,
        422,
        &["sample 2 of 2", "far outside the training data's range"],
    );
    // A CSV body of one line with no number: read as a header, and said so.
    assert_refused(
        &post(
            &agent,
            &score_url("breastw"),
            "text/csv",
            b"5;1;1;1;2;1;3;1;1\n",
        ),
        400,
        &["\"5;1;1;1;2;1;3;1;1\"", "read as a header"],
    );
    assert_refused(
        &post(
            &agent,
            &score_url("breastw"),
            "application/json",
            b"{\"rows\": [[1, 2",
        ),
        400,
        &["rows"],
    );
    assert_refused(
        &post(&agent, &score_url("breastw"), "text/csv", b"1,2\n"),
        400,
        &["row 1 has 2 values", &format!("{features} features")],
    );
    assert_refused(
        &post(&agent, &score_url("breastw"), "image/png", &pngs[0]),
        415,
        &["table rows"],
    );
    assert_refused(
        &post(
            &agent,
            &score_url("mnist-1"),
            "application/json",
            rows_body.as_bytes(),
        ),
        415,
        &["images"],
    );
    assert_refused(
        &post(
            &agent,
            &(score_url("breastw") + "?overlay=true"),
            "application/json",
            rows_body.as_bytes(),
        ),
        400,
        &["no anomaly maps"],
    );
    assert_refused(
        &post(
            &agent,
            &(score_url("breastw") + "?score=msp"),
            "application/json",
            rows_body.as_bytes(),
        ),
        400,
        &["score=", "anomaly detector"],
    );
    for query in ["overlay=maybe", "colour=red", "false_alarm_rate=x"] {
        assert_refused(
            &post(
                &agent,
                &format!("{}?{query}", score_url("breastw")),
                "application/json",
                rows_body.as_bytes(),
            ),
            400,
            &["bad query"],
        );
    }
    for rate in ["2", "0.001"] {
        assert_refused(
            &post(
                &agent,
                &format!("{}?false_alarm_rate={rate}", score_url("breastw")),
                "application/json",
                rows_body.as_bytes(),
            ),
            400,
            &["false_alarm_rate", "false-alarm rate"],
        );
    }
    let mut cut = pngs[0].clone();
    cut.truncate(cut.len() / 2);
    assert_refused(
        &post(&agent, &score_url("mnist-1"), "image/png", &cut),
        400,
        &["image 1"],
    );
    let (content_type, body) = multipart(&[]);
    assert_refused(
        &post(&agent, &score_url("mnist-1"), &content_type, &body),
        400,
        &["no image"],
    );

    // Load: 8 clients × 200 requests (rows and images), none lost, each score the batch one.
    let clients: Vec<_> = (0..8)
        .map(|client| {
            let (agent, url) = (agent.clone(), url.clone());
            let (rows, pngs) = (rows.clone(), pngs.clone());
            let (row_scores, digit_scores) = (row_scores.clone(), digit_scores.clone());
            std::thread::spawn(move || {
                for k in 0..200 {
                    let i = (client * 200 + k) * 7919;
                    let (got, expected) = if k % 4 == 0 {
                        let j = i % pngs.len();
                        let a = post(
                            &agent,
                            &format!("{url}/v1/models/mnist-1/score"),
                            "image/png",
                            &pngs[j],
                        );
                        assert_eq!(a.status, 200, "{}", a.json);
                        (
                            a.json["results"][0]["score"].as_f64().unwrap(),
                            digit_scores[j],
                        )
                    } else {
                        let j = i % rows.len();
                        let row: Vec<f64> = rows.sample(j).iter().map(|&v| v as f64).collect();
                        let body = serde_json::json!({ "rows": [row] }).to_string();
                        let a = post(
                            &agent,
                            &format!("{url}/v1/models/breastw/score"),
                            "application/json",
                            body.as_bytes(),
                        );
                        assert_eq!(a.status, 200, "{}", a.json);
                        (
                            a.json["results"][0]["score"].as_f64().unwrap(),
                            row_scores[j],
                        )
                    };
                    assert!(
                        close(got, expected as f64),
                        "client {client} request {k}: {got} vs {expected}"
                    );
                }
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
    let models = get(&agent, &format!("{url}/v1/models")).json;
    let served = |m: usize, key: &str| models["models"][m]["served"][key].as_u64().unwrap();
    // Every request before the load (5 row requests, 2 more — the JSON after a byte-order mark
    // and the row that overflows —, 3 image ones, 2 CSV ones with header=) and every one of it.
    assert_eq!(served(0, "requests"), 3 + 2 + 2 + 1200);
    assert_eq!(served(1, "requests"), 2 + 400);
    // Concurrent requests were scored together.
    assert!(served(0, "batches") < served(0, "requests"), "{models}");
    eprintln!("served: {}", models["models"]);
    drop(server);
}

#[test]
fn limits_answer_408_413_503_and_504() {
    let dir = temp_dir("serve-limits");
    let (table_run, image_run) = train_runs(&dir);
    let server = serve(
        &[&table_run, &image_run],
        &[
            "--max-body-mb",
            "1",
            "--max-image-side",
            "64",
            "--max-items",
            "8",
            "--queue",
            "1",
            "--max-batch",
            "1",
            "--timeout",
            "0.5",
        ],
    );
    let (url, agent) = (server.url.clone(), agent());
    let score_url = |model: &str| format!("{url}/v1/models/{model}/score");
    // A declared length over the limit is refused before the body is read.
    let address = url.strip_prefix("http://").unwrap().to_string();
    let reply = raw_request(
        &address,
        &format!(
            "POST /v1/models/breastw/score HTTP/1.1\r\nHost: {address}\r\nContent-Type: text/csv\r\nContent-Length: {}\r\n\r\n",
            2 << 20
        ),
    );
    assert_raw_refused(&reply, 413, &["1048576 bytes"]);
    let wide = grey_png(image::GrayImage::new(100, 30));
    assert_refused(
        &post(&agent, &score_url("mnist-1"), "image/png", &wide),
        413,
        &["100×30", "1–64"],
    );
    let nine_rows = "1,1,1,1,1,1,1,1,1\n".repeat(9);
    assert_refused(
        &post(
            &agent,
            &score_url("breastw"),
            "text/csv",
            nine_rows.as_bytes(),
        ),
        413,
        &["more than 8 rows", "at most 8"],
    );

    // A body that stalls is cut off at the request timeout: the client's delay, 408.
    let stalled = format!(
        "POST /v1/models/breastw/score HTTP/1.1\r\nHost: {address}\r\nContent-Type: text/csv\r\nContent-Length: 100\r\n\r\n1,1"
    );
    let reply = raw_request(&address, &stalled);
    assert_raw_refused(&reply, 408, &["had not all arrived after 0.5 s"]);
    // A bad percent-encoding in the model's name is a JSON 400 too.
    let reply = raw_request(
        &address,
        &format!(
            "POST /v1/models/%FF/score HTTP/1.1\r\nHost: {address}\r\nContent-Type: text/csv\r\nContent-Length: 0\r\n\r\n"
        ),
    );
    assert_raw_refused(&reply, 400, &["\"error\""]);

    // A body that has all arrived but takes longer to score than the timeout is the server's
    // delay, 504: 48 blank 4096 × 4096 PNGs (88 KiB each, a body that arrives and is parsed in
    // milliseconds) take far longer than 0.25 s to decode and shrink to 28 × 28, one after
    // another on one thread (≈ 1.9 s on an idle core here).
    let slow = serve(
        &[&image_run],
        &[
            "--timeout",
            "0.25",
            "--max-in-flight",
            "1",
            "--max-image-side",
            "4096",
            "--max-megapixels",
            "1000",
        ],
    );
    let blank = grey_png(image::GrayImage::new(4096, 4096));
    let (content_type, body) = multipart(&vec![blank; 48]);
    let slow_url = format!("{}/v1/models/mnist-1/score", slow.url);
    assert_refused(
        &post(&agent, &slow_url, &content_type, &body),
        504,
        &["longer than 0.25 s to score", "fewer items"],
    );
    // The abandoned decoding keeps its intake slot until it ends: the next request finds none
    // (503), and is answered once the decoding has finished (polled through 504 too: this
    // request is the model's first forward pass, with the same 0.25 s to take).
    let (content_type, body) = multipart(&[grey_png(image::GrayImage::new(28, 28))]);
    assert_refused(
        &post(&agent, &slow_url, &content_type, &body),
        503,
        &["as many requests"],
    );
    let started = std::time::Instant::now();
    let a = loop {
        let a = post(&agent, &slow_url, &content_type, &body);
        if !matches!(a.status, 503 | 504) || started.elapsed() > std::time::Duration::from_secs(60)
        {
            break a;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert_eq!(a.status, 200, "once the decoding ended: {}", a.json);
    drop(slow);

    // Requests being read hold the intake: with room for one, a second waits for nothing: 503.
    let narrow = serve(&[&table_run], &["--max-in-flight", "1", "--timeout", "0.5"]);
    let narrow_address = narrow.url.strip_prefix("http://").unwrap().to_string();
    let holder = {
        let (address, stalled) = (
            narrow_address.clone(),
            stalled.replace(&address, &narrow_address),
        );
        std::thread::spawn(move || raw_request(&address, &stalled))
    };
    std::thread::sleep(std::time::Duration::from_millis(150));
    let a = post(
        &agent,
        &format!("{}/v1/models/breastw/score", narrow.url),
        "text/csv",
        b"1,1,1,1,1,1,1,1,1\n",
    );
    assert_refused(&a, 503, &["as many requests"]);
    assert_eq!(a.retry_after.as_deref(), Some("1"));
    assert_raw_refused(&holder.join().unwrap(), 408, &["had not all arrived"]);
    let a = post(
        &agent,
        &format!("{}/v1/models/breastw/score", narrow.url),
        "text/csv",
        b"1,1,1,1,1,1,1,1,1\n",
    );
    assert_eq!(a.status, 200, "the intake is free again: {}", a.json);
    drop(narrow);

    // A connection that sends no request, or half a request head, is closed after
    // --idle-timeout (it was held open for as long as the client liked).
    let idle = serve(&[&table_run], &["--idle-timeout", "1"]);
    let idle_address = idle.url.strip_prefix("http://").unwrap().to_string();
    for sent in ["", "GET /healthz HTTP/1.1\r\nHost: x\r\n"] {
        let mut silent = std::net::TcpStream::connect(&idle_address).unwrap();
        silent.write_all(sent.as_bytes()).unwrap();
        silent
            .set_read_timeout(Some(std::time::Duration::from_secs(20)))
            .unwrap();
        let mut rest = Vec::new();
        let closed = silent.read_to_end(&mut rest);
        assert!(
            closed.is_ok() && rest.is_empty(),
            "after sending {sent:?}: {closed:?}"
        );
    }
    // A client that sends requests but never reads the answers is disconnected once they
    // back up for --idle-timeout (hyper has no write timeout of its own: it held the
    // connection for as long as the client liked). 4 000 pages are far more than the sockets'
    // buffers hold while the client does not read.
    let mut greedy = std::net::TcpStream::connect(&idle_address).unwrap();
    greedy
        .set_write_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    let _ = greedy.write_all("GET / HTTP/1.1\r\nHost: x\r\n\r\n".repeat(4000).as_bytes());
    std::thread::sleep(std::time::Duration::from_secs(3));
    greedy
        .set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    let (mut received, mut buf) = (Vec::new(), vec![0u8; 1 << 16]);
    let ended = loop {
        match greedy.read(&mut buf) {
            Ok(0) => break Ok(()),
            Ok(n) => received.extend_from_slice(&buf[..n]),
            Err(e) => break Err(e),
        }
    };
    let answers = received
        .windows(12)
        .filter(|w| w == b"HTTP/1.1 200")
        .count();
    assert!(
        ended.is_ok() || ended.as_ref().unwrap_err().kind() == std::io::ErrorKind::ConnectionReset,
        "the connection was not closed: {ended:?} after {answers} answers"
    );
    assert!(answers < 4000, "all {answers} answers were written");
    drop(idle);
    // At most --max-connections are open: a client beyond them waits until one closes.
    let single = serve(&[&table_run], &["--max-connections", "1"]);
    let single_address = single.url.strip_prefix("http://").unwrap().to_string();
    let mut holder = std::net::TcpStream::connect(&single_address).unwrap();
    holder
        .write_all(format!("GET /healthz HTTP/1.1\r\nHost: {single_address}\r\n\r\n").as_bytes())
        .unwrap();
    holder
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let mut reply = [0u8; 512];
    let n = holder.read(&mut reply).unwrap();
    assert!(
        reply[..n].starts_with(b"HTTP/1.1 200"),
        "the holder is served"
    );
    let impatient: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(std::time::Duration::from_secs(1)))
        .build()
        .into();
    let health = format!("{}/healthz", single.url);
    assert!(
        impatient.get(&health).call().is_err(),
        "a second connection was served while the only one allowed was open"
    );
    drop(holder);
    assert_eq!(
        get(&agent, &health).status,
        200,
        "served once the first closed"
    );
    drop(single);

    // Rows whose scores are not finite fail their own request (422), not the others batched
    // with it.
    let patient = serve(&[&table_run], &["--max-wait-ms", "300"]);
    let huge = "3e38,3e38,3e38,3e38,3e38,3e38,3e38,3e38,3e38\n";
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(4));
    let clients: Vec<_> = (0..4)
        .map(|k| {
            let (agent, barrier) = (agent.clone(), barrier.clone());
            let url = format!("{}/v1/models/breastw/score", patient.url);
            let body = if k == 0 {
                huge.to_string()
            } else {
                "1,1,1,1,1,1,1,1,1\n".to_string()
            };
            std::thread::spawn(move || {
                barrier.wait();
                post(&agent, &url, "text/csv", body.as_bytes())
            })
        })
        .collect();
    let answers: Vec<Answer> = clients.into_iter().map(|c| c.join().unwrap()).collect();
    assert_refused(&answers[0], 422, &["cannot be scored"]);
    for a in &answers[1..] {
        assert_eq!(a.status, 200, "{}", a.json);
    }
    drop(patient);

    // SIGTERM: the request under way is answered, an idle keep-alive connection is closed, and
    // the server exits with success.
    #[cfg(unix)]
    {
        let mut stopping = serve(&[&table_run], &["--max-wait-ms", "300"]);
        let address = stopping.url.strip_prefix("http://").unwrap().to_string();
        let health = format!("GET /healthz HTTP/1.1\r\nHost: {address}\r\n\r\n");
        let open = || {
            let mut c = std::net::TcpStream::connect(&address).unwrap();
            c.set_read_timeout(Some(std::time::Duration::from_secs(20)))
                .unwrap();
            c.write_all(health.as_bytes()).unwrap();
            let mut reply = [0u8; 512];
            let n = c.read(&mut reply).unwrap();
            assert!(reply[..n].starts_with(b"HTTP/1.1 200"));
            c
        };
        let (mut idle, mut busy) = (open(), open());
        let row = "1,1,1,1,1,1,1,1,1\n";
        busy.write_all(
            format!(
                "POST /v1/models/breastw/score HTTP/1.1\r\nHost: {address}\r\nContent-Type: text/csv\r\nContent-Length: {}\r\n\r\n{row}",
                row.len()
            )
            .as_bytes(),
        )
        .unwrap();
        // The model waits up to 300 ms for company: the request is under way then.
        std::thread::sleep(std::time::Duration::from_millis(150));
        let status = stopping.terminate();
        assert!(status.success(), "{status:?}");
        let mut answer = String::new();
        let _ = busy.read_to_string(&mut answer);
        assert!(
            answer.starts_with("HTTP/1.1 200") && answer.contains("\"score\""),
            "{answer}"
        );
        let mut rest = Vec::new();
        assert!(matches!(idle.read_to_end(&mut rest), Ok(0)), "{rest:?}");
    }

    // A full queue sheds load with 503 and Retry-After; what is accepted is scored.
    let images: Vec<Vec<u8>> = {
        let digits = raw_samples(DatasetKind::Mnist, fixture("mnist"), true, 8);
        (0..8).map(|i| png_of(digits.sample(i), 28)).collect()
    };
    let (content_type, body) = multipart(&images);
    let mut shed = 0;
    for _round in 0..5 {
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(24));
        let clients: Vec<_> = (0..24)
            .map(|_| {
                let (agent, url, barrier) = (agent.clone(), score_url("mnist-1"), barrier.clone());
                let (content_type, body) = (content_type.clone(), body.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    post(&agent, &(url + "?overlay=true"), &content_type, &body)
                })
            })
            .collect();
        for c in clients {
            let a = c.join().unwrap();
            match a.status {
                200 => assert_eq!(a.json["results"].as_array().unwrap().len(), 8),
                503 => {
                    assert_eq!(a.retry_after.as_deref(), Some("1"));
                    assert!(a.json["error"].as_str().unwrap().contains("queue is full"));
                    shed += 1;
                }
                504 => {}
                other => panic!("{other}: {}", a.json),
            }
        }
        if shed > 0 {
            break;
        }
    }
    assert!(
        shed > 0,
        "24 simultaneous requests never filled a queue of 1"
    );
    drop(server);
}

/// A run the server could not score faithfully is refused when the server starts, naming why:
/// local RX scores whole scenes only, and GANomaly with `batch_statistics_at_score` would give
/// each client scores that depend on the requests batched with its own; so are limits beyond
/// what a server can reserve (a queue's slots are allocated up front).
#[test]
fn runs_and_limits_it_cannot_serve_are_refused_at_start() {
    let dir = temp_dir("serve-refused");
    let scene = fixture("hyperspectral/abu-beach-2-cut.mat");
    let mnist = fixture("mnist");
    let (lrx, ganomaly) = (dir.join("lrx"), dir.join("ganomaly"));
    let trainings: [&[&str]; 2] = [
        &[
            "--model",
            "lrx",
            "--dataset",
            "hyperspectral",
            "--data",
            scene.to_str().unwrap(),
            "--protocol",
            "scene",
            "--scaling",
            "none",
            "--out",
            lrx.to_str().unwrap(),
        ],
        &[
            "--model",
            "ganomaly",
            "--dataset",
            "mnist",
            "--data",
            mnist.to_str().unwrap(),
            "--protocol",
            "one-class",
            "--class",
            "1",
            "--epochs",
            "1",
            "--max-train",
            "64",
            "--image-size",
            "32",
            "--model-config",
            r#"{"batch_statistics_at_score": true}"#,
            "--out",
            ganomaly.to_str().unwrap(),
        ],
    ];
    for args in trainings {
        let o = oddity(&[&["train", "--quiet"][..], args].concat());
        assert!(o.status.success(), "{}", stderr(&o));
    }
    for (run, needles) in [
        (&lrx, &["lrx", "whole hyperspectral scene"][..]),
        (
            &ganomaly,
            &["batch_statistics_at_score", "other clients"][..],
        ),
    ] {
        let o = serve_refused(&["serve", run.to_str().unwrap(), "--port", "0"]);
        assert_clean_error(&o, needles);
    }
    for (flag, value) in [
        ("--queue", "1000000000"),
        ("--max-items", "18446744073709551615"),
        ("--max-connections", "65537"),
    ] {
        let o = serve_refused(&["serve", lrx.to_str().unwrap(), "--port", "0", flag, value]);
        assert_clean_error(&o, &[flag, "at most 65536"]);
    }
    // The last: a batching wait as long as the timeout would time out every request scored
    // alone.
    let refused: [(&[&str], &[&str]); 4] = [
        (&["--idle-timeout", "0"], &["--idle-timeout", "(0, 86400]"]),
        (
            &["--idle-timeout", "inf"],
            &["--idle-timeout", "(0, 86400]"],
        ),
        (
            &["--max-megapixels", "0"],
            &["--max-megapixels", "more than 0"],
        ),
        (
            &["--max-wait-ms", "500", "--timeout", "0.5"],
            &["--max-wait-ms (500 ms)", "shorter than --timeout (0.5 s)"],
        ),
    ];
    for (flags, needles) in refused {
        let start = ["serve", lrx.to_str().unwrap(), "--port", "0"];
        let o = serve_refused(&[&start[..], flags].concat());
        assert_clean_error(&o, needles);
    }
}

/// Run `oddity args`, which should refuse to start: a server still running after a minute is
/// stopped and the test fails (rather than waiting for it forever).
fn serve_refused(args: &[&str]) -> std::process::Output {
    let mut child = std::process::Command::new(oddity_bin())
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > std::time::Duration::from_secs(60) {
            child.kill().unwrap();
            panic!("oddity {args:?} started serving instead of refusing");
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    child.wait_with_output().unwrap()
}

/// A CSV body with a header is scored only when it names the run's feature columns in the
/// run's order: a model reads columns by position, so swapped ones would be scored as the
/// wrong features. `/v1/models` lists the columns.
#[test]
fn a_csv_header_must_name_the_runs_columns_in_order() {
    let dir = temp_dir("serve-columns");
    let mut text = String::from("a,b,label\n");
    for i in 0..40 {
        let v = (i as f32 * 0.37).sin();
        text.push_str(&format!("{v},{},0\n", v * 0.5));
    }
    for i in 0..6 {
        text.push_str(&format!("{},-4,1\n", 5 + i));
    }
    let data = dir.join("table.csv");
    std::fs::write(&data, text).unwrap();
    let run = dir.join("columns");
    let o = oddity(&[
        "train",
        "--model",
        "rx",
        "--dataset",
        "csv",
        "--data",
        data.to_str().unwrap(),
        "--protocol",
        "tabular",
        "--quiet",
        "--out",
        run.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let server = serve(&[&run], &[]);
    let agent = agent();
    let models = get(&agent, &format!("{}/v1/models", server.url)).json;
    assert_eq!(
        models["models"][0]["feature_names"],
        serde_json::json!(["a", "b"])
    );
    let url = format!("{}/v1/models/columns/score", server.url);
    let named = post(&agent, &url, "text/csv", b"a,b\n0.1,0.2\n");
    let plain = post(&agent, &url, "text/csv", b"0.1,0.2\n");
    assert_eq!((named.status, plain.status), (200, 200), "{}", named.json);
    assert_eq!(named.json["results"], plain.json["results"]);
    assert_refused(
        &post(&agent, &url, "text/csv", b"b,a\n0.2,0.1\n"),
        400,
        &["feature column 1", "another order", "\"a\""],
    );
    assert_refused(
        &post(&agent, &url, "text/csv", b"x,y\n0.1,0.2\n"),
        400,
        &["feature column 1", "\"x\""],
    );
    // A table with its label column still in it: named as a column problem, before any row
    // is read as numbers.
    assert_refused(
        &post(&agent, &url, "text/csv", b"a,b,label\n0.1,0.2,0\n"),
        400,
        &["the CSV body", "3 feature columns"],
    );
    drop(server);
}

/// An OOD run served beside nothing else: a LeNet trained for one epoch on 600 fixture digits
/// (100 more held out: the calibration). Each image's answer is the class, every score and the
/// verdict `oddity ood score` gives ([`oddity::ood::verdicts::verdicts_of`] on the same pixels,
/// in-process), alone or batched with concurrent clients' requests of 1–3 images; the p-value
/// is `(1 + #{validation scores ≤ s}) / 101` of the deciding score, which a request may change
/// (`score=`, `false_alarm_rate=`). Files of another size or colour are read as `ood score`
/// reads them in an image folder. What an OOD run cannot answer is refused, at start or per
/// request.
#[test]
fn serves_an_ood_run_with_the_verdicts_of_ood_score() {
    use oddity::ood::{self, OodConfig, classifier::ClassifierConfig, data::InSpec, verdicts};
    let scratch = temp_dir("serve-ood");
    let dir = scratch.join("digits");
    let device = oddity::device::parse("cpu").unwrap();
    let config = OodConfig {
        data: InSpec {
            data: spec(DatasetKind::Mnist, fixture("mnist")),
            classes: Vec::new(),
            validation: 100,
            max_train: Some(600),
        },
        classifier: ClassifierConfig {
            epochs: 1,
            ..ClassifierConfig::default_for([1, 28, 28])
        },
        seed: 0,
        odin_temperature: 1000.0,
        energy_temperature: 1.0,
        adversarial_epsilon: 0.05,
        outlier_exposure: None,
        generative: None,
    };
    let run = ood::train(
        config,
        &dir,
        oddity::run::folder::Leave::force(false),
        &device,
    )
    .unwrap();
    let calibration = run.validation_scores.clone().unwrap();

    // Six test digits and six Fashion-MNIST images, as PNG files and as the run's [0, 1] input.
    let digits = raw_samples(DatasetKind::Mnist, fixture("mnist"), true, 6);
    let clothes = raw_samples(DatasetKind::FashionMnist, fixture("fashion-mnist"), true, 6);
    let mut values = digits.values.clone();
    values.extend_from_slice(&clothes.values);
    let pngs: Vec<Vec<u8>> = values.chunks(784).map(|v| png_of(v, 28)).collect();
    let images = ood::data::Images {
        values: values.iter().map(|v| v / 255.0).collect(),
        labels: vec![0; 12],
        origin: (0..12).collect(),
    };
    let expected = |score: &str, rate: f64| {
        verdicts::verdicts_of(&run, &images, None, &calibration, score, rate, &device).unwrap()
    };

    // At start: a rate the 100 validation images cannot reach is refused.
    let refused = serve_refused(&[
        "serve",
        dir.to_str().unwrap(),
        "--port",
        "0",
        "--false-alarm-rate",
        "0.001",
    ]);
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("validation images"),
        "{}",
        stderr(&refused)
    );

    let mut server = serve(&[&dir], &["--max-wait-ms", "200"]);
    let agent = agent();
    let models = get(&agent, &format!("{}/v1/models", server.url));
    let info = &models.json["models"][0];
    assert_eq!(info["task"], "ood", "{info}");
    assert_eq!(info["name"], "digits");
    assert_eq!(info["calibration_samples"], 100);
    assert_eq!(info["score"], "mahalanobis");
    assert_eq!(info["false_alarm_rate"], 0.05);
    assert_eq!(info["classes"].as_array().unwrap().len(), 10);
    assert_eq!(info["test_accuracy"], run.summary.test_accuracy);
    let url = format!("{}/v1/models/digits/score", server.url);

    // The answer of a request must be the verdicts computed in-process: the same classes,
    // scores within float tolerance, and the p-value of the served score by hand.
    let check = |answer: &Answer, want: &verdicts::Verdicts, rows: std::ops::Range<usize>| {
        assert_eq!(answer.status, 200, "{}", answer.json);
        assert_eq!(answer.json["score"], want.score.as_str());
        assert_eq!(answer.json["false_alarm_rate"], want.false_alarm_rate);
        let results = answer.json["results"].as_array().unwrap();
        assert_eq!(results.len(), rows.len());
        let column = want.names.iter().position(|n| *n == want.score).unwrap();
        for (got, row) in results.iter().zip(&want.rows[rows]) {
            assert_eq!(got["class"], row.class.as_str());
            assert!(close(
                got["probability"].as_f64().unwrap(),
                row.probability as f64
            ));
            for (name, &s) in want.names.iter().zip(&row.scores) {
                let served = got["scores"][name].as_f64().unwrap();
                assert!(close(served, s as f64), "{name}: {served} against {s}");
            }
            let s = got["scores"][&want.score].as_f64().unwrap() as f32;
            let at_most = calibration[column].iter().filter(|&&v| v <= s).count();
            let p = (1 + at_most) as f64 / 101.0;
            assert_eq!(got["p_value"].as_f64().unwrap(), p);
            assert_eq!(got["out_of_distribution"], p <= want.false_alarm_rate);
        }
    };
    let (form, body) = multipart(&pngs);
    let all = post(&agent, &url, &form, &body);
    check(&all, &expected("mahalanobis", 0.05), 0..12);
    // Measured (seed 0): every garment refused by the ensemble, every digit accepted.
    let refused: Vec<bool> = (all.json["results"].as_array().unwrap().iter())
        .map(|r| r["out_of_distribution"] == true)
        .collect();
    assert!(
        refused[6..].iter().filter(|&&r| r).count() >= 5
            && refused[..6].iter().filter(|&&r| r).count() <= 1,
        "refused: {refused:?}"
    );
    let msp = post(
        &agent,
        &format!("{url}?score=msp&false_alarm_rate=0.2"),
        &form,
        &body,
    );
    check(&msp, &expected("msp", 0.2), 0..12);

    // Requests of 1, 2 and 3 images from 4 clients at once, gathered into shared batches
    // (the server waits up to 200 ms for company): each gets its own images' answers.
    let want = expected("mahalanobis", 0.05);
    let before =
        get(&agent, &format!("{}/v1/models", server.url)).json["models"][0]["served"].clone();
    std::thread::scope(|s| {
        for client in 0..4 {
            let (pngs, url, want, check) = (&pngs, &url, &want, &check);
            s.spawn(move || {
                let agent = self::agent();
                for size in 1..=3 {
                    let first = (client * 3 + size) % 10;
                    let (form, body) = multipart(&pngs[first..first + size]);
                    let a = post(&agent, url, &form, &body);
                    check(&a, want, first..first + size);
                }
            });
        }
    });
    let after =
        get(&agent, &format!("{}/v1/models", server.url)).json["models"][0]["served"].clone();
    let count = |v: &serde_json::Value, key: &str| v[key].as_u64().unwrap();
    let (requests, batches) = (
        count(&after, "requests") - count(&before, "requests"),
        count(&after, "batches") - count(&before, "batches"),
    );
    assert_eq!(requests, 12);
    assert!(
        batches < requests,
        "{batches} batches for {requests} requests"
    );

    // Files of another size and in colour, as `ood score --images image-folder:` reads them.
    let folder = scratch.join("incoming");
    std::fs::create_dir_all(&folder).unwrap();
    let big = image::imageops::resize(
        &image::GrayImage::from_raw(28, 28, digits.sample(0).iter().map(|&v| v as u8).collect())
            .unwrap(),
        40,
        40,
        image::imageops::FilterType::Triangle,
    );
    big.save(folder.join("a-large-digit.png")).unwrap();
    let colour = image::RgbImage::from_fn(32, 32, |x, y| {
        image::Rgb([(x * 8) as u8, (y * 8) as u8, ((x + y) * 4) as u8])
    });
    colour.save(folder.join("b-colour.png")).unwrap();
    let set = ood::data::OutSet::parse(&format!("image-folder:{}", folder.display())).unwrap();
    let from_folder = verdicts::score_new(&run, &set, "mahalanobis", 0.05, None, &device).unwrap();
    for row in &from_folder.rows {
        let file = row.file.as_ref().unwrap();
        let a = post(&agent, &url, "image/png", &std::fs::read(file).unwrap());
        assert_eq!(a.status, 200, "{}", a.json);
        let got = &a.json["results"][0];
        assert_eq!(got["class"], row.class.as_str(), "{}", file.display());
        for (name, &s) in from_folder.names.iter().zip(&row.scores) {
            let served = got["scores"][name].as_f64().unwrap();
            assert!(
                close(served, s as f64),
                "{}: {name}: {served} against {s}",
                file.display()
            );
        }
    }

    for (query, content_type, status, needles) in [
        ("?overlay=true", "image/png", 400, &["overlay"][..]),
        (
            "?score=likelihood",
            "image/png",
            400,
            &["likelihood", "msp"][..],
        ),
        (
            "?false_alarm_rate=0.001",
            "image/png",
            400,
            &["validation images"][..],
        ),
        (
            "?false_alarm_rate=1.5",
            "image/png",
            400,
            &["false-alarm rate"][..],
        ),
        ("?header=true", "image/png", 400, &["CSV"][..]),
        ("", "text/csv", 415, &["images"][..]),
    ] {
        let a = post(&agent, &format!("{url}{query}"), content_type, &pngs[0]);
        assert_refused(&a, status, needles);
    }
    assert!(server.terminate().success());
}
