//! The collector: one pass over a node's log files, copying what is new into the archive.
//!
//! Every root is an argument, so the same code reads a real node (`/var/lib/logbackup/files`,
//! `/var/lib/kubelet`, `/var/log/pods`) or a test's directories laid out the same way.
//!
//! Order of writes, which is what makes a kill at any moment lose and repeat nothing:
//! 1. a new copy is named in the checkpoint (written atomically) before its file is created;
//! 2. bytes are appended to the copy, which then is fsynced; where the next pass resumes is the
//!    copy's length, so an append cut short is simply continued;
//! 3. a copy is marked closed in the checkpoint before it is compressed; compression writes
//!    `.gz` atomically, then removes the plain copy, and is redone after a kill;
//! 4. a finished pod's directory is removed from the node only after its final pass has copied
//!    and closed everything in it, and only when the kubelet no longer holds the pod: its
//!    containers have stopped and can write nothing more.

use std::collections::HashSet;
use std::fs::{self, File};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use logbackup_core::files::checkpoint::Origin;
use logbackup_core::files::layout::{PodLogDir, COLLECTORS_DIR, STDOUT_DIR, STDOUT_MARKER};
use logbackup_core::files::report::{HeldPod, PodState, Report};
use logbackup_core::files::tail::{self, Known, Observed, Step};
use logbackup_core::files::{Checkpoint, PodDir};

use super::disk;
use super::FilesError;

/// Where the collector reads and writes.
#[derive(Debug, Clone)]
pub struct Roots {
    /// The hostPath the injected pods write their log directories into.
    pub files: PathBuf,
    /// The kubelet's root (`/var/lib/kubelet`): `pods/<uid>` exists while the kubelet holds a pod.
    pub kubelet: PathBuf,
    /// The kubelet's container logs (`/var/log/pods`), read when stdout is kept.
    pub pod_logs: Option<PathBuf>,
    /// The archive (the repository volume's prefix).
    pub archive: PathBuf,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub node: String,
    pub interval_ms: u64,
    /// A rotated file unchanged this long is closed (compressed).
    pub idle_close_seconds: i64,
    /// File names ending so are not copied: compressed archives the application makes of files
    /// whose lines were already copied from the live file.
    pub skip_suffixes: Vec<String>,
}

pub struct Collector {
    roots: Roots,
    settings: Settings,
    checkpoint: Checkpoint,
    /// The checkpoint as last written: a pass that changed nothing writes (and fsyncs) nothing.
    saved: Vec<u8>,
}

/// What one pass did.
#[derive(Debug, Default)]
pub struct Pass {
    pub bytes_copied: u64,
    pub pods: Vec<HeldPod>,
    pub pods_removed: Vec<String>,
    pub errors: Vec<String>,
}

impl Collector {
    /// Opens the collector's state in the archive (`.collectors/<node>/checkpoint.json`) and
    /// finishes what a kill interrupted: closed copies not yet compressed are compressed.
    pub fn open(roots: Roots, settings: Settings) -> Result<Self, FilesError> {
        let path = checkpoint_path(&roots.archive, &settings.node);
        let checkpoint = match fs::read(&path) {
            Ok(bytes) => Checkpoint::from_json(&bytes)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Checkpoint::default(),
            Err(e) => return Err(FilesError::io("read the checkpoint", &path)(e)),
        };
        let collector = Self {
            roots,
            settings,
            saved: checkpoint.to_json(),
            checkpoint,
        };
        collector.compress_closed()?;
        Ok(collector)
    }

    pub fn checkpoint(&self) -> &Checkpoint {
        &self.checkpoint
    }

    fn save(&mut self) -> Result<(), FilesError> {
        let bytes = self.checkpoint.to_json();
        if bytes == self.saved {
            return Ok(());
        }
        let path = checkpoint_path(&self.roots.archive, &self.settings.node);
        disk::write_atomic(&path, &bytes)?;
        self.saved = bytes;
        Ok(())
    }

    fn compress_closed(&self) -> Result<(), FilesError> {
        for t in self.checkpoint.files.iter().filter(|t| t.end.is_some()) {
            disk::compress(
                &self.roots.archive.join(&t.archive),
                &self.roots.archive.join(t.closed_archive()),
            )?;
        }
        Ok(())
    }

    /// One pass. `now` is seconds since the epoch (rotated files idle since are closed).
    pub fn pass(&mut self, now: i64) -> Pass {
        let mut pass = Pass::default();
        let pods = match self.pod_dirs() {
            Ok(pods) => pods,
            Err(e) => {
                pass.errors.push(e.to_string());
                return pass;
            }
        };
        let present: HashSet<String> = pods.iter().map(|p| p.uid.clone()).collect();
        // Without the kubelet's pods directory no pod can be known to be finished: a wrong
        // --kubelet-root must not make every running pod's files look abandoned.
        let kubelet_pods = self.roots.kubelet.join("pods");
        let kubelet_known = kubelet_pods.is_dir();
        if !kubelet_known {
            pass.errors.push(format!(
                "the kubelet's pods directory {} is missing; no pod is treated as finished and no pod's files are removed (check --kubelet-root and the collector's mounts)",
                kubelet_pods.display()
            ));
        }
        for pod in &pods {
            let finished = match kubelet_known {
                false => false,
                true => match kubelet_let_go(&kubelet_pods, &pod.uid) {
                    Ok(finished) => finished,
                    Err(e) => {
                        pass.errors
                            .push(format!("{}/{}: {e}", pod.namespace, pod.pod));
                        false
                    }
                },
            };
            let id = format!("{}/{}", pod.namespace, pod.pod);
            let result = self.pod_pass(pod, finished, now, &mut pass).and_then(|()| {
                if finished {
                    self.remove_pod(pod)
                } else {
                    Ok(())
                }
            });
            match result {
                Ok(()) if finished => {
                    pass.pods_removed.push(id);
                    continue;
                }
                Ok(()) => {}
                Err(e) => pass.errors.push(format!("{id}: {e}")),
            }
            pass.pods.push(HeldPod {
                namespace: pod.namespace.clone(),
                workload: pod.workload.clone(),
                pod: pod.pod.clone(),
                uid: pod.uid.clone(),
                state: if finished {
                    PodState::Finishing
                } else {
                    PodState::Running
                },
            });
        }
        if let Some(root) = self.roots.pod_logs.clone() {
            if let Err(e) = self.stdout_pass(&root, &pods, now, &mut pass) {
                pass.errors.push(e.to_string());
            }
        }
        // Copies of pods whose directory is gone (removed by an earlier pass that was killed
        // before it could forget them) are closed and forgotten.
        let orphans: Vec<usize> = (0..self.checkpoint.files.len())
            .filter(|&i| {
                let t = &self.checkpoint.files[i];
                t.origin == Origin::Files && !present.contains(&t.pod.uid) && t.end.is_none()
            })
            .collect();
        if let Err(e) = self.close_all(&orphans) {
            pass.errors.push(e.to_string());
        }
        self.checkpoint
            .forget(|t| t.origin == Origin::Files && !present.contains(&t.pod.uid));
        if let Err(e) = self.save() {
            pass.errors.push(e.to_string());
        }
        pass
    }

    fn pod_dirs(&self) -> Result<Vec<PodDir>, FilesError> {
        let mut pods = Vec::new();
        for ns in subdirs(&self.roots.files)? {
            for workload in subdirs(&self.roots.files.join(&ns))? {
                for pod in subdirs(&self.roots.files.join(&ns).join(&workload))? {
                    if let Some(dir) = PodDir::parse(&ns, &workload, &pod) {
                        pods.push(dir);
                    }
                }
            }
        }
        pods.sort();
        Ok(pods)
    }

    /// Copies what is new in one pod's files; on its final pass, closes every copy.
    fn pod_pass(
        &mut self,
        pod: &PodDir,
        finished: bool,
        now: i64,
        pass: &mut Pass,
    ) -> Result<(), FilesError> {
        let dir = self.roots.files.join(pod.host_path());
        let mut seen: Vec<(usize, Observed)> = Vec::new();
        for container in subdirs(&dir)? {
            let mut files = Vec::new();
            walk(&dir.join(&container), "", &mut files)?;
            for name in files {
                if self.skipped(&name) {
                    continue;
                }
                let path = dir.join(&container).join(&name);
                if let Some(s) =
                    self.file_pass(pod, &container, Origin::Files, &path, &name, pass)?
                {
                    seen.push(s);
                }
            }
        }
        self.close_finished(pod, Origin::Files, &seen, finished, now)
    }

    fn skipped(&self, name: &str) -> bool {
        self.settings
            .skip_suffixes
            .iter()
            .any(|s| name.ends_with(s.as_str()))
    }

    /// One source file: open it (not following links), see what it is, copy what is new.
    /// Returns the copy's index and what was seen, `None` when the file is gone or not regular.
    fn file_pass(
        &mut self,
        pod: &PodDir,
        container: &str,
        origin: Origin,
        path: &Path,
        name: &str,
        pass: &mut Pass,
    ) -> Result<Option<(usize, Observed)>, FilesError> {
        let file = match disk::open_source(path) {
            Ok(f) => f,
            // Rotated away or deleted since the listing, or a symbolic link: not ours to read.
            Err(e)
                if e.kind() == std::io::ErrorKind::NotFound
                    || e.raw_os_error() == Some(libc::ELOOP) =>
            {
                return Ok(None)
            }
            Err(e) => return Err(FilesError::io("open", path)(e)),
        };
        let meta = file.metadata().map_err(FilesError::io("stat", path))?;
        if !meta.is_file() {
            return Ok(None);
        }
        let observed = Observed {
            dev: meta.dev(),
            inode: meta.ino(),
            size: meta.len(),
            name: name.to_owned(),
            modified: meta.mtime(),
        };
        let index = self
            .checkpoint
            .find(&pod.uid, origin, observed.dev, observed.inode);
        let known = match index {
            None => Known::New,
            Some(i) => {
                let t = &self.checkpoint.files[i];
                let archived = match t.end {
                    Some(_) => 0,
                    None => disk::archived_len(&self.roots.archive.join(&t.archive))?,
                };
                t.known(archived)
            }
        };
        let matches = match (index, known) {
            (Some(i), Known::Open { base, archived }) => match tail::tail_window(base, archived) {
                Some((start, len)) if start + len <= observed.size => disk::tail_matches(
                    &file,
                    &self.roots.archive.join(&self.checkpoint.files[i].archive),
                    start,
                    len,
                )?,
                _ => true,
            },
            _ => true,
        };
        let (i, from) = match (tail::decide(known, observed.size, matches), index) {
            (Step::Idle, _) => return Ok(index.map(|i| (i, observed))),
            (Step::Append { from }, Some(i)) => (i, from),
            (Step::Append { .. }, None) => return Ok(None),
            (Step::Start { base }, _) => {
                (self.start(pod, container, origin, &observed, base)?, base)
            }
            (Step::Restart, _) => {
                // The copy so far is closed as it is; the file's new content is a new copy.
                if let Some(i) = index {
                    self.close_all(&[i])?;
                }
                (self.start(pod, container, origin, &observed, 0)?, 0)
            }
        };
        pass.bytes_copied += self.append(i, &file, from, observed.size)?;
        Ok(Some((i, observed)))
    }

    /// A new copy, named in the checkpoint (saved) before its file exists.
    fn start(
        &mut self,
        pod: &PodDir,
        container: &str,
        origin: Origin,
        observed: &Observed,
        base: u64,
    ) -> Result<usize, FilesError> {
        let archive = self.roots.archive.clone();
        let i = self.checkpoint.start(
            pod,
            container,
            origin,
            observed.dev,
            observed.inode,
            &observed.name,
            base,
            |p| archive.join(p).exists() || archive.join(format!("{p}.gz")).exists(),
        );
        self.save()?;
        Ok(i)
    }

    fn append(&self, i: usize, file: &File, from: u64, until: u64) -> Result<u64, FilesError> {
        let t = &self.checkpoint.files[i];
        disk::append(file, from, until, &self.roots.archive.join(&t.archive))
    }

    /// Closes the copies of `pod` whose file is gone, rotated and idle, or all of them when the
    /// pod is finished. Each is marked closed in the checkpoint first, then compressed.
    fn close_finished(
        &mut self,
        pod: &PodDir,
        origin: Origin,
        seen: &[(usize, Observed)],
        finished: bool,
        now: i64,
    ) -> Result<(), FilesError> {
        let closing: Vec<usize> = (0..self.checkpoint.files.len())
            .filter(|&i| {
                let t = &self.checkpoint.files[i];
                if t.pod.uid != pod.uid || t.origin != origin || t.end.is_some() {
                    return false;
                }
                let observed = seen.iter().find(|(j, _)| *j == i).map(|(_, o)| o);
                tail::should_close(
                    &t.first_name,
                    observed,
                    finished,
                    now,
                    self.settings.idle_close_seconds,
                )
            })
            .collect();
        self.close_all(&closing)?;
        // Closed copies of files that are gone are forgotten: their inodes may come back.
        let still: HashSet<(u64, u64)> = seen.iter().map(|(_, o)| (o.dev, o.inode)).collect();
        let uid = pod.uid.clone();
        self.checkpoint.forget(|t| {
            t.pod.uid == uid && t.origin == origin && !still.contains(&(t.dev, t.inode))
        });
        Ok(())
    }

    fn close_all(&mut self, indices: &[usize]) -> Result<(), FilesError> {
        if indices.is_empty() {
            return Ok(());
        }
        for &i in indices {
            let t = &self.checkpoint.files[i];
            let archived = disk::archived_len(&self.roots.archive.join(&t.archive))?;
            self.checkpoint.files[i].end = Some(t.base + archived);
        }
        self.save()?;
        for &i in indices {
            let t = &self.checkpoint.files[i];
            disk::compress(
                &self.roots.archive.join(&t.archive),
                &self.roots.archive.join(t.closed_archive()),
            )?;
        }
        Ok(())
    }

    /// Removes a finished pod's directory from the node, after its final pass.
    fn remove_pod(&mut self, pod: &PodDir) -> Result<(), FilesError> {
        let dir = self.roots.files.join(pod.host_path());
        fs::remove_dir_all(&dir).map_err(FilesError::io("remove the finished pod's", &dir))?;
        let uid = pod.uid.clone();
        self.checkpoint
            .forget(|t| t.origin == Origin::Files && t.pod.uid == uid);
        self.save()
    }

    /// The kubelet's container logs of the containers whose pod asked for them (the injection
    /// mounts a `.stdout` directory into their pod directory), kept while the kubelet keeps them.
    fn stdout_pass(
        &mut self,
        root: &Path,
        pods: &[PodDir],
        now: i64,
        pass: &mut Pass,
    ) -> Result<(), FilesError> {
        let mut live = HashSet::new();
        for name in subdirs(root)? {
            let Some(log_dir) = PodLogDir::parse(&name) else {
                continue;
            };
            let Some(pod) = pods.iter().find(|p| p.uid == log_dir.uid) else {
                continue;
            };
            live.insert(pod.uid.clone());
            let mut seen = Vec::new();
            let marked = self.roots.files.join(pod.host_path());
            for container in subdirs(&root.join(&name))? {
                // Kept only for the containers the injection marked.
                if !marked.join(&container).join(STDOUT_MARKER).is_dir() {
                    continue;
                }
                let mut files = Vec::new();
                walk(&root.join(&name).join(&container), "", &mut files)?;
                for file in files {
                    if self.skipped(&file) {
                        continue;
                    }
                    let path = root.join(&name).join(&container).join(&file);
                    let label = format!("{STDOUT_DIR}/{file}");
                    if let Some(s) =
                        self.file_pass(pod, &container, Origin::Stdout, &path, &label, pass)?
                    {
                        seen.push(s);
                    }
                }
            }
            let finished = self.roots.kubelet.join("pods").is_dir()
                && kubelet_let_go(&self.roots.kubelet.join("pods"), &pod.uid)?;
            self.close_finished(pod, Origin::Stdout, &seen, finished, now)?;
        }
        // Container logs the kubelet has deleted: their copies are closed.
        let gone: Vec<usize> = (0..self.checkpoint.files.len())
            .filter(|&i| {
                let t = &self.checkpoint.files[i];
                t.origin == Origin::Stdout && t.end.is_none() && !live.contains(&t.pod.uid)
            })
            .collect();
        self.close_all(&gone)?;
        self.checkpoint
            .forget(|t| t.origin == Origin::Stdout && !live.contains(&t.pod.uid));
        Ok(())
    }

    /// The report for the pass that just ended.
    pub fn report(&self, pass: &Pass, finished_at: jiff::Timestamp, lag_ms: u64) -> Report {
        Report {
            node: self.settings.node.clone(),
            finished_at: finished_at.to_string(),
            interval_ms: self.settings.interval_ms,
            lag_ms,
            bytes_copied: pass.bytes_copied,
            files_tracked: self.checkpoint.files.len(),
            pods: pass.pods.clone(),
            errors: pass.errors.clone(),
        }
    }

    pub fn write_report(&self, report: &Report) -> Result<(), FilesError> {
        let path = self
            .roots
            .archive
            .join(COLLECTORS_DIR)
            .join(&self.settings.node)
            .join("report.json");
        let bytes = serde_json::to_vec_pretty(report).unwrap_or_default();
        // Replaced whole, but not fsynced: a report lost to a crash is written again next pass.
        disk::write_replace(&path, &bytes)
    }

    /// Prepares the node's root: created if absent, mode 1777 so that pods running as any user
    /// can write the directories the kubelet makes in it (the kubelet gives a `subPath` it
    /// creates the mode of the volume's root), sticky so none removes another's files.
    pub fn prepare_root(&self) -> Result<(), FilesError> {
        use std::os::unix::fs::PermissionsExt;
        let root = &self.roots.files;
        fs::create_dir_all(root).map_err(FilesError::io("create", root))?;
        fs::set_permissions(root, fs::Permissions::from_mode(0o1777))
            .map_err(FilesError::io("set the mode of", root))
    }
}

/// Whether the kubelet has let a pod go: its `pods/<uid>` directory is gone, which the kubelet
/// removes only after the pod's containers have stopped and its volumes are unmounted. Only
/// "not found" counts; any other error is not taken as an answer.
fn kubelet_let_go(kubelet_pods: &Path, uid: &str) -> Result<bool, FilesError> {
    let dir = kubelet_pods.join(uid);
    match fs::symlink_metadata(&dir) {
        Ok(_) => Ok(false),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(true),
        Err(e) => Err(FilesError::io("look for the kubelet's pod directory", &dir)(e)),
    }
}

pub fn checkpoint_path(archive: &Path, node: &str) -> PathBuf {
    archive
        .join(COLLECTORS_DIR)
        .join(node)
        .join("checkpoint.json")
}

/// The names of the directories in `dir` (not following links); none when it does not exist.
fn subdirs(dir: &Path) -> Result<Vec<String>, FilesError> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(FilesError::io("list", dir)(e)),
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(FilesError::io("list", dir))?;
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        if let (true, Some(name)) = (is_dir, entry.file_name().to_str()) {
            names.push(name.to_owned());
        }
    }
    names.sort();
    Ok(names)
}

/// Regular files below `dir`, as paths relative to it (not following links).
fn walk(dir: &Path, prefix: &str, out: &mut Vec<String>) -> Result<(), FilesError> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(FilesError::io("list", dir)(e)),
    };
    for entry in entries {
        let entry = entry.map_err(FilesError::io("list", dir))?;
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        let rel = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}/{name}")
        };
        match entry.file_type() {
            // `.stdout` is the injection's marker, not a log directory.
            Ok(t) if t.is_dir() && name != STDOUT_MARKER => walk(&entry.path(), &rel, out)?,
            Ok(t) if t.is_file() => out.push(rel),
            _ => {}
        }
    }
    out.sort();
    Ok(())
}
