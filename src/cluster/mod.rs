//! The Kubernetes side of `enable`/`disable`, thin: read, create and patch the objects the plan
//! names, delete pods and wait for their replacements. Every call says what it was attempting.

mod api;
mod error;
mod executor;

pub use api::{Cluster, Kind};
pub use error::ClusterError;
pub use executor::{LiveRestart, RestartSettings};
