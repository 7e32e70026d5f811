//! The cluster the double pretends to run: nodes with disks and path.repo, repositories, snapshots,
//! indices, and the knobs tests turn to provoke each failure.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

#[derive(Debug, Clone)]
pub struct Node {
    pub id: String,
    pub name: String,
    pub roles: Vec<String>,
    pub path_repo: Vec<String>,
    pub disk_total: u64,
    pub disk_free: u64,
}

#[derive(Debug, Clone)]
pub struct Repository {
    pub kind: String,
    pub settings: Map<String, Value>,
}

impl Repository {
    /// Where its snapshots live: repositories on the same location share them, as on a real volume.
    pub fn key(&self, name: &str) -> String {
        self.settings
            .get("location")
            .and_then(Value::as_str)
            .map_or_else(|| format!("name:{name}"), str::to_string)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapState {
    InProgress,
    Success,
    Partial,
    Failed,
}

impl SnapState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InProgress => "IN_PROGRESS",
            Self::Success => "SUCCESS",
            Self::Partial => "PARTIAL",
            Self::Failed => "FAILED",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Snapshot {
    pub name: String,
    pub uuid: String,
    pub repository: String,
    pub indices: Vec<String>,
    /// Primary store bytes per index at snapshot time.
    pub sizes: BTreeMap<String, u64>,
    pub shards_per_index: u32,
    pub state: SnapState,
    /// The state it reaches when it finishes.
    pub outcome: SnapState,
    pub failed_index: Option<String>,
    pub start_ms: i64,
    pub end_ms: i64,
    pub polls_left: u32,
    pub include_global_state: bool,
    /// The user metadata given at creation (Elasticsearch 7.3+ and OpenSearch keep it).
    pub metadata: Option<Value>,
}

impl Snapshot {
    pub fn shards_total(&self) -> u32 {
        self.shards_per_index * self.indices.len() as u32
    }
    pub fn shards_failed(&self) -> u32 {
        if self.state == SnapState::InProgress {
            0
        } else if self.failed_index.is_some() {
            self.shards_per_index
        } else {
            0
        }
    }
}

#[derive(Debug, Clone)]
pub struct Index {
    pub uuid: String,
    pub open: bool,
    pub size: u64,
    pub docs: u64,
    pub shards: u32,
    pub replicas: u32,
    /// Restored from (repository, snapshot), while and after recovery.
    pub restored_from: Option<(String, String)>,
    pub recovery_polls_left: u32,
}

/// Knobs for the failures a test wants to see.
#[derive(Debug, Clone)]
pub struct Behaviour {
    /// Status/get polls an in-progress snapshot needs before it finishes.
    pub progress_polls: u32,
    /// If set, a snapshot also finishes this many ms after it started, whoever polls.
    pub progress_ms: Option<i64>,
    /// The next snapshot ends PARTIAL (one index's shards fail).
    pub next_partial: bool,
    /// The next snapshot ends FAILED.
    pub next_failed: bool,
    /// The next N snapshot create/delete calls get 503 concurrent_snapshot_execution_exception.
    pub busy_for: u32,
    /// The repository location is not shared between nodes: verification fails.
    pub repo_not_shared: bool,
    /// Recovery polls a restored index needs before its shards are DONE.
    pub recovery_polls: u32,
    /// The next snapshot create is carried out but answered this late, as when a client times out.
    pub delay_next_create_ms: Option<u64>,
    /// The next N snapshot deletes (only) get 503 concurrent_snapshot_execution_exception.
    pub deletes_busy_for: u32,
    /// An OSS build (no x-pack): `_slm` has no handler, as in the images KubeSphere ships.
    pub oss_build: bool,
    /// `fs` repositories whose location is a directory here get the real on-disk layout (`disk.rs`).
    pub disk_layout: bool,
    /// Plugins installed per node name (`s3.rs`: `repository-s3` for S3 repositories before ES 8).
    pub node_plugins: BTreeMap<String, Vec<String>>,
    /// Where the registrations are kept between runs (`pod.rs`: the pod's `path.data`).
    pub repositories_file: Option<std::path::PathBuf>,
    /// The next N polls (snapshot status, index recovery) answer 503
    /// `master_not_discovered_exception`, as a node does while its cluster elects a master.
    pub polls_unavailable_for: u32,
    /// At the next status poll, the running snapshots are forgotten, as a restart of the elected
    /// master forgets them (they live in the cluster state, which a full restart does not keep).
    pub lose_running_snapshots: bool,
}

impl Default for Behaviour {
    fn default() -> Self {
        Self {
            progress_polls: 2,
            progress_ms: None,
            next_partial: false,
            next_failed: false,
            busy_for: 0,
            repo_not_shared: false,
            recovery_polls: 1,
            delay_next_create_ms: None,
            deletes_busy_for: 0,
            oss_build: false,
            disk_layout: false,
            node_plugins: BTreeMap::new(),
            repositories_file: None,
            polls_unavailable_for: 0,
            lose_running_snapshots: false,
        }
    }
}

#[derive(Debug, Clone)]
pub struct State {
    pub cluster_name: String,
    pub nodes: Vec<Node>,
    pub repositories: BTreeMap<String, Repository>,
    /// Snapshots per repository key (see `Repository::key`), in creation order.
    pub snapshots: BTreeMap<String, Vec<Snapshot>>,
    pub indices: BTreeMap<String, Index>,
    pub behaviour: Behaviour,
    /// SLM policies by id (Elasticsearch with x-pack, 7.4+).
    pub slm_policies: BTreeMap<String, crate::policies::SlmPolicy>,
    /// Snapshot Management policies by name (OpenSearch 2.1+).
    pub sm_policies: BTreeMap<String, crate::policies::SmPolicy>,
    /// Every request line the double answered, `METHOD /path?query -> status`.
    pub log: Vec<String>,
    pub next_id: u64,
    /// Persistent cluster settings set through the `restart_extras` route, flat keys.
    pub cluster_settings: Map<String, Value>,
    /// The cost model: per-snapshot metadata blobs (`snap-UUID.dat`) the master would have read
    /// from the repository to answer so far (see `listing`).
    pub metadata_reads: u64,
    /// When the double runs as one of several pods (`peers`): the cluster as this node sees it.
    pub peers: Option<crate::peers::Peers>,
}

pub const GB: u64 = 1024 * 1024 * 1024;
pub const DEFAULT_PATH_REPO: &str = "/usr/share/elasticsearch/backup";

impl Default for State {
    fn default() -> Self {
        let node = |i: usize, roles: &[&str]| Node {
            id: format!("node{i}AAAAAAAAAAAAAAAAA"),
            name: format!("elasticsearch-logging-data-{i}"),
            roles: roles.iter().map(|r| r.to_string()).collect(),
            path_repo: vec![DEFAULT_PATH_REPO.to_string()],
            disk_total: 100 * GB,
            disk_free: 60 * GB,
        };
        Self {
            cluster_name: "elasticsearch".into(),
            nodes: vec![
                node(0, &["data", "ingest", "master"]),
                node(1, &["data", "ingest", "master"]),
            ],
            repositories: BTreeMap::new(),
            snapshots: BTreeMap::new(),
            indices: BTreeMap::new(),
            behaviour: Behaviour::default(),
            slm_policies: BTreeMap::new(),
            sm_policies: BTreeMap::new(),
            log: Vec::new(),
            next_id: 1,
            cluster_settings: Map::new(),
            metadata_reads: 0,
            peers: None,
        }
    }
}

impl State {
    pub fn uuid(&mut self) -> String {
        self.next_id += 1;
        format!("{:0>22}", format!("u{}", self.next_id))
    }

    /// Adds an open index of `size` bytes.
    pub fn add_index(&mut self, name: &str, size: u64) {
        let uuid = self.uuid();
        self.indices.insert(
            name.to_string(),
            Index {
                uuid,
                open: true,
                size,
                docs: size / 512,
                shards: 1,
                replicas: 1,
                restored_from: None,
                recovery_polls_left: 0,
            },
        );
    }

    pub fn repo_key(&self, repo: &str) -> Option<String> {
        self.repositories.get(repo).map(|r| r.key(repo))
    }

    pub fn snapshots_of(&self, repo: &str) -> &[Snapshot] {
        self.repo_key(repo)
            .and_then(|k| self.snapshots.get(&k))
            .map_or(&[], Vec::as_slice)
    }

    pub fn snapshots_of_mut(&mut self, repo: &str) -> Option<&mut Vec<Snapshot>> {
        let key = self.repo_key(repo)?;
        Some(self.snapshots.entry(key).or_default())
    }

    /// Registers `repo` at `location` and fills it with `count` finished snapshots, one an hour
    /// back from `now_ms`, each holding that day's three log indices: the benchmark's data set.
    pub fn seed_snapshots(&mut self, repo: &str, location: &str, count: usize, now_ms: i64) {
        let mut settings = Map::new();
        settings.insert("location".into(), Value::String(location.into()));
        settings.insert("compress".into(), Value::Bool(true));
        self.repositories.insert(
            repo.to_string(),
            Repository {
                kind: "fs".into(),
                settings,
            },
        );
        let mut list = Vec::with_capacity(count);
        for i in (0..count).rev() {
            let start = now_ms - (i as i64 + 1) * 3_600_000;
            let day = crate::time::format_ms(start, "%Y.%m.%d");
            let indices: Vec<String> = [
                "ks-logstash-log-",
                "ks-logstash-auditing-",
                "ks-logstash-events-",
            ]
            .iter()
            .map(|p| format!("{p}{day}"))
            .collect();
            let sizes = indices
                .iter()
                .map(|i| (i.clone(), 50 * 1024 * 1024))
                .collect();
            let uuid = self.uuid();
            list.push(Snapshot {
                name: format!("snapshot-{}", crate::time::format_ms(start, "%Y%m%d%H%M%S")),
                uuid,
                repository: repo.to_string(),
                indices,
                sizes,
                shards_per_index: 1,
                state: SnapState::Success,
                outcome: SnapState::Success,
                failed_index: None,
                start_ms: start,
                end_ms: start + 60_000,
                polls_left: 0,
                include_global_state: false,
                metadata: None,
            });
        }
        let key = self.repo_key(repo).unwrap_or_default();
        self.snapshots.insert(key, list);
    }
}
