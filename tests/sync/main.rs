//! `repo sync` against a real S3 server (moto) and repositories the Elasticsearch test double writes
//! on disk in the real `fs` layout. A second double registers the copies read-only and must list the
//! same snapshots; a sync killed half-way must leave the previous copy readable.
#![allow(clippy::unwrap_used, clippy::expect_used)] // A test crate: a panic is how a test reports.

/// The Elasticsearch double running this package's binary (`test_support::double`).
mod harness {
    pub use test_support::double::Run;
    test_support::plugin_double!();
}
mod files_push;
mod moto;
mod s3_repository;
mod scheduled;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use es_double::{Flavour, State};
use harness::{Env, Run};
use test_support::Runner;

const VERSION: &str = "7.17.0";

/// A double whose nodes have `root` in path.repo and write repositories there for real.
fn double(root: &Path) -> Env {
    let root = root.to_string_lossy().to_string();
    Env::start(Flavour::Elasticsearch, VERSION, |s: &mut State| {
        for n in &mut s.nodes {
            n.path_repo = vec![root.clone()];
        }
        s.behaviour.disk_layout = true;
        s.behaviour.progress_polls = 0;
        for day in ["2026.11.28", "2026.11.29", "2026.11.30", "2026.12.01"] {
            s.add_index(&format!("ks-logstash-log-{day}"), 40_000_000);
        }
    })
}

/// The plugin with moto's test credentials, and no AWS settings from the test's environment.
fn with_moto_credentials() -> Runner {
    Runner::new(env!("CARGO_BIN_EXE_kubectl-logbackup"))
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_ENDPOINT_URL")
}

fn sync(args: &[&str], env: &[(&str, &str)]) -> Run {
    with_moto_credentials()
        .leading(["repo", "sync"])
        .trailing(["--endpoint", moto::shared(), "-o", "json"])
        .envs(env.iter().copied())
        .run(args)
}

fn names(env: &Env, repo: &str) -> Vec<String> {
    let run = env.run(&["snapshot", "list", "-r", repo, "-o", "json"]);
    run.ok();
    let v = run.json();
    let list = v
        .as_array()
        .or_else(|| v["snapshots"].as_array())
        .unwrap_or_else(|| panic!("snapshot list: {v}"));
    let mut out: Vec<String> = list
        .iter()
        .filter_map(|s| s["snapshot"].as_str().or(s["name"].as_str()))
        .map(str::to_string)
        .collect();
    out.sort();
    out
}

fn snapshot(env: &Env, repo: &str, name: &str) {
    env.run(&[
        "snapshot",
        "create",
        "-r",
        repo,
        "--name",
        name,
        "--indices",
        "ks-logstash-log-*",
        "--wait",
    ])
    .ok();
}

/// Every file under `root`, relative, with its content.
fn tree(root: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(dir: &Path, root: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, root, out);
            } else {
                let rel = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .to_string();
                out.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    if root.exists() {
        walk(root, root, &mut out);
    }
    out
}

/// A second cluster: registers `location` read-only and lists its snapshots.
fn read_only_listing(location: &Path) -> Vec<String> {
    let env = double(location.parent().unwrap());
    env.run(&[
        "repo",
        "register",
        "copy",
        "--location",
        &location.to_string_lossy(),
        "--readonly",
    ])
    .ok();
    names(&env, "copy")
}

fn count(run: &Run, key: &str) -> u64 {
    run.json()[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key} in {}", run.stdout))
}

struct Source {
    _tmp: tempfile::TempDir,
    env: Env,
    location: PathBuf,
}

fn source_with(snapshots: &[&str]) -> Source {
    let tmp = tempfile::tempdir().unwrap();
    let location = tmp.path().join("ks-log-snapshots");
    let env = double(tmp.path());
    env.run(&[
        "repo",
        "register",
        "ks",
        "--location",
        &location.to_string_lossy(),
    ])
    .ok();
    for s in snapshots {
        snapshot(&env, "ks", s);
    }
    Source {
        _tmp: tmp,
        env,
        location,
    }
}

#[test]
fn the_double_writes_the_fs_repository_layout() {
    let src = source_with(&["nightly-1", "nightly-2"]);
    let files = tree(&src.location);
    let latest = &files["index.latest"];
    assert_eq!(latest.len(), 8, "index.latest is an 8-byte generation");
    let generation = u64::from_be_bytes(latest.as_slice().try_into().unwrap());
    let data: serde_json::Value =
        serde_json::from_slice(&files[&format!("index-{generation}")]).unwrap();
    let in_data: Vec<&str> = data["snapshots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(in_data, ["nightly-1", "nightly-2"]);
    for s in data["snapshots"].as_array().unwrap() {
        let uuid = s["uuid"].as_str().unwrap();
        assert!(files.contains_key(&format!("snap-{uuid}.dat")));
        assert!(files.contains_key(&format!("meta-{uuid}.dat")));
    }
    let shard_files = files.keys().filter(|k| k.starts_with("indices/")).count();
    // 4 indices: one shared segment blob each, plus meta- and shard snap- files per snapshot.
    assert_eq!(shard_files, 4 + 2 * 4 * 2, "{:?}", files.keys());
    // Deleting a snapshot writes a new generation and removes what only it referenced.
    src.env
        .run(&["snapshot", "delete", "-r", "ks", "nightly-1"])
        .ok();
    let after = tree(&src.location);
    let next = u64::from_be_bytes(after["index.latest"].as_slice().try_into().unwrap());
    assert_eq!(next, generation + 1);
    let uuid1 = data["snapshots"][0]["uuid"].as_str().unwrap();
    assert!(
        !after.keys().any(|k| k.contains(uuid1)),
        "{:?}",
        after.keys()
    );
    assert_eq!(read_only_listing(&src.location), ["nightly-2"]);
}

#[test]
fn to_s3_and_back_then_a_second_cluster_reads_the_copy() {
    let endpoint = moto::shared();
    moto::create_bucket(endpoint, "roundtrip");
    let src = source_with(&["nightly-1", "nightly-2"]);
    // A blob larger than one part, to go through the streamed multipart path both ways.
    let big = src.location.join("indices/bigindex/0/__big");
    std::fs::create_dir_all(big.parent().unwrap()).unwrap();
    std::fs::write(&big, vec![7u8; 17 * 1024 * 1024 + 3]).unwrap();
    let local = src.location.to_string_lossy().to_string();

    let dry = sync(&[&local, "s3://roundtrip/ks", "--dry-run"], &[]);
    dry.ok().stderr_has("dry run: would send");
    assert!(moto::keys(endpoint, "roundtrip", "ks/").is_empty());

    let first = sync(&[&local, "s3://roundtrip/ks"], &[]);
    first.ok();
    let sent = count(&first, "files_sent");
    assert_eq!(sent as usize, tree(&src.location).len());
    assert_eq!(count(&first, "files_skipped"), 0);
    let keys = moto::keys(endpoint, "roundtrip", "ks/");
    assert!(keys.contains(&"ks/index.latest".to_string()), "{keys:?}");
    assert!(keys.contains(&"ks/logbackup-sync.json".to_string()));

    // Nothing changed: nothing is sent again.
    let again = sync(&[&local, "s3://roundtrip/ks"], &[]);
    again.ok();
    assert_eq!(count(&again, "files_sent"), 0);
    assert_eq!(count(&again, "files_skipped"), sent);

    // Two more snapshots, one deleted: only the new files go, the deleted one's files are removed.
    snapshot(&src.env, "ks", "nightly-3");
    snapshot(&src.env, "ks", "nightly-4");
    src.env
        .run(&["snapshot", "delete", "-r", "ks", "nightly-1"])
        .ok();
    let third = sync(&[&local, "s3://roundtrip/ks"], &[]);
    third.ok();
    assert!(count(&third, "files_sent") > 0);
    assert!(count(&third, "files_skipped") > 0);
    assert!(count(&third, "files_removed") > 0);
    assert_eq!(
        third.json()["snapshots"],
        serde_json::json!(["nightly-2", "nightly-3", "nightly-4"])
    );

    // S3 to S3: the ETags are checksums at both ends, and equal.
    let copy = sync(&["s3://roundtrip/ks", "s3://roundtrip/ks-second"], &[]);
    copy.ok();
    let copy = sync(&["s3://roundtrip/ks", "s3://roundtrip/ks-second"], &[]);
    copy.ok();
    assert_eq!(count(&copy, "files_sent"), 0);

    // Back into an empty directory: the restore path of a new cluster.
    let restore = tempfile::tempdir().unwrap();
    let restored = restore.path().join("ks-copy");
    sync(&["s3://roundtrip/ks", &restored.to_string_lossy()], &[]).ok();
    let mut want = tree(&src.location);
    let mut got = tree(&restored);
    got.remove("logbackup-sync.json");
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>()
    );
    assert!(got == std::mem::take(&mut want), "contents differ");
    assert_eq!(
        read_only_listing(&restored),
        names(&src.env, "ks"),
        "the second cluster lists the same snapshots"
    );
}

#[test]
fn a_sync_killed_half_way_leaves_the_previous_copy() {
    let endpoint = moto::shared();
    moto::create_bucket(endpoint, "killed");
    let src = source_with(&["nightly-1", "nightly-2"]);
    let local = src.location.to_string_lossy().to_string();
    sync(&[&local, "s3://killed/ks"], &[]).ok();
    snapshot(&src.env, "ks", "nightly-3");
    src.env
        .run(&["snapshot", "delete", "-r", "ks", "nightly-1"])
        .ok();
    // Files the next run sends: blobs, index-N and index.latest, in that order.
    let to_send = || {
        let plan = sync(&[&local, "s3://killed/ks", "--dry-run"], &[]);
        plan.ok();
        count(&plan, "files_sent")
    };
    assert!(to_send() >= 3);

    let check = |label: &str, want: &[&str]| {
        let dir = tempfile::tempdir().unwrap();
        let back = dir.path().join("ks");
        sync(&["s3://killed/ks", &back.to_string_lossy()], &[]).ok();
        assert_eq!(read_only_listing(&back), want, "{label}");
    };
    // Killed while sending blobs: the copy is the previous sync's.
    let killed = sync(
        &[&local, "s3://killed/ks"],
        &[("LOGBACKUP_SYNC_FAULT", "abort-after:1")],
    );
    assert_ne!(killed.code, 0, "{}", killed.stderr);
    killed.stderr_has("aborting after 1 writes");
    check("killed among the blobs", &["nightly-1", "nightly-2"]);
    // Killed right before index.latest: still the previous sync's.
    let before_latest = (to_send() - 1).to_string();
    let killed = sync(
        &[&local, "s3://killed/ks"],
        &[(
            "LOGBACKUP_SYNC_FAULT",
            &format!("abort-after:{before_latest}"),
        )],
    );
    assert_ne!(killed.code, 0);
    check("killed before index.latest", &["nightly-1", "nightly-2"]);
    // Killed right after index.latest, before the removals: already the new one, still whole.
    let killed = sync(
        &[&local, "s3://killed/ks"],
        &[(
            "LOGBACKUP_SYNC_FAULT",
            &format!("abort-after:{}", to_send()),
        )],
    );
    assert_ne!(killed.code, 0);
    check("killed before the removals", &["nightly-2", "nightly-3"]);
    // The next run finishes the job: the orphaned files of nightly-1 go.
    let done = sync(&[&local, "s3://killed/ks"], &[]);
    done.ok();
    assert!(count(&done, "files_removed") > 0, "{}", done.stdout);
    check("finished", &["nightly-2", "nightly-3"]);
}

#[test]
fn refusals_write_nothing() {
    let endpoint = moto::shared();
    let src = source_with(&["nightly-1"]);
    let local = src.location.to_string_lossy().to_string();

    // A missing bucket.
    sync(&[&local, "s3://no-such-bucket/ks"], &[])
        .code(1)
        .stderr_has("bucket no-such-bucket does not exist");

    // A destination holding something else.
    let other = tempfile::tempdir().unwrap();
    std::fs::write(other.path().join("notes.txt"), "mine").unwrap();
    let before = tree(other.path());
    sync(&[&local, &other.path().to_string_lossy()], &[])
        .code(3)
        .stderr_has("not part of a snapshot repository (notes.txt)")
        .stderr_has("nothing was written");
    assert_eq!(tree(other.path()), before);

    // A source without index.latest.
    let empty = tempfile::tempdir().unwrap();
    moto::create_bucket(endpoint, "refusals");
    sync(&[&empty.path().to_string_lossy(), "s3://refusals/ks"], &[])
        .code(3)
        .stderr_has("holds no index.latest");
    sync(&["s3://refusals/nothing-here", &local], &[])
        .code(3)
        .stderr_has("holds no index.latest");
    assert!(moto::keys(endpoint, "refusals", "").is_empty());

    // Denied credentials: a moto that checks them (no IAM user has this key).
    let strict = moto::spawn(&[("INITIAL_NO_AUTH_ACTION_COUNT", "0")]);
    let run = Runner::new(env!("CARGO_BIN_EXE_kubectl-logbackup"))
        .env("AWS_ACCESS_KEY_ID", "AKIANOTAUSER")
        .env("AWS_SECRET_ACCESS_KEY", "wrong")
        .env("AWS_REGION", "us-east-1")
        .run(&[
            "repo",
            "sync",
            &local,
            "s3://refusals/ks",
            "--endpoint",
            &strict.endpoint,
        ]);
    run.code(1).stderr_has("access denied");
    assert!(moto::keys(endpoint, "refusals", "").is_empty());
}

#[test]
fn a_profile_supplies_the_credentials() {
    let endpoint = moto::shared();
    moto::create_bucket(endpoint, "profiled");
    let src = source_with(&["nightly-1"]);
    let dir = tempfile::tempdir().unwrap();
    let creds = dir.path().join("credentials");
    std::fs::write(
        &creds,
        "[offsite]\naws_access_key_id = testing\naws_secret_access_key = testing\n",
    )
    .unwrap();
    let location = src.location.to_string_lossy().into_owned();
    let plugin = Runner::new(env!("CARGO_BIN_EXE_kubectl-logbackup"))
        .leading([
            "repo",
            "sync",
            &location,
            "s3://profiled/ks",
            "--endpoint",
            endpoint,
        ])
        .env_remove("AWS_ACCESS_KEY_ID")
        .env("AWS_SHARED_CREDENTIALS_FILE", &creds);
    plugin
        .clone()
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .run(&["--profile", "offsite", "--region", "us-east-1"])
        .ok();
    assert!(moto::keys(endpoint, "profiled", "ks/").contains(&"ks/index.latest".to_string()));
    plugin
        .run(&["--profile", "nobody"])
        .code(1)
        .stderr_has("profile \"nobody\"");
}
