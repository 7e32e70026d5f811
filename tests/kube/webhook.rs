//! `webhook install`, then the real API server calling the real webhook binary (on 127.0.0.1, in
//! URL mode: no pod can run the Deployment here) on create and update, `enable --via webhook` on
//! KubeSphere through it, `webhook status` saying plainly that nothing runs the Deployment, and
//! `webhook uninstall`.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use serde_json::{json, Value};

use crate::enable::{
    assert_kubesphere_restarted, enable_kubesphere, kubesphere, kubesphere_with_double,
};
use crate::fixtures::{self, KS_NS};
use crate::tier::{issue, Tier};

const NS: &str = "logbackup-system";

/// The webhook binary, built by `cargo build -p logbackup-webhook` (`cargo test --workspace` does).
fn webhook_binary() -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(|d| d.parent()).unwrap();
    let bin = dir.join("logbackup-webhook");
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build -p logbackup-webhook` first",
        bin.display()
    );
    bin
}

struct Webhook {
    child: Child,
    url: String,
}

impl Drop for Webhook {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs the webhook on 127.0.0.1 with a serving certificate from the CA `webhook install` made
/// (so the installed caBundle is what the API server trusts), and points the installed
/// configuration at it.
fn start_webhook(tier: &Tier) -> Webhook {
    let (ca_cert, ca_key) = tier.rt.block_on(async {
        let secrets: Api<Secret> = Api::namespaced(tier.client().await, NS);
        let secret = secrets
            .get("logbackup-webhook-ca")
            .await
            .expect("install keeps its CA in a Secret");
        let data = secret.data.unwrap_or_default();
        let field = |k: &str| String::from_utf8(data[k].0.clone()).unwrap();
        (field("ca.crt"), field("ca.key"))
    });
    let (crt, key) = issue(&(ca_cert, ca_key), "127.0.0.1", None, &["127.0.0.1"]);
    let dir = tier.dir.path();
    std::fs::write(dir.join("webhook.crt"), crt).unwrap();
    std::fs::write(dir.join("webhook.key"), key).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let ops = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let log = std::fs::File::create(dir.join("webhook.log")).unwrap();
    let child = Command::new(webhook_binary())
        .args([
            &format!("--listen=127.0.0.1:{port}"),
            &format!("--ops-listen=127.0.0.1:{ops}"),
            &format!("--tls-cert-file={}", dir.join("webhook.crt").display()),
            &format!("--tls-key-file={}", dir.join("webhook.key").display()),
        ])
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("https://127.0.0.1:{port}/mutate");
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "the webhook did not listen");
        std::thread::sleep(Duration::from_millis(100));
    }
    // URL mode: the same configuration, its service reference replaced by the URL.
    tier.rt.block_on(async {
        let client = tier.client().await;
        let mut config = fixtures::get(
            &client,
            "admissionregistration.k8s.io/v1",
            "MutatingWebhookConfiguration",
            None,
            "logbackup-webhook",
        )
        .await
        .expect("installed");
        let hook = &mut config["webhooks"][0]["clientConfig"];
        hook.as_object_mut().unwrap().remove("service");
        hook["url"] = Value::from(url.clone());
        let (resource, _) = kube::discovery::pinned_kind(
            &client,
            &kube::api::GroupVersionKind::gvk(
                "admissionregistration.k8s.io",
                "v1",
                "MutatingWebhookConfiguration",
            ),
        )
        .await
        .unwrap();
        let api: Api<DynamicObject> = Api::all_with(client, &resource);
        let object: DynamicObject = serde_json::from_value(config).unwrap();
        api.replace("logbackup-webhook", &Default::default(), &object)
            .await
            .unwrap();
    });
    Webhook { child, url }
}

/// The StatefulSet the webhook smoke test created, as the API server holds it.
async fn smoke_statefulset(client: &kube::Client) -> Value {
    fixtures::get(
        client,
        "apps/v1",
        "StatefulSet",
        Some(KS_NS),
        "webhook-smoke",
    )
    .await
    .unwrap()
}

fn log_lines(tier: &Tier) -> usize {
    std::fs::read_to_string(tier.dir.path().join("webhook.log"))
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("mutate") || l.contains("review") || l.contains("uid"))
        .count()
}

#[test]
#[ignore = "needs the real Kubernetes binaries: scripts/kube-binaries.sh; run with -- --ignored"]
fn webhook_install_serves_the_api_server_and_enable_via_webhook_uses_it() {
    let tier = kubesphere();

    let (code, stdout, stderr) = tier.plugin(&["webhook", "install"]);
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(
        stderr.contains("PodDisruptionBudget policy/v1 needs 1.21, using policy/v1beta1"),
        "{stderr}"
    );
    assert!(
        stderr.contains("no topologySpreadConstraints matchLabelKeys (1.27+)"),
        "{stderr}"
    );
    let deployment = tier.get("apps/v1", "Deployment", Some(NS), "logbackup-webhook");
    assert!(deployment.is_some());

    // Nothing can run the Deployment's pods here: status says so and exits 1.
    let (code, stdout, stderr) = tier.plugin(&["webhook", "status"]);
    assert_eq!(code, 1, "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(
        stdout.contains("deployment: 0/2 ready  PROBLEM: no webhook pod is ready"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "service: no ready endpoints  PROBLEM: the API server cannot reach the webhook"
        ),
        "{stdout}"
    );
    assert!(stdout.contains("certificate: chain verifies"), "{stdout}");

    let webhook = start_webhook(&tier);
    let _ = &webhook.url;

    // CREATE: a labelled StatefulSet is injected by the API server's call to the webhook.
    let mut sts = fixtures::kubesphere("data");
    sts["metadata"]["name"] = json!("webhook-smoke");
    sts["metadata"]["labels"]["logbackup.io/inject"] = json!("enabled");
    sts["spec"]["replicas"] = json!(0);
    let created = tier.rt.block_on(async {
        let client = tier.client().await;
        fixtures::apply(&client, &sts).await;
        smoke_statefulset(&client).await
    });
    let volumes = |o: &Value| -> Vec<String> {
        o["spec"]["template"]["spec"]["volumes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v["name"].as_str().map(str::to_owned))
            .collect()
    };
    assert!(
        volumes(&created).contains(&"logbackup-repo".to_owned()),
        "{created}"
    );
    assert!(log_lines(&tier) >= 1);

    // UPDATE: injected once, whatever is changed.
    let updated = tier.rt.block_on(async {
        let client = tier.client().await;
        let api: Api<DynamicObject> = Api::namespaced_with(
            client.clone(),
            KS_NS,
            &kube::api::ApiResource::from_gvk_with_plural(
                &kube::api::GroupVersionKind::gvk("apps", "v1", "StatefulSet"),
                "statefulsets",
            ),
        );
        api.patch(
            "webhook-smoke",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"annotations": {"touched": "yes"}}})),
        )
        .await
        .unwrap();
        smoke_statefulset(&client).await
    });
    assert_eq!(updated["metadata"]["annotations"]["touched"], "yes");
    assert_eq!(
        volumes(&updated)
            .iter()
            .filter(|v| v.starts_with("logbackup-repo"))
            .count(),
        1,
        "{updated}"
    );

    // enable --via webhook: the label goes on, the API server injects, the pods restart.
    let (before, double) = kubesphere_with_double(&tier);
    let (code, stdout, stderr) = enable_kubesphere(&tier, &double, &["--via", "webhook"]);
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert_kubesphere_restarted(&tier, &before);
    assert!(double.state().repositories.contains_key("ks-log-snapshots"));

    let (code, _, stderr) = tier.plugin(&["webhook", "uninstall"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("deleted MutatingWebhookConfiguration logbackup-webhook"),
        "{stderr}"
    );
    let gone = tier.rt.block_on(async {
        let client = tier.client().await;
        (
            fixtures::get(
                &client,
                "admissionregistration.k8s.io/v1",
                "MutatingWebhookConfiguration",
                None,
                "logbackup-webhook",
            )
            .await,
            fixtures::get(
                &client,
                "apps/v1",
                "Deployment",
                Some(NS),
                "logbackup-webhook",
            )
            .await,
        )
    });
    assert!(gone.0.is_none() && gone.1.is_none(), "{gone:?}");
}
