//! Command-line front end: parses flags, calls the library, renders results. `anyhow` stops here.

mod backup;
mod connect;
mod coverage;
mod enable;
mod etcd;
mod files;
mod inject;
mod proof_store;
mod prune;
mod repo;
mod repo_s3;
mod restore;
mod schedule;
mod snapshot;
mod status;
mod sync;
mod sync_to;
mod verify;
mod volume_snapshots;
mod webhook;

use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = logbackup_core::ids::PRODUCT,
    bin_name = "kubectl logbackup",
    version,
    about = "Back up and restore the logs your cluster keeps in Elasticsearch or OpenSearch, with the Snapshot API",
    long_about = None,
    after_help = "\
Examples (KubeSphere):
  kubectl logbackup enable -n kubesphere-logging-system \\
      sts/elasticsearch-logging-data sts/elasticsearch-logging-discovery \\
      --storage-class nfs-client --size 100Gi --repository ks-log-snapshots
  kubectl logbackup schedule create nightly -n kubesphere-logging-system \\
      -r ks-log-snapshots --cron '0 1 * * *' --keep-days 45 \\
      --preset kubesphere
  kubectl logbackup status -n kubesphere-logging-system -r ks-log-snapshots
  kubectl logbackup restore -n kubesphere-logging-system -r ks-log-snapshots \\
      --date 2019.11.12

Manual: https://github.com/logbackup/kubectl-logbackup#readme (one page per command in docs/)",
    propagate_version = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every command takes, spelled as kubectl spells them.
#[derive(Debug, Args, Clone)]
pub struct Global {
    /// Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        env = "KUBECONFIG",
        value_name = "FILE"
    )]
    pub kubeconfig: Option<std::path::PathBuf>,
    /// The kubeconfig context to use
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        value_name = "NAME"
    )]
    pub context: Option<String>,
    /// Namespace of the Elasticsearch cluster (default: the context's namespace)
    #[arg(
        short = 'n',
        long,
        global = true,
        help_heading = "Global options",
        value_name = "NAMESPACE"
    )]
    pub namespace: Option<String>,
    /// Log format on stderr
    #[arg(long, global = true, help_heading = "Global options", value_enum, default_value_t = LogFormat::Plain)]
    pub log_format: LogFormat,
    /// More detail on stderr (-v info, -vv debug, -vvv trace)
    #[arg(short = 'v', long = "verbose", global = true, help_heading = "Global options", action = clap::ArgAction::Count)]
    pub verbose: u8,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    Plain,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Inject the snapshot repository into StatefulSets in manifest files, offline (for GitOps)
    Inject(inject::InjectArgs),
    /// Register, list, verify and remove snapshot repositories
    Repo(repo::RepoArgs),
    /// Create, list, describe and delete snapshots
    Snapshot(snapshot::SnapshotArgs),
    /// Delete old snapshots by age and count, explaining each decision
    Prune(prune::PruneArgs),
    /// Snapshot, wait, then prune: the one command a scheduled CronJob runs
    Backup(backup::BackupArgs),
    /// Scheduled backups: a CronJob running `backup`, or an SLM / Snapshot Management policy
    Schedule(schedule::ScheduleArgs),
    /// Install, remove and check the admission webhook
    Webhook(webhook::WebhookArgs),
    /// Restore indices from a snapshot, after checking for conflicts and disk space
    Restore(restore::RestoreArgs),
    /// Is the backup healthy? Exit 1 when it is not
    Status(status::StatusArgs),
    /// Which days of logs can be restored: a calendar per index pattern, with gaps and restore tests
    Coverage(coverage::CoverageArgs),
    /// Give StatefulSets (or an ECK Elasticsearch) the shared snapshot volume, restart, register
    Enable(enable::EnableArgs),
    /// Undo enable: remove the volume and labels (the claim and its snapshots stay)
    Disable(enable::DisableArgs),
    /// The applications' own log files, copied off the nodes: collect, list, get, prune, status, push, install
    Files(files::FilesArgs),
    /// Back up the control plane: etcd snapshots, certificates and manifests, with a restore drill
    Etcd(etcd::EtcdArgs),
}

/// The whole command tree, as `kubectl logbackup` parses it: for tests that check examples.
pub fn command() -> clap::Command {
    <Cli as clap::CommandFactory>::command()
}

/// `-o`, for commands that print data.
#[derive(Debug, Args, Clone)]
#[command(next_help_heading = "Output")]
pub struct OutputArgs {
    /// Output format
    #[arg(short = 'o', long = "output", value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
}

impl OutputArgs {
    pub fn format(&self) -> logbackup::render::Format {
        match self.output {
            OutputFormat::Table => logbackup::render::Format::Table,
            OutputFormat::Json => logbackup::render::Format::Json,
            OutputFormat::Yaml => logbackup::render::Format::Yaml,
        }
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum OutputFormat {
    Table,
    Json,
    Yaml,
}

/// Prints data to stdout: JSON/YAML of `value`, or the table `table` makes of it.
pub fn emit<T: serde::Serialize>(
    value: &T,
    format: logbackup::render::Format,
    table: impl FnOnce(&T) -> String,
) -> anyhow::Result<()> {
    use std::io::Write;
    let text = match format {
        logbackup::render::Format::Table => table(value),
        // Written as it is serialized: a 100,000-snapshot report is not held twice as text.
        logbackup::render::Format::Json => {
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            match serde_json::to_writer_pretty(&mut out, value) {
                // A closed pipe (`| head`) is not an error worth a message.
                Err(e) if !e.is_io() => {
                    return Err(anyhow::anyhow!("failed to write the output as JSON: {e}"))
                }
                _ => {}
            }
            let _ = out.write_all(b"\n").and_then(|()| out.flush());
            return Ok(());
        }
        other => logbackup::render::structured(value, other)?,
    };
    let mut out = std::io::stdout().lock();
    // A closed pipe (`| head`) is not an error worth a message.
    let _ = out.write_all(text.as_bytes());
    Ok(())
}

/// The clock, read once per use at the edge; the pure core gets it as an argument.
pub fn now() -> jiff::Timestamp {
    jiff::Timestamp::now()
}

/// A progress bar on stderr; indicatif hides it when stderr is not a terminal.
pub fn progress_bar(unit: &str) -> indicatif::ProgressBar {
    let bar =
        indicatif::ProgressBar::with_draw_target(Some(0), indicatif::ProgressDrawTarget::stderr());
    let template = format!("{{bar:40}} {{pos}}/{{len}} {unit} {{msg}}");
    if let Ok(style) = indicatif::ProgressStyle::with_template(&template) {
        bar.set_style(style);
    }
    bar
}

/// Moves a bytes bar to `done` of `total`, and says so in bytes a person reads.
pub fn show_bytes(bar: &indicatif::ProgressBar, done: u64, total: u64) {
    use logbackup::snapshot::human_bytes;
    bar.set_message(format!("{} / {}", human_bytes(done), human_bytes(total)));
}

/// A pre-check refused to act; nothing was changed. Exit code 3.
#[derive(Debug)]
pub struct Refused(pub String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

/// Exit codes: 0 done; 1 failed (including a PARTIAL/FAILED snapshot and an unhealthy status);
/// 2 bad usage (clap); 3 refused by a pre-check, nothing changed.
pub const EXIT_REFUSED: u8 = 3;

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(&cli.global);
    let result = match &cli.command {
        Command::Inject(args) => inject::run(args),
        other => run_async(other, &cli.global),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", once(e.chain().map(|c| c.to_string())));
            let es_error = e
                .chain()
                .find_map(|c| c.downcast_ref::<logbackup::es::Failed>());
            // The library's errors that wrap a K8sError keep it in the chain (not `transparent`).
            let k8s_error = e
                .chain()
                .find_map(|c| c.downcast_ref::<logbackup::k8s::K8sError>());
            let hint = k8s_error
                .and_then(|k| k.hint())
                .or_else(|| es_error.and_then(|f| f.kind().hint()).map(str::to_owned));
            if let Some(hint) = hint {
                eprintln!("hint: {hint}");
            }
            if e.chain().any(|c| c.downcast_ref::<Refused>().is_some()) {
                ExitCode::from(EXIT_REFUSED)
            } else {
                ExitCode::from(1)
            }
        }
    }
}

/// An error chain as one line, each message once: a cause whose text its parent already
/// includes (`failed to X: <cause>` over `<cause>`) is not repeated.
fn once(chain: impl Iterator<Item = String>) -> String {
    let mut text = String::new();
    for message in chain {
        if text.contains(&message) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&message);
    }
    text
}

fn run_async(command: &Command, global: &Global) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        match command {
            Command::Inject(args) => inject::run(args),
            Command::Repo(args) => repo::run(args, global).await,
            Command::Snapshot(args) => snapshot::run(args, global).await,
            Command::Prune(args) => prune::run(args, global).await,
            Command::Backup(args) => backup::run(args, global).await,
            Command::Schedule(args) => schedule::run(args, global).await,
            Command::Webhook(args) => webhook::run(args, global).await,
            Command::Restore(args) => restore::run(args, global).await,
            Command::Status(args) => status::run(args, global).await,
            Command::Coverage(args) => coverage::run(args, global).await,
            Command::Enable(args) => enable::run_enable(args, global).await,
            Command::Disable(args) => enable::run_disable(args, global).await,
            Command::Files(args) => files::run(args, global).await,
            Command::Etcd(args) => etcd::run(args, global).await,
        }
    })
}

fn init_logging(global: &Global) {
    let level = match global.verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    // kube-rs logs a failed request at ERROR itself; we print that error once, our way, so its
    // own lines only show with -v.
    let default = if global.verbose == 0 {
        format!("{level},kube_client=off")
    } else {
        level.to_owned()
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("LOGBACKUP_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    // Colours only for a person at a terminal: redirected output and CI logs get plain text.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    match global.log_format {
        LogFormat::Plain => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// clap checks the whole command tree (duplicate flag names across flattened groups,
    /// conflicting short flags) only when a command is built; build them all here.
    #[test]
    fn a_cause_already_in_its_parent_is_printed_once() {
        let cause = "unable to authenticate user [elastic] [security_exception, HTTP 401]";
        let chain = [
            format!("failed to connect to https://127.0.0.1:9200: {cause}"),
            cause.to_string(),
        ];
        assert_eq!(
            super::once(chain.into_iter()),
            format!("failed to connect to https://127.0.0.1:9200: {cause}")
        );
        let separate = ["failed to read kubeconfig x", "No such file or directory"];
        assert_eq!(
            super::once(separate.iter().map(|s| s.to_string())),
            "failed to read kubeconfig x: No such file or directory"
        );
    }

    #[test]
    fn every_command_is_well_formed() {
        super::Cli::command().debug_assert();
    }
}
