//! `kubectl logbackup schedule create|list|delete|run-now`: decisions in `logbackup::schedule`,
//! Kubernetes calls in `logbackup::k8s::schedules`, Elasticsearch calls in `logbackup::es::policies`.

use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use logbackup::es::policies::{
    engine_by_version, is_missing_endpoint, slm_summaries, sm_summaries, PolicyEngine,
    PolicySummary,
};
use logbackup::es::EsClient;
use logbackup::k8s::schedules as kube_schedules;
use logbackup::k8s::Kube;
use logbackup::render;
use logbackup::schedule::cronjob::{self, BackupCommand, CronJobPlan, SecretKey};
use logbackup::schedule::policy::{self, PolicyPlan};
use logbackup::schedule::restore_test::{self, RestoreTestPlan};
use logbackup::schedule::{validate_name, Schedule, SCHEDULE_LABEL};
use logbackup::snapshot::naming;
use serde::Serialize;
use serde_json::Value;

use super::connect::{connect, kube_client, EsArgs};
use super::prune::RetentionArgs;
use super::snapshot::WhatArgs;
use super::{emit, now, Global, OutputArgs, Refused};
use logbackup::k8s::elasticsearch::find_service;

#[derive(Debug, Args)]
pub struct ScheduleArgs {
    #[command(subcommand)]
    pub command: ScheduleCommand,
}

#[derive(Debug, Subcommand)]
pub enum ScheduleCommand {
    /// Schedule nightly (or any cron) snapshots with retention, as a CronJob or a cluster policy
    #[command(after_help = "\
Examples (the seed's Curator job: nightly at 1 a.m., 45 days):
  kubectl logbackup schedule create nightly --cron '0 1 * * *' --keep-days 45 --preset kubesphere -r ks-log-snapshots -n kubesphere-logging-system
  kubectl logbackup schedule create nightly --cron '0 1 * * *' --keep-days 45 --engine slm --es-url http://127.0.0.1:9200")]
    Create(Box<CreateArgs>),
    /// List scheduled backups: our CronJobs, and SLM / Snapshot Management policies we wrote
    List(ListArgs),
    /// Delete a scheduled backup (snapshots already taken stay)
    Delete(DeleteArgs),
    /// Run a scheduled backup now
    RunNow(RunNowArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Engine {
    /// A CronJob running `kubectl-logbackup backup` (any Elasticsearch/OpenSearch)
    Cronjob,
    /// The cluster's own scheduler: SLM (Elasticsearch >= 7.4 with x-pack) or Snapshot Management (OpenSearch >= 2.1)
    Slm,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ManifestFormat {
    Yaml,
    Json,
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Schedule name (lower-case letters, digits, '-'); objects are called logbackup-NAME
    #[arg(value_name = "NAME")]
    pub schedule: String,
    /// When to run: 5-field cron (minute hour day-of-month month day-of-week) or @daily etc.
    #[arg(long, value_name = "CRON")]
    pub cron: String,
    /// IANA time zone of --cron (default UTC)
    #[arg(long, value_name = "ZONE")]
    pub time_zone: Option<String>,
    #[arg(long, value_enum, default_value_t = Engine::Cronjob)]
    pub engine: Engine,
    #[command(flatten)]
    pub what: WhatArgs,
    #[command(flatten)]
    pub retention: RetentionArgs,
    #[command(flatten)]
    pub sync: super::sync_to::ScheduleSyncArgs,
    #[command(flatten)]
    pub volume_snapshot: super::volume_snapshots::BackupVolumeSnapshotArgs,
    /// Also prove the backups restorable: a second CronJob (logbackup-NAME-verify) runs
    /// `snapshot verify --restore-test` on the newest snapshot daily (05:30), weekly (Sundays
    /// 05:30) or at a 5-field cron, and records the proof that `status` checks
    #[arg(long, value_name = "daily|weekly|CRON")]
    pub verify: Option<String>,
    /// Image the CronJob runs
    #[arg(long, default_value = cronjob::IMAGE, value_name = "IMAGE")]
    pub image: String,
    /// Print what would be created, create nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Print the objects (or policy body) as
    #[arg(short = 'o', long = "output", value_enum)]
    pub output: Option<ManifestFormat>,
    #[command(flatten)]
    pub es: EsArgs,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub es: EsArgs,
    /// Also ask Elasticsearch for SLM / Snapshot Management policies (needs --es-url or discovery)
    #[arg(long)]
    pub policies: bool,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct DeleteArgs {
    pub name: String,
    #[arg(long, value_enum, default_value_t = Engine::Cronjob)]
    pub engine: Engine,
    /// Show what would be deleted, delete nothing
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub es: EsArgs,
}

#[derive(Debug, Args)]
pub struct RunNowArgs {
    pub name: String,
    #[arg(long, value_enum, default_value_t = Engine::Cronjob)]
    pub engine: Engine,
    #[command(flatten)]
    pub es: EsArgs,
}

pub async fn run(args: &ScheduleArgs, global: &Global) -> Result<ExitCode> {
    match &args.command {
        ScheduleCommand::Create(a) => create(a, global).await,
        ScheduleCommand::List(a) => list(a, global).await,
        ScheduleCommand::Delete(a) => delete(a, global).await,
        ScheduleCommand::RunNow(a) => run_now(a, global).await,
    }
}

fn print_next_runs(schedule: &Schedule) {
    let runs = schedule.next_runs(now(), 3);
    eprintln!(
        "schedule {:?} ({}), next runs:",
        schedule.expression(),
        schedule.time_zone
    );
    for run in runs {
        eprintln!("  {}", run.strftime("%Y-%m-%d %H:%M %Z (%:z)"));
    }
}

/// A schedule prunes only its own snapshots: its names start with `NAME-` unless --name says
/// otherwise, and the prefix follows the pattern's literal start.
fn name_and_prefix(args: &CreateArgs) -> (String, Option<String>) {
    let pattern = if args.what.name == naming::DEFAULT_PATTERN {
        format!("{}-%Y%m%d%H%M%S", args.schedule)
    } else {
        args.what.name.clone()
    };
    let prefix = args.retention.prefix.clone().or_else(|| {
        let literal: String = pattern.chars().take_while(|c| *c != '%').collect();
        (!literal.is_empty()).then_some(literal)
    });
    (pattern, prefix)
}

fn print_manifests(values: &[Value], format: ManifestFormat) -> Result<()> {
    let text = match format {
        ManifestFormat::Yaml => logbackup::manifest::to_yaml_stream(values)?,
        ManifestFormat::Json => format!(
            "{}\n",
            serde_json::to_string_pretty(&Value::Array(values.to_vec()))?
        ),
    };
    print!("{text}");
    Ok(())
}

async fn create(args: &CreateArgs, global: &Global) -> Result<ExitCode> {
    validate_name(&args.schedule)?;
    // Checked here so a bad retention never reaches the cluster.
    args.retention.policy()?;
    let schedule = Schedule::parse(&args.cron, args.time_zone.as_deref())?;
    print_next_runs(&schedule);
    if args.verify.is_some() && args.engine == Engine::Slm {
        bail!("--verify runs the restore test as a CronJob and needs --engine cronjob; with SLM, schedule it separately: kubectl logbackup schedule create NAME --cron ... --verify weekly");
    }
    match args.engine {
        Engine::Cronjob => create_cronjob(args, global, schedule).await,
        Engine::Slm => create_policy(args, global, schedule).await,
    }
}

async fn create_cronjob(
    args: &CreateArgs,
    global: &Global,
    schedule: Schedule,
) -> Result<ExitCode> {
    let (name_pattern, prefix) = name_and_prefix(args);
    let secret_ref = |r: &Option<String>, default_key: &str| {
        r.as_deref().map(|r| {
            let (secret, key) = r.split_once('/').unwrap_or((r, default_key));
            SecretKey {
                secret: secret.to_string(),
                key: key.to_string(),
            }
        })
    };
    let mut backup = BackupCommand {
        es_url: String::new(),
        repository: args.es.repository.clone(),
        name_pattern,
        indices: args.what.index_patterns(),
        keep_days: args.retention.keep_days,
        min_count: args.retention.min_count,
        max_count: args.retention.max_count,
        prefix,
        username: args.es.username.clone(),
        password: secret_ref(&args.es.password_secret, "password"),
        api_key: None,
        ca: secret_ref(&args.es.ca_secret, "ca.crt"),
        sync: args.sync.plan(&args.es.repository)?,
        volume_snapshot: args.volume_snapshot.job(),
    };
    if args.es.password.is_some() || args.es.api_key.is_some() {
        bail!("a scheduled backup reads its password from a Secret: use --password-secret NAME[/KEY], not --password/--api-key");
    }
    let namespace;
    match &args.es.es_url {
        Some(url) => {
            if logbackup_core::es::auth::url_has_credentials(url) {
                bail!(
                    "--es-url {} holds credentials, which would be written in clear into the CronJob's arguments; put the password in a Secret and pass --password-secret NAME[/KEY] (and --username)",
                    logbackup_core::es::auth::redact_url_credentials(url)
                );
            }
            backup.es_url = url.clone();
            namespace = global
                .namespace
                .clone()
                .context("with --es-url, say where the CronJob goes with -n NAMESPACE")?;
        }
        None => {
            let client = kube_client(global).await?;
            let target = find_service(&client, global.namespace.as_deref()).await?;
            let scheme = if target.https { "https" } else { "http" };
            backup.es_url = format!(
                "{scheme}://{}.{}.svc:{}",
                target.service, target.namespace, target.port
            );
            if let (Some(secret), None) = (&target.eck_user_secret, &backup.password) {
                backup.username = Some("elastic".into());
                backup.password = Some(SecretKey {
                    secret: secret.clone(),
                    key: "elastic".into(),
                });
            }
            if target.https && backup.ca.is_none() && !args.es.insecure {
                let cluster = target.service.trim_end_matches("-es-http");
                backup.ca = Some(SecretKey {
                    secret: format!("{cluster}-es-http-certs-public"),
                    key: "ca.crt".into(),
                });
            }
            eprintln!("Elasticsearch in-cluster: {}", backup.es_url);
            namespace = target.namespace;
        }
    }
    let plan = CronJobPlan {
        name: args.schedule.clone(),
        namespace,
        schedule,
        image: args.image.clone(),
        backup,
    };
    let restore_test = match &args.verify {
        Some(when) => {
            let test = RestoreTestPlan {
                backup: plan.clone(),
                schedule: restore_test::parse(when, args.time_zone.as_deref())?,
            };
            validate_name(&format!("{}-verify", plan.name)).context(
                "the restore test's CronJob is called logbackup-NAME-verify: choose a shorter NAME",
            )?;
            eprintln!("restore test {:?}, next runs:", test.schedule.expression());
            for run in test.schedule.next_runs(now(), 3) {
                eprintln!("  {}", run.strftime("%Y-%m-%d %H:%M %Z (%:z)"));
            }
            Some(test)
        }
        None => None,
    };
    let mut objects = cronjob::render(&plan)?;
    if let Some(test) = &restore_test {
        objects.extend(restore_test::render(test)?);
    }
    if args.dry_run {
        eprintln!(
            "dry run: would apply ServiceAccount and CronJob {}/{}",
            plan.namespace,
            cronjob::object_name(&plan.name)
        );
        if restore_test.is_some() {
            eprintln!(
                "dry run: would apply the restore test {}/{} (ServiceAccount, Role, RoleBinding, CronJob) and create ConfigMap {} if missing",
                plan.namespace,
                restore_test::object_name(&plan.name),
                logbackup::snapshot::proof::config_map_name(&plan.backup.repository)
            );
        }
        print_manifests(&objects, args.output.unwrap_or(ManifestFormat::Yaml))?;
        return Ok(ExitCode::SUCCESS);
    }
    let client = kube_client(global).await?;
    let served = client.served().await?;
    let applied = kube_schedules::apply_schedule(&client, served, &plan).await?;
    for note in &applied.notes {
        eprintln!("note: {note}");
    }
    eprintln!(
        "applied ServiceAccount and CronJob {}/{}",
        plan.namespace,
        cronjob::object_name(&plan.name)
    );
    if let Some(test) = &restore_test {
        kube_schedules::apply_restore_test(&client, served, test).await?;
        eprintln!(
            "applied the restore test {}/{}; its proofs go to ConfigMap {}",
            plan.namespace,
            restore_test::object_name(&plan.name),
            logbackup::snapshot::proof::config_map_name(&plan.backup.repository)
        );
    }
    if let Some(format) = args.output {
        print_manifests(&objects, format)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Which policy engine this cluster has: by version first (certain refusals), then by asking it
/// (an OSS build of 7.10 has no `_slm`).
async fn detect_engine(es: &EsClient) -> Result<PolicyEngine> {
    let refuse = |why: String| -> anyhow::Error {
        Refused(format!(
            "{why}; schedule with --engine cronjob instead (it works with every version)"
        ))
        .into()
    };
    let engine = engine_by_version(&es.version).map_err(refuse)?;
    let probe = match engine {
        PolicyEngine::Slm => es.slm_policies().await.map(|_| ()),
        PolicyEngine::Sm => es.sm_policies().await.map(|_| ()),
    };
    match probe {
        Ok(()) => Ok(engine),
        Err(e) if is_missing_endpoint(&e) => Err(refuse(format!(
            "{} {} does not answer the {} API (an OSS build, or the plugin is not installed): {e}",
            es.version.flavour,
            es.version.number,
            if engine == PolicyEngine::Slm {
                "SLM"
            } else {
                "Snapshot Management"
            }
        ))),
        Err(e) => Err(e.into()),
    }
}

async fn create_policy(args: &CreateArgs, global: &Global, schedule: Schedule) -> Result<ExitCode> {
    let Some(keep_days) = args.retention.keep_days else {
        bail!("--engine slm needs --keep-days (SLM and Snapshot Management retention is by age)");
    };
    let max_count = args
        .retention
        .max_count
        // Both engines want a count; never below what the age window holds, plus one.
        .unwrap_or_else(|| schedule.runs_within(now(), keep_days, 10_000) + 1);
    let plan = PolicyPlan {
        name: args.schedule.clone(),
        schedule,
        repository: args.es.repository.clone(),
        indices: args.what.index_patterns(),
        keep_days,
        min_count: args.retention.min_count,
        max_count,
    };
    let es = connect(&args.es, global).await?;
    let engine = detect_engine(&es).await?;
    let body = match engine {
        PolicyEngine::Slm => {
            eprintln!(
                "SLM takes Quartz cron with seconds: {:?} becomes {:?} (UTC)",
                plan.schedule.expression(),
                plan.schedule.to_quartz()?
            );
            policy::slm_body(&plan)?
        }
        PolicyEngine::Sm => policy::sm_body(&plan),
    };
    let what = match engine {
        PolicyEngine::Slm => "SLM policy",
        PolicyEngine::Sm => "Snapshot Management policy",
    };
    if args.dry_run {
        eprintln!("dry run: would write {what} {}", args.schedule);
    } else {
        match engine {
            PolicyEngine::Slm => es.put_slm_policy(&args.schedule, &body).await?,
            PolicyEngine::Sm => {
                let existing = es.sm_policy(&args.schedule).await?;
                es.put_sm_policy(&args.schedule, &body, existing.as_ref())
                    .await?
            }
        }
        eprintln!("wrote {what} {}", args.schedule);
    }
    if args.dry_run || args.output.is_some() {
        print_manifests(&[body], args.output.unwrap_or(ManifestFormat::Json))?;
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Serialize)]
struct Row {
    name: String,
    /// What runs: `backup`, or `restore-test` (a schedule's `--verify`).
    job: String,
    engine: String,
    namespace: String,
    schedule: String,
    time_zone: String,
    suspended: bool,
    last_run: Option<String>,
    last_success: Option<String>,
}

fn cronjob_row(cj: &k8s_openapi::api::batch::v1::CronJob) -> Row {
    let spec = cj.spec.clone().unwrap_or_default();
    let status = cj.status.clone().unwrap_or_default();
    Row {
        name: cj
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(SCHEDULE_LABEL).cloned())
            .unwrap_or_default(),
        job: match cj
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get("app.kubernetes.io/component"))
        {
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

fn policy_row(engine: &str, p: PolicySummary) -> Row {
    Row {
        name: p.name,
        job: "backup".into(),
        engine: engine.into(),
        namespace: "-".into(),
        schedule: p.schedule,
        time_zone: p.time_zone,
        suspended: p.suspended,
        last_run: p.last_run,
        last_success: p.last_success,
    }
}

async fn list(args: &ListArgs, global: &Global) -> Result<ExitCode> {
    let mut rows = Vec::new();
    let mut reached_any = false;
    if args.es.es_url.is_none() || global.namespace.is_some() || global.kubeconfig.is_some() {
        match kube_client(global).await {
            Ok(client) => {
                let served = client.served().await?;
                let cjs =
                    kube_schedules::list_schedules(&client, served, global.namespace.as_deref())
                        .await?;
                rows.extend(cjs.iter().map(cronjob_row));
                reached_any = true;
            }
            Err(e) => eprintln!("warning: not listing CronJobs: {e:#}"),
        }
    }
    if args.policies || args.es.es_url.is_some() {
        let es = connect(&args.es, global).await?;
        reached_any = true;
        match engine_by_version(&es.version) {
            Ok(PolicyEngine::Slm) => match es.slm_policies().await {
                Ok(p) => rows.extend(slm_summaries(&p).into_iter().map(|p| policy_row("slm", p))),
                Err(e) if is_missing_endpoint(&e) => {}
                Err(e) => return Err(e.into()),
            },
            Ok(PolicyEngine::Sm) => match es.sm_policies().await {
                Ok(p) => rows.extend(sm_summaries(&p).into_iter().map(|p| policy_row("sm", p))),
                Err(e) if is_missing_endpoint(&e) => {}
                Err(e) => return Err(e.into()),
            },
            Err(_) => {}
        }
    }
    if !reached_any {
        bail!("failed to reach Kubernetes or Elasticsearch to list schedules");
    }
    emit(&rows, args.output.format(), |rows| {
        let table: Vec<Vec<String>> = rows
            .iter()
            .map(|r| {
                vec![
                    r.name.clone(),
                    r.job.clone(),
                    r.engine.clone(),
                    r.namespace.clone(),
                    r.schedule.clone(),
                    r.time_zone.clone(),
                    if r.suspended { "yes" } else { "no" }.into(),
                    r.last_run.clone().unwrap_or("-".into()),
                    r.last_success.clone().unwrap_or("-".into()),
                ]
            })
            .collect();
        render::table(
            &[
                "name",
                "job",
                "engine",
                "namespace",
                "schedule",
                "time zone",
                "suspended",
                "last run",
                "last success",
            ],
            &table,
        )
    })?;
    Ok(ExitCode::SUCCESS)
}

async fn delete(args: &DeleteArgs, global: &Global) -> Result<ExitCode> {
    let prefix = if args.dry_run { "dry run: " } else { "" };
    match args.engine {
        Engine::Cronjob => {
            let client = kube_client(global).await?;
            let ns = namespace_of(global, &client).await?;
            let served = client.served().await?;
            if !kube_schedules::delete_schedule(&client, served, &ns, &args.name, args.dry_run)
                .await?
            {
                bail!("no schedule {} in namespace {ns}", args.name);
            }
            eprintln!(
                "{prefix}deleted CronJob and ServiceAccount {ns}/{} (and its restore test {}, if any); snapshots and restore-test proofs stay",
                cronjob::object_name(&args.name),
                restore_test::object_name(&args.name)
            );
        }
        Engine::Slm => {
            let es = connect(&args.es, global).await?;
            let engine = detect_engine(&es).await?;
            if !args.dry_run {
                match engine {
                    PolicyEngine::Slm => es.delete_slm_policy(&args.name).await?,
                    PolicyEngine::Sm => es.delete_sm_policy(&args.name).await?,
                }
            }
            eprintln!("{prefix}deleted policy {}; snapshots stay", args.name);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// -n, else the kubeconfig context's namespace.
async fn namespace_of(global: &Global, client: &Kube) -> Result<String> {
    Ok(global
        .namespace
        .clone()
        .unwrap_or_else(|| client.default_namespace().to_string()))
}

async fn run_now(args: &RunNowArgs, global: &Global) -> Result<ExitCode> {
    match args.engine {
        Engine::Cronjob => {
            let client = kube_client(global).await?;
            let ns = namespace_of(global, &client).await?;
            let job_name = manual_job_name(&args.name, now().as_second());
            let served = client.served().await?;
            kube_schedules::run_now(&client, served, &ns, &args.name, &job_name).await?;
            eprintln!("created Job {ns}/{job_name}; follow it with kubectl logs -f -n {ns} job/{job_name}");
            println!("{job_name}");
        }
        Engine::Slm => {
            let es = connect(&args.es, global).await?;
            match detect_engine(&es).await? {
                PolicyEngine::Slm => {
                    let snapshot = es.execute_slm_policy(&args.name).await?;
                    eprintln!("SLM policy {} started snapshot {snapshot}", args.name);
                    println!("{snapshot}");
                }
                PolicyEngine::Sm => {
                    return Err(Refused(format!(
                        "OpenSearch Snapshot Management has no run-now API; take one now with: kubectl logbackup backup -r {} --keep-days N",
                        args.es.repository
                    ))
                    .into())
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `logbackup-NAME-manual-<seconds>`, cut to the 63 characters a Job name may have.
fn manual_job_name(name: &str, unix_seconds: i64) -> String {
    let suffix = format!("-manual-{unix_seconds}");
    let mut base = cronjob::object_name(name);
    base.truncate(63 - suffix.len());
    format!("{}{suffix}", base.trim_end_matches('-'))
}
