//! `schedule create --verify weekly`: a second CronJob, `logbackup-NAME-verify`, that runs
//! `snapshot verify --restore-test` on the newest snapshot and records the proof in the
//! repository's ConfigMap (`snapshot::proof`), where `status` reads it.
//!
//! It reuses the backup CronJob's pod (image, security context, Elasticsearch URL, Secrets for the
//! password and CA) and differs in what it runs and in one right: its own ServiceAccount gets a
//! token and a Role that may only `get` and `update` that one ConfigMap (by resourceNames).
//! `create` cannot be limited to a name, so `schedule create` creates the ConfigMap itself.

use k8s_openapi::api::batch::v1::CronJob;
use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::rbac::v1::{PolicyRule, Role, RoleBinding};
use serde_json::Value;

use super::cronjob::{self, CronJobPlan, ACTIVE_DEADLINE_SECONDS};
use super::{Schedule, ScheduleError, SCHEDULE_LABEL};
use crate::snapshot::proof;

/// `app.kubernetes.io/component` of the restore-test objects (the backup's is `scheduled-backup`).
pub const COMPONENT: &str = "restore-test";

/// `--verify daily|weekly|CRON`: daily at 05:30, weekly on Sundays at 05:30 (in the schedule's
/// time zone), after a night's backup; or a 5-field cron of one's own.
pub fn parse(text: &str, time_zone: Option<&str>) -> Result<Schedule, ScheduleError> {
    let expr = match text {
        "daily" => "30 5 * * *",
        "weekly" => "30 5 * * 0",
        other => other,
    };
    Schedule::parse(expr, time_zone)
}

/// `logbackup-NAME-verify`.
pub fn object_name(schedule: &str) -> String {
    format!("{}-verify", cronjob::object_name(schedule))
}

/// The restore test of a backup schedule: its plan, run at `schedule`.
#[derive(Debug, Clone)]
pub struct RestoreTestPlan {
    pub backup: CronJobPlan,
    pub schedule: Schedule,
}

impl RestoreTestPlan {
    /// The arguments after the binary: the newest SUCCESS snapshot of the schedule's indices,
    /// restored under the temporary prefix, checked, deleted; the proof kept in -n's ConfigMap.
    pub fn args(&self) -> Vec<String> {
        let b = &self.backup.backup;
        let mut a: Vec<String> = vec![
            "snapshot".into(),
            "verify".into(),
            "--restore-test".into(),
            "--es-url".into(),
            b.es_url.clone(),
            "--repository".into(),
            b.repository.clone(),
            "--namespace".into(),
            self.backup.namespace.clone(),
        ];
        if !b.indices.is_empty() {
            a.push("--indices".into());
            a.push(b.indices.join(","));
        }
        if let Some(u) = &b.username {
            a.extend(["--username".into(), u.clone()]);
        }
        if b.ca.is_some() {
            a.extend(["--ca-file".into(), format!("{}/ca.crt", cronjob::CA_DIR)]);
        }
        a.extend([
            "--wait-timeout".into(),
            (ACTIVE_DEADLINE_SECONDS - cronjob::WAIT_SLACK_SECONDS).to_string(),
            "-o".into(),
            "json".into(),
        ]);
        a
    }

    /// The backup's pod with the backup's extras (sync, VolumeSnapshots) left out.
    fn base(&self) -> CronJobPlan {
        let mut p = self.backup.clone();
        p.name = format!("{}-verify", self.backup.name);
        p.schedule = self.schedule.clone();
        p.backup.sync = None;
        p.backup.volume_snapshot = None;
        p
    }

    fn relabel(&self, meta: &mut k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) {
        let labels = meta.labels.get_or_insert_with(Default::default);
        // Grouped with its backup by `schedule list` and `schedule delete`.
        labels.insert(SCHEDULE_LABEL.into(), self.backup.name.clone());
        labels.insert("app.kubernetes.io/component".into(), COMPONENT.into());
    }
}

pub fn service_account(plan: &RestoreTestPlan) -> ServiceAccount {
    let mut sa = cronjob::service_account(&plan.base());
    plan.relabel(&mut sa.metadata);
    // The one Kubernetes call it makes: writing the proof.
    sa.automount_service_account_token = None;
    sa
}

pub fn cron_job(plan: &RestoreTestPlan) -> CronJob {
    let mut cj = cronjob::cron_job(&plan.base());
    plan.relabel(&mut cj.metadata);
    if let Some(spec) = cj.spec.as_mut() {
        let template = &mut spec.job_template;
        if let Some(m) = template.metadata.as_mut() {
            plan.relabel(m);
        }
        if let Some(job) = template.spec.as_mut() {
            if let Some(m) = job.template.metadata.as_mut() {
                plan.relabel(m);
            }
            if let Some(pod) = job.template.spec.as_mut() {
                pod.automount_service_account_token = Some(true);
                for c in &mut pod.containers {
                    c.name = "restore-test".into();
                    c.args = Some(plan.args());
                }
            }
        }
    }
    cj
}

/// `get` and `update` on the repository's proof ConfigMap, and nothing else.
pub fn role(plan: &RestoreTestPlan) -> Role {
    let mut meta = cronjob::service_account(&plan.base()).metadata;
    plan.relabel(&mut meta);
    Role {
        metadata: meta,
        rules: Some(vec![PolicyRule {
            api_groups: Some(vec![String::new()]),
            resources: Some(vec!["configmaps".into()]),
            resource_names: Some(vec![proof::config_map_name(&plan.backup.backup.repository)]),
            verbs: vec!["get".into(), "update".into()],
            ..Default::default()
        }]),
    }
}

pub fn role_binding(plan: &RestoreTestPlan) -> RoleBinding {
    let name = object_name(&plan.backup.name);
    let mut binding = crate::volume_snapshot::role_binding(&plan.backup.namespace, &name);
    binding.metadata.labels = role(plan).metadata.labels;
    binding
}

/// The empty proof ConfigMap the job will fill (created only when missing).
pub fn config_map(plan: &RestoreTestPlan) -> k8s_openapi::api::core::v1::ConfigMap {
    proof::config_map(&plan.backup.namespace, &plan.backup.backup.repository, "")
}

fn to_value<T: serde::Serialize>(what: &str, object: &T) -> Result<Value, ScheduleError> {
    serde_json::to_value(object).map_err(|e| ScheduleError::Render {
        what: what.to_string(),
        why: e.to_string(),
    })
}

/// Every object of the restore test, in apply order.
pub fn render(plan: &RestoreTestPlan) -> Result<Vec<Value>, ScheduleError> {
    Ok(vec![
        to_value("ConfigMap", &config_map(plan))?,
        to_value("ServiceAccount", &service_account(plan))?,
        to_value("Role", &role(plan))?,
        to_value("RoleBinding", &role_binding(plan))?,
        to_value("CronJob", &cron_job(plan))?,
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> RestoreTestPlan {
        RestoreTestPlan {
            backup: cronjob::tests::plan(),
            schedule: parse("weekly", None).unwrap(),
        }
    }

    #[test]
    fn the_weekly_test_runs_verify_with_a_token_that_may_only_write_its_proof() {
        let objects = render(&plan()).unwrap();
        let kinds: Vec<&str> = objects
            .iter()
            .map(|o| o["kind"].as_str().unwrap())
            .collect();
        assert_eq!(
            kinds,
            [
                "ConfigMap",
                "ServiceAccount",
                "Role",
                "RoleBinding",
                "CronJob"
            ]
        );
        assert_eq!(
            objects[0]["metadata"]["name"],
            "logbackup-proofs-ks-log-snapshots"
        );
        let rule = &objects[2]["rules"][0];
        assert_eq!(rule["resources"][0], "configmaps");
        assert_eq!(
            rule["resourceNames"][0],
            "logbackup-proofs-ks-log-snapshots"
        );
        assert_eq!(rule["verbs"], serde_json::json!(["get", "update"]));
        assert_eq!(
            objects[3]["subjects"][0]["name"],
            "logbackup-nightly-verify"
        );
        assert_eq!(objects[3]["roleRef"]["name"], "logbackup-nightly-verify");
        let cj = &objects[4];
        assert_eq!(cj["metadata"]["name"], "logbackup-nightly-verify");
        assert_eq!(cj["metadata"]["labels"]["logbackup.io/schedule"], "nightly");
        assert_eq!(
            cj["metadata"]["labels"]["app.kubernetes.io/component"],
            "restore-test"
        );
        assert_eq!(cj["spec"]["schedule"], "30 5 * * 0");
        let pod = &cj["spec"]["jobTemplate"]["spec"]["template"]["spec"];
        assert_eq!(pod["serviceAccountName"], "logbackup-nightly-verify");
        assert_eq!(pod["automountServiceAccountToken"], true);
        let args: Vec<&str> = pod["containers"][0]["args"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        assert_eq!(&args[..3], ["snapshot", "verify", "--restore-test"]);
        assert!(args
            .windows(2)
            .any(|w| w == ["--namespace", "kubesphere-logging-system"]));
        assert!(args
            .windows(2)
            .any(|w| w == ["--indices", "ks-logstash-log-*"]));
        assert!(!args.contains(&"--keep-days"), "{args:?}");
    }

    #[test]
    fn verify_takes_daily_weekly_or_a_cron() {
        assert_eq!(parse("daily", None).unwrap().expression(), "30 5 * * *");
        assert_eq!(parse("0 3 * * 1", None).unwrap().expression(), "0 3 * * 1");
        assert!(parse("fortnightly", None).is_err());
    }
}
