//! `kubectl logbackup coverage`: a calendar of the days of logs that can be restored, per index
//! pattern or preset, from the same planning `restore --date` uses. Gathered by
//! `logbackup::workflows::coverage`; here are the flags and the calendar's colours.

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, ValueEnum};
use jiff::civil::Date;
use jiff::tz::TimeZone;
use logbackup::snapshot::coverage::Group;
use logbackup::snapshot::preset_indices;
use logbackup::workflows::coverage::{coverage, CoverageOptions};

use super::connect::{connect, EsArgs};
use super::proof_store::ProofHistoryArgs;
use super::snapshot::say;
use super::{emit, now, Global, OutputArgs};

#[derive(Debug, Args)]
#[command(after_help = "\
Each cell is one day: # restorable (in a SUCCESS snapshot), + restorable and restore-tested,
p only in PARTIAL snapshots, - a gap. A day is restorable exactly when `restore --date DAY` finds a
snapshot for it. Days are read from index names (YYYY.MM.DD, as daily log indices are named).

Examples:
  kubectl logbackup coverage -r ks-log-snapshots --preset kubesphere \\
      --preset audit
  kubectl logbackup coverage -r ks-log-snapshots --days 90 -o json

Manual: https://github.com/logbackup/kubectl-logbackup/blob/main/docs/verify.md")]
pub struct CoverageArgs {
    /// Index patterns of a known logging stack, one calendar each: kubesphere, fluentd, audit
    #[arg(long, value_name = "PRESET", value_parser = ["kubesphere", "fluentd", "audit"])]
    pub preset: Vec<String>,
    /// Index patterns for one more calendar (default, without presets: every index)
    #[arg(long, value_name = "PATTERN", value_delimiter = ',')]
    pub indices: Vec<String>,
    /// Show the last N days (default: from the oldest day any snapshot holds)
    #[arg(long, value_name = "N", conflicts_with = "since")]
    pub days: Option<u32>,
    /// First day to show, e.g. 2019.11.01
    #[arg(long, value_name = "DATE", value_parser = parse_day)]
    pub since: Option<Date>,
    /// Last day to show (default: today, UTC)
    #[arg(long, value_name = "DATE", value_parser = parse_day)]
    pub until: Option<Date>,
    /// A `snapshot verify --restore-test -o json` report; its indices' days show as restore-tested
    /// when it passed (repeatable)
    #[arg(long = "proof", value_name = "FILE")]
    pub proofs: Vec<std::path::PathBuf>,
    #[command(flatten)]
    pub history: ProofHistoryArgs,
    /// Colours in the table: auto (when stdout is a terminal and NO_COLOR is unset), always, never
    #[arg(long, value_enum, default_value_t = Color::Auto)]
    pub color: Color,
    #[command(flatten)]
    pub es: EsArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Color {
    Auto,
    Always,
    Never,
}

fn parse_day(s: &str) -> Result<Date, String> {
    Date::strptime("%Y.%m.%d", s).map_err(|_| format!("{s:?} is not a day like 2019.11.12"))
}

impl CoverageArgs {
    fn groups(&self) -> Vec<Group> {
        let mut groups: Vec<Group> = self
            .preset
            .iter()
            .map(|p| Group {
                label: p.clone(),
                patterns: preset_indices(p).map(|ps| ps.iter().map(|s| s.to_string()).collect()),
            })
            .collect();
        if !self.indices.is_empty() {
            groups.push(Group {
                label: self.indices.join(","),
                patterns: Some(self.indices.clone()),
            });
        }
        if groups.is_empty() {
            groups.push(Group {
                label: "all".into(),
                patterns: None,
            });
        }
        groups
    }
}

pub async fn run(args: &CoverageArgs, global: &Global) -> Result<ExitCode> {
    let es = connect(&args.es, global).await?;
    let options = CoverageOptions {
        repository: args.es.repository.clone(),
        groups: args.groups(),
        since: args.since,
        days: args.days,
        until: args
            .until
            .unwrap_or_else(|| now().to_zoned(TimeZone::UTC).date()),
        proof_files: args.proofs.clone(),
    };
    let result = coverage(
        &es,
        &options,
        args.history.open(&args.es, global),
        &mut say(None),
    )
    .await?;
    let color = match args.color {
        Color::Always => true,
        Color::Never => false,
        Color::Auto => std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
    };
    emit(&result, args.output.format(), |c| {
        logbackup::snapshot::coverage::render(c, color)
    })?;
    Ok(ExitCode::SUCCESS)
}
