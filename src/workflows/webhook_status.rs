//! `webhook status`: gathers the facts (the Deployment, the Service's endpoints, the certificates, a
//! handshake as the API server makes it) and lets the core judge them
//! (`webhook_install::health::evaluate`). Printing is the command line's.

use std::time::Duration;

use jiff::Timestamp;

use crate::k8s::elasticsearch::forward_service;
use crate::k8s::webhook_objects::{self, Observed};
use crate::k8s::{K8sError, Kube};
use crate::tls_probe::{self, ProbeError};
use crate::webhook_install::health::{self, Facts, Handshake, Health};
use crate::webhook_install::manifests::{SERVICE, TLS_SECRET, WEBHOOK_CONFIG, WEBHOOK_PORT};

/// How long the handshake may take: the API server's own webhook timeout is 10s by default.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the webhook could not be reached for a handshake.
#[derive(Debug, thiserror::Error)]
pub enum ReachError {
    #[error("{0}")]
    Kubernetes(#[from] K8sError),
    #[error("{0}")]
    Tls(#[from] ProbeError),
}

/// What `webhook status` needs from a cluster.
#[allow(async_fn_in_trait)] // Used through generics only, on one task: no Send bound needed.
pub trait WebhookStatusCluster {
    /// The Deployment, the caBundle, the serving Secret and the Service's ready endpoints.
    async fn observe(&self, namespace: &str) -> Result<Observed, K8sError>;
    /// The leaf certificate (DER) a webhook pod serves to a client that trusts only `ca_bundle`
    /// and expects the name `host`.
    async fn served_certificate(
        &self,
        namespace: &str,
        ca_bundle: &str,
        host: &str,
    ) -> Result<Vec<u8>, ReachError>;
}

impl WebhookStatusCluster for Kube {
    async fn observe(&self, namespace: &str) -> Result<Observed, K8sError> {
        let served = self.served().await?;
        webhook_objects::observe(
            self,
            served,
            namespace,
            SERVICE,
            WEBHOOK_CONFIG,
            TLS_SECRET,
            SERVICE,
        )
        .await
    }

    async fn served_certificate(
        &self,
        namespace: &str,
        ca_bundle: &str,
        host: &str,
    ) -> Result<Vec<u8>, ReachError> {
        let port = forward_service(self, namespace, SERVICE, WEBHOOK_PORT).await?;
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        let der = tls_probe::served_certificate(addr, ca_bundle, host, HANDSHAKE_TIMEOUT).await?;
        Ok(der.as_ref().to_vec())
    }
}

/// Reads what is installed in `namespace`, shakes hands with a pod when one can answer, and judges.
pub async fn status(
    cluster: &impl WebhookStatusCluster,
    namespace: &str,
    now: Timestamp,
) -> Result<Health, K8sError> {
    let seen = cluster.observe(namespace).await?;
    let handshake = match seen.ca_bundle.as_deref() {
        Some(ca) if health::can_probe(Some(ca), seen.ready_endpoints) => {
            let host = health::service_host(namespace);
            Some(
                match cluster.served_certificate(namespace, ca, &host).await {
                    Ok(der) if first_der(seen.serving_cert.as_deref()).as_ref() == Some(&der) => {
                        Handshake::ServesTheSecret
                    }
                    Ok(_) => Handshake::ServesAnother,
                    Err(e) => Handshake::Failed {
                        error: e.to_string(),
                    },
                },
            )
        }
        _ => None,
    };
    let facts = Facts {
        namespace: namespace.to_owned(),
        deployment: seen.deployment,
        ready_endpoints: seen.ready_endpoints,
        ca_bundle: seen.ca_bundle,
        serving_cert: seen.serving_cert,
        handshake,
    };
    Ok(health::evaluate(&facts, now))
}

fn first_der(pem: Option<&str>) -> Option<Vec<u8>> {
    pem.and_then(tls_probe::first_der)
        .map(|d| d.as_ref().to_vec())
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;
    use crate::webhook_install::certs::{self, Decision};
    use crate::webhook_install::health::Part;

    /// A cluster that reports what it is given and counts handshakes.
    struct Fake {
        seen: Observed,
        served: Result<Vec<u8>, String>,
        handshakes: Cell<usize>,
    }

    impl WebhookStatusCluster for Fake {
        async fn observe(&self, _: &str) -> Result<Observed, K8sError> {
            Ok(Observed {
                deployment: self.seen.deployment,
                ca_bundle: self.seen.ca_bundle.clone(),
                serving_cert: self.seen.serving_cert.clone(),
                ready_endpoints: self.seen.ready_endpoints,
            })
        }
        async fn served_certificate(
            &self,
            _: &str,
            _: &str,
            host: &str,
        ) -> Result<Vec<u8>, ReachError> {
            assert_eq!(host, "logbackup-webhook.logbackup-system.svc");
            self.handshakes.set(self.handshakes.get() + 1);
            self.served
                .clone()
                .map_err(|e| ReachError::Tls(ProbeError::BadName(e)))
        }
    }

    fn run<T>(f: impl std::future::Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    fn installed(ready: i32, endpoints: usize) -> (Observed, Vec<u8>) {
        let names = certs::service_names(SERVICE, "logbackup-system");
        let bundle = certs::apply(
            &Decision::NewCa("test".into()),
            None,
            &names,
            Timestamp::now(),
        )
        .unwrap();
        let der = first_der(Some(&bundle.tls_cert)).unwrap();
        let seen = Observed {
            deployment: Some((ready, 2)),
            ca_bundle: Some(bundle.ca_cert),
            serving_cert: Some(bundle.tls_cert),
            ready_endpoints: endpoints,
        };
        (seen, der)
    }

    #[test]
    fn a_pod_serving_the_secrets_certificate_is_healthy() {
        let (seen, der) = installed(2, 2);
        let fake = Fake {
            seen,
            served: Ok(der),
            handshakes: Cell::new(0),
        };
        let health = run(status(&fake, "logbackup-system", Timestamp::now())).unwrap();
        assert!(health.healthy, "{health:#?}");
        assert_eq!(fake.handshakes.get(), 1);
        let handshake = health.checks.iter().find(|c| c.part == Part::Handshake);
        assert!(handshake.unwrap().summary.contains("serving the Secret's"));
    }

    #[test]
    fn no_ready_pod_means_no_handshake_and_unhealthy() {
        let (seen, der) = installed(0, 0);
        let fake = Fake {
            seen,
            served: Ok(der),
            handshakes: Cell::new(0),
        };
        let health = run(status(&fake, "logbackup-system", Timestamp::now())).unwrap();
        assert!(!health.healthy);
        assert_eq!(fake.handshakes.get(), 0);
    }

    #[test]
    fn a_failed_handshake_is_reported_with_its_reason() {
        let (seen, _) = installed(2, 2);
        let fake = Fake {
            seen,
            served: Err("refused".into()),
            handshakes: Cell::new(0),
        };
        let health = run(status(&fake, "logbackup-system", Timestamp::now())).unwrap();
        assert!(!health.healthy);
        let handshake = health.checks.iter().find(|c| c.part == Part::Handshake);
        assert!(handshake
            .unwrap()
            .problem
            .as_deref()
            .unwrap()
            .contains("refused"));
    }
}
