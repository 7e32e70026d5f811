//! The inverse of enable for one StatefulSet: one JSON patch that removes the label, our annotations
//! and exactly what the `logbackup.io/injected` record says was injected. One request, because the
//! webhook re-injects into any update that still carries the label.

use serde_json::{json, Value};

use crate::inject::keys::*;
use crate::inject::Record;

use super::statefulset::version_guard;

fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// The path to remove entry `i`: the whole array when it is the only entry, as injection created it.
fn only_entry(sts: &Value, parent: &str, i: usize) -> String {
    let len = sts
        .pointer(parent)
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    if len == 1 {
        parent.to_owned()
    } else {
        format!("{parent}/{i}")
    }
}

fn index_of(list: Option<&Value>, name: &str) -> Option<usize> {
    list?
        .as_array()?
        .iter()
        .position(|v| v.get("name").and_then(Value::as_str) == Some(name))
}

/// Test-guarded removal of the named entry of the array at `parent`.
fn remove_named(ops: &mut Vec<Value>, sts: &Value, parent: &str, name: &str) {
    if let Some(i) = index_of(sts.pointer(parent), name) {
        ops.push(json!({"op": "test", "path": format!("{parent}/{i}/name"), "value": name}));
        ops.push(json!({"op": "remove", "path": only_entry(sts, parent, i)}));
    }
}

/// JSON-patch operations, or none when there is nothing of ours on `sts`. Also returns what stays
/// and why, for the user.
pub fn plan_disable(sts: &Value) -> (Vec<Value>, Vec<String>) {
    let mut ops = Vec::new();
    let mut notes = Vec::new();
    let name = sts
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if sts
        .pointer("/metadata/labels")
        .and_then(|l| l.get(INJECT_LABEL))
        .is_some()
    {
        ops.push(
            json!({"op": "remove", "path": format!("/metadata/labels/{}", escape(INJECT_LABEL))}),
        );
    }
    let annotations = sts
        .pointer("/metadata/annotations")
        .and_then(Value::as_object);
    for key in [
        CLAIM_ANNOTATION,
        PATH_ANNOTATION,
        CONTAINER_ANNOTATION,
        UID_ANNOTATION,
        GID_ANNOTATION,
    ] {
        if annotations.is_some_and(|a| a.contains_key(key)) {
            ops.push(
                json!({"op": "remove", "path": format!("/metadata/annotations/{}", escape(key))}),
            );
        }
    }
    let marker = sts
        .pointer("/spec/template/metadata/annotations")
        .and_then(|a| a.get(INJECTED_ANNOTATION))
        .and_then(Value::as_str);
    let record = marker.and_then(Record::from_annotation);
    match (marker, &record) {
        (Some(_), None) => notes.push(format!("statefulset/{name}: the {INJECTED_ANNOTATION} record is unreadable; the injected parts were left in place, remove them by hand")),
        (None, _) => {}
        (Some(_), Some(r)) => {
            let pod = "/spec/template/spec";
            let containers = sts.pointer(&format!("{pod}/containers"));
            // Volumes not named by us were the user's, adopted because they pointed at the claim.
            let ours = r.volume.starts_with(VOLUME_NAME);
            if let Some(c) = index_of(containers, &r.container) {
                let container = format!("{pod}/containers/{c}");
                if ours {
                    remove_named(&mut ops, sts, &format!("{container}/volumeMounts"), &r.volume);
                }
                path_repo_ops(&mut ops, sts, &format!("{container}/env"), r);
            }
            remove_named(&mut ops, sts, &format!("{pod}/initContainers"), &r.init_container);
            if ours {
                remove_named(&mut ops, sts, &format!("{pod}/volumes"), &r.volume);
            } else {
                notes.push(format!("statefulset/{name}: volume {} was there before enable and stays", r.volume));
            }
            let template = "/spec/template/metadata/annotations";
            let alone = sts.pointer(template).and_then(Value::as_object).is_some_and(|a| a.len() == 1);
            let path = if alone { template.to_owned() } else { format!("{template}/{}", escape(INJECTED_ANNOTATION)) };
            ops.push(json!({"op": "remove", "path": path}));
        }
    }
    if !ops.is_empty() {
        if let Some(guard) = version_guard(sts) {
            ops.insert(0, guard);
        }
    }
    (ops, notes)
}

/// Our path leaves the env var; the variable goes only when nothing of the user's is left in it.
fn path_repo_ops(ops: &mut Vec<Value>, sts: &Value, parent: &str, r: &Record) {
    let Some(i) = index_of(sts.pointer(parent), &r.env) else {
        return;
    };
    let Some(current) = sts
        .pointer(&format!("{parent}/{i}/value"))
        .and_then(Value::as_str)
    else {
        return;
    };
    let rest: Vec<&str> = current
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty() && *p != r.path)
        .collect();
    if rest.len() == current.split(',').filter(|p| !p.trim().is_empty()).count() {
        return;
    }
    ops.push(json!({"op": "test", "path": format!("{parent}/{i}/value"), "value": current}));
    if rest.is_empty() {
        ops.push(json!({"op": "remove", "path": only_entry(sts, parent, i)}));
    } else {
        ops.push(json!({"op": "replace", "path": format!("{parent}/{i}/value"), "value": rest.join(",")}));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inject::{self, Options};

    fn sts(env: Option<&str>) -> Value {
        let mut es = json!({"name": "elasticsearch", "image": "docker.elastic.co/elasticsearch/elasticsearch:7.17.0",
                            "volumeMounts": [{"name": "data", "mountPath": "/usr/share/elasticsearch/data"}]});
        if let Some(v) = env {
            es["env"] = json!([{"name": "path.repo", "value": v}, {"name": "X", "value": "1"}]);
        }
        json!({"apiVersion": "apps/v1", "kind": "StatefulSet",
               "metadata": {"name": "es-data", "namespace": "ns", "resourceVersion": "9", "labels": {"app": "es"}, "annotations": {"keep": "me"}},
               "spec": {"selector": {"matchLabels": {"app": "es"}}, "serviceName": "es", "template": {
                   "metadata": {"labels": {"app": "es"}},
                   "spec": {"containers": [es], "volumes": [{"name": "data", "emptyDir": {}}]}}}})
    }

    fn enabled(original: &Value) -> Value {
        let mut v = original.clone();
        v["metadata"]["labels"][INJECT_LABEL] = json!("enabled");
        v["metadata"]["annotations"][CLAIM_ANNOTATION] = json!("es-backup");
        inject::apply(&mut v, &Options::default()).unwrap();
        v
    }

    fn undo(v: &Value) -> Value {
        let (ops, _) = plan_disable(v);
        let patch: json_patch::Patch = serde_json::from_value(Value::Array(ops)).unwrap();
        let mut out = v.clone();
        json_patch::patch(&mut out, &patch).unwrap();
        out
    }

    #[test]
    fn disable_after_enable_restores_the_original() {
        for env in [None, Some("/mnt/user")] {
            let original = sts(env);
            let on = enabled(&original);
            assert_ne!(on, original);
            let off = undo(&on);
            assert_eq!(off, original, "env {env:?}");
        }
    }

    #[test]
    fn every_index_removal_is_guarded_by_a_test() {
        let (ops, _) = plan_disable(&enabled(&sts(None)));
        assert_eq!(
            ops[0],
            json!({"op": "test", "path": "/metadata/resourceVersion", "value": "9"})
        );
        for (i, op) in ops.iter().enumerate() {
            let path = op["path"].as_str().unwrap();
            if op["op"] == "remove" && path.starts_with("/spec/template/spec") {
                assert_eq!(ops[i - 1]["op"], "test", "{op}");
            }
        }
    }

    #[test]
    fn a_changed_object_makes_the_patch_fail_instead_of_removing_the_wrong_entry() {
        let on = enabled(&sts(None));
        let (ops, _) = plan_disable(&on);
        let mut moved = on.clone();
        moved["spec"]["template"]["spec"]["volumes"]
            .as_array_mut()
            .unwrap()
            .insert(0, json!({"name": "new", "emptyDir": {}}));
        let patch: json_patch::Patch =
            serde_json::from_value(Value::Array(ops[1..].to_vec())).unwrap();
        assert!(json_patch::patch(&mut moved, &patch).is_err());
    }

    #[test]
    fn an_adopted_volume_stays_and_is_reported() {
        let mut original = sts(None);
        original["spec"]["template"]["spec"]["volumes"]
            .as_array_mut()
            .unwrap()
            .push(json!({"name": "backup", "persistentVolumeClaim": {"claimName": "es-backup"}}));
        let on = enabled(&original);
        let (_, notes) = plan_disable(&on);
        assert!(
            notes
                .iter()
                .any(|n| n.contains("volume backup was there before enable")),
            "{notes:?}"
        );
        let off = undo(&on);
        assert_eq!(
            off["spec"]["template"]["spec"]["volumes"],
            original["spec"]["template"]["spec"]["volumes"]
        );
    }

    #[test]
    fn nothing_of_ours_means_no_operations() {
        assert_eq!(plan_disable(&sts(None)).0, Vec::<Value>::new());
    }

    #[test]
    fn an_unreadable_record_is_left_alone_and_reported() {
        let mut v = sts(None);
        v["spec"]["template"]["metadata"]["annotations"] = json!({INJECTED_ANNOTATION: "{garbage"});
        let (ops, notes) = plan_disable(&v);
        assert!(ops.is_empty());
        assert!(notes[0].contains("unreadable"));
    }
}
