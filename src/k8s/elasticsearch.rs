//! Finding and reaching Elasticsearch through Kubernetes: its Service (the choice is the core's,
//! `es::discovery::choose_service`), a port-forward to a ready pod behind it, and credentials
//! from Secrets.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Pod, Secret, Service};
use kube::api::{Api, ListParams};

use super::{Attempt, K8sError, Kube, Problem};
use crate::es::discovery::{choose_service, EsEndpoint, ServiceCandidate};

/// The Elasticsearch Service in `namespace` (or anywhere), or an error saying how to point at it.
pub async fn find_service(kube: &Kube, namespace: Option<&str>) -> Result<EsEndpoint, K8sError> {
    let api: Api<Service> = match namespace {
        Some(ns) => Api::namespaced(kube.client().clone(), ns),
        None => Api::all(kube.client().clone()),
    };
    let attempt = Attempt::new("list", "Service", "services").in_namespace(namespace);
    let services = api
        .list(&ListParams::default())
        .await
        .map_err(kube.failed(attempt.clone()))?;
    let candidates: Vec<ServiceCandidate> = services
        .items
        .iter()
        .map(|s| ServiceCandidate {
            namespace: s.metadata.namespace.clone().unwrap_or_default(),
            name: s.metadata.name.clone().unwrap_or_default(),
            labels: s.metadata.labels.clone().unwrap_or_default(),
            ports: s
                .spec
                .as_ref()
                .and_then(|spec| spec.ports.as_ref())
                .map(|ports| {
                    ports
                        .iter()
                        .filter_map(|p| u16::try_from(p.port).ok())
                        .collect()
                })
                .unwrap_or_default(),
        })
        .collect();
    choose_service(&candidates).ok_or_else(|| {
        K8sError::new(
            attempt,
            Problem::Unsupported(format!(
                "no Elasticsearch Service found{}: pass -n NAMESPACE, or --es-url",
                namespace
                    .map(|n| format!(" in namespace {n}"))
                    .unwrap_or_default()
            )),
        )
    })
}

/// Port-forwards a local port on 127.0.0.1 to `remote` of a ready pod behind the Service (as
/// `kubectl port-forward svc/...` does); each local connection gets its own forwarded stream.
pub async fn forward_service(
    kube: &Kube,
    namespace: &str,
    service_name: &str,
    remote: u16,
) -> Result<u16, K8sError> {
    let client = kube.client().clone();
    let services: Api<Service> = Api::namespaced(client.clone(), namespace);
    let service = services.get(service_name).await.map_err(
        kube.failed(
            Attempt::new("get", "Service", "services")
                .in_namespace(Some(namespace))
                .named(service_name),
        ),
    )?;
    let selector: BTreeMap<String, String> =
        service.spec.and_then(|s| s.selector).unwrap_or_default();
    let selector = selector
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",");
    let pods: Api<Pod> = Api::namespaced(client, namespace);
    let attempt = Attempt::new("list", "Pod", "pods").in_namespace(Some(namespace));
    let list = pods
        .list(&ListParams::default().labels(&selector))
        .await
        .map_err(kube.failed(attempt.clone()))?;
    let ready = list.items.iter().find(|p| {
        p.status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
    });
    let pod = ready.and_then(|p| p.metadata.name.clone()).ok_or_else(|| {
        K8sError::new(
            attempt.clone(),
            Problem::Unsupported(format!(
                "no ready pod behind Service {namespace}/{service_name}: see `kubectl get pods -n {namespace} -l {selector}`"
            )),
        )
    })?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| {
            K8sError::new(
                attempt.clone(),
                Problem::Invalid(format!("cannot open a local port: {e}")),
            )
        })?;
    let port = listener
        .local_addr()
        .map_err(|e| {
            K8sError::new(
                attempt,
                Problem::Invalid(format!("cannot open a local port: {e}")),
            )
        })?
        .port();
    tracing::info!(pod = %pod, local = port, "port-forwarding");
    tokio::spawn(async move {
        while let Ok((mut local, _)) = listener.accept().await {
            let pods = pods.clone();
            let pod = pod.clone();
            tokio::spawn(async move {
                let Ok(mut forwarder) = pods.portforward(&pod, &[remote]).await else {
                    return;
                };
                let Some(mut upstream) = forwarder.take_stream(remote) else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut local, &mut upstream).await;
            });
        }
    });
    Ok(port)
}

/// One key of a Secret, as text without its trailing newline.
pub async fn read_secret(
    kube: &Kube,
    namespace: &str,
    name: &str,
    key: &str,
) -> Result<String, K8sError> {
    let attempt = Attempt::new("get", "Secret", "secrets")
        .in_namespace(Some(namespace))
        .named(name);
    let secrets: Api<Secret> = Api::namespaced(kube.client().clone(), namespace);
    let secret = secrets
        .get(name)
        .await
        .map_err(kube.failed(attempt.clone()))?;
    let problem = |what: String| K8sError::new(attempt.clone(), Problem::Invalid(what));
    let bytes = secret
        .data
        .and_then(|d| d.get(key).cloned())
        .ok_or_else(|| problem(format!("it has no key {key}")))?;
    let value =
        String::from_utf8(bytes.0).map_err(|_| problem(format!("key {key} is not UTF-8")))?;
    if value.is_empty() {
        return Err(problem(format!("key {key} is empty")));
    }
    Ok(value.trim_end_matches('\n').to_string())
}
