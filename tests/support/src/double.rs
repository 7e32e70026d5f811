//! The Elasticsearch double for the plugin's tests: starting one, running the plugin against it,
//! and checking the double saw only requests the API definitions allow. Shared by the `commands`
//! and `sync` test targets.
//!
//! Cargo tells only the owning package's tests where its binary is (`CARGO_BIN_EXE_*`, at compile
//! time), so the binary comes from the test target through [`Binary`]; `plugin_double!()` there
//! defines it and the `Env` those tests name.

use std::marker::PhantomData;
use std::time::Duration;

use es_double::{Config, Flavour, Running, State};

pub use crate::{Run, Runner};

/// The binary a test target runs against the double.
pub trait Binary {
    const PATH: &'static str;
}

/// In a test target of the plugin's package: `Plugin` (its binary) and `Env` (a double that runs it).
#[macro_export]
macro_rules! plugin_double {
    () => {
        /// The plugin binary this package builds.
        pub struct Plugin;
        impl $crate::double::Binary for Plugin {
            const PATH: &'static str = env!("CARGO_BIN_EXE_kubectl-logbackup");
        }
        /// A double the plugin runs against.
        pub type Env = $crate::double::Env<Plugin>;
    };
}

pub const VERSIONS: [(Flavour, &str); 4] = [
    (Flavour::Elasticsearch, "7.17.0"),
    (Flavour::Elasticsearch, "8.19.0"),
    (Flavour::OpenSearch, "2.11.0"),
    // No 6.x definitions exist: the double answers 6.8 with 7.17's, and runs one snapshot at a time.
    (Flavour::Elasticsearch, "6.8.23"),
];

pub const REPO: &str = "ks-log-snapshots";
pub const LOCATION: &str = "/usr/share/elasticsearch/backup/ks-log-snapshots";

pub struct Env<B> {
    pub double: Running,
    pub label: String,
    // Declared last: the runtime outlives the server it drives.
    _runtime: tokio::runtime::Runtime,
    _binary: PhantomData<B>,
}

impl<B: Binary> Env<B> {
    pub fn start(flavour: Flavour, version: &str, setup: impl FnOnce(&mut State)) -> Self {
        Self::start_config(flavour, version, |_| {}, setup)
    }

    /// `start` with a double that also answers `_count` and `_search` (outside the definitions, see
    /// the es-double docs), which `snapshot verify --restore-test` needs.
    pub fn searchable(flavour: Flavour, version: &str, setup: impl FnOnce(&mut State)) -> Self {
        Self::start_config(flavour, version, |c| c.search_extras = true, setup)
    }

    /// `start` with the KubeSphere repository and indices, and the double behaving as `behave` says.
    pub fn kubesphere_with(
        flavour: Flavour,
        version: &str,
        behave: impl FnOnce(&mut es_double::state::Behaviour),
    ) -> Self {
        Self::start(flavour, version, |s| {
            kubesphere(s);
            behave(&mut s.behaviour);
        })
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
            _binary: PhantomData,
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
        self.plugin().run(args)
    }

    /// The plugin against this double with fast polls and retries, and no Elasticsearch settings
    /// from the test's environment; every run bounded by RUN_LIMIT.
    pub fn plugin(&self) -> Runner {
        Runner::new(B::PATH)
            .trailing([
                "--es-url",
                &self.double.url(),
                "--poll-interval-ms",
                "5",
                "--retry-delay-ms",
                "5",
            ])
            .env_remove("LOGBACKUP_ES_PASSWORD")
            .env_remove("LOGBACKUP_REPOSITORY")
            .time_limit(RUN_LIMIT)
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

/// `snapshot create NAME --preset kubesphere --wait` into REPO.
pub fn snapshot_kubesphere<B: Binary>(env: &Env<B>, name: &str) -> Run {
    env.run(&[
        "snapshot",
        "create",
        "-r",
        REPO,
        "--name",
        name,
        "--preset",
        "kubesphere",
        "--wait",
    ])
}

/// `daily-1`: a snapshot of the KubeSphere indices, waited for.
pub fn snapshot_daily<B: Binary>(env: &Env<B>) {
    snapshot_kubesphere(env, "daily-1").ok();
}

/// Every snapshot the double holds, in every repository, by name.
pub fn snapshot_names<B: Binary>(env: &Env<B>) -> Vec<String> {
    env.double
        .state()
        .snapshots
        .values()
        .flatten()
        .map(|s| s.name.clone())
        .collect()
}

/// The plugin never asked the double to restore `snapshot` (from REPO).
#[track_caller]
pub fn assert_no_restore<B: Binary>(env: &Env<B>, snapshot: &str) {
    let restores = count_requests(env, &format!("POST /_snapshot/{REPO}/{snapshot}/_restore"));
    assert_eq!(restores, 0, "{}: restored {snapshot}", env.label);
}

/// Index of a request in the double's log matching `prefix`, counted.
pub fn count_requests<B: Binary>(env: &Env<B>, prefix: &str) -> usize {
    env.double
        .state()
        .log
        .iter()
        .filter(|l| l.starts_with(prefix))
        .count()
}
