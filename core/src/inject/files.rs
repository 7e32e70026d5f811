//! Log directories: a workload's pod template (or a bare Pod) in, the JSON-patch operations that
//! put the directories its annotation names on the node's log root (a hostPath the collector
//! owns), so that the files outlive the container and the pod until the collector has copied
//! them. Pure, and the one planner behind the webhook and `kubectl logbackup inject`.
//!
//! For each chosen container: the downward-API variables naming the pod, and one mount per
//! directory of the volume `logbackup-files` with a `subPathExpr`
//! (`<namespace>/<workload>/<pod>_<uid>/<container>/<dir>`), which the kubelet creates. With
//! `logbackup.io/stdout: "true"`, one more read-only mount makes the marker directory that tells
//! the collector to keep the container's stdout and stderr too.

use serde_json::{json, Value};

use super::doc::{covers, field, text, Doc};
use super::error::{InjectError, Warning};
use super::keys::*;
use super::ops::{at, Ops};
use super::plan::{Outcome, Plan, SkipReason};
use super::settings::valid_path;
use crate::files::layout::{dir_component, sub_path_expr, STDOUT_MARKER};

/// Where the pod template is in each kind the log directories are injected into.
pub fn template_path(api_version: &str, kind: &str) -> Option<&'static [&'static str]> {
    match (api_version, kind) {
        ("v1", "Pod") => Some(&[]),
        ("apps/v1", "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet")
        | ("batch/v1", "Job") => Some(&["spec", "template"]),
        ("batch/v1", "CronJob") => Some(&["spec", "jobTemplate", "spec", "template"]),
        _ => None,
    }
}

/// The annotation's settings, read and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogDirs {
    pub dirs: Vec<String>,
    /// `None`: every container.
    pub containers: Option<Vec<String>>,
    pub stdout: bool,
}

impl LogDirs {
    /// Reads the pod template's annotations; `Ok(None)` when it names no log directory.
    pub fn from_annotations(
        id: &str,
        annotations: Option<&Doc>,
    ) -> Result<Option<Self>, InjectError> {
        let get = |key: &str| annotations.and_then(|a| text(a, key));
        let Some(value) = get(LOG_DIRS_ANNOTATION) else {
            return Ok(None);
        };
        let invalid =
            |key: &'static str, value: &str, reason: String| InjectError::InvalidSetting {
                sts: id.to_owned(),
                key,
                value: value.to_owned(),
                reason,
            };
        let mut dirs: Vec<String> = Vec::new();
        for dir in value.split(',').map(str::trim).filter(|d| !d.is_empty()) {
            let dir = dir.trim_end_matches('/').to_owned();
            valid_path(&dir).map_err(|r| invalid(LOG_DIRS_ANNOTATION, value, r))?;
            if let Some(other) = dirs.iter().find(|d| {
                **d == dir || dir.starts_with(&format!("{d}/")) || d.starts_with(&format!("{dir}/"))
            }) {
                return Err(invalid(
                    LOG_DIRS_ANNOTATION,
                    value,
                    format!("{dir} and {other} overlap; name each directory once"),
                ));
            }
            if dir_component(&dir) == STDOUT_MARKER {
                return Err(invalid(LOG_DIRS_ANNOTATION, value, "reserved name".into()));
            }
            dirs.push(dir);
        }
        if dirs.is_empty() {
            return Err(invalid(
                LOG_DIRS_ANNOTATION,
                value,
                "names no directory; give absolute paths, comma-separated".into(),
            ));
        }
        let containers = get(LOG_CONTAINERS_ANNOTATION).map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(str::to_owned)
                .collect::<Vec<_>>()
        });
        let stdout = match get(STDOUT_ANNOTATION) {
            None | Some("false") => false,
            Some("true") => true,
            Some(other) => {
                return Err(invalid(
                    STDOUT_ANNOTATION,
                    other,
                    "expected \"true\" or \"false\"".into(),
                ))
            }
        };
        Ok(Some(Self {
            dirs,
            containers,
            stdout,
        }))
    }
}

/// Plans the log directories' injection into `object`, any kind [`template_path`] knows.
pub fn plan_files(object: &Doc<'_>) -> Result<Plan, InjectError> {
    let kind = text(object, "kind").unwrap_or_default();
    let api_version = text(object, "apiVersion").unwrap_or_default();
    let skipped = |reason| Plan {
        outcome: Outcome::Skipped(reason),
        patch: Vec::new(),
        warnings: Vec::new(),
        record: None,
    };
    let Some(template_at) = template_path(api_version, kind) else {
        return Ok(skipped(SkipReason::NotLabelled));
    };
    let meta = field(object, "metadata");
    let label = meta
        .and_then(|m| field(m, "labels"))
        .and_then(|l| text(l, FILES_LABEL));
    if label != Some(ENABLED) {
        return Ok(skipped(SkipReason::NotLabelled));
    }
    let name = meta.and_then(|m| text(m, "name"));
    let id = format!("{kind} {}", name.unwrap_or("<unnamed>"));
    // Pods a controller makes were injected through their template.
    if kind == "Pod"
        && meta
            .and_then(|m| field(m, "ownerReferences"))
            .and_then(|o| o.as_array())
            .is_some_and(|o| !o.is_empty())
    {
        return Ok(skipped(SkipReason::NotLabelled));
    }
    let Some(workload) = name else {
        return Err(InjectError::InvalidSetting {
            sts: id,
            key: "metadata.name",
            value: String::new(),
            reason: "the archive is laid out by workload name; give the object a name (generateName is not enough)".into(),
        });
    };
    let mut template = Some(object);
    for key in template_at {
        template = template.and_then(|t| field(t, key));
    }
    let template_meta = template.and_then(|t| field(t, "metadata"));
    let Some(settings) =
        LogDirs::from_annotations(&id, template_meta.and_then(|m| field(m, "annotations")))?
    else {
        let w = Warning::new(
            "no-log-dirs",
            format!("{id} is labelled {FILES_LABEL}={ENABLED} but its pod template has no {LOG_DIRS_ANNOTATION} annotation; nothing injected"),
        );
        let mut plan = skipped(SkipReason::NotLabelled);
        plan.warnings.push(w);
        return Ok(plan);
    };
    let pod = template
        .and_then(|t| field(t, "spec"))
        .ok_or_else(|| InjectError::NoPodSpec { sts: id.clone() })?;
    let pod_at: Vec<String> = at(&at(&[], template_at), &["spec"]);
    Planner {
        id: &id,
        workload,
        pod,
        pod_at,
        settings: &settings,
        ops: Ops::default(),
    }
    .run()
}

struct Planner<'a> {
    id: &'a str,
    workload: &'a str,
    pod: &'a Doc<'a>,
    pod_at: Vec<String>,
    settings: &'a LogDirs,
    ops: Ops,
}

fn env_var(name: &str, field_path: &str) -> Value {
    json!({ "name": name, "valueFrom": { "fieldRef": { "fieldPath": field_path } } })
}

impl<'a> Planner<'a> {
    fn run(mut self) -> Result<Plan, InjectError> {
        let containers = self
            .pod_array("containers")
            .ok_or_else(|| InjectError::NoPodSpec {
                sts: self.id.to_owned(),
            })?;
        let names: Vec<&str> = containers.iter().filter_map(|c| text(c, "name")).collect();
        if let Some(wanted) = &self.settings.containers {
            if let Some(missing) = wanted.iter().find(|w| !names.contains(&w.as_str())) {
                return Err(InjectError::ContainerNotFound {
                    sts: self.id.to_owned(),
                    reason: format!("named {missing} (annotation {LOG_CONTAINERS_ANNOTATION})"),
                    containers: names.iter().map(|n| n.to_string()).collect(),
                });
            }
        }
        let existed = self.volume();
        for (i, container) in containers.iter().enumerate() {
            let name = text(container, "name").unwrap_or_default();
            let chosen = self
                .settings
                .containers
                .as_ref()
                .is_none_or(|w| w.iter().any(|c| c == name));
            self.container(i, container, name, chosen)?;
        }
        let outcome = match (self.ops.0.is_empty(), existed) {
            (true, _) => Outcome::Unchanged,
            (false, true) => Outcome::Updated,
            (false, false) => Outcome::Injected,
        };
        Ok(Plan {
            outcome,
            patch: self.ops.0,
            warnings: Vec::new(),
            record: None,
        })
    }

    fn pod_array(&self, name: &str) -> Option<&'a [Doc<'a>]> {
        let pod: &'a Doc<'a> = self.pod;
        field(pod, name)?.as_array()
    }

    /// The hostPath volume; whether it was there already.
    fn volume(&mut self) -> bool {
        let desired = json!({
            "name": FILES_VOLUME_NAME,
            "hostPath": { "path": crate::ids::FILES_ROOT, "type": "Directory" }
        });
        let volumes = self.pod_array("volumes");
        let parent = at(&self.pod_at, &["volumes"]);
        match volumes.and_then(|v| {
            v.iter()
                .position(|v| text(v, "name") == Some(FILES_VOLUME_NAME))
        }) {
            Some(i) => {
                if let Some(v) = volumes.and_then(|v| v.get(i)) {
                    if !covers(v, &desired) {
                        self.ops.replace(&at(&parent, &[i]), desired);
                    }
                }
                true
            }
            None => {
                self.ops.append(&parent, volumes.is_some(), desired);
                false
            }
        }
    }

    fn container(
        &mut self,
        index: usize,
        container: &'a Doc<'a>,
        name: &str,
        chosen: bool,
    ) -> Result<(), InjectError> {
        let base = at(&self.pod_at, &["containers".to_owned(), index.to_string()]);
        let mut desired: Vec<Value> = Vec::new();
        if chosen {
            for dir in &self.settings.dirs {
                desired.push(json!({
                    "name": FILES_VOLUME_NAME,
                    "mountPath": dir,
                    "subPathExpr": sub_path_expr(self.workload, name, dir),
                }));
            }
            if self.settings.stdout {
                let marker = sub_path_expr(self.workload, name, "/")
                    .rsplit_once('/')
                    .map(|(head, _)| format!("{head}/{STDOUT_MARKER}"))
                    .unwrap_or_default();
                desired.push(json!({
                    "name": FILES_VOLUME_NAME,
                    "mountPath": STDOUT_MOUNT_PATH,
                    "readOnly": true,
                    "subPathExpr": marker,
                }));
            }
        }
        let mounts = field(container, "volumeMounts").and_then(|m| m.as_array());
        let list = mounts.unwrap_or_default();
        let mounts_at = at(&base, &["volumeMounts"]);
        for want in &desired {
            let path = want["mountPath"].as_str().unwrap_or_default();
            if let Some(other) = list.iter().find(|m| {
                text(m, "mountPath").map(|p| p.trim_end_matches('/')) == Some(path)
                    && text(m, "name") != Some(FILES_VOLUME_NAME)
            }) {
                return Err(InjectError::LogDirTaken {
                    object: self.id.to_owned(),
                    mount: format!(
                        "container {name} mounts volume {}",
                        text(other, "name").unwrap_or_default()
                    ),
                    path: path.to_owned(),
                });
            }
        }
        // Our mounts no longer wanted go, from the last so the indices stay right.
        let stale: Vec<usize> = list
            .iter()
            .enumerate()
            .filter(|(_, m)| text(m, "name") == Some(FILES_VOLUME_NAME))
            .filter(|(_, m)| !desired.iter().any(|d| covers(m, d)))
            .map(|(i, _)| i)
            .collect();
        let mut remaining = list.len() - stale.len();
        for &i in stale.iter().rev() {
            self.ops.remove(&at(&mounts_at, &[i]));
        }
        for want in desired
            .iter()
            .filter(|d| !list.iter().any(|m| covers(m, d)))
        {
            self.ops
                .append(&mounts_at, mounts.is_some() || remaining > 0, want.clone());
            remaining += 1;
        }
        if chosen {
            self.env(&base, container, name)?;
        }
        Ok(())
    }

    fn env(
        &mut self,
        base: &[String],
        container: &'a Doc<'a>,
        name: &str,
    ) -> Result<(), InjectError> {
        let env = field(container, "env").and_then(|e| e.as_array());
        let list = env.unwrap_or_default();
        let env_at = at(base, &["env"]);
        let mut exists = env.is_some();
        for (var, path) in [
            (FILES_NAMESPACE_ENV, "metadata.namespace"),
            (FILES_POD_ENV, "metadata.name"),
            (FILES_UID_ENV, "metadata.uid"),
        ] {
            let want = env_var(var, path);
            match list.iter().find(|e| text(e, "name") == Some(var)) {
                Some(have) if covers(have, &want) => {}
                Some(_) => {
                    return Err(InjectError::EnvTaken {
                        object: self.id.to_owned(),
                        container: name.to_owned(),
                        name: var.to_owned(),
                    })
                }
                None => {
                    self.ops.append(&env_at, exists, want);
                    exists = true;
                }
            }
        }
        Ok(())
    }
}
