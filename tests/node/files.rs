//! The application's own log files, on the real node: the webhook mounts the pod's log directory on
//! the collector's hostPath, the collector DaemonSet (from the image) copies what is appended, the
//! application's container restarts, the collector is killed and comes back mid-run, the
//! application's pod is deleted while it writes, and the archive holds every line it wrote exactly
//! once, the last ones included, and its stdout from the kubelet's files. Then the collector is down
//! while a second pod, non-root, writes and is deleted: its files wait on the node, `files status`
//! says why, and the collector's return archives them. Last, `files install --push-to` adds the
//! CronJob whose pod copies every closed file to a real S3 server.

use std::time::Duration;

use crate::cluster::{ready, Node};
use crate::s3::S3;

const NS: &str = "shop";
const COLLECTOR_NS: &str = "logbackup-system";
const COLLECTOR: &str = "app.kubernetes.io/name=logbackup-files";
/// The log root the collector owns on the node (`logbackup.io/log-dirs` mounts live under it).
const LOG_ROOT: &str = "/var/lib/logbackup/files";

/// `files install` of the collector with the node's kubelet root, and `extra` flags.
fn install_collector(node: &Node, extra: &[&str]) {
    let kubelet_root = node.dir.join("kubelet/root");
    let mut args = vec![
        "files",
        "install",
        "--claim",
        "files-archive",
        "--kubelet-root",
        kubelet_root.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    node.plugin_ok(&args);
}

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
    install_collector(&node, &[]);
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
    let writer = archived_once(&node, &archive, "writer");
    let last = writer.last;
    // Its stdout too, from the kubelet's files of both runs of the container: every batch from the
    // first, once each, in order, past the restart at 3,000. (The kubelet deletes these files with
    // the pod, so the last lines printed before the delete are not guaranteed; see docs/files.md.)
    let batches = &writer.batches;
    let expected: Vec<u64> = (0..batches.len() as u64).map(|b| b * 10).collect();
    assert_eq!(
        batches, &expected,
        "stdout batches not each once and in order"
    );
    assert!(
        batches.last().is_some_and(|b| *b >= 3000),
        "stdout of the restarted container is missing: {:?}",
        batches.last()
    );
    // Written after the delete was asked for: the grace period's lines, up to the kill.
    assert!(
        last > before_delete,
        "the archive ends at {last}, the node had {before_delete} before the delete"
    );

    collector_down_then_back(&node, &archive);
    pushed_to_s3(&node, &archive);

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

/// Lines on the node in one pod's files: how many files, and the highest line number.
fn on_node(pod: &str) -> (usize, Option<u64>) {
    let files = format!("$(find {LOG_ROOT}/{NS} -type f -path '*/{pod}_*')");
    let out = crate::cluster::command("sh")
        .args([
            "-c",
            &format!("echo {files} | wc -w; cat {files} 2>/dev/null | sort -n | tail -1"),
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut lines = text.lines();
    let count = lines
        .next()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or(0);
    (count, lines.next().and_then(|l| l.trim().parse().ok()))
}

/// What the archive holds of one pod, copied out with `files get --to`: the line numbers of its
/// files (checked to be 0..=last, each once) and the batch numbers its stdout printed, in order.
struct Archived {
    last: u64,
    batches: Vec<u64>,
}

fn archived_once(node: &Node, archive: &std::path::Path, pod: &str) -> Archived {
    let to = node.dir.join(format!("files-get-{pod}"));
    let _ = std::fs::remove_dir_all(&to);
    node.plugin_ok(&[
        "files",
        "get",
        "--archive",
        archive.to_str().unwrap(),
        "-n",
        NS,
        "--pod",
        pod,
        "--to",
        to.to_str().unwrap(),
    ]);
    let (mut lines, mut stdout) = (Vec::new(), Vec::new());
    let mut files = vec![to.clone()];
    let mut kept = Vec::new();
    while let Some(path) = files.pop() {
        if path.is_dir() {
            files.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
        } else {
            kept.push(path);
        }
    }
    kept.sort();
    for path in kept {
        let text = std::fs::read_to_string(&path).unwrap();
        let shown = path.display().to_string();
        if shown.contains("/opt_logs/") {
            lines.extend(text.lines().map(|l| {
                l.trim()
                    .parse::<u64>()
                    .unwrap_or_else(|_| panic!("{shown}: not a line number: {l:?}"))
            }));
        } else if shown.contains("/stdout/") {
            // The kubelet's CRI format: `<time> stdout F batch N`.
            stdout.extend(
                text.lines()
                    .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok()),
            );
        }
    }
    let _ = std::fs::remove_dir_all(&to);
    let count = lines.len();
    lines.sort_unstable();
    lines.dedup();
    assert_eq!(
        lines.len(),
        count,
        "{pod}: {} lines archived twice",
        count - lines.len()
    );
    let last = *lines
        .last()
        .unwrap_or_else(|| panic!("{pod}: nothing archived"));
    assert_eq!(
        lines.len() as u64,
        last + 1,
        "{pod}: lines missing below {last}"
    );
    Archived {
        last,
        batches: stdout,
    }
}

fn collector_down_then_back(node: &Node, archive: &std::path::Path) {
    const LATE: &str = "late-writer";
    let daemonset = ["-n", COLLECTOR_NS, "daemonset/logbackup-files"];
    let patch = |value: &str| {
        let json = format!(r#"{{"spec":{{"template":{{"spec":{{"nodeSelector":{value}}}}}}}}}"#);
        let mut args = vec!["patch"];
        args.extend(daemonset);
        args.extend(["--type=merge", "-p", &json]);
        node.kubectl_ok(&args);
    };
    // Down: no node matches the collector's selector any more.
    patch(r#"{"logbackup.io/nowhere":"true"}"#);
    node.wait("the collector is gone", Duration::from_secs(120), || {
        node.pods(COLLECTOR_NS, COLLECTOR).is_empty().then_some(())
    });

    // A second writer, as uid 1000, runs, writes, and is deleted while no collector runs.
    let pod = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/node/files-late-writer.yaml"
    ))
    .unwrap();
    node.apply(&pod);
    node.wait(
        "the late writer's lines on the node",
        Duration::from_secs(180),
        || on_node(LATE).1.filter(|n| *n > 1000),
    );
    node.kubectl_ok(&["delete", "pod", "-n", NS, LATE, "--wait=true"]);
    let (files, highest) = on_node(LATE);
    assert!(
        files > 0,
        "the deleted pod's files were removed with no collector to copy them"
    );
    let highest = highest.unwrap();

    // `files status` names the stale collector and exits 1 (at least a minute without a report).
    let archive_arg = archive.to_str().unwrap();
    let stale = node.wait(
        "`files status` to call the collector stale",
        Duration::from_secs(180),
        || {
            let (code, out, _) =
                node.plugin(&["files", "status", "--archive", archive_arg, "-o", "json"]);
            let health: serde_json::Value = serde_json::from_str(&out).ok()?;
            (code == 1 && health[0]["state"] == "stale").then_some(health)
        },
    );
    let summary = stale[0]["summary"].as_str().unwrap();
    assert!(
        summary.contains("wait on the node until its collector runs again"),
        "{stale:#}"
    );
    assert_eq!(
        on_node(LATE).0,
        files,
        "files went while the collector was down"
    );

    // Back: its first pass archives the late writer's files, then removes them from the node.
    patch("null");
    node.wait(
        "the late writer's files archived and removed",
        Duration::from_secs(240),
        || (on_node(LATE).0 == 0).then_some(()),
    );
    let last = archived_once(node, archive, LATE).last;
    assert_eq!(
        last, highest,
        "the archive ends at {last}, the node's files at {highest}"
    );
    node.wait(
        "`files status` healthy again",
        Duration::from_secs(60),
        || {
            (node
                .plugin(&["files", "status", "--archive", archive_arg])
                .0
                == 0)
                .then_some(())
        },
    );
}

/// Every closed (compressed) file in the archive, by its path under the archive.
fn closed_files(archive: &std::path::Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut dirs = vec![archive.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.strip_prefix(archive).unwrap().display().to_string();
            if path.is_dir() && !name.starts_with(".collectors") {
                dirs.push(path);
            } else if name.ends_with(".gz") {
                found.push(name);
            }
        }
    }
    found.sort();
    found
}

fn pushed_to_s3(node: &Node, archive: &std::path::Path) {
    let s3 = S3::start(node, "files-offsite");
    node.kubectl_ok(&[
        "create",
        "secret",
        "generic",
        "files-s3",
        "-n",
        COLLECTOR_NS,
        "--from-literal=AWS_ACCESS_KEY_ID=test",
        "--from-literal=AWS_SECRET_ACCESS_KEY=test",
    ]);
    install_collector(
        node,
        &[
            "--push-to",
            "s3://files-offsite/node-a",
            "--push-secret",
            "files-s3",
            "--push-endpoint",
            &s3.url,
        ],
    );
    let closed = closed_files(archive);
    assert!(
        closed.iter().any(|f| f.starts_with("shop/late-writer/")),
        "nothing closed to push: {closed:?}"
    );
    let job = node.job_from_cronjob(
        COLLECTOR_NS,
        "logbackup-files-push",
        "files-push-now",
        |_| {},
    );
    let (succeeded, _) = node.job_finished(COLLECTOR_NS, &job, Duration::from_secs(240));
    let (_, log, _) = node.kubectl(&["logs", "-n", COLLECTOR_NS, &format!("job/{job}")]);
    assert_eq!(succeeded, 1, "the push Job failed:\n{log}");
    let listing = s3.list("files-offsite", "node-a/");
    for file in &closed {
        assert!(
            listing.contains(&format!("<Key>node-a/{file}</Key>")),
            "{file} is not in S3 (the Job said: {log})"
        );
    }
    // Made from the template, it has no owner for `files uninstall` to collect; its pod holds the
    // claim against deletion (the claim's protection counts finished pods on 1.20).
    node.kubectl_ok(&[
        "delete",
        "job",
        "-n",
        COLLECTOR_NS,
        &job,
        "--cascade=foreground",
    ]);
}
