//! StatefulSet in, JSON-patch operations out. Pure: no I/O, no clock, no environment.

use json_patch::PatchOperation;
use serde_json::Value;

use super::desired::{self, InitContainer};
use super::doc::{covers, field, same, text, Doc};
use super::error::{InjectError, Warning};
use super::keys::*;
use super::ops::{at, Ops};
use super::reader::Reader;
use super::record::Record;
use super::settings::{self, Overrides, Settings};
use super::view::{Meta, StatefulSet, Strings};

/// Which StatefulSets to inject.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Selection {
    /// Only those labelled `logbackup.io/inject: enabled` (the webhook's and the default behaviour).
    #[default]
    Labelled,
    /// Any StatefulSet with an Elasticsearch container, unless it opted out.
    All,
}

#[derive(Debug, Clone, Default)]
pub struct Options {
    pub selection: Selection,
    pub overrides: Overrides,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SkipReason {
    NotLabelled,
    OptedOut,
    EckOwned,
    NoElasticsearchContainer,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// First injection.
    Injected,
    /// Was injected before; settings changed and the injected parts are updated in place.
    Updated,
    /// Already injected with these settings: no operations.
    Unchanged,
    Skipped(SkipReason),
}

#[derive(Debug, Clone)]
pub struct Plan {
    pub outcome: Outcome,
    pub patch: Vec<PatchOperation>,
    pub warnings: Vec<Warning>,
    /// What the StatefulSet carries after the patch, when it is (or stays) injected.
    pub record: Option<Record>,
}

impl Plan {
    fn skipped(reason: SkipReason, warnings: Vec<Warning>) -> Self {
        Plan {
            outcome: Outcome::Skipped(reason),
            patch: Vec::new(),
            warnings,
            record: None,
        }
    }
}

const POD: [&str; 3] = ["spec", "template", "spec"];

/// Plans the injection into `object`, an `apps/v1` StatefulSet as JSON (the plugin's documents).
/// The same planner as [`plan_borrowed`], on a borrowed view of the value (its strings are not
/// copied; its maps are).
pub fn plan(object: &Value, options: &Options) -> Result<Plan, InjectError> {
    plan_borrowed(&Doc::from(object), options)
}

/// Plans the injection into `object`, an `apps/v1` StatefulSet parsed into a borrowed [`Doc`]:
/// what the webhook calls, so that no `serde_json::Value` of the object is ever built.
pub fn plan_borrowed(object: &Doc<'_>, options: &Options) -> Result<Plan, InjectError> {
    options.overrides.validate()?;
    // The fields the planner reads, borrowed from the value: no copy of the object.
    let sts = <StatefulSet as serde::Deserialize>::deserialize(Reader(object))
        .map_err(|e| InjectError::NotAStatefulSet(e.to_string()))?;
    if let Some(kind) = sts.kind {
        if kind != "StatefulSet" {
            return Err(InjectError::NotAStatefulSet(format!("kind is {kind}")));
        }
    }
    let meta = sts.metadata.unwrap_or_default();
    let id = match (meta.namespace, meta.name) {
        (Some(ns), Some(name)) => format!("{ns}/{name}"),
        (None, Some(name)) => name.to_owned(),
        _ => "<unnamed StatefulSet>".to_owned(),
    };
    let empty = Strings::new();
    let labels = meta.labels.as_ref().unwrap_or(&empty);
    let annotations = meta.annotations.as_ref().unwrap_or(&empty);

    let label = labels.get(INJECT_LABEL).copied();
    match label {
        Some(DISABLED) => return Ok(Plan::skipped(SkipReason::OptedOut, vec![])),
        Some(ENABLED) => {}
        Some(other) if options.selection == Selection::Labelled => {
            let w = Warning::new(
                "unknown-label-value",
                format!("{id}: label {INJECT_LABEL}={other:?} is neither \"enabled\" nor \"disabled\"; not injected"),
            );
            return Ok(Plan::skipped(SkipReason::NotLabelled, vec![w]));
        }
        _ if options.selection == Selection::Labelled => {
            return Ok(Plan::skipped(SkipReason::NotLabelled, vec![]))
        }
        _ => {}
    }
    if labels.get(ECK_TYPE_LABEL).copied() == Some("elasticsearch") {
        let w = Warning::new(
            "eck-owned",
            format!("{id} is managed by ECK, which would undo changes to it; add the volume and config.path.repo to the Elasticsearch resource's spec.nodeSets instead (kubectl logbackup enable does this)"),
        );
        return Ok(Plan::skipped(SkipReason::EckOwned, vec![w]));
    }

    let pod = sts
        .spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .ok_or_else(|| InjectError::NoPodSpec { sts: id.clone() })?;
    let settings = match settings::resolve(&id, annotations, pod, &options.overrides) {
        Ok(s) => s,
        Err(e @ InjectError::ContainerNotFound { .. }) if label != Some(ENABLED) => {
            let w = Warning::new("no-elasticsearch-container", e.to_string());
            return Ok(Plan::skipped(SkipReason::NoElasticsearchContainer, vec![w]));
        }
        Err(e) => return Err(e),
    };
    let template_annotations = sts
        .spec
        .as_ref()
        .and_then(|s| s.template.metadata.as_ref())
        .and_then(|m: &Meta| m.annotations.as_ref());
    let previous = template_annotations
        .and_then(|a| a.get(INJECTED_ANNOTATION))
        .and_then(|v| Record::from_annotation(v));

    let mut planner = Planner {
        object,
        id: &id,
        settings: &settings,
        previous: previous.as_ref(),
        ops: Ops::default(),
        warnings: Vec::new(),
    };
    let record = planner.run()?;
    let Planner { ops, warnings, .. } = planner;
    let outcome = match (ops.0.is_empty(), &previous) {
        (true, _) => Outcome::Unchanged,
        (false, Some(_)) => Outcome::Updated,
        (false, None) => Outcome::Injected,
    };
    Ok(Plan {
        outcome,
        patch: ops.0,
        warnings,
        record: Some(record),
    })
}

struct Planner<'a> {
    object: &'a Doc<'a>,
    id: &'a str,
    settings: &'a Settings,
    previous: Option<&'a Record>,
    ops: Ops,
    warnings: Vec<Warning>,
}

impl<'a> Planner<'a> {
    fn run(&mut self) -> Result<Record, InjectError> {
        let volume = self.volume();
        self.mount(&volume)?;
        let env = self.path_repo();
        let init_container = self.init_container(&volume);
        let s = self.settings;
        let record = Record {
            claim: s.claim.clone(),
            path: s.path.clone(),
            container: s.container.clone(),
            uid: s.uid,
            gid: s.gid,
            volume,
            init_container,
            env,
        };
        self.marker(&record);
        Ok(record)
    }

    /// Borrowed from the object, not from `self`, so the planner can add operations while it
    /// reads the list (no copy of it); walked key by key, not through a formatted pointer.
    fn pod_array(&self, name: &str) -> Option<&'a [Doc<'a>]> {
        let object: &'a Doc<'a> = self.object;
        let pod = field(field(field(object, "spec")?, "template")?, "spec")?;
        field(pod, name)?.as_array()
    }

    fn es_path(&self) -> Vec<String> {
        at(
            &at(&[], &POD),
            &[
                "containers".to_owned(),
                self.settings.container_index.to_string(),
            ],
        )
    }

    /// The Elasticsearch container.
    fn es(&self) -> Option<&'a Doc<'a>> {
        self.pod_array("containers")?
            .get(self.settings.container_index)
    }

    fn es_array(&self, name: &str) -> Option<&'a [Doc<'a>]> {
        field(self.es()?, name)?.as_array()
    }

    /// The pod volume for the claim: ours from an earlier injection, a volume the user already points
    /// at the same claim (adopted, e.g. after following the manual procedure), or a new one under a
    /// name nobody uses.
    fn volume(&mut self) -> String {
        let volumes = self.pod_array("volumes");
        let exists = volumes.is_some();
        let list = volumes.unwrap_or_default();
        let claim = &self.settings.claim;
        let want_name = |v: &Doc| text(v, "name").map(str::to_owned);
        let pvc_claim = |v: &Doc| {
            field(v, "persistentVolumeClaim")
                .and_then(|p| text(p, "claimName"))
                .map(str::to_owned)
        };
        let parent = at(&at(&[], &POD), &["volumes"]);
        if let Some(prev) = self.previous {
            if let Some(i) = list
                .iter()
                .position(|v| want_name(v).as_deref() == Some(prev.volume.as_str()))
            {
                let desired = desired::volume(&prev.volume, claim);
                if !same(&list[i], &desired)
                    && pvc_claim(&list[i]).as_deref() != Some(claim.as_str())
                {
                    self.ops.replace(&at(&parent, &[i]), desired);
                }
                return prev.volume.clone();
            }
        }
        if let Some(existing) = list
            .iter()
            .find(|v| pvc_claim(v).as_deref() == Some(claim.as_str()))
        {
            if let Some(name) = want_name(existing) {
                return name;
            }
        }
        let taken: Vec<String> = list.iter().filter_map(want_name).collect();
        let name = self.free_name(VOLUME_NAME, &taken, "a volume");
        self.ops
            .append(&parent, exists, desired::volume(&name, claim));
        name
    }

    fn mount(&mut self, volume: &str) -> Result<(), InjectError> {
        let mounts = self.es_array("volumeMounts").unwrap_or_default();
        let path = &self.settings.path;
        let parent = at(&self.es_path(), &["volumeMounts"]);
        let field = |m: &Doc, k: &str| text(m, k).map(str::to_owned);
        if let Some(other) = mounts.iter().find(|m| {
            field(m, "mountPath").as_deref() == Some(path)
                && field(m, "name").as_deref() != Some(volume)
        }) {
            return Err(InjectError::PathTaken {
                sts: self.id.to_owned(),
                container: self.settings.container.clone(),
                volume: field(other, "name").unwrap_or_default(),
                path: path.clone(),
            });
        }
        match mounts
            .iter()
            .position(|m| field(m, "name").as_deref() == Some(volume))
        {
            Some(i) if field(&mounts[i], "mountPath").as_deref() == Some(path) => {}
            // `add`, not `replace`: an adopted mount may have no mountPath at all, and `add`
            // sets a member whether or not it exists.
            Some(i) => self.ops.add(
                &at(&parent, &[i.to_string(), "mountPath".into()]),
                Value::from(path.as_str()),
            ),
            None => self.ops.append(
                &parent,
                self.es_array("volumeMounts").is_some(),
                desired::mount(volume, path),
            ),
        }
        Ok(())
    }

    /// Sets the repository path the image family reads, merged with paths the user already listed
    /// (`-Epath.repo` overrides elasticsearch.yml, so nothing the user had may be dropped).
    fn path_repo(&mut self) -> String {
        let s = self.settings;
        let name = s.family.repo_env();
        let env = self.es_array("env").unwrap_or_default();
        let parent = at(&self.es_path(), &["env"]);
        let es = self.es();
        if es
            .and_then(|c| field(c, "command"))
            .and_then(|c| c.as_array())
            .is_some_and(|c| !c.is_empty())
        {
            self.warnings.push(Warning::new(
                "command-override",
                format!("{}: container {} sets command, which bypasses the image entrypoint that reads {name}; make sure path.repo includes {}", self.id, s.container, s.path),
            ));
        }
        let Some(i) = env.iter().position(|e| text(e, "name") == Some(name)) else {
            self.ops.append(
                &parent,
                self.es_array("env").is_some(),
                serde_json::json!({ "name": name, "value": s.path }),
            );
            return name.to_owned();
        };
        let value_at = at(&parent, &[i.to_string(), "value".into()]);
        match text(&env[i], "value") {
            None if field(&env[i], "valueFrom").is_some() => self.warnings.push(Warning::new(
                "path-repo-from-ref",
                format!("{}: env {name} comes from valueFrom and cannot be merged; make sure it includes {}", self.id, s.path),
            )),
            None => self.ops.add(&value_at, Value::from(s.path.as_str())),
            Some(current) => {
                // Our previous path is dropped when the path changed; the user's paths stay, in order.
                let stale = self.previous.filter(|p| p.env == name && p.path != s.path).map(|p| p.path.as_str());
                let mut paths: Vec<&str> = Vec::new();
                for p in current.split(',').map(str::trim).chain([s.path.as_str()]) {
                    if !p.is_empty() && Some(p) != stale && !paths.contains(&p) {
                        paths.push(p);
                    }
                }
                let merged = paths.join(",");
                if merged != current {
                    self.ops.replace(&value_at, Value::from(merged));
                }
            }
        }
        name.to_owned()
    }

    fn init_container(&mut self, volume: &str) -> String {
        let s = self.settings;
        let es = self.es();
        let image = es
            .and_then(|c| text(c, "image"))
            .unwrap_or_default()
            .to_owned();
        let pull_policy = es
            .and_then(|c| text(c, "imagePullPolicy"))
            .map(str::to_owned);
        let inits = self.pod_array("initContainers").unwrap_or_default();
        let parent = at(&at(&[], &POD), &["initContainers"]);
        let name_of = |c: &Doc| text(c, "name").map(str::to_owned);
        let mine = self.previous.and_then(|p| {
            inits
                .iter()
                .position(|c| name_of(c).as_deref() == Some(p.init_container.as_str()))
        });
        let name = match (mine, self.previous) {
            (Some(_), Some(p)) => p.init_container.clone(),
            _ => {
                let mut taken: Vec<String> = inits.iter().filter_map(name_of).collect();
                taken.extend(
                    self.pod_array("containers")
                        .into_iter()
                        .flatten()
                        .filter_map(name_of),
                );
                self.free_name(INIT_CONTAINER_NAME, &taken, "an init container")
            }
        };
        let desired = InitContainer {
            name: &name,
            image: Some(&image),
            pull_policy: pull_policy.as_deref(),
            volume,
            path: &s.path,
            uid: s.uid,
            gid: s.gid,
        }
        .to_json();
        match mine {
            Some(i) if covers(&inits[i], &desired) => {}
            Some(i) => self.ops.replace(&at(&parent, &[i]), desired),
            None => self
                .ops
                .append(&parent, self.pod_array("initContainers").is_some(), desired),
        }
        name
    }

    fn marker(&mut self, record: &Record) {
        let value = record.to_annotation();
        let template = field(self.object, "spec").and_then(|s| field(s, "template"));
        // `metadata: null` is as good as absent: an `add` under it would not apply.
        let meta = template
            .and_then(|t| field(t, "metadata"))
            .filter(|m| m.is_object());
        let annotations = meta
            .and_then(|m| field(m, "annotations"))
            .and_then(|a| a.as_object());
        let base = at(&[], &["spec", "template", "metadata"]);
        match (meta.is_some(), annotations) {
            (false, _) => self.ops.add(
                &base,
                serde_json::json!({ "annotations": { INJECTED_ANNOTATION: value } }),
            ),
            (true, None) => self.ops.add(
                &at(&base, &["annotations"]),
                serde_json::json!({ INJECTED_ANNOTATION: value }),
            ),
            (true, Some(a)) => match a.get(INJECTED_ANNOTATION).and_then(|v| v.as_str()) {
                Some(current) if current == value => {}
                Some(_) => self.ops.replace(
                    &at(&base, &["annotations", INJECTED_ANNOTATION]),
                    Value::from(value),
                ),
                None => self.ops.add(
                    &at(&base, &["annotations", INJECTED_ANNOTATION]),
                    Value::from(value),
                ),
            },
        }
    }

    /// `base`, or `base-2`, `base-3`, ... when the user already has something called `base`.
    fn free_name(&mut self, base: &str, taken: &[String], what: &str) -> String {
        if !taken.iter().any(|t| t == base) {
            return base.to_owned();
        }
        let name = (2..)
            .map(|n| format!("{base}-{n}"))
            .find(|candidate| !taken.contains(candidate))
            .unwrap_or_else(|| base.to_owned());
        self.warnings.push(Warning::new(
            "name-clash",
            format!(
                "{}: the pod already has {what} named {base}; injected as {name}",
                self.id
            ),
        ));
        name
    }
}
