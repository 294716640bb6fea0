//! The routes: the page, health, the model list and scoring, every error as JSON.

use super::Limits;
use super::classifier::{ClassifyJob, ServedClassifier};
use super::inputs::{Fitting, Rejection, ScoreInput, rows_from_csv, rows_from_json};
use super::worker::{Counters, Failure, Job, QueueError, ServedModel, ToScore};
use crate::data::quoted_head;
use crate::run::MapPicture;
use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, FromRequest, Path, Query, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// The web page, embedded in the binary.
const PAGE: &str = include_str!("page.html");

/// A served run: an anomaly detector, or an OOD classifier.
pub(super) enum Served {
    Detector(ServedModel),
    Classifier(ServedClassifier),
}

impl Served {
    pub fn name(&self) -> &str {
        match self {
            Served::Detector(m) => &m.name,
            Served::Classifier(c) => &c.name,
        }
    }

    /// What `GET /v1/models` says of it.
    fn info(&self) -> serde_json::Value {
        match self {
            Served::Detector(m) => serde_json::to_value(&m.info),
            Served::Classifier(c) => serde_json::to_value(&c.info),
        }
        .unwrap_or_default()
    }

    fn counters(&self) -> &Counters {
        match self {
            Served::Detector(m) => &m.counters,
            Served::Classifier(c) => &c.counters,
        }
    }
}

/// What every request shares: the models by name, the limits, and the permits of requests
/// being read or decoded.
pub(super) struct AppState {
    models: BTreeMap<String, Served>,
    pub(super) limits: Limits,
    intake: Arc<tokio::sync::Semaphore>,
}

impl AppState {
    pub fn new(models: Vec<Served>, limits: Limits) -> Self {
        AppState {
            models: models
                .into_iter()
                .map(|m| (m.name().to_string(), m))
                .collect(),
            limits,
            intake: Arc::new(tokio::sync::Semaphore::new(limits.max_in_flight)),
        }
    }
}

/// The server's routes.
pub(super) fn router(state: Arc<AppState>) -> Router {
    let body_limit = state.limits.max_body_bytes;
    let router = Router::new()
        .route("/", get(page))
        .route("/healthz", get(health))
        .route("/v1/models", get(models))
        .route("/v1/models/{name}/score", post(score))
        .fallback(|| async { Rejection::new(StatusCode::NOT_FOUND, "no such route") })
        .method_not_allowed_fallback(|| async {
            Rejection::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method not allowed on this route",
            )
        })
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(state);
    answering_panics(router)
}

/// `router` with [`answer_panics`] around every route.
fn answering_panics(router: Router) -> Router {
    router.layer(axum::middleware::from_fn(answer_panics))
}

/// Run the rest of the request; a panic in it (a bug) becomes a JSON `500` instead of a
/// connection dropped with no answer. The model threads and the decoding and drawing tasks
/// catch their own panics; this covers the handlers' own code.
async fn answer_panics(request: Request, next: axum::middleware::Next) -> Response {
    use futures_util::FutureExt;
    match std::panic::AssertUnwindSafe(next.run(request))
        .catch_unwind()
        .await
    {
        Ok(response) => response,
        Err(_) => Rejection::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the server failed on this request",
        )
        .into_response(),
    }
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        let mut response = (
            self.status,
            Json(serde_json::json!({ "error": self.message })),
        )
            .into_response();
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        // A refusal may come before the request's body was read, and the server then closes
        // the connection; saying so keeps a client from sending its next request on it (it
        // met a closed socket, now and then, without an answer).
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        response
    }
}

async fn page() -> Response {
    let mut response = Html(PAGE).into_response();
    // The page makes no request outside this server.
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; style-src 'unsafe-inline'; \
             script-src 'unsafe-inline'",
        ),
    );
    response
}

async fn health(State(state): State<Arc<AppState>>) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok", "models": state.models.len() }))
}

async fn models(State(state): State<Arc<AppState>>) -> Json<serde_json::Value> {
    let models: Vec<_> = (state.models.values())
        .map(|m| {
            let mut info = m.info();
            info["served"] = m.counters().snapshot();
            info
        })
        .collect();
    Json(serde_json::json!({ "models": models }))
}

/// The query of a scoring request.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScoreQuery {
    /// Draw each image's anomaly map over it.
    #[serde(default)]
    overlay: bool,
    /// Flag by conformal p-value at this rate.
    false_alarm_rate: Option<f64>,
    /// Whether a CSV body's first line is a header (default: when none of its cells is a
    /// number).
    header: Option<bool>,
    /// The score an OOD run's verdicts are taken on (default: the Mahalanobis ensemble).
    score: Option<String>,
}

/// The answer to a scoring request: an anomaly detector's or an OOD classifier's.
#[derive(Debug, Serialize)]
#[serde(untagged)]
enum Answered {
    Detector(ScoreAnswer),
    Classifier(ClassifyAnswer),
}

/// An OOD classifier's answer.
#[derive(Debug, Serialize)]
struct ClassifyAnswer {
    model: String,
    /// The score the verdicts are taken on.
    score: String,
    false_alarm_rate: f64,
    results: Vec<ClassifyResult>,
}

/// One image's class and verdict.
#[derive(Debug, Serialize)]
struct ClassifyResult {
    /// The class the classifier predicts.
    class: String,
    /// Its softmax probability (the MSP score).
    probability: f32,
    /// Every score of the run (higher = more in-distribution).
    scores: BTreeMap<String, f32>,
    /// The conformal p-value of the deciding score against the run's validation images.
    p_value: f64,
    /// `p_value ≤ false_alarm_rate`: the image is refused.
    out_of_distribution: bool,
}

/// The answer to a scoring request.
#[derive(Debug, Serialize)]
struct ScoreAnswer {
    model: String,
    threshold: f64,
    false_alarm_rate: Option<f64>,
    results: Vec<ScoreResult>,
}

/// One item's verdict.
#[derive(Debug, Serialize)]
struct ScoreResult {
    score: f32,
    /// The conformal p-value against the run's normal validation scores.
    p_value: Option<f64>,
    anomalous: bool,
    /// A PNG data URL: the image, its heat map, and (with a pixel threshold) the flagged region.
    #[serde(skip_serializing_if = "Option::is_none")]
    overlay: Option<String>,
}

async fn score(
    State(state): State<Arc<AppState>>,
    name: Result<Path<String>, axum::extract::rejection::PathRejection>,
    query: Result<Query<ScoreQuery>, axum::extract::rejection::QueryRejection>,
    request: Request,
) -> Result<Json<Answered>, Rejection> {
    let Path(name) =
        name.map_err(|e| Rejection::bad(format!("bad model name in the path: {}", e.body_text())))?;
    let Query(query) = query.map_err(|e| {
        Rejection::bad(format!(
            "bad query: {}; use overlay=true, false_alarm_rate=0.01, header=true and (for an OOD \
             run) score=mahalanobis",
            e.body_text()
        ))
    })?;
    let timeout = state.limits.timeout;
    // Set once the body has all arrived: a timeout before that is the client's delay (408),
    // after it the server's (504).
    let body_read = AtomicBool::new(false);
    let answer = score_within(state, name, query, request, &body_read);
    match tokio::time::timeout(timeout, answer).await {
        Ok(answer) => answer.map(Json),
        Err(_) if !body_read.load(Ordering::Relaxed) => Err(Rejection::new(
            StatusCode::REQUEST_TIMEOUT,
            format!(
                "the request's body had not all arrived after {} s",
                timeout.as_secs_f64()
            ),
        )),
        Err(_) => Err(Rejection::new(
            StatusCode::GATEWAY_TIMEOUT,
            format!(
                "the request took longer than {} s to score; try fewer items",
                timeout.as_secs_f64()
            ),
        )),
    }
}

async fn score_within(
    state: Arc<AppState>,
    name: String,
    query: ScoreQuery,
    request: Request,
    body_read: &AtomicBool,
) -> Result<Answered, Rejection> {
    let served = state.models.get(&name).ok_or_else(|| {
        Rejection::new(
            StatusCode::NOT_FOUND,
            format!(
                "no model {}; GET /v1/models lists them ({})",
                quoted_head(&name),
                state.models.keys().cloned().collect::<Vec<_>>().join(", ")
            ),
        )
    })?;
    match served {
        Served::Detector(model) => detect(&state, model, query, request, body_read)
            .await
            .map(Answered::Detector),
        Served::Classifier(model) => classify(&state, model, query, request, body_read)
            .await
            .map(Answered::Classifier),
    }
}

/// An anomaly detector's answer: each sample's score, p-value and verdict, and its map drawn
/// over it when asked.
async fn detect(
    state: &AppState,
    model: &ServedModel,
    query: ScoreQuery,
    request: Request,
    body_read: &AtomicBool,
) -> Result<ScoreAnswer, Rejection> {
    let name = &model.name;
    if query.score.is_some() {
        return Err(Rejection::bad(format!(
            "score= picks the deciding score of an OOD run; model {name:?} is an anomaly \
             detector with one score"
        )));
    }
    let threshold = verdict_threshold(model, query.false_alarm_rate)?;
    if query.overlay && !model.info.maps {
        return Err(Rejection::bad(format!(
            "model {name:?} draws no anomaly maps; leave out overlay=true"
        )));
    }
    let kind = body_kind(&request, model.info.data == "image")?;
    let (input, header, permit) = read_body(state, request, kind, query.header, body_read).await?;
    // The columns are checked before any row is decoded.
    if let (Some(expected), Some(found)) = (&model.info.feature_names, &header) {
        crate::data::csv_table::check_same_columns(expected, found, "the CSV body")
            .map_err(|e| Rejection::bad(e.to_string()))?;
    }
    let values = decode(state, input, model.info.input, Fitting::Stretched, &permit).await?;
    let samples = crate::data::Samples::unlabelled(model.info.input, values);
    let (reply, answer) = tokio::sync::oneshot::channel();
    let job = Job {
        payload: ToScore {
            samples: samples.clone(),
            maps: query.overlay,
        },
        reply,
    };
    model.submit(job).map_err(|e| queue_rejection(e, name))?;
    let scored = answer.await.map_err(|_| stopped())?.map_err(failed)?;
    let overlays = if query.overlay {
        let pixel_threshold = model.pixel_threshold;
        let scored = scored.clone();
        let drawing = Arc::clone(&permit);
        tokio::task::spawn_blocking(move || {
            let _held = drawing;
            draw_overlays(&samples, &scored, pixel_threshold)
        })
        .await
        .map_err(|_| Rejection::new(StatusCode::INTERNAL_SERVER_ERROR, "drawing failed"))?
    } else {
        Vec::new()
    };
    let mut overlays = overlays.into_iter();
    let results = scored
        .scores
        .iter()
        .map(|&score| ScoreResult {
            score,
            p_value: model.calibration.as_ref().map(|c| c.p_value(score)),
            anomalous: score as f64 >= threshold,
            overlay: overlays.next(),
        })
        .collect();
    Ok(ScoreAnswer {
        model: name.clone(),
        threshold,
        false_alarm_rate: query.false_alarm_rate.or(model.info.false_alarm_rate),
        results,
    })
}

/// An OOD classifier's answer: each image's class, every score, and its verdict on the
/// request's score at the request's false-alarm rate (the server's defaults otherwise).
async fn classify(
    state: &AppState,
    model: &ServedClassifier,
    query: ScoreQuery,
    request: Request,
    body_read: &AtomicBool,
) -> Result<ClassifyAnswer, Rejection> {
    let name = &model.name;
    if query.overlay {
        return Err(Rejection::bad(format!(
            "model {name:?} is an OOD classifier and draws no anomaly maps; leave out \
             overlay=true"
        )));
    }
    let score = query.score.unwrap_or_else(|| model.info.score.clone());
    let false_alarm_rate = query
        .false_alarm_rate
        .unwrap_or(model.info.false_alarm_rate);
    model
        .check_choice(&score, false_alarm_rate)
        .map_err(|e| Rejection::bad(format!("{e:#}")))?;
    // The choice is the client's; a calibration that cannot decide is the run's.
    let decider = model.decider(&score, false_alarm_rate).map_err(|e| {
        Rejection::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("model {name:?} cannot decide on {score}: {e:#}"),
        )
    })?;
    let kind = body_kind(&request, true)?;
    let (input, _, permit) = read_body(state, request, kind, query.header, body_read).await?;
    let shape = model.info.input;
    let mut values = decode(state, input, shape, Fitting::AsImageFolder, &permit).await?;
    crate::ood::data::to_unit(&mut values, "the request")
        .map_err(|e| Rejection::bad(format!("{e:#}")))?;
    let count = values.len() / shape.len();
    let images = crate::ood::data::Images {
        values,
        labels: vec![0; count],
        origin: (1..=count as u32).collect(),
    };
    let origin = images.origin.clone();
    let (reply, answer) = tokio::sync::oneshot::channel();
    model
        .submit(ClassifyJob {
            payload: images,
            reply,
        })
        .map_err(|e| queue_rejection(e, name))?;
    let classified = answer.await.map_err(|_| stopped())?.map_err(failed)?;
    // Images are numbered from 1 in the errors, as elsewhere in a request.
    let verdicts = decider
        .verdicts(&classified, &model.info.classes, &origin, None)
        .map_err(|e| Rejection::new(StatusCode::UNPROCESSABLE_ENTITY, format!("{e:#}")))?;
    let results = (verdicts.into_iter())
        .map(|v| ClassifyResult {
            class: v.class,
            probability: v.probability,
            scores: (classified.names.iter())
                .zip(v.scores)
                .map(|(n, s)| (n.to_string(), s))
                .collect(),
            p_value: v.p_value,
            out_of_distribution: v.out_of_distribution,
        })
        .collect();
    Ok(ClassifyAnswer {
        model: name.clone(),
        score,
        false_alarm_rate,
        results,
    })
}

/// The intake permit a request holds while its body is read, decoded and drawn.
type Permit = Arc<tokio::sync::OwnedSemaphorePermit>;

/// Read a request's body (with a CSV body's header names) under one of the server's intake
/// permits, returned: the request holds it while it decodes and draws, too. `body_read` is
/// set once the body has all arrived.
async fn read_body(
    state: &AppState,
    request: Request,
    kind: BodyKind,
    csv_header: Option<bool>,
    body_read: &AtomicBool,
) -> Result<(ScoreInput, Option<Vec<String>>, Permit), Rejection> {
    if csv_header.is_some() && kind != BodyKind::Csv {
        return Err(Rejection::bad(
            "header= says whether a CSV body's first line is a header; this body is not CSV",
        ));
    }
    check_declared_length(&request, state.limits.max_body_bytes)?;
    // Bodies being read, decoded and drawn are bounded too, not only the jobs queued for a
    // model. The permit is held by the request and by each blocking task it starts: a request
    // that times out stops waiting for them, but its slot stays taken until they end, so
    // abandoned work cannot pile up.
    let permit = Arc::new(state.intake.clone().try_acquire_owned().map_err(|_| {
        Rejection::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the server is reading as many requests as it takes at once; retry shortly",
        )
    })?);
    let (input, header) = read_input(request, kind, csv_header, &state.limits).await?;
    body_read.store(true, Ordering::Relaxed);
    Ok((input, header, permit))
}

/// Decode a request's items into raw sample values of `shape`, off the runtime's threads.
async fn decode(
    state: &AppState,
    input: ScoreInput,
    shape: crate::data::SampleShape,
    fitting: Fitting,
    permit: &Permit,
) -> Result<Vec<f32>, Rejection> {
    let limits = state.limits;
    let decoding = Arc::clone(permit);
    tokio::task::spawn_blocking(move || {
        let _held = decoding;
        input.to_values_fitted(shape, &limits, fitting)
    })
    .await
    .map_err(|_| Rejection::new(StatusCode::INTERNAL_SERVER_ERROR, "decoding failed"))?
}

fn queue_rejection(e: QueueError, name: &str) -> Rejection {
    match e {
        QueueError::Full => Rejection::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("model {name:?} is busy: its queue is full; retry shortly"),
        ),
        QueueError::Stopped => Rejection::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("model {name:?} has stopped scoring"),
        ),
    }
}

fn stopped() -> Rejection {
    Rejection::new(StatusCode::INTERNAL_SERVER_ERROR, "scoring stopped")
}

fn failed(failure: Failure) -> Rejection {
    match failure {
        Failure::Unscorable(why) => Rejection::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("these samples cannot be scored: {why}"),
        ),
        Failure::Panicked => Rejection::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the model failed on these samples",
        ),
    }
}

/// The threshold of this request: the model's, or the conformal one of the rate it asks for.
fn verdict_threshold(model: &ServedModel, false_alarm_rate: Option<f64>) -> Result<f64, Rejection> {
    let Some(alpha) = false_alarm_rate else {
        return Ok(model.info.threshold);
    };
    let calibration = model.calibration.as_ref().ok_or_else(|| {
        Rejection::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!(
                "model {:?} has no calibration.json, so no p-values; retrain it with this oddity",
                model.name
            ),
        )
    })?;
    calibration
        .threshold(alpha)
        .map_err(|e| Rejection::bad(format!("false_alarm_rate: {e:#}")))
}

/// What a request body holds, by its content type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BodyKind {
    /// One PNG or JPEG.
    Image,
    /// A multipart form of images.
    Multipart,
    /// `{"rows": …}`.
    Json,
    /// CSV rows.
    Csv,
}

/// The body's kind from its content type, refused (415) when unknown, ambiguous, compressed
/// or not what the model scores — before any of the body is read.
fn body_kind(request: &Request, image_model: bool) -> Result<BodyKind, Rejection> {
    const KINDS: &str =
        "send image/png, image/jpeg, multipart/form-data, application/json or text/csv";
    let unsupported = |message: String| Rejection::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, message);
    let headers = request.headers();
    for encoding in headers.get_all(header::CONTENT_ENCODING) {
        let encoding = String::from_utf8_lossy(encoding.as_bytes());
        if !encoding.trim().eq_ignore_ascii_case("identity") {
            return Err(unsupported(format!(
                "Content-Encoding {} is not accepted: send the body uncompressed",
                quoted_head(&encoding)
            )));
        }
    }
    let mut content_types = headers.get_all(header::CONTENT_TYPE).iter();
    let content_type = match (content_types.next(), content_types.next()) {
        (None, _) => return Err(unsupported(format!("no Content-Type; {KINDS}"))),
        (Some(_), Some(_)) => {
            return Err(unsupported(format!(
                "more than one Content-Type header; send one: {}",
                &KINDS["send ".len()..]
            )));
        }
        (Some(value), None) => String::from_utf8_lossy(value.as_bytes()).to_ascii_lowercase(),
    };
    let kind = match content_type.split(';').next().unwrap_or("").trim() {
        "image/png" | "image/jpeg" => BodyKind::Image,
        "multipart/form-data" => BodyKind::Multipart,
        "application/json" => BodyKind::Json,
        "text/csv" => BodyKind::Csv,
        _ => {
            return Err(unsupported(format!(
                "Content-Type {} is not scored; {KINDS}",
                quoted_head(&content_type)
            )));
        }
    };
    let images = matches!(kind, BodyKind::Image | BodyKind::Multipart);
    match (image_model, images) {
        (true, false) => Err(Rejection::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "this model scores images: send a PNG or JPEG, or a multipart form of them",
        )),
        (false, true) => Err(Rejection::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "this model scores table rows: send {\"rows\": [[…], …]} as JSON or CSV",
        )),
        _ => Ok(kind),
    }
}

/// A declared `Content-Length` over the limit is refused before the body is read.
fn check_declared_length(request: &Request, limit: usize) -> Result<(), Rejection> {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    match declared {
        Some(length) if length > limit as u64 => Err(too_large(limit)),
        _ => Ok(()),
    }
}

fn too_large(limit: usize) -> Rejection {
    Rejection::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("the body is larger than {limit} bytes"),
    )
}

/// The request's items, its body read up to the limit, with a CSV body's header names.
async fn read_input(
    request: Request,
    kind: BodyKind,
    csv_header: Option<bool>,
    limits: &Limits,
) -> Result<(ScoreInput, Option<Vec<String>>), Rejection> {
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, limits.max_body_bytes)
        .await
        .map_err(|e| {
            if e.to_string().contains("length limit") {
                too_large(limits.max_body_bytes)
            } else {
                Rejection::bad(format!("the body could not be read: {e}"))
            }
        })?;
    match kind {
        BodyKind::Image => Ok((ScoreInput::Images(vec![bytes.to_vec()]), None)),
        BodyKind::Json => Ok((
            ScoreInput::Rows(rows_from_json(&bytes, limits.max_items)?),
            None,
        )),
        BodyKind::Csv => {
            let (rows, names) = rows_from_csv(&bytes, limits.max_items, csv_header)?;
            Ok((ScoreInput::Rows(rows), names))
        }
        BodyKind::Multipart => {
            let request = Request::from_parts(parts, Body::from(bytes));
            let bad = |e: axum::extract::multipart::MultipartError| {
                Rejection::bad(format!("bad multipart form: {}", e.body_text()))
            };
            let mut form = axum::extract::Multipart::from_request(request, &())
                .await
                .map_err(|e| Rejection::bad(format!("bad multipart form: {}", e.body_text())))?;
            let mut images = Vec::new();
            while let Some(field) = form.next_field().await.map_err(bad)? {
                images.push(field.bytes().await.map_err(bad)?.to_vec());
                if images.len() > limits.max_items {
                    break; // refused by the item limit, without reading the rest
                }
            }
            Ok((ScoreInput::Images(images), None))
        }
    }
}

/// Each image with its heat map (and its region at the pixel threshold, when the run has one),
/// as PNG data URLs.
fn draw_overlays(
    samples: &crate::data::Samples,
    scored: &super::Scored,
    pixel_threshold: Option<f64>,
) -> Vec<String> {
    use crate::report::overlays::{Panel, render_panels};
    use base64::Engine;
    let Some(shape) = samples.shape.image_dims() else {
        return Vec::new();
    };
    (scored.maps.iter().enumerate())
        .map(|(i, map)| {
            let picture = MapPicture {
                name: String::new(),
                image: samples.sample(i).to_vec(),
                shape,
                map: map.clone(),
                mask: None,
                score: scored.scores[i],
                label: 0,
            };
            let (scale, threshold, panels) = match pixel_threshold {
                Some(t) => (
                    (0.0, (2.0 * t).max(f64::EPSILON) as f32),
                    t,
                    &[Panel::Image, Panel::Heat, Panel::Region][..],
                ),
                None => {
                    let lo = map.iter().copied().fold(f32::INFINITY, f32::min);
                    let hi = map.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                    ((lo, hi), f64::INFINITY, &[Panel::Image, Panel::Heat][..])
                }
            };
            let img = render_panels(&picture, scale, threshold, panels);
            let mut png = Vec::new();
            let encoded = img
                .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
                .is_ok();
            if encoded {
                format!(
                    "data:image/png;base64,{}",
                    base64::engine::general_purpose::STANDARD.encode(&png)
                )
            } else {
                String::new()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    /// A handler that panics gets a JSON 500 and a closed connection, not a dropped one.
    #[test]
    fn a_panicking_handler_is_answered_with_a_500() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let address = listener.local_addr().unwrap();
        let router = Router::new()
            // A handler must return a response type, so the panic sits behind a condition
            // the compiler cannot see through (a bare `panic!()` body has type `!`).
            .route(
                "/bug",
                get(|| async {
                    if std::hint::black_box(true) {
                        panic!("a bug in a handler");
                    }
                    "never"
                }),
            )
            .route("/fine", get(|| async { "fine" }))
            .fallback(|| async {
                if std::hint::black_box(true) {
                    panic!("a bug in the fallback");
                }
                "never"
            });
        let router = answering_panics(router);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = runtime.spawn(crate::serve::listen::serve(
            listener,
            router,
            Limits::default(),
            async move {
                let _ = stopped.await;
            },
        ));
        // Reads until the server closes the connection (a 10 s limit, should it not).
        let ask = |head: &str| {
            let mut stream = std::net::TcpStream::connect(address).unwrap();
            write!(stream, "{head}\r\n").unwrap();
            stream
                .set_read_timeout(Some(std::time::Duration::from_secs(10)))
                .unwrap();
            let mut reply = String::new();
            let _ = stream.read_to_string(&mut reply);
            reply
        };
        for path in ["/bug", "/no-such-route"] {
            let reply = ask(&format!("GET {path} HTTP/1.1\r\nHost: x\r\n"));
            assert!(reply.starts_with("HTTP/1.1 500"), "{path}: {reply}");
            assert!(
                reply.ends_with(r#"{"error":"the server failed on this request"}"#),
                "{path}: {reply}"
            );
            assert!(
                reply.to_ascii_lowercase().contains("connection: close"),
                "{path}: {reply}"
            );
        }
        // The server goes on answering.
        let reply = ask("GET /fine HTTP/1.1\r\nHost: x\r\nConnection: close\r\n");
        assert!(
            reply.starts_with("HTTP/1.1 200") && reply.ends_with("fine"),
            "{reply}"
        );
        stop.send(()).unwrap();
        runtime.block_on(server).unwrap();
    }
}
