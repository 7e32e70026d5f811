//! `enable`'s Kubernetes calls against a scripted API server, and the rolling restart against that
//! server plus the Elasticsearch test double.
#![allow(clippy::unwrap_used, clippy::expect_used)] // A test crate: a panic is how a test reports.

mod binary;
mod cli;
mod cluster;
mod restart;
mod workflow;
