//! `workflows::schedule::policies` called in-process against the double: which engine, what is
//! written, listed, run and deleted, and what is refused. What the command line prints of it is
//! in schedule.rs.

use jiff::Timestamp;
use logbackup::es::policies::PolicyEngine;
use logbackup::schedule::policy::{default_max_count, PolicyPlan};
use logbackup::schedule::Schedule;
use logbackup::workflows::schedule::policies;
use logbackup::workflows::schedule::{self as workflow, ScheduleFailure};
use logbackup::workflows::Said;

use crate::harness::*;
use crate::workflows::{client, run};

/// The README's nightly policy: 01:00, 45 days, as many as the window holds plus one.
fn nightly() -> PolicyPlan {
    let schedule = Schedule::parse("0 1 * * *", None).unwrap();
    let now: Timestamp = "2026-11-22T03:00:00Z".parse().unwrap();
    PolicyPlan {
        name: "nightly".into(),
        max_count: default_max_count(&schedule, 45, now),
        schedule,
        repository: REPO.into(),
        indices: vec!["ks-logstash-log-*".into()],
        keep_days: 45,
        min_count: 1,
    }
}

/// The cluster type of `workflow::list` when there is none (Elasticsearch alone).
type NoCluster = logbackup::k8s::Kube;

#[test]
fn slm_is_written_listed_run_and_deleted() {
    let env = Env::start(es_double::Flavour::Elasticsearch, "8.19.0", kubesphere);
    run(async {
        let es = client(&env).await;
        let mut said = Vec::new();
        let dry = policies::create(&es, &nightly(), true, &mut |s| said.push(s))
            .await
            .unwrap();
        assert_eq!(dry.engine, PolicyEngine::Slm);
        assert!(env.double.state().slm_policies.is_empty(), "a dry run");
        assert_eq!(
            said,
            [Said::Note(
                "SLM takes Quartz cron with seconds: \"0 1 * * *\" becomes \"0 0 1 * * ?\" (UTC)"
                    .into()
            )]
        );
        let written = policies::create(&es, &nightly(), false, &mut |_| {})
            .await
            .unwrap();
        assert_eq!(written.body["retention"]["max_count"], 46);
        assert_eq!(
            env.double.state().slm_policies["nightly"].body["schedule"],
            "0 0 1 * * ?"
        );
        let snapshot = policies::run_now(&es, "nightly", REPO).await.unwrap();
        assert!(snapshot.starts_with("nightly-"), "{snapshot}");
        let rows = workflow::list(None::<&NoCluster>, Some(&es), None)
            .await
            .unwrap();
        assert_eq!(rows.len(), 1, "{rows:?}");
        assert_eq!(
            (rows[0].engine.as_str(), rows[0].namespace.as_str()),
            ("slm", "-")
        );
        assert_eq!(
            policies::delete(&es, "nightly", false).await.unwrap(),
            PolicyEngine::Slm
        );
        assert!(env.double.state().slm_policies.is_empty());
    });
    env.assert_spec_clean();
}

#[test]
fn snapshot_management_has_no_run_now_and_says_what_to_run_instead() {
    let env = Env::start(es_double::Flavour::OpenSearch, "2.11.0", kubesphere);
    run(async {
        let es = client(&env).await;
        let written = policies::create(&es, &nightly(), false, &mut |_| {})
            .await
            .unwrap();
        assert_eq!(written.engine, PolicyEngine::Sm);
        assert!(env.double.state().sm_policies.contains_key("nightly"));
        let refused = policies::run_now(&es, "nightly", REPO).await.unwrap_err();
        assert!(
            matches!(&refused, ScheduleFailure::Refused(why) if why.contains(&format!("backup -r {REPO}"))),
            "{refused}"
        );
    });
    env.assert_spec_clean();
}

#[test]
fn no_engine_is_refused_and_lists_nothing() {
    let env = Env::start(es_double::Flavour::Elasticsearch, "6.8.23", kubesphere);
    run(async {
        let es = client(&env).await;
        let refused = policies::create(&es, &nightly(), false, &mut |_| {})
            .await
            .unwrap_err();
        assert!(
            matches!(&refused, ScheduleFailure::Refused(why) if why.contains("SLM arrived in 7.4") && why.contains("--engine cronjob")),
            "{refused}"
        );
        assert!(workflow::list(None::<&NoCluster>, Some(&es), None)
            .await
            .unwrap()
            .is_empty());
        let nothing = workflow::list(None::<&NoCluster>, None, None)
            .await
            .unwrap_err();
        assert!(matches!(nothing, ScheduleFailure::NothingReached));
    });
    assert!(env.double.state().slm_policies.is_empty());
}
