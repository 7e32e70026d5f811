//! `status`: the facts gathered (nodes' `path.repo`, repositories and their verification, the
//! snapshots, disks, the off-site copy's record, the kept restore-test proofs) and judged by the
//! core (`snapshot::status::evaluate`, `sync::record::copy_status`, `snapshot::proof::evaluate`).

use std::future::Future;

use jiff::Timestamp;
use serde::Serialize;

use super::proofs::{self, ProofStore, ProofStoreError};
use super::Said;
use crate::es::listing::Detail;
use crate::es::{EsClient, EsError, Failed};
use crate::snapshot::path_repo::NodePaths;
use crate::snapshot::proof::{self, ProofStatus};
use crate::snapshot::state::SnapshotState;
use crate::snapshot::status::{evaluate, Health, RepositoryCheck, StatusInput};
use crate::sync::error::SyncError;
use crate::sync::record::{copy_status, CopyStatus};
use crate::sync::run::last_record;
use crate::sync::store::Store;

#[derive(Debug, Clone)]
pub struct StatusOptions {
    pub repository: String,
    /// Disk high watermark in percent.
    pub watermark: f64,
    /// The newest SUCCESS snapshot may be at most this many hours old.
    pub max_age_hours: u32,
    /// The newest passed restore test may be at most this many days old.
    pub max_proof_age_days: u32,
    /// No restore test ever recorded is a failure, not a note; so is having no proofs to read.
    pub require_proof: bool,
}

/// The off-site copy `repo sync` keeps, to compare with the repository.
pub struct OffSite {
    /// As the user wrote it: `s3://BUCKET/PREFIX` or a directory.
    pub url: String,
    pub store: Store,
}

/// What `status` found; serialised for `-o json|yaml` as it always was.
#[derive(Debug, Serialize)]
pub struct Report {
    pub version: String,
    pub cluster: String,
    pub repository: String,
    pub path_repo: Vec<NodePaths>,
    pub repositories: Vec<RepositoryCheck>,
    pub snapshots: usize,
    pub health: Health,
    /// Restore tests: the newest proof's age, and when each snapshot was last proven restorable.
    /// Absent when the proofs could not be read for want of Kubernetes access.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proofs: Option<ProofStatus>,
    /// The off-site copy (`--sync-to`): last sync and lag.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sync: Option<CopyStatus>,
}

impl Report {
    /// The repository, the off-site copy (if asked) and the restore tests (if read) are all well.
    pub fn healthy(&self) -> bool {
        self.health.healthy
            && self.sync.as_ref().is_none_or(|s| s.ok)
            && self.proofs.as_ref().is_none_or(|p| p.ok)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    #[error(transparent)]
    Elasticsearch(#[from] Failed),
    #[error(transparent)]
    OffSite(#[from] SyncError),
    #[error(transparent)]
    Proofs(#[from] ProofStoreError),
}

/// Gathers and judges. `proof_store` is awaited only when the proofs are read, after everything
/// else: opening it may mean reaching Kubernetes, which a run with `--es-url` may not have (then
/// a note, unless `require_proof`).
pub async fn status<S: ProofStore>(
    es: &EsClient,
    options: &StatusOptions,
    off_site: Option<&OffSite>,
    proof_store: impl Future<Output = Result<S, ProofStoreError>>,
    now: Timestamp,
    say: &mut dyn FnMut(Said),
) -> Result<Report, StatusError> {
    let nodes: Vec<NodePaths> = es
        .nodes_settings()
        .await?
        .nodes
        .values()
        .map(|n| n.paths())
        .collect();
    let mut repositories = Vec::new();
    for (name, info) in es.repositories(None).await? {
        let verification_error = match es.verify_repository(&name).await {
            Ok(_) => None,
            Err(e) => Some(e.kind().to_string()),
        };
        repositories.push(RepositoryCheck {
            name,
            kind: info.kind.clone(),
            location: info.location().map(str::to_string),
            verification_error,
        });
    }
    let snapshots = match es.list_summaries(&options.repository, Detail::Full).await {
        Ok(summaries) => summaries,
        Err(e) if matches!(e.kind(), EsError::RepositoryMissing(_)) => vec![],
        Err(e) => return Err(e.into()),
    };
    let disks = es.data_node_disks().await?;
    let input = StatusInput {
        nodes,
        repositories,
        repository: options.repository.clone(),
        snapshots,
        disks,
        watermark_pct: options.watermark,
        max_age_hours: options.max_age_hours,
        now_ms: now.as_millisecond(),
    };
    let health = evaluate(&input);
    let sync = match off_site {
        Some(off_site) => {
            let finished: Vec<String> = input
                .snapshots
                .iter()
                .filter(|s| s.state != SnapshotState::InProgress)
                .map(|s| s.name.clone())
                .collect();
            let record = last_record(&off_site.store).await?;
            Some(copy_status(&off_site.url, record.as_ref(), &finished, now))
        }
        None => None,
    };
    let proofs = proof_status(options, proof_store, input.now_ms, say).await?;
    Ok(Report {
        version: es.version.to_string(),
        cluster: es.cluster_name.clone(),
        repository: input.repository,
        path_repo: input.nodes,
        repositories: input.repositories,
        snapshots: input.snapshots.len(),
        health,
        proofs,
        sync,
    })
}

/// The restore-test finding; `None` (with a note) when there is no Kubernetes to read proofs from.
async fn proof_status<S: ProofStore>(
    options: &StatusOptions,
    store: impl Future<Output = Result<S, ProofStoreError>>,
    now_ms: i64,
    say: &mut dyn FnMut(Said),
) -> Result<Option<ProofStatus>, ProofStoreError> {
    let history = match store.await {
        Ok(store) => proofs::load(&store).await,
        Err(e) => Err(e),
    };
    match history {
        Ok(h) => Ok(Some(proof::evaluate(
            &h,
            &options.repository,
            now_ms,
            options.max_proof_age_days,
            options.require_proof,
        ))),
        Err(e) if e.is_unavailable() && !options.require_proof => {
            say(Said::Note(format!("note: restore-test proofs not checked: {e}; pass --proof-history FILE, or run where Kubernetes is reachable")));
            Ok(None)
        }
        Err(e) => Err(e),
    }
}
