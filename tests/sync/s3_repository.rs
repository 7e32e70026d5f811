//! `repo register --type s3` against the double as Elasticsearch 8.19 (built in), 7.17 and
//! OpenSearch 2.11 (the repository-s3 plugin), with and without the plugin.

use es_double::{Flavour, State};

use crate::harness::Env;

fn with_plugin(state: &mut State) {
    for n in state.nodes.clone() {
        state
            .behaviour
            .node_plugins
            .insert(n.name.clone(), vec!["repository-s3".into()]);
    }
}

#[test]
fn elasticsearch_8_registers_with_bucket_settings_only() {
    let env = Env::start(Flavour::Elasticsearch, "8.19.0", |_| {});
    let run = env.run(&[
        "repo",
        "register",
        "offsite",
        "--type",
        "s3",
        "--bucket",
        "logs",
        "--base-path",
        "ks",
        "--client",
        "backup",
    ]);
    run.ok()
        .stderr_has("registered repository offsite at s3://logs/ks")
        .stderr_has("has S3 support built in")
        .stderr_has("verified on 2 nodes");
    let state = env.double.state();
    let repo = &state.repositories["offsite"];
    assert_eq!(repo.kind, "s3");
    assert_eq!(
        serde_json::Value::Object(repo.settings.clone()),
        serde_json::json!({"bucket": "logs", "base_path": "ks", "client": "backup", "compress": true})
    );
    assert!(
        !state.log.iter().any(|l| l.contains("_nodes/plugins")),
        "8.x needs no plugin check: {:?}",
        state.log
    );
}

#[test]
fn without_the_plugin_nothing_is_registered_and_the_missing_nodes_are_named() {
    for (flavour, version, tool) in [
        (
            Flavour::Elasticsearch,
            "7.17.0",
            "bin/elasticsearch-plugin install --batch repository-s3",
        ),
        (
            Flavour::OpenSearch,
            "2.11.0",
            "bin/opensearch-plugin install --batch repository-s3",
        ),
    ] {
        let env = Env::start(flavour, version, |s| {
            let first = s.nodes[0].name.clone();
            s.behaviour
                .node_plugins
                .insert(first, vec!["repository-s3".into()]);
        });
        env.run(&[
            "repo", "register", "offsite", "--type", "s3", "--bucket", "logs",
        ])
        .code(3)
        .stderr_has("has no S3 repository support on elasticsearch-logging-data-1")
        .stderr_has(tool);
        let state = env.double.state();
        assert!(state.repositories.is_empty());
        assert!(state
            .log
            .iter()
            .any(|l| l.starts_with("GET /_nodes/plugins")));
        assert!(!state.log.iter().any(|l| l.starts_with("PUT /_snapshot")));
    }
}

#[test]
fn the_double_refuses_s3_without_the_plugin_as_the_server_does() {
    let env = Env::start(Flavour::Elasticsearch, "7.17.0", |_| {});
    let url = format!("{}/_snapshot/offsite", env.double.url());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (status, body) = rt.block_on(async {
        let r = reqwest::Client::new()
            .put(url)
            .json(&serde_json::json!({"type": "s3", "settings": {"bucket": "logs"}}))
            .send()
            .await
            .unwrap();
        (
            r.status().as_u16(),
            r.json::<serde_json::Value>().await.unwrap(),
        )
    });
    assert_eq!(status, 500);
    assert_eq!(body["error"]["type"], "repository_exception");
    assert_eq!(
        body["error"]["reason"],
        "[offsite] repository type [s3] does not exist"
    );
}

#[test]
fn opensearch_with_the_plugin_registers_read_only_and_dry_run_prints_the_keystore_steps() {
    let env = Env::start(Flavour::OpenSearch, "2.11.0", with_plugin);
    let register = [
        "repo",
        "register",
        "copy",
        "--type",
        "s3",
        "--bucket",
        "logs",
        "--readonly",
    ];
    env.run(&[&register[..], &["--dry-run"]].concat())
        .ok()
        .stderr_has("every master and data node has the repository-s3 plugin")
        .stderr_has("bin/opensearch-keystore add --stdin s3.client.default.access_key")
        .stderr_has("POST _nodes/reload_secure_settings");
    assert!(env.double.state().repositories.is_empty(), "dry run");
    env.run(&register).ok();
    let state = env.double.state();
    assert_eq!(state.repositories["copy"].settings["readonly"], true);
}

#[test]
fn fs_still_needs_a_location_and_s3_a_bucket() {
    let env = Env::start(Flavour::Elasticsearch, "8.19.0", |_| {});
    // --type defaults to fs, which clap's required_if does not see: the command refuses instead.
    env.run(&["repo", "register", "x"])
        .code(3)
        .stderr_has("--location is required");
    env.run(&["repo", "register", "x", "--type", "s3"])
        .code(2)
        .stderr_has("--bucket");
}
