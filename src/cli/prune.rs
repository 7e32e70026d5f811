//! `kubectl logbackup prune`: Curator's delete_snapshots and SLM retention, planned by the pure core.

use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, ValueEnum};
use logbackup::render;
use logbackup::snapshot::retention::{self, Action, AgeSource, RetentionPolicy};
use serde::Serialize;

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
    /// Show the plan, delete nothing
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub es: EsArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Serialize)]
struct Report<'a> {
    dry_run: bool,
    plan: &'a retention::RetentionPlan,
    deleted: Vec<String>,
    failed: Vec<(String, String)>,
}

pub async fn run(args: &PruneArgs, global: &Global) -> Result<ExitCode> {
    let policy = RetentionPolicy {
        keep_days: args.keep_days,
        min_count: args.min_count,
        max_count: args.max_count,
        prefix: args.prefix.clone(),
        age_from: match args.age_from {
            AgeFrom::StartTime => AgeSource::StartTime,
            AgeFrom::Name => AgeSource::Name {
                timestring: args.timestring.clone(),
            },
        },
    };
    policy.validate()?;
    let repo = &args.es.repository;
    let es = connect(&args.es, global).await?;
    let infos = es.snapshots(repo, "_all").await?;
    let summaries: Vec<_> = infos.iter().map(|i| i.summary()).collect();
    let plan = retention::plan(&summaries, &policy, now())?;
    let doomed: Vec<String> = plan.to_delete().map(|d| d.name.clone()).collect();
    eprintln!(
        "{}{} of {} snapshots in {repo} to delete, {} kept",
        if args.dry_run { "dry run: " } else { "" },
        doomed.len(),
        plan.decisions.len(),
        plan.kept()
    );
    let mut deleted = Vec::new();
    let mut failed = Vec::new();
    if !args.dry_run {
        for name in &doomed {
            match retry::concurrent(&args.es, false, || es.delete_snapshot(repo, name)).await {
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
    let report = Report {
        dry_run: args.dry_run,
        plan: &plan,
        deleted,
        failed,
    };
    emit(&report, args.output.format(), |r| {
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
    })?;
    Ok(if report.failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
