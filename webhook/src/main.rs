//! logbackup-webhook: flags, logging, the two listeners and signal handling. The decisions live in
//! review.rs; this file only wires things together.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::Parser;
use logbackup_webhook::config::Config;
use logbackup_webhook::metrics::Metrics;
use logbackup_webhook::server::{admission_router, ops_router, AppState};
use logbackup_webhook::tls::CertStore;
use logbackup_webhook::{listener, logging};
use tracing_subscriber::EnvFilter;

/// Threads for large reviews (and file reads): the value budget lets about two run at once.
const MAX_BLOCKING_THREADS: usize = 4;

fn main() -> Result<()> {
    let config = Config::parse();
    logbackup_webhook::memory::tune();
    init_logging(&config)?;
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(config.worker_threads(cores))
        // Large reviews run here; more threads than this would only wait for the value budget,
        // each with a heap arena and a stack of its own.
        .max_blocking_threads(MAX_BLOCKING_THREADS)
        .enable_all()
        .build()
        .context("failed to start the async runtime")?;
    runtime.block_on(run(config))
}

fn init_logging(config: &Config) -> Result<()> {
    let filter = EnvFilter::try_new(&config.log_level)
        .with_context(|| format!("failed to parse the log filter {:?}", config.log_level))?;
    logging::init(config.log_format, filter);
    Ok(())
}

async fn run(config: Config) -> Result<()> {
    let metrics = Arc::new(Metrics::new());
    let store = Arc::new(
        CertStore::load(&config.tls_cert_file, &config.tls_key_file)
            .context("failed to load the TLS certificate")?,
    );
    let tls = Arc::new(store.server_config()?);
    tokio::spawn(
        store
            .clone()
            .watch(config.tls_reload_interval, metrics.clone()),
    );

    let state = Arc::new(AppState::with_limits(
        config.inject_options()?,
        metrics.clone(),
        config.request_limits(),
    ));
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("failed to listen on {}", config.listen))?;
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let admission = listener::serve(
        listener,
        tls,
        admission_router(state.clone(), config.request_timeout),
        config.conn_limits(),
        metrics,
        stopping,
        config.shutdown_grace,
    );

    let ops_listener = tokio::net::TcpListener::bind(config.ops_listen)
        .await
        .with_context(|| format!("failed to listen on {}", config.ops_listen))?;
    let (ops_stop, ops_stopped) = tokio::sync::oneshot::channel::<()>();
    let ops = axum::serve(ops_listener, ops_router(state.clone())).with_graceful_shutdown(async {
        let _ = ops_stopped.await;
    });
    let ops = tokio::spawn(async move { ops.await });

    let shutdown = {
        let state = state.clone();
        let (delay, grace) = (config.shutdown_delay, config.shutdown_grace);
        async move {
            wait_for_signal().await;
            state.ready.store(false, Ordering::Relaxed);
            tracing::info!(?delay, "shutting down: readiness is now failing");
            // Endpoints are removed asynchronously; keep serving until the API server stops calling.
            tokio::time::sleep(delay).await;
            tracing::info!(?grace, "draining in-flight requests");
            let _ = stop.send(true);
        }
    };
    tokio::spawn(shutdown);

    tracing::info!(listen = %config.listen, ops = %config.ops_listen, "serving");
    admission.await;
    let _ = ops_stop.send(());
    ops.await
        .context("the ops server task failed")?
        .context("the ops server failed")?;
    tracing::info!("stopped");
    Ok(())
}

async fn wait_for_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "failed to listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        _ = terminate => {}
        r = tokio::signal::ctrl_c() => {
            if let Err(e) = r { tracing::warn!(error = %e, "failed to listen for SIGINT"); }
        }
    }
}
