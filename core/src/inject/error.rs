use std::fmt;

/// Why a StatefulSet that asked for injection could not be injected.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum InjectError {
    #[error("failed to read the object as an apps/v1 StatefulSet: {0}")]
    NotAStatefulSet(String),
    #[error("StatefulSet {sts} has no pod template spec.template.spec to inject into")]
    NoPodSpec { sts: String },
    #[error("failed to find the Elasticsearch container in {sts}: no container {reason}; containers are [{}]; set the annotation logbackup.io/container", .containers.join(", "))]
    ContainerNotFound {
        sts: String,
        reason: String,
        containers: Vec<String>,
    },
    #[error("failed to choose the Elasticsearch container in {sts}: {} all look like Elasticsearch ({how}); set the annotation logbackup.io/container to one of them", .candidates.join(", "))]
    AmbiguousContainer {
        sts: String,
        how: &'static str,
        candidates: Vec<String>,
    },
    #[error("invalid annotation {key}={value:?} on {sts}: {reason}")]
    InvalidSetting {
        sts: String,
        key: &'static str,
        value: String,
        reason: String,
    },
    #[error("invalid {flag} {value:?}: {reason}")]
    InvalidOverride {
        flag: &'static str,
        value: String,
        reason: String,
    },
    #[error("failed to mount the repository in {sts}: container {container} already mounts volume {volume} at {path}; set logbackup.io/path to another directory")]
    PathTaken {
        sts: String,
        container: String,
        volume: String,
        path: String,
    },
    #[error("failed to put the log directory {path} of {object} on the node: {mount} there already; remove that mount (the files then live on the node's log root, which outlives the pod)")]
    LogDirTaken {
        object: String,
        /// `container C mounts volume V`.
        mount: String,
        path: String,
    },
    #[error("failed to give {object} its log directories: container {container} already sets the variable {name} otherwise; the directories' paths on the node are made from it, so rename yours")]
    EnvTaken {
        object: String,
        container: String,
        name: String,
    },
}

/// Something the operator should know about an injection that still went ahead (or was skipped).
/// The webhook returns these as admission warnings, so each is one short line.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Warning {
    pub code: &'static str,
    pub message: String,
}

impl Warning {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "logbackup: {}", self.message)
    }
}
