//! `kubectl logbackup backup`: the one command the scheduled CronJob runs. Snapshot, wait, and only
//! after a SUCCESS prune, in one process: a PARTIAL night never deletes an older complete backup.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use clap::Args;
use logbackup::snapshot::naming;
use serde::Serialize;

use super::connect::{connect, EsArgs};
use super::prune::{prune, report_table, Report, RetentionArgs};
use super::snapshot::{create_and_wait, finish, snapshot_table, WhatArgs};
use super::{emit, now, Global, OutputArgs};
use logbackup::es::types::SnapshotInfo;

#[derive(Debug, Args)]
#[command(after_help = "\
Exit codes: 0 snapshot SUCCESS and every planned deletion done; 1 snapshot not SUCCESS (nothing is
pruned then) or a deletion failed.

Example (the seed's Curator CronJob, as one command):
  kubectl logbackup backup -r ks-log-snapshots --preset kubesphere --keep-days 45")]
pub struct BackupArgs {
    #[command(flatten)]
    pub what: WhatArgs,
    #[command(flatten)]
    pub retention: RetentionArgs,
    /// Give up waiting for the snapshot after this many seconds (it goes on in the cluster)
    #[arg(long, default_value_t = 6 * 3600, value_name = "SECONDS")]
    pub wait_timeout: u64,
    #[command(flatten)]
    pub sync: super::sync_to::BackupSyncArgs,
    #[command(flatten)]
    pub volume_snapshot: super::volume_snapshots::BackupVolumeSnapshotArgs,
    #[command(flatten)]
    pub es: EsArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Serialize)]
struct Outcome {
    snapshot: SnapshotInfo,
    /// Absent when the snapshot was not SUCCESS: nothing was pruned.
    prune: Option<Report>,
    /// The off-site copy (`--sync-to`), made only after a SUCCESS snapshot.
    #[serde(skip_serializing_if = "Option::is_none")]
    sync: Option<logbackup::sync::run::Outcome>,
    /// The VolumeSnapshot requested (`--volume-snapshot-class`).
    #[serde(skip_serializing_if = "Option::is_none")]
    volume_snapshot: Option<String>,
}

pub async fn run(args: &BackupArgs, global: &Global) -> Result<ExitCode> {
    // Checked before anything starts: a bad retention flag must not leave an unpruned snapshot.
    let policy = args.retention.policy()?;
    let name = naming::render_name(&args.what.name, now())?;
    let es = connect(&args.es, global).await?;
    let info = create_and_wait(
        &es,
        &args.es,
        &name,
        &args.what.body(),
        Duration::from_secs(args.wait_timeout),
    )
    .await?;
    let code = finish(&info)?;
    let prune_report = if code == ExitCode::SUCCESS {
        Some(prune(&es, &args.es, &policy, false).await?)
    } else {
        eprintln!("not pruning: the newest snapshot is not a complete backup");
        None
    };
    let pruned_ok = prune_report.as_ref().is_none_or(Report::ok);
    // The copy follows the repository as it now is: after the snapshot, and after pruning.
    let (sync, synced_ok) = if code == ExitCode::SUCCESS {
        match args.sync.run().await {
            Ok(o) => (o, true),
            Err(e) => {
                eprintln!("error: the snapshot is complete, but copying the repository off the cluster failed: {e:#}");
                (None, false)
            }
        }
    } else {
        if args.sync.sync_to.is_some() {
            eprintln!("not copying off the cluster: the newest snapshot is not a complete backup");
        }
        (None, true)
    };
    // A volume snapshot between two repository operations is a consistent copy of the volume.
    let (volume_snapshot, volume_ok) = if code == ExitCode::SUCCESS {
        match args.volume_snapshot.take(global, &info.snapshot).await {
            Ok(name) => (name, true),
            Err(e) => {
                eprintln!("error: the snapshot is complete, but the VolumeSnapshot of the repository claim failed: {e:#}");
                (None, false)
            }
        }
    } else {
        (None, true)
    };
    let outcome = Outcome {
        volume_snapshot,
        snapshot: info,
        prune: prune_report,
        sync,
    };
    emit(&outcome, args.output.format(), |o| {
        let mut out = snapshot_table(std::slice::from_ref(&o.snapshot));
        if let Some(report) = &o.prune {
            out.push('\n');
            out.push_str(&report_table(report));
        }
        out
    })?;
    Ok(
        if code == ExitCode::SUCCESS && pruned_ok && synced_ok && volume_ok {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        },
    )
}
