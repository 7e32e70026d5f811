//! `snapshot describe` and `snapshot delete`: the snapshots already taken, one read with its index
//! sizes, several deleted after one lookup of them all.

use std::collections::BTreeMap;

use serde::Serialize;

use super::retry::{self, retry_note, Retry};
use super::snapshot::SnapshotError;
use super::Said;
use crate::es::types::SnapshotInfo;
use crate::es::EsClient;
use crate::snapshot::SnapshotState;

/// A snapshot and the bytes of each of its indices.
#[derive(Debug, Clone, Serialize)]
pub struct Described {
    pub snapshot: SnapshotInfo,
    /// Bytes per index, from the snapshot's status.
    pub index_sizes: BTreeMap<String, u64>,
}

pub async fn describe(
    es: &EsClient,
    repository: &str,
    name: &str,
) -> Result<Described, SnapshotError> {
    let Some(snapshot) = es.snapshots(repository, name).await?.pop() else {
        return Err(SnapshotError::NotFound {
            repository: repository.to_owned(),
            name: name.to_owned(),
        });
    };
    let status = es.snapshot_status(repository, name).await?;
    let index_sizes = status
        .indices
        .iter()
        .map(|(i, s)| (i.clone(), s.size_bytes()))
        .collect();
    Ok(Described {
        snapshot,
        index_sizes,
    })
}

/// Deletes `names` from `repository`, each said as it goes. All are looked up first: a typo, or a
/// snapshot still running (deleting it would abort it), stops it before anything is deleted.
pub async fn delete(
    es: &EsClient,
    repository: &str,
    names: &[String],
    retry: Retry,
    dry_run: bool,
    say: &mut impl FnMut(Said),
) -> Result<(), SnapshotError> {
    let found = es.snapshots(repository, &names.join(",")).await?;
    if let Some(running) = found
        .iter()
        .find(|s| s.state == Some(SnapshotState::InProgress))
    {
        return Err(SnapshotError::InProgress {
            repository: repository.to_owned(),
            name: running.snapshot.clone(),
        });
    }
    for name in names {
        if dry_run {
            say(Said::Note(format!(
                "dry run: would delete snapshot {repository}:{name}"
            )));
            continue;
        }
        retry::concurrent(
            retry,
            false,
            || es.delete_snapshot(repository, name),
            |e, after| say(Said::Note(retry_note(e, after))),
        )
        .await?;
        say(Said::Note(format!("deleted snapshot {repository}:{name}")));
    }
    Ok(())
}
