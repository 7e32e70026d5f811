//! What a restore test reads from the indices it restored: `_count` and a one-document `_search`
//! (routes outside shared/es-api, served with `Config::search_extras`), the replicas a restore's
//! `index_settings` asks for, and the snapshot `metadata` that only Elasticsearch 7.3+ and OpenSearch
//! accept.
//!
//! Documents are not stored: an index holds `docs` of them (a restored one, the count its snapshot
//! implies), and a search returns synthetic log lines.

use serde_json::{json, Value};

use crate::errors::{envelope, Names};
use crate::handlers::{expand, Ctx, Reply};
use crate::spec::Spec;
use crate::state::State;

/// Adds `count` and `search` with the parameters the Elasticsearch reference documents for them.
pub fn add_routes(spec: &mut Spec) {
    let globals = ["pretty", "human", "error_trace", "filter_path"];
    let common = [
        "ignore_unavailable",
        "allow_no_indices",
        "expand_wildcards",
        "q",
        "preference",
        "routing",
    ];
    let count = [&globals[..], &common[..]].concat();
    spec.add_extra("count", "GET", "/{index}/_count", &count);
    spec.add_extra("count", "POST", "/{index}/_count", &count);
    let search = [
        &globals[..],
        &common[..],
        &["size", "from", "sort", "track_total_hits", "timeout"],
    ]
    .concat();
    spec.add_extra("search", "GET", "/{index}/_search", &search);
    spec.add_extra("search", "POST", "/{index}/_search", &search);
}

/// The open indices a path's `{index}` names, or the real 404 for a missing one.
fn targets(state: &State, ctx: &Ctx) -> Result<Vec<String>, Reply> {
    let p = ctx.p("index");
    let patterns: Vec<String> = p.split(',').map(str::to_string).collect();
    for single in patterns.iter().filter(|p| !p.contains('*')) {
        if !state.indices.contains_key(single) {
            let (status, body) = ctx.errors.render(
                "index_not_found_exception",
                &Names {
                    index: single,
                    ..Names::default()
                },
            );
            return Err(Reply::Json(status, body));
        }
    }
    Ok(expand(&patterns, state.indices.keys().cloned()))
}

fn shards(state: &State, names: &[String]) -> Value {
    let n: u32 = names.iter().map(|i| state.indices[i].shards).sum();
    json!({"total": n, "successful": n, "skipped": 0, "failed": 0})
}

fn closed(ctx: &Ctx, index: &str) -> Reply {
    let reason = format!("closed index [{index}]");
    let _ = ctx;
    Reply::Json(400, envelope(400, "index_closed_exception", &reason))
}

pub fn count(state: &mut State, ctx: &Ctx) -> Reply {
    let names = match targets(state, ctx) {
        Ok(n) => n,
        Err(reply) => return reply,
    };
    if let Some(c) = names.iter().find(|n| !state.indices[*n].open) {
        return closed(ctx, c);
    }
    let total: u64 = names.iter().map(|n| state.indices[n].docs).sum();
    Reply::Json(
        200,
        json!({"count": total, "_shards": shards(state, &names)}),
    )
}

pub fn search(state: &mut State, ctx: &Ctx) -> Reply {
    let names = match targets(state, ctx) {
        Ok(n) => n,
        Err(reply) => return reply,
    };
    if let Some(c) = names.iter().find(|n| !state.indices[*n].open) {
        return closed(ctx, c);
    }
    let size: usize = ctx
        .query
        .get("size")
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let total: u64 = names.iter().map(|n| state.indices[n].docs).sum();
    let hits: Vec<Value> = names
        .iter()
        .flat_map(|n| {
            let docs = state.indices[n].docs;
            (0..docs.min(size as u64)).map(move |i| {
                json!({
                    "_index": n, "_id": format!("doc-{i}"), "_score": 1.0,
                    "_source": {"@timestamp": "2019-11-12T00:00:00.000Z", "log": format!("line {i} of {n}")}
                })
            })
        })
        .take(size)
        .collect();
    // 7.0 made hits.total an object.
    let total = if ctx.is_es() && ctx.major_minor() < (7, 0) {
        json!(total)
    } else {
        json!({"value": total, "relation": "eq"})
    };
    Reply::Json(
        200,
        json!({
            "took": 1, "timed_out": false, "_shards": shards(state, &names),
            "hits": {"total": total, "max_score": 1.0, "hits": hits}
        }),
    )
}

/// Elasticsearch before 7.3 has no snapshot `metadata`: its request parser rejects the field.
pub fn refuse_metadata(ctx: &Ctx, body: &Value) -> Option<Reply> {
    let old = ctx.is_es() && ctx.major_minor() < (7, 3);
    (old && body.get("metadata").is_some()).then(|| {
        Reply::Json(
            400,
            envelope(
                400,
                "illegal_argument_exception",
                "malformed create snapshot request, unknown field [metadata]",
            ),
        )
    })
}

/// `index_settings.index.number_of_replicas` (flat or nested) of a restore request.
pub fn restored_replicas(body: &Value) -> Option<u32> {
    let settings = body.get("index_settings")?;
    let v = settings
        .get("index.number_of_replicas")
        .or_else(|| settings.pointer("/index/number_of_replicas"))
        .or_else(|| settings.get("number_of_replicas"))?;
    v.as_u64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        .and_then(|n| u32::try_from(n).ok())
}
