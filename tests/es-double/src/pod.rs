//! The double as one Elasticsearch pod on the real node: one node named as the pod, `path.repo` from
//! the environment in the form the official images accept (`path.repo=/a,/b`), the repository kept
//! on disk, and a few days of open log indices to snapshot.
//!
//! Like Elasticsearch, which keeps its cluster state (the registered repositories among it) under
//! `path.data`, the double keeps its repository registrations in `path.data`, so a restarted pod
//! whose data directory is a volume still knows them, and reads their snapshots back from disk.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::state::{Node, Repository, State, GB};

/// The file under `path.data` that holds the registrations.
const REPOSITORIES_FILE: &str = "logbackup-double-repositories.json";

pub struct Settings {
    /// `node.name`, else the pod's host name.
    pub node_name: Option<String>,
    /// The `path.repo` environment variable: comma-separated directories.
    pub path_repo: Option<String>,
    pub seed_indices: usize,
    /// `path.data`: where registrations are kept (unwritable or absent: not kept).
    pub path_data: Option<PathBuf>,
    /// Snapshots take this long, whoever polls them (a window to kill the pod in).
    pub snapshot_seconds: Option<u64>,
}

pub fn configure(state: &mut State, settings: Settings, now_ms: i64) {
    let name = settings
        .node_name
        .unwrap_or_else(|| "elasticsearch-0".to_string());
    let path_repo = settings
        .path_repo
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    state.nodes = vec![Node {
        id: format!(
            "{:A<22}",
            name.replace(|c: char| !c.is_ascii_alphanumeric(), "")
        ),
        name,
        roles: ["data", "ingest", "master"].map(String::from).to_vec(),
        path_repo,
        disk_total: 100 * GB,
        disk_free: 60 * GB,
    }];
    state.behaviour.disk_layout = true;
    if let Some(seconds) = settings.snapshot_seconds {
        state.behaviour.progress_polls = u32::MAX;
        state.behaviour.progress_ms = Some(seconds as i64 * 1000);
    }
    if let Some(dir) = settings.path_data {
        state.repositories.extend(load(&dir));
        state.behaviour.repositories_file = Some(dir.join(REPOSITORIES_FILE));
    }
    for day in 0..settings.seed_indices {
        let date = crate::time::format_ms(now_ms - day as i64 * 86_400_000, "%Y.%m.%d");
        state.add_index(&format!("ks-logstash-log-{date}"), 20 * 1024 * 1024);
    }
}

fn load(dir: &Path) -> Vec<(String, Repository)> {
    let Ok(text) = std::fs::read_to_string(dir.join(REPOSITORIES_FILE)) else {
        return Vec::new();
    };
    serde_json::from_str(&text)
        .map(registrations)
        .unwrap_or_default()
}

/// Registrations in the form `GET _snapshot` answers and the file keeps: `{name: {type, settings}}`.
pub fn registrations(value: Value) -> Vec<(String, Repository)> {
    let Value::Object(saved) = value else {
        return Vec::new();
    };
    saved
        .into_iter()
        .filter_map(|(name, r)| {
            let kind = r["type"].as_str()?.to_string();
            let settings = r["settings"].as_object().cloned().unwrap_or_default();
            Some((name, Repository { kind, settings }))
        })
        .collect()
}

/// Writes the registrations when they changed (called after every request that may change them).
pub fn save(state: &State) {
    let Some(file) = &state.behaviour.repositories_file else {
        return;
    };
    let saved: Map<String, Value> = state
        .repositories
        .iter()
        .map(|(name, r)| {
            let value = serde_json::json!({"type": r.kind, "settings": r.settings});
            (name.clone(), value)
        })
        .collect();
    let text = Value::Object(saved).to_string();
    if std::fs::read_to_string(file).ok().as_deref() != Some(text.as_str()) {
        let tmp = file.with_extension("tmp");
        if std::fs::write(&tmp, &text).is_ok() {
            let _ = std::fs::rename(&tmp, file);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_repo_is_read_as_the_official_images_read_it() {
        let mut state = State::default();
        configure(
            &mut state,
            Settings {
                node_name: Some("es-0".into()),
                path_repo: Some("/mnt/old, /usr/share/elasticsearch/backup".into()),
                seed_indices: 2,
                path_data: None,
                snapshot_seconds: None,
            },
            0,
        );
        assert_eq!(state.nodes.len(), 1);
        assert_eq!(state.nodes[0].name, "es-0");
        assert_eq!(
            state.nodes[0].path_repo,
            ["/mnt/old", "/usr/share/elasticsearch/backup"]
        );
        assert!(state.behaviour.disk_layout);
        assert_eq!(state.indices.len(), 2);
    }

    #[test]
    fn no_path_repo_means_none_as_in_elasticsearch() {
        let mut state = State::default();
        configure(
            &mut state,
            Settings {
                node_name: None,
                path_repo: None,
                seed_indices: 0,
                path_data: None,
                snapshot_seconds: None,
            },
            0,
        );
        assert!(state.nodes[0].path_repo.is_empty());
    }

    #[test]
    fn registrations_kept_in_path_data_survive_a_restart() {
        let dir = std::env::temp_dir().join(format!("es-double-pod-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let settings = || Settings {
            node_name: Some("es-0".into()),
            path_repo: Some("/repo".into()),
            seed_indices: 0,
            path_data: Some(dir.clone()),
            snapshot_seconds: Some(20),
        };
        let mut first = State::default();
        configure(&mut first, settings(), 0);
        let mut s = Map::new();
        s.insert("location".into(), Value::String("/repo/ks".into()));
        first.repositories.insert(
            "ks".into(),
            Repository {
                kind: "fs".into(),
                settings: s,
            },
        );
        save(&first);
        let mut restarted = State::default();
        configure(&mut restarted, settings(), 0);
        assert_eq!(restarted.repositories["ks"].key("ks"), "/repo/ks");
        assert_eq!(restarted.behaviour.progress_ms, Some(20_000));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
