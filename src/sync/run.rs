//! Carries a sync plan out: blobs, then `index-N`, then `index.latest`, then removals, then the record.

use futures_util::{StreamExt, TryStreamExt};

use super::error::SyncError;
use super::plan::{self, Object, Plan};
use super::record::{self, SyncRecord};
use super::store::Store;

/// Files copied at once. Blobs are independent, so their order among themselves does not matter.
const PARALLEL: usize = 8;

/// What the caller hears about, for progress and for the test's fault knob.
#[derive(Debug)]
pub enum Event<'a> {
    Planned(&'a Plan),
    Sent(&'a Object),
    LatestWritten(u64),
    Removed(&'a Object),
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Outcome {
    pub source: String,
    pub destination: String,
    pub dry_run: bool,
    pub generation: u64,
    pub snapshots: Vec<String>,
    pub files_sent: usize,
    pub bytes_sent: u64,
    pub files_skipped: usize,
    pub bytes_skipped: u64,
    pub files_removed: usize,
}

async fn generation(store: &Store) -> Result<Option<u64>, SyncError> {
    let Some(bytes) = store.read("index.latest").await? else {
        return Ok(None);
    };
    plan::parse_latest(&bytes)
        .map(Some)
        .map_err(|source| SyncError::Refused {
            side: "reading",
            location: store.location.to_string(),
            source,
        })
}

/// Plans the copy of `src` onto `dst` and, unless `dry_run`, carries it out. `now` stamps the record.
pub async fn sync(
    src: &Store,
    dst: &mut Store,
    dry_run: bool,
    now: jiff::Timestamp,
    on_event: &mut (dyn FnMut(Event<'_>) + Send),
) -> Result<Outcome, SyncError> {
    if let super::Location::Dir(path) = &src.location {
        if !path.exists() {
            return Err(SyncError::SourceMissing {
                location: src.location.to_string(),
            });
        }
    }
    let src_generation = generation(src).await?;
    let src_list = src.list().await?;
    let dst_list = dst.list().await?;
    let dst_generation = if dst_list.iter().any(|o| o.path == "index.latest") {
        generation(dst).await?
    } else {
        None
    };
    let plan =
        plan::plan(&src_list, src_generation, &dst_list, dst_generation).map_err(|source| {
            let (side, location) = match source {
                plan::PlanError::DestinationNotRepository { .. } => ("destination", &dst.location),
                _ => ("source", &src.location),
            };
            SyncError::Refused {
                side,
                location: location.to_string(),
                source,
            }
        })?;
    on_event(Event::Planned(&plan));
    let index_n = format!("index-{}", plan.generation);
    let snapshots = src
        .read(&index_n)
        .await?
        .map(|b| record::snapshot_names(&b))
        .unwrap_or_default();
    let outcome = Outcome {
        source: src.location.to_string(),
        destination: dst.location.to_string(),
        dry_run,
        generation: plan.generation,
        snapshots,
        files_sent: plan.files_to_send(),
        bytes_sent: plan.bytes_to_send(),
        files_skipped: plan.skipped.len(),
        bytes_skipped: plan.bytes_skipped(),
        files_removed: plan.deletes.len(),
    };
    if dry_run {
        return Ok(outcome);
    }
    dst.prepare_for_writes()?;
    let dst: &Store = dst;

    // 1. Blobs: nothing references them until an index-N does.
    let mut sent = futures_util::stream::iter(plan.blobs.iter())
        .map(|o| async move { dst.copy_from(src, o).await.map(|()| o) })
        .buffer_unordered(PARALLEL);
    while let Some(o) = sent.try_next().await? {
        on_event(Event::Sent(o));
    }
    // 2. index-K, oldest first, the current generation last.
    for o in &plan.roots {
        dst.copy_from(src, o).await?;
        on_event(Event::Sent(o));
    }
    // 3. index.latest: from here on the copy is the new generation.
    if plan.write_latest {
        dst.write(
            "index.latest",
            plan::encode_latest(plan.generation).to_vec(),
        )
        .await?;
        on_event(Event::LatestWritten(plan.generation));
    }
    // 4. What the current generation no longer references.
    let mut removed = futures_util::stream::iter(plan.deletes.iter())
        .map(|o| async move { dst.delete(&o.path).await.map(|()| o) })
        .buffer_unordered(PARALLEL);
    while let Some(o) = removed.try_next().await? {
        on_event(Event::Removed(o));
    }
    // 5. The record `status` reads.
    let record = SyncRecord {
        finished_at: now.to_string(),
        source: outcome.source.clone(),
        generation: plan.generation,
        snapshots: outcome.snapshots.clone(),
        files_sent: outcome.files_sent,
        bytes_sent: outcome.bytes_sent,
    };
    let json = serde_json::to_vec_pretty(&record).unwrap_or_default();
    dst.write(plan::RECORD, json).await?;
    Ok(outcome)
}

/// The record a previous sync left at `store`, if any.
pub async fn last_record(store: &Store) -> Result<Option<SyncRecord>, SyncError> {
    Ok(store
        .read(plan::RECORD)
        .await?
        .and_then(|b| serde_json::from_slice(&b).ok()))
}
