//! The plugin binary end to end: `enable` against a scripted Kubernetes API server on 127.0.0.1 (via a
//! kubeconfig) and the Elasticsearch test double, for what fails at a precise step (a webhook that
//! does not inject, a StatefulSet changed after it was read) and the dry run. The journeys themselves
//! (enable, disable, RollingUpdate, ECK) run against the real API server in tests/kube. Every Kubernetes request must be the next one in
//! the script; the server applies the patches it receives, so the result can be checked.

use std::collections::VecDeque;
use std::process::Command;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use logbackup::inject;
use serde_json::{json, Value};

const NS: &str = "kubesphere-logging-system";
const STS: &str = "elasticsearch-logging-data";

/// Answers a request from the server's objects and the request body: status and JSON.
type Reply = Box<dyn Fn(&mut Objects, &[u8]) -> (u16, Value) + Send>;

/// One expected request.
struct Step {
    method: &'static str,
    path: String,
    reply: Reply,
}

#[derive(Default)]
struct Objects {
    sts: Value,
}

#[derive(Default)]
struct Server {
    script: VecDeque<Step>,
    objects: Objects,
    mismatches: Vec<String>,
}

fn step(
    method: &'static str,
    path: String,
    reply: impl Fn(&mut Objects, &[u8]) -> (u16, Value) + Send + 'static,
) -> Step {
    Step {
        method,
        path,
        reply: Box::new(reply),
    }
}

async fn serve(
    axum::extract::State(server): axum::extract::State<Arc<Mutex<Server>>>,
    method: Method,
    uri: Uri,
    _headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, String) {
    let mut s = server.lock().unwrap_or_else(|p| p.into_inner());
    let path = uri
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    let Some(next) = s.script.pop_front() else {
        s.mismatches.push(format!("unexpected {method} {path}"));
        return (StatusCode::INTERNAL_SERVER_ERROR, "{}".into());
    };
    if next.method != method.as_str() || next.path != path {
        s.mismatches.push(format!(
            "expected {} {}, got {method} {path}",
            next.method, next.path
        ));
        return (StatusCode::INTERNAL_SERVER_ERROR, "{}".into());
    }
    let (code, value) = (next.reply)(&mut s.objects, &body);
    (
        StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        value.to_string(),
    )
}

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

fn not_found(name: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404,
           "message": format!("persistentvolumeclaims \"{name}\" not found")})
}

/// The scripted API server and a kubeconfig pointing at it; dropped with the test.
struct Fake {
    server: Arc<Mutex<Server>>,
    kubeconfig: std::path::PathBuf,
    _dir: tempfile::TempDir,
    /// Serves the scripted API; dropped (and stopped) with the test.
    _runtime: tokio::runtime::Runtime,
}

impl Fake {
    fn start(script: VecDeque<Step>, sts: Value) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let server = Arc::new(Mutex::new(Server {
            script,
            objects: Objects { sts },
            ..Default::default()
        }));
        let app = axum::Router::new()
            .fallback(serve)
            .with_state(server.clone());
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let api = listener.local_addr().unwrap();
        runtime.spawn(async move { axum::serve(listener, app).await });
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = dir.path().join("config");
        std::fs::write(&kubeconfig, format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: http://{api}\nusers:\n- name: u\n  user: {{}}\ncontexts:\n- name: c\n  context:\n    cluster: fake\n    user: u\n    namespace: {NS}\ncurrent-context: c\n"
        )).unwrap();
        Self {
            server,
            kubeconfig,
            _dir: dir,
            _runtime: runtime,
        }
    }

    fn run(&self, args: &[&str]) -> (i32, String, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_kubectl-logbackup"))
            .args(args)
            .env("KUBECONFIG", &self.kubeconfig)
            .env_remove("LOGBACKUP_ES_URL")
            .env_remove("LOGBACKUP_REPOSITORY")
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Every scripted request came, in order, and nothing else.
    fn check_script(&self, stderr: &str) {
        let s = self.server.lock().unwrap();
        assert!(s.mismatches.is_empty(), "{:?}\n{stderr}", s.mismatches);
        assert!(
            s.script.is_empty(),
            "{} requests never came\n{stderr}",
            s.script.len()
        );
    }
}

#[test]
fn dry_run_prints_the_claim_the_patch_and_the_restart_and_changes_nothing() {
    let sts_path = format!("/apis/apps/v1/namespaces/{NS}/statefulsets/{STS}");
    let pvc = "elasticsearch-logging-backup";
    let script = VecDeque::from(vec![
        step("GET", sts_path, |o, _| (200, o.sts.clone())),
        step(
            "GET",
            format!("/api/v1/namespaces/{NS}/persistentvolumeclaims/{pvc}"),
            move |_, _| (404, not_found(pvc)),
        ),
    ]);
    let fake = Fake::start(script, kubesphere_sts());
    let (code, stdout, stderr) = fake.run(&[
        "enable",
        &format!("sts/{STS}"),
        "--storage-class",
        "nfs-client",
        "--via",
        "patch",
        "--dry-run",
    ]);
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
    assert_eq!(fake.server.lock().unwrap().objects.sts, kubesphere_sts());
}

/// Applies a JSON patch (an array) or a merge patch (an object) to the StatefulSet.
fn patch_sts(o: &mut Objects, body: &[u8]) -> (u16, Value) {
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return (400, json!({}));
    };
    if v.is_object() {
        json_patch::merge(&mut o.sts, &v);
        return (200, o.sts.clone());
    }
    let Ok(patch) = serde_json::from_value::<json_patch::Patch>(v) else {
        return (422, json!({}));
    };
    match json_patch::patch(&mut o.sts, &patch) {
        Ok(()) => (200, o.sts.clone()),
        Err(e) => (
            422,
            json!({"kind": "Status", "status": "Failure", "code": 422, "message": e.to_string()}),
        ),
    }
}

#[test]
fn a_webhook_that_does_not_inject_is_made_up_for_with_the_direct_patch() {
    let sts_path = format!("/apis/apps/v1/namespaces/{NS}/statefulsets/{STS}");
    let pvc = json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
        "metadata": {"name": "elasticsearch-logging-backup", "namespace": NS},
        "spec": {"accessModes": ["ReadWriteMany"]}, "status": {"phase": "Bound"}});
    let hooks = json!({"apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfigurationList", "metadata": {},
        "items": [{"apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration", "metadata": {"name": "logbackup-webhook"}}]});
    let script = VecDeque::from(vec![
        step("GET", sts_path.clone(), |o, _| (200, o.sts.clone())),
        step(
            "GET",
            format!("/api/v1/namespaces/{NS}/persistentvolumeclaims/elasticsearch-logging-backup"),
            move |_, _| (200, pvc.clone()),
        ),
        step(
            "GET",
            "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations?".into(),
            move |_, _| (200, hooks.clone()),
        ),
        // The label and annotations; this server, like a webhook whose namespaceSelector excludes the
        // namespace, injects nothing.
        step("PATCH", format!("{sts_path}?"), patch_sts),
        step("GET", sts_path.clone(), |o, _| (200, o.sts.clone())),
        step("PATCH", format!("{sts_path}?"), patch_sts),
    ]);
    let fake = Fake::start(script, kubesphere_sts());
    let (code, _, stderr) = fake.run(&[
        "enable",
        &format!("sts/{STS}"),
        "--restart",
        "none",
        "--skip-register",
    ]);
    fake.check_script(&stderr);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("the webhook did not inject it"), "{stderr}");
    let sts = fake.server.lock().unwrap().objects.sts.clone();
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
    let pvc = json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
        "metadata": {"name": "elasticsearch-logging-backup", "namespace": NS},
        "spec": {"accessModes": ["ReadWriteMany"]}, "status": {"phase": "Bound"}});
    let script = VecDeque::from(vec![
        step("GET", sts_path.clone(), |o, _| (200, o.sts.clone())),
        step(
            "GET",
            format!("/api/v1/namespaces/{NS}/persistentvolumeclaims/elasticsearch-logging-backup"),
            move |_, _| (200, pvc.clone()),
        ),
        step("PATCH", format!("{sts_path}?"), |o, body| {
            // Someone else updated it in between.
            o.sts["metadata"]["resourceVersion"] = json!("101");
            patch_sts(o, body)
        }),
    ]);
    let fake = Fake::start(script, kubesphere_sts());
    let (code, _, stderr) = fake.run(&["enable", &format!("sts/{STS}"), "--via", "patch"]);
    fake.check_script(&stderr);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains(
            "refused the patch to statefulset/elasticsearch-logging-data and applied none of it"
        ),
        "{stderr}"
    );
    let sts = fake.server.lock().unwrap().objects.sts.clone();
    assert!(sts["spec"]["template"]["spec"].get("volumes").is_none());
    assert!(sts["metadata"]["labels"]
        .get("logbackup.io/inject")
        .is_none());
}
