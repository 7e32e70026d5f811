//! Does a node's `path.repo` cover a repository location? The same rule FsRepository applies, checked
//! before registering so the operator learns which node lacks it.

use serde::Serialize;
use serde_json::{Map, Value};

/// `path.repo` as a list, from node settings or an ECK nodeSet's `config`: the flat key or the
/// nested form, a list or a comma-separated string, whichever was written. The one parser of it.
pub fn from_settings(settings: &Map<String, Value>) -> Vec<String> {
    let value = settings
        .get("path.repo")
        .or_else(|| settings.get("path").and_then(|p| p.get("repo")));
    match value {
        Some(Value::String(s)) => split_list(s).map(str::to_owned).collect(),
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}

/// The entries of a comma-separated setting, trimmed, empty ones dropped.
pub fn split_list(list: &str) -> impl Iterator<Item = &str> {
    list.split(',').map(str::trim).filter(|p| !p.is_empty())
}

/// A node as far as `path.repo` matters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodePaths {
    pub name: String,
    /// Only master-eligible and data nodes must see the repository.
    pub needs_repo: bool,
    pub path_repo: Vec<String>,
}

/// Whether `location` lies inside one of `path_repo`; a relative location resolves against the first
/// entry, so any non-empty `path.repo` covers it.
pub fn covers(path_repo: &[String], location: &str) -> bool {
    if !location.starts_with('/') {
        return !path_repo.is_empty();
    }
    let location = normalize(location);
    path_repo.iter().any(|root| {
        let root = normalize(root);
        location == root || root == "/" || location.starts_with(&format!("{root}/"))
    })
}

fn normalize(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    format!("/{}", parts.join("/"))
}

/// What is wrong with `path.repo` for `location`, one entry per node that needs the repository.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PathRepoGap {
    pub node: String,
    pub path_repo: Vec<String>,
}

pub fn gaps(nodes: &[NodePaths], location: &str) -> Vec<PathRepoGap> {
    nodes
        .iter()
        .filter(|n| n.needs_repo && !covers(&n.path_repo, location))
        .map(|n| PathRepoGap {
            node: n.name.clone(),
            path_repo: n.path_repo.clone(),
        })
        .collect()
}

/// The advice for a gap, in the operator's terms.
pub fn advice(gaps: &[PathRepoGap], location: &str) -> String {
    let lines: Vec<String> = gaps
        .iter()
        .map(|g| {
            if g.path_repo.is_empty() {
                format!("  node {}: path.repo is not set", g.node)
            } else {
                format!(
                    "  node {}: path.repo is [{}], which does not contain {location}",
                    g.node,
                    g.path_repo.join(", ")
                )
            }
        })
        .collect();
    format!(
        "path.repo does not cover {location} on every master and data node:\n{}\n\
         Mount the shared volume on every node and set path.repo to include it \
         (`kubectl logbackup inject` does both), then restart the nodes one at a time.",
        lines.join("\n")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_repo_is_read_flat_or_nested_as_a_list_or_a_string() {
        let read = |v: serde_json::Value| from_settings(v.as_object().unwrap());
        let want = ["/a", "/b"];
        assert_eq!(read(serde_json::json!({"path.repo": ["/a", "/b"]})), want);
        assert_eq!(read(serde_json::json!({"path.repo": " /a, ,/b "})), want);
        assert_eq!(
            read(serde_json::json!({"path": {"repo": ["/a", "/b"]}})),
            want
        );
        assert_eq!(read(serde_json::json!({"path": {"repo": "/a,/b"}})), want);
        assert!(read(serde_json::json!({"path": {"data": "/x"}})).is_empty());
    }

    fn v(paths: &[&str]) -> Vec<String> {
        paths.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn absolute_locations_must_be_inside_a_root() {
        let roots = v(&["/usr/share/elasticsearch/backup"]);
        assert!(covers(&roots, "/usr/share/elasticsearch/backup"));
        assert!(covers(
            &roots,
            "/usr/share/elasticsearch/backup/ks-log-snapshots"
        ));
        assert!(covers(&roots, "/usr/share/elasticsearch/backup/./a/../b"));
        assert!(!covers(&roots, "/usr/share/elasticsearch/backup2"));
        assert!(!covers(&roots, "/usr/share/elasticsearch/backup/../data"));
        assert!(!covers(&[], "/x"));
        assert!(covers(&v(&["/"]), "/anything"));
        assert!(covers(&v(&["/a/", "/b"]), "/b/c"));
    }

    #[test]
    fn relative_locations_need_any_root() {
        assert!(covers(&v(&["/backup"]), "ks-log-snapshots"));
        assert!(!covers(&[], "ks-log-snapshots"));
    }

    #[test]
    fn gaps_name_the_nodes_that_need_the_repository() {
        let nodes = vec![
            NodePaths {
                name: "master-0".into(),
                needs_repo: true,
                path_repo: v(&["/backup"]),
            },
            NodePaths {
                name: "data-0".into(),
                needs_repo: true,
                path_repo: vec![],
            },
            NodePaths {
                name: "data-1".into(),
                needs_repo: true,
                path_repo: v(&["/other"]),
            },
            NodePaths {
                name: "coord-0".into(),
                needs_repo: false,
                path_repo: vec![],
            },
        ];
        let found = gaps(&nodes, "/backup/repo");
        assert_eq!(
            found.iter().map(|g| g.node.as_str()).collect::<Vec<_>>(),
            ["data-0", "data-1"]
        );
        let text = advice(&found, "/backup/repo");
        assert!(text.contains("node data-0: path.repo is not set"));
        assert!(text
            .contains("node data-1: path.repo is [/other], which does not contain /backup/repo"));
    }
}
