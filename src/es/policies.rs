//! Snapshot policies the cluster runs itself: SLM (`_slm`, Elasticsearch with x-pack) and
//! OpenSearch Snapshot Management (`_plugins/_sm`). Bodies are built by `crate::schedule::policy`.

use serde::Deserialize;
use serde_json::Value;

pub use logbackup_core::es::policies::*;

use super::client::{enc, EsClient};
use super::error::{EsError, Failed};
use super::types::Acknowledged;

#[derive(Debug, Deserialize)]
struct ExecuteResponse {
    snapshot_name: String,
}

fn not_found(e: &Failed) -> bool {
    e.kind().api().is_some_and(|a| a.status == 404)
}

impl EsClient {
    /// Every SLM policy by name (`GET _slm/policy`). Fails where SLM does not exist (OSS builds,
    /// before 7.4), which is how `schedule create --engine slm` detects it.
    pub async fn slm_policies(&self) -> Result<SlmPolicies, Failed> {
        self.get("/_slm/policy", &[], "list SLM policies").await
    }

    pub async fn put_slm_policy(&self, name: &str, body: &Value) -> Result<(), Failed> {
        let _: Acknowledged = self
            .put(
                &format!("/_slm/policy/{}", enc(name)),
                &[],
                Some(body),
                &format!("write SLM policy {name}"),
            )
            .await?;
        Ok(())
    }

    pub async fn delete_slm_policy(&self, name: &str) -> Result<(), Failed> {
        let _: Acknowledged = self
            .delete(
                &format!("/_slm/policy/{}", enc(name)),
                &[],
                &format!("delete SLM policy {name}"),
            )
            .await?;
        Ok(())
    }

    /// Runs the policy now; returns the snapshot's name. The API definitions give PUT for this.
    pub async fn execute_slm_policy(&self, name: &str) -> Result<String, Failed> {
        let r: ExecuteResponse = self
            .put(
                &format!("/_slm/policy/{}/_execute", enc(name)),
                &[],
                None::<&()>,
                &format!("run SLM policy {name}"),
            )
            .await?;
        Ok(r.snapshot_name)
    }

    /// Every SM policy (`GET _plugins/_sm/policies`); fails where SM does not exist.
    pub async fn sm_policies(&self) -> Result<SmPolicies, Failed> {
        self.get(
            "/_plugins/_sm/policies",
            &[],
            "list Snapshot Management policies",
        )
        .await
    }

    /// One SM policy, or None when there is none by that name.
    pub async fn sm_policy(&self, name: &str) -> Result<Option<SmPolicy>, Failed> {
        match self
            .get(
                &format!("/_plugins/_sm/policies/{}", enc(name)),
                &[],
                &format!("read Snapshot Management policy {name}"),
            )
            .await
        {
            Ok(p) => Ok(Some(p)),
            Err(e) if not_found(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Creates the policy, or updates it with the sequence numbers it was read with.
    pub async fn put_sm_policy(
        &self,
        name: &str,
        body: &Value,
        existing: Option<&SmPolicy>,
    ) -> Result<(), Failed> {
        let path = format!("/_plugins/_sm/policies/{}", enc(name));
        let _: Value = match existing {
            None => {
                self.post(
                    &path,
                    &[],
                    Some(body),
                    &format!("create Snapshot Management policy {name}"),
                )
                .await?
            }
            Some(p) => {
                self.put(
                    &path,
                    &[
                        ("if_seq_no", p.seq_no.to_string()),
                        ("if_primary_term", p.primary_term.to_string()),
                    ],
                    Some(body),
                    &format!("update Snapshot Management policy {name}"),
                )
                .await?
            }
        };
        Ok(())
    }

    pub async fn delete_sm_policy(&self, name: &str) -> Result<(), Failed> {
        let _: Value = self
            .delete(
                &format!("/_plugins/_sm/policies/{}", enc(name)),
                &[],
                &format!("delete Snapshot Management policy {name}"),
            )
            .await?;
        Ok(())
    }
}

/// Whether this server has a policy engine, by version first (cheap, certain refusals) and then by
/// asking it (an OSS build of a recent version has no `_slm`).
pub fn engine_by_version(version: &super::ServerVersion) -> Result<PolicyEngine, String> {
    use super::Flavour;
    match version.flavour {
        Flavour::Elasticsearch if (version.major, version.minor) >= (7, 4) => Ok(PolicyEngine::Slm),
        Flavour::Elasticsearch => Err(format!(
            "Elasticsearch {} has no snapshot lifecycle management (SLM arrived in 7.4, with x-pack)",
            version.number
        )),
        Flavour::OpenSearch if (version.major, version.minor) >= (2, 1) => Ok(PolicyEngine::Sm),
        Flavour::OpenSearch => Err(format!(
            "OpenSearch {} has no Snapshot Management (it arrived in 2.1)",
            version.number
        )),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PolicyEngine {
    Slm,
    Sm,
}

/// An error that says the endpoint is not there (no handler / not found / not implemented).
pub fn is_missing_endpoint(e: &Failed) -> bool {
    matches!(e.kind(), EsError::Api(a) if matches!(a.status, 400 | 404 | 405 | 501))
}
