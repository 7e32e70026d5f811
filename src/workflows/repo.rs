//! `repo register`: checks the cluster can have the repository (path.repo on every node for `fs`,
//! S3 support for `s3`), registers it, and verifies it. Used by `repo register` and by `enable`,
//! which registers the repository it has just mounted. Tested in-process against the
//! Elasticsearch double (`tests/commands/workflows.rs`).

use logbackup_core::es::types::{FsSettings, PutRepository};
use logbackup_core::s3_repository::{self, PutS3Repository, S3Settings, Support};
use logbackup_core::snapshot::path_repo;
use serde_json::{json, Value};

use crate::es::{EsClient, EsError, Failed, Flavour};

/// A shared-filesystem repository to register.
#[derive(Debug, Clone)]
pub struct FsRepository {
    pub name: String,
    /// Inside path.repo on every master and data node.
    pub location: String,
    pub compress: bool,
    pub readonly: bool,
}

/// An S3 repository to register (credentials go in the keystore, never here).
#[derive(Debug, Clone)]
pub struct S3Repository {
    pub name: String,
    pub bucket: String,
    pub base_path: Option<String>,
    /// The `s3.client.NAME` settings; Elasticsearch's default is `default`.
    pub client: Option<String>,
    pub compress: bool,
    pub readonly: bool,
}

impl S3Repository {
    pub fn client_name(&self) -> &str {
        self.client.as_deref().unwrap_or("default")
    }

    /// `s3://bucket[/base_path]`, for messages.
    pub fn url(&self) -> String {
        match &self.base_path {
            Some(p) => format!("s3://{}/{p}", self.bucket),
            None => format!("s3://{}", self.bucket),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    /// A pre-check refused; nothing was changed.
    #[error("cannot register repository {name}: {reason}")]
    Refused { name: String, reason: String },
    #[error("{0}")]
    Elasticsearch(#[from] Failed),
    /// Registered, but the nodes cannot use it.
    #[error("repository {name} is registered but not usable; fix the volume and run `kubectl logbackup repo verify {name}`: {source}")]
    FsUnusable { name: String, source: Failed },
    /// Registered, but the nodes cannot reach the bucket: the keystore `steps` are what is missing.
    #[error("repository {name} is registered but the nodes cannot use {url}; put the credentials in the keystore of every node (client {client}), then run `kubectl logbackup repo verify {name}`: {source}")]
    S3Unusable {
        name: String,
        url: String,
        client: String,
        steps: Vec<String>,
        source: Failed,
    },
}

/// What register did, or on a dry run would do.
#[derive(Debug, Clone)]
pub struct Registered {
    /// `{NAME: body}`, as sent (or, on a dry run, as it would be).
    pub request: Value,
    /// Why the cluster can have it: `path.repo covers ... on all N nodes`, `... has S3 built in`.
    pub checked: String,
    /// Nodes that verified it; `None` on a dry run.
    pub verified_nodes: Option<usize>,
    /// How credentials get into the keystore (S3 only), for the user to follow.
    pub keystore_steps: Vec<String>,
}

/// Registers (unless `dry_run`) and verifies a shared-filesystem repository, after checking that
/// path.repo covers the location on every node that needs it.
pub async fn register_fs(
    es: &EsClient,
    repo: &FsRepository,
    dry_run: bool,
) -> Result<Registered, RepoError> {
    let name = &repo.name;
    let nodes = es.nodes_settings().await?;
    let paths: Vec<_> = nodes.nodes.values().map(|n| n.paths()).collect();
    let gaps = path_repo::gaps(&paths, &repo.location);
    if !gaps.is_empty() {
        return Err(RepoError::Refused {
            name: name.clone(),
            reason: path_repo::advice(&gaps, &repo.location),
        });
    }
    let body = PutRepository {
        kind: "fs",
        settings: FsSettings {
            location: repo.location.clone(),
            compress: repo.compress,
            readonly: repo.readonly,
        },
    };
    let mut done = Registered {
        request: json!({ name.clone(): body }),
        checked: format!(
            "path.repo covers {} on all {} nodes",
            repo.location,
            paths.len()
        ),
        verified_nodes: None,
        keystore_steps: Vec::new(),
    };
    if dry_run {
        return Ok(done);
    }
    done.verified_nodes = Some(
        put_and_verify(es, name, &body, |source| RepoError::FsUnusable {
            name: name.clone(),
            source,
        })
        .await?,
    );
    Ok(done)
}

/// Registers, then verifies; a verification failure becomes `unusable(error)`. The number of nodes
/// that verified it.
async fn put_and_verify<B: serde::Serialize>(
    es: &EsClient,
    name: &str,
    body: &B,
    unusable: impl FnOnce(Failed) -> RepoError,
) -> Result<usize, RepoError> {
    es.put_repository(name, body).await?;
    match es.verify_repository(name).await {
        Ok(verified) => Ok(verified.nodes.len()),
        Err(source) if matches!(source.kind(), EsError::RepositoryVerification(_)) => {
            Err(unusable(source))
        }
        Err(e) => Err(e.into()),
    }
}

/// Registers (unless `dry_run`) and verifies an S3 repository, after checking that the cluster has
/// S3 support (built in on Elasticsearch 8+, the plugin on every node elsewhere).
pub async fn register_s3(
    es: &EsClient,
    repo: &S3Repository,
    dry_run: bool,
) -> Result<Registered, RepoError> {
    let name = &repo.name;
    let version = es.version.clone();
    let nodes = if version.flavour == Flavour::Elasticsearch && version.major >= 8 {
        Vec::new()
    } else {
        es.nodes_plugins().await?
    };
    let support =
        s3_repository::support(&version, &nodes).map_err(|missing| RepoError::Refused {
            name: name.clone(),
            reason: missing.to_string(),
        })?;
    let steps = s3_repository::keystore_steps(version.flavour, repo.client_name());
    let body = PutS3Repository::new(S3Settings {
        bucket: repo.bucket.clone(),
        base_path: repo.base_path.clone(),
        client: repo.client.clone(),
        compress: repo.compress,
        readonly: repo.readonly,
    });
    let checked = match support {
        Support::BuiltIn => format!("{version} has S3 support built in"),
        Support::Plugin => format!(
            "every master and data node has the {} plugin",
            s3_repository::PLUGIN
        ),
    };
    let mut done = Registered {
        request: json!({ name.clone(): body }),
        checked,
        verified_nodes: None,
        keystore_steps: steps,
    };
    if dry_run {
        return Ok(done);
    }
    let steps = done.keystore_steps.clone();
    done.verified_nodes = Some(
        put_and_verify(es, name, &body, |source| RepoError::S3Unusable {
            name: name.clone(),
            url: repo.url(),
            client: repo.client_name().to_owned(),
            steps,
            source,
        })
        .await?,
    );
    Ok(done)
}

/// Unregisters repository `name` (unless `dry_run`); its snapshot files stay where they are. It is
/// read first, so a typo fails as `repository_missing_exception` before anything changes.
pub async fn remove(es: &EsClient, name: &str, dry_run: bool) -> Result<(), RepoError> {
    es.repositories(Some(name)).await?;
    if !dry_run {
        es.delete_repository(name).await?;
    }
    Ok(())
}
