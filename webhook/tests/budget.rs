//! The shared value budget bounds memory under concurrent reviews: a review whose JSON values do
//! not fit waits for them, small ones pass beside a large one, and one that waits too long is
//! answered 503 with a message naming the limit. Time is paused (tokio's test clock), so the waits
//! are decided by the budget, not by how fast this machine is.
#![allow(clippy::unwrap_used, clippy::expect_used)] // A test crate: a panic is how a test reports.

mod common;

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use logbackup_core::inject::Options;
use logbackup_webhook::metrics::Metrics;
use logbackup_webhook::review::{count_values, ReviewLimits};
use logbackup_webhook::server::{admission_router, AppState, RequestLimits};
use serde_json::Value;
use tower::ServiceExt;

use common::*;

const MAX_OBJECT_VALUES: usize = 1_000;

fn state() -> Arc<AppState> {
    let limits = RequestLimits {
        review: ReviewLimits {
            max_object_values: MAX_OBJECT_VALUES,
        },
        budget_wait: Duration::from_secs(1),
        ..RequestLimits::with_max_body(1 << 20)
    };
    Arc::new(AppState::with_limits(
        Options::default(),
        Arc::new(Metrics::new()),
        limits,
    ))
}

async fn post(state: &Arc<AppState>, body: String) -> (StatusCode, Value) {
    let request = Request::post("/mutate")
        .header("content-type", "application/json")
        .body(Body::from(body))
        .unwrap();
    let response = admission_router(state.clone(), Duration::from_secs(4))
        .oneshot(request)
        .await
        .unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap())
}

fn smoke_review() -> String {
    admission_review(UID, "CREATE", &smoke_statefulset()).to_string()
}

#[tokio::test(start_paused = true)]
async fn a_review_that_does_not_fit_the_budget_waits_and_then_gets_503_naming_the_limit() {
    let state = state();
    let total = state.value_budget().available_permits();
    assert_eq!(
        total,
        MAX_OBJECT_VALUES * 3 / 2,
        "1.5 x --max-object-values"
    );
    // Another review holds all but a few values of the budget.
    let body = smoke_review();
    let needs = u32::try_from(count_values(body.as_bytes())).unwrap();
    let held = state
        .value_budget()
        .clone()
        .acquire_many_owned(u32::try_from(total).unwrap() - needs + 1)
        .await
        .unwrap();

    let (status, answer) = post(&state, body.clone()).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{answer}");
    assert_eq!(answer["error"]["code"], "busy", "{answer}");
    let message = answer["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("(1500, 1.5 x --max-object-values)"),
        "{message}"
    );

    // Once the other review is done, the same review fits and is patched.
    drop(held);
    let (status, answer) = post(&state, body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert!(decode_patch(&answer).is_some(), "{answer}");
    assert_eq!(
        state.value_budget().available_permits(),
        total,
        "permits leaked"
    );
}

#[tokio::test(start_paused = true)]
async fn a_small_review_passes_beside_a_large_one() {
    let state = state();
    let body = smoke_review();
    let needs = count_values(body.as_bytes());
    // A maximal review in progress takes two thirds of the budget; a small one still fits beside it.
    assert!(needs <= MAX_OBJECT_VALUES / 2, "the smoke review is small");
    let _large = state
        .value_budget()
        .clone()
        .acquire_many_owned(u32::try_from(MAX_OBJECT_VALUES).unwrap())
        .await
        .unwrap();
    let (status, answer) = post(&state, body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert!(decode_patch(&answer).is_some(), "{answer}");
}
