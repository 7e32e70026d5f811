//! Starting a double, running the plugin against it, and checking the double saw only requests the
//! API definitions allow.

use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use es_double::{Config, Flavour, Running, State};

pub const VERSIONS: [(Flavour, &str); 4] = [
    (Flavour::Elasticsearch, "7.17.0"),
    (Flavour::Elasticsearch, "8.19.0"),
    (Flavour::OpenSearch, "2.11.0"),
    // No 6.x definitions exist: the double answers 6.8 with 7.17's, and runs one snapshot at a time.
    (Flavour::Elasticsearch, "6.8.23"),
];

pub const REPO: &str = "ks-log-snapshots";
pub const LOCATION: &str = "/usr/share/elasticsearch/backup/ks-log-snapshots";

pub struct Env {
    pub double: Running,
    pub label: String,
    // Declared last: the runtime outlives the server it drives.
    _runtime: tokio::runtime::Runtime,
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Env {
    pub fn start(flavour: Flavour, version: &str, setup: impl FnOnce(&mut State)) -> Self {
        Self::start_config(flavour, version, |_| {}, setup)
    }

    /// `start` with the double's configuration adjusted (extras outside the definitions).
    pub fn start_config(
        flavour: Flavour,
        version: &str,
        configure: impl FnOnce(&mut Config),
        setup: impl FnOnce(&mut State),
    ) -> Self {
        let mut config = Config::new(flavour, version);
        configure(&mut config);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let mut state = State::default();
        setup(&mut state);
        let double = runtime
            .block_on(es_double::start(config, state, "127.0.0.1:0"))
            .unwrap();
        Self {
            double,
            label: format!("{flavour:?} {version}"),
            _runtime: runtime,
        }
    }

    /// Runs `kubectl-logbackup ARGS --es-url URL` with fast polls and retries.
    pub fn run(&self, args: &[&str]) -> Run {
        let run = self.run_unchecked(args);
        self.assert_spec_clean();
        run
    }

    /// `run` without the check that every request was one the definitions allow: for probes
    /// that a server without the endpoint answers 400 on purpose (SLM on an OSS build).
    pub fn run_unchecked(&self, args: &[&str]) -> Run {
        let url = self.double.url();
        let output: Output = Command::new(env!("CARGO_BIN_EXE_kubectl-logbackup"))
            .args(args)
            .args([
                "--es-url",
                &url,
                "--poll-interval-ms",
                "5",
                "--retry-delay-ms",
                "5",
            ])
            .env_remove("LOGBACKUP_ES_PASSWORD")
            .env_remove("LOGBACKUP_REPOSITORY")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .and_then(bounded)
            .unwrap();
        let run = Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        };
        run
    }

    /// The plugin never sent a request the definitions reject.
    pub fn assert_spec_clean(&self) {
        let state = self.double.state();
        let rejected: Vec<&String> = state
            .log
            .iter()
            .filter(|l| {
                l.contains("x_content_parse_exception")
                    || l.contains("illegal_argument_exception")
                    || l.ends_with("-> 400")
            })
            .collect();
        assert!(
            rejected.is_empty(),
            "{}: requests the definitions reject: {rejected:?}",
            self.label
        );
        let wrong = state.log.iter().find(|l| l.ends_with("-> 405"));
        assert!(wrong.is_none(), "{}: wrong method: {wrong:?}", self.label);
        let unknown = state.log.iter().find(|l| l.contains("unrecognized"));
        assert!(unknown.is_none(), "{}", self.label);
    }
}

/// Every run is bounded: a plugin that hangs is killed and fails the test, instead of hanging it.
const RUN_LIMIT: Duration = Duration::from_secs(60);

fn bounded(mut child: Child) -> std::io::Result<Output> {
    let started = Instant::now();
    // Drain the pipes on threads so a chatty child cannot block on a full pipe while we wait.
    let out_t = drain(child.stdout.take());
    let err_t = drain(child.stderr.take());
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Output {
                status,
                stdout: out_t.join().unwrap_or_default(),
                stderr: err_t.join().unwrap_or_default(),
            });
        }
        if started.elapsed() > RUN_LIMIT {
            let _ = child.kill();
            panic!("the plugin ran longer than {RUN_LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn drain<R: std::io::Read + Send + 'static>(pipe: Option<R>) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut p) = pipe {
            let _ = p.read_to_end(&mut buf);
        }
        buf
    })
}

impl Run {
    #[track_caller]
    pub fn ok(&self) -> &Self {
        assert_eq!(
            self.code, 0,
            "stdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }
    #[track_caller]
    pub fn code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code, code,
            "stdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }
    #[track_caller]
    pub fn stderr_has(&self, text: &str) -> &Self {
        assert!(
            self.stderr.contains(text),
            "stderr lacks {text:?}:\n{}",
            self.stderr
        );
        self
    }
    #[track_caller]
    pub fn stdout_has(&self, text: &str) -> &Self {
        assert!(
            self.stdout.contains(text),
            "stdout lacks {text:?}:\n{}",
            self.stdout
        );
        self
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }
}

/// A repository and some daily log indices, as a KubeSphere cluster has them.
pub fn kubesphere(state: &mut State) {
    let mut settings = serde_json::Map::new();
    settings.insert("location".into(), LOCATION.into());
    state.repositories.insert(
        REPO.into(),
        es_double::state::Repository {
            kind: "fs".into(),
            settings,
        },
    );
    for day in ["2019.11.11", "2019.11.12", "2019.11.13"] {
        state.add_index(&format!("ks-logstash-log-{day}"), 10 * 1024 * 1024);
    }
    state.add_index("other-index", 1024);
}

/// Index of a request in the double's log matching `prefix`, counted.
pub fn count_requests(env: &Env, prefix: &str) -> usize {
    env.double
        .state()
        .log
        .iter()
        .filter(|l| l.starts_with(prefix))
        .count()
}
