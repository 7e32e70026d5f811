//! `etcd save`, `list`, `prune`, `verify` against a real etcd (Debian's etcd-server 3.4) with
//! kubeadm's TLS layout, its real etcdctl beside it, and the faults an operator meets: etcd down,
//! wrong certificates, a full disk, a truncated snapshot, a drill interrupted.
#![allow(clippy::unwrap_used, clippy::expect_used)] // A test crate: a panic is how a test reports.

mod cronjob;
mod s3;
mod server;

use std::path::Path;
use std::time::Duration;

use server::Etcd;
use test_support::runner::{Run, Runner};

fn plugin() -> Runner {
    Runner::new(env!("CARGO_BIN_EXE_kubectl-logbackup")).time_limit(Duration::from_secs(120))
}

fn keys(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i:04}")).collect()
}

fn save(etcd: &Etcd, repo: &Path, extra: &[&str]) -> Run {
    let mut args: Vec<String> = ["etcd", "save", "--repo"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    args.push(repo.display().to_string());
    args.extend(etcd.conn_args());
    for (flag, dir) in [("--pki-dir", "pki"), ("--manifests-dir", "manifests")] {
        args.push(flag.into());
        args.push(etcd.path(dir).display().to_string());
    }
    args.extend(extra.iter().map(|s| s.to_string()));
    args.extend(["-o".to_string(), "json".to_string()]);
    plugin().run(&args)
}

fn verify(repo: &Path, name: Option<&str>, scratch: &Path) -> Run {
    let mut args = vec![
        "etcd".to_string(),
        "verify".into(),
        "--repo".into(),
        repo.display().to_string(),
    ];
    args.extend(name.map(str::to_owned));
    args.extend([
        "--scratch-dir".into(),
        scratch.display().to_string(),
        "-o".into(),
        "json".into(),
    ]);
    plugin().run(&args)
}

fn list(repo: &Path) -> serde_json::Value {
    let run = plugin().run(&[
        "etcd",
        "list",
        "--repo",
        &repo.display().to_string(),
        "-o",
        "json",
    ]);
    run.ok();
    run.json()
}

fn empty(dir: &Path) -> bool {
    std::fs::read_dir(dir)
        .map(|mut d| d.next().is_none())
        .unwrap_or(true)
}

#[test]
fn a_snapshot_holds_the_first_set_of_keys_and_not_the_second_key_for_key_by_prefix() {
    let etcd = Etcd::start(true);
    let repo = tempfile::tempdir().unwrap();
    let scratch = tempfile::tempdir().unwrap();
    etcd.put_all(&keys("/registry/pods/default/web-", 30), "pod");
    etcd.put_all(&keys("/registry/configmaps/kube-system/cm-", 12), "cm");

    let first = save(&etcd, repo.path(), &["--node", "cp1"]);
    first.ok();
    let record = first.json();
    let name = record["name"].as_str().unwrap().to_owned();
    assert_eq!(record["keys"]["/registry/pods/"], 30);
    assert_eq!(record["keys"]["/registry/configmaps/"], 12);
    assert_eq!(
        record["etcd_version"]
            .as_str()
            .unwrap()
            .split('.')
            .take(2)
            .collect::<Vec<_>>(),
        ["3", "4"]
    );
    assert_eq!(record["members"][0]["name"], "cp1");
    // The revision read from the file is the one etcd's own tool reads.
    let snapshot = repo
        .path()
        .join("logbackup-etcd")
        .join(&name)
        .join("snapshot.db");
    let status = std::process::Command::new("etcdctl")
        .env("ETCDCTL_API", "3")
        .args(["snapshot", "status", "-w", "json"])
        .arg(&snapshot)
        .output()
        .unwrap();
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(record["revision"], status["revision"], "{status}");
    // The certificates (keys included, still owner-only) and the manifests are beside it.
    let dir = repo.path().join("logbackup-etcd").join(&name);
    use std::os::unix::fs::PermissionsExt;
    let key_mode = std::fs::metadata(dir.join("pki/etcd/healthcheck-client.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(key_mode & 0o777, 0o600);
    let snapshot_mode = std::fs::metadata(&snapshot).unwrap().permissions().mode();
    assert_eq!(
        snapshot_mode & 0o777,
        0o600,
        "the snapshot holds every Secret"
    );
    assert!(dir.join("pki/ca.crt").is_file() && dir.join("manifests/etcd.yaml").is_file());

    // After the save: new objects and a changed one.
    std::thread::sleep(Duration::from_millis(1100));
    etcd.put_all(&keys("/registry/secrets/default/s-", 7), "secret");
    etcd.put_all(&keys("/registry/pods/default/late-", 5), "pod");
    let second = save(&etcd, repo.path(), &["--node", "cp1", "--exclude-keys"]);
    second.ok();
    let second = second.json();
    assert_eq!(second["keys"]["/registry/pods/"], 35);
    assert_eq!(second["keys"]["/registry/secrets/"], 7);
    let second_dir = repo
        .path()
        .join("logbackup-etcd")
        .join(second["name"].as_str().unwrap());
    assert!(second_dir.join("pki/etcd/ca.crt").is_file());
    assert!(
        !second_dir.join("pki/etcd/ca.key").exists() && !second_dir.join("pki/ca.key").exists(),
        "--exclude-keys"
    );

    // The first snapshot restores to exactly the first set.
    let run = verify(repo.path(), Some(&name), scratch.path());
    run.ok();
    let verdict = run.json();
    assert_eq!(verdict["passed"], true, "{verdict}");
    let c = &verdict["comparison"];
    assert_eq!(c["restored_revision"], record["revision"]);
    assert_eq!(c["differences"], serde_json::json!([]));
    assert_eq!(
        c["keys"], 42,
        "30 pods and 12 configmaps, no secret, no late pod: {verdict}"
    );
    assert!(empty(scratch.path()), "the drill left files behind");
    // The newest by default, which holds the second set; both verdicts are listed.
    let run = verify(repo.path(), None, scratch.path());
    run.ok();
    assert_eq!(run.json()["comparison"]["keys"], 54);
    let listed = list(repo.path());
    assert_eq!(listed.as_array().unwrap().len(), 2);
    assert!(listed
        .as_array()
        .unwrap()
        .iter()
        .all(|l| l["verification"]["passed"] == true && l["state"] == "complete"));
}

#[test]
fn a_record_that_disagrees_with_the_restored_copy_fails_the_drill_by_prefix() {
    let etcd = Etcd::start(false);
    let repo = tempfile::tempdir().unwrap();
    let scratch = tempfile::tempdir().unwrap();
    etcd.put_all(&keys("/registry/pods/a/p-", 3), "x");
    let run = save(&etcd, repo.path(), &["--node", "n1", "--snapshot-only"]);
    run.ok();
    let name = run.json()["name"].as_str().unwrap().to_owned();
    // As if a key had been lost between the record and the file.
    let record_path = repo
        .path()
        .join("logbackup-etcd")
        .join(&name)
        .join("record.json");
    let mut record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&record_path).unwrap()).unwrap();
    record["keys"]["/registry/pods/"] = serde_json::json!(4);
    std::fs::write(&record_path, serde_json::to_vec(&record).unwrap()).unwrap();
    let run = verify(repo.path(), Some(&name), scratch.path());
    run.code(1);
    assert!(
        run.stdout
            .contains("/registry/pods/: 3 keys restored, 4 recorded"),
        "{}",
        run.stdout
    );
}

#[test]
fn without_the_client_certificate_etcd_refuses_and_we_say_which_files_to_pass() {
    let etcd = Etcd::start(true);
    // Trusting etcd's CA, but presenting no certificate.
    let client = logbackup::etcd::EtcdClient::new(&logbackup::etcd::Connection {
        endpoint: etcd.endpoint.clone(),
        ca: Some(etcd.path("pki/etcd/ca.crt")),
        ..Default::default()
    })
    .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let err = rt.block_on(client.status()).unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(err, logbackup::etcd::EtcdError::Tls { .. }),
        "{text}"
    );
    assert!(
        text.contains("client certificate") && text.contains("--cert"),
        "{text}"
    );

    // A certificate from another CA: the same refusal, through the binary, and nothing saved.
    let other = server::new_ca("not-etcd");
    let wrong = server::issue(&other, "intruder", &[]);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("c.crt"), &wrong.0).unwrap();
    std::fs::write(dir.path().join("c.key"), &wrong.1).unwrap();
    let repo = tempfile::tempdir().unwrap();
    let run = plugin().run(&[
        "etcd",
        "save",
        "--snapshot-only",
        "--node",
        "n1",
        "--repo",
        &repo.path().display().to_string(),
        "--endpoints",
        &etcd.endpoint,
        "--cacert",
        &etcd.path("pki/etcd/ca.crt").display().to_string(),
        "--cert",
        &dir.path().join("c.crt").display().to_string(),
        "--key",
        &dir.path().join("c.key").display().to_string(),
    ]);
    run.code(1);
    assert!(
        run.stderr.contains("TLS handshake with etcd"),
        "{}",
        run.stderr
    );
    assert_eq!(list(repo.path()), serde_json::json!([]));

    // A server certificate from a CA we were not told to trust.
    let run = plugin().run(&[
        "etcd",
        "save",
        "--snapshot-only",
        "--node",
        "n1",
        "--repo",
        &repo.path().display().to_string(),
        "--endpoints",
        &etcd.endpoint,
        "--cacert",
        &etcd.path("pki/ca.crt").display().to_string(),
        "--cert",
        &etcd
            .path("pki/etcd/healthcheck-client.crt")
            .display()
            .to_string(),
        "--key",
        &etcd
            .path("pki/etcd/healthcheck-client.key")
            .display()
            .to_string(),
    ]);
    run.code(1);
    assert!(
        run.stderr.contains("TLS handshake with etcd")
            && run.stderr.to_lowercase().contains("certificate"),
        "{}",
        run.stderr
    );
}

#[test]
fn etcd_down_is_said_plainly_and_leaves_nothing() {
    let mut etcd = Etcd::start(false);
    etcd.kill();
    let repo = tempfile::tempdir().unwrap();
    let run = plugin().run(&[
        "etcd",
        "save",
        "--snapshot-only",
        "--node",
        "n1",
        "--repo",
        &repo.path().display().to_string(),
        "--endpoints",
        &etcd.endpoint,
    ]);
    run.code(1);
    assert!(
        run.stderr
            .contains(&format!("etcd is not reachable at {}", etcd.endpoint)),
        "{}",
        run.stderr
    );
    assert!(
        !run.stderr.contains("Error {"),
        "no Debug dump: {}",
        run.stderr
    );
    assert!(empty(&repo.path().join("logbackup-etcd")));
    // A snapshot is one member's: a list of endpoints is refused before anything is tried.
    let run = plugin().run(&[
        "etcd",
        "save",
        "--repo",
        &repo.path().display().to_string(),
        "--endpoints",
        "https://10.0.0.1:2379,https://10.0.0.2:2379",
    ]);
    run.code(3);
    assert!(run.stderr.contains("give one endpoint"), "{}", run.stderr);
}

/// A tmpfs of 64 KiB as the repository: the snapshot (~1 MiB) cannot fit.
#[test]
fn a_full_disk_leaves_no_snapshot_that_list_shows_as_good() {
    let etcd = Etcd::start(false);
    etcd.put_all(&keys("/registry/events/default/e-", 400), &"x".repeat(2000));
    let repo = tempfile::tempdir().unwrap();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=64k", "tmpfs"])
        .arg(repo.path())
        .status()
        .unwrap();
    assert!(
        mounted.success(),
        "this test mounts a tmpfs and needs root (CAP_SYS_ADMIN)"
    );
    struct Unmount<'a>(&'a Path);
    impl Drop for Unmount<'_> {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(self.0).status();
        }
    }
    let _unmount = Unmount(repo.path());
    let run = plugin().run(&[
        "etcd",
        "save",
        "--snapshot-only",
        "--node",
        "n1",
        "--repo",
        &repo.path().display().to_string(),
        "--endpoints",
        &etcd.endpoint,
    ]);
    run.code(1);
    assert!(
        run.stderr.contains("No space left on device"),
        "{}",
        run.stderr
    );
    assert_eq!(
        list(repo.path()),
        serde_json::json!([]),
        "nothing listed, not even as incomplete: the partial snapshot was removed"
    );
    assert!(empty(&repo.path().join("logbackup-etcd")));
}

#[test]
fn a_truncated_snapshot_fails_verify_naming_the_hash() {
    let etcd = Etcd::start(false);
    etcd.put_all(&keys("/registry/pods/a/p-", 50), "x");
    let repo = tempfile::tempdir().unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let run = save(&etcd, repo.path(), &["--node", "n1", "--snapshot-only"]);
    run.ok();
    let record = run.json();
    let name = record["name"].as_str().unwrap();
    let file = repo
        .path()
        .join("logbackup-etcd")
        .join(name)
        .join("snapshot.db");
    let size = std::fs::metadata(&file).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&file)
        .unwrap()
        .set_len(size / 2)
        .unwrap();
    let run = verify(repo.path(), Some(name), scratch.path());
    run.code(1);
    let verdict = run.json();
    assert_eq!(verdict["passed"], false);
    assert_eq!(verdict["hash_ok"], false);
    let failure = verdict["failure"].as_str().unwrap();
    assert!(
        failure.contains(record["sha256"].as_str().unwrap()) && failure.contains("SHA-256"),
        "{failure}"
    );
    let listed = list(repo.path());
    assert_eq!(listed[0]["verification"]["passed"], false);
    assert!(empty(scratch.path()));
    let table = plugin().run(&["etcd", "list", "--repo", &repo.path().display().to_string()]);
    assert!(table.stdout.contains("FAILED"), "{}", table.stdout);
}

#[test]
fn an_interrupted_drill_stops_its_etcd_and_removes_its_scratch_directory() {
    use std::io::BufRead;
    let etcd = Etcd::start(false);
    etcd.put_all(&keys("/registry/pods/a/p-", 20), "x");
    let repo = tempfile::tempdir().unwrap();
    let scratch = tempfile::tempdir().unwrap();
    save(&etcd, repo.path(), &["--node", "n1", "--snapshot-only"]).ok();
    // An etcd that never answers: the drill waits for it until interrupted.
    let slow = tempfile::tempdir().unwrap();
    let fake = slow.path().join("etcd");
    std::fs::write(&fake, "#!/bin/sh\nexec sleep 300\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_kubectl-logbackup"))
        .args(["etcd", "verify", "--repo"])
        .arg(repo.path())
        .arg("--scratch-dir")
        .arg(scratch.path())
        .arg("--etcd")
        .arg(&fake)
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    while !line.contains("starting a throwaway etcd") {
        line.clear();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "verify ended before starting etcd"
        );
    }
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        !empty(scratch.path()),
        "the scratch directory exists while the drill runs"
    );
    std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    assert_eq!(status.code(), Some(1), "{rest}");
    assert!(rest.contains("interrupted"), "{rest}");
    assert!(
        empty(scratch.path()),
        "scratch left behind: {:?}",
        std::fs::read_dir(scratch.path())
            .unwrap()
            .collect::<Vec<_>>()
    );
    // The fake etcd (a `sleep 300`) was killed with the drill.
    let ps = std::process::Command::new("pgrep")
        .args(["-f", &fake.display().to_string()])
        .output()
        .unwrap();
    assert!(ps.stdout.is_empty(), "the throwaway etcd is still running");
}

#[test]
fn manual_and_scheduled_retention_never_touch_each_other() {
    let etcd = Etcd::start(false);
    let repo = tempfile::tempdir().unwrap();
    let r = repo.path().display().to_string();
    for (node, scheduled) in [
        ("a", false),
        ("b", false),
        ("c", false),
        ("a", true),
        ("b", true),
    ] {
        let mut extra = vec!["--node", node, "--snapshot-only"];
        if scheduled {
            extra.push("--scheduled");
        }
        save(&etcd, repo.path(), &extra).ok();
    }
    // The schedule keeps 1: its own oldest goes, no manual one.
    let run = save(
        &etcd,
        repo.path(),
        &[
            "--node",
            "c",
            "--snapshot-only",
            "--scheduled",
            "--keep",
            "2",
        ],
    );
    run.ok();
    let origins = |v: &serde_json::Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|l| {
                format!(
                    "{}/{}",
                    l["record"]["origin"].as_str().unwrap(),
                    l["record"]["node"].as_str().unwrap()
                )
            })
            .collect()
    };
    assert_eq!(
        origins(&list(repo.path())),
        [
            "manual/a",
            "manual/b",
            "manual/c",
            "scheduled/b",
            "scheduled/c"
        ]
    );
    // A manual prune, dry run first: nothing deleted.
    let dry = plugin().run(&[
        "etcd",
        "prune",
        "--repo",
        &r,
        "--keep",
        "1",
        "--dry-run",
        "-o",
        "json",
    ]);
    dry.ok();
    assert_eq!(
        dry.json()
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["delete"] == true)
            .count(),
        2
    );
    assert_eq!(list(repo.path()).as_array().unwrap().len(), 5);
    plugin()
        .run(&["etcd", "prune", "--repo", &r, "--keep", "1"])
        .ok();
    assert_eq!(
        origins(&list(repo.path())),
        ["manual/c", "scheduled/b", "scheduled/c"]
    );
    // Refusals: no rule; an unknown name deletes nothing.
    plugin().run(&["etcd", "prune", "--repo", &r]).code(3);
    let run = plugin().run(&[
        "etcd",
        "delete",
        "--repo",
        &r,
        "etcd-manual-x-20200101T000000Z",
    ]);
    run.code(3);
    assert_eq!(list(repo.path()).as_array().unwrap().len(), 3);
    // restore-plan names this snapshot's revision and node.
    let newest = list(repo.path())[0]["name"].as_str().unwrap().to_owned();
    let plan = plugin().run(&["etcd", "restore-plan", &newest, "--repo", &r]);
    plan.ok();
    assert!(
        plan.stdout
            .contains("ETCDCTL_API=3 etcdctl snapshot restore")
            && plan.stdout.contains("--name c"),
        "{}",
        plan.stdout
    );
}

/// etcd's JSON gateway dials etcd with etcd's own serving certificate; one that cannot
/// authenticate a client (not kubeadm's) makes every call fail, and the error says why.
#[test]
fn a_serving_certificate_without_client_auth_is_explained() {
    let etcd = Etcd::start_with(true, false);
    let repo = tempfile::tempdir().unwrap();
    let mut args = vec![
        "etcd".to_string(),
        "save".into(),
        "--snapshot-only".into(),
        "--node".into(),
        "n1".into(),
        "--repo".into(),
        repo.path().display().to_string(),
    ];
    args.extend(etcd.conn_args());
    let run = plugin().run(&args);
    run.code(1);
    assert!(
        run.stderr.contains("extended key usage clientAuth"),
        "{}",
        run.stderr
    );
}

/// The per-class count (one count-only range per class, keys outside any class paged) agrees with
/// every key listed by etcdctl and classified one by one, on a keyspace with keys of every shape.
#[test]
fn key_counts_by_class_agree_with_every_key_listed() {
    let etcd = Etcd::start(false);
    let mut all: Vec<String> = [
        "a1",
        "a2",
        "/registry/health",
        "/registry/",
        "/registry/pods/",
        "/z",
        "/y/1",
        "zz",
        "/registry/apiregistration.k8s.io/apiservices/v1.apps",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    all.extend(keys("/registry/pods/ns/p-", 40));
    all.extend(keys("/registry/events/ns/e-", 15));
    all.extend(keys("/y/", 3));
    etcd.put_all(&all, "v");
    let repo = tempfile::tempdir().unwrap();
    let run = save(&etcd, repo.path(), &["--node", "n1", "--snapshot-only"]);
    run.ok();
    let recorded = run.json()["keys"].clone();
    let listed = etcd.ctl(&["get", "", "--from-key", "--keys-only"]);
    let mut expected = std::collections::BTreeMap::<String, u64>::new();
    for key in String::from_utf8(listed.stdout)
        .unwrap()
        .lines()
        .filter(|l| !l.is_empty())
    {
        *expected
            .entry(logbackup_core::etcd::keys::prefix_of(key.as_bytes()))
            .or_default() += 1;
    }
    assert_eq!(recorded, serde_json::to_value(&expected).unwrap());
    assert_eq!(expected["(other keys)"], 6, "{expected:?}");
    assert_eq!(expected["/registry/pods/"], 41);
}

/// `--compress`: the repository holds snapshot.db.gz only, the drill decompresses it into its
/// scratch directory and checks the plain file's hash; a cut compressed file fails naming it.
#[test]
fn a_compressed_snapshot_restores_and_a_cut_one_fails_naming_the_hash() {
    let etcd = Etcd::start(false);
    etcd.put_all(&keys("/registry/pods/a/p-", 300), &"x".repeat(300));
    let repo = tempfile::tempdir().unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let run = save(
        &etcd,
        repo.path(),
        &["--node", "n1", "--snapshot-only", "--compress"],
    );
    run.ok();
    let record = run.json();
    let name = record["name"].as_str().unwrap();
    let dir = repo.path().join("logbackup-etcd").join(name);
    assert!(!dir.join("snapshot.db").exists());
    let gz = dir.join("snapshot.db.gz");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&gz).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let stored = std::fs::metadata(&gz).unwrap().len();
    assert_eq!(record["stored_size"], stored);
    assert!(
        stored * 3 < record["size"].as_u64().unwrap(),
        "{stored} of {}",
        record["size"]
    );
    // The plain file, as gunzip gives it, is the one etcdctl reads the same revision from.
    let plain = scratch.path().join("plain.db");
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("gunzip -c {} > {}", gz.display(), plain.display()))
        .status()
        .unwrap();
    assert!(out.success());
    let status = std::process::Command::new("etcdctl")
        .env("ETCDCTL_API", "3")
        .args(["snapshot", "status", "-w", "json"])
        .arg(&plain)
        .output()
        .unwrap();
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(status["revision"], record["revision"]);
    std::fs::remove_file(&plain).unwrap();

    let run = verify(repo.path(), Some(name), scratch.path());
    run.ok();
    assert_eq!(run.json()["comparison"]["keys"], 300);
    assert!(empty(scratch.path()));

    let size = std::fs::metadata(&gz).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&gz)
        .unwrap()
        .set_len(size / 2)
        .unwrap();
    let run = verify(repo.path(), Some(name), scratch.path());
    run.code(1);
    let failure = run.json()["failure"].as_str().unwrap().to_owned();
    assert!(
        failure.contains(record["sha256"].as_str().unwrap()),
        "{failure}"
    );
    assert!(empty(scratch.path()));
}
