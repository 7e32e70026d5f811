//! Snapshot create-and-wait, shared by `snapshot create` and `backup`: count the documents into the
//! snapshot's metadata, start it once (retrying 503s, adopting a snapshot a timed-out request did
//! start), follow it to its end, and read its final state.

use std::cell::Cell;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use logbackup_core::snapshot::verify;

use super::retry::{self, retry_note, Retry};
use super::Said;
use crate::es::types::{CreateSnapshot, SnapshotInfo};
use crate::es::{EsClient, EsError, Failed};

/// Where and how patiently.
#[derive(Debug, Clone)]
pub struct SnapshotOptions {
    pub repository: String,
    pub retry: Retry,
    /// Between two looks at a running snapshot.
    pub poll_interval: Duration,
    /// Give up following it after this long (it goes on in the cluster).
    pub timeout: Duration,
}

/// A running snapshot's progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub shards_done: u64,
    pub shards_total: u64,
    pub bytes_done: u64,
    pub bytes_total: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("{0}")]
    Elasticsearch(#[from] Failed),
    #[error(
        "snapshot {repository}:{name} still running after {seconds}s; it goes on in the cluster"
    )]
    StillRunning {
        repository: String,
        name: String,
        seconds: u64,
    },
    /// Elasticsearch forgot a running snapshot: its elected master restarted (a running snapshot
    /// lives in the cluster state, which a full restart does not keep) or someone deleted it.
    #[error("snapshot {repository}:{name} is gone while it ran: the elected master restarted or someone deleted it, and Elasticsearch does not resume a lost snapshot. The next run takes a new one")]
    Lost { repository: String, name: String },
    #[error("snapshot {repository}:{name} vanished after it finished")]
    Vanished { repository: String, name: String },
    #[error("snapshot {repository}:{name} not found")]
    NotFound { repository: String, name: String },
    /// A refusal: nothing was deleted.
    #[error("snapshot {repository}:{name} is in progress; deleting it would abort it. Wait for it to end.")]
    InProgress { repository: String, name: String },
}

/// The body with the documents of every index it selects counted into its metadata, for
/// `snapshot verify --restore-test`. Counting is best effort: a failure is a warning, never a
/// missed backup. Servers without snapshot metadata (Elasticsearch before 7.3) are not asked.
pub async fn record_counts(
    es: &EsClient,
    body: &CreateSnapshot,
    now: Timestamp,
    say: &mut dyn FnMut(Said),
) -> CreateSnapshot {
    if !es.version.snapshot_metadata() {
        return body.clone();
    }
    let patterns: Vec<String> = body.indices.split(',').map(str::to_string).collect();
    match es.doc_counts(&patterns).await {
        Ok(counts) => CreateSnapshot {
            metadata: Some(verify::snapshot_metadata(
                Some(&counts),
                now.as_millisecond(),
            )),
            ..body.clone()
        },
        Err(e) => {
            say(Said::Note(format!("warning: document counts not recorded ({e}); verify will compare with live indices")));
            body.clone()
        }
    }
}

/// Starts snapshot `name` with the documents counted, and does not wait for it.
pub async fn start(
    es: &EsClient,
    options: &SnapshotOptions,
    name: &str,
    body: &CreateSnapshot,
    now: Timestamp,
    say: &mut dyn FnMut(Said),
) -> Result<(), SnapshotError> {
    let body = record_counts(es, body, now, say).await;
    start_once(es, options, name, &body, say).await?;
    say(Said::Note(format!(
        "started snapshot {}:{name}",
        options.repository
    )));
    Ok(())
}

/// Starts snapshot `name` (adopting it if a retried start already did) and follows it to its end.
/// The state is the final one (`GET _snapshot`): SUCCESS, PARTIAL or FAILED, for the caller to judge.
pub async fn create_and_wait(
    es: &EsClient,
    options: &SnapshotOptions,
    name: &str,
    body: &CreateSnapshot,
    now: Timestamp,
    say: &mut dyn FnMut(Said),
) -> Result<SnapshotInfo, SnapshotError> {
    start(es, options, name, body, now, say).await?;
    wait(es, options, name, say).await
}

/// Starts the snapshot, retrying 503s and timeouts. Before any retry it looks the name up: a
/// request that timed out may have started the snapshot, and then it is adopted, not started again.
async fn start_once(
    es: &EsClient,
    options: &SnapshotOptions,
    name: &str,
    body: &CreateSnapshot,
    say: &mut dyn FnMut(Said),
) -> Result<(), Failed> {
    let repo = options.repository.as_str();
    let tried = Cell::new(false);
    // Both the attempt and the retry notice speak; they never run at once.
    let said = std::cell::RefCell::new(say);
    retry::concurrent(
        options.retry,
        true,
        || async {
            if tried.replace(true) {
                match es.snapshots(repo, name).await {
                    Ok(found) if !found.is_empty() => {
                        (said.borrow_mut())(Said::Note(format!("snapshot {repo}:{name} exists after a failed attempt: following it instead of starting another")));
                        return Ok(());
                    }
                    Err(e) if !matches!(e.kind(), EsError::SnapshotMissing(_)) => return Err(e),
                    _ => {}
                }
            }
            es.start_snapshot(repo, name, body).await
        },
        |e, after| (said.borrow_mut())(Said::Note(retry_note(e, after))),
    )
    .await
}

async fn wait(
    es: &EsClient,
    options: &SnapshotOptions,
    name: &str,
    say: &mut dyn FnMut(Said),
) -> Result<SnapshotInfo, SnapshotError> {
    let repo = options.repository.as_str();
    let started = Instant::now();
    let lost = |e: Failed| match e.kind() {
        EsError::SnapshotMissing(_) => SnapshotError::Lost {
            repository: repo.to_owned(),
            name: name.to_owned(),
        },
        _ => SnapshotError::Elasticsearch(e),
    };
    loop {
        let status = retry::read(
            options.retry,
            || es.snapshot_status(repo, name),
            |e, after| say(Said::Note(retry_note(e, after))),
        )
        .await
        .map_err(lost)?;
        let stats = status.stats.as_ref();
        let progress = Progress {
            shards_done: status.shards_stats.done,
            shards_total: status.shards_stats.total,
            bytes_done: stats
                .and_then(|s| s.processed.as_ref())
                .map_or(0, |t| t.size_in_bytes),
            bytes_total: stats
                .and_then(|s| s.total.as_ref())
                .map_or(0, |t| t.size_in_bytes),
        };
        say(Said::Snapshot(progress));
        tracing::info!(done = progress.shards_done, total = progress.shards_total, state = %status.state, "snapshot progress");
        if !status.running() {
            break;
        }
        if started.elapsed() > options.timeout {
            return Err(SnapshotError::StillRunning {
                repository: repo.to_owned(),
                name: name.to_owned(),
                seconds: options.timeout.as_secs(),
            });
        }
        tokio::time::sleep(options.poll_interval).await;
    }
    // _status reads SUCCESS for a PARTIAL snapshot: the final state comes from GET _snapshot.
    let mut infos = retry::read(
        options.retry,
        || es.snapshots(repo, name),
        |e, after| say(Said::Note(retry_note(e, after))),
    )
    .await
    .map_err(lost)?;
    infos.pop().ok_or_else(|| SnapshotError::Vanished {
        repository: repo.to_owned(),
        name: name.to_owned(),
    })
}
