//! The README's KubeSphere journey on the real node: every pod on the path runs as it would in a
//! user's cluster, from the images `scripts/build-test-images.sh` builds.

use std::os::unix::fs::MetadataExt;
use std::time::Duration;

use serde_json::Value;

use crate::cluster::{ready, Node};
use crate::s3::S3;

const NS: &str = "kubesphere-logging-system";
const WEBHOOK_NS: &str = "logbackup-system";
const WEBHOOK_PODS: &str = "app.kubernetes.io/name=logbackup-webhook";
const ES_PODS: &str = "app=elasticsearch,component=data";
const REPO: &str = "ks-log-snapshots";
/// The double's pods: one cluster of two nodes (the fixture says how they find each other).
const ES_REPLICAS: usize = 2;
/// `kubectl-logbackup` in the image runs as this user (the manifests say so; the image's passwd names it).
const ELASTICSEARCH_UID: u32 = 1000;

fn enable_args() -> Vec<&'static str> {
    vec![
        "enable",
        "-n",
        NS,
        "sts/elasticsearch-logging-data",
        "--storage-class",
        "nfs-client",
        "--size",
        "1Gi",
        "--repository",
        REPO,
    ]
}

fn webhook_ready(node: &Node) -> Option<()> {
    (node.plugin(&["webhook", "status"]).0 == 0).then_some(())
}

fn scale_webhook(node: &Node, replicas: u32) {
    node.kubectl_ok(&[
        "scale",
        "-n",
        WEBHOOK_NS,
        "deployment/logbackup-webhook",
        &format!("--replicas={replicas}"),
    ]);
}

/// The double's two pods, both ready.
fn es_pods(node: &Node) -> Option<Vec<Value>> {
    let pods = node.pods(NS, ES_PODS);
    (pods.len() == ES_REPLICAS && pods.iter().all(ready)).then_some(pods)
}

fn uids(pods: &[Value]) -> Vec<String> {
    pods.iter()
        .map(|p| p["metadata"]["uid"].as_str().unwrap().to_owned())
        .collect()
}

/// Elasticsearch's answer at `path`, through its Service (the API server's service proxy).
fn es_get(node: &Node, path: &str) -> Value {
    let proxy =
        format!("/api/v1/namespaces/{NS}/services/elasticsearch-logging-data:9200/proxy{path}");
    let out = node.kubectl_ok(&["get", "--raw", &proxy]);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{path}: {e}: {out}"))
}

/// The cluster the pods make: every pod is a node of it, and it is green.
fn one_green_cluster(node: &Node, pods: &[Value]) {
    let mut names: Vec<&str> = pods
        .iter()
        .map(|p| p["metadata"]["name"].as_str().unwrap())
        .collect();
    names.sort();
    for _ in 0..ES_REPLICAS {
        // Each call may land on another pod: every one answers for the whole cluster.
        let nodes = es_get(node, "/_nodes/settings");
        let mut listed: Vec<&str> = nodes["nodes"]
            .as_object()
            .unwrap()
            .values()
            .map(|n| n["name"].as_str().unwrap())
            .collect();
        listed.sort();
        assert_eq!(listed, names, "{nodes:#}");
        let health = es_get(node, "/_cluster/health");
        assert_eq!(health["status"], "green", "{health:#}");
        assert_eq!(health["number_of_nodes"], ES_REPLICAS, "{health:#}");
    }
}

#[test]
#[ignore = "needs the real node: scripts/real-node.sh run IMAGES -- cargo test --test node -- --ignored"]
fn the_kubesphere_journey_runs_on_a_real_node() {
    let node = Node::get();
    let volume = node.dir.join("volumes/repository");

    // 1. The webhook: a real Deployment, its pods running on the node as uid 65532, reading their
    //    0440 Secret through fsGroup, serving the certificate the API server trusts.
    node.plugin_ok(&["webhook", "install"]);
    node.wait(
        "`webhook status` says ready",
        Duration::from_secs(240),
        || webhook_ready(&node),
    );
    let pods = node.pods(WEBHOOK_NS, WEBHOOK_PODS);
    assert_eq!(pods.len(), 2, "{pods:#?}");
    for pod in &pods {
        assert!(ready(pod), "{pod:#}");
        assert_eq!(pod["status"]["phase"], "Running");
        assert_eq!(pod["spec"]["nodeName"], "logbackup-node");
    }

    // 2. KubeSphere's Elasticsearch, the double in its place, running before anything is enabled.
    let fixture = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/node/kubesphere-double.yaml"
    ))
    .unwrap()
    .replace("VOLUME_DIR", volume.to_str().unwrap());
    node.apply(&fixture);
    let before = node.wait("Elasticsearch is ready", Duration::from_secs(180), || {
        es_pods(&node)
    });
    one_green_cluster(&node, &before);
    let before_uids = uids(&before);

    // 3. Our webhook installed but not answering: the apply is refused, and the plugin names the
    //    webhook as ours and says where to look, not "the API server failed".
    scale_webhook(&node, 0);
    node.wait(
        "the webhook's pods are gone",
        Duration::from_secs(120),
        || {
            // Gone entirely: a terminating webhook pod keeps answering through its shutdown delay.
            let all = node.get_json(&["get", "pods", "-n", WEBHOOK_NS, "-l", WEBHOOK_PODS]);
            all["items"].as_array().unwrap().is_empty().then_some(())
        },
    );
    let (code, out, err) = node.plugin(&enable_args());
    assert_ne!(
        code, 0,
        "enable succeeded with no webhook answering:\n{err}\n{out}"
    );
    assert!(
        err.contains("our admission webhook inject.logbackup.io")
            && err.contains("kubectl logbackup webhook status"),
        "{err}"
    );
    assert!(!err.contains("the API server failed"), "{err}");

    // 4. The Deployment brings the pods back; the same command then goes through: the API server
    //    injects through the webhook's Service, the rolling restart replaces the pod, the chown init
    //    container makes the shared volume writable for Elasticsearch, the repository registers.
    scale_webhook(&node, 2);
    node.wait(
        "`webhook status` says ready again",
        Duration::from_secs(240),
        || webhook_ready(&node),
    );
    node.plugin_ok(&enable_args());
    let after = node.wait(
        "the injected pods are ready",
        Duration::from_secs(180),
        || es_pods(&node),
    );
    for uid in uids(&after) {
        assert!(
            !before_uids.contains(&uid),
            "a pod was not restarted: {before_uids:?}"
        );
    }
    // The rolling restart waited for each pod to rejoin and the cluster to be green again.
    one_green_cluster(&node, &after);
    for pod in &after {
        let init = &pod["status"]["initContainerStatuses"];
        let chown = init
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == "logbackup-chown")
            .unwrap_or_else(|| panic!("no chown init container ran: {init:#}"));
        assert_eq!(chown["state"]["terminated"]["exitCode"], 0, "{chown:#}");
        let said = node.logs(
            NS,
            pod["metadata"]["name"].as_str().unwrap(),
            "logbackup-chown",
        );
        assert!(said.contains("is owned by 1000:1000"), "{said}");
    }
    let meta = std::fs::metadata(&volume).unwrap();
    assert_eq!(
        meta.uid(),
        ELASTICSEARCH_UID,
        "the chown did not take effect"
    );
    // Registering verified the location by writing into it, as uid 1000: the chown's effect.
    assert!(
        volume.join(REPO).is_dir(),
        "the repository directory was not created"
    );

    // 5. A scheduled snapshot, run now: the Job's pod runs the plugin from the image, in-cluster,
    //    with its own ServiceAccount, and reaches Elasticsearch through its Service by name.
    create_nightly(&node, &[]);
    let job = node.plugin_ok(&["schedule", "run-now", "nightly", "-n", NS]);
    wait_job(&node, job.trim());
    let latest = volume.join(REPO).join("index.latest");
    assert!(latest.exists(), "no index.latest in the repository volume");
    let snaps = std::fs::read_dir(volume.join(REPO))
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with("snap-"))
        .count();
    assert!(snaps >= 1, "no snapshot written into the volume");

    // 6. The restore test, as its CronJob's pod runs it: restores the newest snapshot under
    //    another name, checks it, and records the proof that `status` reads.
    create_nightly(&node, &["--verify", "daily"]);
    let verify = node.job_from_cronjob(NS, "logbackup-nightly-verify", "verify-now", |_| {});
    wait_job(&node, &verify);

    // 7. The off-site copy: the Job copies the repository to a real S3 server (moto), which the
    //    pod reaches at the node's address.
    let s3 = S3::start(&node, "offsite");
    node.kubectl_ok(&[
        "create",
        "secret",
        "generic",
        "offsite-s3",
        "-n",
        NS,
        "--from-literal=AWS_ACCESS_KEY_ID=test",
        "--from-literal=AWS_SECRET_ACCESS_KEY=test",
    ]);
    create_nightly(
        &node,
        &[
            "--verify",
            "daily",
            "--sync-to",
            "s3://offsite/ks",
            "--sync-claim",
            "elasticsearch-logging-backup",
            "--sync-secret",
            "offsite-s3",
            "--sync-endpoint",
            &s3.url,
        ],
    );
    let job = node.plugin_ok(&["schedule", "run-now", "nightly", "-n", NS]);
    wait_job(&node, job.trim());
    let listing = s3.list("offsite", "ks/");
    assert!(
        listing.contains("ks/index.latest"),
        "no copy in S3:\n{listing}"
    );

    // 8. Healthy: a fresh SUCCESS snapshot, a restore proof, the copy in step.
    node.plugin_ok(&["status", "-n", NS, "-r", REPO]);

    // 9. Undone.
    node.plugin_ok(&["schedule", "delete", "nightly", "-n", NS]);
    node.plugin_ok(&["disable", "-n", NS, "sts/elasticsearch-logging-data"]);
    node.plugin_ok(&["webhook", "uninstall"]);
    node.wait(
        "the webhook's namespace is gone",
        Duration::from_secs(120),
        || (node.kubectl(&["get", "namespace", WEBHOOK_NS]).0 != 0).then_some(()),
    );
}

/// Waits for a Job to succeed; on failure, its pod's log is the message.
fn wait_job(node: &Node, job: &str) {
    let (succeeded, _) = node.job_finished(NS, job, Duration::from_secs(240));
    if succeeded == 0 {
        let (_, log, _) = node.kubectl(&["logs", "-n", NS, &format!("job/{job}")]);
        panic!("Job {job} failed:\n{log}");
    }
}

/// `schedule create nightly` as the README's journey writes it, with `extra` flags.
fn create_nightly(node: &Node, extra: &[&str]) {
    let mut args = vec![
        "schedule",
        "create",
        "nightly",
        "-n",
        NS,
        "-r",
        REPO,
        "--cron",
        "0 1 * * *",
        "--keep-days",
        "45",
        "--preset",
        "kubesphere",
    ];
    args.extend_from_slice(extra);
    node.plugin_ok(&args);
}
