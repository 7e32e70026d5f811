//! `kubectl logbackup status`: one view of the backup's health; exit 1 when unhealthy.

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use logbackup::es::EsError;
use logbackup::render;
use logbackup::snapshot::status::{evaluate, Health, RepositoryCheck, StatusInput};
use serde::Serialize;

use super::connect::{connect, EsArgs};
use super::proof_store::ProofHistoryArgs;
use super::{emit, now, Global, OutputArgs};
use logbackup::snapshot::proof::{self, ProofStatus};
use logbackup::workflows::proofs;

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The newest SUCCESS snapshot may be at most this many hours old
    #[arg(long, default_value_t = 26, value_name = "HOURS")]
    pub max_age_hours: u32,
    /// Disk high watermark in percent
    #[arg(long, default_value_t = 90.0, value_name = "PERCENT")]
    pub watermark: f64,
    /// Fail when the newest passed restore test is older than this (e.g. 8d, 36h, 2w)
    #[arg(long, default_value = "8d", value_name = "AGE", value_parser = proof::parse_age_days)]
    pub max_proof_age: u32,
    /// Also fail when no restore test was ever recorded (by default that is a note)
    #[arg(long)]
    pub require_proof: bool,
    #[command(flatten)]
    pub proofs: ProofHistoryArgs,
    #[command(flatten)]
    pub sync: super::sync_to::StatusSyncArgs,
    #[command(flatten)]
    pub es: EsArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Serialize)]
struct Report {
    version: String,
    cluster: String,
    repository: String,
    path_repo: Vec<logbackup::snapshot::path_repo::NodePaths>,
    repositories: Vec<RepositoryCheck>,
    snapshots: usize,
    health: Health,
    /// Restore tests: the newest proof's age, and when each snapshot was last proven restorable.
    /// Absent when the proofs could not be read for want of Kubernetes access.
    #[serde(skip_serializing_if = "Option::is_none")]
    proofs: Option<ProofStatus>,
    /// The off-site copy (`--sync-to`): last sync and lag.
    #[serde(skip_serializing_if = "Option::is_none")]
    sync: Option<super::sync_to::SyncStatus>,
}

pub async fn run(args: &StatusArgs, global: &Global) -> Result<ExitCode> {
    let es = connect(&args.es, global).await?;
    let nodes: Vec<_> = es
        .nodes_settings()
        .await?
        .nodes
        .values()
        .map(|n| n.paths())
        .collect();
    let mut repositories = Vec::new();
    for (name, info) in es.repositories(None).await? {
        let verification_error = match es.verify_repository(&name).await {
            Ok(_) => None,
            Err(e) => Some(e.kind().to_string()),
        };
        repositories.push(RepositoryCheck {
            name,
            kind: info.kind.clone(),
            location: info.location().map(str::to_string),
            verification_error,
        });
    }
    let snapshots = match es
        .list_summaries(&args.es.repository, logbackup::es::listing::Detail::Full)
        .await
    {
        Ok(summaries) => summaries,
        Err(e) if matches!(e.kind(), EsError::RepositoryMissing(_)) => vec![],
        Err(e) => return Err(e.into()),
    };
    let disks = es.data_node_disks().await?;
    let input = StatusInput {
        nodes: nodes.clone(),
        repositories: repositories.clone(),
        repository: args.es.repository.clone(),
        snapshots,
        disks,
        watermark_pct: args.watermark,
        max_age_hours: args.max_age_hours,
        now_ms: now().as_millisecond(),
    };
    let health = evaluate(&input);
    let finished: Vec<String> = input
        .snapshots
        .iter()
        .filter(|s| s.state != logbackup::snapshot::state::SnapshotState::InProgress)
        .map(|s| s.name.clone())
        .collect();
    let sync = args.sync.check(&finished).await?;
    let proofs = proof_status(args, global, input.now_ms).await?;
    let report = Report {
        version: es.version.to_string(),
        cluster: es.cluster_name.clone(),
        repository: args.es.repository.clone(),
        path_repo: nodes,
        repositories,
        snapshots: input.snapshots.len(),
        health,
        proofs,
        sync,
    };
    let healthy = report.health.healthy
        && report.sync.as_ref().is_none_or(|s| s.ok)
        && report.proofs.as_ref().is_none_or(|p| p.ok);
    emit(&report, args.output.format(), |r| {
        let mut out = format!(
            "{} ({}), repository {}: {}\n\n",
            r.version,
            r.cluster,
            r.repository,
            if healthy { "HEALTHY" } else { "UNHEALTHY" }
        );
        let rows: Vec<Vec<String>> = r
            .health
            .findings
            .iter()
            .map(|f| {
                vec![
                    if f.ok { "ok" } else { "FAIL" }.to_string(),
                    f.check.to_string(),
                    f.message.clone(),
                ]
            })
            .chain(r.proofs.iter().map(|p| {
                vec![
                    if p.ok { "ok" } else { "FAIL" }.to_string(),
                    "restore test".to_string(),
                    p.message.clone(),
                ]
            }))
            .chain(r.sync.iter().map(|s| {
                vec![
                    if s.ok { "ok" } else { "FAIL" }.to_string(),
                    "off-site copy".to_string(),
                    s.message.clone(),
                ]
            }))
            .collect();
        out.push_str(&render::table(&["result", "check", "detail"], &rows));
        out.push('\n');
        let rows: Vec<Vec<String>> = r
            .path_repo
            .iter()
            .map(|n| vec![n.name.clone(), n.path_repo.join(",")])
            .collect();
        out.push_str(&render::table(&["node", "path.repo"], &rows));
        if let Some(p) = r.proofs.as_ref().filter(|p| !p.last_proven.is_empty()) {
            let now_ms = now().as_millisecond();
            let rows: Vec<Vec<String>> = p
                .last_proven
                .iter()
                .map(|l| {
                    vec![
                        l.snapshot.clone(),
                        format!("{} ago", proof::age_text(now_ms - l.at_ms)),
                    ]
                })
                .collect();
            out.push('\n');
            out.push_str(&render::table(
                &["snapshot", "last proven restorable"],
                &rows,
            ));
        }
        out
    })?;
    Ok(if healthy {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The restore-test finding; `None` (with a note) when there is no Kubernetes to read proofs from.
async fn proof_status(
    args: &StatusArgs,
    global: &Global,
    now_ms: i64,
) -> Result<Option<ProofStatus>> {
    let history = match args.proofs.open(&args.es, global).await {
        Ok(store) => proofs::load(&store).await,
        Err(e) => Err(e),
    };
    match history {
        Ok(h) => Ok(Some(proof::evaluate(
            &h,
            &args.es.repository,
            now_ms,
            args.max_proof_age,
            args.require_proof,
        ))),
        Err(e) if e.is_unavailable() && !args.require_proof => {
            eprintln!("note: restore-test proofs not checked: {e}; pass --proof-history FILE, or run where Kubernetes is reachable");
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}
