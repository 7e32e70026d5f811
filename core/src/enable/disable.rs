//! The inverse of enable for one StatefulSet: one JSON patch that removes the label, our annotations
//! and exactly what the `logbackup.io/injected` record says was injected. One request, because the
//! webhook re-injects into any update that still carries the label.

use serde_json::Value;

use crate::inject::keys::*;
use crate::inject::ops::{at, Ops};
use crate::inject::Record;

use super::statefulset::version_guard;

/// The JSON pointer of `segments`, for reading `sts`.
fn pointer(segments: &[String]) -> String {
    crate::inject::ops::pointer(segments).to_string()
}

/// The path to remove entry `i`: the whole array when it is the only entry, as injection created it.
fn only_entry(sts: &Value, parent: &[String], i: usize) -> Vec<String> {
    let len = sts
        .pointer(&pointer(parent))
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    if len == 1 {
        parent.to_vec()
    } else {
        at(parent, &[i])
    }
}

fn index_of(list: Option<&Value>, name: &str) -> Option<usize> {
    list?
        .as_array()?
        .iter()
        .position(|v| v.get("name").and_then(Value::as_str) == Some(name))
}

/// Test-guarded removal of the named entry of the array at `parent`.
fn remove_named(ops: &mut Ops, sts: &Value, parent: &[String], name: &str) {
    if let Some(i) = index_of(sts.pointer(&pointer(parent)), name) {
        ops.test(&at(parent, &[i.to_string(), "name".into()]), name.into());
        ops.remove(&only_entry(sts, parent, i));
    }
}

/// JSON-patch operations, or none when there is nothing of ours on `sts`. Also returns what stays
/// and why, for the user.
pub fn plan_disable(sts: &Value) -> (Vec<Value>, Vec<String>) {
    let mut ops = Ops::default();
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
        ops.remove(&at(&[], &["metadata", "labels", INJECT_LABEL]));
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
            ops.remove(&at(&[], &["metadata", "annotations", key]));
        }
    }
    let template = at(&[], &["spec", "template", "metadata", "annotations"]);
    let marker = sts
        .pointer(&pointer(&template))
        .and_then(|a| a.get(INJECTED_ANNOTATION))
        .and_then(Value::as_str);
    let record = marker.and_then(Record::from_annotation);
    match (marker, &record) {
        (Some(_), None) => notes.push(format!("statefulset/{name}: the {INJECTED_ANNOTATION} record is unreadable; the injected parts were left in place, remove them by hand")),
        (None, _) => {}
        (Some(_), Some(r)) => {
            let pod = at(&[], &["spec", "template", "spec"]);
            let containers = sts.pointer(&pointer(&at(&pod, &["containers"])));
            // Volumes not named by us were the user's, adopted because they pointed at the claim.
            let ours = r.volume.starts_with(VOLUME_NAME);
            if let Some(c) = index_of(containers, &r.container) {
                let container = at(&pod, &["containers".to_owned(), c.to_string()]);
                if ours {
                    remove_named(&mut ops, sts, &at(&container, &["volumeMounts"]), &r.volume);
                }
                path_repo_ops(&mut ops, sts, &at(&container, &["env"]), r);
            }
            remove_named(&mut ops, sts, &at(&pod, &["initContainers"]), &r.init_container);
            if ours {
                remove_named(&mut ops, sts, &at(&pod, &["volumes"]), &r.volume);
            } else {
                notes.push(format!("statefulset/{name}: volume {} was there before enable and stays", r.volume));
            }
            let alone = sts.pointer(&pointer(&template)).and_then(Value::as_object).is_some_and(|a| a.len() == 1);
            if alone {
                ops.remove(&template);
            } else {
                ops.remove(&at(&template, &[INJECTED_ANNOTATION]));
            }
        }
    }
    let mut ops = ops.into_values();
    if !ops.is_empty() {
        if let Some(guard) = version_guard(sts) {
            ops.insert(0, guard);
        }
    }
    (ops, notes)
}

/// Our path leaves the env var; the variable goes only when nothing of the user's is left in it.
fn path_repo_ops(ops: &mut Ops, sts: &Value, parent: &[String], r: &Record) {
    let Some(i) = index_of(sts.pointer(&pointer(parent)), &r.env) else {
        return;
    };
    let value_at = at(parent, &[i.to_string(), "value".into()]);
    let Some(current) = sts.pointer(&pointer(&value_at)).and_then(Value::as_str) else {
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
    ops.test(&value_at, current.into());
    if rest.is_empty() {
        ops.remove(&only_entry(sts, parent, i));
    } else {
        ops.replace(&value_at, rest.join(",").into());
    }
}

/// `disable` on every target: the patches, the pods we must restart (OnDelete StatefulSets whose
/// template changes), and what to tell the user.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct DisablePlan {
    pub actions: Vec<super::Action>,
    pub restart_pods: Vec<String>,
    pub notes: Vec<String>,
}

/// Plans `disable` for StatefulSets and ECK `Elasticsearch` objects, as fetched.
pub fn plan_disable_all(targets: &[Value]) -> Result<DisablePlan, super::EnableError> {
    use super::{Action, PatchKind, PatchType, RestartNeed};
    let mut plan = DisablePlan::default();
    for target in targets {
        let name = target
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        if target.get("kind").and_then(Value::as_str) == Some(super::ES_KIND) {
            let path = crate::inject::Family::Elasticsearch.default_path();
            let patch = super::eck_disable_patch(target, path).map_err(|reason| {
                super::EnableError::Invalid {
                    target: format!("elasticsearch/{name}"),
                    reason,
                }
            })?;
            match patch {
                Some(patch) => plan.actions.push(Action::Patch {
                    kind: PatchKind::Elasticsearch,
                    name,
                    patch_type: PatchType::Merge,
                    patch,
                }),
                None => plan
                    .notes
                    .push(format!("elasticsearch/{name}: nothing of ours to remove")),
            }
            continue;
        }
        let (ops, notes) = plan_disable(target);
        plan.notes.extend(notes);
        if ops.is_empty() {
            plan.notes
                .push(format!("statefulset/{name}: nothing of ours to remove"));
            continue;
        }
        let template_changes = ops.iter().any(|o| {
            o["path"]
                .as_str()
                .is_some_and(|p| p.starts_with("/spec/template"))
        });
        match super::restart_needed(target, template_changes) {
            RestartNeed::Us => plan
                .restart_pods
                .extend(super::pods_in_restart_order(target)),
            RestartNeed::Controller => plan.notes.push(format!(
                "statefulset/{name}: the StatefulSet controller restarts the pods itself"
            )),
            RestartNeed::None => {}
        }
        plan.actions.push(Action::Patch {
            kind: PatchKind::StatefulSet,
            name,
            patch_type: PatchType::Json,
            patch: Value::Array(ops),
        });
    }
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inject::{self, Options};
    use serde_json::json;

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

    #[test]
    fn disabling_several_targets_patches_the_enabled_and_notes_the_rest() {
        let mut on_delete = enabled(&sts(None));
        on_delete["spec"]["updateStrategy"] = json!({"type": "OnDelete"});
        on_delete["spec"]["replicas"] = json!(2);
        let mut untouched = sts(None);
        untouched["metadata"]["name"] = json!("es-master");
        let rolling = enabled(&sts(None));
        let plan = plan_disable_all(&[on_delete, untouched, rolling]).unwrap();
        assert_eq!(plan.actions.len(), 2, "{plan:#?}");
        assert_eq!(plan.restart_pods, vec!["es-data-1", "es-data-0"]);
        assert!(plan
            .notes
            .contains(&"statefulset/es-master: nothing of ours to remove".to_string()));
        assert!(plan.notes.contains(
            &"statefulset/es-data: the StatefulSet controller restarts the pods itself".to_string()
        ));
    }
}
