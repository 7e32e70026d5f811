//! Command-line flags; every flag can also come from the environment, as a Deployment sets it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use logbackup_core::inject::{InjectError, Options, Overrides, Selection};

#[derive(Debug, Clone, Parser)]
#[command(
    name = "logbackup-webhook",
    version,
    about = "Mutating admission webhook: gives StatefulSets labelled logbackup.io/inject=enabled a snapshot repository",
    after_help = "\
Serves POST /mutate (AdmissionReview admission.k8s.io/v1) over TLS on --listen, and /healthz,
/readyz and /metrics over plain HTTP on --ops-listen. The certificate and key are re-read every
--tls-reload-interval, so cert-manager or Secret rotations apply without a restart; a pair that
fails to load is logged and the previous one stays in use.

Per-StatefulSet annotations (logbackup.io/claim, path, container, uid, gid) win over the
defaults set here. A StatefulSet that asked for injection but cannot be injected is denied with
the reason; everything else is admitted, patched or unchanged. With --all, also remove the
objectSelector from the MutatingWebhookConfiguration, or unlabelled StatefulSets never arrive.

Example:
  logbackup-webhook --tls-cert-file tls.crt --tls-key-file tls.key --listen 127.0.0.1:8443"
)]
pub struct Config {
    /// Address of the TLS admission endpoint
    #[arg(long, env = "LOGBACKUP_WEBHOOK_LISTEN", default_value = "0.0.0.0:8443")]
    pub listen: SocketAddr,
    /// Address of the plain-HTTP health, readiness and metrics endpoint
    #[arg(
        long,
        env = "LOGBACKUP_WEBHOOK_OPS_LISTEN",
        default_value = "0.0.0.0:8080"
    )]
    pub ops_listen: SocketAddr,
    /// PEM certificate chain served on --listen (leaf first)
    #[arg(
        long,
        env = "LOGBACKUP_WEBHOOK_TLS_CERT_FILE",
        default_value = "/etc/logbackup-webhook/tls/tls.crt"
    )]
    pub tls_cert_file: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1) for --tls-cert-file
    #[arg(
        long,
        env = "LOGBACKUP_WEBHOOK_TLS_KEY_FILE",
        default_value = "/etc/logbackup-webhook/tls/tls.key"
    )]
    pub tls_key_file: PathBuf,
    /// How often the certificate files are checked for changes
    #[arg(long, env = "LOGBACKUP_WEBHOOK_TLS_RELOAD_INTERVAL", default_value = "10s", value_parser = humantime::parse_duration)]
    pub tls_reload_interval: Duration,
    /// Largest request body accepted; a larger Content-Length gets 413 before the body is read.
    /// The API server sends at most about 3 MiB (object and oldObject of a 1.5 MiB object)
    #[arg(long, env = "LOGBACKUP_WEBHOOK_MAX_BODY_BYTES", default_value_t = 4 * 1024 * 1024)]
    pub max_body_bytes: usize,
    /// Bytes of request bodies read or reviewed at once, all requests together; more wait their
    /// turn. Bounds memory under concurrent large reviews
    #[arg(long, env = "LOGBACKUP_WEBHOOK_BODIES_IN_FLIGHT_BYTES", default_value_t = 8 * 1024 * 1024)]
    pub bodies_in_flight_bytes: usize,
    /// Most JSON values a StatefulSet may have; a larger one is denied, naming this limit
    #[arg(long, env = "LOGBACKUP_WEBHOOK_MAX_OBJECT_VALUES", default_value_t = crate::review::DEFAULT_MAX_OBJECT_VALUES)]
    pub max_object_values: usize,
    /// Most TLS connections open at once; further ones are closed at accept
    #[arg(long, env = "LOGBACKUP_WEBHOOK_MAX_CONNECTIONS", default_value_t = 256)]
    pub max_connections: usize,
    /// Time a client has to complete the TLS handshake
    #[arg(long, env = "LOGBACKUP_WEBHOOK_HANDSHAKE_TIMEOUT", default_value = "5s", value_parser = humantime::parse_duration)]
    pub handshake_timeout: Duration,
    /// Time a new connection has, after the handshake, to send its first request
    #[arg(long, env = "LOGBACKUP_WEBHOOK_FIRST_REQUEST_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub first_request_timeout: Duration,
    /// Time a connection may stay idle between requests (longer than the API server's 90 s idle
    /// timeout, so the client closes first and never sends on a connection we are closing)
    #[arg(long, env = "LOGBACKUP_WEBHOOK_IDLE_TIMEOUT", default_value = "120s", value_parser = humantime::parse_duration)]
    pub idle_timeout: Duration,
    /// Time allowed to read and answer one request (keep it below the webhook's timeoutSeconds)
    #[arg(long, env = "LOGBACKUP_WEBHOOK_REQUEST_TIMEOUT", default_value = "4s", value_parser = humantime::parse_duration)]
    pub request_timeout: Duration,
    /// Time an HTTP/1.1 connection may take to send a request's headers (bounds slow clients)
    #[arg(long, env = "LOGBACKUP_WEBHOOK_HEADER_READ_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub header_read_timeout: Duration,
    /// After SIGTERM, how long to keep accepting requests while endpoints drop this pod
    #[arg(long, env = "LOGBACKUP_WEBHOOK_SHUTDOWN_DELAY", default_value = "5s", value_parser = humantime::parse_duration)]
    pub shutdown_delay: Duration,
    /// After the delay, how long in-flight requests may take to finish
    #[arg(long, env = "LOGBACKUP_WEBHOOK_SHUTDOWN_GRACE", default_value = "10s", value_parser = humantime::parse_duration)]
    pub shutdown_grace: Duration,
    /// Inject every StatefulSet with an Elasticsearch container, labelled or not (opt-outs still win)
    #[arg(long, env = "LOGBACKUP_WEBHOOK_ALL")]
    pub all: bool,
    /// Default PersistentVolumeClaim of the repository (default: StatefulSet name without role suffix, plus -backup)
    #[arg(long, env = "LOGBACKUP_WEBHOOK_CLAIM", value_name = "NAME")]
    pub claim: Option<String>,
    /// Default repository directory inside the container (default: per image)
    #[arg(long, env = "LOGBACKUP_WEBHOOK_PATH", value_name = "DIR")]
    pub path: Option<String>,
    /// Default uid Elasticsearch runs as (default: from the securityContext, else the image's)
    #[arg(long, env = "LOGBACKUP_WEBHOOK_UID", value_name = "UID")]
    pub uid: Option<i64>,
    /// Default gid that owns the repository (default: from the securityContext, else the image's)
    #[arg(long, env = "LOGBACKUP_WEBHOOK_GID", value_name = "GID")]
    pub gid: Option<i64>,
    /// Async I/O worker threads (small reviews run on them too; large ones on up to 4 more)
    /// [default: 2, or 1 when the process may run on one core only]
    #[arg(long, env = "LOGBACKUP_WEBHOOK_WORKER_THREADS", value_parser = clap::value_parser!(u16).range(1..=64))]
    pub worker_threads: Option<u16>,
    /// Log format on stderr
    #[arg(long, env = "LOGBACKUP_WEBHOOK_LOG_FORMAT", value_enum, default_value_t = LogFormat::Plain)]
    pub log_format: LogFormat,
    /// Log filter, in RUST_LOG syntax
    #[arg(long, env = "RUST_LOG", default_value = "info")]
    pub log_level: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Plain,
    Json,
}

impl Config {
    pub fn request_limits(&self) -> crate::server::RequestLimits {
        crate::server::RequestLimits {
            max_body_bytes: self.max_body_bytes,
            bodies_in_flight_bytes: self.bodies_in_flight_bytes,
            review: crate::review::ReviewLimits {
                max_object_values: self.max_object_values,
            },
            budget_wait: crate::server::DEFAULT_BUDGET_WAIT.min(self.request_timeout / 4 * 3),
        }
    }

    /// The I/O workers to start on `cores` usable cores (the affinity mask and cgroup quota, as
    /// `std::thread::available_parallelism` reads them): the flag when given, else two, but never
    /// more than the cores. Two workers on one core took turns on it: 5% less throughput and a
    /// longer p99 than one (bench/webhook.sh, 2026-12-01).
    pub fn worker_threads(&self, cores: usize) -> usize {
        match self.worker_threads {
            Some(n) => usize::from(n),
            None => cores.clamp(1, DEFAULT_WORKERS),
        }
    }

    pub fn conn_limits(&self) -> crate::listener::ConnLimits {
        crate::listener::ConnLimits {
            handshake_timeout: self.handshake_timeout,
            first_request_timeout: self.first_request_timeout,
            idle_timeout: self.idle_timeout,
            header_read_timeout: self.header_read_timeout,
            max_connections: self.max_connections,
        }
    }

    /// The injection options the core receives for every review, checked once at startup by the
    /// same `Overrides::validate` every other entry point uses.
    pub fn inject_options(&self) -> Result<Options, InjectError> {
        let options = Options {
            selection: if self.all {
                Selection::All
            } else {
                Selection::Labelled
            },
            overrides: Overrides {
                claim: self.claim.clone(),
                path: self.path.clone(),
                container: None,
                uid: self.uid,
                gid: self.gid,
            },
        };
        options.overrides.validate()?;
        Ok(options)
    }
}

/// Enough for a pod with no CPU limit on a multi-core node; reviews take well under a millisecond.
const DEFAULT_WORKERS: usize = 2;

#[cfg(test)]
mod tests {
    use super::*;

    /// The flags every run needs, followed by `extra`.
    fn parse(extra: &[&str]) -> Result<Config, clap::Error> {
        let base = [
            "logbackup-webhook",
            "--tls-cert-file",
            "c",
            "--tls-key-file",
            "k",
        ];
        Config::try_parse_from(base.iter().chain(extra))
    }

    #[test]
    fn workers_default_to_two_but_never_more_than_the_cores() {
        let default = parse(&[]).expect("valid flags parse");
        assert_eq!(default.worker_threads(1), 1);
        assert_eq!(default.worker_threads(2), 2);
        assert_eq!(default.worker_threads(32), 2);
        let three = parse(&["--worker-threads", "3"]).expect("valid flags parse");
        assert_eq!(three.worker_threads(1), 3);
        assert!(parse(&["--worker-threads", "0"]).is_err());
    }

    #[test]
    fn flags_are_held_to_the_same_rules_as_annotations() {
        let ok = parse(&["--claim", "logs-backup"]).expect("valid flags parse");
        assert_eq!(
            ok.inject_options()
                .expect("valid")
                .overrides
                .claim
                .as_deref(),
            Some("logs-backup")
        );
        for (flag, value) in [("--claim", "Logs_Backup"), ("--path", "relative/dir")] {
            let config = parse(&[flag, value]).expect("clap accepts any string");
            let e = config.inject_options().expect_err("refused at startup");
            assert!(
                e.to_string().starts_with(&format!("invalid {flag} ")),
                "{e}"
            );
        }
    }
}
