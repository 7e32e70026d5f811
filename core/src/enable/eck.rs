//! ECK: the operator owns its StatefulSets and would undo changes to them, so enable changes the
//! `Elasticsearch` resource: every nodeSet's podTemplate gets the volume, the mount, the chown init
//! container and the injection record, and its `config` gets `path.repo`. ECK then rolls the pods
//! itself, the Elasticsearch way.
//!
//! The parts are the injection core's own (`inject::desired`, `inject::settings`, `inject::Record`),
//! so a StatefulSet and a nodeSet get the same volume, init container and uid/gid resolution.

use serde_json::{json, Map, Value};

use crate::inject::desired::{self, InitContainer};
use crate::inject::keys::{
    CLAIM_ANNOTATION, INIT_CONTAINER_NAME, INJECTED_ANNOTATION, PATH_ANNOTATION, VOLUME_NAME,
};
use crate::inject::{settings, view, Overrides, Record};
use crate::snapshot::path_repo::from_settings as path_repo;

pub const ES_API_VERSION: &str = "elasticsearch.k8s.elastic.co/v1";
pub const ES_KIND: &str = "Elasticsearch";
pub const ES_PLURAL: &str = "elasticsearches";
/// ECK's name for the Elasticsearch container in every pod it builds.
pub const ECK_CONTAINER: &str = "elasticsearch";
/// The label ECK puts on the StatefulSets it generates, naming their `Elasticsearch` resource.
pub const ECK_CLUSTER_LABEL: &str = "elasticsearch.k8s.elastic.co/cluster-name";

/// The `Elasticsearch` resource that owns `sts`, when ECK generated it.
pub fn eck_cluster_of(sts: &Value) -> Option<String> {
    let labels = sts.pointer("/metadata/labels")?;
    if labels.get(crate::inject::keys::ECK_TYPE_LABEL)?.as_str()? != "elasticsearch" {
        return None;
    }
    labels
        .get(ECK_CLUSTER_LABEL)
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// ECK has seen the latest spec and reports the cluster Ready (its pods rolled, health green).
pub fn eck_ready(es: &Value) -> bool {
    let observed = match (
        es.pointer("/metadata/generation").and_then(Value::as_u64),
        es.pointer("/status/observedGeneration")
            .and_then(Value::as_u64),
    ) {
        (Some(g), Some(o)) => o >= g,
        _ => false,
    };
    observed
        && es.pointer("/status/phase").and_then(Value::as_str) == Some("Ready")
        && es.pointer("/status/health").and_then(Value::as_str) == Some("green")
}

fn name_of(v: &Value) -> Option<&str> {
    v.get("name").and_then(Value::as_str)
}

fn node_sets(es: &Value, id: &str) -> Result<Vec<Value>, String> {
    es.pointer("/spec/nodeSets")
        .and_then(Value::as_array)
        .filter(|n| !n.is_empty())
        .cloned()
        .ok_or_else(|| format!("{id} has no spec.nodeSets"))
}

fn set_path_repo(config: &mut Map<String, Value>, paths: Vec<String>) {
    let nested = config.get("path").and_then(|p| p.get("repo")).is_some();
    let value = if paths.is_empty() {
        None
    } else {
        Some(json!(paths))
    };
    if nested {
        if let Some(Value::Object(path)) = config.get_mut("path") {
            match value {
                Some(v) => path.insert("repo".into(), v),
                None => path.remove("repo"),
            };
        }
    } else {
        match value {
            Some(v) => config.insert("path.repo".into(), v),
            None => config.remove("path.repo"),
        };
    }
}

fn object_at<'a>(v: &'a mut Value, key: &str) -> Option<&'a mut Map<String, Value>> {
    let o = v.as_object_mut()?;
    o.entry(key).or_insert_with(|| json!({})).as_object_mut()
}

fn array_at<'a>(o: &'a mut Map<String, Value>, key: &str) -> Option<&'a mut Vec<Value>> {
    o.entry(key).or_insert_with(|| json!([])).as_array_mut()
}

fn inject_node_set(set: &mut Value, id: &str, claim: &str, path: &str) -> Result<(), String> {
    let not_object = || format!("{id}: a nodeSet's podTemplate or config is not an object");
    let set_name = name_of(set).unwrap_or_default().to_owned();
    let config = object_at(set, "config").ok_or_else(not_object)?;
    let mut paths = path_repo(config);
    if !paths.iter().any(|p| p == path) {
        paths.push(path.to_owned());
    }
    set_path_repo(config, paths);
    let template = object_at(set, "podTemplate").ok_or_else(not_object)?;
    let pod = template
        .entry("spec")
        .or_insert_with(|| json!({}))
        .as_object_mut()
        .ok_or_else(not_object)?;
    let containers = array_at(pod, "containers").ok_or_else(not_object)?;
    if !containers.iter().any(|c| name_of(c) == Some(ECK_CONTAINER)) {
        // ECK merges a container entry by name into its own defaults: the name and mounts suffice.
        containers.push(json!({ "name": ECK_CONTAINER }));
    }
    let resolved = resolve(&Value::Object(pod.clone()), id, &set_name, claim, path)?;
    let volumes = array_at(pod, "volumes").ok_or_else(not_object)?;
    volumes.retain(|v| name_of(v) != Some(VOLUME_NAME));
    volumes.push(desired::volume(VOLUME_NAME, claim));
    let containers = array_at(pod, "containers").ok_or_else(not_object)?;
    let es = containers
        .iter_mut()
        .find(|c| name_of(c) == Some(ECK_CONTAINER))
        .and_then(Value::as_object_mut)
        .ok_or_else(not_object)?;
    let mounts = array_at(es, "volumeMounts").ok_or_else(not_object)?;
    if let Some(other) = mounts.iter().find(|m| {
        name_of(m) != Some(VOLUME_NAME) && m.get("mountPath").and_then(Value::as_str) == Some(path)
    }) {
        return Err(format!(
            "{id}: nodeSet {set_name} already mounts volume {} at {path}; pass another --path",
            name_of(other).unwrap_or_default()
        ));
    }
    mounts.retain(|m| name_of(m) != Some(VOLUME_NAME));
    mounts.push(desired::mount(VOLUME_NAME, path));
    let inits = array_at(pod, "initContainers").ok_or_else(not_object)?;
    inits.retain(|c| name_of(c) != Some(INIT_CONTAINER_NAME));
    inits.push(
        InitContainer {
            name: INIT_CONTAINER_NAME,
            image: None,
            pull_policy: None,
            volume: VOLUME_NAME,
            path,
            uid: resolved.uid,
            gid: resolved.gid,
        }
        .to_json(),
    );
    let record = Record {
        claim: claim.to_owned(),
        path: path.to_owned(),
        container: ECK_CONTAINER.to_owned(),
        uid: resolved.uid,
        gid: resolved.gid,
        volume: VOLUME_NAME.to_owned(),
        init_container: INIT_CONTAINER_NAME.to_owned(),
        // path.repo lives in the nodeSet's config, not in an env var.
        env: String::new(),
    };
    let meta = object_at(set, "podTemplate")
        .and_then(|t| object_at_map(t, "metadata"))
        .and_then(|m| object_at_map(m, "annotations"))
        .ok_or_else(not_object)?;
    meta.insert(INJECTED_ANNOTATION.into(), record.to_annotation().into());
    Ok(())
}

/// uid and gid as the injection core resolves them for a StatefulSet: the pod's or container's
/// security context, else the Elasticsearch image's defaults.
fn resolve(
    pod: &Value,
    id: &str,
    set: &str,
    claim: &str,
    path: &str,
) -> Result<settings::Settings, String> {
    let spec = <view::Pod as serde::Deserialize>::deserialize(pod)
        .map_err(|e| format!("{id}: nodeSet {set}'s podTemplate.spec is not a pod spec: {e}"))?;
    let overrides = Overrides {
        claim: Some(claim.to_owned()),
        path: Some(path.to_owned()),
        container: Some(ECK_CONTAINER.to_owned()),
        uid: None,
        gid: None,
    };
    settings::resolve(
        &format!("{id} nodeSet {set}"),
        &view::Strings::new(),
        &spec,
        &overrides,
    )
    .map_err(|e| e.to_string())
}

fn object_at_map<'a>(
    o: &'a mut Map<String, Value>,
    key: &str,
) -> Option<&'a mut Map<String, Value>> {
    o.entry(key).or_insert_with(|| json!({})).as_object_mut()
}

fn remove_from_node_set(set: &mut Value, path: &str) {
    if let Some(config) = set.get_mut("config").and_then(Value::as_object_mut) {
        let paths = path_repo(config);
        if paths.iter().any(|p| p == path) {
            set_path_repo(config, paths.into_iter().filter(|p| p != path).collect());
        }
    }
    if let Some(meta) = set
        .pointer_mut("/podTemplate/metadata")
        .and_then(Value::as_object_mut)
    {
        let emptied = meta
            .get_mut("annotations")
            .and_then(Value::as_object_mut)
            .is_some_and(|a| a.remove(INJECTED_ANNOTATION).is_some() && a.is_empty());
        if emptied {
            meta.remove("annotations");
        }
    }
    let Some(pod) = set
        .pointer_mut("/podTemplate/spec")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    if let Some(v) = pod.get_mut("volumes").and_then(Value::as_array_mut) {
        v.retain(|v| name_of(v) != Some(VOLUME_NAME));
    }
    let emptied = pod
        .get_mut("initContainers")
        .and_then(Value::as_array_mut)
        .is_some_and(|v| {
            let before = v.len();
            v.retain(|c| name_of(c) != Some(INIT_CONTAINER_NAME));
            v.len() < before && v.is_empty()
        });
    if emptied {
        pod.remove("initContainers");
    }
    for c in pod
        .get_mut("containers")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
    {
        if name_of(c) == Some(ECK_CONTAINER) {
            if let Some(m) = c.get_mut("volumeMounts").and_then(Value::as_array_mut) {
                m.retain(|m| name_of(m) != Some(VOLUME_NAME));
            }
        }
    }
}

/// The merge patch that enables `es`. The nodeSets list is replaced whole (merge patches replace
/// lists), so the resourceVersion rides along as a precondition: a concurrent edit makes the API
/// server answer 409 instead of being overwritten.
pub fn enable_patch(es: &Value, claim: &str, path: &str) -> Result<Option<Value>, String> {
    let id = format!(
        "elasticsearch/{}",
        es.pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
    );
    let before = node_sets(es, &id)?;
    let mut after = before.clone();
    for set in &mut after {
        inject_node_set(set, &id, claim, path)?;
    }
    let annotated = es
        .pointer("/metadata/annotations")
        .and_then(Value::as_object)
        .is_some_and(|a| {
            a.get(CLAIM_ANNOTATION) == Some(&json!(claim))
                && a.get(PATH_ANNOTATION) == Some(&json!(path))
        });
    if after == before && annotated {
        return Ok(None);
    }
    let mut patch = json!({
        "metadata": {"annotations": {CLAIM_ANNOTATION: claim, PATH_ANNOTATION: path}},
        "spec": {"nodeSets": after},
    });
    if let Some(rv) = es.pointer("/metadata/resourceVersion") {
        patch["metadata"]["resourceVersion"] = rv.clone();
    }
    Ok(Some(patch))
}

/// The inverse: our volume, mount and path.repo entry go; the user's entries stay.
pub fn disable_patch(es: &Value, default_path: &str) -> Result<Option<Value>, String> {
    let id = format!(
        "elasticsearch/{}",
        es.pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
    );
    let before = node_sets(es, &id)?;
    let annotations = es
        .pointer("/metadata/annotations")
        .and_then(Value::as_object);
    let path = annotations
        .and_then(|a| a.get(PATH_ANNOTATION))
        .and_then(Value::as_str)
        .unwrap_or(default_path);
    let mut after = before.clone();
    for set in &mut after {
        remove_from_node_set(set, path);
    }
    let annotated = annotations
        .is_some_and(|a| a.contains_key(CLAIM_ANNOTATION) || a.contains_key(PATH_ANNOTATION));
    if after == before && !annotated {
        return Ok(None);
    }
    let mut patch = json!({
        "metadata": {"annotations": {CLAIM_ANNOTATION: null, PATH_ANNOTATION: null}},
        "spec": {"nodeSets": after},
    });
    if let Some(rv) = es.pointer("/metadata/resourceVersion") {
        patch["metadata"]["resourceVersion"] = rv.clone();
    }
    Ok(Some(patch))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn es() -> Value {
        json!({
            "apiVersion": ES_API_VERSION, "kind": ES_KIND,
            "metadata": {"name": "logs", "resourceVersion": "7"},
            "spec": {"version": "8.15.0", "nodeSets": [
                {"name": "masters", "count": 3, "config": {"node.roles": ["master"], "path.repo": ["/mnt/old"]}},
                {"name": "data", "count": 2, "config": {"path": {"repo": "/mnt/a"}},
                 "podTemplate": {"spec": {"containers": [{"name": "elasticsearch", "resources": {}, "volumeMounts": [{"name": "x", "mountPath": "/x"}]}],
                                          "volumes": [{"name": "x", "emptyDir": {}}]}}}
            ]}
        })
    }

    const P: &str = "/usr/share/elasticsearch/backup";

    #[test]
    fn every_node_set_gets_volume_mount_and_merged_path_repo() {
        let patch = enable_patch(&es(), "logs-backup", P).unwrap().unwrap();
        assert_eq!(patch["metadata"]["resourceVersion"], "7");
        let sets = patch["spec"]["nodeSets"].as_array().unwrap();
        assert_eq!(sets[0]["config"]["path.repo"], json!(["/mnt/old", P]));
        assert_eq!(sets[0]["config"]["node.roles"], json!(["master"]));
        assert_eq!(sets[0]["count"], 3);
        assert_eq!(
            sets[0]["podTemplate"]["spec"]["containers"],
            json!([{"name": "elasticsearch", "volumeMounts": [{"name": VOLUME_NAME, "mountPath": P}]}])
        );
        assert_eq!(
            sets[0]["podTemplate"]["spec"]["volumes"],
            json!([{"name": VOLUME_NAME, "persistentVolumeClaim": {"claimName": "logs-backup"}}])
        );
        assert_eq!(sets[1]["config"]["path"]["repo"], json!(["/mnt/a", P]));
        let c = &sets[1]["podTemplate"]["spec"]["containers"][0];
        assert_eq!(c["resources"], json!({}));
        assert_eq!(
            c["volumeMounts"],
            json!([{"name": "x", "mountPath": "/x"}, {"name": VOLUME_NAME, "mountPath": P}])
        );
        assert_eq!(sets[1]["podTemplate"]["spec"]["volumes"][0]["name"], "x");
    }

    #[test]
    fn every_node_set_gets_the_chown_init_container_and_the_record() {
        let mut v = es();
        v["spec"]["nodeSets"][1]["podTemplate"]["spec"]["securityContext"] =
            json!({"runAsUser": 1001, "fsGroup": 2000});
        let patch = enable_patch(&v, "logs-backup", P).unwrap().unwrap();
        let sets = patch["spec"]["nodeSets"].as_array().unwrap();
        for (set, (uid, gid)) in sets.iter().zip([(1000, 1000), (1001, 2000)]) {
            let inits = set["podTemplate"]["spec"]["initContainers"]
                .as_array()
                .unwrap();
            assert_eq!(inits.len(), 1, "{set}");
            let init = &inits[0];
            assert_eq!(init["name"], INIT_CONTAINER_NAME);
            // No image: ECK gives the init container the Elasticsearch image it runs.
            assert!(init.get("image").is_none(), "{init}");
            assert_eq!(
                init["command"],
                json!(["sh", "-c", crate::inject::chown_script(P, uid, gid)])
            );
            assert_eq!(
                init["volumeMounts"],
                json!([{"name": VOLUME_NAME, "mountPath": P}])
            );
            let record = set["podTemplate"]["metadata"]["annotations"][INJECTED_ANNOTATION]
                .as_str()
                .and_then(Record::from_annotation)
                .unwrap();
            assert_eq!(
                (record.claim.as_str(), record.path.as_str()),
                ("logs-backup", P)
            );
            assert_eq!((record.uid, record.gid), (uid, gid));
            assert_eq!(record.init_container, INIT_CONTAINER_NAME);
        }
    }

    #[test]
    fn a_path_another_volume_is_mounted_at_is_refused() {
        let e = enable_patch(&es(), "c", "/x").unwrap_err();
        assert!(
            e.contains("elasticsearch/logs: nodeSet data already mounts volume x at /x"),
            "{e}"
        );
    }

    #[test]
    fn enabling_twice_is_a_no_op() {
        let mut v = es();
        json_patch::merge(&mut v, &enable_patch(&es(), "c", P).unwrap().unwrap());
        assert_eq!(enable_patch(&v, "c", P).unwrap(), None);
    }

    #[test]
    fn disable_restores_the_user_s_node_sets() {
        let mut v = es();
        json_patch::merge(&mut v, &enable_patch(&es(), "c", P).unwrap().unwrap());
        let undo = disable_patch(&v, P).unwrap().unwrap();
        json_patch::merge(&mut v, &undo);
        let sets = v["spec"]["nodeSets"].as_array().unwrap();
        assert_eq!(sets[0]["config"]["path.repo"], json!(["/mnt/old"]));
        assert_eq!(sets[1]["config"]["path"]["repo"], json!(["/mnt/a"]));
        assert_eq!(
            sets[1]["podTemplate"]["spec"]["volumes"],
            json!([{"name": "x", "emptyDir": {}}])
        );
        assert_eq!(
            sets[1]["podTemplate"]["spec"]["containers"][0]["volumeMounts"],
            json!([{"name": "x", "mountPath": "/x"}])
        );
        for set in sets {
            assert!(
                set["podTemplate"]["spec"].get("initContainers").is_none(),
                "{set}"
            );
            assert!(
                set["podTemplate"]["metadata"].get("annotations").is_none(),
                "{set}"
            );
        }
        assert!(v["metadata"]["annotations"].as_object().unwrap().is_empty());
        assert_eq!(disable_patch(&v, P).unwrap(), None);
    }

    #[test]
    fn a_resource_without_node_sets_is_refused() {
        let e = enable_patch(&json!({"metadata": {"name": "x"}, "spec": {}}), "c", P).unwrap_err();
        assert!(e.contains("elasticsearch/x has no spec.nodeSets"), "{e}");
    }

    #[test]
    fn eck_ready_needs_the_new_generation_observed_and_green() {
        let mut v = json!({"metadata": {"generation": 2}, "status": {"observedGeneration": 2, "phase": "Ready", "health": "green"}});
        assert!(eck_ready(&v));
        v["status"]["observedGeneration"] = json!(1);
        assert!(!eck_ready(&v));
        v["status"]["observedGeneration"] = json!(2);
        v["status"]["phase"] = json!("ApplyingChanges");
        assert!(!eck_ready(&v));
        v["status"]["phase"] = json!("Ready");
        v["status"]["health"] = json!("yellow");
        assert!(!eck_ready(&v));
    }

    #[test]
    fn eck_statefulsets_name_their_cluster() {
        let sts = json!({"metadata": {"labels": {"common.k8s.elastic.co/type": "elasticsearch", ECK_CLUSTER_LABEL: "logs"}}});
        assert_eq!(eck_cluster_of(&sts), Some("logs".into()));
        assert_eq!(
            eck_cluster_of(&json!({"metadata": {"labels": {ECK_CLUSTER_LABEL: "logs"}}})),
            None
        );
    }
}
