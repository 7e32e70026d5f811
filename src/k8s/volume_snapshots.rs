//! CSI VolumeSnapshots (`snapshot.storage.k8s.io/v1`) of the repository claim: create, list ours,
//! delete. A server without the API (no external-snapshotter CRDs) is told apart, with what to
//! install.

use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, PostParams,
};
use logbackup_core::volume_snapshot as vs;
use serde_json::Value;

use super::{Attempt, K8sError, Kube, Problem};

const RESOURCE: &str = "volumesnapshots.snapshot.storage.k8s.io";

const NO_CRDS: &str = "the VolumeSnapshot API (snapshot.storage.k8s.io/v1) is not served: install the external-snapshotter CRDs and snapshot controller, and a CSI driver that supports snapshots";

fn api(kube: &Kube, namespace: &str) -> Api<DynamicObject> {
    let resource = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk(vs::GROUP, vs::VERSION, vs::KIND),
        vs::PLURAL,
    );
    Api::namespaced_with(kube.client().clone(), namespace, &resource)
}

fn attempt(verb: &'static str, namespace: &str, name: Option<&str>) -> Attempt {
    let a = Attempt::new(verb, vs::KIND, RESOURCE).in_namespace(Some(namespace));
    match name {
        Some(n) => a.named(n),
        None => a,
    }
}

/// The error, or the missing API said plainly: a 404 on create or list means the API is not there.
fn failed(kube: &Kube, attempt: Attempt) -> impl FnOnce(kube::Error) -> K8sError + '_ {
    move |e| match &e {
        kube::Error::Api(r) if r.code == 404 => {
            K8sError::new(attempt, Problem::Unsupported(NO_CRDS.into()))
        }
        _ => kube.failed(attempt)(e),
    }
}

/// Creates the VolumeSnapshot `object`; its name.
pub async fn create(kube: &Kube, namespace: &str, object: &Value) -> Result<String, K8sError> {
    let name = object["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let attempt = attempt("create", namespace, Some(&name));
    let dynamic: DynamicObject = serde_json::from_value(object.clone())
        .map_err(|e| K8sError::new(attempt.clone(), Problem::Invalid(e.to_string())))?;
    api(kube, namespace)
        .create(&PostParams::default(), &dynamic)
        .await
        .map_err(failed(kube, attempt))?;
    Ok(name)
}

/// The VolumeSnapshots matching `selector`, as JSON.
pub async fn list(kube: &Kube, namespace: &str, selector: &str) -> Result<Vec<Value>, K8sError> {
    let attempt = attempt("list", namespace, None);
    let list = api(kube, namespace)
        .list(&ListParams::default().labels(selector))
        .await
        .map_err(failed(kube, attempt.clone()))?;
    list.items
        .into_iter()
        .map(|o| {
            serde_json::to_value(o)
                .map_err(|e| K8sError::new(attempt.clone(), Problem::Invalid(e.to_string())))
        })
        .collect()
}

pub async fn delete(kube: &Kube, namespace: &str, name: &str) -> Result<(), K8sError> {
    api(kube, namespace)
        .delete(name, &DeleteParams::default())
        .await
        .map_err(kube.failed(attempt("delete", namespace, Some(name))))?;
    Ok(())
}
