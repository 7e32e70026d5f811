//! Against a real Elasticsearch/OpenSearch: ignored unless asked for (`-- --ignored`; this machine
//! has none), and then LOGBACKUP_E2E_ES_URL and LOGBACKUP_E2E_REPO_LOCATION (a directory inside the
//! cluster's path.repo) must be set; credentials come from LOGBACKUP_ES_USERNAME /
//! LOGBACKUP_ES_PASSWORD as for the plugin.

use test_support::Runner;

fn plugin(url: &str, args: &[&str]) -> (i32, String, String) {
    Runner::new(env!("CARGO_BIN_EXE_kubectl-logbackup"))
        .trailing(["--es-url", url])
        .run(args)
        .parts()
}

#[test]
#[ignore = "needs a real Elasticsearch: LOGBACKUP_E2E_ES_URL=... LOGBACKUP_E2E_REPO_LOCATION=... cargo test --test commands real_es -- --ignored"]
fn full_cycle_against_a_real_cluster() {
    let url = std::env::var("LOGBACKUP_E2E_ES_URL")
        .expect("LOGBACKUP_E2E_ES_URL must name the real cluster");
    let location = std::env::var("LOGBACKUP_E2E_REPO_LOCATION")
        .expect("LOGBACKUP_E2E_REPO_LOCATION must be a directory inside its path.repo");
    let repo = "logbackup-e2e";
    let ok = |r: (i32, String, String)| {
        assert_eq!(r.0, 0, "stdout:\n{}\nstderr:\n{}", r.1, r.2);
        r
    };
    ok(plugin(
        &url,
        &["repo", "register", repo, "--location", &location],
    ));
    ok(plugin(
        &url,
        &[
            "snapshot",
            "create",
            "-r",
            repo,
            "--name",
            "e2e-%Y%m%d%H%M%S",
            "--wait",
        ],
    ));
    let listed = ok(plugin(
        &url,
        &["snapshot", "list", "-r", repo, "-o", "json"],
    ))
    .1;
    let listed: Vec<serde_json::Value> = serde_json::from_str(&listed).unwrap();
    let names: Vec<String> = listed
        .iter()
        .filter_map(|s| s["snapshot"].as_str().map(str::to_string))
        .collect();
    assert!(!names.is_empty());
    ok(plugin(&url, &["status", "-r", repo]));
    let mut delete = vec!["snapshot", "delete", "-r", repo];
    delete.extend(names.iter().map(String::as_str));
    ok(plugin(&url, &delete));
    ok(plugin(&url, &["repo", "remove", repo]));
}
