//! The CronJob engine: where the backup finds Elasticsearch, what is applied and in which order,
//! and listing, deleting and running our CronJobs. Kubernetes is reached through
//! [`ScheduleCluster`].

use jiff::Timestamp;
use k8s_openapi::api::batch::v1::CronJob;
use serde_json::Value;

use super::{objects, ScheduleCluster, ScheduleFailure, ScheduleRow};
use crate::k8s::schedules::{for_server, restore_test_for_server};
use crate::workflows::Said;
use logbackup_core::es::auth::{redact_url_credentials, url_has_credentials};
use logbackup_core::schedule::cronjob::{self, BackupCommand, CronJobPlan, SecretKey};
use logbackup_core::schedule::restore_test::{self, RestoreTestPlan};
use logbackup_core::schedule::{validate_name, Schedule, SCHEDULE_LABEL};

/// A backup schedule to create, as the flags ask for it.
#[derive(Debug, Clone)]
pub struct CreateRequest {
    pub name: String,
    pub schedule: Schedule,
    pub image: String,
    /// What the scheduled `backup` runs. An empty `es_url` means: find Elasticsearch in the
    /// cluster, and take its namespace, URL, ECK credentials and CA from what is found.
    pub backup: BackupCommand,
    /// -n: where the CronJob goes with an `es_url`; where to look for Elasticsearch without one.
    pub namespace: Option<String>,
    /// --insecure: an in-cluster https Service gets no CA Secret guessed for it.
    pub insecure: bool,
    /// --verify: the restore test's schedule.
    pub restore_test: Option<Schedule>,
    pub dry_run: bool,
}

/// What `create` planned, and applied unless it was a dry run.
#[derive(Debug, Clone)]
pub struct Created {
    pub plan: CronJobPlan,
    pub restore_test: Option<RestoreTestPlan>,
    /// The objects as the core renders them (`batch/v1`), for printing.
    pub objects: Vec<Value>,
}

/// Plans the schedule (and its restore test), refuses what this server cannot run before anything
/// is written, then applies the backup's objects and the restore test's. `cluster` may be `None`
/// only for a dry run with an `es_url`, which needs no cluster at all.
pub async fn create(
    cluster: Option<&impl ScheduleCluster>,
    request: &CreateRequest,
    say: &mut impl FnMut(Said),
) -> Result<Created, ScheduleFailure> {
    let mut backup = request.backup.clone();
    let namespace = if backup.es_url.is_empty() {
        let cluster = cluster.ok_or(ScheduleFailure::NoCluster)?;
        let found = cluster
            .find_elasticsearch(request.namespace.as_deref())
            .await?;
        in_cluster(&mut backup, &found, request.insecure);
        say(Said::Note(format!(
            "Elasticsearch in-cluster: {}",
            backup.es_url
        )));
        found.namespace
    } else {
        if url_has_credentials(&backup.es_url) {
            return Err(ScheduleFailure::CredentialsInUrl(redact_url_credentials(
                &backup.es_url,
            )));
        }
        request
            .namespace
            .clone()
            .ok_or(ScheduleFailure::NoNamespace)?
    };
    let plan = CronJobPlan {
        name: request.name.clone(),
        namespace,
        schedule: request.schedule.clone(),
        image: request.image.clone(),
        backup,
    };
    let restore_test = match &request.restore_test {
        Some(schedule) => {
            validate_name(&format!("{}-verify", plan.name))
                .map_err(ScheduleFailure::RestoreTestName)?;
            Some(RestoreTestPlan {
                backup: plan.clone(),
                schedule: schedule.clone(),
            })
        }
        None => None,
    };
    let mut objects = cronjob::render(&plan)?;
    if let Some(test) = &restore_test {
        objects.extend(restore_test::render(test)?);
    }
    let created = Created {
        plan,
        restore_test,
        objects,
    };
    if request.dry_run {
        return Ok(created);
    }
    let cluster = cluster.ok_or(ScheduleFailure::NoCluster)?;
    let served = cluster.served().await?;
    // Both CronJobs as this server takes them, before anything is written: a time zone it would
    // drop is refused with nothing left behind.
    for_server(&created.plan, &served)?;
    if let Some(test) = &created.restore_test {
        restore_test_for_server(test, &served)?;
    }
    let (plan, ns) = (&created.plan, &created.plan.namespace);
    let notes = objects::apply_schedule(cluster, &served, plan).await?.notes;
    for note in &notes {
        say(Said::Note(format!("note: {note}")));
    }
    say(Said::Note(format!(
        "applied ServiceAccount and CronJob {ns}/{}",
        cronjob::object_name(&plan.name)
    )));
    if let Some(test) = &created.restore_test {
        for note in objects::apply_restore_test(cluster, &served, test).await? {
            // The same version notes as the backup's, mostly: each said once.
            if !notes.contains(&note) {
                say(Said::Note(format!("note: {note}")));
            }
        }
        say(Said::Note(format!(
            "applied the restore test {ns}/{}; its proofs go to ConfigMap {}",
            restore_test::object_name(&plan.name),
            logbackup_core::snapshot::proof::config_map_name(&plan.backup.repository)
        )));
    }
    Ok(created)
}

/// The backup as it runs inside the cluster: the Service's URL, ECK's `elastic` user when no
/// password was given, and ECK's public CA for https unless told not to verify.
fn in_cluster(
    backup: &mut BackupCommand,
    found: &crate::es::discovery::EsEndpoint,
    insecure: bool,
) {
    let scheme = if found.https { "https" } else { "http" };
    backup.es_url = format!(
        "{scheme}://{}.{}.svc:{}",
        found.service, found.namespace, found.port
    );
    if let (Some(secret), None) = (&found.eck_user_secret, &backup.password) {
        backup.username = Some("elastic".into());
        backup.password = Some(SecretKey {
            secret: secret.clone(),
            key: "elastic".into(),
        });
    }
    if found.https && backup.ca.is_none() && !insecure {
        let cluster = found.service.trim_end_matches("-es-http");
        backup.ca = Some(SecretKey {
            secret: format!("{cluster}-es-http-certs-public"),
            key: "ca.crt".into(),
        });
    }
}

/// Our CronJobs (backups and restore tests) in `namespace`, or in all.
pub async fn list(
    cluster: &impl ScheduleCluster,
    namespace: Option<&str>,
) -> Result<Vec<ScheduleRow>, ScheduleFailure> {
    let served = cluster.served().await?;
    let found = cluster.list_schedules(&served, namespace).await?;
    Ok(found.iter().map(row).collect())
}

fn row(cj: &CronJob) -> ScheduleRow {
    let spec = cj.spec.clone().unwrap_or_default();
    let status = cj.status.clone().unwrap_or_default();
    let label = |key: &str| cj.metadata.labels.as_ref().and_then(|l| l.get(key));
    ScheduleRow {
        name: label(SCHEDULE_LABEL).cloned().unwrap_or_default(),
        job: match label("app.kubernetes.io/component") {
            Some(c) if c == restore_test::COMPONENT => "restore-test".into(),
            _ => "backup".into(),
        },
        engine: "cronjob".into(),
        namespace: cj.metadata.namespace.clone().unwrap_or_default(),
        schedule: spec.schedule,
        time_zone: spec.time_zone.unwrap_or_default(),
        suspended: spec.suspend.unwrap_or(false),
        last_run: status.last_schedule_time.map(|t| t.0.to_string()),
        last_success: status.last_successful_time.map(|t| t.0.to_string()),
    }
}

/// What `delete` removed (or, on a dry run, would).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deleted {
    pub namespace: String,
    /// The backup's CronJob and ServiceAccount.
    pub cron_job: String,
    /// The restore test's objects, if the schedule had one.
    pub restore_test: String,
}

/// Deletes schedule `name` in `namespace` (default: the context's); snapshots and proofs stay.
pub async fn delete(
    cluster: &impl ScheduleCluster,
    namespace: Option<&str>,
    name: &str,
    dry_run: bool,
) -> Result<Deleted, ScheduleFailure> {
    let ns = namespace.map_or_else(|| cluster.default_namespace(), str::to_owned);
    let served = cluster.served().await?;
    if !objects::delete_schedule(cluster, &served, &ns, name, dry_run).await? {
        return Err(ScheduleFailure::NotFound {
            name: name.to_owned(),
            namespace: ns,
        });
    }
    Ok(Deleted {
        namespace: ns,
        cron_job: cronjob::object_name(name),
        restore_test: restore_test::object_name(name),
    })
}

/// The Job `run_now` created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Started {
    pub namespace: String,
    pub job: String,
}

/// `kubectl create job --from=cronjob/logbackup-NAME`, named for `now`.
pub async fn run_now(
    cluster: &impl ScheduleCluster,
    namespace: Option<&str>,
    name: &str,
    now: Timestamp,
) -> Result<Started, ScheduleFailure> {
    let ns = namespace.map_or_else(|| cluster.default_namespace(), str::to_owned);
    let job = manual_job_name(name, now.as_second());
    let served = cluster.served().await?;
    cluster.run_now(&served, &ns, name, &job).await?;
    Ok(Started { namespace: ns, job })
}

/// `logbackup-NAME-manual-<seconds>`, cut to the 63 characters a Job name may have.
pub fn manual_job_name(name: &str, unix_seconds: i64) -> String {
    let suffix = format!("-manual-{unix_seconds}");
    let mut base = cronjob::object_name(name);
    base.truncate(63 - suffix.len());
    format!("{}{suffix}", base.trim_end_matches('-'))
}
