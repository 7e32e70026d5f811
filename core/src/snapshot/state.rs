//! What the policy needs to know about a snapshot, independent of the server's JSON.

use serde::{Deserialize, Serialize};

/// The final or current state of a snapshot, as `GET _snapshot` reports it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum SnapshotState {
    InProgress,
    Success,
    Partial,
    Failed,
    Incompatible,
    Other(String),
}

impl From<String> for SnapshotState {
    fn from(s: String) -> Self {
        match s.as_str() {
            "IN_PROGRESS" => Self::InProgress,
            "SUCCESS" => Self::Success,
            "PARTIAL" => Self::Partial,
            "FAILED" => Self::Failed,
            "INCOMPATIBLE" => Self::Incompatible,
            _ => Self::Other(s),
        }
    }
}

impl From<SnapshotState> for String {
    fn from(s: SnapshotState) -> Self {
        s.as_str().to_string()
    }
}

impl SnapshotState {
    pub fn as_str(&self) -> &str {
        match self {
            Self::InProgress => "IN_PROGRESS",
            Self::Success => "SUCCESS",
            Self::Partial => "PARTIAL",
            Self::Failed => "FAILED",
            Self::Incompatible => "INCOMPATIBLE",
            Self::Other(s) => s,
        }
    }
}

impl std::fmt::Display for SnapshotState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One snapshot as the policies see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotSummary {
    pub name: String,
    pub state: SnapshotState,
    /// Epoch milliseconds; absent while some servers report an in-progress snapshot.
    pub start_ms: Option<i64>,
    pub end_ms: Option<i64>,
    pub indices: Vec<String>,
    pub shards_total: u64,
    pub shards_failed: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_round_trip_and_keep_unknown_values() {
        for s in [
            "IN_PROGRESS",
            "SUCCESS",
            "PARTIAL",
            "FAILED",
            "INCOMPATIBLE",
            "WEIRD",
        ] {
            let state = SnapshotState::from(s.to_string());
            assert_eq!(String::from(state.clone()), s);
        }
        assert_eq!(
            SnapshotState::from("WEIRD".to_string()),
            SnapshotState::Other("WEIRD".into())
        );
        assert_eq!(
            SnapshotState::from("PARTIAL".to_string()),
            SnapshotState::Partial
        );
    }
}
