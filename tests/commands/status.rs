use crate::harness::*;

#[test]
fn a_fresh_snapshot_in_a_verified_repository_is_healthy() {
    for (flavour, version) in VERSIONS {
        let env = Env::start(flavour, version, kubesphere);
        env.run(&["snapshot", "create", "-r", REPO, "--wait"]).ok();
        let report = env.run(&["status", "-r", REPO, "-o", "json"]).ok().json();
        assert_eq!(report["health"]["healthy"], true, "{}", env.label);
        assert!(report["version"].as_str().unwrap().contains(version));
        assert_eq!(
            report["path_repo"][0]["path_repo"][0],
            "/usr/share/elasticsearch/backup"
        );
        env.run(&["status", "-r", REPO])
            .ok()
            .stdout_has("HEALTHY")
            .stdout_has("last successful snapshot snapshot-");
    }
}

#[test]
fn each_problem_makes_status_unhealthy_with_exit_1() {
    let env = Env::start(VERSIONS[0].0, VERSIONS[0].1, kubesphere);
    env.run(&["status", "-r", REPO])
        .code(1)
        .stdout_has("UNHEALTHY")
        .stdout_has("no successful snapshot yet");

    let env = Env::kubesphere_with(VERSIONS[1].0, VERSIONS[1].1, |b| b.repo_not_shared = true);
    env.run(&["status", "-r", REPO])
        .code(1)
        .stdout_has("failed verification");

    let env = Env::start(VERSIONS[2].0, VERSIONS[2].1, kubesphere);
    env.run(&["snapshot", "create", "-r", REPO, "--wait"]).ok();
    env.double.state().behaviour.next_partial = true;
    env.run(&[
        "snapshot", "create", "-r", REPO, "--name", "broken", "--wait",
    ])
    .code(1);
    let report = env
        .run(&["status", "-r", REPO, "-o", "json"])
        .code(1)
        .json();
    let failures = report["health"]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["check"] == "failures")
        .unwrap();
    assert_eq!(failures["ok"], false);
    assert!(failures["message"]
        .as_str()
        .unwrap()
        .contains("broken (PARTIAL)"));

    let env = Env::start(VERSIONS[0].0, VERSIONS[0].1, |s| {
        kubesphere(s);
        s.nodes[0].disk_free = 1;
    });
    env.run(&["snapshot", "create", "-r", REPO, "--wait"]).ok();
    env.run(&["status", "-r", REPO])
        .code(1)
        .stdout_has("FAIL    disk");
    env.run(&["status", "-r", "nope"])
        .code(1)
        .stdout_has("repository nope is not registered");
}

/// A record as `etcd save` writes it, `age` old, with the drill's verdict when given.
fn etcd_snapshot(
    repo: &std::path::Path,
    age: jiff::SignedDuration,
    passed: Option<bool>,
) -> String {
    let taken = jiff::Timestamp::from_second(jiff::Timestamp::now().as_second()).unwrap() - age;
    let name = format!(
        "etcd-manual-cp1-{}",
        taken
            .to_zoned(jiff::tz::TimeZone::UTC)
            .strftime("%Y%m%dT%H%M%SZ")
    );
    let dir = repo.join("logbackup-etcd").join(&name);
    std::fs::create_dir_all(&dir).unwrap();
    let record = serde_json::json!({
        "name": name, "origin": "manual", "node": "cp1", "taken_at": taken.to_string(),
        "endpoint": "https://127.0.0.1:2379", "etcd_version": "3.5.16", "cluster_id": "1",
        "member_id": "2", "revision": 10, "members": [], "sha256": "00", "size": 1,
        "keys": {}, "total_keys": 0, "pki": null, "manifests": null
    });
    std::fs::write(dir.join("record.json"), record.to_string()).unwrap();
    if let Some(passed) = passed {
        let verdict = serde_json::json!({
            "snapshot": name, "verified_at": taken.to_string(), "passed": passed, "hash_ok": passed,
            "comparison": null, "etcd_version": null,
            "failure": if passed { serde_json::Value::Null } else { "the restored copy differs".into() }
        });
        std::fs::write(dir.join("verification.json"), verdict.to_string()).unwrap();
    }
    name
}

#[test]
fn status_judges_the_newest_etcd_snapshot_by_age_and_restore_drill() {
    let env = Env::start(VERSIONS[0].0, VERSIONS[0].1, kubesphere);
    env.run(&["snapshot", "create", "-r", REPO, "--wait"]).ok();
    let repo = tempfile::tempdir().unwrap();
    let r = repo.path().display().to_string();
    // None yet: unhealthy, and says how to take one.
    env.run(&["status", "-r", REPO, "--etcd-repo", &r])
        .code(1)
        .stdout_has("no etcd snapshot in the repository");
    let name = etcd_snapshot(repo.path(), jiff::SignedDuration::from_hours(1), Some(true));
    let report = env
        .run(&["status", "-r", REPO, "--etcd-repo", &r, "-o", "json"])
        .ok()
        .json();
    assert_eq!(report["etcd"]["newest"], name.as_str());
    assert_eq!(report["etcd"]["verification"], "passed");
    assert!(report["etcd"]["age_seconds"].as_i64().unwrap() >= 3600);
    env.run(&["status", "-r", REPO, "--etcd-repo", &r])
        .ok()
        .stdout_has("etcd snapshot")
        .stdout_has("restore drill: passed");
    // Past --max-etcd-age.
    env.run(&[
        "status",
        "-r",
        REPO,
        "--etcd-repo",
        &r,
        "--max-etcd-age",
        "30m",
    ])
    .code(1)
    .stdout_has("more than --max-etcd-age");
    // A newer snapshot whose drill failed.
    etcd_snapshot(repo.path(), jiff::SignedDuration::from_mins(5), Some(false));
    env.run(&["status", "-r", REPO, "--etcd-repo", &r])
        .code(1)
        .stdout_has("restore drill of");
}
