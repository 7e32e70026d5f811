//! Golden files: `tests/fixtures/inject/X.yaml` -> `X.injected.yaml` (or `X.error.txt` when the core must
//! refuse), with the warnings in `X.warnings.txt`. `UPDATE_GOLDEN=1 cargo test --test inject_golden`
//! rewrites them; otherwise a stale or missing golden fails. Every case is also re-planned on its own
//! output (idempotency), deserialized as an apps/v1 StatefulSet, and checked to keep every original field.
#![allow(clippy::unwrap_used, clippy::expect_used)] // A test crate: a panic is how a test reports.

use std::path::{Path, PathBuf};

use k8s_openapi::api::apps::v1::StatefulSet;
use logbackup::inject::{self, Options, Outcome};
use logbackup::manifest;
use serde_json::Value;
use test_support::fixtures::check_golden;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/inject")
}

fn cases() -> Vec<PathBuf> {
    let mut cases: Vec<PathBuf> = std::fs::read_dir(fixtures())
        .expect("fixtures directory")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            name.ends_with(".yaml") && !name.ends_with(".injected.yaml")
        })
        .collect();
    cases.sort();
    cases
}

fn sibling(case: &Path, suffix: &str) -> PathBuf {
    let stem = case.file_stem().and_then(|s| s.to_str()).expect("stem");
    case.with_file_name(format!("{stem}{suffix}"))
}

fn load(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).expect("read fixture");
    let mut docs =
        manifest::parse_documents(&path.display().to_string(), &text).expect("parse fixture");
    assert_eq!(
        docs.len(),
        1,
        "{}: one StatefulSet per fixture",
        path.display()
    );
    docs.remove(0)
}

#[test]
fn goldens_are_current_idempotent_valid_and_keep_every_field() {
    let cases = cases();
    assert!(
        cases.len() >= 10,
        "expected the real-chart and edge-case fixtures, found {}",
        cases.len()
    );
    let mut stale = Vec::new();
    for case in &cases {
        let original = load(case);
        let mut injected = original.clone();
        let result = inject::apply(&mut injected, &Options::default());
        let (output, warnings, error) = match &result {
            Ok(plan) => {
                let warnings: String = plan
                    .warnings
                    .iter()
                    .map(|w| format!("{}: {}\n", w.code, w.message))
                    .collect();
                (
                    Some(manifest::to_yaml(&injected).expect("yaml")),
                    Some(warnings).filter(|w| !w.is_empty()),
                    None,
                )
            }
            Err(e) => (None, None, Some(format!("{e}\n"))),
        };
        check_golden(
            &sibling(case, ".injected.yaml"),
            output.as_deref(),
            &mut stale,
        );
        check_golden(
            &sibling(case, ".warnings.txt"),
            warnings.as_deref(),
            &mut stale,
        );
        check_golden(&sibling(case, ".error.txt"), error.as_deref(), &mut stale);
        let Ok(plan) = result else { continue };

        let again =
            inject::plan(&injected, &Options::default()).expect("re-plan the injected output");
        assert!(
            again.patch.is_empty(),
            "{}: not idempotent, second plan: {:?}",
            case.display(),
            again.patch
        );
        if !matches!(plan.outcome, Outcome::Skipped(_)) {
            assert_eq!(again.outcome, Outcome::Unchanged, "{}", case.display());
        }
        serde_json::from_value::<StatefulSet>(injected.clone()).unwrap_or_else(|e| {
            panic!(
                "{}: injected output is not an apps/v1 StatefulSet: {e}",
                case.display()
            )
        });
        if let Err(lost) = keeps(&without_previous_injection(&original), &injected, "") {
            panic!(
                "{}: the injection lost or reordered the user's {lost}",
                case.display()
            );
        }
        // Round trip through our YAML writer and reader loses nothing.
        let reread = manifest::parse_documents("output", output.as_deref().unwrap_or_default())
            .expect("reparse");
        assert_eq!(
            reread,
            vec![injected],
            "{}: YAML round trip",
            case.display()
        );
    }
    assert!(
        stale.is_empty(),
        "stale goldens (run with UPDATE_GOLDEN=1 after reviewing):\n{}",
        stale.join("\n\n")
    );
}

/// `object` without what an earlier injection added (per its marker), so that only the user's own
/// fields are held to "kept as they were".
fn without_previous_injection(object: &Value) -> Value {
    let mut object = object.clone();
    let marker = "/spec/template/metadata/annotations";
    let Some(record) = object
        .pointer_mut(marker)
        .and_then(Value::as_object_mut)
        .and_then(|a| a.shift_remove(inject::keys::INJECTED_ANNOTATION))
        .and_then(|v| v.as_str().and_then(inject::Record::from_annotation))
    else {
        return object;
    };
    let named = |name: &str| {
        let name = name.to_owned();
        move |v: &Value| v.get("name").and_then(Value::as_str) != Some(name.as_str())
    };
    let pod = object.pointer_mut("/spec/template/spec").expect("pod spec");
    for (field, name) in [
        ("volumes", &record.volume),
        ("initContainers", &record.init_container),
    ] {
        if let Some(list) = pod.get_mut(field).and_then(Value::as_array_mut) {
            list.retain(named(name));
        }
    }
    for container in pod
        .get_mut("containers")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
    {
        if let Some(mounts) = container
            .get_mut("volumeMounts")
            .and_then(Value::as_array_mut)
        {
            mounts.retain(named(&record.volume));
        }
        for env in container
            .get_mut("env")
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            if env.get("name").and_then(Value::as_str) == Some(record.env.as_str()) {
                if let Some(value) = env.get("value").and_then(Value::as_str) {
                    let kept: Vec<&str> = value.split(',').filter(|p| *p != record.path).collect();
                    env["value"] = Value::from(kept.join(","));
                }
            }
        }
    }
    object
}

/// Every field of `original` is in `injected`, in the same place and order; arrays may only grow at
/// the end. The one value allowed to change is `path.repo`, which may only gain paths.
fn keeps(original: &Value, injected: &Value, at: &str) -> Result<(), String> {
    match (original, injected) {
        (Value::Object(o), Value::Object(i)) => {
            let is_repo_env = o
                .get("name")
                .and_then(Value::as_str)
                .is_some_and(|n| n == "path.repo" || n == "ELASTICSEARCH_FS_SNAPSHOT_REPO_PATH");
            for (key, ov) in o {
                let iv = i.get(key).ok_or_else(|| format!("{at}/{key}"))?;
                if is_repo_env && key == "value" {
                    let (old, new) = (
                        ov.as_str().unwrap_or_default(),
                        iv.as_str().unwrap_or_default(),
                    );
                    let old: Vec<&str> = old.split(',').filter(|p| !p.is_empty()).collect();
                    let new: Vec<&str> = new.split(',').collect();
                    if !new.starts_with(&old) {
                        return Err(format!("{at}/value paths {old:?} (now {new:?})"));
                    }
                    continue;
                }
                keeps(ov, iv, &format!("{at}/{key}"))?;
            }
            let order: Vec<&String> = i.keys().filter(|k| o.contains_key(*k)).collect();
            if order != o.keys().collect::<Vec<_>>() {
                return Err(format!("{at} key order"));
            }
            Ok(())
        }
        (Value::Array(o), Value::Array(i)) if i.len() >= o.len() => o
            .iter()
            .zip(i)
            .enumerate()
            .try_for_each(|(n, (ov, iv))| keeps(ov, iv, &format!("{at}/{n}"))),
        // Helm prints empty keys (`annotations:`) as null, which Kubernetes reads as absent.
        (Value::Null, _) => Ok(()),
        _ if original == injected => Ok(()),
        _ => Err(at.to_owned()),
    }
}

#[test]
fn the_plugin_binary_writes_exactly_the_goldens() {
    use std::ffi::OsStr;
    let plugin = test_support::Runner::new(env!("CARGO_BIN_EXE_kubectl-logbackup"));
    let mut checked = 0;
    for case in cases() {
        let golden = sibling(&case, ".injected.yaml");
        let Ok(expected) = std::fs::read_to_string(&golden) else {
            continue;
        };
        let out = plugin.run(&[OsStr::new("inject"), OsStr::new("-f"), case.as_os_str()]);
        assert!(out.success(), "{}: {}", case.display(), out.stderr);
        assert_eq!(out.stdout, expected, "{}", case.display());
        checked += 1;
    }
    assert!(
        checked >= 10,
        "only {checked} goldens checked through the binary"
    );
}

/// Istio runs every injection case through both kube-inject and the webhook; here every case also
/// goes through `enable --via patch`: the pod template enable's patch produces is the golden's, and
/// a case the core refuses is refused by enable with the same reason.
#[test]
fn enable_s_actions_write_the_same_pod_templates_as_the_goldens() {
    use logbackup::enable::{self, Action, EnableInput, EnableOptions, Via};
    let options = EnableOptions {
        storage_class: Some("nfs".into()),
        size: "10Gi".into(),
        via: Via::Patch,
        restart: false,
        ..EnableOptions::default()
    };
    let mut checked = 0;
    for case in cases() {
        let original = load(&case);
        let direct = inject::plan(&original, &Options::default());
        if let Ok(plan) = &direct {
            if matches!(plan.outcome, Outcome::Skipped(_)) {
                // enable labels what it is pointed at, so a skip by label has no enable twin;
                // ECK-owned StatefulSets are refused by enable (tests in core's enable::plan).
                continue;
            }
        }
        let planned =
            enable::resolve_claim(std::slice::from_ref(&original), &options).and_then(|claim| {
                enable::plan_enable(&EnableInput {
                    namespace: "logging",
                    targets: std::slice::from_ref(&original),
                    claim: &claim,
                    existing_claim: None,
                    webhook_installed: false,
                    options: &options,
                })
            });
        let plan = match (planned, direct) {
            (Ok(plan), Ok(_)) => plan,
            (Err(e), Err(core)) => {
                assert!(
                    e.to_string().contains(&core.to_string()),
                    "{}: enable refused with {e:?}, the core with {core}",
                    case.display()
                );
                checked += 1;
                continue;
            }
            (planned, direct) => panic!(
                "{}: enable gave {planned:?}, the core {direct:?}",
                case.display()
            ),
        };
        let mut object = original.clone();
        for action in &plan.actions {
            if let Action::Patch { patch, .. } = action {
                let ops: json_patch::Patch =
                    serde_json::from_value(patch.clone()).expect("enable's patch is RFC 6902");
                json_patch::patch(&mut object, &ops)
                    .unwrap_or_else(|e| panic!("{}: enable's patch: {e}", case.display()));
            }
        }
        let golden = load(&sibling(&case, ".injected.yaml"));
        assert_eq!(
            object.pointer("/spec/template"),
            golden.pointer("/spec/template"),
            "{}: enable's pod template differs from the golden",
            case.display()
        );
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} cases went through enable");
}

fn eck_fixtures() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/eck");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("eck fixtures directory")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            name.ends_with(".yaml") && !name.ends_with(".patch.yaml")
        })
        .collect();
    cases.sort();
    cases
}

/// ECK goldens: `tests/fixtures/eck/X.yaml` (an `Elasticsearch` resource) -> `X.patch.yaml`, the
/// merge patch `enable` sends (or `X.error.txt`). Each patch must also be idempotent, keep the
/// user's nodeSets, and be undone by `disable`'s patch.
#[test]
fn eck_goldens_are_current_idempotent_and_undone_by_disable() {
    use logbackup::enable::{eck_disable_patch, eck_enable_patch};
    let path = inject::Family::Elasticsearch.default_path();
    let cases = eck_fixtures();
    assert!(cases.len() >= 3, "expected the ECK fixtures");
    let mut stale = Vec::new();
    for case in &cases {
        let original = load(case);
        let claim = "logs-backup";
        let result = eck_enable_patch(&original, claim, path);
        let (patch, error) = match &result {
            Ok(Some(patch)) => (Some(manifest::to_yaml(patch).expect("yaml")), None),
            Ok(None) => panic!("{}: nothing to enable", case.display()),
            Err(e) => (None, Some(format!("{e}\n"))),
        };
        check_golden(&sibling(case, ".patch.yaml"), patch.as_deref(), &mut stale);
        check_golden(&sibling(case, ".error.txt"), error.as_deref(), &mut stale);
        let Ok(Some(patch)) = result else { continue };

        let mut enabled = original.clone();
        json_patch::merge(&mut enabled, &patch);
        assert_eq!(
            eck_enable_patch(&enabled, claim, path).expect("re-plan"),
            None,
            "{}: not idempotent",
            case.display()
        );
        for (before, after) in original["spec"]["nodeSets"]
            .as_array()
            .expect("nodeSets")
            .iter()
            .zip(enabled["spec"]["nodeSets"].as_array().expect("nodeSets"))
        {
            let mut before = before.clone();
            // path.repo is the one value that changes: it gains our path, as a list.
            for config in [&mut before["config"]] {
                if let Some(c) = config.as_object_mut() {
                    c.remove("path.repo");
                    if let Some(p) = c.get_mut("path").and_then(Value::as_object_mut) {
                        p.remove("repo");
                    }
                }
            }
            if let Err(lost) = keeps(&before, after, "") {
                panic!("{}: enable lost the user's {lost}", case.display());
            }
        }
        let undo = eck_disable_patch(&enabled, path)
            .expect("plan disable")
            .expect("something to disable");
        let mut disabled = enabled.clone();
        json_patch::merge(&mut disabled, &undo);
        for (set, original_set) in disabled["spec"]["nodeSets"]
            .as_array()
            .expect("nodeSets")
            .iter()
            .zip(original["spec"]["nodeSets"].as_array().expect("nodeSets"))
        {
            let text = set.to_string();
            for ours in [
                inject::keys::VOLUME_NAME,
                inject::keys::INIT_CONTAINER_NAME,
                inject::keys::INJECTED_ANNOTATION,
                path,
            ] {
                assert!(
                    !text.contains(ours),
                    "{}: disable left {ours} in {text}",
                    case.display()
                );
            }
            assert_eq!(
                set["podTemplate"]["spec"]["initContainers"],
                original_set["podTemplate"]["spec"]["initContainers"],
                "{}: the user's init containers",
                case.display()
            );
        }
    }
    assert!(
        stale.is_empty(),
        "stale goldens (run with UPDATE_GOLDEN=1 after reviewing):\n{}",
        stale.join("\n\n")
    );
}
