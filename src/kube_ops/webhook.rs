//! The webhook's objects in the cluster: applied as dynamic objects (the manifests are YAML), read
//! back typed for `status`.

use k8s_openapi::api::admissionregistration::v1::MutatingWebhookConfiguration;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Secret};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, Patch, PatchParams,
};
use kube::Client;
use serde_json::Value;

use super::{failed, is_not_found, KubeError, FIELD_MANAGER};

/// The API resource of each kind the webhook manifests hold, and whether it is namespaced.
pub fn resource_of(api_version: &str, kind: &str) -> Option<(ApiResource, bool)> {
    let (plural, namespaced) = match kind {
        "Namespace" => ("namespaces", false),
        "ServiceAccount" => ("serviceaccounts", true),
        "Service" => ("services", true),
        "Deployment" => ("deployments", true),
        "PodDisruptionBudget" => ("poddisruptionbudgets", true),
        "NetworkPolicy" => ("networkpolicies", true),
        "Secret" => ("secrets", true),
        "MutatingWebhookConfiguration" => ("mutatingwebhookconfigurations", false),
        "Issuer" => ("issuers", true),
        "Certificate" => ("certificates", true),
        _ => return None,
    };
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    let gvk = GroupVersionKind::gvk(group, version, kind);
    Some((ApiResource::from_gvk_with_plural(&gvk, plural), namespaced))
}

fn api_for(client: &Client, object: &Value) -> Result<(Api<DynamicObject>, String), KubeError> {
    let api_version = object["apiVersion"].as_str().unwrap_or_default();
    let kind = object["kind"].as_str().unwrap_or_default();
    let name = object["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let unknown = || KubeError {
        action: format!("apply {kind} {name}"),
        source: kube::Error::Service(
            format!("no API resource known for {api_version} {kind}").into(),
        ),
    };
    let (resource, namespaced) = resource_of(api_version, kind).ok_or_else(unknown)?;
    let api = match (namespaced, object["metadata"]["namespace"].as_str()) {
        (true, Some(ns)) => Api::namespaced_with(client.clone(), ns, &resource),
        _ => Api::all_with(client.clone(), &resource),
    };
    Ok((api, format!("{kind} {name}")))
}

/// Server-side applies each object, in order.
pub async fn apply_all(client: &Client, objects: &[Value]) -> Result<(), KubeError> {
    let params = PatchParams::apply(FIELD_MANAGER).force();
    for object in objects {
        let (api, what) = api_for(client, object)?;
        let name = object["metadata"]["name"].as_str().unwrap_or_default();
        api.patch(name, &params, &Patch::Apply(object))
            .await
            .map_err(failed(format!("apply {what}")))?;
    }
    Ok(())
}

/// Deletes each object in reverse order; returns what was actually there. A kind whose API does
/// not exist (cert-manager not installed) counts as absent.
pub async fn delete_all(
    client: &Client,
    objects: &[Value],
    dry_run: bool,
) -> Result<Vec<String>, KubeError> {
    let mut params = DeleteParams::background();
    if dry_run {
        params = params.dry_run();
    }
    let mut deleted = Vec::new();
    for object in objects.iter().rev() {
        let (api, what) = api_for(client, object)?;
        let name = object["metadata"]["name"].as_str().unwrap_or_default();
        match api.delete(name, &params).await {
            Ok(_) => deleted.push(what),
            Err(e) => {
                let e = failed(format!("delete {what}"))(e);
                if !is_not_found(&e) {
                    return Err(e);
                }
            }
        }
    }
    Ok(deleted)
}

/// The namespace's labels when it exists.
pub async fn namespace_labels(
    client: &Client,
    name: &str,
) -> Result<Option<std::collections::BTreeMap<String, String>>, KubeError> {
    let api: Api<Namespace> = Api::all(client.clone());
    api.get_opt(name)
        .await
        .map(|ns| ns.map(|n| n.metadata.labels.unwrap_or_default()))
        .map_err(failed(format!("read Namespace {name}")))
}

/// Whether cert-manager's Issuer and Certificate CRDs are installed.
pub async fn missing_cert_manager_crds(client: &Client) -> Result<Vec<String>, KubeError> {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let mut missing = Vec::new();
    for crd in ["certificates.cert-manager.io", "issuers.cert-manager.io"] {
        if api
            .get_opt(crd)
            .await
            .map_err(failed(format!("read CustomResourceDefinition {crd}")))?
            .is_none()
        {
            missing.push(crd.to_string());
        }
    }
    Ok(missing)
}

pub async fn secret_data(
    client: &Client,
    namespace: &str,
    name: &str,
) -> Result<Option<std::collections::BTreeMap<String, String>>, KubeError> {
    let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let secret = api
        .get_opt(name)
        .await
        .map_err(failed(format!("read Secret {namespace}/{name}")))?;
    Ok(secret.map(|s| {
        s.data
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, String::from_utf8_lossy(&v.0).into_owned()))
            .collect()
    }))
}

/// What `webhook status` reads.
#[derive(Debug, Default)]
pub struct Observed {
    pub deployment: Option<(i32, i32)>,
    pub ca_bundle: Option<String>,
    pub serving_cert: Option<String>,
    pub ready_endpoints: usize,
}

pub async fn observe(
    client: &Client,
    namespace: &str,
    deployment: &str,
    webhook_config: &str,
    tls_secret: &str,
    service: &str,
) -> Result<Observed, KubeError> {
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), namespace);
    let deployment = deployments
        .get_opt(deployment)
        .await
        .map_err(failed(format!("read Deployment {namespace}/{deployment}")))?
        .map(|d| {
            let want = d.spec.and_then(|s| s.replicas).unwrap_or(1);
            let ready = d.status.and_then(|s| s.ready_replicas).unwrap_or(0);
            (ready, want)
        });
    let configs: Api<MutatingWebhookConfiguration> = Api::all(client.clone());
    let ca_bundle = configs
        .get_opt(webhook_config)
        .await
        .map_err(failed(format!(
            "read MutatingWebhookConfiguration {webhook_config}"
        )))?
        .and_then(|c| c.webhooks)
        .and_then(|w| w.into_iter().next())
        .and_then(|w| w.client_config.ca_bundle)
        .map(|b| String::from_utf8_lossy(&b.0).into_owned());
    let serving_cert = secret_data(client, namespace, tls_secret)
        .await?
        .and_then(|d| d.get("tls.crt").cloned());
    let slices: Api<EndpointSlice> = Api::namespaced(client.clone(), namespace);
    let ready_endpoints = slices
        .list(&ListParams::default().labels(&format!("kubernetes.io/service-name={service}")))
        .await
        .map_err(failed(format!(
            "list the EndpointSlices of Service {namespace}/{service}"
        )))?
        .items
        .iter()
        .flat_map(|s| s.endpoints.iter())
        .filter(|e| e.conditions.as_ref().and_then(|c| c.ready).unwrap_or(false))
        .count();
    Ok(Observed {
        deployment,
        ca_bundle,
        serving_cert,
        ready_endpoints,
    })
}
