//! kube-rs calls on untyped objects (`DynamicObject`), so what the planner sees is exactly what the
//! API server sent, unknown fields included, and the ECK resource needs no generated types.

use std::time::Duration;

use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams,
};
use serde_json::Value;

use super::error::ClusterError;
use crate::enable::{ES_API_VERSION, ES_KIND, ES_PLURAL};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    StatefulSet,
    PersistentVolumeClaim,
    Pod,
    Elasticsearch,
    MutatingWebhookConfiguration,
}

impl Kind {
    pub fn from_name(kind: &str) -> Option<Self> {
        match kind {
            "StatefulSet" => Some(Kind::StatefulSet),
            "PersistentVolumeClaim" => Some(Kind::PersistentVolumeClaim),
            "Pod" => Some(Kind::Pod),
            "Elasticsearch" => Some(Kind::Elasticsearch),
            _ => None,
        }
    }

    fn resource(self) -> ApiResource {
        let (group, version, kind, plural) = match self {
            Kind::StatefulSet => ("apps", "v1", "StatefulSet", "statefulsets"),
            Kind::PersistentVolumeClaim => {
                ("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims")
            }
            Kind::Pod => ("", "v1", "Pod", "pods"),
            Kind::Elasticsearch => (
                ES_API_VERSION.split('/').next().unwrap_or_default(),
                "v1",
                ES_KIND,
                ES_PLURAL,
            ),
            Kind::MutatingWebhookConfiguration => (
                "admissionregistration.k8s.io",
                "v1",
                "MutatingWebhookConfiguration",
                "mutatingwebhookconfigurations",
            ),
        };
        let api_version = if group.is_empty() {
            version.to_owned()
        } else {
            format!("{group}/{version}")
        };
        ApiResource {
            group: group.to_owned(),
            version: version.to_owned(),
            api_version,
            kind: kind.to_owned(),
            plural: plural.to_owned(),
        }
    }

    fn label(self) -> &'static str {
        match self {
            Kind::StatefulSet => "statefulset",
            Kind::PersistentVolumeClaim => "persistentvolumeclaim",
            Kind::Pod => "pod",
            Kind::Elasticsearch => "elasticsearch",
            Kind::MutatingWebhookConfiguration => "mutatingwebhookconfiguration",
        }
    }
}

#[derive(Clone)]
pub struct Cluster {
    client: kube::Client,
    namespace: String,
}

fn api_error(action: String) -> impl FnOnce(kube::Error) -> ClusterError {
    move |cause| ClusterError::Api { action, cause }
}

fn to_value(object: DynamicObject, action: &str) -> Result<Value, ClusterError> {
    serde_json::to_value(object).map_err(|e| ClusterError::Invalid {
        action: action.to_owned(),
        reason: e.to_string(),
    })
}

impl Cluster {
    pub fn new(client: kube::Client, namespace: &str) -> Self {
        Self {
            client,
            namespace: namespace.to_owned(),
        }
    }

    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    fn api(&self, kind: Kind) -> Api<DynamicObject> {
        let resource = kind.resource();
        match kind {
            Kind::MutatingWebhookConfiguration => Api::all_with(self.client.clone(), &resource),
            _ => Api::namespaced_with(self.client.clone(), &self.namespace, &resource),
        }
    }

    /// The object as JSON, or None when it does not exist.
    pub async fn get(&self, kind: Kind, name: &str) -> Result<Option<Value>, ClusterError> {
        let action = format!("read {} {}/{name}", kind.label(), self.namespace);
        match self
            .api(kind)
            .get_opt(name)
            .await
            .map_err(api_error(action.clone()))?
        {
            Some(o) => Ok(Some(to_value(o, &action)?)),
            None => Ok(None),
        }
    }

    pub async fn create(&self, kind: Kind, object: &Value) -> Result<(), ClusterError> {
        let name = object
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let action = format!("create {} {}/{name}", kind.label(), self.namespace);
        let dynamic: DynamicObject =
            serde_json::from_value(object.clone()).map_err(|e| ClusterError::Invalid {
                action: action.clone(),
                reason: e.to_string(),
            })?;
        self.api(kind)
            .create(&PostParams::default(), &dynamic)
            .await
            .map_err(api_error(action))?;
        Ok(())
    }

    /// `patch_type`: `json` (RFC 6902) or `merge` (RFC 7386), as the plan says.
    pub async fn patch(
        &self,
        kind: Kind,
        name: &str,
        patch_type: &str,
        patch: &Value,
    ) -> Result<(), ClusterError> {
        let action = format!("patch {} {}/{name}", kind.label(), self.namespace);
        let params = PatchParams::default();
        let api = self.api(kind);
        let result = match patch_type {
            "json" => {
                let ops: json_patch::Patch =
                    serde_json::from_value(patch.clone()).map_err(|e| ClusterError::Invalid {
                        action: action.clone(),
                        reason: format!("not a JSON patch: {e}"),
                    })?;
                api.patch(name, &params, &Patch::Json::<()>(ops)).await
            }
            "merge" => api.patch(name, &params, &Patch::Merge(patch)).await,
            other => {
                return Err(ClusterError::Invalid {
                    action,
                    reason: format!("unknown patch type {other}"),
                })
            }
        };
        result.map_err(api_error(action))?;
        Ok(())
    }

    /// Every MutatingWebhookConfiguration in the cluster (cluster-scoped; needs list permission).
    pub async fn webhook_configurations(&self) -> Result<Vec<Value>, ClusterError> {
        let action = "list MutatingWebhookConfigurations".to_owned();
        let list = self
            .api(Kind::MutatingWebhookConfiguration)
            .list(&ListParams::default())
            .await
            .map_err(api_error(action.clone()))?;
        list.items
            .into_iter()
            .map(|o| to_value(o, &action))
            .collect()
    }

    pub async fn delete_pod(&self, name: &str) -> Result<(), ClusterError> {
        let action = format!("delete pod {}/{name}", self.namespace);
        self.api(Kind::Pod)
            .delete(name, &DeleteParams::default())
            .await
            .map_err(api_error(action))?;
        Ok(())
    }

    /// Polls `kind`/`name` until `done` holds, for at most `timeout`: a rollout the StatefulSet
    /// controller or ECK does on its own.
    pub async fn wait_until(
        &self,
        kind: Kind,
        name: &str,
        done: impl Fn(&Value) -> bool,
        timeout: Duration,
        interval: Duration,
    ) -> Result<(), ClusterError> {
        let action = format!("see {} {}/{name} rolled out", kind.label(), self.namespace);
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if self.get(kind, name).await?.as_ref().is_some_and(&done) {
                return Ok(());
            }
            if tokio::time::Instant::now() + interval > deadline {
                return Err(ClusterError::Timeout {
                    action,
                    seconds: timeout.as_secs(),
                });
            }
            tokio::time::sleep(interval).await;
        }
    }

    /// Polls until a pod `name` other than `old_uid` is Ready, for at most `timeout`.
    pub async fn wait_pod_ready(
        &self,
        name: &str,
        old_uid: Option<&str>,
        timeout: Duration,
        interval: Duration,
    ) -> Result<(), ClusterError> {
        let action = format!("see pod {}/{name} back and Ready", self.namespace);
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(pod) = self.get(Kind::Pod, name).await? {
                let uid = pod.pointer("/metadata/uid").and_then(Value::as_str);
                if uid != old_uid && pod_ready(&pod) {
                    return Ok(());
                }
            }
            if tokio::time::Instant::now() + interval > deadline {
                return Err(ClusterError::Timeout {
                    action,
                    seconds: timeout.as_secs(),
                });
            }
            tokio::time::sleep(interval).await;
        }
    }
}

pub fn pod_ready(pod: &Value) -> bool {
    pod.pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|c| {
            c.iter().any(|c| {
                c.get("type").and_then(Value::as_str) == Some("Ready")
                    && c.get("status").and_then(Value::as_str) == Some("True")
            })
        })
        && pod.pointer("/metadata/deletionTimestamp").is_none()
}
