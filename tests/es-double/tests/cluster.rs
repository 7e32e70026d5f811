//! The double as several pods making one cluster: they find each other through their seed hosts,
//! every node answers with the master's state, and health turns yellow while a node is gone.
#![allow(clippy::unwrap_used, clippy::expect_used)] // A test crate: a panic is how a test reports.

mod support;

use std::time::{Duration, Instant};

use es_double::peers::Peers;
use es_double::pod::{configure, Settings};
use es_double::{Flavour, State};
use serde_json::json;

fn pod(name: &str, repo: &std::path::Path, started_ms: i64) -> support::Double {
    let mut state = State::default();
    configure(
        &mut state,
        Settings {
            node_name: Some(name.into()),
            path_repo: Some(repo.display().to_string()),
            seed_indices: 1,
            path_data: None,
            snapshot_seconds: None,
        },
        0,
    );
    state.peers = Some(Peers::new(state.nodes[0].clone(), started_ms));
    support::start(Flavour::Elasticsearch, "7.17.0", false, state)
}

/// The answer's `x-elastic-product`, which 7.14+ clients check, whichever node answered.
fn product_header(d: &support::Double) -> Option<String> {
    let url = format!("{}/", d.running.url());
    d.runtime.block_on(async {
        let r = d.http.get(url).send().await.ok()?;
        Some(
            r.headers()
                .get("x-elastic-product")?
                .to_str()
                .ok()?
                .to_string(),
        )
    })
}

fn node_names(d: &support::Double) -> Vec<String> {
    let (status, body) = d.call("GET", "/_nodes/settings", None);
    if status != 200 {
        return Vec::new();
    }
    let mut names: Vec<String> = body["nodes"]
        .as_object()
        .unwrap()
        .values()
        .map(|n| n["name"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    names
}

fn until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn pods_find_each_other_share_the_masters_state_and_survive_its_loss() {
    let repo = std::env::temp_dir().join(format!("es-double-cluster-{}", std::process::id()));
    std::fs::create_dir_all(&repo).unwrap();
    let a = pod("es-0", &repo, 1);
    let b = pod("es-1", &repo, 2);
    let seeds = vec![a.running.addr.to_string(), b.running.addr.to_string()];
    for d in [&a, &b] {
        let (seeds, port) = (seeds.clone(), d.running.addr.port());
        let _guard = d.runtime.enter();
        d.running.discover(seeds, port);
    }

    until("both nodes listed by the follower", || {
        node_names(&b) == ["es-0", "es-1"]
    });
    assert_eq!(product_header(&b).as_deref(), Some("Elasticsearch"));
    let (status, health) = b.call("GET", "/_cluster/health", None);
    assert_eq!(status, 200);
    assert_eq!(health["status"], "green");
    assert_eq!(health["number_of_nodes"], 2);

    // Registered through the follower, held by the master (es-0 is the older).
    let location = repo.join("backups").display().to_string();
    let body = json!({"type": "fs", "settings": {"location": location}});
    let (status, reply) = b.call("PUT", "/_snapshot/logs", Some(&body));
    assert_eq!(status, 200, "{reply}");
    assert!(a.running.state().repositories.contains_key("logs"));
    until("the follower to copy the registration", || {
        b.running.state().repositories.contains_key("logs")
    });

    drop(a);
    until("the master's loss to be seen", || {
        node_names(&b) == ["es-1"]
    });
    let (status, health) = b.call(
        "GET",
        "/_cluster/health?wait_for_status=green&timeout=1s",
        None,
    );
    assert_eq!(status, 408, "{health}");
    assert_eq!(health["timed_out"], true);
    assert_eq!(health["status"], "yellow");
    let (status, reply) = b.call("GET", "/_snapshot/logs", None);
    assert_eq!(status, 200, "the new master kept the registration: {reply}");
    std::fs::remove_dir_all(&repo).unwrap();
}

#[test]
fn a_pod_answers_503_until_its_first_discovery_pass() {
    let repo = std::env::temp_dir();
    let lonely = pod("es-9", &repo, 1);
    let (status, body) = lonely.call("GET", "/_cluster/health", None);
    assert_eq!(status, 503);
    assert_eq!(body["error"]["type"], "master_not_discovered_exception");
    let (status, me) = lonely.call("GET", "/_double/node", None);
    assert_eq!(status, 200);
    assert_eq!(me["name"], "es-9");
}
