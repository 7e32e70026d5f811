//! The one Kubernetes layer: a connection that knows its server (`Kube`), discovery of what the
//! server serves (`discovery`), typed calls for each workflow (`objects` for enable/disable,
//! `schedules`, `webhook_objects`, `elasticsearch` for finding and reaching Elasticsearch), and one error
//! type (`K8sError`) that says what was attempted, what the server said, and what to do.
//!
//! The calls make no decisions (those are in the core); the version choices are pure functions of
//! a `Served` the caller discovered once, so the mocked-API tests pass a `Served` of their own.

pub mod discovery;
pub mod elasticsearch;
mod error;
pub mod objects;
pub mod proofs;
pub mod restart;
pub mod schedules;
pub mod volume_snapshots;
pub mod webhook_objects;

use std::path::Path;
use std::sync::OnceLock;

pub use discovery::{EndpointsApi, Served};
use error::innermost;
pub use error::{from_kube, Attempt, K8sError, Problem};
pub use objects::{Cluster, Kind};
pub use restart::{LiveRestart, RestartSettings};

/// The field manager of every server-side apply we do.
pub const FIELD_MANAGER: &str = logbackup_core::ids::PRODUCT;

/// A client, the server it talks to (for messages), and what that server serves (asked once).
#[derive(Clone)]
pub struct Kube {
    client: kube::Client,
    server: String,
    served: std::sync::Arc<OnceLock<Served>>,
}

impl Kube {
    pub fn new(client: kube::Client, server: &str) -> Self {
        Self {
            client,
            server: server.to_owned(),
            served: Default::default(),
        }
    }

    /// From the kubeconfig (`--kubeconfig`, else $KUBECONFIG, else ~/.kube/config; or in-cluster)
    /// and `--context`.
    pub async fn connect(
        kubeconfig: Option<&Path>,
        context: Option<&str>,
    ) -> Result<Self, K8sError> {
        let attempt = || Attempt::new("get", "kubeconfig", "kubeconfig");
        let config_error = |detail: String| {
            K8sError::new(
                attempt(),
                Problem::Invalid(format!(
                    "{detail}; pass --kubeconfig FILE or --context NAME (or --es-url to reach Elasticsearch directly)"
                )),
            )
        };
        let options = kube::config::KubeConfigOptions {
            context: context.map(str::to_owned),
            cluster: None,
            user: None,
        };
        let config = match kubeconfig {
            Some(path) => {
                let file = kube::config::Kubeconfig::read_from(path).map_err(|e| {
                    config_error(format!("cannot read {}: {}", path.display(), innermost(&e)))
                })?;
                kube::Config::from_custom_kubeconfig(file, &options)
                    .await
                    .map_err(|e| config_error(innermost(&e)))?
            }
            // No kubeconfig inside a scheduled Job: the ServiceAccount's in-cluster token (only
            // schedules with --volume-snapshot-class have one).
            None if context.is_none() => kube::Config::infer()
                .await
                .map_err(|e| config_error(innermost(&e)))?,
            None => kube::Config::from_kubeconfig(&options)
                .await
                .map_err(|e| config_error(innermost(&e)))?,
        };
        let server = config.cluster_url.to_string();
        let default_namespace = config.default_namespace.clone();
        let client = kube::Client::try_from(config).map_err(|e| config_error(innermost(&e)))?;
        debug_assert_eq!(client.default_namespace(), default_namespace);
        Ok(Self::new(client, server.trim_end_matches('/')))
    }

    pub fn client(&self) -> &kube::Client {
        &self.client
    }

    pub fn server(&self) -> &str {
        &self.server
    }

    /// The kubeconfig context's namespace (`default` when it names none).
    pub fn default_namespace(&self) -> &str {
        self.client.default_namespace()
    }

    /// What the server serves, asked on first use.
    pub async fn served(&self) -> Result<&Served, K8sError> {
        if let Some(served) = self.served.get() {
            return Ok(served);
        }
        let served = Served::fetch(&self.client, &self.server).await?;
        if let Some(note) = served.support_note() {
            tracing::warn!("{note}");
        }
        Ok(self.served.get_or_init(|| served))
    }

    /// Uses `served` instead of asking (tests, and callers that already know).
    pub fn with_served(self, served: Served) -> Self {
        let _ = self.served.set(served);
        self
    }

    /// Maps a kube error for `attempt`.
    pub fn failed(&self, attempt: Attempt) -> impl FnOnce(kube::Error) -> K8sError + '_ {
        move |e| from_kube(attempt, &self.server, e)
    }
}

/// Server-side applies a typed object with our field manager, forcing ownership of the fields we
/// set (we are their only writer; a conflict means someone hand-edited an object we own).
pub async fn apply<K>(
    kube: &Kube,
    api: &kube::Api<K>,
    attempt: Attempt,
    object: &K,
) -> Result<K, K8sError>
where
    K: kube::Resource<DynamicType = ()>
        + Clone
        + serde::Serialize
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    let name = object.meta().name.clone().unwrap_or_default();
    let params = kube::api::PatchParams::apply(FIELD_MANAGER).force();
    api.patch(&name, &params, &kube::api::Patch::Apply(object))
        .await
        .map_err(kube.failed(attempt))
}
