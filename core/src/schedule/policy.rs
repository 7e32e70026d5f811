//! Policies for clusters that schedule snapshots themselves: Elasticsearch SLM (x-pack, 7.4+) and
//! OpenSearch Snapshot Management (2.1+). Bodies per the shared API definitions.

use crate::ids::taken_by_metadata;
use serde_json::{json, Value};

use super::{Schedule, ScheduleError};

/// What a policy snapshots and keeps; the same choices as the CronJob's `backup`.
#[derive(Debug, Clone)]
pub struct PolicyPlan {
    pub name: String,
    pub schedule: Schedule,
    pub repository: String,
    pub indices: Vec<String>,
    pub keep_days: u32,
    pub min_count: usize,
    pub max_count: usize,
}

/// The count both engines want when --max-count is not given: never below what the age window
/// holds at `now`, plus one.
pub fn default_max_count(schedule: &Schedule, keep_days: u32, now: jiff::Timestamp) -> usize {
    schedule.runs_within(now, keep_days, 10_000) + 1
}

fn indices(plan: &PolicyPlan) -> String {
    if plan.indices.is_empty() {
        "*,-.*".to_string()
    } else {
        plan.indices.join(",")
    }
}

/// `PUT _slm/policy/NAME`. SLM's schedule is Quartz cron (seconds first) and always UTC, so a
/// time zone other than UTC is refused rather than silently shifted. Snapshot names use SLM's date
/// math (`<NAME-{now/d}>`; SLM appends a UUID), not our strftime pattern.
pub fn slm_body(plan: &PolicyPlan) -> Result<Value, ScheduleError> {
    if plan.schedule.time_zone != "UTC" {
        return Err(ScheduleError::NotQuartz {
            expr: plan.schedule.expression(),
            why: format!(
                "SLM schedules run in UTC; --time-zone {} cannot be expressed",
                plan.schedule.time_zone
            ),
        });
    }
    Ok(json!({
        "schedule": plan.schedule.to_quartz()?,
        "name": format!("<{}-{{now/d}}>", plan.name),
        "repository": plan.repository,
        "config": {
            "indices": indices(plan),
            "ignore_unavailable": true,
            "include_global_state": false,
            "partial": true,
            "metadata": taken_by_metadata()
        },
        "retention": {
            "expire_after": format!("{}d", plan.keep_days),
            "min_count": plan.min_count,
            "max_count": plan.max_count
        }
    }))
}

/// `POST _plugins/_sm/policies/NAME` (create) or `PUT ...?if_seq_no&if_primary_term` (update).
/// SM takes 5-field cron with a time zone, as the CronJob does; deletion runs on the same schedule.
pub fn sm_body(plan: &PolicyPlan) -> Value {
    let cron = json!({"cron": {
        "expression": plan.schedule.expression(),
        "timezone": plan.schedule.time_zone
    }});
    json!({
        "description": format!("Scheduled by {}", crate::ids::PRODUCT),
        "creation": {"schedule": cron},
        "deletion": {
            "schedule": cron,
            "condition": {
                "max_age": format!("{}d", plan.keep_days),
                // SM refuses a min_count below 1.
                "min_count": plan.min_count.max(1),
                "max_count": plan.max_count
            }
        },
        "snapshot_config": {
            "indices": indices(plan),
            "repository": plan.repository,
            "ignore_unavailable": true,
            "include_global_state": false,
            "partial": true,
            "metadata": taken_by_metadata()
        },
        "enabled": true
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(tz: Option<&str>) -> PolicyPlan {
        PolicyPlan {
            name: "nightly".into(),
            schedule: Schedule::parse("0 1 * * *", tz).unwrap(),
            repository: "ks-log-snapshots".into(),
            indices: vec!["ks-logstash-log-*".into()],
            keep_days: 45,
            min_count: 1,
            max_count: 46,
        }
    }

    #[test]
    fn slm_policy_is_the_curator_job_in_quartz() {
        let body = slm_body(&plan(None)).unwrap();
        assert_eq!(
            body,
            json!({
                "schedule": "0 0 1 * * ?",
                "name": "<nightly-{now/d}>",
                "repository": "ks-log-snapshots",
                "config": {
                    "indices": "ks-logstash-log-*",
                    "ignore_unavailable": true,
                    "include_global_state": false,
                    "partial": true,
                    "metadata": {"taken_by": "kubectl-logbackup"}
                },
                "retention": {"expire_after": "45d", "min_count": 1, "max_count": 46}
            })
        );
    }

    #[test]
    fn slm_refuses_a_time_zone_it_cannot_honour() {
        let err = slm_body(&plan(Some("Asia/Shanghai"))).unwrap_err();
        assert!(err.to_string().contains("UTC"), "{err}");
        assert!(err.to_string().contains("--engine cronjob"), "{err}");
    }

    #[test]
    fn sm_policy_keeps_five_fields_and_the_time_zone() {
        let mut p = plan(Some("Asia/Shanghai"));
        p.min_count = 0;
        let body = sm_body(&p);
        assert_eq!(
            body["creation"]["schedule"]["cron"],
            json!({"expression": "0 1 * * *", "timezone": "Asia/Shanghai"})
        );
        assert_eq!(
            body["deletion"]["condition"],
            json!({"max_age": "45d", "min_count": 1, "max_count": 46})
        );
        assert_eq!(body["snapshot_config"]["repository"], "ks-log-snapshots");
        assert_eq!(body["snapshot_config"]["indices"], "ks-logstash-log-*");
    }
}
