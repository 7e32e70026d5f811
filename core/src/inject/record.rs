//! The marker annotation on the pod template: what was injected and under which names, so a later plan
//! can tell our parts from the user's and update them in place.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Record {
    pub claim: String,
    pub path: String,
    pub container: String,
    pub uid: i64,
    pub gid: i64,
    pub volume: String,
    pub init_container: String,
    pub env: String,
}

impl Record {
    pub fn to_annotation(&self) -> String {
        // Serializing a struct of strings and integers cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn from_annotation(value: &str) -> Option<Self> {
        serde_json::from_str(value).ok()
    }
}
