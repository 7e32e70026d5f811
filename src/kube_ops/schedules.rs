//! CronJob schedules in the cluster.

use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::ServiceAccount;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use kube::Client;

use super::{apply, failed, is_not_found, KubeError};
use crate::schedule::cronjob::{self, CronJobPlan};
use crate::schedule::{MANAGED_BY, MANAGED_BY_LABEL, SCHEDULE_LABEL};

/// Applies the ServiceAccount, then the CronJob that runs as it.
pub async fn apply_schedule(client: &Client, plan: &CronJobPlan) -> Result<CronJob, KubeError> {
    let sas: Api<ServiceAccount> = Api::namespaced(client.clone(), &plan.namespace);
    apply(&sas, &cronjob::service_account(plan)).await?;
    if let Some((role, binding)) = cronjob::volume_snapshot_rbac(plan) {
        let roles: Api<k8s_openapi::api::rbac::v1::Role> =
            Api::namespaced(client.clone(), &plan.namespace);
        apply(&roles, &role).await?;
        let bindings: Api<k8s_openapi::api::rbac::v1::RoleBinding> =
            Api::namespaced(client.clone(), &plan.namespace);
        apply(&bindings, &binding).await?;
    }
    let cjs: Api<CronJob> = Api::namespaced(client.clone(), &plan.namespace);
    apply(&cjs, &cronjob::cron_job(plan)).await
}

/// Our CronJobs, in one namespace or all.
pub async fn list_schedules(
    client: &Client,
    namespace: Option<&str>,
) -> Result<Vec<CronJob>, KubeError> {
    let api: Api<CronJob> = match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    let params = ListParams::default().labels(&format!("{MANAGED_BY_LABEL}={MANAGED_BY}"));
    Ok(api
        .list(&params)
        .await
        .map_err(failed("list the scheduled backup CronJobs"))?
        .items)
}

/// Deletes the CronJob (its Jobs and pods go with it, in the background) and its ServiceAccount.
/// Returns false when there was no such schedule. Only objects carrying our schedule label are
/// deleted: a same-named object someone else made is left alone.
pub async fn delete_schedule(
    client: &Client,
    namespace: &str,
    name: &str,
    dry_run: bool,
) -> Result<bool, KubeError> {
    let object = cronjob::object_name(name);
    let cjs: Api<CronJob> = Api::namespaced(client.clone(), namespace);
    let found = match cjs.get(&object).await {
        Ok(cj) => cj,
        Err(e) => {
            let e = failed(format!("read CronJob {namespace}/{object}"))(e);
            return if is_not_found(&e) { Ok(false) } else { Err(e) };
        }
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
    let mut params = DeleteParams::background();
    if dry_run {
        params = params.dry_run();
    }
    cjs.delete(&object, &params)
        .await
        .map_err(failed(format!("delete CronJob {namespace}/{object}")))?;
    let sas: Api<ServiceAccount> = Api::namespaced(client.clone(), namespace);
    match sas.delete(&object, &params).await {
        Ok(_) => {}
        Err(kube::Error::Api(s)) if s.code == 404 => {}
        Err(e) => {
            return Err(failed(format!(
                "delete ServiceAccount {namespace}/{object}"
            ))(e));
        }
    }
    // The Role and RoleBinding exist only for schedules with --volume-snapshot-class.
    let roles: Api<k8s_openapi::api::rbac::v1::Role> = Api::namespaced(client.clone(), namespace);
    let bindings: Api<k8s_openapi::api::rbac::v1::RoleBinding> =
        Api::namespaced(client.clone(), namespace);
    for (kind, result) in [
        (
            "RoleBinding",
            bindings.delete(&object, &params).await.map(|_| ()),
        ),
        ("Role", roles.delete(&object, &params).await.map(|_| ())),
    ] {
        match result {
            Ok(()) => {}
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => return Err(failed(format!("delete {kind} {namespace}/{object}"))(e)),
        }
    }
    Ok(true)
}

/// `kubectl create job --from=cronjob/...`: reads the CronJob (for its uid) and creates the Job.
pub async fn run_now(
    client: &Client,
    namespace: &str,
    name: &str,
    job_name: &str,
) -> Result<Job, KubeError> {
    let object = cronjob::object_name(name);
    let cjs: Api<CronJob> = Api::namespaced(client.clone(), namespace);
    let cj = cjs
        .get(&object)
        .await
        .map_err(failed(format!("read CronJob {namespace}/{object}")))?;
    let job = cronjob::job_from(&cj, job_name).map_err(|e| KubeError {
        action: format!("build Job {job_name}"),
        source: kube::Error::Service(e.into()),
    })?;
    let jobs: Api<Job> = Api::namespaced(client.clone(), namespace);
    jobs.create(&PostParams::default(), &job)
        .await
        .map_err(failed(format!("create Job {namespace}/{job_name}")))
}
