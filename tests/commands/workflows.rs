//! The Elasticsearch workflows called in-process (no binary), against the double: what the command
//! line prints is tested by the other files; these check what the library returns and says.

use std::time::Duration;

use logbackup::es::types::CreateSnapshot;
use logbackup::es::{Auth, ClientConfig, EsClient};
use logbackup::snapshot::restore::{IndexFilter, OnConflict};
use logbackup::snapshot::SnapshotState;
use logbackup::workflows::backup::{backup, AfterSuccess, StepError};
use logbackup::workflows::repo::{register_fs, FsRepository, RepoError};
use logbackup::workflows::restore::{restore, RestoreFailure, RestoreOptions};
use logbackup::workflows::retry::Retry;
use logbackup::workflows::snapshot::{create_and_wait, SnapshotOptions};
use logbackup::workflows::Said;

use crate::harness::*;

pub(crate) fn run<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

pub(crate) async fn client(env: &Env) -> EsClient {
    EsClient::connect(&ClientConfig {
        url: env.double.url(),
        auth: Auth::None,
        ca_pem: None,
        insecure: false,
        resolve: None,
        timeout: Duration::from_secs(10),
    })
    .await
    .unwrap()
}

fn repo(location: &str) -> FsRepository {
    FsRepository {
        name: REPO.into(),
        location: location.into(),
        compress: true,
        readonly: false,
    }
}

#[test]
fn register_fs_checks_path_repo_registers_and_verifies() {
    let env = Env::start(VERSIONS[0].0, VERSIONS[0].1, |_| {});
    run(async {
        let es = client(&env).await;
        let planned = register_fs(&es, &repo(LOCATION), true).await.unwrap();
        assert_eq!(planned.verified_nodes, None);
        assert_eq!(planned.request[REPO]["settings"]["location"], LOCATION);
        assert!(env.double.state().repositories.is_empty(), "a dry run");

        let done = register_fs(&es, &repo(LOCATION), false).await.unwrap();
        assert_eq!(done.verified_nodes, Some(2));
        assert!(env.double.state().repositories.contains_key(REPO));

        let refused = register_fs(&es, &repo("/mnt/elsewhere"), false)
            .await
            .unwrap_err();
        assert!(matches!(refused, RepoError::Refused { .. }), "{refused}");
    });
    env.assert_spec_clean();
}

/// Fast polls and retries, and the KubeSphere indices.
fn snapshot_of_kubesphere() -> (SnapshotOptions, CreateSnapshot) {
    let options = SnapshotOptions {
        repository: REPO.into(),
        retry: Retry {
            first_delay: Duration::from_millis(10),
            times: 2,
        },
        poll_interval: Duration::from_millis(10),
        timeout: Duration::from_secs(30),
    };
    let body = CreateSnapshot {
        indices: "ks-logstash-log-*".into(),
        ignore_unavailable: true,
        include_global_state: false,
        partial: true,
        metadata: None,
    };
    (options, body)
}

#[test]
fn create_and_wait_follows_the_snapshot_to_its_final_state() {
    let env = Env::start(VERSIONS[1].0, VERSIONS[1].1, kubesphere);
    let (options, body) = snapshot_of_kubesphere();
    let mut said = Vec::new();
    let info = run(async {
        let es = client(&env).await;
        create_and_wait(
            &es,
            &options,
            "daily-1",
            &body,
            jiff::Timestamp::now(),
            &mut |s| said.push(s),
        )
        .await
        .unwrap()
    });
    assert_eq!(info.state, Some(SnapshotState::Success));
    assert_eq!(info.indices.len(), 3);
    assert!(said.contains(&Said::Note(format!("started snapshot {REPO}:daily-1"))));
    assert!(
        said.iter()
            .any(|s| matches!(s, Said::Snapshot(p) if p.shards_total > 0)),
        "progress was reported: {said:?}"
    );
    env.assert_spec_clean();
}

#[test]
fn restore_plans_refuses_conflicts_and_restores_under_a_prefix() {
    let env = Env::start(VERSIONS[0].0, VERSIONS[0].1, kubesphere);
    snapshot_daily(&env);
    let options = RestoreOptions {
        repository: REPO.into(),
        snapshot: None,
        filter: IndexFilter::Date("2019.11.12".into()),
        rename_prefix: None,
        on_conflict: OnConflict::Refuse,
        watermark: 90.0,
        replicas: 1,
        dry_run: false,
        wait: true,
        wait_timeout: Duration::from_secs(30),
        poll_interval: Duration::from_millis(10),
        retry: Retry {
            first_delay: Duration::from_millis(5),
            times: 2,
        },
    };
    run(async {
        let es = client(&env).await;
        // The index is still there and open: refused, nothing changed.
        let refused = restore(&es, &options, &mut |_| {}).await.unwrap_err();
        assert!(matches!(refused, RestoreFailure::Refused(_)), "{refused}");

        let renamed = RestoreOptions {
            rename_prefix: Some("restored-".into()),
            ..options.clone()
        };
        let report = restore(&es, &renamed, &mut |_| {}).await.unwrap();
        assert_eq!(report.plan.snapshot, "daily-1");
        assert_eq!(
            report.plan.targets,
            vec!["restored-ks-logstash-log-2019.11.12".to_string()]
        );
        assert!(report.required_bytes > 0 && report.required_bytes <= report.usable_bytes);
    });
    assert!(env
        .double
        .state()
        .indices
        .contains_key("restored-ks-logstash-log-2019.11.12"));
    env.assert_spec_clean();
}

/// Steps that record what they were asked; the copy fails when told to.
#[derive(Default)]
struct Recorder {
    ended: Vec<Option<SnapshotState>>,
    asked: Vec<&'static str>,
    copy_fails: bool,
}

impl AfterSuccess for Recorder {
    type Pruned = &'static str;
    fn snapshot_ended(&mut self, info: &logbackup::es::types::SnapshotInfo) {
        self.ended.push(info.state.clone());
    }
    async fn prune(&mut self) -> Result<(&'static str, bool), StepError> {
        self.asked.push("prune");
        Ok(("pruned", true))
    }
    async fn copy_off_site(&mut self) -> Result<Option<logbackup::sync::run::Outcome>, StepError> {
        self.asked.push("copy");
        if self.copy_fails {
            return Err("the bucket is gone".into());
        }
        Ok(None)
    }
    fn copy_asked(&self) -> bool {
        true
    }
    async fn volume_snapshot(&mut self, _: &str) -> Result<Option<String>, StepError> {
        self.asked.push("volume");
        Ok(Some("vs".into()))
    }
}

fn backup_once(env: &Env, name: &str, steps: &mut Recorder, said: &mut Vec<Said>) -> bool {
    let (options, body) = snapshot_of_kubesphere();
    run(async {
        let es = client(env).await;
        backup(
            &es,
            &options,
            name,
            &body,
            steps,
            jiff::Timestamp::now(),
            &mut |s| said.push(s),
        )
        .await
        .unwrap()
        .ok
    })
}

#[test]
fn a_partial_backup_prunes_nothing_and_copies_nothing() {
    let env = Env::start(VERSIONS[0].0, VERSIONS[0].1, |s| {
        kubesphere(s);
        s.behaviour.next_partial = true;
    });
    let mut steps = Recorder::default();
    let mut said = Vec::new();
    assert!(!backup_once(&env, "nightly-1", &mut steps, &mut said));
    assert_eq!(steps.ended, vec![Some(SnapshotState::Partial)]);
    assert!(steps.asked.is_empty(), "{:?}", steps.asked);
    assert!(said.contains(&Said::Note(
        "not pruning: the newest snapshot is not a complete backup".into()
    )));
}

#[test]
fn after_a_success_every_step_runs_even_when_one_fails() {
    let env = Env::start(VERSIONS[0].0, VERSIONS[0].1, kubesphere);
    let mut steps = Recorder {
        copy_fails: true,
        ..Recorder::default()
    };
    let mut said = Vec::new();
    assert!(
        !backup_once(&env, "nightly-1", &mut steps, &mut said),
        "a failed copy is not ok"
    );
    assert_eq!(steps.ended, vec![Some(SnapshotState::Success)]);
    assert_eq!(steps.asked, vec!["prune", "copy", "volume"]);
    assert!(said
        .iter()
        .any(|s| matches!(s, Said::Note(n) if n.contains("the bucket is gone"))));
    let mut steps = Recorder::default();
    assert!(backup_once(&env, "nightly-2", &mut steps, &mut Vec::new()));
}
