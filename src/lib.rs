//! kubectl-logbackup: Elasticsearch/OpenSearch snapshot backups for Kubernetes logging stacks.
//!
//! The pure core (injection planning, naming, retention, restore planning, rendering) lives in the
//! `logbackup-core` crate, re-exported here under its old paths; this crate adds the I/O edges.
#![deny(warnings)]

pub use logbackup_core::{enable, inject, manifest, schedule, snapshot, webhook_install};

#[cfg(feature = "cli")]
pub mod es;
#[cfg(feature = "cli")]
pub mod k8s;
#[cfg(feature = "cli")]
pub mod render;
#[cfg(feature = "cli")]
pub mod sync;
