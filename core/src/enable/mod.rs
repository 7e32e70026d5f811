//! `kubectl logbackup enable` / `disable`, planned without I/O: the fetched objects in, the ordered
//! actions out (create or check the claim, label and patch StatefulSets or the ECK resource, which
//! pods to restart). The rolling restart is a state machine driven through an executor trait, so the
//! Kubernetes and Elasticsearch calls stay at the edge (src/k8s, src/workflows).

mod claim;
mod disable;
mod eck;
mod error;
mod plan;
pub mod restart;
mod statefulset;
mod target;
mod webhook_presence;

pub use claim::{check_existing, desired_claim, ClaimCheck};
pub use disable::{plan_disable, plan_disable_all, DisablePlan};
pub use eck::{
    disable_patch as eck_disable_patch, eck_cluster_of, eck_ready,
    enable_patch as eck_enable_patch, ES_API_VERSION, ES_KIND, ES_PLURAL,
};
pub use error::EnableError;
pub use plan::{
    injection_pending, manual_restart, plan_enable, resolve_claim, Action, EnableInput,
    EnableOptions, EnablePlan, PatchKind, PatchType, RolledByOthers, Via,
};
pub use statefulset::{pods_in_restart_order, restart_needed, rolled_out, RestartNeed};
pub use target::{parse_target, Target, TargetKind};
pub use webhook_presence::{webhook_installed, WEBHOOK_NAME};
