//! The injection core: given an Elasticsearch or OpenSearch StatefulSet, the JSON-patch operations that
//! let it write snapshots to a shared repository. Shared by the webhook, `kubectl logbackup inject` and
//! `enable`. Pure: no I/O, no clock, no environment.

mod container;
pub(crate) mod desired;
mod doc;
mod error;
mod family;
pub mod files;
pub mod keys;
pub(crate) mod ops;
mod plan;
mod reader;
mod record;
pub(crate) mod settings;
pub(crate) mod view;

pub use desired::{chown_script, InitContainer};
pub use doc::Doc;
pub use error::{InjectError, Warning};
pub use family::Family;
pub use files::{plan_files, template_path, LogDirs};
pub use plan::{plan, plan_borrowed, Options, Outcome, Plan, Selection, SkipReason};
pub use record::Record;
pub use settings::{default_claim, valid_claim, valid_container, valid_path, Overrides};

/// Plans and applies the injection to `object` in place: what `kubectl logbackup inject` does to each
/// document, and what the API server does with the webhook's patch.
pub fn apply(object: &mut serde_json::Value, options: &Options) -> Result<Plan, InjectError> {
    let plan = plan(object, options)?;
    json_patch::patch(object, &plan.patch).map_err(|e| {
        InjectError::NotAStatefulSet(format!(
            "internal error: the planned patch does not apply: {e}"
        ))
    })?;
    Ok(plan)
}

/// A warning for a StatefulSet that asked for injection under an apiVersion other than
/// `apps/v1` (apps/v1beta1, apps/v1beta2, extensions/v1beta1: removed in Kubernetes 1.16), which
/// is left untouched; `None` for anything else.
pub fn stale_api_version(doc: &serde_json::Value) -> Option<Warning> {
    use serde_json::Value;
    if doc.get("kind").and_then(Value::as_str) != Some("StatefulSet") {
        return None;
    }
    let api_version = doc.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    if api_version == "apps/v1" {
        return None;
    }
    let label = doc
        .pointer(&format!(
            "/metadata/labels/{}",
            keys::INJECT_LABEL.replace('/', "~1")
        ))
        .and_then(Value::as_str);
    if label != Some(keys::ENABLED) {
        return None;
    }
    let name = doc
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("<unnamed>");
    Some(Warning::new(
        "stale-api-version",
        format!(
            "StatefulSet {name} is labelled {}={} but has apiVersion {api_version:?}; only apps/v1 is injected, so it was left unchanged (convert it to apps/v1, which every Kubernetes since 1.9 serves)",
            keys::INJECT_LABEL,
            keys::ENABLED
        ),
    ))
}

/// Every injection, whatever the object: an Elasticsearch StatefulSet's snapshot repository
/// ([`plan_borrowed`]), else a workload's log directories ([`plan_files`]). The one entry point
/// of the webhook and of `kubectl logbackup inject`.
pub fn plan_object(object: &Doc<'_>, options: &Options) -> Result<Plan, InjectError> {
    let kind = doc::text(object, "kind");
    let api_version = doc::text(object, "apiVersion");
    if kind == Some("StatefulSet") && api_version == Some("apps/v1") {
        let repository = plan_borrowed(object, options)?;
        if !matches!(repository.outcome, Outcome::Skipped(_)) {
            return Ok(repository);
        }
        let files = plan_files(object)?;
        return Ok(match files.outcome {
            Outcome::Skipped(_) if files.warnings.is_empty() => repository,
            _ => files,
        });
    }
    plan_files(object)
}

/// [`plan_object`] applied to `object` in place: what `kubectl logbackup inject` does to each
/// document.
pub fn apply_object(
    object: &mut serde_json::Value,
    options: &Options,
) -> Result<Plan, InjectError> {
    let plan = plan_object(&Doc::from(&*object), options)?;
    json_patch::patch(object, &plan.patch).map_err(|e| {
        InjectError::NotAStatefulSet(format!(
            "internal error: the planned patch does not apply: {e}"
        ))
    })?;
    Ok(plan)
}
