//! `etcd verify`: the restore drill. The snapshot's hash first; then a restore into a scratch data
//! directory, a throwaway etcd on loopback ports started from it, and its revision and key counts
//! compared with the record. Everything it made is removed on every way out: success, failure, an
//! error, or the future dropped (Ctrl-C).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use jiff::Timestamp;
use logbackup_core::etcd::keys::compare;
use logbackup_core::etcd::record::{
    SnapshotRecord, Verification, SNAPSHOT_FILE, VERIFICATION_FILE,
};

use super::client::{Connection, EtcdClient};
use super::repo::{io, write_json, Repo, RepoError};
use super::save::Hashes;

#[derive(Debug, thiserror::Error)]
pub enum DrillError {
    #[error(transparent)]
    Repo(#[from] RepoError),
    #[error("cannot run {program}: {why}. The restore drill needs etcd's own binaries: `etcd`, and `etcdutl` (etcd 3.5+) or `etcdctl` (3.4); pass --etcd / --etcdutl")]
    Tool { program: String, why: String },
}

#[derive(Debug, Clone)]
pub struct DrillOptions {
    pub etcd: PathBuf,
    /// `etcdutl`, or `etcdctl` for etcd 3.4 (which restores with `ETCDCTL_API=3`).
    pub restore_tool: PathBuf,
    /// Where the scratch directory is made.
    pub scratch_parent: PathBuf,
    pub start_timeout: Duration,
}

/// The first of `etcdutl`, `etcdctl` on PATH.
pub fn default_restore_tool() -> PathBuf {
    let on_path = |name: &str| {
        std::env::var_os("PATH").and_then(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join(name))
                .find(|f| f.is_file())
        })
    };
    on_path("etcdutl")
        .or_else(|| on_path("etcdctl"))
        .unwrap_or_else(|| PathBuf::from("etcdutl"))
}

/// The scratch directory and the throwaway etcd: killed and removed when dropped.
struct Scratch {
    dir: PathBuf,
    etcd: Option<Child>,
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Some(mut child) = self.etcd.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::fs::remove_dir_all(&self.dir).is_err() {
            // A restore killed mid-write may still be closing files; once more after it has.
            std::thread::sleep(Duration::from_millis(200));
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// Decompresses `gz` into `plain` and hashes the plain snapshot as it is written.
fn gunzip(gz: &Path, plain: &Path) -> Result<(String, bool, u64), RepoError> {
    use std::io::{Read, Write};
    let input = std::fs::File::open(gz).map_err(io("open", gz))?;
    let mut decoder = flate2::read::GzDecoder::new(std::io::BufReader::new(input));
    let mut out = super::save::create_private(plain)?;
    let mut hashes = Hashes::default();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = decoder.read(&mut buf).map_err(io("decompress", gz))?;
        if n == 0 {
            break;
        }
        hashes.update(&buf[..n]);
        out.write_all(&buf[..n]).map_err(io("write", plain))?;
    }
    let size = hashes.size;
    let (sha, trailer_ok) = hashes.finish();
    Ok((sha, trailer_ok, size))
}

fn free_port() -> Result<u16, RepoError> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(io("find a free loopback port for", Path::new("the drill")))
}

fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().rev().take(5).collect();
    lines.into_iter().rev().collect::<Vec<_>>().join(" | ")
}

/// Runs the drill on `record`'s snapshot and returns the verdict (also written beside it).
/// `say` hears each stage.
pub async fn verify(
    repo: &Repo,
    record: &SnapshotRecord,
    options: &DrillOptions,
    now: impl Fn() -> Timestamp,
    mut say: impl FnMut(&str),
) -> Result<Verification, DrillError> {
    let dir = repo.dir(&record.name);
    let mut verdict = Verification {
        snapshot: record.name.clone(),
        verified_at: now(),
        passed: false,
        hash_ok: false,
        comparison: None,
        etcd_version: None,
        failure: None,
    };

    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let scratch_dir = options.scratch_parent.join(format!(
        "logbackup-etcd-drill-{}-{stamp}",
        std::process::id()
    ));
    std::fs::create_dir_all(&scratch_dir).map_err(io("create", &scratch_dir))?;
    let mut scratch = Scratch {
        dir: scratch_dir.clone(),
        etcd: None,
    };

    say("checking the snapshot's SHA-256");
    let stored = dir.join(record.stored_file());
    let hashed = if record.compressed {
        let plain = scratch_dir.join(SNAPSHOT_FILE);
        gunzip(&stored, &plain).map(|h| (plain, h))
    } else {
        Hashes::of_file(&stored).map(|h| (stored.clone(), h))
    };
    match hashed {
        Err(e) => {
            verdict.failure = Some(format!(
                "cannot read the snapshot ({e}): the file changed or was cut after it was saved, whose SHA-256 the record says is {}",
                record.sha256
            ));
        }
        Ok((_, (sha, _, size))) if sha != record.sha256 => {
            verdict.failure = Some(format!(
                "the snapshot's SHA-256 is {sha} ({size} bytes), the record says {} ({} bytes): the file changed or was cut after it was saved",
                record.sha256, record.size
            ));
        }
        Ok((_, (sha, false, _))) => {
            verdict.failure = Some(format!(
                "the snapshot's SHA-256 {sha} matches its record, but etcd's own checksum in its last 32 bytes does not match the database"
            ));
        }
        Ok((snapshot, _)) => {
            verdict.hash_ok = true;
            drill(
                record,
                &snapshot,
                options,
                &mut verdict,
                &mut say,
                &mut scratch,
            )
            .await?;
        }
    }
    drop(scratch);
    verdict.passed = verdict.failure.is_none();
    verdict.verified_at = now();
    write_json(&dir.join(VERIFICATION_FILE), &verdict)?;
    Ok(verdict)
}

async fn drill(
    record: &SnapshotRecord,
    snapshot: &Path,
    options: &DrillOptions,
    verdict: &mut Verification,
    say: &mut impl FnMut(&str),
    scratch: &mut Scratch,
) -> Result<(), DrillError> {
    let scratch_dir = scratch.dir.clone();
    let data = scratch_dir.join("data");
    let (client_port, peer_port) = (free_port()?, free_port()?);
    let peer = format!("http://127.0.0.1:{peer_port}");
    let client = format!("http://127.0.0.1:{client_port}");
    let cluster = format!("drill={peer}");

    say("restoring into a scratch data directory");
    let restore = tokio::process::Command::new(&options.restore_tool)
        .env("ETCDCTL_API", "3")
        .args(["snapshot", "restore"])
        .arg(snapshot)
        .arg("--data-dir")
        .arg(&data)
        .args(["--name", "drill", "--initial-cluster", &cluster])
        .args(["--initial-advertise-peer-urls", &peer])
        .args(["--initial-cluster-token", "logbackup-drill"])
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| DrillError::Tool {
            program: options.restore_tool.display().to_string(),
            why: e.to_string(),
        })?;
    if !restore.status.success() {
        let stderr = String::from_utf8_lossy(&restore.stderr);
        let last = stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("")
            .trim();
        verdict.failure = Some(format!(
            "`{} snapshot restore` failed: {last}",
            options.restore_tool.display()
        ));
        return Ok(());
    }

    say("starting a throwaway etcd on loopback");
    let log_path = scratch_dir.join("etcd.log");
    let log = std::fs::File::create(&log_path).map_err(io("create", &log_path))?;
    let log_err = log.try_clone().map_err(io("create", &log_path))?;
    let child = Command::new(&options.etcd)
        .args(["--name", "drill"])
        .arg("--data-dir")
        .arg(&data)
        .args([
            "--listen-client-urls",
            &client,
            "--advertise-client-urls",
            &client,
        ])
        .args([
            "--listen-peer-urls",
            &peer,
            "--initial-advertise-peer-urls",
            &peer,
        ])
        .args(["--initial-cluster", &cluster])
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err)
        .spawn()
        .map_err(|e| DrillError::Tool {
            program: options.etcd.display().to_string(),
            why: e.to_string(),
        })?;
    scratch.etcd = Some(child);
    let drill_client = EtcdClient::new(&Connection {
        endpoint: client.clone(),
        timeout: Some(Duration::from_secs(60)),
        ..Default::default()
    })
    .map_err(|e| DrillError::Tool {
        program: "the drill's etcd client".into(),
        why: e.to_string(),
    })?;
    let deadline = std::time::Instant::now() + options.start_timeout;
    let status = loop {
        match drill_client.status().await {
            Ok(s) => break s,
            Err(e) => {
                let exited = scratch
                    .etcd
                    .as_mut()
                    .and_then(|c| c.try_wait().ok().flatten());
                if exited.is_some() || std::time::Instant::now() > deadline {
                    verdict.failure = Some(format!(
                        "the restored etcd did not start ({e}); its log ends: {}",
                        tail(&log_path)
                    ));
                    return Ok(());
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    verdict.etcd_version = Some(status.version.clone());

    say("counting keys by prefix in the restored copy");
    let (restored, revision) = match drill_client.count_by_prefix(0).await {
        Ok(r) => r,
        Err(e) => {
            verdict.failure = Some(format!("cannot read the restored copy: {e}"));
            return Ok(());
        }
    };
    let comparison = compare(record.revision, &record.keys, revision, &restored);
    if !comparison.matches() {
        verdict.failure = Some(format!(
            "the restored copy differs from the record: {}",
            comparison.describe()
        ));
    }
    verdict.comparison = Some(comparison);
    Ok(())
}
