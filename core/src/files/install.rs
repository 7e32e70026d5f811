//! The collector's objects, planned: a ServiceAccount with no API access and the DaemonSet that
//! runs `kubectl-logbackup files collect` on every node.
//!
//! Each privilege, and why it is there (docs/files.md says the same to users):
//! - runs as uid 0 with only `DAC_READ_SEARCH` (read any pod's files, whatever their owner and
//!   mode), `DAC_OVERRIDE` (remove a finished pod's directories, which its own user made) and
//!   `FOWNER` (remove files in the log root, which is sticky); every other capability dropped, no
//!   privilege escalation, a read-only root filesystem;
//! - three hostPath volumes: the log root (read-write: the collector removes a pod's directory
//!   after its final pass), the kubelet's `pods` directory (read-only, with `HostToContainer`
//!   propagation so the kubelet's unmounts reach the container and no pod directory is kept
//!   busy) to know which pods the kubelet still holds, and `/var/log/pods` (read-only) for the
//!   stdout and stderr of the pods that asked for them. hostPath volumes need the namespace's Pod
//!   Security level to be `privileged`;
//! - no Kubernetes API access at all: the token is not mounted and no Role is bound. The layout
//!   (namespace, workload, pod, uid) is in the paths the injection made, and whether a pod can
//!   still write is the kubelet's pod directory, not the API's view of the pod (which can be gone
//!   while containers still run, after a forced delete, or say Running after its volumes went).
//!
//! With a push destination, a CronJob copies the closed files to S3 with `files push`, the
//! existing sync code: one pod for the whole archive rather than one per node, since the archive
//! is shared; it reads the claim read-only as uid 65532, with no capability and no API access.

use serde_json::{json, Value};

use crate::ids::{
    FILES_COLLECTOR, FILES_PUSH, FILES_ROOT, IMAGE, MANAGED_BY_LABEL, NAME_LABEL, PART_OF_LABEL,
    PLUGIN_PATH, PRODUCT,
};

/// Where the archive volume is mounted in the collector.
pub const REPOSITORY_MOUNT: &str = "/repository";

#[derive(Debug, Clone)]
pub struct InstallOptions {
    pub namespace: String,
    /// The ReadWriteMany claim the archive lives on (the snapshot repository's claim, typically).
    pub claim: String,
    /// The directory under the claim the archive uses.
    pub prefix: String,
    pub image: String,
    pub kubelet_root: String,
    pub pod_logs: String,
    /// Between passes (`1s`).
    pub interval: String,
    /// Copy the closed files to S3 on a schedule.
    pub push: Option<PushOptions>,
}

#[derive(Debug, Clone)]
pub struct PushOptions {
    /// `s3://BUCKET/PREFIX`.
    pub destination: String,
    /// Cron, in the controller's time zone.
    pub schedule: String,
    /// A Secret whose keys are the AWS_* variables (`AWS_ACCESS_KEY_ID`, ...), given as environment.
    pub secret: Option<String>,
    /// Further `files push` flags (`--endpoint URL`, `--region R`, `--addressing path`).
    pub flags: Vec<String>,
    /// `batch/v1`, or `batch/v1beta1` before Kubernetes 1.21.
    pub api_version: String,
}

impl InstallOptions {
    pub fn new(namespace: &str, claim: &str) -> Self {
        Self {
            namespace: namespace.to_owned(),
            claim: claim.to_owned(),
            prefix: "files".to_owned(),
            image: IMAGE.to_owned(),
            kubelet_root: "/var/lib/kubelet".to_owned(),
            pod_logs: "/var/log/pods".to_owned(),
            interval: "1s".to_owned(),
            push: None,
        }
    }
}

fn labels() -> Value {
    json!({
        NAME_LABEL: FILES_COLLECTOR,
        PART_OF_LABEL: PRODUCT,
        MANAGED_BY_LABEL: PRODUCT,
    })
}

/// The objects in the order they are applied (and deleted in reverse).
pub fn objects(o: &InstallOptions) -> Vec<Value> {
    let archive = format!("{REPOSITORY_MOUNT}/{}", o.prefix.trim_matches('/'));
    let kubelet_pods = format!("{}/pods", o.kubelet_root.trim_end_matches('/'));
    let service_account = json!({
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": { "name": FILES_COLLECTOR, "namespace": o.namespace, "labels": labels() },
        "automountServiceAccountToken": false,
    });
    let daemon_set = json!({
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": { "name": FILES_COLLECTOR, "namespace": o.namespace, "labels": labels() },
        "spec": {
            "selector": { "matchLabels": { NAME_LABEL: FILES_COLLECTOR } },
            // One node at a time: each collector resumes from its checkpoint in the archive.
            "updateStrategy": { "type": "RollingUpdate", "rollingUpdate": { "maxUnavailable": 1 } },
            "template": {
                "metadata": { "labels": labels() },
                "spec": {
                    "serviceAccountName": FILES_COLLECTOR,
                    "automountServiceAccountToken": false,
                    // Evicted last: while it is down, finished pods' files wait on the node.
                    "priorityClassName": "system-node-critical",
                    // Every node that runs pods, tainted ones too.
                    "tolerations": [{ "operator": "Exists" }],
                    // Time for the last pass after SIGTERM.
                    "terminationGracePeriodSeconds": 30,
                    "containers": [{
                        "name": "collect",
                        "image": o.image,
                        "command": [
                            PLUGIN_PATH, "files", "collect",
                            "--archive", archive,
                            "--root", FILES_ROOT,
                            "--kubelet-root", "/host/kubelet",
                            "--pod-logs", "/host/pod-logs",
                            "--interval", o.interval,
                        ],
                        "env": [{ "name": "NODE_NAME", "valueFrom": { "fieldRef": { "fieldPath": "spec.nodeName" } } }],
                        "resources": {
                            "requests": { "cpu": "20m", "memory": "16Mi" },
                            "limits": { "memory": "64Mi" },
                        },
                        "securityContext": {
                            "runAsUser": 0,
                            "runAsNonRoot": false,
                            "readOnlyRootFilesystem": true,
                            "allowPrivilegeEscalation": false,
                            "capabilities": {
                                "drop": ["ALL"],
                                "add": ["DAC_READ_SEARCH", "DAC_OVERRIDE", "FOWNER"],
                            },
                            "seccompProfile": { "type": "RuntimeDefault" },
                        },
                        "volumeMounts": [
                            { "name": "log-root", "mountPath": FILES_ROOT },
                            { "name": "kubelet-pods", "mountPath": "/host/kubelet/pods", "readOnly": true, "mountPropagation": "HostToContainer" },
                            { "name": "pod-logs", "mountPath": "/host/pod-logs", "readOnly": true },
                            { "name": "repository", "mountPath": REPOSITORY_MOUNT },
                        ],
                    }],
                    "volumes": [
                        { "name": "log-root", "hostPath": { "path": FILES_ROOT, "type": "DirectoryOrCreate" } },
                        { "name": "kubelet-pods", "hostPath": { "path": kubelet_pods, "type": "Directory" } },
                        { "name": "pod-logs", "hostPath": { "path": o.pod_logs, "type": "DirectoryOrCreate" } },
                        { "name": "repository", "persistentVolumeClaim": { "claimName": o.claim } },
                    ],
                },
            },
        },
    });
    let mut objects = vec![service_account, daemon_set];
    if let Some(push) = &o.push {
        objects.push(push_cron_job(o, push, &archive));
    }
    objects
}

/// The CronJob of `files push`, named for uninstall whatever its options.
pub fn push_cron_job(o: &InstallOptions, push: &PushOptions, archive: &str) -> Value {
    let mut command = vec![
        PLUGIN_PATH.to_owned(),
        "files".into(),
        "push".into(),
        push.destination.clone(),
        "--archive".into(),
        archive.to_owned(),
    ];
    command.extend(push.flags.iter().cloned());
    let env_from: Vec<Value> = push
        .secret
        .iter()
        .map(|name| json!({ "secretRef": { "name": name } }))
        .collect();
    json!({
        "apiVersion": push.api_version,
        "kind": "CronJob",
        "metadata": { "name": FILES_PUSH, "namespace": o.namespace, "labels": labels() },
        "spec": {
            "schedule": push.schedule,
            // A slow push is never doubled: the next run finishes what it left (closed files never change).
            "concurrencyPolicy": "Forbid",
            "successfulJobsHistoryLimit": 1,
            "failedJobsHistoryLimit": 3,
            "jobTemplate": { "spec": {
                "backoffLimit": 2,
                "template": {
                    "metadata": { "labels": labels() },
                    "spec": {
                        "serviceAccountName": FILES_COLLECTOR,
                        "automountServiceAccountToken": false,
                        "restartPolicy": "Never",
                        "securityContext": {
                            "runAsNonRoot": true, "runAsUser": PUSH_USER, "runAsGroup": PUSH_USER,
                            "seccompProfile": { "type": "RuntimeDefault" },
                        },
                        "containers": [{
                            "name": "push",
                            "image": o.image,
                            "command": command,
                            "envFrom": env_from,
                            "resources": {
                                "requests": { "cpu": "20m", "memory": "32Mi" },
                                "limits": { "memory": "128Mi" },
                            },
                            "securityContext": {
                                "readOnlyRootFilesystem": true,
                                "allowPrivilegeEscalation": false,
                                "capabilities": { "drop": ["ALL"] },
                            },
                            "volumeMounts": [{ "name": "repository", "mountPath": REPOSITORY_MOUNT, "readOnly": true }],
                        }],
                        "volumes": [{ "name": "repository", "persistentVolumeClaim": { "claimName": o.claim, "readOnly": true } }],
                    },
                },
            }},
        },
    })
}

/// The image's unprivileged user, as the webhook and the schedules run.
const PUSH_USER: i64 = 65532;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_collector_gets_the_three_node_directories_and_the_archive_and_no_api_access() {
        let objects = objects(&InstallOptions::new("logbackup-system", "logs-backup"));
        let ds = &objects[1];
        let pod = &ds["spec"]["template"]["spec"];
        assert_eq!(pod["automountServiceAccountToken"], false);
        assert_eq!(objects[0]["automountServiceAccountToken"], false);
        let c = &pod["containers"][0];
        let caps = &c["securityContext"]["capabilities"];
        assert_eq!(caps["drop"], json!(["ALL"]));
        assert_eq!(caps["add"].as_array().unwrap().len(), 3);
        let mounts = c["volumeMounts"].as_array().unwrap();
        let kubelet = mounts.iter().find(|m| m["name"] == "kubelet-pods").unwrap();
        assert_eq!(kubelet["readOnly"], true);
        assert_eq!(kubelet["mountPropagation"], "HostToContainer");
        let command: Vec<&str> = c["command"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert!(command
            .windows(2)
            .any(|w| w == ["--archive", "/repository/files"]));
        assert!(command.windows(2).any(|w| w == ["--root", FILES_ROOT]));
        assert_eq!(
            pod["volumes"][3]["persistentVolumeClaim"]["claimName"],
            "logs-backup"
        );
        assert_eq!(ds["metadata"]["namespace"], "logbackup-system");
        assert_eq!(objects.len(), 2, "no push CronJob unless asked for");
    }

    #[test]
    fn a_push_destination_adds_a_read_only_unprivileged_cron_job() {
        let mut o = InstallOptions::new("logbackup-system", "logs-backup");
        o.push = Some(PushOptions {
            destination: "s3://archive/cluster-a".into(),
            schedule: "*/15 * * * *".into(),
            secret: Some("offsite-s3".into()),
            flags: vec!["--endpoint".into(), "http://minio:9000".into()],
            api_version: "batch/v1beta1".into(),
        });
        let objects = objects(&o);
        let cj = &objects[2];
        assert_eq!(cj["apiVersion"], "batch/v1beta1");
        assert_eq!(cj["metadata"]["name"], FILES_PUSH);
        assert_eq!(cj["spec"]["concurrencyPolicy"], "Forbid");
        let pod = &cj["spec"]["jobTemplate"]["spec"]["template"]["spec"];
        assert_eq!(pod["automountServiceAccountToken"], false);
        assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
        let c = &pod["containers"][0];
        assert_eq!(
            c["command"],
            json!([
                PLUGIN_PATH,
                "files",
                "push",
                "s3://archive/cluster-a",
                "--archive",
                "/repository/files",
                "--endpoint",
                "http://minio:9000"
            ])
        );
        assert_eq!(c["envFrom"][0]["secretRef"]["name"], "offsite-s3");
        assert_eq!(c["volumeMounts"][0]["readOnly"], true);
        assert_eq!(pod["volumes"][0]["persistentVolumeClaim"]["readOnly"], true);
        assert_eq!(c["securityContext"]["capabilities"]["drop"], json!(["ALL"]));
    }
}
