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
