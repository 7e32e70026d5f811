//! What a repository copy sends, skips and removes, and in which order. Pure: listings in, plan out.
//!
//! A snapshot repository is immutable blobs plus a mutable root: `index-N` (the repository data of
//! generation N) and `index.latest` (which generation is current). Elasticsearch itself writes new
//! blobs, then `index-N`, then `index.latest`, and deletes blobs only once a generation that no longer
//! references them is current. A copy that follows the same order is a valid repository at every
//! moment, so another cluster can register it read-only while a sync runs.

use std::collections::BTreeMap;

/// One file of a listing, by its path relative to the repository root (`/`-separated).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    pub path: String,
    pub size: u64,
    /// A content checksum (MD5, hex) where the store gives one; `None` where it does not.
    pub checksum: Option<String>,
}

impl Object {
    pub fn new(path: &str, size: u64) -> Self {
        Self {
            path: path.to_string(),
            size,
            checksum: None,
        }
    }
}

/// Where a path sits in the repository layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// `index.latest`: the pointer to the current generation, written last.
    Latest,
    /// `index-N`: the repository data of generation N.
    RootIndex(u64),
    /// Anything immutable: `snap-*.dat`, `meta-*.dat`, `indices/...`, `incompatible-snapshots`.
    Blob,
    /// A file Elasticsearch writes and renames, or leaves from verification: never copied.
    Transient,
    /// Not part of a repository.
    Foreign,
}

/// The file `repo sync` leaves at the destination root after a successful run (see `SyncRecord`).
pub const RECORD: &str = "logbackup-sync.json";

pub fn role(path: &str) -> Role {
    let (top, rest) = match path.split_once('/') {
        Some((top, rest)) => (top, Some(rest)),
        None => (path, None),
    };
    match (top, rest) {
        ("indices", Some(_)) => Role::Blob,
        (t, Some(_)) if t.starts_with("tests-") => Role::Transient,
        ("index.latest", None) => Role::Latest,
        (RECORD, None) => Role::Transient,
        (t, None) if t.starts_with("pending-") => Role::Transient,
        (t, None) if t.starts_with("index-") => t["index-".len()..]
            .parse()
            .map_or(Role::Foreign, Role::RootIndex),
        (t, None)
            if (t.starts_with("snap-") || t.starts_with("meta-")) && t.ends_with(".dat")
                || t == "incompatible-snapshots" =>
        {
            Role::Blob
        }
        _ => Role::Foreign,
    }
}

/// `index.latest` holds the current generation as an 8-byte big-endian number.
pub fn parse_latest(bytes: &[u8]) -> Result<u64, PlanError> {
    let raw: [u8; 8] = bytes
        .try_into()
        .map_err(|_| PlanError::BadLatest { len: bytes.len() })?;
    Ok(u64::from_be_bytes(raw))
}

pub fn encode_latest(generation: u64) -> [u8; 8] {
    generation.to_be_bytes()
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PlanError {
    #[error("the source holds no index.latest, so it is not a snapshot repository (or Elasticsearch has not finished writing one); point at the repository's location, the directory holding index.latest")]
    SourceNotRepository,
    #[error("the source's index.latest names generation {generation}, but index-{generation} is not there; the repository is damaged or being rewritten, try again")]
    SourceIncomplete { generation: u64 },
    #[error("index.latest must be 8 bytes, found {len}")]
    BadLatest { len: usize },
    #[error("the destination holds files that are not part of a snapshot repository ({}); choose an empty location or an earlier copy", .examples.join(", "))]
    DestinationNotRepository { examples: Vec<String> },
}

/// The steps, in the order they must run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// The generation the copy will hold once `index.latest` is written.
    pub generation: u64,
    /// 1. Immutable blobs missing or different at the destination.
    pub blobs: Vec<Object>,
    /// 2. Root `index-K` files (K up to `generation`), oldest first, the current one last.
    pub roots: Vec<Object>,
    /// 3. Whether `index.latest` changes.
    pub write_latest: bool,
    /// 4. Files only at the destination, removed once the new `index.latest` is in place.
    pub deletes: Vec<Object>,
    /// Already at the destination with the same size (and checksum, where both stores give one).
    pub skipped: Vec<Object>,
}

impl Plan {
    pub fn sends(&self) -> impl Iterator<Item = &Object> {
        self.blobs.iter().chain(&self.roots)
    }
    pub fn files_to_send(&self) -> usize {
        self.blobs.len() + self.roots.len() + usize::from(self.write_latest)
    }
    pub fn bytes_to_send(&self) -> u64 {
        self.sends().map(|o| o.size).sum::<u64>() + if self.write_latest { 8 } else { 0 }
    }
    pub fn bytes_skipped(&self) -> u64 {
        self.skipped.iter().map(|o| o.size).sum()
    }
    pub fn is_noop(&self) -> bool {
        self.files_to_send() == 0 && self.deletes.is_empty()
    }
}

fn same(a: &Object, b: &Object) -> bool {
    a.size == b.size
        && match (&a.checksum, &b.checksum) {
            (Some(x), Some(y)) => x == y,
            _ => true,
        }
}

/// Plans a copy of `src` (whose `index.latest` says `src_generation`) onto `dst` (whose `index.latest`
/// says `dst_generation`, if it has one).
pub fn plan(
    src: &[Object],
    src_generation: Option<u64>,
    dst: &[Object],
    dst_generation: Option<u64>,
) -> Result<Plan, PlanError> {
    let generation = src_generation.ok_or(PlanError::SourceNotRepository)?;
    let foreign: Vec<String> = dst
        .iter()
        .filter(|o| role(&o.path) == Role::Foreign)
        .map(|o| o.path.clone())
        .take(5)
        .collect();
    if !foreign.is_empty() {
        return Err(PlanError::DestinationNotRepository { examples: foreign });
    }
    let at_dst: BTreeMap<&str, &Object> = dst.iter().map(|o| (o.path.as_str(), o)).collect();
    let mut out = Plan {
        generation,
        write_latest: dst_generation != Some(generation),
        ..Plan::default()
    };
    let mut wanted: Vec<&str> = Vec::new();
    let mut current_root = false;
    for o in src {
        let role = role(&o.path);
        let to = match role {
            Role::Blob => &mut out.blobs,
            // A generation newer than the one read is still being written: the next run takes it.
            Role::RootIndex(k) if k <= generation => {
                current_root |= k == generation;
                &mut out.roots
            }
            Role::Latest => {
                if !out.write_latest {
                    out.skipped.push(o.clone());
                }
                continue;
            }
            _ => continue,
        };
        wanted.push(&o.path);
        match at_dst.get(o.path.as_str()) {
            Some(d) if same(o, d) => out.skipped.push(o.clone()),
            _ => to.push(o.clone()),
        }
    }
    if !current_root {
        return Err(PlanError::SourceIncomplete { generation });
    }
    out.blobs.sort_by(|a, b| a.path.cmp(&b.path));
    out.roots.sort_by_key(|o| match role(&o.path) {
        Role::RootIndex(k) => k,
        _ => 0,
    });
    wanted.sort_unstable();
    let mut deletes: Vec<Object> = dst
        .iter()
        .filter(|o| {
            matches!(
                role(&o.path),
                Role::Blob | Role::RootIndex(_) | Role::Transient
            )
        })
        .filter(|o| o.path != RECORD && wanted.binary_search(&o.path.as_str()).is_err())
        .cloned()
        .collect();
    // Blobs before old root files: a reader that somehow holds an old index-N fails on a missing
    // blob either way, but the current generation never loses anything.
    deletes.sort_by_key(|o| (matches!(role(&o.path), Role::RootIndex(_)), o.path.clone()));
    out.deletes = deletes;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn o(path: &str, size: u64) -> Object {
        Object::new(path, size)
    }

    fn repo(generation: u64) -> Vec<Object> {
        vec![
            o("index.latest", 8),
            o(&format!("index-{generation}"), 100),
            o("snap-a.dat", 10),
            o("meta-a.dat", 10),
            o("indices/x/0/__seg", 1000),
            o("indices/x/0/snap-a.dat", 20),
        ]
    }

    #[test]
    fn roles_follow_the_layout() {
        assert_eq!(role("index.latest"), Role::Latest);
        assert_eq!(role("index-12"), Role::RootIndex(12));
        assert_eq!(role("index-x"), Role::Foreign);
        assert_eq!(role("snap-UUID.dat"), Role::Blob);
        assert_eq!(role("meta-UUID.dat"), Role::Blob);
        assert_eq!(role("indices/abc/0/__1"), Role::Blob);
        assert_eq!(role("incompatible-snapshots"), Role::Blob);
        assert_eq!(role("tests-abc/data-node"), Role::Transient);
        assert_eq!(role("pending-index-3"), Role::Transient);
        assert_eq!(role("indices"), Role::Foreign);
        assert_eq!(role("notes.txt"), Role::Foreign);
        assert_eq!(role("snap-a.json"), Role::Foreign);
    }

    #[test]
    fn latest_is_eight_big_endian_bytes() {
        assert_eq!(parse_latest(&[0, 0, 0, 0, 0, 0, 1, 2]), Ok(258));
        assert_eq!(parse_latest(&encode_latest(7)), Ok(7));
        assert_eq!(parse_latest(b"7"), Err(PlanError::BadLatest { len: 1 }));
    }

    #[test]
    fn first_copy_sends_blobs_then_root_then_latest() {
        let p = plan(&repo(3), Some(3), &[], None).unwrap();
        let blobs: Vec<&str> = p.blobs.iter().map(|o| o.path.as_str()).collect();
        assert_eq!(
            blobs,
            [
                "indices/x/0/__seg",
                "indices/x/0/snap-a.dat",
                "meta-a.dat",
                "snap-a.dat"
            ]
        );
        assert_eq!(p.roots, vec![o("index-3", 100)]);
        assert!(p.write_latest);
        assert!(p.deletes.is_empty());
        assert_eq!(p.files_to_send(), 6);
        assert_eq!(p.bytes_to_send(), 1000 + 20 + 10 + 10 + 100 + 8);
    }

    #[test]
    fn unchanged_copy_is_a_noop() {
        let p = plan(&repo(3), Some(3), &repo(3), Some(3)).unwrap();
        assert!(p.is_noop());
        assert_eq!(p.skipped.len(), 6);
        assert_eq!(p.bytes_skipped(), 1148);
    }

    #[test]
    fn a_different_size_or_checksum_is_sent_again() {
        let mut dst = repo(3);
        dst[2].size = 11;
        let mut src = repo(3);
        src[3].checksum = Some("aa".into());
        dst[3].checksum = Some("bb".into());
        src[4].checksum = Some("cc".into());
        let p = plan(&src, Some(3), &dst, Some(3)).unwrap();
        let sent: Vec<&str> = p.sends().map(|o| o.path.as_str()).collect();
        assert_eq!(sent, ["meta-a.dat", "snap-a.dat"]);
        assert!(!p.write_latest);
    }

    #[test]
    fn deletes_come_after_and_never_touch_what_the_source_has() {
        let mut src = repo(4);
        src.retain(|o| !o.path.contains("-a.dat"));
        src.push(o("snap-b.dat", 10));
        src.push(o("index-3", 100));
        let dst = repo(3);
        let p = plan(&src, Some(4), &dst, Some(3)).unwrap();
        let deleted: Vec<&str> = p.deletes.iter().map(|o| o.path.as_str()).collect();
        assert_eq!(
            deleted,
            ["indices/x/0/snap-a.dat", "meta-a.dat", "snap-a.dat"]
        );
        let roots: Vec<&str> = p.roots.iter().map(|o| o.path.as_str()).collect();
        assert_eq!(roots, ["index-4"], "index-3 is the same size at both ends");
        assert!(p.write_latest);
    }

    #[test]
    fn a_generation_being_written_waits_for_the_next_run() {
        let mut src = repo(3);
        src.push(o("index-4", 120));
        src.push(o("pending-index-5", 120));
        let p = plan(&src, Some(3), &[], None).unwrap();
        let roots: Vec<&str> = p.roots.iter().map(|o| o.path.as_str()).collect();
        assert_eq!(roots, ["index-3"]);
        assert_eq!(p.generation, 3);
    }

    #[test]
    fn leftovers_of_a_killed_run_are_reused_or_removed() {
        // A run killed after its blobs and index-4, before index.latest: the copy still says 3.
        let mut dst = repo(3);
        dst.push(o("snap-b.dat", 10));
        dst.push(o("index-4", 120));
        let mut src = repo(3);
        src.push(o("snap-b.dat", 10));
        src.push(o("index-4", 120));
        let p = plan(&src, Some(4), &dst, Some(3)).unwrap();
        assert!(p.sends().next().is_none());
        assert!(p.write_latest);
        // The source was rolled back to 3: the orphaned index-4 and its blob go, after index.latest.
        let p = plan(&repo(3), Some(3), &dst, Some(3)).unwrap();
        let deleted: Vec<&str> = p.deletes.iter().map(|o| o.path.as_str()).collect();
        assert_eq!(deleted, ["snap-b.dat", "index-4"]);
    }

    #[test]
    fn refusals() {
        assert_eq!(
            plan(&repo(3), None, &[], None),
            Err(PlanError::SourceNotRepository)
        );
        assert_eq!(
            plan(&repo(3)[2..], Some(3), &[], None),
            Err(PlanError::SourceIncomplete { generation: 3 })
        );
        let dst = vec![o("photos/cat.jpg", 5), o("index.latest", 8)];
        let err = plan(&repo(3), Some(3), &dst, None).unwrap_err();
        assert_eq!(
            err,
            PlanError::DestinationNotRepository {
                examples: vec!["photos/cat.jpg".into()]
            }
        );
        assert!(err.to_string().contains("photos/cat.jpg"));
    }

    #[test]
    fn transient_files_are_not_copied_but_are_cleaned_at_the_destination() {
        let mut src = repo(3);
        src.push(o("tests-xyz/master.dat", 3));
        let mut dst = repo(3);
        dst.push(o("pending-index-9", 3));
        dst.push(o(RECORD, 50));
        let p = plan(&src, Some(3), &dst, Some(3)).unwrap();
        assert!(p.sends().next().is_none());
        let deleted: Vec<&str> = p.deletes.iter().map(|o| o.path.as_str()).collect();
        assert_eq!(deleted, ["pending-index-9"]);
    }
}
