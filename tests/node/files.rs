//! The application's own log files, on the real node: the webhook mounts the pod's log directory on
//! the collector's hostPath, the collector DaemonSet (from the image) copies what is appended, the
//! application's container restarts, the collector is killed and comes back mid-run, the
//! application's pod is deleted while it writes, and the archive holds every line it wrote exactly
//! once, the last ones included.

use std::time::Duration;

use crate::cluster::{ready, Node};

const NS: &str = "shop";
const COLLECTOR_NS: &str = "logbackup-system";
const COLLECTOR: &str = "app.kubernetes.io/name=logbackup-files";
/// The log root the collector owns on the node (`logbackup.io/log-dirs` mounts live under it).
const LOG_ROOT: &str = "/var/lib/logbackup/files";

/// The highest line number in the node's copy of the writer's files, read from the host.
fn highest_on_node() -> Option<u64> {
    let out = crate::cluster::command("sh")
        .args(["-c", &format!("cat $(find {LOG_ROOT}/{NS} -type f -name 'app.log*') 2>/dev/null | sort -n | tail -1")])
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

#[test]
#[ignore = "needs the real node: scripts/real-node.sh run IMAGES -- cargo test --test node -- --ignored"]
fn every_line_a_deleted_pod_wrote_is_archived_once() {
    let node = Node::get();
    let archive_volume = node.dir.join("volumes/files-archive");
    node.plugin_ok(&["webhook", "install"]);
    node.wait(
        "`webhook status` says ready",
        Duration::from_secs(240),
        || (node.plugin(&["webhook", "status"]).0 == 0).then_some(()),
    );
    let kubelet_root = node.dir.join("kubelet/root");
    node.plugin_ok(&[
        "files",
        "install",
        "--claim",
        "files-archive",
        "--kubelet-root",
        kubelet_root.to_str().unwrap(),
    ]);
    let fixture = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/node/files-app.yaml"
    ))
    .unwrap()
    .replace("ARCHIVE_DIR", archive_volume.to_str().unwrap());
    node.apply(&fixture);
    let collector_ready = || {
        let pods = node.pods(COLLECTOR_NS, COLLECTOR);
        (pods.len() == 1 && ready(&pods[0]))
            .then(|| pods[0]["metadata"]["name"].as_str().unwrap().to_owned())
    };
    let collector = node.wait(
        "the collector runs",
        Duration::from_secs(180),
        collector_ready,
    );
    node.wait("the writer runs", Duration::from_secs(180), || {
        let pods = node.pods(NS, "logbackup.io/files=enabled");
        (pods.len() == 1 && ready(&pods[0])).then_some(())
    });
    // The container exits once and is restarted in the same pod, on the same directory.
    node.wait(
        "the writer's container restarted",
        Duration::from_secs(120),
        || {
            let pods = node.pods(NS, "logbackup.io/files=enabled");
            let restarts =
                pods.first()?["status"]["containerStatuses"][0]["restartCount"].as_u64()?;
            (restarts >= 1 && ready(&pods[0])).then_some(())
        },
    );
    // The webhook put the log directory on the collector's root: the node sees the lines.
    node.wait("lines appear on the node", Duration::from_secs(60), || {
        highest_on_node().filter(|n| *n > 3000)
    });

    // The collector killed and replaced by its DaemonSet while the application writes on.
    node.kubectl_ok(&[
        "delete",
        "pod",
        "-n",
        COLLECTOR_NS,
        &collector,
        "--grace-period=0",
        "--force",
    ]);
    node.wait("the collector is back", Duration::from_secs(180), || {
        collector_ready().filter(|name| *name != collector)
    });
    std::thread::sleep(Duration::from_secs(2));

    // The application's pod deleted in the middle of writing.
    let before_delete = highest_on_node().unwrap();
    node.kubectl_ok(&["delete", "pod", "-n", NS, "writer", "--wait=true"]);
    // Only the collector removes the pod's directory on the node, after its final pass.
    node.wait(
        "the collector's final pass for the deleted pod",
        Duration::from_secs(180),
        || {
            let left = crate::cluster::command("sh")
                .args(["-c", &format!("find {LOG_ROOT}/{NS} -type f | wc -l")])
                .output()
                .unwrap();
            (String::from_utf8_lossy(&left.stdout).trim() == "0").then_some(())
        },
    );

    let archive = archive_volume.join("files");
    let out = node.plugin_ok(&[
        "files",
        "get",
        "--archive",
        archive.to_str().unwrap(),
        "-n",
        NS,
        "--pod",
        "writer",
    ]);
    let mut lines: Vec<u64> = out
        .lines()
        .map(|l| {
            l.trim()
                .parse()
                .unwrap_or_else(|_| panic!("not a line number: {l:?}"))
        })
        .collect();
    let count = lines.len();
    lines.sort_unstable();
    lines.dedup();
    assert_eq!(
        lines.len(),
        count,
        "{} lines archived twice",
        count - lines.len()
    );
    let last = *lines.last().unwrap();
    assert_eq!(
        lines.len() as u64,
        last + 1,
        "lines missing: {} of 0..={last} archived",
        lines.len()
    );
    // Written after the delete was asked for: the grace period's lines, up to the kill.
    assert!(
        last > before_delete,
        "the archive ends at {last}, the node had {before_delete} before the delete"
    );

    node.plugin_ok(&["files", "uninstall"]);
    node.kubectl_ok(&["delete", "namespace", NS, "--wait=false"]);
    node.kubectl_ok(&["delete", "pvc", "-n", COLLECTOR_NS, "files-archive"]);
    node.plugin_ok(&["webhook", "uninstall"]);
    node.wait(
        "the collector's namespace is gone",
        Duration::from_secs(120),
        || (node.kubectl(&["get", "namespace", COLLECTOR_NS]).0 != 0).then_some(()),
    );
    let _ = std::fs::remove_dir_all("/var/lib/logbackup");
}
