//! `webhook install|uninstall|status` Kubernetes calls, against the mocked API.

use logbackup::k8s::webhook_objects;
use logbackup::webhook_install::certs;
use logbackup::webhook_install::manifests::{objects, Certificates};
use serde_json::{json, Value};

use test_support::kube_api::*;
use test_support::plugin::{kube, served, webhook_objects};

const NS: &str = "logbackup-system";

fn generated() -> (certs::Bundle, Vec<Value>) {
    webhook_objects(NS)
}

fn path_of(o: &Value) -> String {
    let name = o["metadata"]["name"].as_str().unwrap();
    let ns = o["metadata"]["namespace"].as_str().unwrap_or(NS);
    match o["kind"].as_str().unwrap() {
        "Namespace" => format!("/api/v1/namespaces/{name}"),
        "ServiceAccount" => format!("/api/v1/namespaces/{ns}/serviceaccounts/{name}"),
        "Service" => format!("/api/v1/namespaces/{ns}/services/{name}"),
        "Secret" => format!("/api/v1/namespaces/{ns}/secrets/{name}"),
        "Deployment" => format!("/apis/apps/v1/namespaces/{ns}/deployments/{name}"),
        "PodDisruptionBudget" => {
            format!("/apis/policy/v1/namespaces/{ns}/poddisruptionbudgets/{name}")
        }
        "NetworkPolicy" => {
            format!("/apis/networking.k8s.io/v1/namespaces/{ns}/networkpolicies/{name}")
        }
        "MutatingWebhookConfiguration" => {
            format!("/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/{name}")
        }
        "Issuer" => format!("/apis/cert-manager.io/v1/namespaces/{ns}/issuers/{name}"),
        "Certificate" => format!("/apis/cert-manager.io/v1/namespaces/{ns}/certificates/{name}"),
        other => panic!("unexpected kind {other}"),
    }
}

#[test]
fn install_applies_every_object_server_side_in_order() {
    let rt = runtime();
    let _inside = rt.enter();
    let (client, handle) = kube(33);
    let (_, objs) = generated();
    let (_, cm) = (0, objects(NS, &Certificates::CertManager, true).unwrap());
    let mut script = Vec::new();
    for o in objs.iter().chain(cm.iter()) {
        let sent = o.clone();
        script.push(
            Exchange::new("PATCH", path_of(o))
                .query(&[("fieldManager", "kubectl-logbackup"), ("force", "true")])
                .body(move |b| assert_eq!(b, &sent))
                .reply(200, o.clone()),
        );
    }
    assert_eq!(script.len(), objs.len() + cm.len());
    rt.block_on(async {
        let server = tokio::spawn(serve(handle, script));
        webhook_objects::apply_all(&client, &objs).await.unwrap();
        webhook_objects::apply_all(&client, &cm).await.unwrap();
        drop(client);
        server.await.unwrap();
    });
}

#[test]
fn cert_manager_crds_are_checked_before_anything_is_applied() {
    let rt = runtime();
    let _inside = rt.enter();
    let (client, handle) = kube(33);
    let crd = |name: &str| {
        json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "metadata": {"name": name},
        "spec": {"group": "cert-manager.io", "names": {"plural": name.split('.').next().unwrap(), "kind": "X"}, "scope": "Namespaced", "versions": []}})
    };
    let script = vec![
        Exchange::new(
            "GET",
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/certificates.cert-manager.io",
        )
        .reply(200, crd("certificates.cert-manager.io")),
        Exchange::new(
            "GET",
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/issuers.cert-manager.io",
        )
        .reply(
            404,
            not_found("customresourcedefinitions", "issuers.cert-manager.io"),
        ),
    ];
    rt.block_on(async {
        let server = tokio::spawn(serve(handle, script));
        let missing = webhook_objects::missing_cert_manager_crds(&client)
            .await
            .unwrap();
        assert_eq!(missing, ["issuers.cert-manager.io"]);
        drop(client);
        server.await.unwrap();
    });
}

#[test]
fn status_reads_deployment_ca_bundle_secret_and_ready_endpoints() {
    let rt = runtime();
    let _inside = rt.enter();
    let (client, handle) = kube(33);
    let (b, objs) = generated();
    let mwc = objs
        .iter()
        .find(|o| o["kind"] == "MutatingWebhookConfiguration")
        .unwrap()
        .clone();
    let tls = objs
        .iter()
        .find(|o| o["metadata"]["name"] == "logbackup-webhook-tls")
        .unwrap()
        .clone();
    let mut deployment = objs
        .iter()
        .find(|o| o["kind"] == "Deployment")
        .unwrap()
        .clone();
    deployment["status"] = json!({"replicas": 2, "readyReplicas": 1});
    let slices = json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSliceList", "metadata": {}, "items": [{
    "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
    "metadata": {"name": "logbackup-webhook-abcde", "namespace": NS, "labels": {"kubernetes.io/service-name": "logbackup-webhook"}},
    "endpoints": [
        {"addresses": ["10.0.0.5"], "conditions": {"ready": true}},
        {"addresses": ["10.0.0.6"], "conditions": {"ready": false}}
    ]}]});
    let script = vec![
        Exchange::new(
            "GET",
            format!("/apis/apps/v1/namespaces/{NS}/deployments/logbackup-webhook"),
        )
        .reply(200, deployment),
        Exchange::new(
            "GET",
            "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/logbackup-webhook",
        )
        .reply(200, mwc),
        Exchange::new(
            "GET",
            format!("/api/v1/namespaces/{NS}/secrets/logbackup-webhook-tls"),
        )
        .reply(200, tls),
        Exchange::new(
            "GET",
            format!("/apis/discovery.k8s.io/v1/namespaces/{NS}/endpointslices"),
        )
        .query(&[(
            "labelSelector",
            "kubernetes.io%2Fservice-name%3Dlogbackup-webhook",
        )])
        .reply(200, slices),
    ];
    rt.block_on(async {
        let server = tokio::spawn(serve(handle, script));
        let seen = webhook_objects::observe(
            &client,
            &served(33),
            NS,
            "logbackup-webhook",
            "logbackup-webhook",
            "logbackup-webhook-tls",
            "logbackup-webhook",
        )
        .await
        .unwrap();
        assert_eq!(seen.deployment, Some((1, 2)));
        assert_eq!(seen.ready_endpoints, 1);
        // The caBundle and the Secret decode back to the PEMs that were generated.
        assert_eq!(seen.ca_bundle.as_deref(), Some(b.ca_cert.as_str()));
        assert_eq!(seen.serving_cert.as_deref(), Some(b.tls_cert.as_str()));
        drop(client);
        server.await.unwrap();
    });
}

#[test]
fn uninstall_deletes_in_reverse_and_skips_what_is_absent() {
    let rt = runtime();
    let _inside = rt.enter();
    let (client, handle) = kube(33);
    let (_, objs) = generated();
    let ok = json!({"kind": "Status", "apiVersion": "v1", "status": "Success", "metadata": {}});
    let mut script = Vec::new();
    for (i, o) in objs.iter().rev().enumerate() {
        let answer = if i == 1 {
            (404, not_found("x", "y"))
        } else {
            (200, ok.clone())
        };
        script.push(Exchange::new("DELETE", path_of(o)).reply(answer.0, answer.1));
    }
    rt.block_on(async {
        let server = tokio::spawn(serve(handle, script));
        let deleted = webhook_objects::delete_all(&client, &objs, false)
            .await
            .unwrap();
        assert_eq!(deleted.len(), objs.len() - 1);
        assert_eq!(deleted[0], "MutatingWebhookConfiguration logbackup-webhook");
        assert_eq!(deleted.last().unwrap(), "Namespace logbackup-system");
        drop(client);
        server.await.unwrap();
    });
}
