//! `--proof-history FILE`, shared by `snapshot verify`, `status` and `coverage`: where restore-test
//! proofs are kept. Default: the ConfigMap `logbackup-proofs-<repo>` in the Elasticsearch namespace.

use std::path::PathBuf;

use clap::Args;
use logbackup::workflows::proofs::{open_store, AnyStore, ProofStoreError};

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
    /// The store (`logbackup::workflows::proofs::open_store`): the file, or the ConfigMap in -n,
    /// else the discovered Elasticsearch namespace (without --es-url), else the kubeconfig
    /// context's namespace.
    pub async fn open(&self, es: &EsArgs, global: &Global) -> Result<AnyStore, ProofStoreError> {
        open_store(
            self.proof_history.as_deref(),
            kube_client(global),
            global.namespace.as_deref(),
            es.es_url.is_none(),
            &es.repository,
        )
        .await
    }
}
