//! Against a real Elasticsearch/OpenSearch, only when LOGBACKUP_E2E_ES_URL is set (this machine has
//! none). Also set LOGBACKUP_E2E_REPO_LOCATION to a directory inside the cluster's path.repo;
//! credentials come from LOGBACKUP_ES_USERNAME / LOGBACKUP_ES_PASSWORD as for the plugin.
//! When unset, the test says so on stderr and checks nothing else.

use std::process::Command;

fn plugin(url: &str, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_kubectl-logbackup"))
        .args(args)
        .args(["--es-url", url])
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn full_cycle_against_a_real_cluster() {
    let (Ok(url), Ok(location)) = (
        std::env::var("LOGBACKUP_E2E_ES_URL"),
        std::env::var("LOGBACKUP_E2E_REPO_LOCATION"),
    ) else {
        eprintln!(
            "LOGBACKUP_E2E_ES_URL / LOGBACKUP_E2E_REPO_LOCATION not set: real-cluster test not run"
        );
        return;
    };
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
