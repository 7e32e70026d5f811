//! `repo sync`: copies a snapshot repository between a directory and an S3-compatible object store,
//! in the order that keeps the copy a valid repository at every moment.
//!
//! `plan`, `location`, `record` and `profile` are pure; `store` is the I/O edge (object_store) and
//! `run` carries a plan out.

#[cfg(feature = "cli")]
pub mod error;
pub mod location;
pub mod plan;
pub mod profile;
pub mod record;
#[cfg(feature = "cli")]
pub mod run;
#[cfg(feature = "cli")]
pub mod store;

#[cfg(feature = "cli")]
pub use error::SyncError;
pub use location::Location;
