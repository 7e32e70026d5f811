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
