//! Restore-test proofs: what `snapshot verify --restore-test` records, the bounded history it is kept
//! in (a ConfigMap per repository, or a file), and how `status` judges the newest proof's age.
//!
//! Pure: the store reads and writes the encoded history; the clock arrives as `now_ms`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::coverage::Proof;
use super::verify::RestoreTestReport;
use super::DAY_MS;

/// How many restore tests a history keeps, newest first. A weekly test keeps five months; a
/// ConfigMap stays far below its 1 MiB limit (a record of 30 indices is about 3 KiB).
pub const HISTORY: usize = 20;

/// The key of the history in the ConfigMap's `data` (JSON, so `kubectl get -o yaml` reads it).
pub const DATA_KEY: &str = "proofs.json";

/// The ConfigMap's annotation naming the repository (its name may have been made DNS-safe).
pub const REPOSITORY_ANNOTATION: &str = "logbackup.io/repository";

/// `app.kubernetes.io/component` of the proof ConfigMap.
pub const COMPONENT: &str = "restore-proofs";

/// Default `status --max-proof-age`: a weekly test plus a day of slack.
pub const DEFAULT_MAX_AGE_DAYS: u32 = 8;

/// One index of a restore test, as kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProvenIndex {
    pub index: String,
    /// Documents expected (recorded or live count); `None` when no count was recorded.
    pub expected: Option<u64>,
    pub found: Option<u64>,
    pub took_ms: u64,
    pub passed: bool,
}

/// One restore test, as kept in the history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProofRecord {
    pub snapshot: String,
    pub indices: Vec<ProvenIndex>,
    pub bytes: u64,
    pub took_ms: u64,
    pub throughput_bytes_per_s: u64,
    pub passed: bool,
    pub verdict: String,
    /// When it ran (epoch ms).
    pub at_ms: i64,
}

impl ProofRecord {
    pub fn from_report(r: &RestoreTestReport) -> Self {
        Self {
            snapshot: r.snapshot.clone(),
            indices: r
                .indices
                .iter()
                .map(|i| ProvenIndex {
                    index: i.observed.index.clone(),
                    expected: i.observed.expected.documents(),
                    found: i.observed.found,
                    took_ms: i.observed.took_ms,
                    passed: i.verdict.passed(),
                })
                .collect(),
            bytes: r.bytes,
            took_ms: r.took_ms,
            throughput_bytes_per_s: r.throughput_bytes_per_s,
            passed: r.passed,
            verdict: r.verdict.clone(),
            at_ms: r.at_ms,
        }
    }

    /// The coverage calendar's proof, for a passed test only.
    pub fn proof(&self) -> Option<Proof> {
        self.passed.then(|| Proof {
            snapshot: self.snapshot.clone(),
            indices: self.indices.iter().map(|i| i.index.clone()).collect(),
            at_ms: self.at_ms,
        })
    }
}

/// The proofs `coverage` marks days with: the passed tests of a history.
pub fn proofs(history: &[ProofRecord]) -> Vec<Proof> {
    history.iter().filter_map(ProofRecord::proof).collect()
}

#[derive(Debug, thiserror::Error)]
#[error("the restore-test history is not readable ({why}); fix or delete it, the next restore test writes a new one")]
pub struct ProofError {
    why: String,
}

/// The history from its stored text (empty text: no history yet).
pub fn decode(text: &str) -> Result<Vec<ProofRecord>, ProofError> {
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    serde_json::from_str(text).map_err(|e| ProofError { why: e.to_string() })
}

/// The history as stored: a JSON array, newest first.
pub fn encode(history: &[ProofRecord]) -> Result<String, ProofError> {
    serde_json::to_string_pretty(history).map_err(|e| ProofError { why: e.to_string() })
}

/// `history` with `record` added: newest first, at most `keep`. A record of the same test (same
/// snapshot and time, e.g. a retried write) replaces the old one instead of appearing twice.
pub fn merge(history: Vec<ProofRecord>, record: ProofRecord, keep: usize) -> Vec<ProofRecord> {
    let mut all: Vec<ProofRecord> = history
        .into_iter()
        .filter(|r| !(r.snapshot == record.snapshot && r.at_ms == record.at_ms))
        .collect();
    all.push(record);
    all.sort_by_key(|r| std::cmp::Reverse(r.at_ms));
    all.truncate(keep.max(1));
    all
}

/// The ConfigMap of a repository's proofs: `logbackup-proofs-<repo>`, made a DNS-1123 name
/// (lower case, `[a-z0-9-]`, at most 253 characters). The repository's own name goes in an
/// annotation, so two names that map to the same ConfigMap are told apart on read.
pub fn config_map_name(repository: &str) -> String {
    let safe: String = repository
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let mut name = format!("logbackup-proofs-{}", safe.trim_matches('-'));
    name.truncate(253);
    name.trim_end_matches('-').to_string()
}

/// The ConfigMap that keeps `repository`'s proofs in `namespace`, holding `text` (the encoded
/// history; empty when `schedule create --verify` makes it ready for the job to fill).
pub fn config_map(
    namespace: &str,
    repository: &str,
    text: &str,
) -> k8s_openapi::api::core::v1::ConfigMap {
    use crate::ids::{MANAGED_BY_LABEL, NAME_LABEL, PRODUCT};
    k8s_openapi::api::core::v1::ConfigMap {
        metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
            name: Some(config_map_name(repository)),
            namespace: Some(namespace.to_string()),
            labels: Some(BTreeMap::from([
                (MANAGED_BY_LABEL.to_string(), PRODUCT.to_string()),
                (NAME_LABEL.to_string(), PRODUCT.to_string()),
                (
                    "app.kubernetes.io/component".to_string(),
                    COMPONENT.to_string(),
                ),
            ])),
            annotations: Some(BTreeMap::from([(
                REPOSITORY_ANNOTATION.to_string(),
                repository.to_string(),
            )])),
            ..Default::default()
        },
        data: Some(BTreeMap::from([(DATA_KEY.to_string(), text.to_string())])),
        ..Default::default()
    }
}

/// When each snapshot was last proven restorable (epoch ms), newest first.
pub fn last_proven(history: &[ProofRecord]) -> Vec<(String, i64)> {
    let mut by_snapshot: BTreeMap<&str, i64> = BTreeMap::new();
    for r in history.iter().filter(|r| r.passed) {
        let at = by_snapshot.entry(&r.snapshot).or_insert(r.at_ms);
        *at = (*at).max(r.at_ms);
    }
    let mut out: Vec<(String, i64)> = by_snapshot
        .into_iter()
        .map(|(s, at)| (s.to_string(), at))
        .collect();
    out.sort_by_key(|p| std::cmp::Reverse(p.1));
    out
}

/// What `status` says about restore tests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProofStatus {
    pub ok: bool,
    pub message: String,
    /// The newest passed test's snapshot and age.
    pub newest_snapshot: Option<String>,
    pub newest_at_ms: Option<i64>,
    pub newest_age_hours: Option<i64>,
    /// Snapshot name and when it was last proven restorable (epoch ms), newest first.
    pub last_proven: Vec<LastProven>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LastProven {
    pub snapshot: String,
    pub at_ms: i64,
}

/// Judges the history: fails when the newest passed test is older than `max_age_days`, when the
/// newest test failed, and (only when `require`) when there is no test at all. Without `require`,
/// "never tested" passes with a note: a cluster that never scheduled tests is not made unhealthy
/// by upgrading, and once one test is recorded, its age is enforced.
pub fn evaluate(
    history: &[ProofRecord],
    repository: &str,
    now_ms: i64,
    max_age_days: u32,
    require: bool,
) -> ProofStatus {
    let how = format!(
        "run `kubectl logbackup snapshot verify -r {repository} --restore-test`, or schedule one with `kubectl logbackup schedule create NAME --cron ... --verify weekly`"
    );
    let newest_pass = history.iter().filter(|r| r.passed).max_by_key(|r| r.at_ms);
    let newest_any = history.iter().max_by_key(|r| r.at_ms);
    let last: Vec<LastProven> = last_proven(history)
        .into_iter()
        .map(|(snapshot, at_ms)| LastProven { snapshot, at_ms })
        .collect();
    let age_hours = newest_pass.map(|r| (now_ms - r.at_ms).max(0) / (DAY_MS / 24));
    let (ok, message) = match (newest_pass, newest_any) {
        (_, Some(latest)) if !latest.passed => (
            false,
            format!(
                "the newest restore test (snapshot {}, {}) FAILED: {}; look at `snapshot verify {} -r {repository} --restore-test` and fix what it says",
                latest.snapshot,
                age_text(now_ms - latest.at_ms),
                latest.verdict,
                latest.snapshot
            ),
        ),
        (Some(p), _) if now_ms - p.at_ms > i64::from(max_age_days) * DAY_MS => (
            false,
            format!(
                "the newest proof that the logs come back is {} old (snapshot {}), older than {max_age_days}d; {how}",
                age_text(now_ms - p.at_ms),
                p.snapshot
            ),
        ),
        (Some(p), _) => (
            true,
            format!(
                "snapshot {} was proven restorable {} ago",
                p.snapshot,
                age_text(now_ms - p.at_ms)
            ),
        ),
        (None, _) => (
            !require,
            format!("no restore test recorded for {repository}: nobody has proven the logs come back; {how}"),
        ),
    };
    ProofStatus {
        ok,
        message,
        newest_snapshot: newest_pass.map(|r| r.snapshot.clone()),
        newest_at_ms: newest_pass.map(|r| r.at_ms),
        newest_age_hours: age_hours,
        last_proven: last,
    }
}

/// `3d 4h`, `5h`, `12m`: an age for people.
pub fn age_text(ms: i64) -> String {
    let ms = ms.max(0);
    let hours = ms / (DAY_MS / 24);
    if hours >= 24 {
        format!("{}d {}h", hours / 24, hours % 24)
    } else if hours > 0 {
        format!("{hours}h")
    } else {
        format!("{}m", ms / 60_000)
    }
}

/// `8d`, `36h`, `2w` or a number of days: `--max-proof-age`, as whole days (hours round up).
pub fn parse_age_days(text: &str) -> Result<u32, String> {
    let t = text.trim();
    let (number, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    let n: u32 = number
        .parse()
        .map_err(|_| format!("{text:?} is not an age like 8d, 36h or 2w"))?;
    match unit {
        "" | "d" => Ok(n),
        "w" => Ok(n.saturating_mul(7)),
        "h" => Ok(n.div_ceil(24)),
        _ => Err(format!("{text:?} is not an age like 8d, 36h or 2w")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(snapshot: &str, at_ms: i64, passed: bool) -> ProofRecord {
        ProofRecord {
            snapshot: snapshot.into(),
            indices: vec![ProvenIndex {
                index: "ks-logstash-log-2019.11.12".into(),
                expected: Some(10),
                found: Some(if passed { 10 } else { 9 }),
                took_ms: 5,
                passed,
            }],
            bytes: 100,
            took_ms: 10,
            throughput_bytes_per_s: 10_000,
            passed,
            verdict: if passed {
                "RESTORABLE"
            } else {
                "FAILED: count"
            }
            .into(),
            at_ms,
        }
    }

    #[test]
    fn the_history_is_newest_first_bounded_and_keeps_a_test_once() {
        let mut h = Vec::new();
        for n in 0..30 {
            h = merge(h, record(&format!("s{n}"), n * DAY_MS, true), HISTORY);
        }
        assert_eq!(h.len(), HISTORY);
        assert_eq!(h[0].snapshot, "s29");
        assert_eq!(h[HISTORY - 1].snapshot, "s10");
        let again = merge(h.clone(), record("s29", 29 * DAY_MS, true), HISTORY);
        assert_eq!(again.len(), HISTORY);
        assert_eq!(again.iter().filter(|r| r.snapshot == "s29").count(), 1);
        let text = encode(&again).unwrap();
        assert_eq!(decode(&text).unwrap(), again);
        assert!(decode("").unwrap().is_empty());
        let bad = decode("{not json").unwrap_err().to_string();
        assert!(bad.contains("fix or delete it"), "{bad}");
    }

    #[test]
    fn config_map_names_are_dns_safe() {
        assert_eq!(
            config_map_name("ks-log-snapshots"),
            "logbackup-proofs-ks-log-snapshots"
        );
        assert_eq!(config_map_name("My_Repo."), "logbackup-proofs-my-repo");
        assert!(config_map_name(&"x".repeat(400)).len() <= 253);
    }

    #[test]
    fn status_fails_on_an_old_proof_and_on_a_failed_newest_test() {
        let now = 100 * DAY_MS;
        let fresh = [record("a", now - 2 * DAY_MS, true)];
        let s = evaluate(&fresh, "r", now, 8, false);
        assert!(s.ok, "{}", s.message);
        assert_eq!(s.newest_age_hours, Some(48));
        assert!(
            s.message.contains("proven restorable 2d 0h ago"),
            "{}",
            s.message
        );

        let old = [record("a", now - 9 * DAY_MS, true)];
        let s = evaluate(&old, "r", now, 8, false);
        assert!(!s.ok);
        assert!(s.message.contains("9d 0h old"), "{}", s.message);
        assert!(s.message.contains("--restore-test"), "{}", s.message);

        let failed_last = [
            record("a", now - DAY_MS, true),
            record("b", now - 3_600_000, false),
        ];
        let s = evaluate(&failed_last, "r", now, 8, false);
        assert!(!s.ok);
        assert!(
            s.message.contains("snapshot b, 1h) FAILED"),
            "{}",
            s.message
        );
        assert_eq!(s.newest_snapshot.as_deref(), Some("a"));
    }

    #[test]
    fn never_tested_passes_with_a_note_unless_required() {
        let s = evaluate(&[], "r", 0, 8, false);
        assert!(s.ok);
        assert!(
            s.message.starts_with("no restore test recorded"),
            "{}",
            s.message
        );
        assert!(!evaluate(&[], "r", 0, 8, true).ok);
    }

    #[test]
    fn last_proven_is_per_snapshot_and_only_from_passed_tests() {
        let h = [
            record("a", 5, true),
            record("a", 9, true),
            record("b", 7, true),
            record("c", 8, false),
        ];
        assert_eq!(
            last_proven(&h),
            vec![("a".to_string(), 9), ("b".to_string(), 7)]
        );
        assert_eq!(proofs(&h).len(), 3);
    }

    #[test]
    fn ages_parse_in_days_hours_and_weeks() {
        assert_eq!(parse_age_days("8d"), Ok(8));
        assert_eq!(parse_age_days("8"), Ok(8));
        assert_eq!(parse_age_days("2w"), Ok(14));
        assert_eq!(parse_age_days("36h"), Ok(2));
        assert!(parse_age_days("soon").is_err());
        assert!(parse_age_days("8m").is_err());
    }
}
