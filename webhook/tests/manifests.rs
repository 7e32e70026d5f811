//! Every manifest under manifests/ parses; every built-in resource validates against the Kubernetes
//! 1.30 schemas with `kubernetes-validate` (pip); each kustomize variant is rendered here (resources
//! plus strategic-merge patches, merged by kind and name, lists by `name`) and validated as a whole;
//! cert-manager resources, which no offline schema covers, are checked field by field.
#![allow(clippy::unwrap_used, clippy::expect_used)] // A test crate: a panic is how a test reports.

mod common;
use test_support::kubernetes_validate;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::Value;

const IMAGE: &str = "ghcr.io/logbackup/kubectl-logbackup:v0.1.0";

fn manifests_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../manifests")
        .canonicalize()
        .expect("no manifests/ directory")
}

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            yaml_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            out.push(path);
        }
    }
}

fn documents(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap();
    serde_saphyr::from_multiple::<Value>(&text)
        .unwrap_or_else(|e| panic!("{} does not parse as YAML: {e}", path.display()))
        .into_iter()
        .filter(|d| !d.is_null())
        .collect()
}

fn kind(doc: &Value) -> &str {
    doc["kind"].as_str().unwrap_or_default()
}

fn is_kustomization(doc: &Value) -> bool {
    kind(doc) == "Kustomization"
}

fn is_custom_resource(doc: &Value) -> bool {
    doc["apiVersion"]
        .as_str()
        .is_some_and(|v| v.starts_with("cert-manager.io/"))
}

/// Strategic-merge-like: maps merge deeply, lists of named maps merge by name, the rest replaces.
fn merge(base: &mut Value, patch: &Value) {
    match (base, patch) {
        (Value::Object(b), Value::Object(p)) => {
            for (k, v) in p {
                match b.get_mut(k) {
                    Some(existing) => merge(existing, v),
                    None => {
                        b.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (Value::Array(b), Value::Array(p)) if p.iter().all(|x| x.get("name").is_some()) => {
            for item in p {
                match b.iter_mut().find(|x| x.get("name") == item.get("name")) {
                    Some(existing) => merge(existing, item),
                    None => b.push(item.clone()),
                }
            }
        }
        (b, p) => *b = p.clone(),
    }
}

fn same_object(a: &Value, b: &Value) -> bool {
    kind(a) == kind(b) && a["metadata"]["name"] == b["metadata"]["name"]
}

/// Renders a kustomization directory: (documents, files it used).
fn render(dir: &Path, used: &mut BTreeSet<PathBuf>) -> Vec<Value> {
    let dir = &dir.canonicalize().unwrap();
    let file = dir.join("kustomization.yaml");
    used.insert(file.clone());
    let k = documents(&file).pop().unwrap();
    let mut out = Vec::new();
    for r in k["resources"].as_array().into_iter().flatten() {
        let path = dir.join(r.as_str().unwrap());
        assert!(
            path.exists(),
            "{}: resource {} does not exist",
            file.display(),
            path.display()
        );
        let path = path.canonicalize().unwrap();
        if path.is_dir() {
            out.extend(render(&path, used));
        } else {
            used.insert(path.clone());
            out.extend(documents(&path));
        }
    }
    for p in k["patches"].as_array().into_iter().flatten() {
        let path = dir.join(p["path"].as_str().expect("only file patches are used"));
        assert!(
            path.exists(),
            "{}: patch {} does not exist",
            file.display(),
            path.display()
        );
        used.insert(path.clone());
        for patch in documents(&path) {
            let target = out
                .iter_mut()
                .find(|d| same_object(d, &patch))
                .unwrap_or_else(|| panic!("patch {} matches no resource", path.display()));
            merge(target, &patch);
        }
    }
    out
}

fn validate(label: &str, docs: &[Value]) {
    let tmp = common::TempDir::new("manifests");
    let mut files = Vec::new();
    for (i, doc) in docs.iter().enumerate() {
        // JSON is YAML; one object per file keeps the tool's messages unambiguous.
        let path = tmp
            .0
            .join(format!("{label}-{i:02}-{}.yaml", kind(doc).to_lowercase()));
        std::fs::write(&path, serde_json::to_string_pretty(doc).unwrap()).unwrap();
        files.push(path);
    }
    kubernetes_validate::assert_valid(label, &files);
}

#[test]
fn every_manifest_parses_and_validates() {
    let mut files = Vec::new();
    yaml_files(&manifests_dir(), &mut files);
    files.sort();
    assert!(
        !files.is_empty(),
        "no manifests under {}",
        manifests_dir().display()
    );

    // Kustomize roots nobody else includes are the variants a user applies.
    let mut used = BTreeSet::new();
    let roots: Vec<PathBuf> = files
        .iter()
        .filter(|f| f.file_name().is_some_and(|n| n == "kustomization.yaml"))
        .map(|f| f.parent().unwrap().to_owned())
        .collect();
    let mut included = BTreeSet::new();
    for root in &roots {
        let mut u = BTreeSet::new();
        render(root, &mut u);
        included.extend(
            u.iter()
                .filter(|f| {
                    f.file_name().is_some_and(|n| n == "kustomization.yaml")
                        && f.parent() != Some(root)
                })
                .filter_map(|f| f.parent().map(Path::to_owned)),
        );
    }
    for root in roots.iter().filter(|r| !included.contains(*r)) {
        let label = root.file_name().unwrap().to_string_lossy().into_owned();
        let docs = render(root, &mut used);
        let native: Vec<Value> = docs
            .iter()
            .filter(|d| !is_custom_resource(d))
            .cloned()
            .collect();
        validate(&label, &native);
    }
    // Files outside any kustomization are validated on their own.
    let loose: Vec<Value> = files
        .iter()
        .filter(|f| !used.contains(*f))
        .flat_map(|f| documents(f))
        .filter(|d| !is_kustomization(d) && !is_custom_resource(d))
        .collect();
    if !loose.is_empty() {
        validate("loose", &loose);
    }
}

fn webhook_variant(name: &str) -> Vec<Value> {
    render(
        &manifests_dir().join("webhook").join(name),
        &mut BTreeSet::new(),
    )
}

fn find<'a>(docs: &'a [Value], k: &str, name: &str) -> &'a Value {
    docs.iter()
        .find(|d| kind(d) == k && d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {k} {name}"))
}

#[test]
fn webhook_deployment_is_hardened_and_highly_available() {
    for variant in ["cert-manager", "plain-files"] {
        let docs = webhook_variant(variant);
        let deploy = find(&docs, "Deployment", "logbackup-webhook");
        assert!(
            deploy["spec"]["replicas"].as_u64().unwrap() >= 2,
            "{variant}"
        );
        let pod = &deploy["spec"]["template"]["spec"];
        assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
        assert_eq!(
            pod["securityContext"]["seccompProfile"]["type"],
            "RuntimeDefault"
        );
        assert!(pod["topologySpreadConstraints"]
            .as_array()
            .is_some_and(|c| !c.is_empty()));
        let c = &pod["containers"][0];
        assert_eq!(c["image"], IMAGE);
        assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
        assert_eq!(c["securityContext"]["allowPrivilegeEscalation"], false);
        assert_eq!(
            c["securityContext"]["capabilities"]["drop"],
            serde_json::json!(["ALL"])
        );
        assert!(c["resources"]["requests"]["memory"].is_string());
        assert!(c["resources"]["limits"]["memory"].is_string());
        let pdb = find(&docs, "PodDisruptionBudget", "logbackup-webhook");
        assert_eq!(
            pdb["spec"]["selector"]["matchLabels"],
            deploy["spec"]["selector"]["matchLabels"]
        );
        let mwc = find(&docs, "MutatingWebhookConfiguration", "logbackup-webhook");
        let hook = &mwc["webhooks"][0];
        assert_eq!(hook["failurePolicy"], "Fail");
        assert_eq!(hook["sideEffects"], "None");
        assert_eq!(hook["clientConfig"]["service"]["path"], "/mutate");
        assert_eq!(
            hook["objectSelector"]["matchLabels"]["logbackup.io/inject"],
            "enabled"
        );
        let tls_secret = pod["volumes"][0]["secret"]["secretName"].as_str().unwrap();
        assert_eq!(tls_secret, "logbackup-webhook-tls");
        if variant == "plain-files" {
            find(&docs, "Secret", tls_secret);
            assert!(hook["clientConfig"].get("caBundle").is_some());
        }
    }
}

#[test]
fn cert_manager_variant_issues_the_serving_certificate_and_injects_its_ca() {
    let docs = webhook_variant("cert-manager");
    let mwc = find(&docs, "MutatingWebhookConfiguration", "logbackup-webhook");
    let inject_from = mwc["metadata"]["annotations"]["cert-manager.io/inject-ca-from"]
        .as_str()
        .expect("no cert-manager.io/inject-ca-from annotation");
    let (ns, name) = inject_from.split_once('/').unwrap();
    let cert = find(&docs, "Certificate", name);
    assert_eq!(cert["apiVersion"], "cert-manager.io/v1");
    assert_eq!(cert["metadata"]["namespace"], ns);
    let service = &mwc["webhooks"][0]["clientConfig"]["service"];
    let host = format!(
        "{}.{}.svc",
        service["name"].as_str().unwrap(),
        service["namespace"].as_str().unwrap()
    );
    let dns: Vec<&str> = cert["spec"]["dnsNames"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(dns.contains(&host.as_str()), "{dns:?} lacks {host}");
    let deploy = find(&docs, "Deployment", "logbackup-webhook");
    assert_eq!(
        cert["spec"]["secretName"],
        deploy["spec"]["template"]["spec"]["volumes"][0]["secret"]["secretName"]
    );
    // Its issuer exists, and is a CA whose own certificate is issued by a self-signed issuer.
    let issuer = find(
        &docs,
        "Issuer",
        cert["spec"]["issuerRef"]["name"].as_str().unwrap(),
    );
    let ca_secret = issuer["spec"]["ca"]["secretName"]
        .as_str()
        .expect("serving issuer is not a CA issuer");
    let ca = docs
        .iter()
        .find(|d| kind(d) == "Certificate" && d["spec"]["secretName"] == ca_secret)
        .expect("no Certificate creates the CA secret");
    assert_eq!(ca["spec"]["isCA"], true);
    let root = find(
        &docs,
        "Issuer",
        ca["spec"]["issuerRef"]["name"].as_str().unwrap(),
    );
    assert!(root["spec"]["selfSigned"].is_object());
}
