//! What a copy holds, read from its `index-N`, and the record `repo sync` leaves beside it. Pure.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Snapshot names in a repository's `index-N` (Elasticsearch's RepositoryData JSON), in its order.
/// Anything unreadable gives an empty list: the copy is still made, only the record is poorer.
pub fn snapshot_names(index_n: &[u8]) -> Vec<String> {
    let Ok(data) = serde_json::from_slice::<Value>(index_n) else {
        return Vec::new();
    };
    data["snapshots"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["name"].as_str().map(str::to_string))
        .collect()
}

/// `logbackup-sync.json` at the destination root, written after `index.latest`: when the copy was
/// last brought up to date, from where, and which snapshots it holds. `status` compares it with
/// the repository to say how far the copy lags.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncRecord {
    pub finished_at: String,
    pub source: String,
    pub generation: u64,
    pub snapshots: Vec<String>,
    pub files_sent: usize,
    pub bytes_sent: u64,
}

/// How far a copy is behind the repository.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Lag {
    /// Snapshots the repository has and the copy does not, oldest first.
    pub missing: Vec<String>,
    /// Snapshots the copy still holds that the repository has deleted.
    pub extra: Vec<String>,
    /// Seconds since the copy was last brought up to date.
    pub age_seconds: i64,
}

pub fn lag(record: &SyncRecord, repository: &[String], now: jiff::Timestamp) -> Lag {
    let missing = repository
        .iter()
        .filter(|s| !record.snapshots.contains(s))
        .cloned()
        .collect();
    let extra = record
        .snapshots
        .iter()
        .filter(|s| !repository.contains(s))
        .cloned()
        .collect();
    let age_seconds = record
        .finished_at
        .parse::<jiff::Timestamp>()
        .map_or(-1, |t| now.as_second() - t.as_second());
    Lag {
        missing,
        extra,
        age_seconds,
    }
}

/// How the off-site copy stands against the repository, for `status --sync-to`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CopyStatus {
    pub copy: String,
    /// When the copy was last brought up to date (RFC 3339), if it ever was.
    pub last_sync: Option<String>,
    pub lag: Option<Lag>,
    pub ok: bool,
    pub message: String,
}

/// Judges the copy at `copy` by its record (none: never synced) against the repository's finished
/// snapshots: healthy when it holds every one of them.
pub fn copy_status(
    copy: &str,
    record: Option<&SyncRecord>,
    finished: &[String],
    now: jiff::Timestamp,
) -> CopyStatus {
    let Some(record) = record else {
        return CopyStatus {
            copy: copy.to_owned(),
            last_sync: None,
            lag: None,
            ok: false,
            message: format!("{copy} has no record of a sync: run `kubectl logbackup repo sync` (or schedule create --sync-to)"),
        };
    };
    let lag = lag(record, finished, now);
    let hours = lag.age_seconds / 3600;
    let ok = lag.missing.is_empty();
    let message = if ok {
        format!(
            "{copy} holds all {} finished snapshots; last sync {} ({hours} h ago)",
            finished.len(),
            record.finished_at
        )
    } else {
        format!(
            "{copy} lags by {} snapshots (newest missing: {}); last sync {} ({hours} h ago)",
            lag.missing.len(),
            lag.missing.last().cloned().unwrap_or_default(),
            record.finished_at
        )
    };
    CopyStatus {
        copy: copy.to_owned(),
        last_sync: Some(record.finished_at.clone()),
        lag: Some(lag),
        ok,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_from_repository_data() {
        let data =
            br#"{"snapshots":[{"name":"a","uuid":"1"},{"name":"b","uuid":"2"}],"indices":{}}"#;
        assert_eq!(snapshot_names(data), ["a", "b"]);
        assert!(snapshot_names(b"\x00SMILE").is_empty());
    }

    fn copied_a_and_b() -> SyncRecord {
        SyncRecord {
            finished_at: "2026-12-01T01:00:00Z".into(),
            source: "/repo".into(),
            generation: 4,
            snapshots: vec!["a".into(), "b".into()],
            files_sent: 3,
            bytes_sent: 10,
        }
    }

    #[test]
    fn lag_counts_both_ways() {
        let record = copied_a_and_b();
        let now: jiff::Timestamp = "2026-12-01T03:00:00Z".parse().unwrap();
        let l = lag(&record, &["b".into(), "c".into(), "d".into()], now);
        assert_eq!(l.missing, ["c", "d"]);
        assert_eq!(l.extra, ["a"]);
        assert_eq!(l.age_seconds, 7200);
    }

    #[test]
    fn a_copy_is_healthy_only_when_it_holds_every_finished_snapshot() {
        let record = copied_a_and_b();
        let now: jiff::Timestamp = "2026-12-01T03:00:00Z".parse().unwrap();
        let whole = copy_status("s3://b/p", Some(&record), &["a".into(), "b".into()], now);
        assert!(whole.ok);
        assert_eq!(
            whole.message,
            "s3://b/p holds all 2 finished snapshots; last sync 2026-12-01T01:00:00Z (2 h ago)"
        );
        let behind = copy_status("s3://b/p", Some(&record), &["b".into(), "c".into()], now);
        assert!(!behind.ok);
        assert!(behind
            .message
            .contains("lags by 1 snapshots (newest missing: c)"));
        let never = copy_status("s3://b/p", None, &["a".into()], now);
        assert!(!never.ok && never.last_sync.is_none());
        assert!(never.message.contains("no record of a sync"));
    }
}
