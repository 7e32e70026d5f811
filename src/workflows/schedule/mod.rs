//! `schedule create|list|delete|run-now`: a CronJob running `backup` (and, with a restore test, a
//! second one running `snapshot verify --restore-test`) through [`ScheduleCluster`], or an SLM /
//! Snapshot Management policy through an `EsClient`. What is written is planned by the core
//! (`logbackup_core::schedule`); the command line parses the flags and prints what these return.

mod cluster;
pub mod cron_jobs;
pub mod objects;
pub mod policies;

pub use cluster::ScheduleCluster;

use serde::Serialize;

use crate::es::Failed;
use crate::k8s::K8sError;
use logbackup_core::schedule::ScheduleError;

#[derive(Debug, thiserror::Error)]
pub enum ScheduleFailure {
    // Not `transparent`: the K8sError / Failed stays in the error chain, where the command line
    // finds its hint (its message is printed once).
    #[error("{0}")]
    Kubernetes(#[from] K8sError),
    #[error("{0}")]
    Elasticsearch(#[from] Failed),
    #[error("{0}")]
    Plan(#[from] ScheduleError),
    #[error(
        "the restore test's CronJob is called logbackup-NAME-verify: choose a shorter NAME: {0}"
    )]
    RestoreTestName(#[source] ScheduleError),
    /// What was asked cannot be done here; nothing was changed.
    #[error("{0}")]
    Refused(String),
    #[error("--es-url {0} holds credentials, which would be written in clear into the CronJob's arguments; put the password in a Secret and pass --password-secret NAME[/KEY] (and --username)")]
    CredentialsInUrl(String),
    #[error("finding Elasticsearch in the cluster needs a Kubernetes connection")]
    NoCluster,
    #[error("with --es-url, say where the CronJob goes with -n NAMESPACE")]
    NoNamespace,
    #[error("failed to reach Kubernetes or Elasticsearch to list schedules")]
    NothingReached,
    #[error("no schedule {name} in namespace {namespace}")]
    NotFound { name: String, namespace: String },
}

/// One scheduled job as `schedule list` shows it, whichever engine runs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScheduleRow {
    pub name: String,
    /// What runs: `backup`, or `restore-test` (a schedule's `--verify`).
    pub job: String,
    pub engine: String,
    pub namespace: String,
    pub schedule: String,
    pub time_zone: String,
    pub suspended: bool,
    pub last_run: Option<String>,
    pub last_success: Option<String>,
}

/// Our CronJobs and policies, from wherever was reached: at least one of the two.
pub async fn list(
    cluster: Option<&impl ScheduleCluster>,
    es: Option<&crate::es::EsClient>,
    namespace: Option<&str>,
) -> Result<Vec<ScheduleRow>, ScheduleFailure> {
    if cluster.is_none() && es.is_none() {
        return Err(ScheduleFailure::NothingReached);
    }
    let mut rows = Vec::new();
    if let Some(cluster) = cluster {
        rows.extend(cron_jobs::list(cluster, namespace).await?);
    }
    if let Some(es) = es {
        rows.extend(policies::list(es).await?);
    }
    Ok(rows)
}
