//! Every object the plugin writes to a cluster, rendered as it would send it to a server of a
//! given version (`k8s::schedules::for_server`, `k8s::webhook_objects::for_server`): the schedule's
//! ServiceAccount, CronJob and run-now Job, its restore test (`--verify`), the webhook's objects, the
//! claim `enable` creates, and
//! the injected KubeSphere StatefulSets. Shared by the 1.33 schema check (kubernetes-validate) and
//! the real 1.20 API server's dry run (tests/kube).

use logbackup::schedule::cronjob;
use logbackup::schedule::restore_test;
use logbackup::webhook_install::manifests;
use serde_json::Value;

use crate::plugin::{nightly_plan, served, webhook_objects};

/// The objects, in an order a server can take them (namespaces first).
pub fn for_server(minor: u32) -> Vec<Value> {
    let served = served(minor);
    let mut out = Vec::new();

    let (_, webhook) = webhook_objects(manifests::DEFAULT_NAMESPACE);
    let (webhook, _) = logbackup::k8s::webhook_objects::for_server(&webhook, &served).unwrap();
    out.extend(webhook);

    let p = nightly_plan("kubesphere-logging-system");
    out.push(serde_json::to_value(cronjob::service_account(&p)).unwrap());
    let (cron_job, _) = logbackup::k8s::schedules::for_server(&p, &served).unwrap();
    let mut typed: k8s_openapi::api::batch::v1::CronJob = {
        let mut v = cron_job.clone();
        v["apiVersion"] = Value::from("batch/v1");
        serde_json::from_value(v).unwrap()
    };
    out.push(cron_job.clone());
    typed.metadata.uid = Some("0c4a0e1e-0000-4000-8000-000000000001".into());
    let mut job =
        serde_json::to_value(cronjob::job_from(&typed, "logbackup-nightly-manual-1").unwrap())
            .unwrap();
    job["metadata"]["ownerReferences"][0]["apiVersion"] = cron_job["apiVersion"].clone();
    out.push(job);

    // `--verify weekly`: the restore test's proof ConfigMap, ServiceAccount, Role, RoleBinding
    // and CronJob.
    let test = restore_test::RestoreTestPlan {
        backup: p.clone(),
        schedule: restore_test::parse("weekly", None).unwrap(),
    };
    let mut test_objects = restore_test::render(&test).unwrap();
    let (test_cron_job, _) =
        logbackup::k8s::schedules::restore_test_for_server(&test, &served).unwrap();
    test_objects.pop();
    out.extend(test_objects);
    out.push(test_cron_job);

    out.push(
        logbackup::enable::desired_claim(
            "elasticsearch-logging-backup",
            "kubesphere-logging-system",
            "nfs-client",
            "100Gi",
        )
        .unwrap(),
    );
    for golden in ["kubesphere-data", "kubesphere-discovery"] {
        let path = format!("inject/{golden}.injected.yaml");
        let text = crate::fixtures::read(&path);
        out.extend(logbackup::manifest::parse_documents(&path, &text).unwrap());
    }
    out
}
