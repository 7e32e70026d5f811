//! The etcd CronJob against the Kubernetes schemas, strictly, for the newest and the oldest server
//! we support.

use logbackup_core::etcd::cronjob::{render, EtcdCronJobPlan};
use logbackup_core::schedule::Schedule;

fn plan(minor: u32) -> EtcdCronJobPlan {
    EtcdCronJobPlan {
        name: "hourly".into(),
        namespace: "logging".into(),
        schedule: Schedule::parse("0 * * * *", Some("UTC")).unwrap(),
        image: logbackup_core::ids::IMAGE.into(),
        claim: "es-backup".into(),
        pki_dir: "/etc/kubernetes/pki".into(),
        manifests_dir: "/etc/kubernetes/manifests".into(),
        endpoint: "https://127.0.0.1:2379".into(),
        keep: 24,
        exclude_keys: true,
        compress: true,
        server_minor: minor,
    }
}

#[test]
fn the_etcd_cronjob_is_valid_kubernetes_1_33() {
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for (i, o) in render(&plan(33)).unwrap().iter().enumerate() {
        let path = dir.path().join(format!("{i}.json"));
        std::fs::write(&path, serde_json::to_vec_pretty(o).unwrap()).unwrap();
        files.push(path);
    }
    test_support::kubernetes_validate::assert_valid_at(
        "1.33.0",
        "the etcd snapshot CronJob",
        &files,
    );
}
