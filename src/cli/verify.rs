//! `kubectl logbackup snapshot verify [SNAPSHOT] [--restore-test]`: the repository and the snapshot's
//! own record; with `--restore-test`, restore under a temporary prefix, check what came back, delete
//! the copies (also on failure and Ctrl-C).

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use clap::Args;
use logbackup::render;
use logbackup::snapshot::human_bytes;
use logbackup::snapshot::restore::IndexFilter;
use logbackup::snapshot::verify::{Expected, RestoreTestReport, SnapshotCheck};
use logbackup::workflows::verify::{RestoreTestOptions, VerifyFailure};
use logbackup::workflows::verify_and_record::{self as workflow, Recorded, Verified};
use serde_json::json;

use super::connect::{connect, EsArgs};
use super::proof_store::ProofHistoryArgs;
use super::{emit, now, progress_bar, Global, OutputArgs, Refused};

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  # The newest SUCCESS snapshot: state, shards, indices; then a restore test of one day:
  kubectl logbackup snapshot verify -r ks-log-snapshots
  kubectl logbackup snapshot verify -r ks-log-snapshots --restore-test \\
      --date 2019.11.12
  kubectl logbackup snapshot verify snapshot-20191113010000 \\
      -r ks-log-snapshots --restore-test -o json

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

pub async fn run(args: &VerifyArgs, global: &Global) -> Result<ExitCode> {
    let repo = &args.es.repository;
    let options = RestoreTestOptions {
        repository: repo.clone(),
        filter: args.filter(),
        watermark: args.watermark,
        wait_timeout: Duration::from_secs(args.wait_timeout),
        poll_interval: args.es.poll_interval(),
        retry: args.es.retry(),
        dry_run: args.dry_run,
    };
    let es = connect(&args.es, global).await?;
    // Where a finished test's proof goes: opened only when there will be one to keep.
    let store = if args.restore_test && !args.dry_run && !args.no_record {
        Some(args.proofs.open(&args.es, global).await)
    } else {
        None
    };
    let bar = progress_bar("bytes");
    let interrupt = async {
        // No handler (a failure to install one) must not read as Ctrl-C: wait forever then.
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    let verified = workflow::verify(
        &es,
        args.snapshot.as_deref(),
        &options,
        args.restore_test,
        store,
        || now().as_millisecond(),
        interrupt,
        &mut super::restore::say(&bar),
    )
    .await;
    bar.finish_and_clear();
    let (report, recorded) = match verified.map_err(refusal)? {
        Verified::Checked(check) => {
            emit(&check, args.output.format(), check_table)?;
            return Ok(exit(check.passed));
        }
        Verified::DryRun { plan, expected } => {
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
        Verified::Interrupted { snapshot } => {
            eprintln!(
                "interrupted: the restore test of {repo}:{snapshot} was stopped before it finished; nothing was proven or recorded"
            );
            return Ok(ExitCode::from(EXIT_INTERRUPTED));
        }
        Verified::Tested { report, recorded } => (report, recorded),
    };
    emit(&report, args.output.format(), report_table)?;
    eprintln!("{}", report.verdict);
    match &recorded {
        Recorded::Skipped => {}
        Recorded::Kept { store, tests } => {
            eprintln!("recorded the result in {store} ({tests} tests kept)");
        }
        Recorded::Unavailable(e) => eprintln!("note: the result was not recorded as a proof: {e}; pass --proof-history FILE to keep it in a file"),
        Recorded::Lost(e) => eprintln!("error: the result was not recorded as a proof: {e}; `status` will not see this test (pass --no-record to skip recording)"),
    }
    Ok(exit(report.passed && !recorded.is_lost()))
}

/// A refusal exits 3 (nothing was changed); anything else is an error.
fn refusal(e: VerifyFailure) -> anyhow::Error {
    match e {
        VerifyFailure::Refused(_) => Refused(e.to_string()).into(),
        other => other.into(),
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
