//! `snapshot verify` end to end: the check, then (with a restore test) the test, and a finished
//! test's proof kept where `status` and `coverage` read proofs.

use std::collections::BTreeMap;
use std::future::Future;

use logbackup_core::snapshot::proof::ProofRecord;
use logbackup_core::snapshot::restore::RestorePlan;
use logbackup_core::snapshot::verify::{Expected, RestoreTestReport, SnapshotCheck};

use super::proofs::{self, ProofStore, ProofStoreError};
use super::verify::{check, restore_test, Outcome, RestoreTestOptions, VerifyFailure};
use super::Said;
use crate::es::EsClient;

/// What `verify` found.
#[derive(Debug)]
pub enum Verified {
    /// Without a restore test: the check alone.
    Checked(SnapshotCheck),
    DryRun {
        plan: RestorePlan,
        expected: BTreeMap<String, Expected>,
    },
    /// Stopped by `interrupt`; the copies were deleted, nothing was proven or recorded.
    Interrupted { snapshot: String },
    Tested {
        report: RestoreTestReport,
        recorded: Recorded,
    },
}

/// Where a finished restore test's result (passed or not) went.
#[derive(Debug)]
pub enum Recorded {
    /// Not asked to record it.
    Skipped,
    Kept {
        store: String,
        tests: usize,
    },
    /// No Kubernetes to keep it in (a workstation with --es-url): worth a note, not a failure.
    Unavailable(ProofStoreError),
    /// It could not be kept although the store was there: a scheduled test must not pass while
    /// its proof is lost.
    Lost(ProofStoreError),
}

impl Recorded {
    pub fn is_lost(&self) -> bool {
        matches!(self, Self::Lost(_))
    }
}

/// Checks `snapshot` (else the newest SUCCESS one holding `options.filter`'s indices); with
/// `restore_test`, tests it and records the result in `store` (`None`: not recorded; an `Err`:
/// the store could not be opened, judged like a failed write). Each problem the check found is
/// said as `problem: ...` before any restore starts.
#[allow(clippy::too_many_arguments)] // Each is one of the command's independent inputs.
pub async fn verify(
    es: &EsClient,
    snapshot: Option<&str>,
    options: &RestoreTestOptions,
    restore: bool,
    store: Option<Result<impl ProofStore, ProofStoreError>>,
    now_ms: impl Fn() -> i64,
    interrupt: impl Future<Output = ()>,
    say: &mut dyn FnMut(Said),
) -> Result<Verified, VerifyFailure> {
    let checked = check(es, &options.repository, snapshot, &options.filter).await?;
    for p in &checked.check.problems {
        say(Said::Note(format!("problem: {p}")));
    }
    if !restore {
        return Ok(Verified::Checked(checked.check));
    }
    let report = match restore_test(es, &checked, options, now_ms, interrupt, say).await? {
        Outcome::DryRun { plan, expected } => return Ok(Verified::DryRun { plan, expected }),
        Outcome::Interrupted { snapshot } => return Ok(Verified::Interrupted { snapshot }),
        Outcome::Tested(report) => report,
    };
    let recorded = match store {
        None => Recorded::Skipped,
        Some(opened) => {
            let record = ProofRecord::from_report(&report);
            let kept = match opened {
                Ok(store) => proofs::record(&store, &record)
                    .await
                    .map(|tests| (store.describe(), tests)),
                Err(e) => Err(e),
            };
            match kept {
                Ok((store, tests)) => Recorded::Kept { store, tests },
                Err(e) if e.is_unavailable() => Recorded::Unavailable(e),
                Err(e) => Recorded::Lost(e),
            }
        }
    };
    Ok(Verified::Tested { report, recorded })
}
