//! Snapshot names: `etcd-<origin>-<node>-<UTC time>`, as k3s names them by node and time, with the
//! origin in the name so that a listing shows which retention owns a snapshot.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// Who took a snapshot. Each origin has its own retention: a manual `prune` never deletes a
/// scheduled snapshot, and the schedule's never deletes a manual one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    Manual,
    Scheduled,
}

impl Origin {
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Manual => "manual",
            Origin::Scheduled => "scheduled",
        }
    }
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

const PREFIX: &str = "etcd-";
/// `20261206T083000Z`: sorts as it reads, and has no `:` (a path component on every system).
const STAMP: &str = "%Y%m%dT%H%M%SZ";
const STAMP_LEN: usize = 16;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotName {
    pub origin: Origin,
    pub node: String,
    pub taken_at: Timestamp,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NameError {
    #[error("node name {0:?} cannot be part of a snapshot name: use letters, digits, '-' and '.' (a Kubernetes node name)")]
    Node(String),
    #[error(
        "{0:?} is not an etcd snapshot name (etcd-<manual|scheduled>-<node>-<YYYYMMDDTHHMMSSZ>)"
    )]
    Name(String),
}

impl SnapshotName {
    pub fn new(origin: Origin, node: &str, taken_at: Timestamp) -> Result<Self, NameError> {
        let valid = !node.is_empty()
            && node.len() <= 253
            && node
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
        if !valid {
            return Err(NameError::Node(node.to_owned()));
        }
        // Whole seconds: the name is parsed back into the same time.
        let taken_at = Timestamp::from_second(taken_at.as_second())
            .map_err(|_| NameError::Node(node.to_owned()))?;
        Ok(SnapshotName {
            origin,
            node: node.to_owned(),
            taken_at,
        })
    }

    pub fn parse(name: &str) -> Result<Self, NameError> {
        let bad = || NameError::Name(name.to_owned());
        let rest = name.strip_prefix(PREFIX).ok_or_else(bad)?;
        let (origin, rest) = if let Some(r) = rest.strip_prefix("manual-") {
            (Origin::Manual, r)
        } else if let Some(r) = rest.strip_prefix("scheduled-") {
            (Origin::Scheduled, r)
        } else {
            return Err(bad());
        };
        if rest.len() < STAMP_LEN + 2 || !rest.is_char_boundary(rest.len() - STAMP_LEN - 1) {
            return Err(bad());
        }
        let (node, stamp) = rest.split_at(rest.len() - STAMP_LEN - 1);
        let stamp = stamp.strip_prefix('-').ok_or_else(bad)?;
        let taken_at = jiff::fmt::strtime::parse(STAMP, stamp)
            .and_then(|t| t.to_datetime())
            .and_then(|dt| dt.to_zoned(jiff::tz::TimeZone::UTC))
            .map_err(|_| bad())?
            .timestamp();
        SnapshotName::new(origin, node, taken_at).map_err(|_| bad())
    }
}

impl std::fmt::Display for SnapshotName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let stamp = self
            .taken_at
            .to_zoned(jiff::tz::TimeZone::UTC)
            .strftime(STAMP);
        write!(f, "{PREFIX}{}-{}-{stamp}", self.origin, self.node)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn a_name_reads_back_as_what_made_it() {
        let name = SnapshotName::new(
            Origin::Scheduled,
            "cp-1.example",
            at("2026-12-06T08:30:05.7Z"),
        )
        .unwrap();
        assert_eq!(
            name.to_string(),
            "etcd-scheduled-cp-1.example-20261206T083005Z"
        );
        let back = SnapshotName::parse(&name.to_string()).unwrap();
        assert_eq!(back, name);
        assert_eq!(back.taken_at, at("2026-12-06T08:30:05Z"));
    }

    #[test]
    fn names_of_one_origin_sort_by_time() {
        let a = SnapshotName::new(Origin::Manual, "n", at("2026-01-02T00:00:00Z")).unwrap();
        let b = SnapshotName::new(Origin::Manual, "n", at("2026-11-02T00:00:00Z")).unwrap();
        assert!(a.to_string() < b.to_string());
    }

    #[test]
    fn foreign_names_and_bad_nodes_are_refused() {
        for bad in [
            "etcd-manual-20261206T083005Z",
            "on-demand-n-1700000000",
            "etcd-weekly-n-20261206T083005Z",
            "etcd-manual-n-2026120",
            "etcd-manual-N_X-20261206T083005Z",
        ] {
            assert!(SnapshotName::parse(bad).is_err(), "{bad}");
        }
        assert!(SnapshotName::new(Origin::Manual, "a/b", at("2026-01-01T00:00:00Z")).is_err());
        assert!(SnapshotName::new(Origin::Manual, "", at("2026-01-01T00:00:00Z")).is_err());
    }
}
