//! `repo sync`: copies a snapshot repository between a directory and an S3-compatible object store,
//! in the order that keeps the copy a valid repository at every moment.
//!
//! The planning is pure and lives in the core (`logbackup_core::sync`, re-exported here); `store`
//! is the I/O edge (object_store) and `run` carries a plan out.

pub use logbackup_core::sync::{location, plan, profile, record, Location};

pub mod error;
pub mod run;
pub mod store;

pub use error::SyncError;
