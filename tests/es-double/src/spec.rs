//! The route table and allowed query parameters, read from `shared/es-api` for the version the double
//! pretends to be. Nothing here is hand-listed: every route and parameter comes from the definitions.

use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::Flavour;

#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("cannot read {path}: {message}")]
    Read { path: PathBuf, message: String },
    #[error("no API definitions for {0}")]
    NoDefinitions(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Param(String),
}

#[derive(Debug, Clone)]
pub struct Route {
    pub endpoint: String,
    pub method: String,
    pub template: String,
    segments: Vec<Segment>,
    pub params: HashSet<String>,
}

/// What a request resolved to.
#[derive(Debug, Clone)]
pub struct Matched<'a> {
    pub route: &'a Route,
    pub path_params: Vec<(String, String)>,
}

impl Matched<'_> {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.path_params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Debug)]
pub enum RouteError {
    /// No template has this shape: 400 "no handler found".
    NoHandler,
    /// The path exists for other methods: 405.
    WrongMethod(BTreeSet<String>),
    /// A query parameter this version does not accept: 400.
    UnknownParam(String),
}

#[derive(Debug, Clone)]
pub struct Spec {
    pub routes: Vec<Route>,
    /// Which definitions were used, for logs and reports.
    pub source: String,
}

/// Node-info metrics: the value decides between `/_nodes/{metric}` and `/_nodes/{node_id}`.
const NODE_METRICS: &[&str] = &[
    "settings",
    "os",
    "process",
    "jvm",
    "thread_pool",
    "transport",
    "http",
    "plugins",
    "ingest",
    "aggregations",
    "indices",
    "_all",
    "_none",
    "fs",
    "breaker",
    "discovery",
    "script",
    "adaptive_selection",
    "script_cache",
    "indexing_pressure",
    "repositories",
    "allocations",
    "search_pipelines",
    "remote_cluster_server",
];

impl Spec {
    pub fn load(root: &Path, flavour: Flavour, version: &str) -> Result<Self, SpecError> {
        match flavour {
            Flavour::Elasticsearch => Self::load_elasticsearch(root, version),
            Flavour::OpenSearch => Self::load_opensearch(root, version),
        }
    }

    fn read(path: PathBuf) -> Result<Value, SpecError> {
        let text = std::fs::read(&path).map_err(|e| SpecError::Read {
            path: path.clone(),
            message: e.to_string(),
        })?;
        serde_json::from_slice(&text).map_err(|e| SpecError::Read {
            path,
            message: e.to_string(),
        })
    }

    /// Which rest-api-spec answers for a version: there are none for 6.x, so 6.8 uses 7.17's (the
    /// snapshot calls we serve did not change between them).
    pub fn elasticsearch_key(version: &str) -> Option<&'static str> {
        match version.split('.').next()? {
            "6" | "7" => Some("7.17"),
            "8" => Some("8.19"),
            "9" => Some("9.1"),
            _ => None,
        }
    }

    fn load_elasticsearch(root: &Path, version: &str) -> Result<Self, SpecError> {
        let key = Self::elasticsearch_key(version)
            .ok_or_else(|| SpecError::NoDefinitions(format!("Elasticsearch {version}")))?;
        let by_version =
            Self::read(root.join("elasticsearch/rest-api-spec/params-by-version.json"))?;
        let manifest = Self::read(root.join("elasticsearch/endpoints-manifest.json"))?;
        let mut routes = Vec::new();
        let empty = serde_json::Map::new();
        for (endpoint, versions) in by_version["endpoints"].as_object().unwrap_or(&empty) {
            let Some(def) = versions.get(key).filter(|d| d.is_object()) else {
                continue;
            };
            let behaviors: Vec<String> = manifest["endpoints"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|e| e["endpoint"] == endpoint.as_str())
                .flat_map(|e| {
                    e["behavior_query_parameters"]
                        .as_array()
                        .cloned()
                        .unwrap_or_default()
                })
                .filter_map(|p| p["name"].as_str().map(str::to_string))
                .collect();
            let mut params: HashSet<String> = strings(&def["params"]).into_iter().collect();
            params.extend(behaviors);
            // One rest-api-spec serves a whole major: drop what the manifest says came later.
            for late in added_after(&manifest, endpoint, version) {
                params.remove(&late);
            }
            for url in def["urls"].as_array().into_iter().flatten() {
                let template = url["path"].as_str().unwrap_or("/").to_string();
                for method in strings(&url["methods"]) {
                    routes.push(Route::new(endpoint, &method, &template, params.clone()));
                }
            }
        }
        Ok(Self {
            routes,
            source: format!(
                "elasticsearch/rest-api-spec/params-by-version.json [{key}] + behaviors"
            ),
        })
    }

    fn load_opensearch(root: &Path, version: &str) -> Result<Self, SpecError> {
        let manifest = Self::read(root.join("opensearch/endpoints-manifest.json"))?;
        let mut routes = Vec::new();
        let in_version = |v: &Value| {
            let added = v["x-version-added"]
                .as_str()
                .is_none_or(|a| version_le(a, version));
            let removed = v["x-version-removed"]
                .as_str()
                .is_some_and(|r| version_le(r, version));
            added && !removed
        };
        for group in manifest["groups"].as_array().into_iter().flatten() {
            let endpoint = group["group"].as_str().unwrap_or_default();
            for op in group["operations"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|o| in_version(o))
            {
                let params: HashSet<String> = op["parameters"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|p| p["in"] == "query" && in_version(p))
                    .filter_map(|p| p["name"].as_str().map(str::to_string))
                    .collect();
                let method = op["method"].as_str().unwrap_or("GET");
                let path = op["path"].as_str().unwrap_or("/");
                routes.push(Route::new(endpoint, method, path, params));
            }
        }
        if routes.is_empty() {
            return Err(SpecError::NoDefinitions(format!("OpenSearch {version}")));
        }
        Ok(Self {
            routes,
            source: format!("opensearch/endpoints-manifest.json filtered to {version}"),
        })
    }

    /// Adds a route that is not in the definitions (only the story replay opts in; see lib docs).
    pub fn add_extra(&mut self, endpoint: &str, method: &str, template: &str, params: &[&str]) {
        let params = params.iter().map(|p| p.to_string()).collect();
        self.routes
            .push(Route::new(endpoint, method, template, params));
    }

    /// Resolves a request: literal segments win over parameters, as the servers' path tries do.
    pub fn resolve<'a>(
        &'a self,
        method: &str,
        path: &str,
        query_keys: &[String],
    ) -> Result<Matched<'a>, RouteError> {
        let parts: Vec<String> = path
            .split('/')
            .filter(|s| !s.is_empty())
            .map(|s| {
                percent_encoding::percent_decode_str(s)
                    .decode_utf8_lossy()
                    .into_owned()
            })
            .collect();
        let shaped: Vec<&Route> = self.routes.iter().filter(|r| r.fits(&parts)).collect();
        if shaped.is_empty() {
            return Err(RouteError::NoHandler);
        }
        let best_score = shaped
            .iter()
            .map(|r| r.score(&parts))
            .max()
            .unwrap_or_default();
        let best: Vec<&Route> = shaped
            .iter()
            .copied()
            .filter(|r| r.score(&parts) == best_score)
            .collect();
        let with_method: Vec<&Route> = best
            .iter()
            .copied()
            .filter(|r| r.method == method)
            .collect();
        let route = match with_method.as_slice() {
            [] => {
                return Err(RouteError::WrongMethod(
                    best.iter().map(|r| r.method.clone()).collect(),
                ))
            }
            [only] => *only,
            several => several
                .iter()
                .copied()
                .find(|r| {
                    // `/_nodes/{metric}` vs `/_nodes/{node_id}`: a known metric name is a metric.
                    let metric_route = r.template.ends_with("{metric}");
                    let is_metric = parts
                        .last()
                        .is_some_and(|p| p.split(',').all(|m| NODE_METRICS.contains(&m)));
                    metric_route == is_metric
                })
                .unwrap_or(several[0]),
        };
        if let Some(unknown) = query_keys
            .iter()
            .find(|k| !route.params.contains(k.as_str()))
        {
            return Err(RouteError::UnknownParam(unknown.clone()));
        }
        let path_params = route
            .segments
            .iter()
            .zip(&parts)
            .filter_map(|(s, p)| match s {
                Segment::Param(name) => Some((name.clone(), p.clone())),
                Segment::Literal(_) => None,
            })
            .collect();
        Ok(Matched { route, path_params })
    }
}

impl Route {
    fn new(endpoint: &str, method: &str, template: &str, params: HashSet<String>) -> Self {
        let segments = template
            .split('/')
            .filter(|s| !s.is_empty())
            .map(
                |s| match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                    Some(name) => Segment::Param(name.to_string()),
                    None => Segment::Literal(s.to_string()),
                },
            )
            .collect();
        Self {
            endpoint: endpoint.to_string(),
            method: method.to_string(),
            template: template.to_string(),
            segments,
            params,
        }
    }

    fn fits(&self, parts: &[String]) -> bool {
        self.segments.len() == parts.len()
            && self.segments.iter().zip(parts).all(|(s, p)| match s {
                Segment::Literal(l) => l == p,
                // A parameter never takes a value that starts with '_' where a literal route exists;
                // the scoring below prefers literals, so any value fits here.
                Segment::Param(_) => !p.is_empty(),
            })
    }

    /// Literal positions as bits, earliest first: `/_snapshot/_status` beats `/_snapshot/{repository}`.
    fn score(&self, _parts: &[String]) -> Vec<bool> {
        self.segments
            .iter()
            .map(|s| matches!(s, Segment::Literal(_)))
            .collect()
    }
}

pub fn read_json(path: PathBuf) -> Result<Value, SpecError> {
    let text = std::fs::read(&path).map_err(|e| SpecError::Read {
        path: path.clone(),
        message: e.to_string(),
    })?;
    serde_json::from_slice(&text).map_err(|e| SpecError::Read {
        path,
        message: e.to_string(),
    })
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(str::to_string))
        .collect()
}

/// `a <= b` for dotted versions.
/// Query parameters of `endpoint` whose `x-state` says "Added in X" with X newer than `version`.
fn added_after(manifest: &Value, endpoint: &str, version: &str) -> Vec<String> {
    manifest["endpoints"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["endpoint"] == endpoint)
        .flat_map(|e| e["operations"].as_array().cloned().unwrap_or_default())
        .flat_map(|op| op["parameters"].as_array().cloned().unwrap_or_default())
        .filter(|p| p["in"] == "query")
        .filter_map(|p| {
            let state = p["x-state"].as_str()?;
            let added = state.split("Added in ").nth(1)?.trim();
            (!version_le(added, version)).then(|| p["name"].as_str().map(str::to_string))?
        })
        .collect()
}

pub fn version_le(a: &str, b: &str) -> bool {
    let parse = |v: &str| {
        v.split(['.', '-'])
            .map(|p| p.parse::<u32>().unwrap_or(0))
            .collect::<Vec<_>>()
    };
    let (mut a, mut b) = (parse(a), parse(b));
    let n = a.len().max(b.len());
    a.resize(n, 0);
    b.resize(n, 0);
    a <= b
}
