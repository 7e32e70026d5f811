use crate::harness::*;
use es_double::state::SnapState;

pub(crate) const HOUR_MS: i64 = 3_600_000;

/// 100 hourly snapshots ending an hour ago, plus one still running from 10 days ago.
pub(crate) fn seeded(state: &mut es_double::State) {
    state.seed_snapshots(REPO, LOCATION, 100, es_double::time::now_ms());
    let key = state.repo_key(REPO).unwrap();
    let list = state.snapshots.get_mut(&key).unwrap();
    let mut running = list[0].clone();
    running.name = "snapshot-running".into();
    running.state = SnapState::InProgress;
    running.start_ms = es_double::time::now_ms() - 240 * HOUR_MS;
    running.polls_left = 1000;
    list.push(running);
}

#[test]
fn keep_days_deletes_older_snapshots_one_at_a_time_and_never_the_running_one() {
    for (flavour, version) in VERSIONS {
        let env = Env::start(flavour, version, seeded);
        let run = env.run(&["prune", "-r", REPO, "--keep-days", "2", "-o", "json"]);
        run.ok()
            .stderr_has("53 of 101 snapshots in ks-log-snapshots to delete, 48 kept");
        let report = run.json();
        assert_eq!(
            report["deleted"].as_array().unwrap().len(),
            53,
            "{}",
            env.label
        );
        let left = snapshot_names(&env);
        assert_eq!(left.len(), 48);
        assert!(left.contains(&"snapshot-running".to_string()));
        // One DELETE per snapshot, oldest first.
        assert_eq!(
            count_requests(&env, "DELETE /_snapshot/ks-log-snapshots/"),
            53
        );
        let decisions = report["plan"]["decisions"].as_array().unwrap();
        let running = decisions
            .iter()
            .find(|d| d["name"] == "snapshot-running")
            .unwrap();
        assert_eq!(running["action"], "keep");
        assert_eq!(running["why"], "in progress: never touched");
    }
}

#[test]
fn dry_run_explains_and_deletes_nothing() {
    let env = Env::start(VERSIONS[0].0, VERSIONS[0].1, seeded);
    env.run(&["prune", "-r", REPO, "--keep-days", "2", "--dry-run"])
        .ok()
        .stdout_has("would delete")
        .stdout_has("older than --keep-days 2")
        .stdout_has("within --keep-days 2")
        .stderr_has("dry run: 53 of 101");
    assert_eq!(snapshot_names(&env).len(), 101);
    assert_eq!(count_requests(&env, "DELETE"), 0);
}

#[test]
fn min_count_max_count_prefix_and_age_from_name() {
    let env = Env::start(VERSIONS[1].0, VERSIONS[1].1, seeded);
    // Everything is older than 0 days; min-count keeps the newest 5 successes.
    env.run(&["prune", "-r", REPO, "--keep-days", "0", "--min-count", "5"])
        .ok();
    assert_eq!(snapshot_names(&env).len(), 6);
    let env = Env::start(VERSIONS[1].0, VERSIONS[1].1, seeded);
    env.run(&["prune", "-r", REPO, "--max-count", "10", "--min-count", "0"])
        .ok();
    assert_eq!(snapshot_names(&env).len(), 11);
    let env = Env::start(VERSIONS[2].0, VERSIONS[2].1, seeded);
    env.run(&[
        "prune",
        "-r",
        REPO,
        "--keep-days",
        "0",
        "--prefix",
        "nomatch-",
    ])
    .ok()
    .stderr_has("0 of 101");
    let env = Env::start(VERSIONS[2].0, VERSIONS[2].1, seeded);
    env.run(&[
        "prune",
        "-r",
        REPO,
        "--keep-days",
        "2",
        "--age-from",
        "name",
        "--timestring",
        "%Y%m%d%H%M%S",
        "--dry-run",
    ])
    .ok()
    .stderr_has("dry run: 5");
}

#[test]
fn a_policy_without_a_limit_is_refused() {
    let env = Env::start(VERSIONS[0].0, VERSIONS[0].1, seeded);
    env.run(&["prune", "-r", REPO])
        .code(1)
        .stderr_has("nothing to prune by");
    env.run(&["prune", "-r", REPO, "--max-count", "1", "--min-count", "3"])
        .code(1)
        .stderr_has("larger than --max-count");
}

#[test]
fn a_503_during_prune_is_retried() {
    let env = Env::start(VERSIONS[0].0, VERSIONS[0].1, |s| {
        seeded(s);
        s.behaviour.busy_for = 2;
    });
    env.run(&["prune", "-r", REPO, "--keep-days", "2"])
        .ok()
        .stderr_has("retrying in");
    assert_eq!(snapshot_names(&env).len(), 48);
}

#[test]
fn prune_deletes_the_copies_a_killed_restore_test_left_but_not_a_running_ones() {
    for (flavour, version) in VERSIONS {
        let now = es_double::time::now_ms();
        let old = format!(
            "logbackup-verify-{}-ks-logstash-log-2019.11.12",
            now - 30 * HOUR_MS
        );
        let young = format!(
            "logbackup-verify-{}-ks-logstash-log-2019.11.13",
            now - HOUR_MS
        );
        let env = Env::start(flavour, version, |s| {
            kubesphere(s);
            s.add_index(&old, 1024);
            s.add_index(&young, 1024);
        });
        let has = |name: &str| env.double.state().indices.contains_key(name);
        env.run(&["prune", "-r", REPO, "--keep-days", "30", "--dry-run"])
            .ok()
            .stdout_has("would delete")
            .stderr_has(&format!("dry run: would delete restore-test copy {old}"))
            .stderr_has(&format!("keeping restore-test copy {young}"));
        assert!(has(&old) && has(&young), "{}", env.label);
        let report = env
            .run(&["prune", "-r", REPO, "--keep-days", "30", "-o", "json"])
            .ok()
            .json();
        assert_eq!(
            report["leftovers_deleted"],
            serde_json::json!([old]),
            "{}",
            env.label
        );
        assert_eq!(report["leftovers"].as_array().unwrap().len(), 2);
        assert!(!has(&old), "{}", env.label);
        assert!(has(&young), "{}", env.label);
        assert!(has("ks-logstash-log-2019.11.12"));
        assert_eq!(count_requests(&env, &format!("DELETE /{young}")), 0);
    }
}
