//! The Kubernetes workflows as library functions: each takes the cluster through a small trait
//! (implemented by `k8s::Kube`, and by fakes in the tests), decides with the core, and returns what
//! it did for the command line to print. No flags, no printing here.

pub mod proofs;
pub mod webhook;
