//! The copy in the nightly job: `backup --sync-to`, `status --sync-to` (last sync and lag) and the
//! CronJob `schedule create --sync-to` writes.

use crate::harness::{Env, Run};
use crate::{moto, snapshot, source_with, with_moto_credentials, Source};
use test_support::plugin::create_nightly;

/// The plugin against `env`'s double, with the moto credentials in the environment.
fn plugin(env: &Env, args: &[&str]) -> Run {
    let run = with_moto_credentials()
        .trailing(["--es-url", &env.double.url(), "--poll-interval-ms", "5"])
        .trailing(["--endpoint", moto::shared()])
        .env_remove("LOGBACKUP_REPOSITORY")
        .run(args);
    env.assert_spec_clean();
    run
}

/// The nightly `backup` of `src`'s repository, copied to `to` after a success.
fn backup_synced(src: &Source, to: &str, more: &[&str]) -> Run {
    let from = src.location.to_string_lossy().to_string();
    let mut args = vec![
        "backup",
        "-r",
        "ks",
        "--indices",
        "ks-logstash-log-*",
        "--keep-days",
        "45",
        "--sync-to",
        to,
        "--sync-from",
        &from,
    ];
    args.extend(more);
    plugin(&src.env, &args)
}

#[test]
fn backup_copies_after_a_success_and_status_reports_the_lag() {
    let endpoint = moto::shared();
    moto::create_bucket(endpoint, "nightly");
    let src = source_with(&[]);
    let run = backup_synced(&src, "s3://nightly/ks", &["-o", "json"]);
    run.ok().stderr_has("copied to s3://nightly/ks");
    let out = run.json();
    assert_eq!(out["snapshot"]["state"], "SUCCESS");
    assert_eq!(out["sync"]["snapshots"].as_array().unwrap().len(), 1);
    assert!(out["sync"]["files_sent"].as_u64().unwrap() > 3);

    let status = [
        "status",
        "-r",
        "ks",
        "--sync-to",
        "s3://nightly/ks",
        "-o",
        "json",
    ];
    let run = plugin(&src.env, &status);
    run.ok();
    let report = run.json();
    assert_eq!(report["sync"]["ok"], true, "{report}");
    assert_eq!(report["sync"]["lag"]["missing"], serde_json::json!([]));
    assert!(report["sync"]["last_sync"].is_string());

    // A snapshot the copy has not seen yet: status says by how much the copy lags, and exits 1.
    snapshot(&src.env, "ks", "manual-1");
    let run = plugin(&src.env, &status);
    run.code(1);
    let report = run.json();
    assert_eq!(report["sync"]["ok"], false);
    assert_eq!(
        report["sync"]["lag"]["missing"],
        serde_json::json!(["manual-1"])
    );
    let table = plugin(
        &src.env,
        &["status", "-r", "ks", "--sync-to", "s3://nightly/ks"],
    );
    table
        .code(1)
        .stdout_has("s3://nightly/ks lags by 1 snapshots (newest missing: manual-1)");

    // A copy never made.
    moto::create_bucket(endpoint, "never");
    plugin(
        &src.env,
        &["status", "-r", "ks", "--sync-to", "s3://never/ks"],
    )
    .code(1)
    .stdout_has("has no record of a sync");
}

#[test]
fn a_partial_snapshot_is_not_copied() {
    let endpoint = moto::shared();
    moto::create_bucket(endpoint, "partial");
    let src = source_with(&["nightly-1"]);
    src.env.double.state().behaviour.next_partial = true;
    backup_synced(&src, "s3://partial/ks", &[])
        .code(1)
        .stderr_has("not copying off the cluster");
    assert!(moto::keys(endpoint, "partial", "").is_empty());
}

#[test]
fn the_cronjob_mounts_the_claim_read_only_and_takes_the_keys_from_a_secret() {
    let env = Env::start(es_double::Flavour::Elasticsearch, "7.17.0", |_| {});
    let run = env.run(&[
        "schedule",
        "create",
        "nightly",
        "-n",
        "logging",
        "-r",
        "ks-log-snapshots",
        "--cron",
        "0 1 * * *",
        "--keep-days",
        "45",
        "--sync-to",
        "s3://offsite/ks",
        "--sync-claim",
        "elasticsearch-logging-backup",
        "--sync-secret",
        "offsite-s3",
        "--sync-endpoint",
        "http://minio.minio.svc:9000",
        "--dry-run",
        "-o",
        "json",
    ]);
    run.ok();
    let objects: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let cron = objects
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["kind"] == "CronJob")
        .unwrap();
    let pod = &cron["spec"]["jobTemplate"]["spec"]["template"]["spec"];
    let volume = pod["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "repository")
        .unwrap();
    assert_eq!(
        volume["persistentVolumeClaim"],
        serde_json::json!({"claimName": "elasticsearch-logging-backup", "readOnly": true})
    );
    let container = &pod["containers"][0];
    let mount = container["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "repository")
        .unwrap();
    assert_eq!(mount["readOnly"], true);
    let args: Vec<&str> = container["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    let joined = args.join(" ");
    assert!(
        joined.contains("--sync-to s3://offsite/ks --sync-from /repository/ks-log-snapshots --endpoint http://minio.minio.svc:9000"),
        "{joined}"
    );
    assert!(!joined.contains("AWS_"), "{joined}");
    let env_names: Vec<&str> = container["env"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["valueFrom"]["secretKeyRef"]["name"] == "offsite-s3")
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        env_names,
        [
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN"
        ]
    );
    // No token, no Role: the job talks to Elasticsearch and S3 only.
    assert_eq!(pod["automountServiceAccountToken"], false);
    assert!(!objects
        .as_array()
        .unwrap()
        .iter()
        .any(|o| o["kind"] == "Role"));

    // With --volume-snapshot-class it needs exactly VolumeSnapshots in its namespace, and a token.
    let run = env.run(&create_nightly(&[
        "-n",
        "logging",
        "--volume-snapshot-class",
        "csi-rbd",
        "--volume-snapshot-claim",
        "elasticsearch-logging-backup",
        "--keep-volume-snapshots",
        "3",
        "--dry-run",
        "-o",
        "json",
    ]));
    run.ok();
    let objects: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let kinds: Vec<&str> = objects
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["ServiceAccount", "Role", "RoleBinding", "CronJob"]);
    let role = &objects[1];
    assert_eq!(
        role["rules"],
        serde_json::json!([{"apiGroups": ["snapshot.storage.k8s.io"], "resources": ["volumesnapshots"], "verbs": ["create", "list", "delete"]}])
    );
    assert_eq!(objects[2]["subjects"][0]["name"], "logbackup-nightly");
    let pod = &objects[3]["spec"]["jobTemplate"]["spec"]["template"]["spec"];
    assert_eq!(pod["automountServiceAccountToken"], true);
    let args: Vec<&str> = pod["containers"][0]["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert!(args
        .join(" ")
        .contains("--volume-snapshot-class csi-rbd --volume-snapshot-claim elasticsearch-logging-backup --keep-volume-snapshots 3"));

    // --sync-to without the claim or the Secret is a usage error.
    env.run(&[
        "schedule",
        "create",
        "nightly",
        "-n",
        "logging",
        "--cron",
        "0 1 * * *",
        "--sync-to",
        "s3://offsite/ks",
        "--dry-run",
    ])
    .code(2)
    .stderr_has("--sync-claim");
}
