//! A scripted Kubernetes API server: kube-rs talks to a tower-test mock, and each request must be the
//! next one in the script (method, path with query, content type, body); the reply is realistic JSON.

use http::{Request, Response};
use kube::client::Body;
use serde_json::{json, Value};

pub struct Expect {
    pub method: &'static str,
    pub path: String,
    pub content_type: Option<&'static str>,
    pub body: Option<Value>,
    pub status: u16,
    pub reply: Value,
}

pub fn expect(method: &'static str, path: &str) -> Expect {
    Expect {
        method,
        path: path.to_owned(),
        content_type: None,
        body: None,
        status: 200,
        reply: json!({}),
    }
}

impl Expect {
    pub fn body(mut self, content_type: &'static str, body: Value) -> Self {
        self.content_type = Some(content_type);
        self.body = Some(body);
        self
    }
    pub fn reply(mut self, status: u16, reply: Value) -> Self {
        self.status = status;
        self.reply = reply;
        self
    }
}

/// The API server's answer for a missing object.
pub fn not_found(kind: &str, name: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
           "message": format!("{kind} \"{name}\" not found"), "reason": "NotFound",
           "details": {"name": name, "kind": kind}, "code": 404})
}

pub fn forbidden(what: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
           "message": format!("{what} is forbidden: User \"dev\" cannot list resource"), "reason": "Forbidden", "code": 403})
}

/// A client whose every request is checked against `script`; await the handle to check that all
/// of the script was used (the task panics on a mismatch, failing the await).
pub fn scripted(script: Vec<Expect>) -> (kube::Client, tokio::task::JoinHandle<()>) {
    let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let task = tokio::spawn(async move {
        for (i, e) in script.into_iter().enumerate() {
            let (request, send) = handle.next_request().await.unwrap_or_else(|| {
                panic!(
                    "request {i}: the client stopped before {} {}",
                    e.method, e.path
                )
            });
            assert_eq!(request.method().as_str(), e.method, "request {i} method");
            let path = request
                .uri()
                .path_and_query()
                .map(|p| p.as_str().to_owned())
                .unwrap_or_default();
            assert_eq!(path, e.path, "request {i} path");
            if let Some(ct) = e.content_type {
                let got = request
                    .headers()
                    .get(http::header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok());
                assert_eq!(got, Some(ct), "request {i} content type");
            }
            let bytes = request.into_body().collect_bytes().await.unwrap();
            if let Some(want) = e.body {
                let got: Value = serde_json::from_slice(&bytes).unwrap();
                assert_eq!(got, want, "request {i} body");
            }
            let response = Response::builder()
                .status(e.status)
                .header(http::header::CONTENT_TYPE, "application/json")
                .body(Body::from(serde_json::to_vec(&e.reply).unwrap()))
                .unwrap();
            send.send_response(response);
        }
    });
    (kube::Client::new(service, "default"), task)
}
