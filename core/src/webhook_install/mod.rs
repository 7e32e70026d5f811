//! `webhook install`, PURE: the embedded manifests made into objects for one namespace and one
//! certificate source, the certificates themselves, and the judgement of what is installed.

pub mod certs;
pub mod health;
pub mod manifests;
