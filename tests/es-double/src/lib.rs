//! An Elasticsearch/OpenSearch test double on 127.0.0.1, faithful to `shared/es-api`.
//!
//! At start it reads the API definitions for the version it pretends to be and rejects with 400 any
//! request whose path or query parameters they do not allow (405 for a known path with another
//! method), answers with spec-shaped bodies, keeps state, moves snapshots and restores through their
//! states as they are polled, and returns the real error bodies from `es-api/errors`.
//!
//! `Config::story_extras` adds two routes that are NOT in the definitions (`PUT /{index}` and
//! `POST /_aliases`) because the OpenSearch test stories create indices in their prologues; only
//! the story replay turns it on.
//!
//! `Config::restart_extras` adds two more routes that are NOT in the definitions either, for
//! `enable`'s rolling restart: `PUT /_cluster/settings` (cluster.put_settings) and `POST /_flush`,
//! `POST /{index}/_flush` (indices.flush), with the parameters and bodies the Elasticsearch reference
//! documents. The settings are kept in `State::cluster_settings` so tests can check that allocation
//! was re-enabled.
//!
//! `Config::search_extras` adds `_count` and `_search` (outside the definitions too), for restore
//! tests; `documents` says what they answer. `listing` serves `GET _snapshot` with `verbose`,
//! pagination and the per-snapshot metadata-read cost model (`State::metadata_reads`).

pub mod discovery;
pub mod disk;
pub mod documents;
pub mod errors;
pub mod handlers;
pub mod listing;
pub mod peers;
pub mod pod;
pub mod policies;
pub mod s3;
pub mod schema;
pub mod spec;
pub mod state;
pub mod time;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::body::Bytes;
use axum::http::{HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

pub use state::{Behaviour, State};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    Elasticsearch,
    OpenSearch,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub flavour: Flavour,
    pub version: String,
    /// The `shared/es-api` folder.
    pub api_root: PathBuf,
    pub story_extras: bool,
    /// Serve cluster.put_settings and indices.flush (outside shared/es-api, see the module docs).
    pub restart_extras: bool,
    /// Serve `_count` and `_search` (outside shared/es-api) for restore tests; see `documents`.
    pub search_extras: bool,
}

impl Config {
    pub fn new(flavour: Flavour, version: &str) -> Self {
        Self {
            flavour,
            version: version.to_string(),
            api_root: default_api_root(),
            story_extras: false,
            restart_extras: false,
            search_extras: false,
        }
    }
}

/// `$ES_API_ROOT`, else `shared/es-api` next to the workspace (the layout of /work).
pub fn default_api_root() -> PathBuf {
    std::env::var_os("ES_API_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../../shared/es-api"
            ))
        })
}

struct Shared {
    config: Config,
    spec: spec::Spec,
    /// The OpenAPI document and endpoints manifest, for request body checks.
    openapi: Value,
    manifest: Value,
    errors: errors::ErrorBodies,
    state: Mutex<State>,
}

/// A running double. Dropping it stops the server.
pub struct Running {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Running {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
    /// The state, to set up a scenario or check the result.
    pub fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.shared.state)
    }
    /// Joins the pods at `seed_hosts` (see `peers`); `State::peers` must be set.
    pub fn discover(&self, seed_hosts: Vec<String>, port: u16) {
        tokio::spawn(discovery::run(self.shared.clone(), seed_hosts, port));
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

fn lock(m: &Mutex<State>) -> MutexGuard<'_, State> {
    // A panicking test must not poison the double for the assertions that follow.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Spec(#[from] spec::SpecError),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: String,
        source: std::io::Error,
    },
}

/// Starts the double on `addr` (`127.0.0.1:0` for any free port) in the current tokio runtime.
pub async fn start(config: Config, state: State, addr: &str) -> Result<Running, StartError> {
    let mut spec = spec::Spec::load(&config.api_root, config.flavour, &config.version)?;
    if config.story_extras {
        let globals = ["pretty", "human", "error_trace", "filter_path", "source"];
        spec.add_extra("indices.create", "PUT", "/{index}", &globals);
        spec.add_extra("indices.update_aliases", "POST", "/_aliases", &globals);
    }
    if config.restart_extras {
        let globals = ["pretty", "human", "error_trace", "filter_path"];
        let settings = [
            &globals[..],
            &["flat_settings", "master_timeout", "timeout"],
        ]
        .concat();
        spec.add_extra(
            "cluster.put_settings",
            "PUT",
            "/_cluster/settings",
            &settings,
        );
        let flush = [
            &globals[..],
            &[
                "force",
                "wait_if_ongoing",
                "ignore_unavailable",
                "allow_no_indices",
                "expand_wildcards",
            ],
        ]
        .concat();
        spec.add_extra("indices.flush", "POST", "/_flush", &flush);
        spec.add_extra("indices.flush", "POST", "/{index}/_flush", &flush);
    }
    if config.search_extras {
        documents::add_routes(&mut spec);
    }
    let errors = errors::ErrorBodies::load(&config.api_root)?;
    let dir = match config.flavour {
        Flavour::Elasticsearch => "elasticsearch",
        Flavour::OpenSearch => "opensearch",
    };
    let openapi = spec::read_json(
        config
            .api_root
            .join(dir)
            .join("openapi-snapshot-subset.json"),
    )?;
    let manifest = spec::read_json(config.api_root.join(dir).join("endpoints-manifest.json"))?;
    let shared = Arc::new(Shared {
        config,
        spec,
        openapi,
        manifest,
        errors,
        state: Mutex::new(state),
    });
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| StartError::Listen {
            addr: addr.to_string(),
            source,
        })?;
    let local = listener.local_addr().map_err(|source| StartError::Listen {
        addr: addr.to_string(),
        source,
    })?;
    let app = axum::Router::new()
        .fallback(serve)
        .with_state(shared.clone());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await;
    });
    Ok(Running {
        addr: local,
        shared,
        shutdown: Some(tx),
    })
}

async fn serve(
    axum::extract::State(shared): axum::extract::State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> Response {
    if lock(&shared.state).peers.is_some() {
        if let Some(answer) = as_cluster_member(&shared, &method, &uri, &headers, &body).await {
            return answer;
        }
    }
    let query: Vec<(String, String)> = uri
        .query()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    let keys: Vec<String> = query.iter().map(|(k, _)| k.clone()).collect();
    let query: HashMap<String, String> = query.into_iter().collect();
    let path = uri.path();
    let line = format!(
        "{method} {}",
        uri.path_and_query().map_or(path, |p| p.as_str())
    );
    let (status, reply) = match shared.spec.resolve(method.as_str(), path, &keys) {
        Err(spec::RouteError::NoHandler) => {
            let reason = format!("no handler found for uri [{}] and method [{method}]", uri);
            (
                400,
                handlers::Reply::Json(400, json!({"error": reason, "status": 400})),
            )
        }
        Err(spec::RouteError::WrongMethod(allowed)) => {
            let allowed: Vec<String> = allowed.into_iter().collect();
            let reason = format!(
                "Incorrect HTTP method for uri [{uri}] and method [{method}], allowed: [{}]",
                allowed.join(", ")
            );
            (
                405,
                handlers::Reply::Json(405, json!({"error": reason, "status": 405})),
            )
        }
        Err(spec::RouteError::UnknownParam(p)) => {
            let reason = format!("request [{path}] contains unrecognized parameter: [{p}]");
            (
                400,
                handlers::Reply::Json(
                    400,
                    errors::envelope(400, "illegal_argument_exception", &reason),
                ),
            )
        }
        Ok(matched)
            if !body.is_empty()
                && body_error(&shared, &matched.route.endpoint, &body).is_some() =>
        {
            let reason = body_error(&shared, &matched.route.endpoint, &body).unwrap_or_default();
            (
                400,
                handlers::Reply::Json(
                    400,
                    errors::envelope(400, "x_content_parse_exception", &reason),
                ),
            )
        }
        Ok(matched) => {
            let mut state = lock(&shared.state);
            let ctx = handlers::Ctx {
                flavour: shared.config.flavour,
                version: &shared.config.version,
                errors: &shared.errors,
                matched: &matched,
                query: &query,
                body: &body,
                now: time::now_ms(),
            };
            let reply = handlers::handle(&mut state, &ctx);
            disk::reconcile(&mut state);
            pod::save(&state);
            let status = match &reply {
                handlers::Reply::Json(s, _) | handlers::Reply::Text(s, _) => *s,
            };
            (status, reply)
        }
    };
    let delay = {
        let mut state = lock(&shared.state);
        // Errors carry their type, so tests can tell a spec rejection from a scenario's error.
        let kind = match &reply {
            handlers::Reply::Json(s, v) if *s >= 400 => {
                v["error"]["type"].as_str().map(|t| format!(" {t}"))
            }
            _ => None,
        };
        state
            .log
            .push(format!("{line} -> {status}{}", kind.unwrap_or_default()));
        let creating = method == Method::PUT || method == Method::POST;
        let is_create = creating
            && shared
                .spec
                .resolve(method.as_str(), path, &keys)
                .is_ok_and(|m| m.route.endpoint == "snapshot.create");
        if is_create {
            state.behaviour.delay_next_create_ms.take()
        } else {
            None
        }
    };
    if let Some(ms) = delay {
        tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
    }
    let mut response = match reply {
        handlers::Reply::Json(s, mut v) => {
            if let Some(filter) = query.get("filter_path") {
                v = filter_path(&v, filter);
            }
            let text = if query.get("pretty").is_some_and(|p| p != "false") {
                serde_json::to_string_pretty(&v).unwrap_or_default()
            } else {
                v.to_string()
            };
            let mut r = (code(s), text).into_response();
            r.headers_mut().insert(
                "content-type",
                HeaderValue::from_static("application/json; charset=UTF-8"),
            );
            r
        }
        handlers::Reply::Text(s, t) => (code(s), t).into_response(),
    };
    if sends_product_header(&shared.config) {
        response.headers_mut().insert(
            "x-elastic-product",
            HeaderValue::from_static("Elasticsearch"),
        );
    }
    response
}

/// In a cluster of pods: who this node is, or the master's answer when this node is not the
/// master, or 503 before a master is known. `None`: answer here. A health request that waits for
/// a status waits here, as Elasticsearch waits server-side.
async fn as_cluster_member(
    shared: &Shared,
    method: &Method,
    uri: &Uri,
    headers: &axum::http::HeaderMap,
    body: &Bytes,
) -> Option<Response> {
    let route = {
        let state = lock(&shared.state);
        let p = state.peers.as_ref()?;
        if uri.path() == peers::NODE_PATH {
            return Some(json_response(200, &peers::describe(&p.me)));
        }
        p.route()
    };
    let no_master = || {
        let body = errors::envelope(
            503,
            "master_not_discovered_exception",
            "no master node is known to this node yet",
        );
        Some(json_response(503, &body))
    };
    match route {
        peers::Route::NoMaster => no_master(),
        peers::Route::Forward(master) => {
            let target = uri.path_and_query().map_or(uri.path(), |p| p.as_str());
            let content_type = headers.get("content-type").and_then(|v| v.to_str().ok());
            let limit = std::time::Duration::from_secs(120);
            match discovery::request(master, method.as_str(), target, content_type, body, limit)
                .await
            {
                Ok(answer) => {
                    let mut r = (code(answer.status), answer.body).into_response();
                    if let Some(ct) = answer
                        .content_type
                        .and_then(|c| HeaderValue::from_str(&c).ok())
                    {
                        r.headers_mut().insert("content-type", ct);
                    }
                    if sends_product_header(&shared.config) {
                        r.headers_mut().insert(
                            "x-elastic-product",
                            HeaderValue::from_static("Elasticsearch"),
                        );
                    }
                    Some(r)
                }
                // The master went away between two discovery passes.
                Err(_) => no_master(),
            }
        }
        peers::Route::Local => {
            if uri.path() == "/_cluster/health" {
                wait_for_status(shared, uri).await;
            }
            None
        }
    }
}

async fn wait_for_status(shared: &Shared, uri: &Uri) {
    let query: HashMap<String, String> = uri
        .query()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    let Some(wanted) = query.get("wait_for_status") else {
        return;
    };
    let timeout = query
        .get("timeout")
        .and_then(|t| time::parse_duration_ms(t))
        .unwrap_or(30_000);
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_millis(timeout);
    loop {
        let status = peers::status(lock(&shared.state).peers.as_ref());
        if peers::satisfies(status, wanted) || tokio::time::Instant::now() >= deadline {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

fn json_response(status: u16, value: &Value) -> Response {
    let mut r = (code(status), value.to_string()).into_response();
    r.headers_mut().insert(
        "content-type",
        HeaderValue::from_static("application/json; charset=UTF-8"),
    );
    r
}

/// Known spec bugs accepted as anything (README caveat 2).
const SPEC_BUGS: &[&str] = &["#/components/schemas/_types.Metadata"];

/// Why a request body does not fit the operation's documented schema (lenient: `oneOf` as `anyOf`,
/// `required` not enforced), or `None` when it fits or nothing is documented.
fn body_error(shared: &Shared, endpoint: &str, body: &[u8]) -> Option<String> {
    let value: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => return Some(format!("request body is not JSON: {e}")),
    };
    let schema = schema::request_schema(&shared.openapi, &shared.manifest, endpoint)?;
    let validator = schema::Validator {
        doc: &shared.openapi,
        enforce_required: false,
        any_refs: SPEC_BUGS,
    };
    let problems = validator.validate(schema, &value);
    (!problems.is_empty()).then(|| {
        format!(
            "request body does not match the API definitions: {}",
            problems.join("; ")
        )
    })
}

fn code(s: u16) -> StatusCode {
    StatusCode::from_u16(s).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

fn sends_product_header(config: &Config) -> bool {
    let mut it = config
        .version
        .split('.')
        .map(|p| p.parse::<u32>().unwrap_or(0));
    let v = (it.next().unwrap_or(0), it.next().unwrap_or(0));
    config.flavour == Flavour::Elasticsearch && v >= (7, 14)
}

/// `filter_path`: comma-separated dotted paths, `*` matching one level and `**` any depth.
pub fn filter_path(value: &Value, filter: &str) -> Value {
    let paths: Vec<Vec<&str>> = filter.split(',').map(|p| p.split('.').collect()).collect();
    keep(
        value,
        &paths.iter().map(|p| p.as_slice()).collect::<Vec<_>>(),
    )
    .unwrap_or(json!({}))
}

fn keep(value: &Value, paths: &[&[&str]]) -> Option<Value> {
    if paths.iter().any(|p| p.is_empty()) {
        return Some(value.clone());
    }
    match value {
        Value::Object(map) => {
            let mut out = serde_json::Map::new();
            for (k, v) in map {
                let mut next: Vec<&[&str]> = Vec::new();
                for p in paths {
                    let head = p[0];
                    if head == "**" {
                        next.push(p);
                        next.push(&p[1..]);
                    } else if head == "*" || head == k || (head.contains('*') && glob(head, k)) {
                        next.push(&p[1..]);
                    }
                }
                if !next.is_empty() {
                    if let Some(kept) = keep(v, &next) {
                        out.insert(k.clone(), kept);
                    }
                }
            }
            (!out.is_empty()).then_some(Value::Object(out))
        }
        Value::Array(items) => {
            let kept: Vec<Value> = items.iter().filter_map(|i| keep(i, paths)).collect();
            (!kept.is_empty()).then_some(Value::Array(kept))
        }
        _ => None,
    }
}

fn glob(pattern: &str, name: &str) -> bool {
    let (pre, post) = pattern.split_once('*').unwrap_or((pattern, ""));
    name.starts_with(pre) && name.ends_with(post) && name.len() >= pre.len() + post.len()
}
