//! Where the snapshots are: the repository volume, or an object store through `repo sync`'s store.
//! One set of operations over both, so that every command takes either.

use std::path::{Path, PathBuf};

use jiff::Timestamp;
use logbackup_core::etcd::record::{SnapshotRecord, Verification};
use logbackup_core::etcd::retention::{self, Decision, Entry, Policy, RetentionError};

use super::client::EtcdClient;
use super::drill::{self, DrillError, DrillOptions};
use super::remote::{Remote, RemoteError};
use super::repo::{Listed, Repo, RepoError};
use super::save::{save, SaveError, SaveOptions};
use crate::sync::store::S3Options;
use crate::sync::Location;

#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error(transparent)]
    Repo(#[from] RepoError),
    #[error(transparent)]
    Remote(#[from] RemoteError),
    #[error(transparent)]
    Save(#[from] SaveError),
    #[error(transparent)]
    Drill(#[from] DrillError),
    #[error("{0}")]
    Retention(#[from] RetentionError),
    #[error("{0}")]
    Location(#[from] logbackup_core::sync::location::LocationError),
}

pub enum Target {
    Dir(Repo),
    Remote(Remote),
}

/// A staging directory, removed when dropped (also on Ctrl-C).
struct Staging(PathBuf);

impl Staging {
    fn new(parent: &Path) -> Result<Self, RepoError> {
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let dir = parent.join(format!(
            "logbackup-etcd-staging-{}-{stamp}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).map_err(super::repo::io("create", &dir))?;
        Ok(Staging(dir))
    }
    fn repo(&self) -> Repo {
        Repo::open(&self.0)
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Target {
    /// `text` is a directory or `s3://BUCKET/PREFIX`.
    pub fn open(text: &str, s3: &S3Options) -> Result<Self, TargetError> {
        match Location::parse(text)? {
            Location::Dir(path) => Ok(Target::Dir(Repo::open(&path))),
            location => Ok(Target::Remote(Remote::open(&location, s3)?)),
        }
    }

    /// Where a snapshot's directory is, for messages.
    pub fn describe(&self, name: &str) -> String {
        match self {
            Target::Dir(repo) => repo.dir(name).display().to_string(),
            Target::Remote(r) => format!(
                "{}/{}/{name}",
                r.location(),
                logbackup_core::ids::ETCD_PREFIX
            ),
        }
    }

    pub async fn list(&self) -> Result<Vec<Listed>, TargetError> {
        Ok(match self {
            Target::Dir(repo) => repo.list()?,
            Target::Remote(r) => r.list().await?,
        })
    }

    pub async fn find(
        &self,
        name: Option<&str>,
    ) -> Result<(SnapshotRecord, Option<Verification>), TargetError> {
        let root = match self {
            Target::Dir(repo) => repo.root.display().to_string(),
            Target::Remote(r) => r.location(),
        };
        Ok(super::repo::pick(self.list().await?, name, &root)?)
    }

    pub async fn delete(&self, name: &str) -> Result<(), TargetError> {
        match self {
            Target::Dir(repo) => repo.delete(name)?,
            Target::Remote(r) => r.delete(name).await?,
        }
        Ok(())
    }

    /// The origin's retention: decides, then deletes unless `dry_run`.
    pub async fn prune(
        &self,
        policy: Policy,
        now: Timestamp,
        dry_run: bool,
    ) -> Result<Vec<Decision>, TargetError> {
        let entries: Vec<Entry> = self
            .list()
            .await?
            .into_iter()
            .filter_map(|l| {
                l.record.map(|r| Entry {
                    name: l.name,
                    origin: r.origin,
                    taken_at: r.taken_at,
                })
            })
            .collect();
        let decisions = retention::plan(&entries, policy, now)?;
        if !dry_run {
            for d in decisions.iter().filter(|d| d.delete) {
                self.delete(&d.name).await?;
            }
        }
        Ok(decisions)
    }

    /// `etcd save`; to an object store through a staging directory under `staging`.
    pub async fn save(
        &self,
        client: &EtcdClient,
        options: &SaveOptions,
        now: Timestamp,
        staging: &Path,
        progress: impl FnMut(u64),
    ) -> Result<SnapshotRecord, TargetError> {
        match self {
            Target::Dir(repo) => Ok(save(client, repo, options, now, progress).await?),
            Target::Remote(r) => {
                let staged = Staging::new(staging)?;
                let record = save(client, &staged.repo(), options, now, progress).await?;
                r.upload(&staged.repo(), &record.name).await?;
                Ok(record)
            }
        }
    }

    /// `etcd verify`; from an object store through a staging directory in the scratch directory.
    pub async fn verify(
        &self,
        record: &SnapshotRecord,
        options: &DrillOptions,
        now: impl Fn() -> Timestamp,
        say: impl FnMut(&str),
    ) -> Result<Verification, TargetError> {
        match self {
            Target::Dir(repo) => Ok(drill::verify(repo, record, options, now, say).await?),
            Target::Remote(r) => {
                let staged = Staging::new(&options.scratch_parent)?;
                r.download(&staged.repo(), &record.name).await?;
                let verdict = drill::verify(&staged.repo(), record, options, now, say).await?;
                r.put_verification(&verdict).await?;
                Ok(verdict)
            }
        }
    }
}
