//! The Elasticsearch connection flags, shared by every command that talks to it; reaching it is
//! `logbackup::workflows::connect`.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use clap::Args;
use logbackup::es::{EsClient, Redacted};
use logbackup::k8s::{K8sError, Kube};
use logbackup::workflows::{
    self,
    connect::{EsOptions, KubeConfigRef},
    retry::Retry,
};

use super::Global;

/// How to reach Elasticsearch/OpenSearch; shared by every command that talks to it.
#[derive(Debug, Args, Clone)]
#[command(next_help_heading = "Elasticsearch connection")]
pub struct EsArgs {
    /// URL of Elasticsearch (skips Kubernetes discovery), e.g. http://127.0.0.1:9200
    #[arg(long, env = "LOGBACKUP_ES_URL", value_name = "URL")]
    pub es_url: Option<String>,
    /// User for basic authentication
    #[arg(long, env = "LOGBACKUP_ES_USERNAME", value_name = "USER")]
    pub username: Option<String>,
    /// Password for basic authentication (prefer the env var or --password-secret)
    #[arg(
        long,
        env = "LOGBACKUP_ES_PASSWORD",
        hide_env_values = true,
        value_name = "PASSWORD"
    )]
    pub password: Option<String>,
    /// Secret holding the password, NAME or NAME/KEY (default key: password), in the Elasticsearch namespace
    #[arg(long, value_name = "NAME[/KEY]")]
    pub password_secret: Option<String>,
    /// API key (the base64 `encoded` value)
    #[arg(
        long,
        env = "LOGBACKUP_ES_API_KEY",
        hide_env_values = true,
        value_name = "KEY"
    )]
    pub api_key: Option<String>,
    /// PEM file of the CA that signed the server's certificate
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
    /// Secret holding the CA, NAME or NAME/KEY (default key: ca.crt), in the Elasticsearch namespace
    #[arg(long, value_name = "NAME[/KEY]", conflicts_with = "ca_file")]
    pub ca_secret: Option<String>,
    /// Do not verify the server's TLS certificate
    #[arg(long)]
    pub insecure: bool,
    /// Snapshot repository to use
    #[arg(
        long,
        short = 'r',
        env = "LOGBACKUP_REPOSITORY",
        default_value = "logbackup",
        value_name = "NAME"
    )]
    pub repository: String,
    /// Per-request timeout in seconds
    #[arg(long, default_value_t = 60, value_name = "SECONDS")]
    pub request_timeout: u64,
    /// Milliseconds between progress polls
    #[arg(long, default_value_t = 2000, value_name = "MS", hide = true)]
    pub poll_interval_ms: u64,
    /// First retry delay in milliseconds (doubles each time) for 503 concurrent snapshot operations
    #[arg(long, default_value_t = 2000, value_name = "MS", hide = true)]
    pub retry_delay_ms: u64,
    /// How many times to retry a 503 concurrent snapshot operation
    #[arg(long, default_value_t = 6, value_name = "N")]
    pub retries: usize,
}

impl EsArgs {
    pub fn poll_interval(&self) -> Duration {
        Duration::from_millis(self.poll_interval_ms)
    }

    pub fn retry(&self) -> Retry {
        Retry {
            first_delay: Duration::from_millis(self.retry_delay_ms),
            times: self.retries,
        }
    }

    /// The flags as the library takes them.
    pub fn options(&self, global: &Global) -> EsOptions {
        EsOptions {
            es_url: self.es_url.clone(),
            username: self.username.clone(),
            password: self.password.clone().map(Redacted::new),
            password_secret: self.password_secret.clone(),
            api_key: self.api_key.clone().map(Redacted::new),
            ca_file: self.ca_file.clone(),
            ca_secret: self.ca_secret.clone(),
            insecure: self.insecure,
            timeout: Duration::from_secs(self.request_timeout),
            namespace: global.namespace.clone(),
        }
    }
}

pub async fn connect(args: &EsArgs, global: &Global) -> Result<EsClient> {
    Ok(workflows::connect::connect(&args.options(global), &kube_config(global)).await?)
}

/// --kubeconfig and --context, connected on use.
pub fn kube_config(global: &Global) -> KubeConfigRef {
    KubeConfigRef {
        kubeconfig: global.kubeconfig.clone(),
        context: global.context.clone(),
    }
}

/// The Kubernetes connection of --kubeconfig and --context.
pub async fn kube_client(global: &Global) -> Result<Kube, K8sError> {
    kube_config(global).connect().await
}
