//! Where restore-test proofs are kept, and the read-merge-write that records one. The history's
//! format and bounds are the core's (`snapshot::proof`); a store only keeps its text.
//!
//! Two stores: the repository's ConfigMap in the Elasticsearch namespace (the default; what the
//! scheduled restore test writes and `status` reads), and a JSON file (for runs without
//! Kubernetes access, and for tests).

use std::path::PathBuf;

use crate::k8s::{self, K8sError, Kube, Problem};
use crate::snapshot::proof::{self, ProofError, ProofRecord};

#[derive(Debug, thiserror::Error)]
pub enum ProofStoreError {
    #[error("failed to keep the restore-test proofs in Kubernetes: {0}")]
    Kubernetes(#[from] K8sError),
    #[error("failed to {action} the restore-test proofs file {}: {source}", path.display())]
    File {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{store}: {source}")]
    Unreadable { store: String, source: ProofError },
    #[error("{store} kept changing while the proof was being recorded (another restore test writing?); run the test again")]
    Busy { store: String },
}

impl ProofStoreError {
    /// No Kubernetes to keep proofs in (no kubeconfig, server unreachable): worth a note, not a
    /// failure, for a command run with --es-url from a workstation.
    pub fn is_unavailable(&self) -> bool {
        match self {
            Self::Kubernetes(e) => {
                matches!(e.problem, Problem::Unreachable { .. })
                    || e.attempt.resource == "kubeconfig"
            }
            _ => false,
        }
    }
}

/// The stored text of a history and the version it was read at (for a safe replace).
pub struct Stored {
    pub text: String,
    pub version: Option<String>,
}

/// A place that keeps one repository's history text.
#[allow(async_fn_in_trait)] // Used through generics only, on one task: no Send bound needed.
pub trait ProofStore {
    /// `None`: nothing kept yet.
    async fn read(&self) -> Result<Option<Stored>, ProofStoreError>;
    /// Writes `text`; `Ok(false)` when the store changed since `read` (try again).
    async fn write(&self, text: &str, read: Option<&Stored>) -> Result<bool, ProofStoreError>;
    /// `ConfigMap ns/name`, `file PATH`: for messages.
    fn describe(&self) -> String;
}

/// The ConfigMap `logbackup-proofs-<repo>` in the Elasticsearch namespace.
pub struct ConfigMapStore {
    pub kube: Kube,
    pub namespace: String,
    pub repository: String,
}

impl ProofStore for ConfigMapStore {
    async fn read(&self) -> Result<Option<Stored>, ProofStoreError> {
        Ok(
            k8s::proofs::read(&self.kube, &self.namespace, &self.repository)
                .await?
                .map(|(text, version)| Stored { text, version }),
        )
    }
    async fn write(&self, text: &str, read: Option<&Stored>) -> Result<bool, ProofStoreError> {
        let version = read.and_then(|r| r.version.clone());
        match k8s::proofs::write(&self.kube, &self.namespace, &self.repository, text, version).await
        {
            Ok(()) => Ok(true),
            // 409: written (or created) by someone else since we read.
            Err(e) if matches!(e.problem, Problem::Api { code: 409, .. }) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }
    fn describe(&self) -> String {
        format!(
            "ConfigMap {}/{}",
            self.namespace,
            proof::config_map_name(&self.repository)
        )
    }
}

/// A JSON file holding the history (the ConfigMap's `proofs.json`, as is).
pub struct FileStore {
    pub path: PathBuf,
}

impl ProofStore for FileStore {
    async fn read(&self) -> Result<Option<Stored>, ProofStoreError> {
        match std::fs::read_to_string(&self.path) {
            Ok(text) => Ok(Some(Stored {
                text,
                version: None,
            })),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(ProofStoreError::File {
                action: "read",
                path: self.path.clone(),
                source,
            }),
        }
    }
    async fn write(&self, text: &str, _read: Option<&Stored>) -> Result<bool, ProofStoreError> {
        // Written beside and renamed over, so a reader never sees half a file.
        let tmp = self.path.with_extension("json.tmp");
        std::fs::write(&tmp, text)
            .and_then(|()| std::fs::rename(&tmp, &self.path))
            .map_err(|source| ProofStoreError::File {
                action: "write",
                path: self.path.clone(),
                source,
            })?;
        Ok(true)
    }
    fn describe(&self) -> String {
        format!("file {}", self.path.display())
    }
}

/// The kept history, newest first (empty when nothing is kept yet).
pub async fn load(store: &impl ProofStore) -> Result<Vec<ProofRecord>, ProofStoreError> {
    match store.read().await? {
        Some(stored) => decode(store, &stored.text),
        None => Ok(Vec::new()),
    }
}

fn decode(store: &impl ProofStore, text: &str) -> Result<Vec<ProofRecord>, ProofStoreError> {
    proof::decode(text).map_err(|source| ProofStoreError::Unreadable {
        store: store.describe(),
        source,
    })
}

/// Adds `record` to the history (bounded to `proof::HISTORY`); returns how many tests it now keeps.
/// Reads again and retries when another writer got in between.
pub async fn record(
    store: &impl ProofStore,
    record: &ProofRecord,
) -> Result<usize, ProofStoreError> {
    for _ in 0..5 {
        let stored = store.read().await?;
        let history = match &stored {
            Some(s) => decode(store, &s.text)?,
            None => Vec::new(),
        };
        let merged = proof::merge(history, record.clone(), proof::HISTORY);
        let text = proof::encode(&merged).map_err(|source| ProofStoreError::Unreadable {
            store: store.describe(),
            source,
        })?;
        if store.write(&text, stored.as_ref()).await? {
            return Ok(merged.len());
        }
    }
    Err(ProofStoreError::Busy {
        store: store.describe(),
    })
}

/// Where a command keeps its proofs: the `file` when given, else the repository's ConfigMap in
/// `namespace`, else in the namespace Elasticsearch was discovered in (`es_discovered`: no
/// `--es-url`), else in the kubeconfig context's namespace. `kube` is awaited only without a file.
pub async fn open_store(
    file: Option<&std::path::Path>,
    kube: impl std::future::Future<Output = Result<Kube, K8sError>>,
    namespace: Option<&str>,
    es_discovered: bool,
    repository: &str,
) -> Result<AnyStore, ProofStoreError> {
    if let Some(path) = file {
        return Ok(AnyStore::File(FileStore {
            path: path.to_path_buf(),
        }));
    }
    let kube = kube.await?;
    let namespace = match namespace {
        Some(ns) => ns.to_string(),
        None if es_discovered => {
            k8s::elasticsearch::find_service(&kube, None)
                .await?
                .namespace
        }
        None => kube.default_namespace().to_string(),
    };
    Ok(AnyStore::ConfigMap(ConfigMapStore {
        kube,
        namespace,
        repository: repository.to_string(),
    }))
}

/// The store a command was told to use.
pub enum AnyStore {
    ConfigMap(ConfigMapStore),
    File(FileStore),
}

impl ProofStore for AnyStore {
    async fn read(&self) -> Result<Option<Stored>, ProofStoreError> {
        match self {
            Self::ConfigMap(s) => s.read().await,
            Self::File(s) => s.read().await,
        }
    }
    async fn write(&self, text: &str, read: Option<&Stored>) -> Result<bool, ProofStoreError> {
        match self {
            Self::ConfigMap(s) => s.write(text, read).await,
            Self::File(s) => s.write(text, read).await,
        }
    }
    fn describe(&self) -> String {
        match self {
            Self::ConfigMap(s) => s.describe(),
            Self::File(s) => s.describe(),
        }
    }
}
