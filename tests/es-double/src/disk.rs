//! The real `fs` repository layout on disk, for repositories whose `location` is a directory on this
//! machine (turned on with `Behaviour::disk_layout`).
//!
//! Elasticsearch's blob-store repository (the `BlobStoreRepository` documentation, and "Back up a
//! cluster > Snapshot repository contents" in the reference) keeps, under the location:
//!
//! ```text
//! index-N            the repository data: every snapshot and the indices each one holds (generation N)
//! index.latest       N, as an 8-byte big-endian number
//! snap-UUID.dat      one snapshot's SnapshotInfo
//! meta-UUID.dat      one snapshot's global metadata
//! indices/ID/meta-UUID.dat          the index metadata, per snapshot
//! indices/ID/0/snap-UUID.dat        shard 0's file list, per snapshot
//! indices/ID/0/__BLOB               the segment files, shared by the snapshots of the same index
//! ```
//!
//! The double writes JSON where Elasticsearch writes SMILE inside its `.dat` files: the names, the
//! tree, the order of writes and the immutability of blobs are what a copy of a repository depends
//! on, and those are faithful. A new generation is written the way Elasticsearch writes it: new blobs
//! first, then `index-N`, then `index.latest`; blobs no longer referenced are removed afterwards.
//!
//! Registering a repository whose location already holds an `index.latest` reads its snapshots back
//! from disk (`index.latest` -> `index-N` -> `snap-UUID.dat`), as a second cluster does when it
//! registers a copy read-only.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::state::{SnapState, Snapshot, State};

/// Brings every disk-backed `fs` repository in line with the state: loads repositories seen for the
/// first time, writes a new generation for writable ones whose snapshots changed. Problems are
/// recorded in `State::log` as `disk: ...` lines, since the double has no one else to tell.
pub fn reconcile(state: &mut State) {
    if !state.behaviour.disk_layout {
        return;
    }
    // Elasticsearch creates a writable repository's directory when it registers it, inside a
    // path.repo root that exists on this machine.
    let roots: Vec<PathBuf> = state
        .nodes
        .iter()
        .flat_map(|n| n.path_repo.iter().map(PathBuf::from))
        .filter(|p| p.is_dir())
        .collect();
    let repos: Vec<(String, PathBuf, bool)> = state
        .repositories
        .iter()
        .filter(|(_, r)| r.kind == "fs")
        .filter_map(|(name, r)| {
            let location = r.settings.get("location")?.as_str()?;
            let path = PathBuf::from(location);
            let ours = path.is_absolute() && roots.iter().any(|root| path.starts_with(root));
            if ours && !path.exists() && !readonly(r) {
                let _ = std::fs::create_dir_all(&path);
            }
            (ours && path.is_dir()).then(|| (name.clone(), path, readonly(r)))
        })
        .collect();
    for (name, path, readonly) in repos {
        let key = state.repo_key(&name).unwrap_or_default();
        if let std::collections::btree_map::Entry::Vacant(slot) = state.snapshots.entry(key.clone())
        {
            match load(&path, &name) {
                Ok(Some(list)) => {
                    slot.insert(list);
                    continue;
                }
                Ok(None) => {}
                Err(e) => state
                    .log
                    .push(format!("disk: reading {}: {e}", path.display())),
            }
        }
        if readonly {
            continue;
        }
        let finished: Vec<Snapshot> = state
            .snapshots
            .get(&key)
            .map(|l| {
                l.iter()
                    .filter(|s| s.state != SnapState::InProgress)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        if let Err(e) = write(&path, &finished) {
            state
                .log
                .push(format!("disk: writing {}: {e}", path.display()));
        }
    }
}

fn readonly(r: &crate::state::Repository) -> bool {
    match r.settings.get("readonly") {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s == "true",
        _ => false,
    }
}

/// The generation `index.latest` names, if there is one.
pub fn latest_generation(root: &Path) -> std::io::Result<Option<u64>> {
    match std::fs::read(root.join("index.latest")) {
        Ok(bytes) => {
            let raw: [u8; 8] = bytes.as_slice().try_into().map_err(|_| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    "index.latest is not 8 bytes",
                )
            })?;
            Ok(Some(u64::from_be_bytes(raw)))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

fn invalid(msg: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, msg)
}

fn read_json(path: &Path) -> std::io::Result<Value> {
    let bytes = std::fs::read(path)?;
    serde_json::from_slice(&bytes).map_err(|e| invalid(format!("{}: {e}", path.display())))
}

/// The snapshots of the repository at `root`, in the order of its repository data.
pub fn load(root: &Path, repository: &str) -> std::io::Result<Option<Vec<Snapshot>>> {
    let Some(generation) = latest_generation(root)? else {
        return Ok(None);
    };
    let data = read_json(&root.join(format!("index-{generation}")))?;
    let mut list = Vec::new();
    for entry in data["snapshots"].as_array().into_iter().flatten() {
        let uuid = entry["uuid"].as_str().unwrap_or_default();
        let info = read_json(&root.join(format!("snap-{uuid}.dat")))?;
        let state = match info["state"].as_str().unwrap_or_default() {
            "SUCCESS" => SnapState::Success,
            "PARTIAL" => SnapState::Partial,
            _ => SnapState::Failed,
        };
        let indices: Vec<String> = info["indices"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|i| i.as_str().map(str::to_string))
            .collect();
        let sizes = info["double_sizes"]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.as_u64().unwrap_or(0)))
                    .collect()
            })
            .unwrap_or_default();
        list.push(Snapshot {
            name: info["snapshot"].as_str().unwrap_or_default().to_string(),
            uuid: uuid.to_string(),
            repository: repository.to_string(),
            indices,
            sizes,
            shards_per_index: 1,
            state,
            outcome: state,
            failed_index: info["double_failed_index"].as_str().map(str::to_string),
            start_ms: info["start_time_in_millis"].as_i64().unwrap_or(0),
            end_ms: info["end_time_in_millis"].as_i64().unwrap_or(0),
            polls_left: 0,
            include_global_state: info["include_global_state"].as_bool().unwrap_or(false),
            metadata: info.get("metadata").filter(|m| m.is_object()).cloned(),
        });
    }
    Ok(Some(list))
}

/// The repository's id for an index: stable across snapshots, so segment blobs are shared.
fn index_id(name: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// A segment blob's size: a thousandth of the index, kept between 1 byte and 1 MiB.
fn blob_size(bytes: u64) -> usize {
    (bytes / 1000).clamp(1, 1 << 20) as usize
}

fn repository_data(snapshots: &[Snapshot]) -> Value {
    let mut indices: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for s in snapshots {
        for i in &s.indices {
            indices.entry(i).or_default().push(&s.uuid);
        }
    }
    let state_code = |s: &Snapshot| match s.state {
        SnapState::Success => 1,
        SnapState::Partial => 3,
        _ => 2,
    };
    json!({
        "min_version": "7.9.0",
        "snapshots": snapshots.iter().map(|s| json!({
            "name": s.name,
            "uuid": s.uuid,
            "state": state_code(s),
            "start_time_millis": s.start_ms,
            "end_time_millis": s.end_ms,
        })).collect::<Vec<_>>(),
        "indices": indices.iter().map(|(name, uuids)| ((*name).to_string(), json!({
            "id": index_id(name),
            "snapshots": uuids,
        }))).collect::<serde_json::Map<String, Value>>(),
    })
}

/// Every file the generation needs besides `index-N` and `index.latest`, with its content.
fn blobs(snapshots: &[Snapshot]) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    for s in snapshots {
        let info = json!({
            "snapshot": s.name,
            "uuid": s.uuid,
            "indices": s.indices,
            "state": s.state.as_str(),
            "start_time_in_millis": s.start_ms,
            "end_time_in_millis": s.end_ms,
            "include_global_state": s.include_global_state,
            "total_shards": s.shards_total(),
            "successful_shards": s.shards_total() - s.shards_failed(),
            "double_sizes": s.sizes,
            "double_failed_index": s.failed_index,
            "metadata": s.metadata,
        });
        out.insert(
            PathBuf::from(format!("snap-{}.dat", s.uuid)),
            info.to_string().into_bytes(),
        );
        out.insert(
            PathBuf::from(format!("meta-{}.dat", s.uuid)),
            json!({"meta-data": {"cluster_uuid": "double-cluster-uuid-000"}})
                .to_string()
                .into_bytes(),
        );
        for index in &s.indices {
            let dir = PathBuf::from("indices").join(index_id(index));
            let size = s.sizes.get(index).copied().unwrap_or(0);
            let segment = format!("__{}", index_id(&format!("{index}/{size}")));
            out.insert(
                dir.join(format!("meta-{}.dat", s.uuid)),
                json!({"index": index}).to_string().into_bytes(),
            );
            out.insert(
                dir.join("0").join(format!("snap-{}.dat", s.uuid)),
                json!({"name": s.name, "files": [{"name": segment, "length": blob_size(size)}]})
                    .to_string()
                    .into_bytes(),
            );
            let byte = index.bytes().fold(0u8, u8::wrapping_add);
            out.insert(dir.join("0").join(&segment), vec![byte; blob_size(size)]);
        }
    }
    out
}

/// Writes a new generation if the snapshots differ from the one on disk; then removes what the new
/// generation no longer references, and root files older than the previous generation.
pub fn write(root: &Path, snapshots: &[Snapshot]) -> std::io::Result<()> {
    let current = latest_generation(root)?;
    let data = repository_data(snapshots);
    if let Some(n) = current {
        if let Ok(old) = read_json(&root.join(format!("index-{n}"))) {
            if old == data {
                return Ok(());
            }
        }
    } else if snapshots.is_empty() {
        return Ok(());
    }
    let wanted = blobs(snapshots);
    for (rel, content) in &wanted {
        let path = root.join(rel);
        if path.exists() {
            continue; // blobs are immutable
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, content)?;
    }
    let next = current.map_or(0, |n| n + 1);
    std::fs::write(root.join(format!("index-{next}")), data.to_string())?;
    let tmp = root.join("pending-index.latest");
    std::fs::write(&tmp, next.to_be_bytes())?;
    std::fs::rename(&tmp, root.join("index.latest"))?;
    remove_unreferenced(root, &wanted, next)
}

fn remove_unreferenced(
    root: &Path,
    wanted: &BTreeMap<PathBuf, Vec<u8>>,
    generation: u64,
) -> std::io::Result<()> {
    let keep_roots: BTreeSet<String> = [
        "index.latest".to_string(),
        format!("index-{generation}"),
        format!("index-{}", generation.saturating_sub(1)),
    ]
    .into();
    for entry in std::fs::read_dir(root)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().to_string();
        let root_file =
            name.starts_with("index-") || name.starts_with("snap-") || name.starts_with("meta-");
        if root_file && !keep_roots.contains(&name) && !wanted.contains_key(Path::new(&name)) {
            std::fs::remove_file(entry.path())?;
        }
    }
    let indices = root.join("indices");
    if indices.is_dir() {
        for file in walk(&indices)? {
            let rel = file.strip_prefix(root).unwrap_or(&file).to_path_buf();
            if !wanted.contains_key(&rel) {
                std::fs::remove_file(&file)?;
            }
        }
        remove_empty_dirs(&indices)?;
    }
    Ok(())
}

fn walk(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            out.extend(walk(&path)?);
        } else {
            out.push(path);
        }
    }
    Ok(out)
}

fn remove_empty_dirs(dir: &Path) -> std::io::Result<bool> {
    let mut empty = true;
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            if !remove_empty_dirs(&path)? {
                empty = false;
            } else {
                std::fs::remove_dir(&path)?;
            }
        } else {
            empty = false;
        }
    }
    Ok(empty)
}

/// What registration verifies on a real cluster: the master writes a test blob under the location
/// (`tests-<uuid>/master.dat`) and removes it. A directory the server's user cannot write (the
/// repository volume before the chown init container ran) fails here, as it does in Elasticsearch.
pub fn writable(location: &Path) -> bool {
    let probe = location.join(format!("tests-{}", std::process::id()));
    let ok = std::fs::create_dir_all(&probe).is_ok()
        && std::fs::write(probe.join("master.dat"), b"{}").is_ok();
    let _ = std::fs::remove_dir_all(&probe);
    ok
}
