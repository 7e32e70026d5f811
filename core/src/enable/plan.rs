//! The ordered actions of `enable`: the claim first, then each target's patch, then the restarts.

use serde::Serialize;
use serde_json::{json, Value};

use crate::inject::{self, default_claim, Family, Options as InjectOptions, Outcome, Overrides};

use super::claim::{check_existing, desired_claim, ClaimCheck};
use super::eck::{self, ES_KIND};
use super::error::EnableError;
use super::statefulset::{self as sts, RestartNeed};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Via {
    /// The webhook when it is installed, else a direct patch.
    #[default]
    Auto,
    Webhook,
    Patch,
}

/// As the `--via` flag spells it.
impl std::fmt::Display for Via {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Via::Auto => "auto",
            Via::Webhook => "webhook",
            Via::Patch => "patch",
        })
    }
}

#[derive(Debug, Clone, Default)]
pub struct EnableOptions {
    pub claim: Option<String>,
    pub storage_class: Option<String>,
    pub size: String,
    pub via: Via,
    /// `--restart rolling` (true) or `none`.
    pub restart: bool,
    pub path: Option<String>,
    pub container: Option<String>,
}

/// The fetched objects: StatefulSets (not ECK-owned: the caller swaps those for their
/// `Elasticsearch` resource) and `Elasticsearch` resources.
#[derive(Debug, Clone)]
pub struct EnableInput<'a> {
    pub namespace: &'a str,
    pub targets: &'a [Value],
    /// From [`resolve_claim`].
    pub claim: &'a str,
    pub existing_claim: Option<&'a Value>,
    pub webhook_installed: bool,
    pub options: &'a EnableOptions,
}

/// What enable and disable patch: a StatefulSet, or ECK's `Elasticsearch` resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum PatchKind {
    StatefulSet,
    Elasticsearch,
}

impl PatchKind {
    /// The Kubernetes kind, as in `kind:`.
    pub fn as_str(self) -> &'static str {
        match self {
            PatchKind::StatefulSet => "StatefulSet",
            PatchKind::Elasticsearch => ES_KIND,
        }
    }
}

impl std::fmt::Display for PatchKind {
    /// Lower case, as kubectl names objects (`statefulset/NAME`).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.as_str().to_lowercase())
    }
}

/// `json` (RFC 6902, index-based, guarded by `test` operations) or `merge` (RFC 7386).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PatchType {
    Json,
    Merge,
}

impl PatchType {
    pub fn as_str(self) -> &'static str {
        match self {
            PatchType::Json => "json",
            PatchType::Merge => "merge",
        }
    }
}

impl std::fmt::Display for PatchType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A target whose pods the StatefulSet controller or ECK replaces on its own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RolledByOthers {
    pub kind: PatchKind,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum Action {
    /// Create this object.
    Create { object: Value },
    /// The claim exists and will do.
    UseClaim { name: String, phase: String },
    /// `patchType` is `json` (RFC 6902) or `merge` (RFC 7386).
    #[serde(rename_all = "camelCase")]
    Patch {
        kind: PatchKind,
        name: String,
        patch_type: PatchType,
        patch: Value,
    },
    /// Restart these pods one at a time, the Elasticsearch way.
    Restart {
        statefulset: String,
        pods: Vec<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EnablePlan {
    pub claim: String,
    pub via: Via,
    /// Where the repository is mounted (the first target's), under which the repository goes.
    pub path: String,
    pub actions: Vec<Action>,
    /// What the user must know: who restarts what, warnings from the injection.
    pub notes: Vec<String>,
    /// Pods that need a restart nobody will do (`--restart none` on OnDelete StatefulSets).
    pub left_to_user: Vec<String>,
    /// Targets the StatefulSet controller or ECK rolls on its own: the repository can be registered
    /// once they have.
    pub rolled_by_others: Vec<RolledByOthers>,
}

impl EnablePlan {
    /// Every pod to restart, in order.
    pub fn restart_pods(&self) -> Vec<String> {
        self.actions
            .iter()
            .filter_map(|a| match a {
                Action::Restart { pods, .. } => Some(pods.clone()),
                _ => None,
            })
            .flatten()
            .collect()
    }
}

fn name_of(v: &Value) -> String {
    v.pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

fn is_eck(v: &Value) -> bool {
    v.get("kind").and_then(Value::as_str) == Some(ES_KIND)
}

fn id(v: &Value) -> String {
    if is_eck(v) {
        format!("elasticsearch/{}", name_of(v))
    } else {
        format!("statefulset/{}", name_of(v))
    }
}

fn overrides(options: &EnableOptions, claim: Option<&str>) -> InjectOptions {
    InjectOptions {
        overrides: Overrides {
            claim: claim.map(str::to_owned),
            path: options.path.clone(),
            container: options.container.clone(),
            uid: None,
            gid: None,
        },
        ..InjectOptions::default()
    }
}

fn inject_plan(
    target: &Value,
    options: &EnableOptions,
    claim: Option<&str>,
) -> Result<inject::Plan, EnableError> {
    // Planned on the object as it will be once labelled and annotated, as the webhook will see it.
    let annotations = claim
        .map(|c| sts::annotations(c, options.path.as_deref(), options.container.as_deref()))
        .unwrap_or_default();
    let labelled = sts::labelled(target, &annotations);
    inject::plan(&labelled, &overrides(options, claim)).map_err(|source| EnableError::Inject {
        target: id(target),
        source,
    })
}

/// The one claim every target uses: `--claim`, else each target's annotation or derived default.
pub fn resolve_claim(targets: &[Value], options: &EnableOptions) -> Result<String, EnableError> {
    validate(options)?;
    if let Some(c) = &options.claim {
        return Ok(c.clone());
    }
    let mut seen: Vec<(String, String)> = Vec::new();
    for t in targets {
        let claim = if is_eck(t) {
            t.pointer("/metadata/annotations")
                .and_then(|a| a.get(inject::keys::CLAIM_ANNOTATION))
                .and_then(Value::as_str)
                .map(str::to_owned)
                .unwrap_or_else(|| default_claim(&name_of(t)))
        } else {
            inject_plan(t, options, None)?
                .record
                .map(|r| r.claim)
                .ok_or_else(|| EnableError::Invalid {
                    target: id(t),
                    reason: "it would not be injected".into(),
                })?
        };
        seen.push((id(t), claim));
    }
    let first = seen
        .first()
        .map(|(_, c)| c.clone())
        .ok_or_else(|| EnableError::Invalid {
            target: "enable".into(),
            reason: "no targets".into(),
        })?;
    if seen.iter().any(|(_, c)| *c != first) {
        let list: Vec<String> = seen.iter().map(|(t, c)| format!("{t} uses {c}")).collect();
        return Err(EnableError::ClaimsDiffer(list.join(", ")));
    }
    Ok(first)
}

/// The flags against the injection contract every entry point shares, ECK included.
fn validate(options: &EnableOptions) -> Result<(), EnableError> {
    overrides(options, options.claim.as_deref())
        .overrides
        .validate()
        .map_err(EnableError::Options)
}

pub fn plan_enable(input: &EnableInput) -> Result<EnablePlan, EnableError> {
    let options = input.options;
    validate(options)?;
    let via = match (options.via, input.webhook_installed) {
        (Via::Webhook, false) => return Err(EnableError::NoWebhook),
        (Via::Webhook, true) | (Via::Auto, true) => Via::Webhook,
        _ => Via::Patch,
    };
    let mut actions = Vec::new();
    let mut notes = Vec::new();
    match input.existing_claim {
        Some(pvc) => {
            let ClaimCheck::Usable { phase } = check_existing(pvc)?;
            actions.push(Action::UseClaim {
                name: input.claim.to_owned(),
                phase,
            });
        }
        None => {
            let class =
                options
                    .storage_class
                    .as_deref()
                    .ok_or_else(|| EnableError::NoStorageClass {
                        name: input.claim.to_owned(),
                    })?;
            actions.push(Action::Create {
                object: desired_claim(input.claim, input.namespace, class, &options.size)?,
            });
        }
    }
    let mut restarts: Vec<(bool, Action)> = Vec::new();
    let mut paths: Vec<String> = Vec::new();
    let mut rolled_by_others: Vec<RolledByOthers> = Vec::new();
    for target in input.targets {
        if is_eck(target) {
            let path = options
                .path
                .clone()
                .unwrap_or_else(|| Family::Elasticsearch.default_path().to_owned());
            paths.push(path.clone());
            let patch = eck::enable_patch(target, input.claim, &path).map_err(|reason| {
                EnableError::Invalid {
                    target: id(target),
                    reason,
                }
            })?;
            match patch {
                Some(patch) => {
                    actions.push(Action::Patch {
                        kind: PatchKind::Elasticsearch,
                        name: name_of(target),
                        patch_type: PatchType::Merge,
                        patch,
                    });
                    notes.push(format!(
                        "{}: ECK rolls the pods itself, one at a time",
                        id(target)
                    ));
                    rolled_by_others.push(RolledByOthers {
                        kind: PatchKind::Elasticsearch,
                        name: name_of(target),
                    });
                }
                None => notes.push(format!("{}: already enabled", id(target))),
            }
            continue;
        }
        if eck::eck_cluster_of(target).is_some() {
            return Err(EnableError::Invalid {
                target: id(target),
                reason: "it is generated by ECK; enable its Elasticsearch resource instead".into(),
            });
        }
        let annotations = sts::annotations(
            input.claim,
            options.path.as_deref(),
            options.container.as_deref(),
        );
        let plan = inject_plan(target, options, Some(input.claim))?;
        notes.extend(plan.warnings.iter().map(|w| w.to_string()));
        paths.extend(plan.record.as_ref().map(|r| r.path.clone()));
        let template_changes = !matches!(plan.outcome, Outcome::Unchanged | Outcome::Skipped(_));
        let metadata_current = sts::metadata_current(target, &annotations);
        let name = name_of(target);
        match via {
            Via::Webhook if !metadata_current => actions.push(Action::Patch {
                kind: PatchKind::StatefulSet,
                name: name.clone(),
                patch_type: PatchType::Merge,
                patch: sts::metadata_merge_patch(&annotations),
            }),
            // The label is there already: an update re-runs the webhook only if something changes,
            // so an unchanged object that is not yet injected gets the injection directly.
            Via::Webhook if template_changes => {
                actions.push(json_patch_action(target, &name, &annotations, &plan, true))
            }
            Via::Patch if !metadata_current || template_changes => actions.push(json_patch_action(
                target,
                &name,
                &annotations,
                &plan,
                metadata_current,
            )),
            _ => {}
        }
        match sts::restart_needed(target, template_changes) {
            RestartNeed::None => {}
            RestartNeed::Controller => {
                rolled_by_others.push(RolledByOthers {
                    kind: PatchKind::StatefulSet,
                    name: name.clone(),
                });
                notes.push(format!("{}: updateStrategy RollingUpdate, the StatefulSet controller restarts the pods itself", id(target)));
            }
            RestartNeed::Us if options.restart => {
                restarts.push((
                    sts::is_master_set(target),
                    Action::Restart {
                        statefulset: name,
                        pods: sts::pods_in_restart_order(target),
                    },
                ));
            }
            RestartNeed::Us => {
                notes.push(format!("{}: updateStrategy OnDelete and --restart none: its pods keep running without the repository until you restart them (see below)", id(target)));
                restarts.push((
                    sts::is_master_set(target),
                    Action::Restart {
                        statefulset: name,
                        pods: sts::pods_in_restart_order(target),
                    },
                ));
            }
        }
    }
    // Data nodes first, master-eligible last; stable within each group.
    restarts.sort_by_key(|(master, _)| *master);
    let mut left_to_user = Vec::new();
    if options.restart {
        actions.extend(restarts.into_iter().map(|(_, a)| a));
    } else {
        let pods: Vec<String> = restarts
            .into_iter()
            .filter_map(|(_, a)| match a {
                Action::Restart { pods, .. } => Some(pods),
                _ => None,
            })
            .flatten()
            .collect();
        notes.extend(manual_restart(input.namespace, &pods));
        left_to_user = pods;
    }
    let path = paths
        .first()
        .cloned()
        .unwrap_or_else(|| Family::Elasticsearch.default_path().to_owned());
    if paths.iter().any(|p| *p != path) {
        notes.push(format!("the targets mount the repository at different paths ({}); the repository is registered under {path}, which must be in path.repo on every node", paths.join(", ")));
    }
    Ok(EnablePlan {
        claim: input.claim.to_owned(),
        via,
        path,
        actions,
        notes,
        left_to_user,
        rolled_by_others,
    })
}

/// After the webhook path, read back: the direct patch still needed when the webhook did not inject
/// `sts` (its namespaceSelector excludes the namespace, or it is not the webhook we took it for);
/// None when the object is injected as planned.
pub fn injection_pending(
    sts: &Value,
    claim: &str,
    options: &EnableOptions,
) -> Result<Option<Action>, EnableError> {
    let annotations =
        sts::annotations(claim, options.path.as_deref(), options.container.as_deref());
    let plan = inject_plan(sts, options, Some(claim))?;
    if matches!(plan.outcome, Outcome::Unchanged | Outcome::Skipped(_)) {
        return Ok(None);
    }
    let current = sts::metadata_current(sts, &annotations);
    Ok(Some(json_patch_action(
        sts,
        &name_of(sts),
        &annotations,
        &plan,
        current,
    )))
}

fn json_patch_action(
    target: &Value,
    name: &str,
    annotations: &serde_json::Map<String, Value>,
    plan: &inject::Plan,
    metadata_current: bool,
) -> Action {
    let mut ops: Vec<Value> = sts::version_guard(target).into_iter().collect();
    if !metadata_current {
        ops.extend(sts::metadata_json_ops(target, annotations));
    }
    ops.extend(
        plan.patch
            .iter()
            .map(|op| serde_json::to_value(op).unwrap_or(Value::Null)),
    );
    Action::Patch {
        kind: PatchKind::StatefulSet,
        name: name.to_owned(),
        patch_type: PatchType::Json,
        patch: Value::Array(ops),
    }
}

/// The commands `--restart none` leaves to the user: the Elasticsearch rolling-restart procedure.
pub fn manual_restart(namespace: &str, pods: &[String]) -> Vec<String> {
    if pods.is_empty() {
        return Vec::new();
    }
    // The whole URL in double quotes: an unquoted `&` would background curl, `?` is a glob.
    let es = |path: &str| format!("curl -s -H 'Content-Type: application/json' \"$ES{path}\"");
    let mut lines = vec![format!("restart these pods yourself, one at a time, in this order (ES=http://<elasticsearch>:9200):")];
    for pod in pods {
        lines.push(format!(
            "  {} -XPUT -d '{}'",
            es("/_cluster/settings"),
            json!({"persistent": {"cluster.routing.allocation.enable": "primaries"}})
        ));
        lines.push(format!("  {} -XPOST", es("/_flush")));
        lines.push(format!("  kubectl -n {namespace} delete pod {pod}"));
        lines.push(format!(
            "  kubectl -n {namespace} wait --for=condition=Ready pod/{pod} --timeout=15m"
        ));
        lines.push(format!(
            "  {} -XPUT -d '{}'",
            es("/_cluster/settings"),
            json!({"persistent": {"cluster.routing.allocation.enable": null}})
        ));
        lines.push(format!(
            "  {}",
            es("/_cluster/health?wait_for_status=green&timeout=15m")
        ));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Characters a shell treats specially, outside quotes, in a printed command.
    fn unquoted_specials(line: &str) -> Vec<char> {
        let (mut single, mut double, mut found) = (false, false, Vec::new());
        for c in line.chars() {
            match c {
                '\'' if !double => single = !single,
                '"' if !single => double = !double,
                '&' | '?' | '*' | ';' | '|' | '<' | '>' if !single && !double => found.push(c),
                _ => {}
            }
        }
        found
    }

    #[test]
    fn manual_restart_commands_are_safe_to_paste() {
        let lines = manual_restart("kubesphere-logging-system", &["es-0".to_string()]);
        assert!(lines.len() > 1);
        for line in &lines[1..] {
            assert_eq!(unquoted_specials(line), Vec::<char>::new(), "{line}");
        }
        assert!(lines
            .iter()
            .any(|l| l.contains("\"$ES/_cluster/health?wait_for_status=green&timeout=15m\"")));
    }

    const NS: &str = "kubesphere-logging-system";

    fn ks(name: &str, replicas: u64) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": {"name": name, "namespace": NS, "resourceVersion": "100", "labels": {"app": "es"}},
            "spec": {"replicas": replicas, "serviceName": name, "selector": {"matchLabels": {"app": name}},
                "updateStrategy": {"type": "OnDelete"},
                "template": {"metadata": {"labels": {"app": name}}, "spec": {
                    "containers": [{"name": "elasticsearch", "image": "kubesphere/elasticsearch-oss:6.7.0-1",
                        "volumeMounts": [{"name": "data", "mountPath": "/usr/share/elasticsearch/data"}]}]}}}})
    }

    fn options() -> EnableOptions {
        EnableOptions {
            storage_class: Some("nfs-client".into()),
            size: "100Gi".into(),
            restart: true,
            ..Default::default()
        }
    }

    fn run(
        targets: &[Value],
        existing: Option<&Value>,
        webhook: bool,
        options: &EnableOptions,
    ) -> Result<EnablePlan, EnableError> {
        let claim = resolve_claim(targets, options)?;
        plan_enable(&EnableInput {
            namespace: NS,
            targets,
            claim: &claim,
            existing_claim: existing,
            webhook_installed: webhook,
            options,
        })
    }

    fn apply(sts: &Value, action: &Action) -> Value {
        let Action::Patch {
            patch_type, patch, ..
        } = action
        else {
            panic!("not a patch: {action:?}")
        };
        let mut out = sts.clone();
        if *patch_type == PatchType::Json {
            let p: json_patch::Patch = serde_json::from_value(patch.clone()).unwrap();
            json_patch::patch(&mut out, &p).unwrap();
        } else {
            json_patch::merge(&mut out, patch);
        }
        out
    }

    #[test]
    fn kubesphere_without_webhook_creates_claim_patches_and_restarts_data_first() {
        let targets = [
            ks("elasticsearch-logging-discovery", 1),
            ks("elasticsearch-logging-data", 2),
        ];
        let plan = run(&targets, None, false, &options()).unwrap();
        assert_eq!(plan.claim, "elasticsearch-logging-backup");
        assert_eq!(plan.via, Via::Patch);
        let Action::Create { object } = &plan.actions[0] else {
            panic!("{:?}", plan.actions[0])
        };
        assert_eq!(object["metadata"]["name"], "elasticsearch-logging-backup");
        assert_eq!(object["spec"]["storageClassName"], "nfs-client");
        for (i, sts) in targets.iter().enumerate() {
            let after = apply(sts, &plan.actions[1 + i]);
            assert_eq!(
                after["metadata"]["labels"]["logbackup.io/inject"],
                "enabled"
            );
            assert_eq!(
                after["metadata"]["annotations"]["logbackup.io/claim"],
                "elasticsearch-logging-backup"
            );
            // The same result as the webhook's: the injection core on the labelled object.
            let mut expected = after.clone();
            let again = inject::apply(&mut expected, &InjectOptions::default()).unwrap();
            assert_eq!(again.outcome, Outcome::Unchanged, "{}", id(sts));
            let vols = after["spec"]["template"]["spec"]["volumes"]
                .as_array()
                .unwrap();
            assert!(
                vols.iter()
                    .any(|v| v["persistentVolumeClaim"]["claimName"]
                        == "elasticsearch-logging-backup")
            );
        }
        assert_eq!(
            plan.restart_pods(),
            [
                "elasticsearch-logging-data-1",
                "elasticsearch-logging-data-0",
                "elasticsearch-logging-discovery-0"
            ]
        );
    }

    #[test]
    fn with_the_webhook_only_the_label_and_annotations_are_patched() {
        let plan = run(
            &[ks("elasticsearch-logging-data", 2)],
            None,
            true,
            &options(),
        )
        .unwrap();
        assert_eq!(plan.via, Via::Webhook);
        let Action::Patch {
            patch_type, patch, ..
        } = &plan.actions[1]
        else {
            panic!()
        };
        assert_eq!(*patch_type, PatchType::Merge);
        assert_eq!(
            *patch,
            json!({"metadata": {"labels": {"logbackup.io/inject": "enabled"}, "annotations": {"logbackup.io/claim": "elasticsearch-logging-backup"}}})
        );
        // The webhook changes the template, and OnDelete restarts nothing: we restart.
        assert_eq!(plan.restart_pods().len(), 2);
    }

    #[test]
    fn a_webhook_that_did_not_inject_is_made_up_for_directly() {
        let o = options();
        let labelled_only = apply(
            &ks("es-data", 2),
            &run(&[ks("es-data", 2)], None, true, &o).unwrap().actions[1],
        );
        let action = injection_pending(&labelled_only, "es-backup", &o)
            .unwrap()
            .expect("a patch");
        let after = apply(&labelled_only, &action);
        assert_eq!(injection_pending(&after, "es-backup", &o).unwrap(), None);
        let Action::Patch { patch, .. } = action else {
            panic!()
        };
        // The label is there already: only the resourceVersion test and the injection.
        assert!(patch
            .as_array()
            .unwrap()
            .iter()
            .all(|op| !op["path"].as_str().unwrap().starts_with("/metadata/labels")));
    }

    #[test]
    fn via_webhook_without_one_is_refused() {
        let o = EnableOptions {
            via: Via::Webhook,
            ..options()
        };
        assert_eq!(
            run(&[ks("es-data", 1)], None, false, &o),
            Err(EnableError::NoWebhook)
        );
        let o = EnableOptions {
            via: Via::Patch,
            ..options()
        };
        assert_eq!(
            run(&[ks("es-data", 1)], None, true, &o).unwrap().via,
            Via::Patch
        );
    }

    #[test]
    fn enabling_again_changes_nothing_and_restarts_nothing() {
        let sts = ks("elasticsearch-logging-data", 2);
        let plan = run(std::slice::from_ref(&sts), None, false, &options()).unwrap();
        let after = apply(&sts, &plan.actions[1]);
        let pvc = json!({"metadata": {"name": "elasticsearch-logging-backup"}, "spec": {"accessModes": ["ReadWriteMany"]}, "status": {"phase": "Bound"}});
        let again = run(&[after], Some(&pvc), false, &options()).unwrap();
        assert_eq!(
            again.actions,
            vec![Action::UseClaim {
                name: "elasticsearch-logging-backup".into(),
                phase: "Bound".into()
            }]
        );
    }

    #[test]
    fn an_rwo_claim_is_refused() {
        let pvc = json!({"metadata": {"name": "elasticsearch-logging-backup"}, "spec": {"accessModes": ["ReadWriteOnce"]}});
        assert!(matches!(
            run(
                &[ks("elasticsearch-logging-data", 1)],
                Some(&pvc),
                false,
                &options()
            ),
            Err(EnableError::NotReadWriteMany { .. })
        ));
    }

    #[test]
    fn creating_needs_a_storage_class() {
        let o = EnableOptions {
            storage_class: None,
            ..options()
        };
        assert!(matches!(
            run(&[ks("es-data", 1)], None, false, &o),
            Err(EnableError::NoStorageClass { .. })
        ));
    }

    #[test]
    fn statefulsets_resolving_to_different_claims_are_refused() {
        let mut other = ks("es-data", 1);
        other["metadata"]["annotations"] = json!({"logbackup.io/claim": "elsewhere"});
        let e = run(
            &[ks("es-master", 1), other.clone()],
            None,
            false,
            &options(),
        )
        .unwrap_err();
        assert!(
            e.to_string().contains(
                "statefulset/es-master uses es-backup, statefulset/es-data uses elsewhere"
            ),
            "{e}"
        );
        // --claim decides for all of them.
        let o = EnableOptions {
            claim: Some("shared".into()),
            ..options()
        };
        assert_eq!(
            run(&[ks("es-master", 1), other], None, false, &o)
                .unwrap()
                .claim,
            "shared"
        );
    }

    #[test]
    fn rolling_update_is_left_to_the_controller() {
        let mut sts = ks("es-data", 3);
        sts["spec"]["updateStrategy"] = json!({"type": "RollingUpdate"});
        let plan = run(&[sts], None, false, &options()).unwrap();
        assert!(plan.restart_pods().is_empty());
        assert!(
            plan.notes
                .iter()
                .any(|n| n.contains("controller restarts the pods itself")),
            "{:?}",
            plan.notes
        );
        assert_eq!(
            plan.rolled_by_others,
            [RolledByOthers {
                kind: PatchKind::StatefulSet,
                name: "es-data".into()
            }]
        );
    }

    #[test]
    fn restart_none_prints_the_procedure_instead() {
        let o = EnableOptions {
            restart: false,
            ..options()
        };
        let plan = run(&[ks("es-data", 2)], None, false, &o).unwrap();
        assert!(plan.restart_pods().is_empty());
        assert_eq!(plan.left_to_user, ["es-data-1", "es-data-0"]);
        let text = plan.notes.join("\n");
        assert!(
            text.contains("kubectl -n kubesphere-logging-system delete pod es-data-1"),
            "{text}"
        );
        assert!(text.find("es-data-1").unwrap() < text.find("es-data-0").unwrap());
        assert!(text.contains("\"primaries\""));
        assert!(text.contains("wait_for_status=green"));
    }

    #[test]
    fn eck_resources_get_a_merge_patch_and_no_restart_from_us() {
        let es = json!({"apiVersion": "elasticsearch.k8s.elastic.co/v1", "kind": "Elasticsearch", "metadata": {"name": "logs"},
            "spec": {"nodeSets": [{"name": "default", "count": 3}]}});
        let plan = run(&[es], None, false, &options()).unwrap();
        assert_eq!(plan.claim, "logs-backup");
        let Action::Patch {
            kind,
            patch_type,
            patch,
            ..
        } = &plan.actions[1]
        else {
            panic!()
        };
        assert_eq!(
            (kind.as_str(), patch_type.as_str()),
            ("Elasticsearch", "merge")
        );
        assert_eq!(
            patch["spec"]["nodeSets"][0]["config"]["path.repo"],
            json!(["/usr/share/elasticsearch/backup"])
        );
        assert!(plan.restart_pods().is_empty());
        assert!(plan
            .notes
            .iter()
            .any(|n| n.contains("ECK rolls the pods itself")));
        assert_eq!(
            plan.rolled_by_others,
            [RolledByOthers {
                kind: PatchKind::Elasticsearch,
                name: "logs".into()
            }]
        );
    }

    #[test]
    fn actions_keep_their_wire_names() {
        let action = Action::Patch {
            kind: PatchKind::Elasticsearch,
            name: "logs".into(),
            patch_type: PatchType::Merge,
            patch: json!({}),
        };
        assert_eq!(
            serde_json::to_value(&action).unwrap(),
            json!({"action": "patch", "kind": "Elasticsearch", "name": "logs", "patchType": "merge", "patch": {}})
        );
        assert_eq!(PatchKind::StatefulSet.to_string(), "statefulset");
        assert_eq!(PatchType::Json.to_string(), "json");
    }

    #[test]
    fn eck_targets_get_the_chown_init_container_and_their_flags_checked() {
        let es = json!({"apiVersion": "elasticsearch.k8s.elastic.co/v1", "kind": "Elasticsearch", "metadata": {"name": "logs"},
            "spec": {"nodeSets": [{"name": "default", "count": 3}]}});
        let plan = run(std::slice::from_ref(&es), None, false, &options()).unwrap();
        let Action::Patch { patch, .. } = &plan.actions[1] else {
            panic!("{:?}", plan.actions)
        };
        assert_eq!(
            patch["spec"]["nodeSets"][0]["podTemplate"]["spec"]["initContainers"][0]["name"],
            inject::keys::INIT_CONTAINER_NAME
        );
        for (o, flag) in [
            (
                EnableOptions {
                    path: Some("/a b".into()),
                    ..options()
                },
                "--path",
            ),
            (
                EnableOptions {
                    claim: Some("C".into()),
                    ..options()
                },
                "--claim",
            ),
            (
                EnableOptions {
                    container: Some("E S".into()),
                    ..options()
                },
                "--container",
            ),
        ] {
            let e = run(std::slice::from_ref(&es), None, false, &o).unwrap_err();
            assert!(
                e.to_string()
                    .starts_with(&format!("failed to plan enable: invalid {flag} ")),
                "{e}"
            );
        }
    }

    #[test]
    fn eck_generated_statefulsets_are_not_patched() {
        let mut sts = ks("logs-es-default", 1);
        sts["metadata"]["labels"] = json!({"common.k8s.elastic.co/type": "elasticsearch", "elasticsearch.k8s.elastic.co/cluster-name": "logs"});
        let o = EnableOptions {
            claim: Some("c".into()),
            ..options()
        };
        assert!(matches!(
            run(&[sts], None, false, &o),
            Err(EnableError::Invalid { .. })
        ));
    }

    #[test]
    fn a_statefulset_without_elasticsearch_is_refused_with_the_injection_error() {
        let mut sts = ks("es-data", 1);
        sts["spec"]["template"]["spec"]["containers"] =
            json!([{"name": "nginx", "image": "nginx"}]);
        assert!(matches!(
            run(&[sts], None, false, &options()),
            Err(EnableError::Inject { .. })
        ));
    }

    #[test]
    fn the_plan_serializes_for_dry_run() {
        let plan = run(&[ks("es-data", 1)], None, false, &options()).unwrap();
        let v = serde_json::to_value(&plan.actions).unwrap();
        assert_eq!(v[0]["action"], "create");
        assert_eq!(v[1]["action"], "patch");
        assert_eq!(v[1]["patchType"], "json");
        assert_eq!(
            v[1]["patch"][0],
            json!({"op": "test", "path": "/metadata/resourceVersion", "value": "100"})
        );
        assert_eq!(v[2]["action"], "restart");
    }
}
