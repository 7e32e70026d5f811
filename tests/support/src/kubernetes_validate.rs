//! Validates files of Kubernetes objects against the 1.30 OpenAPI schemas, strictly (no unknown
//! fields), with kubernetes-validate (PyPI; .ci/run installs it). Shared by the test crates that
//! check what we generate: injected StatefulSets, webhook manifests, schedules.

use std::path::Path;
use std::process::Command;

pub const KUBERNETES_VERSION: &str = "1.30.0";

/// Panics with the tool's report when any file does not validate; `what` names them in the message.
pub fn assert_valid<P: AsRef<Path>>(what: &str, files: &[P]) {
    assert_valid_at(KUBERNETES_VERSION, what, files)
}

/// As `assert_valid`, against the schemas of Kubernetes `version` (1.25.0 and later are bundled).
pub fn assert_valid_at<P: AsRef<Path>>(version: &str, what: &str, files: &[P]) {
    assert!(!files.is_empty(), "{what}: nothing to validate");
    let output = Command::new("kubernetes-validate")
        .args(["-k", version, "--strict", "--quiet"])
        .args(files.iter().map(AsRef::as_ref))
        .output()
        .unwrap_or_else(|e| {
            panic!("failed to run kubernetes-validate ({e}); install it with `pip install kubernetes-validate` (.ci/run does)")
        });
    assert!(
        output.status.success(),
        "{what}: not valid against Kubernetes {version}:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
