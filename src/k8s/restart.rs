//! The live executor of the rolling restart: Kubernetes for the pods, Elasticsearch for the rest.

use std::time::Duration;

use crate::enable::restart::{Executor, Step};
use crate::es::EsClient;

use super::objects::{Cluster, Kind};

#[derive(Debug, Clone)]
pub struct RestartSettings {
    /// `green`, or `yellow` for clusters whose replicas cannot all be assigned (one data node).
    pub health: String,
    /// Bound on each wait: the pod, its node, the health.
    pub timeout: Duration,
    pub interval: Duration,
}

pub struct LiveRestart<'a> {
    pub cluster: &'a Cluster,
    pub es: &'a EsClient,
    pub settings: RestartSettings,
    /// The uid of the pod being replaced: the wait is for a different pod of the same name.
    old_uid: Option<String>,
}

impl<'a> LiveRestart<'a> {
    pub fn new(cluster: &'a Cluster, es: &'a EsClient, settings: RestartSettings) -> Self {
        Self {
            cluster,
            es,
            settings,
            old_uid: None,
        }
    }

    async fn node_joined(&self, pod: &str) -> Result<(), String> {
        let deadline = tokio::time::Instant::now() + self.settings.timeout;
        loop {
            // While the node restarts, the client may reach a node that is not up yet: keep asking.
            match self.es.node_names().await {
                Ok(names) if names.iter().any(|n| n == pod) => return Ok(()),
                Ok(_) => {}
                Err(e) => tracing::debug!(error = %e, "reading nodes"),
            }
            if tokio::time::Instant::now() + self.settings.interval > deadline {
                return Err(format!(
                    "node {pod} did not rejoin the cluster within {}s (GET _nodes does not list it)",
                    self.settings.timeout.as_secs()
                ));
            }
            tokio::time::sleep(self.settings.interval).await;
        }
    }

    async fn health(&self) -> Result<(), String> {
        let deadline = tokio::time::Instant::now() + self.settings.timeout;
        let wait = self.settings.interval.max(Duration::from_secs(1));
        loop {
            let health = self
                .es
                .wait_for_health(&self.settings.health, &format!("{}s", wait.as_secs()))
                .await
                .map_err(|e| e.to_string())?;
            if !health.timed_out {
                return Ok(());
            }
            if tokio::time::Instant::now() + wait > deadline {
                return Err(format!(
                    "cluster health is {} after {}s, not {}",
                    health.status,
                    self.settings.timeout.as_secs(),
                    self.settings.health
                ));
            }
        }
    }
}

impl Executor for LiveRestart<'_> {
    async fn run(&mut self, step: &Step) -> Result<(), String> {
        match step {
            Step::AllocatePrimariesOnly => self
                .es
                .set_allocation(Some("primaries"))
                .await
                .map_err(|e| e.to_string()),
            Step::Flush => self.es.flush().await.map_err(|e| e.to_string()),
            Step::DeletePod(pod) => {
                let current = self
                    .cluster
                    .get(Kind::Pod, pod)
                    .await
                    .map_err(|e| e.to_string())?;
                self.old_uid = current
                    .as_ref()
                    .and_then(|p| p.pointer("/metadata/uid"))
                    .and_then(|u| u.as_str())
                    .map(str::to_owned);
                if current.is_none() {
                    // Already gone: the controller recreates it; wait for that one.
                    return Ok(());
                }
                self.cluster
                    .delete_pod(pod)
                    .await
                    .map_err(|e| e.to_string())
            }
            Step::WaitPodReady(pod) => self
                .cluster
                .wait_pod_ready(
                    pod,
                    self.old_uid.as_deref(),
                    self.settings.timeout,
                    self.settings.interval,
                )
                .await
                .map_err(|e| e.to_string()),
            Step::WaitNodeJoined(pod) => self.node_joined(pod).await,
            Step::EnableAllocation => self
                .es
                .set_allocation(None)
                .await
                .map_err(|e| e.to_string()),
            Step::WaitHealth => self.health().await,
        }
    }
}
