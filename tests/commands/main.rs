//! The real plugin binary against the Elasticsearch test double, for ES 7.17, ES 8.19 and OpenSearch
//! 2.11: every command's happy path and every error a user can meet. Each test starts its own double.
#![allow(clippy::unwrap_used, clippy::expect_used)] // A test crate: a panic is how a test reports.

mod harness;

mod backup;
mod coverage;
mod listing;
mod proofs;
mod prune;
mod prune_workflow;
mod real_es;
mod repo;
mod restore;
mod schedule;
mod schedule_workflow;
mod snapshot;
mod snapshot_admin;
mod status;
mod status_workflow;
mod verify;
mod verify_workflow;
mod workflows;
