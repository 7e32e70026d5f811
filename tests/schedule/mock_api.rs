//! The thin Kubernetes calls against a mocked API server: every request's method, path, query
//! and body is checked, and answered with realistic JSON. Each exchange is bounded in time.

use std::time::Duration;

use http::{Request, Response};
use kube::client::Body;
use serde_json::{json, Value};
use tower_test::mock::{self, Handle};

pub type ApiHandle = Handle<Request<Body>, Response<Body>>;

/// A client whose every request goes to `handle`.
/// A connection to the mocked API that already knows it talks to Kubernetes 1.`minor`.
pub fn kube(minor: u32) -> (logbackup::k8s::Kube, ApiHandle) {
    let (client, handle) = client();
    let kube = logbackup::k8s::Kube::new(client, "https://mock").with_served(served(minor));
    (kube, handle)
}

/// What a server of that minor version serves, for the APIs we use.
pub fn served(minor: u32) -> logbackup::k8s::Served {
    let mut gv: std::collections::BTreeSet<String> = [
        "v1",
        "apps/v1",
        "batch/v1",
        "admissionregistration.k8s.io/v1",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    if minor >= 21 {
        gv.extend(["policy/v1", "discovery.k8s.io/v1"].map(String::from));
    }
    if minor < 25 {
        gv.extend(
            [
                "batch/v1beta1",
                "policy/v1beta1",
                "discovery.k8s.io/v1beta1",
            ]
            .map(String::from),
        );
    }
    logbackup::k8s::Served::new("1", &minor.to_string(), &format!("v1.{minor}.0"), gv)
}

pub fn client() -> (kube::Client, ApiHandle) {
    let (service, handle) = mock::pair::<Request<Body>, Response<Body>>();
    (kube::Client::new(service, "default"), handle)
}

/// One expected request: what it must be, and the answer.
pub struct Exchange {
    pub method: &'static str,
    pub path: String,
    /// Query pairs that must be present.
    pub query: Vec<(&'static str, &'static str)>,
    /// Checks the body (JSON; Null when empty).
    pub check: Box<dyn FnOnce(&Value) + Send>,
    pub status: u16,
    pub answer: Value,
}

impl Exchange {
    pub fn new(method: &'static str, path: impl Into<String>) -> Self {
        Self {
            method,
            path: path.into(),
            query: Vec::new(),
            check: Box::new(|_| {}),
            status: 200,
            answer: json!({}),
        }
    }
    pub fn query(mut self, pairs: &[(&'static str, &'static str)]) -> Self {
        self.query = pairs.to_vec();
        self
    }
    pub fn body(mut self, check: impl FnOnce(&Value) + Send + 'static) -> Self {
        self.check = Box::new(check);
        self
    }
    pub fn answer(mut self, status: u16, answer: Value) -> Self {
        self.status = status;
        self.answer = answer;
        self
    }
}

pub fn not_found(kind: &str, name: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
           "message": format!("{kind} \"{name}\" not found"), "reason": "NotFound",
           "details": {"name": name, "kind": kind}, "code": 404})
}

/// Serves `script` in order, then checks nothing more was asked.
pub async fn serve(mut handle: ApiHandle, script: Vec<Exchange>) {
    for (i, step) in script.into_iter().enumerate() {
        let next = tokio::time::timeout(Duration::from_secs(10), handle.next_request())
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "step {i}: no request came for {} {}",
                    step.method, step.path
                )
            });
        let (request, respond) = next.unwrap_or_else(|| panic!("step {i}: the client went away"));
        assert_eq!(
            request.method().as_str(),
            step.method,
            "step {i}: {}",
            request.uri()
        );
        assert_eq!(request.uri().path(), step.path, "step {i}");
        let query: Vec<(String, String)> = request
            .uri()
            .query()
            .map(|q| {
                q.split('&')
                    .filter_map(|kv| kv.split_once('='))
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect()
            })
            .unwrap_or_default();
        for (k, v) in &step.query {
            assert!(
                query.iter().any(|(qk, qv)| qk == k && qv == v),
                "step {i}: {}: query lacks {k}={v}",
                request.uri()
            );
        }
        let bytes = request.into_body().collect_bytes().await.unwrap();
        let body: Value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap()
        };
        (step.check)(&body);
        respond.send_response(
            Response::builder()
                .status(step.status)
                .header("content-type", "application/json")
                .body(Body::from(serde_json::to_vec(&step.answer).unwrap()))
                .unwrap(),
        );
    }
    // Nothing else was asked: the client is dropped by now, so the stream ends.
    let extra = tokio::time::timeout(Duration::from_secs(2), handle.next_request()).await;
    if let Ok(Some((request, _))) = extra {
        panic!("unexpected request {} {}", request.method(), request.uri());
    }
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}
