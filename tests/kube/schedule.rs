//! `schedule create|list|run-now|delete` against the real API server v1.20, which serves CronJob
//! only as `batch/v1beta1`: the real CronJob and Job controllers take it from there.

use std::time::{Duration, Instant};
use test_support::plugin::create_nightly;

use serde_json::{json, Value};

use crate::fixtures::{self, KS_NS};
use crate::tier::Tier;

const CRONJOB: &str = "logbackup-nightly";

fn kubesphere_service(tier: &Tier) {
    tier.rt.block_on(async {
        let client = tier.client().await;
        fixtures::namespace(&client, KS_NS, &[]).await;
        fixtures::apply(&client, &json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "elasticsearch-logging-data", "namespace": KS_NS, "labels": {"app": "elasticsearch"}},
            "spec": {"selector": {"app": "elasticsearch", "role": "data"},
                     "ports": [{"name": "http", "port": 9200, "targetPort": 9200, "protocol": "TCP"}]}}))
        .await;
    });
}

fn get(tier: &Tier, api_version: &str, kind: &str, name: &str) -> Option<Value> {
    tier.get(api_version, kind, Some(KS_NS), name)
}

#[test]
#[ignore = "needs the real Kubernetes binaries: scripts/kube-binaries.sh; run with -- --ignored"]
fn the_readme_schedule_journey_runs_on_kubernetes_1_20() {
    let tier = Tier::start();
    kubesphere_service(&tier);

    // The README's nightly schedule; `more` adds to it.
    let create = |more: &[&str]| {
        let mut args = create_nightly(&["-n", KS_NS, "-r", "ks-log-snapshots"]);
        args.extend(more);
        tier.plugin(&args)
    };
    let (code, stdout, stderr) = create(&["--preset", "kubesphere"]);
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(
        stderr.contains("note: this cluster runs Kubernetes 1.20; CronJob batch/v1 needs 1.21, using batch/v1beta1"),
        "{stderr}"
    );
    let cj = get(&tier, "batch/v1beta1", "CronJob", CRONJOB).expect("the CronJob");
    assert_eq!(cj["spec"]["schedule"], "0 1 * * *");
    assert_eq!(cj["spec"]["concurrencyPolicy"], "Forbid");
    let args =
        cj["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["args"].to_string();
    assert!(
        args.contains("http://elasticsearch-logging-data.kubesphere-logging-system.svc:9200"),
        "{args}"
    );
    assert!(get(&tier, "v1", "ServiceAccount", CRONJOB).is_some());

    let (code, stdout, stderr) = tier.plugin(&["schedule", "list", "-n", KS_NS, "-o", "json"]);
    assert_eq!(code, 0, "{stderr}");
    let rows: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(rows[0]["name"], "nightly", "{stdout}");
    assert_eq!(rows[0]["schedule"], "0 1 * * *");

    // run-now: a Job owned by the CronJob, which the real Job controller picks up (it makes a pod;
    // nothing runs it here).
    let (code, stdout, stderr) = tier.plugin(&["schedule", "run-now", "nightly", "-n", KS_NS]);
    assert_eq!(code, 0, "{stderr}");
    let job_name = stdout.trim().to_owned();
    let job = get(&tier, "batch/v1", "Job", &job_name).expect("the Job");
    assert_eq!(
        job["metadata"]["ownerReferences"][0]["uid"],
        cj["metadata"]["uid"]
    );
    assert_eq!(
        job["metadata"]["ownerReferences"][0]["apiVersion"],
        "batch/v1beta1"
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let job = get(&tier, "batch/v1", "Job", &job_name).unwrap();
        if job["status"]["active"].as_i64() == Some(1) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the Job controller did not start {job_name}: {job}"
        );
        std::thread::sleep(Duration::from_millis(300));
    }

    let (code, _, stderr) = tier.plugin(&["schedule", "delete", "nightly", "-n", KS_NS]);
    assert_eq!(code, 0, "{stderr}");
    assert!(get(&tier, "batch/v1beta1", "CronJob", CRONJOB).is_none());
    assert!(get(&tier, "v1", "ServiceAccount", CRONJOB).is_none());

    // A time zone this server would drop is refused, and nothing is left behind.
    let (code, _, stderr) = create(&["--time-zone", "Asia/Shanghai"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("--time-zone needs Kubernetes 1.27 (CronJob spec.timeZone) and this cluster runs Kubernetes 1.20"), "{stderr}");
    assert!(get(&tier, "v1", "ServiceAccount", CRONJOB).is_none());
    assert!(get(&tier, "batch/v1beta1", "CronJob", CRONJOB).is_none());
}
