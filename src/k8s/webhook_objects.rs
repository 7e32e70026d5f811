//! The webhook's objects in the cluster: applied as dynamic objects (the manifests are YAML), read
//! back typed for `status`. What this server cannot take is adapted first (`for_server`): the
//! PodDisruptionBudget's API version, and the Deployment's `matchLabelKeys` (1.27+).

use k8s_openapi::api::admissionregistration::v1::MutatingWebhookConfiguration;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Secret};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, Patch, PatchParams,
};
use kube::Client;
use serde_json::Value;

use super::{Attempt, EndpointsApi, K8sError, Kube, Problem, Served, FIELD_MANAGER};

/// The objects as this server takes them, and notes on what was changed for it.
pub fn for_server(
    objects: &[Value],
    served: &Served,
) -> Result<(Vec<Value>, Vec<String>), K8sError> {
    let mut notes = Vec::new();
    let mut out = Vec::with_capacity(objects.len());
    for object in objects {
        let mut object = object.clone();
        match object["kind"].as_str() {
            Some("PodDisruptionBudget") => {
                let chosen = served.pod_disruption_budget()?;
                object["apiVersion"] = Value::from(chosen.api_version);
                notes.extend(chosen.note);
            }
            Some("Deployment") if !served.match_label_keys() => {
                let mut removed = false;
                if let Some(constraints) = object
                    .pointer_mut("/spec/template/spec/topologySpreadConstraints")
                    .and_then(Value::as_array_mut)
                {
                    for c in constraints.iter_mut().filter_map(Value::as_object_mut) {
                        removed |= c.remove("matchLabelKeys").is_some();
                    }
                }
                if removed {
                    notes.push(format!(
                        "{} has no topologySpreadConstraints matchLabelKeys (1.27+): left out; \
                         it only evens out the spread during a rolling update",
                        served.name()
                    ));
                }
            }
            _ => {}
        }
        out.push(object);
    }
    Ok((out, notes))
}

fn kind_attempt(verb: &'static str, object: &Value) -> Attempt {
    let kind = object["kind"].as_str().unwrap_or_default();
    let api_version = object["apiVersion"].as_str().unwrap_or_default();
    let group = api_version.split_once('/').map(|(g, _)| g).unwrap_or("");
    let plural = resource_of(api_version, kind)
        .map(|(r, _)| r.plural)
        .unwrap_or_else(|| kind.to_lowercase());
    let resource = if group.is_empty() {
        plural
    } else {
        format!("{plural}.{group}")
    };
    let attempt =
        Attempt::new(verb, kind, &resource).in_namespace(object["metadata"]["namespace"].as_str());
    match object["metadata"]["name"].as_str() {
        Some(name) => attempt.named(name),
        None => attempt,
    }
}

/// The API resource of each kind the webhook manifests (and the files collector's, its push CronJob included) hold, and
/// whether it is namespaced.
pub fn resource_of(api_version: &str, kind: &str) -> Option<(ApiResource, bool)> {
    let (plural, namespaced) = match kind {
        "Namespace" => ("namespaces", false),
        "ServiceAccount" => ("serviceaccounts", true),
        "Service" => ("services", true),
        "Deployment" => ("deployments", true),
        "DaemonSet" => ("daemonsets", true),
        "CronJob" => ("cronjobs", true),
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

fn api_for(
    client: &Client,
    object: &Value,
    verb: &'static str,
) -> Result<(Api<DynamicObject>, String), K8sError> {
    let api_version = object["apiVersion"].as_str().unwrap_or_default();
    let kind = object["kind"].as_str().unwrap_or_default();
    let name = object["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let (resource, namespaced) = resource_of(api_version, kind).ok_or_else(|| {
        K8sError::new(
            kind_attempt(verb, object),
            Problem::Invalid(format!("no API resource known for {api_version} {kind}")),
        )
    })?;
    let api = match (namespaced, object["metadata"]["namespace"].as_str()) {
        (true, Some(ns)) => Api::namespaced_with(client.clone(), ns, &resource),
        _ => Api::all_with(client.clone(), &resource),
    };
    Ok((api, format!("{kind} {name}")))
}

/// Server-side applies each object, in order. Returns what was applied (`Kind name`); on a
/// failure the error lists what had been applied before it.
pub async fn apply_all(kube: &Kube, objects: &[Value]) -> Result<Vec<String>, K8sError> {
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let mut applied = Vec::new();
    for object in objects {
        let (api, what) = api_for(kube.client(), object, "create")?;
        let name = object["metadata"]["name"].as_str().unwrap_or_default();
        if let Err(e) = api.patch(name, &params, &Patch::Apply(object)).await {
            let mut e = kube.failed(kind_attempt("create", object))(e);
            if !applied.is_empty() {
                e.cleanup = Some(format!(
                    "already applied: {}; run install again once fixed, or remove them with `kubectl logbackup webhook uninstall`",
                    applied.join(", ")
                ));
            }
            return Err(e);
        }
        applied.push(what);
    }
    Ok(applied)
}

/// Deletes each object in reverse order; returns what was actually there. A kind whose API does
/// not exist (cert-manager not installed) counts as absent.
pub async fn delete_all(
    kube: &Kube,
    objects: &[Value],
    dry_run: bool,
) -> Result<Vec<String>, K8sError> {
    let mut params = DeleteParams::background();
    if dry_run {
        params = params.dry_run();
    }
    let mut deleted = Vec::new();
    for object in objects.iter().rev() {
        let (api, what) = api_for(kube.client(), object, "delete")?;
        let name = object["metadata"]["name"].as_str().unwrap_or_default();
        match api.delete(name, &params).await {
            Ok(_) => deleted.push(what),
            Err(e) => {
                let e = kube.failed(kind_attempt("delete", object))(e);
                if !e.is_not_found() {
                    return Err(e);
                }
            }
        }
    }
    Ok(deleted)
}

/// The namespace's labels when it exists.
pub async fn namespace_labels(
    kube: &Kube,
    name: &str,
) -> Result<Option<std::collections::BTreeMap<String, String>>, K8sError> {
    let api: Api<Namespace> = Api::all(kube.client().clone());
    api.get_opt(name)
        .await
        .map(|ns| ns.map(|n| n.metadata.labels.unwrap_or_default()))
        .map_err(kube.failed(Attempt::new("get", "Namespace", "namespaces").named(name)))
}

/// Whether cert-manager's Issuer and Certificate CRDs are installed.
pub async fn missing_cert_manager_crds(kube: &Kube) -> Result<Vec<String>, K8sError> {
    let api: Api<CustomResourceDefinition> = Api::all(kube.client().clone());
    let mut missing = Vec::new();
    for crd in ["certificates.cert-manager.io", "issuers.cert-manager.io"] {
        if api
            .get_opt(crd)
            .await
            .map_err(
                kube.failed(
                    Attempt::new(
                        "get",
                        "CustomResourceDefinition",
                        "customresourcedefinitions.apiextensions.k8s.io",
                    )
                    .named(crd),
                ),
            )?
            .is_none()
        {
            missing.push(crd.to_string());
        }
    }
    Ok(missing)
}

pub async fn secret_data(
    kube: &Kube,
    namespace: &str,
    name: &str,
) -> Result<Option<std::collections::BTreeMap<String, String>>, K8sError> {
    let api: Api<Secret> = Api::namespaced(kube.client().clone(), namespace);
    let secret = api.get_opt(name).await.map_err(
        kube.failed(
            Attempt::new("get", "Secret", "secrets")
                .in_namespace(Some(namespace))
                .named(name),
        ),
    )?;
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
    kube: &Kube,
    served: &Served,
    namespace: &str,
    deployment: &str,
    webhook_config: &str,
    tls_secret: &str,
    service: &str,
) -> Result<Observed, K8sError> {
    let client = kube.client();
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), namespace);
    let deployment = deployments
        .get_opt(deployment)
        .await
        .map_err(
            kube.failed(
                Attempt::new("get", "Deployment", "deployments.apps")
                    .in_namespace(Some(namespace))
                    .named(deployment),
            ),
        )?
        .map(|d| {
            let want = d.spec.and_then(|s| s.replicas).unwrap_or(1);
            let ready = d.status.and_then(|s| s.ready_replicas).unwrap_or(0);
            (ready, want)
        });
    let configs: Api<MutatingWebhookConfiguration> = Api::all(client.clone());
    let ca_bundle = configs
        .get_opt(webhook_config)
        .await
        .map_err(
            kube.failed(
                Attempt::new(
                    "get",
                    "MutatingWebhookConfiguration",
                    "mutatingwebhookconfigurations.admissionregistration.k8s.io",
                )
                .named(webhook_config),
            ),
        )?
        .and_then(|c| c.webhooks)
        .and_then(|w| w.into_iter().next())
        .and_then(|w| w.client_config.ca_bundle)
        .map(|b| String::from_utf8_lossy(&b.0).into_owned());
    let serving_cert = secret_data(kube, namespace, tls_secret)
        .await?
        .and_then(|d| d.get("tls.crt").cloned());
    let ready_endpoints = ready_endpoints(kube, served.endpoints(), namespace, service).await?;
    Ok(Observed {
        deployment,
        ca_bundle,
        serving_cert,
        ready_endpoints,
    })
}

/// Ready endpoints of the Service, from EndpointSlices (`v1` or `v1beta1`) or Endpoints.
async fn ready_endpoints(
    kube: &Kube,
    api: EndpointsApi,
    namespace: &str,
    service: &str,
) -> Result<usize, K8sError> {
    let (version, kind, plural, group) = match api {
        EndpointsApi::SliceV1 => ("v1", "EndpointSlice", "endpointslices", "discovery.k8s.io"),
        EndpointsApi::SliceV1beta1 => (
            "v1beta1",
            "EndpointSlice",
            "endpointslices",
            "discovery.k8s.io",
        ),
        EndpointsApi::Endpoints => ("v1", "Endpoints", "endpoints", ""),
    };
    let resource =
        ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural);
    let api: Api<DynamicObject> = Api::namespaced_with(kube.client().clone(), namespace, &resource);
    let rbac_resource = if group.is_empty() {
        plural.to_owned()
    } else {
        format!("{plural}.{group}")
    };
    let attempt = Attempt::new("list", kind, &rbac_resource).in_namespace(Some(namespace));
    let params = match api_kind_is_slice(kind) {
        true => ListParams::default().labels(&format!("kubernetes.io/service-name={service}")),
        false => ListParams::default().fields(&format!("metadata.name={service}")),
    };
    let items = api.list(&params).await.map_err(kube.failed(attempt))?.items;
    let count = items
        .iter()
        .map(|o| {
            if api_kind_is_slice(kind) {
                o.data["endpoints"]
                    .as_array()
                    .map(|es| {
                        es.iter()
                            .filter(|e| e["conditions"]["ready"].as_bool().unwrap_or(false))
                            .count()
                    })
                    .unwrap_or(0)
            } else {
                o.data["subsets"]
                    .as_array()
                    .map(|ss| {
                        ss.iter()
                            .map(|s| s["addresses"].as_array().map_or(0, Vec::len))
                            .sum()
                    })
                    .unwrap_or(0)
            }
        })
        .sum();
    Ok(count)
}

fn api_kind_is_slice(kind: &str) -> bool {
    kind == "EndpointSlice"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_the_installers_apply_has_its_resource() {
        let objects = logbackup_core::files::install::objects(&{
            let mut o = logbackup_core::files::install::InstallOptions::new("ns", "claim");
            o.push = Some(logbackup_core::files::install::PushOptions {
                destination: "s3://b/p".into(),
                schedule: "0 * * * *".into(),
                secret: None,
                flags: Vec::new(),
                api_version: "batch/v1beta1".into(),
            });
            o
        });
        for object in &objects {
            let (api_version, kind) = (
                object["apiVersion"].as_str().unwrap(),
                object["kind"].as_str().unwrap(),
            );
            let (resource, namespaced) = resource_of(api_version, kind)
                .unwrap_or_else(|| panic!("{api_version} {kind} has no resource"));
            assert!(namespaced, "{kind}");
            if kind == "CronJob" {
                assert_eq!(resource.plural, "cronjobs");
                assert_eq!(resource.api_version, "batch/v1beta1");
            }
        }
    }
}
