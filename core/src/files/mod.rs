//! Application log files copied off the nodes: the pure parts of the collector and of
//! `kubectl logbackup files`.
//!
//! - [`layout`]: where the files are on a node and where their copies go in the archive;
//! - [`tail`]: what to do with one file this pass (append, start a new generation, nothing);
//! - [`checkpoint`]: what the collector remembers between passes;
//! - [`report`]: what a collector says about itself, and how `status` judges it;
//! - [`retention`]: which archived files `prune` removes.
//!
//! The archive's own lengths are the truth for where a copy resumes: an archived file is a byte
//! for byte copy of its source from `base`, so a copy killed half-way leaves a correct, shorter
//! prefix and the next pass goes on from its length. The checkpoint only says which source file
//! (device and inode) goes to which archived file.

pub mod checkpoint;
pub mod install;
pub mod layout;
pub mod push;
pub mod report;
pub mod retention;
pub mod tail;

pub use checkpoint::{Checkpoint, Tracked};
pub use layout::{ArchiveName, PodDir, PodLogDir};
pub use tail::{Observed, Step};
