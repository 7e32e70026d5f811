//! What a collector remembers between passes: which source file (device, inode) is copied to
//! which archived file, from which source offset. Where a copy resumes is not in here: it is the
//! archived file's own length (see the module documentation), so a kill between the copy and the
//! next checkpoint loses and repeats nothing.
//!
//! The collector writes a checkpoint before it creates an archived file it names, so a file
//! that exists in the archive is always one the checkpoint knows.

use serde::{Deserialize, Serialize};

use super::layout::{archive_path, ArchiveName, PodDir};
use super::tail::Known;

pub const VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub version: u32,
    /// The next generation number to give a new copy.
    pub next_generation: u64,
    pub files: Vec<Tracked>,
}

impl Default for Checkpoint {
    fn default() -> Self {
        Self {
            version: VERSION,
            next_generation: 1,
            files: Vec::new(),
        }
    }
}

/// Where a tracked file comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Origin {
    /// The pod's log directories under the collector's root.
    Files,
    /// The kubelet's container log (`/var/log/pods`).
    Stdout,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tracked {
    pub pod: PodDir,
    pub container: String,
    pub origin: Origin,
    pub dev: u64,
    pub inode: u64,
    /// The path below the container directory the file had when first seen.
    pub first_name: String,
    /// The open copy's path relative to the archive root (without `.gz`).
    pub archive: String,
    /// The source offset the copy starts at.
    pub base: u64,
    /// Set once the copy is closed: the source offset it ends at.
    pub end: Option<u64>,
}

impl Tracked {
    /// The closed copy's path relative to the archive root.
    pub fn closed_archive(&self) -> String {
        format!("{}{}", self.archive, super::layout::CLOSED_SUFFIX)
    }

    pub fn known(&self, archived: u64) -> Known {
        match self.end {
            Some(end) => Known::Closed { end },
            None => Known::Open {
                base: self.base,
                archived,
            },
        }
    }
}

impl Checkpoint {
    /// The newest copy of a file (by pod, device and inode), open or closed.
    pub fn find(&self, uid: &str, origin: Origin, dev: u64, inode: u64) -> Option<usize> {
        self.files.iter().rposition(|t| {
            t.pod.uid == uid && t.origin == origin && t.dev == dev && t.inode == inode
        })
    }

    /// Starts a new copy of a file and returns its index: a generation no other copy of this
    /// checkpoint has, and a name `taken` does not refuse (a file the archive already holds,
    /// for example after a checkpoint was lost).
    #[allow(clippy::too_many_arguments)]
    pub fn start(
        &mut self,
        pod: &PodDir,
        container: &str,
        origin: Origin,
        dev: u64,
        inode: u64,
        name: &str,
        base: u64,
        taken: impl Fn(&str) -> bool,
    ) -> usize {
        let archive = loop {
            let generation = self.next_generation;
            self.next_generation += 1;
            let path = archive_path(
                pod,
                container,
                &ArchiveName::new(name, pod.uid8(), generation),
            );
            if !taken(&path) {
                break path;
            }
        };
        self.files.push(Tracked {
            pod: pod.clone(),
            container: container.to_owned(),
            origin,
            dev,
            inode,
            first_name: name.to_owned(),
            archive,
            base,
            end: None,
        });
        self.files.len() - 1
    }

    /// Forgets the copies of files that no longer exist and are closed: nothing will be copied
    /// from them again, and their inodes may be reused.
    pub fn forget(&mut self, gone: impl Fn(&Tracked) -> bool) {
        self.files.retain(|t| !(t.end.is_some() && gone(t)));
    }

    /// The pods this checkpoint holds copies for, each once.
    pub fn pods(&self) -> Vec<&PodDir> {
        let mut pods: Vec<&PodDir> = self.files.iter().map(|t| &t.pod).collect();
        pods.sort();
        pods.dedup();
        pods
    }

    pub fn to_json(&self) -> Vec<u8> {
        // A Vec of plain structs and strings serializes without error.
        serde_json::to_vec_pretty(self).unwrap_or_default()
    }

    pub fn from_json(bytes: &[u8]) -> Result<Self, CheckpointError> {
        let checkpoint: Self = serde_json::from_slice(bytes)
            .map_err(|e| CheckpointError::Unreadable(e.to_string()))?;
        if checkpoint.version != VERSION {
            return Err(CheckpointError::Version(checkpoint.version));
        }
        Ok(checkpoint)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("the collector's checkpoint is not readable ({0}); move it aside to start over (files already archived would then be copied again under new names)")]
    Unreadable(String),
    #[error("the collector's checkpoint has version {0}, which this version does not read; run the collector's own version, or move the checkpoint aside")]
    Version(u32),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod() -> PodDir {
        PodDir::parse("shop", "web", "web-1_26e825a2-8f5e").unwrap()
    }

    #[test]
    fn new_copies_get_fresh_generations_and_skip_names_already_taken() {
        let mut c = Checkpoint::default();
        let a = c.start(
            &pod(),
            "app",
            Origin::Files,
            1,
            10,
            "opt_logs/app.log",
            0,
            |_| false,
        );
        assert_eq!(
            c.files[a].archive,
            "shop/web/web-1/app/opt_logs/app.log@26e825a2.1"
        );
        let b = c.start(
            &pod(),
            "app",
            Origin::Files,
            1,
            11,
            "opt_logs/app.log",
            0,
            |p| p.ends_with(".2"),
        );
        assert_eq!(
            c.files[b].archive,
            "shop/web/web-1/app/opt_logs/app.log@26e825a2.3"
        );
        assert_eq!(c.next_generation, 4);
    }

    #[test]
    fn the_newest_copy_of_an_inode_is_found() {
        let mut c = Checkpoint::default();
        let first = c.start(&pod(), "app", Origin::Files, 1, 10, "a", 0, |_| false);
        c.files[first].end = Some(5);
        let second = c.start(&pod(), "app", Origin::Files, 1, 10, "a", 0, |_| false);
        assert_eq!(c.find("26e825a2-8f5e", Origin::Files, 1, 10), Some(second));
        assert_eq!(c.find("26e825a2-8f5e", Origin::Stdout, 1, 10), None);
        assert_eq!(c.find("other", Origin::Files, 1, 10), None);
    }

    #[test]
    fn only_closed_copies_of_gone_files_are_forgotten() {
        let mut c = Checkpoint::default();
        let open = c.start(&pod(), "app", Origin::Files, 1, 10, "a", 0, |_| false);
        let closed = c.start(&pod(), "app", Origin::Files, 1, 11, "b", 0, |_| false);
        c.files[closed].end = Some(3);
        c.forget(|_| true);
        assert_eq!(c.files.len(), 1);
        assert_eq!(c.files[0].inode, 10);
        let _ = open;
    }

    #[test]
    fn a_checkpoint_round_trips_and_refuses_other_versions() {
        let mut c = Checkpoint::default();
        c.start(
            &pod(),
            "app",
            Origin::Stdout,
            1,
            10,
            "stdout/0.log",
            0,
            |_| false,
        );
        assert_eq!(Checkpoint::from_json(&c.to_json()).unwrap(), c);
        let mut other = c.clone();
        other.version = 99;
        assert!(matches!(
            Checkpoint::from_json(&other.to_json()),
            Err(CheckpointError::Version(99))
        ));
        assert!(Checkpoint::from_json(b"{").is_err());
    }
}
