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

/// The most YAML nodes (mappings, sequences and scalars) one document may have. The budget
/// guards against alias bombs; it is per document, so a long stream of ordinary documents reads
/// fine. JSON input (`kubectl get -o json`, a `List` of any size) has no aliases and is read
/// without it.
pub const MAX_YAML_NODES_PER_DOCUMENT: usize = 250_000;

/// Every non-empty document of `text`, in order, read as kubectl reads it: YAML 1.1, where
/// `defaultMode: 0440` is octal (288). YAML 1.2 would read 440, which the API server takes as 0670.
pub fn parse_documents(source_name: &str, text: &str) -> Result<Vec<Value>, ManifestError> {
    let trimmed = text.trim_start();
    if trimmed.starts_with('{') {
        if let Ok(doc) = serde_json::from_str::<Value>(trimmed) {
            return Ok([doc].into_iter().filter(|d| !d.is_null()).collect());
        }
    }
    let mut options = serde_saphyr::Options::default();
    options.legacy_octal_numbers = true;
    let mut budget = serde_saphyr::Budget::default();
    budget.max_nodes = MAX_YAML_NODES_PER_DOCUMENT;
    options.budget = Some(budget);
    // The streaming reader enforces the budget per document, not over the whole input.
    let mut reader = text.as_bytes();
    let mut docs = Vec::new();
    for doc in serde_saphyr::read_with_options::<_, Value>(&mut reader, options) {
        match doc {
            Ok(doc) if doc.is_null() => {}
            Ok(doc) => docs.push(doc),
            Err(e) => {
                let mut message = e.to_string();
                if matches!(e, serde_saphyr::Error::Budget { .. }) {
                    message.push_str(&format!(
                        " (a YAML document may hold at most {MAX_YAML_NODES_PER_DOCUMENT} nodes; \
                         split it into several documents, or pass it as JSON: kubectl get -o json)"
                    ));
                }
                return Err(ManifestError::Parse {
                    source_name: source_name.to_owned(),
                    message,
                });
            }
        }
    }
    Ok(docs)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn sts(i: usize) -> Value {
        serde_json::json!({
            "apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": {"name": format!("es-{i}"), "labels": {"a": "b"}},
            "spec": {"template": {"spec": {"containers": [
                {"name": "elasticsearch", "image": "elasticsearch:7.17.0",
                 "env": (0..100).map(|j| serde_json::json!({"name": format!("E{j}"), "value": "v"})).collect::<Vec<_>>()}
            ]}}}
        })
    }

    #[test]
    fn a_large_json_list_is_read_whole() {
        let list = serde_json::json!({"apiVersion": "v1", "kind": "List",
            "items": (0..900).map(sts).collect::<Vec<_>>()});
        let text = serde_json::to_string_pretty(&list).unwrap();
        assert!(text.len() > 3_000_000, "{}", text.len());
        let docs = parse_documents("list.json", &text).unwrap();
        assert_eq!(docs[0]["items"].as_array().map(Vec::len), Some(900));
    }

    #[test]
    fn the_yaml_budget_is_per_document_and_named_when_hit() {
        // 900 documents of ~330 nodes: 300k nodes in all, each document far below the budget.
        let stream = (0..900)
            .map(|i| to_yaml(&sts(i)).unwrap())
            .collect::<Vec<_>>()
            .join("---\n");
        assert_eq!(parse_documents("many.yaml", &stream).unwrap().len(), 900);
        // One YAML document over the budget is refused, and the message names the limit.
        let list =
            serde_json::json!({"kind": "List", "items": (0..900).map(sts).collect::<Vec<_>>()});
        let err = parse_documents("one.yaml", &to_yaml(&list).unwrap()).unwrap_err();
        assert!(err.to_string().contains("250000 nodes"), "{err}");
    }

    #[test]
    fn yaml_1_1_octal_still_reads_as_kubectl_does() {
        let docs = parse_documents("d.yaml", "a: 0440\n---\nb: 1\n").unwrap();
        assert_eq!(
            docs,
            vec![serde_json::json!({"a": 288}), serde_json::json!({"b": 1})]
        );
    }
}
