//! `kubectl logbackup prune`: Curator's delete_snapshots and SLM retention, planned by the pure core.

use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, ValueEnum};
use logbackup::render;
use logbackup::snapshot::retention::{self, Action, AgeSource, RetentionPolicy};
use serde::Serialize;

use logbackup::es::listing::Detail;
use logbackup::es::EsClient;

use super::connect::{connect, EsArgs};
use super::{emit, now, retry, Global, OutputArgs};

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum AgeFrom {
    StartTime,
    Name,
}

#[derive(Debug, Args)]
#[command(after_help = "\
Never deletes an in-progress snapshot; never leaves fewer than --min-count SUCCESS snapshots; keeps any
snapshot whose age it cannot tell. Deletes oldest first, one at a time, retrying 503s.

Example (the seed's Curator action, 45 days):
  kubectl logbackup prune -r ks-log-snapshots --keep-days 45 --dry-run")]
pub struct PruneArgs {
    #[command(flatten)]
    pub retention: RetentionArgs,
    /// Show the plan, delete nothing
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub es: EsArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// Which snapshots to keep; shared by `prune`, `backup` and `schedule create`.
#[derive(Debug, Args, Clone)]
pub struct RetentionArgs {
    /// Delete snapshots older than this many days
    #[arg(long, value_name = "DAYS")]
    pub keep_days: Option<u32>,
    /// Always keep at least this many SUCCESS snapshots
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub min_count: usize,
    /// Keep at most this many SUCCESS snapshots
    #[arg(long, value_name = "N")]
    pub max_count: Option<usize>,
    /// Only consider snapshots whose name starts with this
    #[arg(long, value_name = "PREFIX")]
    pub prefix: Option<String>,
    /// Where a snapshot's age comes from
    #[arg(long, value_enum, default_value_t = AgeFrom::StartTime)]
    pub age_from: AgeFrom,
    /// strftime format of the time in names, with --age-from name
    #[arg(long, default_value = "%Y%m%d%H%M%S", value_name = "FORMAT")]
    pub timestring: String,
}

impl RetentionArgs {
    pub fn policy(&self) -> Result<RetentionPolicy> {
        let policy = RetentionPolicy {
            keep_days: self.keep_days,
            min_count: self.min_count,
            max_count: self.max_count,
            prefix: self.prefix.clone(),
            age_from: match self.age_from {
                AgeFrom::StartTime => AgeSource::StartTime,
                AgeFrom::Name => AgeSource::Name {
                    timestring: self.timestring.clone(),
                },
            },
        };
        policy.validate()?;
        Ok(policy)
    }
}

#[derive(Serialize)]
pub struct Report {
    pub dry_run: bool,
    pub plan: retention::RetentionPlan,
    pub deleted: Vec<String>,
    pub failed: Vec<(String, String)>,
}

impl Report {
    pub fn ok(&self) -> bool {
        self.failed.is_empty()
    }
}

pub async fn run(args: &PruneArgs, global: &Global) -> Result<ExitCode> {
    let policy = args.retention.policy()?;
    let es = connect(&args.es, global).await?;
    let report = prune(&es, &args.es, &policy, args.dry_run).await?;
    emit(&report, args.output.format(), report_table)?;
    Ok(if report.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Plans with the pure core and deletes oldest first, one at a time; a failed deletion is recorded
/// and the rest still go. Shared by `prune` and `backup`.
pub async fn prune(
    es: &EsClient,
    args: &EsArgs,
    policy: &RetentionPolicy,
    dry_run: bool,
) -> Result<Report> {
    let repo = &args.repository;
    // Ages from names need only names and states: no metadata read per snapshot on the server.
    let detail = match policy.age_from {
        AgeSource::Name { .. } => Detail::Brief,
        AgeSource::StartTime => Detail::Full,
    };
    let infos = es.list_snapshots(repo, detail).await?;
    let summaries: Vec<_> = infos.iter().map(|i| i.summary()).collect();
    let plan = retention::plan(&summaries, policy, now())?;
    let doomed: Vec<String> = plan.to_delete().map(|d| d.name.clone()).collect();
    eprintln!(
        "{}{} of {} snapshots in {repo} to delete, {} kept",
        if dry_run { "dry run: " } else { "" },
        doomed.len(),
        plan.decisions.len(),
        plan.kept()
    );
    let mut deleted = Vec::new();
    let mut failed = Vec::new();
    if !dry_run {
        for name in &doomed {
            match retry::concurrent(args, false, || es.delete_snapshot(repo, name)).await {
                Ok(()) => {
                    eprintln!("deleted {name}");
                    deleted.push(name.clone());
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    failed.push((name.clone(), e.to_string()));
                }
            }
        }
    }
    Ok(Report {
        dry_run,
        plan,
        deleted,
        failed,
    })
}

pub fn report_table(r: &Report) -> String {
    {
        let rows: Vec<Vec<String>> = r
            .plan
            .decisions
            .iter()
            .map(|d| {
                vec![
                    d.name.clone(),
                    d.state.to_string(),
                    d.age_days.map_or("-".into(), |a| format!("{a}d")),
                    match d.action {
                        Action::Keep => "keep".into(),
                        Action::Delete if r.dry_run => "would delete".into(),
                        Action::Delete if r.failed.iter().any(|(n, _)| n == &d.name) => {
                            "FAILED".into()
                        }
                        Action::Delete => "deleted".into(),
                    },
                    d.why.clone(),
                ]
            })
            .collect();
        render::table(&["name", "state", "age", "action", "why"], &rows)
    }
}
