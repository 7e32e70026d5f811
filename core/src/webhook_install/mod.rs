//! `webhook install`, PURE: the embedded manifests made into objects for one namespace and one
//! certificate source, and the certificates themselves.

pub mod certs;
pub mod manifests;
