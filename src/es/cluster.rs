//! The cluster-level calls of a rolling restart: shard allocation, flush, health, node membership.
//!
//! `cluster.put_settings` and `indices.flush` are not in shared/es-api; their shapes follow the
//! Elasticsearch reference ("Cluster update settings", "Flush", "Rolling restart"), and the test
//! double serves them as marked extras (`Config::restart_extras`).

use reqwest::Method;
use serde::Deserialize;
use serde_json::{json, Value};

use super::client::EsClient;
use super::error::{EsError, Failed};

#[derive(Debug, Clone, Deserialize)]
pub struct ClusterHealth {
    pub status: String,
    #[serde(default)]
    pub timed_out: bool,
    #[serde(default)]
    pub number_of_nodes: u64,
}

fn failed(action: &str, source: EsError) -> Failed {
    Failed {
        action: action.to_owned(),
        source,
    }
}

impl EsClient {
    /// `cluster.routing.allocation.enable`: `Some("primaries")` during a node restart, `None` to
    /// reset it to the default (`all`), as the rolling-restart procedure does.
    pub async fn set_allocation(&self, value: Option<&str>) -> Result<(), Failed> {
        let action = match value {
            Some(v) => format!("set cluster.routing.allocation.enable to {v}"),
            None => "re-enable shard allocation".to_owned(),
        };
        let body = json!({ "persistent": { "cluster.routing.allocation.enable": value } });
        let _: Value = self
            .put(
                "/_cluster/settings",
                &[self.master_timeout()],
                Some(&body),
                &action,
            )
            .await?;
        Ok(())
    }

    /// A plain flush of every index: synced flush is deprecated in 7.x and gone in 8.
    pub async fn flush(&self) -> Result<(), Failed> {
        let _: Value = self
            .post("/_flush", &[], None::<&()>, "flush all indices")
            .await?;
        Ok(())
    }

    /// Waits server-side up to `timeout` for `status` (green or yellow). A timeout is not an
    /// error here: the answer says `timed_out`, and the caller decides whether to ask again.
    pub async fn wait_for_health(
        &self,
        status: &str,
        timeout: &str,
    ) -> Result<ClusterHealth, Failed> {
        let action = format!("wait for cluster health {status}");
        let query = [
            ("wait_for_status", status.to_owned()),
            ("timeout", timeout.to_owned()),
        ];
        let (code, bytes) = self
            .send(Method::GET, "/_cluster/health", &query, None::<&()>)
            .await
            .map_err(|e| failed(&action, e))?;
        // 408 carries the health body with timed_out: true.
        if !code.is_success() && code.as_u16() != 408 {
            return Err(failed(
                &action,
                EsError::from_response(code.as_u16(), &bytes),
            ));
        }
        serde_json::from_slice(&bytes).map_err(|e| failed(&action, EsError::Decode(e.to_string())))
    }

    /// The names of the nodes in the cluster now (`_nodes`), to see a restarted node rejoin.
    pub async fn node_names(&self) -> Result<Vec<String>, Failed> {
        Ok(self
            .nodes_settings()
            .await?
            .nodes
            .into_values()
            .map(|n| n.name)
            .collect())
    }
}
