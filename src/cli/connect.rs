//! Reaching Elasticsearch: `--es-url` directly, or through Kubernetes (`logbackup::k8s::elasticsearch`
//! finds the Service, port-forwards to a ready pod behind it, reads credentials from Secrets).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use clap::Args;
use logbackup::es::discovery::forwarded_url;
use logbackup::es::{Auth, ClientConfig, EsClient, Secret as Hidden};
use logbackup::k8s::elasticsearch::{find_service, forward_service, read_secret};
use logbackup::k8s::{K8sError, Kube};

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
}

pub async fn connect(args: &EsArgs, global: &Global) -> Result<EsClient> {
    let ca_pem = match &args.ca_file {
        Some(path) => Some(
            std::fs::read(path)
                .with_context(|| format!("failed to read CA file {}", path.display()))?,
        ),
        None => None,
    };
    let mut config = ClientConfig {
        url: String::new(),
        auth: Auth::None,
        ca_pem,
        insecure: args.insecure,
        resolve: None,
        timeout: Duration::from_secs(args.request_timeout),
    };
    let mut secret_namespace = global.namespace.clone();
    match &args.es_url {
        Some(url) => config.url = url.clone(),
        None => {
            let client = kube_client(global).await?;
            let target = find_service(&client, global.namespace.as_deref()).await?;
            let port =
                forward_service(&client, &target.namespace, &target.service, target.port).await?;
            let (url, pinned) = forwarded_url(&target, port);
            config.url = url;
            config.resolve =
                pinned.map(|h| (h, std::net::SocketAddr::from(([127, 0, 0, 1], port))));
            secret_namespace = Some(target.namespace.clone());
            let eck_secret = target.eck_user_secret.clone();
            if target.https && config.ca_pem.is_none() && !config.insecure {
                let name = target.service.trim_end_matches("-es-http");
                let secret = format!("{name}-es-http-certs-public");
                config.ca_pem = read_secret(&client, &target.namespace, &secret, "ca.crt")
                    .await
                    .ok()
                    .map(String::into_bytes);
            }
            if args.api_key.is_none() && args.password.is_none() {
                if let (Some(ref_), Some(ns)) =
                    (args.password_secret.as_deref(), secret_namespace.as_deref())
                {
                    let (name, key) = ref_.split_once('/').unwrap_or((ref_, "password"));
                    let password = read_secret(&client, ns, name, key).await?;
                    config.auth = basic(args.username.as_deref().unwrap_or("elastic"), password);
                } else if let (Some(secret), Some(ns)) =
                    (eck_secret.as_deref(), secret_namespace.as_deref())
                {
                    let password = read_secret(&client, ns, secret, "elastic").await?;
                    config.auth = basic("elastic", password);
                }
            }
        }
    }
    if let Some(key) = &args.api_key {
        config.auth = Auth::ApiKey(Hidden::new(key.clone()));
    } else if let Some(password) = &args.password {
        config.auth = basic(
            args.username.as_deref().unwrap_or("elastic"),
            password.clone(),
        );
    } else if args.password_secret.is_some() && args.es_url.is_some() {
        let client = kube_client(global).await?;
        let ns = secret_namespace
            .clone()
            .ok_or_else(|| anyhow!("--password-secret needs -n NAMESPACE with --es-url"))?;
        let ref_ = args.password_secret.as_deref().unwrap_or_default();
        let (name, key) = ref_.split_once('/').unwrap_or((ref_, "password"));
        let password = read_secret(&client, &ns, name, key).await?;
        config.auth = basic(args.username.as_deref().unwrap_or("elastic"), password);
    }
    if let Some(ref_) = &args.ca_secret {
        let ns = secret_namespace
            .clone()
            .ok_or_else(|| anyhow!("--ca-secret needs -n NAMESPACE with --es-url"))?;
        let (name, key) = ref_.split_once('/').unwrap_or((ref_, "ca.crt"));
        let pem = read_secret(&kube_client(global).await?, &ns, name, key).await?;
        config.ca_pem = Some(pem.into_bytes());
    }
    let client = EsClient::connect(&config).await?;
    tracing::info!(version = %client.version, "using");
    Ok(client)
}

fn basic(username: &str, password: String) -> Auth {
    Auth::Basic {
        username: username.to_string(),
        password: Hidden::new(password),
    }
}

/// The Kubernetes connection of --kubeconfig and --context.
pub async fn kube_client(global: &Global) -> Result<Kube, K8sError> {
    Kube::connect(global.kubeconfig.as_deref(), global.context.as_deref()).await
}
