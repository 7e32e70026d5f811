//! `es-double --version 7.17.0 --flavour elasticsearch --port 9200 --seed-snapshots 10000`: the test
//! double as a server, for the benchmark and for trying the plugin or Curator by hand.
//!
//! `es-double --pod`: the double as the container of an Elasticsearch pod on the real node (its image
//! is built by scripts/build-test-images.sh). Like the official images it takes its settings from
//! dotted environment variables (`path.repo`, `node.name`), listens on every address on 9200, keeps
//! the `fs` repository on disk under `path.repo`, and refuses to register a location it cannot write,
//! so the chown init container is proven by its effect. With `discovery.seed_hosts` the pods make
//! one cluster (see `es_double::peers`).

use clap::{Parser, ValueEnum};
use es_double::{Config, Flavour, State};

#[derive(Debug, Clone, Copy, ValueEnum)]
enum FlavourArg {
    Elasticsearch,
    Opensearch,
}

#[derive(Debug, Parser)]
struct Args {
    /// Version to pretend to be (its API definitions decide what is accepted)
    #[arg(long, default_value = "7.17.0")]
    version: String,
    #[arg(long, value_enum, default_value_t = FlavourArg::Elasticsearch)]
    flavour: FlavourArg,
    /// Port on 127.0.0.1 (0 for any free port; the chosen one is printed)
    #[arg(long, default_value_t = 9200)]
    port: u16,
    /// The shared/es-api folder (default: $ES_API_ROOT or the workspace's ../shared/es-api)
    #[arg(long)]
    api_root: Option<std::path::PathBuf>,
    /// Register a repository and fill it with this many finished snapshots, one an hour back from now
    #[arg(long, default_value_t = 0)]
    seed_snapshots: usize,
    #[arg(long, default_value = "ks-log-snapshots")]
    seed_repository: String,
    #[arg(
        long,
        default_value = "/usr/share/elasticsearch/backup/ks-log-snapshots"
    )]
    seed_location: String,
    /// Run as an Elasticsearch pod: settings from the environment, 0.0.0.0:9200, the repository on disk
    #[arg(long)]
    pod: bool,
    /// With --pod: open daily log indices to create, one a day back from today (KubeSphere's names)
    #[arg(long, default_value_t = 3)]
    seed_indices: usize,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let flavour = match args.flavour {
        FlavourArg::Elasticsearch => Flavour::Elasticsearch,
        FlavourArg::Opensearch => Flavour::OpenSearch,
    };
    let mut config = Config::new(flavour, &args.version);
    if let Some(root) = args.api_root {
        config.api_root = root;
    }
    let mut state = State::default();
    let mut listen = format!("127.0.0.1:{}", args.port);
    let mut seed_hosts = Vec::new();
    if args.pod {
        config.restart_extras = true;
        config.search_extras = true;
        let setting = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        es_double::pod::configure(
            &mut state,
            es_double::pod::Settings {
                node_name: setting("node.name").or_else(|| setting("HOSTNAME")),
                path_repo: setting("path.repo"),
                seed_indices: args.seed_indices,
                path_data: Some(
                    setting("path.data")
                        .unwrap_or_else(|| "/usr/share/elasticsearch/data".into())
                        .into(),
                )
                .filter(|p: &std::path::PathBuf| p.is_dir()),
                snapshot_seconds: setting("DOUBLE_SNAPSHOT_SECONDS").and_then(|s| s.parse().ok()),
            },
            es_double::time::now_ms(),
        );
        listen = format!("0.0.0.0:{}", args.port);
        // Several pods make one cluster when they name each other, as Elasticsearch 7 does.
        seed_hosts = setting("discovery.seed_hosts")
            .map(|v| {
                v.split(',')
                    .map(|h| h.trim().to_string())
                    .filter(|h| !h.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        if let Some(me) = state.nodes.first().filter(|_| !seed_hosts.is_empty()) {
            state.peers = Some(es_double::peers::Peers::new(
                me.clone(),
                es_double::time::now_ms(),
            ));
        }
    }
    if args.seed_snapshots > 0 {
        state.seed_snapshots(
            &args.seed_repository,
            &args.seed_location,
            args.seed_snapshots,
            es_double::time::now_ms(),
        );
    }
    let running = match es_double::start(config, state, &listen).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("es-double: {e}");
            return std::process::ExitCode::from(1);
        }
    };
    println!("listening on {}", running.url());
    if !seed_hosts.is_empty() {
        running.discover(seed_hosts, args.port);
    }
    stopped().await;
    // What the benchmark reads back: requests answered and the modelled metadata reads.
    let state = running.state();
    println!(
        "requests: {} metadata_reads: {}",
        state.log.len(),
        state.metadata_reads
    );
    std::process::ExitCode::SUCCESS
}

/// Ctrl-C, or SIGTERM: as a container's PID 1 an unhandled SIGTERM is ignored, and the pod would
/// wait out its whole grace period.
async fn stopped() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(term) => term,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
