//! The calls of `enable`/`disable`: kube-rs calls on untyped objects (`DynamicObject`), so what the planner sees is exactly what the
//! API server sent, unknown fields included, and the ECK resource needs no generated types.

use std::time::Duration;

use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams,
};
use serde_json::Value;

use super::{Attempt, K8sError, Kube, Problem};
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

    /// What a call on `name` (or on all of them) was attempting, as RBAC and users name it.
    fn attempt(self, verb: &'static str, namespace: &str, name: Option<&str>) -> Attempt {
        let r = self.resource();
        let resource = if r.group.is_empty() {
            r.plural.clone()
        } else {
            format!("{}.{}", r.plural, r.group)
        };
        let namespace = match self {
            Kind::MutatingWebhookConfiguration => None,
            _ => Some(namespace),
        };
        let attempt = Attempt::new(verb, &r.kind, &resource).in_namespace(namespace);
        match name {
            Some(name) => attempt.named(name),
            None => attempt,
        }
    }
}

#[derive(Clone)]
pub struct Cluster {
    kube: Kube,
    namespace: String,
}

fn to_value(object: DynamicObject, attempt: &Attempt) -> Result<Value, K8sError> {
    serde_json::to_value(object)
        .map_err(|e| K8sError::new(attempt.clone(), Problem::Invalid(e.to_string())))
}

impl Cluster {
    pub fn new(kube: Kube, namespace: &str) -> Self {
        Self {
            kube,
            namespace: namespace.to_owned(),
        }
    }

    pub fn kube(&self) -> &Kube {
        &self.kube
    }

    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    fn api(&self, kind: Kind) -> Api<DynamicObject> {
        let resource = kind.resource();
        let client = self.kube.client().clone();
        match kind {
            Kind::MutatingWebhookConfiguration => Api::all_with(client, &resource),
            _ => Api::namespaced_with(client, &self.namespace, &resource),
        }
    }

    /// The object as JSON, or None when it does not exist.
    pub async fn get(&self, kind: Kind, name: &str) -> Result<Option<Value>, K8sError> {
        let attempt = kind.attempt("get", &self.namespace, Some(name));
        match self.api(kind).get(name).await {
            Ok(o) => Ok(Some(to_value(o, &attempt)?)),
            Err(e) => {
                let e = self.kube.failed(attempt)(e);
                // No such object is an answer; no such API (a CRD not installed) is an error.
                if e.is_not_found() && !e.is_api_not_served() {
                    Ok(None)
                } else {
                    Err(e)
                }
            }
        }
    }

    pub async fn create(&self, kind: Kind, object: &Value) -> Result<(), K8sError> {
        let name = object
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let attempt = kind.attempt("create", &self.namespace, Some(name));
        let dynamic: DynamicObject = serde_json::from_value(object.clone())
            .map_err(|e| K8sError::new(attempt.clone(), Problem::Invalid(e.to_string())))?;
        self.api(kind)
            .create(&PostParams::default(), &dynamic)
            .await
            .map_err(self.kube.failed(attempt))?;
        Ok(())
    }

    /// `patch_type`: `json` (RFC 6902) or `merge` (RFC 7386), as the plan says.
    pub async fn patch(
        &self,
        kind: Kind,
        name: &str,
        patch_type: &str,
        patch: &Value,
    ) -> Result<(), K8sError> {
        let attempt = kind.attempt("patch", &self.namespace, Some(name));
        let invalid = |reason: String| K8sError::new(attempt.clone(), Problem::Invalid(reason));
        let params = PatchParams::default();
        let api = self.api(kind);
        let result = match patch_type {
            "json" => {
                let ops: json_patch::Patch = serde_json::from_value(patch.clone())
                    .map_err(|e| invalid(format!("not a JSON patch: {e}")))?;
                api.patch(name, &params, &Patch::Json::<()>(ops)).await
            }
            "merge" => api.patch(name, &params, &Patch::Merge(patch)).await,
            other => return Err(invalid(format!("unknown patch type {other}"))),
        };
        result.map_err(self.kube.failed(attempt.clone()))?;
        Ok(())
    }

    /// Every MutatingWebhookConfiguration in the cluster (cluster-scoped; needs list permission).
    pub async fn webhook_configurations(&self) -> Result<Vec<Value>, K8sError> {
        let attempt = Kind::MutatingWebhookConfiguration.attempt("list", &self.namespace, None);
        let list = self
            .api(Kind::MutatingWebhookConfiguration)
            .list(&ListParams::default())
            .await
            .map_err(self.kube.failed(attempt.clone()))?;
        list.items
            .into_iter()
            .map(|o| to_value(o, &attempt))
            .collect()
    }

    pub async fn delete_pod(&self, name: &str) -> Result<(), K8sError> {
        let attempt = Kind::Pod.attempt("delete", &self.namespace, Some(name));
        self.api(Kind::Pod)
            .delete(name, &DeleteParams::default())
            .await
            .map_err(self.kube.failed(attempt))?;
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
    ) -> Result<(), K8sError> {
        let attempt = kind.attempt("get", &self.namespace, Some(name));
        let until = format!("{} {}/{name} has rolled out", attempt.kind, self.namespace);
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if self.get(kind, name).await?.as_ref().is_some_and(&done) {
                return Ok(());
            }
            if tokio::time::Instant::now() + interval > deadline {
                return Err(K8sError::new(
                    attempt,
                    Problem::Timeout {
                        seconds: timeout.as_secs(),
                        until,
                    },
                ));
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
    ) -> Result<(), K8sError> {
        let attempt = Kind::Pod.attempt("get", &self.namespace, Some(name));
        let until = format!("pod {}/{name} is back and Ready", self.namespace);
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(pod) = self.get(Kind::Pod, name).await? {
                let uid = pod.pointer("/metadata/uid").and_then(Value::as_str);
                if uid != old_uid && pod_ready(&pod) {
                    return Ok(());
                }
            }
            if tokio::time::Instant::now() + interval > deadline {
                return Err(K8sError::new(
                    attempt,
                    Problem::Timeout {
                        seconds: timeout.as_secs(),
                        until,
                    },
                ));
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
