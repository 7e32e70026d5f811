//! `kubectl logbackup files collect|list|get|prune|status`: the application log files copied off
//! the nodes. The collector runs in the DaemonSet; the other commands read the archive directory.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use logbackup::files::archive;
use logbackup::files::collect::{Collector, Roots, Settings};
use logbackup::k8s::webhook_objects;
use logbackup::render;
use logbackup::webhook_install::manifests::DEFAULT_NAMESPACE;
use logbackup_core::files::install::{self, InstallOptions};
use logbackup_core::files::report::{judge, HealthState};
use logbackup_core::files::retention::{self, Filter};

use super::connect::kube_client;
use super::{emit, now, Global, OutputArgs};

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  kubectl logbackup files install --claim logs-backup
  kubectl logbackup files status --archive /mnt/repo/files
  kubectl logbackup files get --archive /mnt/repo/files -n shop \\
      --pod web-7f9c-x2

Manual: https://github.com/logbackup/kubectl-logbackup/blob/main/docs/files.md")]
pub struct FilesArgs {
    #[command(subcommand)]
    pub command: FilesCommand,
}

#[derive(Debug, Subcommand)]
pub enum FilesCommand {
    /// Copy a node's log files into the archive, pass after pass (what the DaemonSet runs)
    #[command(after_help = "\
Each pass copies the bytes appended since the last one, recognises rotated files by inode and
truncated ones by their size and last bytes, compresses closed files, and removes a finished
pod's directory from the node only after its final pass. Killed at any moment, the next run
resumes where the archive's copies end: no line lost, none repeated.

Example (the DaemonSet's command):
  kubectl-logbackup files collect --node \"$NODE_NAME\" \\
      --archive /repository/files --root /var/lib/logbackup/files \\
      --kubelet-root /var/lib/kubelet --pod-logs /var/log/pods")]
    Collect(CollectArgs),
    /// List archived files, by namespace, workload, pod, container and time
    #[command(after_help = "\
Examples:
  kubectl logbackup files list --archive /mnt/repo/files -n shop --workload web
  kubectl logbackup files list --archive /mnt/repo/files --pod web-7f9c-x2 \\
      --since 2026-12-06T08:00:00Z")]
    List(ListArgs),
    /// Print or copy out archived files (also of pods that no longer exist), decompressed
    #[command(after_help = "\
Without --to the files' contents go to stdout, one after another in path order.

Examples:
  kubectl logbackup files get --archive /mnt/repo/files -n shop \\
      --pod web-7f9c-x2 | grep ERROR
  kubectl logbackup files get --archive /mnt/repo/files -n shop --workload web \\
      --to ./web-logs")]
    Get(GetArgs),
    /// Delete archived files older than --keep-days (closed files only)
    #[command(after_help = "\
Example:
  kubectl logbackup files prune --archive /mnt/repo/files --keep-days 45 \\
      --dry-run")]
    Prune(PruneArgs),
    /// Each node's collector: its lag, the pods it holds, its errors. Exit 1 when one is unhealthy
    Status(StatusArgs),
    /// Copy the closed (compressed) archived files to S3 or another directory, incrementally
    #[command(after_help = "\
Closed files never change, so each is sent once; open ones are sent after they close. Run it
again to resume after an interruption.

Examples:
  kubectl logbackup files push s3://log-archive/cluster-a \\
      --archive /mnt/repo/files
  kubectl logbackup files push s3://logs/files --endpoint http://minio:9000 \\
      --archive /mnt/repo/files --dry-run")]
    Push(PushArgs),
    /// Install (or update) the collector DaemonSet on every node
    #[command(after_help = "\
-n/--namespace is the collector's namespace (default logbackup-system); it needs the Pod Security
level `privileged` (hostPath volumes), as do the namespaces of the workloads that keep log files.
The archive goes on --claim, a ReadWriteMany PersistentVolumeClaim in that namespace, under --prefix.

With --push-to, a CronJob in the same namespace also copies the closed files to S3 on
--push-schedule (what `files push` does), with the AWS_* keys of --push-secret as its environment.

Examples:
  kubectl logbackup files install --claim logs-backup --dry-run -o yaml
  kubectl logbackup files install --claim logs-backup
  kubectl logbackup files install --claim logs-backup \\
    --push-to s3://log-archive/cluster-a --push-secret offsite-s3")]
    Install(InstallArgs),
    /// Remove the collector (the archive and the files still on the nodes stay)
    Uninstall(UninstallArgs),
}

#[derive(Debug, Args)]
pub struct InstallArgs {
    /// The ReadWriteMany PersistentVolumeClaim the archive is written to
    #[arg(long, value_name = "NAME")]
    pub claim: String,
    /// The archive's directory on the claim
    #[arg(long, default_value = "files", value_name = "DIR")]
    pub prefix: String,
    /// The image holding the plugin binary
    #[arg(long, default_value = logbackup_core::ids::IMAGE)]
    pub image: String,
    /// The kubelet's root directory on the nodes
    #[arg(long, default_value = "/var/lib/kubelet", value_name = "DIR")]
    pub kubelet_root: String,
    /// Time between the collector's passes
    #[arg(long, default_value = "1s", value_parser = parse_interval, value_name = "DURATION")]
    pub interval: Duration,
    /// Print the objects, change nothing (no cluster needed)
    #[arg(long)]
    pub dry_run: bool,
    /// Print the objects as
    #[arg(short = 'o', long = "output", value_enum)]
    pub output: Option<super::schedule::ManifestFormat>,
    #[command(flatten)]
    pub push: InstallPushArgs,
}

#[derive(Debug, Args)]
#[command(next_help_heading = "Copy to S3 on a schedule")]
pub struct InstallPushArgs {
    /// Also copy the closed files to s3://BUCKET/PREFIX, from a CronJob
    #[arg(long, value_name = "URL")]
    pub push_to: Option<String>,
    /// When the CronJob runs (cron, the controller's time zone)
    #[arg(
        long,
        default_value = "*/15 * * * *",
        value_name = "CRON",
        requires = "push_to"
    )]
    pub push_schedule: String,
    /// A Secret holding AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (any AWS_* key), given to the CronJob
    #[arg(long, value_name = "NAME", requires = "push_to")]
    pub push_secret: Option<String>,
    /// S3-compatible endpoint (MinIO, Ceph RGW); path-style addressing with it
    #[arg(long, value_name = "URL", requires = "push_to")]
    pub push_endpoint: Option<String>,
    /// The bucket's region (default us-east-1)
    #[arg(long, value_name = "REGION", requires = "push_to")]
    pub push_region: Option<String>,
}

#[derive(Debug, Args)]
pub struct PushArgs {
    /// Where to: s3://BUCKET/PREFIX, or a directory
    #[arg(value_name = "DESTINATION")]
    pub destination: String,
    #[command(flatten)]
    pub archive: ArchiveArgs,
    /// Show what would be sent, send nothing
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub s3: super::sync::S3Args,
}

#[derive(Debug, Args)]
pub struct UninstallArgs {
    /// Show what would be deleted, delete nothing
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args, Clone)]
pub struct ArchiveArgs {
    /// The archive directory: the repository volume's files prefix, mounted here
    #[arg(long, env = "LOGBACKUP_FILES_ARCHIVE", value_name = "DIR")]
    pub archive: PathBuf,
}

#[derive(Debug, Args)]
pub struct CollectArgs {
    /// This node's name (the DaemonSet passes spec.nodeName)
    #[arg(long, env = "NODE_NAME")]
    pub node: String,
    #[command(flatten)]
    pub archive: ArchiveArgs,
    /// The hostPath the injected pods write their log directories into
    #[arg(long, default_value = logbackup_core::ids::FILES_ROOT, value_name = "DIR")]
    pub root: PathBuf,
    /// The kubelet's root directory; pods/<uid> in it says the kubelet still holds a pod
    #[arg(long, default_value = "/var/lib/kubelet", value_name = "DIR")]
    pub kubelet_root: PathBuf,
    /// The kubelet's container logs, for the pods that asked for their stdout and stderr
    #[arg(long, value_name = "DIR")]
    pub pod_logs: Option<PathBuf>,
    /// Time between passes (500ms, 1s, 1m)
    #[arg(long, default_value = "1s", value_parser = parse_interval, value_name = "DURATION")]
    pub interval: Duration,
    /// A rotated file unchanged this long is closed and compressed
    #[arg(long, default_value_t = 300, value_name = "SECONDS")]
    pub idle_close: i64,
    /// File name endings not copied (compressed archives the application makes itself)
    #[arg(long, value_delimiter = ',', default_value = ".gz,.zip,.bz2,.xz,.zst")]
    pub skip_suffix: Vec<String>,
    /// Run one pass and exit
    #[arg(long)]
    pub once: bool,
}

#[derive(Debug, Args, Clone)]
pub struct FilterArgs {
    /// Only this workload (Deployment, StatefulSet, Job... name; a bare pod's own name)
    #[arg(long)]
    pub workload: Option<String>,
    /// Only this pod
    #[arg(long)]
    pub pod: Option<String>,
    /// Only this container
    #[arg(long)]
    pub container: Option<String>,
    /// Only files last written at or after this time (RFC 3339)
    #[arg(long, value_name = "TIME")]
    pub since: Option<jiff::Timestamp>,
    /// Only files last written before this time (RFC 3339)
    #[arg(long, value_name = "TIME")]
    pub until: Option<jiff::Timestamp>,
}

impl FilterArgs {
    fn filter(&self, global: &Global) -> Filter {
        Filter {
            namespace: global.namespace.clone(),
            workload: self.workload.clone(),
            pod: self.pod.clone(),
            container: self.container.clone(),
            since: self.since.map(|t| t.as_second()),
            until: self.until.map(|t| t.as_second()),
        }
    }
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub archive: ArchiveArgs,
    #[command(flatten)]
    pub filter: FilterArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct GetArgs {
    #[command(flatten)]
    pub archive: ArchiveArgs,
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Copy the files into this directory (decompressed, under their archived paths)
    #[arg(long, value_name = "DIR")]
    pub to: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct PruneArgs {
    #[command(flatten)]
    pub archive: ArchiveArgs,
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Delete closed files last written more than this many days ago
    #[arg(long, value_name = "DAYS")]
    pub keep_days: u32,
    /// Show the plan, delete nothing
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub archive: ArchiveArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

pub async fn run(args: &FilesArgs, global: &Global) -> Result<ExitCode> {
    match &args.command {
        FilesCommand::Push(a) => push(a).await,
        FilesCommand::Install(a) => install(a, global).await,
        FilesCommand::Uninstall(a) => uninstall(a, global).await,
        FilesCommand::Collect(a) => collect(a).await,
        FilesCommand::List(a) => list(a, global),
        FilesCommand::Get(a) => get(a, global),
        FilesCommand::Prune(a) => prune(a, global),
        FilesCommand::Status(a) => status(a),
    }
}

async fn collect(args: &CollectArgs) -> Result<ExitCode> {
    let roots = Roots {
        files: args.root.clone(),
        kubelet: args.kubelet_root.clone(),
        pod_logs: args.pod_logs.clone(),
        archive: args.archive.archive.clone(),
    };
    let settings = Settings {
        node: args.node.clone(),
        interval_ms: args.interval.as_millis() as u64,
        idle_close_seconds: args.idle_close,
        skip_suffixes: args.skip_suffix.clone(),
    };
    let mut collector =
        Collector::open(roots, settings).context("failed to start the collector")?;
    collector
        .prepare_root()
        .context("failed to prepare the node's log root")?;
    let interval = args.interval;
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("failed to listen for SIGTERM")?;
    let mut previous_start: Option<Instant> = None;
    loop {
        let started = Instant::now();
        let pass = collector.pass(now().as_second());
        // The worst age of a copied byte: written just after the previous pass began, copied
        // at the end of this one.
        let lag = previous_start.map_or(started.elapsed(), |p| p.elapsed());
        previous_start = Some(started);
        let report = collector.report(&pass, now(), lag.as_millis() as u64);
        for e in &pass.errors {
            tracing::warn!(error = %e, "pass error");
        }
        for pod in &pass.pods_removed {
            tracing::info!(pod = %pod, "final pass done; the pod's files are removed from the node");
        }
        if let Err(e) = collector.write_report(&report) {
            tracing::warn!(error = %e, "failed to write the collector's report");
        }
        if args.once {
            return Ok(if pass.errors.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            });
        }
        tokio::select! {
            _ = tokio::time::sleep(interval.saturating_sub(started.elapsed())) => {}
            _ = terminate.recv() => {
                // One more pass, so a node draining loses not even its last second.
                let pass = collector.pass(now().as_second());
                let _ = collector.write_report(&collector.report(&pass, now(), 0));
                return Ok(ExitCode::SUCCESS);
            }
        }
    }
}

fn list(args: &ListArgs, global: &Global) -> Result<ExitCode> {
    let files = archive::list(&args.archive.archive, &args.filter.filter(global))?;
    emit(&files, args.output.format(), |files| {
        let rows: Vec<Vec<String>> = files
            .iter()
            .map(|f| {
                vec![
                    f.file.namespace.clone(),
                    f.file.workload.clone(),
                    f.file.pod.clone(),
                    f.file.container.clone(),
                    f.file.name.file.clone(),
                    if f.file.name.closed { "closed" } else { "open" }.to_owned(),
                    logbackup::snapshot::human_bytes(f.bytes),
                    jiff::Timestamp::from_second(f.modified)
                        .map(|t| t.to_string())
                        .unwrap_or_default(),
                    f.path.clone(),
                ]
            })
            .collect();
        render::table(
            &[
                "NAMESPACE",
                "WORKLOAD",
                "POD",
                "CONTAINER",
                "FILE",
                "STATE",
                "SIZE",
                "LAST WRITTEN",
                "PATH",
            ],
            &rows,
        )
    })?;
    Ok(ExitCode::SUCCESS)
}

fn get(args: &GetArgs, global: &Global) -> Result<ExitCode> {
    let files = archive::list(&args.archive.archive, &args.filter.filter(global))?;
    if files.is_empty() {
        anyhow::bail!(
            "no archived file matches; `kubectl logbackup files list` shows what there is"
        );
    }
    match &args.to {
        Some(dir) => {
            for f in &files {
                archive::copy_to(&args.archive.archive, f, dir)?;
            }
            eprintln!("copied {} file(s) into {}", files.len(), dir.display());
        }
        None => {
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            for f in &files {
                archive::copy_out(&args.archive.archive, f, &mut out)?;
            }
            std::io::Write::flush(&mut out).context("failed to write to stdout")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn prune(args: &PruneArgs, global: &Global) -> Result<ExitCode> {
    let files = archive::list(&args.archive.archive, &args.filter.filter(global))?;
    let decisions = retention::decide(
        &files,
        now().as_second(),
        i64::from(args.keep_days) * 86_400,
    );
    if !args.dry_run {
        for (f, d) in files.iter().zip(&decisions) {
            if d.delete {
                archive::remove(&args.archive.archive, f)?;
            }
        }
    }
    emit(&decisions, args.output.format(), |ds| {
        let verb = if args.dry_run {
            "would delete"
        } else {
            "deleted"
        };
        let rows: Vec<Vec<String>> = ds
            .iter()
            .map(|d| {
                vec![
                    if d.delete { verb } else { "keep" }.to_owned(),
                    d.path.clone(),
                    d.reason.clone(),
                ]
            })
            .collect();
        render::table(&["ACTION", "PATH", "WHY"], &rows)
    })?;
    Ok(ExitCode::SUCCESS)
}

fn status(args: &StatusArgs) -> Result<ExitCode> {
    let reports = archive::reports(&args.archive.archive)?;
    let at = now();
    let mut unreadable = Vec::new();
    let health: Vec<_> = reports
        .into_iter()
        .filter_map(|r| r.map_err(|e| unreadable.push(e)).ok())
        .map(|r| judge(&r, at))
        .collect();
    for e in &unreadable {
        eprintln!("warning: {e}");
    }
    if health.is_empty() {
        eprintln!(
            "no collector has reported into {}; is the collector installed?",
            args.archive.archive.display()
        );
        return Ok(ExitCode::from(1));
    }
    emit(&health, args.output.format(), |hs| {
        let rows: Vec<Vec<String>> = hs
            .iter()
            .map(|h| {
                let mut why = h.summary.clone();
                if h.state == HealthState::Stale && !h.pods.is_empty() {
                    why.push_str(&format!(": {}", h.pods.join(", ")));
                } else if !h.pods_finishing.is_empty() {
                    why.push_str(&format!("; finishing: {}", h.pods_finishing.join(", ")));
                }
                for e in &h.errors {
                    why.push_str(&format!("; {e}"));
                }
                vec![
                    h.node.clone(),
                    format!("{:?}", h.state).to_lowercase(),
                    format!("{} ms", h.lag_ms),
                    h.pods_held.to_string(),
                    why,
                ]
            })
            .collect();
        render::table(&["NODE", "STATE", "LAG", "PODS", "DETAIL"], &rows)
    })?;
    let healthy = health.iter().all(|h| h.state == HealthState::Ok);
    Ok(if healthy {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `500ms`, `1s`, `2m`: the pass interval.
fn parse_interval(s: &str) -> Result<Duration, String> {
    let (number, unit) = s
        .find(|c: char| !c.is_ascii_digit())
        .map_or((s, "s"), |i| s.split_at(i));
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{s:?} is not a duration like 500ms, 1s or 2m"))?;
    let d = match unit {
        "ms" => Duration::from_millis(n),
        "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n * 60),
        _ => return Err(format!("{s:?} is not a duration like 500ms, 1s or 2m")),
    };
    if d < Duration::from_millis(10) {
        return Err("the interval must be at least 10ms".to_owned());
    }
    Ok(d)
}

fn install_options(args: &InstallArgs, global: &Global) -> InstallOptions {
    let mut o = InstallOptions::new(&collector_namespace(global), &args.claim);
    o.prefix = args.prefix.clone();
    o.image = args.image.clone();
    o.kubelet_root = args.kubelet_root.clone();
    o.interval = format!("{}ms", args.interval.as_millis());
    o
}

/// The push CronJob's options; `api_version` is the cluster's CronJob version.
fn push_options(args: &InstallPushArgs, api_version: &str) -> Result<Option<install::PushOptions>> {
    let Some(destination) = &args.push_to else {
        return Ok(None);
    };
    let location = logbackup::sync::Location::parse(destination)
        .with_context(|| format!("--push-to {destination}"))?;
    if !matches!(location, logbackup::sync::Location::S3 { .. }) {
        anyhow::bail!(
            "--push-to {destination}: the CronJob pushes to s3://BUCKET/PREFIX only (to copy to a directory, run `kubectl logbackup files push DIR` where it is mounted)"
        );
    }
    let mut flags = Vec::new();
    if let Some(endpoint) = &args.push_endpoint {
        flags.extend(["--endpoint".to_owned(), endpoint.clone()]);
    }
    if let Some(region) = &args.push_region {
        flags.extend(["--region".to_owned(), region.clone()]);
    }
    Ok(Some(install::PushOptions {
        destination: destination.clone(),
        schedule: args.push_schedule.clone(),
        secret: args.push_secret.clone(),
        flags,
        api_version: api_version.to_owned(),
    }))
}

/// -n/--namespace, else logbackup-system (the webhook's namespace), not the context's.
fn collector_namespace(global: &Global) -> String {
    global
        .namespace
        .clone()
        .unwrap_or_else(|| DEFAULT_NAMESPACE.to_owned())
}

fn print_objects(
    objects: &[serde_json::Value],
    format: super::schedule::ManifestFormat,
) -> Result<()> {
    let text = match format {
        super::schedule::ManifestFormat::Yaml => logbackup::manifest::to_yaml_stream(objects)?,
        super::schedule::ManifestFormat::Json => {
            format!("{}\n", serde_json::to_string_pretty(objects)?)
        }
    };
    print!("{text}");
    Ok(())
}

async fn install(args: &InstallArgs, global: &Global) -> Result<ExitCode> {
    let mut options = install_options(args, global);
    if args.dry_run {
        // No cluster to ask: the current CronJob version (1.20 and older serve batch/v1beta1).
        options.push = push_options(&args.push, "batch/v1")?;
        let objects = install::objects(&options);
        eprintln!("dry run: would apply {} objects", objects.len());
        print_objects(
            &objects,
            args.output.unwrap_or(super::schedule::ManifestFormat::Yaml),
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    let client = kube_client(global).await?;
    if args.push.push_to.is_some() {
        let chosen = client.served().await?.cronjob()?;
        if let Some(note) = chosen.note {
            eprintln!("note: {note}");
        }
        options.push = push_options(&args.push, chosen.api_version)?;
    }
    let objects = install::objects(&options);
    let applied = webhook_objects::apply_all(&client, &objects).await?;
    for a in &applied {
        eprintln!("applied {a}");
    }
    eprintln!(
        "check with: kubectl -n {} rollout status daemonset/{}",
        collector_namespace(global),
        logbackup_core::ids::FILES_COLLECTOR
    );
    if let Some(format) = args.output {
        print_objects(&objects, format)?;
    }
    Ok(ExitCode::SUCCESS)
}

async fn uninstall(args: &UninstallArgs, global: &Global) -> Result<ExitCode> {
    let client = kube_client(global).await?;
    let mut options = InstallOptions::new(&collector_namespace(global), "unused");
    // The push CronJob too, if there is one, under the version the cluster serves it at; only its
    // name and kind matter for deleting it.
    options.push = Some(install::PushOptions {
        destination: String::new(),
        schedule: String::new(),
        secret: None,
        flags: Vec::new(),
        api_version: client.served().await?.cronjob()?.api_version.to_owned(),
    });
    let objects = install::objects(&options);
    let gone = webhook_objects::delete_all(&client, &objects, args.dry_run).await?;
    let prefix = if args.dry_run {
        "dry run: would delete"
    } else {
        "deleted"
    };
    for d in &gone {
        eprintln!("{prefix} {d}");
    }
    eprintln!("the archive, and the files of finished pods still on the nodes, stay; they wait for a collector");
    Ok(ExitCode::SUCCESS)
}

async fn push(args: &PushArgs) -> Result<ExitCode> {
    use logbackup::sync::store::{S3Options, Store};
    use logbackup::sync::Location;
    let destination = Location::parse(&args.destination)?;
    let source = Store::open(
        &Location::Dir(args.archive.archive.clone()),
        &S3Options::default(),
    )?;
    let mut target = Store::open(&destination, &args.s3.options())?;
    let listing = |objects: Vec<logbackup::sync::plan::Object>| -> Vec<(String, u64)> {
        objects.into_iter().map(|o| (o.path, o.size)).collect()
    };
    let send = logbackup_core::files::push::to_send(
        &listing(source.list().await?),
        &listing(target.list().await?),
    );
    let bytes: u64 = send.iter().map(|(_, s)| s).sum();
    if args.dry_run {
        for (path, _) in &send {
            println!("{path}");
        }
        eprintln!(
            "dry run: would send {} file(s), {}",
            send.len(),
            logbackup::snapshot::human_bytes(bytes)
        );
        return Ok(ExitCode::SUCCESS);
    }
    target.prepare_for_writes()?;
    let bar = super::progress_bar("files");
    bar.set_length(send.len() as u64);
    for (path, size) in &send {
        target
            .copy_from(&source, &logbackup::sync::plan::Object::new(path, *size))
            .await?;
        bar.inc(1);
    }
    bar.finish_and_clear();
    eprintln!(
        "sent {} file(s), {} to {destination}",
        send.len(),
        logbackup::snapshot::human_bytes(bytes)
    );
    Ok(ExitCode::SUCCESS)
}
