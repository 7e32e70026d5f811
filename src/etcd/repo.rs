//! The control-plane backups' place in the repository: `<repo>/<ids::ETCD_PREFIX>/<name>/`.
//! Files are written under a `.partial` name and renamed when complete, and a snapshot's
//! directory is renamed into place only after its record is written: whatever a crash or a full
//! disk leaves behind is never listed as good.

use std::io::Write;
use std::path::{Path, PathBuf};

use logbackup_core::etcd::record::{
    SnapshotRecord, Verification, PARTIAL_SUFFIX, RECORD_FILE, VERIFICATION_FILE,
};
use logbackup_core::etcd::SnapshotName;
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    #[error("failed to {doing} {path}: {source}")]
    Io {
        doing: &'static str,
        path: String,
        source: std::io::Error,
    },
    #[error("the record {path} is not readable JSON: {why}")]
    Record { path: String, why: String },
    #[error("no etcd snapshot named {name} in {root}; `kubectl logbackup etcd list` shows those there are")]
    NotFound { name: String, root: String },
    #[error("no complete etcd snapshot in {0}: take one with `kubectl logbackup etcd save`")]
    Empty(String),
}

pub(crate) fn io(doing: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> RepoError {
    let path = path.display().to_string();
    move |source| RepoError::Io {
        doing,
        path,
        source,
    }
}

/// One snapshot directory as found.
#[derive(Debug, Clone, Serialize)]
pub struct Listed {
    pub name: String,
    /// `complete` (its record is there) or `incomplete` (a save that never finished).
    pub state: &'static str,
    pub record: Option<SnapshotRecord>,
    pub verification: Option<Verification>,
}

#[derive(Debug, Clone)]
pub struct Repo {
    pub root: PathBuf,
}

impl Repo {
    /// `repo_dir` is the repository volume's root (an Elasticsearch `fs` repository's location).
    pub fn open(repo_dir: &Path) -> Self {
        Repo {
            root: repo_dir.join(logbackup_core::ids::ETCD_PREFIX),
        }
    }

    pub fn dir(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// Every snapshot directory, oldest first; unfinished ones say so.
    pub fn list(&self) -> Result<Vec<Listed>, RepoError> {
        let entries = match std::fs::read_dir(&self.root) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io("list", &self.root)(e)),
        };
        let mut out = Vec::new();
        for entry in entries {
            let entry = entry.map_err(io("list", &self.root))?;
            let file_name = entry.file_name().to_string_lossy().into_owned();
            let base = file_name.strip_suffix(PARTIAL_SUFFIX).unwrap_or(&file_name);
            if SnapshotName::parse(base).is_err() || !entry.path().is_dir() {
                continue;
            }
            let record = if file_name.ends_with(PARTIAL_SUFFIX) {
                None
            } else {
                read_json::<SnapshotRecord>(&entry.path().join(RECORD_FILE))?
            };
            let verification = match &record {
                Some(_) => read_json::<Verification>(&entry.path().join(VERIFICATION_FILE))?,
                None => None,
            };
            out.push(Listed {
                name: file_name.clone(),
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

    /// A complete snapshot by name, or the newest when `name` is None.
    pub fn find(
        &self,
        name: Option<&str>,
    ) -> Result<(SnapshotRecord, Option<Verification>), RepoError> {
        pick(self.list()?, name, &self.root.display().to_string())
    }

    pub fn delete(&self, name: &str) -> Result<(), RepoError> {
        let dir = self.dir(name);
        if !dir.is_dir() {
            return Err(RepoError::NotFound {
                name: name.to_owned(),
                root: self.root.display().to_string(),
            });
        }
        std::fs::remove_dir_all(&dir).map_err(io("delete", &dir))
    }
}

/// A complete snapshot of `listed` by name, or the newest when `name` is None.
pub fn pick(
    listed: Vec<Listed>,
    name: Option<&str>,
    root: &str,
) -> Result<(SnapshotRecord, Option<Verification>), RepoError> {
    let found = match name {
        Some(n) => listed
            .into_iter()
            .find(|l| l.name == n && l.record.is_some()),
        None => listed.into_iter().rev().find(|l| l.record.is_some()),
    };
    match (found, name) {
        (
            Some(Listed {
                record: Some(r),
                verification,
                ..
            }),
            _,
        ) => Ok((r, verification)),
        (_, Some(n)) => Err(RepoError::NotFound {
            name: n.to_owned(),
            root: root.to_owned(),
        }),
        (_, None) => Err(RepoError::Empty(root.to_owned())),
    }
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Option<T>, RepoError> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| RepoError::Record {
                path: path.display().to_string(),
                why: e.to_string(),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io("read", path)(e)),
    }
}

/// Writes `bytes` to `path` through a `.partial` file, flushed to disk before the rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), RepoError> {
    let mut partial = path.as_os_str().to_owned();
    partial.push(PARTIAL_SUFFIX);
    let partial = PathBuf::from(partial);
    let mut file = std::fs::File::create(&partial).map_err(io("create", &partial))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(io("write", &partial))?;
    std::fs::rename(&partial, path).map_err(io("rename into place", path))
}

/// Flushes a directory's entries (a rename inside it) to disk.
pub fn sync_dir(dir: &Path) -> Result<(), RepoError> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io("flush", dir))
}

pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), RepoError> {
    let bytes = serde_json::to_vec_pretty(value).map_err(|e| RepoError::Record {
        path: path.display().to_string(),
        why: e.to_string(),
    })?;
    write_atomic(path, &bytes)
}
