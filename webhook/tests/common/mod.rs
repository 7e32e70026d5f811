//! Shared by the integration tests: fixtures, AdmissionReview bodies, a throwaway CA, and the real
//! webhook binary started on free loopback ports.
#![allow(dead_code)] // each test file uses a different subset

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, SerialNumber,
};
use serde_json::{json, Value};

pub const UID: &str = "7f0b2d4a-1c3e-4b5f-9a6d-8e7f6a5b4c3d";

pub fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/inject")
}

pub fn read_yaml(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("failed to read {}: {e}", path.display()));
    serde_saphyr::from_str::<Value>(&text)
        .unwrap_or_else(|e| panic!("failed to parse {}: {e}", path.display()))
}

/// The smoke fixture: a labelled KubeSphere-like StatefulSet.
pub fn smoke_statefulset() -> Value {
    read_yaml(&fixture_dir().join("webhook-smoke.yaml"))
}

pub fn admission_review(uid: &str, operation: &str, object: &Value) -> Value {
    // The API server always sends a name ("" under generateName), never null.
    let name = object
        .pointer("/metadata/name")
        .cloned()
        .unwrap_or(json!(""));
    let namespace = object
        .pointer("/metadata/namespace")
        .cloned()
        .unwrap_or(Value::Null);
    json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": uid,
            "kind": {"group": "apps", "version": "v1", "kind": "StatefulSet"},
            "resource": {"group": "apps", "version": "v1", "resource": "statefulsets"},
            "requestKind": {"group": "apps", "version": "v1", "kind": "StatefulSet"},
            "requestResource": {"group": "apps", "version": "v1", "resource": "statefulsets"},
            "name": name,
            "namespace": namespace,
            "operation": operation,
            "userInfo": {"username": "system:serviceaccount:kubesphere-system:ks-installer", "groups": ["system:authenticated"]},
            "object": object,
            "oldObject": null,
            "dryRun": false,
            "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"}
        }
    })
}

/// Decodes `response.patch` (base64 JSON Patch) from an AdmissionReview answer.
pub fn decode_patch(answer: &Value) -> Option<json_patch::Patch> {
    use base64::Engine as _;
    let encoded = answer.pointer("/response/patch")?.as_str()?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .expect("patch is not base64");
    Some(serde_json::from_slice(&bytes).expect("patch is not a JSON Patch"))
}

pub struct TestCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

pub struct Leaf {
    pub cert_pem: String,
    pub key_pem: String,
    pub der: Vec<u8>,
}

impl TestCa {
    pub fn new() -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "logbackup-webhook test CA");
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        TestCa { issuer }
    }

    pub fn pem(&self) -> String {
        self.issuer.pem()
    }

    pub fn leaf(&self, serial: u8) -> Leaf {
        let mut params =
            CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
        params.serial_number = Some(SerialNumber::from_slice(&[0x10, serial]));
        params
            .distinguished_name
            .push(DnType::CommonName, "logbackup-webhook.test");
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Leaf {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            der: cert.der().to_vec(),
        }
    }

    /// A client that trusts only this CA.
    pub fn client(&self) -> reqwest::Client {
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(rustls::pki_types::CertificateDer::from(
                self.issuer.der().to_vec(),
            ))
            .unwrap();
        let tls = self.rustls_client_config(roots);
        reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .tls_info(true)
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap()
    }

    pub fn roots(&self) -> rustls::RootCertStore {
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(rustls::pki_types::CertificateDer::from(
                self.issuer.der().to_vec(),
            ))
            .unwrap();
        roots
    }

    pub fn rustls_client_config(&self, roots: rustls::RootCertStore) -> rustls::ClientConfig {
        rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth()
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free port on 127.0.0.1")
}

/// A private directory under the system temp dir, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "logbackup-webhook-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Writes a file by rename, as kubelet's atomic Secret update does, so the server never reads half.
pub fn write_atomically(path: &Path, contents: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, contents).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// The compiled webhook binary, serving on free loopback ports; killed on drop if still running.
pub struct Webhook {
    pub child: Child,
    pub admission: SocketAddr,
    pub ops: SocketAddr,
    pub dir: TempDir,
}

impl Webhook {
    pub fn start(ca: &TestCa, extra: &[&str]) -> Self {
        Self::start_with(ca, extra, Stdio::inherit())
    }

    pub fn start_with(ca: &TestCa, extra: &[&str], stderr: Stdio) -> Self {
        let dir = TempDir::new("tls");
        let leaf = ca.leaf(1);
        write_atomically(&dir.0.join("tls.crt"), &leaf.cert_pem);
        write_atomically(&dir.0.join("tls.key"), &leaf.key_pem);
        let admission: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let ops: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_logbackup-webhook"))
            .arg("--listen")
            .arg(admission.to_string())
            .arg("--ops-listen")
            .arg(ops.to_string())
            .arg("--tls-cert-file")
            .arg(dir.0.join("tls.crt"))
            .arg("--tls-key-file")
            .arg(dir.0.join("tls.key"))
            .args(["--shutdown-delay", "0s"])
            .args(if extra.contains(&"--log-level") {
                &[][..]
            } else {
                &["--log-level", "warn"][..]
            })
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("failed to start logbackup-webhook");
        let webhook = Webhook {
            child,
            admission,
            ops,
            dir,
        };
        webhook.wait_ready(Duration::from_secs(20));
        webhook
    }

    pub fn url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{path}", self.admission.port())
    }

    pub fn ops_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.ops)
    }

    /// Polls /readyz until it answers 200, failing the test at the deadline.
    fn wait_ready(&self, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            if http_get_status(self.ops, "/readyz") == Some(200)
                && std::net::TcpStream::connect(self.admission).is_ok()
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "logbackup-webhook was not ready within {within:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits for the process to exit, failing the test at the deadline.
    pub fn wait_exit(&mut self, within: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "logbackup-webhook did not exit within {within:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn sigterm(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("failed to run kill");
        assert!(status.success(), "kill -TERM failed");
    }
}

impl Drop for Webhook {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Minimal blocking HTTP/1.1 GET, for the plain ops port (no client crate needed for it).
pub fn http_get(addr: SocketAddr, path: &str) -> Option<(u16, String)> {
    use std::io::{Read, Write};
    let mut stream =
        std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(500)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).ok()?;
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned())?;
    Some((status, body))
}

/// The value of an unlabelled metric on the webhook's /metrics.
pub fn metric(webhook: &Webhook, name: &str) -> f64 {
    let text = http_get(webhook.ops, "/metrics").expect("metrics").1;
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in {text}"))
}

pub fn http_get_status(addr: SocketAddr, path: &str) -> Option<u16> {
    http_get(addr, path).map(|(s, _)| s)
}
