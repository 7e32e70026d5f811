//! Objects the tests start from, read from the repository's fixtures, and helpers to apply them.

use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams};
use kube::Client;
use serde_json::Value;

pub const KS_NS: &str = "kubesphere-logging-system";

/// A fixture StatefulSet as KubeSphere has it: without our opt-in label.
pub fn kubesphere(role: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/inject/kubesphere-{role}.yaml",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap();
    let mut docs = logbackup::manifest::parse_documents(&path, &text).unwrap();
    let mut sts = docs.remove(0);
    if let Some(labels) = sts["metadata"]["labels"].as_object_mut() {
        labels.remove("logbackup.io/inject");
    }
    sts
}

/// Server-side applies any object, as the admin.
pub async fn apply(client: &Client, object: &Value) {
    let api_version = object["apiVersion"].as_str().unwrap();
    let kind = object["kind"].as_str().unwrap();
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    let discovery =
        kube::discovery::pinned_kind(client, &GroupVersionKind::gvk(group, version, kind))
            .await
            .unwrap_or_else(|e| panic!("discovering {api_version} {kind}: {e}"));
    let (resource, caps): (ApiResource, _) = discovery;
    let name = object["metadata"]["name"].as_str().unwrap();
    let api: Api<DynamicObject> = match (caps.scope, object["metadata"]["namespace"].as_str()) {
        (kube::discovery::Scope::Namespaced, Some(ns)) => {
            Api::namespaced_with(client.clone(), ns, &resource)
        }
        _ => Api::all_with(client.clone(), &resource),
    };
    api.patch(
        name,
        &PatchParams::apply("test-setup").force(),
        &Patch::Apply(object),
    )
    .await
    .unwrap_or_else(|e| panic!("applying {kind} {name}: {e}"));
}

/// The namespace, and a ServiceAccount of each name (the pods of the fixtures run as one).
pub async fn namespace(client: &Client, ns: &str, service_accounts: &[&str]) {
    apply(
        client,
        &serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
    )
    .await;
    for sa in service_accounts {
        apply(
            client,
            &serde_json::json!({"apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": {"name": sa, "namespace": ns}}),
        )
        .await;
    }
}

/// GET an object as JSON, or None.
pub async fn get(
    client: &Client,
    api_version: &str,
    kind: &str,
    ns: Option<&str>,
    name: &str,
) -> Option<Value> {
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    let (resource, _) =
        kube::discovery::pinned_kind(client, &GroupVersionKind::gvk(group, version, kind))
            .await
            .unwrap();
    let api: Api<DynamicObject> = match ns {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &resource),
        None => Api::all_with(client.clone(), &resource),
    };
    api.get_opt(name)
        .await
        .unwrap()
        .map(|o| serde_json::to_value(o).unwrap())
}
