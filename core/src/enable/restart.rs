//! The rolling restart, the Elasticsearch way, as a pure state machine: for each pod, allocation to
//! primaries, flush, delete the pod, wait until it is Ready and its node is back, re-enable
//! allocation, wait for the cluster health. The executor does the I/O; a failure or a stop request
//! re-enables allocation and reports where to resume.

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "step", content = "pod", rename_all = "kebab-case")]
pub enum Step {
    AllocatePrimariesOnly,
    Flush,
    DeletePod(String),
    WaitPodReady(String),
    WaitNodeJoined(String),
    EnableAllocation,
    WaitHealth,
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Step::AllocatePrimariesOnly => {
                f.write_str("set cluster.routing.allocation.enable=primaries")
            }
            Step::Flush => f.write_str("flush"),
            Step::DeletePod(p) => write!(f, "delete pod {p}"),
            Step::WaitPodReady(p) => write!(f, "wait for pod {p} to be Ready"),
            Step::WaitNodeJoined(p) => write!(f, "wait for node {p} to rejoin the cluster"),
            Step::EnableAllocation => f.write_str("re-enable shard allocation"),
            Step::WaitHealth => f.write_str("wait for cluster health"),
        }
    }
}

/// The steps for one pod, in order.
pub fn steps_for(pod: &str) -> Vec<Step> {
    vec![
        Step::AllocatePrimariesOnly,
        Step::Flush,
        Step::DeletePod(pod.to_owned()),
        Step::WaitPodReady(pod.to_owned()),
        Step::WaitNodeJoined(pod.to_owned()),
        Step::EnableAllocation,
        Step::WaitHealth,
    ]
}

/// The pods to restart, from `--resume-from` on when given.
pub fn remaining(pods: &[String], resume_from: Option<&str>) -> Result<Vec<String>, String> {
    let Some(p) = resume_from else {
        return Ok(pods.to_vec());
    };
    if let Some(i) = pods.iter().position(|x| x == p) {
        return Ok(pods[i..].to_vec());
    }
    // The run stopped at the last pod of a StatefulSet, which has since come back on the new
    // template: that StatefulSet is no longer in the plan, and every StatefulSet still in it comes
    // later in the order (they are restarted one whole set at a time).
    let set_of = |pod: &str| pod.rsplit_once('-').map(|(set, _)| set.to_owned());
    let its_set = set_of(p);
    if its_set.is_some() && !pods.iter().any(|x| set_of(x) == its_set) {
        return Ok(pods.to_vec());
    }
    Err(format!(
        "--resume-from {p}: not one of the pods to restart ({})",
        pods.join(", ")
    ))
}

/// Checks before the first pod is touched: every pod is a node of the cluster now (the procedure
/// recognises a restarted node by its name, and starts from a whole cluster), and the cluster
/// already has the health each step will wait for.
pub fn preflight(
    pods: &[String],
    node_names: &[String],
    health: &str,
    wanted: &str,
) -> Result<(), String> {
    let missing: Vec<&str> = pods
        .iter()
        .filter(|p| !node_names.contains(p))
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "not restarting: {} {} not among the cluster's nodes ({}); either the pods are not all up, or node.name is not the pod name (then restart them yourself: --restart none)",
            missing.join(", "),
            if missing.len() == 1 { "is" } else { "are" },
            node_names.join(", ")
        ));
    }
    let rank = |s: &str| match s {
        "green" => 2,
        "yellow" => 1,
        _ => 0,
    };
    if rank(health) < rank(wanted) {
        return Err(format!(
            "not restarting: the cluster is {health} before anything was touched, and each pod's restart waits for {wanted}; bring it to {wanted} first, or pass --wait-for-status yellow if it cannot be green"
        ));
    }
    Ok(())
}

/// The I/O behind each step. Waits are bounded by the implementation's own deadlines.
#[allow(async_fn_in_trait)] // Used through generics only, on one task: no Send bound needed.
pub trait Executor {
    async fn run(&mut self, step: &Step) -> Result<(), String>;
}

/// Why the restart stopped early, and how to go on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Stopped {
    /// The pod being restarted, or about to be.
    pub pod: String,
    /// The step that failed; None when stopped on request between pods.
    pub step: Option<Step>,
    pub error: Option<String>,
    /// Pass to `--resume-from`; None when nothing is left.
    pub resume_from: Option<String>,
    /// Whether allocation was re-enabled after the stop (false: the user must, see `hint`).
    pub allocation_restored: bool,
    pub restarted: Vec<String>,
}

impl Stopped {
    pub fn hint(&self) -> String {
        let mut s = match (&self.step, &self.error) {
            (Some(step), Some(e)) => format!("stopped at pod {}, step \"{step}\": {e}", self.pod),
            _ => format!("stopped on request before pod {}", self.pod),
        };
        if !self.allocation_restored {
            s.push_str("; shard allocation may still be set to primaries: PUT _cluster/settings {\"persistent\":{\"cluster.routing.allocation.enable\":null}}");
        }
        if let Some(r) = &self.resume_from {
            s.push_str(&format!(
                "; fix the cause, then run the same command with --resume-from {r}"
            ));
        }
        s
    }
}

/// A progress event: `index` of `total` pods, the step about to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress<'a> {
    pub index: usize,
    pub total: usize,
    pub pod: &'a str,
    pub step: &'a Step,
}

/// Runs the restart of `pods` in order. `stop_requested` is asked before each pod, so a Ctrl-C never
/// leaves a pod half-restarted.
pub async fn run<E: Executor>(
    pods: &[String],
    executor: &mut E,
    stop_requested: impl Fn() -> bool,
    mut progress: impl FnMut(Progress),
) -> Result<Vec<String>, Stopped> {
    let mut restarted = Vec::new();
    for (index, pod) in pods.iter().enumerate() {
        if stop_requested() {
            return Err(Stopped {
                pod: pod.clone(),
                step: None,
                error: None,
                resume_from: Some(pod.clone()),
                allocation_restored: true,
                restarted,
            });
        }
        let mut pod_back = false;
        for step in steps_for(pod) {
            progress(Progress {
                index,
                total: pods.len(),
                pod,
                step: &step,
            });
            if let Err(error) = executor.run(&step).await {
                let allocation_restored = match step {
                    // Allocation was never changed, or re-enabling it is what failed.
                    Step::AllocatePrimariesOnly | Step::EnableAllocation => {
                        step == Step::AllocatePrimariesOnly
                    }
                    _ => {
                        let restore = Step::EnableAllocation;
                        progress(Progress {
                            index,
                            total: pods.len(),
                            pod,
                            step: &restore,
                        });
                        executor.run(&restore).await.is_ok()
                    }
                };
                // Once the node is back, this pod is done; only the cluster's recovery is pending.
                let resume_from = if pod_back {
                    pods.get(index + 1).cloned()
                } else {
                    Some(pod.clone())
                };
                if pod_back {
                    restarted.push(pod.clone());
                }
                return Err(Stopped {
                    pod: pod.clone(),
                    step: Some(step),
                    error: Some(error),
                    resume_from,
                    allocation_restored,
                    restarted,
                });
            }
            if matches!(step, Step::WaitNodeJoined(_)) {
                pod_back = true;
            }
        }
        restarted.push(pod.clone());
    }
    Ok(restarted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resuming_after_a_set_finished_continues_with_the_next_sets() {
        let pods = ["es-master-0".to_string()];
        assert_eq!(remaining(&pods, Some("es-data-0")).unwrap(), pods);
        let both = ["es-data-1".to_string(), "es-data-0".to_string()];
        assert_eq!(remaining(&both, Some("es-data-0")).unwrap(), ["es-data-0"]);
        assert!(remaining(&both, Some("es-data-7")).is_err());
    }
    use std::cell::Cell;

    /// Records every step; fails the `fail_at`-th call (0-based) when set.
    #[derive(Default)]
    struct Fake {
        calls: Vec<Step>,
        fail_at: Option<usize>,
    }

    impl Executor for Fake {
        async fn run(&mut self, step: &Step) -> Result<(), String> {
            let n = self.calls.len();
            self.calls.push(step.clone());
            if self.fail_at == Some(n) {
                Err(format!("boom at {step}"))
            } else {
                Ok(())
            }
        }
    }

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        // The fake never awaits anything pending, so one poll completes it.
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        let mut f = std::pin::pin!(f);
        match f.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(v) => v,
            std::task::Poll::Pending => panic!("the fake executor never waits"),
        }
    }

    fn pods() -> Vec<String> {
        vec!["es-data-1".into(), "es-data-0".into()]
    }

    #[test]
    fn every_pod_goes_through_the_elasticsearch_procedure_in_order() {
        let mut fake = Fake::default();
        let mut seen = Vec::new();
        let done = block_on(run(
            &pods(),
            &mut fake,
            || false,
            |p| seen.push((p.index, p.total, p.step.clone())),
        ));
        assert_eq!(done, Ok(pods()));
        let expected: Vec<Step> = pods().iter().flat_map(|p| steps_for(p)).collect();
        assert_eq!(fake.calls, expected);
        assert_eq!(seen.len(), 14);
        assert_eq!(seen[7], (1, 2, Step::AllocatePrimariesOnly));
        assert_eq!(fake.calls[2], Step::DeletePod("es-data-1".into()));
    }

    #[test]
    fn a_failure_at_any_step_stops_restores_allocation_and_says_where_to_resume() {
        let per_pod = steps_for("x").len();
        for fail_at in 0..per_pod * 2 {
            let mut fake = Fake {
                fail_at: Some(fail_at),
                ..Default::default()
            };
            let stopped = block_on(run(&pods(), &mut fake, || false, |_| {})).unwrap_err();
            let pod_index = fail_at / per_pod;
            let step = steps_for(&pods()[pod_index])[fail_at % per_pod].clone();
            assert_eq!(stopped.pod, pods()[pod_index], "fail_at {fail_at}");
            assert_eq!(stopped.step.as_ref(), Some(&step));
            assert!(stopped.error.as_deref().unwrap().starts_with("boom"));
            // Nothing after the failure except re-enabling allocation.
            let after = &fake.calls[fail_at + 1..];
            match step {
                Step::AllocatePrimariesOnly => {
                    assert!(after.is_empty());
                    assert!(stopped.allocation_restored);
                }
                Step::EnableAllocation => {
                    assert!(after.is_empty());
                    assert!(!stopped.allocation_restored);
                    assert!(stopped.hint().contains("allocation.enable\":null"));
                }
                _ => {
                    assert_eq!(after, [Step::EnableAllocation]);
                    assert!(stopped.allocation_restored);
                }
            }
            let node_back = fail_at % per_pod > 4;
            let expected_resume = if node_back {
                pods().get(pod_index + 1).cloned()
            } else {
                Some(pods()[pod_index].clone())
            };
            assert_eq!(stopped.resume_from, expected_resume, "fail_at {fail_at}");
            let expected_done = pod_index + usize::from(node_back);
            assert_eq!(
                stopped.restarted,
                pods()[..expected_done].to_vec(),
                "fail_at {fail_at}"
            );
            if let Some(r) = &stopped.resume_from {
                assert!(stopped.hint().contains(&format!("--resume-from {r}")));
            }
        }
    }

    #[test]
    fn a_failing_re_enable_after_a_failure_is_reported() {
        // Flush fails (call 1), then the re-enable (call 2) fails too.
        struct Both(Vec<Step>);
        impl Executor for Both {
            async fn run(&mut self, step: &Step) -> Result<(), String> {
                self.0.push(step.clone());
                if self.0.len() >= 2 {
                    Err("down".into())
                } else {
                    Ok(())
                }
            }
        }
        let mut e = Both(Vec::new());
        let stopped = block_on(run(&pods(), &mut e, || false, |_| {})).unwrap_err();
        assert_eq!(
            e.0,
            [
                Step::AllocatePrimariesOnly,
                Step::Flush,
                Step::EnableAllocation
            ]
        );
        assert!(!stopped.allocation_restored);
    }

    #[test]
    fn a_stop_request_takes_effect_between_pods() {
        let mut fake = Fake::default();
        let asked = Cell::new(0);
        let stop = || {
            asked.set(asked.get() + 1);
            asked.get() > 1
        };
        let stopped = block_on(run(&pods(), &mut fake, stop, |_| {})).unwrap_err();
        assert_eq!(fake.calls, steps_for("es-data-1"));
        assert_eq!(stopped.resume_from.as_deref(), Some("es-data-0"));
        assert_eq!(stopped.restarted, ["es-data-1"]);
        assert!(stopped.step.is_none());
        assert!(stopped
            .hint()
            .contains("stopped on request before pod es-data-0"));
    }

    #[test]
    fn preflight_wants_every_pod_in_the_cluster_and_the_health_to_wait_for() {
        let nodes = vec![
            "es-data-0".to_string(),
            "es-data-1".into(),
            "es-master-0".into(),
        ];
        assert_eq!(preflight(&pods(), &nodes, "green", "green"), Ok(()));
        assert_eq!(preflight(&pods(), &nodes, "green", "yellow"), Ok(()));
        assert_eq!(preflight(&pods(), &nodes, "yellow", "yellow"), Ok(()));
        let e = preflight(&pods(), &nodes, "yellow", "green").unwrap_err();
        assert!(e.contains("the cluster is yellow"), "{e}");
        assert!(preflight(&pods(), &nodes, "red", "yellow").is_err());
        let e = preflight(
            &pods(),
            &["node-a".into(), "es-data-0".into()],
            "green",
            "green",
        )
        .unwrap_err();
        assert!(
            e.contains("es-data-1 is not among the cluster's nodes (node-a, es-data-0)"),
            "{e}"
        );
    }

    #[test]
    fn resume_from_skips_the_pods_already_done() {
        assert_eq!(
            remaining(&pods(), Some("es-data-0")),
            Ok(vec!["es-data-0".to_string()])
        );
        assert_eq!(remaining(&pods(), None), Ok(pods()));
        assert!(remaining(&pods(), Some("nope"))
            .unwrap_err()
            .contains("es-data-1, es-data-0"));
    }
}
