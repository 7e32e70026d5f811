//! The double against the definitions: it rejects what a version does not allow, its answers
//! validate against the response schemas, and its errors are the real bodies.
#![allow(clippy::unwrap_used, clippy::expect_used)] // A test crate: a panic is how a test reports.

mod support;

use es_double::schema::{response_schema, Validator};
use es_double::{default_api_root, Flavour, State};
use serde_json::{json, Value};

fn read(path: &str) -> Value {
    serde_json::from_slice(&std::fs::read(default_api_root().join(path)).unwrap()).unwrap()
}

fn seeded() -> State {
    let mut state = State::default();
    state.add_index("ks-logstash-log-2019.11.12", 4096);
    state.add_index("ks-logstash-log-2019.11.13", 4096);
    state
}

#[test]
fn unknown_parameters_paths_and_methods_are_rejected() {
    for (flavour, version) in [
        (Flavour::Elasticsearch, "7.17.0"),
        (Flavour::Elasticsearch, "8.19.0"),
        (Flavour::OpenSearch, "2.19.0"),
    ] {
        let d = support::start(flavour, version, false, seeded());
        let (status, body) = d.call("GET", "/_snapshot?bogus=1", None);
        assert_eq!(status, 400);
        assert_eq!(body["error"]["type"], "illegal_argument_exception");
        assert_eq!(
            body["error"]["reason"],
            "request [/_snapshot] contains unrecognized parameter: [bogus]"
        );
        let (status, body) = d.call("POST", "/_snapshot", None);
        assert_eq!(status, 405, "{body}");
        let (status, _) = d.call("GET", "/_snapshot/a/b/c/d/e", None);
        assert_eq!(status, 400);
        // Behaviour parameters the OpenAPI leaves out are accepted.
        assert_eq!(d.call("GET", "/_cat/indices?format=json&v=true&h=index&s=index&bytes=b&pretty&human=true&error_trace=false", None).0, 200);
        assert_eq!(
            d.call(
                "GET",
                "/_nodes/settings?filter_path=nodes.*.settings.path.repo",
                None
            )
            .0,
            200
        );
    }
}

#[test]
fn parameters_follow_the_version() {
    let es7 = support::start(Flavour::Elasticsearch, "7.17.0", false, seeded());
    let es8 = support::start(Flavour::Elasticsearch, "8.19.0", false, seeded());
    let es9 = support::start(Flavour::Elasticsearch, "9.1.0", false, seeded());
    let os1 = support::start(Flavour::OpenSearch, "1.3.0", false, seeded());
    let os2 = support::start(Flavour::OpenSearch, "2.19.0", false, seeded());
    let repo = json!({"type": "fs", "settings": {"location": "/usr/share/elasticsearch/backup/r"}});
    for d in [&es7, &es8, &es9, &os1, &os2] {
        assert_eq!(d.call("PUT", "/_snapshot/r", Some(&repo)).0, 200);
        assert_eq!(
            d.call(
                "PUT",
                "/_snapshot/r/s?wait_for_completion=true",
                Some(&json!({}))
            )
            .0,
            200
        );
    }
    // DELETE ?wait_for_completion is 8.x+ only.
    assert_eq!(
        es7.call("DELETE", "/_snapshot/r/s?wait_for_completion=true", None)
            .0,
        400
    );
    assert_eq!(
        es8.call("DELETE", "/_snapshot/r/s?wait_for_completion=true", None)
            .0,
        200
    );
    // GET _snapshot ?index_names from 8.x, ?state from 9.x.
    assert_eq!(
        es7.call("GET", "/_snapshot/r/_all?index_names=true", None)
            .0,
        400
    );
    assert_eq!(
        es8.call("GET", "/_snapshot/r/_all?index_names=true", None)
            .0,
        200
    );
    assert_eq!(
        es8.call("GET", "/_snapshot/r/_all?state=SUCCESS", None).0,
        400
    );
    assert_eq!(
        es9.call("GET", "/_snapshot/r/_all?state=SUCCESS", None).0,
        200
    );
    // cluster_manager_timeout: OpenSearch 2.0+, never Elasticsearch.
    assert_eq!(
        es8.call("GET", "/_snapshot/r?cluster_manager_timeout=30s", None)
            .0,
        400
    );
    assert_eq!(
        os1.call("GET", "/_snapshot/r?cluster_manager_timeout=30s", None)
            .0,
        400
    );
    assert_eq!(
        os2.call("GET", "/_snapshot/r?cluster_manager_timeout=30s", None)
            .0,
        200
    );
    // SLM exists only on Elasticsearch; Snapshot Management only on OpenSearch 2.1+.
    assert_eq!(
        es7.call("GET", "/_slm/policy", None).0,
        200,
        "SLM is served"
    );
    assert_eq!(os2.call("GET", "/_slm/policy", None).0, 400);
    assert_eq!(os1.call("GET", "/_plugins/_sm/policies", None).0, 400);
    // Literal segments win: _status is not a repository.
    assert_eq!(es7.call("GET", "/_snapshot/_status", None).0, 200);
    // The product header Elasticsearch clients check, from 7.14.
    let url = format!("{}/", es8.running.url());
    let header = es8.runtime.block_on(async {
        reqwest::get(url)
            .await
            .unwrap()
            .headers()
            .get("x-elastic-product")
            .cloned()
    });
    assert_eq!(header.unwrap(), "Elasticsearch");
}

#[test]
fn errors_are_the_real_bodies_with_names_filled_in() {
    let d = support::start(Flavour::Elasticsearch, "7.17.0", false, seeded());
    let (status, body) = d.call("GET", "/_snapshot/nope", None);
    assert_eq!(
        (status, body["error"]["reason"].as_str().unwrap()),
        (404, "[nope] missing")
    );
    let outside = json!({"type": "fs", "settings": {"location": "/elsewhere"}});
    let (status, body) = d.call("PUT", "/_snapshot/r", Some(&outside));
    assert_eq!(status, 500);
    assert_eq!(
        body["error"]["caused_by"]["reason"],
        "[r] location [/elsewhere] doesn't match any of the locations specified by path.repo"
    );
    d.running
        .state()
        .nodes
        .iter_mut()
        .for_each(|n| n.path_repo.clear());
    let (status, body) = d.call("PUT", "/_snapshot/r", Some(&outside));
    assert_eq!(status, 500);
    assert!(body["error"]["caused_by"]["reason"]
        .as_str()
        .unwrap()
        .ends_with("because this setting is empty"));
    d.running
        .state()
        .nodes
        .iter_mut()
        .for_each(|n| n.path_repo = vec!["/".into()]);
    assert_eq!(d.call("PUT", "/_snapshot/r", Some(&outside)).0, 200);
    assert_eq!(
        d.call(
            "PUT",
            "/_snapshot/r/s?wait_for_completion=true",
            Some(&json!({}))
        )
        .0,
        200
    );
    let (status, body) = d.call("PUT", "/_snapshot/r/s", Some(&json!({})));
    assert_eq!(status, 400);
    assert_eq!(body["error"]["type"], "invalid_snapshot_name_exception");
    let (status, body) = d.call("GET", "/_snapshot/r/zz", None);
    assert_eq!(
        (status, body["error"]["reason"].as_str().unwrap()),
        (404, "[r:zz] is missing")
    );
    assert_eq!(
        d.call("GET", "/_snapshot/r/zz?ignore_unavailable=true", None)
            .0,
        200
    );
    let (status, body) = d.call(
        "POST",
        "/_snapshot/r/s/_restore",
        Some(&json!({"indices": "ks-logstash-log-2019.11.12"})),
    );
    assert_eq!(status, 500);
    assert!(body["error"]["reason"]
        .as_str()
        .unwrap()
        .contains("cannot restore index [ks-logstash-log-2019.11.12] because an open index"));
    d.running.state().behaviour.busy_for = 1;
    let (status, body) = d.call("PUT", "/_snapshot/r/t", Some(&json!({})));
    assert_eq!(
        (status, body["error"]["reason"].as_str().unwrap()),
        (503, "[r:t]  a snapshot is already running")
    );
    let (status, body) = d.call("GET", "/_cat/indices/nope?format=json", None);
    assert_eq!(
        (status, body["error"]["type"].as_str().unwrap()),
        (404, "index_not_found_exception")
    );
}

#[test]
fn request_bodies_are_checked_against_the_definitions() {
    for (flavour, version) in [
        (Flavour::Elasticsearch, "8.19.0"),
        (Flavour::OpenSearch, "2.19.0"),
    ] {
        let d = support::start(flavour, version, false, seeded());
        let bad = json!({"type": "fs", "settings": {"location": "/usr/share/elasticsearch/backup/r", "compress": 5}});
        let (status, body) = d.call("PUT", "/_snapshot/r", Some(&bad));
        assert_eq!(status, 400, "{flavour:?}: {body}");
        assert_eq!(body["error"]["type"], "x_content_parse_exception");
        let good = json!({"type": "fs", "settings": {"location": "/usr/share/elasticsearch/backup/r", "compress": true}});
        assert_eq!(d.call("PUT", "/_snapshot/r", Some(&good)).0, 200);
        let (status, _) = d.call(
            "PUT",
            "/_snapshot/r/s",
            Some(&json!({"include_global_state": "no"})),
        );
        assert_eq!(status, 400, "{flavour:?}");
        // Metadata with string values: the official example's shape, despite the schema (caveat 2).
        let (status, body) = d.call(
            "PUT",
            "/_snapshot/r/s",
            Some(&json!({"metadata": {"taken_by": "user123"}})),
        );
        assert_eq!(status, 200, "{flavour:?}: {body}");
    }
}

#[test]
fn six_eight_runs_one_snapshot_at_a_time() {
    let d = support::start(Flavour::Elasticsearch, "6.8.23", false, seeded());
    let repo = json!({"type": "fs", "settings": {"location": "/usr/share/elasticsearch/backup/r"}});
    d.call("PUT", "/_snapshot/r", Some(&repo));
    d.running.state().behaviour.progress_polls = 100;
    assert_eq!(d.call("PUT", "/_snapshot/r/a", Some(&json!({}))).0, 200);
    assert_eq!(d.call("PUT", "/_snapshot/r/b", Some(&json!({}))).0, 503);
    let d7 = support::start(Flavour::Elasticsearch, "7.17.0", false, seeded());
    d7.call("PUT", "/_snapshot/r", Some(&repo));
    d7.running.state().behaviour.progress_polls = 100;
    assert_eq!(d7.call("PUT", "/_snapshot/r/a", Some(&json!({}))).0, 200);
    assert_eq!(d7.call("PUT", "/_snapshot/r/b", Some(&json!({}))).0, 200);
}

/// Every answer of a full scenario validates against the operation's 200 schema.
fn validate_scenario(flavour: Flavour, version: &str, enforce_required: bool) -> Vec<String> {
    let (doc, manifest) = match flavour {
        Flavour::Elasticsearch => (
            read("elasticsearch/openapi-snapshot-subset.json"),
            read("elasticsearch/endpoints-manifest.json"),
        ),
        Flavour::OpenSearch => (
            read("opensearch/openapi-snapshot-subset.json"),
            read("opensearch/endpoints-manifest.json"),
        ),
    };
    let validator = Validator {
        doc: &doc,
        enforce_required,
        any_refs: &[],
    };
    let d = support::start(flavour, version, false, seeded());
    let repo = json!({"type": "fs", "settings": {"location": "/usr/share/elasticsearch/backup/r", "compress": true}});
    let steps: Vec<(&str, &str, &str, Option<Value>)> = vec![
        ("info", "GET", "/", None),
        (
            "snapshot.create_repository",
            "PUT",
            "/_snapshot/r",
            Some(repo),
        ),
        ("snapshot.get_repository", "GET", "/_snapshot", None),
        ("snapshot.get_repository", "GET", "/_snapshot/r", None),
        (
            "snapshot.verify_repository",
            "POST",
            "/_snapshot/r/_verify",
            None,
        ),
        (
            "snapshot.create",
            "PUT",
            "/_snapshot/r/s1?wait_for_completion=true",
            Some(json!({"indices": "ks-*"})),
        ),
        (
            "snapshot.create",
            "PUT",
            "/_snapshot/r/s2",
            Some(json!({"indices": "ks-*"})),
        ),
        ("snapshot.status", "GET", "/_snapshot/r/s2/_status", None),
        ("snapshot.status", "GET", "/_snapshot/_status", None),
        ("snapshot.get", "GET", "/_snapshot/r/_all", None),
        ("snapshot.get", "GET", "/_snapshot/r/s2", None),
        (
            "cat.snapshots",
            "GET",
            "/_cat/snapshots/r?format=json",
            None,
        ),
        (
            "cat.indices",
            "GET",
            "/_cat/indices?format=json&bytes=b",
            None,
        ),
        ("nodes.info", "GET", "/_nodes/settings", None),
        ("nodes.stats", "GET", "/_nodes/stats/fs", None),
        ("cluster.health", "GET", "/_cluster/health", None),
        (
            "indices.close",
            "POST",
            "/ks-logstash-log-2019.11.12/_close",
            None,
        ),
        (
            "snapshot.restore",
            "POST",
            "/_snapshot/r/s1/_restore?wait_for_completion=true",
            Some(json!({"indices": "ks-logstash-log-2019.11.12"})),
        ),
        (
            "indices.recovery",
            "GET",
            "/ks-logstash-log-2019.11.12/_recovery",
            None,
        ),
        (
            "indices.open",
            "POST",
            "/ks-logstash-log-2019.11.12/_open",
            None,
        ),
        ("indices.get", "GET", "/ks-logstash-log-2019.11.13", None),
        ("snapshot.delete", "DELETE", "/_snapshot/r/s1", None),
        (
            "indices.delete",
            "DELETE",
            "/ks-logstash-log-2019.11.13",
            None,
        ),
        ("snapshot.delete_repository", "DELETE", "/_snapshot/r", None),
    ];
    let mut problems = Vec::new();
    for (endpoint, method, path, body) in steps {
        let (status, answer) = d.call(method, path, body.as_ref());
        if status != 200 {
            problems.push(format!("{method} {path}: status {status}: {answer}"));
            continue;
        }
        // Endpoints without a documented 200 schema (see the README) have nothing to check against.
        if let Some(schema) = response_schema(&doc, &manifest, endpoint) {
            for e in validator.validate(schema, &answer) {
                problems.push(format!("{method} {path} ({endpoint}): {e}"));
            }
        }
    }
    problems
}

#[test]
fn answers_validate_against_the_response_schemas() {
    // `required` follows the newest server (README caveat 1): enforced for 9.1 and OpenSearch only.
    for (flavour, version, required) in [
        (Flavour::Elasticsearch, "7.17.0", false),
        (Flavour::Elasticsearch, "8.19.0", false),
        (Flavour::Elasticsearch, "9.1.0", true),
        (Flavour::OpenSearch, "2.19.0", true),
    ] {
        let problems = validate_scenario(flavour, version, required);
        assert!(
            problems.is_empty(),
            "{flavour:?} {version}:\n{}",
            problems.join("\n")
        );
    }
}
