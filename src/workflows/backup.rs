//! `backup`, the one command the scheduled CronJob runs: snapshot and wait, then, only after a
//! SUCCESS, prune, copy off-site and take a volume snapshot. A PARTIAL or FAILED night never deletes
//! an older complete backup. The steps after the snapshot are behind [`AfterSuccess`], so the rule
//! is tested in-process with steps that record what they were asked.

use jiff::Timestamp;
use serde::Serialize;

use super::snapshot::{create_and_wait, SnapshotError, SnapshotOptions};
use super::Said;
use crate::es::types::{CreateSnapshot, SnapshotInfo};
use crate::es::EsClient;
use crate::snapshot::SnapshotState;

/// An error of a step the caller supplies, shown as it is.
pub type StepError = Box<dyn std::error::Error + Send + Sync>;

/// The steps that run only after a SUCCESS snapshot.
#[allow(async_fn_in_trait)] // Used through generics only, on one task: no Send bound needed.
pub trait AfterSuccess {
    /// The report of pruning.
    type Pruned: Serialize;
    /// The snapshot has ended (any state): the moment to say how.
    fn snapshot_ended(&mut self, info: &SnapshotInfo);
    /// Deletes what the retention policy says; the report, and whether every deletion was done.
    async fn prune(&mut self) -> Result<(Self::Pruned, bool), StepError>;
    /// Copies the repository off the cluster, if asked (`None`: not asked).
    async fn copy_off_site(&mut self) -> Result<Option<crate::sync::run::Outcome>, StepError>;
    /// Whether a copy off the cluster was asked for.
    fn copy_asked(&self) -> bool;
    /// Takes a VolumeSnapshot of the repository claim, if asked; its name.
    async fn volume_snapshot(&mut self, snapshot: &str) -> Result<Option<String>, StepError>;
}

/// What backup did; serialised for `-o json|yaml` as it always was.
#[derive(Debug, Serialize)]
pub struct Outcome<P> {
    pub snapshot: SnapshotInfo,
    /// Absent when the snapshot was not SUCCESS: nothing was pruned.
    pub prune: Option<P>,
    /// The off-site copy (`--sync-to`), made only after a SUCCESS snapshot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sync: Option<crate::sync::run::Outcome>,
    /// The VolumeSnapshot requested (`--volume-snapshot-class`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volume_snapshot: Option<String>,
    /// SUCCESS, and every step after it done.
    #[serde(skip)]
    pub ok: bool,
}

/// Snapshot `name`, wait, and after a SUCCESS the steps; a step that fails after a SUCCESS is said
/// and makes the outcome not ok, but the others still run.
pub async fn backup<A: AfterSuccess>(
    es: &EsClient,
    options: &SnapshotOptions,
    name: &str,
    body: &CreateSnapshot,
    after: &mut A,
    now: Timestamp,
    say: &mut dyn FnMut(Said),
) -> Result<Outcome<A::Pruned>, BackupError> {
    let info = create_and_wait(es, options, name, body, now, say).await?;
    after.snapshot_ended(&info);
    let success = info.state == Some(SnapshotState::Success);
    if !success {
        say(Said::Note(
            "not pruning: the newest snapshot is not a complete backup".into(),
        ));
        if after.copy_asked() {
            say(Said::Note(
                "not copying off the cluster: the newest snapshot is not a complete backup".into(),
            ));
        }
        return Ok(Outcome {
            snapshot: info,
            prune: None,
            sync: None,
            volume_snapshot: None,
            ok: false,
        });
    }
    let (report, pruned_ok) = after.prune().await.map_err(BackupError::Prune)?;
    // The copy follows the repository as it now is: after the snapshot, and after pruning.
    let (sync, synced_ok) = match after.copy_off_site().await {
        Ok(o) => (o, true),
        Err(e) => {
            say(Said::Note(format!("error: the snapshot is complete, but copying the repository off the cluster failed: {e}")));
            (None, false)
        }
    };
    // A volume snapshot between two repository operations is a consistent copy of the volume.
    let (volume_snapshot, volume_ok) = match after.volume_snapshot(&info.snapshot).await {
        Ok(name) => (name, true),
        Err(e) => {
            say(Said::Note(format!("error: the snapshot is complete, but the VolumeSnapshot of the repository claim failed: {e}")));
            (None, false)
        }
    };
    Ok(Outcome {
        snapshot: info,
        prune: Some(report),
        sync,
        volume_snapshot,
        ok: pruned_ok && synced_ok && volume_ok,
    })
}

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{0}")]
    Snapshot(#[from] SnapshotError),
    /// Pruning could not run at all (a deletion that failed is in its report instead).
    #[error("{0}")]
    Prune(#[source] StepError),
}
