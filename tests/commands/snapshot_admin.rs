//! `workflows::snapshot_admin` (describe, delete) and `workflows::repo::remove` called in-process
//! against the double; what the command line prints of them is in snapshot.rs and repo.rs.

use std::time::Duration;

use logbackup::workflows::repo::remove;
use logbackup::workflows::retry::Retry;
use logbackup::workflows::snapshot::SnapshotError;
use logbackup::workflows::snapshot_admin::{delete, describe};
use logbackup::workflows::Said;

use crate::harness::*;
use crate::workflows::{client, run};

const FAST: Retry = Retry {
    first_delay: Duration::from_millis(5),
    times: 3,
};

fn names(env: &Env) -> Vec<String> {
    let state = env.double.state();
    state
        .snapshots_of(REPO)
        .iter()
        .map(|s| s.name.clone())
        .collect()
}

fn notes(said: &[Said]) -> Vec<&str> {
    said.iter()
        .filter_map(|s| match s {
            Said::Note(line) => Some(line.as_str()),
            _ => None,
        })
        .collect()
}

#[test]
fn delete_looks_every_name_up_first_and_retries_a_busy_delete() {
    let env = Env::kubesphere_with(VERSIONS[1].0, VERSIONS[1].1, |b| b.deletes_busy_for = 1);
    for name in ["a", "b"] {
        env.run(&["snapshot", "create", "-r", REPO, "--name", name, "--wait"])
            .ok();
    }
    let both = vec!["a".to_owned(), "b".to_owned()];
    run(async {
        let es = client(&env).await;
        let mut said = Vec::new();
        delete(&es, REPO, &both, FAST, true, &mut |s| said.push(s))
            .await
            .unwrap();
        assert_eq!(
            notes(&said),
            [
                "dry run: would delete snapshot ks-log-snapshots:a",
                "dry run: would delete snapshot ks-log-snapshots:b"
            ]
        );
        assert_eq!(names(&env), ["a", "b"]);
        let typo = vec!["a".to_owned(), "zzz".to_owned()];
        let e = delete(&es, REPO, &typo, FAST, false, &mut |_| {})
            .await
            .unwrap_err();
        assert!(e.to_string().contains("is missing"), "{e}");
        assert_eq!(names(&env), ["a", "b"], "a typo deletes nothing");
        let mut said = Vec::new();
        delete(&es, REPO, &both, FAST, false, &mut |s| said.push(s))
            .await
            .unwrap();
        let said = notes(&said);
        assert!(said[0].contains("retrying in"), "{said:?}");
        assert_eq!(
            &said[1..],
            [
                "deleted snapshot ks-log-snapshots:a",
                "deleted snapshot ks-log-snapshots:b"
            ]
        );
    });
    assert!(names(&env).is_empty());
    env.assert_spec_clean();
}

#[test]
fn a_running_snapshot_is_refused_and_kept() {
    let env = Env::kubesphere_with(VERSIONS[0].0, VERSIONS[0].1, |b| b.progress_polls = 1000);
    env.run(&["snapshot", "create", "-r", REPO, "--name", "running"])
        .ok();
    run(async {
        let es = client(&env).await;
        let e = delete(&es, REPO, &["running".into()], FAST, false, &mut |_| {})
            .await
            .unwrap_err();
        assert!(matches!(e, SnapshotError::InProgress { .. }), "{e}");
        assert_eq!(
            e.to_string(),
            "snapshot ks-log-snapshots:running is in progress; deleting it would abort it. Wait for it to end."
        );
    });
    assert_eq!(names(&env), ["running"]);
}

#[test]
fn describe_sizes_each_index_and_remove_reads_the_repository_first() {
    let env = Env::start(VERSIONS[2].0, VERSIONS[2].1, kubesphere);
    env.run(&["snapshot", "create", "-r", REPO, "--name", "b", "--wait"])
        .ok();
    run(async {
        let es = client(&env).await;
        let described = describe(&es, REPO, "b").await.unwrap();
        assert_eq!(described.snapshot.snapshot, "b");
        assert_eq!(
            described.index_sizes["ks-logstash-log-2019.11.12"],
            10 * 1024 * 1024
        );
        let e = describe(&es, REPO, "zzz").await.unwrap_err();
        assert!(
            e.to_string().contains("[ks-log-snapshots:zzz] is missing"),
            "{e}"
        );

        remove(&es, REPO, true).await.unwrap();
        assert!(
            env.double.state().repositories.contains_key(REPO),
            "a dry run"
        );
        let e = remove(&es, "typo", false).await.unwrap_err();
        assert!(e.to_string().contains("typo"), "{e}");
        remove(&es, REPO, false).await.unwrap();
        assert!(!env.double.state().repositories.contains_key(REPO));
    });
    env.assert_spec_clean();
}
