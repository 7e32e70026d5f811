//! kubectl-logbackup: Elasticsearch/OpenSearch snapshot backups for Kubernetes logging stacks.
//!
//! The pure core (injection planning, naming, retention, restore planning, rendering) lives in the
//! `logbackup-core` crate, re-exported here under its old paths; this crate adds the I/O edges.

pub use logbackup_core::{enable, inject, manifest, schedule, snapshot, webhook_install};

// `logbackup::` paths resolve inside this crate too, so the command-line front end reads the same
// whether it is compiled here or in the binary.
extern crate self as logbackup;

/// The command-line front end (`kubectl logbackup`): in the library so that the documentation's
/// tests parse their examples with the real command tree (`cli::command()`).
#[doc(hidden)]
pub mod cli;
pub mod es;
pub mod etcd;
pub mod files;
pub mod k8s;
pub mod render;
pub mod sync;
pub mod tls_probe;
pub mod workflows;
