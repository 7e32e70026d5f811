//! What a collector says about itself after each pass (`.collectors/<node>/report.json` in the
//! archive), and how `files status` judges it. A collector that is down writes nothing, so its
//! last report, now old, still names the pods whose files wait on that node.

use serde::{Deserialize, Serialize};

/// A collector is stale when it has not reported for this many pass intervals (and at least
/// [`STALE_MIN_SECONDS`]).
pub const STALE_INTERVALS: i64 = 3;
pub const STALE_MIN_SECONDS: i64 = 60;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub node: String,
    /// When the pass this report describes ended (RFC 3339).
    pub finished_at: String,
    /// Milliseconds between passes.
    pub interval_ms: u64,
    /// The worst age, in milliseconds, a byte written just after the previous pass began could
    /// have reached when this pass copied it: the time from that start to this pass's end.
    pub lag_ms: u64,
    pub bytes_copied: u64,
    pub files_tracked: usize,
    /// Pods whose files are on this node, not yet removed from it.
    pub pods: Vec<HeldPod>,
    /// What went wrong this pass, each once, in words.
    pub errors: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldPod {
    pub namespace: String,
    pub workload: String,
    pub pod: String,
    pub uid: String,
    /// `running` while the kubelet holds the pod; `finishing` once it is gone and the final pass
    /// is under way or failed (then `errors` says why).
    pub state: PodState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PodState {
    Running,
    Finishing,
}

/// One node's collector, judged at `now`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Health {
    pub node: String,
    pub state: HealthState,
    /// Seconds since the last report.
    pub since_seconds: i64,
    pub lag_ms: u64,
    pub pods_held: usize,
    /// Every pod whose files are on the node (`namespace/pod`): what waits when it is stale.
    pub pods: Vec<String>,
    pub pods_finishing: Vec<String>,
    pub errors: Vec<String>,
    /// One line for a person.
    pub summary: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum HealthState {
    Ok,
    Errors,
    /// No report for too long: the collector is down or stuck; its pods' files wait on the node.
    Stale,
}

pub fn judge(report: &Report, now: jiff::Timestamp) -> Health {
    let since = report
        .finished_at
        .parse::<jiff::Timestamp>()
        .map_or(i64::MAX, |t| now.as_second() - t.as_second());
    let limit = (report.interval_ms.div_ceil(1000) as i64 * STALE_INTERVALS).max(STALE_MIN_SECONDS);
    let finishing: Vec<String> = report
        .pods
        .iter()
        .filter(|p| p.state == PodState::Finishing)
        .map(|p| format!("{}/{}", p.namespace, p.pod))
        .collect();
    let (state, summary) = if since > limit {
        (
            HealthState::Stale,
            format!(
                "no report for {}; the files of {} pod(s) wait on the node until its collector runs again",
                human_seconds(since),
                report.pods.len()
            ),
        )
    } else if !report.errors.is_empty() {
        (
            HealthState::Errors,
            format!("{} error(s) in the last pass", report.errors.len()),
        )
    } else {
        (
            HealthState::Ok,
            format!("lag {} ms, {} pod(s)", report.lag_ms, report.pods.len()),
        )
    };
    Health {
        node: report.node.clone(),
        state,
        since_seconds: since,
        lag_ms: report.lag_ms,
        pods_held: report.pods.len(),
        pods: report
            .pods
            .iter()
            .map(|p| format!("{}/{}", p.namespace, p.pod))
            .collect(),
        pods_finishing: finishing,
        errors: report.errors.clone(),
        summary,
    }
}

fn human_seconds(s: i64) -> String {
    match s {
        i64::MAX => "ever (unreadable time)".to_owned(),
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s => format!("{}h", s / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(finished_at: &str, errors: &[&str]) -> Report {
        Report {
            node: "node-1".into(),
            finished_at: finished_at.into(),
            interval_ms: 1000,
            lag_ms: 1200,
            bytes_copied: 10,
            files_tracked: 2,
            pods: vec![HeldPod {
                namespace: "shop".into(),
                workload: "web".into(),
                pod: "web-1".into(),
                uid: "u".into(),
                state: PodState::Finishing,
            }],
            errors: errors.iter().map(|e| e.to_string()).collect(),
        }
    }

    fn at(s: &str) -> jiff::Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn a_fresh_report_without_errors_is_ok() {
        let h = judge(
            &report("2026-12-06T10:00:00Z", &[]),
            at("2026-12-06T10:00:30Z"),
        );
        assert_eq!(h.state, HealthState::Ok);
        assert_eq!(h.pods_finishing, vec!["shop/web-1"]);
    }

    #[test]
    fn errors_are_named() {
        let h = judge(
            &report("2026-12-06T10:00:00Z", &["shop/web-1: permission denied"]),
            at("2026-12-06T10:00:01Z"),
        );
        assert_eq!(h.state, HealthState::Errors);
        assert_eq!(h.errors.len(), 1);
    }

    #[test]
    fn an_old_report_means_the_collector_is_down_and_its_pods_wait() {
        let h = judge(
            &report("2026-12-06T10:00:00Z", &[]),
            at("2026-12-06T10:05:00Z"),
        );
        assert_eq!(h.state, HealthState::Stale);
        assert!(h.summary.contains("5m"), "{}", h.summary);
        assert!(h.summary.contains("1 pod(s) wait"), "{}", h.summary);
        assert_eq!(h.pods, vec!["shop/web-1"]);
        let unreadable = judge(&report("yesterday", &[]), at("2026-12-06T10:05:00Z"));
        assert_eq!(unreadable.state, HealthState::Stale);
    }
}
