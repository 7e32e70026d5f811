//! `es-double --version 7.17.0 --flavour elasticsearch --port 9200 --seed-snapshots 10000`: the test
//! double as a server, for the benchmark and for trying the plugin or Curator by hand.

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
    if args.seed_snapshots > 0 {
        state.seed_snapshots(
            &args.seed_repository,
            &args.seed_location,
            args.seed_snapshots,
            es_double::time::now_ms(),
        );
    }
    let running = match es_double::start(config, state, &format!("127.0.0.1:{}", args.port)).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("es-double: {e}");
            return std::process::ExitCode::from(1);
        }
    };
    println!("listening on {}", running.url());
    let _ = tokio::signal::ctrl_c().await;
    // What the benchmark reads back: requests answered and the modelled metadata reads.
    let state = running.state();
    println!(
        "requests: {} metadata_reads: {}",
        state.log.len(),
        state.metadata_reads
    );
    std::process::ExitCode::SUCCESS
}
