//! Command-line flags; every flag can also come from the environment, as a Deployment sets it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use logbackup_core::inject::{Options, Overrides, Selection};

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
    /// Largest request body accepted; larger requests get 413
    #[arg(long, env = "LOGBACKUP_WEBHOOK_MAX_BODY_BYTES", default_value_t = 6 * 1024 * 1024)]
    pub max_body_bytes: usize,
    /// Time allowed to read and answer one request (keep it below the webhook's timeoutSeconds)
    #[arg(long, env = "LOGBACKUP_WEBHOOK_REQUEST_TIMEOUT", default_value = "4s", value_parser = humantime::parse_duration)]
    pub request_timeout: Duration,
    /// Time a connection may take to send a request's headers, and stay idle between keep-alive
    /// requests, before it is closed (bounds slow clients and idle connections)
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
    /// The injection options the core receives for every review.
    pub fn inject_options(&self) -> Options {
        Options {
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
        }
    }
}
