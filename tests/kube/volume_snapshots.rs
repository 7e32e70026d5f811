//! `backup --volume-snapshot-class` and `repo volume-snapshots list` against the real API server with
//! a VolumeSnapshot CRD applied. No snapshot controller or CSI driver runs here, so the snapshots
//! never become ready: creation, naming, retention, ownership labels and the "not ready" report.

use es_double::{Config, Flavour, State};
use serde_json::{json, Value};

use crate::fixtures;
use crate::tier::Tier;

const NS: &str = "logging";
const CLAIM: &str = "elasticsearch-logging-backup";

/// snapshot.storage.k8s.io/v1 VolumeSnapshot, written here with the fields the plugin uses (the
/// external-snapshotter's CRD has the same group, version, kind, scope and these fields).
fn crd() -> Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        // *.k8s.io groups need an API-review approval annotation, as the upstream CRD carries.
        "metadata": {"name": "volumesnapshots.snapshot.storage.k8s.io",
                     "annotations": {"api-approved.kubernetes.io":
                         "https://github.com/kubernetes-csi/external-snapshotter/pull/419"}},
        "spec": {
            "group": "snapshot.storage.k8s.io",
            "names": {"kind": "VolumeSnapshot", "listKind": "VolumeSnapshotList",
                      "plural": "volumesnapshots", "singular": "volumesnapshot", "shortNames": ["vs"]},
            "scope": "Namespaced",
            "versions": [{
                "name": "v1", "served": true, "storage": true,
                "subresources": {"status": {}},
                "schema": {"openAPIV3Schema": {
                    "type": "object",
                    "required": ["spec"],
                    "properties": {
                        "apiVersion": {"type": "string"},
                        "kind": {"type": "string"},
                        "metadata": {"type": "object"},
                        "spec": {
                            "type": "object",
                            "required": ["source"],
                            "properties": {
                                "source": {"type": "object", "properties": {
                                    "persistentVolumeClaimName": {"type": "string"},
                                    "volumeSnapshotContentName": {"type": "string"}}},
                                "volumeSnapshotClassName": {"type": "string"}
                            }
                        },
                        "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}
                    }
                }}
            }]
        }
    })
}

fn double(tier: &Tier) -> es_double::Running {
    let mut state = State::default();
    state.add_index("ks-logstash-log-2026.12.01", 1_000_000);
    let mut settings = serde_json::Map::new();
    settings.insert(
        "location".into(),
        "/usr/share/elasticsearch/backup/ks".into(),
    );
    state.repositories.insert(
        "ks".into(),
        es_double::state::Repository {
            kind: "fs".into(),
            settings,
        },
    );
    state.behaviour.progress_polls = 0;
    tier.rt
        .block_on(es_double::start(
            Config::new(Flavour::Elasticsearch, "7.17.0"),
            state,
            "127.0.0.1:0",
        ))
        .unwrap()
}

#[test]
#[ignore = "needs the real Kubernetes binaries: scripts/kube-binaries.sh; run with -- --ignored"]
fn backup_takes_volume_snapshots_keeps_n_and_lists_them_not_ready() {
    let tier = Tier::start();
    let es = double(&tier);
    let url = es.url();

    // Without the CRDs: a clear error.
    let (code, _, stderr) = tier.plugin(&["repo", "volume-snapshots", "list", "-n", NS]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("snapshot.storage.k8s.io/v1) is not served"),
        "{stderr}"
    );

    tier.rt.block_on(async {
        let client = tier.client().await;
        fixtures::namespace(&client, NS, &[]).await;
        fixtures::apply(&client, &crd()).await;
    });
    // The CRD is served once it is Established; discovery may lag a moment.
    let started = std::time::Instant::now();
    loop {
        let (code, _, _) = tier.plugin(&["repo", "volume-snapshots", "list", "-n", NS]);
        if code == 0 {
            break;
        }
        assert!(started.elapsed().as_secs() < 30, "the CRD was never served");
        std::thread::sleep(std::time::Duration::from_millis(300));
    }

    // The nightly backup as the CronJob runs it; `name` and the rest follow `--name`.
    let backup = |name_and_more: &[&str]| {
        let mut args = vec![
            "backup",
            "-n",
            NS,
            "-r",
            "ks",
            "--es-url",
            &url,
            "--poll-interval-ms",
            "5",
            "--indices",
            "ks-logstash-log-*",
            "--keep-days",
            "45",
            "--name",
        ];
        args.extend(name_and_more);
        tier.plugin(&args)
    };
    for night in 1..=3 {
        let name = format!("nightly-{night}");
        let (code, stdout, stderr) = backup(&[
            &name,
            "--volume-snapshot-class",
            "csi-rbd",
            "--volume-snapshot-claim",
            CLAIM,
            "--keep-volume-snapshots",
            "2",
            "-o",
            "json",
        ]);
        assert_eq!(code, 0, "{stdout}\n{stderr}");
        assert!(
            stderr.contains("it is a fast local rollback, not an off-site backup"),
            "{stderr}"
        );
        let out: Value = serde_json::from_str(&stdout).unwrap();
        assert_eq!(out["volume_snapshot"], format!("{CLAIM}-{name}"));
        // Created and retained in order: the timestamps are per second, so space the nights out.
        std::thread::sleep(std::time::Duration::from_millis(1100));
    }
    let (code, _, stderr) = backup(&["nightly-3"]);
    assert_eq!(
        code, 1,
        "a duplicate snapshot name fails before any VolumeSnapshot: {stderr}"
    );

    let (code, stdout, stderr) =
        tier.plugin(&["repo", "volume-snapshots", "list", "-n", NS, "-o", "json"]);
    assert_eq!(code, 0, "{stderr}");
    let list: Value = serde_json::from_str(&stdout).unwrap();
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 2, "kept 2 of 3: {names:?}");
    assert!(names.contains(&format!("{CLAIM}-nightly-2").as_str()));
    assert!(names.contains(&format!("{CLAIM}-nightly-3").as_str()));
    for l in list.as_array().unwrap() {
        assert_eq!(l["ready"], false);
        assert_eq!(l["size"], Value::Null);
        assert_eq!(l["claim"], CLAIM);
        assert!(l["detail"]
            .as_str()
            .unwrap()
            .contains("no snapshot controller"));
    }
    let (_, table, _) = tier.plugin(&["repo", "volume-snapshots", "list", "-n", NS]);
    assert!(table.contains("not ready"), "{table}");

    // Ownership: the objects carry our labels and point at the claim with the class asked for.
    let object = tier
        .get(
            "snapshot.storage.k8s.io/v1",
            "VolumeSnapshot",
            Some(NS),
            &format!("{CLAIM}-nightly-3"),
        )
        .unwrap();
    assert_eq!(
        object["metadata"]["labels"]["app.kubernetes.io/managed-by"],
        "kubectl-logbackup"
    );
    assert_eq!(object["metadata"]["labels"]["logbackup.io/claim"], CLAIM);
    assert_eq!(object["spec"]["volumeSnapshotClassName"], "csi-rbd");
    assert_eq!(object["spec"]["source"]["persistentVolumeClaimName"], CLAIM);
}
