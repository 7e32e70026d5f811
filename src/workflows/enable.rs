//! `enable` and `disable`: read the targets, plan with the core (`enable::plan_enable`,
//! `enable::plan_disable_all`), apply the actions, restart the pods the Elasticsearch way, wait for
//! what others roll out, register the repository. The cluster is behind [`EnableCluster`] and the
//! Elasticsearch steps behind [`EsSteps`], so tests drive the whole sequence in-process.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::enable::restart::{self, Progress};
use crate::enable::{
    self, Action, DisablePlan, EnableError, EnableOptions, EnablePlan, PatchKind, PatchType,
    Target, TargetKind, Via,
};
use crate::es::Failed;
use crate::k8s::{Cluster, K8sError, Kind, LiveRestart, RestartSettings};

use super::connect::{self, ConnectError, EsOptions, KubeConfigRef};
use super::repo::{self, FsRepository, RepoError};
pub use super::Said;

/// What enable and disable need from the cluster, in one namespace.
#[allow(async_fn_in_trait)] // Used through generics only, on one task: no Send bound needed.
pub trait EnableCluster {
    fn namespace(&self) -> &str;
    async fn get(&self, kind: Kind, name: &str) -> Result<Option<Value>, K8sError>;
    async fn create(&self, kind: Kind, object: &Value) -> Result<(), K8sError>;
    async fn patch(
        &self,
        kind: Kind,
        name: &str,
        patch_type: &str,
        patch: &Value,
    ) -> Result<(), K8sError>;
    async fn webhook_configurations(&self) -> Result<Vec<Value>, K8sError>;
    /// Polls until `done` holds for the object, for at most `timeout`.
    async fn wait_until(
        &self,
        kind: Kind,
        name: &str,
        done: fn(&Value) -> bool,
        timeout: Duration,
        interval: Duration,
    ) -> Result<(), K8sError>;
}

impl EnableCluster for Cluster {
    fn namespace(&self) -> &str {
        Cluster::namespace(self)
    }
    async fn get(&self, kind: Kind, name: &str) -> Result<Option<Value>, K8sError> {
        Cluster::get(self, kind, name).await
    }
    async fn create(&self, kind: Kind, object: &Value) -> Result<(), K8sError> {
        Cluster::create(self, kind, object).await
    }
    async fn patch(
        &self,
        kind: Kind,
        name: &str,
        patch_type: &str,
        patch: &Value,
    ) -> Result<(), K8sError> {
        Cluster::patch(self, kind, name, patch_type, patch).await
    }
    async fn webhook_configurations(&self) -> Result<Vec<Value>, K8sError> {
        Cluster::webhook_configurations(self).await
    }
    async fn wait_until(
        &self,
        kind: Kind,
        name: &str,
        done: fn(&Value) -> bool,
        timeout: Duration,
        interval: Duration,
    ) -> Result<(), K8sError> {
        Cluster::wait_until(self, kind, name, done, timeout, interval).await
    }
}

/// The steps that need Elasticsearch, after the objects changed.
#[allow(async_fn_in_trait)]
pub trait EsSteps {
    /// Restarts `pods` one at a time, the Elasticsearch way; `say` reports as it goes.
    async fn restart(
        &mut self,
        pods: &[String],
        say: &mut dyn FnMut(Said),
    ) -> Result<(), EnableFailure>;
    /// Registers and verifies the repository.
    async fn register(&mut self, repo: &FsRepository) -> Result<repo::Registered, EnableFailure>;
}

#[derive(Debug, thiserror::Error)]
pub enum EnableFailure {
    /// A pre-check refused; nothing was changed.
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    Kubernetes(#[from] K8sError),
    #[error("{0}")]
    Connect(#[from] ConnectError),
    #[error("{0}")]
    Elasticsearch(#[from] Failed),
    /// Boxed: the S3 variant is large, and this error travels through every step.
    #[error("{0}")]
    Repository(#[source] Box<RepoError>),
    #[error("{what} not found in namespace {namespace}")]
    NotFound { what: String, namespace: String },
    #[error("the API server refused the patch to {kind}/{name} and applied none of it; if it changed since it was read, run the command again: {source}")]
    Conflict {
        kind: PatchKind,
        name: String,
        source: K8sError,
    },
    #[error("failed to plan: {0}")]
    Plan(EnableError),
    #[error("rolling restart {0}")]
    Restart(String),
    /// The volume is in place but the repository is not registered: `advice` says how to finish.
    #[error("{advice}: {source}")]
    Unregistered {
        advice: String,
        source: Box<EnableFailure>,
    },
}

impl From<RepoError> for EnableFailure {
    fn from(e: RepoError) -> Self {
        Self::Repository(Box::new(e))
    }
}

impl From<EnableError> for EnableFailure {
    /// Planning errors are refusals: nothing has been changed when the core plans.
    fn from(e: EnableError) -> Self {
        Self::Refused(e.to_string())
    }
}

/// The flags both commands share.
#[derive(Debug, Clone)]
pub struct Common {
    /// As kubectl spells them: `sts/NAME`, `es/NAME`, ...
    pub targets: Vec<String>,
    /// Restart OnDelete pods ourselves (false: print the commands).
    pub restart: bool,
    pub dry_run: bool,
    /// The repository to register.
    pub repository: String,
    /// Bound on each wait for a rollout others do.
    pub timeout: Duration,
    pub interval: Duration,
}

/// What enable did, or on a dry run would do.
#[derive(Debug)]
pub struct Enabled {
    pub plan: EnablePlan,
    /// Where the repository goes: under the mount path.
    pub location: String,
    /// Nodes that verified the repository; `None` when it was not registered (dry run,
    /// `--skip-register`, or restarts left to the user: see `register_later`).
    pub verified_nodes: Option<usize>,
    /// The command to register once the user has restarted the pods.
    pub register_later: Option<String>,
}

/// Bad targets are reported before anything else is attempted.
pub fn parse_targets(texts: &[String]) -> Result<Vec<Target>, EnableFailure> {
    texts
        .iter()
        .map(|t| enable::parse_target(t).map_err(EnableFailure::from))
        .collect()
}

/// The objects to plan on; ECK-generated StatefulSets are swapped for their `Elasticsearch`.
async fn fetch_targets(
    cluster: &impl EnableCluster,
    targets: &[Target],
    say: &mut dyn FnMut(Said),
) -> Result<Vec<Value>, EnableFailure> {
    let not_found = |what: String| EnableFailure::NotFound {
        what,
        namespace: cluster.namespace().to_owned(),
    };
    let mut objects: Vec<Value> = Vec::new();
    for target in targets {
        let kind = match target.kind {
            TargetKind::StatefulSet => Kind::StatefulSet,
            TargetKind::Elasticsearch => Kind::Elasticsearch,
        };
        let mut object = cluster
            .get(kind, &target.name)
            .await?
            .ok_or_else(|| not_found(target.to_string()))?;
        if let Some(es) = enable::eck_cluster_of(&object) {
            say(Said::Note(format!(
                "{target} is managed by ECK: changing elasticsearch/{es} instead"
            )));
            object = cluster
                .get(Kind::Elasticsearch, &es)
                .await?
                .ok_or_else(|| not_found(format!("elasticsearch/{es} (owner of {target})")))?;
        }
        let id = |v: &Value| (v.get("kind").cloned(), v.pointer("/metadata/name").cloned());
        if !objects.iter().any(|o| id(o) == id(&object)) {
            objects.push(object);
        }
    }
    Ok(objects)
}

fn kind_of(kind: PatchKind) -> Kind {
    match kind {
        PatchKind::StatefulSet => Kind::StatefulSet,
        PatchKind::Elasticsearch => Kind::Elasticsearch,
    }
}

async fn apply(
    cluster: &impl EnableCluster,
    actions: &[Action],
    say: &mut dyn FnMut(Said),
) -> Result<(), EnableFailure> {
    for action in actions {
        match action {
            Action::Create { object } => {
                cluster.create(Kind::PersistentVolumeClaim, object).await?;
                say(Said::Note(format!(
                    "created persistentvolumeclaim/{}",
                    object["metadata"]["name"].as_str().unwrap_or_default()
                )));
            }
            Action::UseClaim { name, phase } => say(Said::Note(format!(
                "using persistentvolumeclaim/{name} ({phase}, ReadWriteMany)"
            ))),
            Action::Patch {
                kind,
                name,
                patch_type,
                patch,
            } => {
                match cluster
                    .patch(kind_of(*kind), name, patch_type.as_str(), patch)
                    .await
                {
                    Err(source) if source.is_conflict() => {
                        return Err(EnableFailure::Conflict {
                            kind: *kind,
                            name: name.clone(),
                            source,
                        })
                    }
                    other => other?,
                }
                say(Said::Note(format!(
                    "patched {kind}/{name} ({patch_type} patch)"
                )));
            }
            Action::Restart { .. } => {}
        }
    }
    Ok(())
}

/// The webhook path, checked: each labelled StatefulSet is read back, and whatever the webhook did
/// not inject is patched directly, with the same planning.
async fn make_up_for_the_webhook(
    cluster: &impl EnableCluster,
    plan: &EnablePlan,
    options: &EnableOptions,
    say: &mut dyn FnMut(Said),
) -> Result<(), EnableFailure> {
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
        let sts =
            cluster
                .get(Kind::StatefulSet, name)
                .await?
                .ok_or_else(|| EnableFailure::NotFound {
                    what: format!("statefulset/{name} (it disappeared after it was labelled)"),
                    namespace: cluster.namespace().to_owned(),
                })?;
        if let Some(direct) =
            enable::injection_pending(&sts, &plan.claim, options).map_err(EnableFailure::Plan)?
        {
            say(Said::Note(format!("statefulset/{name}: the webhook did not inject it (is the namespace excluded by its namespaceSelector?); patching directly")));
            apply(cluster, std::slice::from_ref(&direct), say).await?;
        }
    }
    Ok(())
}

/// Is a logbackup webhook there to label for? Not asked with `--via patch`; a cluster that forbids
/// listing is patched directly under `--via auto` (safe: the webhook would find it injected).
async fn webhook_installed(
    cluster: &impl EnableCluster,
    via: Via,
    say: &mut dyn FnMut(Said),
) -> Result<bool, EnableFailure> {
    if via == Via::Patch {
        return Ok(false);
    }
    match cluster.webhook_configurations().await {
        Ok(list) => Ok(enable::webhook_installed(&list)),
        Err(e) if e.is_forbidden() && via == Via::Auto => {
            say(Said::Note(
                "cannot list MutatingWebhookConfigurations (forbidden): patching directly".into(),
            ));
            Ok(false)
        }
        Err(e) => Err(e.into()),
    }
}

/// `enable`: plan, then (unless a dry run) apply, restart, wait, register.
pub async fn enable(
    cluster: &impl EnableCluster,
    es: &mut impl EsSteps,
    common: &Common,
    options: &EnableOptions,
    register: bool,
    say: &mut dyn FnMut(Said),
) -> Result<Enabled, EnableFailure> {
    let parsed = parse_targets(&common.targets)?;
    let targets = fetch_targets(cluster, &parsed, say).await?;
    let claim = enable::resolve_claim(&targets, options)?;
    let existing = cluster.get(Kind::PersistentVolumeClaim, &claim).await?;
    let webhook_installed = webhook_installed(cluster, options.via, say).await?;
    let plan = enable::plan_enable(&enable::EnableInput {
        namespace: cluster.namespace(),
        targets: &targets,
        claim: &claim,
        existing_claim: existing.as_ref(),
        webhook_installed,
        options,
    })?;
    for note in &plan.notes {
        say(Said::Note(note.clone()));
    }
    let repository = common.repository.clone();
    let location = format!("{}/{repository}", plan.path.trim_end_matches('/'));
    let register_command = format!(
        "kubectl logbackup repo register {repository} --location {location} -n {}",
        cluster.namespace()
    );
    let mut done = Enabled {
        plan,
        location,
        verified_nodes: None,
        register_later: None,
    };
    if common.dry_run {
        return Ok(done);
    }
    let plan = &done.plan;
    apply(cluster, &plan.actions, say).await?;
    if plan.via == Via::Webhook {
        make_up_for_the_webhook(cluster, plan, options, say).await?;
    }
    es.restart(&plan.restart_pods(), say).await?;
    if !register {
        return Ok(done);
    }
    if !plan.left_to_user.is_empty() {
        done.register_later = Some(register_command);
        return Ok(done);
    }
    for enable::RolledByOthers { kind, name } in &plan.rolled_by_others {
        say(Said::Note(format!(
            "waiting (up to {}s) for {kind}/{name} to roll out before registering",
            common.timeout.as_secs()
        )));
        let done_when: fn(&Value) -> bool = match kind {
            PatchKind::Elasticsearch => enable::eck_ready,
            PatchKind::StatefulSet => enable::rolled_out,
        };
        cluster
            .wait_until(
                kind_of(*kind),
                name,
                done_when,
                common.timeout,
                common.interval,
            )
            .await
            .map_err(|e| EnableFailure::Unregistered {
                advice: format!(
                    "the volume is in place; once the pods run with it, run `{register_command}`"
                ),
                source: Box::new(e.into()),
            })?;
    }
    let repo = FsRepository {
        name: repository.clone(),
        location: done.location.clone(),
        compress: true,
        readonly: false,
    };
    let registered = es.register(&repo).await.map_err(|e| EnableFailure::Unregistered {
        advice: format!("the volume is in place, but registering repository {repository} failed; when every pod runs with it (ECK and RollingUpdate restart them in the background), run `{register_command}`"),
        source: Box::new(e),
    })?;
    say(Said::Note(format!(
        "registered repository {repository} at {}",
        done.location
    )));
    if let Some(nodes) = registered.verified_nodes {
        say(Said::Note(format!("verified on {nodes} nodes")));
    }
    done.verified_nodes = registered.verified_nodes;
    Ok(done)
}

/// What disable did, or on a dry run would do.
#[derive(Debug)]
pub struct Disabled {
    pub plan: DisablePlan,
    /// `kubectl` commands for the pods nobody restarts (`--restart none`).
    pub manual_restart: Vec<String>,
}

/// `disable`: plan, then (unless a dry run) apply and restart.
pub async fn disable(
    cluster: &impl EnableCluster,
    es: &mut impl EsSteps,
    common: &Common,
    say: &mut dyn FnMut(Said),
) -> Result<Disabled, EnableFailure> {
    let parsed = parse_targets(&common.targets)?;
    let targets = fetch_targets(cluster, &parsed, say).await?;
    let plan = enable::plan_disable_all(&targets).map_err(EnableFailure::Plan)?;
    for note in &plan.notes {
        say(Said::Note(note.clone()));
    }
    let mut done = Disabled {
        plan,
        manual_restart: Vec::new(),
    };
    if common.dry_run {
        return Ok(done);
    }
    apply(cluster, &done.plan.actions, say).await?;
    if common.restart {
        es.restart(&done.plan.restart_pods, say).await?;
    } else {
        done.manual_restart = enable::manual_restart(cluster.namespace(), &done.plan.restart_pods);
    }
    Ok(done)
}

/// The Elasticsearch steps against a live cluster: connected on first use (discovery looks in the
/// targets' namespace), the rolling restart through `k8s::LiveRestart`.
pub struct LiveEsSteps<'a> {
    pub cluster: &'a Cluster,
    pub es: EsOptions,
    pub kube: KubeConfigRef,
    pub settings: RestartSettings,
    /// Continue from this pod (`--resume-from`).
    pub resume_from: Option<String>,
    /// Set (by Ctrl-C) to stop before the next pod.
    pub stop: Arc<AtomicBool>,
    /// Called with `stop` as the restart begins: the command line wires Ctrl-C to it then, not
    /// earlier, so that Ctrl-C before the restart still quits at once.
    pub on_restart: Option<fn(Arc<AtomicBool>)>,
}

impl<'a> LiveEsSteps<'a> {
    pub fn new(
        cluster: &'a Cluster,
        mut es: EsOptions,
        kube: KubeConfigRef,
        settings: RestartSettings,
    ) -> Self {
        es.namespace = Some(cluster.namespace().to_owned());
        Self {
            cluster,
            es,
            kube,
            settings,
            resume_from: None,
            stop: Arc::default(),
            on_restart: None,
        }
    }
}

impl EsSteps for LiveEsSteps<'_> {
    async fn restart(
        &mut self,
        pods: &[String],
        say: &mut dyn FnMut(Said),
    ) -> Result<(), EnableFailure> {
        let pods = restart::remaining(pods, self.resume_from.as_deref())
            .map_err(EnableFailure::Refused)?;
        if pods.is_empty() {
            return Ok(());
        }
        let settings = self.settings.clone();
        let stop = self.stop.clone();
        let es = connect::connect(&self.es, &self.kube).await?;
        let es = &es;
        let nodes = es.node_names().await?;
        let health = es.wait_for_health(&settings.health, "10s").await?;
        restart::preflight(&pods, &nodes, &health.status, &settings.health)
            .map_err(EnableFailure::Refused)?;
        if let Some(hook) = self.on_restart {
            hook(stop.clone());
        }
        let mut executor = LiveRestart::new(self.cluster, es, settings);
        let started = Instant::now();
        say(Said::Note(format!(
            "rolling restart of {} pods: {}",
            pods.len(),
            pods.join(", ")
        )));
        let result = restart::run(
            &pods,
            &mut executor,
            || stop.load(Ordering::SeqCst),
            |p: Progress| say(Said::Restart(p.into())),
        )
        .await;
        match result {
            Ok(done) => {
                say(Said::Note(format!(
                    "restarted {} pods in {:.0}s",
                    done.len(),
                    started.elapsed().as_secs_f64()
                )));
                Ok(())
            }
            Err(stopped) => Err(EnableFailure::Restart(stopped.hint())),
        }
    }

    async fn register(&mut self, repo: &FsRepository) -> Result<repo::Registered, EnableFailure> {
        // A new connection: the restart's port-forward may point at a pod that others (ECK, the
        // StatefulSet controller) are still replacing.
        let es = connect::connect(&self.es, &self.kube).await?;
        Ok(repo::register_fs(&es, repo, false).await?)
    }
}
