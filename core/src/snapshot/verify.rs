//! Proof that a snapshot restores: the document counts recorded when it was taken, the restore test's
//! plan (temporary names, no replicas) and the verdict on what came back.
//!
//! PURE: the workflow in the CLI gathers counts, shard states and search hits and hands them in.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{json, Map, Value};

use super::restore::RestorePlan;
use super::restore::{plan_restore, ExistingIndex, IndexFilter, OnConflict, RestoreError};
use super::{SnapshotState, SnapshotSummary};

/// Who took a snapshot, in its `metadata`.
pub const TAKEN_BY: &str = crate::ids::PRODUCT;
/// The metadata key holding `{index: documents}` counted just before the snapshot started.
pub const COUNTS_KEY: &str = "doc_counts";
/// Restored copies are named `PREFIX<run>-<index>`: `prune`, `coverage` and people recognise them,
/// and a run interrupted beyond cleanup leaves indices whose names say what they are.
pub const TEMP_PREFIX: &str = "logbackup-verify-";

/// The `metadata` a snapshot we take carries: who took it and, when counted, the documents per index.
pub fn snapshot_metadata(counts: Option<&BTreeMap<String, u64>>, counted_at_ms: i64) -> Value {
    let mut m = Map::new();
    m.insert(crate::ids::TAKEN_BY_KEY.into(), json!(TAKEN_BY));
    if let Some(counts) = counts {
        m.insert(COUNTS_KEY.into(), json!(counts));
        m.insert("counted_at_ms".into(), json!(counted_at_ms));
    }
    Value::Object(m)
}

/// The counts recorded in a snapshot's metadata, if it carries any.
pub fn recorded_counts(metadata: Option<&Value>) -> Option<BTreeMap<String, u64>> {
    let counts = metadata?.get(COUNTS_KEY)?.as_object()?;
    Some(
        counts
            .iter()
            .filter_map(|(k, v)| v.as_u64().map(|n| (k.clone(), n)))
            .collect(),
    )
}

/// The temporary prefix of one run: unique per run so two runs never share indices.
pub fn run_prefix(now_ms: i64) -> String {
    format!("{TEMP_PREFIX}{}-", now_ms.max(0))
}

/// Whether an index is a restore test's temporary copy.
pub fn is_temporary(index: &str) -> bool {
    index.starts_with(TEMP_PREFIX)
}

/// A restore test's temporary copy found by `prune`: one whose run (the time in its prefix)
/// started more than the grace ago is left over from a killed test and goes; a younger one may
/// belong to a test still running and stays.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Leftover {
    pub index: String,
    pub age_hours: Option<i64>,
    pub delete: bool,
    pub why: String,
}

/// The temporary copies among `indices`, each with its decision.
pub fn leftovers(indices: &[String], now_ms: i64, grace_hours: u32) -> Vec<Leftover> {
    let hour = super::DAY_MS / 24;
    indices
        .iter()
        .filter(|i| is_temporary(i))
        .map(|index| {
            let started: Option<i64> = index[TEMP_PREFIX.len()..]
                .split('-')
                .next()
                .and_then(|ms| ms.parse().ok());
            let age_hours = started.map(|ms| (now_ms - ms).max(0) / hour);
            let (delete, why) = match age_hours {
                Some(h) if h >= i64::from(grace_hours) => (
                    true,
                    format!("left by a restore test that started {h}h ago (grace {grace_hours}h)"),
                ),
                Some(h) => (
                    false,
                    format!("a restore test started {h}h ago may still be running (grace {grace_hours}h)"),
                ),
                None => (
                    false,
                    "its start time is not in its name; delete it by hand when no restore test runs"
                        .to_string(),
                ),
            };
            Leftover {
                index: index.clone(),
                age_hours,
                delete,
                why,
            }
        })
        .collect()
}

/// The restore test's plan: the shared restore planning, under a run prefix, never touching what
/// exists (a clash with an existing index is refused, not closed or replaced).
pub fn plan_restore_test(
    snapshot: &SnapshotSummary,
    filter: &IndexFilter,
    prefix: &str,
    existing: &[ExistingIndex],
) -> Result<RestorePlan, RestoreError> {
    plan_restore(snapshot, filter, Some(prefix), OnConflict::Refuse, existing)
}

/// Where the expected count of an index came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "source", content = "documents", rename_all = "snake_case")]
pub enum Expected {
    /// Counted when the snapshot was taken (its metadata).
    Recorded(u64),
    /// The snapshot carries none; the live index still exists and has this many now.
    Live(u64),
    NotRecorded,
}

impl Expected {
    pub fn choose(recorded: Option<u64>, live: Option<u64>) -> Self {
        match (recorded, live) {
            (Some(n), _) => Self::Recorded(n),
            (None, Some(n)) => Self::Live(n),
            (None, None) => Self::NotRecorded,
        }
    }
    pub fn documents(&self) -> Option<u64> {
        match self {
            Self::Recorded(n) | Self::Live(n) => Some(*n),
            Self::NotRecorded => None,
        }
    }
}

/// What was observed of one restored index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Observed {
    pub index: String,
    pub restored_as: String,
    pub expected: Expected,
    /// Primary shards started / expected.
    pub primaries_started: u64,
    pub primaries: u64,
    /// `_count` of the restored copy (None when it could not be read).
    pub found: Option<u64>,
    /// Whether a one-document search returned a document.
    pub sample_hit: bool,
    pub bytes: u64,
    pub took_ms: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IndexVerdict {
    /// Shards started, the count matches, a search returns documents.
    Matched,
    /// As `Matched`, but more documents than counted: they were written while the snapshot ran
    /// (snapshots are not point-in-time; the count is taken just before the snapshot starts).
    MatchedMore,
    /// Shards started and a search returns documents, but there was no count to compare.
    CountNotRecorded,
    /// Fewer documents than counted.
    CountMismatch,
    PrimariesNotStarted,
    NoDocuments,
}

impl IndexVerdict {
    pub fn passed(self) -> bool {
        matches!(
            self,
            Self::Matched | Self::MatchedMore | Self::CountNotRecorded
        )
    }
    pub fn describe(self) -> &'static str {
        match self {
            Self::Matched => "matched",
            Self::MatchedMore => "matched (more: written during the snapshot)",
            Self::CountNotRecorded => "restored (count not recorded)",
            Self::CountMismatch => "COUNT MISMATCH",
            Self::PrimariesNotStarted => "PRIMARIES NOT STARTED",
            Self::NoDocuments => "NO DOCUMENTS FOUND",
        }
    }
}

pub fn judge(o: &Observed) -> IndexVerdict {
    if o.primaries == 0 || o.primaries_started < o.primaries {
        return IndexVerdict::PrimariesNotStarted;
    }
    let found = o.found.unwrap_or(0);
    match o.expected.documents() {
        Some(expected) if found < expected => IndexVerdict::CountMismatch,
        // An empty index restored empty is a match; a search cannot return documents it lacks.
        Some(0) if found == 0 => IndexVerdict::Matched,
        _ if !o.sample_hit => IndexVerdict::NoDocuments,
        Some(expected) if found > expected => {
            if matches!(o.expected, Expected::Recorded(_)) {
                IndexVerdict::MatchedMore
            } else {
                // A live index keeps growing after the snapshot: more now is expected.
                IndexVerdict::Matched
            }
        }
        Some(_) => IndexVerdict::Matched,
        None => IndexVerdict::CountNotRecorded,
    }
}

/// One index's line in the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IndexReport {
    #[serde(flatten)]
    pub observed: Observed,
    pub verdict: IndexVerdict,
}

/// The restore test's result, as printed and returned.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RestoreTestReport {
    pub repository: String,
    pub snapshot: String,
    pub indices: Vec<IndexReport>,
    pub bytes: u64,
    pub took_ms: u64,
    /// Restored bytes per second over the whole test (restore, recovery, checks).
    pub throughput_bytes_per_s: u64,
    pub passed: bool,
    pub verdict: String,
    /// When it ran (epoch ms).
    pub at_ms: i64,
}

pub fn report(
    repository: &str,
    snapshot: &str,
    observed: Vec<Observed>,
    took_ms: u64,
    at_ms: i64,
) -> RestoreTestReport {
    let indices: Vec<IndexReport> = observed
        .into_iter()
        .map(|o| IndexReport {
            verdict: judge(&o),
            observed: o,
        })
        .collect();
    let bytes: u64 = indices.iter().map(|i| i.observed.bytes).sum();
    let failed: Vec<&IndexReport> = indices.iter().filter(|i| !i.verdict.passed()).collect();
    let passed = !indices.is_empty() && failed.is_empty();
    let verdict = if indices.is_empty() {
        "FAILED: nothing was restored".to_string()
    } else if passed {
        let unrecorded = indices
            .iter()
            .filter(|i| i.verdict == IndexVerdict::CountNotRecorded)
            .count();
        if unrecorded > 0 {
            format!(
                "RESTORABLE: {} indices restored and searchable ({unrecorded} without a recorded count)",
                indices.len()
            )
        } else {
            format!(
                "RESTORABLE: {} indices restored, every document count matched",
                indices.len()
            )
        }
    } else {
        format!(
            "FAILED: {} of {} indices did not come back intact ({})",
            failed.len(),
            indices.len(),
            failed
                .iter()
                .map(|f| format!("{}: {}", f.observed.index, f.verdict.describe()))
                .collect::<Vec<_>>()
                .join("; ")
        )
    };
    let throughput_bytes_per_s = bytes
        .saturating_mul(1000)
        .checked_div(took_ms)
        .unwrap_or(bytes.saturating_mul(1000));
    RestoreTestReport {
        repository: repository.to_string(),
        snapshot: snapshot.to_string(),
        indices,
        bytes,
        took_ms,
        throughput_bytes_per_s,
        passed,
        verdict,
        at_ms,
    }
}

/// `verify` without `--restore-test`: what the repository and the snapshot's own record say.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SnapshotCheck {
    pub repository: String,
    pub repository_verified: bool,
    pub snapshot: String,
    pub state: SnapshotState,
    pub shards_total: u64,
    pub shards_failed: u64,
    pub indices: Vec<String>,
    pub counts_recorded: bool,
    pub problems: Vec<String>,
    pub passed: bool,
}

pub fn check_snapshot(
    repository: &str,
    repository_problem: Option<String>,
    snapshot: &SnapshotSummary,
    counts: Option<&BTreeMap<String, u64>>,
) -> SnapshotCheck {
    let mut problems = Vec::new();
    if let Some(p) = &repository_problem {
        problems.push(format!("repository {repository} failed verification: {p}"));
    }
    if snapshot.state != SnapshotState::Success {
        problems.push(format!(
            "snapshot is {}, not SUCCESS: it is not a complete backup",
            snapshot.state
        ));
    }
    if snapshot.shards_failed > 0 {
        problems.push(format!(
            "{} of {} shards failed",
            snapshot.shards_failed, snapshot.shards_total
        ));
    }
    if snapshot.indices.is_empty() {
        problems.push("the snapshot holds no index".into());
    }
    SnapshotCheck {
        repository: repository.to_string(),
        repository_verified: repository_problem.is_none(),
        snapshot: snapshot.name.clone(),
        state: snapshot.state.clone(),
        shards_total: snapshot.shards_total,
        shards_failed: snapshot.shards_failed,
        indices: snapshot.indices.clone(),
        counts_recorded: counts.is_some(),
        passed: problems.is_empty(),
        problems,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(expected: Expected, found: Option<u64>, hit: bool) -> Observed {
        Observed {
            index: "ks-logstash-log-2019.11.12".into(),
            restored_as: "logbackup-verify-1-ks-logstash-log-2019.11.12".into(),
            expected,
            primaries_started: 1,
            primaries: 1,
            found,
            sample_hit: hit,
            bytes: 1000,
            took_ms: 10,
        }
    }

    #[test]
    fn metadata_round_trips_the_counts_and_says_who_took_it() {
        let counts = BTreeMap::from([("a".to_string(), 5u64), ("b".to_string(), 0)]);
        let m = snapshot_metadata(Some(&counts), 42);
        assert_eq!(m["taken_by"], TAKEN_BY);
        assert_eq!(recorded_counts(Some(&m)), Some(counts));
        let bare = snapshot_metadata(None, 42);
        assert_eq!(recorded_counts(Some(&bare)), None);
        assert_eq!(recorded_counts(None), None);
    }

    #[test]
    fn verdicts_follow_counts_shards_and_the_sample() {
        assert_eq!(
            judge(&seen(Expected::Recorded(10), Some(10), true)),
            IndexVerdict::Matched
        );
        assert_eq!(
            judge(&seen(Expected::Recorded(10), Some(12), true)),
            IndexVerdict::MatchedMore
        );
        assert_eq!(
            judge(&seen(Expected::Recorded(10), Some(9), true)),
            IndexVerdict::CountMismatch
        );
        assert_eq!(
            judge(&seen(Expected::Live(10), Some(12), true)),
            IndexVerdict::Matched
        );
        assert_eq!(
            judge(&seen(Expected::NotRecorded, Some(3), true)),
            IndexVerdict::CountNotRecorded
        );
        assert_eq!(
            judge(&seen(Expected::NotRecorded, Some(3), false)),
            IndexVerdict::NoDocuments
        );
        assert_eq!(
            judge(&seen(Expected::Recorded(0), Some(0), false)),
            IndexVerdict::Matched
        );
        let mut red = seen(Expected::Recorded(10), Some(10), true);
        red.primaries_started = 0;
        assert_eq!(judge(&red), IndexVerdict::PrimariesNotStarted);
    }

    #[test]
    fn the_report_passes_only_when_every_index_did() {
        let ok = report(
            "r",
            "s",
            vec![seen(Expected::Recorded(10), Some(10), true)],
            2000,
            7,
        );
        assert!(ok.passed, "{}", ok.verdict);
        assert_eq!(ok.throughput_bytes_per_s, 500);
        let bad = report(
            "r",
            "s",
            vec![
                seen(Expected::Recorded(10), Some(10), true),
                seen(Expected::Recorded(10), Some(4), true),
            ],
            1000,
            7,
        );
        assert!(!bad.passed);
        assert!(bad.verdict.contains("1 of 2"), "{}", bad.verdict);
        assert!(bad.verdict.contains("COUNT MISMATCH"), "{}", bad.verdict);
        assert!(!report("r", "s", vec![], 1, 7).passed);
    }

    #[test]
    fn restore_tests_use_the_run_prefix_and_never_touch_existing_indices() {
        let snap = SnapshotSummary {
            name: "s".into(),
            state: SnapshotState::Success,
            start_ms: Some(1),
            end_ms: Some(2),
            indices: vec!["ks-logstash-log-2019.11.12".into(), ".kibana".into()],
            shards_total: 2,
            shards_failed: 0,
        };
        let prefix = run_prefix(99);
        let p = plan_restore_test(&snap, &IndexFilter::All, &prefix, &[]).unwrap();
        assert_eq!(
            p.targets,
            ["logbackup-verify-99-ks-logstash-log-2019.11.12"]
        );
        assert!(p.targets.iter().all(|t| is_temporary(t)));
        let clash = [ExistingIndex {
            name: p.targets[0].clone(),
            open: true,
        }];
        assert!(plan_restore_test(&snap, &IndexFilter::All, &prefix, &clash).is_err());
    }

    #[test]
    fn snapshot_checks_name_every_problem() {
        let snap = SnapshotSummary {
            name: "s".into(),
            state: SnapshotState::Partial,
            start_ms: Some(1),
            end_ms: Some(2),
            indices: vec!["a".into()],
            shards_total: 4,
            shards_failed: 1,
        };
        let c = check_snapshot("r", Some("not shared".into()), &snap, None);
        assert!(!c.passed);
        assert_eq!(c.problems.len(), 3, "{:?}", c.problems);
        let good = SnapshotSummary {
            state: SnapshotState::Success,
            shards_failed: 0,
            ..snap
        };
        assert!(check_snapshot("r", None, &good, None).passed);
    }

    #[test]
    fn leftovers_older_than_the_grace_go_and_younger_ones_stay() {
        let now = 100 * super::super::DAY_MS;
        let hour = super::super::DAY_MS / 24;
        let names: Vec<String> = vec![
            format!("{}ks-logstash-log-2019.11.12", run_prefix(now - 30 * hour)),
            format!("{}ks-logstash-log-2019.11.12", run_prefix(now - hour)),
            "logbackup-verify-x-ks".into(),
            "ks-logstash-log-2019.11.12".into(),
        ];
        let l = leftovers(&names, now, 24);
        assert_eq!(l.len(), 3);
        assert!(l[0].delete && l[0].age_hours == Some(30), "{l:?}");
        assert!(!l[1].delete && l[1].why.contains("may still be running"));
        assert!(!l[2].delete && l[2].age_hours.is_none());
    }
}
