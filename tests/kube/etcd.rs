//! `etcd save` and `etcd verify` on the etcd under the tier's real kube-apiserver, with objects
//! created through the API server; and the etcd CronJob dry-run applied on this server.

use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::core::GroupVersionKind;
use serde_json::{json, Value};

use crate::fixtures;
use crate::tier::Tier;

const NS: &str = "etcd-drill";

fn config_maps(tier: &Tier, prefix: &str, n: usize) {
    tier.rt.block_on(async {
        let client = tier.client().await;
        for i in 0..n {
            fixtures::apply(
                &client,
                &json!({"apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": format!("{prefix}-{i}"), "namespace": NS},
                    "data": {"i": i.to_string()}}),
            )
            .await;
        }
    })
}

fn run(tier: &Tier, args: &[&str]) -> (i32, String, String) {
    tier.plugin(args)
}

#[test]
#[ignore = "needs the Kubernetes binaries (scripts/kube-binaries.sh); .ci/run runs it"]
fn a_snapshot_of_the_api_servers_etcd_holds_the_objects_made_before_it_and_not_after() {
    let tier = Tier::start();
    tier.rt
        .block_on(async { fixtures::namespace(&tier.client().await, NS, &[]).await });
    config_maps(&tier, "before", 20);
    let repo = tempfile::tempdir().unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let r = repo.path().display().to_string();

    let (code, out, err) = run(
        &tier,
        &[
            "etcd",
            "save",
            "--repo",
            &r,
            "--endpoints",
            &tier.etcd_url,
            "--snapshot-only",
            "--node",
            "tier",
            "-o",
            "json",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let record: Value = serde_json::from_str(&out).unwrap();
    let saved = record["keys"]["/registry/configmaps/"].as_u64().unwrap();
    // Ours, plus whatever the API server keeps itself (kube-root-ca.crt in each namespace).
    assert!(saved >= 20, "{record}");
    assert!(
        record["keys"]["/registry/namespaces/"].as_u64().unwrap() >= 5,
        "{record}"
    );

    config_maps(&tier, "after", 10);
    tier.rt.block_on(async {
        fixtures::namespace(&tier.client().await, "etcd-drill-later", &[]).await
    });

    let (code, out, err) = run(
        &tier,
        &[
            "etcd",
            "verify",
            "--repo",
            &r,
            "--scratch-dir",
            &scratch.path().display().to_string(),
            "-o",
            "json",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    let verdict: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(verdict["passed"], true, "{verdict}");
    assert_eq!(
        verdict["comparison"]["restored_revision"],
        record["revision"]
    );
    assert_eq!(verdict["comparison"]["differences"], json!([]));

    // Live etcd has moved on by the ten ConfigMaps and the namespace (with its root CA ConfigMap).
    let (code, out, err) = run(
        &tier,
        &[
            "etcd",
            "save",
            "--repo",
            &r,
            "--endpoints",
            &tier.etcd_url,
            "--snapshot-only",
            "--node",
            "tier2",
            "-o",
            "json",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let now: Value = serde_json::from_str(&out).unwrap();
    assert!(
        now["keys"]["/registry/configmaps/"].as_u64().unwrap() >= saved + 10,
        "{now}"
    );
    assert_eq!(
        now["keys"]["/registry/namespaces/"].as_u64().unwrap(),
        record["keys"]["/registry/namespaces/"].as_u64().unwrap() + 1
    );
    assert!(std::fs::read_dir(scratch.path()).unwrap().next().is_none());
}

#[test]
#[ignore = "needs the Kubernetes binaries (scripts/kube-binaries.sh); .ci/run runs it"]
fn the_etcd_cronjob_is_accepted_by_this_api_server_in_a_server_side_dry_run() {
    let tier = Tier::start();
    tier.rt
        .block_on(async { fixtures::namespace(&tier.client().await, NS, &[]).await });
    let (code, out, err) = run(
        &tier,
        &[
            "etcd",
            "schedule",
            "hourly",
            "-n",
            NS,
            "--claim",
            "es-backup",
            "--schedule",
            "0 * * * *",
            "--dry-run",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let objects =
        logbackup_core::manifest::parse_documents("etcd schedule --dry-run", &out).unwrap();
    assert_eq!(objects.len(), 2);
    tier.rt.block_on(async {
        let client = tier.client().await;
        for o in &objects {
            let (group, version) = o["apiVersion"]
                .as_str()
                .unwrap()
                .split_once('/')
                .unwrap_or(("", o["apiVersion"].as_str().unwrap()));
            let (resource, _) = kube::discovery::pinned_kind(
                &client,
                &GroupVersionKind::gvk(group, version, o["kind"].as_str().unwrap()),
            )
            .await
            .unwrap();
            let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), NS, &resource);
            let name = o["metadata"]["name"].as_str().unwrap();
            api.patch(
                name,
                &PatchParams::apply("test").dry_run().force(),
                &Patch::Apply(o),
            )
            .await
            .unwrap_or_else(|e| panic!("{} {name} refused by the API server: {e}", o["kind"]));
        }
    });
    // Nothing was created.
    assert!(tier
        .get(
            objects[1]["apiVersion"].as_str().unwrap(),
            "CronJob",
            Some(NS),
            "logbackup-etcd-hourly"
        )
        .is_none());
}
