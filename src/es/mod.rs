//! The Elasticsearch/OpenSearch client: typed requests and responses, error bodies mapped to typed
//! errors, flavour and version detection with per-version adaptation.
//!
//! The wire types, errors and versions are pure and live in `logbackup_core::es`; `client` does HTTP.

pub use logbackup_core::es::{auth, discovery, error, types, version};

pub mod client;
mod cluster;
mod documents;
pub mod listing;
pub mod plugins;
pub mod policies;
mod streamed;

pub use auth::{Auth, Redacted};
pub use client::{ClientConfig, EsClient};
pub use error::{ApiError, EsError, Failed};
pub use version::{Flavour, ServerVersion};
