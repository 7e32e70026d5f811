//! `kubectl logbackup repo sync SRC DST`.

use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, ValueEnum};
use logbackup::render;
use logbackup::snapshot::human_bytes;
use logbackup::sync::run::{self, Event};
use logbackup::sync::store::{S3Options, Store};
use logbackup::sync::Location;

use super::{emit, OutputArgs, Refused};

#[derive(Debug, Args)]
#[command(after_help = "\
Each of SRC and DST is a directory or s3://BUCKET/PREFIX. The copy stays a valid repository at
every moment (blobs first, then index-N, then index.latest; removals last), so another cluster
can register it read-only while a sync runs.

Credentials: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (/ AWS_SESSION_TOKEN), else --profile or
AWS_PROFILE from the shared credentials file. In the cluster, `schedule create --sync-to` takes them
from a Secret.

Examples:
  # Off-site copy of the repository volume (mounted at /backup), to MinIO:
  kubectl logbackup repo sync /backup/ks-log-snapshots s3://logs-offsite/ks \\
      --endpoint http://minio.example:9000
  # A new cluster's restore path: bring the copy back, then register it read-only:
  kubectl logbackup repo sync s3://logs-offsite/ks \\
      /usr/share/elasticsearch/backup/ks
  kubectl logbackup repo register ks \\
      --location /usr/share/elasticsearch/backup/ks --readonly")]
pub struct SyncArgs {
    /// Source repository: a directory (the one holding index.latest) or s3://BUCKET/PREFIX
    pub src: String,
    /// Destination: an empty location or an earlier copy of the same repository
    pub dst: String,
    /// Show what would be sent and removed, change nothing
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub s3: S3Args,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args, Clone)]
#[command(next_help_heading = "Object store")]
pub struct S3Args {
    /// S3-compatible endpoint (MinIO, Ceph RGW), e.g. http://minio:9000
    #[arg(long, env = "AWS_ENDPOINT_URL", value_name = "URL")]
    pub endpoint: Option<String>,
    /// Region (default: AWS_REGION, AWS_DEFAULT_REGION, else us-east-1)
    #[arg(long)]
    pub region: Option<String>,
    /// Bucket addressing: path-style (endpoint/bucket/key, for MinIO and Ceph RGW) or virtual-hosted.
    /// auto: path-style with --endpoint, virtual-hosted without
    #[arg(long, value_enum, default_value_t = Addressing::Auto)]
    pub addressing: Addressing,
    /// Profile in the shared credentials file, when AWS_ACCESS_KEY_ID is not set
    #[arg(long, env = "AWS_PROFILE")]
    pub profile: Option<String>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Addressing {
    Auto,
    Path,
    Virtual,
}

impl S3Args {
    pub fn options(&self) -> S3Options {
        let credentials_file = self.profile.as_ref().and_then(|_| {
            let path = std::env::var_os("AWS_SHARED_CREDENTIALS_FILE")
                .map(std::path::PathBuf::from)
                .or_else(|| {
                    std::env::var_os("HOME")
                        .map(|h| std::path::PathBuf::from(h).join(".aws/credentials"))
                })?;
            std::fs::read_to_string(path).ok()
        });
        S3Options {
            endpoint: self.endpoint.clone(),
            region: self.region.clone(),
            path_style: match self.addressing {
                Addressing::Auto => self.endpoint.is_some(),
                Addressing::Path => true,
                Addressing::Virtual => false,
            },
            profile: self.profile.clone(),
            credentials_file,
        }
    }
}

/// `LOGBACKUP_SYNC_FAULT=abort-after:N`: a test knob that kills the process (abort, as a SIGKILL
/// would) once N files have reached the destination, to show the copy survives a sync killed
/// half-way.
fn fault_knob() -> Option<usize> {
    std::env::var("LOGBACKUP_SYNC_FAULT")
        .ok()?
        .strip_prefix("abort-after:")?
        .parse()
        .ok()
}

pub async fn run(args: &SyncArgs) -> Result<ExitCode> {
    let options = args.s3.options();
    let src_location = Location::parse(&args.src).map_err(|e| Refused(e.to_string()))?;
    let dst_location = Location::parse(&args.dst).map_err(|e| Refused(e.to_string()))?;
    if src_location == dst_location {
        return Err(Refused(format!("source and destination are both {src_location}")).into());
    }
    let src = Store::open(&src_location, &options)?;
    let mut dst = Store::open(&dst_location, &options)?;
    let fault = fault_knob();
    let bar = super::progress_bar("bytes");
    let mut written = 0usize;
    let mut on_event = |event: Event<'_>| {
        match event {
            Event::Planned(plan) => {
                bar.set_length(plan.bytes_to_send());
                if !args.dry_run && plan.files_to_send() > 0 {
                    eprintln!(
                        "sending {} files ({}), {} already there; then removing {}",
                        plan.files_to_send(),
                        human_bytes(plan.bytes_to_send()),
                        plan.skipped.len(),
                        plan.deletes.len()
                    );
                }
            }
            Event::Sent(o) => {
                bar.inc(o.size);
                bar.set_message(o.path.clone());
                written += 1;
            }
            Event::LatestWritten(_) => written += 1,
            Event::Removed(_) => written += 1,
        }
        if fault.is_some_and(|n| written >= n) {
            eprintln!("LOGBACKUP_SYNC_FAULT: aborting after {written} writes");
            std::process::abort();
        }
    };
    let result = run::sync(&src, &mut dst, args.dry_run, super::now(), &mut on_event).await;
    bar.finish_and_clear();
    let outcome = match result {
        Ok(o) => o,
        Err(e @ logbackup::sync::SyncError::Refused { .. })
        | Err(e @ logbackup::sync::SyncError::Location(_))
        | Err(e @ logbackup::sync::SyncError::SourceMissing { .. }) => {
            return Err(Refused(format!("cannot sync: {e}; nothing was written")).into())
        }
        Err(e) => return Err(anyhow::Error::new(e).context(format!(
            "sync from {src_location} to {dst_location} stopped; the destination is still the repository it was before (index.latest was not moved past what is there), run it again"
        ))),
    };
    let verb = if outcome.dry_run {
        "would send"
    } else {
        "sent"
    };
    eprintln!(
        "{}{verb} {} files ({}), skipped {} ({}), {} {}; {} is at generation {} ({} snapshots)",
        if outcome.dry_run { "dry run: " } else { "" },
        outcome.files_sent,
        human_bytes(outcome.bytes_sent),
        outcome.files_skipped,
        human_bytes(outcome.bytes_skipped),
        if outcome.dry_run {
            "would remove"
        } else {
            "removed"
        },
        outcome.files_removed,
        outcome.destination,
        outcome.generation,
        outcome.snapshots.len()
    );
    emit(&outcome, args.output.format(), |o| {
        render::table(
            &[
                "source",
                "destination",
                "generation",
                "snapshots",
                "sent",
                "bytes sent",
                "skipped",
                "removed",
            ],
            &[vec![
                o.source.clone(),
                o.destination.clone(),
                o.generation.to_string(),
                o.snapshots.len().to_string(),
                o.files_sent.to_string(),
                o.bytes_sent.to_string(),
                o.files_skipped.to_string(),
                o.files_removed.to_string(),
            ]],
        )
    })?;
    Ok(ExitCode::SUCCESS)
}
