//! SLM (Elasticsearch 7.4+ with x-pack) and Snapshot Management (OpenSearch 2.1+): served where
//! the servers have them, "no handler" elsewhere, request bodies held to the definitions and
//! answers validated against the response schemas.
#![allow(clippy::unwrap_used, clippy::expect_used)] // A test crate: a panic is how a test reports.

mod support;

use es_double::schema::{response_schema, Validator};
use es_double::{Flavour, State};
use serde_json::{json, Value};

fn read(rel: &str) -> Value {
    let path = es_double::default_api_root().join(rel);
    serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
}

fn with_repo() -> State {
    let mut s = State::default();
    s.seed_snapshots(
        "r",
        "/usr/share/elasticsearch/backup/r",
        2,
        es_double::time::now_ms(),
    );
    s.add_index("ks-logstash-log-2026.11.21", 1024);
    s
}

fn slm_policy() -> Value {
    json!({
        "schedule": "0 0 1 * * ?",
        "name": "<nightly-{now/d}>",
        "repository": "r",
        "config": {"indices": "ks-logstash-log-*", "ignore_unavailable": true, "include_global_state": false, "partial": true},
        "retention": {"expire_after": "45d", "min_count": 1, "max_count": 46}
    })
}

#[test]
fn slm_put_get_execute_delete_on_elasticsearch_with_x_pack() {
    let doc = read("elasticsearch/openapi-snapshot-subset.json");
    let manifest = read("elasticsearch/endpoints-manifest.json");
    for (version, required) in [("7.17.0", false), ("8.19.0", false), ("9.1.0", true)] {
        let d = support::start(Flavour::Elasticsearch, version, false, with_repo());
        let validator = Validator {
            doc: &doc,
            enforce_required: required,
            any_refs: &[],
        };
        let (status, body) = d.call("PUT", "/_slm/policy/nightly", Some(&slm_policy()));
        assert_eq!(
            (status, &body),
            (200, &json!({"acknowledged": true})),
            "{version}"
        );
        let (status, body) = d.call("PUT", "/_slm/policy/nightly/_execute", None);
        assert_eq!(status, 200, "{version}: {body}");
        let snapshot = body["snapshot_name"].as_str().unwrap().to_string();
        assert!(snapshot.starts_with("nightly-"), "{snapshot}");
        let schema = response_schema(&doc, &manifest, "slm.execute_lifecycle").unwrap();
        assert_eq!(validator.validate(schema, &body), Vec::<String>::new());
        // The snapshot is in the repository, with the policy's indices.
        let (_, got) = d.call("GET", &format!("/_snapshot/r/{snapshot}"), None);
        assert_eq!(
            got["snapshots"][0]["indices"],
            json!(["ks-logstash-log-2026.11.21"])
        );
        for path in ["/_slm/policy", "/_slm/policy/nightly"] {
            let (status, body) = d.call("GET", path, None);
            assert_eq!(status, 200);
            assert_eq!(body["nightly"]["policy"], slm_policy());
            assert_eq!(
                body["nightly"]["last_success"]["snapshot_name"],
                snapshot.as_str()
            );
            let schema = response_schema(&doc, &manifest, "slm.get_lifecycle").unwrap();
            assert_eq!(
                validator.validate(schema, &body),
                Vec::<String>::new(),
                "{version}"
            );
        }
        assert_eq!(d.call("DELETE", "/_slm/policy/nightly", None).0, 200);
        assert_eq!(d.call("GET", "/_slm/policy/nightly", None).0, 404);
        assert_eq!(d.call("DELETE", "/_slm/policy/nightly", None).0, 404);
    }
}

#[test]
fn slm_bodies_are_held_to_the_definitions() {
    let d = support::start(Flavour::Elasticsearch, "8.19.0", false, with_repo());
    let mut bad = slm_policy();
    bad["retention"]["min_count"] = json!("one");
    let (status, body) = d.call("PUT", "/_slm/policy/nightly", Some(&bad));
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["type"], "x_content_parse_exception");
    let mut unknown_repo = slm_policy();
    unknown_repo["repository"] = json!("nope");
    assert_eq!(
        d.call("PUT", "/_slm/policy/nightly", Some(&unknown_repo)).0,
        400
    );
}

#[test]
fn no_slm_before_7_4_nor_in_oss_builds_and_no_sm_before_opensearch_2_1() {
    let d = support::start(Flavour::Elasticsearch, "6.8.23", false, with_repo());
    let (status, body) = d.call("GET", "/_slm/policy", None);
    assert_eq!(status, 400);
    assert!(
        body["error"].as_str().unwrap().contains("no handler found"),
        "{body}"
    );
    let mut oss = with_repo();
    oss.behaviour.oss_build = true;
    let d = support::start(Flavour::Elasticsearch, "7.10.2", false, oss);
    assert_eq!(d.call("PUT", "/_slm/policy/x", Some(&slm_policy())).0, 400);
    let d = support::start(Flavour::OpenSearch, "2.0.1", false, with_repo());
    assert_eq!(d.call("GET", "/_plugins/_sm/policies", None).0, 400);
    // And no SLM on OpenSearch.
    let d = support::start(Flavour::OpenSearch, "2.11.0", false, with_repo());
    assert_eq!(d.call("GET", "/_slm/policy", None).0, 400);
}

fn sm_policy(hour: u8) -> Value {
    json!({
        "description": "Scheduled by kubectl-logbackup",
        "creation": {"schedule": {"cron": {"expression": format!("0 {hour} * * *"), "timezone": "UTC"}}},
        "deletion": {
            "schedule": {"cron": {"expression": format!("0 {hour} * * *"), "timezone": "UTC"}},
            "condition": {"max_age": "45d", "min_count": 1, "max_count": 46}
        },
        "snapshot_config": {"indices": "ks-logstash-log-*", "repository": "r", "ignore_unavailable": true, "include_global_state": false, "partial": true},
        "enabled": true
    })
}

#[test]
fn sm_create_update_with_sequence_numbers_get_list_delete() {
    let doc = read("opensearch/openapi-snapshot-subset.json");
    let manifest = read("opensearch/endpoints-manifest.json");
    let validator = Validator {
        doc: &doc,
        enforce_required: true,
        any_refs: &[],
    };
    let d = support::start(Flavour::OpenSearch, "2.11.0", false, with_repo());
    let get_schema = response_schema(&doc, &manifest, "sm.get_policy").unwrap();
    let (status, created) = d.call(
        "POST",
        "/_plugins/_sm/policies/nightly",
        Some(&sm_policy(1)),
    );
    assert_eq!(status, 201, "{created}");
    // Create answers the same PolicyResponse as get.
    assert_eq!(
        validator.validate(get_schema, &created),
        Vec::<String>::new()
    );
    assert_eq!(
        d.call(
            "POST",
            "/_plugins/_sm/policies/nightly",
            Some(&sm_policy(1))
        )
        .0,
        409
    );
    let (status, got) = d.call("GET", "/_plugins/_sm/policies/nightly", None);
    assert_eq!(status, 200);
    assert_eq!(validator.validate(get_schema, &got), Vec::<String>::new());
    let (seq, term) = (
        got["_seq_no"].as_i64().unwrap(),
        got["_primary_term"].as_i64().unwrap(),
    );
    // A stale update is refused; the right numbers update.
    let stale = format!(
        "/_plugins/_sm/policies/nightly?if_seq_no={}&if_primary_term={term}",
        seq + 1
    );
    assert_eq!(d.call("PUT", &stale, Some(&sm_policy(2))).0, 409);
    let fresh = format!("/_plugins/_sm/policies/nightly?if_seq_no={seq}&if_primary_term={term}");
    let (status, updated) = d.call("PUT", &fresh, Some(&sm_policy(2)));
    assert_eq!(status, 200, "{updated}");
    assert_eq!(
        updated["sm_policy"]["creation"]["schedule"]["cron"]["expression"],
        "0 2 * * *"
    );
    let (status, list) = d.call("GET", "/_plugins/_sm/policies", None);
    assert_eq!(status, 200);
    assert_eq!(list["total_policies"], 1);
    let list_schema = response_schema(&doc, &manifest, "sm.get_policies").unwrap();
    assert_eq!(validator.validate(list_schema, &list), Vec::<String>::new());
    let (status, deleted) = d.call("DELETE", "/_plugins/_sm/policies/nightly", None);
    assert_eq!(status, 200);
    let del_schema = response_schema(&doc, &manifest, "sm.delete_policy").unwrap();
    assert_eq!(
        validator.validate(del_schema, &deleted),
        Vec::<String>::new()
    );
    assert_eq!(d.call("GET", "/_plugins/_sm/policies/nightly", None).0, 404);
    // A body the definitions reject.
    let mut bad = sm_policy(1);
    bad["deletion"]["condition"]["min_count"] = json!("one");
    assert_eq!(
        d.call("POST", "/_plugins/_sm/policies/x", Some(&bad)).0,
        400
    );
}
