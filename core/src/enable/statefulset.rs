//! One StatefulSet: the label and annotations enable writes, and whether its pods need restarting.

use serde_json::{json, Map, Value};

use crate::inject::keys::{
    CLAIM_ANNOTATION, CONTAINER_ANNOTATION, ENABLED, INJECT_LABEL, PATH_ANNOTATION,
};
use crate::inject::ops::{at, Ops};

/// The annotations enable writes: the claim always (so the webhook and later runs agree on it), the
/// path and container only when the user chose them.
pub fn annotations(claim: &str, path: Option<&str>, container: Option<&str>) -> Map<String, Value> {
    let mut map = Map::new();
    map.insert(CLAIM_ANNOTATION.into(), claim.into());
    if let Some(p) = path {
        map.insert(PATH_ANNOTATION.into(), p.into());
    }
    if let Some(c) = container {
        map.insert(CONTAINER_ANNOTATION.into(), c.into());
    }
    map
}

/// `sts` with the label and `annotations` set, as the API server will see it after the patch.
pub fn labelled(sts: &Value, annotations: &Map<String, Value>) -> Value {
    let mut copy = sts.clone();
    let meta = copy
        .as_object_mut()
        .map(|o| o.entry("metadata").or_insert_with(|| json!({})));
    if let Some(Value::Object(meta)) = meta {
        if let Value::Object(labels) = meta.entry("labels").or_insert_with(|| json!({})) {
            labels.insert(INJECT_LABEL.into(), ENABLED.into());
        }
        if let Value::Object(a) = meta.entry("annotations").or_insert_with(|| json!({})) {
            a.extend(annotations.clone());
        }
    }
    copy
}

/// Whether the label and annotations are already there.
pub fn metadata_current(sts: &Value, annotations: &Map<String, Value>) -> bool {
    let label = sts
        .pointer("/metadata/labels")
        .and_then(|l| l.get(INJECT_LABEL))
        .and_then(Value::as_str);
    let have = sts
        .pointer("/metadata/annotations")
        .and_then(Value::as_object);
    label == Some(ENABLED)
        && annotations
            .iter()
            .all(|(k, v)| have.and_then(|h| h.get(k)) == Some(v))
}

/// The merge patch for the webhook path: the API server calls the webhook on this update.
pub fn metadata_merge_patch(annotations: &Map<String, Value>) -> Value {
    json!({ "metadata": { "labels": { INJECT_LABEL: ENABLED }, "annotations": annotations } })
}

/// JSON-patch operations setting the label and annotations, for the single direct-patch request.
pub fn metadata_json_ops(sts: &Value, annotations: &Map<String, Value>) -> Vec<Value> {
    let mut ops = Ops::default();
    let mut set = |field: &str, entries: Map<String, Value>| {
        let parent = at(&[], &["metadata", field]);
        if sts
            .pointer("/metadata")
            .and_then(|m| m.get(field))
            .is_some_and(Value::is_object)
        {
            for (k, v) in entries {
                ops.add(&at(&parent, &[k]), v);
            }
        } else {
            ops.add(&parent, Value::Object(entries));
        }
    };
    let mut label = Map::new();
    label.insert(INJECT_LABEL.into(), ENABLED.into());
    set("labels", label);
    set("annotations", annotations.clone());
    ops.into_values()
}

/// A `test` of the resourceVersion: index-based operations must not land on a changed object.
pub fn version_guard(object: &Value) -> Option<Value> {
    let version = object
        .pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)?;
    let mut ops = Ops::default();
    ops.test(&at(&[], &["metadata", "resourceVersion"]), version.into());
    ops.into_values().pop()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RestartNeed {
    /// Template unchanged and every pod already runs it.
    None,
    /// `updateStrategy: RollingUpdate`: the StatefulSet controller replaces the pods itself.
    Controller,
    /// `updateStrategy: OnDelete` (KubeSphere): nothing restarts until someone deletes the pods.
    Us,
}

/// `template_changes`: the planned patch (or the webhook) changes the pod template.
pub fn restart_needed(sts: &Value, template_changes: bool) -> RestartNeed {
    let strategy = sts
        .pointer("/spec/updateStrategy/type")
        .and_then(Value::as_str)
        .unwrap_or("RollingUpdate");
    let revision = |f: &str| sts.pointer(&format!("/status/{f}")).and_then(Value::as_str);
    // Pods left on an older revision by an earlier, interrupted run still need the restart.
    let stale_pods = match (revision("currentRevision"), revision("updateRevision")) {
        (Some(c), Some(u)) => c != u,
        _ => false,
    };
    match (strategy, template_changes || stale_pods) {
        (_, false) => RestartNeed::None,
        ("OnDelete", true) => RestartNeed::Us,
        _ => RestartNeed::Controller,
    }
}

/// Pod names, highest ordinal first (as the controller itself rolls), honouring `spec.ordinals.start`.
pub fn pods_in_restart_order(sts: &Value) -> Vec<String> {
    let name = sts
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let replicas = sts
        .pointer("/spec/replicas")
        .and_then(Value::as_u64)
        .unwrap_or(1);
    let start = sts
        .pointer("/spec/ordinals/start")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    (start..start + replicas)
        .rev()
        .map(|i| format!("{name}-{i}"))
        .collect()
}

/// The controller has replaced every pod with a Ready one of the current revision.
pub fn rolled_out(sts: &Value) -> bool {
    let n = |p: &str| sts.pointer(p).and_then(Value::as_u64);
    let s = |p: &str| sts.pointer(p).and_then(Value::as_str);
    let replicas = n("/spec/replicas").unwrap_or(1);
    let observed = match (n("/metadata/generation"), n("/status/observedGeneration")) {
        (Some(g), Some(o)) => o >= g,
        _ => false,
    };
    observed
        && s("/status/updateRevision").is_some()
        && s("/status/currentRevision") == s("/status/updateRevision")
        && n("/status/updatedReplicas").unwrap_or(0) >= replicas
        && n("/status/readyReplicas").unwrap_or(0) >= replicas
}

/// Master-eligible StatefulSets restart last, so the cluster keeps its elected master as long as
/// possible (the order Elasticsearch recommends for rolling upgrades).
pub fn is_master_set(sts: &Value) -> bool {
    let name = sts
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    ["-master", "-masters", "-discovery"]
        .iter()
        .any(|s| name.ends_with(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sts(strategy: Option<&str>, replicas: u64) -> Value {
        let mut v = json!({"metadata": {"name": "es-data"}, "spec": {"replicas": replicas}});
        if let Some(s) = strategy {
            v["spec"]["updateStrategy"] = json!({ "type": s });
        }
        v
    }

    #[test]
    fn on_delete_needs_us_rolling_update_needs_the_controller() {
        assert_eq!(
            restart_needed(&sts(Some("OnDelete"), 2), true),
            RestartNeed::Us
        );
        assert_eq!(
            restart_needed(&sts(Some("RollingUpdate"), 2), true),
            RestartNeed::Controller
        );
        assert_eq!(restart_needed(&sts(None, 2), true), RestartNeed::Controller);
        assert_eq!(
            restart_needed(&sts(Some("OnDelete"), 2), false),
            RestartNeed::None
        );
    }

    #[test]
    fn pods_left_on_an_old_revision_still_need_a_restart() {
        let mut v = sts(Some("OnDelete"), 2);
        v["status"] = json!({"currentRevision": "a", "updateRevision": "b"});
        assert_eq!(restart_needed(&v, false), RestartNeed::Us);
        v["status"]["updateRevision"] = json!("a");
        assert_eq!(restart_needed(&v, false), RestartNeed::None);
    }

    #[test]
    fn pods_go_highest_ordinal_first() {
        assert_eq!(
            pods_in_restart_order(&sts(None, 3)),
            ["es-data-2", "es-data-1", "es-data-0"]
        );
        let mut v = sts(None, 2);
        v["spec"]["ordinals"] = json!({"start": 5});
        assert_eq!(pods_in_restart_order(&v), ["es-data-6", "es-data-5"]);
        v["spec"]["replicas"] = json!(0);
        assert!(pods_in_restart_order(&v).is_empty());
    }

    #[test]
    fn labelled_copy_and_currency() {
        let a = annotations("c", None, Some("es"));
        let v = labelled(
            &json!({"metadata": {"name": "x", "labels": {"app": "es"}}}),
            &a,
        );
        assert_eq!(
            v["metadata"]["labels"],
            json!({"app": "es", INJECT_LABEL: ENABLED})
        );
        assert_eq!(v["metadata"]["annotations"][CLAIM_ANNOTATION], "c");
        assert_eq!(v["metadata"]["annotations"][CONTAINER_ANNOTATION], "es");
        assert!(metadata_current(&v, &a));
        assert!(!metadata_current(&v, &annotations("other", None, None)));
        assert!(!metadata_current(&json!({}), &a));
    }

    #[test]
    fn json_ops_create_missing_maps_and_escape_keys() {
        let a = annotations("c", None, None);
        let ops = metadata_json_ops(&json!({"metadata": {"labels": {"app": "es"}}}), &a);
        assert_eq!(
            ops,
            vec![
                json!({"op": "add", "path": "/metadata/labels/logbackup.io~1inject", "value": "enabled"}),
                json!({"op": "add", "path": "/metadata/annotations", "value": {"logbackup.io/claim": "c"}}),
            ]
        );
    }

    #[test]
    fn guard_tests_the_resource_version() {
        assert_eq!(
            version_guard(&json!({"metadata": {"resourceVersion": "42"}})),
            Some(json!({"op": "test", "path": "/metadata/resourceVersion", "value": "42"}))
        );
        assert_eq!(version_guard(&json!({})), None);
    }

    #[test]
    fn rolled_out_means_observed_current_updated_and_ready() {
        let done = json!({"metadata": {"generation": 3}, "spec": {"replicas": 2},
            "status": {"observedGeneration": 3, "currentRevision": "b", "updateRevision": "b", "updatedReplicas": 2, "readyReplicas": 2}});
        assert!(rolled_out(&done));
        for (pointer, value) in [
            ("/status/observedGeneration", json!(2)),
            ("/status/currentRevision", json!("a")),
            ("/status/updatedReplicas", json!(1)),
            ("/status/readyReplicas", json!(1)),
        ] {
            let mut v = done.clone();
            *v.pointer_mut(pointer).unwrap() = value;
            assert!(!rolled_out(&v), "{pointer}");
        }
        assert!(!rolled_out(&json!({"spec": {"replicas": 1}})));
    }

    #[test]
    fn master_sets_are_recognised_by_name() {
        assert!(is_master_set(
            &json!({"metadata": {"name": "elasticsearch-logging-discovery"}})
        ));
        assert!(is_master_set(&json!({"metadata": {"name": "es-master"}})));
        assert!(!is_master_set(
            &json!({"metadata": {"name": "elasticsearch-logging-data"}})
        ));
    }
}
