//! The webhook installer (`webhook install|uninstall|status`): the manifests it embeds against the
//! Kubernetes schema, and its Kubernetes calls against the scripted API server.
#![allow(clippy::unwrap_used, clippy::expect_used)] // A test crate: a panic is how a test reports.

mod kube_calls;
mod manifests;
