//! The double as one Elasticsearch pod on the real node: one node named as the pod, `path.repo` from
//! the environment in the form the official images accept (`path.repo=/a,/b`), the repository kept
//! on disk, and a few days of open log indices to snapshot.

use crate::state::{Node, State, GB};

pub struct Settings {
    /// `node.name`, else the pod's host name.
    pub node_name: Option<String>,
    /// The `path.repo` environment variable: comma-separated directories.
    pub path_repo: Option<String>,
    pub seed_indices: usize,
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
    for day in 0..settings.seed_indices {
        let date = crate::time::format_ms(now_ms - day as i64 * 86_400_000, "%Y.%m.%d");
        state.add_index(&format!("ks-logstash-log-{date}"), 20 * 1024 * 1024);
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
            },
            0,
        );
        assert!(state.nodes[0].path_repo.is_empty());
    }
}
