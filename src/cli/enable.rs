//! `kubectl logbackup enable` and `disable`: read the targets, plan (pure, in `logbackup::enable`),
//! print or apply the plan, restart the pods the Elasticsearch way, register the repository.

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use logbackup::enable::restart::{self, Progress};
use logbackup::enable::{
    self, Action, EnableOptions, PatchKind, PatchType, Target, TargetKind, Via,
};
use logbackup::k8s::{Cluster, Kind, LiveRestart, RestartSettings};
use serde_json::Value;

use super::connect::{connect, kube_client, EsArgs};
use super::repo::{register, RegisterArgs};
use super::{Global, OutputArgs, OutputFormat, Refused};

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
    after_help = "Example (KubeSphere):\n  kubectl logbackup enable -n kubesphere-logging-system \\\n    sts/elasticsearch-logging-data sts/elasticsearch-logging-discovery \\\n    --storage-class nfs-client --size 100Gi"
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
    after_help = "The claim and the snapshots on it stay, and the repository stays registered."
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

/// Bad targets are reported before anything else is attempted.
fn parse_targets(texts: &[String]) -> Result<Vec<Target>> {
    texts
        .iter()
        .map(|t| enable::parse_target(t).map_err(|e| anyhow::Error::new(Refused(e.to_string()))))
        .collect()
}

/// The objects to plan on; ECK-generated StatefulSets are swapped for their `Elasticsearch`.
async fn fetch_targets(cluster: &Cluster, targets: &[Target]) -> Result<Vec<Value>> {
    let mut objects: Vec<Value> = Vec::new();
    for target in targets {
        let kind = match target.kind {
            TargetKind::StatefulSet => Kind::StatefulSet,
            TargetKind::Elasticsearch => Kind::Elasticsearch,
        };
        let mut object = cluster
            .get(kind, &target.name)
            .await?
            .with_context(|| format!("{target} not found in namespace {}", cluster.namespace()))?;
        if let Some(es) = enable::eck_cluster_of(&object) {
            eprintln!("{target} is managed by ECK: changing elasticsearch/{es} instead");
            object = cluster
                .get(Kind::Elasticsearch, &es)
                .await?
                .with_context(|| format!("elasticsearch/{es} (owner of {target}) not found"))?;
        }
        let id = |v: &Value| (v.get("kind").cloned(), v.pointer("/metadata/name").cloned());
        if !objects.iter().any(|o| id(o) == id(&object)) {
            objects.push(object);
        }
    }
    Ok(objects)
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

async fn apply(cluster: &Cluster, actions: &[Action]) -> Result<()> {
    for action in actions {
        match action {
            Action::Create { object } => {
                cluster.create(Kind::PersistentVolumeClaim, object).await?;
                eprintln!(
                    "created persistentvolumeclaim/{}",
                    object["metadata"]["name"].as_str().unwrap_or_default()
                );
            }
            Action::UseClaim { name, phase } => {
                eprintln!("using persistentvolumeclaim/{name} ({phase}, ReadWriteMany)")
            }
            Action::Patch {
                kind,
                name,
                patch_type,
                patch,
            } => {
                let k = Kind::from_name(kind.as_str())
                    .with_context(|| format!("cannot patch a {kind}"))?;
                if let Err(e) = cluster.patch(k, name, patch_type.as_str(), patch).await {
                    if e.is_conflict() {
                        return Err(anyhow::Error::new(e).context(format!(
                            "the API server refused the patch to {kind}/{name} and applied none of it; if it changed since it was read, run the command again"
                        )));
                    }
                    return Err(e.into());
                }
                eprintln!("patched {kind}/{name} ({patch_type} patch)");
            }
            Action::Restart { .. } => {}
        }
    }
    Ok(())
}

/// Restarts `pods` with progress on stderr; Ctrl-C stops before the next pod.
async fn rolling_restart(
    cluster: &Cluster,
    common: &CommonArgs,
    global: &Global,
    pods: &[String],
) -> Result<()> {
    let pods =
        restart::remaining(pods, common.resume_from.as_deref()).map_err(anyhow::Error::msg)?;
    if pods.is_empty() {
        return Ok(());
    }
    // Discovery looks for the Elasticsearch Service in the targets' namespace, not in all of them.
    let mut scoped = global.clone();
    scoped.namespace = Some(cluster.namespace().to_owned());
    let es = connect(&common.es, &scoped).await?;
    let wanted = match common.wait_for_status {
        HealthArg::Green => "green",
        HealthArg::Yellow => "yellow",
    };
    let nodes = es.node_names().await?;
    let health = es.wait_for_health(wanted, "10s").await?;
    restart::preflight(&pods, &nodes, &health.status, wanted).map_err(Refused)?;
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            flag.store(true, Ordering::SeqCst);
            eprintln!("Ctrl-C: stopping after the current pod (Ctrl-C again to quit at once; then re-enable allocation yourself)");
            if tokio::signal::ctrl_c().await.is_ok() {
                std::process::exit(130);
            }
        }
    });
    let settings = RestartSettings {
        health: wanted.into(),
        timeout: Duration::from_secs(common.timeout),
        interval: Duration::from_secs(common.poll_interval.max(1)),
    };
    let mut executor = LiveRestart::new(cluster, &es, settings);
    let started = Instant::now();
    eprintln!(
        "rolling restart of {} pods: {}",
        pods.len(),
        pods.join(", ")
    );
    let result = restart::run(
        &pods,
        &mut executor,
        || stop.load(Ordering::SeqCst),
        |p: Progress| {
            eprintln!(
                "[{:>7.1}s] {}/{} {}: {}",
                started.elapsed().as_secs_f64(),
                p.index + 1,
                p.total,
                p.pod,
                p.step
            )
        },
    )
    .await;
    match result {
        Ok(done) => {
            eprintln!(
                "restarted {} pods in {:.0}s",
                done.len(),
                started.elapsed().as_secs_f64()
            );
            Ok(())
        }
        Err(stopped) => bail!("rolling restart {}", stopped.hint()),
    }
}

pub async fn run_enable(args: &EnableArgs, global: &Global) -> Result<ExitCode> {
    let common = &args.common;
    let parsed = parse_targets(&common.targets)?;
    let cluster = cluster(global).await?;
    let targets = fetch_targets(&cluster, &parsed).await?;
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
    let claim = enable::resolve_claim(&targets, &options).map_err(|e| Refused(e.to_string()))?;
    let existing = cluster.get(Kind::PersistentVolumeClaim, &claim).await?;
    let webhook_installed = match args.via {
        ViaArg::Patch => false,
        _ => match cluster.webhook_configurations().await {
            Ok(list) => enable::webhook_installed(&list),
            // Patching directly is safe even when a webhook exists: it finds the object injected.
            Err(e) if e.is_forbidden() && matches!(args.via, ViaArg::Auto) => {
                eprintln!(
                    "cannot list MutatingWebhookConfigurations (forbidden): patching directly"
                );
                false
            }
            Err(e) => return Err(e.into()),
        },
    };
    let plan = enable::plan_enable(&enable::EnableInput {
        namespace: cluster.namespace(),
        targets: &targets,
        claim: &claim,
        existing_claim: existing.as_ref(),
        webhook_installed,
        options: &options,
    })
    .map_err(|e| Refused(e.to_string()))?;
    for note in &plan.notes {
        eprintln!("{note}");
    }
    let repository = common.es.repository.clone();
    let location = format!("{}/{repository}", plan.path.trim_end_matches('/'));
    if common.dry_run {
        eprintln!(
            "dry run: nothing changed; claim {claim}, via {:?}",
            plan.via
        );
        print_dry_run(&plan.actions, common.output)?;
        if !args.skip_register {
            eprintln!("then: register repository {repository} at {location} and verify it");
        }
        return Ok(ExitCode::SUCCESS);
    }
    apply(&cluster, &plan.actions).await?;
    if plan.via == Via::Webhook {
        make_up_for_the_webhook(&cluster, &plan, &options).await?;
    }
    rolling_restart(&cluster, common, global, &plan.restart_pods()).await?;
    if args.skip_register {
        return Ok(ExitCode::SUCCESS);
    }
    if !plan.left_to_user.is_empty() {
        eprintln!("not registering yet: the pods still run without the repository. After restarting them:\n  kubectl logbackup repo register {repository} --location {location} -n {}", cluster.namespace());
        return Ok(ExitCode::SUCCESS);
    }
    for enable::RolledByOthers { kind, name } in &plan.rolled_by_others {
        eprintln!(
            "waiting (up to {}s) for {kind}/{name} to roll out before registering",
            common.timeout
        );
        let (k, done): (Kind, fn(&Value) -> bool) = match kind {
            PatchKind::Elasticsearch => (Kind::Elasticsearch, enable::eck_ready),
            PatchKind::StatefulSet => (Kind::StatefulSet, enable::rolled_out),
        };
        let interval = Duration::from_secs(common.poll_interval.max(1));
        cluster
            .wait_until(k, name, done, Duration::from_secs(common.timeout), interval)
            .await
            .with_context(|| format!("the volume is in place; once the pods run with it, run `kubectl logbackup repo register {repository} --location {location} -n {}`", cluster.namespace()))?;
    }
    let register_args = RegisterArgs {
        name: Some(repository.clone()),
        kind: super::repo::RepoType::Fs,
        location: Some(location.clone()),
        s3: Default::default(),
        readonly: false,
        no_compress: false,
        dry_run: false,
        es: common.es.clone(),
        output: OutputArgs {
            output: OutputFormat::Table,
        },
    };
    let mut scoped = global.clone();
    scoped.namespace = Some(cluster.namespace().to_owned());
    register(&register_args, &scoped).await.with_context(|| {
        format!("the volume is in place, but registering repository {repository} failed; when every pod runs with it (ECK and RollingUpdate restart them in the background), run `kubectl logbackup repo register {repository} --location {location} -n {}`", cluster.namespace())
    })
}

/// The webhook path, checked: each labelled StatefulSet is read back, and whatever the webhook did
/// not inject is patched directly, with the same planning.
async fn make_up_for_the_webhook(
    cluster: &Cluster,
    plan: &enable::EnablePlan,
    options: &EnableOptions,
) -> Result<()> {
    for action in &plan.actions {
        let Action::Patch {
            kind,
            name,
            patch_type,
            ..
        } = action
        else {
            continue;
        };
        if *kind != PatchKind::StatefulSet || *patch_type != PatchType::Merge {
            continue;
        }
        let sts = cluster
            .get(Kind::StatefulSet, name)
            .await?
            .with_context(|| format!("statefulset/{name} disappeared after it was labelled"))?;
        if let Some(direct) = enable::injection_pending(&sts, &plan.claim, options)? {
            eprintln!("statefulset/{name}: the webhook did not inject it (is the namespace excluded by its namespaceSelector?); patching directly");
            apply(cluster, std::slice::from_ref(&direct)).await?;
        }
    }
    Ok(())
}

pub async fn run_disable(args: &DisableArgs, global: &Global) -> Result<ExitCode> {
    let common = &args.common;
    let parsed = parse_targets(&common.targets)?;
    let cluster = cluster(global).await?;
    let targets = fetch_targets(&cluster, &parsed).await?;
    let mut actions = Vec::new();
    let mut pods = Vec::new();
    for target in &targets {
        let name = target
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        if target.get("kind").and_then(Value::as_str) == Some(enable::ES_KIND) {
            let path = logbackup::inject::Family::Elasticsearch.default_path();
            match enable::eck_disable_patch(target, path).map_err(anyhow::Error::msg)? {
                Some(patch) => actions.push(Action::Patch {
                    kind: PatchKind::Elasticsearch,
                    name,
                    patch_type: PatchType::Merge,
                    patch,
                }),
                None => eprintln!("elasticsearch/{name}: nothing of ours to remove"),
            }
            continue;
        }
        let (ops, notes) = enable::plan_disable(target);
        for n in notes {
            eprintln!("{n}");
        }
        if ops.is_empty() {
            eprintln!("statefulset/{name}: nothing of ours to remove");
            continue;
        }
        let template_changes = ops.iter().any(|o| {
            o["path"]
                .as_str()
                .is_some_and(|p| p.starts_with("/spec/template"))
        });
        match enable::restart_needed(target, template_changes) {
            enable::RestartNeed::Us => pods.extend(enable::pods_in_restart_order(target)),
            enable::RestartNeed::Controller => {
                eprintln!("statefulset/{name}: the StatefulSet controller restarts the pods itself")
            }
            enable::RestartNeed::None => {}
        }
        actions.push(Action::Patch {
            kind: PatchKind::StatefulSet,
            name,
            patch_type: PatchType::Json,
            patch: Value::Array(ops),
        });
    }
    if common.dry_run {
        eprintln!("dry run: nothing changed");
        print_dry_run(&actions, common.output)?;
        return Ok(ExitCode::SUCCESS);
    }
    apply(&cluster, &actions).await?;
    match common.restart {
        RestartArg::Rolling => rolling_restart(&cluster, common, global, &pods).await?,
        RestartArg::None => {
            for line in enable::manual_restart(cluster.namespace(), &pods) {
                eprintln!("{line}");
            }
        }
    }
    eprintln!("disabled. The claim and the snapshots on it stay; the repository stays registered (remove it with `kubectl logbackup repo remove {}` before the pods lose the mount, or it will fail verification)", common.es.repository);
    Ok(ExitCode::SUCCESS)
}
