//! Asks a TLS server for its certificate the way the API server asks the webhook: trusting only the
//! caBundle and expecting the Service's DNS name. A handshake that succeeds here is one the API
//! server can make.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};

#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("failed to read the caBundle as PEM: {0}")]
    BadPem(rustls::pki_types::pem::Error),
    #[error("the caBundle holds a certificate rustls cannot use: {0}")]
    BadCa(rustls::Error),
    #[error("the caBundle holds no certificate")]
    NoCa,
    #[error("failed to set up TLS: {0}")]
    Setup(rustls::Error),
    #[error("{0} is not a valid server name")]
    BadName(String),
    #[error("no TLS handshake within {0}s")]
    Timeout(u64),
    #[error("TLS handshake as {name}, trusting only the caBundle, failed: {source}")]
    Handshake {
        name: String,
        source: std::io::Error,
    },
    #[error("the server sent no certificate")]
    NoCertificate,
}

/// The leaf certificate the server presents, after a handshake that verified it against `ca_bundle`
/// (PEM) for `server_name`.
pub async fn served_certificate(
    addr: SocketAddr,
    ca_bundle: &str,
    server_name: &str,
    timeout: Duration,
) -> Result<CertificateDer<'static>, ProbeError> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_bundle.as_bytes()) {
        roots
            .add(cert.map_err(ProbeError::BadPem)?)
            .map_err(ProbeError::BadCa)?;
    }
    if roots.is_empty() {
        return Err(ProbeError::NoCa);
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(ProbeError::Setup)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = ServerName::try_from(server_name.to_owned())
        .map_err(|_| ProbeError::BadName(server_name.to_owned()))?;
    let handshake = async {
        let tcp = tokio::net::TcpStream::connect(addr).await?;
        tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await
    };
    let tls = tokio::time::timeout(timeout, handshake)
        .await
        .map_err(|_| ProbeError::Timeout(timeout.as_secs()))?
        .map_err(|source| ProbeError::Handshake {
            name: server_name.to_owned(),
            source,
        })?;
    let (_, session) = tls.get_ref();
    session
        .peer_certificates()
        .and_then(|chain| chain.first())
        .map(|leaf| leaf.clone().into_owned())
        .ok_or(ProbeError::NoCertificate)
}

/// The first certificate of a PEM text, as DER.
pub fn first_der(pem: &str) -> Option<CertificateDer<'static>> {
    CertificateDer::pem_slice_iter(pem.as_bytes()).next()?.ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::webhook_install::certs;
    use rustls::pki_types::PrivateKeyDer;

    /// A TLS server on 127.0.0.1 presenting `cert_pem`; it completes handshakes and says nothing.
    async fn serve(cert_pem: &str, key_pem: &str) -> SocketAddr {
        let chain: Vec<CertificateDer<'static>> =
            CertificateDer::pem_slice_iter(cert_pem.as_bytes())
                .map(|c| c.expect("cert"))
                .collect();
        let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).expect("key");
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .expect("server config");
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    if let Ok(mut tls) = acceptor.accept(tcp).await {
                        let _ = tokio::io::AsyncWriteExt::shutdown(&mut tls).await;
                    }
                });
            }
        });
        addr
    }

    const SECOND: Duration = Duration::from_secs(5);

    #[tokio::test]
    async fn a_server_the_ca_bundle_trusts_hands_over_its_certificate() {
        let now = jiff::Timestamp::now();
        let names = certs::service_names("logbackup-webhook", "logbackup-system");
        let (ca, ca_key) = certs::new_ca(now).expect("ca");
        let (cert, key) = certs::issue_serving(&ca, &ca_key, &names, now).expect("serving");
        let addr = serve(&cert, &key).await;

        let served = served_certificate(addr, &ca, &names[0], SECOND)
            .await
            .expect("handshake");
        assert_eq!(Some(served), first_der(&cert));

        // Another CA, as after a caBundle that was not updated: the handshake must fail.
        let (other_ca, _) = certs::new_ca(now).expect("other ca");
        let err = served_certificate(addr, &other_ca, &names[0], SECOND)
            .await
            .expect_err("untrusted");
        assert!(
            err.to_string().contains("trusting only the caBundle"),
            "{err}"
        );

        // A name the certificate does not cover, as when the webhook moved namespace.
        let err = served_certificate(addr, &ca, "logbackup-webhook.other.svc", SECOND)
            .await
            .expect_err("name");
        assert!(err.to_string().contains("handshake"), "{err}");

        assert!(served_certificate(addr, "not pem", &names[0], SECOND)
            .await
            .is_err());
    }
}
