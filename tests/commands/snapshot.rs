use crate::harness::*;
use es_double::state::SnapState;

fn snapshots(env: &Env) -> Vec<(String, SnapState, Vec<String>)> {
    let state = env.double.state();
    state
        .snapshots
        .values()
        .flatten()
        .map(|s| (s.name.clone(), s.state, s.indices.clone()))
        .collect()
}

#[test]
fn create_and_wait_snapshots_the_preset_indices_on_every_version() {
    for (flavour, version) in VERSIONS {
        let env = Env::start(flavour, version, kubesphere);
        let run = snapshot_kubesphere(&env, "nightly-%Y.%m.%d");
        run.ok().stderr_has("succeeded").stdout_has("SUCCESS");
        let snaps = snapshots(&env);
        assert_eq!(snaps.len(), 1, "{}", env.label);
        let (name, state, indices) = &snaps[0];
        assert!(name.starts_with("nightly-20"), "{name}");
        assert_eq!(*state, SnapState::Success);
        assert_eq!(indices.len(), 3);
        assert!(
            indices.iter().all(|i| i.starts_with("ks-logstash-log-")),
            "{indices:?}"
        );
        // It started without holding a request open, then polled the status.
        assert!(count_requests(&env, "PUT /_snapshot/ks-log-snapshots/nightly-") == 1);
        assert!(env
            .double
            .state()
            .log
            .iter()
            .any(|l| l.contains("wait_for_completion=false")));
        assert!(
            count_requests(&env, "GET /_snapshot/ks-log-snapshots/nightly-") >= 2,
            "{}",
            env.label
        );
    }
}

#[test]
fn create_without_wait_returns_the_name_at_once() {
    let env = Env::start(VERSIONS[0].0, VERSIONS[0].1, kubesphere);
    let run = env.run(&["snapshot", "create", "-r", REPO, "--name", "manual-1"]);
    run.ok();
    assert_eq!(run.stdout.trim(), "manual-1");
    assert_eq!(snapshots(&env)[0].1, SnapState::InProgress);
}

#[test]
fn dry_run_creates_nothing() {
    let env = Env::start(VERSIONS[2].0, VERSIONS[2].1, kubesphere);
    env.run(&[
        "snapshot",
        "create",
        "-r",
        REPO,
        "--indices",
        "logstash-*",
        "--dry-run",
        "-o",
        "json",
    ])
    .ok()
    .stdout_has("\"indices\": \"logstash-*\"");
    assert!(snapshots(&env).is_empty());
}

#[test]
fn partial_and_failed_snapshots_exit_1_with_the_failing_shards() {
    for (flavour, version) in VERSIONS {
        let env = Env::kubesphere_with(flavour, version, |b| b.next_partial = true);
        env.run(&[
            "snapshot",
            "create",
            "-r",
            REPO,
            "--preset",
            "kubesphere",
            "--wait",
        ])
        .code(1)
        .stderr_has("ended PARTIAL: it is NOT a complete backup")
        .stderr_has("ks-logstash-log-2019.11.11")
        .stderr_has("node left the cluster");
        let env = Env::kubesphere_with(flavour, version, |b| b.next_failed = true);
        env.run(&["snapshot", "create", "-r", REPO, "--wait"])
            .code(1)
            .stderr_has("ended FAILED");
    }
}

#[test]
fn a_503_is_retried_with_backoff_and_never_makes_a_duplicate() {
    for (flavour, version) in VERSIONS {
        let env = Env::kubesphere_with(flavour, version, |b| b.busy_for = 2);
        env.run(&[
            "snapshot", "create", "-r", REPO, "--name", "retried", "--wait",
        ])
        .ok()
        .stderr_has("concurrent_snapshot_execution_exception")
        .stderr_has("retrying in");
        assert_eq!(
            count_requests(&env, "PUT /_snapshot/ks-log-snapshots/retried"),
            3,
            "{}",
            env.label
        );
        // Before each retry it looked the name up.
        assert_eq!(
            count_requests(&env, "GET /_snapshot/ks-log-snapshots/retried -> 404"),
            2
        );
        assert_eq!(snapshots(&env).len(), 1);
    }
}

#[test]
fn a_snapshot_started_by_a_timed_out_request_is_adopted_not_duplicated() {
    let env = Env::start(VERSIONS[0].0, VERSIONS[0].1, |s| {
        kubesphere(s);
        // The server starts the snapshot but answers after the client has given up.
        s.behaviour.delay_next_create_ms = Some(2_500);
    });
    env.run(&[
        "snapshot",
        "create",
        "-r",
        REPO,
        "--name",
        "once",
        "--request-timeout",
        "1",
        "--wait",
    ])
    .ok()
    .stderr_has("exists after a failed attempt: following it instead of starting another");
    assert_eq!(
        count_requests(&env, "PUT /_snapshot/ks-log-snapshots/once"),
        1
    );
    assert_eq!(snapshots(&env).len(), 1);
}

#[test]
fn giving_up_on_503_exits_1_and_leaves_nothing() {
    let env = Env::kubesphere_with(VERSIONS[1].0, VERSIONS[1].1, |b| b.busy_for = 100);
    env.run(&["snapshot", "create", "-r", REPO, "--retries", "2"])
        .code(1)
        .stderr_has(
            "a snapshot is already running [concurrent_snapshot_execution_exception, HTTP 503]",
        )
        .stderr_has("hint: another snapshot or deletion is running");
    assert!(snapshots(&env).is_empty());
}

#[test]
fn an_existing_name_and_a_missing_repository_are_errors() {
    let env = Env::start(VERSIONS[0].0, VERSIONS[0].1, kubesphere);
    env.run(&["snapshot", "create", "-r", REPO, "--name", "dup", "--wait"])
        .ok();
    env.run(&["snapshot", "create", "-r", REPO, "--name", "dup"])
        .code(1)
        .stderr_has("failed to start snapshot ks-log-snapshots:dup")
        .stderr_has("snapshot with the same name already exists [invalid_snapshot_name_exception, HTTP 400]");
    env.run(&["snapshot", "create", "-r", "nope"])
        .code(1)
        .stderr_has("[nope] missing")
        .stderr_has("hint: register it");
    env.run(&["snapshot", "create", "-r", REPO, "--name", "Upper"])
        .code(1)
        .stderr_has("must be lowercase");
}

#[test]
fn list_describe_delete_on_every_version() {
    for (flavour, version) in VERSIONS {
        let env = Env::start(flavour, version, kubesphere);
        env.run(&["snapshot", "create", "-r", REPO, "--name", "a", "--wait"])
            .ok();
        env.run(&[
            "snapshot",
            "create",
            "-r",
            REPO,
            "--name",
            "b",
            "--wait",
            "--indices",
            "ks-logstash-log-2019.11.12",
        ])
        .ok();
        let list = env
            .run(&["snapshot", "list", "-r", REPO, "-o", "json"])
            .ok()
            .json();
        let names: Vec<&str> = list
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["snapshot"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["a", "b"], "{}", env.label);
        env.run(&["snapshot", "list", "-r", REPO])
            .ok()
            .stdout_has("NAME")
            .stdout_has("SUCCESS");
        env.run(&["snapshot", "list", "-r", REPO, "-o", "yaml"])
            .ok()
            .stdout_has("snapshot: a");
        let described = env
            .run(&["snapshot", "describe", "b", "-r", REPO, "-o", "json"])
            .ok()
            .json();
        assert_eq!(
            described["index_sizes"]["ks-logstash-log-2019.11.12"],
            10 * 1024 * 1024
        );
        env.run(&["snapshot", "describe", "b", "-r", REPO])
            .ok()
            .stdout_has("10.0mb");
        env.run(&["snapshot", "describe", "zzz", "-r", REPO])
            .code(1)
            .stderr_has("[ks-log-snapshots:zzz] is missing");
        env.run(&["snapshot", "delete", "a", "b", "-r", REPO, "--dry-run"])
            .ok();
        assert_eq!(snapshots(&env).len(), 2);
        env.run(&["snapshot", "delete", "a", "zzz", "-r", REPO])
            .code(1)
            .stderr_has("is missing");
        assert_eq!(snapshots(&env).len(), 2, "a typo deletes nothing");
        env.run(&["snapshot", "delete", "a", "b", "-r", REPO]).ok();
        assert!(snapshots(&env).is_empty());
    }
}

#[test]
fn an_in_progress_snapshot_is_not_deleted() {
    let env = Env::kubesphere_with(VERSIONS[0].0, VERSIONS[0].1, |b| b.progress_polls = 1000);
    env.run(&["snapshot", "create", "-r", REPO, "--name", "running"])
        .ok();
    env.run(&["snapshot", "delete", "running", "-r", REPO])
        .code(3)
        .stderr_has("is in progress");
    assert_eq!(snapshots(&env).len(), 1);
}

#[test]
fn a_poll_that_finds_no_master_waits_and_the_run_succeeds_once() {
    let env = Env::kubesphere_with(VERSIONS[1].0, VERSIONS[1].1, |b| {
        b.polls_unavailable_for = 2;
    });
    env.run(&[
        "snapshot", "create", "-r", REPO, "--name", "polled", "--wait",
    ])
    .ok()
    .stderr_has("master_not_discovered_exception")
    .stderr_has("retrying in");
    assert_eq!(
        count_requests(&env, "PUT /_snapshot/ks-log-snapshots/polled"),
        1
    );
    let all = snapshots(&env);
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].1, SnapState::Success);
}

#[test]
fn a_snapshot_the_cluster_forgot_while_it_ran_is_a_failure_that_says_so() {
    let env = Env::kubesphere_with(VERSIONS[1].0, VERSIONS[1].1, |b| {
        b.lose_running_snapshots = true;
    });
    env.run(&["snapshot", "create", "-r", REPO, "--name", "lost", "--wait"])
        .code(1)
        .stderr_has("snapshot ks-log-snapshots:lost is gone while it ran")
        .stderr_has("the elected master restarted");
    assert!(snapshots(&env).is_empty());
}
