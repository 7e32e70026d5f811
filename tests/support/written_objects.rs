//! Every object the plugin writes to a cluster, rendered as it would send it to a server of a
//! given version (`k8s::schedules::for_server`, `k8s::webhook_objects::for_server`): the schedule's
//! ServiceAccount, CronJob and run-now Job, its restore test (`--verify`), the webhook's objects, the claim `enable` creates, and
//! the injected KubeSphere StatefulSets. Shared by the 1.33 schema check (kubernetes-validate) and
//! the real 1.20 API server's dry run (tests/kube).

use logbackup::k8s::Served;
use logbackup::schedule::cronjob::{self, BackupCommand, CronJobPlan};
use logbackup::schedule::restore_test;
use logbackup::schedule::Schedule;
use logbackup::webhook_install::{certs, manifests};
use serde_json::Value;

/// What a server of that minor version serves, for the APIs we use.
pub fn served(minor: u32) -> Served {
    let mut gv: std::collections::BTreeSet<String> = [
        "v1",
        "apps/v1",
        "batch/v1",
        "admissionregistration.k8s.io/v1",
        "networking.k8s.io/v1",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    if minor >= 21 {
        gv.extend(["policy/v1", "discovery.k8s.io/v1"].map(String::from));
    }
    if minor < 25 {
        gv.extend(
            [
                "batch/v1beta1",
                "policy/v1beta1",
                "discovery.k8s.io/v1beta1",
            ]
            .map(String::from),
        );
    }
    Served::new("1", &minor.to_string(), &format!("v1.{minor}.0"), gv)
}

fn plan() -> CronJobPlan {
    CronJobPlan {
        name: "nightly".into(),
        namespace: "kubesphere-logging-system".into(),
        schedule: Schedule::parse("0 1 * * *", None).unwrap(),
        image: cronjob::IMAGE.into(),
        backup: BackupCommand {
            es_url: "http://elasticsearch-logging-data.kubesphere-logging-system.svc:9200".into(),
            repository: "ks-log-snapshots".into(),
            name_pattern: "nightly-%Y%m%d%H%M%S".into(),
            indices: vec!["ks-logstash-log-*".into()],
            keep_days: Some(45),
            min_count: 1,
            max_count: None,
            prefix: Some("nightly-".into()),
            username: None,
            password: None,
            api_key: None,
            ca: None,
            sync: None,
            volume_snapshot: None,
        },
    }
}

/// The objects, in an order a server can take them (namespaces first).
pub fn for_server(minor: u32) -> Vec<Value> {
    let served = served(minor);
    let mut out = Vec::new();

    let names = certs::service_names(manifests::SERVICE, manifests::DEFAULT_NAMESPACE);
    let b = certs::apply(
        &certs::Decision::NewCa("test".into()),
        None,
        &names,
        jiff::Timestamp::now(),
    )
    .unwrap();
    let generated = manifests::Certificates::Generated {
        ca_cert: b.ca_cert,
        ca_key: b.ca_key,
        tls_cert: b.tls_cert,
        tls_key: b.tls_key,
    };
    let webhook = manifests::objects(manifests::DEFAULT_NAMESPACE, &generated, true).unwrap();
    let (webhook, _) = logbackup::k8s::webhook_objects::for_server(&webhook, &served).unwrap();
    out.extend(webhook);

    let p = plan();
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
        let path = format!(
            "{}/tests/fixtures/inject/{golden}.injected.yaml",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(&path).unwrap();
        out.extend(logbackup::manifest::parse_documents(&path, &text).unwrap());
    }
    out
}
