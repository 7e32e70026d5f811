//! Scheduled backups, PURE: the cron schedule, the CronJob (+ ServiceAccount) that runs
//! `kubectl-logbackup backup`, the Job `run-now` makes from it, and the SLM / OpenSearch Snapshot
//! Management policies for clusters that schedule snapshots themselves. No clock, no I/O.

pub mod cron;
pub mod cronjob;
pub mod policy;
pub mod restore_test;
pub mod shape;
pub mod sync_to;

pub use cron::Schedule;

/// Labels every object a schedule owns carries; `schedule list` selects on the first.
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
pub const MANAGED_BY: &str = crate::ids::PRODUCT;
pub const SCHEDULE_LABEL: &str = "logbackup.io/schedule";

#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    #[error("invalid schedule {expr:?}: {why}")]
    Cron { expr: String, why: String },
    #[error("unknown time zone {name:?}: {why}")]
    TimeZone { name: String, why: String },
    #[error("cannot write schedule {expr:?} as a Quartz cron expression for SLM: {why}; use --engine cronjob")]
    NotQuartz { expr: String, why: String },
    #[error("invalid schedule name {name:?}: {why}")]
    Name { name: String, why: String },
    #[error("failed to build the {what}: {why}")]
    Render { what: String, why: String },
}

/// A schedule's name becomes object names and a label value: a DNS-1123 label, short enough for
/// the `-<timestamp>` suffix the CronJob controller adds to Job names (52 characters at most).
pub fn validate_name(name: &str) -> Result<(), ScheduleError> {
    let bad = |why: &str| ScheduleError::Name {
        name: name.to_string(),
        why: why.to_string(),
    };
    if name.is_empty() || name.len() > 52 {
        return Err(bad("it must be 1 to 52 characters"));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return Err(bad("use lower-case letters, digits and '-'"));
    }
    if name.starts_with('-') || name.ends_with('-') {
        return Err(bad("it must start and end with a letter or digit"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_dns_labels_short_enough_for_job_names() {
        assert!(validate_name("nightly").is_ok());
        assert!(validate_name("ks-logs-2").is_ok());
        for bad in ["", "Nightly", "-a", "a-", "a_b", &"a".repeat(53)] {
            assert!(validate_name(bad).is_err(), "{bad}");
        }
        assert!(validate_name(&"a".repeat(52)).is_ok());
    }
}
