//! `kubectl logbackup etcd ...`: the control plane's backup. etcd snapshots through etcd's v3 API,
//! the certificates and static pod manifests beside them, in the repository volume under its own
//! prefix; retention per origin; the restore drill; the restore steps; the CronJob.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use jiff::SignedDuration;
use logbackup::etcd::drill::{self, DrillOptions};
use logbackup::etcd::save::SaveOptions;
use logbackup::etcd::{client, Connection, EtcdClient, Listed, Target, TargetError};
use logbackup::render;
use logbackup_core::etcd::retention::Policy;
use logbackup_core::etcd::{restore_plan, Origin};
use logbackup_core::snapshot::human_bytes;

use super::{emit, now, Global, OutputArgs, Refused};

#[derive(Debug, Args)]
#[command(after_help = "\
The group is named after what it backs up, as `etcdctl snapshot` and k3s's `etcd-snapshot`
are: operators look for etcd when the control plane is what they lose.

Examples, on a kubeadm control-plane node (certificates and endpoint default to kubeadm's):
  kubectl logbackup etcd save --repo /mnt/es-backup
  kubectl logbackup etcd list --repo /mnt/es-backup
  kubectl logbackup etcd verify --repo /mnt/es-backup
  kubectl logbackup etcd prune --repo /mnt/es-backup --keep 5
  kubectl logbackup etcd restore-plan etcd-manual-cp1-20261206T083005Z \\
      --repo /mnt/es-backup
  kubectl logbackup etcd schedule hourly -n logging --claim es-backup \\
      --schedule '0 * * * *'

Manual: https://github.com/logbackup/kubectl-logbackup/blob/main/docs/etcd.md")]
pub struct EtcdArgs {
    #[command(subcommand)]
    pub command: EtcdCommand,
}

#[derive(Debug, Subcommand)]
pub enum EtcdCommand {
    /// Take a consistent snapshot through etcd's API, with certificates, manifests and a record
    Save(SaveArgs),
    /// List the etcd snapshots in the repository
    #[command(alias = "ls")]
    List(ListArgs),
    /// Delete etcd snapshots by name
    Delete(DeleteArgs),
    /// Delete old etcd snapshots of one origin (manual or scheduled) by count and age
    Prune(PruneArgs),
    /// Prove a snapshot restores: hash, restore into a scratch etcd, compare revision and keys
    Verify(VerifyArgs),
    /// Print the steps that restore this control plane from a snapshot (never runs them)
    RestorePlan(RestorePlanArgs),
    /// Install a CronJob that saves snapshots on a control-plane node
    Schedule(ScheduleArgs),
}

/// Where the snapshots are.
#[derive(Debug, Args, Clone)]
#[command(next_help_heading = "Repository")]
pub struct RepoArgs {
    /// The repository volume's root directory (an Elasticsearch fs repository's location), or
    /// s3://BUCKET/PREFIX; snapshots go under its logbackup-etcd/ prefix, which Elasticsearch never
    /// reads or deletes
    #[arg(
        long,
        env = "LOGBACKUP_ETCD_REPO",
        value_name = "DIR|s3://BUCKET/PREFIX"
    )]
    pub repo: String,
    #[command(flatten)]
    pub s3: super::sync::S3Args,
}

impl RepoArgs {
    fn open(&self) -> Result<Target> {
        Ok(Target::open(&self.repo, &self.s3.options())?)
    }
}

/// How to reach etcd; kubeadm's layout by default.
#[derive(Debug, Args, Clone)]
#[command(next_help_heading = "etcd connection")]
pub struct EtcdConnArgs {
    /// etcd's client URL: one member, as for `etcdctl snapshot save`
    #[arg(long, default_value = client::KUBEADM_ENDPOINT, value_name = "URL")]
    pub endpoints: String,
    /// CA certificate that signed etcd's serving certificate
    #[arg(long, default_value = client::KUBEADM_CA, value_name = "FILE")]
    pub cacert: PathBuf,
    /// Client certificate etcd's CA signed
    #[arg(long, default_value = client::KUBEADM_CERT, value_name = "FILE")]
    pub cert: PathBuf,
    /// The client certificate's key
    #[arg(long, default_value = client::KUBEADM_KEY, value_name = "FILE")]
    pub key: PathBuf,
    /// Talk to etcd without TLS (an http:// endpoint; never kubeadm's)
    #[arg(long)]
    pub plaintext: bool,
}

impl EtcdConnArgs {
    fn client(&self) -> Result<EtcdClient> {
        // As `etcdctl snapshot save`: a snapshot is one member's, so one endpoint.
        if self.endpoints.contains(',') {
            return Err(Refused(format!(
                "--endpoints {}: give one endpoint, the member to take the snapshot from",
                self.endpoints
            ))
            .into());
        }
        let tls = !self.plaintext && !self.endpoints.starts_with("http://");
        let c = Connection {
            endpoint: self.endpoints.clone(),
            ca: tls.then(|| self.cacert.clone()),
            cert: tls.then(|| self.cert.clone()),
            key: tls.then(|| self.key.clone()),
            timeout: None,
        };
        Ok(EtcdClient::new(&c)?)
    }
}

#[derive(Debug, Args)]
#[command(after_help = "\
The snapshot is etcd's own (Maintenance.Snapshot, what `etcdctl snapshot save` does),
never a copy of the data directory. Beside it: the certificates from --pki-dir (private
keys included unless --exclude-keys: whoever reads the repository can then act as the
cluster's CA), the static pod manifests, and record.json (etcd version, revision, members,
SHA-256, size, key counts by prefix). A snapshot is listed only once all of it is written.")]
pub struct SaveArgs {
    /// This node's name, in the snapshot's name (default: the host name)
    #[arg(long, env = "NODE_NAME", value_name = "NAME")]
    pub node: Option<String>,
    /// Certificates to keep beside the snapshot
    #[arg(long, default_value = "/etc/kubernetes/pki", value_name = "DIR")]
    pub pki_dir: PathBuf,
    /// Static pod manifests to keep beside the snapshot
    #[arg(long, default_value = "/etc/kubernetes/manifests", value_name = "DIR")]
    pub manifests_dir: PathBuf,
    /// Keep no certificates or manifests, only the snapshot and its record
    #[arg(long)]
    pub snapshot_only: bool,
    /// Leave the private keys (*.key) out of the copied certificates
    #[arg(long)]
    pub exclude_keys: bool,
    /// Keep the snapshot gzip-compressed (snapshot.db.gz; the record keeps the plain file's hash)
    #[arg(long)]
    pub compress: bool,
    /// Mark the snapshot as the schedule's (its own retention; what the CronJob passes)
    #[arg(long)]
    pub scheduled: bool,
    /// Then keep only the newest N snapshots of the same origin
    #[arg(long, value_name = "N")]
    pub keep: Option<usize>,
    #[command(flatten)]
    pub repo: RepoArgs,
    #[command(flatten)]
    pub conn: EtcdConnArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub repo: RepoArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// Snapshot names (as `etcd list` shows them)
    #[arg(required = true)]
    pub names: Vec<String>,
    /// Say what would be deleted, delete nothing
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub repo: RepoArgs,
}

#[derive(Debug, Args)]
#[command(after_help = "\
Each origin has its own retention, as in k3s: pruning manual snapshots never deletes a
scheduled one, and --scheduled never deletes a manual one. The newest snapshot of the
origin is always kept.

Example: kubectl logbackup etcd prune --repo /mnt/es-backup --keep 5 \\
    --older-than 14d --dry-run")]
pub struct PruneArgs {
    /// Keep the newest N snapshots of the origin
    #[arg(long, value_name = "N")]
    pub keep: Option<usize>,
    /// Delete the origin's snapshots older than this (e.g. 90m, 36h, 14d)
    #[arg(long, value_name = "AGE", value_parser = parse_age)]
    pub older_than: Option<SignedDuration>,
    /// Prune the schedule's snapshots instead of the manual ones
    #[arg(long)]
    pub scheduled: bool,
    /// Show the plan, delete nothing
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub repo: RepoArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
#[command(after_help = "\
Checks the SHA-256 against the record and etcd's own checksum, restores the snapshot into
a scratch data directory with etcdutl (or etcdctl 3.4), starts a throwaway etcd from it on
free loopback ports, and compares its revision and the key count of every
/registry/<resource>/ prefix with the record. The scratch directory and the etcd are
removed on every way out, Ctrl-C included. The verdict is kept beside the snapshot
(verification.json) for `etcd list` and `status`. Exit 1 when it fails.")]
pub struct VerifyArgs {
    /// The snapshot (default: the newest)
    pub name: Option<String>,
    /// The etcd binary for the throwaway server
    #[arg(long, default_value = "etcd", value_name = "PATH")]
    pub etcd: PathBuf,
    /// The restore tool: etcdutl, or etcdctl for etcd 3.4 (default: whichever is on PATH)
    #[arg(long, value_name = "PATH")]
    pub etcdutl: Option<PathBuf>,
    /// Where the scratch data directory is made (default: the system's temporary directory)
    #[arg(long, value_name = "DIR")]
    pub scratch_dir: Option<PathBuf>,
    #[command(flatten)]
    pub repo: RepoArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct RestorePlanArgs {
    pub name: String,
    /// etcd's data directory on the node
    #[arg(long, default_value = "/var/lib/etcd", value_name = "DIR")]
    pub data_dir: String,
    #[arg(long, default_value = "/etc/kubernetes/manifests", value_name = "DIR")]
    pub manifests_dir: String,
    #[arg(long, default_value = "/etc/kubernetes/pki", value_name = "DIR")]
    pub pki_dir: String,
    /// Where the snapshot's directory will be on the node (default: its place in --repo)
    #[arg(long, value_name = "DIR")]
    pub from: Option<String>,
    /// Also put the saved certificates back (only when the node's own were lost)
    #[arg(long)]
    pub restore_pki: bool,
    #[command(flatten)]
    pub repo: RepoArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
#[command(after_help = "\
-n names the namespace of the repository claim, where the CronJob goes. The pod runs on a
control-plane node (node selector and tolerations for the master and control-plane
taints), on the host network to reach etcd on 127.0.0.1:2379, as uid 0 with every
capability dropped (kubeadm's keys are root-only files), with read-only hostPath mounts of
the certificate and manifest directories, and the repository claim. hostNetwork and
hostPath need a namespace whose Pod Security level is privileged.")]
pub struct ScheduleArgs {
    /// Schedule name (a DNS label)
    pub name: String,
    /// Cron expression (5 fields)
    #[arg(long, default_value = "0 */6 * * *")]
    pub schedule: String,
    /// Time zone of the schedule (Kubernetes 1.27+; UTC otherwise)
    #[arg(long, default_value = "UTC")]
    pub time_zone: String,
    /// The repository's PersistentVolumeClaim, in the schedule's namespace
    #[arg(long, value_name = "CLAIM")]
    pub claim: String,
    /// Scheduled snapshots to keep
    #[arg(long, default_value_t = 28, value_name = "N")]
    pub keep: usize,
    #[arg(long)]
    pub exclude_keys: bool,
    /// Keep the snapshots gzip-compressed
    #[arg(long)]
    pub compress: bool,
    #[arg(long, default_value = client::KUBEADM_ENDPOINT, value_name = "URL")]
    pub endpoints: String,
    #[arg(long, default_value = "/etc/kubernetes/pki", value_name = "DIR")]
    pub pki_dir: String,
    #[arg(long, default_value = "/etc/kubernetes/manifests", value_name = "DIR")]
    pub manifests_dir: String,
    #[arg(long, default_value = logbackup_core::ids::IMAGE)]
    pub image: String,
    /// Print the objects as YAML, apply nothing
    #[arg(long)]
    pub dry_run: bool,
}

/// `90m`, `36h`, `14d`, `2w`.
pub fn parse_age(text: &str) -> Result<SignedDuration, String> {
    let (number, unit) = text.split_at(
        text.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len()),
    );
    let n: i64 = number.parse().map_err(|_| {
        format!("{text:?}: give a number and a unit (s, m, h, d, w), as 36h or 14d")
    })?;
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return Err(format!("{text:?}: the unit must be s, m, h, d or w")),
    };
    Ok(SignedDuration::from_secs(n.saturating_mul(seconds)))
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_lowercase())
        .unwrap_or_else(|_| "localhost".into())
}

pub async fn run(args: &EtcdArgs, global: &Global) -> Result<ExitCode> {
    match &args.command {
        EtcdCommand::Save(a) => run_save(a).await,
        EtcdCommand::List(a) => run_list(a).await,
        EtcdCommand::Delete(a) => run_delete(a).await,
        EtcdCommand::Prune(a) => run_prune(a).await,
        EtcdCommand::Verify(a) => run_verify(a).await,
        EtcdCommand::RestorePlan(a) => run_restore_plan(a).await,
        EtcdCommand::Schedule(a) => run_schedule(a, global).await,
    }
}

async fn run_save(args: &SaveArgs) -> Result<ExitCode> {
    let client = args.conn.client()?;
    let target = args.repo.open()?;
    let origin = if args.scheduled {
        Origin::Scheduled
    } else {
        Origin::Manual
    };
    let options = SaveOptions {
        origin,
        node: args.node.clone().unwrap_or_else(host_name),
        pki_dir: (!args.snapshot_only).then(|| args.pki_dir.clone()),
        manifests_dir: (!args.snapshot_only).then(|| args.manifests_dir.clone()),
        exclude_keys: args.exclude_keys,
        compress: args.compress,
    };
    let bar = super::progress_bar("bytes");
    let record = target
        .save(&client, &options, now(), &std::env::temp_dir(), |done| {
            bar.set_position(done)
        })
        .await
        .with_context(|| format!("failed to save an etcd snapshot from {}", client.endpoint))?;
    bar.finish_and_clear();
    eprintln!(
        "saved {} (revision {}, {} keys, {}) in {}",
        record.name,
        record.revision,
        record.total_keys,
        human_bytes(record.size),
        target.describe(&record.name)
    );
    if let Some(keep) = args.keep {
        let policy = Policy {
            origin,
            keep: Some(keep),
            max_age: None,
        };
        let decisions = target
            .prune(policy, now(), false)
            .await
            .map_err(refuse_retention)?;
        for d in decisions.iter().filter(|d| d.delete) {
            eprintln!("deleted {} ({})", d.name, d.reason);
        }
    }
    emit(&record, args.output.format(), |r| {
        render::table(
            &["name", "revision", "keys", "size", "sha256"],
            &[vec![
                r.name.clone(),
                r.revision.to_string(),
                r.total_keys.to_string(),
                human_bytes(r.size),
                r.sha256.clone(),
            ]],
        )
    })?;
    Ok(ExitCode::SUCCESS)
}

/// A retention rule that would delete everything, or none at all, is refused (exit 3).
fn refuse_retention(e: TargetError) -> anyhow::Error {
    match e {
        TargetError::Retention(r) => Refused(r.to_string()).into(),
        other => other.into(),
    }
}

fn verified(l: &Listed) -> String {
    match &l.verification {
        Some(v) if v.passed => format!("passed {}", v.verified_at.strftime("%Y-%m-%d %H:%M")),
        Some(_) => "FAILED".into(),
        None => "-".into(),
    }
}

async fn run_list(args: &ListArgs) -> Result<ExitCode> {
    let listed = args.repo.open()?.list().await?;
    emit(&listed, args.output.format(), |ls| {
        let rows: Vec<Vec<String>> = ls
            .iter()
            .map(|l| match &l.record {
                Some(r) => vec![
                    l.name.clone(),
                    r.origin.to_string(),
                    r.node.clone(),
                    r.taken_at.strftime("%Y-%m-%d %H:%M:%S").to_string(),
                    r.revision.to_string(),
                    r.total_keys.to_string(),
                    human_bytes(r.size),
                    verified(l),
                    l.state.to_string(),
                ],
                None => {
                    let mut row = vec![l.name.clone()];
                    row.extend(std::iter::repeat_n("-".to_string(), 7));
                    row.push(l.state.to_string());
                    row
                }
            })
            .collect();
        render::table(
            &[
                "name",
                "origin",
                "node",
                "taken (UTC)",
                "revision",
                "keys",
                "size",
                "verified",
                "state",
            ],
            &rows,
        )
    })?;
    Ok(ExitCode::SUCCESS)
}

async fn run_delete(args: &DeleteArgs) -> Result<ExitCode> {
    let target = args.repo.open()?;
    let known: Vec<String> = target.list().await?.into_iter().map(|l| l.name).collect();
    // Every name is checked before the first is deleted.
    if let Some(missing) = args.names.iter().find(|n| !known.contains(n)) {
        return Err(Refused(format!(
            "no etcd snapshot named {missing} in {}; nothing was deleted",
            args.repo.repo
        ))
        .into());
    }
    for name in &args.names {
        if args.dry_run {
            eprintln!("would delete {name}");
        } else {
            target.delete(name).await?;
            eprintln!("deleted {name}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn run_prune(args: &PruneArgs) -> Result<ExitCode> {
    let origin = if args.scheduled {
        Origin::Scheduled
    } else {
        Origin::Manual
    };
    let policy = Policy {
        origin,
        keep: args.keep,
        max_age: args.older_than,
    };
    let decisions = args
        .repo
        .open()?
        .prune(policy, now(), args.dry_run)
        .await
        .map_err(refuse_retention)?;
    let dry = args.dry_run;
    emit(&decisions, args.output.format(), |ds| {
        let rows: Vec<Vec<String>> = ds
            .iter()
            .map(|d| {
                let action = match (d.delete, dry) {
                    (true, true) => "would delete",
                    (true, false) => "deleted",
                    _ => "kept",
                };
                vec![d.name.clone(), action.into(), d.reason.clone()]
            })
            .collect();
        render::table(&["name", "action", "reason"], &rows)
    })?;
    Ok(ExitCode::SUCCESS)
}

async fn run_verify(args: &VerifyArgs) -> Result<ExitCode> {
    let target = args.repo.open()?;
    let (record, _) = target.find(args.name.as_deref()).await?;
    let options = DrillOptions {
        etcd: args.etcd.clone(),
        restore_tool: args
            .etcdutl
            .clone()
            .unwrap_or_else(drill::default_restore_tool),
        scratch_parent: args.scratch_dir.clone().unwrap_or_else(std::env::temp_dir),
        start_timeout: Duration::from_secs(60),
    };
    eprintln!(
        "verifying {} (revision {}, {} keys)",
        record.name, record.revision, record.total_keys
    );
    let drill = target.verify(&record, &options, now, |stage| eprintln!("  {stage}"));
    // Ctrl-C drops the drill, whose guards stop the throwaway etcd and remove the scratch files.
    let verdict = tokio::select! {
        v = drill => v.with_context(|| format!("failed to verify {}", record.name))?,
        _ = tokio::signal::ctrl_c() => anyhow::bail!("interrupted: the throwaway etcd was stopped and its scratch directory removed; {} was not verified", record.name),
    };
    let passed = verdict.passed;
    emit(&verdict, args.output.format(), |v| {
        match (&v.comparison, v.passed) {
        (Some(c), true) => format!(
            "PASSED: {} restores: revision {}, {} keys in {} prefixes, as recorded (SHA-256 checked)\n",
            v.snapshot, c.restored_revision, c.keys, c.prefixes
        ),
        _ => format!(
            "FAILED: {}: {}\n",
            v.snapshot,
            v.failure.as_deref().unwrap_or("unknown")
        ),
    }
    })?;
    Ok(if passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

async fn run_restore_plan(args: &RestorePlanArgs) -> Result<ExitCode> {
    let target = args.repo.open()?;
    let (record, _) = target.find(Some(&args.name)).await?;
    let default_dir = match &target {
        Target::Dir(repo) => repo.dir(&record.name).display().to_string(),
        // Copied down from the object store first.
        Target::Remote(_) => format!("/root/{}", record.name),
    };
    let layout = restore_plan::Layout {
        data_dir: args.data_dir.clone(),
        manifests_dir: args.manifests_dir.clone(),
        pki_dir: args.pki_dir.clone(),
        snapshot_dir: args.from.clone().unwrap_or(default_dir),
        restore_pki: args.restore_pki,
    };
    let stamp = now().strftime("%Y%m%dT%H%M%SZ").to_string();
    let steps = restore_plan::plan(&record, &layout, &stamp);
    emit(&steps, args.output.format(), |steps| {
        let mut out = format!(
            "Restore {} (revision {}, etcd {}) on {}. Run these on the node as root; this command ran none of them.\n\n",
            record.name, record.revision, record.etcd_version, record.node
        );
        for (i, s) in steps.iter().enumerate() {
            out.push_str(&format!("{}. {}\n   # {}\n", i + 1, s.title, s.why));
            for c in &s.commands {
                out.push_str(&format!("   {c}\n"));
            }
            out.push('\n');
        }
        out
    })?;
    Ok(ExitCode::SUCCESS)
}

async fn run_schedule(args: &ScheduleArgs, global: &Global) -> Result<ExitCode> {
    use logbackup_core::etcd::cronjob::{self, EtcdCronJobPlan};
    logbackup_core::schedule::validate_name(&args.name)?;
    let schedule =
        logbackup_core::schedule::Schedule::parse(&args.schedule, Some(&args.time_zone))?;
    let kube = super::connect::kube_client(global).await?;
    let served = kube.served().await?.clone();
    if !served.at_least(27) && args.time_zone != "UTC" {
        return Err(Refused(format!(
            "{} has no CronJob timeZone (1.27+): use --time-zone UTC",
            served.name()
        ))
        .into());
    }
    let namespace = global
        .namespace
        .clone()
        .unwrap_or_else(|| kube.default_namespace().to_owned());
    let plan = EtcdCronJobPlan {
        name: args.name.clone(),
        namespace,
        schedule,
        image: args.image.clone(),
        claim: args.claim.clone(),
        pki_dir: args.pki_dir.clone(),
        manifests_dir: args.manifests_dir.clone(),
        endpoint: args.endpoints.clone(),
        keep: args.keep,
        exclude_keys: args.exclude_keys,
        compress: args.compress,
        server_minor: served.minor,
    };
    let objects = cronjob::render(&plan)?;
    if args.dry_run {
        print!("{}", logbackup_core::manifest::to_yaml_stream(&objects)?);
        return Ok(ExitCode::SUCCESS);
    }
    let sa = cronjob::service_account(&plan);
    logbackup::k8s::schedules::apply_companion(
        &kube,
        &logbackup::k8s::schedules::Companion::ServiceAccount(sa),
    )
    .await?;
    let applied = logbackup::k8s::schedules::apply_cron_job(&kube, &objects[1]).await?;
    eprintln!(
        "cronjob {}/{} applied ({}); its pods run on a control-plane node",
        plan.namespace,
        applied.metadata.name.unwrap_or_default(),
        args.schedule
    );
    Ok(ExitCode::SUCCESS)
}
