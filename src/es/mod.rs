//! The Elasticsearch/OpenSearch client: typed requests and responses, error bodies mapped to typed
//! errors, flavour and version detection with per-version adaptation.
//!
//! `error`, `version` and `types` are pure (usable without the `cli` feature); `client` does HTTP.

pub mod auth;
#[cfg(feature = "cli")]
pub mod client;
#[cfg(feature = "cli")]
mod cluster;
pub mod discovery;
#[cfg(feature = "cli")]
mod documents;
pub mod error;
#[cfg(feature = "cli")]
pub mod listing;
#[cfg(feature = "cli")]
pub mod policies;
pub mod types;
pub mod version;

pub use auth::{Auth, Secret};
#[cfg(feature = "cli")]
pub use client::{ClientConfig, EsClient};
pub use error::{ApiError, EsError, Failed};
pub use version::{Flavour, ServerVersion};
