//! Which snapshots a prune deletes: by count and by age, within ONE origin. As in k3s, the
//! schedule's retention never touches a manual snapshot and a manual prune never touches the
//! schedule's.

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use super::Origin;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub origin: Origin,
    pub taken_at: Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    pub origin: Origin,
    /// Keep at most this many of the origin's snapshots, newest first.
    pub keep: Option<usize>,
    /// Delete the origin's snapshots older than this.
    pub max_age: Option<SignedDuration>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    pub name: String,
    pub delete: bool,
    pub reason: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RetentionError {
    #[error(
        "prune needs --keep N or --older-than AGE (or both): without one it would keep everything"
    )]
    NoRule,
    #[error("--keep 0 would delete every {0} snapshot; keep at least one")]
    KeepZero(Origin),
}

/// A decision for each of `policy.origin`'s entries, newest first; other origins get none.
pub fn plan(
    entries: &[Entry],
    policy: Policy,
    now: Timestamp,
) -> Result<Vec<Decision>, RetentionError> {
    if policy.keep.is_none() && policy.max_age.is_none() {
        return Err(RetentionError::NoRule);
    }
    if policy.keep == Some(0) {
        return Err(RetentionError::KeepZero(policy.origin));
    }
    let mut mine: Vec<&Entry> = entries
        .iter()
        .filter(|e| e.origin == policy.origin)
        .collect();
    mine.sort_by(|a, b| b.taken_at.cmp(&a.taken_at).then(b.name.cmp(&a.name)));
    let mut out = Vec::with_capacity(mine.len());
    for (i, e) in mine.iter().enumerate() {
        let age = now.duration_since(e.taken_at);
        let (delete, reason) = match (policy.keep, policy.max_age) {
            (Some(k), _) if i >= k => (
                true,
                format!("beyond the newest {k} {} snapshots", policy.origin),
            ),
            (_, Some(max)) if age > max && i > 0 => (true, format!("older than {}", human(max))),
            (_, Some(max)) if age > max => (
                false,
                format!(
                    "older than {}, but the newest {} snapshot is always kept",
                    human(max),
                    policy.origin
                ),
            ),
            _ => (false, "kept".to_owned()),
        };
        out.push(Decision {
            name: e.name.clone(),
            delete,
            reason,
        });
    }
    Ok(out)
}

fn human(d: SignedDuration) -> String {
    let secs = d.as_secs();
    match secs {
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3_600 == 0 => format!("{}h", s / 3_600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(name: &str, origin: Origin, at: &str) -> Entry {
        Entry {
            name: name.into(),
            origin,
            taken_at: at.parse().unwrap(),
        }
    }

    fn entries() -> Vec<Entry> {
        vec![
            e("s1", Origin::Scheduled, "2026-12-01T00:00:00Z"),
            e("s2", Origin::Scheduled, "2026-12-02T00:00:00Z"),
            e("s3", Origin::Scheduled, "2026-12-03T00:00:00Z"),
            e("m1", Origin::Manual, "2026-11-01T00:00:00Z"),
            e("m2", Origin::Manual, "2026-11-02T00:00:00Z"),
        ]
    }

    fn deleted(d: &[Decision]) -> Vec<&str> {
        d.iter()
            .filter(|d| d.delete)
            .map(|d| d.name.as_str())
            .collect()
    }

    #[test]
    fn the_schedules_retention_never_touches_a_manual_snapshot() {
        let now = "2026-12-06T00:00:00Z".parse().unwrap();
        let d = plan(
            &entries(),
            Policy {
                origin: Origin::Scheduled,
                keep: Some(1),
                max_age: None,
            },
            now,
        )
        .unwrap();
        assert_eq!(deleted(&d), vec!["s2", "s1"]);
        assert!(d.iter().all(|d| !d.name.starts_with('m')));
    }

    #[test]
    fn a_manual_prune_never_touches_a_scheduled_snapshot() {
        let now = "2026-12-06T00:00:00Z".parse().unwrap();
        let d = plan(
            &entries(),
            Policy {
                origin: Origin::Manual,
                keep: Some(1),
                max_age: None,
            },
            now,
        )
        .unwrap();
        assert_eq!(deleted(&d), vec!["m1"]);
        assert_eq!(d.len(), 2);
    }

    #[test]
    fn by_age_the_newest_stays_however_old() {
        let now = "2026-12-06T00:00:00Z".parse().unwrap();
        let week = SignedDuration::from_hours(24 * 7);
        let d = plan(
            &entries(),
            Policy {
                origin: Origin::Manual,
                keep: None,
                max_age: Some(week),
            },
            now,
        )
        .unwrap();
        assert_eq!(deleted(&d), vec!["m1"]);
        assert!(d[0].reason.contains("always kept"), "{:?}", d[0]);
        let day = SignedDuration::from_hours(24 * 4);
        let d = plan(
            &entries(),
            Policy {
                origin: Origin::Scheduled,
                keep: Some(5),
                max_age: Some(day),
            },
            now,
        )
        .unwrap();
        assert_eq!(deleted(&d), vec!["s1"]);
        assert_eq!(d[2].reason, "older than 4d");
    }

    #[test]
    fn a_prune_without_a_rule_or_keeping_none_is_refused() {
        let now = "2026-12-06T00:00:00Z".parse().unwrap();
        assert_eq!(
            plan(
                &entries(),
                Policy {
                    origin: Origin::Manual,
                    keep: None,
                    max_age: None
                },
                now
            ),
            Err(RetentionError::NoRule)
        );
        assert!(plan(
            &entries(),
            Policy {
                origin: Origin::Manual,
                keep: Some(0),
                max_age: None
            },
            now
        )
        .is_err());
    }
}
