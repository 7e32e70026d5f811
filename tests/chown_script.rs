//! The init container's script, run by a real `sh` against a real directory. `chown` and `stat` are
//! replaced by shims on PATH to play an NFS export with root_squash, where root cannot chown.
#![allow(clippy::unwrap_used, clippy::expect_used)] // A test crate: a panic is how a test reports.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use logbackup::inject::chown_script;

fn shim(dir: &Path, name: &str, body: &str) {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).expect("write shim");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod shim");
}

/// Runs the script with chown failing and `stat` reporting `owner group mode` for the repository.
fn run_squashed(stat_answer: &str) -> (bool, String, String) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let repo = tmp.path().join("backup");
    std::fs::create_dir(&repo).expect("repo dir");
    let bin = tmp.path().join("bin");
    std::fs::create_dir(&bin).expect("bin dir");
    shim(
        &bin,
        "chown",
        "echo \"chown: changing ownership of '$2': Operation not permitted\" >&2; exit 1",
    );
    shim(&bin, "stat", &format!("echo '{stat_answer}'"));
    let script = chown_script(repo.to_str().expect("utf-8 path"), 1000, 1000);
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new("sh")
        .arg("-c")
        .arg(&script)
        .env("PATH", path)
        .output()
        .expect("run sh");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn root_squash_with_a_writable_export_is_fine() {
    let (ok, stdout, _) = run_squashed("1000 1000 755");
    assert!(ok);
    assert!(stdout.contains("can already write it"), "{stdout}");
}

#[test]
fn root_squash_with_a_group_writable_export_is_fine() {
    let (ok, stdout, _) = run_squashed("65534 1000 775");
    assert!(ok);
    assert!(stdout.contains("can already write it"), "{stdout}");
}

#[test]
fn root_squash_with_an_unwritable_export_warns_but_never_blocks_the_pod() {
    let (ok, stdout, stderr) = run_squashed("65534 65534 755");
    assert!(ok, "the pod must start anyway");
    assert!(!stdout.contains("can already write it"), "{stdout}");
    assert!(
        stderr.contains("WARNING") && stderr.contains("no_root_squash"),
        "{stderr}"
    );
}

#[test]
fn the_script_is_valid_posix_sh() {
    let status = Command::new("sh")
        .arg("-n")
        .arg("-c")
        .arg(chown_script("/usr/share/elasticsearch/backup", 1000, 0))
        .status()
        .expect("sh -n");
    assert!(status.success());
}
