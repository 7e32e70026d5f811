//! `kubectl logbackup schedule create|list|delete|run-now`: the flags, and what
//! `logbackup::workflows::schedule` returns, printed.

use std::process::ExitCode;

use anyhow::{bail, Result};
use clap::{Args, Subcommand, ValueEnum};
use logbackup::render;
use logbackup::schedule::cronjob::{self, BackupCommand, SecretKey};
use logbackup::schedule::policy::{self, PolicyPlan};
use logbackup::schedule::restore_test;
use logbackup::schedule::{validate_name, Schedule};
use logbackup::snapshot::naming;
use logbackup::workflows::schedule::cron_jobs::{self, CreateRequest};
use logbackup::workflows::schedule::policies::{self, policy_kind};
use logbackup::workflows::schedule::{self as workflow, ScheduleFailure, ScheduleRow};
use logbackup::workflows::Said;
use serde_json::Value;

use super::connect::{connect, kube_client, EsArgs};
use super::prune::RetentionArgs;
use super::snapshot::WhatArgs;
use super::{emit, now, Global, OutputArgs, Refused};

#[derive(Debug, Args)]
#[command(after_help = "\
Examples (KubeSphere: nightly at 1 a.m., 45 days, a weekly restore test):
  kubectl logbackup schedule create nightly -n kubesphere-logging-system \\
      -r ks-log-snapshots --cron '0 1 * * *' --keep-days 45 \\
      --preset kubesphere --verify weekly
  kubectl logbackup schedule list -n kubesphere-logging-system
  kubectl logbackup schedule run-now nightly -n kubesphere-logging-system

Manual: https://github.com/logbackup/kubectl-logbackup/blob/main/docs/schedule.md")]
pub struct ScheduleArgs {
    #[command(subcommand)]
    pub command: ScheduleCommand,
}

#[derive(Debug, Subcommand)]
pub enum ScheduleCommand {
    /// Schedule nightly (or any cron) snapshots with retention, as a CronJob or a cluster policy
    #[command(after_help = "\
Examples (KubeSphere's Curator job: nightly at 1 a.m., 45 days):
  kubectl logbackup schedule create nightly --cron '0 1 * * *' --keep-days 45 \\
      --preset kubesphere -r ks-log-snapshots -n kubesphere-logging-system
  kubectl logbackup schedule create nightly --cron '0 1 * * *' --keep-days 45 \\
      --engine slm --es-url http://127.0.0.1:9200")]
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
    let done = match &args.command {
        ScheduleCommand::Create(a) => create(a, global).await,
        ScheduleCommand::List(a) => list(a, global).await,
        ScheduleCommand::Delete(a) => delete(a, global).await,
        ScheduleCommand::RunNow(a) => run_now(a, global).await,
    };
    // A refusal exits 3 (nothing was changed).
    done.map_err(|e| match e.downcast::<ScheduleFailure>() {
        Ok(ScheduleFailure::Refused(why)) => Refused(why).into(),
        Ok(other) => other.into(),
        Err(e) => e,
    })
}

/// Prints what the workflow says on stderr.
fn say(said: Said) {
    if let Said::Note(line) = said {
        eprintln!("{line}");
    }
}

fn print_next_runs(what: &str, schedule: &Schedule) {
    eprintln!("{what}, next runs:");
    for run in schedule.next_runs(now(), 3) {
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
    print_next_runs(
        &format!(
            "schedule {:?} ({})",
            schedule.expression(),
            schedule.time_zone
        ),
        &schedule,
    );
    if args.verify.is_some() && args.engine == Engine::Slm {
        bail!("--verify runs the restore test as a CronJob and needs --engine cronjob; with SLM, schedule it separately: kubectl logbackup schedule create NAME --cron ... --verify weekly");
    }
    match args.engine {
        Engine::Cronjob => create_cronjob(args, global, schedule).await,
        Engine::Slm => create_policy(args, global, schedule).await,
    }
}

/// `NAME[/KEY]`, the key defaulting to `default_key`.
fn secret_key(reference: Option<&str>, default_key: &str) -> Option<SecretKey> {
    reference.map(|r| {
        let (secret, key) = r.split_once('/').unwrap_or((r, default_key));
        SecretKey {
            secret: secret.to_string(),
            key: key.to_string(),
        }
    })
}

async fn create_cronjob(
    args: &CreateArgs,
    global: &Global,
    schedule: Schedule,
) -> Result<ExitCode> {
    if args.es.password.is_some() || args.es.api_key.is_some() {
        bail!("a scheduled backup reads its password from a Secret: use --password-secret NAME[/KEY], not --password/--api-key");
    }
    let (name_pattern, prefix) = name_and_prefix(args);
    let restore_test = match &args.verify {
        Some(when) => {
            let test = restore_test::parse(when, args.time_zone.as_deref())?;
            print_next_runs(&format!("restore test {:?}", test.expression()), &test);
            Some(test)
        }
        None => None,
    };
    let request = CreateRequest {
        name: args.schedule.clone(),
        schedule,
        image: args.image.clone(),
        backup: BackupCommand {
            // Empty: found in the cluster.
            es_url: args.es.es_url.clone().unwrap_or_default(),
            repository: args.es.repository.clone(),
            name_pattern,
            indices: args.what.index_patterns(),
            keep_days: args.retention.keep_days,
            min_count: args.retention.min_count,
            max_count: args.retention.max_count,
            prefix,
            username: args.es.username.clone(),
            password: secret_key(args.es.password_secret.as_deref(), "password"),
            api_key: None,
            ca: secret_key(args.es.ca_secret.as_deref(), "ca.crt"),
            sync: args.sync.plan(&args.es.repository)?,
            volume_snapshot: args.volume_snapshot.job(),
        },
        namespace: global.namespace.clone(),
        insecure: args.es.insecure,
        restore_test,
        dry_run: args.dry_run,
    };
    // A dry run with --es-url needs no cluster at all.
    let kube = if args.es.es_url.is_none() || !args.dry_run {
        Some(kube_client(global).await?)
    } else {
        None
    };
    let created = cron_jobs::create(kube.as_ref(), &request, &mut say).await?;
    let plan = &created.plan;
    if args.dry_run {
        eprintln!(
            "dry run: would apply ServiceAccount and CronJob {}/{}",
            plan.namespace,
            cronjob::object_name(&plan.name)
        );
        if created.restore_test.is_some() {
            eprintln!(
                "dry run: would apply the restore test {}/{} (ServiceAccount, Role, RoleBinding, CronJob) and create ConfigMap {} if missing",
                plan.namespace,
                restore_test::object_name(&plan.name),
                logbackup::snapshot::proof::config_map_name(&plan.backup.repository)
            );
        }
        print_manifests(
            &created.objects,
            args.output.unwrap_or(ManifestFormat::Yaml),
        )?;
    } else if let Some(format) = args.output {
        print_manifests(&created.objects, format)?;
    }
    Ok(ExitCode::SUCCESS)
}

async fn create_policy(args: &CreateArgs, global: &Global, schedule: Schedule) -> Result<ExitCode> {
    let Some(keep_days) = args.retention.keep_days else {
        bail!("--engine slm needs --keep-days (SLM and Snapshot Management retention is by age)");
    };
    let plan = PolicyPlan {
        name: args.schedule.clone(),
        max_count: args
            .retention
            .max_count
            .unwrap_or_else(|| policy::default_max_count(&schedule, keep_days, now())),
        schedule,
        repository: args.es.repository.clone(),
        indices: args.what.index_patterns(),
        keep_days,
        min_count: args.retention.min_count,
    };
    let es = connect(&args.es, global).await?;
    let written = policies::create(&es, &plan, args.dry_run, &mut say).await?;
    let what = policy_kind(written.engine);
    if args.dry_run {
        eprintln!("dry run: would write {what} {}", args.schedule);
    } else {
        eprintln!("wrote {what} {}", args.schedule);
    }
    if args.dry_run || args.output.is_some() {
        print_manifests(&[written.body], args.output.unwrap_or(ManifestFormat::Json))?;
    }
    Ok(ExitCode::SUCCESS)
}

async fn list(args: &ListArgs, global: &Global) -> Result<ExitCode> {
    let kube =
        if args.es.es_url.is_none() || global.namespace.is_some() || global.kubeconfig.is_some() {
            match kube_client(global).await {
                Ok(client) => Some(client),
                Err(e) => {
                    eprintln!("warning: not listing CronJobs: {e:#}");
                    None
                }
            }
        } else {
            None
        };
    let es = if args.policies || args.es.es_url.is_some() {
        Some(connect(&args.es, global).await?)
    } else {
        None
    };
    let rows = workflow::list(kube.as_ref(), es.as_ref(), global.namespace.as_deref()).await?;
    emit(&rows, args.output.format(), |rows| schedule_table(rows))?;
    Ok(ExitCode::SUCCESS)
}

fn schedule_table(rows: &[ScheduleRow]) -> String {
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
}

async fn delete(args: &DeleteArgs, global: &Global) -> Result<ExitCode> {
    let prefix = if args.dry_run { "dry run: " } else { "" };
    match args.engine {
        Engine::Cronjob => {
            let client = kube_client(global).await?;
            let gone = cron_jobs::delete(
                &client,
                global.namespace.as_deref(),
                &args.name,
                args.dry_run,
            )
            .await?;
            eprintln!(
                "{prefix}deleted CronJob and ServiceAccount {}/{} (and its restore test {}, if any); snapshots and restore-test proofs stay",
                gone.namespace, gone.cron_job, gone.restore_test
            );
        }
        Engine::Slm => {
            let es = connect(&args.es, global).await?;
            policies::delete(&es, &args.name, args.dry_run).await?;
            eprintln!("{prefix}deleted policy {}; snapshots stay", args.name);
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn run_now(args: &RunNowArgs, global: &Global) -> Result<ExitCode> {
    match args.engine {
        Engine::Cronjob => {
            let client = kube_client(global).await?;
            let started =
                cron_jobs::run_now(&client, global.namespace.as_deref(), &args.name, now()).await?;
            let (ns, job) = (&started.namespace, &started.job);
            eprintln!("created Job {ns}/{job}; follow it with kubectl logs -f -n {ns} job/{job}");
            println!("{job}");
        }
        Engine::Slm => {
            let es = connect(&args.es, global).await?;
            let snapshot = policies::run_now(&es, &args.name, &args.es.repository).await?;
            eprintln!("SLM policy {} started snapshot {snapshot}", args.name);
            println!("{snapshot}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
