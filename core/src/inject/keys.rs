//! The names this tool writes into and reads from Kubernetes objects.

/// Opt-in label on the StatefulSet: `enabled` injects, `disabled` opts out even under `--all`.
pub const INJECT_LABEL: &str = "logbackup.io/inject";
pub const ENABLED: &str = "enabled";
pub const DISABLED: &str = "disabled";

/// Per-StatefulSet overrides of the defaults.
pub const CLAIM_ANNOTATION: &str = "logbackup.io/claim";
pub const PATH_ANNOTATION: &str = "logbackup.io/path";
pub const CONTAINER_ANNOTATION: &str = "logbackup.io/container";
pub const UID_ANNOTATION: &str = "logbackup.io/uid";
pub const GID_ANNOTATION: &str = "logbackup.io/gid";

/// Marker on the pod template: a JSON record of what was injected, so later plans update in place.
pub const INJECTED_ANNOTATION: &str = "logbackup.io/injected";

/// ECK labels the StatefulSets it generates with this.
pub const ECK_TYPE_LABEL: &str = "common.k8s.elastic.co/type";

pub const VOLUME_NAME: &str = "logbackup-repo";
pub const INIT_CONTAINER_NAME: &str = "logbackup-chown";

/// Env var the official Elasticsearch and OpenSearch entrypoints turn into `-Epath.repo=...`.
pub const PATH_REPO_ENV: &str = "path.repo";
/// Env var Bitnami's Elasticsearch scripts write into `path.repo`.
pub const BITNAMI_REPO_ENV: &str = "ELASTICSEARCH_FS_SNAPSHOT_REPO_PATH";

/// Role suffixes that charts append to one cluster's StatefulSet names; stripped to name the shared claim.
pub const ROLE_SUFFIXES: &[&str] = &[
    "coordinating-only",
    "coordinating",
    "discovery",
    "masters",
    "master",
    "data-content",
    "data-hot",
    "data-warm",
    "data-cold",
    "data-frozen",
    "data",
    "ingest",
    "client",
    "hot",
    "warm",
    "cold",
    "frozen",
    "ml",
    "nodes",
];

/// Log files: the pod-template annotation that opts a workload in, its value the directories
/// inside the containers whose files are kept (comma-separated: `/opt/logs,/var/log/app`).
pub const LOG_DIRS_ANNOTATION: &str = "logbackup.io/log-dirs";
/// Which containers get the log directories (comma-separated names; default: every container).
pub const LOG_CONTAINERS_ANNOTATION: &str = "logbackup.io/log-containers";
/// `"true"` also keeps the containers' stdout and stderr (the kubelet's `/var/log/pods` files).
pub const STDOUT_ANNOTATION: &str = "logbackup.io/stdout";
/// The log files' hostPath volume in the pod.
pub const FILES_VOLUME_NAME: &str = "logbackup-files";
/// Downward-API variables the log directories' `subPathExpr` is built from.
pub const FILES_NAMESPACE_ENV: &str = "LOGBACKUP_POD_NAMESPACE";
pub const FILES_POD_ENV: &str = "LOGBACKUP_POD_NAME";
pub const FILES_UID_ENV: &str = "LOGBACKUP_POD_UID";
/// Opt-in label on a workload (or a bare Pod) whose pod template names log directories: what the
/// webhook's objectSelector matches, so that no other object in the cluster waits on the webhook.
pub const FILES_LABEL: &str = "logbackup.io/files";
/// Where a container whose stdout is kept sees the (empty) marker directory the kubelet makes.
pub const STDOUT_MOUNT_PATH: &str = "/var/run/logbackup/stdout";
