//! The real error bodies from `shared/es-api/errors`, with the neutral names replaced by the ones of
//! the request, and their real statuses.

use std::collections::HashMap;
use std::path::Path;

use serde_json::{json, Value};

use crate::spec::SpecError;

/// The neutral identifiers the error files use (from `errors/index.json`).
const NEUTRAL_LOCATION: &str = "/mnt/backups/my_repository";
const NEUTRAL_REPOSITORY: &str = "my_repository";
const NEUTRAL_SNAPSHOT: &str = "snapshot_1";
const NEUTRAL_UUID: &str = "dq3AMSEejQMZF4sbqYA9xS";
const NEUTRAL_INDEX: &str = "my-index-000001";
const NEUTRAL_BASE_PATH: &str = "my-base-path";

#[derive(Debug, Clone, Default)]
pub struct Names<'a> {
    pub repository: &'a str,
    pub snapshot: &'a str,
    pub uuid: &'a str,
    pub index: &'a str,
    pub location: &'a str,
}

#[derive(Debug, Clone)]
pub struct ErrorBodies {
    bodies: HashMap<String, (u16, String)>,
}

impl ErrorBodies {
    pub fn load(root: &Path) -> Result<Self, SpecError> {
        let dir = root.join("errors");
        let index_path = dir.join("index.json");
        let read = |path: &Path| {
            std::fs::read_to_string(path).map_err(|e| SpecError::Read {
                path: path.to_path_buf(),
                message: e.to_string(),
            })
        };
        let index: Value =
            serde_json::from_str(&read(&index_path)?).map_err(|e| SpecError::Read {
                path: index_path.clone(),
                message: e.to_string(),
            })?;
        let mut bodies = HashMap::new();
        for entry in index["errors"].as_array().into_iter().flatten() {
            let (Some(file), Some(status)) =
                (entry["file"].as_str(), entry["http_status"].as_u64())
            else {
                continue;
            };
            let key = file.trim_end_matches(".json").to_string();
            bodies.insert(key, (status as u16, read(&dir.join(file))?));
        }
        Ok(Self { bodies })
    }

    /// The body of `file` (without `.json`) with names filled in.
    pub fn render(&self, file: &str, names: &Names) -> (u16, Value) {
        let Some((status, text)) = self.bodies.get(file) else {
            return (
                500,
                json!({"error": {"type": "double_error", "reason": format!("no error body {file}")}, "status": 500}),
            );
        };
        // Order matters: the location contains the repository name.
        let mut text = text.replace(NEUTRAL_LOCATION, &json_escape(names.location));
        text = text.replace(NEUTRAL_BASE_PATH, &json_escape(names.location));
        text = text.replace(NEUTRAL_REPOSITORY, &json_escape(names.repository));
        text = text.replace(NEUTRAL_SNAPSHOT, &json_escape(names.snapshot));
        text = text.replace(NEUTRAL_UUID, &json_escape(names.uuid));
        text = text.replace(NEUTRAL_INDEX, &json_escape(names.index));
        let value = serde_json::from_str(&text)
            .unwrap_or_else(|_| json!({"error": {"type": "double_error", "reason": text}}));
        (*status, value)
    }
}

fn json_escape(s: &str) -> String {
    let quoted = serde_json::to_string(s).unwrap_or_default();
    quoted.trim_matches('"').to_string()
}

/// Errors the collection has no full body for, built in the same envelope from the documented wording.
pub fn envelope(status: u16, kind: &str, reason: &str) -> Value {
    json!({
        "error": {"root_cause": [{"type": kind, "reason": reason}], "type": kind, "reason": reason},
        "status": status
    })
}
