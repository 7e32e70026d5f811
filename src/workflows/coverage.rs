//! `coverage`: the repository's snapshots listed (names, states and indices only: no metadata read
//! per snapshot), the restore-test proofs gathered (report files and the kept history), and the
//! calendar drawn by the core (`snapshot::coverage`), from the same planning `restore --date` uses.

use std::future::Future;
use std::path::PathBuf;

use jiff::civil::Date;

use super::proofs::{self, ProofStore, ProofStoreError};
use super::Said;
use crate::es::listing::Detail;
use crate::es::{EsClient, Failed};
use crate::snapshot::coverage::{self, Coverage, Group, Proof};
use crate::snapshot::proof;

/// Which days, of which indices, with which proofs.
#[derive(Debug, Clone)]
pub struct CoverageOptions {
    pub repository: String,
    /// One calendar each.
    pub groups: Vec<Group>,
    /// The first day; without it, `days` before `until`, else the oldest day any snapshot holds.
    pub since: Option<Date>,
    pub days: Option<u32>,
    pub until: Date,
    /// `snapshot verify --restore-test -o json` reports; a passed one marks its indices' days.
    pub proof_files: Vec<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum CoverageError {
    #[error(transparent)]
    Elasticsearch(#[from] Failed),
    #[error("--days reaches before the calendar's first day")]
    DaysOutOfRange(#[source] jiff::Error),
    #[error("cannot read the proof {}", path.display())]
    ProofUnreadable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} is not the JSON of `snapshot verify --restore-test -o json`", path.display())]
    ProofNotAReport {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error(transparent)]
    Proofs(#[from] ProofStoreError),
}

/// The calendar. `history` (the kept proofs' store) is awaited after the listing; when it cannot
/// be opened for want of Kubernetes, that is a note and the calendar is drawn without it.
pub async fn coverage<S: ProofStore>(
    es: &EsClient,
    options: &CoverageOptions,
    history: impl Future<Output = Result<S, ProofStoreError>>,
    say: &mut dyn FnMut(Said),
) -> Result<Coverage, CoverageError> {
    let snapshots = es
        .list_summaries(&options.repository, Detail::Brief)
        .await?;
    let until = options.until;
    let since = match (options.since, options.days) {
        (Some(d), _) => d,
        (None, Some(n)) => until
            .checked_sub(jiff::Span::new().days(i64::from(n.max(1)) - 1))
            .map_err(CoverageError::DaysOutOfRange)?,
        (None, None) => options
            .groups
            .iter()
            .filter_map(|g| coverage::oldest_day(&snapshots, g))
            .min()
            .unwrap_or(until),
    };
    let mut proofs = proof_files(&options.proof_files, say)?;
    let kept = match history.await {
        Ok(store) => proofs::load(&store).await,
        Err(e) => Err(e),
    };
    match kept {
        Ok(h) => proofs.extend(proof::proofs(&h)),
        Err(e) if e.is_unavailable() => say(Said::Note(format!(
            "note: kept restore-test proofs not read: {e}; pass --proof-history FILE or --proof FILE"
        ))),
        Err(e) => return Err(e.into()),
    }
    Ok(coverage::coverage(
        &snapshots,
        &options.groups,
        &proofs,
        since,
        until,
    ))
}

/// The passed restore tests among `paths`; a report that did not pass is a note.
fn proof_files(paths: &[PathBuf], say: &mut dyn FnMut(Said)) -> Result<Vec<Proof>, CoverageError> {
    let mut proofs = Vec::new();
    for path in paths {
        let text = std::fs::read(path).map_err(|source| CoverageError::ProofUnreadable {
            path: path.clone(),
            source,
        })?;
        let report: serde_json::Value =
            serde_json::from_slice(&text).map_err(|source| CoverageError::ProofNotAReport {
                path: path.clone(),
                source,
            })?;
        match Proof::from_report(&report) {
            Some(p) => proofs.push(p),
            None => say(Said::Note(format!(
                "note: {} is not a passed restore test; its days are not marked",
                path.display()
            ))),
        }
    }
    Ok(proofs)
}
