//! CSI VolumeSnapshots of the repository claim (`backup --volume-snapshot-class`): names, the
//! object, what `list` shows, and which to delete to keep N. Pure.
//!
//! The repository's blobs are immutable and its root is replaced whole, so a volume snapshot taken
//! between two repository operations (right after `backup`'s snapshot) is a consistent copy. It
//! stays in the same storage system as the volume: a fast local rollback, not an off-site backup.

use serde::Serialize;
use serde_json::{json, Value};

pub const API_VERSION: &str = "snapshot.storage.k8s.io/v1";
pub const GROUP: &str = "snapshot.storage.k8s.io";
pub const VERSION: &str = "v1";
pub const KIND: &str = "VolumeSnapshot";
pub const PLURAL: &str = "volumesnapshots";
/// Which claim a VolumeSnapshot of ours copies; `list` and retention select on it.
pub const CLAIM_LABEL: &str = "logbackup.io/claim";
/// The Elasticsearch snapshot it was taken after.
pub const SNAPSHOT_ANNOTATION: &str = "logbackup.io/snapshot";

pub const NOTICE: &str = "note: a VolumeSnapshot stays inside the same storage system as the repository volume: it is a fast local rollback, not an off-site backup. For a copy that survives the loss of that storage, use `repo sync` or `schedule create --sync-to`.";

/// `<claim>-<snapshot>`, cut to the 253 characters an object name may have.
pub fn name(claim: &str, snapshot: &str) -> String {
    let mut n = format!("{claim}-{snapshot}").to_lowercase();
    n.truncate(253);
    n.trim_end_matches(['-', '.']).to_string()
}

pub fn object(namespace: &str, claim: &str, class: &str, snapshot: &str) -> Value {
    json!({
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {
            "name": name(claim, snapshot),
            "namespace": namespace,
            "labels": {
                crate::schedule::MANAGED_BY_LABEL: crate::schedule::MANAGED_BY,
                CLAIM_LABEL: claim,
            },
            "annotations": {SNAPSHOT_ANNOTATION: snapshot},
        },
        "spec": {
            "volumeSnapshotClassName": class,
            "source": {"persistentVolumeClaimName": claim},
        },
    })
}

/// One VolumeSnapshot as `repo volume-snapshots list` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Listed {
    pub name: String,
    pub claim: String,
    pub created: String,
    pub ready: bool,
    /// `status.restoreSize`, once the driver reports it.
    pub size: Option<String>,
    /// Why it is not ready: the driver's error, or that no driver has answered yet.
    pub detail: String,
}

pub fn listed(object: &Value) -> Listed {
    let status = &object["status"];
    let ready = status["readyToUse"].as_bool().unwrap_or(false);
    let detail = if ready {
        String::new()
    } else if let Some(message) = status["error"]["message"].as_str() {
        message.to_string()
    } else if status.is_null() {
        "not ready: no snapshot controller or CSI driver has picked it up".to_string()
    } else {
        "not ready: the CSI driver is still taking it".to_string()
    };
    Listed {
        name: object["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        claim: object["spec"]["source"]["persistentVolumeClaimName"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        created: object["metadata"]["creationTimestamp"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        ready,
        size: status["restoreSize"].as_str().map(str::to_string),
        detail,
    }
}

/// The names to delete so that the `keep` newest remain (by creation time, then name).
pub fn to_delete(list: &[Listed], keep: usize) -> Vec<String> {
    let mut sorted: Vec<&Listed> = list.iter().collect();
    sorted.sort_by(|a, b| (&b.created, &b.name).cmp(&(&a.created, &a.name)));
    sorted.iter().skip(keep).map(|l| l.name.clone()).collect()
}

/// Binds the Role `name` to the ServiceAccount `name`, both in `namespace`: how a scheduled job's
/// own ServiceAccount gets its own Role (VolumeSnapshots, restore-test proofs).
pub fn role_binding(namespace: &str, name: &str) -> k8s_openapi::api::rbac::v1::RoleBinding {
    use k8s_openapi::api::rbac::v1::{RoleBinding, RoleRef, Subject};
    RoleBinding {
        metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
            name: Some(name.to_string()),
            namespace: Some(namespace.to_string()),
            ..Default::default()
        },
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".into(),
            kind: "Role".into(),
            name: name.to_string(),
        },
        subjects: Some(vec![Subject {
            kind: "ServiceAccount".into(),
            name: name.to_string(),
            namespace: Some(namespace.to_string()),
            ..Default::default()
        }]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_after_claim_and_snapshot() {
        assert_eq!(
            name("elasticsearch-logging-backup", "nightly-20261201010000"),
            "elasticsearch-logging-backup-nightly-20261201010000"
        );
        assert_eq!(
            name(&"a".repeat(252), "x"),
            "a".repeat(252),
            "no trailing dash"
        );
    }

    #[test]
    fn the_object_points_at_the_claim_with_the_class() {
        let o = object("logs", "repo-claim", "csi-rbd", "nightly-1");
        assert_eq!(
            o["spec"]["source"]["persistentVolumeClaimName"],
            "repo-claim"
        );
        assert_eq!(o["spec"]["volumeSnapshotClassName"], "csi-rbd");
        assert_eq!(o["metadata"]["labels"][CLAIM_LABEL], "repo-claim");
        assert_eq!(
            o["metadata"]["annotations"][SNAPSHOT_ANNOTATION],
            "nightly-1"
        );
    }

    #[test]
    fn not_ready_says_why() {
        let mut o = object("logs", "c", "k", "s");
        o["metadata"]["creationTimestamp"] = json!("2026-12-01T01:00:00Z");
        let l = listed(&o);
        assert!(!l.ready);
        assert!(l.detail.contains("no snapshot controller"));
        o["status"] = json!({"readyToUse": true, "restoreSize": "100Gi"});
        let l = listed(&o);
        assert!(l.ready);
        assert_eq!(l.size.as_deref(), Some("100Gi"));
        o["status"] = json!({"readyToUse": false, "error": {"message": "driver said no"}});
        assert_eq!(listed(&o).detail, "driver said no");
    }

    #[test]
    fn retention_keeps_the_newest() {
        let at = |n: &str, t: &str| Listed {
            name: n.into(),
            claim: "c".into(),
            created: t.into(),
            ready: false,
            size: None,
            detail: String::new(),
        };
        let list = [
            at("a", "2026-11-29T01:00:00Z"),
            at("c", "2026-12-01T01:00:00Z"),
            at("b", "2026-11-30T01:00:00Z"),
        ];
        assert_eq!(to_delete(&list, 2), ["a"]);
        assert_eq!(to_delete(&list, 0), ["c", "b", "a"]);
        assert!(to_delete(&list, 5).is_empty());
    }
}

/// What a scheduled `backup` does about VolumeSnapshots (`schedule create --volume-snapshot-class`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeSnapshotJob {
    pub class: String,
    pub claim: String,
    pub keep: usize,
}

impl VolumeSnapshotJob {
    pub fn args(&self) -> Vec<String> {
        vec![
            "--volume-snapshot-class".into(),
            self.class.clone(),
            "--volume-snapshot-claim".into(),
            self.claim.clone(),
            "--keep-volume-snapshots".into(),
            self.keep.to_string(),
        ]
    }

    /// The only Kubernetes rights the job then needs: VolumeSnapshots in its own namespace.
    pub fn role(&self, namespace: &str, name: &str) -> k8s_openapi::api::rbac::v1::Role {
        use k8s_openapi::api::rbac::v1::{PolicyRule, Role};
        Role {
            metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                name: Some(name.to_string()),
                namespace: Some(namespace.to_string()),
                ..Default::default()
            },
            rules: Some(vec![PolicyRule {
                api_groups: Some(vec![GROUP.into()]),
                resources: Some(vec![PLURAL.into()]),
                verbs: vec!["create".into(), "list".into(), "delete".into()],
                ..Default::default()
            }]),
        }
    }

    pub fn role_binding(
        &self,
        namespace: &str,
        name: &str,
    ) -> k8s_openapi::api::rbac::v1::RoleBinding {
        role_binding(namespace, name)
    }
}
