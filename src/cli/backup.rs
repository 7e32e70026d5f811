//! `kubectl logbackup backup`: the one command the scheduled CronJob runs. The sequence (snapshot,
//! wait, and only after a SUCCESS prune, copy, volume snapshot) is `logbackup::workflows::backup`;
//! here are the flags and the steps it calls back.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use clap::Args;
use indicatif::ProgressBar;
use logbackup::es::types::SnapshotInfo;
use logbackup::es::EsClient;
use logbackup::snapshot::naming;
use logbackup::snapshot::retention::RetentionPolicy;
use logbackup::sync::run::Outcome as SyncOutcome;
use logbackup::workflows::backup::{self as workflow, AfterSuccess, StepError};

use super::connect::{connect, EsArgs};
use super::prune::{report_table, RetentionArgs};
use super::snapshot::{finish, say, snapshot_options, snapshot_table, WhatArgs};
use super::{emit, now, progress_bar, Global, OutputArgs};
use logbackup::workflows::prune::{prune, PruneOptions, Report};

#[derive(Debug, Args)]
#[command(after_help = "\
Exit codes: 0 snapshot SUCCESS and every planned deletion done; 1 snapshot not SUCCESS (nothing is
pruned then) or a deletion failed.

Example (KubeSphere's Curator CronJob, as one command):
  kubectl logbackup backup -r ks-log-snapshots --preset kubesphere \\
      --keep-days 45

Manual: https://github.com/logbackup/kubectl-logbackup/blob/main/docs/schedule.md")]
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

/// The steps after a SUCCESS snapshot, from the flags.
struct Steps<'a> {
    es: &'a EsClient,
    args: &'a BackupArgs,
    global: &'a Global,
    policy: &'a RetentionPolicy,
    /// The snapshot's progress; cleared when it ends, before the steps print.
    bar: &'a ProgressBar,
}

impl AfterSuccess for Steps<'_> {
    type Pruned = Report;

    fn snapshot_ended(&mut self, info: &SnapshotInfo) {
        self.bar.finish_and_clear();
        // The verdict is printed; the exit code follows from the outcome.
        let _ = finish(info);
    }

    async fn prune(&mut self) -> Result<(Report, bool), StepError> {
        let options = PruneOptions {
            repository: self.args.es.repository.clone(),
            retry: self.args.es.retry(),
            dry_run: false,
            // Restore-test copies are `prune`'s business, not the nightly backup's.
            leftover_grace_hours: None,
        };
        let report = prune(self.es, &options, self.policy, now(), &mut say(None)).await?;
        let ok = report.ok();
        Ok((report, ok))
    }

    async fn copy_off_site(&mut self) -> Result<Option<SyncOutcome>, StepError> {
        Ok(self.args.sync.run().await?)
    }

    fn copy_asked(&self) -> bool {
        self.args.sync.sync_to.is_some()
    }

    async fn volume_snapshot(&mut self, snapshot: &str) -> Result<Option<String>, StepError> {
        Ok(self
            .args
            .volume_snapshot
            .take(self.global, snapshot)
            .await?)
    }
}

pub async fn run(args: &BackupArgs, global: &Global) -> Result<ExitCode> {
    // Checked before anything starts: a bad retention flag must not leave an unpruned snapshot.
    let policy = args.retention.policy()?;
    let name = naming::render_name(&args.what.name, now())?;
    let es = connect(&args.es, global).await?;
    let bar = progress_bar("shards");
    let mut steps = Steps {
        es: &es,
        args,
        global,
        policy: &policy,
        bar: &bar,
    };
    let options = snapshot_options(&args.es, Duration::from_secs(args.wait_timeout));
    let result = workflow::backup(
        &es,
        &options,
        &name,
        &args.what.body(),
        &mut steps,
        now(),
        &mut say(Some(&bar)),
    )
    .await;
    bar.finish_and_clear();
    let outcome = result?;
    emit(&outcome, args.output.format(), |o| {
        let mut out = snapshot_table(std::slice::from_ref(&o.snapshot));
        if let Some(report) = &o.prune {
            out.push('\n');
            out.push_str(&report_table(report));
        }
        out
    })?;
    Ok(if outcome.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
