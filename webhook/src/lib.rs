//! logbackup-webhook: the mutating admission webhook that gives StatefulSets labelled
//! `logbackup.io/inject=enabled` a snapshot repository, using the same pure core as
//! `kubectl logbackup inject`. The binary in main.rs only wires these modules together.

pub mod config;
pub mod errors;
pub mod listener;
pub mod logging;
pub mod memory;
pub mod metrics;
pub mod object;
pub mod review;
pub mod server;
pub mod tls;
