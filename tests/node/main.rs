//! The real node: the product's pods run for real. kubelet, containerd and runc run the webhook's
//! Deployment, the Elasticsearch double's StatefulSet with the injected chown init container, and
//! the CronJob pods of `schedule`, beside a real kube-apiserver, etcd, controller-manager, scheduler
//! and kube-proxy, all started once for the run by `scripts/real-node.sh`:
//!
//! ```sh
//! scripts/real-node.sh run $(scripts/build-test-images.sh target/node-images) -- \
//!   cargo test --test node -- --ignored --test-threads=1
//! ```
//!
//! Without the node these tests are ignored; run with `--ignored` but no node, they fail and say how
//! to start one.
#![allow(clippy::unwrap_used, clippy::expect_used)] // A test crate: a panic is how a test reports.

mod cluster;
mod etcd;
#[path = "../etcd/server.rs"]
#[allow(dead_code)] // The node uses the TLS etcd and the certificates, not every helper.
mod etcd_server;
mod faults;
mod files;
mod journey;
mod s3;
