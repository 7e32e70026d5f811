//! Retrying what the server refuses with 503 `concurrent_snapshot_execution_exception`.

use std::future::Future;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use logbackup::es::{EsError, Failed};

use super::connect::EsArgs;

/// Runs `op`, retrying with exponential backoff (and jitter) while it fails with a 503 concurrent
/// snapshot operation, or also on transport errors when `transport_too` (only for idempotent ops).
pub async fn concurrent<T, F, Fut>(args: &EsArgs, transport_too: bool, op: F) -> Result<T, Failed>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Failed>>,
{
    let backoff = ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(args.retry_delay_ms))
        .with_max_delay(Duration::from_millis(
            args.retry_delay_ms.saturating_mul(16),
        ))
        .with_max_times(args.retries)
        .with_jitter();
    op.retry(backoff)
        .when(|e: &Failed| match e.kind() {
            EsError::ConcurrentSnapshot(_) => true,
            EsError::Transport(_) => transport_too,
            _ => false,
        })
        .notify(|e: &Failed, after: Duration| {
            eprintln!("{e}; retrying in {:.1}s", after.as_secs_f64())
        })
        .await
}
