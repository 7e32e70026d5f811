//! Reaching Elasticsearch: `--es-url` directly, or through Kubernetes (find the Service, port-forward
//! to a ready pod behind it), with the credentials and CA the core chooses
//! (`es::credentials`) read from Secrets where it says so.

use std::path::PathBuf;
use std::time::Duration;

use logbackup_core::es::credentials::{
    choose_ca, choose_credentials, CaSource, ChoiceError, CredentialFlags, Credentials, Discovered,
    SecretKey,
};

use crate::es::discovery::forwarded_url;
use crate::es::{Auth, ClientConfig, EsClient, Failed, Redacted};
use crate::k8s::elasticsearch::{find_service, forward_service, read_secret};
use crate::k8s::{K8sError, Kube};

/// Where the cluster is: `--kubeconfig` and `--context`. Connected on use, so a command given
/// `--es-url` and no Secrets never reads a kubeconfig.
#[derive(Debug, Clone, Default)]
pub struct KubeConfigRef {
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
}

impl KubeConfigRef {
    pub async fn connect(&self) -> Result<Kube, K8sError> {
        Kube::connect(self.kubeconfig.as_deref(), self.context.as_deref()).await
    }
}

/// How to reach Elasticsearch, as the flags said.
#[derive(Debug, Clone, Default)]
pub struct EsOptions {
    pub es_url: Option<String>,
    pub username: Option<String>,
    pub password: Option<Redacted>,
    /// `NAME[/KEY]`.
    pub password_secret: Option<String>,
    pub api_key: Option<Redacted>,
    /// `--ca-file`: a PEM file, read when connecting.
    pub ca_file: Option<PathBuf>,
    /// `NAME[/KEY]`.
    pub ca_secret: Option<String>,
    pub insecure: bool,
    pub timeout: Duration,
    /// `-n`: where discovery looks, and where Secrets are with `--es-url`.
    pub namespace: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    // Not `transparent`: the K8sError and Failed stay in the error chain, where the command line
    // finds them for their hints (their messages are printed once).
    #[error("{0}")]
    Kubernetes(#[from] K8sError),
    #[error("{0}")]
    Elasticsearch(#[from] Failed),
    #[error("{0}")]
    Choice(#[from] ChoiceError),
    #[error("failed to read CA file {}: {source}", path.display())]
    CaFile {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Reads a Secret's key, connecting to the cluster the first time one is needed.
async fn read(
    connected: &mut Option<Kube>,
    kube: &KubeConfigRef,
    at: &SecretKey,
) -> Result<String, K8sError> {
    let client = match connected {
        Some(client) => client,
        None => connected.insert(kube.connect().await?),
    };
    read_secret(client, &at.namespace, &at.name, &at.key).await
}

/// Connects, discovering Elasticsearch in the cluster unless `--es-url` was given.
pub async fn connect(options: &EsOptions, kube: &KubeConfigRef) -> Result<EsClient, ConnectError> {
    let ca_file_pem = match &options.ca_file {
        Some(path) => Some(std::fs::read(path).map_err(|source| ConnectError::CaFile {
            path: path.clone(),
            source,
        })?),
        None => None,
    };
    let mut config = ClientConfig {
        url: String::new(),
        auth: Auth::None,
        ca_pem: ca_file_pem,
        insecure: options.insecure,
        resolve: None,
        timeout: options.timeout,
    };
    let mut connected = None;
    let found = match &options.es_url {
        Some(url) => {
            config.url = url.clone();
            None
        }
        None => {
            let client = kube.connect().await?;
            let target = find_service(&client, options.namespace.as_deref()).await?;
            let port =
                forward_service(&client, &target.namespace, &target.service, target.port).await?;
            let (url, pinned) = forwarded_url(&target, port);
            config.url = url;
            config.resolve =
                pinned.map(|h| (h, std::net::SocketAddr::from(([127, 0, 0, 1], port))));
            connected = Some(client);
            Some(target)
        }
    };
    let secret_namespace = found
        .as_ref()
        .map(|t| t.namespace.as_str())
        .or(options.namespace.as_deref());
    let discovered = found.as_ref().map(|t| Discovered {
        namespace: &t.namespace,
        service: &t.service,
        https: t.https,
    });
    match choose_ca(
        options.ca_file.is_some(),
        options.ca_secret.as_deref(),
        options.insecure,
        secret_namespace,
        discovered,
    )? {
        CaSource::System | CaSource::File => {}
        CaSource::Secret(at) => {
            config.ca_pem = Some(read(&mut connected, kube, &at).await?.into_bytes())
        }
        // Best effort: without it the system's roots are tried, and the TLS error says what failed.
        CaSource::EckPublic(at) => {
            config.ca_pem = read(&mut connected, kube, &at)
                .await
                .ok()
                .map(String::into_bytes)
        }
    }
    let flags = CredentialFlags {
        api_key: options.api_key.is_some(),
        password: options.password.is_some(),
        username: options.username.as_deref(),
        password_secret: options.password_secret.as_deref(),
    };
    let eck_user = found.as_ref().and_then(|t| t.eck_user_secret.as_deref());
    config.auth = match choose_credentials(flags, secret_namespace, eck_user)? {
        Credentials::None => Auth::None,
        Credentials::ApiKey => options
            .api_key
            .clone()
            .map(Auth::ApiKey)
            .unwrap_or_default(),
        Credentials::Password { username } => options
            .password
            .clone()
            .map(|password| Auth::Basic { username, password })
            .unwrap_or_default(),
        Credentials::PasswordFrom { secret, username } => Auth::Basic {
            username,
            password: Redacted::new(read(&mut connected, kube, &secret).await?),
        },
    };
    let client = EsClient::connect(&config).await?;
    tracing::info!(version = %client.version, "using");
    Ok(client)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_ca_file_is_named_before_anything_is_reached() {
        let options = EsOptions {
            es_url: Some("https://127.0.0.1:1".into()),
            ca_file: Some("/nonexistent/ca.pem".into()),
            ..EsOptions::default()
        };
        let err = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(connect(&options, &KubeConfigRef::default()))
            .unwrap_err();
        assert!(matches!(err, ConnectError::CaFile { .. }), "{err}");
        assert!(
            err.to_string()
                .starts_with("failed to read CA file /nonexistent/ca.pem:"),
            "{err}"
        );
    }
}
