//! `coverage` against the double: the calendar's days agree with what `restore --date` does, on every
//! version, and listing for it reads no snapshot metadata on the server.

use es_double::state::{SnapState, Snapshot};

use crate::harness::*;

/// Nightly snapshots of 2019.11.01..=2019.11.10: the 4th PARTIAL, the 6th FAILED, the 8th missing;
/// audit logs only in the last three.
pub(crate) fn nights(state: &mut es_double::State) {
    kubesphere(state);
    let mut list = Vec::new();
    for d in 1..=10u32 {
        if d == 8 {
            continue;
        }
        let day = format!("2019.11.{d:02}");
        let mut indices = vec![format!("ks-logstash-log-{day}")];
        if d >= 8 {
            indices.push(format!("ks-logstash-auditing-{day}"));
        }
        let state_ = match d {
            4 => SnapState::Partial,
            6 => SnapState::Failed,
            _ => SnapState::Success,
        };
        let start = 1_572_566_400_000 + i64::from(d) * 86_400_000;
        list.push(Snapshot {
            name: format!("nightly-{day}"),
            uuid: format!("uuid-{d}"),
            repository: REPO.into(),
            sizes: indices.iter().map(|i| (i.clone(), 1024 * 1024)).collect(),
            indices,
            shards_per_index: 1,
            state: state_,
            outcome: state_,
            failed_index: None,
            start_ms: start,
            end_ms: start + 1000,
            polls_left: 0,
            include_global_state: false,
            metadata: None,
        });
    }
    state.snapshots.insert(LOCATION.into(), list);
}

/// `coverage` of 2019.11.01-10 in plain text, then `more`.
fn first_ten_days(env: &Env, more: &[&str]) -> Run {
    let mut args = vec![
        "coverage",
        "-r",
        REPO,
        "--since",
        "2019.11.01",
        "--until",
        "2019.11.10",
        "--color",
        "never",
    ];
    args.extend(more);
    env.run(&args)
}

#[test]
fn coverage_and_restore_by_date_agree_on_every_day_and_version() {
    for (flavour, version) in VERSIONS {
        let env = Env::start(flavour, version, nights);
        for preset in [None, Some("audit")] {
            let mut args = vec![
                "coverage",
                "-r",
                REPO,
                "--since",
                "2019.10.30",
                "--until",
                "2019.11.11",
                "-o",
                "json",
            ];
            if let Some(p) = preset {
                args.extend(["--preset", p]);
            }
            let run = env.run(&args);
            run.ok();
            let c = run.json();
            let days = c["groups"][0]["days"].as_array().unwrap().clone();
            assert_eq!(days.len(), 13, "{}", env.label);
            for d in &days {
                let day = d["day"].as_str().unwrap();
                let mut restore = vec![
                    "restore",
                    "-r",
                    REPO,
                    "--date",
                    day,
                    "--dry-run",
                    "--rename-prefix",
                    "t-",
                    "-o",
                    "json",
                ];
                if preset.is_some() {
                    restore.extend(["--indices", "ks-logstash-auditing-*,audit-*"]);
                }
                let r = env.run(&restore);
                let restorable = d["state"] == "restorable";
                assert_eq!(
                    r.code == 0,
                    restorable,
                    "{} {preset:?} {day}: coverage says {}, restore exited {}: {}",
                    env.label,
                    d["state"],
                    r.code,
                    r.stderr
                );
                if restorable {
                    assert_eq!(r.json()["plan"]["snapshot"], d["snapshot"], "{}", env.label);
                } else {
                    assert_eq!(
                        r.code, 3,
                        "{}: refused, not failed: {}",
                        env.label, r.stderr
                    );
                }
            }
        }
        let plain = first_ten_days(&env, &[]);
        plain
            .ok()
            .stdout_has("2019-11  ###p#-#-##")
            .stdout_has("gaps: 2019.11.06, 2019.11.08")
            .stdout_has("only in PARTIAL snapshots: 2019.11.04");
    }
}

#[test]
fn coverage_reads_no_snapshot_metadata_on_the_server() {
    for (flavour, version) in VERSIONS {
        let env = Env::start(flavour, version, nights);
        env.run(&["coverage", "-r", REPO, "--days", "30"]).ok();
        assert_eq!(env.double.state().metadata_reads, 0, "{}", env.label);
        assert_eq!(
            count_requests(&env, "GET /_snapshot/ks-log-snapshots/_all?verbose=false"),
            1
        );
    }
}

#[test]
fn a_passed_restore_test_report_marks_its_days_as_tested() {
    let env = Env::start_config(
        es_double::Flavour::Elasticsearch,
        "7.17.0",
        |c| c.search_extras = true,
        nights,
    );
    let report = env.run(&[
        "snapshot",
        "verify",
        "-r",
        REPO,
        "--restore-test",
        "--date",
        "2019.11.09",
        "-o",
        "json",
    ]);
    report.ok();
    let dir = tempfile::tempdir().unwrap();
    let proof = dir.path().join("proof.json");
    std::fs::write(&proof, &report.stdout).unwrap();
    first_ten_days(&env, &["--proof", proof.to_str().unwrap()])
        .ok()
        .stdout_has("2019-11  ###p#-#-+#");
}
