//! `enable`'s Kubernetes calls against a scripted API server, and the rolling restart against that
//! server plus the Elasticsearch test double.

mod binary;
mod cli;
mod cluster;
mod mock;
mod restart;
