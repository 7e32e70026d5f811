//! A scripted Kubernetes API server: each request must be the next one in the script (method, path,
//! query, content type, body) and gets that step's answer, as realistic JSON. The same script is
//! served two ways:
//! - in-process, to a `kube::Client` over a tower-test mock ([`client`], [`serve`], [`scripted`]),
//!   for the library's Kubernetes calls;
//! - over HTTP on 127.0.0.1 with a kubeconfig ([`ApiServer`]), for the plugin binary.
//!
//! Answers may read and change a JSON state (the object a test patches), so a test can check what
//! the server ends up holding.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use http::{Request, Response};
use kube::client::Body;
use serde_json::{json, Value};
use tower_test::mock::{self, Handle};

/// The API server's answer for a missing object (a Kubernetes Status), `kind` as the server names
/// it in messages (`persistentvolumeclaims`, `serviceaccounts`).
pub fn not_found(kind: &str, name: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
           "message": format!("{kind} \"{name}\" not found"), "reason": "NotFound",
           "details": {"name": name, "kind": kind}, "code": 404})
}

/// The API server's answer when RBAC refuses user "dev" (a Kubernetes Status).
pub fn forbidden(what: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
           "message": format!("{what} is forbidden: User \"dev\" cannot list resource"), "reason": "Forbidden", "code": 403})
}

/// Answers a request from the server's state and the request's JSON body (Null when empty).
type Answer = Box<dyn FnOnce(&mut Value, &Value) -> (u16, Value) + Send>;

/// One expected request and its answer.
pub struct Exchange {
    method: &'static str,
    path: String,
    /// `path` holds the query too, and the whole must match (nothing more, nothing less).
    exact: bool,
    /// Query pairs that must be present (when not `exact`).
    query: Vec<(&'static str, &'static str)>,
    content_type: Option<&'static str>,
    check: Box<dyn FnOnce(&Value) + Send>,
    answer: Answer,
}

impl Exchange {
    /// A request to `path` (without its query: see `query`), answered `200 {}` unless told.
    pub fn new(method: &'static str, path: impl Into<String>) -> Self {
        Self {
            method,
            path: path.into(),
            exact: false,
            query: Vec::new(),
            content_type: None,
            check: Box::new(|_| {}),
            answer: Box::new(|_, _| (200, json!({}))),
        }
    }

    /// A request to exactly `path_and_query` ("/api/v1/...?" when kube sends an empty query).
    pub fn exact(method: &'static str, path_and_query: impl Into<String>) -> Self {
        Self {
            exact: true,
            ..Self::new(method, path_and_query)
        }
    }

    /// Query pairs that must be present.
    pub fn query(mut self, pairs: &[(&'static str, &'static str)]) -> Self {
        self.query = pairs.to_vec();
        self
    }

    /// Checks the body (JSON; Null when empty) with the test's own assertions.
    pub fn body(mut self, check: impl FnOnce(&Value) + Send + 'static) -> Self {
        self.check = Box::new(check);
        self
    }

    /// The body must be `body`, sent as `content_type`.
    pub fn body_eq(mut self, content_type: &'static str, body: Value) -> Self {
        self.content_type = Some(content_type);
        self.body(move |got| assert_eq!(got, &body, "request body"))
    }

    pub fn reply(self, status: u16, reply: Value) -> Self {
        self.reply_with(move |_, _| (status, reply))
    }

    /// Answers from the server's state and the request body.
    pub fn reply_with(
        mut self,
        answer: impl FnOnce(&mut Value, &Value) -> (u16, Value) + Send + 'static,
    ) -> Self {
        self.answer = Box::new(answer);
        self
    }

    /// Checks request `i` against this step and answers it, or says how it differs.
    fn take(
        self,
        i: usize,
        method: &str,
        path_and_query: &str,
        content_type: Option<&str>,
        body: &[u8],
        state: &mut Value,
    ) -> Result<(u16, Value), String> {
        let asked = format!("{method} {path_and_query}");
        if method != self.method {
            return Err(format!(
                "request {i}: expected {} {}, got {asked}",
                self.method, self.path
            ));
        }
        let (path, query) = path_and_query
            .split_once('?')
            .unwrap_or((path_and_query, ""));
        let matches = if self.exact {
            path_and_query == self.path
        } else {
            path == self.path
        };
        if !matches {
            return Err(format!(
                "request {i}: expected {} {}, got {asked}",
                self.method, self.path
            ));
        }
        let pairs: Vec<(&str, &str)> = query
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .collect();
        if let Some((k, v)) = self.query.iter().find(|want| !pairs.contains(*want)) {
            return Err(format!("request {i}: {asked}: query lacks {k}={v}"));
        }
        if let Some(want) = self.content_type {
            if content_type != Some(want) {
                return Err(format!(
                    "request {i}: {asked}: content type {content_type:?}, expected {want}"
                ));
            }
        }
        let body: Value = if body.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(body)
                .map_err(|e| format!("request {i}: {asked}: the body is not JSON ({e})"))?
        };
        (self.check)(&body);
        Ok((self.answer)(state, &body))
    }
}

pub type ApiHandle = Handle<Request<Body>, Response<Body>>;

/// A client whose every request goes to `handle`; serve them with [`serve`].
pub fn client() -> (kube::Client, ApiHandle) {
    let (service, handle) = mock::pair::<Request<Body>, Response<Body>>();
    (kube::Client::new(service, "default"), handle)
}

/// Serves `script` in order (panicking on a request that differs, or none within 10 s), then checks
/// nothing more was asked.
pub async fn serve(mut handle: ApiHandle, script: Vec<Exchange>) {
    let mut state = Value::Null;
    for (i, step) in script.into_iter().enumerate() {
        let next = tokio::time::timeout(Duration::from_secs(10), handle.next_request())
            .await
            .unwrap_or_else(|_| panic!("request {i}: none came for {} {}", step.method, step.path));
        let (request, respond) = next.unwrap_or_else(|| {
            panic!(
                "request {i}: the client stopped before {} {}",
                step.method, step.path
            )
        });
        let method = request.method().as_str().to_owned();
        let path = request
            .uri()
            .path_and_query()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_default();
        let content_type = request
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = request.into_body().collect_bytes().await.unwrap();
        let (status, answer) = step
            .take(
                i,
                &method,
                &path,
                content_type.as_deref(),
                &bytes,
                &mut state,
            )
            .unwrap_or_else(|e| panic!("{e}"));
        respond.send_response(
            Response::builder()
                .status(status)
                .header(http::header::CONTENT_TYPE, "application/json")
                .body(Body::from(serde_json::to_vec(&answer).unwrap()))
                .unwrap(),
        );
    }
    // Nothing else was asked: once the client is dropped the stream ends.
    let extra = tokio::time::timeout(Duration::from_secs(2), handle.next_request()).await;
    if let Ok(Some((request, _))) = extra {
        panic!("unexpected request {} {}", request.method(), request.uri());
    }
}

/// A client served `script` by a task; await the handle to check all of it was used (the task
/// panics on a mismatch, failing the await).
pub fn scripted(script: Vec<Exchange>) -> (kube::Client, tokio::task::JoinHandle<()>) {
    let (client, handle) = client();
    (client, tokio::spawn(serve(handle, script)))
}

/// A current-thread runtime for the tests that drive the client themselves.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// The script served over HTTP on 127.0.0.1, with a kubeconfig that points at it; stopped when
/// dropped. A request that differs is answered 500 and recorded for [`ApiServer::check_script`].
pub struct ApiServer {
    shared: Arc<Mutex<Shared>>,
    kubeconfig: PathBuf,
    _dir: tempfile::TempDir,
    // Declared last: the runtime outlives nothing it serves.
    _runtime: tokio::runtime::Runtime,
}

struct Shared {
    script: VecDeque<Exchange>,
    asked: usize,
    state: Value,
    mismatches: Vec<String>,
}

impl ApiServer {
    /// Serves `script` with `state` as the server's objects; the kubeconfig's context uses
    /// `namespace`.
    pub fn start(namespace: &str, script: Vec<Exchange>, state: Value) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let shared = Arc::new(Mutex::new(Shared {
            script: script.into(),
            asked: 0,
            state,
            mismatches: Vec::new(),
        }));
        let app = axum::Router::new()
            .fallback(answer)
            .with_state(shared.clone());
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let api = listener.local_addr().unwrap();
        runtime.spawn(async move { axum::serve(listener, app).await });
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = dir.path().join("config");
        std::fs::write(&kubeconfig, format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: http://{api}\nusers:\n- name: u\n  user: {{}}\ncontexts:\n- name: c\n  context:\n    cluster: fake\n    user: u\n    namespace: {namespace}\ncurrent-context: c\n"
        )).unwrap();
        Self {
            shared,
            kubeconfig,
            _dir: dir,
            _runtime: runtime,
        }
    }

    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// The server's objects as they are now.
    pub fn state(&self) -> Value {
        self.lock().state.clone()
    }

    /// Every scripted request came, in order, and nothing else; `context` (the binary's stderr)
    /// goes into the failure message.
    #[track_caller]
    pub fn check_script(&self, context: &str) {
        let s = self.lock();
        assert!(s.mismatches.is_empty(), "{:?}\n{context}", s.mismatches);
        assert!(
            s.script.is_empty(),
            "{} requests never came\n{context}",
            s.script.len()
        );
    }

    fn lock(&self) -> MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|p| p.into_inner())
    }
}

async fn answer(
    axum::extract::State(shared): axum::extract::State<Arc<Mutex<Shared>>>,
    request: axum::extract::Request,
) -> (http::StatusCode, String) {
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let mut s = shared.lock().unwrap_or_else(|p| p.into_inner());
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    let i = s.asked;
    s.asked += 1;
    let Some(step) = s.script.pop_front() else {
        s.mismatches
            .push(format!("request {i}: unexpected {} {path}", parts.method));
        return (http::StatusCode::INTERNAL_SERVER_ERROR, "{}".into());
    };
    let content_type = parts
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let shared = &mut *s;
    match step.take(
        i,
        parts.method.as_str(),
        &path,
        content_type,
        &bytes,
        &mut shared.state,
    ) {
        Ok((code, value)) => (
            http::StatusCode::from_u16(code).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR),
            value.to_string(),
        ),
        Err(mismatch) => {
            shared.mismatches.push(mismatch);
            (http::StatusCode::INTERNAL_SERVER_ERROR, "{}".into())
        }
    }
}

/// Applies a JSON patch (an array) or a merge patch (an object) to `object`, answering as the API
/// server does: the patched object, or 422 with a Status when a `test` fails.
pub fn apply_patch(object: &mut Value, patch: &Value) -> (u16, Value) {
    if patch.is_object() {
        json_patch::merge(object, patch);
        return (200, object.clone());
    }
    let Ok(ops) = serde_json::from_value::<json_patch::Patch>(patch.clone()) else {
        return (422, json!({}));
    };
    match json_patch::patch(object, &ops) {
        Ok(()) => (200, object.clone()),
        Err(e) => (
            422,
            json!({"kind": "Status", "status": "Failure", "code": 422, "message": e.to_string()}),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn take(
        step: Exchange,
        method: &str,
        path: &str,
        ct: Option<&str>,
        body: &str,
    ) -> Result<(u16, Value), String> {
        step.take(0, method, path, ct, body.as_bytes(), &mut Value::Null)
    }

    #[test]
    fn an_exact_step_wants_the_whole_query_and_a_path_step_only_its_pairs() {
        let exact = || Exchange::exact("GET", "/api/v1/pods?");
        assert!(take(exact(), "GET", "/api/v1/pods?", None, "").is_ok());
        assert!(take(exact(), "GET", "/api/v1/pods?limit=1", None, "").is_err());
        let pairs = || Exchange::new("PATCH", "/api/v1/pods").query(&[("force", "true")]);
        assert!(take(
            pairs(),
            "PATCH",
            "/api/v1/pods?fieldManager=x&force=true",
            None,
            ""
        )
        .is_ok());
        let lacking = take(pairs(), "PATCH", "/api/v1/pods?fieldManager=x", None, "").unwrap_err();
        assert!(lacking.contains("query lacks force=true"), "{lacking}");
        let wrong = take(pairs(), "GET", "/api/v1/pods?force=true", None, "").unwrap_err();
        assert!(
            wrong.contains("expected PATCH /api/v1/pods, got GET"),
            "{wrong}"
        );
    }

    #[test]
    fn content_type_and_body_are_checked_and_the_answer_sees_the_body() {
        let step = || {
            Exchange::exact("PATCH", "/x?")
                .body_eq("application/merge-patch+json", json!({"a": 1}))
                .reply_with(|_, body| (201, body.clone()))
        };
        assert_eq!(
            take(
                step(),
                "PATCH",
                "/x?",
                Some("application/merge-patch+json"),
                r#"{"a":1}"#
            ),
            Ok((201, json!({"a": 1})))
        );
        let ct = take(
            step(),
            "PATCH",
            "/x?",
            Some("application/json"),
            r#"{"a":1}"#,
        )
        .unwrap_err();
        assert!(ct.contains("content type"), "{ct}");
        let not_json = take(Exchange::exact("POST", "/x?"), "POST", "/x?", None, "{").unwrap_err();
        assert!(not_json.contains("the body is not JSON"), "{not_json}");
    }

    #[test]
    #[should_panic(expected = "request body")]
    fn a_different_body_fails_the_test() {
        let _ = take(
            Exchange::exact("POST", "/x?").body_eq("application/json", json!({"a": 1})),
            "POST",
            "/x?",
            Some("application/json"),
            r#"{"a":2}"#,
        );
    }

    #[test]
    fn patches_apply_as_the_api_server_does() {
        let mut sts = json!({"metadata": {"resourceVersion": "1"}});
        let (code, _) = apply_patch(&mut sts, &json!({"metadata": {"labels": {"a": "b"}}}));
        assert_eq!((code, &sts["metadata"]["labels"]["a"]), (200, &json!("b")));
        let stale = json!([{"op": "test", "path": "/metadata/resourceVersion", "value": "0"}]);
        assert_eq!(apply_patch(&mut sts, &stale).0, 422);
        assert_eq!(not_found("pods", "p")["code"], 404);
    }
}
