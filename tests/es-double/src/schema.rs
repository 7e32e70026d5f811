//! A validator for the JSON Schema subset the two OpenAPI documents use (type, properties, items,
//! enum, const, $ref, allOf, anyOf, oneOf, additionalProperties, nullable, min/maxProperties).
//!
//! Written here rather than using the `jsonschema` crate because the Elasticsearch document is
//! OpenAPI 3.0 (`nullable`, refs into components) and the README asks for a lenient reading the
//! crate cannot be told to apply: `oneOf` read as `anyOf` (the generator's `T | null` encoding
//! makes strict oneOf reject every string), and `required` enforced only where asked.

use serde_json::Value;

pub struct Validator<'a> {
    pub doc: &'a Value,
    pub enforce_required: bool,
    /// `$ref`s accepted as anything: known spec bugs (README caveat 2: `_types.Metadata` says values
    /// are objects, the official examples use strings).
    pub any_refs: &'a [&'a str],
}

impl Validator<'_> {
    /// Errors as `path: message`; empty when `value` is valid.
    pub fn validate(&self, schema: &Value, value: &Value) -> Vec<String> {
        let mut errors = Vec::new();
        self.check(schema, value, "$", &mut errors, 0);
        errors
    }

    fn resolve<'b>(&'b self, schema: &'b Value) -> &'b Value {
        let mut s = schema;
        for _ in 0..32 {
            match s.get("$ref").and_then(Value::as_str) {
                Some(r) => {
                    s = self
                        .doc
                        .pointer(r.trim_start_matches('#'))
                        .unwrap_or(&Value::Null)
                }
                None => break,
            }
        }
        s
    }

    fn check(
        &self,
        schema: &Value,
        value: &Value,
        path: &str,
        errors: &mut Vec<String>,
        depth: usize,
    ) {
        if depth > 64 {
            return;
        }
        let reference = schema.get("$ref").and_then(Value::as_str);
        if reference.is_some_and(|r| self.any_refs.contains(&r)) {
            return;
        }
        let schema = self.resolve(schema);
        let Some(obj) = schema.as_object() else {
            return;
        };
        if value.is_null() && obj.get("nullable") == Some(&Value::Bool(true)) {
            return;
        }
        if let Some(t) = obj.get("type") {
            let types: Vec<&str> = match t {
                Value::String(s) => vec![s.as_str()],
                Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
                _ => vec![],
            };
            if !types.is_empty() && !types.iter().any(|t| type_matches(t, value)) {
                errors.push(format!("{path}: expected {types:?}, got {}", short(value)));
                return;
            }
        }
        if let Some(allowed) = obj.get("enum").and_then(Value::as_array) {
            if !allowed.contains(value) {
                errors.push(format!("{path}: {} not in enum {allowed:?}", short(value)));
            }
        }
        if let Some(c) = obj.get("const") {
            if c != value {
                errors.push(format!("{path}: expected const {c}"));
            }
        }
        for all in obj
            .get("allOf")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            self.check(all, value, path, errors, depth + 1);
        }
        for key in ["anyOf", "oneOf"] {
            if let Some(options) = obj.get(key).and_then(Value::as_array) {
                let fits = options.iter().any(|o| {
                    let mut e = Vec::new();
                    self.check(o, value, path, &mut e, depth + 1);
                    e.is_empty()
                });
                if !fits {
                    errors.push(format!("{path}: matches none of {key} ({})", short(value)));
                }
            }
        }
        if let Value::Object(map) = value {
            let props = obj.get("properties").and_then(Value::as_object);
            if self.enforce_required {
                for r in obj
                    .get("required")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                {
                    if !map.contains_key(r) {
                        errors.push(format!("{path}: missing required {r}"));
                    }
                }
            }
            if let Some(max) = obj.get("maxProperties").and_then(Value::as_u64) {
                if map.len() as u64 > max {
                    errors.push(format!("{path}: more than {max} properties"));
                }
            }
            if let Some(min) = obj.get("minProperties").and_then(Value::as_u64) {
                if (map.len() as u64) < min {
                    errors.push(format!("{path}: fewer than {min} properties"));
                }
            }
            for (k, v) in map {
                let sub = format!("{path}.{k}");
                match props.and_then(|p| p.get(k)) {
                    Some(s) => self.check(s, v, &sub, errors, depth + 1),
                    None => match obj.get("additionalProperties") {
                        Some(Value::Bool(false)) => errors.push(format!("{sub}: not allowed")),
                        Some(s @ Value::Object(_)) => self.check(s, v, &sub, errors, depth + 1),
                        _ => {}
                    },
                }
            }
        }
        if let (Value::Array(items), Some(item_schema)) = (value, obj.get("items")) {
            for (i, item) in items.iter().enumerate() {
                self.check(
                    item_schema,
                    item,
                    &format!("{path}[{i}]"),
                    errors,
                    depth + 1,
                );
            }
        }
    }
}

fn type_matches(t: &str, v: &Value) -> bool {
    match t {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "boolean" => v.is_boolean(),
        "null" => v.is_null(),
        "number" => v.is_number(),
        "integer" => v.as_f64().is_some_and(|f| f.fract() == 0.0),
        _ => true,
    }
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 80 {
        format!("{}...", &s[..80])
    } else {
        s
    }
}

fn operations<'a>(manifest: &'a Value, endpoint: &str) -> Option<&'a Vec<Value>> {
    let entry = manifest
        .get("endpoints")
        .or_else(|| manifest.get("groups"))?
        .as_array()?
        .iter()
        .find(|e| {
            e.get("endpoint")
                .or_else(|| e.get("group"))
                .and_then(Value::as_str)
                == Some(endpoint)
        })?;
    entry["operations"].as_array()
}

/// The 200 response schema of `endpoint` (ES name or OpenSearch group), if documented.
pub fn response_schema<'a>(
    doc: &'a Value,
    manifest: &'a Value,
    endpoint: &str,
) -> Option<&'a Value> {
    operations(manifest, endpoint)?.iter().find_map(|o| {
        let found = match o["responses"]["200"].as_str() {
            Some(reference) => doc.pointer(reference.trim_start_matches('#')),
            // Documented inline on the operation (SLM), not as a component.
            None => inline(doc, o)?.get("responses")?.get("200"),
        };
        found?.pointer("/content/application~1json/schema")
    })
}

/// The operation object of a manifest entry in the OpenAPI document.
fn inline<'a>(doc: &'a Value, operation: &Value) -> Option<&'a Value> {
    let path = operation["path"].as_str()?;
    let method = operation["method"].as_str()?.to_ascii_lowercase();
    doc.get("paths")?.get(path)?.get(method.as_str())
}

/// The request body schema of `endpoint`, if documented.
pub fn request_schema<'a>(
    doc: &'a Value,
    manifest: &'a Value,
    endpoint: &str,
) -> Option<&'a Value> {
    operations(manifest, endpoint)?.iter().find_map(|o| {
        let found = match o["requestBody"]["ref"].as_str() {
            Some(reference) => doc.pointer(reference.trim_start_matches('#')),
            None => inline(doc, o)?.get("requestBody"),
        };
        found?.pointer("/content/application~1json/schema")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_validator_rejects_what_it_should() {
        let doc = json!({"components": {"schemas": {"N": {"oneOf": [{"type": "string"}, {"nullable": true, "type": "string"}]}}}});
        let v = Validator {
            doc: &doc,
            enforce_required: true,
            any_refs: &[],
        };
        let schema = json!({"type": "object", "required": ["a"], "properties": {"a": {"type": "integer"}, "n": {"$ref": "#/components/schemas/N"}}, "additionalProperties": false});
        assert!(v.validate(&schema, &json!({"a": 1, "n": "x"})).is_empty());
        assert_eq!(v.validate(&schema, &json!({"a": "1"})).len(), 1);
        assert_eq!(v.validate(&schema, &json!({})).len(), 1);
        assert_eq!(v.validate(&schema, &json!({"a": 1, "b": 2})).len(), 1);
        assert_eq!(v.validate(&schema, &json!({"a": 1, "n": 5})).len(), 1);
        let lenient = Validator {
            doc: &doc,
            enforce_required: false,
            any_refs: &["#/components/schemas/N"],
        };
        assert!(lenient.validate(&schema, &json!({})).is_empty());
        assert!(lenient
            .validate(&schema, &json!({"a": 1, "n": 5}))
            .is_empty());
    }
}
