//! `webhook install` and `webhook uninstall`: which certificates, which objects, adapted to the
//! server, applied or deleted.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde_json::Value;

use crate::k8s::{self, K8sError, Kube, Served};
use crate::webhook_install::certs::{self, Bundle, CertError, Decision};
use crate::webhook_install::manifests::{
    self, Certificates, ManifestsError, CA_SECRET, SERVICE, TLS_SECRET,
};

/// What install and uninstall need from a cluster.
#[allow(async_fn_in_trait)] // Used through generics only, on one task: no Send bound needed.
pub trait WebhookCluster {
    async fn namespace_labels(
        &self,
        name: &str,
    ) -> Result<Option<BTreeMap<String, String>>, K8sError>;
    async fn secret_data(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<Option<BTreeMap<String, String>>, K8sError>;
    async fn missing_cert_manager_crds(&self) -> Result<Vec<String>, K8sError>;
    async fn served(&self) -> Result<Served, K8sError>;
    async fn apply_all(&self, objects: &[Value]) -> Result<Vec<String>, K8sError>;
    async fn delete_all(&self, objects: &[Value], dry_run: bool) -> Result<Vec<String>, K8sError>;
}

impl WebhookCluster for Kube {
    async fn namespace_labels(
        &self,
        name: &str,
    ) -> Result<Option<BTreeMap<String, String>>, K8sError> {
        k8s::webhook_objects::namespace_labels(self, name).await
    }
    async fn secret_data(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<Option<BTreeMap<String, String>>, K8sError> {
        k8s::webhook_objects::secret_data(self, namespace, name).await
    }
    async fn missing_cert_manager_crds(&self) -> Result<Vec<String>, K8sError> {
        k8s::webhook_objects::missing_cert_manager_crds(self).await
    }
    async fn served(&self) -> Result<Served, K8sError> {
        Kube::served(self).await.cloned()
    }
    async fn apply_all(&self, objects: &[Value]) -> Result<Vec<String>, K8sError> {
        k8s::webhook_objects::apply_all(self, objects).await
    }
    async fn delete_all(&self, objects: &[Value], dry_run: bool) -> Result<Vec<String>, K8sError> {
        k8s::webhook_objects::delete_all(self, objects, dry_run).await
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    // Not `transparent`: the K8sError stays in the error chain, where the command line finds its
    // hint (its message is printed once).
    #[error("{0}")]
    Kubernetes(#[from] K8sError),
    #[error("failed to prepare the webhook certificates: {0}")]
    Certificates(#[from] CertError),
    #[error("failed to render the webhook manifests: {0}")]
    Manifests(#[from] ManifestsError),
    #[error("cert-manager is not installed (missing CRDs: {}); install cert-manager v1 first, or run without --cert-manager to let the plugin generate the certificates", .0.join(", "))]
    NoCertManager(Vec<String>),
}

#[derive(Debug, Clone)]
pub struct InstallOptions {
    pub namespace: String,
    pub cert_manager: bool,
    pub dry_run: bool,
}

/// What install did (or, on a dry run, would do).
#[derive(Debug)]
pub struct Installed {
    /// The objects as sent to this server (Secrets with their keys: redact before printing).
    pub objects: Vec<Value>,
    /// Lines for the user: certificate decisions, version adaptations, an existing namespace.
    pub messages: Vec<String>,
}

/// A namespace is ours when it carries the label our Namespace manifest sets.
fn ours(labels: &BTreeMap<String, String>) -> bool {
    labels
        .get(logbackup_core::ids::PART_OF_LABEL)
        .map(String::as_str)
        == Some(logbackup_core::ids::PRODUCT)
}

fn bundle_from(
    tls: Option<BTreeMap<String, String>>,
    ca: Option<BTreeMap<String, String>>,
) -> Option<Bundle> {
    let (tls, ca) = (tls?, ca?);
    let get = |m: &BTreeMap<String, String>, k: &str| m.get(k).cloned().unwrap_or_default();
    Some(Bundle {
        ca_cert: get(&ca, "ca.crt"),
        ca_key: get(&ca, "ca.key"),
        tls_cert: get(&tls, "tls.crt"),
        tls_key: get(&tls, "tls.key"),
    })
}

pub async fn install(
    cluster: &impl WebhookCluster,
    options: &InstallOptions,
    now: Timestamp,
) -> Result<Installed, WebhookError> {
    let ns = options.namespace.as_str();
    let mut messages = Vec::new();
    let include_namespace = match cluster.namespace_labels(ns).await? {
        None => true,
        Some(labels) => ours(&labels),
    };
    if !include_namespace {
        messages.push(format!(
            "namespace {ns} exists and is not ours: installing into it, leaving it as it is"
        ));
    }
    let certificates = if options.cert_manager {
        let missing = cluster.missing_cert_manager_crds().await?;
        if !missing.is_empty() {
            return Err(WebhookError::NoCertManager(missing));
        }
        Certificates::CertManager
    } else {
        let names = certs::service_names(SERVICE, ns);
        let existing = bundle_from(
            cluster.secret_data(ns, TLS_SECRET).await?,
            cluster.secret_data(ns, CA_SECRET).await?,
        );
        let decision = certs::decide(existing.as_ref(), &names, now);
        messages.push(match &decision {
            Decision::KeepAll => "keeping the CA and serving certificate: still valid".to_owned(),
            Decision::RenewServing(why) => {
                format!("issuing a new serving certificate ({why}); the CA stays")
            }
            Decision::NewCa(why) => format!("generating a CA and a serving certificate ({why})"),
        });
        let b = certs::apply(&decision, existing.as_ref(), &names, now)?;
        Certificates::Generated {
            ca_cert: b.ca_cert,
            ca_key: b.ca_key,
            tls_cert: b.tls_cert,
            tls_key: b.tls_key,
        }
    };
    let objects = manifests::objects(ns, &certificates, include_namespace)?;
    let served = cluster.served().await?;
    let (objects, notes) = k8s::webhook_objects::for_server(&objects, &served)?;
    messages.extend(notes.into_iter().map(|n| format!("note: {n}")));
    if !options.dry_run {
        cluster.apply_all(&objects).await?;
    }
    Ok(Installed { objects, messages })
}

/// What uninstall deleted (or would), and whether the namespace stays.
#[derive(Debug)]
pub struct Uninstalled {
    pub deleted: Vec<String>,
    pub namespace_kept: bool,
}

pub async fn uninstall(
    cluster: &impl WebhookCluster,
    namespace: &str,
    dry_run: bool,
) -> Result<Uninstalled, WebhookError> {
    let include_namespace = cluster
        .namespace_labels(namespace)
        .await?
        .is_some_and(|l| ours(&l));
    // Both variants' objects: whichever was installed, and nothing else, is there to delete.
    let placeholder = Certificates::Generated {
        ca_cert: String::new(),
        ca_key: String::new(),
        tls_cert: String::new(),
        tls_key: String::new(),
    };
    let mut objects = manifests::objects(namespace, &Certificates::CertManager, include_namespace)?;
    for o in manifests::objects(namespace, &placeholder, false)? {
        let same =
            |x: &Value| x["kind"] == o["kind"] && x["metadata"]["name"] == o["metadata"]["name"];
        if !objects.iter().any(same) {
            // Before the webhook configuration, which goes first when deleting in reverse.
            let at = objects.len().saturating_sub(1);
            objects.insert(at, o);
        }
    }
    let served = cluster.served().await?;
    let (objects, _) = k8s::webhook_objects::for_server(&objects, &served)?;
    let deleted = cluster.delete_all(&objects, dry_run).await?;
    Ok(Uninstalled {
        deleted,
        namespace_kept: !include_namespace,
    })
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use super::*;

    /// A cluster of 1.`minor` with what install reads, recording what is applied.
    struct Fake {
        minor: u32,
        namespace: Option<BTreeMap<String, String>>,
        crds_missing: Vec<String>,
        applied: RefCell<Vec<Value>>,
    }

    impl WebhookCluster for Fake {
        async fn namespace_labels(
            &self,
            _: &str,
        ) -> Result<Option<BTreeMap<String, String>>, K8sError> {
            Ok(self.namespace.clone())
        }
        async fn secret_data(
            &self,
            _: &str,
            _: &str,
        ) -> Result<Option<BTreeMap<String, String>>, K8sError> {
            Ok(None)
        }
        async fn missing_cert_manager_crds(&self) -> Result<Vec<String>, K8sError> {
            Ok(self.crds_missing.clone())
        }
        async fn served(&self) -> Result<Served, K8sError> {
            let mut gv: std::collections::BTreeSet<String> = ["v1".to_string()].into();
            gv.insert(
                if self.minor >= 21 {
                    "policy/v1"
                } else {
                    "policy/v1beta1"
                }
                .into(),
            );
            Ok(Served::new("1", &self.minor.to_string(), "v1.x", gv))
        }
        async fn apply_all(&self, objects: &[Value]) -> Result<Vec<String>, K8sError> {
            self.applied.borrow_mut().extend(objects.iter().cloned());
            Ok(Vec::new())
        }
        async fn delete_all(&self, objects: &[Value], _: bool) -> Result<Vec<String>, K8sError> {
            Ok(objects
                .iter()
                .map(|o| o["kind"].as_str().unwrap_or_default().to_owned())
                .collect())
        }
    }

    fn fake(minor: u32) -> Fake {
        Fake {
            minor,
            namespace: None,
            crds_missing: Vec::new(),
            applied: RefCell::new(Vec::new()),
        }
    }

    fn run<T>(f: impl std::future::Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    fn options(dry_run: bool) -> InstallOptions {
        InstallOptions {
            namespace: "logbackup-system".into(),
            cert_manager: false,
            dry_run,
        }
    }

    #[test]
    fn install_on_1_20_adapts_the_objects_and_applies_them() {
        let cluster = fake(20);
        let done = run(install(&cluster, &options(false), Timestamp::now())).unwrap();
        let applied = cluster.applied.borrow();
        assert_eq!(applied.len(), done.objects.len());
        let pdb = applied
            .iter()
            .find(|o| o["kind"] == "PodDisruptionBudget")
            .unwrap();
        assert_eq!(pdb["apiVersion"], "policy/v1beta1");
        assert!(!applied
            .iter()
            .any(|o| o.to_string().contains("matchLabelKeys")));
        assert!(
            done.messages[0].starts_with("generating a CA and a serving certificate"),
            "{:?}",
            done.messages
        );
        assert!(done
            .messages
            .iter()
            .any(|m| m.contains("matchLabelKeys (1.27+)")));
        // A wrapped string literal must not leave its indentation inside the sentence.
        assert!(
            done.messages.iter().all(|m| !m.contains("  ")),
            "{:?}",
            done.messages
        );
    }

    #[test]
    fn a_dry_run_applies_nothing_and_a_foreign_namespace_is_left_alone() {
        let mut cluster = fake(33);
        cluster.namespace = Some(BTreeMap::new());
        let done = run(install(&cluster, &options(true), Timestamp::now())).unwrap();
        assert!(cluster.applied.borrow().is_empty());
        assert!(!done.objects.iter().any(|o| o["kind"] == "Namespace"));
        assert!(done.messages[0].contains("exists and is not ours"));
    }

    #[test]
    fn cert_manager_missing_is_refused_before_anything_is_applied() {
        let mut cluster = fake(33);
        cluster.crds_missing = vec!["issuers.cert-manager.io".into()];
        let opts = InstallOptions {
            cert_manager: true,
            ..options(false)
        };
        let e = run(install(&cluster, &opts, Timestamp::now())).unwrap_err();
        assert!(
            e.to_string().starts_with(
                "cert-manager is not installed (missing CRDs: issuers.cert-manager.io)"
            ),
            "{e}"
        );
        assert!(cluster.applied.borrow().is_empty());
    }

    #[test]
    fn uninstall_keeps_a_namespace_install_did_not_create() {
        let cluster = fake(20);
        let gone = run(uninstall(&cluster, "logbackup-system", true)).unwrap();
        assert!(gone.namespace_kept);
        assert!(!gone.deleted.contains(&"Namespace".to_owned()));
        assert!(gone
            .deleted
            .contains(&"MutatingWebhookConfiguration".to_owned()));
    }
}
