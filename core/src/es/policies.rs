//! Snapshot policies the cluster runs itself, as the servers return them: SLM (`GET _slm/policy`,
//! Elasticsearch) and OpenSearch Snapshot Management (`GET _plugins/_sm/policies[/NAME]`). Fields
//! this tool does not read are left out; absent optional fields default, so a server that omits
//! one still decodes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::ids::{PRODUCT, TAKEN_BY_KEY};

fn ours(metadata: Option<&Map<String, Value>>) -> bool {
    metadata
        .and_then(|m| m.get(TAKEN_BY_KEY))
        .and_then(Value::as_str)
        == Some(PRODUCT)
}

/// `GET _slm/policy`: policy id -> policy.
pub type SlmPolicies = BTreeMap<String, SlmPolicy>;

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct SlmPolicy {
    pub policy: SlmPolicyBody,
    #[serde(default)]
    pub last_success: Option<SlmRun>,
    #[serde(default)]
    pub last_failure: Option<SlmRun>,
    #[serde(default)]
    pub next_execution: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct SlmPolicyBody {
    /// Quartz cron, evaluated in UTC.
    pub schedule: String,
    #[serde(default)]
    pub repository: String,
    #[serde(default)]
    pub config: SlmConfig,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct SlmConfig {
    #[serde(default)]
    pub metadata: Option<Map<String, Value>>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct SlmRun {
    #[serde(default)]
    pub snapshot_name: Option<String>,
    #[serde(default)]
    pub time_string: Option<String>,
}

impl SlmPolicy {
    /// Written by this tool (its snapshots carry our `taken_by`).
    pub fn is_ours(&self) -> bool {
        ours(self.policy.config.metadata.as_ref())
    }
}

/// `GET _plugins/_sm/policies`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct SmPolicies {
    #[serde(default)]
    pub policies: Vec<SmPolicy>,
}

/// One SM policy as stored, with the sequence numbers an update must send back.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct SmPolicy {
    #[serde(rename = "_seq_no")]
    pub seq_no: i64,
    #[serde(rename = "_primary_term")]
    pub primary_term: i64,
    pub sm_policy: SmPolicyBody,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct SmPolicyBody {
    pub name: String,
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
    pub creation: SmCreation,
    #[serde(default)]
    pub snapshot_config: SmSnapshotConfig,
}

fn enabled_by_default() -> bool {
    true
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct SmCreation {
    pub schedule: SmSchedule,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct SmSchedule {
    pub cron: SmCron,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct SmCron {
    pub expression: String,
    #[serde(default)]
    pub timezone: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct SmSnapshotConfig {
    #[serde(default)]
    pub repository: String,
    #[serde(default)]
    pub metadata: Option<Map<String, Value>>,
}

impl SmPolicy {
    pub fn is_ours(&self) -> bool {
        ours(self.sm_policy.snapshot_config.metadata.as_ref())
    }
}

/// A policy as `schedule list` shows it, whichever engine runs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicySummary {
    pub name: String,
    pub schedule: String,
    pub time_zone: String,
    pub suspended: bool,
    pub last_run: Option<String>,
    pub last_success: Option<String>,
}

/// Our SLM policies, with SLM's own last runs. SLM evaluates its cron in UTC.
pub fn slm_summaries(policies: &SlmPolicies) -> Vec<PolicySummary> {
    policies
        .iter()
        .filter(|(_, p)| p.is_ours())
        .map(|(name, p)| {
            let time = |r: &Option<SlmRun>| r.as_ref().and_then(|r| r.time_string.clone());
            let success = time(&p.last_success);
            let failure = time(&p.last_failure);
            PolicySummary {
                name: name.clone(),
                schedule: p.policy.schedule.clone(),
                time_zone: "UTC".into(),
                suspended: false,
                last_run: success.clone().max(failure),
                last_success: success,
            }
        })
        .collect()
}

/// Our SM policies. SM reports runs through its explain API only, which is not read here.
pub fn sm_summaries(policies: &SmPolicies) -> Vec<PolicySummary> {
    policies
        .policies
        .iter()
        .filter(|p| p.is_ours())
        .map(|p| {
            let cron = &p.sm_policy.creation.schedule.cron;
            PolicySummary {
                name: p.sm_policy.name.clone(),
                schedule: cron.expression.clone(),
                time_zone: cron.timezone.clone().unwrap_or_else(|| "-".into()),
                suspended: !p.sm_policy.enabled,
                last_run: None,
                last_success: None,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ES_API: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/es-api/");

    #[test]
    fn the_official_slm_example_decodes_and_is_not_ours() {
        let path = format!(
            "{ES_API}elasticsearch/examples/slm.get_lifecycle/response-200__GetSnapshotLifecycleResponseExample1.json"
        );
        let text = std::fs::read_to_string(&path).unwrap();
        let policies: SlmPolicies = serde_json::from_str(&text).unwrap();
        let p = &policies["daily-snapshots"];
        assert_eq!(p.policy.schedule, "0 30 1 * * ?");
        assert_eq!(p.policy.repository, "my_repository");
        assert!(!p.is_ours());
        assert!(slm_summaries(&policies).is_empty());
    }

    #[test]
    fn our_slm_policies_are_summarised_with_their_last_runs() {
        let policies: SlmPolicies = serde_json::from_value(json!({
            "nightly": {"policy": {"schedule": "0 0 2 * * ?", "repository": "r",
                "config": {"metadata": {"taken_by": "kubectl-logbackup"}}},
                "last_success": {"snapshot_name": "a", "time_string": "2026-11-30T02:00:05.000Z"},
                "last_failure": {"snapshot_name": "b", "time_string": "2026-11-29T02:00:05.000Z"}},
            "theirs": {"policy": {"schedule": "0 0 3 * * ?", "repository": "r"}}
        }))
        .unwrap();
        assert_eq!(
            slm_summaries(&policies),
            [PolicySummary {
                name: "nightly".into(),
                schedule: "0 0 2 * * ?".into(),
                time_zone: "UTC".into(),
                suspended: false,
                last_run: Some("2026-11-30T02:00:05.000Z".into()),
                last_success: Some("2026-11-30T02:00:05.000Z".into()),
            }]
        );
    }

    #[test]
    fn sm_policies_decode_as_opensearch_lists_them() {
        // The create-policy body of the OpenSearch test story, as GET returns it under sm_policy.
        let path = format!(
            "{ES_API}opensearch/examples/sm.create_policy/request__default_sm_policies__chapters0_post.json"
        );
        let mut body: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        body["name"] = json!("daily-policy");
        let mut ours = body.clone();
        ours["name"] = json!("ours");
        ours["enabled"] = json!(false);
        ours["snapshot_config"]["metadata"] = json!({"taken_by": "kubectl-logbackup"});
        let list: SmPolicies = serde_json::from_value(json!({"policies": [
            {"_id": "daily-policy-sm-policy", "_seq_no": 0, "_primary_term": 1, "sm_policy": body},
            {"_id": "ours-sm-policy", "_seq_no": 4, "_primary_term": 2, "sm_policy": ours},
        ], "total_policies": 2}))
        .unwrap();
        assert_eq!(
            list.policies[0].sm_policy.snapshot_config.repository,
            "s3-repo"
        );
        assert_eq!(
            sm_summaries(&list),
            [PolicySummary {
                name: "ours".into(),
                schedule: "0 8 * * *".into(),
                time_zone: "UTC".into(),
                suspended: true,
                last_run: None,
                last_success: None,
            }]
        );
    }
}
