//! `prune` (and `backup`'s prune step): the snapshots the retention policy condemns deleted oldest
//! first, one at a time, retrying 503s; then, for `prune` only, the restore-test copies a killed
//! `snapshot verify --restore-test` left behind. The decisions are the core's
//! (`snapshot::retention`, `snapshot::verify::leftovers`); here are the calls, in order.

use jiff::Timestamp;
use serde::Serialize;

use super::retry::{self, retry_note, Retry};
use super::Said;
use crate::es::listing::Detail;
use crate::es::{EsClient, Failed};
use crate::snapshot::retention::{self, AgeSource, PolicyError, RetentionPolicy};
use crate::snapshot::verify::{self, Leftover};

#[derive(Debug, Clone)]
pub struct PruneOptions {
    pub repository: String,
    /// How 503s on a deletion are retried.
    pub retry: Retry,
    /// Plan and say, delete nothing.
    pub dry_run: bool,
    /// Also delete restore-test copies (`logbackup-verify-*`) whose test started this many hours
    /// ago; `None` leaves them alone (`backup`'s prune step).
    pub leftover_grace_hours: Option<u32>,
}

/// What prune planned and did; serialised for `-o json|yaml` as it always was.
#[derive(Debug, Serialize)]
pub struct Report {
    pub dry_run: bool,
    pub plan: retention::RetentionPlan,
    pub deleted: Vec<String>,
    pub failed: Vec<(String, String)>,
    /// Restore-test copies found (`prune` only), with the decision for each.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub leftovers: Vec<Leftover>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub leftovers_deleted: Vec<String>,
}

impl Report {
    /// Every planned deletion was done.
    pub fn ok(&self) -> bool {
        self.failed.is_empty()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PruneError {
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// Listing failed, so nothing was deleted (a deletion that fails is in the report instead).
    #[error(transparent)]
    Elasticsearch(#[from] Failed),
}

/// Plans with the pure core and deletes oldest first, one at a time; a failed deletion is recorded
/// and the rest still go. Then the restore-test copies, when `options.leftover_grace_hours` says so.
pub async fn prune(
    es: &EsClient,
    options: &PruneOptions,
    policy: &RetentionPolicy,
    now: Timestamp,
    say: &mut dyn FnMut(Said),
) -> Result<Report, PruneError> {
    let repo = &options.repository;
    let dry_run = options.dry_run;
    // Ages from names need only names and states: no metadata read per snapshot on the server.
    let detail = match policy.age_from {
        AgeSource::Name { .. } => Detail::Brief,
        AgeSource::StartTime => Detail::Full,
    };
    // Retention never looks at index names: they are dropped as the listing streams in.
    let summaries = es.list_summaries_without_indices(repo, detail).await?;
    let plan = retention::plan(&summaries, policy, now)?;
    // The plan keeps what it reports; the listing goes before the report is written.
    drop(summaries);
    let doomed: Vec<String> = plan.to_delete().map(|d| d.name.clone()).collect();
    say(Said::Note(format!(
        "{}{} of {} snapshots in {repo} to delete, {} kept",
        if dry_run { "dry run: " } else { "" },
        doomed.len(),
        plan.decisions.len(),
        plan.kept()
    )));
    let mut report = Report {
        dry_run,
        plan,
        deleted: Vec::new(),
        failed: Vec::new(),
        leftovers: Vec::new(),
        leftovers_deleted: Vec::new(),
    };
    if !dry_run {
        for name in &doomed {
            let deleted = retry::concurrent(
                options.retry,
                false,
                || es.delete_snapshot(repo, name),
                |e, after| say(Said::Note(retry_note(e, after))),
            )
            .await;
            match deleted {
                Ok(()) => {
                    say(Said::Note(format!("deleted {name}")));
                    report.deleted.push(name.clone());
                }
                Err(e) => {
                    say(Said::Note(format!("error: {e}")));
                    report.failed.push((name.clone(), e.to_string()));
                }
            }
        }
    }
    if let Some(grace) = options.leftover_grace_hours {
        prune_leftovers(es, grace, dry_run, now, &mut report, say).await?;
    }
    Ok(report)
}

/// Deletes the restore-test copies a killed `snapshot verify --restore-test` left behind, once
/// the test that made them started `grace_hours` ago.
async fn prune_leftovers(
    es: &EsClient,
    grace_hours: u32,
    dry_run: bool,
    now: Timestamp,
    report: &mut Report,
    say: &mut dyn FnMut(Said),
) -> Result<(), Failed> {
    let names: Vec<String> = es.indices().await?.into_iter().map(|i| i.index).collect();
    report.leftovers = verify::leftovers(&names, now.as_millisecond(), grace_hours);
    for l in &report.leftovers {
        if !l.delete {
            say(Said::Note(format!(
                "keeping restore-test copy {}: {}",
                l.index, l.why
            )));
        } else if dry_run {
            say(Said::Note(format!(
                "dry run: would delete restore-test copy {}: {}",
                l.index, l.why
            )));
        } else {
            match es.delete_index(&l.index).await {
                Ok(()) => {
                    say(Said::Note(format!(
                        "deleted restore-test copy {}: {}",
                        l.index, l.why
                    )));
                    report.leftovers_deleted.push(l.index.clone());
                }
                Err(e) => {
                    say(Said::Note(format!("error: {e}")));
                    report.failed.push((l.index.clone(), e.to_string()));
                }
            }
        }
    }
    Ok(())
}
