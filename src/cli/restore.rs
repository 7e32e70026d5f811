//! `kubectl logbackup restore`: the flags, one call to `logbackup::workflows::restore::restore`
//! (pick the snapshot, refuse what would fail or fill the disks, restore, follow recovery), printed.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use clap::Args;
use indicatif::ProgressBar;
use logbackup::render;

use logbackup::snapshot::restore::{IndexFilter, OnConflict};
use logbackup::workflows::restore::{self as workflow, Report, RestoreFailure, RestoreOptions};
use logbackup::workflows::Said;

use super::connect::{connect, EsArgs};
use super::{emit, progress_bar, show_bytes, Global, OutputArgs, Refused};

#[derive(Debug, Args)]
#[command(after_help = "\
Examples (one day back, as KubeSphere's manual procedure did with curl):
  kubectl logbackup restore -r ks-log-snapshots --date 2019.11.12
  kubectl logbackup restore -r ks-log-snapshots --date 2019.11.12 \\
      --rename-prefix restored-

Manual: https://github.com/logbackup/kubectl-logbackup/blob/main/docs/snapshots.md#restore")]
pub struct RestoreArgs {
    /// Snapshot to restore from (default: the newest SUCCESS snapshot holding the wanted indices)
    #[arg(conflicts_with = "latest")]
    pub snapshot: Option<String>,
    /// Use the newest SUCCESS snapshot holding the wanted indices
    #[arg(long)]
    pub latest: bool,
    /// Index patterns to restore (default: every non-system index of the snapshot); with --date,
    /// that day's indices among them
    #[arg(long, value_name = "PATTERN", value_delimiter = ',')]
    pub indices: Vec<String>,
    /// Restore the indices of one day, e.g. 2019.11.12
    #[arg(long, value_name = "DATE")]
    pub date: Option<String>,
    /// Restore under new names: PREFIX + original name
    #[arg(long, value_name = "PREFIX")]
    pub rename_prefix: Option<String>,
    /// Close open indices with the same names first (the restore replaces them)
    #[arg(long, conflicts_with_all = ["replace", "rename_prefix"])]
    pub close_existing: bool,
    /// Delete open indices with the same names first
    #[arg(long, conflicts_with = "rename_prefix")]
    pub replace: bool,
    /// Disk high watermark in percent (cluster.routing.allocation.disk.watermark.high)
    #[arg(long, default_value_t = 90.0, value_name = "PERCENT")]
    pub watermark: f64,
    /// Replicas each restored index will have, for the disk check
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub replicas: u32,
    /// Return once the restore has started
    #[arg(long)]
    pub no_wait: bool,
    /// Give up waiting after this many seconds (the restore goes on in the cluster)
    #[arg(long, default_value_t = 6 * 3600, value_name = "SECONDS")]
    pub wait_timeout: u64,
    /// Check and show the plan, change nothing
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub es: EsArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

pub async fn run(args: &RestoreArgs, global: &Global) -> Result<ExitCode> {
    let filter = match (&args.date, args.indices.is_empty()) {
        (Some(d), true) => IndexFilter::Date(d.clone()),
        (Some(d), false) => IndexFilter::PatternsOnDate {
            patterns: args.indices.clone(),
            date: d.clone(),
        },
        (None, false) => IndexFilter::Patterns(args.indices.clone()),
        (None, true) => IndexFilter::All,
    };
    let on_conflict = match (args.close_existing, args.replace) {
        (true, _) => OnConflict::CloseExisting,
        (_, true) => OnConflict::Replace,
        _ => OnConflict::Refuse,
    };
    let options = RestoreOptions {
        repository: args.es.repository.clone(),
        snapshot: args.snapshot.clone(),
        filter,
        rename_prefix: args.rename_prefix.clone(),
        on_conflict,
        watermark: args.watermark,
        replicas: args.replicas,
        dry_run: args.dry_run,
        wait: !args.no_wait,
        wait_timeout: Duration::from_secs(args.wait_timeout),
        poll_interval: args.es.poll_interval(),
        retry: args.es.retry(),
    };
    let es = connect(&args.es, global).await?;
    let bar = progress_bar("bytes");
    let result = workflow::restore(&es, &options, &mut say(&bar)).await;
    bar.finish_and_clear();
    let report = match result {
        Ok(report) => report,
        Err(e @ RestoreFailure::Refused(_)) => return Err(Refused(e.to_string()).into()),
        Err(e) => return Err(e.into()),
    };
    emit(&report, args.output.format(), plan_table)?;
    Ok(ExitCode::SUCCESS)
}

/// Prints what the workflow says on stderr; recovery moves `bar`.
pub(super) fn say(bar: &ProgressBar) -> impl FnMut(Said) + '_ {
    move |said| match said {
        Said::Note(line) => bar.suspend(|| eprintln!("{line}")),
        Said::Recovery(r) => {
            bar.set_length(r.bytes_total);
            bar.set_position(r.bytes_done);
            show_bytes(bar, r.bytes_done, r.bytes_total);
        }
        _ => {}
    }
}

fn plan_table(r: &Report) -> String {
    let rows: Vec<Vec<String>> = r
        .plan
        .indices
        .iter()
        .zip(&r.plan.targets)
        .map(|(from, to)| {
            let action = if r.plan.close_first.contains(to) {
                "close, then restore"
            } else if r.plan.delete_first.contains(to) {
                "delete, then restore"
            } else {
                "restore"
            };
            vec![
                r.plan.snapshot.clone(),
                from.clone(),
                to.clone(),
                action.to_string(),
            ]
        })
        .collect();
    render::table(&["snapshot", "index", "restored as", "action"], &rows)
}
