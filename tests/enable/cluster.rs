use std::time::Duration;

use logbackup::k8s::{Cluster, Kind, Kube};
use serde_json::json;

use test_support::kube_api::{forbidden, not_found, scripted, Exchange};

const NS: &str = "kubesphere-logging-system";

fn sts() -> serde_json::Value {
    json!({"apiVersion": "apps/v1", "kind": "StatefulSet",
           "metadata": {"name": "elasticsearch-logging-data", "namespace": NS, "resourceVersion": "100"},
           "spec": {"replicas": 2, "updateStrategy": {"type": "OnDelete"}}})
}

#[tokio::test]
async fn reads_a_statefulset_as_the_api_server_sent_it() {
    let (client, server) = scripted(vec![Exchange::exact(
        "GET",
        format!("/apis/apps/v1/namespaces/{NS}/statefulsets/elasticsearch-logging-data"),
    )
    .reply(200, sts())]);
    let got = Cluster::new(Kube::new(client, "https://mock"), NS)
        .get(Kind::StatefulSet, "elasticsearch-logging-data")
        .await
        .unwrap();
    assert_eq!(got, Some(sts()));
    server.await.unwrap();
}

#[tokio::test]
async fn a_missing_claim_is_none() {
    let (client, server) = scripted(vec![Exchange::exact(
        "GET",
        format!("/api/v1/namespaces/{NS}/persistentvolumeclaims/elasticsearch-logging-backup"),
    )
    .reply(
        404,
        not_found("persistentvolumeclaims", "elasticsearch-logging-backup"),
    )]);
    let got = Cluster::new(Kube::new(client, "https://mock"), NS)
        .get(Kind::PersistentVolumeClaim, "elasticsearch-logging-backup")
        .await
        .unwrap();
    assert_eq!(got, None);
    server.await.unwrap();
}

#[tokio::test]
async fn creates_the_claim() {
    let pvc =
        logbackup::enable::desired_claim("elasticsearch-logging-backup", NS, "nfs-client", "100Gi")
            .unwrap();
    let mut created = pvc.clone();
    created["status"] = json!({"phase": "Pending"});
    let (client, server) = scripted(vec![Exchange::exact(
        "POST",
        format!("/api/v1/namespaces/{NS}/persistentvolumeclaims?"),
    )
    .body_eq("application/json", pvc.clone())
    .reply(201, created)]);
    Cluster::new(Kube::new(client, "https://mock"), NS)
        .create(Kind::PersistentVolumeClaim, &pvc)
        .await
        .unwrap();
    server.await.unwrap();
}

#[tokio::test]
async fn json_and_merge_patches_carry_their_content_types() {
    let ops = json!([{"op": "test", "path": "/metadata/resourceVersion", "value": "100"},
                     {"op": "add", "path": "/metadata/labels", "value": {"logbackup.io/inject": "enabled"}}]);
    let merge = json!({"metadata": {"labels": {"logbackup.io/inject": "enabled"}}});
    let path = format!("/apis/apps/v1/namespaces/{NS}/statefulsets/elasticsearch-logging-data?");
    let (client, server) = scripted(vec![
        Exchange::exact("PATCH", &path)
            .body_eq("application/json-patch+json", ops.clone())
            .reply(200, sts()),
        Exchange::exact("PATCH", &path)
            .body_eq("application/merge-patch+json", merge.clone())
            .reply(200, sts()),
    ]);
    let cluster = Cluster::new(Kube::new(client, "https://mock"), NS);
    cluster
        .patch(
            Kind::StatefulSet,
            "elasticsearch-logging-data",
            "json",
            &ops,
        )
        .await
        .unwrap();
    cluster
        .patch(
            Kind::StatefulSet,
            "elasticsearch-logging-data",
            "merge",
            &merge,
        )
        .await
        .unwrap();
    server.await.unwrap();
}

#[tokio::test]
async fn a_conflicting_patch_fails_with_what_was_attempted() {
    let path = format!("/apis/apps/v1/namespaces/{NS}/statefulsets/x?");
    let status = json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "Invalid",
                        "message": "the server rejected our request due to an error in our request", "code": 422});
    let (client, server) = scripted(vec![Exchange::exact("PATCH", &path).reply(422, status)]);
    let e = Cluster::new(Kube::new(client, "https://mock"), NS)
        .patch(Kind::StatefulSet, "x", "json", &json!([]))
        .await
        .unwrap_err();
    assert!(
        e.to_string()
            .starts_with(&format!("failed to patch StatefulSet {NS}/x")),
        "{e}"
    );
    server.await.unwrap();
}

#[tokio::test]
async fn the_eck_resource_is_read_and_patched_through_its_own_api() {
    let path =
        format!("/apis/elasticsearch.k8s.elastic.co/v1/namespaces/{NS}/elasticsearches/logs");
    let es = json!({"apiVersion": "elasticsearch.k8s.elastic.co/v1", "kind": "Elasticsearch",
                    "metadata": {"name": "logs", "namespace": NS}, "spec": {"nodeSets": [{"name": "default", "count": 1}]}});
    let patch = json!({"spec": {"nodeSets": []}});
    let (client, server) = scripted(vec![
        Exchange::exact("GET", &path).reply(200, es.clone()),
        Exchange::exact("PATCH", format!("{path}?"))
            .body_eq("application/merge-patch+json", patch.clone())
            .reply(200, es.clone()),
    ]);
    let cluster = Cluster::new(Kube::new(client, "https://mock"), NS);
    assert_eq!(
        cluster.get(Kind::Elasticsearch, "logs").await.unwrap(),
        Some(es)
    );
    cluster
        .patch(Kind::Elasticsearch, "logs", "merge", &patch)
        .await
        .unwrap();
    server.await.unwrap();
}

#[tokio::test]
async fn webhook_configurations_are_listed_cluster_wide_and_403_is_recognised() {
    let path = "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations?";
    let list = json!({"apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfigurationList", "metadata": {},
                      "items": [{"apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration",
                                 "metadata": {"name": "logbackup-webhook"}, "webhooks": [{"name": "inject.logbackup.io"}]}]});
    let (client, server) = scripted(vec![
        Exchange::exact("GET", path).reply(200, list),
        Exchange::exact("GET", path).reply(
            403,
            forbidden("mutatingwebhookconfigurations.admissionregistration.k8s.io"),
        ),
    ]);
    let cluster = Cluster::new(Kube::new(client, "https://mock"), NS);
    let found = cluster.webhook_configurations().await.unwrap();
    assert!(logbackup::enable::webhook_installed(&found));
    let e = cluster.webhook_configurations().await.unwrap_err();
    assert!(e.is_forbidden(), "{e}");
    server.await.unwrap();
}

fn pod(uid: &str, ready: bool) -> serde_json::Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "es-0", "namespace": NS, "uid": uid},
           "status": {"conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}]}})
}

#[tokio::test]
async fn waits_for_a_new_ready_pod_of_the_same_name() {
    let path = format!("/api/v1/namespaces/{NS}/pods/es-0");
    let (client, server) = scripted(vec![
        Exchange::exact("DELETE", format!("{path}?")).reply(200, pod("old", true)),
        // Still the old pod (terminating), then gone, then the new one starting, then Ready.
        Exchange::exact("GET", &path).reply(200, pod("old", true)),
        Exchange::exact("GET", &path).reply(404, not_found("pods", "es-0")),
        Exchange::exact("GET", &path).reply(200, pod("new", false)),
        Exchange::exact("GET", &path).reply(200, pod("new", true)),
    ]);
    let cluster = Cluster::new(Kube::new(client, "https://mock"), NS);
    cluster.delete_pod("es-0").await.unwrap();
    cluster
        .wait_pod_ready(
            "es-0",
            Some("old"),
            Duration::from_secs(60),
            Duration::from_millis(1),
        )
        .await
        .unwrap();
    server.await.unwrap();
}

#[tokio::test]
async fn the_wait_is_bounded() {
    let path = format!("/api/v1/namespaces/{NS}/pods/es-0");
    let (client, server) = scripted(vec![
        Exchange::exact("GET", &path).reply(200, pod("new", false))
    ]);
    let e = Cluster::new(Kube::new(client, "https://mock"), NS)
        .wait_pod_ready(
            "es-0",
            Some("old"),
            Duration::ZERO,
            Duration::from_millis(1),
        )
        .await
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("timed out after 0s waiting until pod"),
        "{e}"
    );
    server.await.unwrap();
}

#[tokio::test]
async fn waits_for_a_rollout_the_controller_does() {
    let path = format!("/apis/apps/v1/namespaces/{NS}/statefulsets/es-data");
    let mut rolling = sts();
    rolling["metadata"]["generation"] = json!(2);
    rolling["status"] = json!({"observedGeneration": 2, "currentRevision": "a", "updateRevision": "b", "updatedReplicas": 1, "readyReplicas": 2});
    let mut done = rolling.clone();
    done["status"] = json!({"observedGeneration": 2, "currentRevision": "b", "updateRevision": "b", "updatedReplicas": 2, "readyReplicas": 2});
    let (client, server) = scripted(vec![
        Exchange::exact("GET", &path).reply(200, rolling),
        Exchange::exact("GET", &path).reply(200, done),
    ]);
    Cluster::new(Kube::new(client, "https://mock"), NS)
        .wait_until(
            Kind::StatefulSet,
            "es-data",
            logbackup::enable::rolled_out,
            Duration::from_secs(60),
            Duration::from_millis(1),
        )
        .await
        .unwrap();
    server.await.unwrap();
}
