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
use crate::schedule::{MANAGED_BY, MANAGED_BY_LABEL};

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

/// Whether ServiceAccount `ns/name` exists (a create that fails removes only one it made).
pub async fn service_account_exists(kube: &Kube, ns: &str, name: &str) -> Result<bool, K8sError> {
    let sas: Api<ServiceAccount> = Api::namespaced(kube.client().clone(), ns);
    Ok(sas
        .get_opt(name)
        .await
        .map_err(kube.failed(service_account_attempt("get", ns, name)))?
        .is_some())
}

fn service_account_attempt(verb: &'static str, ns: &str, name: &str) -> Attempt {
    Attempt::new(verb, "ServiceAccount", "serviceaccounts")
        .in_namespace(Some(ns))
        .named(name)
}

/// A schedule's ServiceAccount, Role or RoleBinding.
#[derive(Debug, Clone)]
pub enum Companion {
    ServiceAccount(ServiceAccount),
    Role(Role),
    RoleBinding(RoleBinding),
}

/// Applies `companion` server-side, in its own namespace.
pub async fn apply_companion(kube: &Kube, companion: &Companion) -> Result<(), K8sError> {
    let ns_name = |m: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta| {
        (
            m.namespace.clone().unwrap_or_default(),
            m.name.clone().unwrap_or_default(),
        )
    };
    let created = |kind: &str, plural: &str, ns: &str, name: &str| {
        Attempt::new("create", kind, plural)
            .in_namespace(Some(ns))
            .named(name)
    };
    match companion {
        Companion::ServiceAccount(sa) => {
            let (ns, name) = ns_name(&sa.metadata);
            let api: Api<ServiceAccount> = Api::namespaced(kube.client().clone(), &ns);
            apply(
                kube,
                &api,
                service_account_attempt("create", &ns, &name),
                sa,
            )
            .await?;
        }
        Companion::Role(role) => {
            let (ns, name) = ns_name(&role.metadata);
            let api: Api<Role> = Api::namespaced(kube.client().clone(), &ns);
            let attempt = created("Role", "roles.rbac.authorization.k8s.io", &ns, &name);
            apply(kube, &api, attempt, role).await?;
        }
        Companion::RoleBinding(binding) => {
            let (ns, name) = ns_name(&binding.metadata);
            let api: Api<RoleBinding> = Api::namespaced(kube.client().clone(), &ns);
            let attempt = created(
                "RoleBinding",
                "rolebindings.rbac.authorization.k8s.io",
                &ns,
                &name,
            );
            apply(kube, &api, attempt, binding).await?;
        }
    }
    Ok(())
}

/// Applies a CronJob as `for_server` adapted it (its apiVersion is the server's), server-side;
/// returns it as this server stored it, as the `batch/v1` type.
pub async fn apply_cron_job(kube: &Kube, cron_job: &Value) -> Result<CronJob, K8sError> {
    let ns = cron_job["metadata"]["namespace"]
        .as_str()
        .unwrap_or_default();
    let name = cron_job["metadata"]["name"].as_str().unwrap_or_default();
    let api_version = cron_job["apiVersion"].as_str().unwrap_or("batch/v1");
    let a = attempt("create", Some(ns), Some(name));
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let object = cronjobs(kube, api_version, Some(ns))
        .patch(name, &params, &Patch::Apply(cron_job))
        .await
        .map_err(kube.failed(a.clone()))?;
    typed(object, &a)
}

/// Deletes ServiceAccount `ns/name` (what a failed create leaves behind).
pub async fn delete_service_account(kube: &Kube, ns: &str, name: &str) -> Result<(), K8sError> {
    let sas: Api<ServiceAccount> = Api::namespaced(kube.client().clone(), ns);
    sas.delete(name, &DeleteParams::default())
        .await
        .map_err(kube.failed(service_account_attempt("delete", ns, name)))?;
    Ok(())
}

/// CronJob `namespace/object` as the `batch/v1` type; `None` when there is none.
pub async fn get_cron_job(
    kube: &Kube,
    served: &Served,
    namespace: &str,
    object: &str,
) -> Result<Option<CronJob>, K8sError> {
    let a = attempt("get", Some(namespace), Some(object));
    let found = cronjobs(kube, served.cronjob()?.api_version, Some(namespace))
        .get_opt(object)
        .await
        .map_err(kube.failed(a.clone()))?;
    found.map(|o| typed(o, &a)).transpose()
}

/// Deletes CronJob `namespace/object` (its Jobs and pods go with it, in the background); false
/// when there was none.
pub async fn delete_cron_job(
    kube: &Kube,
    served: &Served,
    namespace: &str,
    object: &str,
    dry_run: bool,
) -> Result<bool, K8sError> {
    match cronjobs(kube, served.cronjob()?.api_version, Some(namespace))
        .delete(object, &delete_params(dry_run))
        .await
    {
        Ok(_) => Ok(true),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(false),
        Err(e) => Err(kube.failed(attempt(
            "delete",
            Some(namespace),
            Some(object),
        ))(e)),
    }
}

fn delete_params(dry_run: bool) -> DeleteParams {
    let params = DeleteParams::background();
    if dry_run {
        params.dry_run()
    } else {
        params
    }
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

/// Deletes the ServiceAccount, RoleBinding and Role called `object`, where they exist (the Role
/// and RoleBinding only exist for schedules with --volume-snapshot-class, and restore tests).
pub async fn delete_companions(
    kube: &Kube,
    namespace: &str,
    object: &str,
    dry_run: bool,
) -> Result<(), K8sError> {
    let params = &delete_params(dry_run);
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
