//! HTTP to Elasticsearch/OpenSearch with reqwest (rustls on ring). Every call names what it attempts,
//! so errors read "failed to register repository ks-log-snapshots: ...".

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::auth::Auth;
use super::error::{EsError, Failed};
use super::types::*;
use super::version::ServerVersion;

/// How to reach the server.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    pub url: String,
    pub auth: Auth,
    /// PEM CA certificates to trust (from --ca-file or a Secret).
    pub ca_pem: Option<Vec<u8>>,
    pub insecure: bool,
    /// Pins a host name to an address: the port-forward keeps the certificate's name.
    pub resolve: Option<(String, std::net::SocketAddr)>,
    pub timeout: Duration,
}

#[derive(Debug, Clone)]
pub struct EsClient {
    http: reqwest::Client,
    base: String,
    auth_header: Option<String>,
    pub version: ServerVersion,
    pub cluster_name: String,
}

pub(super) fn failed(action: impl Into<String>, source: EsError) -> Failed {
    Failed {
        action: action.into(),
        source,
    }
}

pub(super) fn enc(segment: &str) -> String {
    // Names are validated elsewhere; only characters that would change the URL's shape are escaped.
    segment
        .replace('%', "%25")
        .replace('/', "%2F")
        .replace('?', "%3F")
        .replace('#', "%23")
        .replace(' ', "%20")
}

impl EsClient {
    /// Connects and detects flavour and version with `GET /`.
    pub async fn connect(config: &ClientConfig) -> Result<Self, Failed> {
        let action = format!(
            "connect to {}",
            logbackup_core::es::auth::redact_url_credentials(&config.url)
        );
        let mut builder = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(config.timeout)
            .danger_accept_invalid_certs(config.insecure);
        if let Some(pem) = &config.ca_pem {
            let cert = reqwest::Certificate::from_pem(pem).map_err(|e| {
                failed(
                    &action,
                    EsError::Transport(format!("invalid CA certificate: {e}")),
                )
            })?;
            builder = builder.add_root_certificate(cert);
        }
        if let Some((host, addr)) = &config.resolve {
            builder = builder.resolve(host, *addr);
        }
        let http = builder
            .build()
            .map_err(|e| failed(&action, EsError::Transport(e.to_string())))?;
        let base = config.url.trim_end_matches('/').to_string();
        let auth_header = config.auth.header();
        let probe = Self {
            http,
            base,
            auth_header,
            version: ServerVersion {
                flavour: super::Flavour::Elasticsearch,
                number: String::new(),
                major: 0,
                minor: 0,
            },
            cluster_name: String::new(),
        };
        let info: InfoResponse = probe.get("/", &[], &action).await?;
        let version = ServerVersion::detect(&info).map_err(|e| failed(&action, e))?;
        tracing::info!(%version, cluster = %info.cluster_name, "connected");
        Ok(Self {
            version,
            cluster_name: info.cluster_name,
            ..probe
        })
    }

    /// Sends the request; the response's body is still to be read.
    pub(super) async fn respond<B: Serialize + ?Sized>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&B>,
    ) -> Result<reqwest::Response, EsError> {
        let url = format!("{}{path}", self.base);
        let mut request = self.http.request(method.clone(), &url).query(query);
        if let Some(header) = &self.auth_header {
            request = request.header(reqwest::header::AUTHORIZATION, header);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        tracing::debug!(%method, path, ?query, "request");
        request
            .send()
            .await
            .map_err(|e| EsError::Transport(transport_message(&e)))
    }

    pub(super) async fn send<B: Serialize + ?Sized>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&B>,
    ) -> Result<(StatusCode, Vec<u8>), EsError> {
        let response = self.respond(method, path, query, body).await?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| EsError::Transport(transport_message(&e)))?;
        tracing::debug!(status = status.as_u16(), len = bytes.len(), "response");
        Ok((status, bytes.to_vec()))
    }

    pub(super) async fn call<T: DeserializeOwned, B: Serialize + ?Sized>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&B>,
        action: &str,
    ) -> Result<T, Failed> {
        let (status, bytes) = self
            .send(method, path, query, body)
            .await
            .map_err(|e| failed(action, e))?;
        if !status.is_success() {
            return Err(failed(
                action,
                EsError::from_response(status.as_u16(), &bytes),
            ));
        }
        serde_json::from_slice(&bytes).map_err(|e| failed(action, EsError::Decode(e.to_string())))
    }

    /// `GET path?query`, decoded; errors name `action`.
    pub(super) async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
        action: &str,
    ) -> Result<T, Failed> {
        self.call(Method::GET, path, query, None::<&()>, action)
            .await
    }

    /// `PUT path?query` with an optional JSON body, decoded.
    pub(super) async fn put<T: DeserializeOwned, B: Serialize + ?Sized>(
        &self,
        path: &str,
        query: &[(&str, String)],
        body: Option<&B>,
        action: &str,
    ) -> Result<T, Failed> {
        self.call(Method::PUT, path, query, body, action).await
    }

    /// `POST path?query` with an optional JSON body, decoded.
    pub(super) async fn post<T: DeserializeOwned, B: Serialize + ?Sized>(
        &self,
        path: &str,
        query: &[(&str, String)],
        body: Option<&B>,
        action: &str,
    ) -> Result<T, Failed> {
        self.call(Method::POST, path, query, body, action).await
    }

    /// `DELETE path?query`, decoded.
    pub(super) async fn delete<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
        action: &str,
    ) -> Result<T, Failed> {
        self.call(Method::DELETE, path, query, None::<&()>, action)
            .await
    }

    pub(super) fn master_timeout(&self) -> (&'static str, String) {
        (self.version.master_timeout_param(), "60s".to_string())
    }

    pub async fn nodes_settings(&self) -> Result<NodesInfoResponse, Failed> {
        self.get("/_nodes/settings", &[], "read node settings (path.repo)")
            .await
    }

    pub async fn nodes_fs(&self) -> Result<NodesStatsResponse, Failed> {
        self.get("/_nodes/stats/fs", &[], "read node disk usage")
            .await
    }

    /// The disks of the data nodes: what a restore must fit on and what `status` reports.
    pub async fn data_node_disks(
        &self,
    ) -> Result<Vec<logbackup_core::snapshot::restore::NodeDisk>, Failed> {
        Ok(self
            .nodes_fs()
            .await?
            .nodes
            .values()
            .filter(|n| n.is_data())
            .map(|n| n.disk())
            .collect())
    }

    /// All repositories, or one (404 `repository_missing_exception` if absent).
    pub async fn repositories(
        &self,
        name: Option<&str>,
    ) -> Result<BTreeMap<String, RepositoryInfo>, Failed> {
        let (path, action) = match name {
            Some(n) => (
                format!("/_snapshot/{}", enc(n)),
                format!("get repository {n}"),
            ),
            None => ("/_snapshot".to_string(), "list repositories".to_string()),
        };
        self.get(&path, &[], &action).await
    }

    /// Registers without server-side verification: `verify_repository` runs next so its failure is
    /// reported on its own, with hints.
    pub async fn put_repository<B: Serialize + ?Sized>(
        &self,
        name: &str,
        body: &B,
    ) -> Result<(), Failed> {
        let query = [self.master_timeout(), ("verify", "false".to_string())];
        let action = format!("register repository {name}");
        let _: Acknowledged = self
            .put(
                &format!("/_snapshot/{}", enc(name)),
                &query,
                Some(body),
                &action,
            )
            .await?;
        Ok(())
    }

    pub async fn verify_repository(&self, name: &str) -> Result<VerifyResponse, Failed> {
        let action = format!("verify repository {name}");
        self.post(
            &format!("/_snapshot/{}/_verify", enc(name)),
            &[self.master_timeout()],
            None::<&()>,
            &action,
        )
        .await
    }

    pub async fn delete_repository(&self, name: &str) -> Result<(), Failed> {
        let action = format!("remove repository {name}");
        let _: Acknowledged = self
            .delete(
                &format!("/_snapshot/{}", enc(name)),
                &[self.master_timeout()],
                &action,
            )
            .await?;
        Ok(())
    }

    /// Starts a snapshot and returns at once (`wait_for_completion=false`): progress is polled with
    /// `snapshot_status`, so no long request can time out and be retried into a duplicate.
    pub async fn start_snapshot(
        &self,
        repo: &str,
        name: &str,
        body: &CreateSnapshot,
    ) -> Result<(), Failed> {
        let query = [
            self.master_timeout(),
            ("wait_for_completion", "false".to_string()),
        ];
        let action = format!("start snapshot {repo}:{name}");
        // Servers without snapshot metadata reject the field: the counts are then not recorded.
        let bare;
        let body = if body.metadata.is_some() && !self.version.snapshot_metadata() {
            bare = CreateSnapshot {
                metadata: None,
                ..body.clone()
            };
            &bare
        } else {
            body
        };
        let _: CreateSnapshotResponse = self
            .put(
                &format!("/_snapshot/{}/{}", enc(repo), enc(name)),
                &query,
                Some(body),
                &action,
            )
            .await?;
        Ok(())
    }

    pub async fn snapshot_status(&self, repo: &str, name: &str) -> Result<SnapshotStatus, Failed> {
        let action = format!("read the status of snapshot {repo}:{name}");
        let response: SnapshotStatusResponse = self
            .get(
                &format!("/_snapshot/{}/{}/_status", enc(repo), enc(name)),
                &[],
                &action,
            )
            .await?;
        response.snapshots.into_iter().next().ok_or_else(|| {
            failed(
                action,
                EsError::Decode("no snapshot in the status response".into()),
            )
        })
    }

    /// Snapshots matching `pattern` (`_all` for every one) in `repo`.
    pub async fn snapshots(&self, repo: &str, pattern: &str) -> Result<Vec<SnapshotInfo>, Failed> {
        let action = if pattern == "_all" {
            format!("list snapshots in {repo}")
        } else {
            format!("get snapshot {repo}:{pattern}")
        };
        let response: GetSnapshotsResponse = self
            .get(
                &format!("/_snapshot/{}/{}", enc(repo), enc(pattern)),
                &[],
                &action,
            )
            .await?;
        Ok(response.snapshots)
    }

    pub async fn delete_snapshot(&self, repo: &str, name: &str) -> Result<(), Failed> {
        let mut query = vec![self.master_timeout()];
        if self.version.delete_snapshot_waits() {
            query.push(("wait_for_completion", "true".to_string()));
        }
        let action = format!("delete snapshot {repo}:{name}");
        let _: Acknowledged = self
            .delete(
                &format!("/_snapshot/{}/{}", enc(repo), enc(name)),
                &query,
                &action,
            )
            .await?;
        Ok(())
    }

    pub async fn restore(
        &self,
        repo: &str,
        name: &str,
        body: &RestoreRequest,
    ) -> Result<(), Failed> {
        let query = [
            self.master_timeout(),
            ("wait_for_completion", "false".to_string()),
        ];
        let action = format!("restore snapshot {repo}:{name}");
        let _: serde_json::Value = self
            .post(
                &format!("/_snapshot/{}/{}/_restore", enc(repo), enc(name)),
                &query,
                Some(body),
                &action,
            )
            .await?;
        Ok(())
    }

    pub async fn recovery(
        &self,
        indices: &[String],
    ) -> Result<BTreeMap<String, IndexRecovery>, Failed> {
        let list = indices.join(",");
        let action = format!("read recovery of {list}");
        self.get(&format!("/{}/_recovery", enc(&list)), &[], &action)
            .await
    }

    /// Every index with its state and primary store size in bytes.
    pub async fn indices(&self) -> Result<Vec<CatIndex>, Failed> {
        let query = [
            ("format", "json".to_string()),
            ("bytes", "b".to_string()),
            ("h", "index,status,health,rep,pri.store.size".to_string()),
            ("expand_wildcards", "all".to_string()),
        ];
        self.get("/_cat/indices", &query, "list indices").await
    }

    pub async fn close_index(&self, index: &str) -> Result<(), Failed> {
        let action = format!("close index {index}");
        let _: Acknowledged = self
            .post(
                &format!("/{}/_close", enc(index)),
                &[self.master_timeout()],
                None::<&()>,
                &action,
            )
            .await?;
        Ok(())
    }

    pub async fn delete_index(&self, index: &str) -> Result<(), Failed> {
        let action = format!("delete index {index}");
        let _: Acknowledged = self
            .delete(
                &format!("/{}", enc(index)),
                &[self.master_timeout()],
                &action,
            )
            .await?;
        Ok(())
    }
}

pub(super) fn transport_message(e: &reqwest::Error) -> String {
    // reqwest's Display stops at the outermost cause ("error sending request"); the root cause says why.
    let mut message = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        message = format!("{message}: {s}");
        source = s.source();
    }
    logbackup_core::es::auth::redact_url_credentials(&message)
}
