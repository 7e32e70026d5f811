//! `kubectl logbackup prune`: Curator's delete_snapshots and SLM retention, planned by the pure core
//! and carried out by `logbackup::workflows::prune`; here are the flags and the table.

use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, ValueEnum};
use logbackup::render;
use logbackup::snapshot::retention::{Action, AgeSource, RetentionPolicy};
pub use logbackup::workflows::prune::Report;
use logbackup::workflows::prune::{prune, PruneOptions};

use super::connect::{connect, EsArgs};
use super::snapshot::say;
use super::{emit, now, Global, OutputArgs};

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum AgeFrom {
    StartTime,
    Name,
}

#[derive(Debug, Args)]
#[command(after_help = "\
Never deletes an in-progress snapshot; never leaves fewer than --min-count SUCCESS snapshots; keeps any
snapshot whose age it cannot tell. Deletes oldest first, one at a time, retrying 503s.
Also deletes the temporary logbackup-verify-* indices a killed restore test left behind, once the
test that made them started more than --leftover-grace-hours ago.

Example (KubeSphere's Curator action, 45 days):
  kubectl logbackup prune -r ks-log-snapshots --keep-days 45 --dry-run

Manual: https://github.com/logbackup/kubectl-logbackup/blob/main/docs/snapshots.md#prune")]
pub struct PruneArgs {
    #[command(flatten)]
    pub retention: RetentionArgs,
    /// Show the plan, delete nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Restore-test copies (logbackup-verify-*) are deleted once their test started this long ago
    #[arg(long, default_value_t = 24, value_name = "HOURS")]
    pub leftover_grace_hours: u32,
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

pub async fn run(args: &PruneArgs, global: &Global) -> Result<ExitCode> {
    let policy = args.retention.policy()?;
    let es = connect(&args.es, global).await?;
    let options = PruneOptions {
        repository: args.es.repository.clone(),
        retry: args.es.retry(),
        dry_run: args.dry_run,
        leftover_grace_hours: Some(args.leftover_grace_hours),
    };
    let report = prune(&es, &options, &policy, now(), &mut say(None)).await?;
    if args.output.format() == render::Format::Table {
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        // A closed pipe (`| head`) is not an error worth a message.
        let _ =
            write_report_table(&mut out, &report).and_then(|()| std::io::Write::flush(&mut out));
    } else {
        emit(&report, args.output.format(), report_table)?;
    }
    Ok(if report.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The report as a table, written a row at a time: a 100,000-snapshot plan is not held again as
/// cells and text.
pub fn write_report_table(out: &mut impl std::io::Write, r: &Report) -> std::io::Result<()> {
    render::write_table(out, &["name", "state", "age", "action", "why"], || {
        r.plan.decisions.iter().map(|d| {
            vec![
                d.name.clone(),
                d.state.to_string(),
                d.age_days.map_or("-".into(), |a| format!("{a}d")),
                match d.action {
                    Action::Keep => "keep".into(),
                    Action::Delete if r.dry_run => "would delete".into(),
                    Action::Delete if r.failed.iter().any(|(n, _)| n == &d.name) => "FAILED".into(),
                    Action::Delete => "deleted".into(),
                },
                d.why.clone(),
            ]
        })
    })?;
    if !r.leftovers.is_empty() {
        let rows: Vec<Vec<String>> = r
            .leftovers
            .iter()
            .map(|l| {
                vec![
                    l.index.clone(),
                    l.age_hours.map_or("-".into(), |h| format!("{h}h")),
                    match (l.delete, r.dry_run) {
                        (false, _) => "keep",
                        (true, true) => "would delete",
                        (true, false) if r.leftovers_deleted.contains(&l.index) => "deleted",
                        (true, false) => "FAILED",
                    }
                    .into(),
                    l.why.clone(),
                ]
            })
            .collect();
        writeln!(out)?;
        out.write_all(
            render::table(&["restore-test copy", "age", "action", "why"], &rows).as_bytes(),
        )?;
    }
    Ok(())
}

pub fn report_table(r: &Report) -> String {
    let mut out = Vec::new();
    // Writing into memory cannot fail.
    let _ = write_report_table(&mut out, r);
    String::from_utf8_lossy(&out).into_owned()
}
