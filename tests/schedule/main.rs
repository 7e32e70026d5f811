//! Scheduled backups: rendered objects against the Kubernetes schema, and the thin Kubernetes calls
//! against the scripted API server (test-support). The webhook installer's tests are in
//! tests/webhook_install.
#![allow(clippy::unwrap_used, clippy::expect_used)] // A test crate: a panic is how a test reports.

mod e2e;
mod kube_schedules;
mod schema;
mod versions;
mod workflow;
