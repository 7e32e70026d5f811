//! Restore planning: which snapshot, which indices, what to do about same-named open indices, and
//! whether the result fits the disks under the high watermark.

use serde::Serialize;

use super::glob::selects;
use super::{human_bytes, SnapshotState, SnapshotSummary};

/// Which indices of a snapshot to restore.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IndexFilter {
    /// Every index except system ones (names starting with '.').
    All,
    Patterns(Vec<String>),
    /// Indices whose name contains this date, as daily log indices do (`2019.11.12`).
    Date(String),
    /// Indices the patterns select whose name contains this date (`--indices` with `--date`, and
    /// `coverage` per pattern).
    PatternsOnDate {
        patterns: Vec<String>,
        date: String,
    },
}

impl IndexFilter {
    pub fn selects(&self, index: &str) -> bool {
        match self {
            Self::All => !index.starts_with('.'),
            Self::Patterns(p) => selects(p, index),
            Self::Date(d) => index.contains(d.as_str()),
            Self::PatternsOnDate { patterns, date } => {
                index.contains(date.as_str()) && selects(patterns, index)
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnConflict {
    Refuse,
    CloseExisting,
    Replace,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum RestoreError {
    #[error("snapshot {0} does not exist in the repository")]
    NoSuchSnapshot(String),
    #[error("snapshot {name} is {state}: only SUCCESS and PARTIAL snapshots can be restored")]
    NotRestorable { name: String, state: SnapshotState },
    #[error("no SUCCESS snapshot contains an index matching {0}")]
    NothingContains(String),
    #[error("snapshot {snapshot} has no index matching {filter}")]
    NoIndexInSnapshot { snapshot: String, filter: String },
    #[error(
        "open indices with the same names already exist: {}. Restore under another name with \
         --rename-prefix restored-, close them first with --close-existing, or delete and replace them with --replace",
        .0.join(", ")
    )]
    OpenIndexConflict(Vec<String>),
    #[error(
        "the restore needs {} ({} of primaries x {copies} copies) but the data nodes have {} free below the {watermark}% high watermark",
        human_bytes(*.required), human_bytes(*.primaries), human_bytes(*.usable)
    )]
    DiskTooSmall {
        required: u64,
        primaries: u64,
        copies: u64,
        usable: u64,
        watermark: f64,
    },
}

impl std::fmt::Display for IndexFilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::All => f.write_str("*"),
            Self::Patterns(p) => f.write_str(&p.join(",")),
            Self::Date(d) => write!(f, "*{d}*"),
            Self::PatternsOnDate { patterns, date } => {
                write!(f, "{} on {date}", patterns.join(","))
            }
        }
    }
}

/// Picks the snapshot: the named one, or the newest SUCCESS snapshot holding an index the filter selects.
pub fn choose_snapshot<'a>(
    snapshots: &'a [SnapshotSummary],
    named: Option<&str>,
    filter: &IndexFilter,
) -> Result<&'a SnapshotSummary, RestoreError> {
    if let Some(name) = named {
        let s = snapshots
            .iter()
            .find(|s| s.name == name)
            .ok_or_else(|| RestoreError::NoSuchSnapshot(name.to_string()))?;
        return match s.state {
            SnapshotState::Success | SnapshotState::Partial => Ok(s),
            _ => Err(RestoreError::NotRestorable {
                name: s.name.clone(),
                state: s.state.clone(),
            }),
        };
    }
    snapshots
        .iter()
        .filter(|s| {
            s.state == SnapshotState::Success && s.indices.iter().any(|i| filter.selects(i))
        })
        .max_by(|a, b| {
            a.start_ms
                .cmp(&b.start_ms)
                .then_with(|| a.name.cmp(&b.name))
        })
        .ok_or_else(|| RestoreError::NothingContains(filter.to_string()))
}

/// An index that exists in the cluster now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExistingIndex {
    pub name: String,
    pub open: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RestorePlan {
    pub snapshot: String,
    /// Indices as named in the snapshot.
    pub indices: Vec<String>,
    /// Names they will have in the cluster.
    pub targets: Vec<String>,
    pub rename_prefix: Option<String>,
    /// Open indices to close before restoring (restore replaces a closed index).
    pub close_first: Vec<String>,
    /// Indices to delete before restoring.
    pub delete_first: Vec<String>,
}

pub fn plan_restore(
    snapshot: &SnapshotSummary,
    filter: &IndexFilter,
    rename_prefix: Option<&str>,
    on_conflict: OnConflict,
    existing: &[ExistingIndex],
) -> Result<RestorePlan, RestoreError> {
    let indices: Vec<String> = snapshot
        .indices
        .iter()
        .filter(|i| filter.selects(i))
        .cloned()
        .collect();
    if indices.is_empty() {
        return Err(RestoreError::NoIndexInSnapshot {
            snapshot: snapshot.name.clone(),
            filter: filter.to_string(),
        });
    }
    let targets: Vec<String> = indices
        .iter()
        .map(|i| format!("{}{i}", rename_prefix.unwrap_or_default()))
        .collect();
    let open: Vec<String> = targets
        .iter()
        .filter(|t| existing.iter().any(|e| &e.name == *t && e.open))
        .cloned()
        .collect();
    let (close_first, delete_first) = match (on_conflict, open.is_empty()) {
        (_, true) => (vec![], vec![]),
        (OnConflict::Refuse, false) => return Err(RestoreError::OpenIndexConflict(open)),
        (OnConflict::CloseExisting, false) => (open, vec![]),
        (OnConflict::Replace, false) => (vec![], open),
    };
    Ok(RestorePlan {
        snapshot: snapshot.name.clone(),
        indices,
        targets,
        rename_prefix: rename_prefix.map(str::to_string),
        close_first,
        delete_first,
    })
}

/// A data node's disk, from `_nodes/stats/fs`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeDisk {
    pub name: String,
    pub total_bytes: u64,
    pub free_bytes: u64,
}

impl NodeDisk {
    /// Bytes that can be written before the node crosses the high watermark.
    pub fn usable(&self, watermark_pct: f64) -> u64 {
        let reserve = (self.total_bytes as f64 * (100.0 - watermark_pct) / 100.0).ceil() as u64;
        self.free_bytes.saturating_sub(reserve)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DiskFit {
    pub required: u64,
    pub usable: u64,
}

/// Whether `primary_bytes` (with `replicas` copies each, capped by the nodes that can hold them) fit
/// the data nodes' space below `watermark_pct`.
pub fn check_disk(
    primary_bytes: u64,
    replicas: u32,
    nodes: &[NodeDisk],
    watermark_pct: f64,
) -> Result<DiskFit, RestoreError> {
    // A replica never shares a node with its primary, so one data node means no replica is allocated.
    let placeable = (nodes.len() as u64)
        .saturating_sub(1)
        .min(u64::from(replicas));
    let copies = 1 + placeable;
    let required = primary_bytes.saturating_mul(copies);
    let usable: u64 = nodes.iter().map(|n| n.usable(watermark_pct)).sum();
    if required > usable {
        return Err(RestoreError::DiskTooSmall {
            required,
            primaries: primary_bytes,
            copies,
            usable,
            watermark: watermark_pct,
        });
    }
    Ok(DiskFit { required, usable })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(name: &str, start: i64, state: SnapshotState, indices: &[&str]) -> SnapshotSummary {
        SnapshotSummary {
            name: name.into(),
            state,
            start_ms: Some(start),
            end_ms: None,
            indices: indices.iter().map(|s| s.to_string()).collect(),
            shards_total: 1,
            shards_failed: 0,
        }
    }

    fn seed() -> Vec<SnapshotSummary> {
        vec![
            snap(
                "s1",
                1,
                SnapshotState::Success,
                &["ks-logstash-log-2019.11.11", "ks-logstash-log-2019.11.12"],
            ),
            snap(
                "s2",
                2,
                SnapshotState::Success,
                &[
                    "ks-logstash-log-2019.11.12",
                    "ks-logstash-log-2019.11.13",
                    ".kibana",
                ],
            ),
            snap(
                "s3",
                3,
                SnapshotState::Partial,
                &["ks-logstash-log-2019.11.12"],
            ),
            snap(
                "s4",
                4,
                SnapshotState::Success,
                &["ks-logstash-log-2019.11.14"],
            ),
            snap(
                "s5",
                5,
                SnapshotState::InProgress,
                &["ks-logstash-log-2019.11.12"],
            ),
        ]
    }

    #[test]
    fn a_date_picks_the_newest_success_snapshot_holding_it() {
        let snaps = seed();
        let chosen =
            choose_snapshot(&snaps, None, &IndexFilter::Date("2019.11.12".into())).unwrap();
        assert_eq!(chosen.name, "s2");
        let chosen = choose_snapshot(
            &snaps,
            None,
            &IndexFilter::Patterns(vec!["*2019.11.11".into()]),
        )
        .unwrap();
        assert_eq!(chosen.name, "s1");
        assert_eq!(
            choose_snapshot(&snaps, None, &IndexFilter::All)
                .unwrap()
                .name,
            "s4"
        );
        assert_eq!(
            choose_snapshot(&snaps, None, &IndexFilter::Date("2020.01.01".into())),
            Err(RestoreError::NothingContains("*2020.01.01*".into()))
        );
    }

    #[test]
    fn named_snapshots_must_exist_and_be_restorable() {
        let snaps = seed();
        assert_eq!(
            choose_snapshot(&snaps, Some("s3"), &IndexFilter::All)
                .unwrap()
                .name,
            "s3"
        );
        assert_eq!(
            choose_snapshot(&snaps, Some("nope"), &IndexFilter::All),
            Err(RestoreError::NoSuchSnapshot("nope".into()))
        );
        assert!(matches!(
            choose_snapshot(&snaps, Some("s5"), &IndexFilter::All),
            Err(RestoreError::NotRestorable { .. })
        ));
    }

    #[test]
    fn the_plan_restores_only_selected_indices_and_skips_system_ones_by_default() {
        let snaps = seed();
        let p = plan_restore(&snaps[1], &IndexFilter::All, None, OnConflict::Refuse, &[]).unwrap();
        assert_eq!(
            p.indices,
            ["ks-logstash-log-2019.11.12", "ks-logstash-log-2019.11.13"]
        );
        let p = plan_restore(
            &snaps[1],
            &IndexFilter::Date("2019.11.12".into()),
            None,
            OnConflict::Refuse,
            &[],
        )
        .unwrap();
        assert_eq!(p.indices, ["ks-logstash-log-2019.11.12"]);
        assert!(matches!(
            plan_restore(
                &snaps[1],
                &IndexFilter::Date("2018.01.01".into()),
                None,
                OnConflict::Refuse,
                &[]
            ),
            Err(RestoreError::NoIndexInSnapshot { .. })
        ));
    }

    #[test]
    fn open_same_named_indices_are_refused_with_the_three_ways_out() {
        let snaps = seed();
        let filter = IndexFilter::Date("2019.11.12".into());
        let existing = [
            ExistingIndex {
                name: "ks-logstash-log-2019.11.12".into(),
                open: true,
            },
            ExistingIndex {
                name: "ks-logstash-log-2019.11.13".into(),
                open: true,
            },
        ];
        let err =
            plan_restore(&snaps[1], &filter, None, OnConflict::Refuse, &existing).unwrap_err();
        assert_eq!(
            err,
            RestoreError::OpenIndexConflict(vec!["ks-logstash-log-2019.11.12".into()])
        );
        let text = err.to_string();
        for way in ["--rename-prefix", "--close-existing", "--replace"] {
            assert!(text.contains(way), "{text}");
        }
        let p = plan_restore(
            &snaps[1],
            &filter,
            None,
            OnConflict::CloseExisting,
            &existing,
        )
        .unwrap();
        assert_eq!(p.close_first, ["ks-logstash-log-2019.11.12"]);
        let p = plan_restore(&snaps[1], &filter, None, OnConflict::Replace, &existing).unwrap();
        assert_eq!(p.delete_first, ["ks-logstash-log-2019.11.12"]);
        let p = plan_restore(
            &snaps[1],
            &filter,
            Some("restored-"),
            OnConflict::Refuse,
            &existing,
        )
        .unwrap();
        assert_eq!(p.targets, ["restored-ks-logstash-log-2019.11.12"]);
        assert!(p.close_first.is_empty() && p.delete_first.is_empty());
    }

    #[test]
    fn closed_same_named_indices_are_no_conflict() {
        let snaps = seed();
        let existing = [ExistingIndex {
            name: "ks-logstash-log-2019.11.14".into(),
            open: false,
        }];
        let p = plan_restore(
            &snaps[3],
            &IndexFilter::All,
            None,
            OnConflict::Refuse,
            &existing,
        )
        .unwrap();
        assert!(p.close_first.is_empty());
    }

    fn node(total: u64, free: u64) -> NodeDisk {
        NodeDisk {
            name: "n".into(),
            total_bytes: total,
            free_bytes: free,
        }
    }

    #[test]
    fn disk_fit_keeps_the_high_watermark_margin() {
        // 1000 total, 300 free, 90% watermark: 100 reserved, 200 usable.
        assert_eq!(node(1000, 300).usable(90.0), 200);
        assert_eq!(node(1000, 50).usable(90.0), 0);
        assert!(check_disk(200, 0, &[node(1000, 300)], 90.0).is_ok());
        let err = check_disk(201, 0, &[node(1000, 300)], 90.0).unwrap_err();
        assert!(matches!(
            err,
            RestoreError::DiskTooSmall {
                required: 201,
                usable: 200,
                ..
            }
        ));
        assert!(err.to_string().contains("90% high watermark"), "{err}");
    }

    #[test]
    fn replicas_count_only_when_another_node_can_hold_them() {
        assert_eq!(
            check_disk(100, 1, &[node(1000, 300)], 90.0)
                .unwrap()
                .required,
            100
        );
        assert_eq!(
            check_disk(100, 1, &[node(1000, 300), node(1000, 300)], 90.0)
                .unwrap()
                .required,
            200
        );
        assert!(check_disk(250, 1, &[node(1000, 300), node(1000, 300)], 90.0).is_err());
        assert!(check_disk(1, 0, &[], 90.0).is_err());
    }
}
