//! `--sync-to` on `schedule create` (what the CronJob will do) and on `backup` (doing it).

use anyhow::Result;
use clap::Args;
use logbackup::schedule::sync_to::SyncTo;
use logbackup::sync::run::{self, Outcome};
use logbackup::sync::store::Store;
use logbackup::sync::Location;
use logbackup::workflows::status::OffSite;

use super::sync::S3Args;
use super::Refused;

/// `schedule create` flags: where the nightly job copies the repository.
#[derive(Debug, Args, Clone, Default)]
#[command(next_help_heading = "Off-site copy (after each SUCCESS snapshot)")]
pub struct ScheduleSyncArgs {
    /// Copy the repository to this object store after each SUCCESS snapshot (repo sync)
    #[arg(long, value_name = "s3://BUCKET/PREFIX", requires_all = ["sync_claim", "sync_secret"])]
    pub sync_to: Option<String>,
    /// The repository's ReadWriteMany claim; the job mounts it read-only
    #[arg(long, value_name = "CLAIM")]
    pub sync_claim: Option<String>,
    /// The repository's directory inside the claim [default: the repository name]
    #[arg(long, value_name = "DIR")]
    pub sync_subpath: Option<String>,
    /// Secret with AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and optionally AWS_SESSION_TOKEN)
    #[arg(long, value_name = "SECRET")]
    pub sync_secret: Option<String>,
    /// S3-compatible endpoint for the copy (MinIO, Ceph RGW)
    #[arg(long, value_name = "URL")]
    pub sync_endpoint: Option<String>,
    /// Region of the copy's bucket
    #[arg(long, value_name = "REGION")]
    pub sync_region: Option<String>,
}

impl ScheduleSyncArgs {
    pub fn plan(&self, repository: &str) -> Result<Option<SyncTo>> {
        let Some(url) = &self.sync_to else {
            return Ok(None);
        };
        match Location::parse(url).map_err(|e| Refused(e.to_string()))? {
            Location::S3 { .. } => {}
            Location::Dir(_) => {
                return Err(Refused(format!(
                    "--sync-to {url}: a scheduled copy goes to an object store, s3://BUCKET/PREFIX"
                ))
                .into())
            }
        }
        let need = |v: &Option<String>, flag: &str| {
            v.clone()
                .ok_or_else(|| Refused(format!("--sync-to needs {flag}")))
        };
        Ok(Some(SyncTo {
            url: url.clone(),
            claim: need(&self.sync_claim, "--sync-claim")?,
            sub_path: self
                .sync_subpath
                .clone()
                .unwrap_or_else(|| repository.to_string()),
            endpoint: self.sync_endpoint.clone(),
            region: self.sync_region.clone(),
            secret: need(&self.sync_secret, "--sync-secret")?,
        }))
    }
}

/// `backup` flags: the copy to make once the snapshot is SUCCESS.
#[derive(Debug, Args, Clone)]
#[command(next_help_heading = "Off-site copy")]
pub struct BackupSyncArgs {
    /// After a SUCCESS snapshot (and pruning), copy the repository here with `repo sync`
    #[arg(long, value_name = "s3://BUCKET/PREFIX", requires = "sync_from")]
    pub sync_to: Option<String>,
    /// The repository directory as this process sees it (the claim, mounted read-only)
    #[arg(long, value_name = "DIR")]
    pub sync_from: Option<String>,
    #[command(flatten)]
    pub s3: S3Args,
}

impl BackupSyncArgs {
    /// Runs the copy, if one is asked for.
    pub async fn run(&self) -> Result<Option<Outcome>> {
        let (Some(to), Some(from)) = (&self.sync_to, &self.sync_from) else {
            return Ok(None);
        };
        let options = self.s3.options();
        let src = Store::open(&Location::parse(from)?, &options)?;
        let mut dst = Store::open(&Location::parse(to)?, &options)?;
        let mut quiet = |_: run::Event<'_>| {};
        let outcome = run::sync(&src, &mut dst, false, super::now(), &mut quiet).await?;
        eprintln!(
            "copied to {to}: sent {} files ({} bytes), skipped {}, removed {}; the copy holds {} snapshots",
            outcome.files_sent,
            outcome.bytes_sent,
            outcome.files_skipped,
            outcome.files_removed,
            outcome.snapshots.len()
        );
        Ok(Some(outcome))
    }
}

/// `status` flags: the off-site copy to compare with the repository.
#[derive(Debug, Args, Clone)]
#[command(next_help_heading = "Off-site copy")]
pub struct StatusSyncArgs {
    /// Also report the copy `repo sync` / `--sync-to` keeps here: its last sync and its lag
    #[arg(long, value_name = "s3://BUCKET/PREFIX|DIR")]
    pub sync_to: Option<String>,
    #[command(flatten)]
    pub s3: S3Args,
}

impl StatusSyncArgs {
    /// The copy to compare with the repository, if one was named.
    pub fn open(&self) -> Result<Option<OffSite>> {
        let Some(url) = &self.sync_to else {
            return Ok(None);
        };
        let store = Store::open(&Location::parse(url)?, &self.s3.options())?;
        Ok(Some(OffSite {
            url: url.clone(),
            store,
        }))
    }
}
