//! `workflows::schedule::cron_jobs` driven in-process through a fake `ScheduleCluster`: where the
//! backup finds Elasticsearch, what is refused before anything is written, and in which order the
//! objects are applied. The Kubernetes calls themselves are in kube_schedules.rs.

use std::cell::RefCell;

use jiff::Timestamp;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use logbackup::es::discovery::EsEndpoint;
use logbackup::k8s::schedules::Companion;
use logbackup::k8s::{K8sError, Served};
use logbackup::schedule::cronjob::{self, SecretKey};
use logbackup::schedule::restore_test::{self, RestoreTestPlan};
use logbackup::schedule::Schedule;
use logbackup::workflows::schedule::cron_jobs::{self, manual_job_name, CreateRequest};
use logbackup::workflows::schedule::{ScheduleCluster, ScheduleFailure};
use logbackup::workflows::Said;
use serde_json::Value;
use test_support::plugin::{nightly_plan, served};

/// A cluster of 1.`minor` that records each call, finds `found`, and holds `cron_jobs`.
struct Fake {
    minor: u32,
    found: Option<EsEndpoint>,
    /// The schedule's ServiceAccount is there before `create`.
    service_account_exists: bool,
    /// The backup's CronJob is refused (as RBAC would).
    refuse_cron_job: bool,
    /// The CronJob `get_cron_job` finds.
    live: Option<CronJob>,
    cron_jobs: Vec<CronJob>,
    calls: RefCell<Vec<String>>,
}

fn fake(minor: u32) -> Fake {
    Fake {
        minor,
        found: None,
        service_account_exists: false,
        refuse_cron_job: false,
        live: None,
        cron_jobs: Vec::new(),
        calls: RefCell::new(Vec::new()),
    }
}

impl Fake {
    fn called(&self, call: String) {
        self.calls.borrow_mut().push(call);
    }
    fn calls(&self) -> Vec<String> {
        self.calls.borrow().clone()
    }
}

fn forbidden() -> K8sError {
    K8sError::new(
        logbackup::k8s::Attempt::new("create", "CronJob", "cronjobs.batch"),
        logbackup::k8s::Problem::Invalid("forbidden here".into()),
    )
}

/// `KIND ns/name` of an object.
fn named(kind: &str, meta: &ObjectMeta) -> String {
    format!(
        "{kind} {}/{}",
        meta.namespace.as_deref().unwrap_or_default(),
        meta.name.as_deref().unwrap_or_default()
    )
}

impl ScheduleCluster for Fake {
    async fn served(&self) -> Result<Served, K8sError> {
        self.called("served".into());
        Ok(served(self.minor))
    }
    fn default_namespace(&self) -> String {
        "context-ns".into()
    }
    async fn find_elasticsearch(&self, namespace: Option<&str>) -> Result<EsEndpoint, K8sError> {
        self.called(format!("find {namespace:?}"));
        Ok(self.found.clone().unwrap())
    }
    async fn service_account_exists(&self, namespace: &str, name: &str) -> Result<bool, K8sError> {
        self.called(format!("get ServiceAccount {namespace}/{name}"));
        Ok(self.service_account_exists)
    }
    async fn apply_companion(&self, companion: &Companion) -> Result<(), K8sError> {
        self.called(format!(
            "apply {}",
            match companion {
                Companion::ServiceAccount(o) => named("ServiceAccount", &o.metadata),
                Companion::Role(o) => named("Role", &o.metadata),
                Companion::RoleBinding(o) => named("RoleBinding", &o.metadata),
            }
        ));
        Ok(())
    }
    async fn apply_cron_job(&self, cron_job: &Value) -> Result<CronJob, K8sError> {
        let meta = &cron_job["metadata"];
        self.called(format!(
            "apply {} {}/{}",
            cron_job["apiVersion"].as_str().unwrap(),
            meta["namespace"].as_str().unwrap(),
            meta["name"].as_str().unwrap()
        ));
        let backup = !meta["name"].as_str().unwrap().ends_with("-verify");
        if self.refuse_cron_job && backup {
            return Err(forbidden());
        }
        let mut typed = cron_job.clone();
        typed["apiVersion"] = "batch/v1".into();
        Ok(serde_json::from_value(typed).unwrap())
    }
    async fn delete_service_account(&self, namespace: &str, name: &str) -> Result<(), K8sError> {
        self.called(format!("delete ServiceAccount {namespace}/{name}"));
        Ok(())
    }
    async fn ensure_proofs(&self, namespace: &str, repository: &str) -> Result<(), K8sError> {
        self.called(format!("ensure proofs {namespace}/{repository}"));
        Ok(())
    }
    async fn list_schedules(
        &self,
        _: &Served,
        namespace: Option<&str>,
    ) -> Result<Vec<CronJob>, K8sError> {
        self.called(format!("list {namespace:?}"));
        Ok(self.cron_jobs.clone())
    }
    async fn get_cron_job(
        &self,
        _: &Served,
        namespace: &str,
        object: &str,
    ) -> Result<Option<CronJob>, K8sError> {
        self.called(format!("get CronJob {namespace}/{object}"));
        Ok(self.live.clone())
    }
    async fn delete_cron_job(
        &self,
        _: &Served,
        namespace: &str,
        object: &str,
        dry_run: bool,
    ) -> Result<bool, K8sError> {
        self.called(format!(
            "delete CronJob {namespace}/{object} dry_run={dry_run}"
        ));
        Ok(true)
    }
    async fn delete_companions(
        &self,
        namespace: &str,
        object: &str,
        dry_run: bool,
    ) -> Result<(), K8sError> {
        self.called(format!(
            "delete companions {namespace}/{object} dry_run={dry_run}"
        ));
        Ok(())
    }
    async fn run_now(
        &self,
        _: &Served,
        namespace: &str,
        name: &str,
        job_name: &str,
    ) -> Result<Job, K8sError> {
        self.called(format!("run {namespace}/{name} as {job_name}"));
        Ok(Job::default())
    }
}

fn run<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(f)
}

/// The README's nightly schedule into `namespace`, Elasticsearch at `es_url` ("" = find it).
fn request(es_url: &str, namespace: Option<&str>) -> CreateRequest {
    let plan = nightly_plan("unused");
    let mut backup = plan.backup;
    backup.es_url = es_url.into();
    CreateRequest {
        name: plan.name,
        schedule: plan.schedule,
        image: plan.image,
        backup,
        namespace: namespace.map(str::to_owned),
        insecure: false,
        restore_test: None,
        dry_run: false,
    }
}

fn eck() -> EsEndpoint {
    EsEndpoint {
        namespace: "elastic".into(),
        service: "quickstart-es-http".into(),
        port: 9200,
        https: true,
        eck_user_secret: Some("quickstart-es-elastic-user".into()),
    }
}

/// Runs `create`, returning its result and what it said.
fn create(
    cluster: Option<&Fake>,
    request: &CreateRequest,
) -> (Result<cron_jobs::Created, ScheduleFailure>, Vec<String>) {
    let mut said = Vec::new();
    let result = run(cron_jobs::create(cluster, request, &mut |s| {
        if let Said::Note(line) = s {
            said.push(line);
        }
    }));
    (result, said)
}

#[test]
fn eck_found_in_the_cluster_gives_the_url_user_and_ca_then_the_backup_goes_before_its_restore_test()
{
    // 1.20: both CronJobs go out as batch/v1beta1, and the version notes are said once.
    let mut cluster = fake(20);
    cluster.found = Some(eck());
    let mut req = request("", None);
    req.restore_test = Some(restore_test::parse("weekly", None).unwrap());
    let (created, said) = create(Some(&cluster), &req);
    let created = created.unwrap();
    let backup = &created.plan.backup;
    assert_eq!(backup.es_url, "https://quickstart-es-http.elastic.svc:9200");
    assert_eq!(backup.username.as_deref(), Some("elastic"));
    assert_eq!(
        backup.password,
        Some(SecretKey {
            secret: "quickstart-es-elastic-user".into(),
            key: "elastic".into()
        })
    );
    assert_eq!(
        backup.ca,
        Some(SecretKey {
            secret: "quickstart-es-http-certs-public".into(),
            key: "ca.crt".into()
        })
    );
    assert_eq!(created.plan.namespace, "elastic");
    assert_eq!(
        cluster.calls(),
        [
            "find None",
            "served",
            "get ServiceAccount elastic/logbackup-nightly",
            "apply ServiceAccount elastic/logbackup-nightly",
            "apply batch/v1beta1 elastic/logbackup-nightly",
            "ensure proofs elastic/ks-log-snapshots",
            "apply ServiceAccount elastic/logbackup-nightly-verify",
            "apply Role elastic/logbackup-nightly-verify",
            "apply RoleBinding elastic/logbackup-nightly-verify",
            "apply batch/v1beta1 elastic/logbackup-nightly-verify",
        ]
    );
    assert_eq!(said.len(), 5, "{said:?}");
    assert_eq!(
        said[..2],
        [
            "Elasticsearch in-cluster: https://quickstart-es-http.elastic.svc:9200",
            "note: this cluster runs Kubernetes 1.20; CronJob batch/v1 needs 1.21, using batch/v1beta1",
        ]
    );
    assert!(
        said[2].starts_with("note: Kubernetes 1.20 has no CronJob timeZone (1.27+)"),
        "{said:?}"
    );
    assert_eq!(
        said[3..],
        [
            "applied ServiceAccount and CronJob elastic/logbackup-nightly",
            "applied the restore test elastic/logbackup-nightly-verify; its proofs go to ConfigMap logbackup-proofs-ks-log-snapshots",
        ]
    );
    let kinds: Vec<&str> = created
        .objects
        .iter()
        .map(|o| o["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds.iter().filter(|k| **k == "CronJob").count(),
        2,
        "{kinds:?}"
    );
}

#[test]
fn a_password_given_and_insecure_keep_eck_defaults_away() {
    let mut cluster = fake(33);
    cluster.found = Some(eck());
    let mut req = request("", Some("elastic"));
    req.backup.password = Some(SecretKey {
        secret: "mine".into(),
        key: "password".into(),
    });
    req.insecure = true;
    req.dry_run = true;
    let (created, _) = create(Some(&cluster), &req);
    let backup = created.unwrap().plan.backup;
    assert_eq!(backup.username, None);
    assert_eq!(backup.password.unwrap().secret, "mine");
    assert_eq!(backup.ca, None);
    // A dry run looks, and writes nothing.
    assert_eq!(cluster.calls(), ["find Some(\"elastic\")"]);
}

#[test]
fn a_dry_run_with_an_es_url_needs_no_cluster() {
    let url = "http://elasticsearch-logging-data.kubesphere-logging-system.svc:9200";
    let mut req = request(url, Some("kubesphere-logging-system"));
    req.dry_run = true;
    let (created, said) = create(None, &req);
    let created = created.unwrap();
    assert_eq!(created.plan.backup.es_url, url);
    assert!(said.is_empty(), "{said:?}");
    let kinds: Vec<&str> = created
        .objects
        .iter()
        .map(|o| o["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["ServiceAccount", "CronJob"]);
}

#[test]
fn credentials_in_the_url_and_a_missing_namespace_are_refused_before_the_cluster_is_asked() {
    let cluster = fake(33);
    let (e, _) = create(
        Some(&cluster),
        &request("http://elastic:s3cret@es.example:9200", Some("ns")),
    );
    let text = e.unwrap_err().to_string();
    assert!(text.contains("holds credentials"), "{text}");
    assert!(!text.contains("s3cret"), "{text}");
    let (e, _) = create(Some(&cluster), &request("http://es.example:9200", None));
    assert!(
        matches!(e, Err(ScheduleFailure::NoNamespace)),
        "{:?}",
        e.map(|c| c.plan.namespace)
    );
    assert!(cluster.calls().is_empty(), "{:?}", cluster.calls());
}

#[test]
fn a_time_zone_before_1_27_is_refused_before_anything_is_applied() {
    let cluster = fake(26);
    let mut req = request("http://es:9200", Some("ns"));
    req.schedule = Schedule::parse("0 1 * * *", Some("Asia/Shanghai")).unwrap();
    req.restore_test = Some(restore_test::parse("weekly", Some("Asia/Shanghai")).unwrap());
    let (e, said) = create(Some(&cluster), &req);
    let text = e.unwrap_err().to_string();
    assert!(
        text.contains("--time-zone needs Kubernetes 1.27 (CronJob spec.timeZone) and this cluster runs Kubernetes 1.26"),
        "{text}"
    );
    assert_eq!(cluster.calls(), ["served"]);
    assert!(said.is_empty(), "{said:?}");
}

#[test]
fn a_refused_backup_cron_job_removes_the_service_account_it_made_and_applies_no_restore_test() {
    let mut cluster = fake(33);
    cluster.refuse_cron_job = true;
    let mut req = request("http://es:9200", Some("ns"));
    req.restore_test = Some(restore_test::parse("daily", None).unwrap());
    let (e, said) = create(Some(&cluster), &req);
    let Err(ScheduleFailure::Kubernetes(e)) = e else {
        panic!("not a Kubernetes error")
    };
    assert!(
        e.to_string()
            .ends_with("; removed the ServiceAccount ns/logbackup-nightly it had created"),
        "{e}"
    );
    assert_eq!(
        cluster.calls(),
        [
            "served",
            "get ServiceAccount ns/logbackup-nightly",
            "apply ServiceAccount ns/logbackup-nightly",
            "apply batch/v1 ns/logbackup-nightly",
            "delete ServiceAccount ns/logbackup-nightly",
        ]
    );
    assert!(said.is_empty(), "{said:?}");

    // A ServiceAccount that was there before stays.
    let mut cluster = fake(33);
    cluster.refuse_cron_job = true;
    cluster.service_account_exists = true;
    let (e, _) = create(Some(&cluster), &req);
    assert!(!e.unwrap_err().to_string().contains("removed"));
    assert!(!cluster
        .calls()
        .contains(&"delete ServiceAccount ns/logbackup-nightly".to_owned()));
}

#[test]
fn volume_snapshots_get_their_role_before_the_cron_job() {
    let cluster = fake(33);
    let mut req = request("http://es:9200", Some("ns"));
    req.backup.volume_snapshot = Some(logbackup_core::volume_snapshot::VolumeSnapshotJob {
        class: "csi-snapclass".into(),
        claim: "logbackup-snapshots".into(),
        keep: 3,
    });
    let (created, _) = create(Some(&cluster), &req);
    created.unwrap();
    assert_eq!(
        cluster.calls()[2..],
        [
            "apply ServiceAccount ns/logbackup-nightly",
            "apply Role ns/logbackup-nightly",
            "apply RoleBinding ns/logbackup-nightly",
            "apply batch/v1 ns/logbackup-nightly",
        ]
    );
}

#[test]
fn a_restore_test_name_too_long_is_refused_with_what_to_do() {
    let cluster = fake(33);
    let mut req = request("http://es:9200", Some("ns"));
    req.name = "a".repeat(50);
    req.restore_test = Some(restore_test::parse("daily", None).unwrap());
    let (e, _) = create(Some(&cluster), &req);
    let text = e.unwrap_err().to_string();
    assert!(text.starts_with("the restore test's CronJob is called logbackup-NAME-verify: choose a shorter NAME: invalid schedule name"), "{text}");
    assert!(cluster.calls().is_empty());
}

#[test]
fn list_shows_backups_and_restore_tests_as_rows() {
    let mut cluster = fake(33);
    let plan = nightly_plan("ns");
    let test = RestoreTestPlan {
        backup: plan.clone(),
        schedule: restore_test::parse("weekly", None).unwrap(),
    };
    cluster.cron_jobs = vec![cronjob::cron_job(&plan), restore_test::cron_job(&test)];
    let rows = run(cron_jobs::list(&cluster, Some("ns"))).unwrap();
    assert_eq!(cluster.calls(), ["served", "list Some(\"ns\")"]);
    let jobs: Vec<(&str, &str, &str, &str)> = rows
        .iter()
        .map(|r| {
            (
                r.name.as_str(),
                r.job.as_str(),
                r.engine.as_str(),
                r.namespace.as_str(),
            )
        })
        .collect();
    assert_eq!(
        jobs,
        [
            ("nightly", "backup", "cronjob", "ns"),
            ("nightly", "restore-test", "cronjob", "ns")
        ]
    );
    assert_eq!(rows[0].schedule, "0 1 * * *");
    assert_eq!(rows[1].schedule, "30 5 * * 0");
}

#[test]
fn delete_removes_ours_and_its_restore_test_and_run_now_defaults_to_the_context_namespace() {
    let mut cluster = fake(33);
    cluster.live = Some(cronjob::cron_job(&nightly_plan("context-ns")));
    let gone = run(cron_jobs::delete(&cluster, None, "nightly", true)).unwrap();
    assert_eq!(gone.namespace, "context-ns");
    assert_eq!(gone.restore_test, "logbackup-nightly-verify");
    let now = Timestamp::from_second(1_700_000_000).unwrap();
    let started = run(cron_jobs::run_now(&cluster, Some("ns"), "nightly", now)).unwrap();
    assert_eq!(started.job, "logbackup-nightly-manual-1700000000");
    assert_eq!(
        cluster.calls(),
        [
            "served",
            "get CronJob context-ns/logbackup-nightly",
            "delete CronJob context-ns/logbackup-nightly dry_run=true",
            "delete companions context-ns/logbackup-nightly dry_run=true",
            "delete CronJob context-ns/logbackup-nightly-verify dry_run=true",
            "delete companions context-ns/logbackup-nightly-verify dry_run=true",
            "served",
            "run ns/nightly as logbackup-nightly-manual-1700000000"
        ]
    );
}

#[test]
fn a_missing_schedule_or_someone_elses_cron_job_is_not_found_and_nothing_is_deleted() {
    let mut cluster = fake(33);
    let e = run(cron_jobs::delete(&cluster, Some("ns"), "other", false)).unwrap_err();
    assert_eq!(e.to_string(), "no schedule other in namespace ns");
    // Same name, but not labelled as our schedule: left alone.
    let mut theirs = cronjob::cron_job(&nightly_plan("ns"));
    theirs.metadata.labels = None;
    cluster.live = Some(theirs);
    let e = run(cron_jobs::delete(&cluster, Some("ns"), "nightly", false)).unwrap_err();
    assert_eq!(e.to_string(), "no schedule nightly in namespace ns");
    assert!(
        !cluster.calls().iter().any(|c| c.starts_with("delete")),
        "{:?}",
        cluster.calls()
    );
}

#[test]
fn a_manual_job_name_fits_in_63_characters() {
    let name = manual_job_name(&"n".repeat(52), 1_700_000_000);
    assert_eq!(name.len(), 63);
    assert!(name.ends_with("-manual-1700000000"), "{name}");
}
