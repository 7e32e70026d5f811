//! kubectl-logbackup: Elasticsearch/OpenSearch snapshot backups for Kubernetes logging stacks.
//!
//! The pure core (injection planning, naming, retention, restore planning, rendering) lives in the
//! `logbackup-core` crate, re-exported here under its old paths; this crate adds the I/O edges.

pub use logbackup_core::{enable, inject, manifest, schedule, snapshot, webhook_install};

pub mod es;
pub mod etcd;
pub mod files;
pub mod k8s;
pub mod render;
pub mod sync;
pub mod tls_probe;
pub mod workflows;
