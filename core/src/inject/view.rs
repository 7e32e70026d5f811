//! The parts of a StatefulSet the planner reads, borrowed from the JSON object.
//!
//! Deserializing the whole `k8s_openapi` StatefulSet copied every string of the object (the
//! last-applied annotation, managedFields, probes, resources...) to read a dozen fields: about as
//! much work as parsing the object in the first place, for every admission review. These views
//! borrow the strings from the `Value` and skip everything else. The fields that are read keep the
//! types and defaults `k8s_openapi` gave them (a missing field defaults; a port that is not a
//! number, a label that is not a string, an apiVersion other than apps/v1 are refused), so the
//! planner decides as before; fields it never reads are no longer type-checked here (the API
//! server has decoded the object before any webhook sees it).

use std::collections::BTreeMap;

use serde::de::Error as _;
use serde::Deserialize;

/// Labels or annotations.
pub type Strings<'a> = BTreeMap<&'a str, &'a str>;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatefulSet<'a> {
    /// Checked, not kept: only apps/v1 is planned.
    #[serde(
        rename = "apiVersion",
        default,
        borrow,
        deserialize_with = "api_version"
    )]
    _api_version: Option<&'a str>,
    #[serde(default, borrow)]
    pub kind: Option<&'a str>,
    #[serde(default, borrow)]
    pub metadata: Option<Meta<'a>>,
    #[serde(default, borrow)]
    pub spec: Option<Spec<'a>>,
}

/// Only `apps/v1`, as `k8s_openapi`'s StatefulSet required.
fn api_version<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<&'de str>, D::Error> {
    let v = <Option<&'de str>>::deserialize(d)?;
    match v {
        Some(v) if v != "apps/v1" => Err(D::Error::custom(format!(
            "invalid value: string {v:?}, expected apps/v1"
        ))),
        _ => Ok(v),
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct Meta<'a> {
    #[serde(default, borrow)]
    pub name: Option<&'a str>,
    #[serde(default, borrow)]
    pub namespace: Option<&'a str>,
    #[serde(default, borrow)]
    pub labels: Option<Strings<'a>>,
    #[serde(default, borrow)]
    pub annotations: Option<Strings<'a>>,
}

#[derive(Debug, Deserialize)]
pub struct Spec<'a> {
    #[serde(default, borrow)]
    pub template: Template<'a>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Template<'a> {
    #[serde(default, borrow)]
    pub metadata: Option<Meta<'a>>,
    #[serde(default, borrow)]
    pub spec: Option<Pod<'a>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Pod<'a> {
    #[serde(default, borrow)]
    pub containers: Vec<Container<'a>>,
    #[serde(default)]
    pub security_context: Option<Security>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Container<'a> {
    #[serde(default, borrow)]
    pub name: &'a str,
    #[serde(default, borrow)]
    pub image: Option<&'a str>,
    #[serde(default)]
    pub ports: Option<Vec<Port>>,
    #[serde(default)]
    pub security_context: Option<Security>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Port {
    #[serde(default)]
    pub container_port: i32,
}

/// A pod's or a container's securityContext: the ids the planner resolves uid and gid from
/// (`fsGroup` is read from the pod's only).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Security {
    #[serde(default)]
    pub run_as_user: Option<i64>,
    #[serde(default)]
    pub run_as_group: Option<i64>,
    #[serde(default)]
    pub fs_group: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inject::reader::Reader;
    use crate::inject::Doc;
    use serde_json::json;

    fn read(v: &serde_json::Value) -> Result<StatefulSet<'_>, serde_json::Error> {
        StatefulSet::deserialize(v)
    }

    #[test]
    fn reads_borrowed_fields_and_skips_the_rest() {
        let v = json!({
            "apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": {"name": "es", "labels": {"a": "b"}, "managedFields": [{"x": 1}]},
            "spec": {"selector": {}, "serviceName": "es", "template": {"spec": {
                "containers": [{"name": "es", "image": "e:7", "ports": [{"containerPort": 9200}],
                                "resources": {"limits": {"cpu": "1"}}}],
                "securityContext": {"fsGroup": 1000}}}}
        });
        let sts = read(&v).unwrap();
        let meta = sts.metadata.unwrap();
        assert_eq!(meta.name, Some("es"));
        assert_eq!(meta.labels.unwrap().get("a"), Some(&"b"));
        let pod = sts.spec.unwrap().template.spec.unwrap();
        assert_eq!(pod.containers[0].image, Some("e:7"));
        assert_eq!(pod.security_context.unwrap().fs_group, Some(1000));
    }

    #[test]
    fn refuses_what_the_api_types_refuse_in_the_fields_it_reads() {
        let base = json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {},
            "spec": {"selector": {}, "template": {"spec": {"containers": [{"name": "es"}]}}}});
        assert!(read(&base).is_ok());
        // Missing fields default, as in k8s_openapi.
        let bare = json!({"spec": {"template": {"spec": {"containers": [{}]}}}});
        let bare = read(&bare).unwrap();
        assert_eq!(
            bare.spec.unwrap().template.spec.unwrap().containers[0].name,
            ""
        );
        let refused = |path: &str, value: serde_json::Value| {
            let mut v = base.clone();
            *v.pointer_mut(path).unwrap() = value;
            read(&v).is_err()
        };
        assert!(refused("/apiVersion", json!("apps/v1beta2")));
        assert!(refused(
            "/spec/template/spec/containers",
            json!([{"name": 7}])
        ));
        assert!(refused(
            "/spec/template/spec/containers",
            json!([{"name": "es", "ports": [{"containerPort": "9200"}]}])
        ));
        assert!(refused("/metadata", json!({"labels": {"a": 1}})));
        assert!(refused("/spec", json!({"template": 5})));
        assert!(read(&json!([1, 2])).is_err());
    }

    /// The planner reads the views from a borrowed `Doc`; its refusals end up in denials, so they
    /// must say what they said when read from a `serde_json::Value`.
    #[test]
    fn a_doc_is_refused_with_the_messages_a_serde_json_value_was() {
        let cases = [
            json!({"apiVersion": "apps/v1beta2"}),
            json!({"apiVersion": 1}),
            json!({"kind": ["StatefulSet"]}),
            json!({"metadata": {"labels": {"a": 1}}}),
            json!({"metadata": {"annotations": {"a": null}}}),
            json!({"metadata": "x"}),
            json!({"spec": {"template": 5}}),
            json!({"spec": {"template": {"spec": {"containers": [{"name": 7}]}}}}),
            json!({"spec": {"template": {"spec": {"containers": [{"ports": [{"containerPort": "9200"}]}]}}}}),
            json!({"spec": {"template": {"spec": {"containers": [{"ports": [{"containerPort": 1.5}]}]}}}}),
            json!({"spec": {"template": {"spec": {"containers": [{"ports": [{"containerPort": 4294967296u64}]}]}}}}),
            json!({"spec": {"template": {"spec": {"containers": [{"ports": [{"containerPort": -2147483649i64}]}]}}}}),
            json!({"spec": {"template": {"spec": {"securityContext": {"runAsUser": "0"}}}}}),
            json!({"spec": {"template": {"spec": {"securityContext": {"fsGroup": 18446744073709551615u64}}}}}),
            json!({"spec": {"template": {"spec": {"containers": {}}}}}),
            json!({"spec": {"template": {"spec": {"containers": null}}}}),
            json!([1, 2]),
            json!("sts"),
            json!({"spec": [{}, 1]}),
            json!({"metadata": ["es", "ns", {}, {}, 5]}),
            json!({"spec": {"template": {"spec": {"containers": [{"ports": [{"containerPort": 1e300}]}]}}}}),
        ];
        let shown = |r: Result<StatefulSet, serde_json::Error>| {
            r.map(|sts| format!("{sts:?}")).map_err(|e| e.to_string())
        };
        for v in &cases {
            let want = shown(read(v));
            assert!(want.is_err(), "{v}");
            let text = v.to_string();
            let parsed: Doc = serde_json::from_str(&text).unwrap();
            let got = shown(StatefulSet::deserialize(Reader(&parsed)));
            assert_eq!(got, want, "{text}");
            let converted = Doc::from(v);
            let got = shown(StatefulSet::deserialize(Reader(&converted)));
            assert_eq!(got, want, "{text} (converted)");
        }
    }
}
