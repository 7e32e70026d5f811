//! manifests/webhook, embedded in the binary and turned into the objects to apply: the base, plus
//! the cert-manager variant (its Issuers and Certificates, and the cainjector annotation) or our
//! own certificates (a Secret we generate and the caBundle), moved to the namespace asked for.
//! This is the small part of kustomize these two variants use, not kustomize.

use serde_json::{json, Value};

pub const DEFAULT_NAMESPACE: &str = "logbackup-system";
pub const SERVICE: &str = crate::ids::WEBHOOK;
/// The container port the webhook serves TLS on (`https` in manifests/webhook/base/deployment.yaml).
pub const WEBHOOK_PORT: u16 = 8443;
pub const TLS_SECRET: &str = "logbackup-webhook-tls";
/// Holds the CA key for renewals; mounted by nothing.
pub const CA_SECRET: &str = "logbackup-webhook-ca";
pub const WEBHOOK_CONFIG: &str = crate::ids::WEBHOOK;

/// Every file under manifests/webhook, by path relative to it. A test fails if a file there is
/// missing from this list (or differs).
pub const FILES: &[(&str, &str)] = &[
    (
        "base/kustomization.yaml",
        include_str!("../../../manifests/webhook/base/kustomization.yaml"),
    ),
    (
        "base/namespace.yaml",
        include_str!("../../../manifests/webhook/base/namespace.yaml"),
    ),
    (
        "base/serviceaccount.yaml",
        include_str!("../../../manifests/webhook/base/serviceaccount.yaml"),
    ),
    (
        "base/service.yaml",
        include_str!("../../../manifests/webhook/base/service.yaml"),
    ),
    (
        "base/deployment.yaml",
        include_str!("../../../manifests/webhook/base/deployment.yaml"),
    ),
    (
        "base/poddisruptionbudget.yaml",
        include_str!("../../../manifests/webhook/base/poddisruptionbudget.yaml"),
    ),
    (
        "base/networkpolicy.yaml",
        include_str!("../../../manifests/webhook/base/networkpolicy.yaml"),
    ),
    (
        "base/mutatingwebhookconfiguration.yaml",
        include_str!("../../../manifests/webhook/base/mutatingwebhookconfiguration.yaml"),
    ),
    (
        "cert-manager/kustomization.yaml",
        include_str!("../../../manifests/webhook/cert-manager/kustomization.yaml"),
    ),
    (
        "cert-manager/certificate.yaml",
        include_str!("../../../manifests/webhook/cert-manager/certificate.yaml"),
    ),
    (
        "cert-manager/mutatingwebhookconfiguration-cainjector.yaml",
        include_str!(
            "../../../manifests/webhook/cert-manager/mutatingwebhookconfiguration-cainjector.yaml"
        ),
    ),
    (
        "plain-files/kustomization.yaml",
        include_str!("../../../manifests/webhook/plain-files/kustomization.yaml"),
    ),
    (
        "plain-files/secret.yaml",
        include_str!("../../../manifests/webhook/plain-files/secret.yaml"),
    ),
    (
        "plain-files/mutatingwebhookconfiguration-cabundle.yaml",
        include_str!(
            "../../../manifests/webhook/plain-files/mutatingwebhookconfiguration-cabundle.yaml"
        ),
    ),
];

#[derive(Debug, thiserror::Error)]
pub enum ManifestsError {
    #[error("embedded manifest {0} is missing")]
    Missing(String),
    #[error("embedded manifest {file} is not valid YAML: {why}")]
    Parse { file: String, why: String },
    #[error("embedded {file} lists no resources")]
    NoResources { file: String },
}

fn file(path: &str) -> Result<&'static str, ManifestsError> {
    FILES
        .iter()
        .find(|(p, _)| *p == path)
        .map(|(_, text)| *text)
        .ok_or_else(|| ManifestsError::Missing(path.to_string()))
}

fn docs(path: &str) -> Result<Vec<Value>, ManifestsError> {
    crate::manifest::parse_documents(path, file(path)?).map_err(|e| ManifestsError::Parse {
        file: path.to_string(),
        why: e.to_string(),
    })
}

/// The files a kustomization lists under `resources`, in order, as `dir/file` (following `../x`).
fn resources(dir: &str) -> Result<Vec<String>, ManifestsError> {
    let k = format!("{dir}/kustomization.yaml");
    let doc = docs(&k)?.into_iter().next().unwrap_or(Value::Null);
    let list = doc["resources"]
        .as_array()
        .ok_or(ManifestsError::NoResources { file: k.clone() })?;
    let mut out = Vec::new();
    for r in list.iter().filter_map(Value::as_str) {
        match r.strip_prefix("../") {
            Some(base) => out.extend(resources(base)?),
            None => out.push(format!("{dir}/{r}")),
        }
    }
    Ok(out)
}

/// Where the certificates come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Certificates {
    CertManager,
    /// Ours: base64 is done here; PEM text in.
    Generated {
        ca_cert: String,
        ca_key: String,
        tls_cert: String,
        tls_key: String,
    },
}

/// Replaces the default namespace wherever the manifests name it (object namespaces, the
/// Namespace itself, the webhook's Service reference and namespace exclusion, certificate names,
/// the cainjector annotation).
fn renamespace(value: &mut Value, ns: &str) {
    match value {
        Value::String(s) if s.contains(DEFAULT_NAMESPACE) => {
            *s = s.replace(DEFAULT_NAMESPACE, ns);
        }
        Value::Array(items) => items.iter_mut().for_each(|v| renamespace(v, ns)),
        Value::Object(map) => map.values_mut().for_each(|v| renamespace(v, ns)),
        _ => {}
    }
}

/// Standard alphabet with padding, as Secret data and caBundle want.
fn b64(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(text)
}

fn labels() -> Value {
    use crate::ids::{NAME_LABEL, PART_OF_LABEL, PRODUCT, WEBHOOK};
    json!({ NAME_LABEL: WEBHOOK, PART_OF_LABEL: PRODUCT })
}

/// Every object `webhook install` applies, in apply order (Namespace first, the webhook
/// configuration last so the API server never calls a webhook that is not there yet... it is
/// still called before the pods are ready: failurePolicy Fail applies to labelled StatefulSets
/// only). `include_namespace` is false when the namespace exists already and is not ours.
pub fn objects(
    namespace: &str,
    certs: &Certificates,
    include_namespace: bool,
) -> Result<Vec<Value>, ManifestsError> {
    let variant = match certs {
        Certificates::CertManager => "cert-manager",
        Certificates::Generated { .. } => "plain-files",
    };
    let mut out = Vec::new();
    for path in resources(variant)? {
        // The placeholder Secret is replaced by the one we generate.
        if path == "plain-files/secret.yaml" {
            continue;
        }
        out.extend(docs(&path)?);
    }
    if let Certificates::Generated {
        ca_cert,
        ca_key,
        tls_cert,
        tls_key,
    } = certs
    {
        out.push(json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": TLS_SECRET, "namespace": DEFAULT_NAMESPACE, "labels": labels()},
            "type": "kubernetes.io/tls",
            "data": {"tls.crt": b64(tls_cert), "tls.key": b64(tls_key), "ca.crt": b64(ca_cert)}
        }));
        out.push(json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": CA_SECRET, "namespace": DEFAULT_NAMESPACE, "labels": labels()},
            "type": "Opaque",
            "data": {"ca.crt": b64(ca_cert), "ca.key": b64(ca_key)}
        }));
    }
    for o in out.iter_mut() {
        if o["kind"] == "MutatingWebhookConfiguration" {
            match certs {
                Certificates::CertManager => {
                    let patch = docs("cert-manager/mutatingwebhookconfiguration-cainjector.yaml")?;
                    if let Some(a) = patch
                        .first()
                        .and_then(|p| p["metadata"]["annotations"].as_object())
                    {
                        let annotations = o["metadata"]
                            .as_object_mut()
                            .map(|m| m.entry("annotations").or_insert(json!({})));
                        if let Some(Value::Object(target)) = annotations {
                            target.extend(a.clone());
                        }
                    }
                }
                Certificates::Generated { ca_cert, .. } => {
                    if let Some(hooks) = o["webhooks"].as_array_mut() {
                        for h in hooks {
                            h["clientConfig"]["caBundle"] = json!(b64(ca_cert));
                        }
                    }
                }
            }
        }
        renamespace(o, namespace);
    }
    if !include_namespace {
        out.retain(|o| o["kind"] != "Namespace");
    }
    // Namespace first; the webhook configuration last.
    out.sort_by_key(|o| match o["kind"].as_str() {
        Some("Namespace") => 0,
        Some("MutatingWebhookConfiguration") => 2,
        _ => 1,
    });
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn generated() -> Certificates {
        Certificates::Generated {
            ca_cert: "CA".into(),
            ca_key: "CAKEY".into(),
            tls_cert: "CERT".into(),
            tls_key: "KEY".into(),
        }
    }

    fn kinds(objects: &[Value]) -> Vec<String> {
        objects
            .iter()
            .map(|o| {
                format!(
                    "{}/{}",
                    o["kind"].as_str().unwrap(),
                    o["metadata"]["name"].as_str().unwrap()
                )
            })
            .collect()
    }

    #[test]
    fn base64_matches_the_standard_alphabet_with_padding() {
        assert_eq!(b64(""), "");
        assert_eq!(b64("f"), "Zg==");
        assert_eq!(b64("fo"), "Zm8=");
        assert_eq!(b64("foo"), "Zm9v");
        assert_eq!(b64("foobar"), "Zm9vYmFy");
        assert_eq!(b64("-----BEGIN"), "LS0tLS1CRUdJTg==");
    }

    #[test]
    fn the_probe_port_is_the_port_the_deployment_serves_tls_on() {
        let o = objects("logbackup-system", &generated(), true).unwrap();
        let deployment = o
            .iter()
            .find(|x| x["kind"] == "Deployment")
            .expect("a Deployment");
        let ports = &deployment["spec"]["template"]["spec"]["containers"][0]["ports"];
        let https = ports
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "https")
            .expect("https port");
        assert_eq!(https["containerPort"], u64::from(WEBHOOK_PORT));
    }

    #[test]
    fn generated_certificates_replace_the_placeholder_secret_and_fill_the_ca_bundle() {
        let o = objects("logbackup-system", &generated(), true).unwrap();
        assert_eq!(
            kinds(&o),
            [
                "Namespace/logbackup-system",
                "ServiceAccount/logbackup-webhook",
                "Service/logbackup-webhook",
                "Deployment/logbackup-webhook",
                "PodDisruptionBudget/logbackup-webhook",
                "NetworkPolicy/logbackup-webhook",
                "Secret/logbackup-webhook-tls",
                "Secret/logbackup-webhook-ca",
                "MutatingWebhookConfiguration/logbackup-webhook",
            ]
        );
        let mwc = o.last().unwrap();
        assert_eq!(mwc["webhooks"][0]["clientConfig"]["caBundle"], b64("CA"));
        // YAML 1.1 octal, as kubectl reads it: 0440 is 288, an integer.
        let deployment = o.iter().find(|x| x["kind"] == "Deployment").unwrap();
        assert_eq!(
            deployment["spec"]["template"]["spec"]["volumes"][0]["secret"]["defaultMode"],
            json!(288)
        );
        // The base's settings survive the patch.
        assert_eq!(mwc["webhooks"][0]["failurePolicy"], "Fail");
        let tls = &o[6];
        assert_eq!(tls["data"]["tls.crt"], b64("CERT"));
        assert_eq!(tls["data"]["tls.key"], b64("KEY"));
        assert!(o.iter().all(|x| !x.to_string().contains("PLACEHOLDER")));
    }

    #[test]
    fn cert_manager_adds_issuers_certificates_and_the_cainjector_annotation() {
        let o = objects("logbackup-system", &Certificates::CertManager, true).unwrap();
        let k = kinds(&o);
        for want in [
            "Issuer/logbackup-webhook-selfsigned",
            "Certificate/logbackup-webhook-ca",
            "Issuer/logbackup-webhook-ca",
            "Certificate/logbackup-webhook",
        ] {
            assert!(k.contains(&want.to_string()), "{k:?}");
        }
        assert!(!k.iter().any(|x| x.starts_with("Secret/")), "{k:?}");
        let mwc = o.last().unwrap();
        assert_eq!(
            mwc["metadata"]["annotations"]["cert-manager.io/inject-ca-from"],
            "logbackup-system/logbackup-webhook"
        );
        assert!(mwc["webhooks"][0]["clientConfig"].get("caBundle").is_none());
    }

    #[test]
    fn another_namespace_is_used_everywhere() {
        let o = objects("backup-ops", &Certificates::CertManager, false).unwrap();
        let text = serde_json::to_string(&o).unwrap();
        assert!(!text.contains("logbackup-system"), "{text}");
        assert!(!kinds(&o).iter().any(|k| k.starts_with("Namespace/")));
        let mwc = o.last().unwrap();
        assert_eq!(
            mwc["webhooks"][0]["clientConfig"]["service"]["namespace"],
            "backup-ops"
        );
        assert_eq!(
            mwc["metadata"]["annotations"]["cert-manager.io/inject-ca-from"],
            "backup-ops/logbackup-webhook"
        );
        let cert = o
            .iter()
            .find(|x| x["kind"] == "Certificate" && x["metadata"]["name"] == "logbackup-webhook")
            .unwrap();
        assert_eq!(
            cert["spec"]["dnsNames"][0],
            "logbackup-webhook.backup-ops.svc"
        );
        assert!(o
            .iter()
            .filter(|x| x["kind"] != "MutatingWebhookConfiguration")
            .all(|x| x["metadata"]["namespace"] == "backup-ops"));
    }
}
