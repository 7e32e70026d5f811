//! The object the planner reads: a `serde_json_borrow` value, whose strings borrow from the JSON
//! text and whose maps are vectors of pairs. The webhook parses each review's object straight into
//! it (building a `serde_json::Value` cost an allocation per key, string and map, and hashing, the
//! largest part of a review); the plugin converts its `serde_json::Value`s.
//!
//! Reads go through [`field`] and [`text`], which answer `None` for a missing key as
//! `serde_json::Value::get` does (`serde_json_borrow`'s own `get` answers `Null`). The planner's
//! desired values stay `serde_json::Value`s; [`same`] and [`covers`] compare the object with them
//! as `serde_json` compares its values: maps whatever their key order, numbers by kind and value.

use serde_json::Value;

/// A JSON value borrowed from its text.
pub type Doc<'a> = serde_json_borrow::Value<'a>;

/// The member `key` of an object; `None` when it is absent or `v` is not an object.
pub fn field<'a>(v: &'a Doc<'a>, key: &str) -> Option<&'a Doc<'a>> {
    v.as_object()?.get(key)
}

/// The member `key` of an object, when it is a string.
pub fn text<'a>(v: &'a Doc<'a>, key: &str) -> Option<&'a str> {
    field(v, key)?.as_str()
}

/// Whether `have` equals `want` as two `serde_json::Value`s would: maps compare without regard
/// to key order (the object's keys are unique: the webhook refuses duplicates, and a
/// `serde_json::Value` has none), integers by value whatever their sign representation, and an
/// integer never equals a float.
pub fn same(have: &Doc, want: &Value) -> bool {
    match (have, want) {
        (Doc::Null, Value::Null) => true,
        (Doc::Bool(h), Value::Bool(w)) => h == w,
        (Doc::Number(h), Value::Number(w)) => same_number(h, w),
        (Doc::Str(h), Value::String(w)) => h == w,
        (Doc::Array(h), Value::Array(w)) => {
            h.len() == w.len() && h.iter().zip(w).all(|(hv, wv)| same(hv, wv))
        }
        (Doc::Object(h), Value::Object(w)) => {
            h.len() == w.len()
                && w.iter()
                    .all(|(k, wv)| h.get(k).is_some_and(|hv| same(hv, wv)))
        }
        _ => false,
    }
}

/// Whether every field `want` sets has the same value in `have`. Fields the API server defaults
/// (terminationMessagePath, imagePullPolicy, ...) are extra in `have` and do not count as a change.
pub fn covers(have: &Doc, want: &Value) -> bool {
    match (have, want) {
        (Doc::Object(h), Value::Object(w)) => w
            .iter()
            .all(|(k, wv)| h.get(k).is_some_and(|hv| covers(hv, wv))),
        (Doc::Array(h), Value::Array(w)) => {
            h.len() == w.len() && h.iter().zip(w).all(|(hv, wv)| covers(hv, wv))
        }
        _ => same(have, want),
    }
}

/// `serde_json::Number` equality: a float equals only a float of the same value, an integer only
/// an integer of the same value (`serde_json_borrow` may hold a positive integer as signed).
fn same_number(have: &serde_json_borrow::Number, want: &serde_json::Number) -> bool {
    match (have.is_f64(), want.is_f64()) {
        (true, true) => have.as_f64() == want.as_f64(),
        (false, false) => {
            let have = have
                .as_u64()
                .map(i128::from)
                .or(have.as_i64().map(i128::from));
            let want = want
                .as_u64()
                .map(i128::from)
                .or(want.as_i64().map(i128::from));
            have.is_some() && have == want
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc(text: &str) -> Doc<'_> {
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn field_is_none_for_absent_keys_and_some_for_null() {
        let v = doc(r#"{"a": null, "b": "x", "c": [1]}"#);
        assert!(field(&v, "a").is_some_and(Doc::is_null));
        assert!(field(&v, "z").is_none());
        assert_eq!(text(&v, "b"), Some("x"));
        assert_eq!(text(&v, "a"), None);
        let list = field(&v, "c").unwrap();
        assert!(field(list, "0").is_none());
    }

    #[test]
    fn same_is_serde_json_equality() {
        let cases = [
            (
                r#"{"a": 1, "b": [true, null, "s"]}"#,
                json!({"b": [true, null, "s"], "a": 1}),
            ),
            (
                r#"{"n": -3, "f": 1.5, "u": 18446744073709551615}"#,
                json!({"n": -3, "f": 1.5, "u": u64::MAX}),
            ),
            ("[]", json!([])),
            ("{}", json!({})),
        ];
        for (text, want) in &cases {
            assert!(same(&doc(text), want), "{text}");
            // Converted from a serde_json::Value (positive integers held as signed), too.
            assert!(same(&Doc::from(want), want), "{text}");
        }
        let differ = [
            (r#"{"a": 1}"#, json!({"a": 1.0})),
            (r#"{"a": 1}"#, json!({"a": 1, "b": 2})),
            (r#"{"a": 1, "b": 2}"#, json!({"a": 1})),
            (r#"{"a": "1"}"#, json!({"a": 1})),
            (r#"[1, 2]"#, json!([2, 1])),
            (r#"[1]"#, json!([1, 1])),
            ("null", json!({})),
            (r#"-1"#, json!(u64::MAX)),
        ];
        for (text, want) in &differ {
            assert!(!same(&doc(text), want), "{text}");
            assert_eq!(
                serde_json::from_str::<Value>(text).unwrap() == *want,
                same(&doc(text), want),
                "{text}"
            );
        }
    }

    #[test]
    fn covers_ignores_server_defaults_but_not_changes() {
        let want = json!({"name": "x", "command": ["sh"], "r": {"a": 1}});
        let defaulted = doc(
            r#"{"imagePullPolicy": "IfNotPresent", "r": {"b": 2, "a": 1}, "command": ["sh"], "name": "x"}"#,
        );
        assert!(covers(&defaulted, &want));
        assert!(!covers(
            &doc(r#"{"name": "x", "command": ["bash"], "r": {"a": 1}}"#),
            &want
        ));
        assert!(!covers(
            &doc(r#"{"name": "x", "command": ["sh", "-c"], "r": {"a": 1}}"#),
            &want
        ));
        assert!(!covers(&doc(r#"{"name": "x", "command": ["sh"]}"#), &want));
    }
}
