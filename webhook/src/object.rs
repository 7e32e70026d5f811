//! `request.object` parsed to a `Value` without the two parts of its metadata that no review reads.
//!
//! An object as the API server sends it carries `metadata.managedFields` and, when it was applied
//! with kubectl, the `kubectl.kubernetes.io/last-applied-configuration` annotation: a copy of the
//! whole object as an escaped JSON string. Together they were about half of the KubeSphere review's
//! bytes. The planner reads neither, and no patch it makes points into them (they live under
//! `metadata`, and the patch only adds under `spec`), so they are skipped while parsing instead of
//! being unescaped, copied and put in maps. Everything else is the `Value` serde_json would give.

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::{Map, Value};

/// The annotation kubectl writes on `apply`.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// Parses `raw` (one JSON value) like `serde_json::from_str::<Value>`, but for the skipped parts.
pub fn parse(raw: &str) -> Result<Value, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_str(raw);
    let value = Level::Object.deserialize(&mut de)?;
    de.end()?;
    Ok(value)
}

/// `request.object` read in the same pass over the body as the rest of the request (review.rs),
/// instead of kept as a slice and parsed again: the same `Value` as [`parse`] gives.
pub struct Pruned(pub Value);

impl<'de> Deserialize<'de> for Pruned {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Level::Object.deserialize(d).map(Pruned)
    }
}

/// Where in the object a map is: only there are keys skipped.
#[derive(Clone, Copy)]
enum Level {
    /// The object itself: its `metadata` is read as [`Level::Metadata`].
    Object,
    /// `metadata`: `managedFields` is skipped, `annotations` read as [`Level::Annotations`].
    Metadata,
    /// `metadata.annotations`: the last-applied annotation is skipped.
    Annotations,
}

impl Level {
    fn skips(self, key: &str) -> bool {
        match self {
            Level::Object => false,
            Level::Metadata => key == "managedFields",
            Level::Annotations => key == LAST_APPLIED,
        }
    }

    fn below(self, key: &str) -> Option<Level> {
        match (self, key) {
            (Level::Object, "metadata") => Some(Level::Metadata),
            (Level::Metadata, "annotations") => Some(Level::Annotations),
            _ => None,
        }
    }
}

impl<'de> DeserializeSeed<'de> for Level {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(LevelVisitor(self))
    }
}

/// A map at `Level` is pruned; any other JSON value at that place is read as serde_json reads it
/// (the planner then says what is wrong with it).
struct LevelVisitor(Level);

impl<'de> Visitor<'de> for LevelVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if self.0.skips(&key) {
                map.next_value::<IgnoredAny>()?;
                continue;
            }
            let value = match self.0.below(&key) {
                Some(level) => map.next_value_seed(level)?,
                None => map.next_value::<Value>()?,
            };
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element::<Value>()? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn managed_fields_and_last_applied_are_skipped_and_the_rest_kept_in_order() {
        let object = json!({
            "kind": "StatefulSet",
            "metadata": {
                "name": "es", "managedFields": [{"manager": "kubectl"}],
                "annotations": {LAST_APPLIED: "{\"kind\":\"StatefulSet\"}", "b": "1", "a": "2"},
                "labels": {"x": "y"}
            },
            "spec": {"template": {"metadata": {"annotations": {LAST_APPLIED: "kept"}}}},
            "status": {"managedFields": "kept", "n": 1.5, "t": true, "z": null}
        });
        let want = json!({
            "kind": "StatefulSet",
            "metadata": {"name": "es", "annotations": {"b": "1", "a": "2"}, "labels": {"x": "y"}},
            "spec": {"template": {"metadata": {"annotations": {LAST_APPLIED: "kept"}}}},
            "status": {"managedFields": "kept", "n": 1.5, "t": true, "z": null}
        });
        let got = parse(&object.to_string()).unwrap();
        assert_eq!(got, want);
        // Key order is serde_json's (preserve_order), so the YAML the core writes is unchanged.
        assert_eq!(got.to_string(), want.to_string());
    }

    #[test]
    fn any_other_json_reads_as_serde_json_reads_it() {
        for text in [
            "null",
            "[1,{\"metadata\":{\"managedFields\":1}}]",
            "\"s\"",
            "-3",
            r#"{"metadata":null}"#,
            r#"{"metadata":{"annotations":["a"]}}"#,
            r#"{"metadata":"x\u0041"}"#,
        ] {
            let want: Value = serde_json::from_str(text).unwrap();
            assert_eq!(parse(text).unwrap(), want, "{text}");
        }
        assert!(parse(r#"{"metadata":{"managedFields":[}}"#).is_err());
        assert!(parse(r#"{} x"#).is_err());
    }
}
