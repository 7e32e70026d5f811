//! The product's identifiers: the names this tool writes into Kubernetes and Elasticsearch objects
//! and recognises its own work by. One home, so a rename is one edit. The injection's label and
//! annotation keys are in `inject::keys`.

/// Who we are: server-side apply's field manager, `app.kubernetes.io/managed-by` and `part-of`,
/// and the `taken_by` we put in snapshot and policy metadata.
pub const PRODUCT: &str = "kubectl-logbackup";

/// The snapshot-metadata key naming who took a snapshot; its value is [`PRODUCT`] for ours.
pub const TAKEN_BY_KEY: &str = "taken_by";

/// Recommended Kubernetes labels we set and read.
pub const PART_OF_LABEL: &str = "app.kubernetes.io/part-of";
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
pub const NAME_LABEL: &str = "app.kubernetes.io/name";

/// The container image: the webhook's entrypoint, with the plugin binary next to it.
pub const IMAGE: &str = "ghcr.io/logbackup/kubectl-logbackup:v0.1.0";
/// Where the image keeps the plugin binary (the scheduled CronJob runs it).
pub const PLUGIN_PATH: &str = "/usr/local/bin/kubectl-logbackup";

/// The webhook's Deployment, Service and MutatingWebhookConfiguration.
pub const WEBHOOK: &str = "logbackup-webhook";

/// `{"taken_by": "kubectl-logbackup"}`, the metadata our snapshots and policies carry.
pub fn taken_by_metadata() -> serde_json::Value {
    serde_json::json!({ TAKEN_BY_KEY: PRODUCT })
}

/// The node directory the injected pods' log directories live in (a hostPath the collector owns).
pub const FILES_ROOT: &str = "/var/lib/logbackup/files";
/// The log-file collector's DaemonSet, ServiceAccount and RBAC objects.
pub const FILES_COLLECTOR: &str = "logbackup-files";
/// The CronJob that copies the closed log files to S3.
pub const FILES_PUSH: &str = "logbackup-files-push";
/// The repository's top-level prefix for control-plane backups. Elasticsearch's `fs` and `s3`
/// repositories own only `index-N`, `index.latest`, `snap-*`, `meta-*`, `incompatible-snapshots`
/// and `indices/` at their root; a directory of another name is neither read nor deleted by them.
pub const ETCD_PREFIX: &str = "logbackup-etcd";

/// `app.kubernetes.io/component`, and our value for the etcd snapshot CronJob.
pub const COMPONENT_LABEL: &str = "app.kubernetes.io/component";
pub const ETCD_COMPONENT: &str = "etcd-snapshot";
/// The component label of the log backup's scheduled objects.
pub const SCHEDULED_BACKUP_COMPONENT: &str = "scheduled-backup";

/// kubeadm's control-plane node labels and taints (same keys): `master` until 1.24, `control-plane`
/// from 1.20.
pub const MASTER_ROLE_LABEL: &str = "node-role.kubernetes.io/master";
pub const CONTROL_PLANE_ROLE_LABEL: &str = "node-role.kubernetes.io/control-plane";
