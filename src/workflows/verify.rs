//! `snapshot verify [--restore-test]`: the snapshot's own record checked; with a restore test, its
//! indices restored under a temporary prefix, checked (primaries, counts, a search), and deleted
//! again whatever happens, including when `interrupt` fires (Ctrl-C).

use std::collections::BTreeMap;
use std::future::Future;
use std::time::{Duration, Instant};

use logbackup_core::snapshot::restore::{self, ExistingIndex, IndexFilter, RestorePlan};
use logbackup_core::snapshot::verify::{
    self, Expected, Observed, RestoreTestReport, SnapshotCheck,
};
use logbackup_core::snapshot::SnapshotState;
use serde_json::json;

use super::restore::{existing_indices, pick, Recovery, RestoreFailure};
use super::retry::{self, retry_note, Retry};
use super::Said;
use crate::es::types::{RestoreRequest, SnapshotInfo};
use crate::es::{EsClient, Failed};

#[derive(Debug, thiserror::Error)]
pub enum VerifyFailure {
    /// Refused before anything was restored (names, disk, the snapshot's state).
    #[error("refusing to run the restore test{0}")]
    Refused(String),
    #[error("{0}")]
    Elasticsearch(#[from] Failed),
    #[error("snapshot {repository}:{name} vanished while it was being read")]
    Vanished { repository: String, name: String },
    #[error("the restore of {targets} was not done after {seconds}s (the copies were deleted)")]
    Timeout { targets: String, seconds: u64 },
}

impl From<RestoreFailure> for VerifyFailure {
    fn from(e: RestoreFailure) -> Self {
        match e {
            RestoreFailure::Refused(r) => Self::Refused(format!(": {r}")),
            RestoreFailure::Elasticsearch(f) => Self::Elasticsearch(f),
            RestoreFailure::Vanished { repository, name } => Self::Vanished { repository, name },
            RestoreFailure::StillRecovering { indices, seconds } => Self::Timeout {
                targets: indices,
                seconds,
            },
        }
    }
}

fn refused(e: restore::RestoreError) -> VerifyFailure {
    VerifyFailure::Refused(format!(": {e}"))
}

/// The snapshot chosen and what its own record says.
pub struct Checked {
    pub info: SnapshotInfo,
    pub check: SnapshotCheck,
    pub counts: Option<BTreeMap<String, u64>>,
}

/// `verify` without `--restore-test`: the repository's `_verify`, the snapshot's state, shards and
/// indices (the named one, else the newest SUCCESS one holding the filter's indices).
pub async fn check(
    es: &EsClient,
    repo: &str,
    snapshot: Option<&str>,
    filter: &IndexFilter,
) -> Result<Checked, VerifyFailure> {
    let repository_problem = es
        .verify_repository(repo)
        .await
        .err()
        .map(|e| e.to_string());
    let info = pick(es, repo, snapshot, filter).await?;
    let counts = verify::recorded_counts(info.metadata.as_ref());
    let check = verify::check_snapshot(repo, repository_problem, &info.summary(), counts.as_ref());
    Ok(Checked {
        info,
        check,
        counts,
    })
}

#[derive(Debug, Clone)]
pub struct RestoreTestOptions {
    pub repository: String,
    pub filter: IndexFilter,
    /// Disk high watermark, in percent.
    pub watermark: f64,
    pub wait_timeout: Duration,
    pub poll_interval: Duration,
    /// How a recovery poll that finds the server unavailable waits it out.
    pub retry: Retry,
    pub dry_run: bool,
}

pub enum Outcome {
    DryRun {
        plan: RestorePlan,
        expected: BTreeMap<String, Expected>,
    },
    /// `interrupt` fired; the copies were deleted.
    Interrupted {
        snapshot: String,
    },
    Tested(RestoreTestReport),
}

/// The restore test of `checked`'s snapshot. `now_ms` reads the clock (the run prefix, the
/// report's time); `interrupt` completing stops the test, and the copies are deleted either way.
pub async fn restore_test(
    es: &EsClient,
    checked: &Checked,
    options: &RestoreTestOptions,
    now_ms: impl Fn() -> i64,
    interrupt: impl Future<Output = ()>,
    say: &mut dyn FnMut(Said),
) -> Result<Outcome, VerifyFailure> {
    let repo = &options.repository;
    let check = &checked.check;
    if !check.passed && check.state != SnapshotState::Partial {
        return Err(VerifyFailure::Refused(format!(
            " of snapshot {} ({}): {}",
            check.snapshot,
            check.state,
            check.problems.join("; ")
        )));
    }
    let existing = existing_indices(es).await?;
    let leftovers: Vec<&str> = existing
        .iter()
        .map(|e| e.name.as_str())
        .filter(|n| verify::is_temporary(n))
        .collect();
    if !leftovers.is_empty() {
        say(Said::Note(format!(
            "warning: copies from an interrupted restore test are still there: {} (`kubectl logbackup prune` deletes them once they are old enough)",
            leftovers.join(", ")
        )));
    }
    let prefix = verify::run_prefix(now_ms());
    let summary = checked.info.summary();
    let plan = verify::plan_restore_test(&summary, &options.filter, &prefix, &existing)
        .map_err(refused)?;
    let status = es.snapshot_status(repo, &plan.snapshot).await?;
    let sizes: BTreeMap<String, u64> = plan
        .indices
        .iter()
        .map(|i| {
            (
                i.clone(),
                status.indices.get(i).map_or(0, |s| s.size_bytes()),
            )
        })
        .collect();
    let disks = es.data_node_disks().await?;
    // The copies get no replicas, so only the primaries must fit.
    let fit =
        restore::check_disk(sizes.values().sum(), 0, &disks, options.watermark).map_err(refused)?;
    let expected = expected_counts(es, &plan, checked.counts.as_ref(), &existing).await;
    say(Said::Note(format!(
        "{}restore-test {} from {repo}:{} as {} ({} of primaries, {} usable below the {}% watermark, no replicas)",
        if options.dry_run { "dry run: would " } else { "" },
        plan.indices.join(", "),
        plan.snapshot,
        plan.targets.join(", "),
        logbackup_core::snapshot::human_bytes(fit.required),
        logbackup_core::snapshot::human_bytes(fit.usable),
        options.watermark
    )));
    if options.dry_run {
        return Ok(Outcome::DryRun { plan, expected });
    }
    let started = Instant::now();
    let test = restore_and_check(es, options, &plan, &sizes, &expected, started, say);
    let outcome = tokio::select! {
        r = test => Some(r),
        () = interrupt => None,
    };
    // Whatever happened, the temporary copies go.
    for line in cleanup(es, &plan.targets).await {
        say(Said::Note(line));
    }
    let Some(observed) = outcome else {
        return Ok(Outcome::Interrupted {
            snapshot: plan.snapshot,
        });
    };
    Ok(Outcome::Tested(verify::report(
        repo,
        &plan.snapshot,
        observed?,
        started.elapsed().as_millis() as u64,
        now_ms(),
    )))
}

/// Per index: the count recorded in the snapshot, else the live index's when it still exists.
async fn expected_counts(
    es: &EsClient,
    plan: &RestorePlan,
    counts: Option<&BTreeMap<String, u64>>,
    existing: &[ExistingIndex],
) -> BTreeMap<String, Expected> {
    let live: Vec<String> = plan
        .indices
        .iter()
        .filter(|i| counts.is_none_or(|c| !c.contains_key(*i)))
        .filter(|i| existing.iter().any(|e| &e.name == *i && e.open))
        .cloned()
        .collect();
    let live_counts = if live.is_empty() {
        BTreeMap::new()
    } else {
        es.doc_counts(&live).await.unwrap_or_default()
    };
    plan.indices
        .iter()
        .map(|i| {
            let recorded = counts.and_then(|c| c.get(i).copied());
            (
                i.clone(),
                Expected::choose(recorded, live_counts.get(i).copied()),
            )
        })
        .collect()
}

async fn restore_and_check(
    es: &EsClient,
    options: &RestoreTestOptions,
    plan: &RestorePlan,
    sizes: &BTreeMap<String, u64>,
    expected: &BTreeMap<String, Expected>,
    started: Instant,
    say: &mut dyn FnMut(Said),
) -> Result<Vec<Observed>, VerifyFailure> {
    let body = RestoreRequest {
        indices: plan.indices.join(","),
        include_global_state: false,
        include_aliases: false,
        rename_pattern: Some("(.+)".to_string()),
        rename_replacement: plan.rename_prefix.as_ref().map(|p| format!("{p}$1")),
        index_settings: Some(json!({"index.number_of_replicas": 0})),
    };
    es.restore(&options.repository, &plan.snapshot, &body)
        .await?;
    // Per restored index: primaries started, primaries, when it was first seen done.
    let mut done: BTreeMap<String, (u64, u64, u64)> = BTreeMap::new();
    loop {
        let recovery = retry::read(
            options.retry,
            || es.recovery(&plan.targets),
            |e, after| say(Said::Note(retry_note(e, after))),
        )
        .await?;
        let (mut got, mut total) = (0u64, 0u64);
        for (index, r) in &recovery {
            let primaries: Vec<_> = r.shards.iter().filter(|s| s.primary).collect();
            let started_n = primaries.iter().filter(|s| s.stage == "DONE").count() as u64;
            for s in &r.shards {
                let size = s
                    .index
                    .as_ref()
                    .and_then(|i| i.size.clone())
                    .unwrap_or_default();
                got += size.recovered_in_bytes;
                total += size.total_in_bytes;
            }
            if !primaries.is_empty() && started_n == primaries.len() as u64 {
                done.entry(index.clone()).or_insert((
                    started_n,
                    primaries.len() as u64,
                    started.elapsed().as_millis() as u64,
                ));
            }
        }
        say(Said::Recovery(Recovery {
            bytes_done: got,
            bytes_total: total,
        }));
        if plan.targets.iter().all(|t| done.contains_key(t)) {
            break;
        }
        if started.elapsed() > options.wait_timeout {
            return Err(VerifyFailure::Timeout {
                targets: plan.targets.join(", "),
                seconds: options.wait_timeout.as_secs(),
            });
        }
        tokio::time::sleep(options.poll_interval).await;
    }
    let mut observed = Vec::new();
    for (index, target) in plan.indices.iter().zip(&plan.targets) {
        let (primaries_started, primaries, took_ms) =
            done.get(target).copied().unwrap_or((0, 0, 0));
        let found = es.count(target).await.ok();
        let sample_hit = es.sample(target).await.unwrap_or(false);
        observed.push(Observed {
            index: index.clone(),
            restored_as: target.clone(),
            expected: expected
                .get(index)
                .cloned()
                .unwrap_or(Expected::NotRecorded),
            primaries_started,
            primaries,
            found,
            sample_hit,
            bytes: sizes.get(index).copied().unwrap_or(0),
            took_ms,
        });
    }
    Ok(observed)
}

/// Deletes the temporary copies that exist; one line per copy, saying how to delete one that
/// could not be.
async fn cleanup(es: &EsClient, targets: &[String]) -> Vec<String> {
    let present: Vec<String> = match es.indices().await {
        Ok(all) => all
            .into_iter()
            .map(|i| i.index)
            .filter(|i| targets.contains(i))
            .collect(),
        Err(_) => targets.to_vec(),
    };
    let mut lines = Vec::new();
    for t in present {
        lines.push(match es.delete_index(&t).await {
            Ok(()) => format!("deleted temporary index {t}"),
            Err(e) => format!(
                "warning: temporary index {t} is left behind ({e}); delete it with: curl -X DELETE <es-url>/{t} (or `kubectl logbackup prune` once it is old enough)"
            ),
        });
    }
    lines
}
