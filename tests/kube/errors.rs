//! The text users see for the common failures, from a real API server: missing permission,
//! missing API, conflict, not found, and (without any server) unreachable. Each error is printed
//! once, without kube's Debug dump of the Status, with a hint, and without colour codes.

use std::path::Path;

use serde_json::json;

use crate::fixtures::{self, KS_NS};
use crate::tier::Tier;

/// The plugin with `kubeconfig`, or with none at all.
fn plugin(kubeconfig: Option<&Path>, args: &[&str]) -> test_support::Run {
    let runner = test_support::Runner::new(env!("CARGO_BIN_EXE_kubectl-logbackup"));
    match kubeconfig {
        Some(path) => runner.env("KUBECONFIG", path),
        None => runner.env_remove("KUBECONFIG"),
    }
    .run(args)
}

/// What every error line must not contain: a Debug dump, a repeated message, ANSI colours.
fn assert_one_voice(stderr: &str) {
    assert!(!stderr.contains("Status {"), "a Debug dump:\n{stderr}");
    assert!(
        !stderr.contains("ApiError"),
        "kube's own wording:\n{stderr}"
    );
    assert!(
        !stderr.contains('\u{1b}'),
        "ANSI colours in redirected stderr:\n{stderr}"
    );
    let error = stderr
        .lines()
        .find(|l| l.starts_with("error: "))
        .expect("an error line");
    let message = error.trim_start_matches("error: ");
    // No part of the message comes twice ("failed to X: M: M").
    let parts: Vec<&str> = message.split(": ").collect();
    for (i, p) in parts.iter().enumerate() {
        assert!(
            !parts[i + 1..].contains(p) || p.len() < 12,
            "repeated {p:?} in:\n{stderr}"
        );
    }
    assert_eq!(stderr.matches("error: ").count(), 1, "{stderr}");
}

#[test]
fn an_unreachable_api_server_is_named_with_what_to_check() {
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("config");
    std::fs::write(&kubeconfig, "apiVersion: v1\nkind: Config\nclusters:\n- name: gone\n  cluster:\n    server: https://127.0.0.1:9\n    insecure-skip-tls-verify: true\nusers:\n- name: u\n  user:\n    token: t\ncontexts:\n- name: c\n  context:\n    cluster: gone\n    user: u\ncurrent-context: c\n").unwrap();
    let stderr = plugin(Some(&kubeconfig), &["schedule", "list", "-n", "logs"])
        .code(1)
        .stderr
        .clone();
    assert!(
        stderr.contains("error: failed to ask the API server which APIs it serves: cannot reach the API server at https://127.0.0.1:9"),
        "{stderr}"
    );
    assert!(stderr.contains("onnection refused"), "{stderr}");
    assert!(
        stderr.contains(
            "hint: check that the cluster is up and that the kubeconfig context points at it"
        ),
        "{stderr}"
    );
    assert_one_voice(&stderr);
}

#[test]
#[ignore = "needs the real Kubernetes binaries: scripts/kube-binaries.sh; run with -- --ignored"]
fn forbidden_missing_api_not_found_and_conflict_say_what_to_do() {
    let tier = Tier::start();
    tier.rt.block_on(async {
        fixtures::namespace(&tier.client().await, KS_NS, &[]).await;
    });

    // Missing permission: a user RBAC grants nothing.
    let dev = tier.kubeconfig_for("dev");
    let stderr = plugin(Some(&dev), &["schedule", "list", "-n", KS_NS])
        .code(1)
        .stderr
        .clone();
    assert!(stderr.contains(&format!(
        "error: failed to list the CronJobs in {KS_NS}: cronjobs.batch is forbidden: User \"dev\" cannot list resource \"cronjobs\" in API group \"batch\" in the namespace \"{KS_NS}\" (HTTP 403 Forbidden)"
    )), "{stderr}");
    assert!(stderr.contains(&format!(
        "hint: forbidden: your user needs `list` on `cronjobs.batch` in namespace {KS_NS}; check with `kubectl auth can-i list cronjobs.batch -n {KS_NS}`"
    )), "{stderr}");
    assert_one_voice(&stderr);

    // Missing API: ECK's CustomResourceDefinition is not installed.
    let (code, _, stderr) = tier.plugin(&[
        "enable",
        "-n",
        KS_NS,
        "elasticsearch/logs",
        "--storage-class",
        "nfs-client",
    ]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains(&format!(
        "error: failed to read Elasticsearch {KS_NS}/logs: the server could not find the requested resource (HTTP 404 NotFound)"
    )), "{stderr}");
    assert!(
        stderr.contains(
            "hint: this cluster does not serve elasticsearches.elasticsearch.k8s.elastic.co"
        ),
        "{stderr}"
    );
    assert_one_voice(&stderr);

    // Not found: a schedule that is not there.
    let (code, _, stderr) = tier.plugin(&["schedule", "run-now", "weekly", "-n", KS_NS]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains(&format!(
        "error: failed to read CronJob {KS_NS}/logbackup-weekly: cronjobs.batch \"logbackup-weekly\" not found (HTTP 404 NotFound)"
    )), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "hint: CronJob logbackup-weekly does not exist in namespace {KS_NS}"
        )),
        "{stderr}"
    );
    assert_one_voice(&stderr);

    // Conflict: the claim enable would create exists as another kind of volume... no: a Job
    // name taken. run-now names its Job by the second; every name of the next minute is taken.
    let (code, _, stderr) = tier.plugin(&[
        "schedule",
        "create",
        "nightly",
        "-n",
        KS_NS,
        "-r",
        "r",
        "--cron",
        "0 1 * * *",
        "--keep-days",
        "45",
        "--es-url",
        "http://es:9200",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let now = jiff::Timestamp::now().as_second();
    tier.rt.block_on(async {
        let client = tier.client().await;
        for t in now..now + 60 {
            fixtures::apply(
                &client,
                &json!({"apiVersion": "batch/v1", "kind": "Job",
                "metadata": {"name": format!("logbackup-nightly-manual-{t}"), "namespace": KS_NS},
                "spec": {"template": {"spec": {"restartPolicy": "Never",
                    "containers": [{"name": "c", "image": "busybox"}]}}}}),
            )
            .await;
        }
    });
    let (code, _, stderr) = tier.plugin(&["schedule", "run-now", "nightly", "-n", KS_NS]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("already exists (HTTP 409 AlreadyExists)"),
        "{stderr}"
    );
    assert!(stderr.contains("error: failed to create Job"), "{stderr}");
    assert!(
        stderr.contains("hint: a Job of that name already exists"),
        "{stderr}"
    );
    assert_one_voice(&stderr);
}

#[test]
fn an_elasticsearch_error_is_printed_once_with_its_hint() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let double = rt
        .block_on(es_double::start(
            es_double::Config::new(es_double::Flavour::Elasticsearch, "7.17.0"),
            es_double::State::default(),
            "127.0.0.1:0",
        ))
        .unwrap();
    let stderr = plugin(
        None,
        &["snapshot", "list", "-r", "nope", "--es-url", &double.url()],
    )
    .code(1)
    .stderr
    .clone();
    assert_eq!(
        stderr.matches("repository_missing_exception").count(),
        1,
        "{stderr}"
    );
    assert_eq!(stderr.matches("[nope] missing").count(), 1, "{stderr}");
    assert!(
        stderr.contains("hint: register it with `kubectl logbackup repo register"),
        "{stderr}"
    );
    assert_one_voice(&stderr);
}
