//! Snapshots in an object store (`s3://BUCKET/PREFIX`), through `repo sync`'s store: the same
//! layout as on the volume, `<prefix>/logbackup-etcd/<name>/...`. A snapshot is made and checked in
//! a local staging directory; the upload sends `record.json` last, so a snapshot whose upload
//! stopped half-way has no record and is never listed as good.

use std::path::Path;

use logbackup_core::etcd::record::{
    SnapshotRecord, Verification, COMPRESSED_FILE, RECORD_FILE, SNAPSHOT_FILE, VERIFICATION_FILE,
};
use logbackup_core::etcd::SnapshotName;
use logbackup_core::ids::ETCD_PREFIX;

use super::repo::{Listed, Repo, RepoError};
use crate::sync::plan::Object;
use crate::sync::store::{S3Options, Store};
use crate::sync::{Location, SyncError};

#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    #[error(transparent)]
    Store(#[from] SyncError),
    #[error(transparent)]
    Repo(#[from] RepoError),
    #[error("{path} in {location} is not readable JSON: {why}")]
    Record {
        location: String,
        path: String,
        why: String,
    },
}

pub struct Remote {
    store: Store,
}

fn key(name: &str, file: &str) -> String {
    format!("{ETCD_PREFIX}/{name}/{file}")
}

impl Remote {
    pub fn open(location: &Location, s3: &S3Options) -> Result<Self, RemoteError> {
        Ok(Remote {
            store: Store::open(location, s3)?,
        })
    }

    pub fn location(&self) -> String {
        self.store.location.to_string()
    }

    async fn json<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
    ) -> Result<Option<T>, RemoteError> {
        match self.store.read(path).await? {
            Some(bytes) => {
                serde_json::from_slice(&bytes)
                    .map(Some)
                    .map_err(|e| RemoteError::Record {
                        location: self.location(),
                        path: path.to_owned(),
                        why: e.to_string(),
                    })
            }
            None => Ok(None),
        }
    }

    /// Every snapshot found, oldest first; one without its record is `incomplete`.
    pub async fn list(&self) -> Result<Vec<Listed>, RemoteError> {
        let objects = self.store.list_under(&format!("{ETCD_PREFIX}/")).await?;
        let mut names: Vec<String> = objects
            .iter()
            .filter_map(|o| {
                o.path
                    .strip_prefix(&format!("{ETCD_PREFIX}/"))?
                    .split('/')
                    .next()
                    .map(str::to_owned)
            })
            .filter(|n| SnapshotName::parse(n).is_ok())
            .collect();
        names.sort();
        names.dedup();
        let mut out = Vec::with_capacity(names.len());
        for name in names {
            let record: Option<SnapshotRecord> = self.json(&key(&name, RECORD_FILE)).await?;
            let verification = match record {
                Some(_) => {
                    self.json::<Verification>(&key(&name, VERIFICATION_FILE))
                        .await?
                }
                None => None,
            };
            out.push(Listed {
                name,
                state: if record.is_some() {
                    "complete"
                } else {
                    "incomplete"
                },
                record,
                verification,
            });
        }
        out.sort_by(|a, b| {
            let t = |l: &Listed| l.record.as_ref().map(|r| r.taken_at);
            t(a).cmp(&t(b)).then(a.name.cmp(&b.name))
        });
        Ok(out)
    }

    /// Sends a snapshot saved in `staging`: every file, then its record.
    pub async fn upload(&self, staging: &Repo, name: &str) -> Result<(), RemoteError> {
        let root = staging
            .root
            .parent()
            .unwrap_or(Path::new("/"))
            .to_path_buf();
        let local = Store::open(&Location::Dir(root.clone()), &S3Options::default())?;
        let mut files: Vec<Object> = local
            .list_under(&format!("{ETCD_PREFIX}/{name}/"))
            .await?
            .into_iter()
            .filter(|o| !o.path.ends_with(VERIFICATION_FILE))
            .collect();
        // The record last: until it is there, the snapshot is incomplete.
        files.sort_by_key(|o| o.path.ends_with(RECORD_FILE));
        for object in &files {
            self.store.copy_from(&local, object).await?;
        }
        Ok(())
    }

    /// Brings a snapshot's file and record into `staging` for the drill.
    pub async fn download(&self, staging: &Repo, name: &str) -> Result<(), RemoteError> {
        let root = staging
            .root
            .parent()
            .unwrap_or(Path::new("/"))
            .to_path_buf();
        std::fs::create_dir_all(staging.dir(name))
            .map_err(super::repo::io("create", &staging.dir(name)))?;
        let mut local = Store::open(&Location::Dir(root), &S3Options::default())?;
        local.prepare_for_writes()?;
        for object in self
            .store
            .list_under(&format!("{ETCD_PREFIX}/{name}/"))
            .await?
        {
            if object.path.ends_with(SNAPSHOT_FILE)
                || object.path.ends_with(COMPRESSED_FILE)
                || object.path.ends_with(RECORD_FILE)
            {
                local.copy_from(&self.store, &object).await?;
            }
        }
        Ok(())
    }

    pub async fn put_verification(&self, verdict: &Verification) -> Result<(), RemoteError> {
        let bytes = serde_json::to_vec_pretty(verdict).map_err(|e| RemoteError::Record {
            location: self.location(),
            path: key(&verdict.snapshot, VERIFICATION_FILE),
            why: e.to_string(),
        })?;
        self.store
            .write(&key(&verdict.snapshot, VERIFICATION_FILE), bytes)
            .await?;
        Ok(())
    }

    /// Removes a snapshot: its record first, so a delete that stops half-way leaves it incomplete.
    pub async fn delete(&self, name: &str) -> Result<(), RemoteError> {
        self.store.delete(&key(name, RECORD_FILE)).await?;
        for object in self
            .store
            .list_under(&format!("{ETCD_PREFIX}/{name}/"))
            .await?
        {
            self.store.delete(&object.path).await?;
        }
        Ok(())
    }
}
