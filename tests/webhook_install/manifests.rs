//! Every file under manifests/webhook is embedded in the plugin, byte for byte; the objects
//! `webhook install` applies validate against the Kubernetes schema.

use std::path::Path;

use logbackup::webhook_install::certs;
use logbackup::webhook_install::manifests::{objects, Certificates, FILES};

fn walk(dir: &Path, root: &Path, out: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            walk(&path, root, out);
        } else {
            out.push(path.strip_prefix(root).unwrap().display().to_string());
        }
    }
}

#[test]
fn every_manifest_file_is_embedded_and_current() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("manifests/webhook");
    let mut on_disk = Vec::new();
    walk(&root, &root, &mut on_disk);
    on_disk.sort();
    let mut embedded: Vec<String> = FILES.iter().map(|(p, _)| p.to_string()).collect();
    embedded.sort();
    assert_eq!(
        on_disk, embedded,
        "add new files to webhook_install::manifests::FILES"
    );
    for (path, text) in FILES {
        assert_eq!(
            std::fs::read_to_string(root.join(path)).unwrap(),
            *text,
            "{path}"
        );
    }
}

#[test]
fn installed_objects_validate_against_the_kubernetes_schema() {
    let now = jiff::Timestamp::now();
    let names = certs::service_names("logbackup-webhook", "logbackup-system");
    let b = certs::apply(&certs::Decision::NewCa("test".into()), None, &names, now).unwrap();
    let generated = Certificates::Generated {
        ca_cert: b.ca_cert,
        ca_key: b.ca_key,
        tls_cert: b.tls_cert,
        tls_key: b.tls_key,
    };
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for (i, certs) in [generated, Certificates::CertManager].iter().enumerate() {
        for (j, o) in objects("logbackup-system", certs, true)
            .unwrap()
            .iter()
            .enumerate()
        {
            // cert-manager's kinds are CRDs the Kubernetes schema does not know.
            if o["apiVersion"]
                .as_str()
                .unwrap()
                .starts_with("cert-manager.io/")
            {
                continue;
            }
            let path = dir.path().join(format!("{i}-{j}.json"));
            std::fs::write(&path, serde_json::to_vec(o).unwrap()).unwrap();
            files.push(path.display().to_string());
        }
    }
    assert!(files.len() >= 14, "{}", files.len());
    test_support::kubernetes_validate::assert_valid("embedded webhook manifests", &files);
}
