//! SLM (Elasticsearch with x-pack, 7.4+) and Snapshot Management (OpenSearch 2.1+). Request bodies
//! are checked against the definitions before they get here; answers follow the response schemas.

use serde_json::{json, Value};

use crate::errors::envelope;
use crate::handlers::{expand, indices_param, ok, Ctx, Reply};
use crate::state::{SnapState, Snapshot, State};
use crate::time::iso;

#[derive(Debug, Clone)]
pub struct SlmPolicy {
    pub body: Value,
    pub version: u64,
    pub modified_ms: i64,
    pub last_success: Option<(String, i64)>,
    pub taken: u64,
}

#[derive(Debug, Clone)]
pub struct SmPolicy {
    pub body: Value,
    pub seq_no: i64,
    pub primary_term: i64,
    pub version: i64,
    pub last_updated_ms: i64,
}

/// What a server without the endpoint answers (an OSS build, or Elasticsearch before 7.4): the
/// same body `lib.rs` gives for paths the definitions do not know.
fn no_handler(ctx: &Ctx) -> Reply {
    let reason = format!(
        "no handler found for uri [{}] and method [{}]",
        ctx.matched.route.template, ctx.matched.route.method
    );
    Reply::Json(400, json!({"error": reason, "status": 400}))
}

fn slm_missing(state: &State, ctx: &Ctx) -> bool {
    let (major, minor) = ctx.major_minor();
    !ctx.is_es() || (major, minor) < (7, 4) || state.behaviour.oss_build
}

fn slm_not_found(id: &str) -> Reply {
    Reply::Json(
        404,
        envelope(
            404,
            "resource_not_found_exception",
            &format!("snapshot lifecycle policy or policies [{id}] not found"),
        ),
    )
}

pub fn slm_put(state: &mut State, ctx: &Ctx) -> Reply {
    if slm_missing(state, ctx) {
        return no_handler(ctx);
    }
    let id = ctx.p("policy_id").to_string();
    let body = ctx.json_body();
    let repo = body["repository"].as_str().unwrap_or_default();
    if !state.repositories.contains_key(repo) {
        return Reply::Json(
            400,
            envelope(
                400,
                "illegal_argument_exception",
                &format!("no such repository [{repo}]"),
            ),
        );
    }
    let version = state.slm_policies.get(&id).map_or(1, |p| p.version + 1);
    let kept = state.slm_policies.remove(&id);
    state.slm_policies.insert(
        id,
        SlmPolicy {
            body,
            version,
            modified_ms: ctx.now,
            last_success: kept.as_ref().and_then(|k| k.last_success.clone()),
            taken: kept.map_or(0, |k| k.taken),
        },
    );
    ok()
}

fn slm_json(id: &str, p: &SlmPolicy, now: i64) -> Value {
    let next = now + 3_600_000;
    let mut v = json!({
        "version": p.version,
        "modified_date": iso(p.modified_ms),
        "modified_date_millis": p.modified_ms,
        "policy": p.body,
        "stats": {
            "policy": id,
            "snapshots_taken": p.taken,
            "snapshots_failed": 0,
            "snapshots_deleted": 0,
            "snapshot_deletion_failures": 0
        },
        "next_execution": iso(next),
        "next_execution_millis": next
    });
    if let Some((name, at)) = &p.last_success {
        v["last_success"] = json!({"snapshot_name": name, "time": at, "time_string": iso(*at)});
    }
    v
}

pub fn slm_get(state: &mut State, ctx: &Ctx) -> Reply {
    if slm_missing(state, ctx) {
        return no_handler(ctx);
    }
    let wanted = ctx.p("policy_id");
    let mut out = serde_json::Map::new();
    for (id, p) in &state.slm_policies {
        if wanted.is_empty() || wanted.split(',').any(|w| w == id) {
            out.insert(id.clone(), slm_json(id, p, ctx.now));
        }
    }
    if !wanted.is_empty() && out.is_empty() {
        return slm_not_found(wanted);
    }
    Reply::Json(200, Value::Object(out))
}

pub fn slm_delete(state: &mut State, ctx: &Ctx) -> Reply {
    if slm_missing(state, ctx) {
        return no_handler(ctx);
    }
    let id = ctx.p("policy_id");
    match state.slm_policies.remove(id) {
        Some(_) => ok(),
        None => slm_not_found(id),
    }
}

/// `<prefix-{now/d}>` date math, the one form SLM names use here; SLM appends a UUID.
fn resolve_name(pattern: &str, now: i64, uuid: &str) -> String {
    let inner = pattern
        .strip_prefix('<')
        .and_then(|p| p.strip_suffix('>'))
        .unwrap_or(pattern);
    let day = crate::time::format_ms(now, "%Y.%m.%d");
    format!("{}-{}", inner.replace("{now/d}", &day), uuid.to_lowercase())
}

pub fn slm_execute(state: &mut State, ctx: &Ctx) -> Reply {
    if slm_missing(state, ctx) {
        return no_handler(ctx);
    }
    let id = ctx.p("policy_id").to_string();
    let Some(policy) = state.slm_policies.get(&id).cloned() else {
        return slm_not_found(&id);
    };
    let repo = policy.body["repository"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let uuid = state.uuid();
    let name = resolve_name(
        policy.body["name"].as_str().unwrap_or_default(),
        ctx.now,
        &uuid,
    );
    let patterns = match indices_param(&policy.body["config"]["indices"]) {
        p if p.is_empty() => vec!["_all".to_string()],
        p => p,
    };
    let open: Vec<String> = state
        .indices
        .iter()
        .filter(|(_, i)| i.open)
        .map(|(n, _)| n.clone())
        .collect();
    let indices = expand(&patterns, open.into_iter());
    let sizes = indices
        .iter()
        .map(|i| (i.clone(), state.indices[i].size))
        .collect();
    let snapshot = Snapshot {
        name: name.clone(),
        uuid,
        repository: repo.clone(),
        indices,
        sizes,
        shards_per_index: 1,
        state: SnapState::Success,
        outcome: SnapState::Success,
        failed_index: None,
        start_ms: ctx.now,
        end_ms: ctx.now + 1,
        polls_left: 0,
        include_global_state: false,
        metadata: None,
    };
    let Some(list) = state.snapshots_of_mut(&repo) else {
        return Reply::Json(
            404,
            envelope(
                404,
                "repository_missing_exception",
                &format!("[{repo}] missing"),
            ),
        );
    };
    list.push(snapshot);
    if let Some(p) = state.slm_policies.get_mut(&id) {
        p.last_success = Some((name.clone(), ctx.now));
        p.taken += 1;
    }
    Reply::Json(200, json!({"snapshot_name": name}))
}

fn sm_not_found(name: &str) -> Reply {
    Reply::Json(
        404,
        envelope(
            404,
            "status_exception",
            &format!("Snapshot management policy [{name}] not found."),
        ),
    )
}

fn sm_json(name: &str, p: &SmPolicy) -> Value {
    let mut policy = p.body.clone();
    policy["name"] = json!(name);
    policy["schema_version"] = json!(21);
    policy["last_updated_time"] = json!(p.last_updated_ms);
    if policy.get("enabled").is_none() {
        policy["enabled"] = json!(true);
    }
    json!({
        "_id": format!("{name}-sm-policy"),
        "_version": p.version,
        "_seq_no": p.seq_no,
        "_primary_term": p.primary_term,
        "sm_policy": policy
    })
}

pub fn sm_create(state: &mut State, ctx: &Ctx) -> Reply {
    let name = ctx.p("policy_name").to_string();
    if state.sm_policies.contains_key(&name) {
        return Reply::Json(
            409,
            envelope(
                409,
                "version_conflict_engine_exception",
                &format!("[{name}-sm-policy]: version conflict, document already exists"),
            ),
        );
    }
    let seq_no = state.sm_policies.len() as i64;
    let policy = SmPolicy {
        body: ctx.json_body(),
        seq_no,
        primary_term: 1,
        version: 1,
        last_updated_ms: ctx.now,
    };
    let reply = sm_json(&name, &policy);
    state.sm_policies.insert(name, policy);
    Reply::Json(201, reply)
}

pub fn sm_update(state: &mut State, ctx: &Ctx) -> Reply {
    let name = ctx.p("policy_name").to_string();
    let Some(current) = state.sm_policies.get(&name).cloned() else {
        return sm_not_found(&name);
    };
    let given = |k: &str| ctx.query.get(k).and_then(|v| v.parse::<i64>().ok());
    if given("if_seq_no") != Some(current.seq_no)
        || given("if_primary_term") != Some(current.primary_term)
    {
        return Reply::Json(
            409,
            envelope(
                409,
                "version_conflict_engine_exception",
                &format!(
                    "[{name}-sm-policy]: version conflict, required seqNo [{:?}], primary term [{:?}]. current document has seqNo [{}] and primary term [{}]",
                    given("if_seq_no"),
                    given("if_primary_term"),
                    current.seq_no,
                    current.primary_term
                ),
            ),
        );
    }
    let policy = SmPolicy {
        body: ctx.json_body(),
        seq_no: current.seq_no + 100,
        primary_term: current.primary_term,
        version: current.version + 1,
        last_updated_ms: ctx.now,
    };
    let reply = sm_json(&name, &policy);
    state.sm_policies.insert(name, policy);
    Reply::Json(200, reply)
}

pub fn sm_get(state: &mut State, ctx: &Ctx) -> Reply {
    let name = ctx.p("policy_name");
    match state.sm_policies.get(name) {
        Some(p) => Reply::Json(200, sm_json(name, p)),
        None => sm_not_found(name),
    }
}

pub fn sm_list(state: &mut State, _ctx: &Ctx) -> Reply {
    let policies: Vec<Value> = state
        .sm_policies
        .iter()
        .map(|(n, p)| sm_json(n, p))
        .collect();
    Reply::Json(
        200,
        json!({"total_policies": policies.len(), "policies": policies}),
    )
}

pub fn sm_delete(state: &mut State, ctx: &Ctx) -> Reply {
    let name = ctx.p("policy_name").to_string();
    if state.sm_policies.remove(&name).is_none() {
        return sm_not_found(&name);
    }
    Reply::Json(
        200,
        json!({
            "_index": ".opendistro-ism-config",
            "_id": format!("{name}-sm-policy"),
            "_version": 2,
            "result": "deleted",
            "forced_refresh": true,
            "_shards": {"total": 2, "successful": 1, "failed": 0},
            "_seq_no": 1,
            "_primary_term": 1
        }),
    )
}
