//! The CronJob that replaces Curator's: it runs `kubectl-logbackup backup` from our image against
//! the Elasticsearch Service in-cluster, once at a time, with a bounded run time.
//!
//! Least privilege: the job talks to Elasticsearch only (Service URL in-cluster), and its
//! credentials arrive as environment variables / a volume from Secrets that the kubelet resolves
//! for it. It never calls the Kubernetes API, so its ServiceAccount gets no Role at all and no
//! token is mounted (`automountServiceAccountToken: false`): a compromised backup pod holds no
//! Kubernetes credential. The dedicated ServiceAccount exists so that the pod does not run as
//! `default` (which others may bind roles to) and so that policies can single it out.

use std::collections::BTreeMap;

use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{
    Container, EnvVar, EnvVarSource, KeyToPath, PodSpec, SecretKeySelector, SecretVolumeSource,
    ServiceAccount, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use serde_json::Value;

use super::shape::Shape;
use super::{Schedule, ScheduleError};

pub const IMAGE: &str = crate::ids::IMAGE;
/// The image's entrypoint is the webhook; the CronJob runs the plugin binary next to it.
pub const PLUGIN_PATH: &str = crate::ids::PLUGIN_PATH;
/// The distroless `nonroot` user of the image.
const RUN_AS: i64 = 65532;
pub(crate) const CA_DIR: &str = "/etc/logbackup/ca";
/// How long one run may take in all; the snapshot wait gives up 10 minutes earlier so that the
/// job ends with our message, not the kubelet's kill.
pub const ACTIVE_DEADLINE_SECONDS: i64 = 6 * 3600;
pub(crate) const WAIT_SLACK_SECONDS: i64 = 600;

/// A key of a Secret in the CronJob's namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretKey {
    pub secret: String,
    pub key: String,
}

/// What the scheduled `backup` does; every field becomes a flag.
#[derive(Debug, Clone)]
pub struct BackupCommand {
    pub es_url: String,
    pub repository: String,
    pub name_pattern: String,
    pub indices: Vec<String>,
    pub keep_days: Option<u32>,
    pub min_count: usize,
    pub max_count: Option<usize>,
    pub prefix: Option<String>,
    pub username: Option<String>,
    pub password: Option<SecretKey>,
    pub api_key: Option<SecretKey>,
    pub ca: Option<SecretKey>,
    /// `--sync-to`: copy the repository off the cluster after a SUCCESS snapshot.
    pub sync: Option<super::sync_to::SyncTo>,
    /// `--volume-snapshot-class`: a CSI VolumeSnapshot of the repository claim after a SUCCESS.
    pub volume_snapshot: Option<crate::volume_snapshot::VolumeSnapshotJob>,
}

impl BackupCommand {
    /// Arguments after the binary. Secrets are never in them: they come as env vars.
    pub fn args(&self) -> Vec<String> {
        let mut a: Vec<String> = vec![
            "backup".into(),
            "--es-url".into(),
            self.es_url.clone(),
            "--repository".into(),
            self.repository.clone(),
            "--name".into(),
            self.name_pattern.clone(),
        ];
        if !self.indices.is_empty() {
            a.push("--indices".into());
            a.push(self.indices.join(","));
        }
        if let Some(d) = self.keep_days {
            a.extend(["--keep-days".into(), d.to_string()]);
        }
        a.extend(["--min-count".into(), self.min_count.to_string()]);
        if let Some(m) = self.max_count {
            a.extend(["--max-count".into(), m.to_string()]);
        }
        if let Some(p) = &self.prefix {
            a.extend(["--prefix".into(), p.clone()]);
        }
        if let Some(u) = &self.username {
            a.extend(["--username".into(), u.clone()]);
        }
        if self.ca.is_some() {
            a.extend(["--ca-file".into(), format!("{CA_DIR}/ca.crt")]);
        }
        if let Some(sync) = &self.sync {
            a.extend(sync.args());
        }
        if let Some(v) = &self.volume_snapshot {
            a.extend(v.args());
        }
        a.extend([
            "--wait-timeout".into(),
            (ACTIVE_DEADLINE_SECONDS - WAIT_SLACK_SECONDS).to_string(),
            "-o".into(),
            "json".into(),
        ]);
        a
    }

    fn env(&self) -> Vec<EnvVar> {
        let from = |name: &str, s: &SecretKey| EnvVar {
            name: name.to_string(),
            value_from: Some(EnvVarSource {
                secret_key_ref: Some(SecretKeySelector {
                    name: s.secret.clone(),
                    key: s.key.clone(),
                    optional: Some(false),
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        let mut env = Vec::new();
        if let Some(p) = &self.password {
            env.push(from("LOGBACKUP_ES_PASSWORD", p));
        }
        if let Some(k) = &self.api_key {
            env.push(from("LOGBACKUP_ES_API_KEY", k));
        }
        if let Some(sync) = &self.sync {
            env.extend(sync.env());
        }
        env
    }
}

#[derive(Debug, Clone)]
pub struct CronJobPlan {
    pub name: String,
    pub namespace: String,
    pub schedule: Schedule,
    pub image: String,
    pub backup: BackupCommand,
}

/// Object names: the schedule name, prefixed so they read as ours in `kubectl get`.
pub fn object_name(schedule: &str) -> String {
    format!("logbackup-{schedule}")
}

fn labels(schedule: &str) -> BTreeMap<String, String> {
    super::shape::labels(schedule, crate::ids::SCHEDULED_BACKUP_COMPONENT)
}

pub fn service_account(plan: &CronJobPlan) -> ServiceAccount {
    shape(plan).service_account()
}

pub fn cron_job(plan: &CronJobPlan) -> CronJob {
    shape(plan).cron_job()
}

/// The backup's place in the shared CronJob shape: uid 65532 in the image, a Secret volume for the
/// CA and the off-site copy's credentials, a token only for VolumeSnapshots.
fn shape(plan: &CronJobPlan) -> Shape {
    let ca_volume = plan.backup.ca.as_ref().map(|ca| Volume {
        name: "es-ca".into(),
        secret: Some(SecretVolumeSource {
            secret_name: Some(ca.secret.clone()),
            items: Some(vec![KeyToPath {
                key: ca.key.clone(),
                path: "ca.crt".into(),
                mode: None,
            }]),
            ..Default::default()
        }),
        ..Default::default()
    });
    // The plugin is an HTTP client that waits most of the time; a sync holds up to eight files of
    // at most 16 MiB in memory at once.
    let memory = if plan.backup.sync.is_some() {
        "384Mi"
    } else {
        "128Mi"
    };
    let container = Container {
        env: Some(plan.backup.env()).filter(|e| !e.is_empty()),
        volume_mounts: Some(
            ca_volume
                .as_ref()
                .map(|_| VolumeMount {
                    name: "es-ca".into(),
                    mount_path: CA_DIR.into(),
                    read_only: Some(true),
                    ..Default::default()
                })
                .into_iter()
                .chain(plan.backup.sync.as_ref().map(|s| s.mount()))
                .collect::<Vec<_>>(),
        )
        .filter(|m| !m.is_empty()),
        ..super::shape::plugin_container("backup", &plan.image, plan.backup.args(), memory, true)
    };
    let pod = PodSpec {
        // A token only when the job takes VolumeSnapshots, the one Kubernetes call it then makes.
        automount_service_account_token: Some(plan.backup.volume_snapshot.is_some()),
        security_context: Some(super::shape::pod_security_context(RUN_AS)),
        containers: vec![container],
        volumes: Some(
            ca_volume
                .into_iter()
                .chain(plan.backup.sync.as_ref().map(|s| s.volume()))
                .collect::<Vec<_>>(),
        )
        .filter(|v| !v.is_empty()),
        ..Default::default()
    };
    Shape {
        name: object_name(&plan.name),
        namespace: plan.namespace.clone(),
        labels: labels(&plan.name),
        schedule: plan.schedule.expression(),
        time_zone: Some(plan.schedule.time_zone.clone()),
        // A run missed by more than an hour (controller down) is skipped, not run at noon.
        starting_deadline_seconds: 3600,
        active_deadline_seconds: ACTIVE_DEADLINE_SECONDS,
        ttl_seconds_after_finished: 7 * 86_400,
        pod,
    }
}

fn to_value<T: serde::Serialize>(what: &str, object: &T) -> Result<Value, ScheduleError> {
    serde_json::to_value(object).map_err(|e| ScheduleError::Render {
        what: what.to_string(),
        why: e.to_string(),
    })
}

/// Every object of the schedule, in apply order, as JSON with apiVersion and kind.
pub fn render(plan: &CronJobPlan) -> Result<Vec<Value>, ScheduleError> {
    let mut objects = vec![to_value("ServiceAccount", &service_account(plan))?];
    if let Some((role, binding)) = volume_snapshot_rbac(plan) {
        objects.push(to_value("Role", &role)?);
        objects.push(to_value("RoleBinding", &binding)?);
    }
    objects.push(to_value("CronJob", &cron_job(plan))?);
    Ok(objects)
}

/// The Role and RoleBinding a schedule with `--volume-snapshot-class` needs; none otherwise.
pub fn volume_snapshot_rbac(
    plan: &CronJobPlan,
) -> Option<(
    k8s_openapi::api::rbac::v1::Role,
    k8s_openapi::api::rbac::v1::RoleBinding,
)> {
    let v = plan.backup.volume_snapshot.as_ref()?;
    let name = object_name(&plan.name);
    let mut role = v.role(&plan.namespace, &name);
    let mut binding = v.role_binding(&plan.namespace, &name);
    role.metadata.labels = Some(labels(&plan.name));
    binding.metadata.labels = Some(labels(&plan.name));
    Some((role, binding))
}

/// The Job `kubectl create job --from=cronjob/NAME` makes: the CronJob's jobTemplate, owned by the
/// CronJob (so its history limits and deletion cover it) and marked as started by hand.
pub fn job_from(cron_job: &CronJob, job_name: &str) -> Result<Job, ScheduleError> {
    let missing = |what: &str| ScheduleError::Render {
        what: format!("Job {job_name}"),
        why: format!("the CronJob has no {what}"),
    };
    let spec = cron_job.spec.as_ref().ok_or_else(|| missing("spec"))?;
    let name = cron_job
        .metadata
        .name
        .clone()
        .ok_or_else(|| missing("name"))?;
    let uid = cron_job
        .metadata
        .uid
        .clone()
        .ok_or_else(|| missing("uid (read it from the cluster)"))?;
    let template_meta = spec.job_template.metadata.clone().unwrap_or_default();
    let mut annotations = template_meta.annotations.unwrap_or_default();
    annotations.insert("cronjob.kubernetes.io/instantiate".into(), "manual".into());
    Ok(Job {
        metadata: ObjectMeta {
            name: Some(job_name.to_string()),
            namespace: cron_job.metadata.namespace.clone(),
            labels: template_meta.labels,
            annotations: Some(annotations),
            owner_references: Some(vec![OwnerReference {
                api_version: "batch/v1".into(),
                kind: "CronJob".into(),
                name,
                uid,
                controller: Some(true),
                block_owner_deletion: None,
            }]),
            ..Default::default()
        },
        spec: spec.job_template.spec.clone(),
        ..Default::default()
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn plan() -> CronJobPlan {
        CronJobPlan {
            name: "nightly".into(),
            namespace: "kubesphere-logging-system".into(),
            schedule: Schedule::parse("0 1 * * *", None).unwrap(),
            image: IMAGE.into(),
            backup: BackupCommand {
                es_url: "http://elasticsearch-logging-data.kubesphere-logging-system.svc:9200"
                    .into(),
                repository: "ks-log-snapshots".into(),
                name_pattern: "nightly-%Y%m%d%H%M%S".into(),
                indices: vec!["ks-logstash-log-*".into()],
                keep_days: Some(45),
                min_count: 1,
                max_count: None,
                prefix: Some("nightly-".into()),
                username: None,
                password: None,
                api_key: None,
                ca: None,
                sync: None,
                volume_snapshot: None,
            },
        }
    }

    #[test]
    fn the_cron_job_runs_backup_once_at_a_time_as_non_root() {
        let objects = render(&plan()).unwrap();
        assert_eq!(objects[0]["kind"], "ServiceAccount");
        assert_eq!(objects[0]["automountServiceAccountToken"], false);
        let cj = &objects[1];
        assert_eq!(cj["apiVersion"], "batch/v1");
        assert_eq!(cj["kind"], "CronJob");
        assert_eq!(cj["metadata"]["name"], "logbackup-nightly");
        assert_eq!(
            cj["metadata"]["labels"]["app.kubernetes.io/managed-by"],
            "kubectl-logbackup"
        );
        assert_eq!(cj["metadata"]["labels"]["logbackup.io/schedule"], "nightly");
        let spec = &cj["spec"];
        assert_eq!(spec["schedule"], "0 1 * * *");
        assert_eq!(spec["timeZone"], "UTC");
        assert_eq!(spec["concurrencyPolicy"], "Forbid");
        assert_eq!(spec["startingDeadlineSeconds"], 3600);
        assert_eq!(spec["successfulJobsHistoryLimit"], 3);
        assert_eq!(spec["failedJobsHistoryLimit"], 5);
        let job = &spec["jobTemplate"]["spec"];
        assert_eq!(job["backoffLimit"], 1);
        assert_eq!(job["activeDeadlineSeconds"], 21600);
        let pod = &job["template"]["spec"];
        assert_eq!(pod["serviceAccountName"], "logbackup-nightly");
        assert_eq!(pod["automountServiceAccountToken"], false);
        assert_eq!(pod["restartPolicy"], "Never");
        assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
        assert_eq!(
            pod["securityContext"]["seccompProfile"]["type"],
            "RuntimeDefault"
        );
        let c = &pod["containers"][0];
        assert_eq!(c["image"], IMAGE);
        assert_eq!(c["command"][0], PLUGIN_PATH);
        assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
        assert_eq!(c["securityContext"]["allowPrivilegeEscalation"], false);
        assert_eq!(c["securityContext"]["capabilities"]["drop"][0], "ALL");
        assert_eq!(c["resources"]["limits"]["memory"], "128Mi");
        let args: Vec<&str> = c["args"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        assert_eq!(
            args,
            [
                "backup",
                "--es-url",
                "http://elasticsearch-logging-data.kubesphere-logging-system.svc:9200",
                "--repository",
                "ks-log-snapshots",
                "--name",
                "nightly-%Y%m%d%H%M%S",
                "--indices",
                "ks-logstash-log-*",
                "--keep-days",
                "45",
                "--min-count",
                "1",
                "--prefix",
                "nightly-",
                "--wait-timeout",
                "21000",
                "-o",
                "json"
            ]
        );
        assert!(c.get("env").is_none() && pod.get("volumes").is_none());
    }

    #[test]
    fn credentials_come_from_secrets_never_from_args() {
        let mut p = plan();
        p.backup.username = Some("elastic".into());
        p.backup.password = Some(SecretKey {
            secret: "es-es-elastic-user".into(),
            key: "elastic".into(),
        });
        p.backup.ca = Some(SecretKey {
            secret: "es-es-http-certs-public".into(),
            key: "ca.crt".into(),
        });
        let cj = serde_json::to_value(cron_job(&p)).unwrap();
        let pod = &cj["spec"]["jobTemplate"]["spec"]["template"]["spec"];
        let c = &pod["containers"][0];
        assert_eq!(
            c["env"],
            serde_json::json!([{"name": "LOGBACKUP_ES_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "es-es-elastic-user", "key": "elastic", "optional": false}}}])
        );
        assert_eq!(
            pod["volumes"][0]["secret"]["secretName"],
            "es-es-http-certs-public"
        );
        assert_eq!(c["volumeMounts"][0]["mountPath"], "/etc/logbackup/ca");
        let args = c["args"].to_string();
        assert!(args.contains("\"--ca-file\",\"/etc/logbackup/ca/ca.crt\""));
        assert!(!args.contains("es-es-elastic-user"));
    }

    #[test]
    fn run_now_copies_the_job_template_owned_by_the_cron_job() {
        let mut cj = cron_job(&plan());
        assert!(job_from(&cj, "x").is_err(), "no uid yet");
        cj.metadata.uid = Some("uid-1".into());
        let job = job_from(&cj, "logbackup-nightly-manual-1").unwrap();
        let v = serde_json::to_value(&job).unwrap();
        assert_eq!(v["kind"], "Job");
        assert_eq!(v["metadata"]["namespace"], "kubesphere-logging-system");
        assert_eq!(
            v["metadata"]["annotations"]["cronjob.kubernetes.io/instantiate"],
            "manual"
        );
        assert_eq!(v["metadata"]["ownerReferences"][0]["uid"], "uid-1");
        assert_eq!(v["metadata"]["ownerReferences"][0]["kind"], "CronJob");
        assert_eq!(v["metadata"]["labels"]["logbackup.io/schedule"], "nightly");
        assert_eq!(
            v["spec"],
            serde_json::to_value(cj.spec.unwrap().job_template.spec).unwrap()
        );
    }
}
