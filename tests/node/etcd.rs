//! The etcd schedule's CronJob, applied to the node's API server and its pod run for real: it
//! snapshots a kubeadm-style etcd (TLS, client certificates required) on the node's loopback,
//! through read-only hostPath mounts of the certificate and manifest directories, into the
//! repository claim. Then the privileges it asks for are taken away one by one, each run failing
//! and saying why: that is the measure of "the minimum that works".
//!
//! The etcd is Debian's, started by the test on a free loopback port (the node's own etcd, on
//! 127.0.0.1:12379, is the API server's and has no client certificates), with kubeadm's tree
//! under the node's state directory instead of /etc/kubernetes, which the host keeps as it was.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use crate::cluster::Node;
use crate::etcd_server::{issue, new_ca, write_pair, Etcd};

const NS: &str = "logbackup-etcd";
const CLAIM: &str = "etcd-repository";
const CRONJOB: &str = "logbackup-etcd-hourly";
const CONTAINER: &str = "etcd-snapshot";
const MASTER: &str = "node-role.kubernetes.io/master";
const CONTROL_PLANE: &str = "node-role.kubernetes.io/control-plane";

/// The node marked as kubeadm 1.20 marks a control-plane node (both role labels, the `master`
/// NoSchedule taint) for the life of the value: unmarked on drop, so that a failure here leaves
/// no taint to keep the next test's pods off the node.
struct ControlPlane<'a> {
    node: &'a Node,
    name: String,
}

impl<'a> ControlPlane<'a> {
    fn mark(node: &'a Node) -> Self {
        let name = node.kubectl_ok(&["get", "nodes", "-o", "jsonpath={.items[0].metadata.name}"]);
        node.kubectl_ok(&[
            "label",
            "node",
            &name,
            &format!("{MASTER}="),
            &format!("{CONTROL_PLANE}="),
            "--overwrite",
        ]);
        node.kubectl_ok(&[
            "taint",
            "node",
            &name,
            &format!("{MASTER}=:NoSchedule"),
            "--overwrite",
        ]);
        ControlPlane { node, name }
    }
}

impl Drop for ControlPlane<'_> {
    fn drop(&mut self) {
        let n = &self.name;
        self.node
            .kubectl(&["taint", "node", n, &format!("{MASTER}:NoSchedule-")]);
        self.node.kubectl(&[
            "label",
            "node",
            n,
            &format!("{MASTER}-"),
            &format!("{CONTROL_PLANE}-"),
        ]);
    }
}

/// Starts a Job from the etcd CronJob's template with `change` applied to its pod spec.
fn start_job(node: &Node, job: &str, change: impl FnOnce(&mut Value)) {
    node.job_from_cronjob(NS, CRONJOB, job, |spec| {
        // One pod a run: the faults below would only fail again.
        spec["backoffLimit"] = Value::from(0);
        change(&mut spec["template"]["spec"]);
    });
}

/// Waits for a Job to finish: whether it succeeded, and its pod's log.
fn finish_job(node: &Node, job: &str) -> (bool, String) {
    let (succeeded, _) = node.job_finished(NS, job, Duration::from_secs(240));
    let pod = node.pods(NS, &format!("job-name={job}"));
    let name = pod[0]["metadata"]["name"].as_str().unwrap().to_owned();
    (succeeded == 1, node.logs(NS, &name, CONTAINER))
}

fn run_job(node: &Node, job: &str, change: impl FnOnce(&mut Value)) -> (bool, String) {
    start_job(node, job, change);
    let (ok, log) = finish_job(node, job);
    // What the pod said, for whoever reads the run (`--nocapture`).
    eprintln!("{job}: {log}");
    (ok, log)
}

/// Waits until the scheduler has said why the Job's pod fits no node; its message.
fn unschedulable(node: &Node, job: &str) -> String {
    node.wait(
        &format!("the scheduler finds no node for {job}"),
        Duration::from_secs(60),
        || {
            let pods = node.pods(NS, &format!("job-name={job}"));
            let pod = pods.first()?;
            assert!(
                pod["spec"]["nodeName"].is_null(),
                "{job} was scheduled: {pod:#}"
            );
            pod["status"]["conditions"]
                .as_array()?
                .iter()
                .find(|c| c["type"] == "PodScheduled" && c["reason"] == "Unschedulable")
                .map(|c| c["message"].as_str().unwrap_or_default().to_owned())
        },
    )
}

fn plugin_json(node: &Node, args: &[&str]) -> Value {
    let out = node.plugin_ok(args);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: {e}\n{out}"))
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

#[test]
#[ignore = "needs the real node: scripts/real-node.sh run IMAGES -- cargo test --test node -- --ignored"]
fn the_etcd_schedules_pod_snapshots_a_kubeadm_etcd_on_the_node_with_no_more_than_it_needs() {
    let node = Node::get();
    let etcd = Etcd::start_under(&node.dir.join("etcd-control-plane"));
    let (pki, manifests) = (etcd.path("pki"), etcd.path("manifests"));
    etcd.put_all(
        &(0..25)
            .map(|i| format!("/registry/configmaps/default/cm-{i:02}"))
            .collect::<Vec<_>>(),
        "cm",
    );
    let repo: PathBuf = node.dir.join("volumes/etcd-repository");
    let _ = std::fs::remove_dir_all(&repo);
    let fixture = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/node/etcd-repository.yaml"
    ))
    .unwrap()
    .replace("REPO_DIR", &s(&repo));
    node.apply(&fixture);
    node.wait(
        "the repository claim is bound",
        Duration::from_secs(60),
        || {
            let pvc = node.get_json(&["get", "pvc", "-n", NS, CLAIM]);
            (pvc["status"]["phase"] == "Bound").then_some(())
        },
    );

    // The schedule, applied for real to the 1.20 API server (batch/v1beta1, the control-plane
    // label), pointing at this etcd and this tree.
    node.plugin_ok(&[
        "etcd",
        "schedule",
        "hourly",
        "-n",
        NS,
        "--claim",
        CLAIM,
        "--schedule",
        "0 * * * *",
        "--keep",
        "3",
        "--endpoints",
        &etcd.endpoint,
        "--pki-dir",
        &s(&pki),
        "--manifests-dir",
        &s(&manifests),
    ]);
    let cron = node.get_json(&["get", "cronjob", "-n", NS, CRONJOB]);
    assert_eq!(cron["apiVersion"], "batch/v1beta1", "{cron:#}");
    let pod_spec = &cron["spec"]["jobTemplate"]["spec"]["template"]["spec"];
    assert_eq!(pod_spec["hostNetwork"], true);
    assert_eq!(pod_spec["nodeSelector"][CONTROL_PLANE], "");

    // Its pod, as the CronJob makes it: not on a node that is not a control-plane node...
    node.job_from_cronjob(NS, CRONJOB, "hourly-now", |_| {});
    let why = unschedulable(&node, "hourly-now");
    eprintln!("hourly-now: {why}");
    // The pod has no affinity but its nodeSelector; 1.20's scheduler says "node affinity" of
    // either, later ones "node selector".
    assert!(
        why.contains("node affinity") || why.contains("node selector"),
        "{why}"
    );
    // ...and on the node once it is one (kubeadm 1.20's labels and `master` taint), from the
    // product image.
    let control_plane = ControlPlane::mark(&node);
    let (ok, log) = finish_job(&node, "hourly-now");
    assert!(ok, "the etcd schedule's pod failed:\n{log}");
    let pod = &node.pods(NS, "job-name=hourly-now")[0];
    assert_eq!(pod["spec"]["nodeName"], control_plane.name.as_str());
    assert_eq!(
        pod["spec"]["containers"][0]["image"],
        "ghcr.io/logbackup/kubectl-logbackup:v0.1.0"
    );

    // By effect: the snapshot, the certificates (keys still owner-only), the manifests and the
    // record, in the repository's etcd prefix on the host.
    let listed = plugin_json(&node, &["etcd", "list", "--repo", &s(&repo), "-o", "json"]);
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 1, "{listed:#?}");
    assert_eq!(listed[0]["state"], "complete", "{listed:#?}");
    let record = &listed[0]["record"];
    assert_eq!(record["origin"], "scheduled", "{record:#}");
    assert_eq!(record["node"], control_plane.name.as_str(), "{record:#}");
    assert_eq!(record["keys"]["/registry/configmaps/"], 25, "{record:#}");
    let name = record["name"].as_str().unwrap();
    let dir = repo.join("logbackup-etcd").join(name);
    for file in [
        "snapshot.db",
        "record.json",
        "pki/ca.crt",
        "pki/etcd/ca.crt",
        "pki/etcd/healthcheck-client.crt",
        "pki/etcd/healthcheck-client.key",
        "manifests/etcd.yaml",
        "manifests/kube-apiserver.yaml",
    ] {
        assert!(dir.join(file).is_file(), "{file} is missing from {dir:?}");
    }
    use std::os::unix::fs::PermissionsExt;
    let mode = |f: &str| std::fs::metadata(dir.join(f)).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode("pki/etcd/healthcheck-client.key"), 0o600);
    assert_eq!(mode("snapshot.db"), 0o600);
    // The revision the pod read from the file is the one etcd's own tool reads.
    let status = crate::cluster::command("etcdctl")
        .env("ETCDCTL_API", "3")
        .args(["snapshot", "status", "-w", "json"])
        .arg(dir.join("snapshot.db"))
        .output()
        .unwrap();
    let status: Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(record["revision"], status["revision"], "{status}");

    // The restore drill on the host, from what the pod wrote.
    let scratch = tempfile::tempdir().unwrap();
    let verdict = plugin_json(
        &node,
        &[
            "etcd",
            "verify",
            "--repo",
            &s(&repo),
            name,
            "--scratch-dir",
            &s(scratch.path()),
            "-o",
            "json",
        ],
    );
    assert_eq!(verdict["passed"], true, "{verdict:#}");
    assert_eq!(verdict["comparison"]["differences"], serde_json::json!([]));
    let listed = plugin_json(&node, &["etcd", "list", "--repo", &s(&repo), "-o", "json"]);
    assert_eq!(listed[0]["verification"]["passed"], true, "{listed:#}");

    // Each privilege taken away fails the run, and says why; nothing is listed from them.
    // Without the tolerations, the control-plane taint keeps the pod off the node.
    start_job(&node, "no-tolerations", |pod| {
        pod.as_object_mut().unwrap().remove("tolerations");
    });
    let why = unschedulable(&node, "no-tolerations");
    eprintln!("no-tolerations: {why}");
    assert!(why.contains("taint") && why.contains(MASTER), "{why}");
    node.kubectl_ok(&["delete", "job", "-n", NS, "no-tolerations", "--wait=true"]);
    // Certificates from another CA: etcd refuses the handshake.
    let wrong = etcd.path("wrong-pki");
    std::fs::create_dir_all(wrong.join("etcd")).unwrap();
    std::fs::copy(pki.join("etcd/ca.crt"), wrong.join("etcd/ca.crt")).unwrap();
    write_pair(
        &wrong.join("etcd"),
        "healthcheck-client",
        &issue(&new_ca("not-etcd"), "intruder", &[]),
    );
    let (ok, log) = run_job(&node, "wrong-certs", |pod| {
        let volumes = pod["volumes"].as_array_mut().unwrap();
        let pki = volumes.iter_mut().find(|v| v["name"] == "pki").unwrap();
        pki["hostPath"]["path"] = Value::from(s(&wrong));
    });
    assert!(!ok, "a certificate from another CA was accepted:\n{log}");
    assert!(log.contains("TLS handshake with etcd"), "{log}");
    // Without the host network, the pod's own loopback has no etcd on it.
    let (ok, log) = run_job(&node, "no-host-network", |pod| {
        pod["hostNetwork"] = Value::from(false);
        pod["dnsPolicy"] = Value::from("ClusterFirst");
    });
    assert!(!ok, "etcd was reached without the host network:\n{log}");
    assert!(
        log.contains(&format!("etcd is not reachable at {}", etcd.endpoint)),
        "{log}"
    );
    // Not root: kubeadm's keys are root's 0600 files, and every capability is dropped.
    let (ok, log) = run_job(&node, "not-root", |pod| {
        pod["securityContext"]["runAsUser"] = Value::from(65532);
        pod["securityContext"]["runAsGroup"] = Value::from(65532);
    });
    assert!(!ok, "a key of root's was read as another user:\n{log}");
    assert!(
        log.contains("healthcheck-client.key") && log.contains("ermission denied"),
        "{log}"
    );
    let listed = plugin_json(&node, &["etcd", "list", "--repo", &s(&repo), "-o", "json"]);
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed:#}");

    // Undone: the schedule's objects, the claim, the node's role.
    node.kubectl_ok(&["delete", "namespace", NS, "--wait=true", "--timeout=120s"]);
    node.kubectl_ok(&["delete", "pv", "logbackup-node-etcd-repository"]);
    drop(control_plane);
    std::fs::remove_dir_all(&repo).unwrap();
    let labels = node.get_json(&["get", "nodes"])["items"][0]["metadata"]["labels"].clone();
    assert!(labels.get(MASTER).is_none(), "{labels:#}");
}
