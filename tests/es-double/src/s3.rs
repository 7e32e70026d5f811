//! S3 repositories in the double: `GET _nodes/plugins` and what `PUT _snapshot/NAME {"type":"s3"}`
//! answers.
//!
//! Elasticsearch 8+ has S3 support as the built-in module `repository-s3`; 7.x and OpenSearch need
//! the `repository-s3` plugin on the nodes (`Behaviour::node_plugins`). Without it, registration
//! fails as the server fails it: HTTP 500 `repository_exception` "[NAME] repository type [s3] does
//! not exist" (that body is not among shared/es-api/errors; its wording is Elasticsearch's
//! `RepositoriesService` message, the same in OpenSearch). The double has no S3 behind it: a
//! registered s3 repository holds whatever snapshots the double's state gives it, and verifies.

use serde_json::{json, Map, Value};

use crate::errors::envelope;
use crate::handlers::{Ctx, Reply};
use crate::state::{Node, State};

pub const PLUGIN: &str = "repository-s3";

fn built_in(ctx: &Ctx) -> bool {
    ctx.is_es() && ctx.major_minor() >= (8, 0)
}

fn plugin_json(name: &str, ctx: &Ctx) -> Value {
    let mut p = json!({
        "name": name,
        "version": ctx.version,
        "java_version": "1.8",
        "description": format!("The {name} plugin"),
        "classname": "org.elasticsearch.plugin.Double",
        "extended_plugins": [],
        "has_native_controller": false,
        "licensed": false,
    });
    if ctx.is_es() {
        p["elasticsearch_version"] = json!(ctx.version);
    } else {
        p["opensearch_version"] = json!(ctx.version);
        p["custom_foldername"] = Value::Null;
    }
    p
}

/// The `plugins` and `modules` of one node.
pub fn node_fields(state: &State, node: &Node, ctx: &Ctx, into: &mut Map<String, Value>) {
    let plugins: Vec<Value> = state
        .behaviour
        .node_plugins
        .get(&node.name)
        .into_iter()
        .flatten()
        .map(|p| plugin_json(p, ctx))
        .collect();
    let mut modules = vec![plugin_json("repository-url", ctx)];
    if built_in(ctx) {
        modules.push(plugin_json(PLUGIN, ctx));
    }
    into.insert("plugins".into(), Value::Array(plugins));
    into.insert("modules".into(), Value::Array(modules));
}

/// Why an s3 repository cannot be registered, as the server says it.
pub fn refuse(
    state: &State,
    ctx: &Ctx,
    name: &str,
    settings: &Map<String, Value>,
) -> Option<Reply> {
    let on_every_node = state.nodes.iter().all(|n| {
        state
            .behaviour
            .node_plugins
            .get(&n.name)
            .is_some_and(|p| p.iter().any(|p| p == PLUGIN))
    });
    if !built_in(ctx) && !on_every_node {
        let reason = format!("[{name}] repository type [s3] does not exist");
        return Some(Reply::Json(
            500,
            envelope(500, "repository_exception", &reason),
        ));
    }
    if settings.get("bucket").and_then(Value::as_str).is_none() {
        let reason = format!("[{name}] No bucket defined for s3 repository");
        return Some(Reply::Json(
            500,
            envelope(500, "repository_exception", &reason),
        ));
    }
    // Keys in repository settings: refused from 8.0 (they belong in the keystore).
    if ctx.is_es()
        && ctx.major_minor() >= (8, 0)
        && (settings.contains_key("access_key") || settings.contains_key("secret_key"))
    {
        let reason =
            format!("[{name}] Setting [access_key] is insecure, use the secure settings instead");
        return Some(Reply::Json(
            500,
            envelope(500, "repository_exception", &reason),
        ));
    }
    None
}
