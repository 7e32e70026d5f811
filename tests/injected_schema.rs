//! Every injected golden validates against the Kubernetes 1.30 OpenAPI schema, strictly (no unknown
//! fields), with kubernetes-validate (PyPI; .ci/run installs it).
#![allow(clippy::unwrap_used, clippy::expect_used)] // A test crate: a panic is how a test reports.

use test_support::kubernetes_validate;

#[test]
fn injected_goldens_validate_against_the_kubernetes_schema() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/inject");
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .expect("fixtures")
        .filter_map(|e| e.ok().map(|e| e.path().display().to_string()))
        .filter(|p| p.ends_with(".injected.yaml"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 10,
        "found only {} injected goldens",
        files.len()
    );
    kubernetes_validate::assert_valid("injected goldens", &files);
}
