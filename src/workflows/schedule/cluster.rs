//! What the schedule workflows need from a Kubernetes cluster, one call each: implemented by
//! `k8s::Kube` over `k8s::schedules`, and by a fake in the tests.

use k8s_openapi::api::batch::v1::{CronJob, Job};
use serde_json::Value;

use crate::es::discovery::EsEndpoint;
use crate::k8s::schedules::Companion;
use crate::k8s::{self, K8sError, Kube, Served};

#[allow(async_fn_in_trait)] // Used through generics only, on one task: no Send bound needed.
pub trait ScheduleCluster {
    /// What the server serves (the CronJob version, whether it has `timeZone`).
    async fn served(&self) -> Result<Served, K8sError>;
    /// The kubeconfig context's namespace, for when -n is not given.
    fn default_namespace(&self) -> String;
    /// The Elasticsearch HTTP Service, in `namespace` or anywhere.
    async fn find_elasticsearch(&self, namespace: Option<&str>) -> Result<EsEndpoint, K8sError>;
    async fn service_account_exists(&self, namespace: &str, name: &str) -> Result<bool, K8sError>;
    /// Server-side apply of a ServiceAccount, Role or RoleBinding.
    async fn apply_companion(&self, companion: &Companion) -> Result<(), K8sError>;
    /// Server-side apply of a CronJob already adapted to the server (`schedules::for_server`).
    async fn apply_cron_job(&self, cron_job: &Value) -> Result<CronJob, K8sError>;
    async fn delete_service_account(&self, namespace: &str, name: &str) -> Result<(), K8sError>;
    /// The restore test's proof ConfigMap, created only when missing (its history kept).
    async fn ensure_proofs(&self, namespace: &str, repository: &str) -> Result<(), K8sError>;
    /// Our CronJobs, in `namespace` or all, as `batch/v1`.
    async fn list_schedules(
        &self,
        served: &Served,
        namespace: Option<&str>,
    ) -> Result<Vec<CronJob>, K8sError>;
    async fn get_cron_job(
        &self,
        served: &Served,
        namespace: &str,
        object: &str,
    ) -> Result<Option<CronJob>, K8sError>;
    /// False when there was none.
    async fn delete_cron_job(
        &self,
        served: &Served,
        namespace: &str,
        object: &str,
        dry_run: bool,
    ) -> Result<bool, K8sError>;
    /// The ServiceAccount, RoleBinding and Role called `object`, where they exist.
    async fn delete_companions(
        &self,
        namespace: &str,
        object: &str,
        dry_run: bool,
    ) -> Result<(), K8sError>;
    /// A Job from the schedule's CronJob, owned by it (`kubectl create job --from=cronjob/...`).
    async fn run_now(
        &self,
        served: &Served,
        namespace: &str,
        name: &str,
        job_name: &str,
    ) -> Result<Job, K8sError>;
}

impl ScheduleCluster for Kube {
    async fn served(&self) -> Result<Served, K8sError> {
        Kube::served(self).await.cloned()
    }
    fn default_namespace(&self) -> String {
        Kube::default_namespace(self).to_owned()
    }
    async fn find_elasticsearch(&self, namespace: Option<&str>) -> Result<EsEndpoint, K8sError> {
        k8s::elasticsearch::find_service(self, namespace).await
    }
    async fn service_account_exists(&self, namespace: &str, name: &str) -> Result<bool, K8sError> {
        k8s::schedules::service_account_exists(self, namespace, name).await
    }
    async fn apply_companion(&self, companion: &Companion) -> Result<(), K8sError> {
        k8s::schedules::apply_companion(self, companion).await
    }
    async fn apply_cron_job(&self, cron_job: &Value) -> Result<CronJob, K8sError> {
        k8s::schedules::apply_cron_job(self, cron_job).await
    }
    async fn delete_service_account(&self, namespace: &str, name: &str) -> Result<(), K8sError> {
        k8s::schedules::delete_service_account(self, namespace, name).await
    }
    async fn ensure_proofs(&self, namespace: &str, repository: &str) -> Result<(), K8sError> {
        k8s::proofs::ensure(self, namespace, repository)
            .await
            .map(|_| ())
    }
    async fn list_schedules(
        &self,
        served: &Served,
        namespace: Option<&str>,
    ) -> Result<Vec<CronJob>, K8sError> {
        k8s::schedules::list_schedules(self, served, namespace).await
    }
    async fn get_cron_job(
        &self,
        served: &Served,
        namespace: &str,
        object: &str,
    ) -> Result<Option<CronJob>, K8sError> {
        k8s::schedules::get_cron_job(self, served, namespace, object).await
    }
    async fn delete_cron_job(
        &self,
        served: &Served,
        namespace: &str,
        object: &str,
        dry_run: bool,
    ) -> Result<bool, K8sError> {
        k8s::schedules::delete_cron_job(self, served, namespace, object, dry_run).await
    }
    async fn delete_companions(
        &self,
        namespace: &str,
        object: &str,
        dry_run: bool,
    ) -> Result<(), K8sError> {
        k8s::schedules::delete_companions(self, namespace, object, dry_run).await
    }
    async fn run_now(
        &self,
        served: &Served,
        namespace: &str,
        name: &str,
        job_name: &str,
    ) -> Result<Job, K8sError> {
        k8s::schedules::run_now(self, served, namespace, name, job_name).await
    }
}
