//! kubectl-logbackup: Elasticsearch/OpenSearch snapshot backups for Kubernetes logging stacks.
//!
//! The pure core (injection planning, naming, retention, restore planning, rendering) lives here with
//! no clock, network or environment; the binaries do the I/O.
#![deny(warnings)]

#[cfg(feature = "cli")]
pub mod cluster;
pub mod enable;
pub mod es;
pub mod inject;
#[cfg(feature = "cli")]
pub mod kube_ops;
#[cfg(feature = "cli")]
pub mod manifest;
#[cfg(feature = "cli")]
pub mod render;
#[cfg(feature = "cli")]
pub mod schedule;
pub mod snapshot;
pub mod sync;
#[cfg(feature = "cli")]
pub mod webhook_install;
