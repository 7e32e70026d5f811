//! `workflows::prune` called in-process against the double: a dry run plans and says but sends no
//! DELETE; a real run deletes what it planned, oldest first, and the restore-test copies only
//! when asked (never from `backup`'s prune step).

use std::time::Duration;

use logbackup::snapshot::retention::{AgeSource, RetentionPolicy};
use logbackup::workflows::prune::{prune, PruneOptions, Report};
use logbackup::workflows::retry::Retry;
use logbackup::workflows::Said;

use crate::harness::*;
use crate::prune::{seeded, HOUR_MS};
use crate::workflows::{client, run};

fn keep_two_days() -> RetentionPolicy {
    RetentionPolicy {
        keep_days: Some(2),
        min_count: 1,
        max_count: None,
        prefix: None,
        age_from: AgeSource::StartTime,
    }
}

fn options(dry_run: bool, leftover_grace_hours: Option<u32>) -> PruneOptions {
    PruneOptions {
        repository: REPO.into(),
        retry: Retry {
            first_delay: Duration::from_millis(5),
            times: 2,
        },
        dry_run,
        leftover_grace_hours,
    }
}

/// The snapshots of `seeded`, and a copy a restore test killed 30 hours ago left behind.
fn env_with_leftover() -> (Env, String) {
    let old = format!(
        "logbackup-verify-{}-ks-logstash-log-2019.11.12",
        es_double::time::now_ms() - 30 * HOUR_MS
    );
    let env = Env::start(VERSIONS[1].0, VERSIONS[1].1, |s| {
        seeded(s);
        s.add_index(&old, 1024);
    });
    (env, old)
}

fn run_prune(env: &Env, options: &PruneOptions) -> (Report, Vec<Said>) {
    let mut said = Vec::new();
    let report = run(async {
        let es = client(env).await;
        prune(
            &es,
            options,
            &keep_two_days(),
            jiff::Timestamp::now(),
            &mut |s| said.push(s),
        )
        .await
        .unwrap()
    });
    (report, said)
}

#[test]
fn a_dry_run_plans_and_says_what_it_would_delete_and_sends_no_delete() {
    let (env, old) = env_with_leftover();
    let (report, said) = run_prune(&env, &options(true, Some(24)));
    assert!(report.dry_run);
    assert_eq!(report.plan.to_delete().count(), 53);
    assert!(report.deleted.is_empty() && report.leftovers_deleted.is_empty());
    assert!(report.ok());
    assert_eq!(report.leftovers.len(), 1);
    assert!(report.leftovers[0].delete, "{:?}", report.leftovers);
    assert!(said.contains(&Said::Note(format!(
        "dry run: 53 of 101 snapshots in {REPO} to delete, 48 kept"
    ))));
    assert!(said.iter().any(
        |s| matches!(s, Said::Note(n) if n.starts_with(&format!("dry run: would delete restore-test copy {old}")))
    ));
    assert_eq!(count_requests(&env, "DELETE"), 0);
    assert_eq!(snapshot_names(&env).len(), 101);
    env.assert_spec_clean();
}

#[test]
fn a_real_run_deletes_the_plan_oldest_first_and_the_old_restore_test_copy() {
    let (env, old) = env_with_leftover();
    let (report, said) = run_prune(&env, &options(false, Some(24)));
    assert!(!report.dry_run);
    assert!(report.ok(), "{:?}", report.failed);
    let planned: Vec<String> = report.plan.to_delete().map(|d| d.name.clone()).collect();
    assert_eq!(report.deleted, planned);
    assert_eq!(report.deleted.len(), 53);
    assert_eq!(report.leftovers_deleted, vec![old.clone()]);
    // Said as it happened, in the order it happened.
    let deletions: Vec<&Said> = said
        .iter()
        .filter(|s| matches!(s, Said::Note(n) if n.starts_with("deleted snapshot-")))
        .collect();
    assert_eq!(deletions.len(), 53);
    assert_eq!(
        deletions[0],
        &Said::Note(format!("deleted {}", report.deleted[0]))
    );
    let left = snapshot_names(&env);
    assert_eq!(left.len(), 48);
    assert!(left.contains(&"snapshot-running".to_string()));
    assert!(!report.deleted.iter().any(|d| left.contains(d)));
    assert!(!env.double.state().indices.contains_key(&old));
    env.assert_spec_clean();
}

#[test]
fn backups_prune_step_leaves_restore_test_copies_alone() {
    let (env, old) = env_with_leftover();
    let (report, _) = run_prune(&env, &options(false, None));
    assert_eq!(report.deleted.len(), 53);
    assert!(report.leftovers.is_empty());
    assert!(env.double.state().indices.contains_key(&old));
    assert_eq!(count_requests(&env, "GET /_cat/indices"), 0);
}

#[test]
fn a_deletion_refused_past_its_retries_is_reported_and_the_rest_still_go() {
    let env = Env::start(VERSIONS[1].0, VERSIONS[1].1, |s| {
        seeded(s);
        // The first deletion meets 503 on every attempt (1 + 2 retries).
        s.behaviour.deletes_busy_for = 3;
    });
    let (report, said) = run_prune(&env, &options(false, None));
    assert!(!report.ok());
    assert_eq!(report.failed.len(), 1);
    assert_eq!(report.deleted.len(), 52);
    let first = report.plan.to_delete().next().unwrap().name.clone();
    assert_eq!(report.failed[0].0, first);
    // Each retry said, then the failure.
    let retries = said
        .iter()
        .filter(|s| matches!(s, Said::Note(n) if n.contains("retrying in")))
        .count();
    assert_eq!(retries, 2, "{said:?}");
    assert!(said.contains(&Said::Note(format!("error: {}", report.failed[0].1))));
    assert_eq!(snapshot_names(&env).len(), 49);
}
