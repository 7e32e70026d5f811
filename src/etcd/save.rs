//! `etcd save`: a consistent snapshot through etcd's Maintenance API, the certificates and static
//! pod manifests beside it, and the record, in that order; then the origin's retention.

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use logbackup_core::etcd::bbolt;
use logbackup_core::etcd::record::{
    Files, SnapshotRecord, COMPRESSED_FILE, MANIFESTS_DIR, PARTIAL_SUFFIX, PKI_DIR, RECORD_FILE,
    SNAPSHOT_FILE,
};
use logbackup_core::etcd::{Origin, SnapshotName};

use super::client::{EtcdClient, EtcdError};
use super::repo::{io, sync_dir, write_json, Repo, RepoError};

#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    #[error(transparent)]
    Etcd(#[from] EtcdError),
    #[error(transparent)]
    Repo(#[from] RepoError),
    #[error("{0}")]
    Name(#[from] logbackup_core::etcd::naming::NameError),
    #[error("the snapshot etcd sent is damaged: {0}")]
    Damaged(String),
    #[error("a snapshot named {0} is already there: one node's saves of one origin are at least a second apart")]
    Exists(String),
    #[error("etcd compacted revision {revision} before its keys could be counted: run the save again (the snapshot itself was not kept)")]
    Compacted { revision: u64 },
}

#[derive(Debug, Clone)]
pub struct SaveOptions {
    pub origin: Origin,
    pub node: String,
    pub pki_dir: Option<PathBuf>,
    pub manifests_dir: Option<PathBuf>,
    pub exclude_keys: bool,
    /// Keep the snapshot gzip-compressed.
    pub compress: bool,
}

/// SHA-256 of the whole file, and of all but its last 32 bytes (etcd's own checksum of the
/// database, which it appends).
pub struct Hashes {
    all: ring::digest::Context,
    body: ring::digest::Context,
    tail: Vec<u8>,
    pub size: u64,
}

impl Default for Hashes {
    fn default() -> Self {
        Hashes {
            all: ring::digest::Context::new(&ring::digest::SHA256),
            body: ring::digest::Context::new(&ring::digest::SHA256),
            tail: Vec::with_capacity(64),
            size: 0,
        }
    }
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Hashes {
    pub fn update(&mut self, chunk: &[u8]) {
        self.all.update(chunk);
        self.size += chunk.len() as u64;
        self.tail.extend_from_slice(chunk);
        if self.tail.len() > 32 {
            let cut = self.tail.len() - 32;
            self.body.update(&self.tail[..cut]);
            self.tail.drain(..cut);
        }
    }

    /// The file's SHA-256 (hex), and whether etcd's trailing checksum matches the database.
    pub fn finish(self) -> (String, bool) {
        let all = hex(self.all.finish().as_ref());
        let trailer_ok =
            self.tail.len() == 32 && self.body.finish().as_ref() == self.tail.as_slice();
        (all, trailer_ok)
    }

    /// Both, over a file read from disk.
    pub fn of_file(path: &Path) -> Result<(String, bool, u64), RepoError> {
        let mut file = std::fs::File::open(path).map_err(io("open", path))?;
        let mut hashes = Hashes::default();
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = file.read(&mut buf).map_err(io("read", path))?;
            if n == 0 {
                break;
            }
            hashes.update(&buf[..n]);
        }
        let size = hashes.size;
        let (sha, ok) = hashes.finish();
        Ok((sha, ok, size))
    }
}

/// The revision a snapshot file holds, read page by page.
pub fn file_revision(path: &Path) -> Result<u64, SaveError> {
    let mut file = std::fs::File::open(path).map_err(io("open", path))?;
    let mut source = |offset: u64, len: usize| -> Result<Vec<u8>, String> {
        file.seek(SeekFrom::Start(offset))
            .map_err(|e| e.to_string())?;
        let mut buf = Vec::with_capacity(len);
        (&mut file)
            .take(len as u64)
            .read_to_end(&mut buf)
            .map_err(|e| e.to_string())?;
        Ok(buf)
    };
    bbolt::snapshot_revision(&mut source).map_err(|e| SaveError::Damaged(e.to_string()))
}

/// Copies the regular files of `from` (recursively) into `to`; `*.key` left out when asked.
fn copy_tree(from: &Path, to: &Path, exclude_keys: bool) -> Result<Files, RepoError> {
    let mut files = Files {
        files: Vec::new(),
        keys_excluded: exclude_keys,
    };
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let dir = from.join(&rel);
        let mut entries: Vec<_> = std::fs::read_dir(&dir)
            .map_err(io("read the directory", &dir))?
            .collect::<Result<_, _>>()
            .map_err(io("read the directory", &dir))?;
        entries.sort_by_key(|e| e.file_name());
        std::fs::create_dir_all(to.join(&rel)).map_err(io("create", &to.join(&rel)))?;
        for entry in entries {
            let path = entry.path();
            let name = rel.join(entry.file_name());
            let kind = entry.file_type().map_err(io("inspect", &path))?;
            if kind.is_dir() {
                stack.push(name);
            } else if kind.is_file() {
                if exclude_keys && path.extension().is_some_and(|e| e == "key") {
                    continue;
                }
                let target = to.join(&name);
                let bytes = std::fs::read(&path).map_err(io("read", &path))?;
                let mut file = std::fs::File::create(&target).map_err(io("create", &target))?;
                // The keys keep the owner-only mode they have on the node.
                #[cfg(unix)]
                {
                    use std::os::unix::fs::PermissionsExt;
                    let mode = entry
                        .metadata()
                        .map_err(io("inspect", &path))?
                        .permissions()
                        .mode()
                        & 0o777;
                    file.set_permissions(std::fs::Permissions::from_mode(mode))
                        .map_err(io("set the mode of", &target))?;
                }
                file.write_all(&bytes)
                    .and_then(|()| file.sync_all())
                    .map_err(io("write", &target))?;
                files.files.push(name.display().to_string());
            }
        }
    }
    files.files.sort();
    Ok(files)
}

/// Creates `path` for writing, owner-only: a snapshot holds every Secret of the cluster.
pub fn create_private(path: &Path) -> Result<std::fs::File, RepoError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path).map_err(io("create", path))
}

/// gzip-compresses `raw` into `gz` (flushed to disk), removes `raw`, and returns `gz`'s size.
fn compress(raw: &Path, gz: &Path) -> Result<u64, RepoError> {
    let mut input = std::fs::File::open(raw).map_err(io("open", raw))?;
    let mut encoder =
        flate2::write::GzEncoder::new(create_private(gz)?, flate2::Compression::default());
    std::io::copy(&mut input, &mut encoder).map_err(io("compress into", gz))?;
    let file = encoder.finish().map_err(io("compress into", gz))?;
    file.sync_all().map_err(io("write", gz))?;
    let size = file.metadata().map_err(io("inspect", gz))?.len();
    std::fs::remove_file(raw).map_err(io("remove", raw))?;
    Ok(size)
}

/// Removes an unfinished snapshot directory unless the save completed.
struct Unfinished(Option<PathBuf>);

impl Drop for Unfinished {
    fn drop(&mut self) {
        if let Some(dir) = self.0.take() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Takes the snapshot into `repo`; `progress` hears the bytes written so far.
pub async fn save(
    client: &EtcdClient,
    repo: &Repo,
    options: &SaveOptions,
    now: Timestamp,
    mut progress: impl FnMut(u64),
) -> Result<SnapshotRecord, SaveError> {
    let name = SnapshotName::new(options.origin, &options.node, now)?;
    let status = client.status().await?;
    let members = client.members().await?;
    let final_dir = repo.dir(&name.to_string());
    let dir = repo.dir(&format!("{name}{PARTIAL_SUFFIX}"));
    if final_dir.exists() {
        return Err(SaveError::Exists(name.to_string()));
    }
    std::fs::create_dir_all(&dir).map_err(io("create", &dir))?;
    let mut guard = Unfinished(Some(dir.clone()));

    let snapshot_path = dir.join(SNAPSHOT_FILE);
    // Owner-only, as etcdctl writes it.
    let mut file = create_private(&snapshot_path)?;
    let mut hashes = Hashes::default();
    client
        .snapshot(|chunk| {
            file.write_all(chunk)
                .map_err(|e| format!("failed to write {}: {e}", snapshot_path.display()))?;
            hashes.update(chunk);
            progress(hashes.size);
            Ok(())
        })
        .await?;
    file.sync_all().map_err(io("write", &snapshot_path))?;
    drop(file);
    let size = hashes.size;
    let (sha256, trailer_ok) = hashes.finish();
    if !trailer_ok {
        return Err(SaveError::Damaged(format!(
            "its last 32 bytes are not the SHA-256 of the rest ({size} bytes received): the stream was cut"
        )));
    }
    let revision = file_revision(&snapshot_path)?;
    let stored_size = if options.compress {
        Some(compress(&snapshot_path, &dir.join(COMPRESSED_FILE))?)
    } else {
        None
    };

    let (keys, _) = client
        .count_by_prefix(revision)
        .await
        .map_err(|e| match e {
            EtcdError::Refused { ref message, .. } if message.contains("compacted") => {
                SaveError::Compacted { revision }
            }
            other => SaveError::Etcd(other),
        })?;

    let pki = match &options.pki_dir {
        Some(from) => Some(copy_tree(from, &dir.join(PKI_DIR), options.exclude_keys)?),
        None => None,
    };
    let manifests = match &options.manifests_dir {
        Some(from) => Some(copy_tree(from, &dir.join(MANIFESTS_DIR), false)?),
        None => None,
    };
    let record = SnapshotRecord {
        name: name.to_string(),
        origin: options.origin,
        node: options.node.clone(),
        taken_at: name.taken_at,
        endpoint: client.endpoint.clone(),
        etcd_version: status.version,
        cluster_id: format!("{:x}", status.header.cluster_id),
        member_id: format!("{:x}", status.header.member_id),
        revision,
        members,
        sha256,
        size,
        total_keys: keys.values().sum(),
        keys,
        pki,
        manifests,
        compressed: options.compress,
        stored_size,
    };
    write_json(&dir.join(RECORD_FILE), &record)?;
    sync_dir(&dir)?;
    std::fs::rename(&dir, &final_dir).map_err(io("rename into place", &final_dir))?;
    guard.0 = None;
    sync_dir(&repo.root)?;
    Ok(record)
}
