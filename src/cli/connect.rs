//! Reaching Elasticsearch: `--es-url` directly, or through Kubernetes (find the Service, port-forward
//! to a ready pod behind it, read credentials from Secrets). The Kubernetes path is thin and is not
//! exercised by the tests here (no API server); the choice of Service and URL is unit tested in
//! `logbackup::es::discovery`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use k8s_openapi::api::core::v1::{Pod, Secret, Service};
use kube::api::{Api, ListParams};
use logbackup::es::discovery::{choose_service, forwarded_url, ServiceCandidate, Target};
use logbackup::es::{Auth, ClientConfig, EsClient, Secret as Hidden};

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
            let target = discover(&client, global.namespace.as_deref()).await?;
            let port = forward_service(
                client.clone(),
                &target.namespace,
                &target.service,
                target.port,
            )
            .await?;
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

pub async fn kube_client(global: &Global) -> Result<kube::Client> {
    let options = kube::config::KubeConfigOptions {
        context: global.context.clone(),
        cluster: None,
        user: None,
    };
    let failed = "failed to load the Kubernetes configuration (or pass --es-url)";
    let config = match &global.kubeconfig {
        Some(path) => {
            let kubeconfig = kube::config::Kubeconfig::read_from(path)
                .with_context(|| format!("failed to read kubeconfig {}", path.display()))?;
            kube::Config::from_custom_kubeconfig(kubeconfig, &options)
                .await
                .context(failed)?
        }
        // No kubeconfig in a scheduled Job: the ServiceAccount's in-cluster token.
        None if global.context.is_none() => kube::Config::infer().await.context(failed)?,
        None => kube::Config::from_kubeconfig(&options)
            .await
            .context(failed)?,
    };
    kube::Client::try_from(config).context("failed to create the Kubernetes client")
}

pub async fn discover(client: &kube::Client, namespace: Option<&str>) -> Result<Target> {
    let api: Api<Service> = match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    let services = api
        .list(&ListParams::default())
        .await
        .context("failed to list Services to find Elasticsearch")?;
    let candidates: Vec<ServiceCandidate> = services
        .items
        .iter()
        .map(|s| ServiceCandidate {
            namespace: s.metadata.namespace.clone().unwrap_or_default(),
            name: s.metadata.name.clone().unwrap_or_default(),
            labels: s.metadata.labels.clone().unwrap_or_default(),
            ports: s
                .spec
                .as_ref()
                .and_then(|spec| spec.ports.as_ref())
                .map(|ports| {
                    ports
                        .iter()
                        .filter_map(|p| u16::try_from(p.port).ok())
                        .collect()
                })
                .unwrap_or_default(),
        })
        .collect();
    choose_service(&candidates).ok_or_else(|| {
        anyhow!(
            "failed to find an Elasticsearch Service{}: pass -n NAMESPACE or --es-url",
            namespace
                .map(|n| format!(" in namespace {n}"))
                .unwrap_or_default()
        )
    })
}

/// Port-forwards a local port on 127.0.0.1 to `remote` of a ready pod behind the Service (as
/// `kubectl port-forward svc/...` does); each local connection gets its own forwarded stream.
pub async fn forward_service(
    client: kube::Client,
    namespace: &str,
    service_name: &str,
    remote: u16,
) -> Result<u16> {
    let services: Api<Service> = Api::namespaced(client.clone(), namespace);
    let service = services
        .get(service_name)
        .await
        .with_context(|| format!("failed to read Service {namespace}/{service_name}"))?;
    let selector: BTreeMap<String, String> =
        service.spec.and_then(|s| s.selector).unwrap_or_default();
    let selector = selector
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",");
    let pods: Api<Pod> = Api::namespaced(client, namespace);
    let list = pods
        .list(&ListParams::default().labels(&selector))
        .await
        .with_context(|| {
            format!("failed to list the pods behind Service {namespace}/{service_name}")
        })?;
    let ready = list.items.iter().find(|p| {
        p.status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
    });
    let pod = ready
        .and_then(|p| p.metadata.name.clone())
        .ok_or_else(|| anyhow!("no ready pod behind Service {namespace}/{service_name}"))?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .context("failed to open a local port")?;
    let port = listener.local_addr()?.port();
    tracing::info!(pod = %pod, local = port, "port-forwarding");
    tokio::spawn(async move {
        while let Ok((mut local, _)) = listener.accept().await {
            let pods = pods.clone();
            let pod = pod.clone();
            tokio::spawn(async move {
                let Ok(mut forwarder) = pods.portforward(&pod, &[remote]).await else {
                    return;
                };
                let Some(mut upstream) = forwarder.take_stream(remote) else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut local, &mut upstream).await;
            });
        }
    });
    Ok(port)
}

async fn read_secret(
    client: &kube::Client,
    namespace: &str,
    name: &str,
    key: &str,
) -> Result<String> {
    let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let secret = secrets
        .get(name)
        .await
        .with_context(|| format!("failed to read Secret {namespace}/{name}"))?;
    let bytes = secret
        .data
        .and_then(|d| d.get(key).cloned())
        .ok_or_else(|| anyhow!("Secret {namespace}/{name} has no key {key}"))?;
    let value = String::from_utf8(bytes.0)
        .map_err(|_| anyhow!("Secret {namespace}/{name} key {key} is not UTF-8"))?;
    if value.is_empty() {
        bail!("Secret {namespace}/{name} key {key} is empty");
    }
    Ok(value.trim_end_matches('\n').to_string())
}
