#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    // The kube error is described, not chained: its own chain repeats the same Status three times.
    #[error("failed to {action}: {}", describe(.cause))]
    Api { action: String, cause: kube::Error },
    #[error("failed to {action}: {reason}")]
    Invalid { action: String, reason: String },
    #[error("timed out after {seconds}s waiting to {action}")]
    Timeout { action: String, seconds: u64 },
}

/// The API server's message and reason for API errors; kube's own text for the rest.
fn describe(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(s) if !s.message.is_empty() => {
            let reason = if s.reason.is_empty() {
                String::new()
            } else {
                format!(", {}", s.reason)
            };
            format!("{} (HTTP {}{reason})", s.message, s.code)
        }
        other => other.to_string(),
    }
}

impl ClusterError {
    /// 409 (resourceVersion precondition) or 422 (a JSON-patch `test` failed, or the result is
    /// invalid): the object may have changed since it was read.
    pub fn is_conflict(&self) -> bool {
        matches!(self, ClusterError::Api { cause: kube::Error::Api(s), .. } if s.code == 409 || s.code == 422)
    }

    /// The API server answered 403: the user's RBAC does not allow it.
    pub fn is_forbidden(&self) -> bool {
        matches!(self, ClusterError::Api { cause: kube::Error::Api(s), .. } if s.code == 403)
    }
}
