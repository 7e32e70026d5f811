//! `kubectl logbackup webhook install|uninstall|status`: objects and certificates decided in
//! `logbackup::webhook_install`, applied through `logbackup::k8s::webhook`.

use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, Subcommand};
use logbackup::k8s::elasticsearch::forward_service;
use logbackup::k8s::webhook as kube_webhook;
use logbackup::k8s::Kube;
use logbackup::webhook_install::certs;
use logbackup::webhook_install::manifests::{
    DEFAULT_NAMESPACE, SERVICE, TLS_SECRET, WEBHOOK_CONFIG, WEBHOOK_PORT,
};
use logbackup::workflows::webhook as webhook_workflow;
use serde_json::Value;

use super::connect::kube_client;
use super::schedule::ManifestFormat;
use super::tls_probe;
use super::{now, Global};

#[derive(Debug, Args)]
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
pub struct StatusArgs {}

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
    let options = webhook_workflow::InstallOptions {
        namespace: ns.clone(),
        cert_manager: args.cert_manager,
        dry_run: args.dry_run,
    };
    let done = webhook_workflow::install(&client, &options, now()).await?;
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
    let gone = webhook_workflow::uninstall(&client, ns, args.dry_run).await?;
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

async fn status(_args: &StatusArgs, global: &Global) -> Result<ExitCode> {
    let client = kube_client(global).await?;
    let ns = &namespace(global);
    let served = client.served().await?;
    let seen = kube_webhook::observe(
        &client,
        served,
        ns,
        SERVICE,
        WEBHOOK_CONFIG,
        TLS_SECRET,
        SERVICE,
    )
    .await?;
    let mut healthy = true;
    match seen.deployment {
        Some((ready, want)) if ready >= want && want > 0 => {
            println!("deployment: {ready}/{want} ready")
        }
        Some((ready, want)) => {
            healthy = false;
            println!("deployment: {ready}/{want} ready  PROBLEM: no webhook pod is ready; see `kubectl get pods -n {ns} -l app.kubernetes.io/name={SERVICE}` and `kubectl describe deployment -n {ns} {SERVICE}`");
        }
        None => {
            healthy = false;
            println!("deployment: {ns}/{SERVICE} not found  PROBLEM (run webhook install)");
        }
    }
    if seen.ready_endpoints == 0 {
        healthy = false;
        println!("service: no ready endpoints  PROBLEM: the API server cannot reach the webhook, so it refuses every write to a StatefulSet labelled logbackup.io/inject=enabled (failurePolicy Fail)");
    } else {
        println!("service: {} ready endpoints", seen.ready_endpoints);
    }
    match (&seen.ca_bundle, &seen.serving_cert) {
        (Some(ca), Some(cert)) if !ca.trim().is_empty() => {
            let names = certs::service_names(SERVICE, ns);
            let h = certs::check(ca, cert, &names, now())?;
            println!(
                "certificate: chain {}, names {}, serving expires in {} days, CA in {} days",
                if h.chain_verifies {
                    "verifies"
                } else {
                    "BROKEN"
                },
                if h.names_covered {
                    "cover the Service"
                } else {
                    "MISSING"
                },
                h.serving_days_left,
                h.ca_days_left
            );
            for p in &h.problems {
                println!("  PROBLEM: {p}");
            }
            for w in &h.warnings {
                println!("  warning: {w}");
            }
            healthy &= h.healthy();
        }
        (None, _) | (Some(_), None) => {
            healthy = false;
            println!("certificate: caBundle or serving certificate missing  PROBLEM");
        }
        (Some(_), Some(_)) => {
            healthy = false;
            println!("certificate: the caBundle is empty  PROBLEM (cert-manager's cainjector has not filled it yet?)");
        }
    }
    if let Some(ca) = seen.ca_bundle.as_deref().filter(|c| !c.trim().is_empty()) {
        if seen.ready_endpoints > 0 {
            healthy &= handshake(&client, ns, ca, seen.serving_cert.as_deref()).await;
        }
    }
    Ok(if healthy {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Port-forwards to a ready webhook pod and shakes hands as the API server would: trusting only
/// the caBundle, as the Service's DNS name. True when the API server could call the webhook.
async fn handshake(client: &Kube, ns: &str, ca: &str, secret_cert: Option<&str>) -> bool {
    let name = format!("{SERVICE}.{ns}.svc");
    let served = async {
        let port = forward_service(client, ns, SERVICE, WEBHOOK_PORT).await?;
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        tls_probe::served_certificate(addr, ca, &name, std::time::Duration::from_secs(10)).await
    }
    .await;
    match served {
        Ok(der) if secret_cert.and_then(tls_probe::first_der).as_ref() == Some(&der) => {
            println!("handshake: trusted as {name}, serving the Secret's certificate");
            true
        }
        Ok(_) => {
            println!("handshake: trusted as {name}, but serving another certificate than the Secret holds");
            println!(
                "  warning: the webhook re-reads its files every 10s; restart it if this persists"
            );
            true
        }
        Err(e) => {
            println!("handshake: FAILED  PROBLEM: {e:#}");
            false
        }
    }
}
