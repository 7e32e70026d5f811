//! A node's directories as the kubelet and the injection lay them out, in a temporary directory:
//! `files/<ns>/<workload>/<pod>_<uid>/<container>/opt_logs/` (the hostPath root),
//! `kubelet/pods/<uid>/` (present while the kubelet holds the pod), `pods/<ns>_<pod>_<uid>/<container>/`
//! (the kubelet's container logs), and the archive.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

pub const POD: &str = "web-7f9c-x2";
pub const UID: &str = "26e825a2-8f5e-4b5b-aed1-758139fc019c";

pub struct Node {
    dir: tempfile::TempDir,
}

/// A number in `[lo, hi)` from the clock: kills at moments the test does not choose.
pub fn jitter(lo: u64, hi: u64) -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as u64;
    lo + nanos % (hi - lo)
}

impl Node {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn pod_dir(&self) -> PathBuf {
        self.path(&format!("files/shop/web/{POD}_{UID}"))
    }

    pub fn log_dir(&self) -> PathBuf {
        self.pod_dir().join("app/opt_logs")
    }

    /// The kubelet admits the pod and makes its subPath directories.
    pub fn pod_starts(&self) {
        std::fs::create_dir_all(self.path(&format!("kubelet/pods/{UID}/volumes"))).unwrap();
        std::fs::create_dir_all(self.log_dir()).unwrap();
        std::fs::create_dir_all(self.path(&format!("pods/shop_{POD}_{UID}/app"))).unwrap();
    }

    /// The pod's containers have stopped and the kubelet removed its directory.
    pub fn pod_torn_down(&self) {
        std::fs::remove_dir_all(self.path(&format!("kubelet/pods/{UID}"))).unwrap();
    }

    pub fn plugin(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_kubectl-logbackup"))
            .args(args)
            .arg("--archive")
            .arg(self.path("archive"))
            .output()
            .unwrap()
    }

    fn collect_args(&self, interval: &str) -> Vec<String> {
        let p = |r: &str| self.path(r).display().to_string();
        vec![
            "files".into(),
            "collect".into(),
            "--node".into(),
            "node-1".into(),
            "--archive".into(),
            p("archive"),
            "--root".into(),
            p("files"),
            "--kubelet-root".into(),
            p("kubelet"),
            "--pod-logs".into(),
            p("pods"),
            "--interval".into(),
            interval.into(),
        ]
    }

    pub fn collector(&self, interval: &str) -> Child {
        Command::new(env!("CARGO_BIN_EXE_kubectl-logbackup"))
            .args(self.collect_args(interval))
            .stdout(Stdio::null())
            .spawn()
            .unwrap()
    }

    /// One pass of the collector, to its end.
    pub fn pass(&self) -> Output {
        let out = Command::new(env!("CARGO_BIN_EXE_kubectl-logbackup"))
            .args(self.collect_args("1s"))
            .arg("--once")
            .output()
            .unwrap();
        if !out.status.success() {
            eprintln!("{}", String::from_utf8_lossy(&out.stderr));
        }
        out
    }

    pub fn writer(&self, start: u64, count: i64, rotate: u64) -> Child {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/files/writer.py");
        Command::new("python3")
            .arg(script)
            .arg(self.log_dir())
            .args([start.to_string(), count.to_string(), rotate.to_string()])
            .spawn()
            .unwrap()
    }

    /// Appends numbered lines to app.log and waits for the writer to finish.
    pub fn append_lines(&self, start: u64, count: u64) {
        let status = self.writer(start, count as i64, 1_000_000).wait().unwrap();
        assert!(status.success());
    }

    pub fn truncate(&self) {
        std::fs::OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(self.log_dir().join("app.log"))
            .unwrap();
    }

    /// The highest line number in the source files.
    pub fn last_written(&self) -> u64 {
        let mut last = 0;
        for entry in std::fs::read_dir(self.log_dir()).unwrap() {
            let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
            for line in text.lines() {
                if let Some((n, _)) = line.split_once(' ') {
                    last = last.max(n.parse().unwrap());
                }
            }
        }
        last
    }

    pub fn rotated_files(&self) -> usize {
        std::fs::read_dir(self.log_dir()).unwrap().count() - 1
    }

    pub fn list_json(&self) -> Vec<serde_json::Value> {
        let out = self.plugin(&["files", "list", "-o", "json"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// The archived files' names under their container (`files list`'s `name.file`).
    pub fn archived_names(&self) -> Vec<String> {
        self.list_json()
            .iter()
            .map(|f| f["name"]["file"].as_str().unwrap().to_owned())
            .collect()
    }

    pub fn checkpoint(&self) -> String {
        std::fs::read_to_string(self.path("archive/.collectors/node-1/checkpoint.json")).unwrap()
    }

    /// Moves the collector's last report `seconds` into the past.
    pub fn age_report(&self, seconds: i64) {
        let path = self.path("archive/.collectors/node-1/report.json");
        let mut report: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let then = jiff::Timestamp::now() - jiff::SignedDuration::from_secs(seconds);
        report["finished_at"] = then.to_string().into();
        std::fs::write(&path, serde_json::to_vec(&report).unwrap()).unwrap();
    }

    pub fn container_log(&self, name: &str, text: &str) {
        std::fs::write(
            self.path(&format!("pods/shop_{POD}_{UID}/app/{name}")),
            text,
        )
        .unwrap();
    }

    /// The injection's marker: this container's stdout is kept.
    pub fn mark_stdout(&self) {
        std::fs::create_dir_all(self.pod_dir().join("app/.stdout")).unwrap();
    }

    /// A pod pointing a log file at something that is not its own.
    pub fn symlink_to_secret(&self) {
        let secret = self.path("secret");
        std::fs::write(&secret, "not yours\n").unwrap();
        std::os::unix::fs::symlink(&secret, self.log_dir().join("secret.log")).unwrap();
    }
}

impl Node {
    /// The collector pointed at a kubelet root that is not there (a wrong flag or mount).
    pub fn kubelet_root_missing(&self) {
        std::fs::remove_dir_all(self.path("kubelet")).unwrap();
    }
}
