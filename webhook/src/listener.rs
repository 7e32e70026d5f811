//! The TLS admission listener: accepts TCP, shakes hands, and serves HTTP/1.1 or HTTP/2 (as ALPN
//! chose) with hyper, under connection limits that hold against slow, idle and flooding clients.
//!
//! Hand-written on tokio-rustls and hyper instead of axum-server because every limit here lives
//! between accept and the first request, where axum-server gives no hook: a cap on open
//! connections, TCP_NODELAY, a deadline for the first request (hyper-util's automatic version
//! detection waited forever for a preface that never came), and an idle deadline for HTTP/2.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulConnection;
use tokio::io::BufReader;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt as _;

use crate::metrics::Metrics;

/// How long a connection may take at each stage before it is closed, and how many may be open.
#[derive(Debug, Clone)]
pub struct ConnLimits {
    pub handshake_timeout: Duration,
    pub first_request_timeout: Duration,
    pub idle_timeout: Duration,
    pub header_read_timeout: Duration,
    pub max_connections: usize,
}

/// Serves until `stop` turns true, then lets open connections finish for up to `grace`.
pub async fn serve(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    app: Router,
    limits: ConnLimits,
    metrics: Arc<Metrics>,
    mut stop: watch::Receiver<bool>,
    grace: Duration,
) {
    let acceptor = TlsAcceptor::from(tls);
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let limits = Arc::new(limits);
    loop {
        let tcp = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => tcp,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning on the error.
                    tracing::warn!(error = %e, "failed to accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stop.wait_for(|s| *s) => break,
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            // At the cap a new connection is closed at once: a flood of idle clients must not
            // grow memory, and the API server retries on another endpoint.
            metrics.connections_refused.inc();
            drop(tcp);
            continue;
        };
        // The response is written in one go; Nagle would hold its last segment back waiting for
        // the ACK of the previous one (a 40 ms stall on fresh connections, with delayed ACKs).
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "failed to set TCP_NODELAY");
        }
        let conn = Connection {
            acceptor: acceptor.clone(),
            app: app.clone(),
            limits: limits.clone(),
            stop: stop.clone(),
            metrics: metrics.clone(),
            _slot: slot,
        };
        tokio::spawn(conn.run(tcp));
    }
    drop(listener);
    let everyone = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    if tokio::time::timeout(grace, slots.acquire_many(everyone))
        .await
        .is_err()
    {
        tracing::warn!(
            ?grace,
            "connections still open after the shutdown grace period"
        );
    }
}

struct Connection {
    acceptor: TlsAcceptor,
    app: Router,
    limits: Arc<ConnLimits>,
    stop: watch::Receiver<bool>,
    metrics: Arc<Metrics>,
    /// Returned to the cap when the connection task ends.
    _slot: OwnedSemaphorePermit,
}

impl Connection {
    async fn run(self, tcp: TcpStream) {
        self.metrics.connections_open.inc();
        let _open = scopeguard(&self.metrics);
        let limits = &self.limits;
        let tls = match tokio::time::timeout(
            limits.handshake_timeout,
            self.acceptor.accept(read_buffered(tcp)),
        )
        .await
        {
            Ok(Ok(tls)) => tls,
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "TLS handshake failed");
                return;
            }
            Err(_) => {
                tracing::debug!("TLS handshake timed out");
                return;
            }
        };
        let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
        let activity = Arc::new(Activity::default());
        let service = {
            let (app, activity) = (self.app.clone(), activity.clone());
            hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
                let busy = activity.begin();
                let app = app.clone();
                async move {
                    let response = app.oneshot(request.map(axum::body::Body::new)).await;
                    drop(busy);
                    response
                }
            })
        };
        let io = TokioIo::new(tls);
        if h2 {
            let conn = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                .timer(TokioTimer::new())
                .keep_alive_interval(limits.idle_timeout)
                .keep_alive_timeout(limits.header_read_timeout)
                .serve_connection(io, service);
            drive(conn, &activity, limits, self.stop).await;
        } else {
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_read_timeout)
                .serve_connection(io, service);
            drive(conn, &activity, limits, self.stop).await;
        }
    }
}

/// rustls reads the socket 4 KiB at a time: a 9 KB review took three `recvfrom` calls. Through
/// a buffer that holds one whole TLS record it takes one. The buffer costs 16.5 KiB per open
/// connection (4.1 MiB at the default cap of 256).
fn read_buffered(tcp: TcpStream) -> BufReader<TcpStream> {
    /// The largest TLS record on the wire: 16 KiB of plaintext and the record's overhead.
    const RECORD: usize = 16 * 1024 + 512;
    BufReader::with_capacity(RECORD, tcp)
}

/// Keeps the open-connections gauge honest however the task ends.
fn scopeguard(metrics: &Arc<Metrics>) -> impl Drop {
    struct Open(Arc<Metrics>);
    impl Drop for Open {
        fn drop(&mut self) {
            self.0.connections_open.dec();
        }
    }
    Open(metrics.clone())
}

/// Runs one connection; closes it gracefully when it has been idle too long (before its first
/// request, or between requests) or the server stops, and drops it if it will not close.
///
/// Requests do not wake this loop: it sleeps until the idle deadline and then reads the
/// connection's [`Activity`] to decide whether to close or sleep again. A wake-up per request
/// (a watch channel, as before 2026-12-02) cost two extra polls of the connection, a new timer and
/// the channel's locks on every request.
async fn drive<C>(
    conn: C,
    activity: &Activity,
    limits: &ConnLimits,
    mut stop: watch::Receiver<bool>,
) where
    C: GracefulConnection,
    C::Error: std::fmt::Display,
{
    tokio::pin!(conn);
    let idle_check = tokio::time::sleep(limits.first_request_timeout);
    tokio::pin!(idle_check);
    // Once closing, how long the connection may take to finish before it is dropped.
    let mut closing: Option<Duration> = None;
    let mut stopping = false;
    loop {
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                return;
            }
            () = idle_check.as_mut(), if closing.is_none() => {
                match activity.idle_deadline(limits.first_request_timeout, limits.idle_timeout) {
                    Some(deadline) if deadline > Instant::now() => idle_check.as_mut().reset(deadline),
                    Some(_) => {
                        // Nothing in progress: HTTP/2 gets a GOAWAY; a half-sent HTTP/1.1 request
                        // head (one byte, say) would keep a graceful close waiting, so it gets a
                        // second only.
                        closing = Some(Duration::from_secs(1));
                        conn.as_mut().graceful_shutdown();
                    }
                    // A request in progress is bounded by the request and header timeouts.
                    None => idle_check.as_mut().reset(Instant::now() + limits.idle_timeout),
                }
            }
            _ = stop.wait_for(|s| *s), if !stopping && closing.is_none() => stopping = true,
            // On stop, a request in progress (its body still arriving, say) finishes first:
            // hyper's graceful close could otherwise drop it with the connection.
            () = activity.until_idle(), if stopping && closing.is_none() => {
                closing = Some(limits.header_read_timeout);
                conn.as_mut().graceful_shutdown();
            }
            _ = tokio::time::sleep(closing.unwrap_or_default()), if closing.is_some() => return,
        }
    }
}

/// Requests in progress on one connection, and when the last one ended: plain atomics, read by
/// [`drive`] only when its idle deadline comes or the server stops.
struct Activity {
    busy: AtomicUsize,
    served: AtomicUsize,
    /// When the connection was opened; `idle_since` counts from it.
    opened: Instant,
    /// Microseconds from `opened` to the end of the last request (0 before the first).
    idle_since: AtomicU64,
}

impl Default for Activity {
    fn default() -> Self {
        Activity {
            busy: AtomicUsize::new(0),
            served: AtomicUsize::new(0),
            opened: Instant::now(),
            idle_since: AtomicU64::new(0),
        }
    }
}

/// How often a stopping server looks whether a connection's last request has ended. Only while
/// draining, so requests never pay for a wake-up.
const DRAIN_POLL: Duration = Duration::from_millis(10);

impl Activity {
    fn begin(self: &Arc<Self>) -> BusyOwned {
        self.served.fetch_add(1, Ordering::Relaxed);
        self.busy.fetch_add(1, Ordering::AcqRel);
        BusyOwned(self.clone())
    }

    fn end(&self) {
        let micros = u64::try_from(self.opened.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.idle_since.store(micros, Ordering::Release);
        self.busy.fetch_sub(1, Ordering::AcqRel);
    }

    /// When the connection may be closed for idleness: `first` after it opened when no request
    /// came yet, `idle` after the last request ended; `None` while a request is in progress.
    fn idle_deadline(&self, first: Duration, idle: Duration) -> Option<Instant> {
        if self.busy.load(Ordering::Acquire) > 0 {
            return None;
        }
        if self.served.load(Ordering::Relaxed) == 0 {
            return Some(self.opened + first);
        }
        let since = Duration::from_micros(self.idle_since.load(Ordering::Acquire));
        Some(self.opened + since + idle)
    }

    /// Returns once no request is in progress.
    async fn until_idle(&self) {
        while self.busy.load(Ordering::Acquire) > 0 {
            tokio::time::sleep(DRAIN_POLL).await;
        }
    }
}

struct BusyOwned(Arc<Activity>);

impl Drop for BusyOwned {
    fn drop(&mut self) {
        self.0.end();
    }
}
