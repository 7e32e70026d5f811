//! The two HTTP surfaces: the TLS admission endpoint and the plain ops endpoint (probes, metrics).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use logbackup_core::inject::Options;
use tower_http::timeout::TimeoutLayer;

use crate::errors::RequestError;
use crate::metrics::{CodeLabels, Metrics, ReviewLabels};
use crate::review::{review, Verdict};

pub struct AppState {
    pub options: Options,
    pub metrics: Arc<Metrics>,
    /// False once shutdown starts, so the readiness probe takes the pod out of the Service.
    pub ready: AtomicBool,
    pub max_body_bytes: usize,
}

impl AppState {
    pub fn new(options: Options, metrics: Arc<Metrics>, max_body_bytes: usize) -> Self {
        AppState {
            options,
            metrics,
            ready: AtomicBool::new(true),
            max_body_bytes,
        }
    }
}

/// POST /mutate, served over TLS to the API server.
pub fn admission_router(state: Arc<AppState>, request_timeout: Duration) -> Router {
    let limit = state.max_body_bytes;
    Router::new()
        .route("/mutate", post(mutate))
        .layer(DefaultBodyLimit::max(limit))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            count_in_flight,
        ))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            request_timeout,
        ))
        .with_state(state)
}

/// Counts the request for the in-flight gauge until its response is ready, timeouts included.
async fn count_in_flight(
    State(state): State<Arc<AppState>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let gauge = state.metrics.in_flight.clone();
    gauge.inc();
    let response = next.run(request).await;
    gauge.dec();
    response
}

/// /healthz, /readyz and /metrics on plain HTTP, for the kubelet and Prometheus.
pub fn ops_router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(state)
}

async fn mutate(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    match handle(&state, &headers, body) {
        Ok(body) => Json(body).into_response(),
        Err(e) => {
            state
                .metrics
                .rejections
                .get_or_create(&CodeLabels { code: e.code() })
                .inc();
            tracing::debug!(code = e.code(), error = %e, "rejected a request that is not an AdmissionReview");
            e.into_response()
        }
    }
}

fn handle(
    state: &AppState,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<serde_json::Value, RequestError> {
    check_content_type(headers)?;
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            RequestError::TooLarge {
                limit: state.max_body_bytes,
            }
        } else {
            RequestError::Unreadable(e.body_text())
        }
    })?;
    let started = Instant::now();
    let reviewed = review(&body, &state.options)?;
    let m = &state.metrics;
    m.review_seconds.observe(started.elapsed().as_secs_f64());
    let request = &reviewed.body["response"];
    let operation = reviewed.operation;
    m.reviews
        .get_or_create(&ReviewLabels {
            operation,
            outcome: reviewed.verdict.label(),
        })
        .inc();
    for code in &reviewed.warning_codes {
        m.warnings.get_or_create(&CodeLabels { code }).inc();
    }
    // One line per review: uid, namespace, name, operation, outcome (and the reason of a denial).
    let uid = request["uid"].as_str().unwrap_or_default();
    let outcome = reviewed.verdict.label();
    let (namespace, name) = (&reviewed.namespace, &reviewed.name);
    match reviewed.verdict {
        Verdict::Denied => tracing::info!(
            %uid, %namespace, %name, %operation, outcome,
            reason = reviewed.denial.as_deref().unwrap_or_default(), "review"
        ),
        Verdict::Invalid => {
            tracing::warn!(%uid, outcome, "review: could not read the AdmissionReview request")
        }
        _ => tracing::info!(%uid, %namespace, %name, %operation, outcome, "review"),
    }
    Ok(reviewed.body)
}

fn check_content_type(headers: &HeaderMap) -> Result<(), RequestError> {
    let value = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let essence = value.split(';').next().unwrap_or_default().trim();
    if essence.eq_ignore_ascii_case("application/json") {
        Ok(())
    } else {
        Err(RequestError::UnsupportedMediaType(value.to_owned()))
    }
}

async fn readyz(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    if state.ready.load(Ordering::Relaxed) {
        (StatusCode::OK, "ok")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "shutting down")
    }
}

async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    match state.metrics.encode() {
        Ok(text) => (
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}
