//! A schedule's objects written and removed in order: the ServiceAccount (and the Role for volume
//! snapshots) before the CronJob that runs as it, a ServiceAccount a failed create made removed
//! again, and only objects carrying our schedule label deleted.

use k8s_openapi::api::batch::v1::CronJob;

use super::ScheduleCluster;
use crate::k8s::schedules::{for_server, restore_test_for_server, Companion};
use crate::k8s::{K8sError, Served};
use logbackup_core::schedule::cronjob::{self, CronJobPlan};
use logbackup_core::schedule::restore_test::{self, RestoreTestPlan};
use logbackup_core::schedule::SCHEDULE_LABEL;

/// What `apply_schedule` did.
#[derive(Debug)]
pub struct Applied {
    pub cron_job: CronJob,
    /// Version choices worth telling the user.
    pub notes: Vec<String>,
}

/// Applies the ServiceAccount, then the CronJob that runs as it. Everything that can be refused
/// is checked before anything is written; if the CronJob still fails, a ServiceAccount this call
/// created is removed again, and the error says what (if anything) was left.
pub async fn apply_schedule(
    cluster: &impl ScheduleCluster,
    served: &Served,
    plan: &CronJobPlan,
) -> Result<Applied, K8sError> {
    let ns = plan.namespace.as_str();
    let object_name = cronjob::object_name(&plan.name);
    let (cron_job, notes) = for_server(plan, served)?;
    let existed = cluster.service_account_exists(ns, &object_name).await?;
    cluster
        .apply_companion(&Companion::ServiceAccount(cronjob::service_account(plan)))
        .await?;
    // Only with --volume-snapshot-class: VolumeSnapshots in this namespace, nothing else.
    if let Some((role, binding)) = cronjob::volume_snapshot_rbac(plan) {
        cluster.apply_companion(&Companion::Role(role)).await?;
        cluster
            .apply_companion(&Companion::RoleBinding(binding))
            .await?;
    }
    match cluster.apply_cron_job(&cron_job).await {
        Ok(cron_job) => Ok(Applied { cron_job, notes }),
        Err(mut e) => {
            if !existed {
                let left = match cluster.delete_service_account(ns, &object_name).await {
                    Ok(()) => format!("removed the ServiceAccount {ns}/{object_name} it had created"),
                    Err(_) => format!(
                        "left ServiceAccount {ns}/{object_name} behind: remove it with `kubectl delete serviceaccount -n {ns} {object_name}`"
                    ),
                };
                e.cleanup = Some(left);
            }
            Err(e)
        }
    }
}

/// Applies a schedule's restore test: the proof ConfigMap (created only when missing, its history
/// kept), the ServiceAccount, the Role and RoleBinding for that ConfigMap, then the CronJob.
pub async fn apply_restore_test(
    cluster: &impl ScheduleCluster,
    served: &Served,
    plan: &RestoreTestPlan,
) -> Result<Vec<String>, K8sError> {
    let (cron_job, notes) = restore_test_for_server(plan, served)?;
    cluster
        .ensure_proofs(&plan.backup.namespace, &plan.backup.backup.repository)
        .await?;
    for companion in [
        Companion::ServiceAccount(restore_test::service_account(plan)),
        Companion::Role(restore_test::role(plan)),
        Companion::RoleBinding(restore_test::role_binding(plan)),
    ] {
        cluster.apply_companion(&companion).await?;
    }
    cluster.apply_cron_job(&cron_job).await?;
    Ok(notes)
}

/// Deletes the CronJob (its Jobs and pods go with it, in the background), its ServiceAccount,
/// Role and RoleBinding, and the same of its restore test. Returns false when there was no such
/// schedule: a same-named CronJob without our schedule label is someone else's, left alone.
pub async fn delete_schedule(
    cluster: &impl ScheduleCluster,
    served: &Served,
    namespace: &str,
    name: &str,
    dry_run: bool,
) -> Result<bool, K8sError> {
    let object = cronjob::object_name(name);
    let Some(found) = cluster.get_cron_job(served, namespace, &object).await? else {
        return Ok(false);
    };
    let ours = found
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(SCHEDULE_LABEL))
        .is_some_and(|v| v == name);
    if !ours {
        return Ok(false);
    }
    // The backup's objects, then its restore test's where it has one (`--verify`); the proof
    // ConfigMap stays, as the snapshots do: it is the record of what was proven.
    for object in [object, restore_test::object_name(name)] {
        cluster
            .delete_cron_job(served, namespace, &object, dry_run)
            .await?;
        cluster
            .delete_companions(namespace, &object, dry_run)
            .await?;
    }
    Ok(true)
}
