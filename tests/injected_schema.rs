//! Every injected golden validates against the Kubernetes 1.30 OpenAPI schema, strictly (no unknown
//! fields), with kubernetes-validate (PyPI; .ci/run installs it).

use std::process::Command;

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
    let out = Command::new("kubernetes-validate")
        .args(["-k", "1.30.0", "--strict", "--quiet"])
        .args(&files)
        .output()
        .expect("kubernetes-validate is missing: pip install kubernetes-validate (.ci/run does)");
    assert!(
        out.status.success(),
        "schema validation failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
