//! `repo register --type s3`: the S3 flags, and the keystore steps printed; the checks, registering
//! and verifying are `logbackup::workflows::repo::register_s3`.

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use logbackup::es::EsClient;
use logbackup::render;
use logbackup::workflows::repo::{self as repo_workflow, RepoError, S3Repository};

use super::emit;
use super::repo::{refused, RegisterArgs};
use super::Refused;

#[derive(Debug, Args, Clone, Default)]
#[command(next_help_heading = "S3 repository (--type s3)")]
pub struct S3RepoArgs {
    /// Bucket holding the repository
    #[arg(long, required_if_eq("kind", "s3"))]
    pub bucket: Option<String>,
    /// Key prefix inside the bucket
    #[arg(long, value_name = "PREFIX")]
    pub base_path: Option<String>,
    /// The s3.client.NAME settings (endpoint, keystore credentials) to use [Elasticsearch's default: default]
    #[arg(long, value_name = "NAME")]
    pub client: Option<String>,
}

pub async fn register(es: &EsClient, name: &str, args: &RegisterArgs) -> Result<ExitCode> {
    let Some(bucket) = args.s3.bucket.clone() else {
        return Err(Refused("--bucket is required for an s3 repository".into()).into());
    };
    let repo = S3Repository {
        name: name.to_owned(),
        bucket,
        base_path: args.s3.base_path.clone(),
        client: args.s3.client.clone(),
        compress: !args.no_compress,
        readonly: args.readonly,
    };
    let done = match repo_workflow::register_s3(es, &repo, args.dry_run).await {
        Ok(done) => done,
        Err(e @ RepoError::S3Unusable { .. }) => {
            if let RepoError::S3Unusable { client, steps, .. } = &e {
                eprintln!("S3 credentials belong in the keystore of every node (client {client}):");
                for line in steps {
                    eprintln!("  {line}");
                }
            }
            return Err(e.into());
        }
        Err(e) => return Err(refused(e)),
    };
    if args.dry_run {
        eprintln!("dry run: {}; would register:", done.checked);
        emit(&done.request, args.output.format(), |_| {
            render::table(
                &["name", "type", "bucket", "base_path", "client", "readonly"],
                &[vec![
                    name.to_string(),
                    "s3".into(),
                    repo.bucket.clone(),
                    repo.base_path.clone().unwrap_or_else(|| "-".into()),
                    repo.client_name().to_owned(),
                    repo.readonly.to_string(),
                ]],
            )
        })?;
        eprintln!("S3 credentials belong in the keystore, not in the repository settings:");
        for line in &done.keystore_steps {
            eprintln!("  {line}");
        }
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!(
        "registered repository {name} at {} ({})",
        repo.url(),
        done.checked
    );
    if let Some(nodes) = done.verified_nodes {
        eprintln!("verified on {nodes} nodes");
    }
    Ok(ExitCode::SUCCESS)
}
