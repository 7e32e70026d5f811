//! `status`'s judgement of the control-plane backup: the newest etcd snapshot's age and whether its
//! restore drill passed.

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use super::record::{SnapshotRecord, Verification};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EtcdHealth {
    pub newest: Option<String>,
    pub taken_at: Option<Timestamp>,
    pub age_seconds: Option<i64>,
    /// `passed`, `failed`, or `never` (no drill has run on the newest snapshot).
    pub verification: String,
    pub healthy: bool,
    pub problems: Vec<String>,
}

/// `newest` is the newest snapshot with a record; `verification` the drill's verdict on it.
pub fn judge(
    newest: Option<(&SnapshotRecord, Option<&Verification>)>,
    max_age: SignedDuration,
    now: Timestamp,
) -> EtcdHealth {
    let Some((record, verification)) = newest else {
        return EtcdHealth {
            newest: None,
            taken_at: None,
            age_seconds: None,
            verification: "never".into(),
            healthy: false,
            problems: vec![
                "no etcd snapshot in the repository: run `kubectl logbackup etcd save`".into(),
            ],
        };
    };
    let age = now.duration_since(record.taken_at);
    let mut problems = Vec::new();
    if age > max_age {
        problems.push(format!(
            "the newest etcd snapshot {} is {}s old, more than --max-etcd-age ({}s)",
            record.name,
            age.as_secs(),
            max_age.as_secs()
        ));
    }
    let verification = match verification {
        Some(v) if v.passed => "passed".to_owned(),
        Some(v) => {
            problems.push(format!(
                "the restore drill of {} failed: {}",
                record.name,
                v.failure.as_deref().unwrap_or("see `etcd verify`")
            ));
            "failed".to_owned()
        }
        None => "never".to_owned(),
    };
    EtcdHealth {
        newest: Some(record.name.clone()),
        taken_at: Some(record.taken_at),
        age_seconds: Some(age.as_secs()),
        verification,
        healthy: problems.is_empty(),
        problems,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::etcd::Origin;

    fn record(at: &str) -> SnapshotRecord {
        SnapshotRecord {
            name: "etcd-manual-n-20261206T000000Z".into(),
            origin: Origin::Manual,
            node: "n".into(),
            taken_at: at.parse().unwrap(),
            endpoint: String::new(),
            etcd_version: "3.5.16".into(),
            cluster_id: String::new(),
            member_id: String::new(),
            revision: 1,
            members: vec![],
            sha256: String::new(),
            size: 0,
            keys: Default::default(),
            total_keys: 0,
            pki: None,
            manifests: None,
            compressed: false,
            stored_size: None,
        }
    }

    fn verdict(passed: bool) -> Verification {
        Verification {
            snapshot: "x".into(),
            verified_at: "2026-12-06T00:00:00Z".parse().unwrap(),
            passed,
            hash_ok: passed,
            comparison: None,
            etcd_version: None,
            failure: (!passed).then(|| "the SHA-256 differs".to_owned()),
        }
    }

    #[test]
    fn healthy_only_when_fresh_and_not_failed() {
        let now: Timestamp = "2026-12-06T02:00:00Z".parse().unwrap();
        let max = SignedDuration::from_hours(3);
        let r = record("2026-12-06T00:00:00Z");
        let h = judge(Some((&r, Some(&verdict(true)))), max, now);
        assert!(h.healthy && h.verification == "passed" && h.age_seconds == Some(7200));
        assert!(
            judge(Some((&r, None)), max, now).healthy,
            "never verified is not a failure"
        );
        let failed = judge(Some((&r, Some(&verdict(false)))), max, now);
        assert!(!failed.healthy && failed.problems[0].contains("the SHA-256 differs"));
        let old = judge(Some((&r, None)), SignedDuration::from_hours(1), now);
        assert!(!old.healthy && old.problems[0].contains("--max-etcd-age"));
        assert!(!judge(None, max, now).healthy);
    }
}
