//! The ConfigMap that keeps a repository's restore-test proofs (`logbackup-proofs-<repo>`): read,
//! created empty (by `schedule create --verify`, so the job needs no `create` right), replaced
//! with the resourceVersion it was read at (a concurrent writer makes the replace fail, not lose
//! a record).

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, PostParams};

use super::{Attempt, K8sError, Kube};
use crate::snapshot::proof;

const RESOURCE: &str = "configmaps";

fn attempt(verb: &'static str, namespace: &str, name: &str) -> Attempt {
    Attempt::new(verb, "ConfigMap", RESOURCE)
        .in_namespace(Some(namespace))
        .named(name)
}

/// The stored history text and the resourceVersion it was read at; `None` when there is no
/// ConfigMap yet.
pub async fn read(
    kube: &Kube,
    namespace: &str,
    repository: &str,
) -> Result<Option<(String, Option<String>)>, K8sError> {
    let name = proof::config_map_name(repository);
    let api: Api<ConfigMap> = Api::namespaced(kube.client().clone(), namespace);
    let found = api
        .get_opt(&name)
        .await
        .map_err(kube.failed(attempt("get", namespace, &name)))?;
    Ok(found.map(|cm| {
        let text = cm
            .data
            .and_then(|d| d.get(proof::DATA_KEY).cloned())
            .unwrap_or_default();
        (text, cm.metadata.resource_version)
    }))
}

/// Writes the history: a replace at `version` when the ConfigMap was read, else a create. A
/// 409 Conflict means someone wrote in between; the caller reads again.
pub async fn write(
    kube: &Kube,
    namespace: &str,
    repository: &str,
    text: &str,
    version: Option<String>,
) -> Result<(), K8sError> {
    let mut cm = proof::config_map(namespace, repository, text);
    let name = proof::config_map_name(repository);
    let api: Api<ConfigMap> = Api::namespaced(kube.client().clone(), namespace);
    match version {
        Some(v) => {
            cm.metadata.resource_version = Some(v);
            api.replace(&name, &PostParams::default(), &cm)
                .await
                .map_err(kube.failed(attempt("update", namespace, &name)))?;
        }
        None => {
            api.create(&PostParams::default(), &cm)
                .await
                .map_err(kube.failed(attempt("create", namespace, &name)))?;
        }
    }
    Ok(())
}

/// Creates the empty ConfigMap unless it exists (its history is kept); returns whether it made it.
pub async fn ensure(kube: &Kube, namespace: &str, repository: &str) -> Result<bool, K8sError> {
    let name = proof::config_map_name(repository);
    let api: Api<ConfigMap> = Api::namespaced(kube.client().clone(), namespace);
    match api
        .create(
            &PostParams::default(),
            &proof::config_map(namespace, repository, ""),
        )
        .await
    {
        Ok(_) => Ok(true),
        Err(kube::Error::Api(s)) if s.code == 409 => Ok(false),
        Err(e) => Err(kube.failed(attempt("create", namespace, &name))(e)),
    }
}
