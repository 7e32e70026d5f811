//! CronJob schedules in the cluster, on `batch/v1` or `batch/v1beta1` as the server serves
//! (`Served::cronjob`). The objects are rendered once, typed, by the core (`batch/v1` shapes); on
//! an older server they go out as the same JSON under `batch/v1beta1`, whose fields we use are the
//! same, and come back relabelled as `batch/v1` for the typed readers.

use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, Patch,
    PatchParams, PostParams,
};
use serde_json::Value;

use super::{apply, Attempt, K8sError, Kube, Problem, Served, FIELD_MANAGER};
use crate::schedule::cronjob::{self, CronJobPlan};
use crate::schedule::restore_test::{self, RestoreTestPlan};
use crate::schedule::{MANAGED_BY, MANAGED_BY_LABEL, SCHEDULE_LABEL};

const RESOURCE: &str = "cronjobs.batch";

fn attempt(verb: &'static str, namespace: Option<&str>, name: Option<&str>) -> Attempt {
    let a = Attempt::new(verb, "CronJob", RESOURCE).in_namespace(namespace);
    match name {
        Some(n) => a.named(n),
        None => a,
    }
}

fn cronjobs(kube: &Kube, api_version: &str, namespace: Option<&str>) -> Api<DynamicObject> {
    let version = api_version.trim_start_matches("batch/");
    let resource = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("batch", version, "CronJob"),
        "cronjobs",
    );
    match namespace {
        Some(ns) => Api::namespaced_with(kube.client().clone(), ns, &resource),
        None => Api::all_with(kube.client().clone(), &resource),
    }
}

/// A CronJob read under any served version, as the `batch/v1` type.
fn typed(object: DynamicObject, attempt: &Attempt) -> Result<CronJob, K8sError> {
    let mut value = serde_json::to_value(object)
        .map_err(|e| K8sError::new(attempt.clone(), Problem::Invalid(e.to_string())))?;
    value["apiVersion"] = Value::from("batch/v1");
    serde_json::from_value(value)
        .map_err(|e| K8sError::new(attempt.clone(), Problem::Invalid(e.to_string())))
}

/// The CronJob as this server takes it: its API version, and without `timeZone` where the
/// server has no such field and the zone is the default UTC (another zone is refused first).
pub fn for_server(plan: &CronJobPlan, served: &Served) -> Result<(Value, Vec<String>), K8sError> {
    adapt(cronjob::cron_job(plan), &plan.schedule, served)
}

/// `for_server` for a schedule's restore-test CronJob.
pub fn restore_test_for_server(
    plan: &RestoreTestPlan,
    served: &Served,
) -> Result<(Value, Vec<String>), K8sError> {
    adapt(restore_test::cron_job(plan), &plan.schedule, served)
}

fn adapt(
    cron_job: CronJob,
    schedule: &crate::schedule::Schedule,
    served: &Served,
) -> Result<(Value, Vec<String>), K8sError> {
    let chosen = served.cronjob()?;
    let mut notes: Vec<String> = chosen.note.into_iter().collect();
    let namespace = cron_job.metadata.namespace.clone().unwrap_or_default();
    let object_name = cron_job.metadata.name.clone().unwrap_or_default();
    let mut value = serde_json::to_value(cron_job).map_err(|e| {
        K8sError::new(
            attempt("create", Some(&namespace), Some(&object_name)),
            Problem::Invalid(e.to_string()),
        )
    })?;
    value["apiVersion"] = Value::from(chosen.api_version);
    if served.cronjob_time_zone().is_err() {
        if schedule.time_zone != "UTC" {
            let why = served.cronjob_time_zone().err().unwrap_or_default();
            return Err(K8sError::new(
                attempt("create", Some(&namespace), Some(&object_name)),
                Problem::Unsupported(why),
            ));
        }
        if let Some(spec) = value["spec"].as_object_mut() {
            spec.remove("timeZone");
        }
        notes.push(format!(
            "{} has no CronJob timeZone (1.27+): the schedule runs in the controller manager's time zone, UTC on nearly every cluster",
            served.name()
        ));
    }
    Ok((value, notes))
}

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
    kube: &Kube,
    served: &Served,
    plan: &CronJobPlan,
) -> Result<Applied, K8sError> {
    let ns = plan.namespace.as_str();
    let object_name = cronjob::object_name(&plan.name);
    let (cron_job, notes) = for_server(plan, served)?;
    let sas: Api<ServiceAccount> = Api::namespaced(kube.client().clone(), ns);
    let sa_attempt = |verb| {
        Attempt::new(verb, "ServiceAccount", "serviceaccounts")
            .in_namespace(Some(ns))
            .named(&object_name)
    };
    let existed = sas
        .get_opt(&object_name)
        .await
        .map_err(kube.failed(sa_attempt("get")))?
        .is_some();
    apply(
        kube,
        &sas,
        sa_attempt("create"),
        &cronjob::service_account(plan),
    )
    .await?;
    // Only with --volume-snapshot-class: VolumeSnapshots in this namespace, nothing else.
    if let Some((role, binding)) = cronjob::volume_snapshot_rbac(plan) {
        let rbac = |kind: &str, plural: &str| {
            Attempt::new("create", kind, plural)
                .in_namespace(Some(ns))
                .named(&object_name)
        };
        let roles: Api<k8s_openapi::api::rbac::v1::Role> =
            Api::namespaced(kube.client().clone(), ns);
        apply(
            kube,
            &roles,
            rbac("Role", "roles.rbac.authorization.k8s.io"),
            &role,
        )
        .await?;
        let bindings: Api<k8s_openapi::api::rbac::v1::RoleBinding> =
            Api::namespaced(kube.client().clone(), ns);
        apply(
            kube,
            &bindings,
            rbac("RoleBinding", "rolebindings.rbac.authorization.k8s.io"),
            &binding,
        )
        .await?;
    }
    let cj_attempt = attempt("create", Some(ns), Some(&object_name));
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let applied = cronjobs(kube, served.cronjob()?.api_version, Some(ns))
        .patch(&object_name, &params, &Patch::Apply(&cron_job))
        .await
        .map_err(kube.failed(cj_attempt.clone()));
    match applied {
        Ok(object) => Ok(Applied {
            cron_job: typed(object, &cj_attempt)?,
            notes,
        }),
        Err(mut e) => {
            if !existed {
                let left = match sas.delete(&object_name, &DeleteParams::default()).await {
                    Ok(_) => format!("removed the ServiceAccount {ns}/{object_name} it had created"),
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
    kube: &Kube,
    served: &Served,
    plan: &RestoreTestPlan,
) -> Result<Vec<String>, K8sError> {
    let ns = plan.backup.namespace.as_str();
    let name = restore_test::object_name(&plan.backup.name);
    let (cron_job, notes) = restore_test_for_server(plan, served)?;
    super::proofs::ensure(kube, ns, &plan.backup.backup.repository).await?;
    let named = |kind: &str, plural: &str| {
        Attempt::new("create", kind, plural)
            .in_namespace(Some(ns))
            .named(&name)
    };
    let sas: Api<ServiceAccount> = Api::namespaced(kube.client().clone(), ns);
    apply(
        kube,
        &sas,
        named("ServiceAccount", "serviceaccounts"),
        &restore_test::service_account(plan),
    )
    .await?;
    let roles: Api<Role> = Api::namespaced(kube.client().clone(), ns);
    apply(
        kube,
        &roles,
        named("Role", "roles.rbac.authorization.k8s.io"),
        &restore_test::role(plan),
    )
    .await?;
    let bindings: Api<RoleBinding> = Api::namespaced(kube.client().clone(), ns);
    apply(
        kube,
        &bindings,
        named("RoleBinding", "rolebindings.rbac.authorization.k8s.io"),
        &restore_test::role_binding(plan),
    )
    .await?;
    let params = PatchParams::apply(FIELD_MANAGER).force();
    cronjobs(kube, served.cronjob()?.api_version, Some(ns))
        .patch(&name, &params, &Patch::Apply(&cron_job))
        .await
        .map_err(kube.failed(attempt("create", Some(ns), Some(&name))))?;
    Ok(notes)
}

/// Our CronJobs, in one namespace or all.
pub async fn list_schedules(
    kube: &Kube,
    served: &Served,
    namespace: Option<&str>,
) -> Result<Vec<CronJob>, K8sError> {
    let a = attempt("list", namespace, None);
    let params = ListParams::default().labels(&format!("{MANAGED_BY_LABEL}={MANAGED_BY}"));
    let list = cronjobs(kube, served.cronjob()?.api_version, namespace)
        .list(&params)
        .await
        .map_err(kube.failed(a.clone()))?;
    list.items.into_iter().map(|o| typed(o, &a)).collect()
}

/// Deletes the CronJob (its Jobs and pods go with it, in the background) and its ServiceAccount.
/// Returns false when there was no such schedule. Only objects carrying our schedule label are
/// deleted: a same-named object someone else made is left alone.
pub async fn delete_schedule(
    kube: &Kube,
    served: &Served,
    namespace: &str,
    name: &str,
    dry_run: bool,
) -> Result<bool, K8sError> {
    let object = cronjob::object_name(name);
    let cjs = cronjobs(kube, served.cronjob()?.api_version, Some(namespace));
    let Some(found) = cjs.get_opt(&object).await.map_err(kube.failed(attempt(
        "get",
        Some(namespace),
        Some(&object),
    )))?
    else {
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
    let mut params = DeleteParams::background();
    if dry_run {
        params = params.dry_run();
    }
    cjs.delete(&object, &params)
        .await
        .map_err(kube.failed(attempt("delete", Some(namespace), Some(&object))))?;
    delete_companions(kube, namespace, &object, &params).await?;
    // The schedule's restore test, when it has one (`--verify`); its proof ConfigMap stays, as
    // the snapshots do: it is the record of what was proven.
    let verify = restore_test::object_name(name);
    match cjs.delete(&verify, &params).await {
        Ok(_) => {}
        Err(kube::Error::Api(s)) if s.code == 404 => {}
        Err(e) => {
            return Err(kube.failed(attempt(
                "delete",
                Some(namespace),
                Some(&verify),
            ))(e));
        }
    }
    delete_companions(kube, namespace, &verify, &params).await?;
    Ok(true)
}

/// Deletes the ServiceAccount, RoleBinding and Role called `object`, where they exist (the Role
/// and RoleBinding only exist for schedules with --volume-snapshot-class, and restore tests).
async fn delete_companions(
    kube: &Kube,
    namespace: &str,
    object: &str,
    params: &DeleteParams,
) -> Result<(), K8sError> {
    let sas: Api<ServiceAccount> = Api::namespaced(kube.client().clone(), namespace);
    let roles: Api<Role> = Api::namespaced(kube.client().clone(), namespace);
    let bindings: Api<RoleBinding> = Api::namespaced(kube.client().clone(), namespace);
    for (kind, plural, result) in [
        (
            "ServiceAccount",
            "serviceaccounts",
            sas.delete(object, params).await.map(|_| ()),
        ),
        (
            "RoleBinding",
            "rolebindings.rbac.authorization.k8s.io",
            bindings.delete(object, params).await.map(|_| ()),
        ),
        (
            "Role",
            "roles.rbac.authorization.k8s.io",
            roles.delete(object, params).await.map(|_| ()),
        ),
    ] {
        match result {
            Ok(()) => {}
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => {
                return Err(kube.failed(
                    Attempt::new("delete", kind, plural)
                        .in_namespace(Some(namespace))
                        .named(object),
                )(e));
            }
        }
    }
    Ok(())
}

/// `kubectl create job --from=cronjob/...`: reads the CronJob (for its uid) and creates the Job,
/// owned by the CronJob under the version the server serves it as.
pub async fn run_now(
    kube: &Kube,
    served: &Served,
    namespace: &str,
    name: &str,
    job_name: &str,
) -> Result<Job, K8sError> {
    let object = cronjob::object_name(name);
    let api_version = served.cronjob()?.api_version;
    let read = attempt("get", Some(namespace), Some(&object));
    let found = cronjobs(kube, api_version, Some(namespace))
        .get(&object)
        .await
        .map_err(kube.failed(read.clone()))?;
    let cj = typed(found, &read)?;
    let create = Attempt::new("create", "Job", "jobs.batch")
        .in_namespace(Some(namespace))
        .named(job_name);
    let mut job = cronjob::job_from(&cj, job_name)
        .map_err(|e| K8sError::new(create.clone(), Problem::Invalid(e.to_string())))?;
    for owner in job.metadata.owner_references.iter_mut().flatten() {
        owner.api_version = api_version.to_owned();
    }
    let jobs: Api<Job> = Api::namespaced(kube.client().clone(), namespace);
    jobs.create(&PostParams::default(), &job)
        .await
        .map_err(kube.failed(create))
}
