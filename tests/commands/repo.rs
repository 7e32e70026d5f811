use crate::harness::*;

#[test]
fn register_list_verify_remove_on_every_version() {
    for (flavour, version) in VERSIONS {
        let env = Env::start(flavour, version, |_| {});
        env.run(&["repo", "register", REPO, "--location", LOCATION])
            .ok()
            .stderr_has("verified on 2 nodes");
        {
            let state = env.double.state();
            let repo = &state.repositories[REPO];
            assert_eq!(repo.kind, "fs");
            assert_eq!(repo.settings["location"], LOCATION);
            assert_eq!(repo.settings["compress"], true);
        }
        let list = env.run(&["repo", "list", "-o", "json"]).ok().json();
        assert_eq!(
            list[REPO]["settings"]["location"], LOCATION,
            "{}",
            env.label
        );
        env.run(&["repo", "list"])
            .ok()
            .stdout_has("ks-log-snapshots")
            .stdout_has("LOCATION");
        env.run(&["repo", "verify", REPO])
            .ok()
            .stdout_has("elasticsearch-logging-data-1");
        env.run(&["repo", "remove", REPO, "--dry-run"]).ok();
        assert!(env.double.state().repositories.contains_key(REPO));
        env.run(&["repo", "remove", REPO])
            .ok()
            .stderr_has("unregistered repository ks-log-snapshots");
        assert!(env.double.state().repositories.is_empty(), "{}", env.label);
    }
}

#[test]
fn readonly_registration_for_a_second_cluster() {
    let env = Env::start(VERSIONS[0].0, VERSIONS[0].1, |_| {});
    env.run(&[
        "repo",
        "register",
        REPO,
        "--location",
        LOCATION,
        "--readonly",
    ])
    .ok();
    assert_eq!(
        env.double.state().repositories[REPO].settings["readonly"],
        true
    );
}

#[test]
fn a_node_without_path_repo_is_named_and_nothing_is_registered() {
    for (flavour, version) in VERSIONS {
        let env = Env::start(flavour, version, |s| s.nodes[1].path_repo.clear());
        env.run(&["repo", "register", REPO, "--location", LOCATION])
            .code(3)
            .stderr_has("node elasticsearch-logging-data-1: path.repo is not set")
            .stderr_has("kubectl logbackup inject");
        assert!(env.double.state().repositories.is_empty());
    }
}

#[test]
fn a_location_outside_path_repo_is_refused_before_the_server_sees_it() {
    let env = Env::start(VERSIONS[1].0, VERSIONS[1].1, |_| {});
    env.run(&[
        "repo",
        "register",
        REPO,
        "--location",
        "/mnt/elsewhere",
        "--dry-run",
    ])
    .code(3)
    .stderr_has("which does not contain /mnt/elsewhere");
    assert_eq!(count_requests(&env, "PUT /_snapshot"), 0);
}

#[test]
fn verification_failure_keeps_the_repository_and_gives_hints() {
    for (flavour, version) in VERSIONS {
        let env = Env::start(flavour, version, |s| s.behaviour.repo_not_shared = true);
        env.run(&["repo", "register", REPO, "--location", LOCATION])
            .code(1)
            .stderr_has("failed to verify repository ks-log-snapshots")
            .stderr_has("repository_verification_exception")
            .stderr_has("is registered but not usable")
            .stderr_has(
                "hint: the location must be one volume shared by every master and data node",
            );
        assert!(env.double.state().repositories.contains_key(REPO));
    }
}

#[test]
fn a_missing_repository_says_how_to_register_it() {
    let env = Env::start(VERSIONS[2].0, VERSIONS[2].1, |_| {});
    env.run(&["repo", "verify", "nope"])
        .code(1)
        .stderr_has("failed to verify repository nope: [nope] missing [repository_missing_exception, HTTP 404]")
        .stderr_has("hint: register it with");
    env.run(&["repo", "remove", "nope"])
        .code(1)
        .stderr_has("[nope] missing");
}

#[test]
fn secrets_never_reach_the_output() {
    let env = Env::start(VERSIONS[0].0, VERSIONS[0].1, |_| {});
    let run = env.run(&[
        "-vvv",
        "repo",
        "list",
        "--username",
        "elastic",
        "--password",
        "hunter2-secret",
    ]);
    run.ok();
    assert!(!run.stderr.contains("hunter2-secret") && !run.stdout.contains("hunter2-secret"));
    assert!(
        run.stderr.contains("connected"),
        "debug logs expected:\n{}",
        run.stderr
    );
}

#[test]
fn unsupported_versions_get_a_clear_message() {
    let env = Env::start(es_double::Flavour::OpenSearch, "3.0.0", |_| {});
    env.run(&["repo", "list"])
        .code(1)
        .stderr_has("OpenSearch 3.0.0 is not supported: supported are Elasticsearch 6.8, 7.x, 8.x, 9.x and OpenSearch 1.x, 2.x");
}

#[test]
fn an_unreachable_server_is_a_clear_transport_error() {
    let out = test_support::Runner::new(env!("CARGO_BIN_EXE_kubectl-logbackup")).run(&[
        "repo",
        "list",
        "--es-url",
        "http://127.0.0.1:9",
    ]);
    let stderr = out.code(1).stderr.as_str();
    assert!(
        stderr.contains("failed to connect to http://127.0.0.1:9: cannot reach the server"),
        "{stderr}"
    );
    assert!(stderr.contains("hint: check --es-url"), "{stderr}");
}
