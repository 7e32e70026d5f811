//! The flags of CSI VolumeSnapshots of the repository claim (`backup --volume-snapshot-class`,
//! `repo volume-snapshots list`); the work is `logbackup::workflows::volume_snapshots`.

use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, Subcommand};
use logbackup::k8s::Kube;
use logbackup::render;
use logbackup::workflows::volume_snapshots::{self as workflow, TakeOptions};
use logbackup::workflows::Said;
use logbackup_core::volume_snapshot as vs;

use super::connect::kube_client;
use super::{emit, Global, OutputArgs};

#[derive(Debug, Args)]
pub struct VolumeSnapshotsArgs {
    #[command(subcommand)]
    pub command: VolumeSnapshotsCommand,
}

#[derive(Debug, Subcommand)]
pub enum VolumeSnapshotsCommand {
    /// List the VolumeSnapshots backup took of the repository claim: ready or not, and their size
    List(ListArgs),
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only those of this claim
    #[arg(long, value_name = "CLAIM")]
    pub claim: Option<String>,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// `backup` flags.
#[derive(Debug, Args, Clone)]
#[command(next_help_heading = "Volume snapshot (after each SUCCESS snapshot)")]
pub struct BackupVolumeSnapshotArgs {
    /// Take a CSI VolumeSnapshot of the repository claim with this VolumeSnapshotClass
    #[arg(long, value_name = "CLASS", requires = "volume_snapshot_claim")]
    pub volume_snapshot_class: Option<String>,
    /// The repository's claim
    #[arg(long, value_name = "CLAIM")]
    pub volume_snapshot_claim: Option<String>,
    /// How many of this claim's VolumeSnapshots to keep
    #[arg(long, default_value_t = 7, value_name = "N")]
    pub keep_volume_snapshots: usize,
}

/// Namespace and client: -n, else the kubeconfig context's namespace.
async fn cluster(global: &Global) -> Result<(Kube, String)> {
    let kube = kube_client(global).await?;
    let ns = global
        .namespace
        .clone()
        .unwrap_or_else(|| kube.default_namespace().to_string());
    Ok((kube, ns))
}

impl BackupVolumeSnapshotArgs {
    /// What a scheduled job will do.
    pub fn job(&self) -> Option<logbackup_core::volume_snapshot::VolumeSnapshotJob> {
        Some(logbackup_core::volume_snapshot::VolumeSnapshotJob {
            class: self.volume_snapshot_class.clone()?,
            claim: self.volume_snapshot_claim.clone()?,
            keep: self.keep_volume_snapshots,
        })
    }

    /// Takes the VolumeSnapshot after `snapshot`, then keeps the newest N of the claim.
    pub async fn take(&self, global: &Global, snapshot: &str) -> Result<Option<String>> {
        let (Some(class), Some(claim)) = (&self.volume_snapshot_class, &self.volume_snapshot_claim)
        else {
            return Ok(None);
        };
        let options = TakeOptions {
            class: class.clone(),
            claim: claim.clone(),
            keep: self.keep_volume_snapshots,
        };
        let (kube, ns) = cluster(global).await?;
        let mut say = |said| {
            if let Said::Note(line) = said {
                eprintln!("{line}")
            }
        };
        let name = workflow::take(&kube, &ns, &options, snapshot, &mut say).await?;
        Ok(Some(name))
    }
}

pub async fn run(args: &VolumeSnapshotsArgs, global: &Global) -> Result<ExitCode> {
    match &args.command {
        VolumeSnapshotsCommand::List(a) => {
            let (kube, ns) = cluster(global).await?;
            let list = workflow::list(&kube, &ns, a.claim.as_deref()).await?;
            emit(&list, a.output.format(), |list| {
                let rows: Vec<Vec<String>> = list
                    .iter()
                    .map(|l| {
                        vec![
                            l.name.clone(),
                            l.claim.clone(),
                            if l.ready { "ready" } else { "not ready" }.to_string(),
                            l.size.clone().unwrap_or_else(|| "-".into()),
                            l.created.clone(),
                            l.detail.clone(),
                        ]
                    })
                    .collect();
                render::table(
                    &["name", "claim", "ready", "size", "created", "detail"],
                    &rows,
                )
            })?;
            eprintln!("{}", vs::NOTICE);
            Ok(ExitCode::SUCCESS)
        }
    }
}
