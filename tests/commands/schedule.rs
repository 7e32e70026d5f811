//! `schedule --engine slm` against the double: SLM on Elasticsearch 7.4+, Snapshot Management on
//! OpenSearch 2.1+, clear refusals elsewhere; and the CronJob rendering of `--dry-run`.

use crate::harness::*;
use es_double::Flavour;
use test_support::plugin::create_nightly;

/// The SLM schedule for the KubeSphere preset.
fn create() -> Vec<&'static str> {
    create_nightly(&["--preset", "kubesphere", "--engine", "slm", "-r", REPO])
}

#[test]
fn slm_policy_is_written_run_listed_and_deleted() {
    for version in ["7.17.0", "8.19.0"] {
        let env = Env::start(Flavour::Elasticsearch, version, kubesphere);
        env.run(&create())
            .ok()
            .stderr_has("next runs:")
            .stderr_has("\"0 1 * * *\" becomes \"0 0 1 * * ?\"")
            .stderr_has("wrote SLM policy nightly");
        {
            let state = env.double.state();
            let policy = &state.slm_policies["nightly"].body;
            assert_eq!(policy["schedule"], "0 0 1 * * ?");
            assert_eq!(policy["repository"], REPO);
            assert_eq!(policy["config"]["indices"], "ks-logstash-log-*");
            assert_eq!(policy["retention"]["expire_after"], "45d");
            assert_eq!(policy["retention"]["min_count"], 1);
            // No --max-count: the 45 nightly runs the window holds, plus one.
            assert_eq!(policy["retention"]["max_count"], 46);
        }
        let run = env.run(&["schedule", "run-now", "nightly", "--engine", "slm"]);
        run.ok().stderr_has("started snapshot nightly-");
        let snapshot = run.stdout.trim().to_string();
        assert!(env
            .double
            .state()
            .snapshots_of(REPO)
            .iter()
            .any(|s| s.name == snapshot));
        let list = env.run(&["schedule", "list", "-o", "json"]);
        let rows = list.ok().json();
        let row = rows
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == "nightly")
            .unwrap_or_else(|| panic!("{}", list.stdout));
        assert_eq!(row["engine"], "slm");
        assert_eq!(row["schedule"], "0 0 1 * * ?");
        assert!(row["last_success"].is_string(), "{row}");
        env.run(&["schedule", "delete", "nightly", "--engine", "slm"])
            .ok();
        assert!(env.double.state().slm_policies.is_empty());
    }
}

#[test]
fn dry_run_prints_the_policy_and_writes_nothing() {
    let env = Env::start(Flavour::Elasticsearch, "8.19.0", kubesphere);
    let mut args = create();
    args.push("--dry-run");
    let run = env.run(&args);
    run.ok()
        .stderr_has("dry run: would write SLM policy nightly");
    let printed = run.json();
    assert_eq!(printed[0]["schedule"], "0 0 1 * * ?");
    assert!(env.double.state().slm_policies.is_empty());
    assert_eq!(count_requests(&env, "PUT /_slm"), 0);
}

#[test]
fn snapshot_management_on_opensearch_creates_then_updates_with_sequence_numbers() {
    let env = Env::start(Flavour::OpenSearch, "2.11.0", kubesphere);
    env.run(&create())
        .ok()
        .stderr_has("wrote Snapshot Management policy nightly");
    let mut again = create();
    again[4] = "0 2 * * *";
    env.run(&again).ok();
    assert_eq!(
        count_requests(&env, "POST /_plugins/_sm/policies/nightly"),
        1
    );
    assert_eq!(
        count_requests(
            &env,
            "PUT /_plugins/_sm/policies/nightly?if_seq_no=0&if_primary_term=1"
        ),
        1
    );
    {
        let state = env.double.state();
        let body = &state.sm_policies["nightly"].body;
        assert_eq!(
            body["creation"]["schedule"]["cron"]["expression"],
            "0 2 * * *"
        );
        assert_eq!(body["deletion"]["condition"]["max_age"], "45d");
    }
    env.run(&["schedule", "run-now", "nightly", "--engine", "slm"])
        .code(3)
        .stderr_has("no run-now API")
        .stderr_has("kubectl logbackup backup");
    env.run(&["schedule", "delete", "nightly", "--engine", "slm"])
        .ok();
    assert!(env.double.state().sm_policies.is_empty());
}

#[test]
fn clusters_without_a_policy_engine_are_refused_with_the_cronjob_suggestion() {
    let oss = |s: &mut es_double::State| {
        kubesphere(s);
        s.behaviour.oss_build = true;
    };
    type Setup = Box<dyn Fn(&mut es_double::State)>;
    let cases: Vec<(Flavour, &str, Setup, &str)> = vec![
        (
            Flavour::Elasticsearch,
            "6.8.23",
            Box::new(kubesphere),
            "SLM arrived in 7.4",
        ),
        (
            Flavour::Elasticsearch,
            "7.17.0",
            Box::new(oss),
            "does not answer the SLM API",
        ),
        (
            Flavour::OpenSearch,
            "1.3.0",
            Box::new(kubesphere),
            "arrived in 2.1",
        ),
    ];
    for (flavour, version, setup, why) in cases {
        let env = Env::start(flavour, version, setup);
        env.run_unchecked(&create())
            .code(3)
            .stderr_has(why)
            .stderr_has("--engine cronjob");
        assert_eq!(count_requests(&env, "PUT /_slm/policy/"), 0);
        // The only request refused is the probe, and only where the endpoint does not exist.
        let refused: Vec<String> = env
            .double
            .state()
            .log
            .iter()
            .filter(|l| l.contains("-> 4"))
            .cloned()
            .collect();
        let expected: &[&str] = if why.contains("does not answer") {
            &["GET /_slm/policy -> 400"]
        } else {
            &[]
        };
        assert_eq!(refused, expected, "{}", env.label);
    }
}

#[test]
fn cronjob_dry_run_renders_without_a_cluster() {
    let env = Env::start(Flavour::Elasticsearch, "7.17.0", kubesphere);
    let run = env.run(&create_nightly(&[
        "--preset",
        "kubesphere",
        "-r",
        REPO,
        "-n",
        "kubesphere-logging-system",
        "--dry-run",
        "-o",
        "json",
    ]));
    let objects = run.ok().stderr_has("next runs:").json();
    assert_eq!(objects[0]["kind"], "ServiceAccount");
    assert_eq!(objects[1]["kind"], "CronJob");
    assert_eq!(
        objects[1]["metadata"]["namespace"],
        "kubesphere-logging-system"
    );
    let args = objects[1]["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
        ["args"]
        .to_string();
    assert!(args.contains(&env.double.url()), "{args}");
    assert!(args.contains("\"--prefix\",\"nightly-\""), "{args}");
    assert!(
        args.contains("\"--name\",\"nightly-%Y%m%d%H%M%S\""),
        "{args}"
    );
    // Rendering asks Elasticsearch nothing.
    assert!(env.double.state().log.is_empty());
    env.run(&[
        "schedule",
        "create",
        "x",
        "--cron",
        "0 1 * *",
        "--keep-days",
        "1",
        "-n",
        "a",
        "--dry-run",
    ])
    .code(1)
    .stderr_has("5 fields");
}

#[test]
fn verify_weekly_dry_run_renders_the_restore_test_and_its_narrow_role() {
    let env = Env::start(Flavour::Elasticsearch, "7.17.0", kubesphere);
    let base = create_nightly(&[
        "--preset",
        "kubesphere",
        "-r",
        REPO,
        "-n",
        "kubesphere-logging-system",
    ]);
    let run = env.run(
        &[
            &base[..],
            &["--verify", "weekly", "--dry-run", "-o", "json"],
        ]
        .concat(),
    );
    let objects = run
        .ok()
        .stderr_has("restore test \"30 5 * * 0\", next runs:")
        .stderr_has(
            "would apply the restore test kubesphere-logging-system/logbackup-nightly-verify",
        )
        .json();
    let kinds: Vec<&str> = objects
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "ServiceAccount",
            "CronJob",
            "ConfigMap",
            "ServiceAccount",
            "Role",
            "RoleBinding",
            "CronJob"
        ]
    );
    let test = &objects[6];
    let args = test["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["args"]
        .to_string();
    assert!(
        args.starts_with("[\"snapshot\",\"verify\",\"--restore-test\""),
        "{args}"
    );
    assert!(args.contains(&env.double.url()), "{args}");
    assert_eq!(
        objects[4]["rules"][0]["resourceNames"][0],
        "logbackup-proofs-ks-log-snapshots"
    );
    assert!(env.double.state().log.is_empty());
    // A cron of one's own; nonsense is refused before anything is rendered.
    let run = env.run(
        &[
            &base[..],
            &["--verify", "0 4 * * 3", "--dry-run", "-o", "json"],
        ]
        .concat(),
    );
    assert_eq!(run.ok().json()[6]["spec"]["schedule"], "0 4 * * 3");
    env.run(&[&base[..], &["--verify", "fortnightly", "--dry-run"]].concat())
        .code(1)
        .stderr_has("invalid schedule \"fortnightly\"");
    env.run(
        &[
            &base[..],
            &["--verify", "weekly", "--engine", "slm", "--dry-run"],
        ]
        .concat(),
    )
    .code(1)
    .stderr_has("--verify runs the restore test as a CronJob");
}
