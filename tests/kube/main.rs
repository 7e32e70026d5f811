//! The real tier: the plugin and webhook binaries against a real kube-apiserver, etcd and
//! kube-controller-manager on 127.0.0.1 (`tier`), with a kubelet stand-in (`kubelet`), and the
//! Elasticsearch test double for the Elasticsearch side.
//!
//! These need the Kubernetes binaries, which a fresh machine does not have: they are ignored by
//! default. `.ci/run` builds (or reuses) them and runs `cargo test --test kube -- --ignored`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // A test crate: a panic is how a test reports.

mod fixtures;
mod kubelet;
mod tier;

mod enable;
mod errors;
mod etcd;
mod proofs;
mod render;
mod schedule;
mod volume_snapshots;
mod webhook;
