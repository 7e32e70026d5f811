//! `backup`: snapshot, wait, then prune, in one process; nothing is pruned after a bad snapshot.

use crate::harness::*;

fn seeded(state: &mut es_double::State) {
    kubesphere(state);
    state.seed_snapshots(REPO, LOCATION, 100, es_double::time::now_ms());
}

fn first_request(env: &Env, prefix: &str) -> Option<usize> {
    env.double
        .state()
        .log
        .iter()
        .position(|l| l.starts_with(prefix))
}

#[test]
fn snapshots_then_prunes_and_keeps_the_new_snapshot() {
    for (flavour, version) in VERSIONS {
        let env = Env::start(flavour, version, seeded);
        let run = env.run(&[
            "backup",
            "-r",
            REPO,
            "--name",
            "nightly-%Y.%m.%d",
            "--preset",
            "kubesphere",
            "--keep-days",
            "2",
            "-o",
            "json",
        ]);
        run.ok().stderr_has("succeeded");
        let out = run.json();
        assert_eq!(out["snapshot"]["state"], "SUCCESS", "{}", env.label);
        let new_name = out["snapshot"]["snapshot"].as_str().unwrap().to_string();
        assert!(new_name.starts_with("nightly-"), "{new_name}");
        assert_eq!(out["prune"]["deleted"].as_array().unwrap().len(), 53);
        let left = snapshot_names(&env);
        assert_eq!(left.len(), 48, "{}", env.label);
        assert!(left.contains(&new_name));
        // The snapshot is started before any deletion.
        let created = first_request(&env, "PUT /_snapshot/ks-log-snapshots/nightly-").unwrap();
        let deleted = first_request(&env, "DELETE /_snapshot/ks-log-snapshots/").unwrap();
        assert!(created < deleted, "{}", env.label);
        assert_eq!(
            count_requests(&env, "DELETE /_snapshot/ks-log-snapshots/"),
            53
        );
    }
}

#[test]
fn a_partial_or_failed_snapshot_exits_1_and_prunes_nothing() {
    for (flavour, version) in VERSIONS {
        for failed in [false, true] {
            let env = Env::start(flavour, version, |s| {
                seeded(s);
                if failed {
                    s.behaviour.next_failed = true;
                } else {
                    s.behaviour.next_partial = true;
                }
            });
            env.run(&[
                "backup",
                "-r",
                REPO,
                "--preset",
                "kubesphere",
                "--keep-days",
                "2",
            ])
            .code(1)
            .stderr_has("it is NOT a complete backup")
            .stderr_has("not pruning");
            assert_eq!(count_requests(&env, "DELETE"), 0, "{}", env.label);
            assert_eq!(snapshot_names(&env).len(), 101, "{}", env.label);
        }
    }
}

#[test]
fn a_bad_retention_flag_is_refused_before_any_snapshot_starts() {
    let env = Env::start(VERSIONS[0].0, VERSIONS[0].1, seeded);
    let run = env.run(&["backup", "-r", REPO, "--min-count", "5", "--max-count", "2"]);
    assert!(run.stderr.contains("min"), "{}", run.stderr);
    assert_ne!(run.code, 0, "{}", run.stderr);
    assert_eq!(count_requests(&env, "PUT"), 0);
}

#[test]
fn a_failed_deletion_exits_1_after_trying_the_others() {
    let env = Env::start(VERSIONS[1].0, VERSIONS[1].1, |s| {
        seeded(s);
        // The first deletion meets 503 on every attempt (1 + --retries 2).
        s.behaviour.deletes_busy_for = 3;
    });
    let run = env.run(&[
        "backup",
        "-r",
        REPO,
        "--preset",
        "kubesphere",
        "--keep-days",
        "2",
        "--retries",
        "2",
        "-o",
        "json",
    ]);
    run.code(1).stderr_has("succeeded");
    let out = run.json();
    assert_eq!(out["prune"]["failed"].as_array().unwrap().len(), 1);
    assert_eq!(out["prune"]["deleted"].as_array().unwrap().len(), 52);
    assert_eq!(snapshot_names(&env).len(), 49);
}
