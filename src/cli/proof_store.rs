//! `--proof-history FILE`, shared by `snapshot verify`, `status` and `coverage`: where restore-test
//! proofs are kept. Default: the ConfigMap `logbackup-proofs-<repo>` in the Elasticsearch namespace.

use std::path::PathBuf;

use clap::Args;
use logbackup::k8s::elasticsearch::find_service;
use logbackup::workflows::proofs::{AnyStore, ConfigMapStore, FileStore, ProofStoreError};

use super::connect::{kube_client, EsArgs};
use super::Global;

#[derive(Debug, Args, Clone)]
#[command(next_help_heading = "Restore-test proofs")]
pub struct ProofHistoryArgs {
    /// Keep restore-test proofs in this JSON file instead of the ConfigMap logbackup-proofs-REPO
    /// in the Elasticsearch namespace (for runs without Kubernetes access)
    #[arg(long, value_name = "FILE")]
    pub proof_history: Option<PathBuf>,
}

impl ProofHistoryArgs {
    /// The store: the file, or the ConfigMap in -n, else the discovered Elasticsearch namespace
    /// (without --es-url), else the kubeconfig context's namespace.
    pub async fn open(&self, es: &EsArgs, global: &Global) -> Result<AnyStore, ProofStoreError> {
        if let Some(path) = &self.proof_history {
            return Ok(AnyStore::File(FileStore { path: path.clone() }));
        }
        let kube = kube_client(global).await?;
        let namespace = match (&global.namespace, &es.es_url) {
            (Some(ns), _) => ns.clone(),
            (None, None) => find_service(&kube, None).await?.namespace,
            (None, Some(_)) => kube.default_namespace().to_string(),
        };
        Ok(AnyStore::ConfigMap(ConfigMapStore {
            kube,
            namespace,
            repository: es.repository.clone(),
        }))
    }
}
