//! The plugin binary end to end: `enable` against a scripted Kubernetes API server on 127.0.0.1 (via a
//! kubeconfig) and the Elasticsearch test double, for what fails at a precise step (a webhook that
//! does not inject, a StatefulSet changed after it was read) and the dry run. The journeys themselves
//! (enable, disable, RollingUpdate, ECK) run against the real API server in tests/kube. Every Kubernetes request must be the next one in
//! the script; the server applies the patches it receives, so the result can be checked.

use logbackup::inject;
use serde_json::{json, Value};
use test_support::kube_api::{apply_patch, not_found, ApiServer, Exchange};
use test_support::Runner;

const NS: &str = "kubesphere-logging-system";
const STS: &str = "elasticsearch-logging-data";

pub(crate) fn kubesphere_sts() -> Value {
    json!({"apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": STS, "namespace": NS, "resourceVersion": "100", "labels": {"app": "elasticsearch"}},
        "spec": {"replicas": 2, "serviceName": STS, "selector": {"matchLabels": {"app": STS}},
            "updateStrategy": {"type": "OnDelete"},
            "template": {"metadata": {"labels": {"app": STS}}, "spec": {
                "containers": [{"name": "elasticsearch", "image": "kubesphere/elasticsearch-oss:6.7.0-1",
                    "volumeMounts": [{"name": "data", "mountPath": "/usr/share/elasticsearch/data"}]}]}}},
        "status": {"replicas": 2, "currentRevision": "a", "updateRevision": "a"}})
}

/// The plugin binary against `api`: its kubeconfig, and no Elasticsearch settings from the test's
/// environment: (exit code, stdout, stderr).
fn plugin(api: &ApiServer, args: &[&str]) -> (i32, String, String) {
    Runner::new(env!("CARGO_BIN_EXE_kubectl-logbackup"))
        .env("KUBECONFIG", api.kubeconfig())
        .env_remove("LOGBACKUP_ES_URL")
        .env_remove("LOGBACKUP_REPOSITORY")
        .run(args)
        .parts()
}

/// The StatefulSet is read, then its claim, which exists and is bound.
fn read_with_bound_claim(sts_path: &str) -> Vec<Exchange> {
    let pvc = json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
        "metadata": {"name": "elasticsearch-logging-backup", "namespace": NS},
        "spec": {"accessModes": ["ReadWriteMany"]}, "status": {"phase": "Bound"}});
    vec![
        Exchange::exact("GET", sts_path).reply_with(|sts, _| (200, sts.clone())),
        Exchange::exact(
            "GET",
            format!("/api/v1/namespaces/{NS}/persistentvolumeclaims/elasticsearch-logging-backup"),
        )
        .reply(200, pvc),
    ]
}

#[test]
fn dry_run_prints_the_claim_the_patch_and_the_restart_and_changes_nothing() {
    let sts_path = format!("/apis/apps/v1/namespaces/{NS}/statefulsets/{STS}");
    let pvc = "elasticsearch-logging-backup";
    let script = vec![
        Exchange::exact("GET", sts_path).reply_with(|sts, _| (200, sts.clone())),
        Exchange::exact(
            "GET",
            format!("/api/v1/namespaces/{NS}/persistentvolumeclaims/{pvc}"),
        )
        .reply(404, not_found("persistentvolumeclaims", pvc)),
    ];
    let fake = ApiServer::start(NS, script, kubesphere_sts());
    let (code, stdout, stderr) = plugin(
        &fake,
        &[
            "enable",
            &format!("sts/{STS}"),
            "--storage-class",
            "nfs-client",
            "--via",
            "patch",
            "--dry-run",
        ],
    );
    fake.check_script(&stderr);
    assert_eq!(code, 0, "{stderr}");
    let docs = logbackup::manifest::parse_documents("stdout", &stdout).unwrap();
    assert_eq!(docs.len(), 3, "{stdout}");
    assert_eq!(docs[0]["kind"], "PersistentVolumeClaim");
    assert_eq!(docs[0]["spec"]["resources"]["requests"]["storage"], "100Gi");
    assert_eq!(
        (docs[1]["action"].as_str(), docs[1]["patchType"].as_str()),
        (Some("patch"), Some("json"))
    );
    assert_eq!(
        docs[2]["pods"],
        json!([
            "elasticsearch-logging-data-1",
            "elasticsearch-logging-data-0"
        ])
    );
    assert!(stderr.contains("dry run: nothing changed"), "{stderr}");
    assert_eq!(fake.state(), kubesphere_sts());
}

#[test]
fn a_webhook_that_does_not_inject_is_made_up_for_with_the_direct_patch() {
    let sts_path = format!("/apis/apps/v1/namespaces/{NS}/statefulsets/{STS}");
    let hooks = json!({"apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfigurationList", "metadata": {},
        "items": [{"apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration", "metadata": {"name": "logbackup-webhook"}}]});
    let mut script = read_with_bound_claim(&sts_path);
    script.extend([
        Exchange::exact(
            "GET",
            "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations?",
        )
        .reply(200, hooks),
        // The label and annotations; this server, like a webhook whose namespaceSelector excludes the
        // namespace, injects nothing.
        Exchange::exact("PATCH", format!("{sts_path}?")).reply_with(apply_patch),
        Exchange::exact("GET", sts_path.clone()).reply_with(|sts, _| (200, sts.clone())),
        Exchange::exact("PATCH", format!("{sts_path}?")).reply_with(apply_patch),
    ]);
    let fake = ApiServer::start(NS, script, kubesphere_sts());
    let (code, _, stderr) = plugin(
        &fake,
        &[
            "enable",
            &format!("sts/{STS}"),
            "--restart",
            "none",
            "--skip-register",
        ],
    );
    fake.check_script(&stderr);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("the webhook did not inject it"), "{stderr}");
    let sts = fake.state();
    assert_eq!(
        inject::plan(&sts, &inject::Options::default())
            .unwrap()
            .outcome,
        inject::Outcome::Unchanged
    );
    assert!(
        stderr.contains("delete pod elasticsearch-logging-data-1"),
        "{stderr}"
    );
}

#[test]
fn a_statefulset_changed_after_it_was_read_is_not_patched() {
    let sts_path = format!("/apis/apps/v1/namespaces/{NS}/statefulsets/{STS}");
    let mut script = read_with_bound_claim(&sts_path);
    script.extend([
        Exchange::exact("PATCH", format!("{sts_path}?")).reply_with(|sts, body| {
            // Someone else updated it in between.
            sts["metadata"]["resourceVersion"] = json!("101");
            apply_patch(sts, body)
        }),
    ]);
    let fake = ApiServer::start(NS, script, kubesphere_sts());
    let (code, _, stderr) = plugin(&fake, &["enable", &format!("sts/{STS}"), "--via", "patch"]);
    fake.check_script(&stderr);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains(
            "refused the patch to statefulset/elasticsearch-logging-data and applied none of it"
        ),
        "{stderr}"
    );
    let sts = fake.state();
    assert!(sts["spec"]["template"]["spec"].get("volumes").is_none());
    assert!(sts["metadata"]["labels"]
        .get("logbackup.io/inject")
        .is_none());
}
