//! `workflows::status` and `workflows::coverage` called in-process against the double, with the
//! kept restore-test proofs in a store the test holds: what they gather and how the core judges it.

use std::cell::RefCell;

use logbackup::k8s::{Attempt, K8sError, Problem};
use logbackup::snapshot::coverage::{DayState, Group};
use logbackup::snapshot::proof::{self, ProofRecord, ProvenIndex};
use logbackup::workflows::coverage::{coverage, CoverageError, CoverageOptions};
use logbackup::workflows::proofs::{ProofStore, ProofStoreError, Stored};
use logbackup::workflows::status::{status, Report, StatusError, StatusOptions};
use logbackup::workflows::Said;

use crate::coverage::nights;
use crate::harness::*;
use crate::workflows::{client, run};

const DAY_MS: i64 = 86_400_000;

/// Proofs kept in memory; counts its reads.
struct Kept {
    text: Option<String>,
    reads: RefCell<usize>,
}

impl Kept {
    fn of(records: &[ProofRecord]) -> Self {
        Self {
            text: Some(proof::encode(records).unwrap()),
            reads: RefCell::new(0),
        }
    }
}

// By reference, so the test still holds the store afterwards.
impl ProofStore for &Kept {
    async fn read(&self) -> Result<Option<Stored>, ProofStoreError> {
        *self.reads.borrow_mut() += 1;
        Ok(self.text.clone().map(|text| Stored {
            text,
            version: None,
        }))
    }
    async fn write(&self, _: &str, _: Option<&Stored>) -> Result<bool, ProofStoreError> {
        panic!("status and coverage only read the proofs")
    }
    fn describe(&self) -> String {
        "memory".into()
    }
}

/// What opening the ConfigMap store says without a reachable API server.
fn unreachable() -> Result<&'static Kept, ProofStoreError> {
    Err(K8sError::new(
        Attempt::new("get", "ConfigMap", "configmaps"),
        Problem::Unreachable {
            server: "https://127.0.0.1:6443".into(),
            detail: "Connection refused (os error 111)".into(),
        },
    )
    .into())
}

/// A passed (or failed) restore test of `index` from `snapshot`, `at_ms`.
fn tested(snapshot: &str, index: &str, at_ms: i64, passed: bool) -> ProofRecord {
    ProofRecord {
        snapshot: snapshot.into(),
        indices: vec![ProvenIndex {
            index: index.into(),
            expected: Some(10),
            found: Some(10),
            took_ms: 5,
            passed,
        }],
        bytes: 100,
        took_ms: 10,
        throughput_bytes_per_s: 10_000,
        passed,
        verdict: if passed { "RESTORABLE" } else { "FAILED" }.into(),
        at_ms,
    }
}

fn options(require_proof: bool) -> StatusOptions {
    StatusOptions {
        repository: REPO.into(),
        watermark: 90.0,
        max_age_hours: 26,
        max_proof_age_days: 8,
        require_proof,
    }
}

/// A KubeSphere double with one fresh SUCCESS snapshot, `daily-1`.
fn fresh() -> Env {
    let env = Env::start(VERSIONS[0].0, VERSIONS[0].1, kubesphere);
    snapshot_daily(&env);
    env
}

/// `status` of `env` at `now`, the proofs in `store`; what it returned and what it said.
fn status_of(
    env: &Env,
    require_proof: bool,
    store: Result<&Kept, ProofStoreError>,
    now: jiff::Timestamp,
) -> (Result<Report, StatusError>, Vec<Said>) {
    let mut said = Vec::new();
    let report = run(async {
        let es = client(env).await;
        status(
            &es,
            &options(require_proof),
            None,
            async { store },
            now,
            &mut |s| said.push(s),
        )
        .await
    });
    (report, said)
}

#[test]
fn status_gathers_the_facts_and_judges_the_kept_proofs() {
    let env = fresh();
    let now = jiff::Timestamp::now();
    let day_ago = now.as_millisecond() - DAY_MS;
    let store = Kept::of(&[tested(
        "daily-1",
        "ks-logstash-log-2019.11.12",
        day_ago,
        true,
    )]);
    let (report, said) = status_of(&env, false, Ok(&store), now);
    let report = report.unwrap();
    assert_eq!(*store.reads.borrow(), 1);
    assert!(report.health.healthy, "{:?}", report.health.findings);
    assert!(report.healthy());
    assert_eq!(report.snapshots, 1);
    assert_eq!(report.repository, REPO);
    assert!(report.repositories.iter().any(|r| r.name == REPO));
    assert!(report.version.contains(VERSIONS[0].1));
    let proofs = report.proofs.unwrap();
    assert!(proofs.ok, "{}", proofs.message);
    assert_eq!(proofs.newest_snapshot.as_deref(), Some("daily-1"));
    assert!(report.sync.is_none());
    assert!(said.is_empty(), "{said:?}");
    env.assert_spec_clean();
}

#[test]
fn an_old_proof_makes_status_unhealthy_though_the_repository_is_well() {
    let env = fresh();
    let now = jiff::Timestamp::now();
    let old = now.as_millisecond() - 10 * DAY_MS;
    let store = Kept::of(&[tested("daily-1", "ks-logstash-log-2019.11.12", old, true)]);
    let report = status_of(&env, false, Ok(&store), now).0.unwrap();
    assert!(report.health.healthy);
    assert!(!report.proofs.as_ref().unwrap().ok);
    assert!(!report.healthy());
}

#[test]
fn status_without_kubernetes_notes_the_proofs_unless_they_are_required() {
    let env = fresh();
    let now = jiff::Timestamp::now();
    let (noted, said) = status_of(&env, false, unreachable(), now);
    let noted = noted.unwrap();
    let (required, _) = status_of(&env, true, unreachable(), now);
    assert!(noted.proofs.is_none());
    assert!(noted.healthy());
    assert!(
        said.iter().any(|s| matches!(s, Said::Note(n) if n.starts_with("note: restore-test proofs not checked: failed to keep the restore-test proofs in Kubernetes: failed to read the ConfigMaps: cannot reach the API server"))),
        "{said:?}"
    );
    assert!(
        matches!(required, Err(StatusError::Proofs(ref e)) if e.is_unavailable()),
        "{:?}",
        required.err()
    );
}

fn november(proof_files: Vec<std::path::PathBuf>) -> CoverageOptions {
    CoverageOptions {
        repository: REPO.into(),
        groups: vec![Group {
            label: "all".into(),
            patterns: None,
        }],
        since: None,
        days: None,
        until: jiff::civil::date(2019, 11, 10),
        proof_files,
    }
}

#[test]
fn coverage_marks_the_days_the_kept_proofs_restored_and_starts_at_the_oldest_day() {
    let env = Env::start(VERSIONS[2].0, VERSIONS[2].1, nights);
    let store = Kept::of(&[tested(
        "nightly-2019.11.03",
        "ks-logstash-log-2019.11.03",
        1_700_000_000_000,
        true,
    )]);
    let calendar = run(async {
        let es = client(&env).await;
        coverage(&es, &november(vec![]), async { Ok(&store) }, &mut |_| {})
            .await
            .unwrap()
    });
    assert_eq!(
        calendar.from, "2019.11.01",
        "the oldest day any snapshot holds"
    );
    assert_eq!(calendar.to, "2019.11.10");
    let days = &calendar.groups[0].days;
    let day = |d: &str| days.iter().find(|x| x.day == d).unwrap();
    assert!(day("2019.11.03").restore_tested);
    assert_eq!(day("2019.11.03").state, DayState::Restorable);
    assert!(!day("2019.11.02").restore_tested);
    assert_eq!(day("2019.11.04").state, DayState::PartialOnly);
    assert_eq!(day("2019.11.08").state, DayState::Gap);
    // Names, states and indices only: no snapshot's metadata read on the server.
    assert_eq!(env.double.state().metadata_reads, 0);
    env.assert_spec_clean();
}

#[test]
fn coverage_notes_an_unreachable_store_and_refuses_a_proof_file_that_is_no_report() {
    let env = Env::start(VERSIONS[1].0, VERSIONS[1].1, nights);
    let dir = tempfile::tempdir().unwrap();
    let failed = dir.path().join("failed.json");
    std::fs::write(
        &failed,
        r#"{"passed": false, "snapshot": "nightly-2019.11.02"}"#,
    )
    .unwrap();
    let junk = dir.path().join("junk.json");
    std::fs::write(&junk, "not json").unwrap();
    let mut said = Vec::new();
    let (calendar, refused) = run(async {
        let es = client(&env).await;
        let calendar = coverage(
            &es,
            &november(vec![failed.clone()]),
            async { unreachable() },
            &mut |s| said.push(s),
        )
        .await
        .unwrap();
        let refused = coverage(
            &es,
            &november(vec![junk.clone()]),
            async { unreachable() },
            &mut |_| {},
        )
        .await;
        (calendar, refused)
    });
    assert!(calendar.groups[0].days.iter().all(|d| !d.restore_tested));
    assert!(said.contains(&Said::Note(format!(
        "note: {} is not a passed restore test; its days are not marked",
        failed.display()
    ))));
    assert!(said.iter().any(
        |s| matches!(s, Said::Note(n) if n.starts_with("note: kept restore-test proofs not read:"))
    ));
    match refused {
        Err(e @ CoverageError::ProofNotAReport { .. }) => assert_eq!(
            e.to_string(),
            format!(
                "{} is not the JSON of `snapshot verify --restore-test -o json`",
                junk.display()
            )
        ),
        other => panic!("{:?}", other.map(|c| c.from)),
    }
}
