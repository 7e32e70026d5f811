//! The small JSON record written beside each snapshot, and the restore drill's verdict.
//!
//! Layout under the repository (`<repo>/<ids::ETCD_PREFIX>/<name>/`): the snapshot file, the
//! certificates under `pki/`, the static pod manifests under `manifests/`, then `record.json`
//! LAST. A snapshot without its record is unfinished (a crash, a full disk) and never listed as
//! good.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::keys::{Comparison, KeyCounts};
use super::Origin;

pub const SNAPSHOT_FILE: &str = "snapshot.db";
/// The snapshot gzip-compressed (`save --compress`), in place of `SNAPSHOT_FILE`.
pub const COMPRESSED_FILE: &str = "snapshot.db.gz";
pub const RECORD_FILE: &str = "record.json";
pub const VERIFICATION_FILE: &str = "verification.json";
pub const PKI_DIR: &str = "pki";
pub const MANIFESTS_DIR: &str = "manifests";
/// The suffix a file carries while it is being written; renamed away once complete.
pub const PARTIAL_SUFFIX: &str = ".partial";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub peer_urls: Vec<String>,
    #[serde(default)]
    pub client_urls: Vec<String>,
}

/// What was copied beside the snapshot from the node's files.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Files {
    /// Paths relative to the source directory, in the order written.
    pub files: Vec<String>,
    /// Private keys were left out (`--exclude-keys`).
    #[serde(default)]
    pub keys_excluded: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotRecord {
    pub name: String,
    pub origin: Origin,
    pub node: String,
    pub taken_at: Timestamp,
    /// The endpoint the snapshot was streamed from.
    pub endpoint: String,
    pub etcd_version: String,
    pub cluster_id: String,
    pub member_id: String,
    /// The revision the snapshot holds (read from the file, not asked of the server).
    pub revision: u64,
    pub members: Vec<Member>,
    /// SHA-256 of the snapshot file as written, hex.
    pub sha256: String,
    pub size: u64,
    /// Keys by resource prefix at `revision`, read from the live etcd right after the snapshot.
    pub keys: KeyCounts,
    pub total_keys: u64,
    pub pki: Option<Files>,
    pub manifests: Option<Files>,
    /// Kept gzip-compressed as `COMPRESSED_FILE`; `sha256` and `size` are the snapshot's own.
    #[serde(default)]
    pub compressed: bool,
    /// The compressed file's size, when compressed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stored_size: Option<u64>,
}

impl SnapshotRecord {
    /// The file the repository holds for this snapshot.
    pub fn stored_file(&self) -> &'static str {
        if self.compressed {
            COMPRESSED_FILE
        } else {
            SNAPSHOT_FILE
        }
    }
}

/// The restore drill's verdict, written as `verification.json` beside the record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verification {
    pub snapshot: String,
    pub verified_at: Timestamp,
    pub passed: bool,
    /// The file's SHA-256 matched the record and etcd's own trailing checksum.
    pub hash_ok: bool,
    /// The revision and key counts of the restored copy, against the record.
    pub comparison: Option<Comparison>,
    /// The etcd that ran the drill (`etcd --version`).
    pub etcd_version: Option<String>,
    /// Why it failed, when it did.
    pub failure: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_reads_back_from_its_json() {
        let record = SnapshotRecord {
            name: "etcd-manual-n-20261206T083005Z".into(),
            origin: Origin::Manual,
            node: "n".into(),
            taken_at: "2026-12-06T08:30:05Z".parse().unwrap(),
            endpoint: "https://127.0.0.1:2379".into(),
            etcd_version: "3.4.23".into(),
            cluster_id: "1".into(),
            member_id: "2".into(),
            revision: 42,
            members: vec![Member {
                id: "2".into(),
                name: "n".into(),
                peer_urls: vec![],
                client_urls: vec![],
            }],
            sha256: "ab".into(),
            size: 20480,
            keys: [("/registry/pods/".to_string(), 3)].into_iter().collect(),
            total_keys: 3,
            pki: Some(Files {
                files: vec!["ca.crt".into()],
                keys_excluded: true,
            }),
            manifests: None,
            compressed: false,
            stored_size: None,
        };
        let text = serde_json::to_string(&record).unwrap();
        assert!(text.contains(r#""origin":"manual""#), "{text}");
        assert!(
            text.contains(r#""taken_at":"2026-12-06T08:30:05Z""#),
            "{text}"
        );
        assert_eq!(
            serde_json::from_str::<SnapshotRecord>(&text).unwrap(),
            record
        );
    }
}
