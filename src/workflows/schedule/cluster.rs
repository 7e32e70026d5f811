//! What the schedule workflows need from a Kubernetes cluster: implemented by `k8s::Kube` over
//! `k8s::schedules` (where a failed CronJob removes the ServiceAccount it came with), and by a fake
//! in the tests.

use k8s_openapi::api::batch::v1::{CronJob, Job};

use crate::es::discovery::EsEndpoint;
use crate::k8s::{self, K8sError, Kube, Served};
use logbackup_core::schedule::cronjob::CronJobPlan;
use logbackup_core::schedule::restore_test::RestoreTestPlan;

#[allow(async_fn_in_trait)] // Used through generics only, on one task: no Send bound needed.
pub trait ScheduleCluster {
    /// What the server serves (the CronJob version, whether it has `timeZone`).
    async fn served(&self) -> Result<Served, K8sError>;
    /// The kubeconfig context's namespace, for when -n is not given.
    fn default_namespace(&self) -> String;
    /// The Elasticsearch HTTP Service, in `namespace` or anywhere.
    async fn find_elasticsearch(&self, namespace: Option<&str>) -> Result<EsEndpoint, K8sError>;
    /// The backup's ServiceAccount (with its Role for volume snapshots) and CronJob; the version
    /// notes worth telling.
    async fn apply_schedule(
        &self,
        served: &Served,
        plan: &CronJobPlan,
    ) -> Result<Vec<String>, K8sError>;
    /// The restore test's proof ConfigMap (if missing), ServiceAccount, Role, RoleBinding, CronJob.
    async fn apply_restore_test(
        &self,
        served: &Served,
        plan: &RestoreTestPlan,
    ) -> Result<Vec<String>, K8sError>;
    /// Our CronJobs, in `namespace` or all, as `batch/v1`.
    async fn list_schedules(
        &self,
        served: &Served,
        namespace: Option<&str>,
    ) -> Result<Vec<CronJob>, K8sError>;
    /// The schedule's objects and its restore test's; false when there is no such schedule.
    async fn delete_schedule(
        &self,
        served: &Served,
        namespace: &str,
        name: &str,
        dry_run: bool,
    ) -> Result<bool, K8sError>;
    /// A Job from the schedule's CronJob, owned by it.
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
    async fn apply_schedule(
        &self,
        served: &Served,
        plan: &CronJobPlan,
    ) -> Result<Vec<String>, K8sError> {
        Ok(k8s::schedules::apply_schedule(self, served, plan)
            .await?
            .notes)
    }
    async fn apply_restore_test(
        &self,
        served: &Served,
        plan: &RestoreTestPlan,
    ) -> Result<Vec<String>, K8sError> {
        k8s::schedules::apply_restore_test(self, served, plan).await
    }
    async fn list_schedules(
        &self,
        served: &Served,
        namespace: Option<&str>,
    ) -> Result<Vec<CronJob>, K8sError> {
        k8s::schedules::list_schedules(self, served, namespace).await
    }
    async fn delete_schedule(
        &self,
        served: &Served,
        namespace: &str,
        name: &str,
        dry_run: bool,
    ) -> Result<bool, K8sError> {
        k8s::schedules::delete_schedule(self, served, namespace, name, dry_run).await
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
