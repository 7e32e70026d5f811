//! Retention planning: Curator's `delete_snapshots` (age, prefix, timestring) and SLM retention
//! (`expire_after`, `min_count`, `max_count`) in one pure function that explains every decision.

use jiff::Timestamp;
use serde::Serialize;

use super::naming::time_from_name;
use super::{SnapshotState, SnapshotSummary, DAY_MS};

/// Where a snapshot's age comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgeSource {
    /// The server's `start_time_in_millis` (Curator's `source: creation_date`).
    StartTime,
    /// A time encoded in the name (Curator's `source: name` with a `timestring`).
    Name { timestring: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetentionPolicy {
    /// Snapshots older than this many days are deleted (SLM `expire_after`, Curator `unit_count`).
    pub keep_days: Option<u32>,
    /// The newest `min_count` SUCCESS snapshots are never deleted, whatever their age.
    pub min_count: usize,
    /// SUCCESS snapshots beyond the newest `max_count` are deleted, whatever their age.
    pub max_count: Option<usize>,
    /// Only snapshots whose name starts with this are considered.
    pub prefix: Option<String>,
    pub age_from: AgeSource,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PolicyError {
    #[error("nothing to prune by: give --keep-days and/or --max-count")]
    NoLimit,
    #[error("--min-count {min} is larger than --max-count {max}")]
    MinAboveMax { min: usize, max: usize },
}

impl RetentionPolicy {
    pub fn validate(&self) -> Result<(), PolicyError> {
        if self.keep_days.is_none() && self.max_count.is_none() {
            return Err(PolicyError::NoLimit);
        }
        match self.max_count {
            Some(max) if self.min_count > max => Err(PolicyError::MinAboveMax {
                min: self.min_count,
                max,
            }),
            _ => Ok(()),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Keep,
    Delete,
}

/// Why a snapshot is kept or deleted; `Display` is the sentence shown to the operator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "rule", rename_all = "kebab-case")]
pub enum Reason {
    PrefixMismatch {
        prefix: String,
    },
    InProgress,
    AgeUnknown {
        source: String,
    },
    Young {
        age_days: i64,
        keep_days: u32,
    },
    WithinMaxCount {
        rank: usize,
        max_count: usize,
    },
    Expired {
        age_days: i64,
        keep_days: u32,
    },
    OverMaxCount {
        rank: usize,
        max_count: usize,
    },
    MinCount {
        rank: usize,
        min_count: usize,
        instead_of: Box<Reason>,
    },
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::PrefixMismatch { prefix } => write!(f, "name does not start with {prefix:?}"),
            Self::InProgress => f.write_str("in progress: never touched"),
            Self::AgeUnknown { source } => write!(f, "age unknown ({source}): kept"),
            Self::Young { age_days, keep_days } => {
                write!(f, "{age_days} days old, within --keep-days {keep_days}")
            }
            Self::WithinMaxCount { rank, max_count } => {
                write!(f, "successful snapshot #{rank} (newest first), within --max-count {max_count}")
            }
            Self::Expired { age_days, keep_days } => {
                write!(f, "{age_days} days old, older than --keep-days {keep_days}")
            }
            Self::OverMaxCount { rank, max_count } => {
                write!(f, "successful snapshot #{rank} (newest first), beyond --max-count {max_count}")
            }
            Self::MinCount { rank, min_count, instead_of } => write!(
                f,
                "kept by --min-count {min_count} (successful snapshot #{rank}), although {instead_of}"
            ),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    pub name: String,
    pub state: SnapshotState,
    pub age_days: Option<i64>,
    pub action: Action,
    pub reason: Reason,
    /// The text of `reason`, so JSON/YAML readers need not rebuild it.
    pub why: String,
}

/// Decisions, oldest first (the order deletions run in); snapshots of unknown age come last.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RetentionPlan {
    pub decisions: Vec<Decision>,
}

impl RetentionPlan {
    pub fn to_delete(&self) -> impl Iterator<Item = &Decision> {
        self.decisions.iter().filter(|d| d.action == Action::Delete)
    }
    pub fn kept(&self) -> usize {
        self.decisions
            .iter()
            .filter(|d| d.action == Action::Keep)
            .count()
    }
}

/// Plans which snapshots to delete under `policy` at `now`. Never deletes an IN_PROGRESS snapshot,
/// never leaves fewer than `min_count` SUCCESS snapshots (among those the policy considers), and
/// keeps any snapshot whose age it cannot tell.
pub fn plan(
    snapshots: &[SnapshotSummary],
    policy: &RetentionPolicy,
    now: Timestamp,
) -> Result<RetentionPlan, PolicyError> {
    policy.validate()?;
    let now_ms = now.as_millisecond();
    let mut fixed = Vec::new();
    let mut candidates = Vec::new();
    for s in snapshots {
        if let Some(prefix) = &policy.prefix {
            if !s.name.starts_with(prefix.as_str()) {
                fixed.push((
                    s,
                    None,
                    Reason::PrefixMismatch {
                        prefix: prefix.clone(),
                    },
                ));
                continue;
            }
        }
        if s.state == SnapshotState::InProgress {
            fixed.push((s, None, Reason::InProgress));
            continue;
        }
        let born = match &policy.age_from {
            AgeSource::StartTime => s.start_ms,
            AgeSource::Name { timestring } => {
                time_from_name(&s.name, timestring).map(|t| t.as_millisecond())
            }
        };
        match born {
            Some(born) => candidates.push((s, born)),
            None => {
                let source = match &policy.age_from {
                    AgeSource::StartTime => "no start time".to_string(),
                    AgeSource::Name { timestring } => {
                        format!("name does not match timestring {timestring:?}")
                    }
                };
                fixed.push((s, None, Reason::AgeUnknown { source }));
            }
        }
    }

    // Newest first, so ranks count from the most recent backup.
    candidates.sort_by(|(a, ta), (b, tb)| tb.cmp(ta).then_with(|| b.name.cmp(&a.name)));
    let mut decided = Vec::with_capacity(candidates.len());
    let mut successes = 0usize;
    for (s, born) in candidates {
        let age_ms = now_ms.saturating_sub(born);
        let age_days = age_ms.div_euclid(DAY_MS);
        let success = s.state == SnapshotState::Success;
        if success {
            successes += 1;
        }
        let expired = policy
            .keep_days
            .filter(|&keep| age_ms > i64::from(keep) * DAY_MS)
            .map(|keep_days| Reason::Expired {
                age_days,
                keep_days,
            });
        let over_max = policy
            .max_count
            .filter(|&max| success && successes > max)
            .map(|max_count| Reason::OverMaxCount {
                rank: successes,
                max_count,
            });
        let (action, reason) = match over_max.or(expired) {
            Some(why) if success && successes <= policy.min_count => (
                Action::Keep,
                Reason::MinCount {
                    rank: successes,
                    min_count: policy.min_count,
                    instead_of: Box::new(why),
                },
            ),
            Some(why) => (Action::Delete, why),
            None => (
                Action::Keep,
                match (policy.keep_days, policy.max_count) {
                    (Some(keep_days), _) => Reason::Young {
                        age_days,
                        keep_days,
                    },
                    (None, Some(max_count)) if success => Reason::WithinMaxCount {
                        rank: successes,
                        max_count,
                    },
                    // Only reachable for non-SUCCESS snapshots under a count-only policy.
                    (None, _) => Reason::AgeUnknown {
                        source: "not counted by --max-count".into(),
                    },
                },
            ),
        };
        decided.push((born, decision(s, Some(age_days), action, reason)));
    }
    decided.sort_by(|(ta, a), (tb, b)| ta.cmp(tb).then_with(|| a.name.cmp(&b.name)));
    let mut decisions: Vec<Decision> = decided.into_iter().map(|(_, d)| d).collect();
    decisions.extend(
        fixed
            .into_iter()
            .map(|(s, age, reason)| decision(s, age, Action::Keep, reason)),
    );
    Ok(RetentionPlan { decisions })
}

fn decision(
    s: &SnapshotSummary,
    age_days: Option<i64>,
    action: Action,
    reason: Reason,
) -> Decision {
    Decision {
        name: s.name.clone(),
        state: s.state.clone(),
        age_days,
        action,
        why: reason.to_string(),
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: &str = "2019-12-31T00:00:00Z";

    fn now() -> Timestamp {
        NOW.parse().unwrap()
    }

    fn snap(name: &str, days_old: i64, state: SnapshotState) -> SnapshotSummary {
        SnapshotSummary {
            name: name.into(),
            state,
            start_ms: Some(now().as_millisecond() - days_old * DAY_MS),
            end_ms: None,
            indices: vec![],
            shards_total: 1,
            shards_failed: 0,
        }
    }

    fn ok(name: &str, days_old: i64) -> SnapshotSummary {
        snap(name, days_old, SnapshotState::Success)
    }

    fn policy(
        keep_days: Option<u32>,
        min_count: usize,
        max_count: Option<usize>,
    ) -> RetentionPolicy {
        RetentionPolicy {
            keep_days,
            min_count,
            max_count,
            prefix: None,
            age_from: AgeSource::StartTime,
        }
    }

    fn deleted(plan: &RetentionPlan) -> Vec<&str> {
        plan.to_delete().map(|d| d.name.as_str()).collect()
    }

    fn reason_of<'a>(plan: &'a RetentionPlan, name: &str) -> &'a Reason {
        &plan
            .decisions
            .iter()
            .find(|d| d.name == name)
            .unwrap()
            .reason
    }

    #[test]
    fn a_policy_needs_a_limit_and_consistent_counts() {
        assert_eq!(policy(None, 1, None).validate(), Err(PolicyError::NoLimit));
        assert_eq!(
            policy(None, 5, Some(3)).validate(),
            Err(PolicyError::MinAboveMax { min: 5, max: 3 })
        );
        assert!(policy(Some(45), 1, None).validate().is_ok());
        assert!(plan(&[], &policy(None, 0, None), now()).is_err());
    }

    #[test]
    fn keep_days_deletes_only_strictly_older_snapshots_oldest_first() {
        let snaps = [ok("d46", 46), ok("d45", 45), ok("d10", 10), ok("d60", 60)];
        let p = plan(&snaps, &policy(Some(45), 0, None), now()).unwrap();
        assert_eq!(deleted(&p), ["d60", "d46"]);
        assert_eq!(
            reason_of(&p, "d45"),
            &Reason::Young {
                age_days: 45,
                keep_days: 45
            }
        );
        assert_eq!(
            p.decisions
                .iter()
                .map(|d| d.name.as_str())
                .collect::<Vec<_>>(),
            ["d60", "d46", "d45", "d10"]
        );
        assert_eq!(p.kept(), 2);
    }

    #[test]
    fn in_progress_snapshots_are_never_touched() {
        let snaps = [
            snap("running", 400, SnapshotState::InProgress),
            ok("old", 400),
        ];
        let p = plan(&snaps, &policy(Some(1), 0, Some(0)), now()).unwrap();
        assert_eq!(deleted(&p), ["old"]);
        assert_eq!(reason_of(&p, "running"), &Reason::InProgress);
    }

    #[test]
    fn min_count_protects_the_newest_successes_even_when_all_expired() {
        let snaps = [ok("a", 100), ok("b", 90), ok("c", 80)];
        let p = plan(&snaps, &policy(Some(45), 2, None), now()).unwrap();
        assert_eq!(deleted(&p), ["a"]);
        assert!(matches!(
            reason_of(&p, "c"),
            Reason::MinCount {
                rank: 1,
                min_count: 2,
                ..
            }
        ));
        assert!(p
            .decisions
            .iter()
            .find(|d| d.name == "b")
            .unwrap()
            .why
            .contains("kept by --min-count 2"));
    }

    #[test]
    fn failed_and_partial_snapshots_do_not_count_towards_min_count() {
        let snaps = [
            snap("partial-new", 50, SnapshotState::Partial),
            snap("failed-new", 49, SnapshotState::Failed),
            ok("success-old", 100),
        ];
        let p = plan(&snaps, &policy(Some(45), 1, None), now()).unwrap();
        assert_eq!(deleted(&p), ["partial-new", "failed-new"]);
        assert!(matches!(
            reason_of(&p, "success-old"),
            Reason::MinCount { rank: 1, .. }
        ));
    }

    #[test]
    fn max_count_deletes_the_oldest_successes_beyond_it() {
        let snaps: Vec<_> = (0..5).map(|i| ok(&format!("s{i}"), i)).collect();
        let p = plan(&snaps, &policy(None, 0, Some(3)), now()).unwrap();
        assert_eq!(deleted(&p), ["s4", "s3"]);
        assert_eq!(
            reason_of(&p, "s3"),
            &Reason::OverMaxCount {
                rank: 4,
                max_count: 3
            }
        );
        assert_eq!(
            reason_of(&p, "s0"),
            &Reason::WithinMaxCount {
                rank: 1,
                max_count: 3
            }
        );
    }

    #[test]
    fn max_count_and_keep_days_combine() {
        let snaps = [
            ok("young1", 1),
            ok("young2", 2),
            ok("young3", 3),
            ok("old", 50),
        ];
        let p = plan(&snaps, &policy(Some(45), 1, Some(2)), now()).unwrap();
        assert_eq!(deleted(&p), ["old", "young3"]);
    }

    #[test]
    fn prefix_limits_what_is_considered() {
        let snaps = [
            ok("curator-1", 100),
            ok("snapshot-1", 100),
            ok("snapshot-2", 1),
        ];
        let mut pol = policy(Some(45), 0, None);
        pol.prefix = Some("snapshot-".into());
        let p = plan(&snaps, &pol, now()).unwrap();
        assert_eq!(deleted(&p), ["snapshot-1"]);
        assert_eq!(
            reason_of(&p, "curator-1"),
            &Reason::PrefixMismatch {
                prefix: "snapshot-".into()
            }
        );
    }

    #[test]
    fn age_from_name_uses_the_timestring_and_keeps_what_it_cannot_read() {
        let mut snaps = vec![
            ok("snapshot-20191101000000", 0),
            ok("snapshot-20191230000000", 0),
            ok("manual", 0),
        ];
        snaps[0].start_ms = None;
        let mut pol = policy(Some(45), 0, None);
        pol.age_from = AgeSource::Name {
            timestring: "%Y%m%d%H%M%S".into(),
        };
        let p = plan(&snaps, &pol, now()).unwrap();
        assert_eq!(deleted(&p), ["snapshot-20191101000000"]);
        assert!(matches!(reason_of(&p, "manual"), Reason::AgeUnknown { .. }));
        assert_eq!(p.decisions.last().unwrap().name, "manual");
    }

    #[test]
    fn start_time_missing_means_kept() {
        let mut s = ok("x", 100);
        s.start_ms = None;
        let p = plan(&[s], &policy(Some(1), 0, None), now()).unwrap();
        assert!(deleted(&p).is_empty());
        assert_eq!(
            reason_of(&p, "x"),
            &Reason::AgeUnknown {
                source: "no start time".into()
            }
        );
    }

    #[test]
    fn count_only_policies_keep_non_success_snapshots() {
        let snaps = [snap("p", 10, SnapshotState::Partial), ok("s", 1)];
        let p = plan(&snaps, &policy(None, 0, Some(1)), now()).unwrap();
        assert!(deleted(&p).is_empty());
    }

    #[test]
    fn equal_start_times_are_ordered_by_name_deterministically() {
        let snaps = [ok("b", 10), ok("a", 10), ok("c", 10)];
        let p = plan(&snaps, &policy(None, 0, Some(1)), now()).unwrap();
        // Newest-first ranking breaks ties by name descending: c is #1, b and a go.
        assert_eq!(deleted(&p), ["a", "b"]);
    }

    #[test]
    fn exhaustive_small_sets_respect_every_invariant() {
        let states = [
            SnapshotState::Success,
            SnapshotState::Partial,
            SnapshotState::InProgress,
            SnapshotState::Failed,
        ];
        // Every combination of 4 snapshots over 4 states and 3 ages, under several policies.
        let ages = [1i64, 30, 90];
        for code in 0..(12usize.pow(4)) {
            let snaps: Vec<_> = (0..4)
                .map(|i| {
                    let c = (code / 12usize.pow(i as u32)) % 12;
                    snap(
                        &format!("s{i}"),
                        ages[c % 3] + i as i64,
                        states[c / 3].clone(),
                    )
                })
                .collect();
            for (keep, min, max) in [
                (Some(45), 0, None),
                (Some(45), 2, None),
                (None, 1, Some(1)),
                (Some(20), 1, Some(2)),
            ] {
                let p = plan(&snaps, &policy(keep, min, max), now()).unwrap();
                assert_eq!(p.decisions.len(), snaps.len());
                let del: Vec<_> = deleted(&p);
                for d in &p.decisions {
                    let s = snaps.iter().find(|s| s.name == d.name).unwrap();
                    if s.state == SnapshotState::InProgress {
                        assert_eq!(d.action, Action::Keep);
                    }
                    if d.action == Action::Delete {
                        if let Some(keep) = keep {
                            let too_old = d.age_days.unwrap() >= i64::from(keep);
                            let over = matches!(d.reason, Reason::OverMaxCount { .. });
                            assert!(too_old || over, "{d:?}");
                        }
                    }
                }
                let successes = snaps
                    .iter()
                    .filter(|s| s.state == SnapshotState::Success)
                    .count();
                let successes_deleted = snaps
                    .iter()
                    .filter(|s| s.state == SnapshotState::Success && del.contains(&s.name.as_str()))
                    .count();
                assert!(
                    successes - successes_deleted >= min.min(successes),
                    "min-count violated: {p:?}"
                );
                if let Some(max) = max {
                    assert!(
                        successes - successes_deleted <= max.max(min),
                        "max-count violated: {p:?}"
                    );
                }
            }
        }
    }
}
