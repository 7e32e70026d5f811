//! The two HTTP surfaces: the TLS admission endpoint and the plain ops endpoint (probes, metrics).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use logbackup_core::inject::Options;
use prometheus_client::metrics::gauge::Gauge;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::errors::RequestError;
use crate::metrics::{CodeLabels, Metrics, ReviewLabels};
use crate::review::{count_values, review_counted, value_bound, ReviewLimits, Verdict};

/// Below the default 4 s request timeout.
pub const DEFAULT_BUDGET_WAIT: Duration = Duration::from_secs(3);

/// What one request may cost.
#[derive(Debug, Clone)]
pub struct RequestLimits {
    /// Largest body read; a larger Content-Length is refused before the body is read.
    pub max_body_bytes: usize,
    /// Bodies being read or reviewed at once may hold at most this many bytes together; others
    /// wait their turn (within the request timeout) instead of growing memory.
    pub bodies_in_flight_bytes: usize,
    pub review: ReviewLimits,
    /// How long a review may wait for its share of the value budget before it is answered 503
    /// (below the request timeout, so the answer names the limit instead of a bare timeout).
    pub budget_wait: Duration,
}

impl RequestLimits {
    pub fn with_max_body(max_body_bytes: usize) -> Self {
        RequestLimits {
            max_body_bytes,
            bodies_in_flight_bytes: max_body_bytes.max(8 << 20),
            review: ReviewLimits::default(),
            budget_wait: DEFAULT_BUDGET_WAIT,
        }
    }
}

pub struct AppState {
    pub options: Options,
    pub metrics: Arc<Metrics>,
    /// False once shutdown starts, so the readiness probe takes the pod out of the Service.
    pub ready: AtomicBool,
    pub max_body_bytes: usize,
    pub limits: RequestLimits,
    /// One permit per KiB of `bodies_in_flight_bytes`.
    body_budget: Arc<Semaphore>,
    /// JSON values being reviewed at once, all reviews together (one permit per value): a
    /// review's memory grows with its values, not its bytes.
    value_budget: Arc<Semaphore>,
    value_budget_total: u32,
}

impl AppState {
    pub fn new(options: Options, metrics: Arc<Metrics>, max_body_bytes: usize) -> Self {
        Self::with_limits(
            options,
            metrics,
            RequestLimits::with_max_body(max_body_bytes),
        )
    }

    pub fn with_limits(options: Options, metrics: Arc<Metrics>, limits: RequestLimits) -> Self {
        let budget = limits.bodies_in_flight_bytes.max(limits.max_body_bytes);
        AppState {
            options,
            metrics,
            ready: AtomicBool::new(true),
            max_body_bytes: limits.max_body_bytes,
            body_budget: Arc::new(Semaphore::new(kib(budget) as usize)),
            value_budget: Arc::new(Semaphore::new(value_budget(&limits) as usize)),
            value_budget_total: value_budget(&limits),
            limits,
        }
    }
}

impl AppState {
    /// The JSON values all reviews may hold at once (one permit per value): waiting reviews
    /// queue on it. Public so tests and operators' tools can see how much of it is taken.
    pub fn value_budget(&self) -> &Arc<Semaphore> {
        &self.value_budget
    }

    /// Waits, up to `limits.budget_wait`, for `values` permits of the value budget.
    async fn reserve_values(&self, values: u32) -> Result<OwnedSemaphorePermit, RequestError> {
        let waited = self.limits.budget_wait;
        match tokio::time::timeout(waited, self.value_budget.clone().acquire_many_owned(values))
            .await
        {
            Ok(Ok(permit)) => Ok(permit),
            Ok(Err(e)) => Err(RequestError::Internal(e.to_string())),
            Err(_) => Err(RequestError::Busy {
                budget: self.value_budget_total,
                waited,
            }),
        }
    }
}

/// One maximal review and half as many values again for the small ones beside it. Twice the
/// maximum let two near-maximal reviews run at once: 34.8 MiB VmHWM for 8 of 9,000 values and 8
/// of 1.9 MiB at once (bench/webhook.sh), over the 32 MiB goal.
fn value_budget(limits: &RequestLimits) -> u32 {
    let values = limits.review.max_object_values;
    u32::try_from(values.saturating_add(values / 2).max(1)).unwrap_or(u32::MAX)
}

fn kib(bytes: usize) -> u32 {
    u32::try_from(bytes.div_ceil(1024).max(1)).unwrap_or(u32::MAX)
}

/// POST /mutate, served over TLS to the API server. Every answer, errors included, is JSON.
pub fn admission_router(state: Arc<AppState>, request_timeout: Duration) -> Router {
    Router::new()
        .route("/mutate", post(mutate))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            (state.clone(), request_timeout),
            bound_request,
        ))
        .with_state(state)
}

/// Counts the request for the in-flight gauge until its response is ready or it times out (the
/// count is a drop guard, so a cancelled request comes off the gauge too), and answers 408 in
/// JSON when the request takes longer than the timeout.
async fn bound_request(
    State((state, timeout)): State<(Arc<AppState>, Duration)>,
    request: Request,
    next: axum::middleware::Next,
) -> Response {
    let _in_flight = InFlight::new(&state.metrics.in_flight);
    match tokio::time::timeout(timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => reject(&state, RequestError::Timeout(timeout)),
    }
}

struct InFlight(Gauge);

impl InFlight {
    fn new(gauge: &Gauge) -> Self {
        gauge.inc();
        InFlight(gauge.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

async fn not_found(State(state): State<Arc<AppState>>, uri: Uri) -> Response {
    reject(&state, RequestError::NotFound(uri.path().to_owned()))
}

async fn method_not_allowed(State(state): State<Arc<AppState>>, method: Method) -> Response {
    reject(&state, RequestError::MethodNotAllowed(method.to_string()))
}

fn reject(state: &AppState, e: RequestError) -> Response {
    state
        .metrics
        .rejections
        .get_or_create(&CodeLabels { code: e.code() })
        .inc();
    tracing::debug!(code = e.code(), error = %e, "rejected a request that is not an AdmissionReview");
    e.into_response()
}

/// /healthz, /readyz and /metrics on plain HTTP, for the kubelet and Prometheus.
pub fn ops_router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(state)
}

async fn mutate(State(state): State<Arc<AppState>>, request: Request) -> Response {
    match admit(&state, request).await {
        Ok(body) => ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
        Err(e) => reject(&state, e),
    }
}

async fn admit(state: &Arc<AppState>, request: Request) -> Result<Vec<u8>, RequestError> {
    let (parts, body) = request.into_parts();
    check_content_type(&parts.headers)?;
    let limit = state.max_body_bytes;
    // Decided from the header, before keeping any of the body: hyper sends `100 Continue` only
    // once the body is polled, so a client that asked for it gets the 413 without uploading.
    // A client that sends the body anyway has it read and dropped (constant memory) before the
    // 413, because closing on unread data makes the kernel send a reset instead of our answer.
    // Over HTTP/2 the body is always read to its end (at the pace flow control allows, bounded by
    // the request timeout): an answer sent over an unread body was lost to the stream's reset, and
    // the client saw a closed stream with no 413.
    let declared = content_length(&parts.headers);
    if declared.is_some_and(|n| n > limit) {
        let h2 = parts.version == axum::http::Version::HTTP_2;
        if !expects_continue(&parts.headers) && (h2 || declared.is_some_and(|n| n <= 4 * limit)) {
            discard(body).await;
        }
        return Err(RequestError::TooLarge { limit });
    }
    let permit = state
        .body_budget
        .clone()
        .acquire_many_owned(kib(declared.unwrap_or(limit)))
        .await
        .map_err(|e| RequestError::Internal(e.to_string()))?;
    let body = read_body(body, limit, declared).await?;
    // A small body is bounded in well under a microsecond and counted exactly only when the
    // bound is over the inline limit; a large one is counted off the I/O workers.
    let small = (body.len() <= INLINE_BODY_BYTES)
        .then(|| inline_values(&body))
        .filter(|values| *values <= INLINE_VALUES);
    let (reviewed, seconds) = if let Some(values) = small {
        // Small reviews (what the API server sends for ordinary StatefulSets) run here on the
        // I/O worker: they take a fraction of a millisecond, less than handing them to another
        // thread and back. They still wait for their share of the value budget.
        let gate = state.reserve_values(value_permits(state, values)).await?;
        let timed = timed_review(state, body, values);
        drop((gate, permit));
        timed
    } else {
        let worker = state.clone();
        let runtime = tokio::runtime::Handle::current();
        // Off the I/O workers: a large review must not hold up the small ones behind it.
        tokio::task::spawn_blocking(move || {
            // Reviews wait for their values (counted over the whole body, in one pass) to fit
            // the budget; one larger than the whole budget runs alone.
            let values = count_values(&body);
            let gate = runtime.block_on(worker.reserve_values(value_permits(&worker, values)))?;
            let timed = timed_review(&worker, body, values);
            drop((gate, permit));
            crate::memory::give_back();
            Ok(timed)
        })
        .await
        .map_err(|e| RequestError::Internal(format!("the review task failed: {e}")))??
    };
    let reviewed = reviewed?;
    let m = &state.metrics;
    m.review_seconds.observe(seconds);
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
    let uid = &reviewed.uid;
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

/// Bodies up to this size are reviewed on the I/O worker; larger ones on the blocking pool, with
/// the heap trimmed after them. A KubeSphere StatefulSet's review is about 9 KiB.
const INLINE_BODY_BYTES: usize = 64 * 1024;
/// ... and have at most this many JSON values (a KubeSphere review has about 700).
const INLINE_VALUES: usize = 4_000;

/// The values a small body is held to: the cheap upper bound (`value_bound`) when it is within
/// the inline limit, the exact count when it is not. A bound over `--max-object-values` is fine:
/// the review counts the object exactly before refusing it.
fn inline_values(body: &[u8]) -> usize {
    match value_bound(body) {
        bound if bound <= INLINE_VALUES => bound,
        _ => count_values(body),
    }
}

/// The review's share of the value budget: the body's JSON values, at least one, at most the
/// whole budget.
fn value_permits(state: &AppState, values: usize) -> u32 {
    u32::try_from(values)
        .unwrap_or(u32::MAX)
        .clamp(1, state.value_budget_total)
}

/// Reviews `body`, whose JSON values (`count_values`, or the bound `value_bound`) the budget was
/// taken for.
fn timed_review(
    state: &AppState,
    body: Vec<u8>,
    values: usize,
) -> (Result<crate::review::Reviewed, RequestError>, f64) {
    let started = Instant::now();
    let reviewed = review_counted(body, Some(values), &state.options, &state.limits.review);
    (reviewed, started.elapsed().as_secs_f64())
}

fn expects_continue(headers: &HeaderMap) -> bool {
    headers
        .get(header::EXPECT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"))
}

/// Reads the body to its end, keeping nothing (bounded in time by the request timeout).
async fn discard(mut body: Body) {
    while let Some(frame) = body.frame().await {
        if frame.is_err() {
            break;
        }
    }
}

fn content_length(headers: &HeaderMap) -> Option<usize> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}

/// Reads the body into one buffer sized from Content-Length, so a large body is held once (not as
/// its received chunks plus their concatenation).
async fn read_body(
    body: Body,
    limit: usize,
    declared: Option<usize>,
) -> Result<Vec<u8>, RequestError> {
    let mut body = Limited::new(body, limit);
    let mut buf = Vec::with_capacity(declared.unwrap_or(0).min(limit));
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(frame) => {
                if let Some(data) = frame.data_ref() {
                    buf.extend_from_slice(data);
                }
            }
            Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => {
                return Err(RequestError::TooLarge { limit })
            }
            Err(e) => return Err(RequestError::Unreadable(e.to_string())),
        }
    }
    Ok(buf)
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
