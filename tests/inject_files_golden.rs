//! Log-directory goldens: `tests/fixtures/inject-files/X.yaml` -> `X.injected.yaml` (or
//! `X.error.txt`), warnings in `X.warnings.txt`, for every kind that can name log directories.
//! `UPDATE_GOLDEN=1 cargo test --test inject_files_golden` rewrites them; otherwise a stale or
//! missing golden fails. Every case is re-planned on its own output (idempotency), read back as
//! its Kubernetes type, validated against the API schemas, and run through the plugin binary.
//! The webhook runs the same fixtures through its router (webhook/tests/files.rs).
#![allow(clippy::unwrap_used, clippy::expect_used)] // A test crate: a panic is how a test reports.

use std::path::{Path, PathBuf};

use logbackup::inject::{self, Options, Outcome};
use logbackup::manifest;
use serde_json::Value;
use test_support::fixtures::check_golden;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/inject-files")
}

fn cases() -> Vec<PathBuf> {
    let mut cases: Vec<PathBuf> = std::fs::read_dir(fixtures())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            name.ends_with(".yaml") && !name.ends_with(".injected.yaml")
        })
        .collect();
    cases.sort();
    cases
}

fn sibling(case: &Path, suffix: &str) -> PathBuf {
    let stem = case.file_stem().and_then(|s| s.to_str()).unwrap();
    case.with_file_name(format!("{stem}{suffix}"))
}

fn load(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap();
    let mut docs = manifest::parse_documents(&path.display().to_string(), &text).unwrap();
    assert_eq!(docs.len(), 1, "{}: one object per fixture", path.display());
    docs.remove(0)
}

/// Reads the object back as its own Kubernetes type: a field in the wrong place fails here.
fn typed(object: &Value) -> Result<(), String> {
    use k8s_openapi::api::{apps::v1 as apps, batch::v1 as batch, core::v1 as core};
    let v = object.clone();
    let r = match object["kind"].as_str().unwrap_or_default() {
        "Deployment" => serde_json::from_value::<apps::Deployment>(v).map(drop),
        "StatefulSet" => serde_json::from_value::<apps::StatefulSet>(v).map(drop),
        "DaemonSet" => serde_json::from_value::<apps::DaemonSet>(v).map(drop),
        "Job" => serde_json::from_value::<batch::Job>(v).map(drop),
        "CronJob" => serde_json::from_value::<batch::CronJob>(v).map(drop),
        "Pod" => serde_json::from_value::<core::Pod>(v).map(drop),
        other => return Err(format!("no fixture kind {other}")),
    };
    r.map_err(|e| e.to_string())
}

#[test]
fn log_directory_goldens_are_current_idempotent_and_valid() {
    let cases = cases();
    assert!(cases.len() >= 10, "found only {} fixtures", cases.len());
    let mut stale = Vec::new();
    let mut injected_files = Vec::new();
    let mut kinds = std::collections::BTreeSet::new();
    for case in &cases {
        let original = load(case);
        let mut injected = original.clone();
        let result = inject::apply_object(&mut injected, &Options::default());
        let (output, warnings, error) = match &result {
            Ok(plan) => {
                let warnings: String = plan
                    .warnings
                    .iter()
                    .map(|w| format!("{}: {}\n", w.code, w.message))
                    .collect();
                (
                    Some(manifest::to_yaml(&injected).unwrap()),
                    Some(warnings).filter(|w| !w.is_empty()),
                    None,
                )
            }
            Err(e) => (None, None, Some(format!("{e}\n"))),
        };
        let golden = sibling(case, ".injected.yaml");
        check_golden(&golden, output.as_deref(), &mut stale);
        check_golden(
            &sibling(case, ".warnings.txt"),
            warnings.as_deref(),
            &mut stale,
        );
        check_golden(&sibling(case, ".error.txt"), error.as_deref(), &mut stale);
        let Ok(plan) = result else { continue };
        if !matches!(plan.outcome, Outcome::Skipped(_)) {
            kinds.insert(original["kind"].as_str().unwrap().to_owned());
        }
        let again = inject::apply_object(&mut injected.clone(), &Options::default()).unwrap();
        assert!(
            again.patch.is_empty(),
            "{}: not idempotent: {:?}",
            case.display(),
            again.patch
        );
        typed(&injected).unwrap_or_else(|e| panic!("{}: {e}", case.display()));
        injected_files.push(golden);
    }
    assert!(
        stale.is_empty(),
        "stale goldens (run with UPDATE_GOLDEN=1 after reviewing):\n{}",
        stale.join("\n\n")
    );
    for kind in ["Deployment", "StatefulSet", "Job", "CronJob", "Pod"] {
        assert!(
            kinds.contains(kind),
            "no fixture injects a {kind}: {kinds:?}"
        );
    }
    test_support::kubernetes_validate::assert_valid("log-directory goldens", &injected_files);
}

#[test]
fn the_plugin_binary_writes_exactly_the_log_directory_goldens() {
    use std::ffi::OsStr;
    let plugin = test_support::Runner::new(env!("CARGO_BIN_EXE_kubectl-logbackup"));
    let mut checked = 0;
    for case in cases() {
        let out = plugin.run(&[OsStr::new("inject"), OsStr::new("-f"), case.as_os_str()]);
        match std::fs::read_to_string(sibling(&case, ".injected.yaml")) {
            Ok(expected) => {
                assert!(out.success(), "{}: {}", case.display(), out.stderr);
                assert_eq!(out.stdout, expected, "{}", case.display());
            }
            Err(_) => {
                let error = std::fs::read_to_string(sibling(&case, ".error.txt")).unwrap();
                assert!(
                    !out.success(),
                    "{}: injected what the core refuses",
                    case.display()
                );
                assert!(
                    out.stderr.contains(error.trim()),
                    "{}: {}",
                    case.display(),
                    out.stderr
                );
            }
        }
        checked += 1;
    }
    assert!(checked >= 10);
}
