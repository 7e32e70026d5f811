//! `request.object` parsed into a borrowed [`Doc`] without the two parts of its metadata that no
//! review reads.
//!
//! An object as the API server sends it carries `metadata.managedFields` and, when it was applied
//! with kubectl, the `kubectl.kubernetes.io/last-applied-configuration` annotation: a copy of the
//! whole object as an escaped JSON string. Together they were about half of the KubeSphere review's
//! bytes. The planner reads neither, and no patch it makes points into them (they live under
//! `metadata`, and the patch only adds under `spec`), so they are skipped while parsing instead of
//! being unescaped, copied and put in maps. Everything else is the [`Doc`] `serde_json_borrow`
//! would give: strings borrowed from the body (copied only when they have escapes), maps as
//! vectors of pairs, so parsing the object costs about one allocation per map and array instead of
//! one per key and string plus hashing (a `serde_json::Value` with `preserve_order`).
//!
//! A key given twice in one map is refused ([`duplicate_key`]): `serde_json` kept the last value,
//! a [`Doc`] keeps both and the planner would read the first. The API server never sends one.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use logbackup_core::inject::Doc;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json_borrow::KeyStrType;

/// The annotation kubectl writes on `apply`.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// Parses `raw` (one JSON value) like `serde_json::from_str::<Doc>`, but for the skipped parts.
pub fn parse(raw: &str) -> Result<Doc<'_>, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_str(raw);
    let value = Level::Object.deserialize(&mut de)?;
    de.end()?;
    Ok(value)
}

/// `request.object` read in the same pass over the body as the rest of the request (review.rs),
/// instead of kept as a slice and parsed again: the same [`Doc`] as [`parse`] gives.
pub struct Pruned<'a>(pub Doc<'a>);

impl<'de> Deserialize<'de> for Pruned<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Level::Object.deserialize(d).map(Pruned)
    }
}

/// A key that appears twice in one map of `v`, at any depth.
pub fn duplicate_key<'a>(v: &'a Doc<'a>) -> Option<&'a str> {
    match v {
        Doc::Array(items) => items.iter().find_map(duplicate_key),
        Doc::Object(map) => {
            // Pairwise for the usual small maps (no allocation); sorted for large ones, so a map
            // of thousands of labels costs n log n, not n².
            let twice = if map.len() <= 16 {
                map.keys()
                    .enumerate()
                    .find(|&(i, k)| map.keys().take(i).any(|earlier| earlier == k))
                    .map(|(_, k)| k)
            } else {
                let mut keys: Vec<&str> = map.keys().collect();
                keys.sort_unstable();
                keys.windows(2).find(|w| w[0] == w[1]).map(|w| w[0])
            };
            twice.or_else(|| map.values().find_map(duplicate_key))
        }
        _ => None,
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
    type Value = Doc<'de>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Doc<'de>, D::Error> {
        Doc::deserialize(Pruning { de: d, level: self })
    }
}

// `serde_json_borrow` builds its maps itself (an owned, escaped key cannot be put in one from
// outside), so the skipping is done by showing its visitor a deserializer whose maps at a `Level`
// never yield the skipped keys. Anything else at that place is passed through unchanged (the
// planner then says what is wrong with it).

/// A deserializer whose maps are pruned at `level`.
struct Pruning<D> {
    de: D,
    level: Level,
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Pruning<D> {
    type Error = D::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.de.deserialize_any(Prune {
            visitor,
            level: self.level,
        })
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option
        unit unit_struct newtype_struct seq tuple tuple_struct map struct enum identifier ignored_any
    }
}

/// `visitor`, with a map it is given pruned at `level`; every other value passed through.
struct Prune<V> {
    visitor: V,
    level: Level,
}

impl<'de, V: Visitor<'de>> Visitor<'de> for Prune<V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        self.visitor.expecting(f)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        self.visitor.visit_map(PrunedMap {
            map,
            level: self.level,
            below: None,
        })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<V::Value, A::Error> {
        self.visitor.visit_seq(seq)
    }

    fn visit_unit<E: de::Error>(self) -> Result<V::Value, E> {
        self.visitor.visit_unit()
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<V::Value, E> {
        self.visitor.visit_bool(v)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<V::Value, E> {
        self.visitor.visit_i64(v)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<V::Value, E> {
        self.visitor.visit_u64(v)
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<V::Value, E> {
        self.visitor.visit_f64(v)
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<V::Value, E> {
        self.visitor.visit_borrowed_str(v)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<V::Value, E> {
        self.visitor.visit_str(v)
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<V::Value, E> {
        self.visitor.visit_string(v)
    }
}

/// A map at `level` without its skipped keys; the value under a key that leads one level down is
/// pruned at that level.
struct PrunedMap<A> {
    map: A,
    level: Level,
    below: Option<Level>,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for PrunedMap<A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        // Borrowed from the body unless the key has escapes.
        while let Some(key) = self.map.next_key::<KeyStrType<'de>>()? {
            if self.level.skips(&key) {
                self.map.next_value::<IgnoredAny>()?;
                continue;
            }
            self.below = self.level.below(&key);
            return seed.deserialize(Key(key.0, PhantomData)).map(Some);
        }
        Ok(None)
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, A::Error> {
        match self.below.take() {
            Some(level) => self.map.next_value_seed(AtLevel { seed, level }),
            None => self.map.next_value_seed(seed),
        }
    }
}

/// `seed` reading a value pruned at `level`.
struct AtLevel<S> {
    seed: S,
    level: Level,
}

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for AtLevel<S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<S::Value, D::Error> {
        self.seed.deserialize(Pruning {
            de: d,
            level: self.level,
        })
    }
}

/// A key already read, given to the map's visitor: borrowed when it was borrowed.
struct Key<'de, E>(Cow<'de, str>, PhantomData<E>);

impl<'de, E: de::Error> Deserializer<'de> for Key<'de, E> {
    type Error = E;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, E> {
        match self.0 {
            Cow::Borrowed(key) => visitor.visit_borrowed_str(key),
            Cow::Owned(key) => visitor.visit_string(key),
        }
    }

    // The key type is a newtype around `Cow<str>`.
    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, E> {
        visitor.visit_newtype_struct(self)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option
        unit unit_struct seq tuple tuple_struct map struct enum identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    /// What `parse` gives, as the `serde_json::Value` it stands for.
    fn parsed(text: &str) -> Value {
        Value::from(&parse(text).unwrap())
    }

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
        let got = parsed(&object.to_string());
        assert_eq!(got, want);
        // Key order is the text's, so the YAML the core writes is unchanged.
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
            r#"{"m\u0061p":{"managedFields":1,"l\"":{"k\n":"v"}},"n":[18446744073709551615,-1,0.5]}"#,
        ] {
            let want: Value = serde_json::from_str(text).unwrap();
            assert_eq!(parsed(text), want, "{text}");
        }
        // A key with escapes is the key it spells, there as everywhere.
        assert_eq!(
            parsed(r#"{"metad\u0061ta":{"m\u0061nagedFields":1,"l\"":{"k\n":"v"}}}"#),
            json!({"metadata": {"l\"": {"k\n": "v"}}})
        );
        assert!(parse(r#"{"metadata":{"managedFields":[}}"#).is_err());
        assert!(parse(r#"{} x"#).is_err());
    }

    #[test]
    fn strings_and_keys_borrow_from_the_text_unless_escaped() {
        let text = r#"{"metadata":{"name":"es","annotations":{"a":"x\ny"}},"s":"plain"}"#;
        let doc = parse(text).unwrap();
        let borrowed = |v: &Doc| matches!(v, Doc::Str(Cow::Borrowed(_)));
        assert!(borrowed(doc.get("s")));
        assert!(borrowed(doc.get("metadata").get("name")));
        assert!(!borrowed(doc.get("metadata").get("annotations").get("a")));
        let keys = doc.as_object().unwrap().as_vec();
        assert!(matches!(keys[0].0 .0, Cow::Borrowed("metadata")));
    }

    #[test]
    fn a_key_given_twice_is_found_at_any_depth() {
        let twice = |text: &str| duplicate_key(&parse(text).unwrap()).map(str::to_owned);
        assert_eq!(twice(r#"{"a":1,"b":{"c":[{"d":1,"e":2}]}}"#), None);
        assert_eq!(twice(r#"{"a":1,"a":2}"#).as_deref(), Some("a"));
        assert_eq!(
            twice(r#"{"a":{"c":[{"d":1,"e":2,"d":3}]}}"#).as_deref(),
            Some("d")
        );
        let many: Vec<String> = (0..40).map(|i| format!("\"k{i}\":{i}")).collect();
        let unique = format!("{{\"labels\":{{{}}}}}", many.join(","));
        assert_eq!(twice(&unique), None);
        let repeated = format!("{{\"labels\":{{{},\"k7\":0}}}}", many.join(","));
        assert_eq!(twice(&repeated).as_deref(), Some("k7"));
        // Skipped parts are not looked at.
        assert_eq!(
            twice(r#"{"metadata":{"managedFields":{"x":1,"x":2}}}"#),
            None
        );
    }
}
