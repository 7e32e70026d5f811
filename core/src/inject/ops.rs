//! Building JSON-patch operations against the original object.

use json_patch::{AddOperation, PatchOperation, RemoveOperation, ReplaceOperation, TestOperation};
use jsonptr::PointerBuf;
use serde_json::Value;

/// A JSON pointer from unescaped segments; `/` and `~` in keys such as `logbackup.io/injected` are
/// escaped as RFC 6901 requires.
pub fn pointer<S: AsRef<str>>(segments: &[S]) -> PointerBuf {
    PointerBuf::from_tokens(
        segments
            .iter()
            .map(|s| jsonptr::Token::new(s.as_ref().to_owned())),
    )
}

#[derive(Debug, Default)]
pub struct Ops(pub Vec<PatchOperation>);

impl Ops {
    pub fn add(&mut self, at: &[String], value: Value) {
        self.0.push(PatchOperation::Add(AddOperation {
            path: pointer(at),
            value,
        }));
    }

    pub fn replace(&mut self, at: &[String], value: Value) {
        self.0.push(PatchOperation::Replace(ReplaceOperation {
            path: pointer(at),
            value,
        }));
    }

    pub fn remove(&mut self, at: &[String]) {
        self.0.push(PatchOperation::Remove(RemoveOperation {
            path: pointer(at),
        }));
    }

    /// A precondition: the patch fails as a whole unless `at` still holds `value`.
    pub fn test(&mut self, at: &[String], value: Value) {
        self.0.push(PatchOperation::Test(TestOperation {
            path: pointer(at),
            value,
        }));
    }

    /// The operations as the JSON a patch request carries.
    pub fn into_values(self) -> Vec<Value> {
        self.0
            .iter()
            // A patch operation is a plain struct of a pointer and a JSON value; this cannot fail.
            .map(|op| serde_json::to_value(op).unwrap_or(Value::Null))
            .collect()
    }

    /// Appends to the array at `parent`, creating it when the object has none.
    pub fn append(&mut self, parent: &[String], exists: bool, value: Value) {
        if exists {
            let mut at = parent.to_vec();
            at.push("-".into());
            self.add(&at, value);
        } else {
            self.add(parent, Value::Array(vec![value]));
        }
    }
}

/// `base` followed by more segments.
pub fn at<S: ToString>(base: &[String], more: &[S]) -> Vec<String> {
    base.iter()
        .cloned()
        .chain(more.iter().map(ToString::to_string))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointer_escapes_slash_and_tilde() {
        let p = pointer(&["metadata", "annotations", "logbackup.io/injected", "a~b"]);
        assert_eq!(
            p.as_str(),
            "/metadata/annotations/logbackup.io~1injected/a~0b"
        );
    }
}
