//! Reading and writing Kubernetes manifests: multi-document YAML (or JSON), `kind: List`.

use serde_json::Value;

#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("failed to parse {source_name} as YAML: {message}")]
    Parse {
        source_name: String,
        message: String,
    },
    #[error("failed to write YAML: {0}")]
    Write(String),
}

/// Every non-empty document of `text`, in order, read as kubectl reads it: YAML 1.1, where
/// `defaultMode: 0440` is octal (288). YAML 1.2 would read 440, which the API server takes as 0670.
pub fn parse_documents(source_name: &str, text: &str) -> Result<Vec<Value>, ManifestError> {
    let mut options = serde_saphyr::Options::default();
    options.legacy_octal_numbers = true;
    serde_saphyr::from_multiple_with_options::<Value>(text, options)
        .map(|docs| docs.into_iter().filter(|d| !d.is_null()).collect())
        .map_err(|e| ManifestError::Parse {
            source_name: source_name.to_owned(),
            message: e.to_string(),
        })
}

/// Documents as one YAML stream, separated by `---`.
pub fn to_yaml_stream(documents: &[Value]) -> Result<String, ManifestError> {
    let mut out = String::new();
    for (i, doc) in documents.iter().enumerate() {
        if i > 0 {
            out.push_str("---\n");
        }
        out.push_str(&to_yaml(doc)?);
    }
    Ok(out)
}

pub fn to_yaml<T: serde::Serialize>(value: &T) -> Result<String, ManifestError> {
    serde_saphyr::to_string(value).map_err(|e| ManifestError::Write(e.to_string()))
}

pub fn is_kind(doc: &Value, api_version: &str, kind: &str) -> bool {
    doc.get("apiVersion").and_then(Value::as_str) == Some(api_version)
        && doc.get("kind").and_then(Value::as_str) == Some(kind)
}

/// Calls `f` on each object, descending into `kind: List` items, in document order.
pub fn for_each_object<E>(
    documents: &mut [Value],
    f: &mut impl FnMut(&mut Value) -> Result<(), E>,
) -> Result<(), E> {
    for doc in documents {
        if doc.get("kind").and_then(Value::as_str) == Some("List") {
            if let Some(items) = doc.get_mut("items").and_then(Value::as_array_mut) {
                for_each_object(items, f)?;
            }
        } else {
            f(doc)?;
        }
    }
    Ok(())
}
