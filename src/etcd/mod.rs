//! The control plane's backup: etcd snapshots through etcd's v3 API, the certificates and static
//! pod manifests beside them in the repository, and the restore drill that proves a snapshot
//! restores. The pure decisions are in `logbackup_core::etcd`.

pub mod client;
pub mod drill;
pub mod remote;
pub mod repo;
pub mod save;
pub mod target;

pub use client::{Connection, EtcdClient, EtcdError};
pub use repo::{Listed, Repo, RepoError};
pub use target::{Target, TargetError};
