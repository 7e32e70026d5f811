//! Where log files are on a node and where their copies go.
//!
//! On the node, under the collector's root (a hostPath the injected pods mount):
//! `<root>/<namespace>/<workload>/<pod>_<uid>/<container>/<dir>/<file>`, where `<dir>` names the
//! directory inside the container (`/opt/logs` is `opt_logs`). The workload is known when the
//! webhook injects the pod template; the pod's name and uid come from the downward API
//! (`subPathExpr`). The kubelet's own container logs are under
//! `/var/log/pods/<namespace>_<pod>_<uid>/<container>/<restart>.log`.
//!
//! In the archive: `<namespace>/<workload>/<pod>/<container>/<dir>/<file>@<uid8>.<generation>`,
//! and `.gz` once the file is closed. `<uid8>` (the pod uid's first 8 characters) keeps two pods
//! of the same name (a StatefulSet's pod recreated, on this node or another) apart; the
//! generation keeps apart the files that once had the same name (`app.log` before and after a
//! rotation, or before and after a truncation).

use serde::Serialize;

/// The suffix of a closed (compressed) archived file.
pub const CLOSED_SUFFIX: &str = ".gz";
/// The `<dir>` under which a pod's stdout and stderr (the kubelet's container logs) are archived.
pub const STDOUT_DIR: &str = "stdout";
/// A directory the injection makes in a container's directory on the node when the pod asked
/// for its stdout and stderr to be kept.
pub const STDOUT_MARKER: &str = ".stdout";
/// The archive's directory of collector reports and checkpoints: `.collectors/<node>/`.
pub const COLLECTORS_DIR: &str = ".collectors";

/// A pod's directory under the collector's root: `<namespace>/<workload>/<pod>_<uid>`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize)]
pub struct PodDir {
    pub namespace: String,
    pub workload: String,
    pub pod: String,
    pub uid: String,
}

impl PodDir {
    /// Reads the three path components below the root; `None` for anything else (a stray file,
    /// a name without `_<uid>`).
    pub fn parse(namespace: &str, workload: &str, pod_and_uid: &str) -> Option<Self> {
        let (pod, uid) = pod_and_uid.rsplit_once('_')?;
        if [namespace, workload, pod, uid].iter().any(|s| !is_name(s)) {
            return None;
        }
        Some(Self {
            namespace: namespace.to_owned(),
            workload: workload.to_owned(),
            pod: pod.to_owned(),
            uid: uid.to_owned(),
        })
    }

    /// The directory relative to the root.
    pub fn host_path(&self) -> String {
        format!(
            "{}/{}/{}_{}",
            self.namespace, self.workload, self.pod, self.uid
        )
    }

    /// The pod's directory in the archive.
    pub fn archive_dir(&self) -> String {
        format!("{}/{}/{}", self.namespace, self.workload, self.pod)
    }

    /// The pod's `/var/log/pods` directory name.
    pub fn pod_log_dir(&self) -> String {
        format!("{}_{}_{}", self.namespace, self.pod, self.uid)
    }

    pub fn uid8(&self) -> &str {
        self.uid.get(..8).unwrap_or(&self.uid)
    }
}

/// `<namespace>_<pod>_<uid>` under `/var/log/pods`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodLogDir {
    pub namespace: String,
    pub pod: String,
    pub uid: String,
}

impl PodLogDir {
    /// Namespaces and pod names have no `_` (DNS-1123), so the split is unambiguous.
    pub fn parse(name: &str) -> Option<Self> {
        let mut parts = name.splitn(3, '_');
        let (namespace, pod, uid) = (parts.next()?, parts.next()?, parts.next()?);
        if [namespace, pod, uid].iter().any(|s| !is_name(s)) {
            return None;
        }
        Some(Self {
            namespace: namespace.to_owned(),
            pod: pod.to_owned(),
            uid: uid.to_owned(),
        })
    }
}

/// A directory inside a container as one path component: `/opt/logs` is `opt_logs`.
pub fn dir_component(mount_path: &str) -> String {
    let trimmed = mount_path.trim_matches('/');
    if trimmed.is_empty() {
        return "root".to_owned();
    }
    trimmed.replace('/', "_")
}

/// An archived file's name, parsed: `<relative>@<uid8>.<generation>[.gz]`. `@`, not `~`, which
/// object stores' path rules (and so `files push`) would escape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ArchiveName {
    /// The file's path below its container directory when first seen (`opt_logs/app.log`).
    pub file: String,
    pub uid8: String,
    pub generation: u64,
    pub closed: bool,
}

impl ArchiveName {
    pub fn new(file: &str, uid8: &str, generation: u64) -> Self {
        Self {
            file: file.to_owned(),
            uid8: uid8.to_owned(),
            generation,
            closed: false,
        }
    }

    /// The name as written (open: without `.gz`).
    pub fn render(&self) -> String {
        let open = format!("{}@{}.{}", self.file, self.uid8, self.generation);
        if self.closed {
            open + CLOSED_SUFFIX
        } else {
            open
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        let (open, closed) = match name.strip_suffix(CLOSED_SUFFIX) {
            Some(open) => (open, true),
            None => (name, false),
        };
        let (file, tag) = open.rsplit_once('@')?;
        let (uid8, generation) = tag.split_once('.')?;
        if file.is_empty() || uid8.is_empty() {
            return None;
        }
        Some(Self {
            file: file.to_owned(),
            uid8: uid8.to_owned(),
            generation: generation.parse().ok()?,
            closed,
        })
    }
}

/// Where a source file's copy goes, relative to the archive root.
pub fn archive_path(pod: &PodDir, container: &str, name: &ArchiveName) -> String {
    format!("{}/{container}/{}", pod.archive_dir(), name.render())
}

/// An archived file's place, parsed from its path relative to the archive root.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ArchivedFile {
    pub namespace: String,
    pub workload: String,
    pub pod: String,
    pub container: String,
    pub name: ArchiveName,
}

impl ArchivedFile {
    /// `None` for paths that are not archived files (the collectors' own directory, temporaries).
    pub fn parse(path: &str) -> Option<Self> {
        if path.starts_with(COLLECTORS_DIR) {
            return None;
        }
        let mut parts = path.splitn(5, '/');
        let namespace = parts.next()?;
        let workload = parts.next()?;
        let pod = parts.next()?;
        let container = parts.next()?;
        let rest = parts.next()?;
        if rest.ends_with(".tmp") {
            return None;
        }
        Some(Self {
            namespace: namespace.to_owned(),
            workload: workload.to_owned(),
            pod: pod.to_owned(),
            container: container.to_owned(),
            name: ArchiveName::parse(rest)?,
        })
    }
}

/// A DNS-1123-ish path component: what Kubernetes names and uids are made of. Refusing anything
/// else keeps `..`, `/` and empty names out of paths built from directory names.
fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s != "."
        && s != ".."
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

/// The `subPathExpr` the webhook gives a log directory's mount: the pod's own directory under
/// the root, made by the kubelet from the downward-API variables `env` names.
pub fn sub_path_expr(workload: &str, container: &str, dir: &str) -> String {
    use crate::inject::keys::{FILES_NAMESPACE_ENV, FILES_POD_ENV, FILES_UID_ENV};
    format!(
        "$({FILES_NAMESPACE_ENV})/{workload}/$({FILES_POD_ENV})_$({FILES_UID_ENV})/{container}/{}",
        dir_component(dir)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pod_directory_round_trips() {
        let pod = PodDir::parse("shop", "web", "web-7f9c-x2_26e825a2-8f5e-4b5b").unwrap();
        assert_eq!(pod.pod, "web-7f9c-x2");
        assert_eq!(pod.uid, "26e825a2-8f5e-4b5b");
        assert_eq!(pod.host_path(), "shop/web/web-7f9c-x2_26e825a2-8f5e-4b5b");
        assert_eq!(pod.archive_dir(), "shop/web/web-7f9c-x2");
        assert_eq!(pod.uid8(), "26e825a2");
        assert_eq!(pod.pod_log_dir(), "shop_web-7f9c-x2_26e825a2-8f5e-4b5b");
    }

    #[test]
    fn odd_directories_are_not_pods() {
        assert!(PodDir::parse("shop", "web", "no-uid").is_none());
        assert!(PodDir::parse("..", "web", "a_b").is_none());
        assert!(PodDir::parse("shop", "web", "_uid").is_none());
        assert!(PodDir::parse("shop", "w/x", "a_b").is_none());
    }

    #[test]
    fn kubelet_pod_log_directories_parse() {
        let d = PodLogDir::parse("xinyou-application_xinyou-service-message-7745fd9699-drkzg_26e825a2-8f5e-4b5b-aed1-758139fc019c").unwrap();
        assert_eq!(d.namespace, "xinyou-application");
        assert_eq!(d.pod, "xinyou-service-message-7745fd9699-drkzg");
        assert_eq!(d.uid, "26e825a2-8f5e-4b5b-aed1-758139fc019c");
        assert!(PodLogDir::parse("just-one").is_none());
    }

    #[test]
    fn archive_names_round_trip_open_and_closed() {
        let mut name = ArchiveName::new("opt_logs/app.log", "26e825a2", 3);
        assert_eq!(name.render(), "opt_logs/app.log@26e825a2.3");
        assert_eq!(ArchiveName::parse(&name.render()), Some(name.clone()));
        name.closed = true;
        assert_eq!(name.render(), "opt_logs/app.log@26e825a2.3.gz");
        assert_eq!(ArchiveName::parse(&name.render()), Some(name));
        // A file whose own name has an at sign keeps it.
        let odd = ArchiveName::parse("a@b.log@abcd.1").unwrap();
        assert_eq!(odd.file, "a@b.log");
        assert!(ArchiveName::parse("app.log").is_none());
        assert!(ArchiveName::parse("app.log@x.notanumber").is_none());
    }

    #[test]
    fn archived_paths_parse_and_skip_our_own_files() {
        let f = ArchivedFile::parse("shop/web/web-1/app/opt_logs/app.log@26e825a2.1.gz").unwrap();
        assert_eq!(
            (
                f.namespace.as_str(),
                f.workload.as_str(),
                f.pod.as_str(),
                f.container.as_str()
            ),
            ("shop", "web", "web-1", "app")
        );
        assert!(f.name.closed);
        assert!(ArchivedFile::parse(".collectors/node-1/checkpoint.json").is_none());
        assert!(ArchivedFile::parse("shop/web/web-1/app/opt_logs/app.log@2.1.gz.tmp").is_none());
    }

    #[test]
    fn directories_become_one_component() {
        assert_eq!(dir_component("/opt/logs"), "opt_logs");
        assert_eq!(dir_component("/opt/logs/"), "opt_logs");
        assert_eq!(dir_component("/"), "root");
    }
}
