//! Retrying what a moment later may work: a 503 `concurrent_snapshot_execution_exception` for any
//! snapshot operation, and, for requests that are safe to repeat, a server that is not there to
//! answer for a moment (a pod restarting, a Service without ready endpoints, a master election).

use std::future::Future;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};

use crate::es::{EsError, Failed};

/// How long to wait before the first retry (it doubles each time, with jitter), and how often.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    pub first_delay: Duration,
    pub times: usize,
}

/// Runs `op`, retrying with exponential backoff (and jitter) while it fails with a 503 concurrent
/// snapshot operation, or also on transport errors when `transport_too` (only for idempotent ops).
/// `retrying` hears of each retry: the error and the wait before the next attempt.
pub async fn concurrent<T, F, Fut>(
    retry: Retry,
    transport_too: bool,
    op: F,
    retrying: impl FnMut(&Failed, Duration),
) -> Result<T, Failed>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Failed>>,
{
    with_backoff(
        retry,
        |e| match e.kind() {
            EsError::ConcurrentSnapshot(_) => true,
            EsError::Transport(_) => transport_too,
            _ => false,
        },
        op,
        retrying,
    )
    .await
}

/// Runs `op`, a request that is safe to repeat (a read), retrying with the same backoff while the
/// server is unavailable for the moment: no connection, 502, 503 or 504. A poll that lands in
/// such a moment waits it out instead of ending the whole run.
pub async fn read<T, F, Fut>(
    retry: Retry,
    op: F,
    retrying: impl FnMut(&Failed, Duration),
) -> Result<T, Failed>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Failed>>,
{
    with_backoff(retry, |e| e.kind().unavailable(), op, retrying).await
}

async fn with_backoff<T, F, Fut>(
    retry: Retry,
    when: impl FnMut(&Failed) -> bool,
    op: F,
    retrying: impl FnMut(&Failed, Duration),
) -> Result<T, Failed>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Failed>>,
{
    let backoff = ExponentialBuilder::default()
        .with_min_delay(retry.first_delay)
        .with_max_delay(retry.first_delay.saturating_mul(16))
        .with_max_times(retry.times)
        .with_jitter();
    op.retry(backoff).when(when).notify(retrying).await
}

/// The line a person sees for a retry.
pub fn retry_note(e: &Failed, after: Duration) -> String {
    format!("{e}; retrying in {:.1}s", after.as_secs_f64())
}
