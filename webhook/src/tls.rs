//! The serving certificate: loaded from PEM files, re-read when they change, and handed to every
//! new TLS handshake. Connections already open keep the certificate they started with.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use crate::metrics::Metrics;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("failed to read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("failed to parse {path} as PEM: {reason}")]
    Pem { path: PathBuf, reason: String },
    #[error("{0} holds no certificate")]
    NoCertificate(PathBuf),
    #[error("failed to use the key in {path}: {reason}")]
    Key { path: PathBuf, reason: String },
    #[error("the key in {key} does not belong to the certificate in {cert}: {reason}")]
    Mismatch {
        cert: PathBuf,
        key: PathBuf,
        reason: String,
    },
    #[error("failed to configure TLS: {0}")]
    Config(#[from] rustls::Error),
}

/// Where the certificate and key live, and the pair last read from there.
pub struct CertStore {
    cert_path: PathBuf,
    key_path: PathBuf,
    current: RwLock<Arc<CertifiedKey>>,
    /// Raw file contents last seen, so unchanged files are not parsed again.
    seen: RwLock<(Vec<u8>, Vec<u8>)>,
}

impl fmt::Debug for CertStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertStore")
            .field("cert_path", &self.cert_path)
            .field("key_path", &self.key_path)
            .finish_non_exhaustive()
    }
}

impl CertStore {
    /// Loads the pair once; the process must not start without a usable certificate.
    pub fn load(cert_path: &Path, key_path: &Path) -> Result<Self, TlsError> {
        let (cert_pem, key_pem) = read_pair(cert_path, key_path)?;
        let key = certified_key(cert_path, key_path, &cert_pem, &key_pem)?;
        Ok(CertStore {
            cert_path: cert_path.to_owned(),
            key_path: key_path.to_owned(),
            current: RwLock::new(Arc::new(key)),
            seen: RwLock::new((cert_pem, key_pem)),
        })
    }

    /// Re-reads the files; swaps the certificate when they changed and parse. `Ok(false)` when
    /// nothing changed. On error the previous certificate stays in use.
    pub fn reload(&self) -> Result<bool, TlsError> {
        let (cert_pem, key_pem) = read_pair(&self.cert_path, &self.key_path)?;
        {
            let seen = self.seen.read().unwrap_or_else(|e| e.into_inner());
            if seen.0 == cert_pem && seen.1 == key_pem {
                return Ok(false);
            }
        }
        // A half-written pair (cert updated, key not yet) fails here and is retried next tick,
        // because `seen` is only updated after a successful load.
        let key = certified_key(&self.cert_path, &self.key_path, &cert_pem, &key_pem)?;
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(key);
        *self.seen.write().unwrap_or_else(|e| e.into_inner()) = (cert_pem, key_pem);
        Ok(true)
    }

    /// The rustls server configuration that asks this store for the certificate on each handshake.
    pub fn server_config(self: &Arc<Self>) -> Result<rustls::ServerConfig, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
            .with_no_client_auth()
            .with_cert_resolver(self.clone());
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        // No TLS 1.3 session tickets (rustls sends two after every handshake by default): the API
        // server keeps its connections open and does not resume sessions, so they were wasted
        // work and a second write on each new connection. TLS 1.2 session IDs are unchanged.
        config.send_tls13_tickets = 0;
        Ok(config)
    }

    /// Polls the files every `interval` for the life of the process. Polling, not inotify: Secret
    /// volumes change by swapping a `..data` symlink, which file watches miss or report twice.
    pub async fn watch(self: Arc<Self>, interval: Duration, metrics: Arc<Metrics>) {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_error = String::new();
        loop {
            ticker.tick().await;
            match self.reload() {
                Ok(false) => {}
                Ok(true) => {
                    last_error.clear();
                    metrics
                        .tls_reloads
                        .get_or_create(&crate::metrics::ResultLabels { result: "success" })
                        .inc();
                    tracing::info!(cert = %self.cert_path.display(), "reloaded the TLS certificate");
                }
                Err(e) => {
                    let msg = e.to_string();
                    if msg != last_error {
                        metrics
                            .tls_reloads
                            .get_or_create(&crate::metrics::ResultLabels { result: "error" })
                            .inc();
                        tracing::warn!(error = %msg, "failed to reload the TLS certificate; still serving the previous one");
                        last_error = msg;
                    }
                }
            }
        }
    }
}

impl ResolvesServerCert for CertStore {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        )
    }
}

fn read_pair(cert: &Path, key: &Path) -> Result<(Vec<u8>, Vec<u8>), TlsError> {
    let read = |path: &Path| {
        std::fs::read(path).map_err(|source| TlsError::Read {
            path: path.to_owned(),
            source,
        })
    };
    Ok((read(cert)?, read(key)?))
}

fn certified_key(
    cert_path: &Path,
    key_path: &Path,
    cert_pem: &[u8],
    key_pem: &[u8],
) -> Result<CertifiedKey, TlsError> {
    let certs = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::Pem {
            path: cert_path.to_owned(),
            reason: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate(cert_path.to_owned()));
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| TlsError::Pem {
        path: key_path.to_owned(),
        reason: e.to_string(),
    })?;
    let signing =
        rustls::crypto::ring::sign::any_supported_type(&key).map_err(|e| TlsError::Key {
            path: key_path.to_owned(),
            reason: e.to_string(),
        })?;
    let certified = CertifiedKey::new(certs, signing);
    certified.keys_match().map_err(|e| TlsError::Mismatch {
        cert: cert_path.to_owned(),
        key: key_path.to_owned(),
        reason: e.to_string(),
    })?;
    Ok(certified)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Files(PathBuf);

    impl Files {
        fn new(tag: &str) -> Self {
            let dir = std::env::temp_dir()
                .join(format!("logbackup-tls-unit-{tag}-{}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            Files(dir)
        }
        fn write(&self, name: &str, text: &str) -> PathBuf {
            let path = self.0.join(name);
            std::fs::write(&path, text).unwrap();
            path
        }
    }

    impl Drop for Files {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn pair() -> (String, String) {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        (cert.pem(), key.serialize_pem())
    }

    #[test]
    fn loads_a_matching_pair_and_reloads_only_on_change() {
        let files = Files::new("ok");
        let (cert, key) = pair();
        let (c, k) = (files.write("tls.crt", &cert), files.write("tls.key", &key));
        let store = CertStore::load(&c, &k).unwrap();
        assert!(!store.reload().unwrap(), "unchanged files were reloaded");
        let (cert2, key2) = pair();
        files.write("tls.crt", &cert2);
        files.write("tls.key", &key2);
        assert!(store.reload().unwrap());
    }

    #[test]
    fn rejects_a_key_that_does_not_match_and_keeps_the_old_pair() {
        let files = Files::new("mismatch");
        let (cert, key) = pair();
        let (c, k) = (files.write("tls.crt", &cert), files.write("tls.key", &key));
        let store = CertStore::load(&c, &k).unwrap();
        let before = store.current.read().unwrap().cert.clone();
        let (_, other_key) = pair();
        files.write("tls.key", &other_key);
        assert!(matches!(store.reload(), Err(TlsError::Mismatch { .. })));
        assert_eq!(store.current.read().unwrap().cert, before);
        assert!(matches!(
            CertStore::load(&c, &k),
            Err(TlsError::Mismatch { .. })
        ));
    }

    /// Bytes `from` wants to send, delivered to `to` and processed.
    fn shuttle(
        from: &mut rustls::ConnectionCommon<impl Sized>,
        to: &mut rustls::ConnectionCommon<impl Sized>,
    ) {
        let mut wire = Vec::new();
        while from.wants_write() {
            from.write_tls(&mut wire).unwrap();
        }
        let mut rest = &wire[..];
        while !rest.is_empty() {
            to.read_tls(&mut rest).unwrap();
            to.process_new_packets().unwrap();
        }
    }

    #[test]
    fn sends_no_tls13_session_tickets() {
        use rustls::client::ClientSessionStore as _;
        let files = Files::new("tickets");
        let (cert, key) = pair();
        let (c, k) = (files.write("tls.crt", &cert), files.write("tls.key", &key));
        let store = Arc::new(CertStore::load(&c, &k).unwrap());
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from_pem_slice(cert.as_bytes()).unwrap())
            .unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut client_config = rustls::ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let tickets = Arc::new(rustls::client::ClientSessionMemoryCache::new(8));
        client_config.resumption = rustls::client::Resumption::store(tickets.clone());
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        let mut client =
            rustls::ClientConnection::new(Arc::new(client_config), name.clone()).unwrap();
        let mut server =
            rustls::ServerConnection::new(Arc::new(store.server_config().unwrap())).unwrap();
        for _ in 0..4 {
            shuttle(&mut *client, &mut *server);
            shuttle(&mut *server, &mut *client);
        }
        assert!(!client.is_handshaking() && !server.is_handshaking());
        assert!(
            tickets.take_tls13_ticket(&name).is_none(),
            "the server sent a TLS 1.3 session ticket"
        );
    }

    #[test]
    fn says_which_file_is_missing_or_empty() {
        let files = Files::new("bad");
        let (_, key) = pair();
        let k = files.write("tls.key", &key);
        let missing = files.0.join("nope.crt");
        let err = CertStore::load(&missing, &k).unwrap_err();
        assert!(
            matches!(err, TlsError::Read { .. }) && err.to_string().contains("nope.crt"),
            "{err}"
        );
        let empty = files.write("empty.crt", "");
        assert!(matches!(
            CertStore::load(&empty, &k),
            Err(TlsError::NoCertificate(_))
        ));
    }
}
