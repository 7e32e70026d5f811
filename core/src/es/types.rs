//! Request and response bodies of the calls we make, lenient where versions differ (every field the
//! older servers lack is optional or defaulted).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::snapshot::path_repo::NodePaths;
use crate::snapshot::restore::NodeDisk;
use crate::snapshot::{SnapshotState, SnapshotSummary};

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct InfoResponse {
    #[serde(default)]
    pub name: Option<String>,
    pub cluster_name: String,
    pub version: InfoVersion,
    #[serde(default)]
    pub tagline: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct InfoVersion {
    pub number: String,
    /// "opensearch" on OpenSearch; absent on Elasticsearch.
    #[serde(default)]
    pub distribution: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct RepositoryInfo {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub settings: serde_json::Map<String, Value>,
}

impl RepositoryInfo {
    pub fn location(&self) -> Option<&str> {
        self.settings.get("location").and_then(Value::as_str)
    }
    /// Settings come back as strings ("true") from the server and as booleans from our requests.
    pub fn flag(&self, key: &str) -> bool {
        match self.settings.get(key) {
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => s == "true",
            _ => false,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct PutRepository {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub settings: FsSettings,
}

#[derive(Debug, Clone, Serialize)]
pub struct FsSettings {
    pub location: String,
    pub compress: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub readonly: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct VerifyResponse {
    #[serde(default)]
    pub nodes: BTreeMap<String, VerifiedNode>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct VerifiedNode {
    pub name: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Acknowledged {
    #[serde(default)]
    pub acknowledged: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct CreateSnapshot {
    pub indices: String,
    pub ignore_unavailable: bool,
    pub include_global_state: bool,
    pub partial: bool,
    /// Who took it and the document counts (Elasticsearch 7.3+ and OpenSearch; dropped for older).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct CreateSnapshotResponse {
    #[serde(default)]
    pub accepted: Option<bool>,
    #[serde(default)]
    pub snapshot: Option<SnapshotInfo>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct GetSnapshotsResponse {
    #[serde(default)]
    pub snapshots: Vec<SnapshotInfo>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct SnapshotInfo {
    pub snapshot: String,
    #[serde(default)]
    pub uuid: Option<String>,
    #[serde(default)]
    pub indices: Vec<String>,
    #[serde(default)]
    pub state: Option<SnapshotState>,
    #[serde(default)]
    pub start_time_in_millis: Option<i64>,
    #[serde(default)]
    pub end_time_in_millis: Option<i64>,
    #[serde(default)]
    pub duration_in_millis: Option<i64>,
    #[serde(default)]
    pub failures: Vec<ShardFailure>,
    #[serde(default)]
    pub shards: Option<ShardCounts>,
    /// The user metadata given at creation, where the server keeps it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
}

impl SnapshotInfo {
    /// `summary`, moving the name and indices instead of copying them.
    pub fn into_summary(self) -> SnapshotSummary {
        SnapshotSummary {
            name: self.snapshot,
            state: self.state.unwrap_or(SnapshotState::InProgress),
            start_ms: self.start_time_in_millis,
            end_ms: self.end_time_in_millis.filter(|&e| e > 0),
            indices: self.indices,
            shards_total: self.shards.as_ref().map_or(0, |s| s.total),
            shards_failed: self.shards.as_ref().map_or(0, |s| s.failed),
        }
    }

    pub fn summary(&self) -> SnapshotSummary {
        Self {
            snapshot: self.snapshot.clone(),
            indices: self.indices.clone(),
            state: self.state.clone(),
            shards: self.shards.clone(),
            uuid: None,
            failures: Vec::new(),
            metadata: None,
            ..*self
        }
        .into_summary()
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct ShardFailure {
    #[serde(default)]
    pub index: Option<String>,
    #[serde(default)]
    pub shard_id: Option<i64>,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub node_id: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Default)]
pub struct ShardCounts {
    #[serde(default)]
    pub total: u64,
    #[serde(default)]
    pub failed: u64,
    #[serde(default)]
    pub successful: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SnapshotStatusResponse {
    #[serde(default)]
    pub snapshots: Vec<SnapshotStatus>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SnapshotStatus {
    pub snapshot: String,
    /// INIT, STARTED, SUCCESS, FAILED, ABORTED: a finished PARTIAL snapshot shows as SUCCESS here,
    /// so the final state is read from `GET _snapshot` afterwards.
    pub state: String,
    #[serde(default)]
    pub shards_stats: ShardProgress,
    #[serde(default)]
    pub stats: Option<TransferStats>,
    #[serde(default)]
    pub indices: BTreeMap<String, IndexStatus>,
}

impl SnapshotStatus {
    pub fn running(&self) -> bool {
        matches!(
            self.state.as_str(),
            "INIT" | "STARTED" | "WAITING" | "IN_PROGRESS"
        )
    }
}

#[derive(Debug, Clone, Deserialize, Default)]
pub struct ShardProgress {
    #[serde(default)]
    pub done: u64,
    #[serde(default)]
    pub failed: u64,
    #[serde(default)]
    pub total: u64,
}

#[derive(Debug, Clone, Deserialize, Default)]
pub struct TransferStats {
    #[serde(default)]
    pub total: Option<FileSize>,
    #[serde(default)]
    pub processed: Option<FileSize>,
    #[serde(default)]
    pub incremental: Option<FileSize>,
}

#[derive(Debug, Clone, Deserialize, Default)]
pub struct FileSize {
    #[serde(default)]
    pub size_in_bytes: u64,
}

#[derive(Debug, Clone, Deserialize, Default)]
pub struct IndexStatus {
    #[serde(default)]
    pub stats: Option<TransferStats>,
}

impl IndexStatus {
    pub fn size_bytes(&self) -> u64 {
        self.stats
            .as_ref()
            .and_then(|s| s.total.as_ref())
            .map_or(0, |t| t.size_in_bytes)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct RestoreRequest {
    pub indices: String,
    pub include_global_state: bool,
    pub include_aliases: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rename_pattern: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rename_replacement: Option<String>,
    /// Settings the restored indices get (a restore test's `index.number_of_replicas: 0`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index_settings: Option<Value>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct RecoveryShard {
    #[serde(default)]
    pub stage: String,
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub primary: bool,
    #[serde(default)]
    pub index: Option<RecoveryIndex>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct RecoveryIndex {
    #[serde(default)]
    pub size: Option<RecoverySize>,
}

#[derive(Debug, Clone, Deserialize, Default)]
pub struct RecoverySize {
    #[serde(default)]
    pub total_in_bytes: u64,
    #[serde(default)]
    pub recovered_in_bytes: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct IndexRecovery {
    #[serde(default)]
    pub shards: Vec<RecoveryShard>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct CatIndex {
    pub index: String,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub health: Option<String>,
    #[serde(default)]
    pub rep: Option<String>,
    /// With `bytes=b` the size is a number in a string; closed indices have none.
    #[serde(rename = "pri.store.size", default)]
    pub pri_store_size: Option<String>,
    /// Asked for by the document counts a snapshot records; closed indices have none.
    #[serde(
        rename = "docs.count",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub docs_count: Option<String>,
}

impl CatIndex {
    pub fn open(&self) -> bool {
        self.status.as_deref() != Some("close")
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct NodesInfoResponse {
    #[serde(default)]
    pub nodes: BTreeMap<String, NodeInfo>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct NodeInfo {
    pub name: String,
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default)]
    pub settings: Option<Value>,
}

/// Master-eligible and data nodes must see the repository; a node without roles is assumed to.
pub fn needs_repo(roles: &[String]) -> bool {
    roles.is_empty()
        || roles
            .iter()
            .any(|r| r == "master" || r == "cluster_manager" || r.starts_with("data"))
}

impl NodeInfo {
    /// `path.repo`: an array in every version checked, a string if set as one, flat or nested.
    pub fn path_repo(&self) -> Vec<String> {
        self.settings
            .as_ref()
            .and_then(Value::as_object)
            .map(crate::snapshot::path_repo::from_settings)
            .unwrap_or_default()
    }

    pub fn paths(&self) -> NodePaths {
        NodePaths {
            name: self.name.clone(),
            needs_repo: needs_repo(&self.roles),
            path_repo: self.path_repo(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct NodesStatsResponse {
    #[serde(default)]
    pub nodes: BTreeMap<String, NodeStats>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct NodeStats {
    pub name: String,
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default)]
    pub fs: Option<NodeFs>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct NodeFs {
    #[serde(default)]
    pub total: Option<FsTotal>,
}

#[derive(Debug, Clone, Deserialize, Default)]
pub struct FsTotal {
    #[serde(default)]
    pub total_in_bytes: u64,
    #[serde(default)]
    pub available_in_bytes: u64,
}

impl NodeStats {
    pub fn is_data(&self) -> bool {
        self.roles.is_empty() || self.roles.iter().any(|r| r.starts_with("data"))
    }
    pub fn disk(&self) -> NodeDisk {
        let total = self
            .fs
            .as_ref()
            .and_then(|f| f.total.clone())
            .unwrap_or_default();
        NodeDisk {
            name: self.name.clone(),
            total_bytes: total.total_in_bytes,
            free_bytes: total.available_in_bytes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/es-api/");

    fn example(path: &str) -> Value {
        serde_json::from_slice(&std::fs::read(format!("{EXAMPLES}{path}")).unwrap()).unwrap()
    }

    fn first_example(dir: &str) -> Value {
        let dir = format!("{EXAMPLES}{dir}");
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        let file = files
            .iter()
            .find(|p| {
                p.to_string_lossy().contains("response")
                    && p.extension().is_some_and(|e| e == "json")
            })
            .unwrap();
        serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap()
    }

    #[test]
    fn official_examples_deserialize() {
        let info: InfoResponse =
            serde_json::from_value(first_example("elasticsearch/examples/info")).unwrap();
        assert!(!info.version.number.is_empty());
        // The OpenSearch story payload is partial (no number): only the field we branch on is checked.
        let os = first_example("opensearch/examples/info");
        assert_eq!(os["version"]["distribution"], "opensearch");
        let status: SnapshotStatusResponse =
            serde_json::from_value(first_example("elasticsearch/examples/snapshot.status"))
                .unwrap();
        assert!(!status.snapshots.is_empty());
        let nodes: NodesInfoResponse =
            serde_json::from_value(first_example("elasticsearch/examples/nodes.info")).unwrap();
        assert!(!nodes.nodes.is_empty());
        let _ = example("errors/index.json");
    }

    #[test]
    fn path_repo_is_read_in_every_shape() {
        let node = |settings: Value| NodeInfo {
            name: "n".into(),
            roles: vec![],
            settings: Some(settings),
        };
        let arr = node(serde_json::json!({"path": {"repo": ["/a", "/b"]}}));
        assert_eq!(arr.path_repo(), ["/a", "/b"]);
        let flat = node(serde_json::json!({"path.repo": "/a,/b"}));
        assert_eq!(flat.path_repo(), ["/a", "/b"]);
        assert!(node(serde_json::json!({"path": {"home": "/x"}}))
            .path_repo()
            .is_empty());
    }

    #[test]
    fn roles_decide_who_needs_the_repository() {
        assert!(needs_repo(&["master".into()]));
        assert!(needs_repo(&["data_hot".into()]));
        assert!(needs_repo(&["cluster_manager".into()]));
        assert!(!needs_repo(&["ingest".into()]));
        assert!(needs_repo(&[]));
    }
}
