//! `status`: is the backup healthy? One evaluation over what the client gathered, with reasons.

use serde::Serialize;

use super::path_repo::{covers, NodePaths};
use super::restore::NodeDisk;
use super::{human_bytes, SnapshotState, SnapshotSummary};

/// A registered repository and what verifying it said.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RepositoryCheck {
    pub name: String,
    pub kind: String,
    pub location: Option<String>,
    /// `None` when verification succeeded, else the server's reason.
    pub verification_error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatusInput {
    pub nodes: Vec<NodePaths>,
    pub repositories: Vec<RepositoryCheck>,
    /// The repository the command looks at.
    pub repository: String,
    pub snapshots: Vec<SnapshotSummary>,
    pub disks: Vec<NodeDisk>,
    pub watermark_pct: f64,
    /// The newest SUCCESS snapshot may be at most this old.
    pub max_age_hours: u32,
    pub now_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub check: &'static str,
    pub ok: bool,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LastSuccess {
    pub name: String,
    pub age_hours: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Health {
    pub healthy: bool,
    pub last_success: Option<LastSuccess>,
    pub findings: Vec<Finding>,
}

pub fn evaluate(input: &StatusInput) -> Health {
    let mut findings = Vec::new();
    let mut push = |check, ok, message: String| findings.push(Finding { check, ok, message });

    let repo = input
        .repositories
        .iter()
        .find(|r| r.name == input.repository);
    match repo {
        None => push(
            "repository",
            false,
            format!("repository {} is not registered", input.repository),
        ),
        Some(r) => match &r.verification_error {
            None => push(
                "repository",
                true,
                format!("repository {} ({}) verified on all nodes", r.name, r.kind),
            ),
            Some(e) => push(
                "repository",
                false,
                format!("repository {} failed verification: {e}", r.name),
            ),
        },
    }

    if let Some(location) = repo.and_then(|r| r.location.as_deref()) {
        let missing: Vec<&str> = input
            .nodes
            .iter()
            .filter(|n| n.needs_repo && !covers(&n.path_repo, location))
            .map(|n| n.name.as_str())
            .collect();
        if missing.is_empty() {
            push(
                "path.repo",
                true,
                format!("path.repo covers {location} on every master and data node"),
            );
        } else {
            push(
                "path.repo",
                false,
                format!(
                    "path.repo does not cover {location} on: {}",
                    missing.join(", ")
                ),
            );
        }
    }

    let newest = |state: &SnapshotState| {
        input
            .snapshots
            .iter()
            .filter(|s| &s.state == state)
            .max_by_key(|s| s.start_ms.unwrap_or(i64::MIN))
    };
    let last = newest(&SnapshotState::Success);
    let last_success = last.map(|s| LastSuccess {
        name: s.name.clone(),
        age_hours: (input.now_ms - s.end_ms.or(s.start_ms).unwrap_or(input.now_ms)) / 3_600_000,
    });
    match &last_success {
        None => push(
            "last snapshot",
            false,
            "no successful snapshot yet".to_string(),
        ),
        Some(l) if l.age_hours > i64::from(input.max_age_hours) => push(
            "last snapshot",
            false,
            format!(
                "last successful snapshot {} is {}h old (more than {}h)",
                l.name, l.age_hours, input.max_age_hours
            ),
        ),
        Some(l) => push(
            "last snapshot",
            true,
            format!(
                "last successful snapshot {} is {}h old",
                l.name, l.age_hours
            ),
        ),
    }

    let since = last.and_then(|s| s.start_ms).unwrap_or(i64::MIN);
    let bad: Vec<String> = input
        .snapshots
        .iter()
        .filter(|s| matches!(s.state, SnapshotState::Partial | SnapshotState::Failed))
        .filter(|s| s.start_ms.unwrap_or(i64::MIN) > since)
        .map(|s| format!("{} ({})", s.name, s.state))
        .collect();
    if bad.is_empty() {
        push(
            "failures",
            true,
            "no partial or failed snapshot since the last success".to_string(),
        );
    } else {
        push(
            "failures",
            false,
            format!(
                "partial or failed since the last success: {}",
                bad.join(", ")
            ),
        );
    }

    let count = input.snapshots.len();
    let oldest = input.snapshots.iter().filter_map(|s| s.start_ms).min();
    let retention = match oldest {
        Some(o) => format!(
            "{count} snapshots, the oldest {} days old",
            (input.now_ms - o) / 86_400_000
        ),
        None => format!("{count} snapshots"),
    };
    push("retention", true, retention);

    for disk in &input.disks {
        let used_pct = if disk.total_bytes == 0 {
            100.0
        } else {
            100.0 * (disk.total_bytes - disk.free_bytes.min(disk.total_bytes)) as f64
                / disk.total_bytes as f64
        };
        let ok = used_pct < input.watermark_pct;
        push(
            "disk",
            ok,
            format!(
                "node {}: {} free of {} ({used_pct:.0}% used, high watermark {}%)",
                disk.name,
                human_bytes(disk.free_bytes),
                human_bytes(disk.total_bytes),
                input.watermark_pct
            ),
        );
    }

    let healthy = findings.iter().all(|f| f.ok);
    Health {
        healthy,
        last_success,
        findings,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000;
    const NOW: i64 = 1_000 * HOUR;

    fn snap(name: &str, hours_ago: i64, state: SnapshotState) -> SnapshotSummary {
        SnapshotSummary {
            name: name.into(),
            state,
            start_ms: Some(NOW - hours_ago * HOUR),
            end_ms: Some(NOW - hours_ago * HOUR),
            indices: vec![],
            shards_total: 1,
            shards_failed: 0,
        }
    }

    fn healthy_input() -> StatusInput {
        StatusInput {
            nodes: vec![NodePaths {
                name: "es-0".into(),
                needs_repo: true,
                path_repo: vec!["/backup".into()],
            }],
            repositories: vec![RepositoryCheck {
                name: "ks-log-snapshots".into(),
                kind: "fs".into(),
                location: Some("/backup/ks".into()),
                verification_error: None,
            }],
            repository: "ks-log-snapshots".into(),
            snapshots: vec![
                snap("old", 48, SnapshotState::Success),
                snap("new", 2, SnapshotState::Success),
            ],
            disks: vec![NodeDisk {
                name: "es-0".into(),
                total_bytes: 1000,
                free_bytes: 500,
            }],
            watermark_pct: 90.0,
            max_age_hours: 26,
            now_ms: NOW,
        }
    }

    fn failed_checks(h: &Health) -> Vec<&str> {
        h.findings
            .iter()
            .filter(|f| !f.ok)
            .map(|f| f.check)
            .collect()
    }

    #[test]
    fn a_fresh_verified_repository_is_healthy() {
        let h = evaluate(&healthy_input());
        assert!(h.healthy, "{h:?}");
        assert_eq!(
            h.last_success,
            Some(LastSuccess {
                name: "new".into(),
                age_hours: 2
            })
        );
        assert!(h
            .findings
            .iter()
            .any(|f| f.message == "2 snapshots, the oldest 2 days old"));
    }

    #[test]
    fn each_problem_makes_it_unhealthy_with_its_reason() {
        let mut i = healthy_input();
        i.repositories.clear();
        assert_eq!(failed_checks(&evaluate(&i)), ["repository"]);

        let mut i = healthy_input();
        i.repositories[0].verification_error = Some("not shared".into());
        assert_eq!(failed_checks(&evaluate(&i)), ["repository"]);

        let mut i = healthy_input();
        i.nodes.push(NodePaths {
            name: "es-1".into(),
            needs_repo: true,
            path_repo: vec![],
        });
        let h = evaluate(&i);
        assert_eq!(failed_checks(&h), ["path.repo"]);
        assert!(h.findings.iter().any(|f| f.message.ends_with("on: es-1")));

        let mut i = healthy_input();
        i.snapshots = vec![snap("stale", 30, SnapshotState::Success)];
        assert_eq!(failed_checks(&evaluate(&i)), ["last snapshot"]);

        let mut i = healthy_input();
        i.snapshots.clear();
        assert_eq!(failed_checks(&evaluate(&i)), ["last snapshot"]);

        let mut i = healthy_input();
        i.snapshots.push(snap("broken", 1, SnapshotState::Partial));
        let h = evaluate(&i);
        assert_eq!(failed_checks(&h), ["failures"]);
        assert!(h
            .findings
            .iter()
            .any(|f| f.message.contains("broken (PARTIAL)")));

        let mut i = healthy_input();
        i.disks[0].free_bytes = 50;
        assert_eq!(failed_checks(&evaluate(&i)), ["disk"]);
    }

    #[test]
    fn failures_before_the_last_success_are_history_not_a_problem() {
        let mut i = healthy_input();
        i.snapshots.push(snap("earlier", 10, SnapshotState::Failed));
        assert!(evaluate(&i).healthy);
    }
}
