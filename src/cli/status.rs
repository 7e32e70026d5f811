//! `kubectl logbackup status`: one view of the backup's health; exit 1 when unhealthy. The facts are
//! gathered and judged by `logbackup::workflows::status`; here are the flags and the tables.

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use logbackup::render;
use logbackup::snapshot::proof;
use logbackup::workflows::status::{status, StatusOptions};

use super::connect::{connect, EsArgs};
use super::proof_store::ProofHistoryArgs;
use super::snapshot::say;
use super::{emit, now, Global, OutputArgs};

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  kubectl logbackup status -n kubesphere-logging-system -r ks-log-snapshots
  kubectl logbackup status -n kubesphere-logging-system -r ks-log-snapshots \\
      -o json --require-proof
  kubectl logbackup status -n kubesphere-logging-system -r ks-log-snapshots \\
      --sync-to s3://logs-offsite/ks

Manual: https://github.com/logbackup/kubectl-logbackup/blob/main/docs/status.md")]
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
    /// Also judge the control plane's backup: the etcd snapshots under this repository directory
    #[arg(
        long,
        env = "LOGBACKUP_ETCD_REPO",
        value_name = "DIR|s3://BUCKET/PREFIX"
    )]
    pub etcd_repo: Option<String>,
    /// With --etcd-repo: fail when the newest etcd snapshot is older than this (e.g. 90m, 26h, 2d)
    #[arg(long, default_value = "26h", value_name = "AGE", value_parser = super::etcd::parse_age)]
    pub max_etcd_age: jiff::SignedDuration,
    #[command(flatten)]
    pub es: EsArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// The report, with the control plane's backup beside it when asked for.
#[derive(serde::Serialize)]
struct WithEtcd<'a, T> {
    #[serde(flatten)]
    report: &'a T,
    #[serde(skip_serializing_if = "Option::is_none")]
    etcd: Option<logbackup_core::etcd::status::EtcdHealth>,
}

pub async fn run(args: &StatusArgs, global: &Global) -> Result<ExitCode> {
    // The copy's location is checked before anything is asked of the cluster.
    let off_site = args.sync.open()?;
    let es = connect(&args.es, global).await?;
    let options = StatusOptions {
        repository: args.es.repository.clone(),
        watermark: args.watermark,
        max_age_hours: args.max_age_hours,
        max_proof_age_days: args.max_proof_age,
        require_proof: args.require_proof,
    };
    let report = status(
        &es,
        &options,
        off_site.as_ref(),
        args.proofs.open(&args.es, global),
        now(),
        &mut say(None),
    )
    .await?;
    let etcd = match &args.etcd_repo {
        Some(dir) => {
            let target = logbackup::etcd::Target::open(dir, &args.sync.s3.options())?;
            let newest = match target.find(None).await {
                Ok(found) => Some(found),
                Err(logbackup::etcd::TargetError::Repo(logbackup::etcd::RepoError::Empty(_))) => {
                    None
                }
                Err(e) => return Err(e.into()),
            };
            Some(logbackup_core::etcd::status::judge(
                newest.as_ref().map(|(r, v)| (r, v.as_ref())),
                args.max_etcd_age,
                now(),
            ))
        }
        None => None,
    };
    let healthy = report.healthy() && etcd.as_ref().is_none_or(|e| e.healthy);
    let combined = WithEtcd {
        report: &report,
        etcd,
    };
    emit(&combined, args.output.format(), |c| {
        let r = c.report;
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
            .chain(c.etcd.iter().map(etcd_row))
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

/// The control plane's line in the table.
fn etcd_row(e: &logbackup_core::etcd::status::EtcdHealth) -> Vec<String> {
    let detail = match (&e.newest, e.age_seconds) {
        (Some(name), Some(age)) => {
            let mut d = format!(
                "newest {name}, {} ago, restore drill: {}",
                proof::age_text(age.saturating_mul(1000)),
                e.verification
            );
            for p in &e.problems {
                d.push_str("; ");
                d.push_str(p);
            }
            d
        }
        _ => e.problems.join("; "),
    };
    vec![
        if e.healthy { "ok" } else { "FAIL" }.to_string(),
        "etcd snapshot".to_string(),
        detail,
    ]
}
