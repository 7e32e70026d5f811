//! Faults on the real node, while a scheduled backup's Job runs: kubelet restarted (nothing lost,
//! nothing reported twice), and the Elasticsearch pod killed in the middle of a snapshot (the run
//! says it was not successful; the next run succeeds).

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::cluster::{ready, Node};

const NS: &str = "logbackup-faults";
const REPO: &str = "ks";

fn owned_dir(node: &Node, name: &str) -> String {
    let dir = node.dir.join("volumes").join(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::os::unix::fs::chown(&dir, Some(1000), Some(1000)).unwrap();
    dir.to_str().unwrap().to_owned()
}

fn es_ready(node: &Node) -> Option<String> {
    let pods = node.pods(NS, "app=faults-es");
    (pods.len() == 1 && ready(&pods[0]))
        .then(|| pods[0]["metadata"]["uid"].as_str().unwrap().to_owned())
}

/// When the Elasticsearch pod last became ready: a new value means it was unready in between, and
/// its Service had no endpoints for that moment.
fn es_ready_since(node: &Node) -> String {
    let pods = node.pods(NS, "app=faults-es");
    pods.first()
        .and_then(|p| p["status"]["conditions"].as_array())
        .and_then(|c| c.iter().find(|c| c["type"] == "Ready"))
        .map(|c| c["lastTransitionTime"].to_string())
        .unwrap_or_default()
}

/// The Job's pods: (name, phase).
fn job_pods(node: &Node, job: &str) -> Vec<(String, String)> {
    node.get_json(&["get", "pods", "-n", NS, "-l", &format!("job-name={job}")])["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["metadata"]["name"].as_str().unwrap().to_owned(),
                p["status"]["phase"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// What happened to each of the Job's pods: phase, reason, message, each container's last state and
/// its log, so that a failed assertion says why a pod failed.
fn job_story(node: &Node, job: &str) -> String {
    let pods = node.get_json(&["get", "pods", "-n", NS, "-l", &format!("job-name={job}")]);
    let mut story = String::new();
    for p in pods["items"].as_array().unwrap() {
        let name = p["metadata"]["name"].as_str().unwrap();
        let status = &p["status"];
        story += &format!(
            "pod {name}: phase {} reason {} message {}\n  containers: {}\n  log:\n{}\n",
            status["phase"],
            status["reason"],
            status["message"],
            status["containerStatuses"],
            node.kubectl(&["logs", "-n", NS, name]).1
        );
    }
    story
}

/// Waits until the Job's first pod has been running for `for_at_least`: its snapshot is under way.
fn running_for(node: &Node, job: &str, for_at_least: Duration) {
    let since = node.wait(
        &format!("Job {job}'s pod runs"),
        Duration::from_secs(120),
        || {
            job_pods(node, job)
                .iter()
                .any(|(_, phase)| phase == "Running")
                .then(Instant::now)
        },
    );
    std::thread::sleep(for_at_least.saturating_sub(since.elapsed()));
}

/// (succeeded, failed) once the Job has finished.
fn finished(node: &Node, job: &str) -> (u64, u64) {
    node.job_finished(NS, job, Duration::from_secs(300))
}

fn snapshots(node: &Node) -> Vec<Value> {
    let out = node.plugin_ok(&["snapshot", "list", "-n", NS, "-r", REPO, "-o", "json"]);
    let v: Value = serde_json::from_str(&out).unwrap();
    v.as_array()
        .cloned()
        .or_else(|| v["snapshots"].as_array().cloned())
        .unwrap_or_else(|| panic!("snapshot list -o json: {out}"))
}

#[test]
#[ignore = "needs the real node: scripts/real-node.sh run IMAGES -- cargo test --test node -- --ignored"]
fn a_backup_job_survives_a_kubelet_restart_and_reports_an_elasticsearch_crash() {
    let node = Node::get();
    let fixture = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/node/faults-double.yaml"
    ))
    .unwrap()
    .replace("REPO_DIR", &owned_dir(&node, "faults-repo"))
    .replace("DATA_DIR", &owned_dir(&node, "faults-data"));
    node.apply(&fixture);
    let es_uid = node.wait("Elasticsearch is ready", Duration::from_secs(180), || {
        es_ready(&node)
    });
    node.plugin_ok(&[
        "repo",
        "register",
        REPO,
        "-n",
        NS,
        "--location",
        "/usr/share/elasticsearch/backup/ks",
    ]);
    node.plugin_ok(&[
        "schedule",
        "create",
        "faults",
        "-n",
        NS,
        "-r",
        REPO,
        "--cron",
        "0 1 * * *",
        "--keep-days",
        "7",
        "--preset",
        "kubesphere",
    ]);

    // kubelet restarted while the Job's pod waits for its snapshot: the pod goes on, the Job
    // succeeds once, with one pod, and the repository holds exactly one snapshot. A restarted
    // kubelet 1.20 counts every container unready until its first probe, so for a moment the
    // Elasticsearch Service has no endpoints; the snapshot lasts long enough that this moment falls
    // while the Job polls it. The polls ride one kept-alive connection, which that moment does not
    // cut; one that needs a new connection then is refused and retried.
    let job = node
        .plugin_ok(&["schedule", "run-now", "faults", "-n", NS])
        .trim()
        .to_owned();
    running_for(&node, &job, Duration::from_secs(4));
    // The unready moment comes unless the first probe beats the first status the restarted
    // kubelet sends (its probes start after a random part of their period), so the restart is
    // repeated until the moment is seen, and it must come while the Job still runs.
    let ready_since = es_ready_since(&node);
    let script = std::env::var("LOGBACKUP_NODE_SCRIPT").unwrap();
    let went_unready = (0..3).any(|_| {
        let restarted = crate::cluster::command("bash")
            .args([script.as_str(), "restart", "kubelet"])
            .status()
            .unwrap();
        assert!(restarted.success(), "could not restart kubelet");
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if es_ready_since(&node) != ready_since {
                return true;
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        false
    });
    assert!(
        went_unready,
        "three kubelet restarts and the Elasticsearch pod never went unready: the fault this test makes did not happen"
    );
    let job_status = node.get_json(&["get", "job", "-n", NS, &job])["status"].clone();
    assert!(
        job_status["succeeded"].as_u64().unwrap_or(0) == 0,
        "Job {job} had finished before the Service lost its endpoints: {job_status}"
    );
    let outcome = finished(&node, &job);
    let story = job_story(&node, &job);
    assert_eq!(
        outcome,
        (1, 0),
        "Job {job} after a kubelet restart:\n{story}"
    );
    assert_eq!(
        job_pods(&node, &job).len(),
        1,
        "the Job ran more than one pod"
    );
    let after_first = snapshots(&node);
    assert_eq!(after_first.len(), 1, "{after_first:#?}");
    assert_eq!(after_first[0]["state"], "SUCCESS", "{after_first:#?}");

    // Elasticsearch killed in the middle of the next snapshot: that run says it was not successful.
    let job = node
        .plugin_ok(&["schedule", "run-now", "faults", "-n", NS])
        .trim()
        .to_owned();
    running_for(&node, &job, Duration::from_secs(4));
    node.kubectl_ok(&[
        "delete",
        "pod",
        "-n",
        NS,
        "elasticsearch-0",
        "--grace-period=0",
        "--force",
    ]);
    let (_, failed) = finished(&node, &job);
    assert!(
        failed >= 1,
        "no run of Job {job} failed after Elasticsearch was killed mid-snapshot"
    );
    let failed_pod = job_pods(&node, &job)
        .into_iter()
        .find(|(_, phase)| phase == "Failed")
        .map(|(name, _)| name)
        .unwrap_or_else(|| panic!("Job {job} has no failed pod"));
    // The poll that found no Elasticsearch waited for it, and the Elasticsearch that came back had
    // no such snapshot: a restarted master does not keep a running snapshot.
    let log = node.kubectl(&["logs", "-n", NS, &failed_pod]).1;
    assert!(
        !log.contains("SUCCESS"),
        "the interrupted run claimed success:\n{log}"
    );
    assert!(
        log.contains("is gone while it ran"),
        "the interrupted run did not say its snapshot was lost:\n{log}"
    );
    let new_uid = node.wait("Elasticsearch is back", Duration::from_secs(180), || {
        es_ready(&node)
    });
    assert_ne!(new_uid, es_uid);

    // The next run succeeds, and the interrupted snapshot is not listed as a success.
    let job = node
        .plugin_ok(&["schedule", "run-now", "faults", "-n", NS])
        .trim()
        .to_owned();
    let (succeeded, _) = finished(&node, &job);
    assert_eq!(succeeded, 1, "the run after the crash did not succeed");
    let all = snapshots(&node);
    let successes = all.iter().filter(|s| s["state"] == "SUCCESS").count();
    assert!(successes >= 2, "{all:#?}");

    node.plugin_ok(&["schedule", "delete", "faults", "-n", NS]);
    node.kubectl_ok(&["delete", "namespace", NS, "--wait=false"]);
}

/// A namespace being deleted answers 403 like a missing permission; the plugin tells the two apart.
#[test]
#[ignore = "needs the real node: scripts/real-node.sh run IMAGES -- cargo test --test node -- --ignored"]
fn a_namespace_being_deleted_is_not_called_missing_rbac() {
    let node = Node::get();
    let ns = "logbackup-doomed";
    node.kubectl_ok(&["create", "namespace", ns]);
    // A finalizer keeps the namespace Terminating for as long as the test needs.
    node.apply(&format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: hold\n  namespace: {ns}\n  finalizers: [logbackup.test/hold]\n"
    ));
    node.kubectl_ok(&["delete", "namespace", ns, "--wait=false"]);
    node.wait(
        "the namespace is Terminating",
        Duration::from_secs(60),
        || {
            let v = node.get_json(&["get", "namespace", ns]);
            (v["status"]["phase"] == "Terminating").then_some(())
        },
    );
    let (code, out, err) = node.plugin(&["webhook", "install", "-n", ns]);
    node.kubectl_ok(&[
        "patch",
        "configmap",
        "hold",
        "-n",
        ns,
        "--type=merge",
        "-p",
        r#"{"metadata":{"finalizers":null}}"#,
    ]);
    assert_ne!(code, 0, "{out}{err}");
    assert!(
        err.contains(&format!("namespace {ns} is being deleted")),
        "{err}"
    );
    assert!(!err.contains("auth can-i"), "{err}");
}
