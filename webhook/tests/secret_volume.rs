//! The webhook reads its TLS Secret as the uid, gid and supplementary groups the Deployment gives
//! it, from files with the owner and mode the kubelet gives a Secret volume under that Deployment.
//!
//! The kubelet writes Secret files root-owned with `defaultMode`; when the pod has an `fsGroup` it
//! then chowns them to root:fsGroup and adds read for owner and group (`mode | 0440`, Secret
//! volumes being read-only: pkg/volume/volume_linux.go, SetVolumeOwnership), and adds fsGroup to
//! the container's supplementary groups. This test derives all of that from
//! manifests/webhook/base/deployment.yaml, so changing the manifests re-runs the proof.
//!
//! Needs root (chown, and setpriv to drop to the pod's uid); CI runs as root.
#![allow(clippy::unwrap_used, clippy::expect_used)] // A test crate: a panic is how a test reports.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{free_port, http_get_status, TempDir, TestCa};
use serde_json::Value;

struct Pod {
    uid: u32,
    gid: u32,
    fs_group: Option<u32>,
    supplemental: Vec<u32>,
    default_mode: u32,
}

fn deployment_text() -> String {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../manifests/webhook/base/deployment.yaml");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `defaultMode` as kubectl reads it: YAML 1.1, where a leading 0 means octal.
fn default_mode(text: &str) -> u32 {
    let raw = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("defaultMode:"))
        .map(|v| v.split('#').next().unwrap_or_default().trim().to_owned())
        .unwrap_or_else(|| "0644".to_owned()); // the API's default
    if raw.len() > 1 && raw.starts_with('0') {
        u32::from_str_radix(&raw[1..], 8).unwrap()
    } else {
        raw.parse().unwrap()
    }
}

fn pod_from_manifests() -> Pod {
    let text = deployment_text();
    let deploy: Value = serde_saphyr::from_str(&text).unwrap();
    let pod = &deploy["spec"]["template"]["spec"];
    let container = &pod["containers"][0]["securityContext"];
    let pick = |k: &str| {
        container[k]
            .as_u64()
            .or_else(|| pod["securityContext"][k].as_u64())
            .map(|v| v as u32)
    };
    Pod {
        uid: pick("runAsUser").expect("the manifests set no runAsUser"),
        gid: pick("runAsGroup").expect("the manifests set no runAsGroup"),
        fs_group: pod["securityContext"]["fsGroup"].as_u64().map(|v| v as u32),
        supplemental: pod["securityContext"]["supplementalGroups"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_u64)
                    .map(|v| v as u32)
                    .collect()
            })
            .unwrap_or_default(),
        default_mode: default_mode(&text),
    }
}

/// Writes tls.crt and tls.key as the kubelet would for this pod.
fn secret_volume(dir: &Path, ca: &TestCa, pod: &Pod) {
    let leaf = ca.leaf(1);
    for (name, text) in [("tls.crt", &leaf.cert_pem), ("tls.key", &leaf.key_pem)] {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        let (group, mode) = match pod.fs_group {
            Some(g) => (g, pod.default_mode | 0o440),
            None => (0, pod.default_mode),
        };
        std::os::unix::fs::chown(&path, Some(0), Some(group)).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn as_pod(pod: &Pod, dir: &Path, listen: &str, ops: &str) -> Command {
    let mut groups: Vec<u32> = pod.supplemental.clone();
    groups.extend(pod.fs_group);
    let mut cmd = Command::new("setpriv");
    cmd.arg(format!("--reuid={}", pod.uid))
        .arg(format!("--regid={}", pod.gid));
    if groups.is_empty() {
        cmd.arg("--clear-groups");
    } else {
        let list: Vec<String> = groups.iter().map(u32::to_string).collect();
        cmd.arg(format!("--groups={}", list.join(",")));
    }
    cmd.arg(env!("CARGO_BIN_EXE_logbackup-webhook"))
        .args(["--listen", listen, "--ops-listen", ops])
        .arg("--tls-cert-file")
        .arg(dir.join("tls.crt"))
        .arg("--tls-key-file")
        .arg(dir.join("tls.key"))
        .args(["--shutdown-delay", "0s", "--log-level", "warn"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    cmd
}

fn require_root() {
    use std::os::unix::fs::MetadataExt;
    // /proc/self belongs to the effective uid.
    let euid = std::fs::metadata("/proc/self")
        .map(|m| m.uid())
        .unwrap_or(u32::MAX);
    assert_eq!(
        euid, 0,
        "this test chowns files and drops to the pod's uid: run it as root (CI does)"
    );
}

#[test]
fn the_webhook_reads_its_secret_volume_as_the_manifests_uid() {
    require_root();
    let pod = pod_from_manifests();
    assert_ne!(pod.uid, 0, "the manifests must not run the webhook as root");
    let ca = TestCa::new();
    let dir = TempDir::new("secret-volume");
    secret_volume(&dir.0, &ca, &pod);
    let ops = format!("127.0.0.1:{}", free_port());
    let listen = format!("127.0.0.1:{}", free_port());
    let mut child = as_pod(&pod, &dir.0, &listen, &ops).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let ready = loop {
        if http_get_status(ops.parse().unwrap(), "/readyz") == Some(200) {
            break true;
        }
        if child.try_wait().unwrap().is_some() || Instant::now() > deadline {
            break false;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    assert!(
        ready,
        "the webhook did not become ready as uid {} gid {} groups {:?} with files mode {:o}: {}",
        pod.uid,
        pod.gid,
        pod.fs_group,
        pod.default_mode,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The failure the manifests had before fsGroup: root:root 0440 is unreadable for uid 65532.
/// Shows the test above can fail.
#[test]
fn without_fs_group_the_same_files_are_unreadable_and_it_says_so() {
    require_root();
    let mut pod = pod_from_manifests();
    pod.fs_group = None;
    pod.supplemental.clear();
    pod.default_mode = 0o440;
    let ca = TestCa::new();
    let dir = TempDir::new("secret-volume-nofsgroup");
    secret_volume(&dir.0, &ca, &pod);
    let ops = format!("127.0.0.1:{}", free_port());
    let listen = format!("127.0.0.1:{}", free_port());
    let out = as_pod(&pod, &dir.0, &listen, &ops).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("tls.crt") && stderr.contains("Permission denied"),
        "{stderr}"
    );
}
