//! `repo register --type s3`: checks the cluster can have an S3 repository, registers it with the
//! bucket settings only, verifies it, and says how the credentials get into the keystore.

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use logbackup::es::{EsClient, EsError};
use logbackup::render;
use logbackup_core::s3_repository::{self, PutS3Repository, S3Settings, Support};
use serde_json::json;

use super::emit;
use super::repo::RegisterArgs;
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
    let version = es.version.clone();
    let nodes = if version.flavour == logbackup::es::Flavour::Elasticsearch && version.major >= 8 {
        Vec::new()
    } else {
        es.nodes_plugins().await?
    };
    let support = s3_repository::support(&version, &nodes)
        .map_err(|missing| Refused(format!("cannot register repository {name}: {missing}")))?;
    let client = args.s3.client.clone().unwrap_or_else(|| "default".into());
    let steps = s3_repository::keystore_steps(version.flavour, &client);
    let body = PutS3Repository::new(S3Settings {
        bucket: bucket.clone(),
        base_path: args.s3.base_path.clone(),
        client: args.s3.client.clone(),
        compress: !args.no_compress,
        readonly: args.readonly,
    });
    let how = match support {
        Support::BuiltIn => format!("{version} has S3 support built in"),
        Support::Plugin => format!(
            "every master and data node has the {} plugin",
            s3_repository::PLUGIN
        ),
    };
    let target = match &args.s3.base_path {
        Some(p) => format!("s3://{bucket}/{p}"),
        None => format!("s3://{bucket}"),
    };
    if args.dry_run {
        eprintln!("dry run: {how}; would register:");
        emit(&json!({ name: body }), args.output.format(), |_| {
            render::table(
                &["name", "type", "bucket", "base_path", "client", "readonly"],
                &[vec![
                    name.to_string(),
                    "s3".into(),
                    bucket.clone(),
                    args.s3.base_path.clone().unwrap_or_else(|| "-".into()),
                    client.clone(),
                    args.readonly.to_string(),
                ]],
            )
        })?;
        eprintln!("S3 credentials belong in the keystore, not in the repository settings:");
        for line in &steps {
            eprintln!("  {line}");
        }
        return Ok(ExitCode::SUCCESS);
    }
    es.put_repository(name, &body).await?;
    eprintln!("registered repository {name} at {target} ({how})");
    match es.verify_repository(name).await {
        Ok(verified) => {
            eprintln!("verified on {} nodes", verified.nodes.len());
            Ok(ExitCode::SUCCESS)
        }
        Err(e) if matches!(e.kind(), EsError::RepositoryVerification(_)) => {
            eprintln!("S3 credentials belong in the keystore of every node (client {client}):");
            for line in &steps {
                eprintln!("  {line}");
            }
            Err(anyhow::Error::new(e).context(format!(
                "repository {name} is registered but the nodes cannot use {target}; put the credentials in the keystore as above, then run `kubectl logbackup repo verify {name}`"
            )))
        }
        Err(e) => Err(e.into()),
    }
}
