//! What every CronJob of ours has in common, built once: the plugin from our image in one locked
//! down container (no privilege escalation, read-only root filesystem, every capability dropped,
//! seccomp `RuntimeDefault`), a ServiceAccount of its own with no token, one run at a time, one
//! retry, a bounded run time, failures kept longer than successes, and our labels on every
//! object down to the pod. Each schedule (the log backup, the etcd snapshot) says only what
//! differs: its arguments, its volumes, its user, its deadlines.

use std::collections::BTreeMap;

use k8s_openapi::api::batch::v1::{CronJob, CronJobSpec, JobSpec, JobTemplateSpec};
use k8s_openapi::api::core::v1::{
    Capabilities, Container, PodSecurityContext, PodSpec, PodTemplateSpec, ResourceRequirements,
    SeccompProfile, SecurityContext, ServiceAccount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::{MANAGED_BY, MANAGED_BY_LABEL, SCHEDULE_LABEL};

/// The labels of every object a schedule owns; `component` tells the schedules apart.
pub fn labels(schedule: &str, component: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (MANAGED_BY_LABEL.to_string(), MANAGED_BY.to_string()),
        (SCHEDULE_LABEL.to_string(), schedule.to_string()),
        (
            crate::ids::NAME_LABEL.to_string(),
            crate::ids::PRODUCT.to_string(),
        ),
        (
            crate::ids::COMPONENT_LABEL.to_string(),
            component.to_string(),
        ),
    ])
}

/// The container that runs the plugin binary of our image (whose entrypoint is the webhook) with
/// `args`. It asks for little (the plugin mostly waits on a server) and may use up to
/// `memory_limit`. `non_root` adds `runAsNonRoot` to the container, for a pod that never needs
/// root. Volumes, mounts and environment are the caller's.
pub fn plugin_container(
    name: &str,
    image: &str,
    args: Vec<String>,
    memory_limit: &str,
    non_root: bool,
) -> Container {
    let quantities = |pairs: &[(&str, &str)]| -> BTreeMap<String, Quantity> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), Quantity(v.to_string())))
            .collect()
    };
    Container {
        name: name.into(),
        image: Some(image.into()),
        image_pull_policy: Some("IfNotPresent".into()),
        command: Some(vec![crate::ids::PLUGIN_PATH.into()]),
        args: Some(args),
        resources: Some(ResourceRequirements {
            requests: Some(quantities(&[("cpu", "10m"), ("memory", "32Mi")])),
            limits: Some(quantities(&[("memory", memory_limit)])),
            ..Default::default()
        }),
        security_context: Some(SecurityContext {
            allow_privilege_escalation: Some(false),
            read_only_root_filesystem: Some(true),
            privileged: Some(false),
            run_as_non_root: non_root.then_some(true),
            capabilities: Some(Capabilities {
                drop: Some(vec!["ALL".into()]),
                add: None,
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The pod runs as `uid` (and the group of the same number), under the runtime's default seccomp
/// profile; `runAsNonRoot` says whether that is root, so the kubelet checks it.
pub fn pod_security_context(uid: i64) -> PodSecurityContext {
    PodSecurityContext {
        run_as_non_root: Some(uid != 0),
        run_as_user: Some(uid),
        run_as_group: Some(uid),
        seccomp_profile: Some(SeccompProfile {
            type_: "RuntimeDefault".into(),
            localhost_profile: None,
        }),
        ..Default::default()
    }
}

/// One schedule's CronJob and ServiceAccount, from what differs between schedules.
#[derive(Debug, Clone)]
pub struct Shape {
    /// The objects' name (the ServiceAccount's too).
    pub name: String,
    pub namespace: String,
    pub labels: BTreeMap<String, String>,
    /// The cron expression.
    pub schedule: String,
    /// `None` where the server has no `timeZone` field.
    pub time_zone: Option<String>,
    /// A run missed by more than this (controller down) is skipped, not run late.
    pub starting_deadline_seconds: i64,
    /// How long one run may take in all.
    pub active_deadline_seconds: i64,
    /// How long a finished Job stays to be read.
    pub ttl_seconds_after_finished: i32,
    /// The pod; the ServiceAccount and restart policy are set here.
    pub pod: PodSpec,
}

impl Shape {
    pub fn meta(&self) -> ObjectMeta {
        ObjectMeta {
            name: Some(self.name.clone()),
            namespace: Some(self.namespace.clone()),
            labels: Some(self.labels.clone()),
            ..Default::default()
        }
    }

    /// A ServiceAccount of the schedule's own, so that the pod does not run as `default` (which
    /// others may bind roles to) and policies can single it out; it mounts no token by default.
    pub fn service_account(&self) -> ServiceAccount {
        ServiceAccount {
            metadata: self.meta(),
            automount_service_account_token: Some(false),
            ..Default::default()
        }
    }

    pub fn cron_job(&self) -> CronJob {
        let template_meta = || {
            Some(ObjectMeta {
                labels: Some(self.labels.clone()),
                ..Default::default()
            })
        };
        let pod = PodSpec {
            service_account_name: Some(self.name.clone()),
            // A failed run is a new pod (backoffLimit), not a container restarted in place.
            restart_policy: Some("Never".into()),
            ..self.pod.clone()
        };
        CronJob {
            metadata: self.meta(),
            spec: Some(CronJobSpec {
                schedule: self.schedule.clone(),
                time_zone: self.time_zone.clone(),
                // Two runs at once would only compete for the same server and volume.
                concurrency_policy: Some("Forbid".into()),
                starting_deadline_seconds: Some(self.starting_deadline_seconds),
                successful_jobs_history_limit: Some(3),
                // Failures are kept longer: they are what someone will want to read.
                failed_jobs_history_limit: Some(5),
                job_template: JobTemplateSpec {
                    metadata: template_meta(),
                    spec: Some(JobSpec {
                        // One retry: a new pod that takes a new snapshot under a new name.
                        backoff_limit: Some(1),
                        active_deadline_seconds: Some(self.active_deadline_seconds),
                        ttl_seconds_after_finished: Some(self.ttl_seconds_after_finished),
                        template: PodTemplateSpec {
                            metadata: template_meta(),
                            spec: Some(pod),
                        },
                        ..Default::default()
                    }),
                },
                ..Default::default()
            }),
            ..Default::default()
        }
    }
}
