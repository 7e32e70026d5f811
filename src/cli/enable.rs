//! `kubectl logbackup enable` and `disable`: the flags, one call to
//! `logbackup::workflows::enable::{enable, disable}`, the dry-run plan and the progress printed.

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use clap::{Args, ValueEnum};
use logbackup::enable::{Action, EnableOptions, Via};
use logbackup::k8s::{Cluster, RestartSettings};
use logbackup::workflows::enable::{self as workflow, Common, EnableFailure, LiveEsSteps, Said};
use serde_json::Value;

use super::connect::{kube_client, kube_config, EsArgs};
use super::{Global, Refused};

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ViaArg {
    /// The webhook when it is installed, else a direct patch
    Auto,
    /// Label the StatefulSets and let the webhook inject
    Webhook,
    /// Apply the injection directly (the same code the webhook runs)
    Patch,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RestartArg {
    /// Restart OnDelete pods one at a time, the Elasticsearch way
    Rolling,
    /// Restart nothing; print the commands to run
    None,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum HealthArg {
    Green,
    /// For clusters that can never be green (one data node and replicas > 0)
    Yellow,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum DryRunFormat {
    Yaml,
    Json,
}

/// Flags shared by enable and disable.
#[derive(Debug, Args)]
pub struct CommonArgs {
    /// What to change, as kubectl spells it: sts/NAME, statefulset/NAME, es/NAME (ECK)
    #[arg(required = true, value_name = "TYPE/NAME")]
    pub targets: Vec<String>,
    /// Restart pods that the StatefulSet controller will not restart (updateStrategy OnDelete)
    #[arg(long, value_enum, default_value_t = RestartArg::Rolling)]
    pub restart: RestartArg,
    /// Cluster health to wait for after each pod
    #[arg(long, value_enum, default_value_t = HealthArg::Green)]
    pub wait_for_status: HealthArg,
    /// Seconds to wait for each pod, node and health check before stopping
    #[arg(long, default_value_t = 900, value_name = "SECONDS")]
    pub timeout: u64,
    /// Seconds between checks while waiting
    #[arg(long, default_value_t = 5, value_name = "SECONDS", hide = true)]
    pub poll_interval: u64,
    /// Resume an interrupted restart from this pod (printed when it stopped)
    #[arg(long, value_name = "POD")]
    pub resume_from: Option<String>,
    /// Print every object that would be created or changed; change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Format of the --dry-run output
    #[arg(short = 'o', long = "output", value_enum, default_value_t = DryRunFormat::Yaml)]
    pub output: DryRunFormat,
    #[command(flatten)]
    pub es: EsArgs,
}

#[derive(Debug, Args)]
#[command(
    after_help = "Example (KubeSphere):\n  kubectl logbackup enable -n kubesphere-logging-system \\\n    sts/elasticsearch-logging-data sts/elasticsearch-logging-discovery \\\n    --storage-class nfs-client --size 100Gi\n\nManual: https://github.com/logbackup/kubectl-logbackup/blob/main/docs/enable.md"
)]
pub struct EnableArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Storage class for the ReadWriteMany claim, when it has to be created
    #[arg(long, value_name = "CLASS")]
    pub storage_class: Option<String>,
    /// Size of the claim, when it has to be created
    #[arg(long, default_value = "100Gi", value_name = "QUANTITY")]
    pub size: String,
    /// Claim name (default: the StatefulSet name without its role suffix, plus -backup)
    #[arg(long, value_name = "NAME")]
    pub claim: Option<String>,
    /// Where to mount the repository in the Elasticsearch container (default: per image)
    #[arg(long, value_name = "PATH")]
    pub path: Option<String>,
    /// The Elasticsearch container's name (default: detected)
    #[arg(long, value_name = "NAME")]
    pub container: Option<String>,
    /// How the StatefulSets get the volume
    #[arg(long, value_enum, default_value_t = ViaArg::Auto)]
    pub via: ViaArg,
    /// Do not register and verify the repository at the end
    #[arg(long)]
    pub skip_register: bool,
}

#[derive(Debug, Args)]
#[command(
    after_help = "The claim and the snapshots on it stay, and the repository stays registered.\n\nExample:\n  kubectl logbackup disable -n kubesphere-logging-system \\\n    sts/elasticsearch-logging-data sts/elasticsearch-logging-discovery\n\nManual: https://github.com/logbackup/kubectl-logbackup/blob/main/docs/enable.md#disable"
)]
pub struct DisableArgs {
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Namespace and client: -n, else the kubeconfig context's namespace.
async fn cluster(global: &Global) -> Result<Cluster> {
    let client = kube_client(global).await?;
    let namespace = global
        .namespace
        .clone()
        .unwrap_or_else(|| client.default_namespace().to_owned());
    Ok(Cluster::new(client, &namespace))
}

fn print_dry_run(actions: &[Action], format: DryRunFormat) -> Result<()> {
    let docs: Vec<Value> = actions
        .iter()
        .map(|a| match a {
            Action::Create { object } => object.clone(),
            other => serde_json::to_value(other).unwrap_or(Value::Null),
        })
        .collect();
    let text = match format {
        DryRunFormat::Yaml => logbackup::manifest::to_yaml_stream(&docs)?,
        DryRunFormat::Json => serde_json::to_string_pretty(&docs)? + "\n",
    };
    print!("{text}");
    Ok(())
}

impl CommonArgs {
    fn workflow(&self) -> Common {
        Common {
            targets: self.targets.clone(),
            restart: self.restart == RestartArg::Rolling,
            dry_run: self.dry_run,
            repository: self.es.repository.clone(),
            timeout: Duration::from_secs(self.timeout),
            interval: Duration::from_secs(self.poll_interval.max(1)),
        }
    }

    /// The Elasticsearch side of the restart and registration, with Ctrl-C wired to stop it.
    fn es_steps<'a>(&self, cluster: &'a Cluster, global: &Global) -> LiveEsSteps<'a> {
        let settings = RestartSettings {
            health: match self.wait_for_status {
                HealthArg::Green => "green",
                HealthArg::Yellow => "yellow",
            }
            .into(),
            timeout: Duration::from_secs(self.timeout),
            interval: Duration::from_secs(self.poll_interval.max(1)),
        };
        let mut steps = LiveEsSteps::new(
            cluster,
            self.es.options(global),
            kube_config(global),
            settings,
        );
        steps.resume_from = self.resume_from.clone();
        steps.on_restart = Some(stop_on_ctrl_c);
        steps
    }
}

/// Ctrl-C stops the rolling restart before the next pod; a second Ctrl-C quits at once.
fn stop_on_ctrl_c(flag: Arc<AtomicBool>) {
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            flag.store(true, Ordering::SeqCst);
            eprintln!("Ctrl-C: stopping after the current pod (Ctrl-C again to quit at once; then re-enable allocation yourself)");
            if tokio::signal::ctrl_c().await.is_ok() {
                std::process::exit(130);
            }
        }
    });
}

/// Prints what the workflow says as it goes, the restart's steps with the time since it began.
fn say() -> impl FnMut(Said) {
    let started = Instant::now();
    move |said| match said {
        Said::Note(line) => eprintln!("{line}"),
        Said::Restart(p) => eprintln!(
            "[{:>7.1}s] {}/{} {}: {}",
            started.elapsed().as_secs_f64(),
            p.index + 1,
            p.total,
            p.pod,
            p.step
        ),
        Said::Snapshot(_) | Said::Recovery(_) => {}
    }
}

/// A refusal exits 3 (nothing changed); the rest are errors.
fn failed(e: EnableFailure) -> anyhow::Error {
    match e {
        EnableFailure::Refused(reason) => Refused(reason).into(),
        other => other.into(),
    }
}

pub async fn run_enable(args: &EnableArgs, global: &Global) -> Result<ExitCode> {
    let common = &args.common;
    // Bad targets are reported before the kubeconfig is read.
    workflow::parse_targets(&common.targets).map_err(failed)?;
    let cluster = cluster(global).await?;
    let options = EnableOptions {
        claim: args.claim.clone(),
        storage_class: args.storage_class.clone(),
        size: args.size.clone(),
        via: match args.via {
            ViaArg::Auto => Via::Auto,
            ViaArg::Webhook => Via::Webhook,
            ViaArg::Patch => Via::Patch,
        },
        restart: common.restart == RestartArg::Rolling,
        path: args.path.clone(),
        container: args.container.clone(),
    };
    let mut es = common.es_steps(&cluster, global);
    let done = workflow::enable(
        &cluster,
        &mut es,
        &common.workflow(),
        &options,
        !args.skip_register,
        &mut say(),
    )
    .await
    .map_err(failed)?;
    if common.dry_run {
        eprintln!(
            "dry run: nothing changed; claim {}, via {}",
            done.plan.claim, done.plan.via
        );
        print_dry_run(&done.plan.actions, common.output)?;
        if !args.skip_register {
            eprintln!(
                "then: register repository {} at {} and verify it",
                common.es.repository, done.location
            );
        }
    }
    if let Some(command) = &done.register_later {
        eprintln!("not registering yet: the pods still run without the repository. After restarting them:\n  {command}");
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn run_disable(args: &DisableArgs, global: &Global) -> Result<ExitCode> {
    let common = &args.common;
    workflow::parse_targets(&common.targets).map_err(failed)?;
    let cluster = cluster(global).await?;
    let mut es = common.es_steps(&cluster, global);
    let done = workflow::disable(&cluster, &mut es, &common.workflow(), &mut say())
        .await
        .map_err(failed)?;
    if common.dry_run {
        eprintln!("dry run: nothing changed");
        print_dry_run(&done.plan.actions, common.output)?;
        return Ok(ExitCode::SUCCESS);
    }
    for line in &done.manual_restart {
        eprintln!("{line}");
    }
    eprintln!("disabled. The claim and the snapshots on it stay; the repository stays registered (remove it with `kubectl logbackup repo remove {}` before the pods lose the mount, or it will fail verification)", common.es.repository);
    Ok(ExitCode::SUCCESS)
}
