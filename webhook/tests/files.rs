//! The log-directory fixtures (`tests/fixtures/inject-files`) through the real Router, each sent
//! as the API server sends its kind: the patched object is the golden, a refused one is denied
//! with the core's message, and re-admitting the result changes nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)] // A test crate: a panic is how a test reports.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use http_body_util::BodyExt;
use logbackup_core::inject::Options;
use logbackup_webhook::metrics::Metrics;
use logbackup_webhook::server::{admission_router, AppState};
use serde_json::{json, Value};
use tower::ServiceExt;

use common::*;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/inject-files")
}

/// The AdmissionReview the API server sends for `object`, with its own kind and resource.
fn review_of(object: &Value, operation: &str) -> Value {
    let mut review = admission_review(UID, operation, object);
    let api_version = object["apiVersion"].as_str().unwrap();
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    let kind = object["kind"].as_str().unwrap();
    let resource = format!("{}s", kind.to_lowercase());
    review["request"]["kind"] = json!({"group": group, "version": version, "kind": kind});
    review["request"]["resource"] =
        json!({"group": group, "version": version, "resource": resource});
    review
}

async fn send(body: &Value) -> Value {
    let state = Arc::new(AppState::new(
        Options::default(),
        Arc::new(Metrics::new()),
        6 << 20,
    ));
    let response = admission_router(state, Duration::from_secs(4))
        .oneshot(
            Request::post("/mutate")
                .header("content-type", "application/json")
                .body(Body::from(body.to_string()))
                .unwrap(),
        )
        .await
        .unwrap();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    serde_json::from_slice(&bytes).unwrap()
}

#[tokio::test]
async fn every_log_directory_fixture_is_injected_or_denied_as_the_goldens_say() {
    let mut cases: Vec<PathBuf> = std::fs::read_dir(dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let n = p.file_name().unwrap().to_str().unwrap();
            n.ends_with(".yaml") && !n.ends_with(".injected.yaml")
        })
        .collect();
    cases.sort();
    assert!(cases.len() >= 10);
    for case in &cases {
        let name = case.display().to_string();
        let original = read_yaml(case);
        let answer = send(&review_of(&original, "CREATE")).await;
        let response = &answer["response"];
        assert_eq!(response["uid"], UID, "{name}");
        let golden = case.with_extension("injected.yaml");
        if !golden.exists() {
            let error = std::fs::read_to_string(case.with_extension("error.txt")).unwrap();
            assert_eq!(response["allowed"], false, "{name}: {response}");
            let message = response["status"]["message"].as_str().unwrap_or_default();
            assert!(message.contains(error.trim()), "{name}: {message}");
            continue;
        }
        assert_eq!(response["allowed"], true, "{name}: {response}");
        let mut patched = original.clone();
        if let Some(patch) = decode_patch(&answer) {
            json_patch::patch(&mut patched, &patch).unwrap();
        }
        pretty_assertions::assert_eq!(patched, read_yaml(&golden), "{name}");
        // Pods are only reviewed at CREATE: their volumes are fixed afterwards.
        if original["kind"] != "Pod" {
            let again = send(&review_of(&patched, "UPDATE")).await;
            assert_eq!(again["response"]["allowed"], true, "{name}");
            assert!(
                decode_patch(&again).is_none_or(|p| p.0.is_empty()),
                "{name}: not idempotent"
            );
        }
    }
}
