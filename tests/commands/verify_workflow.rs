//! `workflows::verify` called in-process against the double: what it returns and says, and that an
//! interruption mid-wait still deletes the copies.

use std::time::Duration;

use logbackup::snapshot::restore::IndexFilter;
use logbackup::snapshot::verify::RestoreTestReport;
use logbackup::workflows::retry::Retry;
use logbackup::workflows::verify::{check, restore_test, Outcome, RestoreTestOptions};
use logbackup::workflows::Said;

use crate::harness::*;
use crate::workflows::{client, run};

fn options(dry_run: bool) -> RestoreTestOptions {
    RestoreTestOptions {
        repository: REPO.into(),
        filter: IndexFilter::Date("2019.11.12".into()),
        watermark: 90.0,
        wait_timeout: Duration::from_secs(30),
        poll_interval: Duration::from_millis(5),
        retry: Retry {
            first_delay: Duration::from_millis(5),
            times: 2,
        },
        dry_run,
    }
}

fn env(recovery_polls: u32) -> Env {
    let env = Env::start_config(
        VERSIONS[1].0,
        VERSIONS[1].1,
        |c| c.search_extras = true,
        |s| {
            kubesphere(s);
            s.behaviour.recovery_polls = recovery_polls;
        },
    );
    env.run(&[
        "snapshot", "create", "-r", REPO, "--name", "daily-1", "--wait",
    ])
    .ok();
    env
}

/// The 2019.11.12 index of daily-1 checked and restore-tested, each step told to `say`.
async fn tested(env: &Env, say: &mut dyn FnMut(Said)) -> RestoreTestReport {
    let es = client(env).await;
    let checked = check(&es, REPO, None, &IndexFilter::Date("2019.11.12".into()))
        .await
        .unwrap();
    assert!(checked.check.passed);
    assert_eq!(checked.info.snapshot, "daily-1");
    let outcome = restore_test(
        &es,
        &checked,
        &options(false),
        || 1_700_000_000_000,
        std::future::pending(),
        say,
    )
    .await
    .unwrap();
    let Outcome::Tested(report) = outcome else {
        panic!("not tested")
    };
    report
}

#[test]
fn a_restore_test_returns_its_report_and_says_each_step() {
    let env = env(2);
    run(async {
        let mut said = Vec::new();
        let report = tested(&env, &mut |s| said.push(s)).await;
        assert!(report.passed, "{}", report.verdict);
        assert_eq!(report.indices.len(), 1);
        assert_eq!(
            report.indices[0].observed.restored_as,
            "logbackup-verify-1700000000000-ks-logstash-log-2019.11.12"
        );
        assert!(said.iter().any(|s| matches!(s, Said::Recovery(_))));
        assert!(said.contains(&Said::Note(
            "deleted temporary index logbackup-verify-1700000000000-ks-logstash-log-2019.11.12"
                .into()
        )));
    });
}

#[test]
fn a_recovery_poll_that_finds_no_master_waits_and_the_test_passes() {
    let env = env(2);
    run(async {
        let mut said = Vec::new();
        // Once the restore runs (its first recovery poll answered), the cluster loses its master
        // for the next two polls.
        let report = tested(&env, &mut |s| {
            if matches!(s, Said::Recovery(_))
                && !said.iter().any(|s| matches!(s, Said::Recovery(_)))
            {
                env.double.state().behaviour.polls_unavailable_for = 2;
            }
            said.push(s)
        })
        .await;
        assert!(report.passed, "{}", report.verdict);
        let retries = said
            .iter()
            .filter(|s| matches!(s, Said::Note(n) if n.contains("master_not_discovered_exception") && n.contains("retrying in")))
            .count();
        assert_eq!(retries, 2, "{said:?}");
    });
}

#[test]
fn an_interrupt_while_waiting_deletes_the_copies() {
    let env = env(u32::MAX);
    run(async {
        let es = client(&env).await;
        let checked = check(&es, REPO, None, &IndexFilter::All).await.unwrap();
        // Fires once the copies exist and their recovery is being polled.
        let waiting = async {
            loop {
                let seen = {
                    let state = env.double.state();
                    state.log.iter().any(|l| l.contains("/_recovery"))
                };
                if seen {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        };
        let mut said = Vec::new();
        let outcome = restore_test(
            &es,
            &checked,
            &options(false),
            || 1_700_000_000_000,
            waiting,
            &mut |s| said.push(s),
        )
        .await
        .unwrap();
        assert!(matches!(outcome, Outcome::Interrupted { ref snapshot } if snapshot == "daily-1"));
        let left: Vec<String> = env
            .double
            .state()
            .indices
            .keys()
            .filter(|i| i.starts_with("logbackup-verify-"))
            .cloned()
            .collect();
        assert!(left.is_empty(), "left behind: {left:?}");
        assert!(said
            .iter()
            .any(|s| matches!(s, Said::Note(n) if n.starts_with("deleted temporary index"))));
    });
}

#[test]
fn a_dry_run_plans_and_restores_nothing() {
    let env = env(2);
    run(async {
        let es = client(&env).await;
        let checked = check(&es, REPO, None, &IndexFilter::All).await.unwrap();
        let outcome = restore_test(
            &es,
            &checked,
            &options(true),
            || 1,
            std::future::pending(),
            &mut |_| {},
        )
        .await
        .unwrap();
        let Outcome::DryRun { plan, expected } = outcome else {
            panic!("not a dry run")
        };
        assert_eq!(plan.indices, ["ks-logstash-log-2019.11.12"]);
        assert_eq!(expected.len(), 1);
        assert_eq!(
            count_requests(&env, "POST /_snapshot/ks-log-snapshots/daily-1/_restore"),
            0
        );
    });
}

/// `verify` of daily-1 with its restore test, its proof kept in `store`.
async fn test_into(
    es: &logbackup::es::EsClient,
    store: logbackup::workflows::proofs::FileStore,
) -> logbackup::workflows::verify_and_record::Verified {
    logbackup::workflows::verify_and_record::verify(
        es,
        Some("daily-1"),
        &options(false),
        true,
        Some(Ok(store)),
        || 1_700_000_000_000,
        std::future::pending(),
        &mut |_| {},
    )
    .await
    .unwrap()
}

#[test]
fn verify_checks_tests_and_keeps_the_proof_or_says_it_was_lost() {
    use logbackup::workflows::proofs::{load, FileStore, ProofStoreError};
    use logbackup::workflows::verify_and_record::{verify, Recorded, Verified};

    let env = env(1);
    let dir = tempfile::tempdir().unwrap();
    let kept = dir.path().join("proofs.json");
    run(async {
        let es = client(&env).await;
        let checked = verify(
            &es,
            None,
            &options(false),
            false,
            None::<Result<FileStore, ProofStoreError>>,
            || 1_700_000_000_000,
            std::future::pending(),
            &mut |_| {},
        )
        .await
        .unwrap();
        assert!(
            matches!(&checked, Verified::Checked(c) if c.passed),
            "{checked:?}"
        );
        let tested = test_into(&es, FileStore { path: kept.clone() }).await;
        let Verified::Tested { report, recorded } = tested else {
            panic!("not tested: {tested:?}")
        };
        assert!(report.passed, "{}", report.verdict);
        assert!(
            matches!(&recorded, Recorded::Kept { tests: 1, store } if store.ends_with("proofs.json")),
            "{recorded:?}"
        );
        assert_eq!(load(&FileStore { path: kept }).await.unwrap().len(), 1);
        // A store that cannot be written: the test ran, its proof is lost, and it says so.
        let nowhere = dir.path().join("no/such/dir/proofs.json");
        let tested = test_into(&es, FileStore { path: nowhere }).await;
        let Verified::Tested { recorded, .. } = tested else {
            panic!("not tested: {tested:?}")
        };
        assert!(recorded.is_lost(), "{recorded:?}");
    });
}
