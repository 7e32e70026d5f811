//! `enable` and `disable` on KubeSphere's two StatefulSets (`OnDelete`), against the real API
//! server, the real StatefulSet controller and the kubelet stand-in; Elasticsearch is the double.

use std::time::{Duration, Instant};

use es_double::{Config, Flavour, State};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};
use serde_json::Value;

use crate::fixtures::{self, KS_NS};
use crate::tier::Tier;

const DATA: &str = "elasticsearch-logging-data";
const DISCOVERY: &str = "elasticsearch-logging-discovery";

/// The tier with KubeSphere's logging StatefulSets running (as far as the stand-in runs anything).
pub fn kubesphere() -> Tier {
    let mut tier = Tier::start();
    tier.start_kubelet();
    tier.rt.block_on(async {
        let client = tier.client().await;
        fixtures::namespace(&client, KS_NS, &[DATA, DISCOVERY]).await;
        for role in ["data", "discovery"] {
            fixtures::apply(&client, &fixtures::kubesphere(role)).await;
        }
    });
    for sts in [DATA, DISCOVERY] {
        wait_rolled_out(&tier, KS_NS, sts, Duration::from_secs(90));
    }
    tier
}

/// The double, pretending to be the ES 6.7-era cluster those pods form (nodes named as the pods).
pub fn es_double(tier: &Tier, pods: &[&str]) -> es_double::Running {
    let mut config = Config::new(Flavour::Elasticsearch, "6.8.23");
    config.restart_extras = true;
    let mut state = State::default();
    let template = state.nodes[0].clone();
    state.nodes = pods
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let mut n = template.clone();
            n.name = p.to_string();
            n.id = format!("node{i}AAAAAAAAAAAAAAAAA");
            n
        })
        .collect();
    tier.rt
        .block_on(es_double::start(config, state, "127.0.0.1:0"))
        .unwrap()
}

/// The pods of `sts`, by name: (uid, Ready, controller-revision-hash).
pub fn pods(tier: &Tier, ns: &str, sts: &str) -> Vec<(String, String, bool, String)> {
    tier.rt.block_on(async {
        let api: Api<Pod> = Api::namespaced(tier.client().await, ns);
        let mut pods: Vec<_> = api
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .filter(|p| {
                p.metadata
                    .owner_references
                    .iter()
                    .flatten()
                    .any(|o| o.name == sts)
                    && p.metadata.deletion_timestamp.is_none()
            })
            .map(|p| {
                let ready = p
                    .status
                    .as_ref()
                    .and_then(|s| s.conditions.as_ref())
                    .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
                let revision = p
                    .metadata
                    .labels
                    .as_ref()
                    .and_then(|l| l.get("controller-revision-hash").cloned())
                    .unwrap_or_default();
                (
                    p.metadata.name.unwrap_or_default(),
                    p.metadata.uid.unwrap_or_default(),
                    ready,
                    revision,
                )
            })
            .collect();
        pods.sort();
        pods
    })
}

pub fn statefulset(tier: &Tier, ns: &str, name: &str) -> StatefulSet {
    tier.rt.block_on(async {
        let api: Api<StatefulSet> = Api::namespaced(tier.client().await, ns);
        api.get(name).await.unwrap()
    })
}

/// Waits until every replica of `sts` is Ready at the StatefulSet's update revision.
pub fn wait_rolled_out(tier: &Tier, ns: &str, sts: &str, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    loop {
        let set = statefulset(tier, ns, sts);
        let want = set.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1) as usize;
        let update = set
            .status
            .as_ref()
            .and_then(|s| s.update_revision.clone())
            .unwrap_or_default();
        let pods = pods(tier, ns, sts);
        if pods.len() == want && pods.iter().all(|p| p.2 && p.3 == update) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{ns}/{sts} not rolled out after {timeout:?}: pods {pods:?}, update revision {update}\n{}",
            tier.log_tail("kube-controller-manager")
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// Both KubeSphere StatefulSets' pods, data first.
pub fn kubesphere_pods(tier: &Tier) -> Vec<(String, String, bool, String)> {
    [DATA, DISCOVERY]
        .iter()
        .flat_map(|s| pods(tier, KS_NS, s))
        .collect()
}

/// KubeSphere's pods as they are now, and a double whose nodes are named as they are.
pub fn kubesphere_with_double(
    tier: &Tier,
) -> (Vec<(String, String, bool, String)>, es_double::Running) {
    let before = kubesphere_pods(tier);
    let names: Vec<&str> = before.iter().map(|p| p.0.as_str()).collect();
    let double = es_double(tier, &names);
    (before, double)
}

/// `enable` on both KubeSphere StatefulSets onto an nfs-client claim, registering ks-log-snapshots
/// on `double`; `how` adds the rest (`--via`, `--size`): (code, stdout, stderr).
pub fn enable_kubesphere(
    tier: &Tier,
    double: &es_double::Running,
    how: &[&str],
) -> (i32, String, String) {
    let (data, discovery, url) = (
        format!("sts/{DATA}"),
        format!("sts/{DISCOVERY}"),
        double.url(),
    );
    let mut args = vec![
        "enable",
        "-n",
        KS_NS,
        &data,
        &discovery,
        "--storage-class",
        "nfs-client",
    ];
    args.extend(how);
    args.extend([
        "--repository",
        "ks-log-snapshots",
        "--es-url",
        &url,
        "--timeout",
        "60",
    ]);
    tier.plugin(&args)
}

/// Both StatefulSets rolled out again, and every pod in `before` replaced (same name, new uid).
pub fn assert_kubesphere_restarted(tier: &Tier, before: &[(String, String, bool, String)]) {
    for sts in [DATA, DISCOVERY] {
        wait_rolled_out(tier, KS_NS, sts, Duration::from_secs(30));
    }
    let after = kubesphere_pods(tier);
    assert_eq!(before.len(), after.len());
    for (old, new) in before.iter().zip(&after) {
        assert_eq!(old.0, new.0);
        assert_ne!(old.1, new.1, "{} was not restarted", old.0);
    }
}

fn template(tier: &Tier, sts: &str) -> Value {
    serde_json::to_value(statefulset(tier, KS_NS, sts).spec.unwrap().template).unwrap()
}

#[test]
#[ignore = "needs the real Kubernetes binaries: scripts/kube-binaries.sh; run with -- --ignored"]
fn enable_via_patch_restarts_kubesphere_on_the_real_controller_then_disable_undoes_it() {
    let tier = kubesphere();
    let (before, double) = kubesphere_with_double(&tier);
    let (code, stdout, stderr) =
        enable_kubesphere(&tier, &double, &["--size", "100Gi", "--via", "patch"]);
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");

    // Every pod was replaced by the real controller, at the injected revision, and is Ready.
    assert_kubesphere_restarted(&tier, &before);
    for sts in [DATA, DISCOVERY] {
        let t = template(&tier, sts);
        assert_eq!(
            t["spec"]["volumes"].as_array().unwrap().last().unwrap()["persistentVolumeClaim"]
                ["claimName"],
            "elasticsearch-logging-backup",
            "{sts}: {t}"
        );
        assert!(t["metadata"]["annotations"]["logbackup.io/injected"].is_string());
    }
    // Data nodes first, master-eligible last, one at a time.
    let deleted: Vec<&str> = stderr
        .lines()
        .filter_map(|l| l.split_once(": delete pod ").map(|(_, pod)| pod.trim()))
        .collect();
    assert_eq!(
        deleted,
        [
            &format!("{DATA}-1"),
            &format!("{DATA}-0"),
            &format!("{DISCOVERY}-0")
        ],
        "{stderr}"
    );
    assert!(stderr.contains("restarted 3 pods"), "{stderr}");
    let pvc = tier.get(
        "v1",
        "PersistentVolumeClaim",
        Some(KS_NS),
        "elasticsearch-logging-backup",
    );
    assert_eq!(pvc.unwrap()["spec"]["accessModes"][0], "ReadWriteMany");
    let repo = double
        .state()
        .repositories
        .get("ks-log-snapshots")
        .cloned()
        .expect("registered");
    assert_eq!(
        repo.settings["location"],
        "/usr/share/elasticsearch/backup/ks-log-snapshots"
    );

    // disable: exactly what the record says goes, the claim stays.
    let (code, stdout, stderr) = tier.plugin(&[
        "disable",
        "-n",
        KS_NS,
        &format!("sts/{DATA}"),
        &format!("sts/{DISCOVERY}"),
        "--es-url",
        &double.url(),
        "--timeout",
        "60",
    ]);
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    for sts in [DATA, DISCOVERY] {
        let t = template(&tier, sts);
        assert!(
            t["metadata"]["annotations"]
                .get("logbackup.io/injected")
                .is_none(),
            "{sts}: {t}"
        );
        assert!(!t.to_string().contains("logbackup-repo"), "{sts}: {t}");
    }
}

#[test]
#[ignore = "needs the real Kubernetes binaries: scripts/kube-binaries.sh; run with -- --ignored"]
fn an_interrupted_restart_resumes_from_the_pod_it_stopped_at() {
    let tier = kubesphere();
    let (pods_before, double) = kubesphere_with_double(&tier);
    // elasticsearch-logging-data-0 will not rejoin: the double stops listing it once deleted.
    let stuck = format!("{DATA}-0");
    let common = |extra: &[&str]| -> Vec<String> {
        let mut args: Vec<String> = [
            "enable",
            "-n",
            KS_NS,
            &format!("sts/{DATA}"),
            &format!("sts/{DISCOVERY}"),
            "--storage-class",
            "nfs-client",
            "--via",
            "patch",
            "--es-url",
            &double.url(),
            "--poll-interval",
            "1",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    };
    // The double drops the node once the pod is deleted, as a node that does not come back.
    let old_uid = pods_before.iter().find(|p| p.0 == stuck).unwrap().1.clone();
    let done = std::sync::atomic::AtomicBool::new(false);
    let (code, stderr) = std::thread::scope(|scope| {
        let watcher = scope.spawn(|| {
            while !done.load(std::sync::atomic::Ordering::SeqCst) {
                let uid = pods(&tier, KS_NS, DATA)
                    .into_iter()
                    .find(|p| p.0 == stuck)
                    .map(|p| p.1);
                if uid.as_deref() != Some(old_uid.as_str()) {
                    double.state().nodes.retain(|n| n.name != stuck);
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        let args = common(&["--timeout", "8"]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, _, stderr) = tier.plugin(&args);
        done.store(true, std::sync::atomic::Ordering::SeqCst);
        watcher.join().unwrap();
        (code, stderr)
    });
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains(&format!("--resume-from {stuck}")),
        "{stderr}"
    );
    assert!(
        double.state().cluster_settings.is_empty(),
        "allocation left disabled: {stderr}"
    );

    // The node is back; resume where it stopped.
    {
        let mut state = double.state();
        let mut n = state.nodes[0].clone();
        n.name = stuck.clone();
        n.id = "stuckAAAAAAAAAAAAAAAAA".into();
        state.nodes.push(n);
    }
    let args = common(&["--timeout", "60", "--resume-from", &stuck]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, _, stderr) = tier.plugin(&args);
    assert_eq!(code, 0, "{stderr}");
    assert_kubesphere_restarted(&tier, &pods_before);
    assert!(double.state().repositories.contains_key("logbackup"));
}

#[test]
#[ignore = "needs the real Kubernetes binaries: scripts/kube-binaries.sh; run with -- --ignored"]
fn a_rolling_update_statefulset_is_left_to_the_real_controller() {
    let mut tier = Tier::start();
    tier.start_kubelet();
    let mut sts = fixtures::kubesphere("data");
    sts["metadata"]["name"] = serde_json::json!("es-rolling");
    sts["spec"]["updateStrategy"] = serde_json::json!({"type": "RollingUpdate"});
    tier.rt.block_on(async {
        let client = tier.client().await;
        fixtures::namespace(&client, KS_NS, &[DATA]).await;
        fixtures::apply(&client, &sts).await;
    });
    wait_rolled_out(&tier, KS_NS, "es-rolling", Duration::from_secs(90));
    let before = pods(&tier, KS_NS, "es-rolling");
    let double = es_double(&tier, &["es-rolling-0", "es-rolling-1"]);
    let (code, _, stderr) = tier.plugin(&[
        "enable",
        "-n",
        KS_NS,
        "sts/es-rolling",
        "--storage-class",
        "nfs-client",
        "--via",
        "patch",
        "--es-url",
        &double.url(),
        "--timeout",
        "90",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("the StatefulSet controller restarts the pods itself"),
        "{stderr}"
    );
    assert!(!stderr.contains("delete pod"), "{stderr}");
    wait_rolled_out(&tier, KS_NS, "es-rolling", Duration::from_secs(30));
    let after = pods(&tier, KS_NS, "es-rolling");
    for (old, new) in before.iter().zip(&after) {
        assert_ne!(old.1, new.1, "{} was not replaced by the controller", old.0);
    }
    assert!(double.state().repositories.contains_key("logbackup"));
}

#[test]
#[ignore = "needs the real Kubernetes binaries: scripts/kube-binaries.sh; run with -- --ignored"]
fn eck_enable_changes_the_elasticsearch_resource_of_a_real_crd() {
    let tier = Tier::start();
    let es = serde_json::json!({"apiVersion": "elasticsearch.k8s.elastic.co/v1", "kind": "Elasticsearch",
        "metadata": {"name": "logs", "namespace": KS_NS},
        "spec": {"version": "7.17.0", "nodeSets": [{"name": "default", "count": 2,
            "podTemplate": {"spec": {"containers": [{"name": "elasticsearch"}]}}}]}});
    let client = tier.rt.block_on(async {
        let client = tier.client().await;
        fixtures::namespace(&client, KS_NS, &[]).await;
        fixtures::apply(&client, &serde_json::json!({
            "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "elasticsearches.elasticsearch.k8s.elastic.co"},
            "spec": {"group": "elasticsearch.k8s.elastic.co", "scope": "Namespaced",
                "names": {"kind": "Elasticsearch", "plural": "elasticsearches", "singular": "elasticsearch", "shortNames": ["es"]},
                "versions": [{"name": "v1", "served": true, "storage": true, "subresources": {"status": {}},
                    "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]}}))
        .await;
        // Established: the API serves the kind.
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let gvk = kube::api::GroupVersionKind::gvk("elasticsearch.k8s.elastic.co", "v1", "Elasticsearch");
            if kube::discovery::pinned_kind(&client, &gvk).await.is_ok() {
                break;
            }
            assert!(Instant::now() < deadline, "the CRD never became established");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        fixtures::apply(&client, &es).await;
        client
    });
    // The operator's part: report each generation Ready and green once it is seen.
    let operator = tier.rt.spawn(async move {
        let resource = kube::api::ApiResource::from_gvk_with_plural(
            &kube::api::GroupVersionKind::gvk("elasticsearch.k8s.elastic.co", "v1", "Elasticsearch"),
            "elasticsearches",
        );
        let api: Api<kube::api::DynamicObject> = Api::namespaced_with(client, KS_NS, &resource);
        loop {
            if let Ok(es) = api.get("logs").await {
                let generation = es.metadata.generation.unwrap_or(0);
                if es.data["status"]["observedGeneration"].as_i64() != Some(generation) {
                    let status = serde_json::json!({"status": {"observedGeneration": generation, "phase": "Ready", "health": "green"}});
                    let _ = api.patch_status("logs", &Default::default(), &kube::api::Patch::Merge(&status)).await;
                }
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    let double = es_double(&tier, &["logs-es-default-0", "logs-es-default-1"]);
    let (code, _, stderr) = tier.plugin(&[
        "enable",
        "-n",
        KS_NS,
        "es/logs",
        "--storage-class",
        "nfs-client",
        "--es-url",
        &double.url(),
        "--timeout",
        "60",
        "--poll-interval",
        "1",
    ]);
    operator.abort();
    assert_eq!(code, 0, "{stderr}");
    let got = tier
        .get(
            "elasticsearch.k8s.elastic.co/v1",
            "Elasticsearch",
            Some(KS_NS),
            "logs",
        )
        .unwrap();
    let node_set = &got["spec"]["nodeSets"][0];
    let volumes = node_set["podTemplate"]["spec"]["volumes"].to_string();
    assert!(volumes.contains("logbackup-repo"), "{got}");
    assert_eq!(
        node_set["config"]["path.repo"],
        serde_json::json!(["/usr/share/elasticsearch/backup"]),
        "{got}"
    );
    assert_eq!(got["metadata"]["generation"], 2, "one merge patch: {got}");
    assert!(double.state().repositories.contains_key("logbackup"));
}
