//! The workflows as library functions: each takes the cluster through a small trait (implemented by
//! `k8s::Kube`, and by fakes in the tests) or Elasticsearch as an `EsClient` (tests run it against
//! the Elasticsearch double), decides with the core, and returns what it did for the command line to
//! print. No flags and no printing here: what a person should see as it happens goes through
//! [`Said`].

pub mod backup;
pub mod connect;
pub mod coverage;
pub mod enable;
pub mod proofs;
pub mod prune;
pub mod repo;
pub mod restore;
pub mod retry;
pub mod schedule;
pub mod snapshot;
pub mod snapshot_admin;
pub mod status;
pub mod verify;
pub mod verify_and_record;
pub mod volume_snapshots;
pub mod webhook_install;
pub mod webhook_status;

/// What a workflow tells the user as it goes; the command line prints it on stderr.
#[derive(Debug, Clone, PartialEq)]
pub enum Said {
    Note(String),
    /// A step of the rolling restart.
    Restart(RestartStep),
    /// A running snapshot's progress.
    Snapshot(snapshot::Progress),
    /// A restore's recovery so far.
    Recovery(restore::Recovery),
}

/// A step of the rolling restart, owned (the core's `restart::Progress` borrows).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestartStep {
    /// From 0.
    pub index: usize,
    pub total: usize,
    pub pod: String,
    pub step: String,
}

impl From<logbackup_core::enable::restart::Progress<'_>> for RestartStep {
    fn from(p: logbackup_core::enable::restart::Progress<'_>) -> Self {
        Self {
            index: p.index,
            total: p.total,
            pod: p.pod.to_owned(),
            step: p.step.to_string(),
        }
    }
}
