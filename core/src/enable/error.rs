//! Why enable/disable refused to plan; each message says what was being attempted.

use crate::inject::InjectError;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EnableError {
    #[error("failed to read target {0:?}: expected sts/NAME, statefulset/NAME, statefulsets.apps/NAME, es/NAME or elasticsearch/NAME")]
    BadTarget(String),
    #[error("failed to plan {target}: {source}")]
    Inject {
        target: String,
        #[source]
        source: InjectError,
    },
    #[error("failed to plan: the StatefulSets of one cluster must share one claim, but {0}; set --claim or the logbackup.io/claim annotation")]
    ClaimsDiffer(String),
    #[error("cannot use PersistentVolumeClaim {name}: its access modes are [{modes}], not ReadWriteMany; every Elasticsearch node must mount the repository at once. Use an RWX storage class (NFS, CephFS, EFS, Azure Files) and another --claim")]
    NotReadWriteMany { name: String, modes: String },
    #[error("cannot use PersistentVolumeClaim {name}: it is {phase}")]
    ClaimUnusable { name: String, phase: String },
    /// A flag broke the injection contract (`Overrides::validate`).
    #[error("failed to plan enable: {0}")]
    Options(#[source] InjectError),
    #[error("failed to plan the claim {name}: it does not exist and no --storage-class was given to create it (pass --storage-class and --size, or create the ReadWriteMany claim first)")]
    NoStorageClass { name: String },
    #[error("invalid --size {0:?}: expected a Kubernetes quantity such as 100Gi")]
    BadSize(String),
    #[error("failed to plan {target}: {reason}")]
    Invalid { target: String, reason: String },
    #[error("refusing --via webhook: no logbackup MutatingWebhookConfiguration is installed (install it with `kubectl logbackup webhook install`, or use --via patch)")]
    NoWebhook,
}
