//! The CronJob that takes scheduled etcd snapshots on a control-plane node.
//!
//! It needs more than the log backup's CronJob, and no more than that:
//! - `hostNetwork`: kubeadm's etcd listens for clients on 127.0.0.1:2379 of the control-plane
//!   node only;
//! - read-only hostPath mounts of the certificate and static-manifest directories, nothing else
//!   (the snapshot comes through etcd's API, never from `/var/lib/etcd`);
//! - uid 0 with every capability dropped: kubeadm's keys are root-owned 0600 files, which their
//!   owner reads without CAP_DAC_OVERRIDE; no privilege escalation, read-only root filesystem;
//! - a node selector and tolerations for control-plane nodes, `master` and `control-plane` alike;
//! - no Kubernetes credentials: it talks to etcd and writes to the repository claim.
//!
//! hostNetwork and hostPath put the pod in the `privileged` Pod Security level: its namespace must
//! allow that.

use std::collections::BTreeMap;

use k8s_openapi::api::batch::v1::CronJob;
use k8s_openapi::api::core::v1::{
    Container, EnvVar, EnvVarSource, HostPathVolumeSource, ObjectFieldSelector,
    PersistentVolumeClaimVolumeSource, PodSpec, ServiceAccount, Toleration, Volume, VolumeMount,
};
use serde_json::Value;

use crate::schedule::shape::Shape;
use crate::schedule::{Schedule, ScheduleError};

/// Where the pod sees the host's directories and the repository.
pub const REPOSITORY_MOUNT: &str = "/repository";
pub const PKI_MOUNT: &str = "/etc/kubernetes/pki";
pub const MANIFESTS_MOUNT: &str = "/etc/kubernetes/manifests";

/// The node label kubeadm gives control-plane nodes: `master` before 1.20, `control-plane` from
/// 1.20 (1.20 to 1.23 carry both; 1.24 dropped `master`).
pub fn node_role_label(server_minor: u32) -> &'static str {
    if server_minor < 20 {
        crate::ids::MASTER_ROLE_LABEL
    } else {
        crate::ids::CONTROL_PLANE_ROLE_LABEL
    }
}

#[derive(Debug, Clone)]
pub struct EtcdCronJobPlan {
    pub name: String,
    pub namespace: String,
    pub schedule: Schedule,
    pub image: String,
    /// The repository's PersistentVolumeClaim.
    pub claim: String,
    /// The node's directories (kubeadm's unless told otherwise).
    pub pki_dir: String,
    pub manifests_dir: String,
    pub endpoint: String,
    pub keep: usize,
    pub exclude_keys: bool,
    pub compress: bool,
    /// The API server's minor version: the node label and the `timeZone` field depend on it.
    pub server_minor: u32,
}

impl EtcdCronJobPlan {
    /// The arguments after the binary; every path is the pod's view.
    pub fn args(&self) -> Vec<String> {
        let mut a: Vec<String> = [
            "etcd",
            "save",
            "--scheduled",
            "--repo",
            REPOSITORY_MOUNT,
            "--endpoints",
            &self.endpoint,
            "--pki-dir",
            PKI_MOUNT,
            "--manifests-dir",
            MANIFESTS_MOUNT,
            "--keep",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        a.push(self.keep.to_string());
        if self.exclude_keys {
            a.push("--exclude-keys".into());
        }
        if self.compress {
            a.push("--compress".into());
        }
        a
    }
}

pub fn object_name(schedule: &str) -> String {
    format!("logbackup-etcd-{schedule}")
}

fn host_dir(name: &str, path: &str) -> Volume {
    Volume {
        name: name.into(),
        host_path: Some(HostPathVolumeSource {
            path: path.into(),
            // Directory, not DirectoryOrCreate: a node without kubeadm's layout fails the pod
            // instead of getting empty directories made on it.
            type_: Some("Directory".into()),
        }),
        ..Default::default()
    }
}

fn mount(name: &str, path: &str, read_only: bool) -> VolumeMount {
    VolumeMount {
        name: name.into(),
        mount_path: path.into(),
        read_only: Some(read_only),
        ..Default::default()
    }
}

pub fn service_account(plan: &EtcdCronJobPlan) -> ServiceAccount {
    shape(plan).service_account()
}

pub fn cron_job(plan: &EtcdCronJobPlan) -> CronJob {
    shape(plan).cron_job()
}

/// The etcd snapshot's place in the shared CronJob shape: what it adds is the module's list.
fn shape(plan: &EtcdCronJobPlan) -> Shape {
    let container = Container {
        // The snapshot is named after the node it was taken on.
        env: Some(vec![EnvVar {
            name: "NODE_NAME".into(),
            value_from: Some(EnvVarSource {
                field_ref: Some(ObjectFieldSelector {
                    field_path: "spec.nodeName".into(),
                    api_version: None,
                }),
                ..Default::default()
            }),
            ..Default::default()
        }]),
        volume_mounts: Some(vec![
            mount("pki", PKI_MOUNT, true),
            mount("manifests", MANIFESTS_MOUNT, true),
            mount("repository", REPOSITORY_MOUNT, false),
        ]),
        ..crate::schedule::shape::plugin_container(
            "etcd-snapshot",
            &plan.image,
            plan.args(),
            // The snapshot streams to the file a chunk at a time; the key count holds one page.
            "256Mi",
            false,
        )
    };
    let tolerations = [
        crate::ids::MASTER_ROLE_LABEL,
        crate::ids::CONTROL_PLANE_ROLE_LABEL,
    ]
    .iter()
    .map(|key| Toleration {
        key: Some(key.to_string()),
        operator: Some("Exists".into()),
        effect: Some("NoSchedule".into()),
        ..Default::default()
    })
    .collect();
    let pod = PodSpec {
        automount_service_account_token: Some(false),
        host_network: Some(true),
        dns_policy: Some("ClusterFirstWithHostNet".into()),
        node_selector: Some(BTreeMap::from([(
            node_role_label(plan.server_minor).to_string(),
            String::new(),
        )])),
        tolerations: Some(tolerations),
        // Root to read kubeadm's 0600 keys as their owner; no capability comes with it.
        security_context: Some(crate::schedule::shape::pod_security_context(0)),
        containers: vec![container],
        volumes: Some(vec![
            host_dir("pki", &plan.pki_dir),
            host_dir("manifests", &plan.manifests_dir),
            Volume {
                name: "repository".into(),
                persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                    claim_name: plan.claim.clone(),
                    read_only: Some(false),
                }),
                ..Default::default()
            },
        ]),
        ..Default::default()
    };
    Shape {
        name: object_name(&plan.name),
        namespace: plan.namespace.clone(),
        labels: crate::schedule::shape::labels(&plan.name, crate::ids::ETCD_COMPONENT),
        schedule: plan.schedule.expression(),
        time_zone: (plan.server_minor >= 27).then(|| plan.schedule.time_zone.clone()),
        starting_deadline_seconds: 300,
        active_deadline_seconds: 1800,
        ttl_seconds_after_finished: 86_400,
        pod,
    }
}

/// The ServiceAccount and the CronJob, in apply order, with apiVersion and kind. Servers before
/// 1.21 serve CronJobs as `batch/v1beta1`, with the same fields this one uses.
pub fn render(plan: &EtcdCronJobPlan) -> Result<Vec<Value>, ScheduleError> {
    let to_value = |what: &str, v: serde_json::Result<Value>| {
        v.map_err(|e| ScheduleError::Render {
            what: what.into(),
            why: e.to_string(),
        })
    };
    let sa = to_value(
        "ServiceAccount",
        serde_json::to_value(service_account(plan)),
    )?;
    let mut cj = to_value("CronJob", serde_json::to_value(cron_job(plan)))?;
    if plan.server_minor < 21 {
        cj["apiVersion"] = Value::from("batch/v1beta1");
    }
    Ok(vec![sa, cj])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(minor: u32) -> EtcdCronJobPlan {
        EtcdCronJobPlan {
            name: "hourly".into(),
            namespace: "kube-system".into(),
            schedule: Schedule::parse("0 * * * *", Some("UTC")).unwrap(),
            image: "img:1".into(),
            claim: "es-backup".into(),
            pki_dir: "/etc/kubernetes/pki".into(),
            manifests_dir: "/etc/kubernetes/manifests".into(),
            endpoint: "https://127.0.0.1:2379".into(),
            keep: 24,
            exclude_keys: false,
            compress: true,
            server_minor: minor,
        }
    }

    #[test]
    fn the_pod_reaches_loopback_etcd_on_a_control_plane_node_with_read_only_host_dirs() {
        let objects = render(&plan(33)).unwrap();
        let pod = &objects[1]["spec"]["jobTemplate"]["spec"]["template"]["spec"];
        assert_eq!(pod["hostNetwork"], true);
        assert_eq!(
            pod["nodeSelector"],
            serde_json::json!({"node-role.kubernetes.io/control-plane": ""})
        );
        let keys: Vec<&str> = pod["tolerations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["key"].as_str().unwrap())
            .collect();
        assert_eq!(
            keys,
            [
                "node-role.kubernetes.io/master",
                "node-role.kubernetes.io/control-plane"
            ]
        );
        let host: Vec<&str> = pod["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|v| v["hostPath"]["path"].as_str())
            .collect();
        assert_eq!(
            host,
            ["/etc/kubernetes/pki", "/etc/kubernetes/manifests"],
            "never /var/lib/etcd"
        );
        let mounts = pod["containers"][0]["volumeMounts"].as_array().unwrap();
        assert!(mounts
            .iter()
            .filter(|m| m["name"] != "repository")
            .all(|m| m["readOnly"] == true));
        assert_eq!(
            pod["containers"][0]["securityContext"]["capabilities"]["drop"],
            serde_json::json!(["ALL"])
        );
        assert_eq!(objects[1]["apiVersion"], "batch/v1");
        assert_eq!(objects[1]["spec"]["timeZone"], "UTC");
        let args = pod["containers"][0]["args"].as_array().unwrap();
        assert!(args.iter().any(|a| a == "--scheduled"));
        assert!(args.iter().any(|a| a == "--compress"));
    }

    #[test]
    fn older_servers_get_the_master_label_and_v1beta1() {
        let objects = render(&plan(19)).unwrap();
        assert_eq!(objects[1]["apiVersion"], "batch/v1beta1");
        let pod = &objects[1]["spec"]["jobTemplate"]["spec"]["template"]["spec"];
        assert_eq!(
            pod["nodeSelector"],
            serde_json::json!({"node-role.kubernetes.io/master": ""})
        );
        assert!(objects[1]["spec"].get("timeZone").is_none());
    }
}
