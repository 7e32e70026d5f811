//! `kubectl logbackup restore`: pick the snapshot, refuse what would fail or fill the disks, restore,
//! and follow recovery until the indices are usable.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use clap::Args;
use logbackup::es::types::RestoreRequest;
use logbackup::render;
use logbackup::snapshot::human_bytes;
use logbackup::snapshot::restore::{self, ExistingIndex, IndexFilter, OnConflict, RestoreError};
use serde::Serialize;

use super::connect::{connect, EsArgs};
use super::{emit, progress_bar, Global, OutputArgs, Refused};

#[derive(Debug, Args)]
#[command(after_help = "\
Example (the seed's restore of one day):
  kubectl logbackup restore -r ks-log-snapshots --date 2019.11.12
  kubectl logbackup restore -r ks-log-snapshots --date 2019.11.12 --rename-prefix restored-")]
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

#[derive(Serialize)]
struct Report {
    plan: restore::RestorePlan,
    required_bytes: u64,
    usable_bytes: u64,
    dry_run: bool,
}

fn refuse(e: RestoreError) -> anyhow::Error {
    Refused(format!("refusing to restore: {e}")).into()
}

pub async fn run(args: &RestoreArgs, global: &Global) -> Result<ExitCode> {
    let repo = &args.es.repository;
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
    let es = connect(&args.es, global).await?;
    let chosen = super::verify::pick(&es, repo, args.snapshot.as_deref(), &filter)
        .await?
        .map_err(refuse)?
        .summary();
    let existing: Vec<ExistingIndex> = es
        .indices()
        .await?
        .iter()
        .map(|i| ExistingIndex {
            name: i.index.clone(),
            open: i.open(),
        })
        .collect();
    let plan = restore::plan_restore(
        &chosen,
        &filter,
        args.rename_prefix.as_deref(),
        on_conflict,
        &existing,
    )
    .map_err(refuse)?;

    let status = es.snapshot_status(repo, &plan.snapshot).await?;
    let primaries: u64 = plan
        .indices
        .iter()
        .map(|i| status.indices.get(i).map_or(0, |s| s.size_bytes()))
        .sum();
    let disks = es.data_node_disks().await?;
    let fit =
        restore::check_disk(primaries, args.replicas, &disks, args.watermark).map_err(refuse)?;
    eprintln!(
        "{}restore {} from {repo}:{} ({} needed, {} usable below the {}% watermark)",
        if args.dry_run { "dry run: would " } else { "" },
        plan.targets.join(", "),
        plan.snapshot,
        human_bytes(fit.required),
        human_bytes(fit.usable),
        args.watermark
    );
    let report = Report {
        plan,
        required_bytes: fit.required,
        usable_bytes: fit.usable,
        dry_run: args.dry_run,
    };
    if args.dry_run {
        emit(&report, args.output.format(), plan_table)?;
        return Ok(ExitCode::SUCCESS);
    }
    let plan = &report.plan;
    for index in &plan.close_first {
        es.close_index(index).await?;
        eprintln!("closed {index}");
    }
    for index in &plan.delete_first {
        es.delete_index(index).await?;
        eprintln!("deleted {index}");
    }
    let body = RestoreRequest {
        indices: plan.indices.join(","),
        include_global_state: false,
        include_aliases: false,
        rename_pattern: plan.rename_prefix.as_ref().map(|_| "(.+)".to_string()),
        rename_replacement: plan.rename_prefix.as_ref().map(|p| format!("{p}$1")),
        index_settings: None,
    };
    es.restore(repo, &plan.snapshot, &body).await?;
    eprintln!("restore started");
    if !args.no_wait {
        follow_recovery(
            &es,
            &args.es,
            &plan.targets,
            Duration::from_secs(args.wait_timeout),
        )
        .await?;
        eprintln!("restored: {}", plan.targets.join(", "));
    }
    emit(&report, args.output.format(), plan_table)?;
    Ok(ExitCode::SUCCESS)
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

async fn follow_recovery(
    es: &logbackup::es::EsClient,
    args: &EsArgs,
    targets: &[String],
    timeout: Duration,
) -> Result<()> {
    let started = Instant::now();
    let bar = progress_bar("bytes");
    loop {
        let recovery = es.recovery(targets).await?;
        let mut totals: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
        let mut all_done = targets.iter().all(|t| recovery.contains_key(t));
        for (index, r) in &recovery {
            for shard in &r.shards {
                all_done &= shard.stage == "DONE";
                let size = shard
                    .index
                    .as_ref()
                    .and_then(|i| i.size.clone())
                    .unwrap_or_default();
                let e = totals.entry(index).or_default();
                e.0 += size.recovered_in_bytes;
                e.1 += size.total_in_bytes;
            }
        }
        let (done, total) = totals.values().fold((0, 0), |a, v| (a.0 + v.0, a.1 + v.1));
        bar.set_length(total);
        bar.set_position(done);
        bar.set_message(format!("{} / {}", human_bytes(done), human_bytes(total)));
        if all_done {
            bar.finish_and_clear();
            return Ok(());
        }
        if started.elapsed() > timeout {
            bar.abandon();
            bail!(
                "recovery of {} not done after {}s; it goes on in the cluster",
                targets.join(", "),
                timeout.as_secs()
            );
        }
        tokio::time::sleep(args.poll_interval()).await;
    }
}
