//! What the workspace's tests share, in one place: running a binary ([`runner`]), a scripted
//! Kubernetes API server ([`kube_api`], in-process or on 127.0.0.1), strict schema validation
//! ([`kubernetes_validate`]) and the fixtures under tests/fixtures ([`fixtures`]). With the `plugin`
//! feature, also the plugin's own objects ([`plugin`], [`written_objects`]); with the `double`
//! feature, the Elasticsearch double a test target's binary runs against ([`double`]).
//!
//! The Elasticsearch side has its own crate, tests/es-double, because it is also a binary and must
//! stay faithful to ../shared/es-api.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a panic is how a test reports.

pub mod fixtures;
pub mod kube_api;
pub mod kubernetes_validate;
pub mod runner;

#[cfg(feature = "double")]
pub mod double;
#[cfg(feature = "plugin")]
pub mod plugin;
#[cfg(feature = "plugin")]
pub mod written_objects;

pub use runner::{Run, Runner};
