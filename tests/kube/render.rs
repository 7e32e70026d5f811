//! Every object the plugin writes, rendered for Kubernetes 1.20, is accepted by the real 1.20 API
//! server: server-side apply with `dryRun=All` refuses fields the server does not declare, as it
//! refused the Deployment's `matchLabelKeys` before discovery. (1.33: tests/schedule/versions.rs.)

use kube::api::{Api, DynamicObject, GroupVersionKind, Patch, PatchParams};

use crate::fixtures;
use crate::tier::Tier;
use test_support::written_objects;

#[test]
#[ignore = "needs the real Kubernetes binaries: scripts/kube-binaries.sh; run with -- --ignored"]
fn everything_the_plugin_writes_is_accepted_by_a_real_1_20_server() {
    let tier = Tier::start();
    let objects = written_objects::for_server(20);
    assert!(objects
        .iter()
        .any(|o| o["apiVersion"] == "batch/v1beta1" && o["kind"] == "CronJob"));
    assert!(objects.iter().any(|o| o["apiVersion"] == "policy/v1beta1"));
    tier.rt.block_on(async {
        let client = tier.client().await;
        fixtures::namespace(&client, "kubesphere-logging-system", &[]).await;
        let mut refused = Vec::new();
        for object in &objects {
            let kind = object["kind"].as_str().unwrap();
            let name = object["metadata"]["name"].as_str().unwrap();
            if kind == "Namespace" {
                // Namespaced objects after it need it to exist: created for real.
                fixtures::apply(&client, object).await;
                continue;
            }
            let api_version = object["apiVersion"].as_str().unwrap();
            let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
            let (resource, caps) =
                kube::discovery::pinned_kind(&client, &GroupVersionKind::gvk(group, version, kind))
                    .await
                    .unwrap_or_else(|e| panic!("1.20 does not serve {api_version} {kind}: {e}"));
            let api: Api<DynamicObject> =
                match (caps.scope, object["metadata"]["namespace"].as_str()) {
                    (kube::discovery::Scope::Namespaced, Some(ns)) => {
                        Api::namespaced_with(client.clone(), ns, &resource)
                    }
                    _ => Api::all_with(client.clone(), &resource),
                };
            let params = PatchParams::apply("kubectl-logbackup").force().dry_run();
            if let Err(e) = api.patch(name, &params, &Patch::Apply(object)).await {
                refused.push(format!("{api_version} {kind} {name}: {e}"));
            }
        }
        assert!(
            refused.is_empty(),
            "refused by Kubernetes 1.20:\n{}",
            refused.join("\n")
        );

        // The check can fail: the Deployment as rendered for 1.33 (with matchLabelKeys) is refused.
        let newer = written_objects::for_server(33);
        let deployment = newer.iter().find(|o| o["kind"] == "Deployment").unwrap();
        let api: Api<DynamicObject> = Api::namespaced_with(
            client.clone(),
            "logbackup-system",
            &kube::api::ApiResource::from_gvk_with_plural(
                &GroupVersionKind::gvk("apps", "v1", "Deployment"),
                "deployments",
            ),
        );
        let e = api
            .patch(
                "logbackup-webhook",
                &PatchParams::apply("kubectl-logbackup").force().dry_run(),
                &Patch::Apply(deployment),
            )
            .await
            .unwrap_err();
        assert!(e.to_string().contains("matchLabelKeys"), "{e}");
    });
}
