//! Scheduled backups and the webhook installer: rendered objects against the Kubernetes schema,
//! and the thin Kubernetes calls against a mocked API server.

mod schema;
mod webhook_manifests;
