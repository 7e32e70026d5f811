#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("failed to {action}: {source}")]
    Api {
        action: String,
        #[source]
        source: kube::Error,
    },
    #[error("failed to {action}: {reason}")]
    Invalid { action: String, reason: String },
    #[error("timed out after {seconds}s waiting to {action}")]
    Timeout { action: String, seconds: u64 },
}

impl ClusterError {
    /// The API server answered 403: the user's RBAC does not allow it.
    pub fn is_forbidden(&self) -> bool {
        matches!(self, ClusterError::Api { source: kube::Error::Api(s), .. } if s.code == 403)
    }
}
