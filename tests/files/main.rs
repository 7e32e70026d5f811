//! The log-file collector as a node runs it: the real binary over directories laid out as the
//! kubelet and the injection lay them out, a real process writing and rotating files, the
//! collector killed (SIGKILL) and restarted at random moments, the pod deleted mid-write.
//! Every line must be in the archive exactly once.
#![allow(clippy::unwrap_used, clippy::expect_used)] // A test crate: a panic is how a test reports.

mod node;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use node::{Node, POD, UID};

/// Numbers seen in the archive (from `files get`), each with how many times, and every line's
/// timestamp; panics on a line that is not whole.
fn archived_lines(node: &Node) -> (BTreeMap<u64, u32>, Vec<u128>) {
    let out = node.plugin(&["files", "get", "-n", "shop", "--pod", POD]);
    assert!(
        out.status.success(),
        "files get: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut counts = BTreeMap::new();
    let mut times = Vec::new();
    for line in text.lines() {
        let (n, t) = line
            .split_once(' ')
            .unwrap_or_else(|| panic!("a broken line in the archive: {line:?}"));
        *counts.entry(n.parse::<u64>().unwrap()).or_insert(0) += 1;
        times.push(t.parse::<u128>().unwrap());
    }
    (counts, times)
}

fn assert_exactly_once(counts: &BTreeMap<u64, u32>, last: u64) {
    let missing: Vec<u64> = (0..=last).filter(|n| !counts.contains_key(n)).collect();
    let twice: Vec<(&u64, &u32)> = counts.iter().filter(|(_, c)| **c != 1).collect();
    let extra: Vec<&u64> = counts.keys().filter(|n| **n > last).collect();
    assert!(
        missing.is_empty() && twice.is_empty() && extra.is_empty(),
        "lines 0..={last}: {} missing (first {:?}), {} not once (first {:?}), {} beyond the last written",
        missing.len(),
        missing.iter().take(5).collect::<Vec<_>>(),
        twice.len(),
        twice.iter().take(5).collect::<Vec<_>>(),
        extra.len()
    );
}

#[test]
fn every_line_once_through_kills_restarts_rotations_and_the_pod_s_deletion() {
    let node = Node::new();
    node.pod_starts();
    let mut writer = node.writer(0, -1, 2_000);
    let mut kills = 0;
    for round in 0..14 {
        if round == 7 {
            // The application's container restarts: a new process appends to the same files.
            writer.kill().unwrap();
            writer.wait().unwrap();
            let next = node.last_written() + 1;
            writer = node.writer(next, -1, 2_000);
        }
        let mut collector = node.collector("100ms");
        std::thread::sleep(Duration::from_millis(node::jitter(150, 700)));
        collector.kill().unwrap();
        collector.wait().unwrap();
        kills += 1;
    }
    let mut collector = node.collector("100ms");
    std::thread::sleep(Duration::from_millis(500));
    // The pod is deleted in the middle of writing: its container is killed, then the kubelet
    // tears the pod down at once.
    writer.kill().unwrap();
    writer.wait().unwrap();
    let killed_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let last = node.last_written();
    let rotated = node.rotated_files();
    node.pod_torn_down();
    let deadline = Instant::now() + Duration::from_secs(30);
    while node.pod_dir().exists() {
        assert!(
            Instant::now() < deadline,
            "the finished pod's directory was never removed"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    collector.kill().unwrap();
    collector.wait().unwrap();

    let (counts, times) = archived_lines(&node);
    assert!(
        kills >= 14 && rotated >= 3,
        "{kills} kills, {rotated} rotations"
    );
    assert!(last > 10_000, "the writer wrote only {last} lines");
    assert_exactly_once(&counts, last);
    let last_100ms = times
        .iter()
        .filter(|t| **t + 100_000_000 >= killed_at)
        .count();
    assert!(
        last_100ms > 0,
        "no line of the last 100 ms before the kill is archived"
    );
    // Everything of the finished pod is closed (compressed), and the checkpoint forgot it.
    let list = node.list_json();
    assert!(!list.is_empty());
    assert!(list.iter().all(|f| f["name"]["closed"] == true), "{list:?}");
    assert!(!node.checkpoint().contains(UID));
}

#[test]
fn a_truncated_file_is_a_new_generation_not_an_append() {
    let node = Node::new();
    node.pod_starts();
    node.append_lines(0, 100);
    assert!(node.pass().status.success());
    node.truncate();
    node.append_lines(100, 50);
    assert!(node.pass().status.success());
    node.append_lines(150, 200);
    assert!(node.pass().status.success());
    node.pod_torn_down();
    assert!(node.pass().status.success());
    let (counts, _) = archived_lines(&node);
    assert_exactly_once(&counts, 349);
    let generations = node.list_json().len();
    assert_eq!(generations, 2, "{:?}", node.list_json());
}

#[test]
fn a_pod_whose_collector_is_down_keeps_its_files_and_status_says_why() {
    let node = Node::new();
    node.pod_starts();
    node.append_lines(0, 100);
    assert!(node.pass().status.success());
    // The collector is down; the pod writes on, then is deleted.
    node.append_lines(100, 100);
    node.pod_torn_down();
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        node.pod_dir().exists(),
        "nothing may be removed that was not copied"
    );
    // Time passes with no pass: the report is ten minutes old.
    node.age_report(600);
    let status = node.plugin(&["files", "status"]);
    assert_eq!(status.status.code(), Some(1));
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(
        text.contains("stale") && text.contains("1 pod(s) wait"),
        "{text}"
    );
    assert!(
        text.contains(&format!("shop/{POD}")),
        "the waiting pod is named: {text}"
    );
    // Back up: the final pass copies the rest and only then removes the pod's files.
    assert!(node.pass().status.success());
    assert!(!node.pod_dir().exists());
    let (counts, _) = archived_lines(&node);
    assert_exactly_once(&counts, 199);
    let status = node.plugin(&["files", "status", "-o", "json"]);
    assert_eq!(
        status.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&status.stdout)
    );
}

#[test]
fn stdout_is_kept_for_marked_containers_and_links_are_not_followed() {
    let node = Node::new();
    node.pod_starts();
    node.append_lines(0, 10);
    node.container_log("0.log", "stdout line 1\n");
    node.symlink_to_secret();
    assert!(node.pass().status.success());
    let names = node.archived_names();
    assert!(
        !names.iter().any(|n| n.contains("stdout")),
        "unmarked: {names:?}"
    );
    assert!(
        !names.iter().any(|n| n.contains("secret")),
        "a link was followed: {names:?}"
    );
    node.mark_stdout();
    assert!(node.pass().status.success());
    let names = node.archived_names();
    assert!(names.contains(&"stdout/0.log".to_owned()), "{names:?}");
}

#[test]
fn the_collector_s_objects_validate_against_the_kubernetes_schema() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kubectl-logbackup"))
        .args([
            "files",
            "install",
            "--claim",
            "logs-backup",
            "--dry-run",
            "-o",
            "yaml",
        ])
        .env_remove("KUBECONFIG")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("kind: DaemonSet") && text.contains("kind: ServiceAccount"));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("collector.yaml");
    std::fs::write(&file, &text).unwrap();
    test_support::kubernetes_validate::assert_valid("the files collector's objects", &[file]);
}

#[test]
fn without_the_kubelet_s_pods_directory_no_pod_is_finished_and_nothing_is_removed() {
    let node = Node::new();
    node.pod_starts();
    node.append_lines(0, 20);
    node.kubelet_root_missing();
    let out = node.pass();
    assert_eq!(out.status.code(), Some(1), "a pass with an error exits 1");
    assert!(
        node.pod_dir().exists(),
        "a running pod's files were removed"
    );
    let (counts, _) = archived_lines(&node);
    assert_exactly_once(&counts, 19);
    let status = node.plugin(&["files", "status"]);
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(text.contains("pods directory"), "{text}");
}
