//! Property test over the review function, on StatefulSets generated from the inject fixtures by
//! random edits (fields removed, set to null, `{}`, `[]` or a string, array items dropped or
//! duplicated, the label and annotations toggled). For every generated object:
//!   1. the review never panics;
//!   2. a patch, when there is one, applies to the object exactly as it was sent;
//!   3. the patched object, reviewed again, gives no patch.
//!
//! And on the same objects: the review (the body parsed into a borrowed `Doc`, managedFields and
//! last-applied skipped) decides exactly what `inject::plan` decides over the object as a
//! `serde_json::Value` (the plugin's path): outcome, patch (the record included), warnings and
//! denial.
//!
//! CI runs the default 256 cases. To run it long (the fuzz campaign ran ~50,000):
//!   PROPTEST_CASES=50000 cargo test --release -p logbackup-webhook --test patch_properties
//! A failure prints the minimal object it shrank to; proptest also keeps its seed in
//! patch_properties.proptest-regressions beside this file, replayed first on every run.
#![allow(clippy::unwrap_used, clippy::expect_used)] // A test crate: a panic is how a test reports.

mod common;

use logbackup_core::inject::{self, Options};
use logbackup_webhook::review::{review, ReviewLimits, Verdict};
use proptest::prelude::*;
use serde_json::{json, Value};

use common::*;

/// Every StatefulSet fixture, injected or not: the originals and their injected goldens (so
/// updates of injected objects are generated too).
fn fixtures() -> Vec<Value> {
    let mut out = Vec::new();
    let mut paths: Vec<_> = std::fs::read_dir(fixture_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    paths.sort();
    for path in paths {
        let doc = read_yaml(&path);
        if doc["kind"] == "StatefulSet" {
            out.push(doc);
        }
    }
    assert!(out.len() > 10, "found only {} fixtures", out.len());
    out
}

/// Pointers to every node under the object (the root excluded).
fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
    let escape = |k: &str| k.replace('~', "~0").replace('/', "~1");
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                let p = format!("{at}/{}", escape(k));
                out.push(p.clone());
                pointers(child, p, out);
            }
        }
        Value::Array(a) => {
            for (i, child) in a.iter().enumerate() {
                let p = format!("{at}/{i}");
                out.push(p.clone());
                pointers(child, p, out);
            }
        }
        _ => {}
    }
}

#[derive(Debug, Clone)]
enum Edit {
    Remove(usize),
    Set(usize, Value),
    Duplicate(usize),
    Label(Option<&'static str>),
    Annotation(&'static str, Option<&'static str>),
}

fn edit() -> impl Strategy<Value = Edit> {
    let node = any::<usize>();
    let value = prop_oneof![
        Just(Value::Null),
        Just(json!({})),
        Just(json!([])),
        Just(json!("x")),
        Just(json!("/usr/share/elasticsearch/backup")),
        Just(json!(1000)),
    ];
    prop_oneof![
        3 => node.prop_map(Edit::Remove),
        3 => (node, value).prop_map(|(n, v)| Edit::Set(n, v)),
        1 => node.prop_map(Edit::Duplicate),
        1 => prop_oneof![Just(None), Just(Some("enabled")), Just(Some("disabled")), Just(Some("maybe"))]
            .prop_map(Edit::Label),
        1 => (
            prop_oneof![Just("logbackup.io/claim"), Just("logbackup.io/path"), Just("logbackup.io/container"), Just("logbackup.io/uid")],
            prop_oneof![Just(None), Just(Some("other-claim")), Just(Some("/backup")), Just(Some("elasticsearch")), Just(Some("1000")), Just(Some(""))],
        )
            .prop_map(|(k, v)| Edit::Annotation(k, v)),
    ]
}

fn apply_edit(object: &mut Value, edit: &Edit) {
    let mut all = Vec::new();
    pointers(object, String::new(), &mut all);
    // Edits aim under metadata and spec.template, where the planner reads.
    all.retain(|p| p.starts_with("/metadata") || p.starts_with("/spec/template"));
    let pick = |n: usize| all.get(n % all.len().max(1)).cloned();
    match edit {
        Edit::Remove(n) => {
            if let Some(p) = pick(*n) {
                let (parent, key) = p.rsplit_once('/').unwrap();
                match object.pointer_mut(parent) {
                    Some(Value::Object(m)) => {
                        m.remove(&key.replace("~1", "/").replace("~0", "~"));
                    }
                    Some(Value::Array(a)) => {
                        if let Ok(i) = key.parse::<usize>() {
                            if i < a.len() {
                                a.remove(i);
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
        Edit::Set(n, v) => {
            if let Some(slot) = pick(*n).and_then(|p| object.pointer_mut(&p)) {
                *slot = v.clone();
            }
        }
        Edit::Duplicate(n) => {
            if let Some(p) = pick(*n) {
                let (parent, key) = p.rsplit_once('/').unwrap();
                if let (Some(Value::Array(a)), Ok(i)) =
                    (object.pointer_mut(parent), key.parse::<usize>())
                {
                    if let Some(item) = a.get(i).cloned() {
                        a.push(item);
                    }
                }
            }
        }
        Edit::Label(v) => set_key(object, "/metadata", "labels", "logbackup.io/inject", *v),
        Edit::Annotation(k, v) => set_key(object, "/metadata", "annotations", k, *v),
    }
}

fn set_key(object: &mut Value, at: &str, map: &str, key: &str, value: Option<&str>) {
    let Some(Value::Object(meta)) = object.pointer_mut(at) else {
        return;
    };
    let entry = meta.entry(map).or_insert_with(|| json!({}));
    if !entry.is_object() {
        *entry = json!({});
    }
    if let Some(m) = entry.as_object_mut() {
        match value {
            Some(v) => {
                m.insert(key.to_owned(), json!(v));
            }
            None => {
                m.remove(key);
            }
        }
    }
}

/// Failures are kept beside this file and replayed first.
fn config() -> ProptestConfig {
    ProptestConfig {
        failure_persistence: Some(Box::new(
            proptest::test_runner::FileFailurePersistence::WithSource("proptest-regressions"),
        )),
        ..ProptestConfig::default()
    }
}

fn answer(object: &Value, operation: &str) -> Value {
    let body = admission_review(UID, operation, object).to_string();
    review(body, &Options::default(), &ReviewLimits::default())
        .unwrap_or_else(|e| panic!("not reviewed: {e}"))
        .json()
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn every_patch_applies_to_what_was_sent_and_is_idempotent(
        index in any::<usize>(),
        edits in proptest::collection::vec(edit(), 1..6),
        update in any::<bool>(),
    ) {
        let object = generated(index, &edits);
        let operation = if update { "UPDATE" } else { "CREATE" };
        let first = answer(&object, operation);
        prop_assert_eq!(&first["response"]["uid"], &json!(UID));
        let Some(patch) = decode_patch(&first) else {
            return Ok(());
        };
        let mut patched = object.clone();
        let applied = json_patch::patch(&mut patched, &patch);
        prop_assert!(
            applied.is_ok(),
            "the patch does not apply to the object as sent: {:?}\npatch: {}\nobject: {}",
            applied.err(), serde_json::to_string(&patch).unwrap_or_default(), object
        );
        let second = answer(&patched, "UPDATE");
        prop_assert!(
            decode_patch(&second).is_none(),
            "the patched object was patched again: {}\nobject: {}",
            second["response"]["patch"], patched
        );
    }

    #[test]
    fn the_borrowed_review_decides_what_the_plugins_planner_decides(
        index in any::<usize>(),
        edits in proptest::collection::vec(edit(), 0..6),
        update in any::<bool>(),
    ) {
        let object = generated(index, &edits);
        let operation = if update { "UPDATE" } else { "CREATE" };
        // The envelope copies the object's name; an edited one (`{}`, `[]`...) would make the
        // envelope unreadable, which is not what is compared here.
        let mut body = admission_review(UID, operation, &object);
        body["request"]["name"] = json!("es");
        body["request"]["namespace"] = json!("logging");
        let answer = review(body.to_string(), &Options::default(), &ReviewLimits::default())
            .unwrap_or_else(|e| panic!("not reviewed: {e}"))
            .json();
        prop_assert_eq!(decided(&answer), planned(&object), "object: {}", object);
    }
}

/// A fixture, picked by `index`, with `edits` applied.
fn generated(index: usize, edits: &[Edit]) -> Value {
    let all = fixtures_cached();
    let mut object = all[index % all.len()].clone();
    for e in edits {
        apply_edit(&mut object, e);
    }
    object
}

/// The parts of an answer the planner decides: the audit outcome, the patch (which carries the
/// record), the warnings and the denial message.
fn decided(answer: &Value) -> [Value; 4] {
    let response = &answer["response"];
    let patch = decode_patch(answer).map(|p| serde_json::to_value(p).unwrap());
    [
        response["auditAnnotations"]["outcome"].clone(),
        patch.unwrap_or(Value::Null),
        response["warnings"].clone(),
        if response["allowed"] == json!(false) {
            response["status"]["message"].clone()
        } else {
            Value::Null
        },
    ]
}

/// What `inject::plan` over the `serde_json::Value` decides, in the answer's terms.
fn planned(object: &Value) -> [Value; 4] {
    match inject::plan(object, &Options::default()) {
        Ok(plan) => {
            let warnings: Vec<String> = plan.warnings.iter().map(ToString::to_string).collect();
            [
                json!(Verdict::Admitted(plan.outcome).label()),
                if plan.patch.is_empty() {
                    Value::Null
                } else {
                    serde_json::to_value(&plan.patch).unwrap()
                },
                if warnings.is_empty() {
                    Value::Null
                } else {
                    json!(warnings)
                },
                Value::Null,
            ]
        }
        Err(e) => [
            Value::Null,
            Value::Null,
            Value::Null,
            json!(format!("logbackup: {e}")),
        ],
    }
}

fn fixtures_cached() -> &'static [Value] {
    static FIXTURES: std::sync::OnceLock<Vec<Value>> = std::sync::OnceLock::new();
    FIXTURES.get_or_init(fixtures)
}

/// The two shapes the fuzz campaign found, kept as fixed cases so they run whatever the seed.
#[test]
fn the_campaigns_two_failures_now_apply() {
    let manual = read_yaml(&fixture_dir().join("edge-manual-procedure.yaml"));
    let mut no_mount_path = manual.clone();
    let mounts = no_mount_path
        .pointer_mut("/spec/template/spec/containers/0/volumeMounts")
        .and_then(Value::as_array_mut)
        .unwrap();
    let adopted = mounts.iter_mut().find(|m| m["name"] == "backup").unwrap();
    adopted.as_object_mut().unwrap().remove("mountPath");
    let mut null_metadata = manual;
    null_metadata["spec"]["template"]["metadata"] = Value::Null;
    for object in [no_mount_path, null_metadata] {
        let first = answer(&object, "CREATE");
        let patch = decode_patch(&first).expect("a patch");
        let mut patched = object.clone();
        json_patch::patch(&mut patched, &patch)
            .unwrap_or_else(|e| panic!("{e}: {}", serde_json::to_string(&patch).unwrap()));
        assert!(decode_patch(&answer(&patched, "UPDATE")).is_none());
    }
}
