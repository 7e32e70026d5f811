//! etcd's v3 API over its JSON gateway (`/v3/...` on the client port, served by etcd 3.4 and later,
//! on by default): the same Maintenance, Cluster and KV calls `etcdctl` makes over gRPC,
//! through the reqwest + rustls stack the plugin already has. No gRPC stack, no protoc, no
//! `etcdctl` in the image.

use std::time::Duration;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde::{Deserialize, Deserializer};

use logbackup_core::etcd::keys::{class_of, prefix_end, prefix_of, KeyCounts, OTHER_KEYS};
use logbackup_core::etcd::record::Member;

/// kubeadm's layout: the etcd CA and the client certificate kubeadm makes for health checks.
pub const KUBEADM_ENDPOINT: &str = "https://127.0.0.1:2379";
pub const KUBEADM_CA: &str = "/etc/kubernetes/pki/etcd/ca.crt";
pub const KUBEADM_CERT: &str = "/etc/kubernetes/pki/etcd/healthcheck-client.crt";
pub const KUBEADM_KEY: &str = "/etc/kubernetes/pki/etcd/healthcheck-client.key";

/// Keys per range request for keys outside any class (the classes are counted by etcd itself).
const PAGE: u64 = 10_000;

#[derive(Debug, thiserror::Error)]
pub enum EtcdError {
    #[error("etcd is not reachable at {endpoint}: {why}. Is etcd running there? On a kubeadm control-plane node it listens on https://127.0.0.1:2379 (--endpoints)")]
    Unreachable { endpoint: String, why: String },
    #[error("the TLS handshake with etcd at {endpoint} failed: {why}. etcd requires a client certificate its CA signed: pass --cacert, --cert and --key (kubeadm: /etc/kubernetes/pki/etcd/ca.crt, healthcheck-client.crt, healthcheck-client.key)")]
    Tls { endpoint: String, why: String },
    #[error("cannot read {what} {path}: {why}")]
    File {
        what: &'static str,
        path: String,
        why: String,
    },
    #[error("etcd at {endpoint} refused {call}: {message}")]
    Refused {
        endpoint: String,
        call: &'static str,
        message: String,
    },
    #[error("etcd at {endpoint} answered {call} with something that is not its API: {why}")]
    Protocol {
        endpoint: String,
        call: &'static str,
        why: String,
    },
    #[error("{0}")]
    Write(String),
}

/// Where etcd is and how to prove who we are.
#[derive(Debug, Clone, Default)]
pub struct Connection {
    pub endpoint: String,
    pub ca: Option<std::path::PathBuf>,
    pub cert: Option<std::path::PathBuf>,
    pub key: Option<std::path::PathBuf>,
    pub timeout: Option<Duration>,
}

#[derive(Debug, Clone)]
pub struct EtcdClient {
    http: reqwest::Client,
    pub endpoint: String,
}

fn read(what: &'static str, path: &std::path::Path) -> Result<Vec<u8>, EtcdError> {
    std::fs::read(path).map_err(|e| EtcdError::File {
        what,
        path: path.display().to_string(),
        why: e.to_string(),
    })
}

/// A reqwest error with its causes, which is where rustls and the OS say what went wrong.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let message = s.to_string();
        if !text.contains(&message) {
            text.push_str(": ");
            text.push_str(&message);
        }
        source = s.source();
    }
    text
}

fn u64_text<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum N {
        S(String),
        N(u64),
    }
    match N::deserialize(d)? {
        N::N(n) => Ok(n),
        N::S(s) => s.parse().map_err(serde::de::Error::custom),
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Header {
    #[serde(default, deserialize_with = "u64_text")]
    pub cluster_id: u64,
    #[serde(default, deserialize_with = "u64_text")]
    pub member_id: u64,
    #[serde(default, deserialize_with = "u64_text")]
    pub revision: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Status {
    #[serde(default)]
    pub header: Header,
    pub version: String,
}

#[derive(Deserialize)]
struct MemberJson {
    #[serde(rename = "ID", default, deserialize_with = "u64_text")]
    id: u64,
    #[serde(default)]
    name: String,
    #[serde(rename = "peerURLs", default)]
    peer_urls: Vec<String>,
    #[serde(rename = "clientURLs", default)]
    client_urls: Vec<String>,
}

#[derive(Deserialize)]
struct Members {
    #[serde(default)]
    members: Vec<MemberJson>,
}

#[derive(Deserialize)]
struct Kv {
    key: String,
}

#[derive(Deserialize)]
struct Range {
    #[serde(default)]
    header: Header,
    #[serde(default, deserialize_with = "u64_text")]
    count: u64,
    #[serde(default)]
    kvs: Vec<Kv>,
    #[serde(default)]
    more: bool,
}

#[derive(Deserialize)]
struct GatewayError {
    #[serde(default)]
    message: String,
    #[serde(default)]
    error: String,
}

#[derive(Deserialize)]
struct StreamLine {
    result: Option<SnapshotChunk>,
    error: Option<GatewayError>,
}

#[derive(Deserialize)]
struct SnapshotChunk {
    #[serde(default)]
    blob: String,
}

/// etcd's JSON gateway reaches etcd's gRPC server over TLS as a client, with etcd's own serving
/// certificate; with --client-cert-auth that certificate must also allow client authentication
/// (kubeadm's does). When it does not, every call fails with a 503 about a broken pipe, a closed
/// connection or a bad certificate.
fn gateway_hint(status: reqwest::StatusCode, message: &str) -> &'static str {
    let m = message.to_lowercase();
    if status == reqwest::StatusCode::SERVICE_UNAVAILABLE
        && (m.contains("broken pipe")
            || m.contains("bad certificate")
            || m.contains("connection closed")
            || m.contains("connection reset"))
    {
        ". etcd's API gateway could not reach etcd itself: with --client-cert-auth, etcd's serving certificate (--cert-file) must also allow client authentication (extended key usage clientAuth), as kubeadm's does"
    } else {
        ""
    }
}

impl EtcdClient {
    pub fn new(c: &Connection) -> Result<Self, EtcdError> {
        let mut b = reqwest::Client::builder()
            .use_rustls_tls()
            .connect_timeout(Duration::from_secs(5));
        if let Some(t) = c.timeout {
            b = b.timeout(t);
        }
        if let Some(ca) = &c.ca {
            let pem = read("the etcd CA certificate (--cacert)", ca)?;
            let cert = reqwest::Certificate::from_pem(&pem).map_err(|e| EtcdError::File {
                what: "the etcd CA certificate (--cacert)",
                path: ca.display().to_string(),
                why: chain(&e),
            })?;
            b = b.tls_built_in_root_certs(false).add_root_certificate(cert);
        }
        match (&c.cert, &c.key) {
            (Some(cert), Some(key)) => {
                let mut pem = read("the client certificate (--cert)", cert)?;
                pem.push(b'\n');
                pem.extend(read("the client key (--key)", key)?);
                let identity = reqwest::Identity::from_pem(&pem).map_err(|e| EtcdError::File {
                    what: "the client certificate and key (--cert, --key)",
                    path: format!("{} + {}", cert.display(), key.display()),
                    why: chain(&e),
                })?;
                b = b.identity(identity);
            }
            (None, None) => {}
            _ => {
                return Err(EtcdError::File {
                    what: "the client certificate",
                    path: "--cert/--key".into(),
                    why: "give both --cert and --key, or neither".into(),
                })
            }
        }
        let http = b.build().map_err(|e| EtcdError::Tls {
            endpoint: c.endpoint.clone(),
            why: chain(&e),
        })?;
        Ok(EtcdClient {
            http,
            endpoint: c.endpoint.trim_end_matches('/').to_owned(),
        })
    }

    fn classify(&self, e: reqwest::Error) -> EtcdError {
        let why = chain(&e);
        let lower = why.to_lowercase();
        // etcd with --client-cert-auth ends a TLS 1.3 connection that brought no certificate (or
        // one its CA did not sign) right after the handshake: the client sees it closed.
        // Depending on timing the client sees a closed stream, a reset or a broken pipe.
        let closed = self.endpoint.starts_with("https://")
            && (lower.contains("connection closed")
                || lower.contains("connection reset")
                || lower.contains("broken pipe")
                || lower.contains("stream closed"));
        if closed
            || lower.contains("certificate")
            || lower.contains("tls")
            || lower.contains("handshake")
            || lower.contains("alert")
        {
            EtcdError::Tls {
                endpoint: self.endpoint.clone(),
                why,
            }
        } else {
            EtcdError::Unreachable {
                endpoint: self.endpoint.clone(),
                why,
            }
        }
    }

    async fn post(
        &self,
        call: &'static str,
        path: &str,
        body: serde_json::Value,
    ) -> Result<reqwest::Response, EtcdError> {
        let response = self
            .http
            .post(format!("{}{path}", self.endpoint))
            .json(&body)
            .send()
            .await
            .map_err(|e| self.classify(e))?;
        if !response.status().is_success() {
            let status = response.status();
            let text = response.text().await.unwrap_or_default();
            let message = serde_json::from_str::<GatewayError>(&text)
                .map(|g| {
                    if g.message.is_empty() {
                        g.error
                    } else {
                        g.message
                    }
                })
                .unwrap_or(text);
            return Err(EtcdError::Refused {
                endpoint: self.endpoint.clone(),
                call,
                message: format!(
                    "{message} (HTTP {status}){}",
                    gateway_hint(status, &message)
                ),
            });
        }
        Ok(response)
    }

    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        call: &'static str,
        path: &str,
        body: serde_json::Value,
    ) -> Result<T, EtcdError> {
        let response = self.post(call, path, body).await?;
        let bytes = response.bytes().await.map_err(|e| self.classify(e))?;
        serde_json::from_slice(&bytes).map_err(|e| EtcdError::Protocol {
            endpoint: self.endpoint.clone(),
            call,
            why: e.to_string(),
        })
    }

    /// Maintenance.Status: the version, the cluster and member ids, the current revision.
    pub async fn status(&self) -> Result<Status, EtcdError> {
        self.call(
            "Maintenance.Status",
            "/v3/maintenance/status",
            serde_json::json!({}),
        )
        .await
    }

    pub async fn members(&self) -> Result<Vec<Member>, EtcdError> {
        let m: Members = self
            .call(
                "Cluster.MemberList",
                "/v3/cluster/member/list",
                serde_json::json!({}),
            )
            .await?;
        Ok(m.members
            .into_iter()
            .map(|m| Member {
                id: format!("{:x}", m.id),
                name: m.name,
                peer_urls: m.peer_urls,
                client_urls: m.client_urls,
            })
            .collect())
    }

    async fn range(&self, body: serde_json::Value) -> Result<Range, EtcdError> {
        self.call("KV.Range", "/v3/kv/range", body).await
    }

    fn key_of(&self, kv: &Kv) -> Result<Vec<u8>, EtcdError> {
        B64.decode(&kv.key).map_err(|e| EtcdError::Protocol {
            endpoint: self.endpoint.clone(),
            call: "KV.Range",
            why: format!("a key is not base64: {e}"),
        })
    }

    /// Keys by class at `revision` (0: the current one), and the revision read. One count-only
    /// range per class (`/registry/<resource>/`): etcd counts, nothing is sent per key; keys
    /// outside any class are paged through.
    pub async fn count_by_prefix(&self, revision: u64) -> Result<(KeyCounts, u64), EtcdError> {
        let mut counts = KeyCounts::new();
        let mut start: Vec<u8> = vec![0];
        let mut at = revision;
        let with_revision = |mut body: serde_json::Value, at: u64| {
            if at > 0 {
                body["revision"] = serde_json::Value::from(at);
            }
            body
        };
        let from = |start: &[u8], limit: u64| {
            serde_json::json!({
                "key": B64.encode(start),
                "range_end": B64.encode([0u8]),
                "keys_only": true,
                "limit": limit,
            })
        };
        loop {
            let probe = self.range(with_revision(from(&start, 1), at)).await?;
            if at == 0 {
                at = probe.header.revision;
            }
            let Some(first) = probe.kvs.first() else {
                return Ok((counts, at));
            };
            let first = self.key_of(first)?;
            if let Some(class) = class_of(&first) {
                let end = prefix_end(class);
                let counted: Range = self
                    .range(with_revision(
                        serde_json::json!({
                            "key": B64.encode(class),
                            "range_end": B64.encode(&end),
                            "count_only": true,
                        }),
                        at,
                    ))
                    .await?;
                *counts.entry(prefix_of(&first)).or_insert(0) += counted.count;
                if end == [0] {
                    return Ok((counts, at));
                }
                start = end;
                continue;
            }
            // Keys outside any class, a page at a time, up to the next class.
            let page = self.range(with_revision(from(&start, PAGE), at)).await?;
            let mut next = None;
            for kv in &page.kvs {
                let key = self.key_of(kv)?;
                if class_of(&key).is_some() {
                    next = Some(key);
                    break;
                }
                *counts.entry(OTHER_KEYS.to_owned()).or_insert(0) += 1;
                let mut after = key;
                after.push(0);
                start = after;
            }
            match next {
                Some(key) => start = key,
                None if !page.more => return Ok((counts, at)),
                None => {}
            }
        }
    }

    /// Maintenance.Snapshot, streamed chunk by chunk into `sink` (etcd appends the SHA-256 of
    /// the database as the last 32 bytes, as `etcdctl snapshot save` writes it).
    pub async fn snapshot(
        &self,
        mut sink: impl FnMut(&[u8]) -> Result<(), String>,
    ) -> Result<u64, EtcdError> {
        let mut response = self
            .post(
                "Maintenance.Snapshot",
                "/v3/maintenance/snapshot",
                serde_json::json!({}),
            )
            .await?;
        let mut line: Vec<u8> = Vec::new();
        let mut written = 0u64;
        let mut handle = |line: &[u8], written: &mut u64| -> Result<(), EtcdError> {
            if line.iter().all(u8::is_ascii_whitespace) {
                return Ok(());
            }
            let parsed: StreamLine =
                serde_json::from_slice(line).map_err(|e| EtcdError::Protocol {
                    endpoint: self.endpoint.clone(),
                    call: "Maintenance.Snapshot",
                    why: e.to_string(),
                })?;
            if let Some(err) = parsed.error {
                return Err(EtcdError::Refused {
                    endpoint: self.endpoint.clone(),
                    call: "Maintenance.Snapshot",
                    message: if err.message.is_empty() {
                        err.error
                    } else {
                        err.message
                    },
                });
            }
            if let Some(chunk) = parsed.result {
                let bytes = B64
                    .decode(chunk.blob.as_bytes())
                    .map_err(|e| EtcdError::Protocol {
                        endpoint: self.endpoint.clone(),
                        call: "Maintenance.Snapshot",
                        why: format!("a chunk is not base64: {e}"),
                    })?;
                sink(&bytes).map_err(EtcdError::Write)?;
                *written += bytes.len() as u64;
            }
            Ok(())
        };
        while let Some(chunk) = response.chunk().await.map_err(|e| self.classify(e))? {
            let mut rest: &[u8] = &chunk;
            while let Some(end) = rest.iter().position(|b| *b == b'\n') {
                line.extend_from_slice(&rest[..end]);
                handle(&line, &mut written)?;
                line.clear();
                rest = &rest[end + 1..];
            }
            line.extend_from_slice(rest);
        }
        handle(&line, &mut written)?;
        Ok(written)
    }
}
