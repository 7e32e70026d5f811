//! The plugin's own objects for tests: what a server of a given version serves, a mocked connection
//! that already knows it, and the nightly schedule the tests render.

use logbackup::k8s::{Kube, Served};
use logbackup::schedule::cronjob::{self, BackupCommand, CronJobPlan};
use logbackup::schedule::Schedule;
use logbackup::webhook_install::{certs, manifests};
use serde_json::Value;

use crate::kube_api::{client, ApiHandle};

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

/// A connection to the scripted API (serve it with `kube_api::serve`) that already knows it talks
/// to Kubernetes 1.`minor`.
pub fn kube(minor: u32) -> (Kube, ApiHandle) {
    let (client, handle) = client();
    (
        Kube::new(client, "https://mock").with_served(served(minor)),
        handle,
    )
}

/// The KubeSphere nightly backup schedule: 01:00, 45 days kept, into ks-log-snapshots.
pub fn nightly_plan(namespace: &str) -> CronJobPlan {
    CronJobPlan {
        name: "nightly".into(),
        namespace: namespace.into(),
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

/// The webhook's objects in `namespace` with freshly generated certificates (a new test CA), and
/// those certificates.
pub fn webhook_objects(namespace: &str) -> (certs::Bundle, Vec<Value>) {
    let names = certs::service_names(manifests::SERVICE, namespace);
    let b = certs::apply(
        &certs::Decision::NewCa("test".into()),
        None,
        &names,
        jiff::Timestamp::now(),
    )
    .unwrap();
    let generated = manifests::Certificates::Generated {
        ca_cert: b.ca_cert.clone(),
        ca_key: b.ca_key.clone(),
        tls_cert: b.tls_cert.clone(),
        tls_key: b.tls_key.clone(),
    };
    let objects = manifests::objects(namespace, &generated, true).unwrap();
    (b, objects)
}

/// `schedule create nightly --cron "0 1 * * *" --keep-days 45` (the README's nightly schedule),
/// then `more`.
pub fn create_nightly<'a>(more: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "schedule",
        "create",
        "nightly",
        "--cron",
        "0 1 * * *",
        "--keep-days",
        "45",
    ];
    args.extend(more);
    args
}
