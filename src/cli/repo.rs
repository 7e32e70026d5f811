//! `kubectl logbackup repo register|list|verify|remove`.

use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, Subcommand};
use logbackup::render;
use logbackup::workflows::repo::{self as repo_workflow, FsRepository, RepoError};

use super::connect::{connect, EsArgs};
use super::{emit, Global, OutputArgs, Refused};

#[derive(Debug, Args)]
#[command(after_help = "\
Examples (KubeSphere):
  kubectl logbackup repo register ks-log-snapshots \\
      -n kubesphere-logging-system \\
      --location /usr/share/elasticsearch/backup/ks-log-snapshots
  kubectl logbackup repo list -n kubesphere-logging-system
  kubectl logbackup repo sync /backup/ks-log-snapshots s3://logs-offsite/ks \\
      --endpoint http://minio:9000
  kubectl logbackup repo volume-snapshots list -n kubesphere-logging-system

Manual: https://github.com/logbackup/kubectl-logbackup/blob/main/docs/repo.md")]
pub struct RepoArgs {
    #[command(subcommand)]
    pub command: RepoCommand,
}

#[derive(Debug, Subcommand)]
pub enum RepoCommand {
    /// Register a shared-filesystem repository, after checking path.repo on every node, then verify it
    #[command(
        after_help = "Example (KubeSphere):\n  kubectl logbackup repo register ks-log-snapshots \\\n    -n kubesphere-logging-system \\\n    --location /usr/share/elasticsearch/backup/ks-log-snapshots"
    )]
    Register(RegisterArgs),
    /// List registered repositories
    List(ListArgs),
    /// Check that every node can write to the repository
    Verify(NameArgs),
    /// Unregister a repository (its snapshot files stay where they are)
    Remove(RemoveArgs),
    /// Copy a repository between a directory and S3 (either way), incrementally and crash-consistently
    Sync(super::sync::SyncArgs),
    /// CSI VolumeSnapshots of the repository claim (taken by backup --volume-snapshot-class)
    VolumeSnapshots(super::volume_snapshots::VolumeSnapshotsArgs),
}

#[derive(Debug, Args)]
pub struct RegisterArgs {
    /// Repository name (default: --repository)
    pub name: Option<String>,
    /// Repository type: fs (a shared volume) or s3 (a bucket; built into Elasticsearch 8+, the
    /// repository-s3 plugin elsewhere)
    #[arg(long = "type", value_enum, default_value_t = RepoType::Fs)]
    pub kind: RepoType,
    /// Directory on the shared volume, inside path.repo on every master and data node (fs)
    #[arg(long, value_name = "PATH", required_if_eq("kind", "fs"))]
    pub location: Option<String>,
    #[command(flatten)]
    pub s3: super::repo_s3::S3RepoArgs,
    /// Register read-only, as a second cluster reading the same repository must
    #[arg(long)]
    pub readonly: bool,
    /// Do not compress metadata files
    #[arg(long)]
    pub no_compress: bool,
    /// Check and show what would be registered, change nothing
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
pub struct NameArgs {
    /// Repository name (default: --repository)
    pub name: Option<String>,
    #[command(flatten)]
    pub es: EsArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct RemoveArgs {
    /// Repository name (default: --repository)
    pub name: Option<String>,
    /// Show what would be removed, change nothing
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub es: EsArgs,
}

pub async fn run(args: &RepoArgs, global: &Global) -> Result<ExitCode> {
    match &args.command {
        RepoCommand::Register(a) => register(a, global).await,
        RepoCommand::List(a) => list(a, global).await,
        RepoCommand::Verify(a) => verify(a, global).await,
        RepoCommand::Remove(a) => remove(a, global).await,
        RepoCommand::Sync(a) => super::sync::run(a).await,
        RepoCommand::VolumeSnapshots(a) => super::volume_snapshots::run(a, global).await,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RepoType {
    Fs,
    S3,
}

async fn register(args: &RegisterArgs, global: &Global) -> Result<ExitCode> {
    let name = args
        .name
        .clone()
        .unwrap_or_else(|| args.es.repository.clone());
    let location = match (args.kind, &args.location) {
        (RepoType::S3, _) => None,
        (RepoType::Fs, Some(location)) => Some(location.clone()),
        (RepoType::Fs, None) => {
            return Err(Refused("--location is required for an fs repository".into()).into())
        }
    };
    let es = connect(&args.es, global).await?;
    let Some(location) = location else {
        return super::repo_s3::register(&es, &name, args).await;
    };
    let repo = FsRepository {
        name: name.clone(),
        location: location.clone(),
        compress: !args.no_compress,
        readonly: args.readonly,
    };
    let done = repo_workflow::register_fs(&es, &repo, args.dry_run)
        .await
        .map_err(refused)?;
    if args.dry_run {
        eprintln!("dry run: {}; would register:", done.checked);
        emit(&done.request, args.output.format(), |_| {
            render::table(
                &["name", "type", "location", "compress", "readonly"],
                &[vec![
                    name.clone(),
                    "fs".into(),
                    location.clone(),
                    repo.compress.to_string(),
                    repo.readonly.to_string(),
                ]],
            )
        })?;
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!("registered repository {name} at {location}");
    if let Some(nodes) = done.verified_nodes {
        eprintln!("verified on {nodes} nodes");
    }
    Ok(ExitCode::SUCCESS)
}

/// A pre-check's refusal exits 3 (nothing changed); everything else is an error.
pub(super) fn refused(e: RepoError) -> anyhow::Error {
    match e {
        RepoError::Refused { .. } => Refused(e.to_string()).into(),
        other => other.into(),
    }
}

async fn list(args: &ListArgs, global: &Global) -> Result<ExitCode> {
    let es = connect(&args.es, global).await?;
    let repos = es.repositories(None).await?;
    emit(&repos, args.output.format(), |repos| {
        let rows: Vec<Vec<String>> = repos
            .iter()
            .map(|(name, r)| {
                vec![
                    name.clone(),
                    r.kind.clone(),
                    r.location().unwrap_or("-").to_string(),
                    r.flag("compress").to_string(),
                    r.flag("readonly").to_string(),
                ]
            })
            .collect();
        render::table(&["name", "type", "location", "compress", "readonly"], &rows)
    })?;
    Ok(ExitCode::SUCCESS)
}

async fn verify(args: &NameArgs, global: &Global) -> Result<ExitCode> {
    let name = args
        .name
        .clone()
        .unwrap_or_else(|| args.es.repository.clone());
    let es = connect(&args.es, global).await?;
    let verified = es.verify_repository(&name).await?;
    emit(&verified, args.output.format(), |v| {
        let rows: Vec<Vec<String>> = v
            .nodes
            .iter()
            .map(|(id, n)| vec![n.name.clone(), id.clone()])
            .collect();
        render::table(&["node", "id"], &rows)
    })?;
    eprintln!(
        "repository {name} verified on {} nodes",
        verified.nodes.len()
    );
    Ok(ExitCode::SUCCESS)
}

async fn remove(args: &RemoveArgs, global: &Global) -> Result<ExitCode> {
    let name = args
        .name
        .clone()
        .unwrap_or_else(|| args.es.repository.clone());
    let es = connect(&args.es, global).await?;
    repo_workflow::remove(&es, &name, args.dry_run).await?;
    if args.dry_run {
        eprintln!("dry run: would unregister repository {name} (its snapshot files would stay)");
    } else {
        eprintln!("unregistered repository {name}; its snapshot files stay on the volume");
    }
    Ok(ExitCode::SUCCESS)
}
