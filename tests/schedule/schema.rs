//! Every object `schedule create` renders validates against the Kubernetes 1.30 OpenAPI schema,
//! strictly (no unknown fields), with kubernetes-validate (PyPI), as tests/injected_schema.rs does.

use logbackup::schedule::cronjob::{self, BackupCommand, CronJobPlan, SecretKey};
use logbackup::schedule::Schedule;

fn plan(with_secrets: bool) -> CronJobPlan {
    let secret = |s: &str, k: &str| {
        with_secrets.then(|| SecretKey {
            secret: s.into(),
            key: k.into(),
        })
    };
    CronJobPlan {
        name: "nightly".into(),
        namespace: "kubesphere-logging-system".into(),
        schedule: Schedule::parse("0 1 * * *", Some("Asia/Shanghai")).unwrap(),
        image: cronjob::IMAGE.into(),
        backup: BackupCommand {
            es_url: "https://es-es-http.elastic.svc:9200".into(),
            repository: "ks-log-snapshots".into(),
            name_pattern: "nightly-%Y%m%d%H%M%S".into(),
            indices: vec!["ks-logstash-log-*".into()],
            keep_days: Some(45),
            min_count: 1,
            max_count: Some(60),
            prefix: Some("nightly-".into()),
            username: with_secrets.then(|| "elastic".into()),
            password: secret("es-es-elastic-user", "elastic"),
            api_key: None,
            ca: secret("es-es-http-certs-public", "ca.crt"),
            // The off-site copy: the claim read-only, S3 keys from a Secret.
            sync: with_secrets.then(|| logbackup::schedule::sync_to::SyncTo {
                url: "s3://offsite/ks".into(),
                claim: "elasticsearch-logging-backup".into(),
                sub_path: "ks-log-snapshots".into(),
                endpoint: Some("http://minio.minio.svc:9000".into()),
                region: None,
                secret: "offsite-s3".into(),
            }),
            volume_snapshot: with_secrets.then(|| {
                logbackup_core::volume_snapshot::VolumeSnapshotJob {
                    class: "csi-rbd".into(),
                    claim: "elasticsearch-logging-backup".into(),
                    keep: 7,
                }
            }),
        },
    }
}

#[test]
fn rendered_schedule_objects_validate_against_the_kubernetes_schema() {
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for with_secrets in [false, true] {
        let p = plan(with_secrets);
        let mut objects = cronjob::render(&p).unwrap();
        // With --volume-snapshot-class a Role and RoleBinding come before the CronJob.
        let at = objects.iter().position(|o| o["kind"] == "CronJob").unwrap();
        let mut cj: k8s_openapi::api::batch::v1::CronJob =
            serde_json::from_value(objects[at].clone()).unwrap();
        cj.metadata.uid = Some("0c4a0e1e-0000-4000-8000-000000000001".into());
        objects.push(
            serde_json::to_value(cronjob::job_from(&cj, "logbackup-nightly-manual").unwrap())
                .unwrap(),
        );
        assert_eq!(objects.len(), if with_secrets { 5 } else { 3 });
        for (i, o) in objects.iter().enumerate() {
            let path = dir.path().join(format!("{with_secrets}-{i}.json"));
            std::fs::write(&path, serde_json::to_vec_pretty(o).unwrap()).unwrap();
            files.push(path.display().to_string());
        }
    }
    test_support::kubernetes_validate::assert_valid("rendered schedule objects", &files);
}
