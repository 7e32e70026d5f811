//! The injection core: given an Elasticsearch or OpenSearch StatefulSet, the JSON-patch operations that
//! let it write snapshots to a shared repository. Shared by the webhook, `kubectl logbackup inject` and
//! `enable`. Pure: no I/O, no clock, no environment.

mod container;
pub(crate) mod desired;
mod error;
mod family;
pub mod keys;
pub(crate) mod ops;
mod plan;
mod record;
pub(crate) mod settings;

pub use desired::{chown_script, InitContainer};
pub use error::{InjectError, Warning};
pub use family::Family;
pub use plan::{plan, Options, Outcome, Plan, Selection, SkipReason};
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
