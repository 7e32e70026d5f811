//! `kubectl logbackup snapshot create|list|describe|delete`.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use clap::{Args, Subcommand};
use indicatif::ProgressBar;
use logbackup::es::listing::ListRow;
use logbackup::es::types::{CreateSnapshot, SnapshotInfo};
use logbackup::es::EsClient;
use logbackup::render;
use logbackup::snapshot::{human_bytes, naming, preset_indices, verify, SnapshotState};
use logbackup::workflows::snapshot::{self as workflow, SnapshotError, SnapshotOptions};
use logbackup::workflows::snapshot_admin as admin;
use logbackup::workflows::Said;
use serde_json::json;

use super::connect::{connect, EsArgs};
use super::{emit, now, progress_bar, show_bytes, Global, OutputArgs, Refused};

#[derive(Debug, Args)]
#[command(after_help = "\
Examples (KubeSphere):
  kubectl logbackup snapshot create -n kubesphere-logging-system \\
      -r ks-log-snapshots --preset kubesphere --wait
  kubectl logbackup snapshot list -n kubesphere-logging-system \\
      -r ks-log-snapshots
  kubectl logbackup snapshot verify -n kubesphere-logging-system \\
      -r ks-log-snapshots --restore-test

Manual: https://github.com/logbackup/kubectl-logbackup/blob/main/docs/snapshots.md (restore tests: https://github.com/logbackup/kubectl-logbackup/blob/main/docs/verify.md)")]
pub struct SnapshotArgs {
    #[command(subcommand)]
    pub command: SnapshotCommand,
}

#[derive(Debug, Subcommand)]
pub enum SnapshotCommand {
    /// Start a snapshot; with --wait, follow it to the end (PARTIAL and FAILED exit 1)
    #[command(
        after_help = "Examples:\n  kubectl logbackup snapshot create -r ks-log-snapshots --preset kubesphere \\\n      --wait\n  kubectl logbackup snapshot create --name 'logs-%Y.%m.%d' \\\n      --indices 'logstash-*' --wait"
    )]
    Create(CreateArgs),
    /// List snapshots in the repository, oldest first
    List(ListArgs),
    /// Show one snapshot: state, indices with their sizes, failures
    Describe(DescribeArgs),
    /// Delete snapshots by name
    Delete(DeleteArgs),
    /// Check a snapshot can come back: state and shards; with --restore-test, restore and compare counts
    Verify(super::verify::VerifyArgs),
}

/// What a snapshot holds and how it is named; shared by `snapshot create`, `backup` and `schedule create`.
#[derive(Debug, Args, Clone)]
pub struct WhatArgs {
    /// Snapshot name, strftime pattern in UTC
    #[arg(long, default_value = naming::DEFAULT_PATTERN, value_name = "PATTERN")]
    pub name: String,
    /// Index patterns to include (comma-separated or repeated; `-pattern` excludes)
    #[arg(long, value_name = "PATTERN", value_delimiter = ',')]
    pub indices: Vec<String>,
    /// Index patterns of a known logging stack: kubesphere (ks-logstash-log-*), fluentd (logstash-*), audit
    #[arg(long, value_name = "PRESET", value_parser = ["kubesphere", "fluentd", "audit"])]
    pub preset: Vec<String>,
}

impl WhatArgs {
    pub fn index_patterns(&self) -> Vec<String> {
        let mut patterns: Vec<String> = self.indices.clone();
        for preset in &self.preset {
            patterns.extend(
                preset_indices(preset)
                    .unwrap_or_default()
                    .iter()
                    .map(|p| p.to_string()),
            );
        }
        if patterns.is_empty() {
            // Everything but system indices (.kibana, .security...), which restores rarely want back.
            patterns = vec!["*".into(), "-.*".into()];
        }
        patterns
    }

    /// The request body every snapshot we start carries.
    pub fn body(&self) -> CreateSnapshot {
        CreateSnapshot {
            indices: self.index_patterns().join(","),
            ignore_unavailable: true,
            include_global_state: false,
            // A shard that fails makes the snapshot PARTIAL (reported as a failure) instead of aborting it.
            partial: true,
            metadata: Some(verify::snapshot_metadata(None, 0)),
        }
    }
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    #[command(flatten)]
    pub what: WhatArgs,
    /// Follow the snapshot until it ends, with progress on stderr
    #[arg(long)]
    pub wait: bool,
    /// Give up waiting after this many seconds (the snapshot goes on in the cluster)
    #[arg(long, default_value_t = 6 * 3600, value_name = "SECONDS")]
    pub wait_timeout: u64,
    /// Show what would be snapshotted, change nothing
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub es: EsArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub es: EsArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct DescribeArgs {
    pub name: String,
    #[command(flatten)]
    pub es: EsArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct DeleteArgs {
    #[arg(required = true)]
    pub names: Vec<String>,
    /// Show what would be deleted, change nothing
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub es: EsArgs,
}

pub async fn run(args: &SnapshotArgs, global: &Global) -> Result<ExitCode> {
    match &args.command {
        SnapshotCommand::Create(a) => create(a, global).await,
        SnapshotCommand::List(a) => list(a, global).await,
        SnapshotCommand::Describe(a) => describe(a, global).await,
        SnapshotCommand::Delete(a) => delete(a, global).await,
        SnapshotCommand::Verify(a) => super::verify::run(a, global).await,
    }
}

async fn create(args: &CreateArgs, global: &Global) -> Result<ExitCode> {
    let name = naming::render_name(&args.what.name, now())?;
    let repo = &args.es.repository;
    let body = args.what.body();
    let es = connect(&args.es, global).await?;
    if args.dry_run {
        es.repositories(Some(repo)).await?;
        eprintln!(
            "dry run: would snapshot indices {} into {repo}:{name}",
            body.indices
        );
        emit(
            &json!({"repository": repo, "snapshot": name, "indices": body.indices}),
            args.output.format(),
            |_| {
                render::table(
                    &["repository", "snapshot", "indices"],
                    &[vec![repo.clone(), name.clone(), body.indices.clone()]],
                )
            },
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    if !args.wait {
        let options = snapshot_options(&args.es, Duration::ZERO);
        workflow::start(&es, &options, &name, &body, now(), &mut say(None)).await?;
        println!("{name}");
        return Ok(ExitCode::SUCCESS);
    }
    let info = create_and_wait(
        &es,
        &args.es,
        &name,
        &body,
        Duration::from_secs(args.wait_timeout),
    )
    .await?;
    emit(&info, args.output.format(), |i| {
        snapshot_table(std::slice::from_ref(i))
    })?;
    finish(&info)
}

pub fn snapshot_options(args: &EsArgs, timeout: Duration) -> SnapshotOptions {
    SnapshotOptions {
        repository: args.repository.clone(),
        retry: args.retry(),
        poll_interval: args.poll_interval(),
        timeout,
    }
}

/// Prints what the snapshot workflow says on stderr; its progress moves `bar`.
pub fn say(bar: Option<&ProgressBar>) -> impl FnMut(Said) + '_ {
    move |said| match (said, bar) {
        (Said::Snapshot(p), Some(bar)) => {
            bar.set_length(p.shards_total);
            bar.set_position(p.shards_done);
            show_bytes(bar, p.bytes_done, p.bytes_total);
        }
        (Said::Note(line), Some(bar)) => bar.suspend(|| eprintln!("{line}")),
        (Said::Note(line), None) => eprintln!("{line}"),
        _ => {}
    }
}

/// `logbackup::workflows::snapshot::create_and_wait` with a progress bar, for
/// `snapshot create --wait`.
async fn create_and_wait(
    es: &EsClient,
    args: &EsArgs,
    name: &str,
    body: &CreateSnapshot,
    timeout: Duration,
) -> Result<SnapshotInfo> {
    let bar = progress_bar("shards");
    let options = snapshot_options(args, timeout);
    let result =
        workflow::create_and_wait(es, &options, name, body, now(), &mut say(Some(&bar))).await;
    match &result {
        Ok(_) => bar.finish_and_clear(),
        Err(_) => bar.abandon(),
    }
    Ok(result?)
}

/// Exit 0 for SUCCESS; otherwise says why it is not a complete backup and exits 1.
pub fn finish(info: &SnapshotInfo) -> Result<ExitCode> {
    let state = info.state.clone().unwrap_or(SnapshotState::InProgress);
    if state == SnapshotState::Success {
        eprintln!("snapshot {} succeeded", info.snapshot);
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!(
        "snapshot {} ended {state}: it is NOT a complete backup",
        info.snapshot
    );
    if !info.failures.is_empty() {
        let rows: Vec<Vec<String>> = info
            .failures
            .iter()
            .map(|f| {
                vec![
                    f.index.clone().unwrap_or_default(),
                    f.shard_id.map(|s| s.to_string()).unwrap_or_default(),
                    f.node_id.clone().unwrap_or_default(),
                    f.reason.clone().unwrap_or_default(),
                ]
            })
            .collect();
        eprint!(
            "{}",
            render::table(&["index", "shard", "node", "reason"], &rows)
        );
    }
    Ok(ExitCode::from(1))
}

const LIST_HEADERS: [&str; 7] = [
    "name", "state", "age", "duration", "indices", "shards", "failed",
];

/// One row of the snapshot table, from whichever shape of snapshot the caller holds.
fn snapshot_cells(row: &ListRow, now_ms: i64) -> Vec<String> {
    let shards = row.shards.clone().unwrap_or_default();
    vec![
        row.snapshot.clone(),
        row.state
            .as_ref()
            .map_or("-".to_string(), |st| st.to_string()),
        row.start_time_in_millis
            .map_or("-".into(), |t| render::age(now_ms - t)),
        row.duration_in_millis.map_or("-".into(), render::age),
        row.index_count.to_string(),
        format!("{}/{}", shards.successful, shards.total),
        shards.failed.to_string(),
    ]
}

pub fn snapshot_table(infos: &[SnapshotInfo]) -> String {
    let now_ms = now().as_millisecond();
    let rows: Vec<Vec<String>> = infos
        .iter()
        .map(|s| {
            let row = ListRow {
                snapshot: s.snapshot.clone(),
                state: s.state.clone(),
                start_time_in_millis: s.start_time_in_millis,
                duration_in_millis: s.duration_in_millis,
                index_count: s.indices.len(),
                shards: s.shards.clone(),
            };
            snapshot_cells(&row, now_ms)
        })
        .collect();
    render::table(&LIST_HEADERS, &rows)
}

async fn list(args: &ListArgs, global: &Global) -> Result<ExitCode> {
    let es = connect(&args.es, global).await?;
    let repo = &args.es.repository;
    if args.output.format() == render::Format::Table {
        // Rows of counts, written as they are laid out: a 100,000-snapshot table is not held as
        // index names, cells or text.
        let mut rows = es.list_rows(repo).await?;
        rows.sort_by(|a, b| {
            a.start_time_in_millis
                .cmp(&b.start_time_in_millis)
                .then_with(|| a.snapshot.cmp(&b.snapshot))
        });
        let now_ms = now().as_millisecond();
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        // A closed pipe (`| head`) is not an error worth a message.
        let _ = render::write_table(&mut out, &LIST_HEADERS, || {
            rows.iter().map(|r| snapshot_cells(r, now_ms))
        })
        .and_then(|()| std::io::Write::flush(&mut out));
        return Ok(ExitCode::SUCCESS);
    }
    let mut infos = es
        .list_snapshots(repo, logbackup::es::listing::Detail::Full)
        .await?;
    infos.sort_by(|a, b| {
        a.start_time_in_millis
            .cmp(&b.start_time_in_millis)
            .then_with(|| a.snapshot.cmp(&b.snapshot))
    });
    emit(&infos, args.output.format(), |i| snapshot_table(i))?;
    Ok(ExitCode::SUCCESS)
}

async fn describe(args: &DescribeArgs, global: &Global) -> Result<ExitCode> {
    let es = connect(&args.es, global).await?;
    let described = admin::describe(&es, &args.es.repository, &args.name).await?;
    emit(&described, args.output.format(), |d| {
        let mut out = snapshot_table(std::slice::from_ref(&d.snapshot));
        out.push('\n');
        let rows: Vec<Vec<String>> = d
            .snapshot
            .indices
            .iter()
            .map(|i| {
                vec![
                    i.clone(),
                    human_bytes(d.index_sizes.get(i).copied().unwrap_or(0)),
                ]
            })
            .collect();
        out.push_str(&render::table(&["index", "size"], &rows));
        if !d.snapshot.failures.is_empty() {
            out.push('\n');
            let rows: Vec<Vec<String>> = d
                .snapshot
                .failures
                .iter()
                .map(|f| {
                    vec![
                        f.index.clone().unwrap_or_default(),
                        f.reason.clone().unwrap_or_default(),
                    ]
                })
                .collect();
            out.push_str(&render::table(&["failed index", "reason"], &rows));
        }
        out
    })?;
    Ok(ExitCode::SUCCESS)
}

async fn delete(args: &DeleteArgs, global: &Global) -> Result<ExitCode> {
    let es = connect(&args.es, global).await?;
    let deleted = admin::delete(
        &es,
        &args.es.repository,
        &args.names,
        args.es.retry(),
        args.dry_run,
        &mut say(None),
    )
    .await;
    match deleted {
        Ok(()) => Ok(ExitCode::SUCCESS),
        // A refusal exits 3: nothing was deleted.
        Err(e @ SnapshotError::InProgress { .. }) => Err(Refused(e.to_string()).into()),
        Err(e) => Err(e.into()),
    }
}
