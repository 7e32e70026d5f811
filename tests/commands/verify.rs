//! `snapshot verify [--restore-test]` on every version: the counts `snapshot create` records, the
//! restore under a temporary prefix, the verdict, and the cleanup.

use es_double::Flavour;

use crate::harness::*;

/// A double that also answers `_count` and `_search`.
fn start(flavour: Flavour, version: &str, setup: impl FnOnce(&mut es_double::State)) -> Env {
    Env::searchable(flavour, version, setup)
}

fn no_temporary_indices(env: &Env) {
    let state = env.double.state();
    let left: Vec<&String> = state
        .indices
        .keys()
        .filter(|i| i.starts_with("logbackup-verify-"))
        .collect();
    assert!(left.is_empty(), "{}: left behind {left:?}", env.label);
}

fn old_es(version: &str) -> bool {
    version.starts_with("6.")
}

#[test]
fn a_restore_test_proves_every_index_came_back_on_every_version() {
    for (flavour, version) in VERSIONS {
        let env = start(flavour, version, |s| {
            kubesphere(s);
            s.behaviour.recovery_polls = 2;
        });
        snapshot_daily(&env);
        // The snapshot records its counts where the server keeps metadata.
        let recorded = env.double.state().snapshots_of(REPO)[0].metadata.clone();
        if old_es(version) {
            assert!(recorded.is_none(), "{}", env.label);
        } else {
            let m = recorded.unwrap_or_else(|| panic!("{}: no metadata", env.label));
            assert_eq!(m["taken_by"], "kubectl-logbackup");
            assert_eq!(
                m["doc_counts"]["ks-logstash-log-2019.11.12"], 20480,
                "{}",
                env.label
            );
        }
        let run = env.run(&[
            "snapshot",
            "verify",
            "-r",
            REPO,
            "--restore-test",
            "-o",
            "json",
        ]);
        run.ok();
        let report = run.json();
        assert_eq!(report["passed"], true, "{}: {report}", env.label);
        assert_eq!(report["snapshot"], "daily-1");
        let indices = report["indices"].as_array().unwrap();
        assert_eq!(indices.len(), 3, "{}", env.label);
        for i in indices {
            assert_eq!(i["found"], 20480, "{}: {i}", env.label);
            assert_eq!(i["primaries_started"], i["primaries"], "{}", env.label);
            assert_eq!(i["sample_hit"], true);
            // 6.8 keeps no metadata: the live indices, still there, give the counts.
            let source = if old_es(version) { "live" } else { "recorded" };
            assert_eq!(i["expected"]["source"], source, "{}: {i}", env.label);
            assert_eq!(i["expected"]["documents"], 20480);
            assert!(i["restored_as"]
                .as_str()
                .unwrap()
                .starts_with("logbackup-verify-"));
        }
        assert!(report["throughput_bytes_per_s"].as_u64().unwrap() > 0);
        no_temporary_indices(&env);
        let state = env.double.state();
        let restore = state.log.iter().find(|l| l.contains("/_restore")).unwrap();
        assert!(restore.contains("wait_for_completion=false"), "{restore}");
        // The originals were not touched.
        assert!(state.indices["ks-logstash-log-2019.11.12"]
            .restored_from
            .is_none());
    }
}

#[test]
fn lost_documents_fail_the_test_and_the_copies_are_still_deleted() {
    for (flavour, version) in VERSIONS {
        if old_es(version) {
            continue; // no recorded counts to lose against
        }
        let env = start(flavour, version, kubesphere);
        snapshot_daily(&env);
        // The repository lost half of one index's data since the counts were taken.
        if let Some(s) = env.double.state().snapshots.values_mut().flatten().next() {
            s.sizes
                .insert("ks-logstash-log-2019.11.12".into(), 5 * 1024 * 1024);
        }
        let run = env.run(&[
            "snapshot",
            "verify",
            "-r",
            REPO,
            "--restore-test",
            "--date",
            "2019.11.12",
        ]);
        run.code(1)
            .stdout_has("COUNT MISMATCH")
            .stderr_has("FAILED: 1 of 1 indices");
        no_temporary_indices(&env);
    }
}

#[test]
fn without_a_recorded_count_or_live_index_it_says_so_and_checks_the_rest() {
    let env = start(Flavour::Elasticsearch, "7.17.0", kubesphere);
    snapshot_daily(&env);
    {
        let mut state = env.double.state();
        for s in state.snapshots.values_mut().flatten() {
            s.metadata = None;
        }
        state.indices.remove("ks-logstash-log-2019.11.12");
    }
    let run = env.run(&[
        "snapshot",
        "verify",
        "-r",
        REPO,
        "--restore-test",
        "--date",
        "2019.11.12",
        "-o",
        "json",
    ]);
    run.ok().stderr_has("without a recorded count");
    let report = run.json();
    assert_eq!(report["indices"][0]["expected"]["source"], "not_recorded");
    assert_eq!(report["indices"][0]["verdict"], "count_not_recorded");
    no_temporary_indices(&env);
}

#[test]
fn without_restore_test_a_partial_snapshot_fails_with_its_problems() {
    for (flavour, version) in VERSIONS {
        let env = start(flavour, version, |s| {
            kubesphere(s);
            s.behaviour.next_partial = true;
        });
        snapshot_kubesphere(&env, "bad").code(1);
        env.run(&["snapshot", "verify", "bad", "-r", REPO])
            .code(1)
            .stdout_has("PARTIAL")
            .stderr_has("not a complete backup");
        assert_no_restore(&env, "bad");
    }
}

#[test]
fn a_restore_test_that_would_not_fit_the_disks_is_refused_before_restoring() {
    let env = start(Flavour::Elasticsearch, "8.19.0", |s| {
        kubesphere(s);
        for n in &mut s.nodes {
            n.disk_free = n.disk_total / 10; // at the 90% watermark already
        }
    });
    snapshot_daily(&env);
    env.run(&["snapshot", "verify", "-r", REPO, "--restore-test"])
        .code(3)
        .stderr_has("high watermark");
    assert_no_restore(&env, "daily-1");
}

#[test]
fn dry_run_shows_the_plan_and_restores_nothing() {
    let env = start(Flavour::OpenSearch, "2.11.0", kubesphere);
    snapshot_daily(&env);
    env.run(&[
        "snapshot",
        "verify",
        "-r",
        REPO,
        "--restore-test",
        "--dry-run",
    ])
    .ok()
    .stdout_has("(recorded)")
    .stderr_has("dry run: would restore-test");
    assert_no_restore(&env, "daily-1");
}

#[test]
fn the_table_names_each_index_its_counts_time_and_the_verdict() {
    let env = start(Flavour::Elasticsearch, "8.19.0", kubesphere);
    snapshot_daily(&env);
    let run = env.run(&["snapshot", "verify", "-r", REPO, "--restore-test"]);
    run.ok()
        .stdout_has("EXPECTED")
        .stdout_has("20480 (recorded)")
        .stdout_has("matched")
        .stdout_has("RESTORABLE: 3 indices restored, every document count matched")
        .stderr_has("deleted temporary index logbackup-verify-");
    // The README's example run.
    println!("{}", run.stdout);
}

#[test]
fn ctrl_c_while_waiting_deletes_the_copies_and_exits_130() {
    for (flavour, version) in VERSIONS {
        let env = start(flavour, version, |s| {
            kubesphere(s);
            // The restore never finishes: the test waits until it is interrupted.
            s.behaviour.recovery_polls = u32::MAX;
        });
        snapshot_daily(&env);
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_kubectl-logbackup"))
            .args(["snapshot", "verify", "-r", REPO, "--restore-test"])
            .args(["--es-url", &env.double.url(), "--poll-interval-ms", "20"])
            .args(["--no-record"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // Waiting means: the copies exist and their recovery is being polled.
        let started = std::time::Instant::now();
        loop {
            let waiting = {
                let state = env.double.state();
                state.log.iter().any(|l| l.contains("/_recovery"))
                    && state
                        .indices
                        .keys()
                        .any(|i| i.starts_with("logbackup-verify-"))
            };
            if waiting {
                break;
            }
            assert!(
                started.elapsed() < std::time::Duration::from_secs(30),
                "{}: the restore test never started waiting",
                env.label
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let sent = std::process::Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(130), "{}: {stderr}", env.label);
        assert!(
            stderr
                .contains("interrupted: the restore test of ks-log-snapshots:daily-1 was stopped"),
            "{}: {stderr}",
            env.label
        );
        assert!(
            stderr.contains("deleted temporary index logbackup-verify-"),
            "{stderr}"
        );
        no_temporary_indices(&env);
    }
}
