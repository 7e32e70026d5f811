//! Restore-test proofs kept where `status` and `coverage` find them (here the `--proof-history`
//! file; the ConfigMap is tested on the real API server in tests/kube/proofs.rs), and `status`
//! failing on an old or failed proof, on every version.

use es_double::Flavour;
use serde_json::Value;

use crate::harness::*;

const DAY_MS: i64 = 86_400_000;

fn start(flavour: Flavour, version: &str) -> Env {
    Env::searchable(flavour, version, kubesphere)
}

fn verify(env: &Env, history: &str, extra: &[&str]) -> Run {
    let mut args = vec![
        "snapshot",
        "verify",
        "-r",
        REPO,
        "--restore-test",
        "--proof-history",
        history,
    ];
    args.extend_from_slice(extra);
    env.run(&args)
}

fn status(env: &Env, history: &str, extra: &[&str]) -> Run {
    let mut args = vec!["status", "-r", REPO, "--proof-history", history];
    args.extend_from_slice(extra);
    env.run(&args)
}

/// Moves every kept test `days` into the past.
fn age(history: &std::path::Path, days: i64) {
    let mut kept: Value = serde_json::from_str(&std::fs::read_to_string(history).unwrap()).unwrap();
    for r in kept.as_array_mut().unwrap() {
        r["at_ms"] = (r["at_ms"].as_i64().unwrap() - days * DAY_MS).into();
    }
    std::fs::write(history, kept.to_string()).unwrap();
}

#[test]
fn a_restore_test_is_kept_and_status_and_coverage_read_it_on_every_version() {
    for (flavour, version) in VERSIONS {
        let env = start(flavour, version);
        snapshot_daily(&env);
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("proofs.json");
        let history = file.to_str().unwrap();
        verify(&env, history, &[]).ok().stderr_has(&format!(
            "recorded the result in file {history} (1 tests kept)"
        ));
        let kept: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        assert_eq!(kept[0]["snapshot"], "daily-1", "{}", env.label);
        assert_eq!(kept[0]["passed"], true);
        assert_eq!(kept[0]["indices"].as_array().unwrap().len(), 3);
        assert_eq!(kept[0]["indices"][0]["expected"], 20480, "{}", env.label);
        assert_eq!(kept[0]["indices"][0]["found"], 20480);
        assert!(kept[0]["throughput_bytes_per_s"].as_u64().unwrap() > 0);

        let report = status(&env, history, &["-o", "json"]).ok().json();
        assert_eq!(report["proofs"]["ok"], true, "{}: {report}", env.label);
        assert_eq!(report["proofs"]["newest_snapshot"], "daily-1");
        assert_eq!(report["proofs"]["newest_age_hours"], 0);
        assert_eq!(report["proofs"]["last_proven"][0]["snapshot"], "daily-1");
        status(&env, history, &[])
            .ok()
            .stdout_has("restore test")
            .stdout_has("snapshot daily-1 was proven restorable")
            .stdout_has("LAST PROVEN RESTORABLE");

        let coverage = env
            .run(&[
                "coverage",
                "-r",
                REPO,
                "--preset",
                "kubesphere",
                "--since",
                "2019.11.11",
                "--until",
                "2019.11.13",
                "--proof-history",
                history,
                "-o",
                "json",
            ])
            .ok()
            .json();
        for day in coverage["groups"][0]["days"].as_array().unwrap() {
            assert_eq!(day["restore_tested"], true, "{}: {day}", env.label);
        }
    }
}

#[test]
fn an_old_proof_fails_status_with_what_to_do_and_the_threshold_is_a_flag() {
    let env = start(Flavour::Elasticsearch, "8.19.0");
    snapshot_daily(&env);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("proofs.json");
    let history = file.to_str().unwrap();
    verify(&env, history, &[]).ok();
    age(&file, 9);
    status(&env, history, &[])
        .code(1)
        .stdout_has("UNHEALTHY")
        .stdout_has("older than 8d")
        .stdout_has("--restore-test");
    status(&env, history, &["--max-proof-age", "2w"]).ok();
    // A new test makes it fresh again; the history keeps both.
    verify(&env, history, &[]).ok().stderr_has("(2 tests kept)");
    status(&env, history, &[]).ok();
}

#[test]
fn never_tested_is_a_note_unless_a_proof_is_required() {
    let env = start(Flavour::OpenSearch, "2.11.0");
    snapshot_daily(&env);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("none.json");
    let history = file.to_str().unwrap();
    status(&env, history, &[])
        .ok()
        .stdout_has("no restore test recorded for ks-log-snapshots");
    status(&env, history, &["--require-proof"])
        .code(1)
        .stdout_has("no restore test recorded");
}

#[test]
fn a_failed_test_is_kept_and_fails_status_until_one_passes() {
    let env = start(Flavour::Elasticsearch, "7.17.0");
    snapshot_daily(&env);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("proofs.json");
    let history = file.to_str().unwrap();
    verify(&env, history, &[]).ok();
    // The repository lost half of one index's data since the counts were taken.
    if let Some(s) = env.double.state().snapshots.values_mut().flatten().next() {
        s.sizes
            .insert("ks-logstash-log-2019.11.12".into(), 5 * 1024 * 1024);
    }
    verify(&env, history, &[])
        .code(1)
        .stderr_has("(2 tests kept)");
    status(&env, history, &[])
        .code(1)
        .stdout_has("FAILED: 1 of 3 indices");
}

#[test]
fn dry_run_and_no_record_keep_nothing() {
    let env = start(Flavour::Elasticsearch, "6.8.23");
    snapshot_daily(&env);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("proofs.json");
    let history = file.to_str().unwrap();
    verify(&env, history, &["--dry-run"]).ok();
    verify(&env, history, &["--no-record"]).ok();
    assert!(!file.exists());
}

#[test]
fn without_kubernetes_the_proof_is_a_note_not_a_failure() {
    let env = start(Flavour::Elasticsearch, "8.19.0");
    snapshot_daily(&env);
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("missing-kubeconfig");
    let run = env.run(&[
        "snapshot",
        "verify",
        "-r",
        REPO,
        "--restore-test",
        "--kubeconfig",
        kubeconfig.to_str().unwrap(),
    ]);
    run.ok()
        .stderr_has("note: the result was not recorded as a proof")
        .stderr_has("--proof-history FILE");
    env.run(&[
        "status",
        "-r",
        REPO,
        "--kubeconfig",
        kubeconfig.to_str().unwrap(),
    ])
    .ok()
    .stderr_has("note: restore-test proofs not checked");
}
