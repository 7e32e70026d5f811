//! The cluster's own scheduler: SLM (Elasticsearch 7.4+ with x-pack) or Snapshot Management
//! (OpenSearch 2.1+), found by version and then by asking, with the policy body planned by the core.

use serde_json::Value;

use super::{ScheduleFailure, ScheduleRow};
use crate::es::policies::{engine_by_version, is_missing_endpoint, PolicyEngine};
use crate::es::EsClient;
use crate::workflows::Said;
use logbackup_core::es::policies::{slm_summaries, sm_summaries, PolicySummary};
use logbackup_core::schedule::policy::{self, PolicyPlan};

/// What a person calls the policy each engine keeps.
pub fn policy_kind(engine: PolicyEngine) -> &'static str {
    match engine {
        PolicyEngine::Slm => "SLM policy",
        PolicyEngine::Sm => "Snapshot Management policy",
    }
}

/// Which policy engine this cluster has: by version first (certain refusals), then by asking it
/// (an OSS build of 7.10 has no `_slm`).
pub async fn detect_engine(es: &EsClient) -> Result<PolicyEngine, ScheduleFailure> {
    let refuse = |why: String| {
        ScheduleFailure::Refused(format!(
            "{why}; schedule with --engine cronjob instead (it works with every version)"
        ))
    };
    let engine = engine_by_version(&es.version).map_err(refuse)?;
    let probe = match engine {
        PolicyEngine::Slm => es.slm_policies().await.map(|_| ()),
        PolicyEngine::Sm => es.sm_policies().await.map(|_| ()),
    };
    match probe {
        Ok(()) => Ok(engine),
        Err(e) if is_missing_endpoint(&e) => Err(refuse(format!(
            "{} {} does not answer the {} API (an OSS build, or the plugin is not installed): {e}",
            es.version.flavour,
            es.version.number,
            match engine {
                PolicyEngine::Slm => "SLM",
                PolicyEngine::Sm => "Snapshot Management",
            }
        ))),
        Err(e) => Err(e.into()),
    }
}

/// The policy written (or, on a dry run, that would be).
#[derive(Debug, Clone)]
pub struct Written {
    pub engine: PolicyEngine,
    pub body: Value,
}

/// Writes the policy: SLM's is replaced, Snapshot Management's updated with its sequence numbers.
pub async fn create(
    es: &EsClient,
    plan: &PolicyPlan,
    dry_run: bool,
    say: &mut impl FnMut(Said),
) -> Result<Written, ScheduleFailure> {
    let engine = detect_engine(es).await?;
    let body = match engine {
        PolicyEngine::Slm => {
            say(Said::Note(format!(
                "SLM takes Quartz cron with seconds: {:?} becomes {:?} (UTC)",
                plan.schedule.expression(),
                plan.schedule.to_quartz()?
            )));
            policy::slm_body(plan)?
        }
        PolicyEngine::Sm => policy::sm_body(plan),
    };
    if !dry_run {
        match engine {
            PolicyEngine::Slm => es.put_slm_policy(&plan.name, &body).await?,
            PolicyEngine::Sm => {
                let existing = es.sm_policy(&plan.name).await?;
                es.put_sm_policy(&plan.name, &body, existing.as_ref())
                    .await?
            }
        }
    }
    Ok(Written { engine, body })
}

/// Our policies; none where the cluster has no engine.
pub async fn list(es: &EsClient) -> Result<Vec<ScheduleRow>, ScheduleFailure> {
    let (engine, summaries) = match engine_by_version(&es.version) {
        Ok(PolicyEngine::Slm) => match es.slm_policies().await {
            Ok(p) => ("slm", slm_summaries(&p)),
            Err(e) if is_missing_endpoint(&e) => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        },
        Ok(PolicyEngine::Sm) => match es.sm_policies().await {
            Ok(p) => ("sm", sm_summaries(&p)),
            Err(e) if is_missing_endpoint(&e) => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        },
        Err(_) => return Ok(Vec::new()),
    };
    Ok(summaries.into_iter().map(|p| row(engine, p)).collect())
}

fn row(engine: &str, p: PolicySummary) -> ScheduleRow {
    ScheduleRow {
        name: p.name,
        job: "backup".into(),
        engine: engine.into(),
        namespace: "-".into(),
        schedule: p.schedule,
        time_zone: p.time_zone,
        suspended: p.suspended,
        last_run: p.last_run,
        last_success: p.last_success,
    }
}

/// Deletes policy `name` (snapshots stay); returns the engine that held it.
pub async fn delete(
    es: &EsClient,
    name: &str,
    dry_run: bool,
) -> Result<PolicyEngine, ScheduleFailure> {
    let engine = detect_engine(es).await?;
    if !dry_run {
        match engine {
            PolicyEngine::Slm => es.delete_slm_policy(name).await?,
            PolicyEngine::Sm => es.delete_sm_policy(name).await?,
        }
    }
    Ok(engine)
}

/// Runs SLM policy `name` now; returns the snapshot it started. Snapshot Management has no such
/// API: refused, pointing at `backup` into `repository`.
pub async fn run_now(
    es: &EsClient,
    name: &str,
    repository: &str,
) -> Result<String, ScheduleFailure> {
    match detect_engine(es).await? {
        PolicyEngine::Slm => Ok(es.execute_slm_policy(name).await?),
        PolicyEngine::Sm => Err(ScheduleFailure::Refused(format!(
            "OpenSearch Snapshot Management has no run-now API; take one now with: kubectl logbackup backup -r {repository} --keep-days N"
        ))),
    }
}
