//! The running node, as the tests see it: kubectl and the plugin against it, waits that say what
//! they waited for, and the node's own logs when something fails.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

pub const NEEDS_NODE: &str =
    "needs the real node: scripts/real-node.sh run IMAGES -- cargo test --test node -- --ignored";

pub struct Node {
    pub kubeconfig: PathBuf,
    /// The node's address: pods reach host services (the S3 server) there.
    pub ip: String,
    /// The node's state directory: hostPath volumes live under `volumes/`.
    pub dir: PathBuf,
}

impl Node {
    pub fn get() -> Node {
        let var = |k: &str| {
            std::env::var(k)
                .unwrap_or_else(|_| panic!("{k} is not set: start the node first ({NEEDS_NODE})"))
        };
        let node = Node {
            kubeconfig: PathBuf::from(var("LOGBACKUP_NODE_KUBECONFIG")),
            ip: var("LOGBACKUP_NODE_IP"),
            dir: PathBuf::from(var("LOGBACKUP_NODE_DIR")),
        };
        assert!(
            node.kubeconfig.exists(),
            "{} is missing: is the node up?",
            node.kubeconfig.display()
        );
        node
    }

    /// Real kubectl: (exit code, stdout, stderr).
    pub fn kubectl(&self, args: &[&str]) -> (i32, String, String) {
        self.kubectl_stdin(args, None)
    }

    pub fn kubectl_stdin(&self, args: &[&str], stdin: Option<&str>) -> (i32, String, String) {
        let mut runner = test_support::Runner::new("kubectl")
            .time_limit(Duration::from_secs(120))
            .leading(["--kubeconfig", self.kubeconfig.to_str().unwrap()]);
        runner = runner.env_remove("KUBECONFIG");
        let run = match stdin {
            Some(text) => runner.run_with_stdin(args, text.as_bytes()),
            None => runner.run(args),
        };
        run.parts()
    }

    /// kubectl that must succeed; its stdout.
    pub fn kubectl_ok(&self, args: &[&str]) -> String {
        let (code, out, err) = self.kubectl(args);
        assert_eq!(code, 0, "kubectl {args:?} failed:\n{err}\n{out}");
        out
    }

    pub fn apply(&self, yaml: &str) {
        let (code, out, err) = self.kubectl_stdin(&["apply", "-f", "-"], Some(yaml));
        assert_eq!(code, 0, "kubectl apply failed:\n{err}\n{out}");
    }

    pub fn get_json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.extend(["-o", "json"]);
        serde_json::from_str(&self.kubectl_ok(&all)).unwrap()
    }

    /// The plugin on the host, against the node's API server: (exit code, stdout, stderr).
    pub fn plugin(&self, args: &[&str]) -> (i32, String, String) {
        test_support::Runner::new(env!("CARGO_BIN_EXE_kubectl-logbackup"))
            .time_limit(Duration::from_secs(600))
            .env("KUBECONFIG", &self.kubeconfig)
            .env_remove("LOGBACKUP_ES_URL")
            .env_remove("LOGBACKUP_REPOSITORY")
            .env_remove("RUST_LOG")
            .run(args)
            .parts()
    }

    pub fn plugin_ok(&self, args: &[&str]) -> String {
        let (code, out, err) = self.plugin(args);
        assert_eq!(code, 0, "kubectl logbackup {args:?} failed:\n{err}\n{out}");
        out
    }

    /// Polls `check` every second until it returns Some, or fails naming `what` with the pods'
    /// state and the last events, which say why a pod did not start.
    pub fn wait<T>(
        &self,
        what: &str,
        timeout: Duration,
        mut check: impl FnMut() -> Option<T>,
    ) -> T {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(v) = check() {
                return v;
            }
            if Instant::now() > deadline {
                let (_, pods, _) = self.kubectl(&["get", "pods", "-A", "-o", "wide"]);
                let (_, events, _) =
                    self.kubectl(&["get", "events", "-A", "--sort-by=.lastTimestamp"]);
                let tail: Vec<&str> = events.lines().rev().take(25).collect();
                panic!(
                    "timed out after {timeout:?} waiting until {what}\npods:\n{pods}\nlast events:\n{}",
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                );
            }
            std::thread::sleep(Duration::from_secs(1));
        }
    }

    /// The pods matching `selector` in `ns` that are not being deleted.
    pub fn pods(&self, ns: &str, selector: &str) -> Vec<Value> {
        self.get_json(&["get", "pods", "-n", ns, "-l", selector])["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
            .cloned()
            .collect()
    }

    /// Container logs, through the API server and the kubelet.
    pub fn logs(&self, ns: &str, pod: &str, container: &str) -> String {
        self.kubectl(&["logs", "-n", ns, pod, "-c", container]).1
    }
}

impl Node {
    /// Waits until the Job is Complete or Failed: (pods succeeded, pods failed).
    pub fn job_finished(&self, ns: &str, job: &str, timeout: Duration) -> (u64, u64) {
        self.wait(&format!("Job {ns}/{job} finishes"), timeout, || {
            let j = self.get_json(&["get", "job", "-n", ns, job]);
            let done = j["status"]["conditions"].as_array().is_some_and(|c| {
                c.iter().any(|c| {
                    (c["type"] == "Complete" || c["type"] == "Failed") && c["status"] == "True"
                })
            });
            done.then(|| {
                (
                    j["status"]["succeeded"].as_u64().unwrap_or(0),
                    j["status"]["failed"].as_u64().unwrap_or(0),
                )
            })
        })
    }
}

impl Node {
    /// Starts a Job from a CronJob's template now, as `kubectl create job --from=cronjob/...` does
    /// (which the 1.32 kubectl cannot do against a 1.20 server's batch/v1beta1 CronJob). `change`
    /// may alter the Job's spec first (a fault the test injects). Returns the Job's name.
    pub fn job_from_cronjob(
        &self,
        ns: &str,
        cronjob: &str,
        job: &str,
        change: impl FnOnce(&mut Value),
    ) -> String {
        let cron = self.get_json(&["get", "cronjob", "-n", ns, cronjob]);
        let template = &cron["spec"]["jobTemplate"];
        let mut spec = template["spec"].clone();
        change(&mut spec);
        let object = serde_json::json!({
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": job, "namespace": ns, "labels": template["metadata"]["labels"]},
            "spec": spec,
        });
        self.apply(&object.to_string());
        job.to_owned()
    }
}

pub fn ready(pod: &Value) -> bool {
    pod["status"]["conditions"].as_array().is_some_and(|c| {
        c.iter()
            .any(|c| c["type"] == "Ready" && c["status"] == "True")
    })
}

/// A plain `Command` for what the runner does not cover (a server the test starts).
pub fn command(program: &str) -> Command {
    Command::new(program)
}
