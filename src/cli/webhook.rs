//! `kubectl logbackup webhook install|uninstall|status`: flags in, one workflow call
//! (`logbackup::workflows::{webhook_install, webhook_status}`), the result printed.

use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, Subcommand};
use logbackup::webhook_install::health::{Health, Note};
use logbackup::webhook_install::manifests::DEFAULT_NAMESPACE;
use logbackup::workflows::webhook_install as install_workflow;
use logbackup::workflows::webhook_status as status_workflow;
use serde_json::Value;

use super::connect::kube_client;
use super::schedule::ManifestFormat;
use super::{emit, now, Global, OutputArgs};

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  kubectl logbackup webhook install
  kubectl logbackup webhook status
  kubectl logbackup webhook uninstall --dry-run

Manual: https://github.com/logbackup/kubectl-logbackup/blob/main/docs/webhook.md")]
pub struct WebhookArgs {
    #[command(subcommand)]
    pub command: WebhookCommand,
}

#[derive(Debug, Subcommand)]
pub enum WebhookCommand {
    /// Install (or update) the admission webhook, with our own certificates or cert-manager's
    #[command(after_help = "\
-n/--namespace is the webhook's namespace here (default logbackup-system).
Without --cert-manager the plugin generates a CA (10 years) and a serving certificate (1 year) for
logbackup-webhook.<namespace>.svc; running install again keeps a valid CA and renews the serving
certificate in its last 30 days. The CA key is kept in Secret logbackup-webhook-ca, which no pod mounts.

Examples:
  kubectl logbackup webhook install
  kubectl logbackup webhook install --cert-manager --dry-run -o yaml")]
    Install(InstallArgs),
    /// Remove what install created (the namespace only if install created it)
    Uninstall(UninstallArgs),
    /// Is the webhook ready and serving a certificate the API server trusts? Exit 1 when not
    Status(StatusArgs),
}

#[derive(Debug, Args)]
pub struct InstallArgs {
    /// Let cert-manager (v1, installed already) issue and rotate the certificates
    #[arg(long)]
    pub cert_manager: bool,
    /// Print the objects, change nothing (Secret keys are not printed)
    #[arg(long)]
    pub dry_run: bool,
    /// Print the objects as
    #[arg(short = 'o', long = "output", value_enum)]
    pub output: Option<ManifestFormat>,
}

#[derive(Debug, Args)]
pub struct UninstallArgs {
    /// Show what would be deleted, delete nothing
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub output: OutputArgs,
}

pub async fn run(args: &WebhookArgs, global: &Global) -> Result<ExitCode> {
    match &args.command {
        WebhookCommand::Install(a) => install(a, global).await,
        WebhookCommand::Uninstall(a) => uninstall(a, global).await,
        WebhookCommand::Status(a) => status(a, global).await,
    }
}

/// The webhook's namespace: -n/--namespace, else logbackup-system (not the context's namespace:
/// the manifests and the certificate names default to it).
fn namespace(global: &Global) -> String {
    global
        .namespace
        .clone()
        .unwrap_or_else(|| DEFAULT_NAMESPACE.to_string())
}

/// Secret data is not printed: a dry run's output is for reading and reviewing.
fn redacted(objects: &[Value]) -> Vec<Value> {
    objects
        .iter()
        .cloned()
        .map(|mut o| {
            if o["kind"] == "Secret" {
                if let Some(data) = o["data"].as_object_mut() {
                    for v in data.values_mut() {
                        *v = Value::String("<generated at install>".into());
                    }
                }
            }
            o
        })
        .collect()
}

fn print(objects: &[Value], format: ManifestFormat) -> Result<()> {
    let text = match format {
        ManifestFormat::Yaml => logbackup::manifest::to_yaml_stream(objects)?,
        ManifestFormat::Json => format!("{}\n", serde_json::to_string_pretty(objects)?),
    };
    print!("{text}");
    Ok(())
}

async fn install(args: &InstallArgs, global: &Global) -> Result<ExitCode> {
    let client = kube_client(global).await?;
    let ns = namespace(global);
    let options = install_workflow::InstallOptions {
        namespace: ns.clone(),
        cert_manager: args.cert_manager,
        dry_run: args.dry_run,
    };
    let done = install_workflow::install(&client, &options, now()).await?;
    for message in &done.messages {
        eprintln!("{message}");
    }
    if args.dry_run {
        eprintln!("dry run: would apply {} objects", done.objects.len());
        print(
            &redacted(&done.objects),
            args.output.unwrap_or(ManifestFormat::Yaml),
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!(
        "applied {} objects; check with: kubectl logbackup webhook status -n {ns}",
        done.objects.len()
    );
    if let Some(format) = args.output {
        print(&redacted(&done.objects), format)?;
    }
    Ok(ExitCode::SUCCESS)
}

async fn uninstall(args: &UninstallArgs, global: &Global) -> Result<ExitCode> {
    let client = kube_client(global).await?;
    let ns = &namespace(global);
    let gone = install_workflow::uninstall(&client, ns, args.dry_run).await?;
    let prefix = if args.dry_run {
        "dry run: would delete"
    } else {
        "deleted"
    };
    for d in &gone.deleted {
        eprintln!("{prefix} {d}");
    }
    if gone.namespace_kept {
        eprintln!("namespace {ns} was not created by install: left in place");
    }
    Ok(ExitCode::SUCCESS)
}

async fn status(args: &StatusArgs, global: &Global) -> Result<ExitCode> {
    let client = kube_client(global).await?;
    let health = status_workflow::status(&client, &namespace(global), now()).await?;
    emit(&health, args.output.format(), health_table)?;
    Ok(if health.healthy {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// One line per part, its problem on the same line; further findings indented below.
fn health_table(health: &Health) -> String {
    let mut out = String::new();
    for check in &health.checks {
        out.push_str(&format!("{}: {}", check.part.as_str(), check.summary));
        if let Some(problem) = &check.problem {
            out.push_str(&format!("  PROBLEM: {problem}"));
        }
        out.push('\n');
        for note in &check.notes {
            match note {
                Note::Problem(p) => out.push_str(&format!("  PROBLEM: {p}\n")),
                Note::Warning(w) => out.push_str(&format!("  warning: {w}\n")),
            }
        }
    }
    out
}
