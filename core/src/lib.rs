//! logbackup-core: the pure middle of kubectl-logbackup and its webhook.
//!
//! Injection planning, snapshot naming/retention/restore planning and status evaluation, enable and
//! disable planning, schedule and CronJob rendering, webhook-install object planning, and the
//! Elasticsearch wire types. No clock, no network, no environment: callers pass them in. Cargo keeps
//! it so: this crate's dependencies include no Kubernetes client, HTTP client, async runtime or clap.

pub mod enable;
pub mod es;
pub mod etcd;
pub mod files;
pub mod ids;
pub mod inject;
pub mod manifest;
pub mod s3_repository;
pub mod schedule;
pub mod snapshot;
pub mod sync;
pub mod volume_snapshot;
pub mod webhook_install;
