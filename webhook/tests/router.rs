//! The real axum Router, driven in-process with `oneshot`: golden fixtures and every kind of bad input.
#![allow(clippy::unwrap_used, clippy::expect_used)] // A test crate: a panic is how a test reports.

mod common;

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use logbackup_core::inject::{self, Options};
use logbackup_webhook::metrics::Metrics;
use logbackup_webhook::server::{admission_router, ops_router, AppState};
use serde_json::{json, Value};
use tower::ServiceExt;

use common::*;

fn state(max_body_bytes: usize) -> Arc<AppState> {
    Arc::new(AppState::new(
        Options::default(),
        Arc::new(Metrics::new()),
        max_body_bytes,
    ))
}

async fn post(
    state: &Arc<AppState>,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> (StatusCode, Value) {
    let mut request = Request::post("/mutate");
    if let Some(ct) = content_type {
        request = request.header("content-type", ct);
    }
    let response = admission_router(state.clone(), Duration::from_secs(4))
        .oneshot(request.body(Body::from(body)).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let value = serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("response body is not JSON ({e}): {bytes:?}"));
    (status, value)
}

async fn review(state: &Arc<AppState>, body: &Value) -> Value {
    let (status, answer) = post(state, Some("application/json"), body.to_string().into()).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["apiVersion"], "admission.k8s.io/v1");
    assert_eq!(answer["kind"], "AdmissionReview");
    answer
}

fn core_warnings(object: &Value) -> Option<Vec<String>> {
    let plan = inject::plan(object, &Options::default()).expect("the core rejects the fixture");
    let warnings: Vec<String> = plan.warnings.iter().map(ToString::to_string).collect();
    (!warnings.is_empty()).then_some(warnings)
}

fn response_warnings(answer: &Value) -> Option<Vec<String>> {
    answer
        .pointer("/response/warnings")
        .map(|w| serde_json::from_value(w.clone()).expect("warnings is not a list of strings"))
}

#[tokio::test]
async fn every_golden_fixture_is_injected_through_the_router() {
    let dir = fixture_dir();
    let mut pairs = Vec::new();
    for entry in
        std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("failed to list {}: {e}", dir.display()))
    {
        let path = entry.unwrap().path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        if let Some(case) = name
            .strip_suffix(".yaml")
            .filter(|c| !c.ends_with(".injected"))
        {
            let golden = dir.join(format!("{case}.injected.yaml"));
            if golden.exists() {
                pairs.push((case.to_owned(), path, golden));
            }
        }
    }
    pairs.sort();
    assert!(
        !pairs.is_empty(),
        "no <case>.yaml with a <case>.injected.yaml in {}",
        dir.display()
    );

    let state = state(6 << 20);
    for (i, (case, input, golden)) in pairs.iter().enumerate() {
        let original = read_yaml(input);
        let expected = read_yaml(golden);
        let uid = format!("00000000-0000-0000-0000-{i:012}");
        let answer = review(&state, &admission_review(&uid, "CREATE", &original)).await;
        let response = &answer["response"];
        assert_eq!(response["uid"], uid.as_str(), "{case}: uid not echoed");
        assert_eq!(response["allowed"], true, "{case}: {response}");

        let mut patched = original.clone();
        if let Some(patch) = decode_patch(&answer) {
            assert_eq!(response["patchType"], "JSONPatch", "{case}");
            json_patch::patch(&mut patched, &patch)
                .unwrap_or_else(|e| panic!("{case}: the patch does not apply: {e}"));
        }
        pretty_assertions::assert_eq!(patched, expected, "{case}: patched != golden");
        assert_eq!(
            response_warnings(&answer),
            core_warnings(&original),
            "{case}: warnings differ from the core's"
        );

        // Where the fixture lists the warnings (`code: message` per line), each must reach the client.
        let listed = input.with_file_name(format!("{case}.warnings.txt"));
        if let Ok(text) = std::fs::read_to_string(&listed) {
            let got = response_warnings(&answer).unwrap_or_default();
            for line in text.lines().filter(|l| !l.trim().is_empty()) {
                let message = line.split_once(": ").map_or(line, |(_, m)| m).trim();
                assert!(
                    got.iter().any(|w| w.ends_with(message)),
                    "{case}: warning {message:?} missing from {got:?}"
                );
            }
        }

        // Re-admitting the result (the API server's reinvocation, a later UPDATE) changes nothing.
        let again = review(&state, &admission_review(&uid, "UPDATE", &patched)).await;
        assert_eq!(again["response"]["allowed"], true, "{case}");
        assert!(
            decode_patch(&again).is_none_or(|p| p.0.is_empty()),
            "{case}: not idempotent: {}",
            again["response"]
        );
    }
}

/// `<case>.yaml` with `<case>.error.txt`: the core refuses it, so the webhook denies it with that text.
#[tokio::test]
async fn every_error_fixture_is_denied_with_the_core_message() {
    let dir = fixture_dir();
    let state = state(6 << 20);
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        let Some(case) = name.strip_suffix(".error.txt") else {
            continue;
        };
        let input = dir.join(format!("{case}.yaml"));
        let expected = std::fs::read_to_string(&path).unwrap();
        let answer = review(&state, &admission_review(UID, "CREATE", &read_yaml(&input))).await;
        assert_eq!(answer["response"]["uid"], UID, "{case}");
        assert_eq!(answer["response"]["allowed"], false, "{case}: {answer}");
        let message = answer["response"]["status"]["message"]
            .as_str()
            .unwrap_or_default();
        assert!(
            message.contains(expected.trim()),
            "{case}: {message:?} lacks {expected:?}"
        );
        assert!(answer["response"].get("patch").is_none(), "{case}");
    }
}

#[tokio::test]
async fn core_warnings_become_admission_warnings() {
    let mut sts = smoke_statefulset();
    sts["spec"]["template"]["spec"]["containers"][0]["command"] =
        json!(["/usr/share/elasticsearch/bin/elasticsearch"]);
    let answer = review(&state(1 << 20), &admission_review(UID, "CREATE", &sts)).await;
    let warnings = response_warnings(&answer).expect("no warnings returned");
    assert!(
        warnings.iter().any(|w| w.contains("sets command")),
        "{warnings:?}"
    );
    assert_eq!(Some(warnings), core_warnings(&sts));
    assert!(decode_patch(&answer).is_some(), "still injected");
}

#[tokio::test]
async fn uninjectable_labelled_statefulset_is_denied_with_the_core_reason() {
    let mut sts = smoke_statefulset();
    sts["spec"]["template"]["spec"]["containers"] = json!([{"name": "app", "image": "nginx:1.27"}]);
    let answer = review(&state(1 << 20), &admission_review(UID, "UPDATE", &sts)).await;
    assert_eq!(answer["response"]["uid"], UID);
    assert_eq!(answer["response"]["allowed"], false);
    let message = answer["response"]["status"]["message"].as_str().unwrap();
    let core = inject::plan(&sts, &Options::default())
        .unwrap_err()
        .to_string();
    assert!(message.contains(&core), "{message}");
    assert!(answer["response"].get("patch").is_none());
}

#[tokio::test]
async fn unlabelled_and_opted_out_statefulsets_pass_untouched() {
    let state = state(1 << 20);
    for label in [None, Some("disabled")] {
        let mut sts = smoke_statefulset();
        let labels = sts["metadata"]["labels"].as_object_mut().unwrap();
        match label {
            None => labels.remove("logbackup.io/inject"),
            Some(v) => labels.insert("logbackup.io/inject".into(), v.into()),
        };
        let answer = review(&state, &admission_review(UID, "CREATE", &sts)).await;
        assert_eq!(answer["response"]["allowed"], true, "{label:?}");
        assert!(answer["response"].get("patch").is_none(), "{label:?}");
    }
}

async fn assert_rejected(
    state: &Arc<AppState>,
    content_type: Option<&str>,
    body: Vec<u8>,
    status: StatusCode,
    code: &str,
) {
    let (got, answer) = post(state, content_type, body).await;
    assert_eq!(got, status, "{answer}");
    assert_eq!(answer["error"]["code"], code, "{answer}");
    assert!(
        answer["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{answer}"
    );
}

#[tokio::test]
async fn bad_requests_get_http_errors_with_json_bodies() {
    let state = state(4096);
    let json = Some("application/json");
    assert_rejected(&state, json, vec![], StatusCode::BAD_REQUEST, "empty-body").await;
    assert_rejected(
        &state,
        Some("text/plain"),
        b"{}".to_vec(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported-media-type",
    )
    .await;
    assert_rejected(
        &state,
        None,
        b"{}".to_vec(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported-media-type",
    )
    .await;
    assert_rejected(
        &state,
        json,
        vec![b' '; 5000],
        StatusCode::PAYLOAD_TOO_LARGE,
        "too-large",
    )
    .await;
    assert_rejected(
        &state,
        json,
        b"{\"apiVersion\":".to_vec(),
        StatusCode::BAD_REQUEST,
        "malformed-json",
    )
    .await;
    let v1beta1 = json!({"apiVersion": "admission.k8s.io/v1beta1", "kind": "AdmissionReview"});
    assert_rejected(
        &state,
        json,
        v1beta1.to_string().into(),
        StatusCode::BAD_REQUEST,
        "not-an-admission-review",
    )
    .await;
    let wrong_kind = json!({"apiVersion": "admission.k8s.io/v1", "kind": "ConversionReview"});
    assert_rejected(
        &state,
        json,
        wrong_kind.to_string().into(),
        StatusCode::BAD_REQUEST,
        "not-an-admission-review",
    )
    .await;

    let metrics = state.metrics.encode().unwrap();
    assert!(
        metrics.contains(
            r#"logbackup_webhook_http_rejections_total{code="unsupported-media-type"} 2"#
        ),
        "{metrics}"
    );
}

#[tokio::test]
async fn content_type_with_charset_is_accepted() {
    let body = admission_review(UID, "CREATE", &smoke_statefulset()).to_string();
    let (status, answer) = post(
        &state(1 << 20),
        Some("application/json; charset=utf-8"),
        body.into(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["response"]["allowed"], true);
}

#[tokio::test]
async fn ops_router_reports_health_readiness_and_metrics() {
    let state = state(1 << 20);
    review(
        &state,
        &admission_review(UID, "CREATE", &smoke_statefulset()),
    )
    .await;
    let get = |path: &'static str| {
        let state = state.clone();
        async move {
            let response = ops_router(state)
                .oneshot(Request::get(path).body(Body::empty()).unwrap())
                .await
                .unwrap();
            let status = response.status();
            let bytes = response.into_body().collect().await.unwrap().to_bytes();
            (status, String::from_utf8(bytes.to_vec()).unwrap())
        }
    };
    assert_eq!(get("/healthz").await.0, StatusCode::OK);
    assert_eq!(get("/readyz").await.0, StatusCode::OK);
    let (status, text) = get("/metrics").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        text.contains(
            r#"logbackup_webhook_admission_reviews_total{operation="CREATE",outcome="injected"} 1"#
        ),
        "{text}"
    );
    assert!(
        text.contains("logbackup_webhook_admission_review_duration_seconds_count 1"),
        "{text}"
    );
    state
        .ready
        .store(false, std::sync::atomic::Ordering::Relaxed);
    assert_eq!(get("/readyz").await.0, StatusCode::SERVICE_UNAVAILABLE);
}
