//! The injection core's JSON-patch contract and its decisions, beyond what the goldens show.
#![allow(clippy::unwrap_used, clippy::expect_used)] // A test crate: a panic is how a test reports.

use logbackup::inject::{self, InjectError, Options, Outcome, Overrides, Selection, SkipReason};
use serde_json::{json, Value};

fn bare_sts(labels: Value) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": { "name": "es", "namespace": "logs", "labels": labels },
        "spec": {
            "selector": { "matchLabels": { "app": "es" } },
            "serviceName": "es",
            "template": { "spec": { "containers": [{ "name": "elasticsearch", "image": "elasticsearch:8.15.0" }] } }
        }
    })
}

fn enabled() -> Value {
    json!({ "logbackup.io/inject": "enabled" })
}

#[test]
fn missing_parents_are_created_before_anything_is_appended() {
    let sts = bare_sts(enabled());
    let plan = inject::plan(&sts, &Options::default()).expect("plan");
    let ops: Vec<(String, String)> = serde_json::to_value(&plan.patch)
        .expect("ops as json")
        .as_array()
        .expect("array")
        .iter()
        .map(|op| {
            (
                op["op"].as_str().unwrap_or_default().to_owned(),
                op["path"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let add = |p: &str| ("add".to_owned(), p.to_owned());
    assert_eq!(
        ops,
        vec![
            add("/spec/template/spec/volumes"),
            add("/spec/template/spec/containers/0/volumeMounts"),
            add("/spec/template/spec/containers/0/env"),
            add("/spec/template/spec/initContainers"),
            add("/spec/template/metadata"),
        ]
    );
    let mut patched = sts.clone();
    json_patch::patch(&mut patched, &plan.patch).expect("patch applies to the original");
    assert_eq!(
        patched["spec"]["template"]["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"],
        "es-backup"
    );
    assert_eq!(
        patched["spec"]["template"]["spec"]["containers"][0]["env"][0],
        json!({ "name": "path.repo", "value": "/usr/share/elasticsearch/backup" })
    );
}

#[test]
fn annotation_keys_are_escaped_in_pointers() {
    let mut sts = bare_sts(enabled());
    sts["spec"]["template"]["metadata"] = json!({ "annotations": { "other/key": "x" } });
    let plan = inject::plan(&sts, &Options::default()).expect("plan");
    let last = serde_json::to_value(plan.patch.last().expect("an op")).expect("json");
    assert_eq!(
        last["path"],
        "/spec/template/metadata/annotations/logbackup.io~1injected"
    );
    inject::apply(&mut sts, &Options::default()).expect("apply");
    assert_eq!(
        sts["spec"]["template"]["metadata"]["annotations"]["other/key"],
        "x"
    );
    assert!(
        sts["spec"]["template"]["metadata"]["annotations"]["logbackup.io/injected"].is_string()
    );
}

#[test]
fn selection_all_injects_unlabelled_elasticsearch_and_skips_the_rest() {
    let all = Options {
        selection: Selection::All,
        ..Options::default()
    };
    let plan = inject::plan(&bare_sts(json!({})), &all).expect("plan");
    assert_eq!(plan.outcome, Outcome::Injected);

    let mut redis = bare_sts(json!({}));
    redis["spec"]["template"]["spec"]["containers"] =
        json!([{ "name": "redis", "image": "redis:7" }]);
    let plan = inject::plan(&redis, &all).expect("plan");
    assert_eq!(
        plan.outcome,
        Outcome::Skipped(SkipReason::NoElasticsearchContainer)
    );
    assert!(plan.patch.is_empty());
    assert_eq!(plan.warnings.len(), 1);

    // Labelled but without an Elasticsearch container: that is an error the user must hear about.
    redis["metadata"]["labels"] = enabled();
    assert!(matches!(
        inject::plan(&redis, &all),
        Err(InjectError::ContainerNotFound { .. })
    ));

    let plan = inject::plan(
        &bare_sts(json!({ "logbackup.io/inject": "disabled" })),
        &all,
    )
    .expect("plan");
    assert_eq!(plan.outcome, Outcome::Skipped(SkipReason::OptedOut));
}

#[test]
fn unknown_label_values_are_skipped_with_a_warning() {
    let plan = inject::plan(
        &bare_sts(json!({ "logbackup.io/inject": "true" })),
        &Options::default(),
    )
    .expect("plan");
    assert_eq!(plan.outcome, Outcome::Skipped(SkipReason::NotLabelled));
    assert!(
        plan.warnings[0]
            .message
            .contains("neither \"enabled\" nor \"disabled\""),
        "{:?}",
        plan.warnings
    );
}

#[test]
fn invalid_annotations_are_refused_with_the_key_and_the_rule() {
    for (key, value) in [
        ("logbackup.io/uid", "elasticsearch"),
        ("logbackup.io/gid", "-1"),
        ("logbackup.io/path", "backup"),
        ("logbackup.io/path", "/a,/b"),
        ("logbackup.io/claim", "Not_A_Name"),
    ] {
        let mut sts = bare_sts(enabled());
        sts["metadata"]["annotations"] = json!({ key: value });
        match inject::plan(&sts, &Options::default()) {
            Err(e @ InjectError::InvalidSetting { .. }) => {
                assert!(e.to_string().contains(key), "{e}")
            }
            other => panic!("{key}={value}: expected InvalidSetting, got {other:?}"),
        }
    }
}

#[test]
fn caller_overrides_apply_but_annotations_win() {
    let options = Options {
        overrides: Overrides {
            claim: Some("from-flag".into()),
            uid: Some(4242),
            ..Overrides::default()
        },
        ..Options::default()
    };
    let plan = inject::plan(&bare_sts(enabled()), &options).expect("plan");
    let record = plan.record.expect("record");
    assert_eq!((record.claim.as_str(), record.uid), ("from-flag", 4242));

    let mut sts = bare_sts(enabled());
    sts["metadata"]["annotations"] = json!({ "logbackup.io/claim": "from-annotation" });
    let record = inject::plan(&sts, &options)
        .expect("plan")
        .record
        .expect("record");
    assert_eq!(record.claim, "from-annotation");
}

#[test]
fn a_missing_annotated_container_names_the_containers_there_are() {
    let mut sts = bare_sts(enabled());
    sts["metadata"]["annotations"] = json!({ "logbackup.io/container": "es" });
    let err = inject::plan(&sts, &Options::default()).expect_err("must fail");
    assert!(
        err.to_string().contains("containers are [elasticsearch]"),
        "{err}"
    );
}

#[test]
fn non_statefulsets_are_refused() {
    let deployment =
        json!({ "apiVersion": "apps/v1", "kind": "Deployment", "metadata": { "name": "x" } });
    assert!(matches!(
        inject::plan(&deployment, &Options::default()),
        Err(InjectError::NotAStatefulSet(_))
    ));
    assert!(matches!(
        inject::plan(&json!([1, 2]), &Options::default()),
        Err(InjectError::NotAStatefulSet(_))
    ));
}
