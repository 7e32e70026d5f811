//! PURE control-plane backup: etcd snapshot naming, the record kept beside each snapshot, retention
//! that keeps scheduled and manual snapshots apart, the key counts a restore drill compares, the
//! revision read from a snapshot file, the restore steps and the CronJob that takes them on a
//! control-plane node.
//!
//! The clock, the files and etcd itself are the caller's: everything here is a function of its
//! arguments.

pub mod bbolt;
pub mod cronjob;
pub mod keys;
pub mod naming;
pub mod record;
pub mod restore_plan;
pub mod retention;
pub mod status;

pub use naming::{Origin, SnapshotName};
pub use record::{SnapshotRecord, Verification};
