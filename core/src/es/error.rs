//! Error bodies (`{"error": {"type", "reason", ...}, "status"}`) mapped to typed errors, and the
//! hints an operator needs for each.

use serde::Serialize;
use serde_json::Value;

use super::version::Flavour;

/// What the server said, flattened: the top cause and the chain below it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiError {
    pub status: u16,
    pub error_type: String,
    pub reason: String,
    /// `type: reason` of each `caused_by`, outermost first.
    pub caused_by: Vec<String>,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} [{}, HTTP {}]",
            self.reason, self.error_type, self.status
        )?;
        for cause in &self.caused_by {
            write!(f, "; caused by {cause}")?;
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EsError {
    #[error("{0}")]
    RepositoryMissing(ApiError),
    #[error("{0}")]
    SnapshotMissing(ApiError),
    /// HTTP 503: another snapshot operation is running; retry with backoff.
    #[error("{0}")]
    ConcurrentSnapshot(ApiError),
    #[error("{0}")]
    RestoreOntoOpenIndex(ApiError),
    /// `repository_exception` about `path.repo`: the node setting does not cover the location.
    #[error("{0}")]
    PathRepo(ApiError),
    #[error("{0}")]
    RepositoryException(ApiError),
    #[error("{0}")]
    RepositoryVerification(ApiError),
    #[error("{0}")]
    InvalidSnapshotName(ApiError),
    #[error("{0}")]
    IndexNotFound(ApiError),
    #[error("{0}")]
    Unauthorized(ApiError),
    #[error("{0}")]
    Api(ApiError),
    #[error("cannot reach the server: {0}")]
    Transport(String),
    #[error("unexpected response: {0}")]
    Decode(String),
    #[error("{flavour} {number} is not supported: supported are Elasticsearch 6.8, 7.x, 8.x, 9.x and OpenSearch 1.x, 2.x")]
    UnsupportedVersion { flavour: Flavour, number: String },
}

impl EsError {
    /// Maps an error response to its typed error. Bodies that are not the JSON envelope (proxies,
    /// ES 1.x-style string errors) still become `Api` with the text as reason.
    pub fn from_response(status: u16, body: &[u8]) -> Self {
        let api = parse_body(status, body);
        let all_text = format!("{} {}", api.reason, api.caused_by.join(" "));
        match api.error_type.as_str() {
            "repository_missing_exception" => Self::RepositoryMissing(api),
            "snapshot_missing_exception" => Self::SnapshotMissing(api),
            "concurrent_snapshot_execution_exception" => Self::ConcurrentSnapshot(api),
            "snapshot_restore_exception" if all_text.contains("open index with same name") => {
                Self::RestoreOntoOpenIndex(api)
            }
            "repository_exception" if all_text.contains("path.repo") => Self::PathRepo(api),
            "repository_exception" => Self::RepositoryException(api),
            "repository_verification_exception" => Self::RepositoryVerification(api),
            "invalid_snapshot_name_exception" => Self::InvalidSnapshotName(api),
            "index_not_found_exception" => Self::IndexNotFound(api),
            "security_exception" => Self::Unauthorized(api),
            _ if status == 401 || status == 403 => Self::Unauthorized(api),
            _ if status == 503 && all_text.contains("concurrent_snapshot_execution_exception") => {
                Self::ConcurrentSnapshot(api)
            }
            _ => Self::Api(api),
        }
    }

    /// Whether the server was, for the moment, not there to answer: no connection (a pod
    /// restarting, a Service briefly without ready endpoints), a proxy's 502/504, or a 503 (no
    /// elected master, another snapshot operation). Asking again later is the remedy, and for a
    /// read it is safe.
    pub fn unavailable(&self) -> bool {
        match self {
            Self::Transport(_) | Self::ConcurrentSnapshot(_) => true,
            Self::Api(a) => matches!(a.status, 502..=504),
            _ => false,
        }
    }

    pub fn api(&self) -> Option<&ApiError> {
        match self {
            Self::RepositoryMissing(a)
            | Self::SnapshotMissing(a)
            | Self::ConcurrentSnapshot(a)
            | Self::RestoreOntoOpenIndex(a)
            | Self::PathRepo(a)
            | Self::RepositoryException(a)
            | Self::RepositoryVerification(a)
            | Self::InvalidSnapshotName(a)
            | Self::IndexNotFound(a)
            | Self::Unauthorized(a)
            | Self::Api(a) => Some(a),
            _ => None,
        }
    }

    /// What the operator can do about it.
    pub fn hint(&self) -> Option<&'static str> {
        Some(match self {
            Self::RepositoryMissing(_) => "register it with `kubectl logbackup repo register NAME --location PATH`",
            Self::PathRepo(_) => {
                "set path.repo on every master and data node to a directory containing the location \
                 (`kubectl logbackup inject` does it), then restart the nodes one at a time"
            }
            Self::RepositoryVerification(_) => {
                "the location must be one volume shared by every master and data node (a ReadWriteMany \
                 PVC), writable by the Elasticsearch user (uid 1000: chown it; on NFS with root_squash use \
                 fsGroup), and inside path.repo on each node"
            }
            Self::ConcurrentSnapshot(_) => "another snapshot or deletion is running; try again when it ends",
            Self::RestoreOntoOpenIndex(_) => {
                "restore under another name with --rename-prefix, or use --close-existing or --replace"
            }
            Self::Unauthorized(_) => "check --username/--password, --api-key or the credentials Secret",
            Self::Transport(_) => "check --es-url, the port-forward, TLS (--ca-file or --insecure) and that the cluster is up",
            _ => return None,
        })
    }
}

fn parse_body(status: u16, body: &[u8]) -> ApiError {
    let fallback = || ApiError {
        status,
        error_type: format!("http_{status}"),
        reason: String::from_utf8_lossy(body).chars().take(500).collect(),
        caused_by: vec![],
    };
    let Ok(value) = serde_json::from_slice::<Value>(body) else {
        return fallback();
    };
    let status = value
        .get("status")
        .and_then(Value::as_u64)
        .map_or(status, |s| s as u16);
    match value.get("error") {
        Some(Value::Object(_)) => {
            let error = &value["error"];
            let mut caused_by = Vec::new();
            let mut cause = error.get("caused_by");
            while let Some(c) = cause {
                caused_by.push(format!("{}: {}", text(c, "type"), text(c, "reason")));
                cause = c.get("caused_by");
            }
            ApiError {
                status,
                error_type: text(error, "type"),
                reason: text(error, "reason"),
                caused_by,
            }
        }
        Some(Value::String(s)) => ApiError {
            status,
            error_type: format!("http_{status}"),
            reason: s.clone(),
            caused_by: vec![],
        },
        _ => fallback(),
    }
}

fn text(v: &Value, key: &str) -> String {
    v.get(key).and_then(Value::as_str).unwrap_or("").to_string()
}

/// An error with what was being attempted: "failed to register repository ks-log-snapshots: ...".
#[derive(Debug, thiserror::Error)]
#[error("failed to {action}: {source}")]
pub struct Failed {
    pub action: String,
    #[source]
    pub source: EsError,
}

impl Failed {
    pub fn kind(&self) -> &EsError {
        &self.source
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ERRORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/es-api/errors/");

    fn real(file: &str) -> (u16, Vec<u8>) {
        let body = std::fs::read(format!("{ERRORS}{file}")).unwrap();
        let status = serde_json::from_slice::<Value>(&body).unwrap()["status"]
            .as_u64()
            .unwrap() as u16;
        (status, body)
    }

    #[test]
    fn every_real_error_body_maps_to_its_type() {
        type Check = fn(&EsError) -> bool;
        let cases: [(&str, Check); 9] = [
            ("repository_missing_exception.json", |e| {
                matches!(e, EsError::RepositoryMissing(_))
            }),
            ("snapshot_missing_exception.json", |e| {
                matches!(e, EsError::SnapshotMissing(_))
            }),
            ("concurrent_snapshot_execution_exception.json", |e| {
                matches!(e, EsError::ConcurrentSnapshot(_))
            }),
            ("snapshot_restore_exception_open_index_exists.json", |e| {
                matches!(e, EsError::RestoreOntoOpenIndex(_))
            }),
            ("repository_exception_path_repo_not_set.json", |e| {
                matches!(e, EsError::PathRepo(_))
            }),
            (
                "repository_exception_location_outside_path_repo.json",
                |e| matches!(e, EsError::PathRepo(_)),
            ),
            ("repository_verification_exception.json", |e| {
                matches!(e, EsError::RepositoryVerification(_))
            }),
            ("invalid_snapshot_name_exception_already_exists.json", |e| {
                matches!(e, EsError::InvalidSnapshotName(_))
            }),
            ("index_not_found_exception.json", |e| {
                matches!(e, EsError::IndexNotFound(_))
            }),
        ];
        for (file, is) in cases {
            let (status, body) = real(file);
            let err = EsError::from_response(status, &body);
            assert!(is(&err), "{file}: {err:?}");
            assert_eq!(err.api().unwrap().status, status);
        }
    }

    #[test]
    fn the_cause_chain_is_kept_in_the_message() {
        let (status, body) = real("repository_exception_path_repo_not_set.json");
        let err = EsError::from_response(status, &body);
        let text = err.to_string();
        assert!(
            text.starts_with(
                "[my_repository] failed to create repository [repository_exception, HTTP 500]"
            ),
            "{text}"
        );
        assert!(text.contains("because this setting is empty"), "{text}");
        assert!(err.hint().unwrap().contains("path.repo"));
    }

    #[test]
    fn odd_bodies_still_make_an_error() {
        let err = EsError::from_response(502, b"<html>Bad Gateway</html>");
        assert_eq!(err.api().unwrap().reason, "<html>Bad Gateway</html>");
        let err = EsError::from_response(401, br#"{"error":"unauthorized","status":401}"#);
        assert!(matches!(err, EsError::Unauthorized(_)));
        let failed = Failed {
            action: "register repository ks-log-snapshots".into(),
            source: err,
        };
        assert!(failed
            .to_string()
            .starts_with("failed to register repository ks-log-snapshots: unauthorized"));
    }

    #[test]
    fn only_a_server_that_is_not_there_for_now_is_unavailable() {
        let (status, body) = real("concurrent_snapshot_execution_exception.json");
        assert!(EsError::from_response(status, &body).unavailable());
        assert!(EsError::Transport("connection refused".into()).unavailable());
        let no_master =
            br#"{"error":{"type":"master_not_discovered_exception","reason":null},"status":503}"#;
        assert!(EsError::from_response(503, no_master).unavailable());
        assert!(EsError::from_response(502, b"<html>Bad Gateway</html>").unavailable());
        assert!(EsError::from_response(504, b"Gateway Timeout").unavailable());
        for file in [
            "snapshot_missing_exception.json",
            "repository_missing_exception.json",
            "repository_verification_exception.json",
        ] {
            let (status, body) = real(file);
            assert!(
                !EsError::from_response(status, &body).unavailable(),
                "{file}"
            );
        }
        assert!(!EsError::from_response(500, b"oops").unavailable());
        assert!(!EsError::from_response(401, b"no").unavailable());
    }
}
