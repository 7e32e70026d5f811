//! The Elasticsearch/OpenSearch wire side, pure: typed responses, error bodies mapped to typed
//! errors, flavour and version detection, credentials and in-cluster discovery planning. The HTTP
//! client that uses them is the plugin's `es::client`.

pub mod auth;
pub mod credentials;
pub mod discovery;
pub mod error;
pub mod policies;
pub mod types;
pub mod version;

pub use auth::{Auth, Redacted};
pub use error::{ApiError, EsError, Failed};
pub use version::{Flavour, ServerVersion};
