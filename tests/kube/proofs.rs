//! `schedule create --verify weekly` on the real API server v1.20, and the restore test's proof
//! written to the ConfigMap with nothing but the Role that schedule grants, then read by `status`.
//! Elasticsearch is the double.

use es_double::{Config, Flavour, State};
use serde_json::{json, Value};

use crate::fixtures::{self, KS_NS};
use crate::tier::Tier;

const REPO: &str = "ks-log-snapshots";
const VERIFY: &str = "logbackup-nightly-verify";
const PROOFS: &str = "logbackup-proofs-ks-log-snapshots";

fn get(tier: &Tier, api_version: &str, kind: &str, name: &str) -> Option<Value> {
    tier.get(api_version, kind, Some(KS_NS), name)
}

/// A double with the repository, three daily indices and one snapshot of them.
fn double(tier: &Tier) -> es_double::Running {
    let mut config = Config::new(Flavour::Elasticsearch, "7.17.0");
    config.search_extras = true;
    let mut state = State::default();
    let mut settings = serde_json::Map::new();
    settings.insert(
        "location".into(),
        "/usr/share/elasticsearch/backup/ks-log-snapshots".into(),
    );
    state.repositories.insert(
        REPO.into(),
        es_double::state::Repository {
            kind: "fs".into(),
            settings,
        },
    );
    for day in ["2019.11.11", "2019.11.12", "2019.11.13"] {
        state.add_index(&format!("ks-logstash-log-{day}"), 1024 * 1024);
    }
    tier.rt
        .block_on(es_double::start(config, state, "127.0.0.1:0"))
        .unwrap()
}

#[test]
#[ignore = "needs the real Kubernetes binaries: scripts/kube-binaries.sh; run with -- --ignored"]
fn a_weekly_restore_test_writes_its_proof_with_only_its_role_and_status_reads_it() {
    let tier = Tier::start();
    tier.rt.block_on(async {
        fixtures::namespace(&tier.client().await, KS_NS, &[]).await;
    });
    let (code, stdout, stderr) = tier.plugin(&[
        "schedule",
        "create",
        "nightly",
        "-n",
        KS_NS,
        "-r",
        REPO,
        "--es-url",
        "http://elasticsearch-logging-data.kubesphere-logging-system.svc:9200",
        "--cron",
        "0 1 * * *",
        "--keep-days",
        "45",
        "--preset",
        "kubesphere",
        "--verify",
        "weekly",
    ]);
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stderr.contains("applied the restore test"), "{stderr}");
    let cj = get(&tier, "batch/v1beta1", "CronJob", VERIFY).expect("the restore-test CronJob");
    assert_eq!(cj["spec"]["schedule"], "30 5 * * 0");
    let pod = &cj["spec"]["jobTemplate"]["spec"]["template"]["spec"];
    assert_eq!(pod["serviceAccountName"], VERIFY);
    assert_eq!(pod["containers"][0]["args"][1], "verify");
    let role = get(&tier, "rbac.authorization.k8s.io/v1", "Role", VERIFY).expect("the Role");
    assert_eq!(role["rules"][0]["resourceNames"], json!([PROOFS]));
    assert!(get(&tier, "rbac.authorization.k8s.io/v1", "RoleBinding", VERIFY).is_some());
    let cm = get(&tier, "v1", "ConfigMap", PROOFS).expect("the proof ConfigMap");
    assert_eq!(cm["data"]["proofs.json"], "");

    let (code, stdout, stderr) = tier.plugin(&["schedule", "list", "-n", KS_NS, "-o", "json"]);
    assert_eq!(code, 0, "{stderr}");
    let rows: Value = serde_json::from_str(&stdout).unwrap();
    let jobs: Vec<&str> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["job"].as_str().unwrap())
        .collect();
    assert!(
        jobs.contains(&"backup") && jobs.contains(&"restore-test"),
        "{stdout}"
    );

    // The job's rights, and nothing more: the same Role bound to a user with no other rights.
    tier.rt.block_on(async {
        fixtures::apply(&tier.client().await, &json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": {"name": "restore-test-user", "namespace": KS_NS},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": VERIFY},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "restore-test"}]
        }))
        .await;
    });
    let job_user = tier.kubeconfig_for("restore-test");
    let es = double(&tier);
    let url = es.url();
    let fast = ["--es-url", url.as_str(), "--poll-interval-ms", "5"];
    let (code, _, stderr) = Tier::plugin_as(
        &job_user,
        &[
            &[
                "snapshot",
                "create",
                "-r",
                REPO,
                "--name",
                "daily-1",
                "--preset",
                "kubesphere",
                "--wait",
            ][..],
            &fast,
        ]
        .concat(),
    );
    assert_eq!(code, 0, "{stderr}");
    for run in 1..=2 {
        let (code, _, stderr) = Tier::plugin_as(
            &job_user,
            &[
                &[
                    "snapshot",
                    "verify",
                    "-r",
                    REPO,
                    "--restore-test",
                    "-n",
                    KS_NS,
                ][..],
                &fast,
            ]
            .concat(),
        );
        assert_eq!(code, 0, "{stderr}");
        assert!(
            stderr.contains(&format!(
                "recorded the result in ConfigMap {KS_NS}/{PROOFS} ({run} tests kept)"
            )),
            "{stderr}"
        );
    }
    let cm = get(&tier, "v1", "ConfigMap", PROOFS).unwrap();
    let kept: Value = serde_json::from_str(cm["data"]["proofs.json"].as_str().unwrap()).unwrap();
    assert_eq!(kept.as_array().unwrap().len(), 2);
    assert_eq!(kept[0]["snapshot"], "daily-1");
    assert_eq!(kept[0]["passed"], true);

    let (code, stdout, stderr) = tier.plugin(
        &[
            &["status", "-r", REPO, "-n", KS_NS, "-o", "json"][..],
            &fast,
        ]
        .concat(),
    );
    assert_eq!(code, 0, "{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["proofs"]["ok"], true, "{report}");
    assert_eq!(report["proofs"]["newest_snapshot"], "daily-1");

    // Deleting the schedule removes the restore test; the proofs stay.
    let (code, _, stderr) = tier.plugin(&["schedule", "delete", "nightly", "-n", KS_NS]);
    assert_eq!(code, 0, "{stderr}");
    assert!(get(&tier, "batch/v1beta1", "CronJob", VERIFY).is_none());
    assert!(get(&tier, "v1", "ServiceAccount", VERIFY).is_none());
    assert!(get(&tier, "rbac.authorization.k8s.io/v1", "Role", VERIFY).is_none());
    assert!(get(&tier, "v1", "ConfigMap", PROOFS).is_some());
}
