//! `kubectl logbackup snapshot verify [SNAPSHOT] [--restore-test]`: the repository and the snapshot's
//! own record; with `--restore-test`, restore under a temporary prefix, check what came back, delete
//! the copies (also on failure and Ctrl-C).

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use clap::Args;
use logbackup::es::types::{RestoreRequest, SnapshotInfo};
use logbackup::es::EsClient;
use logbackup::render;
use logbackup::snapshot::human_bytes;
use logbackup::snapshot::proof::ProofRecord;
use logbackup::snapshot::restore::{self, ExistingIndex, IndexFilter, RestoreError};
use logbackup::snapshot::verify::{self, Expected, Observed, RestoreTestReport, SnapshotCheck};
use logbackup::workflows::proofs::{self, ProofStore};
use serde_json::json;

use super::connect::{connect, EsArgs};
use super::proof_store::ProofHistoryArgs;
use super::{emit, now, progress_bar, Global, OutputArgs, Refused};

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  kubectl logbackup snapshot verify -r ks-log-snapshots                      # newest SUCCESS snapshot: state, shards, indices
  kubectl logbackup snapshot verify -r ks-log-snapshots --restore-test --date 2019.11.12
  kubectl logbackup snapshot verify snapshot-20191113010000 -r ks-log-snapshots --restore-test -o json

Exit codes: 0 everything matched; 1 a check failed (or its proof could not be recorded); 3 refused
before restoring (disk, names); 130 interrupted (Ctrl-C; the temporary copies are deleted first).

The result is recorded as a proof (unless --dry-run or --no-record) in the ConfigMap
logbackup-proofs-REPO of the Elasticsearch namespace, or in --proof-history FILE; `status` and
`coverage` read it from there.")]
pub struct VerifyArgs {
    /// Snapshot to verify (default: the newest SUCCESS snapshot holding the selected indices)
    pub snapshot: Option<String>,
    /// Restore the indices under a temporary prefix and check shards, document counts and a search
    #[arg(long)]
    pub restore_test: bool,
    /// Index patterns to test (default: every non-system index of the snapshot)
    #[arg(long, value_name = "PATTERN", value_delimiter = ',')]
    pub indices: Vec<String>,
    /// Test the indices of one day, e.g. 2019.11.12
    #[arg(long, value_name = "DATE")]
    pub date: Option<String>,
    /// Disk high watermark in percent: the restored copies must fit below it
    #[arg(long, default_value_t = 90.0, value_name = "PERCENT")]
    pub watermark: f64,
    /// Give up waiting for the restore after this many seconds (the copies are deleted)
    #[arg(long, default_value_t = 3600, value_name = "SECONDS")]
    pub wait_timeout: u64,
    /// Show the restore test's plan, change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Do not record the restore test's result as a proof (for `status` and `coverage`)
    #[arg(long)]
    pub no_record: bool,
    #[command(flatten)]
    pub proofs: ProofHistoryArgs,
    #[command(flatten)]
    pub es: EsArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

impl VerifyArgs {
    fn filter(&self) -> IndexFilter {
        match (&self.date, self.indices.is_empty()) {
            (Some(d), true) => IndexFilter::Date(d.clone()),
            (Some(d), false) => IndexFilter::PatternsOnDate {
                patterns: self.indices.clone(),
                date: d.clone(),
            },
            (None, false) => IndexFilter::Patterns(self.indices.clone()),
            (None, true) => IndexFilter::All,
        }
    }
}

fn refuse(e: RestoreError) -> anyhow::Error {
    Refused(format!("refusing to run the restore test: {e}")).into()
}

pub async fn run(args: &VerifyArgs, global: &Global) -> Result<ExitCode> {
    let repo = &args.es.repository;
    let filter = args.filter();
    let es = connect(&args.es, global).await?;
    let repository_problem = es
        .verify_repository(repo)
        .await
        .err()
        .map(|e| e.to_string());
    let info = pick(&es, repo, args.snapshot.as_deref(), &filter)
        .await?
        .map_err(refuse)?;
    let summary = info.summary();
    let counts = verify::recorded_counts(info.metadata.as_ref());
    let check = verify::check_snapshot(repo, repository_problem, &summary, counts.as_ref());
    if !args.restore_test {
        emit(&check, args.output.format(), check_table)?;
        for p in &check.problems {
            eprintln!("problem: {p}");
        }
        return Ok(exit(check.passed));
    }
    if !check.passed && check.state != logbackup::snapshot::SnapshotState::Partial {
        for p in &check.problems {
            eprintln!("problem: {p}");
        }
        return Err(Refused(format!(
            "refusing to run the restore test of snapshot {} ({}): {}",
            check.snapshot,
            check.state,
            check.problems.join("; ")
        ))
        .into());
    }
    let existing: Vec<ExistingIndex> = es
        .indices()
        .await?
        .iter()
        .map(|i| ExistingIndex {
            name: i.index.clone(),
            open: i.open(),
        })
        .collect();
    let leftovers: Vec<&str> = existing
        .iter()
        .map(|e| e.name.as_str())
        .filter(|n| verify::is_temporary(n))
        .collect();
    if !leftovers.is_empty() {
        eprintln!(
            "warning: copies from an interrupted restore test are still there: {} (delete them with DELETE /<name>)",
            leftovers.join(", ")
        );
    }
    let prefix = verify::run_prefix(now().as_millisecond());
    let plan = verify::plan_restore_test(&summary, &filter, &prefix, &existing).map_err(refuse)?;
    let status = es.snapshot_status(repo, &plan.snapshot).await?;
    let sizes: BTreeMap<String, u64> = plan
        .indices
        .iter()
        .map(|i| {
            (
                i.clone(),
                status.indices.get(i).map_or(0, |s| s.size_bytes()),
            )
        })
        .collect();
    let disks = es.data_node_disks().await?;
    // The copies get no replicas, so only the primaries must fit.
    let fit =
        restore::check_disk(sizes.values().sum(), 0, &disks, args.watermark).map_err(refuse)?;
    let live: Vec<String> = plan
        .indices
        .iter()
        .filter(|i| counts.as_ref().is_none_or(|c| !c.contains_key(*i)))
        .filter(|i| existing.iter().any(|e| &e.name == *i && e.open))
        .cloned()
        .collect();
    let live_counts = if live.is_empty() {
        BTreeMap::new()
    } else {
        es.doc_counts(&live).await.unwrap_or_default()
    };
    let expected: BTreeMap<String, Expected> = plan
        .indices
        .iter()
        .map(|i| {
            let recorded = counts.as_ref().and_then(|c| c.get(i).copied());
            (
                i.clone(),
                Expected::choose(recorded, live_counts.get(i).copied()),
            )
        })
        .collect();
    eprintln!(
        "{}restore-test {} from {repo}:{} as {} ({} of primaries, {} usable below the {}% watermark, no replicas)",
        if args.dry_run { "dry run: would " } else { "" },
        plan.indices.join(", "),
        plan.snapshot,
        plan.targets.join(", "),
        human_bytes(fit.required),
        human_bytes(fit.usable),
        args.watermark
    );
    if args.dry_run {
        let shown = json!({"plan": plan, "expected": expected, "dry_run": true});
        emit(&shown, args.output.format(), |_| {
            let rows: Vec<Vec<String>> = plan
                .indices
                .iter()
                .zip(&plan.targets)
                .map(|(i, t)| vec![i.clone(), t.clone(), expected_text(&expected[i])])
                .collect();
            render::table(&["index", "restored as", "expected"], &rows)
        })?;
        return Ok(ExitCode::SUCCESS);
    }

    let started = Instant::now();
    let test = restore_and_check(&es, args, &plan, &sizes, &expected, started);
    let outcome = tokio::select! {
        r = test => Some(r),
        _ = tokio::signal::ctrl_c() => None,
    };
    // Whatever happened, the temporary copies go.
    cleanup(&es, &plan.targets).await;
    let Some(outcome) = outcome else {
        eprintln!(
            "interrupted: the restore test of {repo}:{} was stopped before it finished; nothing was proven or recorded",
            plan.snapshot
        );
        return Ok(ExitCode::from(EXIT_INTERRUPTED));
    };
    let observed = outcome?;
    let report = verify::report(
        repo,
        &plan.snapshot,
        observed,
        started.elapsed().as_millis() as u64,
        now().as_millisecond(),
    );
    emit(&report, args.output.format(), report_table)?;
    eprintln!("{}", report.verdict);
    let recorded = if args.no_record {
        true
    } else {
        record_proof(args, global, &report).await
    };
    Ok(exit(report.passed && recorded))
}

/// Records the result (passed or not) where `status` and `coverage` read proofs. False when it
/// could not be kept although Kubernetes (or the file) was there: a scheduled test must not pass
/// while its proof is lost. No Kubernetes at all (a workstation with --es-url) is a note.
async fn record_proof(args: &VerifyArgs, global: &Global, report: &RestoreTestReport) -> bool {
    let record = ProofRecord::from_report(report);
    let result = match args.proofs.open(&args.es, global).await {
        Ok(store) => proofs::record(&store, &record)
            .await
            .map(|kept| (store.describe(), kept)),
        Err(e) => Err(e),
    };
    match result {
        Ok((store, kept)) => {
            eprintln!("recorded the result in {store} ({kept} tests kept)");
            true
        }
        Err(e) if e.is_unavailable() => {
            eprintln!("note: the result was not recorded as a proof: {e}; pass --proof-history FILE to keep it in a file");
            true
        }
        Err(e) => {
            eprintln!("error: the result was not recorded as a proof: {e}; `status` will not see this test (pass --no-record to skip recording)");
            false
        }
    }
}

/// 128 + SIGINT, as shells report a command stopped by Ctrl-C.
const EXIT_INTERRUPTED: u8 = 130;

fn exit(passed: bool) -> ExitCode {
    if passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// `logbackup::workflows::restore::pick`, its refusal kept apart for the caller.
pub(super) async fn pick(
    es: &EsClient,
    repo: &str,
    named: Option<&str>,
    filter: &IndexFilter,
) -> Result<std::result::Result<SnapshotInfo, RestoreError>> {
    match logbackup::workflows::restore::pick(es, repo, named, filter).await {
        Ok(info) => Ok(Ok(info)),
        Err(logbackup::workflows::restore::RestoreFailure::Refused(e)) => Ok(Err(e)),
        Err(e) => Err(e.into()),
    }
}

async fn restore_and_check(
    es: &EsClient,
    args: &VerifyArgs,
    plan: &restore::RestorePlan,
    sizes: &BTreeMap<String, u64>,
    expected: &BTreeMap<String, Expected>,
    started: Instant,
) -> Result<Vec<Observed>> {
    let repo = &args.es.repository;
    let body = RestoreRequest {
        indices: plan.indices.join(","),
        include_global_state: false,
        include_aliases: false,
        rename_pattern: Some("(.+)".to_string()),
        rename_replacement: plan.rename_prefix.as_ref().map(|p| format!("{p}$1")),
        index_settings: Some(json!({"index.number_of_replicas": 0})),
    };
    es.restore(repo, &plan.snapshot, &body).await?;
    let timeout = Duration::from_secs(args.wait_timeout);
    let bar = progress_bar("bytes");
    // Per restored index: primaries started, primaries, when it was first seen done.
    let mut done: BTreeMap<String, (u64, u64, u64)> = BTreeMap::new();
    loop {
        let recovery = es.recovery(&plan.targets).await?;
        let (mut got, mut total) = (0u64, 0u64);
        for (index, r) in &recovery {
            let primaries: Vec<_> = r.shards.iter().filter(|s| s.primary).collect();
            let started_n = primaries.iter().filter(|s| s.stage == "DONE").count() as u64;
            for s in &r.shards {
                let size = s
                    .index
                    .as_ref()
                    .and_then(|i| i.size.clone())
                    .unwrap_or_default();
                got += size.recovered_in_bytes;
                total += size.total_in_bytes;
            }
            if !primaries.is_empty() && started_n == primaries.len() as u64 {
                done.entry(index.clone()).or_insert((
                    started_n,
                    primaries.len() as u64,
                    started.elapsed().as_millis() as u64,
                ));
            }
        }
        bar.set_length(total);
        bar.set_position(got);
        bar.set_message(format!("{} / {}", human_bytes(got), human_bytes(total)));
        if plan.targets.iter().all(|t| done.contains_key(t)) {
            bar.finish_and_clear();
            break;
        }
        if started.elapsed() > timeout {
            bar.abandon();
            bail!(
                "the restore of {} was not done after {}s",
                plan.targets.join(", "),
                timeout.as_secs()
            );
        }
        tokio::time::sleep(args.es.poll_interval()).await;
    }
    let mut observed = Vec::new();
    for (index, target) in plan.indices.iter().zip(&plan.targets) {
        let (primaries_started, primaries, took_ms) =
            done.get(target).copied().unwrap_or((0, 0, 0));
        let found = es.count(target).await.ok();
        let sample_hit = es.sample(target).await.unwrap_or(false);
        observed.push(Observed {
            index: index.clone(),
            restored_as: target.clone(),
            expected: expected
                .get(index)
                .cloned()
                .unwrap_or(Expected::NotRecorded),
            primaries_started,
            primaries,
            found,
            sample_hit,
            bytes: sizes.get(index).copied().unwrap_or(0),
            took_ms,
        });
    }
    Ok(observed)
}

/// Deletes the temporary copies that exist; says which could not be deleted and how to do it.
async fn cleanup(es: &EsClient, targets: &[String]) {
    let present: Vec<String> = match es.indices().await {
        Ok(all) => all
            .into_iter()
            .map(|i| i.index)
            .filter(|i| targets.contains(i))
            .collect(),
        Err(_) => targets.to_vec(),
    };
    for t in present {
        match es.delete_index(&t).await {
            Ok(()) => eprintln!("deleted temporary index {t}"),
            Err(e) => eprintln!(
                "warning: temporary index {t} is left behind ({e}); delete it with: curl -X DELETE <es-url>/{t}"
            ),
        }
    }
}

fn expected_text(e: &Expected) -> String {
    match e {
        Expected::Recorded(n) => format!("{n} (recorded)"),
        Expected::Live(n) => format!("{n} (live index)"),
        Expected::NotRecorded => "count not recorded".into(),
    }
}

fn check_table(c: &SnapshotCheck) -> String {
    let rows = vec![vec![
        c.repository.clone(),
        if c.repository_verified { "yes" } else { "NO" }.into(),
        c.snapshot.clone(),
        c.state.to_string(),
        format!("{}/{}", c.shards_total - c.shards_failed, c.shards_total),
        c.indices.len().to_string(),
        if c.counts_recorded { "yes" } else { "no" }.into(),
        if c.passed { "OK" } else { "FAILED" }.into(),
    ]];
    render::table(
        &[
            "repository",
            "verified",
            "snapshot",
            "state",
            "shards",
            "indices",
            "counts",
            "verdict",
        ],
        &rows,
    )
}

fn report_table(r: &RestoreTestReport) -> String {
    let rows: Vec<Vec<String>> = r
        .indices
        .iter()
        .map(|i| {
            let o = &i.observed;
            vec![
                o.index.clone(),
                expected_text(&o.expected),
                o.found.map_or("-".into(), |n| n.to_string()),
                format!("{}/{}", o.primaries_started, o.primaries),
                if o.sample_hit { "yes" } else { "no" }.into(),
                format!("{:.1}s", o.took_ms as f64 / 1000.0),
                i.verdict.describe().into(),
            ]
        })
        .collect();
    let mut out = render::table(
        &[
            "index",
            "expected",
            "found",
            "primaries",
            "search",
            "time",
            "verdict",
        ],
        &rows,
    );
    out.push_str(&format!(
        "\nsnapshot {}:{}  {} restored in {:.1}s ({}/s)\n{}\n",
        r.repository,
        r.snapshot,
        human_bytes(r.bytes),
        r.took_ms as f64 / 1000.0,
        human_bytes(r.throughput_bytes_per_s),
        r.verdict
    ));
    out
}
