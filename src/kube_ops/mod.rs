//! The thin Kubernetes calls of `schedule` and `webhook install`: server-side apply, list, delete,
//! create. No decisions here (those are in `schedule` and `webhook_install`), so the tests drive
//! them against a mocked API server and check each request.

pub mod schedules;
pub mod webhook;

/// The field manager of every server-side apply we do.
pub const FIELD_MANAGER: &str = "kubectl-logbackup";

#[derive(Debug, thiserror::Error)]
#[error("failed to {action}: {source}")]
pub struct KubeError {
    pub action: String,
    #[source]
    pub source: kube::Error,
}

pub(crate) fn failed(action: impl Into<String>) -> impl FnOnce(kube::Error) -> KubeError {
    let action = action.into();
    move |source| KubeError { action, source }
}

/// Whether the API answered 404.
pub fn is_not_found(e: &KubeError) -> bool {
    matches!(&e.source, kube::Error::Api(s) if s.code == 404)
}

/// Server-side applies a typed object with our field manager, forcing ownership of the fields we
/// set (we are their only writer; a conflict means someone hand-edited an object we own).
pub async fn apply<K>(api: &kube::Api<K>, object: &K) -> Result<K, KubeError>
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
        .map_err(failed(format!("apply {} {name}", K::kind(&()))))
}
