//! Scheduled backups and the webhook installer: rendered objects against the Kubernetes schema,
//! and the thin Kubernetes calls against a mocked API server.
#![allow(clippy::unwrap_used, clippy::expect_used)] // A test crate: a panic is how a test reports.

mod e2e;
mod kube_schedules;
mod kube_webhook;
#[path = "../support/kubernetes_validate.rs"]
mod kubernetes_validate;
mod mock_api;
mod schema;
mod versions;
mod webhook_manifests;
#[path = "../support/written_objects.rs"]
mod written_objects;
