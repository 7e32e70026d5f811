//! `restore`: pick the snapshot, plan with the core (conflicts, renames, disk space), close or
//! delete what the plan says, restore, and follow recovery until the indices are usable.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use logbackup_core::snapshot::restore::{
    self, ExistingIndex, IndexFilter, OnConflict, RestoreError, RestorePlan,
};
use logbackup_core::snapshot::SnapshotState;
use serde::Serialize;

use super::retry::{self, retry_note, Retry};
use super::Said;
use crate::es::listing::Detail;
use crate::es::types::{RestoreRequest, SnapshotInfo};
use crate::es::{EsClient, Failed};

#[derive(Debug, thiserror::Error)]
pub enum RestoreFailure {
    /// A pre-check refused; nothing was changed.
    #[error("refusing to restore: {0}")]
    Refused(#[from] RestoreError),
    #[error("{0}")]
    Elasticsearch(#[from] Failed),
    #[error("snapshot {repository}:{name} vanished while it was being read")]
    Vanished { repository: String, name: String },
    #[error("recovery of {indices} not done after {seconds}s; it goes on in the cluster")]
    StillRecovering { indices: String, seconds: u64 },
}

/// The named snapshot, or the newest SUCCESS one holding the filter's indices, chosen by the shared
/// restore planning: names, states and indices from a `verbose=false` listing (no metadata reads on
/// the server), then full details of the candidates only. Shared by `restore` and `verify`.
pub async fn pick(
    es: &EsClient,
    repo: &str,
    named: Option<&str>,
    filter: &IndexFilter,
) -> Result<SnapshotInfo, RestoreFailure> {
    let summaries = es.list_summaries(repo, Detail::Brief).await?;
    restore::choose_snapshot(&summaries, named, filter)?;
    let candidates: Vec<String> = match named {
        Some(n) => vec![n.to_string()],
        None => summaries
            .iter()
            .filter(|s| {
                s.state == SnapshotState::Success && s.indices.iter().any(|i| filter.selects(i))
            })
            .map(|s| s.name.clone())
            .collect(),
    };
    let details = es.snapshot_details(repo, &candidates).await?;
    let full: Vec<_> = details.iter().map(|i| i.summary()).collect();
    let name = restore::choose_snapshot(&full, named, filter)?.name.clone();
    details
        .into_iter()
        .find(|d| d.snapshot == name)
        .ok_or(RestoreFailure::Vanished {
            repository: repo.to_owned(),
            name,
        })
}

/// The cluster's indices, open or closed, as the restore planning sees them. Shared with `verify`.
pub(super) async fn existing_indices(es: &EsClient) -> Result<Vec<ExistingIndex>, Failed> {
    Ok(es
        .indices()
        .await?
        .iter()
        .map(|i| ExistingIndex {
            name: i.index.clone(),
            open: i.open(),
        })
        .collect())
}

/// What to restore and how.
#[derive(Debug, Clone)]
pub struct RestoreOptions {
    pub repository: String,
    /// A snapshot by name; else the newest SUCCESS one holding the filter's indices.
    pub snapshot: Option<String>,
    pub filter: IndexFilter,
    pub rename_prefix: Option<String>,
    pub on_conflict: OnConflict,
    /// Disk high watermark, in percent.
    pub watermark: f64,
    /// Replicas each restored index will have, for the disk check.
    pub replicas: u32,
    pub dry_run: bool,
    /// Follow recovery until done (false: return once the restore has started).
    pub wait: bool,
    pub wait_timeout: Duration,
    pub poll_interval: Duration,
    /// How a recovery poll that finds the server unavailable waits it out.
    pub retry: Retry,
}

/// The plan and the space it needs, as restored (or, on a dry run, as it would be).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub plan: RestorePlan,
    pub required_bytes: u64,
    pub usable_bytes: u64,
    pub dry_run: bool,
}

/// Recovery so far, over every shard of the restored indices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recovery {
    pub bytes_done: u64,
    pub bytes_total: u64,
}

/// Plans, and unless a dry run, restores. `said` hears the plan's one-line summary first.
pub async fn restore(
    es: &EsClient,
    options: &RestoreOptions,
    say: &mut dyn FnMut(Said),
) -> Result<Report, RestoreFailure> {
    let repo = &options.repository;
    let chosen = pick(es, repo, options.snapshot.as_deref(), &options.filter)
        .await?
        .summary();
    let existing = existing_indices(es).await?;
    let plan = restore::plan_restore(
        &chosen,
        &options.filter,
        options.rename_prefix.as_deref(),
        options.on_conflict,
        &existing,
    )?;
    let status = es.snapshot_status(repo, &plan.snapshot).await?;
    let primaries: u64 = plan
        .indices
        .iter()
        .map(|i| status.indices.get(i).map_or(0, |s| s.size_bytes()))
        .sum();
    let disks = es.data_node_disks().await?;
    let fit = restore::check_disk(primaries, options.replicas, &disks, options.watermark)?;
    say(Said::Note(format!(
        "{}restore {} from {repo}:{} ({} needed, {} usable below the {}% watermark)",
        if options.dry_run {
            "dry run: would "
        } else {
            ""
        },
        plan.targets.join(", "),
        plan.snapshot,
        logbackup_core::snapshot::human_bytes(fit.required),
        logbackup_core::snapshot::human_bytes(fit.usable),
        options.watermark
    )));
    let report = Report {
        plan,
        required_bytes: fit.required,
        usable_bytes: fit.usable,
        dry_run: options.dry_run,
    };
    if options.dry_run {
        return Ok(report);
    }
    let plan = &report.plan;
    for index in &plan.close_first {
        es.close_index(index).await?;
        say(Said::Note(format!("closed {index}")));
    }
    for index in &plan.delete_first {
        es.delete_index(index).await?;
        say(Said::Note(format!("deleted {index}")));
    }
    let body = RestoreRequest {
        indices: plan.indices.join(","),
        include_global_state: false,
        include_aliases: false,
        rename_pattern: plan.rename_prefix.as_ref().map(|_| "(.+)".to_string()),
        rename_replacement: plan.rename_prefix.as_ref().map(|p| format!("{p}$1")),
        index_settings: None,
    };
    es.restore(repo, &plan.snapshot, &body).await?;
    say(Said::Note("restore started".into()));
    if options.wait {
        follow_recovery(es, options, &plan.targets, say).await?;
        say(Said::Note(format!("restored: {}", plan.targets.join(", "))));
    }
    Ok(report)
}

async fn follow_recovery(
    es: &EsClient,
    options: &RestoreOptions,
    targets: &[String],
    say: &mut dyn FnMut(Said),
) -> Result<(), RestoreFailure> {
    let started = Instant::now();
    loop {
        let recovery = retry::read(
            options.retry,
            || es.recovery(targets),
            |e, after| say(Said::Note(retry_note(e, after))),
        )
        .await?;
        let mut totals: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
        let mut all_done = targets.iter().all(|t| recovery.contains_key(t));
        for (index, r) in &recovery {
            for shard in &r.shards {
                all_done &= shard.stage == "DONE";
                let size = shard
                    .index
                    .as_ref()
                    .and_then(|i| i.size.clone())
                    .unwrap_or_default();
                let e = totals.entry(index).or_default();
                e.0 += size.recovered_in_bytes;
                e.1 += size.total_in_bytes;
            }
        }
        let (done, total) = totals.values().fold((0, 0), |a, v| (a.0 + v.0, a.1 + v.1));
        say(Said::Recovery(Recovery {
            bytes_done: done,
            bytes_total: total,
        }));
        if all_done {
            return Ok(());
        }
        if started.elapsed() > options.wait_timeout {
            return Err(RestoreFailure::StillRecovering {
                indices: targets.join(", "),
                seconds: options.wait_timeout.as_secs(),
            });
        }
        tokio::time::sleep(options.poll_interval).await;
    }
}
