//! CSI VolumeSnapshots of the repository claim: taken by `backup --volume-snapshot-class`, listed by
//! `repo volume-snapshots list`.

use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, ListParams, PostParams};
use kube::core::GroupVersionKind;
use logbackup::render;
use logbackup_core::volume_snapshot::{self as vs, Listed};

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

fn resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk(vs::GROUP, vs::VERSION, vs::KIND),
        vs::PLURAL,
    )
}

const NO_CRDS: &str = "the VolumeSnapshot API (snapshot.storage.k8s.io/v1) is not served: install the external-snapshotter CRDs and snapshot controller, and a CSI driver that supports snapshots";

fn is_missing_api(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(r) if r.code == 404)
}

async fn api(global: &Global) -> Result<(Api<DynamicObject>, String)> {
    let client = kube_client(global).await?.client().clone();
    let ns = global
        .namespace
        .clone()
        .unwrap_or_else(|| client.default_namespace().to_string());
    Ok((Api::namespaced_with(client, &ns, &resource()), ns))
}

async fn list_of(api: &Api<DynamicObject>, claim: Option<&str>) -> Result<Vec<Listed>> {
    let selector = match claim {
        Some(c) => format!("{}={},{}", vs::CLAIM_LABEL, c, managed()),
        None => managed(),
    };
    let list = match api.list(&ListParams::default().labels(&selector)).await {
        Ok(l) => l,
        Err(e) if is_missing_api(&e) => anyhow::bail!(NO_CRDS),
        Err(e) => return Err(e).context("failed to list VolumeSnapshots"),
    };
    Ok(list
        .items
        .iter()
        .filter_map(|o| serde_json::to_value(o).ok())
        .map(|v| vs::listed(&v))
        .collect())
}

fn managed() -> String {
    format!(
        "{}={}",
        logbackup_core::schedule::MANAGED_BY_LABEL,
        logbackup_core::schedule::MANAGED_BY
    )
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
        eprintln!("{}", vs::NOTICE);
        let (api, ns) = api(global).await?;
        let object: DynamicObject = serde_json::from_value(vs::object(&ns, claim, class, snapshot))
            .context("failed to build the VolumeSnapshot")?;
        let name = object.metadata.name.clone().unwrap_or_default();
        match api.create(&PostParams::default(), &object).await {
            Ok(_) => {
                eprintln!("VolumeSnapshot {ns}/{name} of claim {claim} requested (class {class})")
            }
            Err(e) if is_missing_api(&e) => anyhow::bail!(NO_CRDS),
            Err(e) => {
                return Err(e)
                    .with_context(|| format!("failed to create VolumeSnapshot {ns}/{name}"))
            }
        }
        let ours = list_of(&api, Some(claim)).await?;
        for old in vs::to_delete(&ours, self.keep_volume_snapshots) {
            api.delete(&old, &DeleteParams::default())
                .await
                .with_context(|| format!("failed to delete old VolumeSnapshot {ns}/{old}"))?;
            eprintln!(
                "deleted VolumeSnapshot {ns}/{old} (keeping {})",
                self.keep_volume_snapshots
            );
        }
        Ok(Some(name))
    }
}

pub async fn run(args: &VolumeSnapshotsArgs, global: &Global) -> Result<ExitCode> {
    match &args.command {
        VolumeSnapshotsCommand::List(a) => {
            let (api, _) = api(global).await?;
            let list = list_of(&api, a.claim.as_deref()).await?;
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
