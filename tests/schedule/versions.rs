//! Every object the plugin writes, rendered for a Kubernetes 1.33 server, validates strictly
//! against the 1.33 schema. (kubernetes-validate has no schemas before 1.25: the 1.20 check is the
//! real 1.20 API server's dry run in tests/kube/render.rs.)

#[test]
fn everything_the_plugin_writes_validates_against_kubernetes_1_33() {
    let dir = tempfile::tempdir().unwrap();
    let objects = test_support::written_objects::for_server(33);
    let kinds: Vec<&str> = objects.iter().filter_map(|o| o["kind"].as_str()).collect();
    for kind in [
        "CronJob",
        "Job",
        "ServiceAccount",
        "Deployment",
        "PodDisruptionBudget",
        "MutatingWebhookConfiguration",
        "PersistentVolumeClaim",
        "StatefulSet",
        "ConfigMap",
        "Role",
        "RoleBinding",
    ] {
        assert!(kinds.contains(&kind), "{kind} missing from {kinds:?}");
    }
    assert_eq!(
        objects.iter().find(|o| o["kind"] == "CronJob").unwrap()["apiVersion"],
        "batch/v1"
    );
    // `schedule create --verify`'s restore test is among them.
    assert!(objects
        .iter()
        .any(|o| o["kind"] == "CronJob" && o["metadata"]["name"] == "logbackup-nightly-verify"));
    let files: Vec<_> = objects
        .iter()
        .enumerate()
        .map(|(i, o)| {
            let path = dir.path().join(format!("{i}.json"));
            std::fs::write(&path, serde_json::to_vec_pretty(o).unwrap()).unwrap();
            path
        })
        .collect();
    test_support::kubernetes_validate::assert_valid_at(
        "1.33.0",
        "objects written to a 1.33 server",
        &files,
    );
}
