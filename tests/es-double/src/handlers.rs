//! What each endpoint does to the state and answers, in the shapes of the response schemas.

use std::collections::{BTreeMap, HashMap};

use serde_json::{json, Map, Value};

use crate::errors::{envelope, ErrorBodies, Names};
use crate::spec::Matched;
use crate::state::{Index, Repository, SnapState, Snapshot, State};
use crate::time::iso;
use crate::Flavour;

pub enum Reply {
    Json(u16, Value),
    Text(u16, String),
}

pub struct Ctx<'a> {
    pub flavour: Flavour,
    pub version: &'a str,
    pub errors: &'a ErrorBodies,
    pub matched: &'a Matched<'a>,
    pub query: &'a HashMap<String, String>,
    pub body: &'a [u8],
    pub now: i64,
}

impl Ctx<'_> {
    pub(crate) fn p(&self, name: &str) -> &str {
        self.matched.param(name).unwrap_or_default()
    }
    fn q_true(&self, name: &str) -> bool {
        self.query
            .get(name)
            .is_some_and(|v| v.is_empty() || v == "true")
    }
    pub(crate) fn json_body(&self) -> Value {
        serde_json::from_slice(self.body).unwrap_or(Value::Null)
    }
    fn error(&self, file: &str, names: Names) -> Reply {
        let (status, body) = self.errors.render(file, &names);
        Reply::Json(status, body)
    }
    /// The real 404 for a repository that is not registered.
    fn missing_repository(&self, repository: &str) -> Reply {
        let names = Names {
            repository,
            ..Names::default()
        };
        self.error("repository_missing_exception", names)
    }
    /// The real 404 for a snapshot that is not in the repository.
    fn missing_snapshot(&self, repository: &str, snapshot: &str) -> Reply {
        let names = Names {
            repository,
            snapshot,
            ..Names::default()
        };
        self.error("snapshot_missing_exception", names)
    }
    pub(crate) fn is_es(&self) -> bool {
        self.flavour == Flavour::Elasticsearch
    }
    pub(crate) fn major_minor(&self) -> (u32, u32) {
        let mut it = self.version.split('.').map(|p| p.parse().unwrap_or(0));
        (it.next().unwrap_or(0), it.next().unwrap_or(0))
    }
}

pub(crate) fn ok() -> Reply {
    Reply::Json(200, json!({"acknowledged": true}))
}

pub fn handle(state: &mut State, ctx: &Ctx) -> Reply {
    match ctx.matched.route.endpoint.as_str() {
        "info" => info(state, ctx),
        "snapshot.create_repository" => create_repository(state, ctx),
        "snapshot.get_repository" => get_repository(state, ctx),
        "snapshot.verify_repository" => verify_repository(state, ctx),
        "snapshot.delete_repository" => delete_repository(state, ctx),
        "snapshot.create" => create_snapshot(state, ctx),
        "snapshot.get" => crate::listing::get_snapshots(state, ctx),
        "snapshot.status" => snapshot_status(state, ctx),
        "snapshot.delete" => delete_snapshots(state, ctx),
        "snapshot.restore" => restore(state, ctx),
        "snapshot.cleanup_repository" => cleanup_repository(state, ctx),
        "snapshot.clone" => clone_snapshot(state, ctx),
        "cat.snapshots" => cat_snapshots(state, ctx),
        "cat.indices" => cat_indices(state, ctx),
        "indices.recovery" => recovery(state, ctx),
        "indices.close" => open_close(state, ctx, false),
        "indices.open" => open_close(state, ctx, true),
        "indices.delete" => delete_indices(state, ctx),
        "indices.get" => get_indices(state, ctx),
        "indices.create" => create_index(state, ctx),
        "indices.update_aliases" => ok(),
        "nodes.info" => nodes_info(state, ctx),
        "nodes.stats" => nodes_stats(state, ctx),
        "cluster.health" => cluster_health(state, ctx),
        // Extras outside shared/es-api (Config::restart_extras).
        "cluster.put_settings" => put_cluster_settings(state, ctx),
        "indices.flush" => flush(state),
        // Extras outside shared/es-api (Config::search_extras).
        "count" => crate::documents::count(state, ctx),
        "search" => crate::documents::search(state, ctx),
        "slm.put_lifecycle" => crate::policies::slm_put(state, ctx),
        "slm.get_lifecycle" => crate::policies::slm_get(state, ctx),
        "slm.delete_lifecycle" => crate::policies::slm_delete(state, ctx),
        "slm.execute_lifecycle" => crate::policies::slm_execute(state, ctx),
        "sm.create_policy" => crate::policies::sm_create(state, ctx),
        "sm.update_policy" => crate::policies::sm_update(state, ctx),
        "sm.get_policy" => crate::policies::sm_get(state, ctx),
        "sm.get_policies" => crate::policies::sm_list(state, ctx),
        "sm.delete_policy" => crate::policies::sm_delete(state, ctx),
        other => Reply::Json(
            501,
            envelope(
                501,
                "double_not_implemented",
                &format!("the double knows {other} from the definitions but does not serve it"),
            ),
        ),
    }
}

fn info(state: &State, ctx: &Ctx) -> Reply {
    let mut version = json!({
        "number": ctx.version,
        "build_type": "docker",
        "build_hash": "0000000000000000000000000000000000000000",
        "build_date": "2024-01-01T00:00:00.000000000Z",
        "build_snapshot": false,
        "lucene_version": "9.0.0",
        "minimum_wire_compatibility_version": "6.8.0",
        "minimum_index_compatibility_version": "6.0.0-beta1"
    });
    let tagline = match ctx.flavour {
        Flavour::Elasticsearch => {
            version["build_flavor"] = json!("default");
            "You Know, for Search"
        }
        Flavour::OpenSearch => {
            version["distribution"] = json!("opensearch");
            "The OpenSearch Project: https://opensearch.org/"
        }
    };
    Reply::Json(
        200,
        json!({
            "name": state.nodes.first().map(|n| n.name.clone()).unwrap_or_default(),
            "cluster_name": state.cluster_name,
            "cluster_uuid": "double-cluster-uuid-000",
            "version": version,
            "tagline": tagline
        }),
    )
}

fn covers(path_repo: &[String], location: &str) -> bool {
    if !location.starts_with('/') {
        return !path_repo.is_empty();
    }
    path_repo.iter().any(|root| {
        let root = root.trim_end_matches('/');
        location == root || location.starts_with(&format!("{root}/"))
    })
}

fn create_repository(state: &mut State, ctx: &Ctx) -> Reply {
    let name = ctx.p("repository").to_string();
    let body = ctx.json_body();
    let kind = body["type"].as_str().unwrap_or_default().to_string();
    let settings: Map<String, Value> = body["settings"].as_object().cloned().unwrap_or_default();
    if kind.is_empty() {
        return Reply::Json(
            400,
            envelope(
                400,
                "action_request_validation_exception",
                "Validation Failed: 1: type is missing;",
            ),
        );
    }
    let location = settings
        .get("location")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    if kind == "s3" {
        if let Some(refused) = crate::s3::refuse(state, ctx, &name, &settings) {
            return refused;
        }
    }
    if kind == "fs" {
        let names = Names {
            repository: &name,
            location: &location,
            ..Names::default()
        };
        // The elected master checks its own path.repo first.
        let master = state.nodes.iter().find(|n| {
            n.roles
                .iter()
                .any(|r| r == "master" || r == "cluster_manager")
        });
        if let Some(master) = master {
            if master.path_repo.is_empty() {
                return ctx.error("repository_exception_path_repo_not_set", names);
            }
            if !covers(&master.path_repo, &location) {
                return ctx.error("repository_exception_location_outside_path_repo", names);
            }
        }
    }
    // Kept with the JSON types given: the response schema types them (compress is a boolean);
    // real servers echo strings ("true"), which the client accepts as well.
    state
        .repositories
        .insert(name.clone(), Repository { kind, settings });
    let verify = ctx.query.get("verify").is_none_or(|v| v != "false");
    if verify {
        if let Some(reply) = verification_failure(state, ctx, &name) {
            return reply;
        }
    }
    ok()
}

/// Any node needing the repository that cannot see the location fails verification (and so does
/// a location that is not one shared volume).
fn verification_failure(state: &State, ctx: &Ctx, name: &str) -> Option<Reply> {
    let repo = state.repositories.get(name)?;
    let location = repo
        .settings
        .get("location")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let node_lacks = state.nodes.iter().any(|n| {
        n.roles
            .iter()
            .any(|r| r == "master" || r.starts_with("data"))
            && !covers(&n.path_repo, location)
    });
    let unwritable = state.behaviour.disk_layout
        && repo.kind == "fs"
        && !node_lacks
        && std::path::Path::new(location).is_absolute()
        && !crate::disk::writable(std::path::Path::new(location));
    if state.behaviour.repo_not_shared || (repo.kind == "fs" && node_lacks) || unwritable {
        return Some(ctx.error(
            "repository_verification_exception",
            Names {
                repository: name,
                location,
                ..Names::default()
            },
        ));
    }
    None
}

fn select_repositories<'a>(state: &'a State, pattern: &str) -> Result<Vec<&'a String>, String> {
    let mut found = Vec::new();
    for part in pattern.split(',') {
        if part == "_all" || part == "*" {
            found.extend(state.repositories.keys());
        } else if part.contains('*') {
            found.extend(state.repositories.keys().filter(|k| wildcard(part, k)));
        } else if state.repositories.contains_key(part) {
            found.extend(state.repositories.get_key_value(part).map(|(k, _)| k));
        } else {
            return Err(part.to_string());
        }
    }
    Ok(found)
}

fn get_repository(state: &State, ctx: &Ctx) -> Reply {
    let pattern = ctx.matched.param("repository").unwrap_or("_all");
    match select_repositories(state, pattern) {
        Ok(names) => {
            let mut out = Map::new();
            for name in names {
                let r = &state.repositories[name];
                out.insert(
                    name.clone(),
                    json!({"type": r.kind, "settings": r.settings}),
                );
            }
            Reply::Json(200, Value::Object(out))
        }
        Err(missing) => ctx.missing_repository(&missing),
    }
}

fn verify_repository(state: &State, ctx: &Ctx) -> Reply {
    let name = ctx.p("repository");
    if !state.repositories.contains_key(name) {
        return ctx.missing_repository(name);
    }
    if let Some(reply) = verification_failure(state, ctx, name) {
        return reply;
    }
    let nodes: Map<String, Value> = state
        .nodes
        .iter()
        .map(|n| (n.id.clone(), json!({"name": n.name})))
        .collect();
    Reply::Json(200, json!({"nodes": nodes}))
}

fn delete_repository(state: &mut State, ctx: &Ctx) -> Reply {
    let pattern = ctx.p("repository").to_string();
    match select_repositories(state, &pattern) {
        Ok(names) => {
            let names: Vec<String> = names.into_iter().cloned().collect();
            for n in names {
                state.repositories.remove(&n);
            }
            ok()
        }
        Err(missing) => ctx.missing_repository(&missing),
    }
}

pub(crate) fn indices_param(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => s
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect(),
        Value::Array(a) => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        _ => vec![],
    }
}

pub(crate) fn wildcard(pattern: &str, name: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == name;
    }
    let mut rest = name;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            match rest.strip_prefix(part) {
                Some(r) => rest = r,
                None => return false,
            }
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            match rest.find(part) {
                Some(pos) => rest = &rest[pos + part.len()..],
                None => return false,
            }
        }
    }
    true
}

pub(crate) fn expand(
    patterns: &[String],
    names: impl Iterator<Item = String> + Clone,
) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for p in patterns {
        if let Some(ex) = p.strip_prefix('-') {
            out.retain(|n| !wildcard(ex, n));
        } else if p == "_all" || p == "*" {
            out.extend(names.clone().filter(|n| !n.starts_with('.')));
        } else {
            out.extend(names.clone().filter(|n| wildcard(p, n)));
        }
    }
    out.sort();
    out.dedup();
    out
}

fn running(state: &State) -> bool {
    state
        .snapshots
        .values()
        .flatten()
        .any(|s| s.state == SnapState::InProgress)
}

fn create_snapshot(state: &mut State, ctx: &Ctx) -> Reply {
    let repo = ctx.p("repository").to_string();
    let name = ctx.p("snapshot").to_string();
    let names = Names {
        repository: &repo,
        snapshot: &name,
        ..Names::default()
    };
    if !state.repositories.contains_key(&repo) {
        return ctx.error("repository_missing_exception", names);
    }
    let readonly = state.repositories[&repo].settings.get("readonly");
    if readonly == Some(&Value::Bool(true)) || readonly.and_then(Value::as_str) == Some("true") {
        return Reply::Json(
            500,
            envelope(
                500,
                "repository_exception",
                &format!("[{repo}] cannot create snapshot in a readonly repository"),
            ),
        );
    }
    if name != name.to_lowercase() {
        let reason = format!("[{repo}:{name}] Invalid snapshot name [{name}], must be lowercase");
        return Reply::Json(
            400,
            envelope(400, "invalid_snapshot_name_exception", &reason),
        );
    }
    if state.snapshots_of(&repo).iter().any(|s| s.name == name) {
        return ctx.error("invalid_snapshot_name_exception_already_exists", names);
    }
    // Before 7.7 Elasticsearch ran one snapshot at a time.
    let (major, minor) = ctx.major_minor();
    let single = ctx.is_es() && (major < 7 || (major == 7 && minor < 7));
    if state.behaviour.busy_for > 0 || (single && running(state)) {
        state.behaviour.busy_for = state.behaviour.busy_for.saturating_sub(1);
        return ctx.error("concurrent_snapshot_execution_exception", names);
    }
    let body = ctx.json_body();
    if let Some(refused) = crate::documents::refuse_metadata(ctx, &body) {
        return refused;
    }
    let patterns = match indices_param(&body["indices"]) {
        p if p.is_empty() => vec!["_all".to_string()],
        p => p,
    };
    let indices: Vec<String> = expand(
        &patterns,
        state
            .indices
            .iter()
            .filter(|(_, i)| i.open)
            .map(|(n, _)| n.clone())
            .collect::<Vec<_>>()
            .into_iter(),
    );
    let sizes = indices
        .iter()
        .map(|i| (i.clone(), state.indices[i].size))
        .collect();
    let outcome = if state.behaviour.next_failed {
        SnapState::Failed
    } else if state.behaviour.next_partial && !indices.is_empty() {
        SnapState::Partial
    } else {
        SnapState::Success
    };
    state.behaviour.next_failed = false;
    state.behaviour.next_partial = false;
    let uuid = state.uuid();
    let wait = ctx.q_true("wait_for_completion");
    let snapshot = Snapshot {
        failed_index: (outcome != SnapState::Success)
            .then(|| indices.first().cloned())
            .flatten(),
        name,
        uuid,
        repository: repo.clone(),
        indices,
        sizes,
        shards_per_index: 1,
        state: if wait { outcome } else { SnapState::InProgress },
        outcome,
        start_ms: ctx.now,
        end_ms: if wait { ctx.now + 1 } else { 0 },
        polls_left: state.behaviour.progress_polls,
        include_global_state: body["include_global_state"].as_bool().unwrap_or(true),
        metadata: body.get("metadata").filter(|m| m.is_object()).cloned(),
    };
    let info = snapshot_json(&snapshot, ctx);
    if let Some(list) = state.snapshots_of_mut(&repo) {
        list.push(snapshot);
    }
    if wait {
        Reply::Json(200, json!({"snapshot": info}))
    } else {
        Reply::Json(200, json!({"accepted": true}))
    }
}

/// Moves an in-progress snapshot on: each observation counts as a poll; time counts too if set.
pub(crate) fn advance(s: &mut Snapshot, behaviour: &crate::state::Behaviour, now: i64) {
    if s.state != SnapState::InProgress {
        return;
    }
    s.polls_left = s.polls_left.saturating_sub(1);
    let timed_out = behaviour
        .progress_ms
        .is_some_and(|ms| now - s.start_ms >= ms);
    if s.polls_left == 0 || timed_out {
        s.state = s.outcome;
        s.end_ms = now.max(s.start_ms + 1);
    }
}

pub(crate) fn snapshot_json(s: &Snapshot, ctx: &Ctx) -> Value {
    let (major, minor) = ctx.major_minor();
    let version_id = major * 1_000_000 + minor * 10_000 + 99;
    let failures: Vec<Value> = if s.state == SnapState::InProgress {
        vec![]
    } else {
        s.failed_index
            .iter()
            .map(|i| json!({"index": i, "index_uuid": i, "shard_id": 0, "reason": "IndexShardSnapshotFailedException[node left the cluster during snapshot]", "node_id": "node1AAAAAAAAAAAAAAAAA", "status": "INTERNAL_SERVER_ERROR"}))
            .collect()
    };
    let total = s.shards_total();
    let failed = s.shards_failed();
    let mut v = json!({
        "snapshot": s.name,
        "uuid": s.uuid,
        "version_id": version_id,
        "version": ctx.version,
        "indices": s.indices,
        "data_streams": [],
        "include_global_state": s.include_global_state,
        "state": s.state.as_str(),
        "start_time": iso(s.start_ms),
        "start_time_in_millis": s.start_ms,
        "end_time": if s.end_ms > 0 { iso(s.end_ms) } else { iso(0) },
        "end_time_in_millis": s.end_ms,
        "duration_in_millis": if s.end_ms > 0 { s.end_ms - s.start_ms } else { 0 },
        "failures": failures,
        "shards": {"total": total, "failed": failed, "successful": if s.state == SnapState::InProgress { 0 } else { total - failed }}
    });
    if ctx.is_es() && ctx.major_minor() >= (7, 12) {
        v["feature_states"] = json!([]);
    }
    if ctx.is_es() && ctx.major_minor() >= (7, 14) {
        v["repository"] = json!(s.repository);
    }
    if let Some(m) = &s.metadata {
        v["metadata"] = m.clone();
    }
    v
}

fn status_json(s: &Snapshot, ctx: &Ctx) -> Value {
    let done = s.state != SnapState::InProgress;
    let total = s.shards_total();
    let shard_done = if done {
        total - s.shards_failed()
    } else {
        total / 2
    };
    let total_bytes: u64 = s.sizes.values().sum();
    let processed = if done { total_bytes } else { total_bytes / 2 };
    let state = match s.state {
        SnapState::InProgress => "STARTED",
        SnapState::Failed => "FAILED",
        // A finished PARTIAL snapshot reads SUCCESS in _status, as on the servers.
        SnapState::Success | SnapState::Partial => "SUCCESS",
    };
    let stats = |bytes: u64, done_bytes: u64| {
        json!({
            "incremental": {"file_count": 1, "size_in_bytes": bytes},
            "processed": {"file_count": 1, "size_in_bytes": done_bytes},
            "total": {"file_count": 1, "size_in_bytes": bytes},
            "start_time_in_millis": s.start_ms,
            "time_in_millis": if done { s.end_ms - s.start_ms } else { ctx.now - s.start_ms }
        })
    };
    let indices: Map<String, Value> = s
        .indices
        .iter()
        .map(|i| {
            let size = s.sizes.get(i).copied().unwrap_or(0);
            let shards = json!({"initializing": 0, "started": u32::from(!done), "finalizing": 0, "done": u32::from(done), "failed": 0, "total": 1});
            (i.clone(), json!({"shards_stats": shards, "stats": stats(size, if done { size } else { size / 2 }), "shards": {}}))
        })
        .collect();
    json!({
        "snapshot": s.name,
        "repository": s.repository,
        "uuid": s.uuid,
        "state": state,
        "include_global_state": s.include_global_state,
        "shards_stats": {"initializing": 0, "started": total - shard_done - s.shards_failed().min(total - shard_done), "finalizing": 0, "done": shard_done, "failed": if done { s.shards_failed() } else { 0 }, "total": total},
        "stats": stats(total_bytes, processed),
        "indices": indices
    })
}

/// A poll that lands while the cluster has no master, when the test asked for one.
fn poll_unavailable(state: &mut State) -> Option<Reply> {
    let left = &mut state.behaviour.polls_unavailable_for;
    (*left > 0).then(|| {
        *left -= 1;
        let body = envelope(
            503,
            "master_not_discovered_exception",
            "no master node is known to this node yet",
        );
        Reply::Json(503, body)
    })
}

fn snapshot_status(state: &mut State, ctx: &Ctx) -> Reply {
    if let Some(unavailable) = poll_unavailable(state) {
        return unavailable;
    }
    if std::mem::take(&mut state.behaviour.lose_running_snapshots) {
        for list in state.snapshots.values_mut() {
            list.retain(|s| s.state != SnapState::InProgress);
        }
    }
    let behaviour = state.behaviour.clone();
    match (
        ctx.matched.param("repository"),
        ctx.matched.param("snapshot"),
    ) {
        (Some(repo), Some(pattern)) => {
            let repo = repo.to_string();
            if !state.repositories.contains_key(&repo) {
                return ctx.missing_repository(&repo);
            }
            let Some(list) = state.snapshots_of_mut(&repo) else {
                return Reply::Json(200, json!({"snapshots": []}));
            };
            let mut out = Vec::new();
            let mut reads = 0;
            for part in pattern.split(',') {
                match list.iter_mut().find(|s| s.name == part) {
                    Some(s) => {
                        // A finished snapshot's status is read from its metadata blob.
                        reads += u64::from(s.state != SnapState::InProgress);
                        advance(s, &behaviour, ctx.now);
                        out.push(status_json(s, ctx));
                    }
                    None if ctx.q_true("ignore_unavailable") => {}
                    None => {
                        let names = Names {
                            repository: &repo,
                            snapshot: part,
                            ..Names::default()
                        };
                        return ctx.error("snapshot_missing_exception", names);
                    }
                }
            }
            state.metadata_reads += reads;
            Reply::Json(200, json!({"snapshots": out}))
        }
        (repo, None) => {
            if let Some(r) = repo {
                if !state.repositories.contains_key(r) {
                    return ctx.missing_repository(r);
                }
            }
            let out: Vec<Value> = state
                .snapshots
                .values()
                .flatten()
                .filter(|s| {
                    s.state == SnapState::InProgress && repo.is_none_or(|r| s.repository == r)
                })
                .map(|s| status_json(s, ctx))
                .collect();
            Reply::Json(200, json!({"snapshots": out}))
        }
        (None, Some(_)) => Reply::Json(
            400,
            envelope(
                400,
                "illegal_argument_exception",
                "snapshot without repository",
            ),
        ),
    }
}

fn delete_snapshots(state: &mut State, ctx: &Ctx) -> Reply {
    let repo = ctx.p("repository").to_string();
    let pattern = ctx.p("snapshot").to_string();
    if !state.repositories.contains_key(&repo) {
        return ctx.missing_repository(&repo);
    }
    if state.behaviour.busy_for > 0 || state.behaviour.deletes_busy_for > 0 {
        if state.behaviour.busy_for > 0 {
            state.behaviour.busy_for -= 1;
        } else {
            state.behaviour.deletes_busy_for -= 1;
        }
        return ctx.error(
            "concurrent_snapshot_execution_exception",
            Names {
                repository: &repo,
                snapshot: &pattern,
                ..Names::default()
            },
        );
    }
    let list = state
        .snapshots_of_mut(&repo)
        .map(std::mem::take)
        .unwrap_or_default();
    let mut keep = list;
    for part in pattern.split(',') {
        let before = keep.len();
        keep.retain(|s| !(s.name == part || (part.contains('*') && wildcard(part, &s.name))));
        if before == keep.len() && !part.contains('*') {
            // Put the list back untouched: nothing is deleted when a name is missing.
            let all = keep;
            if let Some(l) = state.snapshots_of_mut(&repo) {
                *l = all;
            }
            return ctx.missing_snapshot(&repo, part);
        }
    }
    if let Some(l) = state.snapshots_of_mut(&repo) {
        *l = keep;
    }
    ok()
}

fn restore(state: &mut State, ctx: &Ctx) -> Reply {
    let repo = ctx.p("repository").to_string();
    let name = ctx.p("snapshot").to_string();
    if !state.repositories.contains_key(&repo) {
        return ctx.missing_repository(&repo);
    }
    let Some(snap) = state
        .snapshots_of(&repo)
        .iter()
        .find(|s| s.name == name)
        .cloned()
    else {
        return ctx.missing_snapshot(&repo, &name);
    };
    if snap.state == SnapState::InProgress {
        let reason = format!(
            "[{repo}:{name}/{}] cannot restore snapshot while it is in progress",
            snap.uuid
        );
        return Reply::Json(500, envelope(500, "snapshot_restore_exception", &reason));
    }
    let body = ctx.json_body();
    let patterns = match indices_param(&body["indices"]) {
        p if p.is_empty() => vec!["_all".to_string()],
        p => p,
    };
    let selected = expand(&patterns, snap.indices.clone().into_iter());
    let rename = match (
        body["rename_pattern"].as_str(),
        body["rename_replacement"].as_str(),
    ) {
        (Some(p), Some(r)) => match regex::Regex::new(p) {
            Ok(re) => Some((re, java_replacement(r))),
            Err(e) => {
                return Reply::Json(
                    400,
                    envelope(
                        400,
                        "illegal_argument_exception",
                        &format!("invalid rename_pattern: {e}"),
                    ),
                )
            }
        },
        _ => None,
    };
    let target = |i: &str| match &rename {
        Some((re, r)) => re.replace(i, r.as_str()).into_owned(),
        None => i.to_string(),
    };
    for i in &selected {
        let t = target(i);
        if state.indices.get(&t).is_some_and(|x| x.open) {
            let names = Names {
                repository: &repo,
                snapshot: &name,
                uuid: &snap.uuid,
                index: &t,
                ..Names::default()
            };
            return ctx.error("snapshot_restore_exception_open_index_exists", names);
        }
    }
    let wait = ctx.q_true("wait_for_completion");
    for i in &selected {
        let t = target(i);
        let uuid = state.uuid();
        let size = snap.sizes.get(i).copied().unwrap_or(0);
        state.indices.insert(
            t,
            Index {
                uuid,
                open: true,
                size,
                docs: size / 512,
                shards: snap.shards_per_index,
                replicas: crate::documents::restored_replicas(&body).unwrap_or(1),
                restored_from: Some((repo.clone(), name.clone())),
                recovery_polls_left: if wait {
                    0
                } else {
                    state.behaviour.recovery_polls
                },
            },
        );
    }
    if wait {
        let total = snap.shards_per_index * selected.len() as u32;
        let targets: Vec<String> = selected.iter().map(|i| target(i)).collect();
        Reply::Json(
            200,
            json!({"snapshot": {"snapshot": name, "indices": targets, "shards": {"total": total, "failed": 0, "successful": total}}}),
        )
    } else {
        Reply::Json(200, json!({"accepted": true}))
    }
}

fn cleanup_repository(state: &State, ctx: &Ctx) -> Reply {
    let repo = ctx.p("repository");
    if !state.repositories.contains_key(repo) {
        return ctx.missing_repository(repo);
    }
    Reply::Json(
        200,
        json!({"results": {"deleted_bytes": 0, "deleted_blobs": 0}}),
    )
}

fn clone_snapshot(state: &mut State, ctx: &Ctx) -> Reply {
    let repo = ctx.p("repository").to_string();
    let (from, to) = (
        ctx.p("snapshot").to_string(),
        ctx.p("target_snapshot").to_string(),
    );
    if !state.repositories.contains_key(&repo) {
        return ctx.missing_repository(&repo);
    }
    let Some(mut copy) = state
        .snapshots_of(&repo)
        .iter()
        .find(|s| s.name == from)
        .cloned()
    else {
        return ctx.missing_snapshot(&repo, &from);
    };
    if state.snapshots_of(&repo).iter().any(|s| s.name == to) {
        return ctx.error(
            "invalid_snapshot_name_exception_already_exists",
            Names {
                repository: &repo,
                snapshot: &to,
                ..Names::default()
            },
        );
    }
    let wanted = indices_param(&ctx.json_body()["indices"]);
    copy.indices = expand(&wanted, copy.indices.clone().into_iter());
    copy.name = to;
    copy.uuid = state.uuid();
    copy.start_ms = ctx.now;
    copy.end_ms = ctx.now + 1;
    if let Some(l) = state.snapshots_of_mut(&repo) {
        l.push(copy);
    }
    ok()
}

/// `_cat` answers: JSON rows with `format=json`, else the aligned text table (`v` adds headers).
fn cat(ctx: &Ctx, columns: &[&str], rows: Vec<BTreeMap<&str, Value>>) -> Reply {
    let wanted: Vec<&str> = match ctx.query.get("h") {
        Some(h) => h.split(',').filter(|c| columns.contains(c)).collect(),
        None => columns.to_vec(),
    };
    if ctx.query.get("format").map(String::as_str) == Some("json") {
        let out: Vec<Value> = rows
            .iter()
            .map(|r| {
                Value::Object(
                    wanted
                        .iter()
                        .map(|c| (c.to_string(), r.get(c).cloned().unwrap_or(Value::Null)))
                        .collect(),
                )
            })
            .collect();
        return Reply::Json(200, Value::Array(out));
    }
    let mut text = String::new();
    if ctx.q_true("v") {
        text.push_str(&wanted.join(" "));
        text.push('\n');
    }
    for r in rows {
        let cells: Vec<String> = wanted
            .iter()
            .map(|c| match r.get(c) {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Null) | None => String::new(),
                Some(v) => v.to_string(),
            })
            .collect();
        text.push_str(&cells.join(" "));
        text.push('\n');
    }
    Reply::Text(200, text)
}

fn size_text(bytes: u64, ctx: &Ctx) -> String {
    match ctx.query.get("bytes").map(String::as_str) {
        Some("b") => bytes.to_string(),
        Some("kb") => (bytes / 1024).to_string(),
        Some("mb") => (bytes / 1024 / 1024).to_string(),
        Some("gb") => (bytes / 1024 / 1024 / 1024).to_string(),
        _ => format!("{:.1}mb", bytes as f64 / 1024.0 / 1024.0),
    }
}

fn cat_snapshots(state: &mut State, ctx: &Ctx) -> Reply {
    // OpenSearch also takes the repository as a query parameter.
    let named = ctx
        .matched
        .param("repository")
        .or(ctx.query.get("repository").map(String::as_str));
    let repos: Vec<String> = match named {
        Some(r) if !state.repositories.contains_key(r) => return ctx.missing_repository(r),
        Some(r) => vec![r.to_string()],
        None => state.repositories.keys().cloned().collect(),
    };
    let columns = [
        "id",
        "repository",
        "status",
        "start_epoch",
        "start_time",
        "end_epoch",
        "end_time",
        "duration",
        "indices",
        "successful_shards",
        "failed_shards",
        "total_shards",
    ];
    let mut rows = Vec::new();
    // _cat/snapshots builds full snapshot infos: one metadata blob read per row.
    state.metadata_reads += repos
        .iter()
        .map(|r| state.snapshots_of(r).len() as u64)
        .sum::<u64>();
    for repo in repos {
        for s in state.snapshots_of(&repo) {
            let mut r = BTreeMap::new();
            r.insert("id", json!(s.name));
            r.insert("repository", json!(repo));
            r.insert("status", json!(s.state.as_str()));
            r.insert("start_epoch", json!((s.start_ms / 1000).to_string()));
            r.insert(
                "start_time",
                json!(crate::time::format_ms(s.start_ms, "%H:%M:%S")),
            );
            r.insert("end_epoch", json!((s.end_ms / 1000).to_string()));
            r.insert(
                "end_time",
                json!(crate::time::format_ms(s.end_ms, "%H:%M:%S")),
            );
            r.insert(
                "duration",
                json!(format!("{}s", (s.end_ms - s.start_ms).max(0) / 1000)),
            );
            r.insert("indices", json!(s.indices.len().to_string()));
            r.insert(
                "successful_shards",
                json!((s.shards_total() - s.shards_failed()).to_string()),
            );
            r.insert("failed_shards", json!(s.shards_failed().to_string()));
            r.insert("total_shards", json!(s.shards_total().to_string()));
            rows.push(r);
        }
    }
    cat(ctx, &columns, rows)
}

fn cat_indices(state: &State, ctx: &Ctx) -> Reply {
    let names: Vec<String> = match ctx.matched.param("index") {
        Some(p) => {
            let patterns: Vec<String> = p.split(',').map(str::to_string).collect();
            let found = expand(&patterns, state.indices.keys().cloned());
            if found.is_empty() && !p.contains('*') {
                return ctx.error(
                    "index_not_found_exception",
                    Names {
                        index: p,
                        ..Names::default()
                    },
                );
            }
            found
        }
        None => state.indices.keys().cloned().collect(),
    };
    let columns = [
        "health",
        "status",
        "index",
        "uuid",
        "pri",
        "rep",
        "docs.count",
        "docs.deleted",
        "store.size",
        "pri.store.size",
    ];
    let rows = names
        .iter()
        .map(|n| {
            let i = &state.indices[n];
            let mut r = BTreeMap::new();
            r.insert("health", if i.open { json!("green") } else { Value::Null });
            r.insert("status", json!(if i.open { "open" } else { "close" }));
            r.insert("index", json!(n));
            r.insert("uuid", json!(i.uuid));
            r.insert("pri", json!(i.shards.to_string()));
            r.insert("rep", json!(i.replicas.to_string()));
            if i.open {
                r.insert("docs.count", json!(i.docs.to_string()));
                r.insert("docs.deleted", json!("0"));
                r.insert(
                    "store.size",
                    json!(size_text(i.size * u64::from(1 + i.replicas), ctx)),
                );
                r.insert("pri.store.size", json!(size_text(i.size, ctx)));
            }
            r
        })
        .collect();
    cat(ctx, &columns, rows)
}

fn recovery(state: &mut State, ctx: &Ctx) -> Reply {
    if let Some(unavailable) = poll_unavailable(state) {
        return unavailable;
    }
    let names: Vec<String> = match ctx.matched.param("index") {
        Some(p) => {
            let patterns: Vec<String> = p.split(',').map(str::to_string).collect();
            for single in patterns.iter().filter(|p| !p.contains('*')) {
                if !state.indices.contains_key(single) {
                    return ctx.error(
                        "index_not_found_exception",
                        Names {
                            index: single,
                            ..Names::default()
                        },
                    );
                }
            }
            expand(&patterns, state.indices.keys().cloned())
        }
        None => state.indices.keys().cloned().collect(),
    };
    let mut out = Map::new();
    for n in names {
        let Some(i) = state.indices.get_mut(&n) else {
            continue;
        };
        let done = i.recovery_polls_left == 0;
        i.recovery_polls_left = i.recovery_polls_left.saturating_sub(1);
        let recovered = if done { i.size } else { i.size / 2 };
        let percent = if i.size == 0 {
            100.0
        } else {
            recovered as f64 * 100.0 / i.size as f64
        };
        let (kind, source) = match &i.restored_from {
            Some((repo, snap)) => (
                "SNAPSHOT",
                json!({"repository": repo, "snapshot": snap, "version": ctx.version, "index": n}),
            ),
            None => ("EMPTY_STORE", json!({})),
        };
        let shards: Vec<Value> = (0..i.shards)
            .map(|id| {
                json!({
                    "id": id, "type": kind, "stage": if done { "DONE" } else { "INDEX" }, "primary": true,
                    "start_time_in_millis": ctx.now, "total_time_in_millis": 1,
                    "source": source,
                    "target": {"id": "node0AAAAAAAAAAAAAAAAA", "host": "127.0.0.1", "transport_address": "127.0.0.1:9300", "ip": "127.0.0.1", "name": "elasticsearch-logging-data-0"},
                    "index": {
                        "size": {"total_in_bytes": i.size, "reused_in_bytes": 0, "recovered_in_bytes": recovered, "percent": format!("{percent:.1}%")},
                        "files": {"total": 1, "reused": 0, "recovered": u32::from(done), "percent": if done { "100.0%" } else { "0.0%" }},
                        "total_time_in_millis": 1, "source_throttle_time_in_millis": 0, "target_throttle_time_in_millis": 0
                    },
                    "translog": {"recovered": 0, "total": 0, "percent": "100.0%", "total_on_start": 0, "total_time_in_millis": 0},
                    "verify_index": {"check_index_time_in_millis": 0, "total_time_in_millis": 0}
                })
            })
            .collect();
        out.insert(n, json!({"shards": shards}));
    }
    Reply::Json(200, Value::Object(out))
}

fn resolve_indices(state: &State, ctx: &Ctx) -> Result<Vec<String>, Reply> {
    let p = ctx.p("index");
    let patterns: Vec<String> = p.split(',').map(str::to_string).collect();
    for single in patterns
        .iter()
        .filter(|p| !p.contains('*') && !p.starts_with('-'))
    {
        if !state.indices.contains_key(single) && !ctx.q_true("ignore_unavailable") {
            return Err(ctx.error(
                "index_not_found_exception",
                Names {
                    index: single,
                    ..Names::default()
                },
            ));
        }
    }
    Ok(expand(&patterns, state.indices.keys().cloned()))
}

fn open_close(state: &mut State, ctx: &Ctx, open: bool) -> Reply {
    let names = match resolve_indices(state, ctx) {
        Ok(n) => n,
        Err(reply) => return reply,
    };
    let mut detail = Map::new();
    for n in &names {
        if let Some(i) = state.indices.get_mut(n) {
            i.open = open;
        }
        detail.insert(n.clone(), json!({"closed": true}));
    }
    if open {
        Reply::Json(
            200,
            json!({"acknowledged": true, "shards_acknowledged": true}),
        )
    } else {
        Reply::Json(
            200,
            json!({"acknowledged": true, "shards_acknowledged": true, "indices": detail}),
        )
    }
}

fn delete_indices(state: &mut State, ctx: &Ctx) -> Reply {
    let names = match resolve_indices(state, ctx) {
        Ok(n) => n,
        Err(reply) => return reply,
    };
    for n in names {
        state.indices.remove(&n);
    }
    ok()
}

fn get_indices(state: &State, ctx: &Ctx) -> Reply {
    let names = match resolve_indices(state, ctx) {
        Ok(n) => n,
        Err(reply) => return reply,
    };
    let out: Map<String, Value> = names
        .iter()
        .map(|n| {
            let i = &state.indices[n];
            let settings = json!({"index": {"number_of_shards": i.shards.to_string(), "number_of_replicas": i.replicas.to_string(), "uuid": i.uuid, "provided_name": n, "creation_date": "0", "version": {"created": "7170099"}}});
            (n.clone(), json!({"aliases": {}, "mappings": {}, "settings": settings}))
        })
        .collect();
    Reply::Json(200, Value::Object(out))
}

fn create_index(state: &mut State, ctx: &Ctx) -> Reply {
    let name = ctx.p("index").to_string();
    if state.indices.contains_key(&name) {
        let reason = format!(
            "index [{name}/{}] already exists",
            state.indices[&name].uuid
        );
        return Reply::Json(
            400,
            envelope(400, "resource_already_exists_exception", &reason),
        );
    }
    state.add_index(&name, 1024);
    Reply::Json(
        200,
        json!({"acknowledged": true, "shards_acknowledged": true, "index": name}),
    )
}

fn node_base(n: &crate::state::Node, ctx: &Ctx) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("name".into(), json!(n.name));
    m.insert("transport_address".into(), json!("127.0.0.1:9300"));
    m.insert("host".into(), json!("127.0.0.1"));
    m.insert("ip".into(), json!("127.0.0.1"));
    m.insert("roles".into(), json!(n.roles));
    m.insert("attributes".into(), json!({}));
    m.insert("version".into(), json!(ctx.version));
    m
}

fn nodes_header(state: &State) -> Value {
    let n = state.nodes.len();
    json!({"total": n, "successful": n, "failed": 0})
}

fn nodes_info(state: &State, ctx: &Ctx) -> Reply {
    let mut nodes = Map::new();
    for n in &state.nodes {
        let mut m = node_base(n, ctx);
        m.insert("build_type".into(), json!("docker"));
        m.insert(
            "build_hash".into(),
            json!("0000000000000000000000000000000000000000"),
        );
        if ctx.is_es() {
            m.insert("build_flavor".into(), json!("default"));
        }
        let mut path = json!({"home": "/usr/share/elasticsearch", "logs": "/usr/share/elasticsearch/logs", "data": ["/usr/share/elasticsearch/data"]});
        if !n.path_repo.is_empty() {
            path["repo"] = json!(n.path_repo);
        }
        let mut settings = json!({"cluster": {"name": state.cluster_name}, "node": {"name": n.name}, "path": path});
        if ctx.is_es() && ctx.major_minor() >= (8, 0) {
            // Fields the 8.x/9.x servers add (and the current schema requires).
            m.insert("component_versions".into(), json!({}));
            m.insert("index_version".into(), json!(8_521_000));
            m.insert("transport_version".into(), json!(8_702_000));
            settings["http"] = json!({"type": {"default": "netty4"}});
            settings["transport"] = json!({"type": {"default": "netty4"}});
            settings["cluster"]["election"] = json!({"strategy": "supports_voting_only"});
            settings["node"]["attr"] = json!({});
        }
        if !ctx.is_es() {
            // The OpenSearch schema requires these in every node's settings.
            settings["client"] = json!({"type": "node"});
            settings["http"] = json!({"type": "netty4"});
            settings["transport"] = json!({"type": "netty4"});
        }
        let metric = ctx.matched.param("metric").unwrap_or("_all");
        if metric.contains("plugins") || metric == "_all" {
            crate::s3::node_fields(state, n, ctx, &mut m);
        }
        if metric.contains("settings") || metric == "_all" {
            m.insert("settings".into(), settings);
        }
        nodes.insert(n.id.clone(), Value::Object(m));
    }
    Reply::Json(
        200,
        json!({"_nodes": nodes_header(state), "cluster_name": state.cluster_name, "nodes": nodes}),
    )
}

fn nodes_stats(state: &State, ctx: &Ctx) -> Reply {
    let mut nodes = Map::new();
    for n in &state.nodes {
        let mut m = node_base(n, ctx);
        m.remove("version");
        m.remove("attributes");
        m.insert("timestamp".into(), json!(ctx.now));
        m.insert(
            "fs".into(),
            json!({
                "timestamp": ctx.now,
                "total": {"total_in_bytes": n.disk_total, "free_in_bytes": n.disk_free, "available_in_bytes": n.disk_free},
                "data": [{"path": "/usr/share/elasticsearch/data/nodes/0", "mount": "/usr/share/elasticsearch/data (/dev/sda1)", "type": "ext4", "total_in_bytes": n.disk_total, "free_in_bytes": n.disk_free, "available_in_bytes": n.disk_free}]
            }),
        );
        nodes.insert(n.id.clone(), Value::Object(m));
    }
    Reply::Json(
        200,
        json!({"_nodes": nodes_header(state), "cluster_name": state.cluster_name, "nodes": nodes}),
    )
}

/// Green, or yellow in a cluster of pods while a node that was in it is gone (its shard copies are
/// unassigned). A `wait_for_status` not reached (the wait itself is in `lib`) answers 408 with
/// `timed_out`, as Elasticsearch does.
fn cluster_health(state: &State, ctx: &Ctx) -> Reply {
    let status = crate::peers::status(state.peers.as_ref());
    let timed_out = ctx
        .query
        .get("wait_for_status")
        .is_some_and(|wanted| !crate::peers::satisfies(status, wanted));
    let unassigned = if status == "green" { 0 } else { 1 };
    let data = state
        .nodes
        .iter()
        .filter(|n| n.roles.iter().any(|r| r.starts_with("data")))
        .count();
    let primaries: u32 = state
        .indices
        .values()
        .filter(|i| i.open)
        .map(|i| i.shards)
        .sum();
    // One replica per primary: while a node is gone, the replicas it held are unassigned.
    let replicas = primaries * (1 - unassigned);
    let percent = if primaries == 0 {
        100.0
    } else {
        100.0 * f64::from(primaries + replicas) / f64::from(primaries * 2)
    };
    Reply::Json(
        if timed_out { 408 } else { 200 },
        json!({
            "cluster_name": state.cluster_name, "status": status, "timed_out": timed_out,
            "number_of_nodes": state.nodes.len(), "number_of_data_nodes": data,
            "active_primary_shards": primaries, "active_shards": primaries + replicas,
            "relocating_shards": 0, "initializing_shards": 0, "unassigned_shards": primaries - replicas, "unassigned_primary_shards": 0,
            "delayed_unassigned_shards": 0, "number_of_pending_tasks": 0, "number_of_in_flight_fetch": 0,
            "task_max_waiting_in_queue_millis": 0, "active_shards_percent_as_number": percent
        }),
    )
}

/// Java's `$1` is Rust regex's `${1}` (Rust would read `$1_restored` as a group named `1_restored`).
fn java_replacement(r: &str) -> String {
    let mut out = String::with_capacity(r.len() + 4);
    let mut chars = r.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) {
            let mut digits = String::new();
            while let Some(d) = chars.peek().copied().filter(char::is_ascii_digit) {
                digits.push(d);
                chars.next();
            }
            out.push_str(&format!("${{{digits}}}"));
        } else {
            out.push(c);
        }
    }
    out
}

/// `PUT /_cluster/settings`: `null` resets a setting, as on a real cluster. Only `persistent` is kept.
fn put_cluster_settings(state: &mut State, ctx: &Ctx) -> Reply {
    let body = ctx.json_body();
    let Some(persistent) = body.get("persistent").and_then(Value::as_object) else {
        return Reply::Json(
            400,
            envelope(
                400,
                "action_request_validation_exception",
                "Validation Failed: 1: no settings to update;",
            ),
        );
    };
    for (k, v) in persistent {
        if v.is_null() {
            state.cluster_settings.remove(k);
        } else {
            state.cluster_settings.insert(k.clone(), v.clone());
        }
    }
    Reply::Json(
        200,
        json!({"acknowledged": true, "persistent": persistent, "transient": {}}),
    )
}

/// `POST /_flush`: every open index's shards, all successful.
fn flush(state: &State) -> Reply {
    let total: u32 = state
        .indices
        .values()
        .filter(|i| i.open)
        .map(|i| i.shards * (1 + i.replicas))
        .sum();
    Reply::Json(
        200,
        json!({"_shards": {"total": total, "successful": total, "failed": 0}}),
    )
}
